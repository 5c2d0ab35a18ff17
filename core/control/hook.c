/* SPDX-License-Identifier: MIT */
/*
 * control/hook.c - Spawners' webhooks.  See hook.h.
 */
#include "config.h"
#include "control/hook.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonutil.h"
#include "base/util.h"
#include "control/metrics.h"
#include "model/model.h"

#define HOOK_JSON_DEPTH 64

struct hook {
	pthread_mutex_t lock; /* one delivery at a time: arrival order is creation order */
	struct hook_source src;
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

static json_object *spawner_get(struct hook *h, const char *url, char ns[64], char name[64])
{
	return hook_path(url, ns, name) ? h->src.spawner(h->src.ctx, ns, name) : NULL;
}

static size_t cap(void *ctx, const char *url)
{
	struct hook *h = ctx;
	char ns[64], name[64];
	pthread_mutex_lock(&h->lock);
	json_object *sp = spawner_get(h, url, ns, name);
	pthread_mutex_unlock(&h->lock);
	json_object *wh = jget(jget(sp, "spec"), "webhook"), *max = jget(wh, "maxBodyBytes");
	size_t n = !wh ? 0 : max ? (size_t)json_object_get_int64(max) : (size_t)MODEL_WEBHOOK_BODY_DEFAULT;
	json_object_put(sp);
	return n;
}

static void count(struct hook *h, const char *key, enum spawner_outcome o)
{
	metrics_series(h->metrics, "paddock_spawner_events_total", "counter",
		       "Webhook deliveries to Spawners by outcome (accepted, duplicate, filtered, rejected).",
		       "spawner", key, "outcome", spawner_outcome_name(o), 1, true);
	if (o == SPAWNER_ACCEPTED)
		metrics_series(h->metrics, "paddock_spawner_tasks_created_total", "counter",
			       "Tasks made by Spawners.", "spawner", key, NULL, NULL, 1, true);
}

/* A delivery refused before it was read: recorded without its id (an
 * unverified sender must not take an id away from the real one). */
static unsigned refuse(struct hook *h, const char *ns, const char *name, const char *event,
		       unsigned status, const char *why, char **reply)
{
	if (h->src.rejected)
		h->src.rejected(h->src.ctx, ns, name, event, why);
	char key[130], code[16];
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	count(h, key, SPAWNER_REJECTED);
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
	json_tokener *tok = json_tokener_new_ex(HOOK_JSON_DEPTH);
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

static unsigned handle_locked(struct hook *h, const struct metrics_request *rq, char **reply)
{
	char ns[64], name[64], why[512] = "", id[SPAWNER_ID_MAX + 1];
	json_object *sp = spawner_get(h, rq->url, ns, name);
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
		status = refuse(h, ns, name, d.event, 413, why, reply);
		goto out;
	}
	if (json_object_get_boolean(jget(jget(sp, "spec"), "suspend"))) {
		status = refuse(h, ns, name, d.event, 503, "the Spawner is suspended (spec.suspend)", reply);
		goto out;
	}
	char *secret = NULL;
	size_t slen = 0;
	if (h->src.secret(h->src.ctx, ns, jstr(ref, "name"), jstr(ref, "key"), &secret, &slen, why,
			  sizeof(why)) < 0) {
		status = refuse(h, ns, name, d.event, 503, why, reply);
		goto out;
	}
	status = spawner_verify(sp, &d, secret, slen, why, sizeof(why));
	secure_free(secret, slen);
	if (status || (status = spawner_event_id(sp, &d, id, why, sizeof(why)))) {
		status = refuse(h, ns, name, d.event, status, why, reply);
		goto out;
	}
	json_object *ev = parse_body(rq->body, rq->len);
	if (!ev) {
		json_object_put(ev);
		status = refuse(h, ns, name, d.event, 400, "the body is not one JSON object", reply);
		goto out;
	}
	struct spawner_result t;
	char err[512];
	int rc = h->src.take(h->src.ctx, sp, d.event, id, ev, &t, err, sizeof(err));
	json_object_put(ev);
	char key[130];
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	if (rc < 0) {
		/* Nothing was taken: the sender retries, and then it is. */
		log_error("spawner: cannot take a delivery", "spawner", key, "error", err);
		*reply = xstrdup("not taken: retry\n");
		status = 503;
		goto out;
	}
	count(h, key, t.outcome);
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
	struct hook *h = ctx;
	pthread_mutex_lock(&h->lock);
	unsigned status = handle_locked(h, rq, reply);
	pthread_mutex_unlock(&h->lock);
	return status;
}

struct hook *hook_start(const struct hook_source *src, struct metrics *m)
{
	struct hook *h = xcalloc(1, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	h->src = *src;
	h->metrics = m;
	metrics_route(m, SPAWNER_HOOK_PREFIX, cap, handle, h);
	return h;
}

void hook_free(struct hook *h)
{
	if (!h)
		return;
	pthread_mutex_destroy(&h->lock);
	free(h);
}
