/* SPDX-License-Identifier: MIT */
/*
 * web/source.h - where the dashboard (web/dashboard.h) gets its data: a
 * table of operations, so that the page, the streams, the bounds and the
 * checks of an action are one piece of code whatever holds the Tasks.
 *
 *   web/source_local.c   the local store (two SQLite connections: one
 *                        for each thread) and the run directories' logs
 *   cli/dashkube.c       an API server, with the credentials of a
 *                        kubeconfig (`paddock dashboard --kubeconfig`) or
 *                        the controller's service account: a watch of
 *                        Tasks kept as a cache, pod logs followed
 *                        (follow=true), stop and delete as that identity
 *
 * Threads: the operations marked HTTP run only in the HTTP thread, those
 * marked TICK only in the dashboard's ticker thread; a source keeps what
 * each thread uses apart (a connection, a client each).  Objects handed
 * to a callback are borrowed for the call; those returned are owned.
 *
 * Errors: 0 or a negative errno with one line in err, shown to the user
 * as it is: -ENOENT (404), -EACCES (403: the API server's answer, RBAC),
 * -EALREADY (409: the task has finished), anything else 500.
 */
#ifndef PADDOCK_WEB_SOURCE_H
#define PADDOCK_WEB_SOURCE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/model.h"

typedef int (*dash_obj_cb)(json_object *obj, void *ctx);
typedef int (*dash_event_cb)(int64_t time_ms, const char *type, const char *reason,
			     const char *message, void *ctx);

struct dash_log; /* a source's reader of one task's log */

struct dash_source_ops {
	/* HTTP: every object of `kind` (Task or Agent), oldest first; for
	 * Tasks *rv (may be NULL) gets the version they are at (a later
	 * changed_tasks(since = it) misses nothing). */
	int (*list)(void *src, enum model_kind kind, dash_obj_cb cb, void *ctx, int64_t *rv, char *err,
		    size_t errlen);
	/* HTTP: the stop annotation; delete the Task. */
	int (*stop)(void *src, const char *ns, const char *name, char *err, size_t errlen);
	int (*delete)(void *src, const char *ns, const char *name, char *err, size_t errlen);

	/* TICK: did anything change since the last call? (cheap) */
	bool (*changed)(void *src);
	/* TICK, while a page is open: a source that keeps a cache only while
	 * it is used (cli/dashkube.c) keeps it.  May be NULL. */
	void (*keep)(void *src);
	/* TICK: the version now; the Tasks written after `since`, oldest
	 * first, each with metadata.resourceVersion (a number) above it;
	 * how many Tasks there are (< 0: unknown). */
	int64_t (*rv)(void *src);
	int (*changed_tasks)(void *src, int64_t since, dash_obj_cb cb, void *ctx);
	long (*count_tasks)(void *src);
	/* TICK: one object; -ENOENT when there is none, -EAGAIN when the
	 * source cannot tell yet (list too: its cache is being filled). */
	int (*get)(void *src, enum model_kind kind, const char *ns, const char *name, json_object **out);
	/* TICK: a Task's events, oldest first. */
	int (*events)(void *src, json_object *task, dash_event_cb cb, void *ctx);
	/* TICK: a reader of the Task's log (NULL: none yet; asked again on
	 * the next change of the Task), its next bytes (> 0; 0: none now;
	 * < 0: no more ever; *omitted set when earlier bytes were skipped:
	 * a page starts near the end of a long log), and its end. */
	struct dash_log *(*log_open)(void *src, json_object *task);
	ssize_t (*log_read)(void *src, struct dash_log *l, char *buf, size_t max, bool *omitted);
	void (*log_close)(void *src, struct dash_log *l);

	void (*free)(void *src); /* after both threads have stopped */
};

struct dash_source {
	const struct dash_source_ops *ops;
	void *impl;
};

/* The local store in state_dir: a connection for each thread.  Owned
 * src->impl (the dashboard frees it). */
int dash_source_local(const char *state_dir, struct dash_source *src, char *err, size_t errlen);

#endif
