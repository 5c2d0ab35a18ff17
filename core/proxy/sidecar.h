/* SPDX-License-Identifier: MIT */
/*
 * proxy/sidecar.h - `paddock __egress`, the egress proxy as a Kubernetes
 * Job's native sidecar (proxy/sidecar.c).  Internal: not a command of the
 * help; kube/render.c renders its arguments.
 */
#ifndef PADDOCK_SIDECAR_H
#define PADDOCK_SIDECAR_H

#include <stdbool.h>

#define EGRESS_SIDECAR_ARG "__egress"
#define EGRESS_SIDECAR_NAME "paddock-egress" /* the container's name in a run's pod */
/* How much of its log the controller reads when the run ends (its head
 * and its tail: the summary is the last line). */
#define EGRESS_LOG_BYTES (1 << 20)

/* When argv[1] is EGRESS_SIDECAR_ARG: run the sidecar, *rc its exit
 * status, true.  Otherwise false. */
bool egress_sidecar_dispatch(int argc, char **argv, int *rc);

#endif
