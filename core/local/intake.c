/* SPDX-License-Identifier: MIT */
/*
 * local/intake.c - Spawners' deliveries into the local store, exactly
 * once.  See intake.h.
 */
#include "config.h"
#include "local/intake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonutil.h"
#include "base/util.h"
#include "control/hook.h"
#include "local/store.h"
#include "model/model.h"

struct intake {
	struct store *store; /* the HTTP thread's own connection */
	struct hook *hook;
};

/* One delivery, decided and stored in one transaction. */
struct take {
	json_object *spawner, *ev;
	const char *ns, *name, *event, *id;
	enum spawner_outcome outcome;
	unsigned status;
	char task[64];
	char why[512];
};

static int take_tx(struct store *s, void *ctx, char *err, size_t errlen)
{
	struct take *t = ctx;
	struct store_delivery d = { .ns = t->ns, .spawner = t->name, .id = t->id, .event = t->event };
	int rc = store_delivery_seen(s, t->ns, t->name, t->id);
	if (rc < 0)
		return errf(err, errlen, rc, "store: cannot read deliveries");
	spawner_task_name(t->ns, t->name, t->id, t->task);
	if (rc == 1) {
		t->outcome = SPAWNER_DUPLICATE;
		t->status = 200;
		snprintf(t->why, sizeof(t->why), "event %s was taken already", t->id);
		d.outcome = "duplicate";
		d.detail = t->why;
		return store_delivery_add(s, &d, err, errlen);
	}
	if (!spawner_wanted(t->spawner, t->event, t->ev, t->why, sizeof(t->why))) {
		t->outcome = SPAWNER_FILTERED;
		t->status = 202;
		t->task[0] = '\0';
		d.outcome = "filtered";
		d.detail = t->why;
		return store_delivery_add(s, &d, err, errlen);
	}
	json_object *task = NULL;
	enum model_kind kind;
	rc = spawner_task(t->spawner, t->event, t->id, t->ev, &task, t->why, sizeof(t->why));
	if (rc == 0) /* a made Task that is refused: say why, take nothing */
		rc = model_validate(task, NULL, &kind, t->why, sizeof(t->why));
	if (rc < 0) {
		json_object_put(task);
		t->outcome = SPAWNER_REJECTED;
		t->status = 422;
		t->task[0] = '\0';
		d.id = NULL; /* fix the Spawner and redeliver */
		d.outcome = "rejected";
		d.detail = t->why;
		return store_delivery_add(s, &d, err, errlen);
	}
	enum store_applied res;
	rc = store_apply_result(s, task, MODEL_TASK, &res, err, errlen);
	json_object_put(task);
	if (rc < 0)
		return rc;
	t->outcome = res == STORE_APPLY_CREATED ? SPAWNER_ACCEPTED : SPAWNER_DUPLICATE;
	t->status = res == STORE_APPLY_CREATED ? 202 : 200;
	snprintf(t->why, sizeof(t->why), "task %s", t->task);
	d.outcome = res == STORE_APPLY_CREATED ? "accepted" : "duplicate";
	d.task = t->task;
	return store_delivery_add(s, &d, err, errlen);
}

int intake_take(struct store *st, json_object *spawner, const char *event, const char *id,
		json_object *ev, struct spawner_result *r, char *err, size_t errlen)
{
	json_object *md = jget(spawner, "metadata");
	struct take t = { .spawner = spawner, .ev = ev, .ns = jstr(md, "namespace"),
			  .name = jstr(md, "name"), .event = event, .id = id };
	int rc = store_tx(st, take_tx, &t, err, errlen);
	if (rc < 0)
		return rc;
	r->outcome = t.outcome;
	r->status = t.status;
	snprintf(r->task, sizeof(r->task), "%s", t.task);
	snprintf(r->why, sizeof(r->why), "%s", t.why);
	return 0;
}

static json_object *src_spawner(void *ctx, const char *ns, const char *name)
{
	struct intake *in = ctx;
	json_object *sp = NULL;
	return store_get(in->store, MODEL_SPAWNER, ns, name, &sp) < 0 ? NULL : sp;
}

static int src_secret(void *ctx, const char *ns, const char *name, const char *key, char **value,
		      size_t *len, char *err, size_t errlen)
{
	struct intake *in = ctx;
	return store_secret_get(in->store, ns, name, key, value, len, err, errlen);
}

static int src_take(void *ctx, json_object *spawner, const char *event, const char *id,
		    json_object *ev, struct spawner_result *r, char *err, size_t errlen)
{
	struct intake *in = ctx;
	return intake_take(in->store, spawner, event, id, ev, r, err, errlen);
}

static void src_rejected(void *ctx, const char *ns, const char *name, const char *event,
			 const char *why)
{
	struct intake *in = ctx;
	struct store_delivery d = { .ns = ns, .spawner = name, .event = event, .outcome = "rejected",
				    .detail = why };
	char err[256];
	if (store_delivery_add(in->store, &d, err, sizeof(err)) < 0)
		log_warn("spawner: cannot record a delivery", "error", err);
}

int intake_start(const char *state_dir, struct metrics *m, struct intake **out, char *err,
		 size_t errlen)
{
	struct intake *in = xcalloc(1, sizeof(*in));
	int rc = store_open(state_dir, &in->store, err, errlen);
	if (rc < 0) {
		free(in);
		return rc;
	}
	struct hook_source src = { in, src_spawner, src_secret, src_take, src_rejected };
	in->hook = hook_start(&src, m);
	*out = in;
	return 0;
}

void intake_free(struct intake *in)
{
	if (!in)
		return;
	hook_free(in->hook);
	store_close(in->store);
	free(in);
}
