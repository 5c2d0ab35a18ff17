/* SPDX-License-Identifier: MIT */
/*
 * control/controller.h - THE controller loop, shared by both backends.
 *
 * Observe, decide, act, written once: a work queue of task keys
 * ("ns/name") fed by what changed (the backend's watch, run ends, due
 * timers), each key reconciled from the Task as it is *now* (the
 * backend's get), through the pure reconciler (control/reconcile.h), and
 * the decision carried out through the backend's table below.  Admission
 * (FIFO by creation, per-Agent and global limits), TTL deletion,
 * dependency wake-ups, deletion of marked Tasks and events exist here
 * only.
 *
 * One status writer: only the controller writes status, and every write
 * is a compare-and-swap on the resource version the decision was based
 * on.  A conflict (-ESTALE) means "reconcile again from fresh state", at
 * once, before anything else is admitted.  The CLI only writes intents
 * (spec, the stop annotation, the deletion mark); without a running
 * controller it runs this same code in-process under the controller lock.
 *
 * Single-threaded: the backend calls in from its own loop.
 */
#ifndef PADDOCK_CONTROL_CONTROLLER_H
#define PADDOCK_CONTROL_CONTROLLER_H

#include <json-c/json.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/conf.h"
#include "control/pipeline.h"
#include "control/reconcile.h"
#include "model/model.h"
#include "plugin/loader.h"

struct metrics;
struct ctl;

/* What a backend observed of a run (filled by ctl_backend.observe). */
struct ctl_run {
	json_object *result;      /* the driver's parsed result (owned), or NULL */
	int exit_code;
	int64_t start_ms, end_ms; /* the agent's own start and end, 0: unknown */
	double cpu_seconds;       /* 0: not measured */
	int64_t memory_peak;      /* bytes; 0: not measured */
	char end_reason[32];      /* why it was killed ("Timeout", a limit), or "" */
	char end_message[800];     /* what a limit or a failed start said */
	json_object *patch;       /* status fields to record with the next phase
				   * written (jobName ...), owned, or NULL */
};

typedef void (*ctl_task_cb)(struct ctl *c, json_object *task);

/* The operations a backend supplies.  `b` is the backend's context.
 * Task documents are JSON objects with metadata.resourceVersion. */
struct ctl_backend {
	const char *name; /* "local", "kubernetes" (logs) */

	/* The Task as it is now (owned), or NULL when it is gone. */
	json_object *(*get)(void *b, const char *ns, const char *name);
	/* Call cb for every Task in `phase` (resync, dependency wake-ups). */
	int (*list)(void *b, enum rec_phase phase, ctl_task_cb cb, struct ctl *c);
	/* Call cb for every Task marked for deletion (may be NULL). */
	int (*list_deleting)(void *b, ctl_task_cb cb, struct ctl *c);
	/* A typed view of `task` (owned *t).  A problem `paddock apply`
	 * would have refused goes into `invalid` (the task then fails
	 * InvalidSpec); < 0 only when the document cannot be read at all. */
	int (*view)(void *b, json_object *task, enum rec_phase phase, struct model_task **t,
		    char *invalid, size_t invlen);
	/* Lookups for pipeline_resolve in namespace ns (lk->ctx is the
	 * backend's); with_secret only when the task is about to start. */
	void (*lookup)(void *b, const char *ns, bool with_secret, struct pipeline_lookup *lk);
	void (*lookup_done)(void *b, struct pipeline_lookup *lk);

	/* Capacity: Running tasks of an agent key ("ns/name", "" for
	 * spec.type; NULL: all), an Agent's maxConcurrentTasks (0: none), the
	 * agent keys with Queued tasks, and the oldest Queued task of a key
	 * (NULL: of all) that is neither stop-requested nor being deleted
	 * (owned, or NULL). */
	long (*running)(void *b, const char *agent_key);
	long (*agent_max)(void *b, const char *agent_key);
	int (*queued_agents)(void *b, struct strv *keys);
	json_object *(*queue_head)(void *b, const char *agent_key);

	/* The run of a task, into in->run/exit_code/outcome/... and *run.
	 * *a may be filled (owned) when the Agent was needed to parse. */
	void (*observe)(void *b, json_object *task, const struct model_task *t,
			struct model_agent **a, struct rec_input *in, struct ctl_run *run);
	/* Start the run.  Fields to record in status with phase Running go
	 * into `patch` (runId, jobName ...).  0, or < 0 with err: the task
	 * fails StartFailed. */
	int (*start)(void *b, json_object *task, const struct model_task *t,
		     const struct model_agent *a, json_object *patch, char *err, size_t errlen);
	/* Kill the run (reason: "Stopped", "Timeout", "Deleted").  0 when
	 * there is no live run any more, 1 while it is ending (ask again). */
	int (*kill)(void *b, json_object *task, const char *reason);
	/* Remove what the run left (run directory; Job and ConfigMap).
	 * 0, or < 0 with err (retried later). */
	int (*purge)(void *b, json_object *task, char *err, size_t errlen);
	/* Delete the Task object itself.  0 or -ENOENT. */
	int (*remove)(void *b, json_object *task, char *err, size_t errlen);
	/* Replace the task's status with `status` (taken: the backend owns it
	 * afterwards) if its resource version is still the one in `task`,
	 * and record an event (reason/message; NULL reason: none).  0,
	 * -ESTALE on a conflict, -ENOENT when gone, another error. */
	int (*write_status)(void *b, json_object *task, json_object *status, const char *reason,
			    const char *message);
	/* Wait up to timeout_ms for changes and feed them in (ctl_enqueue,
	 * ctl_admit).  Returns false when the controller must not act now
	 * (a standby replica, caches not synced). */
	bool (*wait)(void *b, struct ctl *c, int timeout_ms);
	/* Budgets (may be NULL): for a task about to start (running false),
	 * whether a Budget's cap is reached; for a running one, whether its
	 * usage so far crossed a Budget or its spec.maxCostUSD.  true with
	 * the reason in msg. */
	bool (*budget)(void *b, json_object *task, bool running, char *msg, size_t n);
	/* Periodic chores: orphaned runs, metrics.  May be NULL. */
	void (*housekeeping)(void *b, struct ctl *c);
	/* Create the run before recording Running (Kubernetes: a restart in
	 * between finds the Job and adopts it), instead of recording Running
	 * first (local: a restart in between starts the run). */
	bool start_first;
	/* With start_first: the run's start is not recorded at all; Running
	 * is written when observe sees the agent run (ACTIVE; STARTING until
	 * then, with the reason it waits), in one write (Kubernetes: the pod
	 * runs, not only its Job exists). */
	bool await_running;
};

struct ctl *ctl_new(const struct pd_config *cfg, const struct plugin_set *ps,
		    const struct ctl_backend *ops, void *b);
void ctl_free(struct ctl *c); /* NULL-safe */
void ctl_set_metrics(struct ctl *c, struct metrics *m);

/* Queue a task for reconciling (deduplicated). */
void ctl_enqueue(struct ctl *c, const char *ns, const char *name);
void ctl_enqueue_task(struct ctl *c, json_object *task);
/* Every Pending, Waiting, Queued and Running task, and finished ones with
 * a TTL (start-up and periodic resync). */
void ctl_enqueue_all(struct ctl *c);
/* A slot may be free or a task became Queued: run admission. */
void ctl_admit(struct ctl *c);

/* Reconcile everything queued and due, then admit.  Returns the number
 * of status writes made. */
int ctl_process(struct ctl *c);
/* Wall-clock ms of the next timer (0: none). */
int64_t ctl_next_due(const struct ctl *c);
/* FIFO order of two tasks: creationTimestamp, then uid (both backends). */
bool ctl_fifo_before(json_object *a, json_object *b);

/* Keys waiting in the queue. */
unsigned long ctl_queue_len(const struct ctl *c);
/* Status writes made, ever. */
unsigned long ctl_writes(const struct ctl *c);

/* The loop: wait for changes (at most until the next timer, 1 s), act
 * while the backend says so, housekeeping every few seconds, until *stop. */
void ctl_run(struct ctl *c, volatile sig_atomic_t *stop);

/* Test builds only (configure --enable-test-hooks): pause at `point`
 * when $PADDOCK_TEST_PAUSE is "point" or "point:KEY" for this key.  The
 * hook creates $PADDOCK_TEST_PAUSE_DIR/point.reached and waits (at most
 * 60 s) for point.continue.  A no-op otherwise. */
void ctl_test_pause(const char *point, const char *key);

#endif
