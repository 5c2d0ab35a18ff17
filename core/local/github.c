/* SPDX-License-Identifier: MIT */
/*
 * local/github.c - the github source of Spawners on the local backend:
 * control/github.c's operations on the store.  See github.h.
 */
#include "config.h"
#include "local/github.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/conf.h"
#include "base/jsonutil.h"
#include "base/sha256.h"
#include "base/util.h"
#include "control/github.h"
#include "local/intake.h"
#include "local/store.h"
#include "model/model.h"

#define LOOP_MS 250

struct local_github {
	char *state_dir;
	struct store *store;
	struct github *poller;
	int64_t task_rv;     /* the store's resource version the Tasks were read at */
	json_object *pending; /* "ns/spawner" -> {Task name: true}: a report is due */
};

static int op_spawners(void *ctx, github_obj_cb cb, void *arg)
{
	struct local_github *l = ctx;
	return store_list(l->store, MODEL_SPAWNER, NULL, cb, arg);
}

static int op_secret(void *ctx, const char *ns, const char *name, const char *key, char **value,
		     size_t *len, char *err, size_t errlen)
{
	struct local_github *l = ctx;
	return store_secret_get(l->store, ns, name, key, value, len, err, errlen);
}

static int op_seen(void *ctx, const char *ns, const char *spawner, const char *id, const char *task)
{
	struct local_github *l = ctx;
	(void)task;
	return store_delivery_seen(l->store, ns, spawner, id);
}

static int op_take(void *ctx, json_object *spawner, const char *id, json_object *ev,
		   struct spawner_result *r, char *err, size_t errlen)
{
	struct local_github *l = ctx;
	return intake_take(l->store, spawner, "github", id, ev, r, err, errlen);
}

static void op_filtered(void *ctx, const char *ns, const char *spawner, const char *why)
{
	struct local_github *l = ctx;
	char err[256];
	struct store_delivery d = { .ns = ns, .spawner = spawner, .event = "github",
				    .outcome = "filtered", .detail = why };
	(void)store_delivery_add(l->store, &d, err, sizeof(err));
}

/* A Task written since the last look: into or out of its Spawner's set
 * of Tasks with a report due. */
static int changed_cb(json_object *task, void *ctx)
{
	struct local_github *l = ctx;
	json_object *md = jget(task, "metadata");
	const char *sp = NULL, *name = jstr(md, "name"), *ns = jstr(md, "namespace");
	bool due = github_report_due(task, &sp);
	if (!sp || !name || !ns)
		return 0;
	char key[300];
	snprintf(key, sizeof(key), "%s/%s", ns, sp);
	json_object *set = jget(l->pending, key);
	if (due && !set) {
		set = json_object_new_object();
		json_object_object_add(l->pending, key, set);
	}
	if (due)
		json_object_object_add(set, name, json_object_new_boolean(1));
	else if (set)
		json_object_object_del(set, name);
	return 0;
}

/* The Tasks written since the last turn (all of them at the first: a
 * restart finds the reports still due). */
static void op_turn(void *ctx)
{
	struct local_github *l = ctx;
	int64_t rv = store_rv(l->store);
	if (rv >= 0 && rv != l->task_rv && store_changed_tasks(l->store, l->task_rv, changed_cb, l) >= 0)
		l->task_rv = rv;
}

/* The Spawner's Tasks with a report due, read afresh; the set itself is
 * kept by changed_cb (a report written is a change too). */
static int op_tasks(void *ctx, const char *ns, const char *spawner, github_obj_cb cb, void *arg)
{
	struct local_github *l = ctx;
	char key[300];
	snprintf(key, sizeof(key), "%s/%s", ns, spawner);
	json_object *set = jget(l->pending, key), *gone;
	if (!set)
		return 0;
	gone = json_object_new_array();
	json_object_object_foreach(set, name, v)
	{
		(void)v;
		json_object *task = NULL;
		int rc = store_get(l->store, MODEL_TASK, ns, name, &task);
		if (rc == -ENOENT) /* deleted: it is not written again */
			json_object_array_add(gone, json_object_new_string(name));
		if (rc < 0 || !task)
			continue;
		(void)cb(task, arg);
		json_object_put(task);
	}
	for (size_t i = 0; i < json_object_array_length(gone); i++)
		json_object_object_del(set, json_object_get_string(json_object_array_get_idx(gone, i)));
	json_object_put(gone);
	return 0;
}

static int op_mark(void *ctx, const char *ns, const char *task, const char *value, char *err,
		   size_t errlen)
{
	struct local_github *l = ctx;
	return store_set_annotation(l->store, MODEL_TASK, ns, task, GITHUB_REPORTED, value, err,
				    errlen);
}

static int op_state_write(void *ctx, const char *ns, const char *name, json_object *state)
{
	struct local_github *l = ctx;
	char *dir = xasprintf("%s/github/%s", l->state_dir, ns);
	char *path = xasprintf("%s/%s.json", dir, name);
	const char *s = json_object_to_json_string_ext(state, JSON_C_TO_STRING_PRETTY);
	int rc = 0;
	if (mkdir_p(dir, 0700) < 0 || write_file_atomic(path, s, strlen(s), 0600) < 0) {
		log_warn("github: cannot write the poll state", "path", path);
		rc = -EIO;
	}
	free(dir);
	free(path);
	return rc;
}

json_object *github_state_read(const char *state_dir, const char *ns, const char *name)
{
	char *path = xasprintf("%s/github/%s/%s.json", state_dir, ns, name), *data = NULL;
	size_t len = 0;
	json_object *o = NULL;
	if (read_file(path, 64 * 1024, &data, &len) == 0)
		o = json_tokener_parse(data);
	free(path);
	free(data);
	return o;
}

static json_object *op_state_read(void *ctx, const char *ns, const char *name)
{
	struct local_github *l = ctx;
	return github_state_read(l->state_dir, ns, name);
}

/* Who claims: this state dir on this host, for this Spawner; the same
 * after a restart. */
static void op_claimer(void *ctx, json_object *sp, char out[17])
{
	struct local_github *l = ctx;
	json_object *md = jget(sp, "metadata");
	char host[256] = "", id[1024];
	(void)gethostname(host, sizeof(host) - 1);
	snprintf(id, sizeof(id), "%s\n%s\n%s/%s", host, l->state_dir, jstr(md, "namespace"),
		 jstr(md, "name"));
	sha256_hex(id, strlen(id), out, 16);
}

int local_github_start(const char *state_dir, const struct pd_config *cfg, struct metrics *m,
		       struct local_github **out, char *err, size_t errlen)
{
	struct local_github *l = xcalloc(1, sizeof(*l));
	int rc = store_open(state_dir, &l->store, err, errlen);
	if (rc < 0) {
		free(l);
		return rc;
	}
	l->state_dir = xstrdup(state_dir);
	l->pending = json_object_new_object();
	const struct github_ops ops = {
		.ctx = l, .turn = op_turn, .spawners = op_spawners, .secret = op_secret,
		.seen = op_seen, .take = op_take, .filtered = op_filtered, .tasks = op_tasks,
		.mark = op_mark, .state_write = op_state_write, .state_read = op_state_read,
		.claimer = op_claimer,
	};
	if ((rc = github_start(&ops, cfg, m, LOOP_MS, &l->poller, err, errlen)) < 0) {
		local_github_free(l);
		return rc;
	}
	*out = l;
	return 0;
}

void local_github_free(struct local_github *l)
{
	if (!l)
		return;
	github_free(l->poller); /* joined: the ops are no longer called */
	json_object_put(l->pending);
	store_close(l->store);
	free(l->state_dir);
	free(l);
}
