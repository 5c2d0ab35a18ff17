/* SPDX-License-Identifier: MIT */
/*
 * control/reconcile.h - THE Task reconciler: a pure function from what the caller
 * observed (phase, clocks, stop request, resolution problems, dependency
 * phases, capacity, the run) to one decision.  No I/O, no clock reads, no
 * allocation: the local and the Kubernetes backends fill struct rec_input
 * from their own store and carry the decision out.  docs/lifecycle.md is
 * the user-facing description of every rule encoded here.
 *
 * Also owns rec_find_cycle(), the dependency-cycle search over a graph the
 * caller exposes through a callback.
 */
#ifndef PADDOCK_RECONCILE_H
#define PADDOCK_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rec_phase {
	REC_PENDING = 0,
	REC_WAITING,    /* dependsOn not all Succeeded */
	REC_QUEUED,     /* ready, waiting for a slot (FIFO) */
	REC_RUNNING,
	REC_SUCCEEDED,  /* terminal */
	REC_FAILED,     /* terminal */
	REC_STOPPED,    /* terminal */
};

enum rec_run {
	REC_RUN_NONE = 0, /* no run observed (not started, or start not yet seen) */
	REC_RUN_ACTIVE,   /* the run is alive */
	REC_RUN_EXITED,   /* the run ended and exit_code/outcome are known */
	REC_RUN_LOST,     /* the run vanished without a result (supervisor or pod gone) */
	REC_RUN_STARTING, /* the run exists, its agent does not run yet (Kubernetes:
			   * the pod is being scheduled, pulled, initialised) */
};

/* Everything the decision depends on.  Zero-initialise, then fill.  All
 * strings are borrowed for the duration of rec_decide(). */
struct rec_input {
	enum rec_phase phase;     /* as recorded in status */
	int64_t now_ms;           /* wall clock, read by the caller */
	int64_t created_ms;       /* metadata.creationTimestamp */
	int64_t start_ms;         /* status.startTime; 0: unknown */
	int64_t completion_ms;    /* status.completionTime; 0: unknown (no TTL delete) */

	bool stop_requested;
	long timeout_s;           /* spec.timeout in seconds; 0: none */
	long ttl_s;               /* ttlSecondsAfterFinished; < 0: keep forever */

	/* A resolution problem found by the caller (agent missing, namespace
	 * not allowed, driver missing, secret missing, template error ...):
	 * a one-line message and a reason such as "AgentNotFound", "Forbidden",
	 * "DriverNotFound", "SecretNotFound", "StartFailed", "InvalidSpec".
	 * NULL invalid_reason with a message means "InvalidSpec".  Ignored
	 * once the task is Running (a deleted Agent does not kill a run). */
	const char *invalid;
	const char *invalid_reason;

	/* Dependencies (spec.dependsOn). */
	size_t deps_total;        /* entries in dependsOn */
	size_t deps_succeeded;    /* of those, in phase Succeeded */
	size_t deps_failed;       /* of those, in phase Failed or Stopped */
	const char *failed_dep;   /* the name of one of them, for the message */
	size_t deps_missing;      /* entries naming a task that does not exist (yet) */
	const char *missing_dep;  /* the name of one of them */
	bool dep_cycle;           /* rec_find_cycle() found a cycle */
	const char *cycle_path;   /* "a -> b -> a" */

	/* Capacity.  The caller counts Running tasks and answers whether this
	 * task is first in line (see the FIFO contract in docs/lifecycle.md). */
	long agent_running, agent_max;    /* agent_max 0: unlimited */
	long global_running, global_max;  /* global_max 0: unlimited */
	bool head_of_queue;       /* no older ready task is waiting for these slots */

	/* The run, when one exists. */
	enum rec_run run;
	int exit_code;            /* exit status, or -SIGNUM when killed by a signal */
	int outcome;              /* enum paddock_outcome: 0 unknown, 1 success, 2 failed */
	const char *run_error;    /* the driver parser's error text, or NULL */
	const char *run_end_reason; /* why the run was killed: "Timeout", "Stopped", a
				     * limit ("OOMKilled", "PidsLimitReached",
				     * "DiskQuotaExceeded"), or NULL */
	const char *run_end_message; /* with a limit: which one and by how much, or NULL */

	/* Budgets (docs/budgets.md), from the caller: before a start, why a
	 * cap is reached (the task waits Queued, BudgetExhausted); while it
	 * runs, why its usage so far crossed a budget or its own
	 * spec.maxCostUSD (the run is stopped, BudgetExceeded).  NULL: fine. */
	const char *budget_hold;
	const char *budget_exceeded;
	/* STARTING: why the agent does not run yet ("Unschedulable",
	 * "ImagePullBackOff" ...) and the details; run_wait_since_ms: when
	 * the run was made.  The normal way up (run_wait_normal: no pod yet,
	 * scheduling, ContainerCreating) is recorded as one reason,
	 * "Starting", and only once it lasted REC_WAIT_QUIET_MS: a run that
	 * starts at once goes straight to Running in one write, a slow one
	 * takes one more. */
	const char *run_wait_reason, *run_wait_message;
	int64_t run_wait_since_ms;
	bool run_wait_normal;
	bool run_awaited;         /* the backend records Running only once it sees the
				   * agent run (Kubernetes): ACTIVE before Running is
				   * that moment, not a run found after a crash */
};

/* How often a task held by a budget is looked at again (a window rolls
 * over without any event). */
#define REC_BUDGET_RECHECK_MS 5000

#define REC_WAIT_QUIET_MS 5000

enum rec_action {
	REC_NOOP = 0,   /* nothing to do; status may still be refreshed from reason/message */
	REC_SET_PHASE,  /* record phase/reason/message (set completionTime if terminal) */
	REC_START,      /* start the run, then record phase Running (set startTime) */
	REC_KILL,       /* kill the whole run (idempotent: repeat until it is seen exited) */
	REC_DELETE,     /* TTL expired: delete the task and what it left */
};

struct rec_decision {
	enum rec_action action;
	enum rec_phase phase;     /* the phase the task is (or will be) in */
	const char *reason;       /* static string, CamelCase; never NULL */
	char message[512];        /* one line for status.message */
	int64_t requeue_after_ms; /* > 0: reconcile again after this long (a
				   * timeout or TTL deadline); 0: only on events */
};

/* Decide.  `in` and `out` are borrowed; out is always fully written. */
void rec_decide(const struct rec_input *in, struct rec_decision *out);

/* "Pending", "Waiting", ... (static).  "Unknown" for a bad value. */
const char *rec_phase_name(enum rec_phase p);
/* Exact, case-sensitive name -> phase.  0, or -EINVAL. */
int rec_phase_parse(const char *s, enum rec_phase *out);
bool rec_phase_terminal(enum rec_phase p);

/*
 * The dependencies of task `name`: set *deps to an array of *n names.
 * The array and strings are borrowed and need only stay valid until the
 * callback is called again.  Return 0; -ENOENT when the task does not
 * exist (treated as having no dependencies); another negative errno to
 * abort the search.
 */
typedef int (*rec_deps_fn)(void *ctx, const char *name, const char *const **deps, size_t *n);

#define REC_CYCLE_MAX_DEPTH 256

/*
 * Search for a dependency cycle reachable from `start` (depth-first,
 * every node expanded once).  Returns 1 with the cycle written to `path`
 * as "a -> b -> a" (truncated with "..." if it does not fit), 0 when
 * there is none, or a negative errno with a one-line message in err:
 * -E2BIG when more than `max_nodes` tasks are reachable (0: 10000),
 * -ELOOP when a chain is deeper than REC_CYCLE_MAX_DEPTH, or the
 * callback's error.  Allocates only transiently; no I/O of its own.
 */
int rec_find_cycle(const char *start, rec_deps_fn deps, void *ctx, size_t max_nodes,
		   char *path, size_t pathlen, char *err, size_t errlen);

/* The run end reasons that mean a resource limit was exceeded (the run
 * was killed for it): the task fails with that reason. */
#define REC_N_LIMIT_REASONS 3
extern const char *const rec_limit_reasons[REC_N_LIMIT_REASONS];
bool rec_is_limit_reason(const char *reason);

#endif
