/* SPDX-License-Identifier: MIT */
/*
 * kube/hook.c - Spawners' webhooks on Kubernetes.  See hook.h.
 */
#include "config.h"
#include "kube/hook.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonutil.h"
#include "base/util.h"
#include "control/hook.h"
#include "kube/client.h"
#include "model/model.h"

struct kube_hook {
	struct kube_client *kc; /* the HTTP thread's own */
	struct hook *hook;
};

static json_object *src_spawner(void *ctx, const char *ns, const char *name)
{
	struct kube_hook *h = ctx;
	char err[512], *path = kube_path(&KUBE_SPAWNERS, ns, name, NULL, NULL);
	json_object *obj = NULL, *doc = NULL;
	int st = kube_request(h->kc, "GET", path, NULL, NULL, &obj, err, sizeof(err));
	enum model_kind k;
	if (st == 200 && (model_from_server(obj, NULL, &k, &doc, err, sizeof(err)) < 0 ||
			  k != MODEL_SPAWNER)) {
		log_warn("spawner: unreadable", "namespace", ns, "spawner", name, "error", err);
		json_object_put(doc);
		doc = NULL;
	} else if (st != 200 && st != 404) {
		log_warn("spawner: cannot read it", "namespace", ns, "spawner", name, "error", err);
	}
	json_object_put(obj);
	free(path);
	return doc;
}

static int src_secret(void *ctx, const char *ns, const char *name, const char *key, char **value,
		      size_t *len, char *err, size_t errlen)
{
	struct kube_hook *h = ctx;
	return kube_secret_get(h->kc, ns, name, key, value, len, err, errlen);
}

int kube_spawner_take(struct kube_client *kc, json_object *spawner, const char *event,
		      const char *id, json_object *ev, struct spawner_result *r, char *err,
		      size_t errlen)
{
	memset(r, 0, sizeof(*r));
	if (!spawner_wanted(spawner, event, ev, r->why, sizeof(r->why))) {
		r->outcome = SPAWNER_FILTERED;
		r->status = 202;
		return 0;
	}
	json_object *task = NULL;
	enum model_kind k;
	int rc = spawner_task(spawner, event, id, ev, &task, r->why, sizeof(r->why));
	if (rc == 0)
		rc = model_validate(task, NULL, &k, r->why, sizeof(r->why));
	if (rc < 0) {
		json_object_put(task);
		r->outcome = SPAWNER_REJECTED;
		r->status = 422;
		return 0;
	}
	const char *ns = jstr(jget(task, "metadata"), "namespace");
	snprintf(r->task, sizeof(r->task), "%s", jstr(jget(task, "metadata"), "name"));
	char *path = kube_path(&KUBE_TASKS, ns, NULL, NULL, NULL);
	int st = kube_request(kc, "POST", path, task, NULL, NULL, err, errlen);
	free(path);
	json_object_put(task);
	if (st == 201 || st == 409) {
		r->outcome = st == 201 ? SPAWNER_ACCEPTED : SPAWNER_DUPLICATE;
		r->status = st == 201 ? 202 : 200;
		snprintf(r->why, sizeof(r->why), st == 201 ? "task %s" : "task %s exists already",
			 r->task);
		return 0;
	}
	return st < 0 ? st : -EIO; /* nothing taken: the sender retries */
}

static int src_take(void *ctx, json_object *spawner, const char *event, const char *id,
		    json_object *ev, struct spawner_result *r, char *err, size_t errlen)
{
	struct kube_hook *h = ctx;
	return kube_spawner_take(h->kc, spawner, event, id, ev, r, err, errlen);
}

int kube_hook_start(const char *kubeconfig, const char *context, struct metrics *m,
		    struct kube_hook **out, char *err, size_t errlen)
{
	struct kube_config *cfg = NULL;
	int rc = kube_config_load(kubeconfig, context, &cfg, err, errlen);
	if (rc < 0)
		return rc;
	struct kube_hook *h = xcalloc(1, sizeof(*h));
	rc = kube_client_new(cfg, NULL, &h->kc, err, errlen);
	kube_config_free(cfg);
	if (rc < 0) {
		free(h);
		return rc;
	}
	struct hook_source src = { h, src_spawner, src_secret, src_take, NULL };
	h->hook = hook_start(&src, m);
	*out = h;
	return 0;
}

void kube_hook_free(struct kube_hook *h)
{
	if (!h)
		return;
	hook_free(h->hook);
	kube_client_free(h->kc);
	free(h);
}
