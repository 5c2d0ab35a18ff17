/* SPDX-License-Identifier: MIT */
/*
 * control/metrics.h - the controller's HTTP endpoint (libmicrohttpd, one internal
 * polling thread, bound to controller.listen only):
 *
 *   GET /metrics  Prometheus text exposition format 0.0.4
 *   GET /healthz  200 "ok" while the process runs
 *   GET /readyz   200 "ok" when the last reconcile pass succeeded, the
 *                 store answered the last count query and the last pass
 *                 is at most METRICS_READY_MAX_AGE_S old; else 503 with
 *                 the reason
 *
 * Threads: the controller thread writes (the functions below), the HTTP
 * thread only reads this module's own copy of the values, under one
 * mutex.  The HTTP thread never touches the store: the controller
 * publishes counts with metrics_refresh() after each pass.
 *
 * Everything is bounded: at most METRICS_MAX_AGENTS queue-depth series
 * and METRICS_MAX_DRIVERS driver series (the rest is summed under the
 * label value "(other)"), label values of at most METRICS_LABEL_MAX
 * bytes, a response of at most METRICS_BODY_MAX bytes, a few connections
 * with a timeout.  Labels only carry phases, Agent keys (namespace/name)
 * and driver names: never a secret.
 *
 * Every function accepts a NULL `m` and then does nothing, so callers
 * outside the controller (paddock run -w) need no checks.
 */
#ifndef PADDOCK_METRICS_H
#define PADDOCK_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/run_limits.h"
#include "base/util.h"
#include "model/model.h"
#include "proxy/traffic.h"

struct metrics;

#define METRICS_DEFAULT_LISTEN "127.0.0.1:9464"
#define METRICS_MAX_AGENTS 1000
#define METRICS_MAX_DRIVERS 64
#define METRICS_LABEL_MAX 256
#define METRICS_BODY_MAX ((size_t)4 * 1024 * 1024)
#define METRICS_READY_MAX_AGE_S 60
#define METRICS_REFRESH_MS 1000
#define METRICS_N_PHASES 7 /* enum model_phase: Pending .. Stopped */

/* Owned; metrics_free().  Never NULL. */
struct metrics *metrics_new(void);
/* Stops the HTTP thread (waits for it), then frees.  NULL-safe. */
void metrics_free(struct metrics *m);

/* Parse "HOST:PORT" (IPv4 "127.0.0.1:9464", IPv6 "[::1]:9464",
 * "localhost:9464"; PORT 0 picks a free port).  -EINVAL with
 * `controller.listen: invalid address "..."...` in err. */
int metrics_parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len,
		       char *err, size_t errlen);

/* Start serving on `addr` (see metrics_parse_addr; NULL: the default).
 * -EINVAL for a bad address, -EADDRINUSE (or another errno) when the
 * socket cannot be bound, -EALREADY when already listening; the message
 * names the address and the fix.  The HTTP thread blocks all signals. */
int metrics_listen(struct metrics *m, const char *addr, char *err, size_t errlen);
/* Other pages on the same listener (the dashboard, core/web/): `fn` is
 * called in the HTTP thread, as a libmicrohttpd access handler (its
 * return is an enum MHD_Result), for every request whose path is not
 * /metrics, /healthz or /readyz, whatever the method.  The listener then
 * allows suspending connections (long-lived streams).  Set it before
 * metrics_listen; ctx borrowed and must outlive metrics_free. */
struct MHD_Connection;
typedef int (*metrics_handler_fn)(void *ctx, struct MHD_Connection *c, const char *url,
				  const char *method, const char *upload_data,
				  size_t *upload_data_size, void **con_cls);
void metrics_set_handler(struct metrics *m, metrics_handler_fn fn, void *ctx);

/* The bound port (useful with port 0), or 0 when not listening. */
int metrics_port(const struct metrics *m);

/* A monotonic clock in seconds, for timing passes. */
double metrics_now(void);

/* One reconcile pass took `seconds`; ok false with `error` (borrowed,
 * copied, may be NULL) makes /readyz answer 503 until a good pass. */
void metrics_observe_tick(struct metrics *m, double seconds, bool ok, const char *error);

/* paddock_tasks{phase}: counts indexed by enum model_phase. */
void metrics_set_phase_counts(struct metrics *m, const long counts[METRICS_N_PHASES]);

/* Replace every paddock_queue_depth{agent} series at once.  keys are
 * Agent keys "namespace/name" ("" for Tasks with spec.type, shown as
 * "(none)"); borrowed, copied. */
void metrics_set_queue_depths(struct metrics *m, const char *const *keys, const long *counts,
			      size_t n);

/* Controller side: read counts by phase and Queued per Agent from the
 * store (indexed count queries) and publish them, at most once every
 * METRICS_REFRESH_MS (earlier calls return 0 at once).  A failing query
 * makes /readyz answer 503 with the error.  0 or -errno. */
/* Where the counts come from (a backend). */
struct metrics_source {
	void *ctx;
	/* Tasks in `phase` (of agent_key "ns/name", "" for spec.type; NULL:
	 * all), or -errno. */
	long (*count)(void *ctx, enum model_phase phase, const char *agent_key);
	/* Push the Agents' "ns/name" onto keys, at most METRICS_MAX_AGENTS
	 * (the rest is counted as "(other)"); 0 or -errno. */
	int (*agent_keys)(void *ctx, struct strv *keys);
};
int metrics_refresh(struct metrics *m, const struct metrics_source *s);

/* A run finished: seconds < 0, tokens < 0 and cost < 0 mean unknown and
 * are not recorded.  driver borrowed (NULL: "unknown"). */
void metrics_run_finished(struct metrics *m, const char *driver, double seconds,
			  long long in_tokens, long long out_tokens, double cost_usd);

/* A local run finished: count it under paddock_run_limit_exceeded_total
 * when `end_reason` is a limit, add its cgroup CPU time (<= 0: unknown). */
void metrics_run_resources(struct metrics *m, const char *end_reason, double cpu_seconds);
/* The egress proxy refused n connections to `host` (at most
 * METRICS_MAX_AGENTS hosts, the rest as "(other)"). */
void metrics_egress_denied(struct metrics *m, const char *agent, const char *host, long n);
/* An ended run's traffic to one allowed host (proxy/traffic.h: at most 16
 * hosts a run, the rest as "other"), added to
 * paddock_egress_requests_total and paddock_egress_bytes_total. */
void metrics_egress_traffic(struct metrics *m, const char *agent, const char *host, uint64_t requests,
			    uint64_t bytes_up, uint64_t bytes_down);
/* An ended run's traffic document (proxy/traffic.h egress_traffic_json's
 * form) into metrics_egress_traffic, host by host; both backends. */
int metrics_egress_traffic_doc(struct metrics *m, const char *agent, json_object *doc); /* hosts */
/* An ended run's proxy log, read back (proxy/traffic.h egress_log_parse),
 * as both backends record it: one EgressDenied Event (a Warning) per
 * refused destination with its count, one for the rest (`more_hint` says
 * where to look), one EgressRejected per status, through `report`; and
 * the paddock_egress_* metrics.  True when it recorded anything. */
typedef void (*egress_report_fn)(void *ctx, const char *reason, const char *message);
bool metrics_egress_log(struct metrics *m, const char *agent, const struct egress_log *el,
			const char *more_hint, egress_report_fn report, void *ctx);
/* The operator's default limits (paddock_default_limit). */
void metrics_set_default_limits(struct metrics *m, const struct run_limits *l);

/* Kubernetes backend: whether this replica leads (paddock_leader; /readyz
 * says so, and /readyz?leader is 503 on a standby), and the API client's
 * error and retry counters (totals so far). */
void metrics_set_leader(struct metrics *m, bool leader);
void metrics_set_api(struct metrics *m, unsigned long errors, unsigned long retries);

/* Add `n` to paddock_plugin_load_failures_total. */
void metrics_plugin_failures(struct metrics *m, long n);

/* A series of another module (spawners, budgets): family{k1="v1",k2="v2"}
 * set to v, or incremented by v when `add`; k2 may be NULL.  At most
 * METRICS_MAX_AGENTS series per family (the rest is dropped).  Strings
 * borrowed, copied. */
void metrics_series(struct metrics *m, const char *family, const char *type, const char *help,
		    const char *k1, const char *v1, const char *k2, const char *v2, double v,
		    bool add);

/* One POST route of another module (the webhooks of Spawners): requests
 * whose path starts with `prefix` go to fn, in the HTTP thread.  cap(url)
 * gives the most body bytes for that path (0: 404 at once); for a larger
 * body fn is called without it (too_large set) and should answer 413.  fn returns the HTTP status and
 * sets *reply (owned, text, may stay NULL).  Strings borrowed for the call. */
struct metrics_request {
	const char *method, *url;
	const char *body; /* NUL-terminated, len bytes */
	size_t len;
	void *conn;       /* for metrics_request_header() */
	size_t too_large; /* the body was over this cap: not read; answer 413 */
};
const char *metrics_request_header(const struct metrics_request *rq, const char *name);
void metrics_route(struct metrics *m, const char *prefix,
		   size_t (*cap)(void *ctx, const char *url),
		   unsigned (*fn)(void *ctx, const struct metrics_request *rq, char **reply), void *ctx);

/* Render /metrics into an owned NUL-terminated string (tests, debugging);
 * NULL if it would exceed METRICS_BODY_MAX. */
char *metrics_render(struct metrics *m);
/* Readiness as /readyz sees it at `now_ms` (now_mono_ms()); when not
 * ready, the reason goes into why. */
bool metrics_ready(struct metrics *m, int64_t now_ms, char *why, size_t whylen);

#endif
