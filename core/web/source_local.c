/* SPDX-License-Identifier: MIT */
/*
 * web/source_local.c - the dashboard's data from the local store and the
 * run directories (web/source.h).
 */
#include "config.h"
#include "web/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/jsonutil.h"
#include "base/util.h"
#include "control/metrics.h"
#include "local/store.h"
#include "web/dashboard.h"

struct local_src {
	char *state_dir;
	struct store *http;  /* the HTTP thread's connection */
	struct store *tick;  /* the ticker's */
	int64_t dv;          /* PRAGMA data_version seen by the ticker */
};

struct dash_log {
	char *path;
	off_t off; /* bytes handed on; -1: not yet */
};

static int local_list(void *p, enum model_kind kind, dash_obj_cb cb, void *ctx, int64_t *rv, char *err,
		      size_t errlen)
{
	struct local_src *s = p;
	/* The version first: a write after it comes again by the stream. */
	if (rv)
		*rv = store_rv(s->http);
	if (store_list(s->http, kind, NULL, cb, ctx) < 0)
		return errf(err, errlen, -EIO, "store: cannot list %s", kind == MODEL_TASK ? "tasks" : "agents");
	return 0;
}

static int local_stop(void *p, const char *ns, const char *name, char *err, size_t errlen)
{
	struct local_src *s = p;
	json_object *task = NULL;
	if (store_get(s->http, MODEL_TASK, ns, name, &task) < 0)
		return errf(err, errlen, -ENOENT, "no such task");
	int ph = model_phase_parse(jstr(jget(task, "status"), "phase"));
	json_object_put(task);
	if (ph >= 0 && model_phase_finished((enum model_phase)ph))
		return errf(err, errlen, -EALREADY, "the task has finished already");
	return store_set_annotation(s->http, MODEL_TASK, ns, name, MODEL_ANNOTATION_STOP, "true", err, errlen);
}

static int local_delete(void *p, const char *ns, const char *name, char *err, size_t errlen)
{
	struct local_src *s = p;
	return store_mark_deleted(s->http, MODEL_TASK, ns, name, err, errlen);
}

static bool local_changed(void *p)
{
	struct local_src *s = p;
	/* data_version changes with other connections' commits only. */
	int64_t dv = store_data_version(s->tick);
	bool changed = dv != s->dv;
	s->dv = dv;
	return changed;
}

static int64_t local_rv(void *p)
{
	return store_rv(((struct local_src *)p)->tick);
}

static int local_changed_tasks(void *p, int64_t since, dash_obj_cb cb, void *ctx)
{
	return store_changed_tasks(((struct local_src *)p)->tick, since, cb, ctx);
}

static long local_count(void *p)
{
	struct local_src *s = p;
	long total = 0;
	for (int ph = 0; ph < METRICS_N_PHASES; ph++) {
		long n = store_count_phase(s->tick, (enum model_phase)ph, NULL);
		if (n < 0)
			return n;
		total += n;
	}
	return total;
}

static int local_get(void *p, enum model_kind kind, const char *ns, const char *name, json_object **out)
{
	return store_get(((struct local_src *)p)->tick, kind, ns, name, out) < 0 ? -ENOENT : 0;
}

static int local_events(void *p, json_object *task, dash_event_cb cb, void *ctx)
{
	json_object *md = jget(task, "metadata");
	return store_events(((struct local_src *)p)->tick, jstr(md, "namespace"), jstr(md, "name"), cb, ctx);
}

static struct dash_log *local_log_open(void *p, json_object *task)
{
	struct local_src *s = p;
	const char *uid = jstr(jget(task, "metadata"), "uid");
	if (!uid || !*uid || strchr(uid, '/'))
		return NULL;
	struct dash_log *l = xcalloc(1, sizeof(*l));
	l->path = xasprintf("%s/runs/%s/log", s->state_dir, uid);
	l->off = -1;
	return l;
}

/* The bytes written since the last read; a new reader starts
 * DASH_LOG_TAIL from the end. */
static ssize_t local_log_read(void *p, struct dash_log *l, char *buf, size_t max, bool *omitted)
{
	(void)p;
	int fd = open(l->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	if (l->off < 0) {
		l->off = st.st_size > DASH_LOG_TAIL ? st.st_size - DASH_LOG_TAIL : 0;
		*omitted = l->off > 0;
	}
	if (st.st_size < l->off)
		l->off = 0; /* truncated or replaced: from the start */
	ssize_t n = st.st_size > l->off ? pread(fd, buf, max, l->off) : 0;
	close(fd);
	if (n > 0)
		l->off += n;
	return n < 0 ? 0 : n;
}

static void local_log_close(void *p, struct dash_log *l)
{
	(void)p;
	if (l)
		free(l->path);
	free(l);
}

static void local_free(void *p)
{
	struct local_src *s = p;
	if (!s)
		return;
	store_close(s->http);
	store_close(s->tick);
	free(s->state_dir);
	free(s);
}

static const struct dash_source_ops local_ops = {
	.list = local_list,
	.stop = local_stop,
	.delete = local_delete,
	.changed = local_changed,
	.rv = local_rv,
	.changed_tasks = local_changed_tasks,
	.count_tasks = local_count,
	.get = local_get,
	.events = local_events,
	.log_open = local_log_open,
	.log_read = local_log_read,
	.log_close = local_log_close,
	.free = local_free,
};

int dash_source_local(const char *state_dir, struct dash_source *src, char *err, size_t errlen)
{
	struct local_src *s = xcalloc(1, sizeof(*s));
	s->state_dir = xstrdup(state_dir);
	int rc = store_open(state_dir, &s->http, err, errlen);
	if (rc == 0)
		rc = store_open(state_dir, &s->tick, err, errlen);
	if (rc < 0) {
		local_free(s);
		return rc;
	}
	s->dv = store_data_version(s->tick);
	src->ops = &local_ops;
	src->impl = s;
	return 0;
}
