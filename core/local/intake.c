/* SPDX-License-Identifier: MIT */
/*
 * local/intake.c - Spawners' webhooks into Tasks, exactly once.  See
 * intake.h.
 */
#include "config.h"
#include "local/intake.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonutil.h"
#include "base/util.h"
#include "control/metrics.h"
#include "control/spawner.h"
#include "local/store.h"
#include "model/model.h"

#define INTAKE_JSON_DEPTH 64

struct intake {
	pthread_mutex_t lock; /* one delivery at a time: arrival order is creation order */
	struct store *store;
	struct metrics *metrics;
};

/* "/hooks/NS/NAME" -> ns, name; false for anything else. */
static bool hook_path(const char *url, char ns[64], char name[64])
{
	const char *p = url + strlen(SPAWNER_HOOK_PREFIX);
	const char *slash = strchr(p, '/');
	if (strncmp(url, SPAWNER_HOOK_PREFIX, strlen(SPAWNER_HOOK_PREFIX)) || !slash ||
	    (size_t)(slash - p) >= 64 || strlen(slash + 1) >= 64)
		return false;
	snprintf(ns, 64, "%.*s", (int)(slash - p), p);
	snprintf(name, 64, "%s", slash + 1);
	return model_dns1123_label(ns) && model_dns1123_label(name);
}

static json_object *spawner_get(struct intake *in, const char *url, char ns[64], char name[64])
{
	json_object *sp = NULL;
	if (!hook_path(url, ns, name) || store_get(in->store, MODEL_SPAWNER, ns, name, &sp) < 0)
		return NULL;
	return sp;
}

static size_t cap(void *ctx, const char *url)
{
	struct intake *in = ctx;
	char ns[64], name[64];
	pthread_mutex_lock(&in->lock);
	json_object *sp = spawner_get(in, url, ns, name);
	pthread_mutex_unlock(&in->lock);
	if (!sp)
		return 0;
	json_object *max = jget(jget(jget(sp, "spec"), "webhook"), "maxBodyBytes");
	size_t n = max ? (size_t)json_object_get_int64(max) : (size_t)MODEL_WEBHOOK_BODY_DEFAULT;
	json_object_put(sp);
	return n;
}

static void count(struct intake *in, const char *key, enum spawner_outcome o)
{
	metrics_series(in->metrics, "paddock_spawner_events_total", "counter",
		       "Webhook deliveries to Spawners by outcome (accepted, duplicate, filtered, rejected).",
		       "spawner", key, "outcome", spawner_outcome_name(o), 1, true);
	if (o == SPAWNER_ACCEPTED)
		metrics_series(in->metrics, "paddock_spawner_tasks_created_total", "counter",
			       "Tasks made by Spawners.", "spawner", key, NULL, NULL, 1, true);
}

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
		json_object *ev, struct intake_result *r, char *err, size_t errlen)
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

/* A delivery refused before it was read: recorded without its id (an
 * unverified sender must not take an id away from the real one). */
static unsigned refuse(struct intake *in, const char *ns, const char *name, const char *event,
		       unsigned status, const char *why, char **reply)
{
	struct store_delivery d = { .ns = ns, .spawner = name, .event = event, .outcome = "rejected",
				    .detail = why };
	char err[256];
	if (store_delivery_add(in->store, &d, err, sizeof(err)) < 0)
		log_warn("spawner: cannot record a delivery", "error", err);
	char key[130];
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	count(in, key, SPAWNER_REJECTED);
	char code[16];
	snprintf(code, sizeof(code), "%u", status);
	log_info("spawner: delivery rejected", "spawner", key, "status", code, "why", why);
	*reply = xasprintf("rejected: %s\n", why);
	return status;
}

/* The body as one JSON object (owned), or NULL. */
static json_object *parse_body(const char *s, size_t len)
{
	if (memchr(s, '\0', len) || len > INT32_MAX)
		return NULL;
	json_tokener *tok = json_tokener_new_ex(INTAKE_JSON_DEPTH);
	if (!tok)
		return NULL;
	json_object *j = json_tokener_parse_ex(tok, s, (int)len);
	size_t end = json_tokener_get_parse_end(tok);
	while (end < len && strchr(" \t\r\n", s[end]))
		end++;
	if (json_tokener_get_error(tok) != json_tokener_success || end != len ||
	    !json_object_is_type(j, json_type_object)) {
		json_object_put(j);
		j = NULL;
	}
	json_tokener_free(tok);
	return j;
}

static unsigned handle_locked(struct intake *in, const struct metrics_request *rq, char **reply)
{
	char ns[64], name[64], why[512] = "", id[SPAWNER_ID_MAX + 1];
	json_object *sp = spawner_get(in, rq->url, ns, name);
	if (!sp) {
		*reply = xstrdup("no such hook\n");
		return 404;
	}
	unsigned status = 0;
	json_object *wh = jget(jget(sp, "spec"), "webhook"), *ref = jget(wh, "secretRef");
	bool gh = str_eq(jstr(wh, "type"), "github");
	const char *id_header = jstr(wh, "idHeader");
	struct spawner_delivery d = {
		.event = gh ? metrics_request_header(rq, "X-GitHub-Event") : NULL,
		.id = metrics_request_header(rq, gh ? "X-GitHub-Delivery" : id_header ? id_header : "X-Delivery-Id"),
		.signature = metrics_request_header(rq, gh ? "X-Hub-Signature-256" : "X-Signature-256"),
		.authorization = metrics_request_header(rq, "Authorization"),
		.content_type = metrics_request_header(rq, "Content-Type"),
		.body = rq->body,
		.len = rq->len,
	};
	if (rq->too_large) {
		snprintf(why, sizeof(why), "body over %zu bytes (spec.webhook.maxBodyBytes)", rq->too_large);
		status = refuse(in, ns, name, d.event, 413, why, reply);
		goto out;
	}
	if (json_object_get_boolean(jget(jget(sp, "spec"), "suspend"))) {
		status = refuse(in, ns, name, d.event, 503, "the Spawner is suspended (spec.suspend)", reply);
		goto out;
	}
	char *secret = NULL;
	size_t slen = 0;
	if (store_secret_get(in->store, ns, jstr(ref, "name"), jstr(ref, "key"), &secret, &slen, why,
			     sizeof(why)) < 0) {
		status = refuse(in, ns, name, d.event, 503, why, reply);
		goto out;
	}
	status = spawner_verify(sp, &d, secret, slen, why, sizeof(why));
	secure_free(secret, slen);
	if (status || (status = spawner_event_id(sp, &d, id, why, sizeof(why)))) {
		status = refuse(in, ns, name, d.event, status, why, reply);
		goto out;
	}
	json_object *ev = parse_body(rq->body, rq->len);
	if (!ev) {
		json_object_put(ev);
		status = refuse(in, ns, name, d.event, 400, "the body is not one JSON object", reply);
		goto out;
	}
	struct intake_result t;
	char err[512];
	int rc = intake_take(in->store, sp, d.event, id, ev, &t, err, sizeof(err));
	json_object_put(ev);
	char key[130];
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	if (rc < 0) {
		/* Nothing was taken: the sender retries, and then it is. */
		log_error("spawner: cannot store a delivery", "spawner", key, "error", err);
		*reply = xstrdup("store busy: retry\n");
		status = 503;
		goto out;
	}
	count(in, key, t.outcome);
	log_info("spawner: delivery", "spawner", key, "event", id, "outcome",
		 spawner_outcome_name(t.outcome), "detail", t.why);
	*reply = xasprintf("%s: %s\n", spawner_outcome_name(t.outcome), t.why);
	status = t.status;
out:
	json_object_put(sp);
	return status;
}

static unsigned handle(void *ctx, const struct metrics_request *rq, char **reply)
{
	struct intake *in = ctx;
	pthread_mutex_lock(&in->lock);
	unsigned status = handle_locked(in, rq, reply);
	pthread_mutex_unlock(&in->lock);
	return status;
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
	pthread_mutex_init(&in->lock, NULL);
	in->metrics = m;
	metrics_route(m, SPAWNER_HOOK_PREFIX, cap, handle, in);
	*out = in;
	return 0;
}

void intake_free(struct intake *in)
{
	if (!in)
		return;
	store_close(in->store);
	pthread_mutex_destroy(&in->lock);
	free(in);
}
