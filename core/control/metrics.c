/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "control/metrics.h"
#include "control/reconcile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <paddock/plugin.h>

#include "model/model.h"
#include "base/util.h"
#include "proxy/traffic.h"

#define OTHER_LABEL "(other)"
#define NO_AGENT_LABEL "(none)"
#define UNKNOWN_DRIVER "unknown"
/* Enough that a flood of idle or slow connections (an agent running with
 * network.egress: open can reach 127.0.0.1) does not blind /healthz; each
 * costs at most HTTP_CONNECTION_MEMORY and is dropped after HTTP_TIMEOUT_S
 * of silence. */
#define HTTP_CONNECTION_LIMIT 256
#define HTTP_TIMEOUT_S 5
#define HTTP_CONNECTION_MEMORY ((size_t)32 * 1024)
#define REASON_MAX 256

/* Reconcile passes: a pass is usually well under a millisecond. */
static const double tick_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				      0.1,    0.25,  0.5,    1,     2.5,  5,     10 };
/* Agent runs: seconds to hours (the default task timeout is 1 h). */
static const double run_bounds[] = { 1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400 };

#define MAX_BOUNDS 16

struct histogram {
	const double *bounds;
	size_t n;                       /* finite buckets; [n] is +Inf */
	uint64_t buckets[MAX_BOUNDS + 1]; /* not cumulative; summed when rendered */
	double sum;
	uint64_t count;
};

struct queue_entry {
	char *agent; /* the label value, owned */
	long n;
};

struct driver_entry {
	char *driver; /* the label value, owned */
	long long in_tokens, out_tokens;
	double cost_usd;
};

struct metrics {
	pthread_mutex_t lock;   /* everything below */
	struct MHD_Daemon *daemon;
	int port;
	long phases[METRICS_N_PHASES];
	bool have_phases;
	struct queue_entry *queue;
	size_t n_queue;
	struct histogram tick, run;
	struct driver_entry *drivers;
	size_t n_drivers;
	uint64_t plugin_failures;
	uint64_t limit_kills[REC_N_LIMIT_REASONS]; /* rec_limit_reasons order */
	struct egress_entry {
		char *agent, *host;
		uint64_t n;                 /* denied */
		uint64_t req, up, down;     /* allowed: requests, bytes */
	} *egress; /* by agent and host */
	size_t n_egress;
	double run_cpu_seconds;    /* cgroup CPU time of finished runs */
	struct run_limits defaults; /* resources.limits in paddock.yaml */
	bool have_defaults;
	int leader;             /* Kubernetes: 1 leads, 0 standby; -1 local backend */
	unsigned long api_errors, api_retries;
	/* readiness */
	bool have_tick;
	bool tick_ok;
	char tick_error[REASON_MAX];
	int64_t last_tick_ms;   /* now_mono_ms() */
	bool store_ok;
	char store_error[REASON_MAX];
	int64_t last_refresh_ms; /* controller thread only */
	metrics_handler_fn handler; /* set before listening, then read-only */
	void *handler_ctx;
	/* metrics_series(): labelled values of other modules (spawners) */
	struct series { char *family, *help, *type, *labels; double v; } *series;
	size_t n_series;
	/* metrics_route(): one POST route (webhooks), its handler's context */
	char *route_prefix;
	size_t (*route_cap)(void *ctx, const char *url);
	unsigned (*route_fn)(void *ctx, const struct metrics_request *rq, char **reply);
	void *route_ctx;
	struct upload *uploads; /* route bodies being read, under lock */
};

static void hist_init(struct histogram *h, const double *bounds, size_t n)
{
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->n = n < MAX_BOUNDS ? n : MAX_BOUNDS;
}

static void hist_observe(struct histogram *h, double v)
{
	if (!(v >= 0))
		v = 0; /* NaN and negatives: a clock step; never corrupt the sum */
	size_t i = 0;
	while (i < h->n && v > h->bounds[i])
		i++;
	h->buckets[i]++;
	h->sum += v;
	h->count++;
}

struct metrics *metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	hist_init(&m->tick, tick_bounds, ARRAY_SIZE(tick_bounds));
	hist_init(&m->run, run_bounds, ARRAY_SIZE(run_bounds));
	m->store_ok = true;
	m->leader = -1;
	m->last_refresh_ms = INT64_MIN;
	return m;
}

static void queue_clear(struct metrics *m)
{
	for (size_t i = 0; i < m->n_queue; i++)
		free(m->queue[i].agent);
	free(m->queue);
	m->queue = NULL;
	m->n_queue = 0;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	if (m->daemon)
		MHD_stop_daemon(m->daemon); /* joins the HTTP thread */
	queue_clear(m);
	for (size_t i = 0; i < m->n_drivers; i++)
		free(m->drivers[i].driver);
	free(m->drivers);
	for (size_t i = 0; i < m->n_egress; i++) {
		free(m->egress[i].host);
		free(m->egress[i].agent);
	}
	free(m->egress);
	for (size_t i = 0; i < m->n_series; i++) {
		free(m->series[i].family);
		free(m->series[i].help);
		free(m->series[i].type);
		free(m->series[i].labels);
	}
	free(m->series);
	free(m->route_prefix);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

double metrics_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A label value: at most METRICS_LABEL_MAX bytes, cut on a UTF-8
 * boundary, control characters other than newline replaced (newline is
 * escaped when rendered).  Owned. */
static char *label_value(const char *s)
{
	size_t n = strlen(s);
	if (n > METRICS_LABEL_MAX) {
		n = METRICS_LABEL_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	char *v = xstrndup(s, n);
	for (char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\n')
			*p = '?';
	return v;
}

static void copy_reason(char *dst, const char *src)
{
	snprintf(dst, REASON_MAX, "%s", src && *src ? src : "unknown error");
	for (char *p = dst; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
}

/* ---- writers (controller thread) ---------------------------------- */

void metrics_observe_tick(struct metrics *m, double seconds, bool ok, const char *error)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	hist_observe(&m->tick, seconds);
	m->have_tick = true;
	m->tick_ok = ok;
	if (ok)
		m->tick_error[0] = '\0';
	else
		copy_reason(m->tick_error, error);
	m->last_tick_ms = now_mono_ms();
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_phase_counts(struct metrics *m, const long counts[METRICS_N_PHASES])
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < METRICS_N_PHASES; i++)
		m->phases[i] = counts[i] > 0 ? counts[i] : 0;
	m->have_phases = true;
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_queue_depths(struct metrics *m, const char *const *keys, const long *counts,
			      size_t n)
{
	if (!m)
		return;
	/* Build outside the lock; keep at most METRICS_MAX_AGENTS series
	 * plus "(other)" for the rest. */
	size_t cap = (n < METRICS_MAX_AGENTS ? n : METRICS_MAX_AGENTS) + 1;
	struct queue_entry *q = xcalloc(cap, sizeof(*q));
	size_t nq = 0;
	long other = 0;
	bool have_other = false;
	for (size_t i = 0; i < n; i++) {
		long c = counts[i] > 0 ? counts[i] : 0;
		const char *k = keys[i] && *keys[i] ? keys[i] : NO_AGENT_LABEL;
		if (!strcmp(k, OTHER_LABEL) || nq >= METRICS_MAX_AGENTS) {
			other += c;
			have_other = true;
			continue;
		}
		q[nq].agent = label_value(k);
		q[nq].n = c;
		nq++;
	}
	if (have_other) {
		q[nq].agent = xstrdup(OTHER_LABEL);
		q[nq].n = other;
		nq++;
	}
	pthread_mutex_lock(&m->lock);
	queue_clear(m);
	m->queue = q;
	m->n_queue = nq;
	pthread_mutex_unlock(&m->lock);
}

/* Under the lock.  The entry for `driver`, created if there is room,
 * else "(other)". */
static struct driver_entry *driver_entry(struct metrics *m, const char *driver)
{
	char *label = label_value(driver && *driver ? driver : UNKNOWN_DRIVER);
	for (size_t i = 0; i < m->n_drivers; i++)
		if (!strcmp(m->drivers[i].driver, label)) {
			free(label);
			return &m->drivers[i];
		}
	if (m->n_drivers >= METRICS_MAX_DRIVERS) {
		free(label);
		label = xstrdup(OTHER_LABEL);
		for (size_t i = 0; i < m->n_drivers; i++)
			if (!strcmp(m->drivers[i].driver, label)) {
				free(label);
				return &m->drivers[i];
			}
	}
	/* One slot beyond the cap is reserved for "(other)". */
	m->drivers = xrealloc(m->drivers, (m->n_drivers + 1) * sizeof(*m->drivers));
	struct driver_entry *d = &m->drivers[m->n_drivers++];
	memset(d, 0, sizeof(*d));
	d->driver = label;
	return d;
}

void metrics_run_finished(struct metrics *m, const char *driver, double seconds,
			  long long in_tokens, long long out_tokens, double cost_usd)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	if (seconds >= 0)
		hist_observe(&m->run, seconds);
	if (in_tokens >= 0 || out_tokens >= 0 || cost_usd >= 0) {
		struct driver_entry *d = driver_entry(m, driver);
		if (in_tokens > 0)
			d->in_tokens += in_tokens;
		if (out_tokens > 0)
			d->out_tokens += out_tokens;
		if (cost_usd > 0)
			d->cost_usd += cost_usd;
	}
	pthread_mutex_unlock(&m->lock);
}

void metrics_run_resources(struct metrics *m, const char *end_reason, double cpu_seconds)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < REC_N_LIMIT_REASONS; i++)
		if (str_eq(end_reason, rec_limit_reasons[i]))
			m->limit_kills[i]++;
	if (cpu_seconds > 0)
		m->run_cpu_seconds += cpu_seconds;
	pthread_mutex_unlock(&m->lock);
}

static size_t egress_find(const struct metrics *m, const char *agent, const char *host)
{
	size_t i = 0;
	while (i < m->n_egress && !(str_eq(m->egress[i].host, host) && str_eq(m->egress[i].agent, agent)))
		i++;
	return i;
}

/* The entry of (agent, host), added (the table bounded: past
 * METRICS_MAX_AGENTS entries, the rest under one series); m->lock held. */
static struct egress_entry *egress_entry(struct metrics *m, const char *agent, const char *host)
{
	agent = agent && *agent ? agent : NO_AGENT_LABEL;
	host = host ? host : "";
	size_t i = egress_find(m, agent, host);
	if (i == m->n_egress && m->n_egress >= METRICS_MAX_AGENTS) {
		/* bounded: the rest under one series */
		agent = host = OTHER_LABEL;
		i = egress_find(m, agent, host);
	}
	if (i == m->n_egress) {
		m->egress = xrealloc(m->egress, (m->n_egress + 1) * sizeof(*m->egress));
		m->egress[i].agent = xstrdup(agent);
		m->egress[i].host = xstrdup(host);
		m->egress[i].n = m->egress[i].req = m->egress[i].up = m->egress[i].down = 0;
		m->n_egress++;
	}
	return &m->egress[i];
}

void metrics_egress_denied(struct metrics *m, const char *agent, const char *host, long n)
{
	if (!m || n <= 0)
		return;
	pthread_mutex_lock(&m->lock);
	egress_entry(m, agent, host)->n += (uint64_t)n;
	pthread_mutex_unlock(&m->lock);
}

void metrics_egress_traffic(struct metrics *m, const char *agent, const char *host, uint64_t requests,
			    uint64_t bytes_up, uint64_t bytes_down)
{
	if (!m || (!requests && !bytes_up && !bytes_down))
		return;
	pthread_mutex_lock(&m->lock);
	struct egress_entry *e = egress_entry(m, agent, host);
	e->req += requests;
	e->up += bytes_up;
	e->down += bytes_down;
	pthread_mutex_unlock(&m->lock);
}

int metrics_egress_traffic_doc(struct metrics *m, const char *agent, json_object *doc)
{
	json_object *hosts = NULL;
	int n_hosts = 0;
	if (!json_object_object_get_ex(doc, "hosts", &hosts) || !json_object_is_type(hosts, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(hosts) && i <= EGRESS_TRAFFIC_HOSTS; i++) {
		json_object *h = json_object_array_get_idx(hosts, i), *v = NULL;
		int64_t n[3];
		static const char *const keys[3] = { "requests", "bytesUp", "bytesDown" };
		bool ok = json_object_object_get_ex(h, "host", &v) && json_object_is_type(v, json_type_string);
		const char *host = ok ? json_object_get_string(v) : NULL;
		for (int k = 0; k < 3; k++) {
			json_object *nv = NULL;
			n[k] = json_object_object_get_ex(h, keys[k], &nv) ? json_object_get_int64(nv) : -1;
			ok = ok && n[k] >= 0;
		}
		if (ok) {
			metrics_egress_traffic(m, agent, host, (uint64_t)n[0], (uint64_t)n[1], (uint64_t)n[2]);
			n_hosts++;
		}
	}
	return n_hosts;
}

bool metrics_egress_log(struct metrics *m, const char *agent, const struct egress_log *el,
			const char *more_hint, egress_report_fn report, void *ctx)
{
	char msg[900];
	bool any = el->ndenied > 0 || el->more_denied;
	for (int i = 0; i < el->ndenied; i++) {
		const struct egress_log_denied *d = &el->denied[i];
		egress_denied_message(msg, sizeof(msg), d->host, d->port, d->reason, d->rule, (int64_t)d->count);
		report(ctx, "EgressDenied", msg);
		metrics_egress_denied(m, agent, d->host, (long)d->count);
	}
	if (el->more_denied) {
		snprintf(msg, sizeof(msg), "egress refused %" PRIu64 " more connections to other destinations (%s)",
			 el->more_denied, more_hint);
		report(ctx, "EgressDenied", msg);
		metrics_egress_denied(m, agent, EGRESS_TRAFFIC_OTHER, (long)el->more_denied);
	}
	static const int status[3] = { 400, 408, 503 };
	for (int i = 0; i < 3; i++) {
		if (!el->rejected[i])
			continue;
		egress_rejected_message(msg, sizeof(msg), status[i], (int64_t)el->rejected[i], el->rejected_reason[i]);
		report(ctx, "EgressRejected", msg);
		any = true;
	}
	return metrics_egress_traffic_doc(m, agent, el->traffic) > 0 || any;
}

void metrics_set_default_limits(struct metrics *m, const struct run_limits *l)
{
	if (!m || !l)
		return;
	pthread_mutex_lock(&m->lock);
	m->defaults = *l;
	m->have_defaults = true;
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_leader(struct metrics *m, bool leader)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->leader = leader ? 1 : 0;
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_api(struct metrics *m, unsigned long errors, unsigned long retries)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->api_errors = errors;
	m->api_retries = retries;
	pthread_mutex_unlock(&m->lock);
}

void metrics_plugin_failures(struct metrics *m, long n)
{
	if (!m || n <= 0)
		return;
	pthread_mutex_lock(&m->lock);
	m->plugin_failures += (uint64_t)n;
	pthread_mutex_unlock(&m->lock);
}

static void set_store_status(struct metrics *m, bool ok, const char *error)
{
	pthread_mutex_lock(&m->lock);
	m->store_ok = ok;
	if (ok)
		m->store_error[0] = '\0';
	else
		copy_reason(m->store_error, error);
	pthread_mutex_unlock(&m->lock);
}

/* Counts by phase and Queued per Agent key; 0 or -errno with why. */
static int publish_counts(struct metrics *m, const struct metrics_source *s, char *why, size_t whylen)
{
	long counts[METRICS_N_PHASES];
	for (int p = 0; p < METRICS_N_PHASES; p++) {
		long c = s->count(s->ctx, (enum model_phase)p, NULL);
		if (c < 0) {
			snprintf(why, whylen, "store: counting %s tasks: %s",
				 model_phase_name((enum model_phase)p), strerror((int)-c));
			return (int)c;
		}
		counts[p] = c;
	}
	struct strv keys = { 0 };
	strv_push(&keys, ""); /* Tasks with spec.type */
	int rc = s->agent_keys(s->ctx, &keys);
	if (rc < 0) {
		snprintf(why, whylen, "store: listing agents: %s", strerror(-rc));
		strv_free(&keys);
		return rc;
	}
	rc = 0;
	/* One slot more for the Queued Tasks not counted under a listed
	 * Agent (Agents beyond the cap, Agents deleted meanwhile). */
	long *depth = xcalloc(keys.n + 1, sizeof(long));
	const char **names = xcalloc(keys.n + 1, sizeof(char *));
	long sum = 0;
	for (size_t i = 0; i < keys.n; i++) {
		long c = s->count(s->ctx, MODEL_PHASE_QUEUED, keys.v[i]);
		if (c < 0) {
			snprintf(why, whylen, "store: counting queued tasks: %s", strerror((int)-c));
			rc = (int)c;
			goto out;
		}
		names[i] = keys.v[i];
		depth[i] = c;
		sum += c;
	}
	size_t n = keys.n;
	if (counts[MODEL_PHASE_QUEUED] > sum) {
		names[n] = OTHER_LABEL;
		depth[n] = counts[MODEL_PHASE_QUEUED] - sum;
		n++;
	}
	metrics_set_phase_counts(m, counts);
	metrics_set_queue_depths(m, names, depth, n);
out:
	free(depth);
	free(names);
	strv_free(&keys);
	return rc;
}

int metrics_refresh(struct metrics *m, const struct metrics_source *s)
{
	if (!m || !s)
		return 0;
	int64_t now = now_mono_ms();
	if (m->last_refresh_ms != INT64_MIN && now - m->last_refresh_ms < METRICS_REFRESH_MS)
		return 0;
	m->last_refresh_ms = now;
	char why[REASON_MAX] = "";
	int rc = publish_counts(m, s, why, sizeof(why));
	set_store_status(m, rc == 0, why);
	return rc;
}

/* ---- readers (HTTP thread) ---------------------------------------- */

int metrics_port(const struct metrics *m)
{
	return m ? m->port : 0;
}

bool metrics_ready(struct metrics *m, int64_t now_ms, char *why, size_t whylen)
{
	if (!m) {
		snprintf(why, whylen, "no metrics");
		return false;
	}
	bool ok = false;
	pthread_mutex_lock(&m->lock);
	if (!m->have_tick)
		snprintf(why, whylen, "no reconcile pass yet (waiting for the controller lock?)");
	else if (!m->tick_ok)
		snprintf(why, whylen, "last reconcile pass failed: %s", m->tick_error);
	else if (!m->store_ok)
		snprintf(why, whylen, "%s", m->store_error);
	else if (now_ms - m->last_tick_ms > (int64_t)METRICS_READY_MAX_AGE_S * 1000)
		snprintf(why, whylen, "last reconcile pass was %lld s ago (more than %d s): the controller "
			 "loop is stuck", (long long)((now_ms - m->last_tick_ms) / 1000), METRICS_READY_MAX_AGE_S);
	else
		ok = true;
	pthread_mutex_unlock(&m->lock);
	return ok;
}

/* Prometheus label value escaping: backslash, double quote, newline. */
static void put_label(struct buf *b, const char *s)
{
	for (const char *p = s; *p; p++) {
		switch (*p) {
		case '\\': buf_puts(b, "\\\\"); break;
		case '"': buf_puts(b, "\\\""); break;
		case '\n': buf_puts(b, "\\n"); break;
		default: buf_append(b, p, 1); break;
		}
	}
}

/* One paddock_egress_* sample: NAME{agent,host[,direction]} value. */
static void put_egress(struct buf *b, const char *name, const struct egress_entry *e, const char *dir,
		       uint64_t v)
{
	buf_printf(b, "%s{agent=\"", name);
	put_label(b, e->agent);
	buf_puts(b, "\",host=\"");
	put_label(b, e->host);
	if (dir)
		buf_printf(b, "\",direction=\"%s", dir);
	buf_printf(b, "\"} %llu\n", (unsigned long long)v);
}

static void put_header(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_double(struct buf *b, double v)
{
	/* Integral values print without exponent; the rest in the shortest
	 * of %.15g and %.17g that reads back as the same double. */
	if (v < 1e15 && v > -1e15 && v == (double)(long long)v) {
		buf_printf(b, "%lld", (long long)v);
		return;
	}
	char s[32];
	snprintf(s, sizeof(s), "%.15g", v);
	if (strtod(s, NULL) != v)
		snprintf(s, sizeof(s), "%.17g", v);
	buf_puts(b, s);
}

static void put_histogram(struct buf *b, const char *name, const char *help, const struct histogram *h)
{
	put_header(b, name, "histogram", help);
	uint64_t cum = 0;
	for (size_t i = 0; i < h->n; i++) {
		cum += h->buckets[i];
		buf_printf(b, "%s_bucket{le=\"", name);
		put_double(b, h->bounds[i]);
		buf_printf(b, "\"} %llu\n", (unsigned long long)cum);
	}
	cum += h->buckets[h->n];
	buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
	buf_printf(b, "%s_sum ", name);
	put_double(b, h->sum);
	buf_printf(b, "\n%s_count %llu\n", name, (unsigned long long)h->count);
}

/* Under the lock.  The series are bounded, so the text is too. */
static void render_locked(struct metrics *m, struct buf *b)
{
	put_header(b, "paddock_build_info", "gauge",
		   "Paddock version and plugin ABI of the running controller (always 1).");
	buf_printf(b, "paddock_build_info{version=\"");
	put_label(b, PACKAGE_VERSION);
	buf_printf(b, "\",abi=\"%d.%d\"} 1\n", PADDOCK_ABI_MAJOR, PADDOCK_ABI_MINOR);

	put_header(b, "paddock_tasks", "gauge", "Tasks in the store by phase.");
	if (m->have_phases) {
		for (int p = 0; p < METRICS_N_PHASES; p++)
			buf_printf(b, "paddock_tasks{phase=\"%s\"} %ld\n",
				   model_phase_name((enum model_phase)p), m->phases[p]);
	}

	put_header(b, "paddock_queue_depth", "gauge",
		   "Queued Tasks by Agent (namespace/name; (none): Tasks with spec.type).");
	for (size_t i = 0; i < m->n_queue; i++) {
		buf_puts(b, "paddock_queue_depth{agent=\"");
		put_label(b, m->queue[i].agent);
		buf_printf(b, "\"} %ld\n", m->queue[i].n);
	}

	put_histogram(b, "paddock_reconcile_duration_seconds",
		      "Duration of the controller's reconcile passes.", &m->tick);
	put_histogram(b, "paddock_run_duration_seconds",
		      "Duration of finished agent runs, from run start to run end.", &m->run);

	put_header(b, "paddock_run_limit_exceeded_total", "counter",
		   "Runs ended because they exceeded a resource limit, by reason.");
	for (size_t i = 0; i < REC_N_LIMIT_REASONS; i++)
		buf_printf(b, "paddock_run_limit_exceeded_total{reason=\"%s\"} %llu\n", rec_limit_reasons[i],
			   (unsigned long long)m->limit_kills[i]);
	put_header(b, "paddock_egress_denied_total", "counter",
		   "Connections the egress proxy refused, by Agent and requested host.");
	for (size_t i = 0; i < m->n_egress; i++)
		if (m->egress[i].n)
			put_egress(b, "paddock_egress_denied_total", &m->egress[i], NULL, m->egress[i].n);
	put_header(b, "paddock_egress_requests_total", "counter",
		   "Requests the egress proxy carried (CONNECTs, forwarded HTTP, credential route) in ended runs, by Agent and host (each run's hosts past 16 under host=\"other\").");
	for (size_t i = 0; i < m->n_egress; i++)
		if (m->egress[i].req)
			put_egress(b, "paddock_egress_requests_total", &m->egress[i], NULL, m->egress[i].req);
	put_header(b, "paddock_egress_bytes_total", "counter",
		   "Bytes the egress proxy carried in ended runs, by Agent, host and direction (up: to the host).");
	for (size_t i = 0; i < m->n_egress; i++) {
		if (!m->egress[i].req)
			continue;
		put_egress(b, "paddock_egress_bytes_total", &m->egress[i], "up", m->egress[i].up);
		put_egress(b, "paddock_egress_bytes_total", &m->egress[i], "down", m->egress[i].down);
	}
	put_header(b, "paddock_run_cpu_seconds_total", "counter",
		   "CPU time used by finished local runs, read from their cgroups.");
	buf_printf(b, "paddock_run_cpu_seconds_total %.3f\n", m->run_cpu_seconds);
	if (m->have_defaults) {
		put_header(b, "paddock_default_limit", "gauge",
			   "The operator's default limit per run (paddock.yaml resources.limits; 0: none); cpu in cores, memory and ephemeral-storage in bytes.");
		buf_printf(b, "paddock_default_limit{resource=\"cpu\"} %.3f\n",
			   (double)m->defaults.cpu_milli / 1000);
		buf_printf(b, "paddock_default_limit{resource=\"memory\"} %lld\n",
			   (long long)m->defaults.memory_bytes);
		buf_printf(b, "paddock_default_limit{resource=\"ephemeral-storage\"} %lld\n",
			   (long long)m->defaults.storage_bytes);
		buf_printf(b, "paddock_default_limit{resource=\"pids\"} %lld\n",
			   (long long)m->defaults.pids);
	}

	put_header(b, "paddock_plugin_load_failures_total", "counter",
		   "Plugins found in the plugin directories and refused when the controller started.");
	buf_printf(b, "paddock_plugin_load_failures_total %llu\n", (unsigned long long)m->plugin_failures);

	if (m->leader >= 0) {
		put_header(b, "paddock_leader", "gauge",
			   "1 when this replica holds the leader Lease and acts, 0 on standby.");
		buf_printf(b, "paddock_leader %d\n", m->leader);
		put_header(b, "paddock_api_errors_total", "counter",
			   "Kubernetes API requests that failed (transport errors and 5xx).");
		buf_printf(b, "paddock_api_errors_total %lu\n", m->api_errors);
		put_header(b, "paddock_api_retries_total", "counter",
			   "Kubernetes API requests retried (conflicts, watch restarts, relists).");
		buf_printf(b, "paddock_api_retries_total %lu\n", m->api_retries);
	}

	put_header(b, "paddock_tokens_total", "counter",
		   "Model tokens used by finished runs, as reported by their driver.");
	for (size_t i = 0; i < m->n_drivers; i++) {
		static const char *const dir[] = { "input", "output" };
		for (int k = 0; k < 2; k++) {
			buf_puts(b, "paddock_tokens_total{driver=\"");
			put_label(b, m->drivers[i].driver);
			buf_printf(b, "\",direction=\"%s\"} %lld\n", dir[k],
				   k ? m->drivers[i].out_tokens : m->drivers[i].in_tokens);
		}
	}

	put_header(b, "paddock_cost_usd_total", "counter",
		   "Cost in US dollars of finished runs, as reported by their driver.");
	for (size_t i = 0; i < m->n_drivers; i++) {
		buf_puts(b, "paddock_cost_usd_total{driver=\"");
		put_label(b, m->drivers[i].driver);
		buf_puts(b, "\"} ");
		put_double(b, m->drivers[i].cost_usd);
		buf_puts(b, "\n");
	}
	for (size_t i = 0; i < m->n_series; i++) {
		struct series *x = &m->series[i];
		if (!i || strcmp(m->series[i - 1].family, x->family))
			put_header(b, x->family, x->type, x->help);
		buf_printf(b, "%s{%s} ", x->family, x->labels);
		put_double(b, x->v);
		buf_puts(b, "\n");
	}
}

char *metrics_render(struct metrics *m)
{
	struct buf b;
	buf_init(&b, 0); /* bounded by the series caps; checked below */
	if (!m)
		return buf_steal(&b);
	pthread_mutex_lock(&m->lock);
	render_locked(m, &b);
	pthread_mutex_unlock(&m->lock);
	if (b.len > METRICS_BODY_MAX) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* ---- HTTP ------------------------------------------------------------ */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
			     char *body /* owned */)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

#define TEXT "text/plain; charset=utf-8"

/* Is `key` in the query string ("?leader", "?leader=1")?  MHD keeps a
 * key without '=' with a NULL value, which MHD_lookup_connection_value
 * cannot tell from an absent key. */
static enum MHD_Result arg_seen(void *cls, enum MHD_ValueKind kind, const char *key,
				const char *value)
{
	(void)kind;
	(void)value;
	struct { const char *want; bool seen; } *a = cls;
	if (key && !strcmp(key, a->want))
		a->seen = true;
	return MHD_YES;
}

static bool has_arg(struct MHD_Connection *c, const char *key)
{
	struct { const char *want; bool seen; } a = { key, false };
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, arg_seen, &a);
	return a.seen;
}

static enum MHD_Result on_route(struct metrics *m, struct MHD_Connection *c, const char *url,
				const char *method, const char *data, size_t *size, void **con_cls);

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct metrics *m = cls;
	(void)version;
	if (m->route_prefix && !strncmp(url, m->route_prefix, strlen(m->route_prefix)))
		return on_route(m, c, url, method, upload_data, upload_data_size, con_cls);
	if (m->handler && strcmp(url, "/metrics") && strcmp(url, "/healthz") && strcmp(url, "/readyz"))
		return (enum MHD_Result)m->handler(m->handler_ctx, c, url, method, upload_data,
						   upload_data_size, con_cls);
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		*upload_data_size = 0; /* ignore any body */
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, TEXT,
			     xasprintf("method %.16s not allowed: use GET\n", method));
	}
	if (!strcmp(url, "/metrics")) {
		char *body = metrics_render(m);
		if (!body)
			return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, TEXT,
				     xstrdup("metrics exceed the response cap\n"));
		return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body);
	}
	if (!strcmp(url, "/healthz"))
		return reply(c, MHD_HTTP_OK, TEXT, xstrdup("ok\n"));
	if (!strcmp(url, "/readyz")) {
		char why[512];
		if (metrics_ready(m, now_mono_ms(), why, sizeof(why))) {
			pthread_mutex_lock(&m->lock);
			int leader = m->leader;
			pthread_mutex_unlock(&m->lock);
			/* A standby replica is ready (it could take over at any
			 * moment); ?leader asks for the leader only. */
			if (leader == 0 && has_arg(c, "leader"))
				return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, TEXT,
					     xstrdup("not ready: standby, another replica leads\n"));
			return reply(c, MHD_HTTP_OK, TEXT,
				     xstrdup(leader == 1 ? "ok: leader\n" :
					     leader == 0 ? "ok: standby, another replica leads\n" : "ok\n"));
		}
		return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, TEXT, xasprintf("not ready: %s\n", why));
	}
	return reply(c, MHD_HTTP_NOT_FOUND, TEXT, xstrdup("not found: use /metrics, /healthz or /readyz\n"));
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	/* Our own failures are reported by metrics_listen(); the rest is
	 * per-connection noise (clients going away). */
	log_debug("metrics endpoint", "detail", msg);
}

#define ADDR_HELP "use HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464"

int metrics_parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len,
		       char *err, size_t errlen)
{
	if (!addr || !*addr)
		return errf(err, errlen, -EINVAL, "controller.listen: empty address: " ADDR_HELP);
	if (strlen(addr) > 128)
		return errf(err, errlen, -EINVAL, "controller.listen: address too long (%zu bytes): "
			    ADDR_HELP, strlen(addr));
	char host[130];
	const char *port_s;
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (!close || close[1] != ':')
			return errf(err, errlen, -EINVAL, "controller.listen: invalid address \"%s\": "
				    ADDR_HELP, addr);
		snprintf(host, sizeof(host), "%.*s", (int)(close - addr - 1), addr + 1);
		port_s = close + 2;
	} else {
		const char *colon = strrchr(addr, ':');
		if (!colon)
			return errf(err, errlen, -EINVAL, "controller.listen: invalid address \"%s\": "
				    ADDR_HELP, addr);
		if (memchr(addr, ':', (size_t)(colon - addr)))
			return errf(err, errlen, -EINVAL, "controller.listen: invalid address \"%s\": "
				    "write IPv6 addresses in brackets, e.g. [::1]:9464", addr);
		snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
		port_s = colon + 1;
	}
	char *end = NULL;
	errno = 0;
	long port = strtol(port_s, &end, 10);
	if (!*port_s || *end || errno || port < 0 || port > 65535 || *port_s == '-' || *port_s == '+')
		return errf(err, errlen, -EINVAL, "controller.listen: invalid port \"%s\" in \"%s\": "
			    "use 0 to 65535 (0: any free port)", port_s, addr);
	if (!*host)
		return errf(err, errlen, -EINVAL, "controller.listen: no host in \"%s\": use "
			    "127.0.0.1:%ld for this machine only or 0.0.0.0:%ld for every interface",
			    addr, port, port);
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof(*v4);
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*v6);
	} else {
		return errf(err, errlen, -EINVAL, "controller.listen: invalid host \"%s\" in \"%s\": use "
			    "an IP address (127.0.0.1, [::1]) or localhost", host, addr);
	}
	return 0;
}

void metrics_set_handler(struct metrics *m, metrics_handler_fn fn, void *ctx)
{
	if (!m)
		return;
	m->handler = fn;
	m->handler_ctx = ctx;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe);

int metrics_listen(struct metrics *m, const char *addr, char *err, size_t errlen)
{
	if (!m)
		return errf(err, errlen, -EINVAL, "metrics_listen: no metrics");
	if (m->daemon)
		return errf(err, errlen, -EALREADY, "controller.listen: already listening on port %d",
			    m->port);
	if (!addr)
		addr = METRICS_DEFAULT_LISTEN;
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	int rc = metrics_parse_addr(addr, &ss, &sl, err, errlen);
	if (rc < 0)
		return rc;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	if (m->handler)
		flags |= MHD_ALLOW_SUSPEND_RESUME;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6; /* IPV6_V6ONLY: only the address given */
	/* The HTTP thread inherits our signal mask: block everything so
	 * SIGTERM, SIGINT and SIGCHLD go to the controller thread. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	errno = 0;
	struct MHD_Daemon *d = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, m,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, /* first, or MHD complains */
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_CONNECTION_LIMIT,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_CONNECTION_MEMORY,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, m,
		MHD_OPTION_END);
	int saved = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!d) {
		int e = saved ? saved : EADDRINUSE;
		return errf(err, errlen, -e, "controller.listen: cannot listen on %s: %s: stop what uses "
			    "it or set controller.listen to a free HOST:PORT", addr, strerror(e));
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	pthread_mutex_lock(&m->lock);
	m->daemon = d;
	m->port = info ? info->port : 0;
	pthread_mutex_unlock(&m->lock);
	(void)sl;
	return 0;
}

/* ---- other modules' series and route ---------------------------------- */

void metrics_series(struct metrics *m, const char *family, const char *type, const char *help,
		    const char *k1, const char *v1, const char *k2, const char *v2, double v,
		    bool add)
{
	if (!m)
		return;
	struct buf l;
	buf_init(&l, 0);
	const char *ks[] = { k1, k2 }, *vs[] = { v1, v2 };
	for (int i = 0; i < 2; i++) {
		if (!ks[i])
			continue;
		buf_printf(&l, "%s%s=\"", l.len ? "," : "", ks[i]);
		char *lv = label_value(vs[i] ? vs[i] : "");
		put_label(&l, lv);
		free(lv);
		buf_puts(&l, "\"");
	}
	char *labels = buf_steal(&l);
	pthread_mutex_lock(&m->lock);
	size_t at = m->n_series, same = 0;
	for (size_t i = 0; i < m->n_series; i++) {
		if (strcmp(m->series[i].family, family))
			continue;
		at = i + 1; /* after the family's last series: one header each */
		same++;
		if (!strcmp(m->series[i].labels, labels)) {
			m->series[i].v = add ? m->series[i].v + v : v;
			goto out;
		}
	}
	if (same >= METRICS_MAX_AGENTS)
		goto out; /* bounded: a flood of names adds nothing */
	m->series = xrealloc(m->series, (m->n_series + 1) * sizeof(*m->series));
	memmove(m->series + at + 1, m->series + at, (m->n_series - at) * sizeof(*m->series));
	m->series[at] = (struct series){ xstrdup(family), xstrdup(help), xstrdup(type), labels, v };
	labels = NULL;
	m->n_series++;
out:
	pthread_mutex_unlock(&m->lock);
	free(labels);
}

void metrics_route(struct metrics *m, const char *prefix,
		   size_t (*cap)(void *ctx, const char *url),
		   unsigned (*fn)(void *ctx, const struct metrics_request *rq, char **reply), void *ctx)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	free(m->route_prefix);
	m->route_prefix = prefix ? xstrdup(prefix) : NULL;
	m->route_cap = cap;
	m->route_fn = fn;
	m->route_ctx = ctx;
	pthread_mutex_unlock(&m->lock);
}

const char *metrics_request_header(const struct metrics_request *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

/* A request body on its way in (the connection's con_cls).  Other
 * handlers (the dashboard) keep their own things in con_cls: only an
 * upload on m->uploads is ours to free. */
struct upload {
	struct upload *next;
	struct buf body;
	bool over; /* more than the route's cap: discarded, answered 413 */
};

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct metrics *m = cls;
	(void)c;
	(void)toe;
	if (!*con_cls)
		return;
	pthread_mutex_lock(&m->lock);
	struct upload **pp = &m->uploads;
	while (*pp && *pp != *con_cls)
		pp = &(*pp)->next;
	struct upload *u = *pp;
	if (u)
		*pp = u->next;
	pthread_mutex_unlock(&m->lock);
	if (u) {
		buf_free(&u->body);
		free(u);
		*con_cls = NULL;
	}
}

/* The route's handler on a whole body, or (body NULL) on one over cap. */
static enum MHD_Result route_call(struct metrics *m, struct MHD_Connection *c, const char *url,
				  const char *method, const struct buf *body, size_t cap)
{
	struct metrics_request rq = { method, url, body && body->data ? body->data : "",
				      body ? body->len : 0, c, body ? 0 : cap };
	char *text = NULL;
	unsigned status = m->route_fn(m->route_ctx, &rq, &text);
	return reply(c, status, TEXT, text ? text : xstrdup("\n"));
}

/* POST under the route's prefix: the body is read up to the route's cap
 * for this URL (more: 413, the rest discarded unread into memory), then
 * the handler answers.  The handler runs in the HTTP thread. */
static enum MHD_Result on_route(struct metrics *m, struct MHD_Connection *c, const char *url,
				const char *method, const char *data, size_t *size, void **con_cls)
{
	struct upload *u = *con_cls;
	if (!u) {
		if (strcmp(method, MHD_HTTP_METHOD_POST))
			return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, TEXT,
				     xasprintf("method %.16s not allowed: use POST\n", method));
		size_t cap = m->route_cap(m->route_ctx, url);
		if (!cap)
			return reply(c, MHD_HTTP_NOT_FOUND, TEXT, xstrdup("no such hook\n"));
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > cap)
			return route_call(m, c, url, method, NULL, cap);
		u = xcalloc(1, sizeof(*u));
		buf_init(&u->body, cap);
		pthread_mutex_lock(&m->lock);
		u->next = m->uploads;
		m->uploads = u;
		pthread_mutex_unlock(&m->lock);
		*con_cls = u;
		return MHD_YES;
	}
	if (*size) {
		if (!u->over && buf_append(&u->body, data, *size) < 0)
			u->over = true;
		*size = 0;
		return MHD_YES;
	}
	return route_call(m, c, url, method, u->over ? NULL : &u->body, u->body.cap);
}
