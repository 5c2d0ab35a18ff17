/* SPDX-License-Identifier: MIT */
/*
 * local/backend.h - the local backend's controller: it owns the store, the
 * controller lock and the reconcile loop.  Each pass reads tasks from the
 * store, asks the pure reconciler (control/reconcile.h) what to do, and does it:
 * status writes (one transaction each), starting runs through the
 * pipeline (control/pipeline.h) and the local backend (local/local.h), stopping them,
 * deleting expired tasks.
 *
 * Only the holder of STATE_DIR/controller.lock acts on tasks (starts,
 * kills, finishes); anyone may read the store and submit to it.  The lock
 * is a flock(2), so a SIGKILLed controller releases it at once and the
 * next one re-adopts live runs from their run directories.
 */
#ifndef PADDOCK_RUNTIME_H
#define PADDOCK_RUNTIME_H

#include <json-c/json.h>
#include <signal.h>
#include <stdbool.h>

#include "base/conf.h"
#include "plugin/loader.h"
#include "model/model.h"
#include "local/store.h"

struct metrics;
struct ctl;
struct run_watch;
struct start_wait;

/* A read cache of the serving loop: two maps, kept while the store's
 * PRAGMA data_version (another connection's commit) and, when `own`,
 * this connection's own changes are what they were when it was filled. */
struct read_cache {
	json_object *m[2];
	int64_t dv, changes;
	bool own;
};

struct runtime {
	const struct pd_config *cfg;   /* borrowed */
	const struct plugin_set *plugins; /* borrowed; instances needed to act */
	struct store *store;           /* owned */
	char *state_dir;               /* owned */
	char *data_dir;                /* entrypoint scripts; owned */
	int lock_fd;                   /* >= 0 while we are the controller */
	struct metrics *metrics;       /* borrowed; NULL outside `paddock controller` */
	struct ctl *ctl;               /* the controller, once we hold the lock */
	int64_t watch_rv, watch_dv;    /* the store version seen; PRAGMA data_version */
	int64_t last_run_poll_ms, last_sweep_ms;
	/* Event-driven waits (local/backend.c): an epoll set over inotify
	 * (the store's files; live run directories) and the supervisors'
	 * pidfds.  -1: unavailable, the store and the runs are polled. */
	int ep_fd, ino_fd, store_wd;
	struct run_watch *runs;        /* live runs being waited on */
	bool runs_blind;               /* a run could not be watched: poll them */
	int runs_unwatched_dir;        /* runs whose directory has no inotify watch:
					* their usage is polled (op_wait) */
	struct start_wait *starts;     /* supervisors that have not reported yet, and
					* failed starts until their Failed is written */
	bool serving;                  /* runtime_serve: starts do not wait for the report */
	int schedule_in_ms;            /* local_schedule_tick(): when to look again, -1: no
					* schedule; 0 (calloc) at start: look at once */
	char sweep_after[128];         /* the orphan sweep's last directory */
	/* Agents (m[0]: "ns/name" -> doc, null: none) and Budgets (m[1]:
	 * ns -> array) read while serving; the controller writes neither,
	 * so they are kept while no other connection committed. */
	struct read_cache kinds;
	/* Tasks (m[0]: "ns/name" -> doc, null: none) and Running counts
	 * (m[1]: agent key -> count, "" for all) read while serving, kept
	 * while neither another connection nor this one wrote: the
	 * reconciles of one wake-up share them. */
	struct read_cache live;
};

/* Call cb for each Budget of `ns` (from the cache while serving). */
int runtime_budgets(struct runtime *rt, const char *ns, store_obj_cb cb, void *ctx);

/* Open the store in the configured state dir.  Owned *out. */
int runtime_open(const struct pd_config *cfg, const struct plugin_set *ps, struct runtime **out,
		 char *err, size_t errlen);
void runtime_close(struct runtime *rt); /* NULL-safe */

/* Try to become the controller (non-blocking).  1 if we are, 0 if another
 * process is, negative errno on error. */
int runtime_lock(struct runtime *rt);

/* Validate (schema, then plugins for Tasks) and store one document.
 * *res (may be NULL) tells whether it was created, updated or unchanged
 * (store_apply_result).  Errors name the field. */
int runtime_apply(struct runtime *rt, json_object *doc, enum store_applied *res,
		  enum model_kind *kind, char *err, size_t errlen);

/* The controller's work in-process (holding the lock, no daemon): what
 * changed since the last call is reconciled, due timers fire, admission
 * runs.  Returns the number of status writes, or -EPERM without the lock. */
int runtime_sync(struct runtime *rt);

/* The daemon: the controller loop until *stop (holding the lock). */
int runtime_serve(struct runtime *rt, volatile sig_atomic_t *stop);

/* Intents (anyone may write them; the controller acts on them).
 * runtime_stop sets the stop annotation and returns 0; on a Task that has
 * finished it writes nothing and returns 1, with its phase in *finished
 * (static; finished may be NULL).  runtime_delete marks a Task
 * for deletion (the controller stops its run, removes its run directory,
 * then the Task); other kinds are deleted at once. */
int runtime_stop(struct runtime *rt, const char *ns, const char *name, const char **finished,
		 char *err, size_t errlen);
int runtime_delete(struct runtime *rt, enum model_kind kind, const char *ns, const char *name,
		   char *err, size_t errlen);

/* The run directory of a task (owned). */
char *runtime_run_dir(const struct runtime *rt, json_object *task);

/* Look the driver's CLI up inside a sandbox like its runs get (config
 * check).  0 when found, or for a driver without a CLI; -ENOENT with a
 * message that names the driver, the CLI and the fix. */
int runtime_probe_cli(struct runtime *rt, const char *driver, char *err, size_t errlen);

#endif
