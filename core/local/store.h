/* SPDX-License-Identifier: MIT */
/*
 * local/store.h - the local backend's state: one SQLite database
 * (DIR/paddock.db, mode 0600 in a 0700 directory) shared by the CLI and
 * the controller, in WAL mode with a 5 s busy timeout.
 *
 * It owns the schema and its migrations (PRAGMA user_version), objects of
 * the four kinds (model/model.h) with their status, and the event log of each
 * object.  Every write is one transaction (BEGIN IMMEDIATE, so two
 * processes never deadlock on a lock upgrade); several writes can be
 * grouped with store_tx().  Tasks are queued FIFO by creation: `seq` is
 * assigned once at creation and never changes, and the indexes on
 * (kind, phase, seq) and (kind, phase, agent_key, seq) make "next queued"
 * and "count running for an agent" index lookups whatever the queue
 * length.
 *
 * Update rules (store_apply): Agents, Secrets and ConfigMaps are replaced
 * (status kept).  A Task's spec can change only while it has not started
 * (Pending, Waiting, Queued); afterwards only metadata.labels,
 * metadata.annotations and spec.stop may change (delete and re-create it
 * to run again).
 * A spec change bumps metadata.generation.  Annotations under
 * paddock.dev/ that the new document does not set are kept (a stop
 * request survives a re-apply).
 *
 * Secrets are stored in the objects table (data base64, the file is
 * 0600).  store_get() returns them whole: callers that print objects must
 * redact Secret data.
 *
 * Deleting a Task removes it and its events at once; the controller kills
 * a run whose Task has disappeared.
 */
#ifndef PADDOCK_STORE_H
#define PADDOCK_STORE_H

#include <json-c/json.h>
#include <paddock/plugin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

struct store;

#define STORE_DB_NAME "paddock.db"
/* Written (one byte) after each commit of any connection, once the commit
 * is visible: inotify on it wakes a watcher that would otherwise wake on
 * the -wal write and read the store a moment too early (the commit shows
 * only when the WAL index in -shm, which raises no inotify event, is
 * updated), and then sleep. */
#define STORE_WAKE_NAME STORE_DB_NAME "-wake"
#define STORE_SCHEMA_VERSION 3

/* $PADDOCK_STATE_DIR, else /var/lib/paddock for root, else
 * $XDG_STATE_HOME/paddock or ~/.local/state/paddock.  Borrowed (static). */
const char *store_default_dir(void);

/* Open (creating it 0700 and the DB 0600 if needed) and migrate.  A
 * directory accessible by group/others is chmod'ed 0700 if ours and
 * refused if someone else's.  A DB written by a newer Paddock is refused.
 * Owned *out; store_close(). */
int store_open(const char *dir, struct store **out, char *err, size_t errlen);
void store_close(struct store *s); /* NULL-safe */
int store_schema_version(struct store *s); /* PRAGMA user_version, or -errno */

/* Run fn(s, ctx, err, errlen) in one BEGIN IMMEDIATE transaction: commit
 * if it returns >= 0, roll back otherwise.  The store_* writers below
 * join an enclosing store_tx instead of starting their own.  Returns
 * fn's result or a negative errno. */
typedef int (*store_tx_fn)(struct store *s, void *ctx, char *err, size_t errlen);
int store_tx(struct store *s, store_tx_fn fn, void *ctx, char *err, size_t errlen);

/* Create, or update per the rules above, a validated document (kind from
 * model_validate).  Fills metadata.uid, creationTimestamp and generation.
 * A new Task starts with status {phase: Pending}.  *created (may be NULL)
 * tells which.  Borrowed doc (not modified). */
int store_apply(struct store *s, json_object *doc, enum model_kind kind, bool *created,
		char *err, size_t errlen);

/* store_apply() telling what it did.  A document that would store what
 * is stored already (same content, labels and annotations) is not written
 * at all: STORE_APPLY_UNCHANGED, the resource version stays. */
enum store_applied { STORE_APPLY_CREATED, STORE_APPLY_CONFIGURED, STORE_APPLY_UNCHANGED };
int store_apply_result(struct store *s, json_object *doc, enum model_kind kind,
		       enum store_applied *res, char *err, size_t errlen);

/* The object with its status (Tasks) and metadata filled.  Owned *out.
 * -ENOENT (no message needed) when absent. */
int store_get(struct store *s, enum model_kind kind, const char *ns, const char *name,
	      json_object **out);

/* Callback per object, in creation order; `obj` is borrowed for the call.
 * A non-zero return stops the walk and is returned. */
typedef int (*store_obj_cb)(json_object *obj, void *ctx);
/* ns NULL: all namespaces. */
int store_list(struct store *s, enum model_kind kind, const char *ns, store_obj_cb cb, void *ctx);
/* Tasks in `phase`, in creation order. */
int store_list_phase(struct store *s, enum model_phase phase, store_obj_cb cb, void *ctx);

/* -ENOENT when absent.  Deleting a Task removes its events. */
int store_delete(struct store *s, enum model_kind kind, const char *ns, const char *name,
		 char *err, size_t errlen);

/* Replace a Task's status (borrowed; must carry a valid "phase") and
 * append an event (reason/message may be NULL: no event), in one
 * transaction.  -ENOENT when the Task is gone. */
int store_set_status(struct store *s, const char *ns, const char *name, json_object *status,
		     const char *event_reason, const char *event_msg, char *err, size_t errlen);

/* The same, only if the Task's metadata.resourceVersion is still
 * expect_rv (NULL: unconditionally): -ESTALE with a message otherwise
 * (someone changed it since it was read: read again and decide again). */
int store_set_status_if(struct store *s, const char *ns, const char *name, const char *expect_rv,
			json_object *status, const char *event_reason, const char *event_msg, char *err,
			size_t errlen);

/* Mark an object for deletion (metadata.deletionTimestamp; kept when
 * already set).  The controller removes a marked Task once its run is
 * stopped and cleaned up; apply refuses it meanwhile (-EBUSY). */
int store_mark_deleted(struct store *s, enum model_kind kind, const char *ns, const char *name,
		       char *err, size_t errlen);

/* Tasks marked for deletion, in creation order. */
int store_list_deleting(struct store *s, store_obj_cb cb, void *ctx);

/* The store's resource version (every write to an object bumps it and
 * gives the object the new value as metadata.resourceVersion), and the
 * Tasks written after `after_rv`, oldest write first: a watch. */
int64_t store_rv(struct store *s);
int store_changed_tasks(struct store *s, int64_t after_rv, store_obj_cb cb, void *ctx);

/* The agent keys ("" for spec.type) that have Queued Tasks; the first
 * `max` Agents' keys ("ns/name", creation order). */
int store_agent_keys(struct store *s, struct strv *keys, size_t max);
int store_queued_agents(struct store *s, struct strv *keys);

/* Append an event.  type: "Normal" or "Warning". */
int store_add_event(struct store *s, const char *ns, const char *name, const char *type,
		    const char *reason, const char *message, char *err, size_t errlen);
typedef int (*store_event_cb)(int64_t time_ms, const char *type, const char *reason,
			      const char *message, void *ctx);
int store_events(struct store *s, const char *ns, const char *name, store_event_cb cb, void *ctx);

/* The agent key of a Task: "NS/NAME" of its agentRef, "" with spec.type. */
char *store_agent_key(json_object *task); /* owned */

/* The oldest Queued Task (of agent_key when non-NULL), owned *task;
 * -ENOENT when none. */
int store_next_queued(struct store *s, const char *agent_key, json_object **task);
/* Number of Tasks in `phase` (of agent_key when non-NULL), or -errno. */
long store_count_phase(struct store *s, enum model_phase phase, const char *agent_key);

/* Set (value non-NULL) or remove an annotation without bumping the
 * generation (e.g. MODEL_ANNOTATION_STOP = "true" for `paddock stop`). */
int store_set_annotation(struct store *s, enum model_kind kind, const char *ns, const char *name,
			 const char *key, const char *value, char *err, size_t errlen);

/* Secret `ns/name` key `key`, decoded: owned NUL-terminated *value of
 * *len bytes, release with secure_free(*value, *len).  -ENOENT with
 * `secret "ns/name" not found` or `secret "ns/name" has no key "k"`. */
int store_secret_get(struct store *s, const char *ns, const char *name, const char *key,
		     char **value, size_t *len, char *err, size_t errlen);

/* ConfigMap `ns/name` (data and decoded binaryData) as a host object
 * (host_object_new/add), owned.  -ENOENT with `configmap "ns/name" not found`. */
int store_configmap_get(struct store *s, const char *ns, const char *name,
			struct paddock_object **out, char *err, size_t errlen);

/* Deliveries to Spawners (control/spawner.h): one record per delivery.
 * An event id recorded "accepted" or "filtered" is taken for good, so
 * recording it is what makes intake exactly once: do it in the same
 * store_tx as the Task.  Strings borrowed. */
struct store_delivery {
	const char *ns, *spawner;
	const char *id;      /* the event id; NULL for a delivery not verified */
	const char *event;   /* GitHub's event name, or NULL */
	int64_t time_ms;     /* 0: now */
	const char *outcome; /* spawner_outcome_name() */
	const char *task;    /* the Task made, or NULL */
	const char *detail;  /* why, for people; never a secret */
};
/* 1 when event `id` of Spawner ns/spawner was taken, 0 if not, -errno. */
int store_delivery_seen(struct store *s, const char *ns, const char *spawner, const char *id);
/* Record one; -EEXIST when the id was taken meanwhile.  Duplicate and
 * rejected records are pruned to the newest 200 per Spawner. */
int store_delivery_add(struct store *s, const struct store_delivery *d, char *err, size_t errlen);
/* The newest `last` records of a Spawner, oldest first; `d` borrowed for
 * the call.  A non-zero return stops the walk and is returned. */
typedef int (*store_delivery_cb)(const struct store_delivery *d, void *ctx);
int store_deliveries(struct store *s, const char *ns, const char *spawner, size_t last,
		     store_delivery_cb cb, void *ctx);
/* Records of a Spawner with `outcome` (kept ones: see the pruning above). */
long store_delivery_count(struct store *s, const char *ns, const char *spawner, const char *outcome);

/* Cheap change detection for a polling controller: a value that changes
 * whenever another connection commits (PRAGMA data_version). */
int64_t store_data_version(struct store *s);

/* Rows this connection changed since it opened (sqlite3_total_changes64):
 * with store_data_version, says whether anything could have changed. */
int64_t store_own_changes(struct store *s);

#endif
