/* SPDX-License-Identifier: MIT */
/*
 * cli/dashkube.c - the dashboard's data from an API server
 * (web/source.h), with the CLI's client (cli/kube.h): the same requests,
 * the same error messages as `paddock get/describe/logs/stop/delete`.
 *
 * A thread of its own keeps a list+watch of Tasks (kube_request, then
 * kube_stream framed by kube_watchbuf) as a cache under a lock; the ticker and the
 * HTTP thread read copies of it.  Each thread has its own client (a
 * client is not thread-safe): HTTP (stop, delete, Agents), TICK (events,
 * an Agent's driver) and one per log being followed (kcli_logs with
 * follow=true: pods/log through the API server).
 *
 * Versions: the cache numbers each change it sees (1, 2, ...) and hands
 * out Tasks with that number as metadata.resourceVersion, so the page's
 * "since" means the same thing as with the local store.
 */
#include "config.h"
#include "cli/dashkube.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <getopt.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/jsonutil.h"
#include "base/util.h"
#include "cli/kube.h"
#include "control/metrics.h"
#include "kube/client.h"
#include "web/dashboard.h"

#define KLOG_BUF_MAX ((size_t)4 * 1024 * 1024) /* a log followed, not yet read */
#define KLOG_MAX_BYTES ((size_t)64 * 1024 * 1024)
/* The Tasks' watch and its cache live while the dashboard is used: this
 * long after the last look (an open page looks at every tick: k_keep),
 * the watch ends within a second (watch_chunk, called at least that
 * often) and the cache is dropped, so a controller nobody watches keeps
 * no second copy of every Task.  The next look lists again, and waits
 * for the list KWATCH_SYNC_WAIT_MS at most (then -EAGAIN: try again). */
#define KWATCH_IDLE_MS 60000
#define KWATCH_SYNC_WAIT_MS 5000

static int64_t idle_ms(void)
{
#ifdef PADDOCK_TEST_HOOKS
	const char *v = getenv("PADDOCK_TEST_DASH_IDLE_MS");
	if (v && *v)
		return strtoll(v, NULL, 10);
#endif
	return KWATCH_IDLE_MS;
}

struct ksrc {
	const struct cli_ctx *ctx; /* borrowed: opens the log followers' clients */
	char *ns;                  /* NULL: every namespace */
	struct kcli *http, *tick, *watch;
	pthread_t watcher;
	bool watching;
	volatile sig_atomic_t stop;
	pthread_mutex_t lock;      /* what follows */
	json_object *tasks;        /* "ns/name" -> {"seq": N, "obj": Task} */
	int64_t seq;               /* the last change's number */
	int64_t seen;              /* the ticker's last look */
	bool synced;               /* a list has been read */
	bool idle;                 /* the watch sleeps, the cache is empty */
	int64_t used_ms;           /* the last look (mono) */
	pthread_cond_t cv;         /* a look wakes an idle watch; a list wakes a look */
	int werr_rc;               /* why the tasks cannot be listed, before that */
	char werr[512];
};

struct dash_log {
	struct ksrc *s;
	struct kcli *k;
	char *ns, *name;
	pthread_t th;
	volatile sig_atomic_t stop;
	pthread_mutex_t lock;
	struct buf data;           /* followed, not read yet */
	bool omitted, ended;
};

static char *task_key(json_object *obj)
{
	json_object *md = jget(obj, "metadata");
	return xasprintf("%s/%s", jstr(md, "namespace") ? jstr(md, "namespace") : "",
			 jstr(md, "name") ? jstr(md, "name") : "");
}

static json_object *copy(json_object *o)
{
	json_object *c = NULL;
	if (json_object_deep_copy(o, &c, NULL) < 0)
		abort(); /* out of memory, as xmalloc */
	return c;
}

/* ---- the watch thread ------------------------------------------------------ */

/* A look at the Tasks (lock held): keeps the watch, or wakes it. */
static void touch(struct ksrc *s)
{
	s->used_ms = now_mono_ms();
	if (s->idle) {
		s->idle = false;
		pthread_cond_broadcast(&s->cv);
	}
}

/* A look that needs the cache (lock held): wakes the watch and waits, a
 * few seconds at most, for its list (or its error). */
static void look(struct ksrc *s)
{
	touch(s);
	if (s->synced || s->werr_rc)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += KWATCH_SYNC_WAIT_MS / 1000;
	while (!s->synced && !s->werr_rc && !s->stop && pthread_cond_timedwait(&s->cv, &s->lock, &ts) == 0)
		;
}

static bool unused(struct ksrc *s)
{
	pthread_mutex_lock(&s->lock);
	bool u = now_mono_ms() - s->used_ms >= idle_ms();
	pthread_mutex_unlock(&s->lock);
	return u;
}

/* Under s->lock: the Task as the API server has it now (NULL: gone). */
static void cache_put(struct ksrc *s, const char *key, json_object *obj)
{
	json_object *old = jget(s->tasks, key);
	const char *krv = obj ? jstr(jget(obj, "metadata"), "resourceVersion") : NULL;
	if (!obj) {
		if (!old)
			return;
		s->seq++;
		json_object_object_del(s->tasks, key);
		return;
	}
	if (old && krv && str_eq(jstr(old, "krv"), krv))
		return; /* a relist: nothing new */
	s->seq++;
	json_object *t = copy(obj);
	json_object *md = jget(t, "metadata");
	json_object_object_del(md, "managedFields");
	char rv[32];
	snprintf(rv, sizeof(rv), "%lld", (long long)s->seq);
	jset_str(md, "resourceVersion", rv);
	json_object *e = json_object_new_object();
	json_object_object_add(e, "seq", json_object_new_int64(s->seq));
	jset_str(e, "krv", krv ? krv : "");
	json_object_object_add(e, "obj", t);
	json_object_object_add(s->tasks, key, e);
}

struct watch_ctx {
	struct ksrc *s;
	struct kube_watchbuf wb;
	bool gone;       /* an ERROR event (410 Gone, say): list again */
	bool bad;        /* the stream's framing broke */
};

static void on_watch_event(void *ctx, enum kube_event_type type, json_object *obj)
{
	struct watch_ctx *w = ctx;
	if (type == KUBE_ERROR) {
		w->gone = true;
		return;
	}
	if (type == KUBE_BOOKMARK)
		return;
	char *key = task_key(obj);
	pthread_mutex_lock(&w->s->lock);
	cache_put(w->s, key, type == KUBE_DELETED ? NULL : obj);
	pthread_mutex_unlock(&w->s->lock);
	free(key);
}

static int watch_chunk(void *ctx, const char *data, size_t len)
{
	struct watch_ctx *w = ctx;
	char err[256];
	if (len && kube_watchbuf_feed(&w->wb, data, len, err, sizeof(err)) < 0) {
		log_warn("dashboard: the watch of tasks broke; listing again", "error", err);
		w->bad = true;
	}
	return w->gone || w->bad || w->s->stop || unused(w->s);
}

/* The list, as the cache: what is new or changed, what is gone.
 * Returns the list's resourceVersion (owned), or NULL. */
static char *relist(struct ksrc *s, struct kube_client *cl, char *err, size_t errlen)
{
	char *path = kube_path(&KUBE_TASKS, s->ns, NULL, NULL, NULL);
	json_object *list = NULL;
	int st = kube_request(cl, "GET", path, NULL, NULL, &list, err, errlen);
	free(path);
	json_object *items = jget(list, "items");
	if (st != 200 || !items || !json_object_is_type(items, json_type_array)) {
		if (st == 200)
			snprintf(err, errlen, "GET tasks: the API server sent no list");
		/* Shown by the page until a list succeeds: a 403 says which
		 * right is missing. */
		pthread_mutex_lock(&s->lock);
		s->werr_rc = st == 401 || st == 403 ? -EACCES : st < 0 ? -EHOSTUNREACH : -EIO;
		snprintf(s->werr, sizeof(s->werr), "%s", err);
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->lock);
		json_object_put(list);
		return NULL;
	}
	json_object *seen = json_object_new_object();
	pthread_mutex_lock(&s->lock);
	s->synced = true;
	pthread_cond_broadcast(&s->cv);
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *it = json_object_array_get_idx(items, i);
		char *key = task_key(it);
		cache_put(s, key, it);
		json_object_object_add(seen, key, NULL);
		free(key);
	}
	struct strv gone = { 0 };
	json_object_object_foreach(s->tasks, key, e) {
		(void)e;
		if (!json_object_object_get_ex(seen, key, NULL))
			strv_push(&gone, key);
	}
	for (size_t i = 0; i < gone.n; i++)
		cache_put(s, gone.v[i], NULL);
	pthread_mutex_unlock(&s->lock);
	strv_free(&gone);
	json_object_put(seen);
	const char *rv = jstr(jget(list, "metadata"), "resourceVersion");
	char *out = xstrdup(rv ? rv : "0");
	json_object_put(list);
	return out;
}

/* List, then watch from the list's version; list again whenever the
 * watch ends (the server's timeout, 410 Gone, a broken stream), with a
 * back-off after failures.  On kube_stream: a connection of its own, so
 * this thread shares nothing with the controller's informers (one multi
 * handle for the process, not to be driven from two threads). */
static void *watch_main(void *arg)
{
	struct ksrc *s = arg;
	struct kube_client *cl = kcli_client(s->watch);
	long backoff_ms = 500;
	bool said = false;
	while (!s->stop) {
		pthread_mutex_lock(&s->lock);
		if (now_mono_ms() - s->used_ms >= idle_ms()) { /* drop the cache; sleep until a look */
			json_object_put(s->tasks);
			s->tasks = json_object_new_object();
			s->synced = false;
			s->werr_rc = 0;
			s->seq++; /* versions stay increasing across the gap */
			s->idle = true;
			log_info("dashboard: nobody looks; the Tasks' watch and its cache dropped");
			while (s->idle && !s->stop)
				pthread_cond_wait(&s->cv, &s->lock);
			if (!s->stop)
				log_info("dashboard: looked at; listing the Tasks again");
			backoff_ms = 500;
			said = false;
		}
		pthread_mutex_unlock(&s->lock);
		if (s->stop)
			break;
		char err[1024] = "";
		char *rv = relist(s, cl, err, sizeof(err));
		int st = -1;
		if (rv) {
			char *q = xasprintf("watch=true&allowWatchBookmarks=true&resourceVersion=%s", rv);
			char *path = kube_path(&KUBE_TASKS, s->ns, NULL, NULL, q);
			struct watch_ctx w = { .s = s };
			kube_watchbuf_init(&w.wb, (size_t)16 * 1024 * 1024, on_watch_event, &w);
			st = kube_stream(cl, path, watch_chunk, &w, &s->stop, err, sizeof(err));
			kube_watchbuf_free(&w.wb);
			free(path);
			free(q);
			free(rv);
		}
		if (s->stop)
			break;
		if (unused(s)) /* watch_chunk ended it: nobody looks */
			continue;
		if (st >= 200 && st < 300) {
			backoff_ms = 500;
			said = false;
			continue;
		}
		if (!said) /* once per trouble: the page shows what it has */
			log_warn("dashboard: cannot list or watch tasks; retrying", "error", err);
		said = true;
		for (long t = 0; t < backoff_ms && !s->stop; t += 100)
			usleep(100 * 1000);
		backoff_ms = backoff_ms * 2 > 30000 ? 30000 : backoff_ms * 2;
	}
	return NULL;
}

/* ---- HTTP --------------------------------------------------------------- */

struct seq_item {
	int64_t seq;
	json_object *obj;
};

static int by_seq(const void *a, const void *b)
{
	const struct seq_item *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Copies of the cached Tasks changed after `since`, in the order of the
 * changes; *n of them, owned. */
static struct seq_item *tasks_since(struct ksrc *s, int64_t since, size_t *n, int64_t *rv)
{
	pthread_mutex_lock(&s->lock);
	touch(s);
	size_t cap = (size_t)json_object_object_length(s->tasks), k = 0;
	struct seq_item *v = xcalloc(cap ? cap : 1, sizeof(*v));
	json_object_object_foreach(s->tasks, key, e) {
		(void)key;
		int64_t q = json_object_get_int64(jget(e, "seq"));
		if (q > since && k < cap)
			v[k++] = (struct seq_item){ q, copy(jget(e, "obj")) };
	}
	if (rv)
		*rv = s->seq;
	pthread_mutex_unlock(&s->lock);
	qsort(v, k, sizeof(*v), by_seq);
	*n = k;
	return v;
}

static int walk(struct seq_item *v, size_t n, dash_obj_cb cb, void *ctx)
{
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (rc == 0)
			rc = cb(v[i].obj, ctx);
		json_object_put(v[i].obj);
	}
	free(v);
	return rc;
}

static int k_list(void *p, enum model_kind kind, dash_obj_cb cb, void *ctx, int64_t *rv, char *err,
		  size_t errlen)
{
	struct ksrc *s = p;
	if (kind != MODEL_TASK)
		return kcli_list(s->http, kind, s->ns, cb, ctx, err, errlen);
	pthread_mutex_lock(&s->lock);
	look(s);
	int rc = s->synced ? 0 : s->werr_rc ? s->werr_rc : -EAGAIN;
	if (rc == -EAGAIN)
		snprintf(err, errlen, "the Tasks are being listed from the API server; try again");
	else if (rc < 0)
		snprintf(err, errlen, "%s", s->werr);
	pthread_mutex_unlock(&s->lock);
	if (rc < 0)
		return rc;
	size_t n = 0;
	struct seq_item *v = tasks_since(s, 0, &n, rv);
	/* oldest first, as the store lists them (the Agents' queues) */
	for (size_t i = 0; i < n; i++) {
		const char *t = jstr(jget(v[i].obj, "metadata"), "creationTimestamp");
		int64_t ms = 0;
		v[i].seq = t && parse_time(t, &ms) == 0 ? ms : 0;
	}
	qsort(v, n, sizeof(*v), by_seq);
	return walk(v, n, cb, ctx);
}

static int k_stop(void *p, const char *ns, const char *name, char *err, size_t errlen)
{
	struct ksrc *s = p;
	const char *finished = NULL;
	int rc = kcli_stop(s->http, ns, name, &finished, err, errlen);
	if (rc == 1)
		return errf(err, errlen, -EALREADY, "the task has finished already (%s)", finished);
	return rc;
}

static int k_delete(void *p, const char *ns, const char *name, char *err, size_t errlen)
{
	return kcli_delete(((struct ksrc *)p)->http, MODEL_TASK, ns, name, err, errlen);
}

/* ---- TICK ---------------------------------------------------------------- */

static bool k_changed(void *p)
{
	struct ksrc *s = p;
	pthread_mutex_lock(&s->lock);
	bool changed = s->seq != s->seen;
	s->seen = s->seq;
	pthread_mutex_unlock(&s->lock);
	return changed;
}

static void k_keep(void *p)
{
	struct ksrc *s = p;
	pthread_mutex_lock(&s->lock);
	touch(s);
	pthread_mutex_unlock(&s->lock);
}

static int64_t k_rv(void *p)
{
	struct ksrc *s = p;
	pthread_mutex_lock(&s->lock);
	touch(s);
	int64_t v = s->seq;
	pthread_mutex_unlock(&s->lock);
	return v;
}

static int k_changed_tasks(void *p, int64_t since, dash_obj_cb cb, void *ctx)
{
	size_t n = 0;
	struct seq_item *v = tasks_since(p, since, &n, NULL);
	return walk(v, n, cb, ctx);
}

static long k_count(void *p)
{
	struct ksrc *s = p;
	pthread_mutex_lock(&s->lock);
	touch(s);
	long n = s->synced ? (long)json_object_object_length(s->tasks) : -1;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static int k_get(void *p, enum model_kind kind, const char *ns, const char *name, json_object **out)
{
	struct ksrc *s = p;
	if (kind != MODEL_TASK) {
		char err[512];
		return kcli_get(s->tick, kind, ns, name, out, err, sizeof(err)) < 0 ? -ENOENT : 0;
	}
	char *key = xasprintf("%s/%s", ns, name);
	pthread_mutex_lock(&s->lock);
	look(s);
	bool known = s->synced;
	json_object *e = jget(s->tasks, key);
	*out = e ? copy(jget(e, "obj")) : NULL;
	pthread_mutex_unlock(&s->lock);
	free(key);
	return *out ? 0 : known ? -ENOENT : -EAGAIN;
}

static int k_events(void *p, json_object *task, dash_event_cb cb, void *ctx)
{
	char err[512];
	int rc = kcli_events(((struct ksrc *)p)->tick, task, cb, ctx, err, sizeof(err));
	if (rc < 0) /* shown where the events would be: forbidden, say */
		(void)cb(now_wall_ms(), "Warning", "EventsUnavailable", err, ctx);
	return 0;
}

/* ---- logs: one follower thread per task page ------------------------------ */

static int log_write(void *ctx, const char *data, size_t len)
{
	struct dash_log *l = ctx;
	pthread_mutex_lock(&l->lock);
	if (l->data.len + len > KLOG_BUF_MAX) {
		/* the page does not keep up: keep the newest */
		l->data.len = 0;
		l->omitted = true;
		if (len > KLOG_BUF_MAX) {
			data += len - KLOG_BUF_MAX;
			len = KLOG_BUF_MAX;
		}
	}
	(void)buf_append(&l->data, data, len);
	pthread_mutex_unlock(&l->lock);
	return l->stop ? 1 : 0;
}

static void *log_main(void *arg)
{
	struct dash_log *l = arg;
	char err[1024] = "";
	struct kcli_log_sink sink = { log_write, l, NULL };
	int rc = kcli_logs(l->k, l->ns, l->name, true, KLOG_MAX_BYTES, &sink, &l->stop, err, sizeof(err));
	pthread_mutex_lock(&l->lock);
	if (rc < 0 && !l->stop) {
		/* the reason, as a line of the log: a 403 on pods/log, say */
		(void)buf_printf(&l->data, "%s[paddock: %s]\n",
				 l->data.len && l->data.data[l->data.len - 1] != '\n' ? "\n" : "", err);
	}
	l->ended = true;
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

static struct dash_log *k_log_open(void *p, json_object *task)
{
	struct ksrc *s = p;
	json_object *md = jget(task, "metadata"), *st = jget(task, "status");
	/* a run to read: its Job is named in the status */
	if (!jstr(st, "jobName") || !jstr(st, "runNamespace") || !jstr(md, "namespace") || !jstr(md, "name"))
		return NULL;
	struct dash_log *l = xcalloc(1, sizeof(*l));
	char err[512];
	if (kcli_open(s->ctx, jstr(md, "namespace"), NULL, &l->k, err, sizeof(err)) < 0) {
		log_warn("dashboard: cannot follow a log", "error", err);
		free(l);
		return NULL;
	}
	kcli_set_quiet(l->k, true);
	l->s = s;
	l->ns = xstrdup(jstr(md, "namespace"));
	l->name = xstrdup(jstr(md, "name"));
	pthread_mutex_init(&l->lock, NULL);
	buf_init(&l->data, KLOG_BUF_MAX + 1);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&l->th, NULL, log_main, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		kcli_close(l->k);
		buf_free(&l->data);
		free(l->ns);
		free(l->name);
		free(l);
		return NULL;
	}
	return l;
}

static ssize_t k_log_read(void *p, struct dash_log *l, char *buf, size_t max, bool *omitted)
{
	(void)p;
	pthread_mutex_lock(&l->lock);
	size_t n = l->data.len < max ? l->data.len : max;
	if (n) { /* (no buffer yet before the first bytes) */
		memcpy(buf, l->data.data, n);
		memmove(l->data.data, l->data.data + n, l->data.len - n);
		l->data.len -= n;
	}
	*omitted = l->omitted;
	l->omitted = false;
	bool ended = l->ended && !n;
	pthread_mutex_unlock(&l->lock);
	return ended ? -1 : (ssize_t)n;
}

static void k_log_close(void *p, struct dash_log *l)
{
	(void)p;
	if (!l)
		return;
	l->stop = 1;
	pthread_join(l->th, NULL);
	kcli_close(l->k);
	buf_free(&l->data);
	pthread_mutex_destroy(&l->lock);
	free(l->ns);
	free(l->name);
	free(l);
}

static void k_free(void *p)
{
	struct ksrc *s = p;
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->lock);
	if (s->watching)
		pthread_join(s->watcher, NULL);
	kcli_close(s->http);
	kcli_close(s->tick);
	kcli_close(s->watch);
	json_object_put(s->tasks);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->lock);
	free(s->ns);
	free(s);
}

static const struct dash_source_ops kube_ops = {
	.list = k_list,
	.stop = k_stop,
	.delete = k_delete,
	.changed = k_changed,
	.keep = k_keep,
	.rv = k_rv,
	.changed_tasks = k_changed_tasks,
	.count_tasks = k_count,
	.get = k_get,
	.events = k_events,
	.log_open = k_log_open,
	.log_read = k_log_read,
	.log_close = k_log_close,
	.free = k_free,
};

int dash_source_kube(const struct cli_ctx *ctx, const char *ns_flag, bool all, struct dash_source *src,
		     char *err, size_t errlen)
{
	struct ksrc *s = xcalloc(1, sizeof(*s));
	s->ctx = ctx;
	s->tasks = json_object_new_object();
	s->used_ms = now_mono_ms() - KWATCH_IDLE_MS; /* no watch before the first look */
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cv, NULL);
	int rc = kcli_open(ctx, ns_flag, NULL, &s->http, err, errlen);
	if (rc == 0)
		rc = kcli_open(ctx, ns_flag, NULL, &s->tick, err, errlen);
	if (rc == 0)
		rc = kcli_open(ctx, ns_flag, NULL, &s->watch, err, errlen);
	if (rc == 0 && !all)
		s->ns = xstrdup(kcli_namespace(s->http));
	if (rc == 0) {
		sigset_t every, old;
		sigfillset(&every);
		pthread_sigmask(SIG_SETMASK, &every, &old);
		rc = -pthread_create(&s->watcher, NULL, watch_main, s);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (rc < 0)
			errf(err, errlen, rc, "dashboard: cannot start its watch: %s", strerror(-rc));
		s->watching = rc == 0;
	}
	if (rc < 0) {
		k_free(s);
		return rc;
	}
	src->ops = &kube_ops;
	src->impl = s;
	return 0;
}

/* ---- paddock dashboard ------------------------------------------------------ */

static volatile sig_atomic_t dash_stop;

static void on_stop(int sig)
{
	(void)sig;
	dash_stop = 1;
}

/* A token of this process only, for the URL it prints: 32 hex digits. */
static int random_token(char *out, size_t n)
{
	unsigned char b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b) || n < 2 * sizeof(b) + 1)
		return -EIO;
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	explicit_bzero(b, sizeof(b));
	return 0;
}

static int cmd_dashboard_fn(struct cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_KUBECONFIG = 256, OPT_CONTEXT, OPT_LISTEN };
	static const struct option opts[] = {
		{ "kubeconfig", required_argument, NULL, OPT_KUBECONFIG },
		{ "context", required_argument, NULL, OPT_CONTEXT },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "namespace", required_argument, NULL, 'n' },
		{ "all-namespaces", no_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen = DASHBOARD_DEFAULT_LISTEN, *ns = NULL;
	bool all = false;
	int c;
	while ((c = getopt_long(argc, argv, ":n:A", opts, NULL)) != -1) {
		switch (c) {
		case OPT_KUBECONFIG: ctx->kubeconfig = optarg; break;
		case OPT_CONTEXT: ctx->kube_context = optarg; break;
		case OPT_LISTEN: listen = optarg; break;
		case 'n': ns = optarg; break;
		case 'A': all = true; break;
		default: return cli_option_error(&cmd_dashboard, c, argc, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(&cmd_dashboard, "unexpected argument \"%s\"", argv[optind]);
	if (all && ns)
		return cli_usage_error(&cmd_dashboard, "-A and -n: give one of them");
	int rc = cli_load_config(ctx);
	if (rc != CLI_EXIT_OK)
		return rc;
	char err[1024];
	/* The operator's token when paddock.yaml has one; else one of this
	 * process, in the URL printed below (as Jupyter does). */
	char token[64];
	const char *cfg_token = ctx->cfg->dashboard_token;
	if (dashboard_check_addr("--listen", listen, cfg_token != NULL, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return CLI_EXIT_USAGE;
	}
	if (cfg_token)
		snprintf(token, sizeof(token), "%s", cfg_token);
	else if (random_token(token, sizeof(token)) < 0) {
		cli_error("cannot draw a random token: %s", strerror(errno));
		return CLI_EXIT_FAILED;
	}
	struct sigaction sa = { .sa_handler = on_stop };
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	struct dash_source src;
	if ((rc = dash_source_kube(ctx, ns, all, &src, err, sizeof(err))) < 0) {
		cli_error("%s", err);
		return kcli_exit_code(rc);
	}
	struct dash *d = NULL;
	struct dash_opts o = { .listen = listen, .token = token, .ticker = true };
	if (dashboard_new_source(ctx->cfg, &src, &o, &d, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return CLI_EXIT_FAILED;
	}
	struct metrics *m = metrics_new();
	dashboard_attach(d, m);
	if (metrics_listen(m, listen, err, sizeof(err)) < 0) {
		cli_error("--listen %s: %s", listen, err);
		dashboard_shutdown(d);
		metrics_free(m);
		dashboard_free(d);
		return CLI_EXIT_FAILED;
	}
	/* The address a browser opens: a wildcard is this machine too. */
	char host[128];
	snprintf(host, sizeof(host), "%s", listen);
	char *colon = strrchr(host, ':');
	if (colon)
		*colon = '\0';
	if (!strcmp(host, "0.0.0.0") || !strcmp(host, "[::]") || !*host)
		snprintf(host, sizeof(host), "127.0.0.1");
	printf("Dashboard of %s: http://%s:%d/?token=%s\n", all ? "every namespace" : "the namespace",
	       host, metrics_port(m), token);
	printf("(the token in the URL allows stop and delete as your kubeconfig's user; Ctrl-C ends)\n");
	fflush(stdout);
	/* The signals are blocked between the test and the wait: a Ctrl-C
	 * arriving just after the test still ends the wait. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	(void)pthread_sigmask(SIG_BLOCK, &block, &old);
	while (!dash_stop)
		(void)sigsuspend(&old);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	dashboard_shutdown(d);
	metrics_free(m);
	dashboard_free(d);
	explicit_bzero(token, sizeof(token));
	return CLI_EXIT_OK;
}

const struct cli_command cmd_dashboard = {
	"dashboard", "serve the web dashboard of a cluster's tasks with your own kubeconfig",
	"Usage: paddock dashboard [--kubeconfig FILE] [--context NAME] [--listen ADDR:PORT] [-n NS | -A]\n"
	"\n"
	"Serves the dashboard `paddock controller` serves (tasks live, a task's rendered\n"
	"log, events and spec, Agents with capacity and queue) for the Tasks of a\n"
	"Kubernetes cluster, read from the API server with your kubeconfig's identity:\n"
	"you see what your RBAC lets you list, and stop and delete are done as you (a\n"
	"403 from the API server is shown as it is).  It prints the URL to open, with\n"
	"a token of this process (or dashboard.token of paddock.yaml) that the page\n"
	"sends with stop and delete: another web page in your browser cannot.\n"
	"\n"
	"  --listen ADDR:PORT  where to listen (default " DASHBOARD_DEFAULT_LISTEN "; port 0 picks\n"
	"                      a free one).  Beyond loopback only with dashboard.token set.\n"
	"  -n NS               the Tasks of NS (default: as other commands: -n, then\n"
	"                      $PADDOCK_NAMESPACE, kubernetes.namespace, the context's)\n"
	"  -A                  every namespace\n"
	"  --kubeconfig FILE, --context NAME  as the global options\n"
	"\n"
	"Examples:\n"
	"  paddock dashboard --kubeconfig ~/.kube/config -n team-a\n"
	"  paddock dashboard -A --listen 127.0.0.1:0\n",
	cmd_dashboard_fn,
};
