/* SPDX-License-Identifier: MIT */
/*
 * local/cgroup.h - one cgroup per local run: created below the
 * controller's own cgroup (so a limit on the controller, e.g. a systemd
 * unit's MemoryMax, also bounds its runs), holding the run's limits
 * (struct run_limits: cpu, memory, pids; storage is not a cgroup matter),
 * read for usage, emptied with SIGKILL and removed.  cgroup v2, and v1
 * with one hierarchy per controller below `root` (root/memory, root/pids,
 * root/cpu, root/cpuacct; "cpu,cpuacct" as one directory with cpu and
 * cpuacct symbolic links to it works too).
 *
 * Owns, per run, the directory `<own cgroup>/<name>` in each hierarchy
 * (v1) or in the single one (v2).  Intermediate directories of `name`
 * are created when missing and never removed.  On v2, when our own
 * cgroup holds processes and so cannot enable controllers for its
 * children (the no-internal-processes rule), every process of it is moved
 * into the leaf `<own cgroup>/paddock-controller` first.
 *
 * Nothing here special-cases /sys/fs/cgroup: control files are opened,
 * never created, so a fake tree for tests must provide them.
 */
#ifndef PADDOCK_LOCAL_CGROUP_H
#define PADDOCK_LOCAL_CGROUP_H

#include <stdint.h>
#include <sys/types.h>

#include "base/run_limits.h"

enum cg_version { CG_NONE, CG_V1, CG_V2 };

struct cg_run; /* opaque; one per run */

/* What the run's processes used; a counter whose file or hierarchy is
 * missing is 0. */
struct cg_usage {
	int64_t cpu_ns;        /* v1 cpuacct.usage; v2 cpu.stat usage_usec * 1000 */
	int64_t memory_peak;   /* v1 memory.max_usage_in_bytes; v2 memory.peak */
	int64_t oom_kills;     /* v1 memory.oom_control oom_kill (kernel >= 4.13);
				* v2 memory.events oom_kill */
	int64_t pids_max_hits; /* pids.events "max": forks refused by the pids limit */
	int64_t pids_current;  /* pids.current */
};

/* `root` is normally "/sys/fs/cgroup".  CG_V2 if root/cgroup.controllers
 * exists, CG_V1 if root/{memory,pids,cpu,cpuacct}/cgroup.procs does (a
 * hybrid host, whose cgroup2 mount has no controllers, is v1), CG_NONE
 * otherwise.  Returns 0 (and sets *out) or a negative errno. */
int cg_detect(const char *root, enum cg_version *out);

/* Create the run's cgroup `name` ("paddock/<run-id>": relative, no "..",
 * "." or empty components) below this process's own cgroup as read from
 * `self_cgroup` (a file in /proc/self/cgroup format, normally
 * "/proc/self/cgroup"), and apply `l` (borrowed; a 0 limit writes
 * "unlimited"; cpu is a quota per 100 ms period, at least the kernel's
 * 1 ms).  An existing directory (a crashed earlier run) is reused
 * if it has no processes, -EBUSY otherwise.  v1: a limit whose hierarchy
 * is missing is an error; a missing hierarchy otherwise only leaves its
 * usage at 0.  v2: cpu, memory and pids, those listed in our own
 * cgroup.controllers, are enabled in cgroup.subtree_control from our own
 * cgroup down to the run's parent; a limit whose controller is not
 * listed is an error.  *out is owned: release with cg_destroy(). */
int cg_create(const char *root, const char *self_cgroup, const char *name,
	      const struct run_limits *l, struct cg_run **out, char *err, size_t errlen);

/* Move `pid` into the run's cgroup in every hierarchy (cgroup.procs).
 * Async-signal-safe: only open/write/close on paths computed by
 * cg_create, so it may run in a forked child of a threaded process before
 * exec.  Returns 0 or -errno. */
int cg_attach(const struct cg_run *c, pid_t pid);

/* Fill *u (untouched on failure).  Returns 0 or -errno. */
int cg_usage_read(const struct cg_run *c, struct cg_usage *u);

/* SIGKILL every process of the run's cgroup (v2: cgroup.kill when the
 * kernel has it), repeatedly, until cgroup.procs is empty in every
 * hierarchy or `timeout_ms` passes; never signals the calling process.
 * Not async-signal-safe.  Returns the number of distinct
 * processes signaled, or -ETIMEDOUT or another negative errno. */
int cg_kill_all(const struct cg_run *c, int timeout_ms);

/* rmdir the run's directories (retrying briefly while the kernel still
 * reports them busy) and free `c`, in any case.  NULL-safe.  Returns 0 or
 * the first -errno (a directory already gone is not an error). */
int cg_destroy(struct cg_run *c);

/* The run's directory in `controller` ("memory", "pids", "cpu",
 * "cpuacct"; v2: any), borrowed from `c`; NULL if that hierarchy is
 * absent. */
const char *cg_path(const struct cg_run *c, const char *controller);

/* The version `c` was created for. */
enum cg_version cg_version_of(const struct cg_run *c);

#endif
