/* SPDX-License-Identifier: MIT */
/*
 * run_limits.h - the resource bounds of one run, backend-neutral.  Filled from
 * Task.spec.resources, then Agent.spec.resources, then the operator's
 * defaults in paddock.yaml (`resources:`); rendered as container resources
 * on Kubernetes and as a cgroup plus a writable-space cap locally.
 */
#ifndef PADDOCK_RUN_LIMITS_H
#define PADDOCK_RUN_LIMITS_H

#include <stdint.h>

struct run_limits {
	int64_t cpu_milli;      /* limits.cpu in millicores (500m = 500, 2 = 2000); 0: none */
	int64_t memory_bytes;   /* limits.memory; 0: none */
	int64_t storage_bytes;  /* limits.ephemeral-storage: workspace + home + tmp; 0: none */
	int64_t pids;           /* limits.pids (local backend only); 0: none */
};

#endif
