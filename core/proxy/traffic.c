/* SPDX-License-Identifier: MIT */
/*
 * proxy/traffic.c - per-host egress counters of one run (traffic.h).
 */
#include "config.h"
#include "proxy/traffic.h"
#include "base/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void egress_traffic_init(struct egress_traffic *t)
{
	memset(t, 0, sizeof(*t));
	(void)pthread_mutex_init(&t->lock, NULL);
	snprintf(t->hosts[EGRESS_TRAFFIC_HOSTS].host, sizeof(t->hosts[0].host), "%s", EGRESS_TRAFFIC_OTHER);
}

void egress_traffic_destroy(struct egress_traffic *t)
{
	(void)pthread_mutex_destroy(&t->lock);
}

/* The host's entry: found, added while there is room, else "other". */
static struct egress_host_traffic *slot(struct egress_traffic *t, const char *host)
{
	for (int i = 0; i < t->nhosts; i++)
		if (!strcmp(t->hosts[i].host, host))
			return &t->hosts[i];
	if (t->nhosts < EGRESS_TRAFFIC_HOSTS && strlen(host) <= EGRESS_TRAFFIC_HOST_MAX &&
	    strcmp(host, EGRESS_TRAFFIC_OTHER)) {
		struct egress_host_traffic *h = &t->hosts[t->nhosts++];
		snprintf(h->host, sizeof(h->host), "%s", host);
		return h;
	}
	return &t->hosts[EGRESS_TRAFFIC_HOSTS];
}

void egress_traffic_add(struct egress_traffic *t, const struct egress_event *ev)
{
	(void)pthread_mutex_lock(&t->lock);
	if (ev->kind == EGRESS_EV_REJECTED) {
		t->rejected[ev->status == 400 ? 0 : ev->status == 408 ? 1 : 2] += ev->count;
		t->version++;
	} else if (ev->allowed) {
		struct egress_host_traffic *h = slot(t, ev->host && *ev->host ? ev->host : "?");
		h->requests++;
		h->bytes_up += ev->bytes_up;
		h->bytes_down += ev->bytes_down;
		t->version++;
	}
	(void)pthread_mutex_unlock(&t->lock);
}

static int by_bytes(const void *a, const void *b)
{
	const struct egress_host_traffic *x = a, *y = b;
	uint64_t bx = x->bytes_up + x->bytes_down, by = y->bytes_up + y->bytes_down;
	return bx < by ? 1 : bx > by ? -1 : strcmp(x->host, y->host);
}

static void host_add(json_object *arr, const struct egress_host_traffic *h)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "host", json_object_new_string(h->host));
	json_object_object_add(o, "requests", json_object_new_int64((int64_t)h->requests));
	json_object_object_add(o, "bytesUp", json_object_new_int64((int64_t)h->bytes_up));
	json_object_object_add(o, "bytesDown", json_object_new_int64((int64_t)h->bytes_down));
	json_object_array_add(arr, o);
}

uint64_t egress_traffic_version(struct egress_traffic *t)
{
	(void)pthread_mutex_lock(&t->lock);
	uint64_t v = t->version;
	(void)pthread_mutex_unlock(&t->lock);
	return v;
}

json_object *egress_traffic_json(struct egress_traffic *t, uint64_t *version)
{
	struct egress_host_traffic hosts[EGRESS_TRAFFIC_HOSTS + 1];
	uint64_t rej[3];
	(void)pthread_mutex_lock(&t->lock);
	int n = t->nhosts;
	memcpy(hosts, t->hosts, sizeof(hosts));
	memcpy(rej, t->rejected, sizeof(rej));
	if (version)
		*version = t->version;
	(void)pthread_mutex_unlock(&t->lock);
	qsort(hosts, (size_t)n, sizeof(hosts[0]), by_bytes);
	json_object *doc = json_object_new_object(), *arr = json_object_new_array();
	for (int i = 0; i < n; i++)
		host_add(arr, &hosts[i]);
	if (hosts[EGRESS_TRAFFIC_HOSTS].requests)
		host_add(arr, &hosts[EGRESS_TRAFFIC_HOSTS]);
	json_object_object_add(doc, "hosts", arr);
	json_object *r = json_object_new_object();
	json_object_object_add(r, "badRequest", json_object_new_int64((int64_t)rej[0]));
	json_object_object_add(r, "timeout", json_object_new_int64((int64_t)rej[1]));
	json_object_object_add(r, "busy", json_object_new_int64((int64_t)rej[2]));
	json_object_object_add(doc, "rejected", r);
	return doc;
}

static void human(int64_t n, char *out, size_t len)
{
	if (n < 1024)
		snprintf(out, len, "%" PRId64 " B", n);
	else if (n < 1024 * 1024)
		snprintf(out, len, "%.1f KiB", (double)n / 1024);
	else if (n < 1024LL * 1024 * 1024)
		snprintf(out, len, "%.1f MiB", (double)n / (1024 * 1024));
	else
		snprintf(out, len, "%.1f GiB", (double)n / (1024.0 * 1024 * 1024));
}

static int64_t jnum(json_object *o, const char *key)
{
	json_object *v = NULL;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

char *egress_traffic_format(json_object *doc, const char *indent)
{
	json_object *arr = NULL, *rej = NULL;
	struct buf b;
	buf_init(&b, 0); /* our own lines, at most 17 */
	if (json_object_object_get_ex(doc, "hosts", &arr) && json_object_is_type(arr, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			json_object *h = json_object_array_get_idx(arr, i), *hv = NULL;
			const char *host = json_object_object_get_ex(h, "host", &hv) ? json_object_get_string(hv) : "?";
			char up[32], down[32];
			human(jnum(h, "bytesUp"), up, sizeof(up));
			human(jnum(h, "bytesDown"), down, sizeof(down));
			(void)buf_printf(&b, "%s%-30.253s %6" PRId64 " req  %10s up  %10s down\n", indent, host,
					 jnum(h, "requests"), up, down);
		}
	}
	if (json_object_object_get_ex(doc, "rejected", &rej)) {
		int64_t b4 = jnum(rej, "badRequest"), t = jnum(rej, "timeout"), busy = jnum(rej, "busy");
		if (b4 || t || busy) {
			(void)buf_printf(&b, "%srejected before a target: %" PRId64 " malformed (400), %" PRId64
					 " no request in time (408), %" PRId64 " over the connection cap (503)\n",
					 indent, b4, t, busy);
		}
	}
	if (!b.len) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* ---- the sidecar's log, read back (traffic.h) ---------------------------- */

static const char *jtext(json_object *o, const char *key)
{
	json_object *v = NULL;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

static bool jcount(json_object *o, const char *key, uint64_t *n)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		return false;
	*n = (uint64_t)json_object_get_int64(v);
	return true;
}

static int status_slot(int64_t status)
{
	return status == 400 ? 0 : status == 408 ? 1 : status == 503 ? 2 : -1;
}

/* Add to a host's counters (the summary's numbers, or one request's). */
static void traffic_put(struct egress_traffic *t, const char *host, uint64_t req, uint64_t up, uint64_t down)
{
	struct egress_host_traffic *h = slot(t, host);
	h->requests += req;
	h->bytes_up += up;
	h->bytes_down += down;
}

static void log_denied(struct egress_log *l, const char *host, int port, const char *rule, const char *reason)
{
	for (int i = 0; i < l->ndenied; i++) {
		struct egress_log_denied *d = &l->denied[i];
		if (d->port == port && !strcmp(d->host, host) && !strcmp(d->rule, rule)) {
			d->count++;
			return;
		}
	}
	if (l->ndenied == EGRESS_LOG_DENIED_MAX) {
		l->more_denied++;
		return;
	}
	struct egress_log_denied *d = &l->denied[l->ndenied++];
	snprintf(d->host, sizeof(d->host), "%s", host);
	snprintf(d->rule, sizeof(d->rule), "%s", rule);
	snprintf(d->reason, sizeof(d->reason), "%s", reason ? reason : "");
	d->port = port;
	d->count = 1;
}

/* {"summary":{"hosts":[...],"rejected":{...}}}: its totals into `sum`. */
static bool log_summary(json_object *s, struct egress_traffic *sum)
{
	json_object *hosts = NULL, *rej = NULL;
	if (!json_object_object_get_ex(s, "hosts", &hosts) || !json_object_is_type(hosts, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(hosts) && i <= EGRESS_TRAFFIC_HOSTS; i++) {
		json_object *h = json_object_array_get_idx(hosts, i);
		const char *host = jtext(h, "host");
		uint64_t req, up, down;
		if (host && *host && jcount(h, "requests", &req) && jcount(h, "bytesUp", &up) &&
		    jcount(h, "bytesDown", &down))
			traffic_put(sum, host, req, up, down);
	}
	if (json_object_object_get_ex(s, "rejected", &rej)) {
		static const char *const keys[3] = { "badRequest", "timeout", "busy" };
		for (int i = 0; i < 3; i++)
			(void)jcount(rej, keys[i], &sum->rejected[i]);
	}
	return true;
}

/* One line of the log, NUL-terminated. */
static void log_line(struct egress_log *l, const char *line, struct egress_traffic *lines,
		     struct egress_traffic *sum)
{
	json_object *o = line[0] == '{' ? json_tokener_parse(line) : NULL, *s = NULL;
	const char *host = jtext(o, "host");
	json_object *allowed = NULL;
	uint64_t n, st, port, up, down;
	if (o && json_object_object_get_ex(o, "summary", &s) && log_summary(s, sum)) {
		l->summary = true;
	} else if (o && jcount(o, "rejected", &n) && jcount(o, "status", &st) && status_slot((int64_t)st) >= 0) {
		int i = status_slot((int64_t)st);
		lines->rejected[i] += n;
		if (jtext(o, "reason"))
			snprintf(l->rejected_reason[i], sizeof(l->rejected_reason[i]), "%s", jtext(o, "reason"));
	} else if (host && *host && strlen(host) <= EGRESS_TRAFFIC_HOST_MAX && jcount(o, "port", &port) &&
		   port <= 65535 && json_object_object_get_ex(o, "allowed", &allowed) &&
		   json_object_is_type(allowed, json_type_boolean)) {
		if (!json_object_get_boolean(allowed))
			log_denied(l, host, (int)port, jtext(o, "rule") ? jtext(o, "rule") : "",
				   jtext(o, "reason"));
		else if (jcount(o, "bytesUp", &up) && jcount(o, "bytesDown", &down))
			traffic_put(lines, host, 1, up, down);
		else
			l->ignored++;
	} else {
		l->ignored++;
	}
	json_object_put(o);
}

void egress_log_parse(const char *log, size_t len, struct egress_log *out)
{
	memset(out, 0, sizeof(*out));
	struct egress_traffic lines, sum;
	egress_traffic_init(&lines);
	egress_traffic_init(&sum);
	char *line = xmalloc(EGRESS_LOG_LINE_MAX + 1);
	for (size_t i = 0; log && i < len;) {
		const char *nl = memchr(log + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - log) : len, n = end - i;
		if (n && log[end - 1] == '\r')
			n--;
		if (n > EGRESS_LOG_LINE_MAX || memchr(log + i, '\0', n)) {
			out->ignored++;
		} else if (n) {
			memcpy(line, log + i, n);
			line[n] = '\0';
			log_line(out, line, &lines, &sum);
		}
		i = end + 1;
	}
	free(line);
	/* A sidecar killed before its summary: what its lines say. */
	struct egress_traffic *t = out->summary ? &sum : &lines;
	for (int i = 0; i < 3; i++)
		t->rejected[i] = lines.rejected[i] > sum.rejected[i] ? lines.rejected[i] : sum.rejected[i];
	for (int i = 0; i < 3; i++)
		out->rejected[i] = t->rejected[i];
	out->traffic = egress_traffic_json(t, NULL);
	egress_traffic_destroy(&lines);
	egress_traffic_destroy(&sum);
}

void egress_log_free(struct egress_log *l)
{
	json_object_put(l->traffic);
	l->traffic = NULL;
}

void egress_denied_message(char *buf, size_t len, const char *host, int port, const char *reason,
			   const char *rule, int64_t count)
{
	char times[32] = "";
	if (count > 1)
		snprintf(times, sizeof(times), ", times: %" PRId64, count);
	snprintf(buf, len, "egress refused %.255s:%d (%.255s; rule: %.120s)%s", host && *host ? host : "?", port,
		 reason && *reason ? reason : "refused", rule && *rule ? rule : "-", times);
}

void egress_rejected_message(char *buf, size_t len, int status, int64_t count, const char *reason)
{
	snprintf(buf, len, "egress proxy answered %" PRId64 " client%s %d before a target (last: %.200s)", count,
		 count == 1 ? "" : "s", status, reason && *reason ? reason : "-");
}

json_object *egress_event_json(const struct egress_event *ev)
{
	json_object *o = json_object_new_object();
	if (ev->kind == EGRESS_EV_REJECTED) {
		json_object_object_add(o, "rejected", json_object_new_int64((int64_t)ev->count));
		json_object_object_add(o, "status", json_object_new_int(ev->status));
		json_object_object_add(o, "reason", json_object_new_string(ev->reason ? ev->reason : ""));
		return o;
	}
	json_object_object_add(o, "host", json_object_new_string(ev->host ? ev->host : ""));
	json_object_object_add(o, "port", json_object_new_int(ev->port));
	json_object_object_add(o, "method", json_object_new_string(ev->method ? ev->method : ""));
	json_object_object_add(o, "rule", json_object_new_string(ev->rule ? ev->rule : ""));
	json_object_object_add(o, "allowed", json_object_new_boolean(ev->allowed));
	json_object_object_add(o, "status", json_object_new_int(ev->status));
	if (ev->reason)
		json_object_object_add(o, "reason", json_object_new_string(ev->reason));
	if (ev->addr)
		json_object_object_add(o, "addr", json_object_new_string(ev->addr));
	json_object_object_add(o, "bytesUp", json_object_new_int64((int64_t)ev->bytes_up));
	json_object_object_add(o, "bytesDown", json_object_new_int64((int64_t)ev->bytes_down));
	return o;
}

json_object *egress_summary_json(struct egress_traffic *t)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "summary", egress_traffic_json(t, NULL));
	return o;
}
