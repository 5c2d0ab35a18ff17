/* SPDX-License-Identifier: MIT */
/*
 * traffic.h - one run's egress traffic per host: requests, bytes up and
 * down for each allowed host (CONNECTs, forwarded HTTP requests, the
 * credential route's requests) and the clients the proxy rejected before
 * they named a target (400, 408, 503).  Fed from the proxy's event
 * function (once per request, never per byte), read by whoever reports
 * it: the local supervisor writes it to RUN_DIR/egress-traffic.json, the
 * Kubernetes sidecar prints it as its log's last line.
 *
 * Bounded: at most EGRESS_TRAFFIC_HOSTS hosts by name, the rest folded
 * into EGRESS_TRAFFIC_OTHER, so a run cannot grow the controller's
 * metrics without bound.
 */
#ifndef PADDOCK_TRAFFIC_H
#define PADDOCK_TRAFFIC_H

#include "proxy/egress.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define EGRESS_TRAFFIC_HOSTS 16
#define EGRESS_TRAFFIC_OTHER "other"
#define EGRESS_TRAFFIC_HOST_MAX 253

struct egress_host_traffic {
	char host[EGRESS_TRAFFIC_HOST_MAX + 1];
	uint64_t requests, bytes_up, bytes_down;
};

struct egress_traffic {
	pthread_mutex_t lock;  /* the proxy's threads add, another thread reads */
	struct egress_host_traffic hosts[EGRESS_TRAFFIC_HOSTS + 1]; /* + "other" */
	int nhosts;            /* named ones; hosts[EGRESS_TRAFFIC_HOSTS] is "other" */
	uint64_t rejected[3];  /* clients answered 400, 408, 503 */
	uint64_t version;      /* bumped on each change */
};

void egress_traffic_init(struct egress_traffic *t);
void egress_traffic_destroy(struct egress_traffic *t);

/* Count one proxy event: an allowed request to its host, a rejection to
 * its status; policy refusals (the EgressDenied events) are not counted
 * here. */
void egress_traffic_add(struct egress_traffic *t, const struct egress_event *ev);

/* {"hosts":[{"host","requests","bytesUp","bytesDown"}...] (most bytes
 * first, "other" last), "rejected":{"badRequest","timeout","busy"}}. */
json_object *egress_traffic_json(struct egress_traffic *t, uint64_t *version);

/* The version alone: whether there is anything new to write. */
uint64_t egress_traffic_version(struct egress_traffic *t);

/* One line per host of such a JSON document (`indent` before each):
 * "api.anthropic.com  12 requests  3.1 KiB up  48.2 KiB down", then the
 * rejections if any; for `paddock describe`.  Owned string, or NULL when
 * there is nothing to show. */
char *egress_traffic_format(json_object *doc, const char *indent);

/* ---- the Kubernetes sidecar's log, read back by the controller --------- */

#define EGRESS_LOG_DENIED_MAX 20   /* distinct (host, port, rule) kept */
#define EGRESS_LOG_LINE_MAX 4096   /* longer lines are not the sidecar's */
#define EGRESS_LOG_TEXT_MAX 128

struct egress_log_denied {
	char host[EGRESS_TRAFFIC_HOST_MAX + 1];
	int port;
	char rule[EGRESS_LOG_TEXT_MAX], reason[EGRESS_LOG_TEXT_MAX]; /* the first one's reason */
	uint64_t count;
};

struct egress_log {
	struct egress_log_denied denied[EGRESS_LOG_DENIED_MAX];
	int ndenied;
	uint64_t more_denied;   /* refusals of destinations past the first EGRESS_LOG_DENIED_MAX */
	uint64_t rejected[3];   /* clients answered 400, 408, 503 before a target */
	char rejected_reason[3][EGRESS_LOG_TEXT_MAX]; /* the last one's */
	json_object *traffic;   /* owned, as egress_traffic_json(): the summary line's,
				 * else summed from the per-request lines */
	bool summary;           /* the sidecar printed its summary (ended cleanly) */
	uint64_t ignored;       /* lines that are not the sidecar's JSON (its
				 * stderr, garbage, cut or over-long lines) */
};

/* One proxy event as the line both proxies write (the sidecar to its
 * log, the local supervisor to RUN_DIR/egress.jsonl), which
 * egress_log_parse reads back: {"host","port","method","rule","allowed",
 * "status","reason","addr","bytesUp","bytesDown"} for a request,
 * {"rejected":N,"status","reason"} for clients rejected before a target.
 * Owned. */
json_object *egress_event_json(const struct egress_event *ev);

/* The last line of such a log: {"summary": egress_traffic_json(t)}. */
json_object *egress_summary_json(struct egress_traffic *t);

/* Read the `paddock __egress` sidecar's log (sidecar.c's lines: one per
 * request, {"rejected":N,"status":S,...} counts, a last {"summary":...}).
 * The local supervisor's RUN_DIR/egress.jsonl has the same lines (its
 * refusals only, then the summary).
 * Pure and bounded: whatever the log holds, at most
 * EGRESS_LOG_DENIED_MAX refused destinations and EGRESS_TRAFFIC_HOSTS
 * hosts (+ "other") come out; anything unreadable is counted in
 * `ignored`.  Free with egress_log_free(). */
void egress_log_parse(const char *log, size_t len, struct egress_log *out);
void egress_log_free(struct egress_log *l);

/* The wording both backends give these Events: EgressDenied for one
 * refused destination (count times), EgressRejected for clients answered
 * `status` before a target. */
void egress_denied_message(char *buf, size_t len, const char *host, int port, const char *reason,
			   const char *rule, int64_t count);
void egress_rejected_message(char *buf, size_t len, int status, int64_t count, const char *reason);

#endif
