/* SPDX-License-Identifier: MIT */
/*
 * web/dashboard.h - the live web dashboard, served by `paddock controller`
 * on its listener (control/metrics.h) beside /metrics, /healthz and
 * /readyz (or on dashboard.listen), and by `paddock dashboard`; its data
 * from a source (web/source.h: the local store, or an API server):
 *
 *   GET  /, /app.js, /app.css       the page (compiled in: web/assets/)
 *   GET  /api/tasks                 every Task as a row, with the store's rv
 *   GET  /api/stream?since=RV       server-sent events: a row per changed
 *                                   Task ("task"), the number of Tasks
 *                                   ("total", rows beyond it were deleted)
 *   GET  /api/task/stream?ns=&name= server-sent events: the Task
 *                                   ("task"), its events ("events"), its log
 *                                   lines as they are written ("log": raw
 *                                   strings, or {k: kind, t: text} from the
 *                                   driver's renderer, ABI 1.1)
 *   GET  /api/agents                capacity, queue in order, spend per day;
 *                                   Spawners and Budgets (spec, status)
 *   POST /api/task/stop?ns=&name=   } need dashboard.token in the header
 *   POST /api/task/delete?ns=&name= } X-Paddock-Token, same origin
 *
 * Renderers run in the ticker thread, from a plugin set the dashboard
 * loads for itself: no driver instance is shared with the controller's
 * thread.
 *
 * Threads: the HTTP thread (libmicrohttpd's) answers requests through the
 * source's HTTP operations and only copies queued bytes to streams; a
 * ticker thread of its own finds what changed (the source's versions, its
 * logs' new bytes) every DASH_TICK_MS through the source's TICK operations
 * and queues it.  A stream with nothing to send is suspended, so open pages
 * cost no polling in the HTTP thread.
 *
 * Bounds, so that pages left open or a flood of clients never starve
 * /metrics and /healthz: at most DASH_MAX_STREAMS streams, at most
 * DASH_MAX_STREAMS_PER_CLIENT per client address (503 beyond, with
 * Retry-After), at most DASH_STREAM_BUF bytes queued per stream (a client
 * that does not read is dropped and reconnects), log lines of at most
 * DASH_LINE_MAX bytes.
 *
 * Safety: a strict Content-Security-Policy (scripts and styles only from
 * the page's own files), agent text only ever inserted as text by the
 * page.  Read-only unless dashboard.token is set; an action needs that
 * token in X-Paddock-Token (a custom header: a cross-site form or fetch
 * cannot send it without a CORS preflight, which is never granted) and,
 * when the browser says where it comes from (Origin, Sec-Fetch-Site),
 * the same origin.  On a loopback listener the Host header must name
 * loopback too (DNS rebinding).
 */
#ifndef PADDOCK_WEB_DASHBOARD_H
#define PADDOCK_WEB_DASHBOARD_H

#include <stdbool.h>
#include <stddef.h>

#include "base/conf.h"

struct dash;
struct metrics;

#define DASH_TICK_MS 200
#define DASH_MAX_STREAMS 64
#define DASH_MAX_STREAMS_PER_CLIENT 8
#define DASH_STREAM_BUF ((size_t)2 * 1024 * 1024)
#define DASH_LINE_MAX 16384
#define DASH_LOG_TAIL ((off_t)1024 * 1024) /* a new page starts this far from the end */
#define DASH_HEARTBEAT_MS 5000

/* May the controller listen on cfg->listen with cfg's dashboard?  A
 * listener beyond loopback needs dashboard.token (or the dashboard
 * disabled).  -EPERM with the reason and the fix in err. */
int dashboard_check_listen(const struct pd_config *cfg, char *err, size_t errlen);
/* The same rule for the listener `what` (an option's name) at addr. */
int dashboard_check_addr(const char *what, const char *addr, bool token, char *err, size_t errlen);

/* Open two store connections on state_dir and start the ticker (unless
 * `ticker` is false: a benchmark calls dashboard_tick itself).  cfg
 * borrowed (it must outlive the dashboard).  Owned *out. */
int dashboard_new(const struct pd_config *cfg, const char *state_dir, bool ticker,
		  struct dash **out, char *err, size_t errlen);
/* The same dashboard over another source of data (web/source.h): an
 * API server for `paddock dashboard` and the Kubernetes controller.
 * *src is taken (freed by dashboard_free, also on failure). */
struct dash_source;
struct dash_opts {
	const char *listen; /* the listener's address (NULL: the default) */
	const char *token;  /* actions need it in X-Paddock-Token; NULL: read-only */
	bool ticker;        /* start the ticker thread */
};
int dashboard_new_source(const struct pd_config *cfg, struct dash_source *src, const struct dash_opts *o,
			 struct dash **out, char *err, size_t errlen);
/* Serve the dashboard on m's listener (before metrics_listen). */
void dashboard_attach(struct dash *d, struct metrics *m);
/* End every stream (resuming suspended ones: libmicrohttpd must not stop
 * with suspended connections) and stop the ticker.  Call before
 * metrics_free; dashboard_free after it.  NULL-safe. */
void dashboard_shutdown(struct dash *d);
void dashboard_free(struct dash *d);

/* Benchmarks and tests: one ticker pass now (what a change costs). */
void dashboard_tick(struct dash *d);
/* Streams open now. */
size_t dashboard_streams(struct dash *d);

#endif
