/* SPDX-License-Identifier: MIT */
/* The egress proxy (core/proxy/egress.c): allow entries and the name
 * policy, the shared address check (http_addr_check), and the server
 * against an upstream thread on 127.0.0.1 that echoes (CONNECT tunnels)
 * or answers HTTP (plain forwarding, a response streamed in two parts
 * with a gate between them). */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "base/util.h"
#include "plugin/http.h"
#include "proxy/egress.h"
#include "proxy/traffic.h"

/* ---- helpers ------------------------------------------------------------ */

static int64_t ms_now(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int listen_local(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 64), 0);
	socklen_t len = sizeof(a);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static int dial(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void send_str(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		ck_assert_int_gt(w, 0);
		s += w;
		n -= (size_t)w;
	}
}

/* Read into buf (cap - 1 bytes at most, NUL-terminated) until `needle`
 * shows up (NULL: until EOF), EOF, an error or timeout_ms.  Length. */
static size_t read_until(int fd, char *buf, size_t cap, const char *needle, int timeout_ms)
{
	size_t len = 0;
	int64_t deadline = ms_now() + timeout_ms;
	buf[0] = '\0';
	while (len + 1 < cap) {
		if (needle && strstr(buf, needle))
			break;
		int64_t left = deadline - ms_now();
		if (left <= 0)
			break;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, (int)left) <= 0)
			break;
		ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
	}
	return len;
}

/* Time until the peer closes (recv 0 or an error), at most timeout_ms;
 * -1 if it did not. */
static int64_t ms_until_closed(int fd, int timeout_ms)
{
	int64_t t0 = ms_now();
	char sink[1024];
	while (ms_now() - t0 < timeout_ms) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, (int)(timeout_ms - (ms_now() - t0))) <= 0)
			continue;
		ssize_t r = recv(fd, sink, sizeof(sink), 0);
		if (r <= 0)
			return ms_now() - t0;
	}
	return -1;
}

/* ---- the upstream --------------------------------------------------------
 * One connection at a time.  A request starting with "GET " or "POST "
 * is HTTP: /hello answers "hello"; /stream sends the headers and
 * "data: one", waits for the gate (up to 5 s), then sends "data: two";
 * POST answers with its body.  Anything else is echoed until EOF. */

static pthread_t up_tid;
static int up_lfd = -1, up_port, up_stop[2] = { -1, -1 }, up_gate[2] = { -1, -1 };
static atomic_int up_conns;
static atomic_int up_gate_ok; /* 1: the gate was opened before "two" was sent */
static pthread_mutex_t up_lock = PTHREAD_MUTEX_INITIALIZER;
static char up_head[8192]; /* the last HTTP request head received */

static int up_wait(int fd, int ms)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = up_stop[0], .events = POLLIN } };
	int r = poll(p, 2, ms);
	if (r <= 0 || p[1].revents)
		return 0;
	return 1;
}

static void up_send(int fd, const char *s)
{
	(void)!send(fd, s, strlen(s), MSG_NOSIGNAL);
}

static void up_http(int fd, char *buf, size_t len, size_t cap)
{
	char *end;
	while (!(end = strstr(buf, "\r\n\r\n")) && len + 1 < cap && up_wait(fd, 5000)) {
		ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
		if (r <= 0)
			return;
		len += (size_t)r;
		buf[len] = '\0';
	}
	if (!end)
		return;
	size_t hl = (size_t)(end + 4 - buf);
	(void)pthread_mutex_lock(&up_lock);
	snprintf(up_head, sizeof(up_head), "%.*s", (int)hl, buf);
	(void)pthread_mutex_unlock(&up_lock);
	if (strncmp(buf, "GET /ka ", 8) == 0 || strncmp(buf, "GET /v1/ka ", 11) == 0) {
		/* An upstream that would keep the connection alive. */
		up_send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n"
			    "Keep-Alive: timeout=5\r\n\r\nok");
	} else if (strncmp(buf, "GET /hello ", 11) == 0) {
		up_send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
	} else if (strncmp(buf, "GET /stream ", 12) == 0) {
		up_send(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
			    "data: one\n\n");
		struct pollfd p = { .fd = up_gate[0], .events = POLLIN };
		if (poll(&p, 1, 5000) == 1) {
			char ch;
			(void)!read(up_gate[0], &ch, 1);
			atomic_store(&up_gate_ok, 1);
		}
		up_send(fd, "data: two\n\n");
	} else if (strncmp(buf, "GET /flood ", 11) == 0) {
		static char block[16384];
		up_send(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
		for (int i = 0; i < 1024; i++)
			if (send(fd, block, sizeof(block), MSG_NOSIGNAL) < 0)
				break;
	} else if (strncmp(buf, "POST /count ", 12) == 0) {
		/* A large body: count it, answer the count. */
		const char *cl = strstr(buf, "Content-Length: ");
		size_t want = cl ? (size_t)atol(cl + 16) : 0, got = len - hl;
		char sink[65536];
		while (got < want && up_wait(fd, 5000)) {
			ssize_t r = recv(fd, sink, sizeof(sink), 0);
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		char resp[128];
		snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\ncounted %012zu", got);
		up_send(fd, resp);
	} else if (strncmp(buf, "POST ", 5) == 0) {
		const char *cl = strstr(buf, "Content-Length: ");
		size_t want = cl ? (size_t)atoi(cl + 16) : 0;
		while (len - hl < want && len + 1 < cap && up_wait(fd, 5000)) {
			ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
			if (r <= 0)
				break;
			len += (size_t)r;
		}
		char resp[256];
		size_t got = len - hl < want ? len - hl : want;
		snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%.*s",
			 got, (int)got, buf + hl);
		up_send(fd, resp);
	} else {
		up_send(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	}
}

static void up_echo(int fd, const char *buf, size_t len)
{
	char b[16384];
	if (len)
		(void)!send(fd, buf, len, MSG_NOSIGNAL);
	while (up_wait(fd, 10000)) {
		ssize_t r = recv(fd, b, sizeof(b), 0);
		if (r <= 0)
			return;
		(void)!send(fd, b, (size_t)r, MSG_NOSIGNAL);
	}
}

static void *up_main(void *arg)
{
	(void)arg;
	static char buf[16384];
	while (up_wait(up_lfd, -1)) {
		int fd = accept(up_lfd, NULL, NULL);
		if (fd < 0)
			continue;
		(void)atomic_fetch_add(&up_conns, 1);
		size_t len = 0;
		buf[0] = '\0';
		if (up_wait(fd, 5000)) {
			ssize_t r = recv(fd, buf, sizeof(buf) - 1, 0);
			if (r > 0) {
				len = (size_t)r;
				buf[len] = '\0';
			}
		}
		if (len >= 4 && (strncmp(buf, "GET ", 4) == 0 || strncmp(buf, "POST ", 5) == 0 || strncmp(buf, "HEAD ", 5) == 0))
			up_http(fd, buf, len, sizeof(buf));
		else if (len)
			up_echo(fd, buf, len);
		(void)close(fd);
	}
	return NULL;
}

/* ---- events ------------------------------------------------------------- */

struct rec {
	char host[256], method[16], rule[128], addr[64], reason[256];
	int port, status;
	bool allowed;
	enum egress_event_kind kind;
	uint64_t count;
	bool sigpipe_blocked; /* in the proxy thread that reported it */
	uint64_t up, down;
};
static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond = PTHREAD_COND_INITIALIZER;
static struct rec evs[64];
static int nev;

static void on_event(void *ctx, const struct egress_event *e)
{
	(void)ctx;
	(void)pthread_mutex_lock(&ev_lock);
	if (nev < (int)ARRAY_SIZE(evs)) {
		struct rec *r = &evs[nev++];
		snprintf(r->host, sizeof(r->host), "%s", e->host);
		snprintf(r->method, sizeof(r->method), "%s", e->method);
		snprintf(r->rule, sizeof(r->rule), "%s", e->rule);
		snprintf(r->addr, sizeof(r->addr), "%s", e->addr ? e->addr : "");
		snprintf(r->reason, sizeof(r->reason), "%s", e->reason ? e->reason : "");
		r->port = e->port;
		r->status = e->status;
		r->allowed = e->allowed;
		r->kind = e->kind;
		r->count = e->count;
		r->up = e->bytes_up;
		r->down = e->bytes_down;
		sigset_t cur;
		r->sigpipe_blocked = pthread_sigmask(SIG_SETMASK, NULL, &cur) == 0 && sigismember(&cur, SIGPIPE) == 1;
	}
	(void)pthread_cond_broadcast(&ev_cond);
	(void)pthread_mutex_unlock(&ev_lock);
}

/* Wait for n events (3 s); a copy of event i (0-based). */
static struct rec event_wait(int i)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 3;
	(void)pthread_mutex_lock(&ev_lock);
	while (nev <= i && pthread_cond_timedwait(&ev_cond, &ev_lock, &ts) == 0)
		;
	struct rec r = { .port = -1 };
	if (nev > i)
		r = evs[i];
	int n = nev;
	(void)pthread_mutex_unlock(&ev_lock);
	ck_assert_msg(n > i, "event %d never came (%d events)", i, n);
	return r;
}

static int event_count(void)
{
	(void)pthread_mutex_lock(&ev_lock);
	int n = nev;
	(void)pthread_mutex_unlock(&ev_lock);
	return n;
}

/* ---- the proxy under test ----------------------------------------------- */

static struct egress *px;
static int px_port;
static struct egress_policy tpol;

static void px_start(void)
{
	char err[256] = "";
	int lfd = listen_local(&px_port);
	px = egress_start(&tpol, lfd, on_event, NULL, err, sizeof(err));
	ck_assert_msg(px != NULL, "%s", err);
}

static void allow(const char *entry)
{
	char err[256];
	ck_assert_msg(egress_policy_add(&tpol, entry, err, sizeof(err)) == 0, "%s", err);
}

/* "127.0.0.1:UP" */
static void allow_upstream(void)
{
	char e[64];
	snprintf(e, sizeof(e), "127.0.0.1:%d", up_port);
	allow(e);
}

static void setup(void)
{
	int port;
	up_lfd = listen_local(&port);
	up_port = port;
	ck_assert_int_eq(pipe(up_stop), 0);
	ck_assert_int_eq(pipe(up_gate), 0);
	atomic_store(&up_conns, 0);
	atomic_store(&up_gate_ok, 0);
	up_head[0] = '\0';
	ck_assert_int_eq(pthread_create(&up_tid, NULL, up_main, NULL), 0);
	nev = 0;
	memset(&tpol, 0, sizeof(tpol));
	tpol.mode = EGRESS_ALLOWLIST;
	tpol.allow_loopback = true;
}

static void teardown(void)
{
	egress_stop(px);
	px = NULL;
	egress_policy_free(&tpol);
	(void)!write(up_stop[1], "x", 1);
	(void)pthread_join(up_tid, NULL);
	(void)close(up_lfd);
	for (int i = 0; i < 2; i++) {
		(void)close(up_stop[i]);
		(void)close(up_gate[i]);
	}
}

/* One request through the proxy, the whole answer (until EOF, 5 s). */
static void ask(const char *req, char *out, size_t cap)
{
	int fd = dial(px_port);
	send_str(fd, req);
	(void)read_until(fd, out, cap, NULL, 5000);
	(void)close(fd);
}

/* ---- traffic per host ---------------------------------------------------- */

/* Allowed requests counted per host, at most EGRESS_TRAFFIC_HOSTS by
 * name and the rest as "other"; refusals not counted; rejections by
 * status. */
START_TEST(test_traffic_counts)
{
	struct egress_traffic t;
	egress_traffic_init(&t);
	char host[64];
	for (int i = 0; i < EGRESS_TRAFFIC_HOSTS + 4; i++) {
		snprintf(host, sizeof(host), "h%02d.example.com", i);
		struct egress_event ev = { .kind = EGRESS_EV_REQUEST, .count = 1, .host = host,
					   .allowed = true, .bytes_up = 10, .bytes_down = (uint64_t)(100 + i) };
		egress_traffic_add(&t, &ev);
		egress_traffic_add(&t, &ev);
	}
	struct egress_event denied = { .kind = EGRESS_EV_REQUEST, .host = "h00.example.com", .allowed = false,
				       .bytes_up = 5 };
	egress_traffic_add(&t, &denied);
	struct egress_event rej = { .kind = EGRESS_EV_REJECTED, .count = 7, .host = "", .status = 503 };
	egress_traffic_add(&t, &rej);
	uint64_t v = 0;
	json_object *doc = egress_traffic_json(&t, &v);
	json_object *hosts = json_object_object_get(doc, "hosts");
	ck_assert_int_eq((int)json_object_array_length(hosts), EGRESS_TRAFFIC_HOSTS + 1);
	/* Most bytes first: h15 of the named ones; "other" last with 4 hosts' worth. */
	json_object *first = json_object_array_get_idx(hosts, 0);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(first, "host")), "h15.example.com");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(first, "requests")), 2);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(first, "bytesDown")), 230);
	json_object *other = json_object_array_get_idx(hosts, EGRESS_TRAFFIC_HOSTS);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(other, "host")), "other");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(other, "requests")), 8);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(other, "bytesUp")), 80);
	/* h00: two requests, the refusal not counted */
	json_object *last = json_object_array_get_idx(hosts, EGRESS_TRAFFIC_HOSTS - 1);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(last, "host")), "h00.example.com");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(last, "bytesUp")), 20);
	json_object *r = json_object_object_get(doc, "rejected");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(r, "busy")), 7);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(r, "badRequest")), 0);
	char *text = egress_traffic_format(doc, "  ");
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(strstr(text, "  h15.example.com") && strstr(text, "2 req") && strstr(text, "230 B down"),
		      "%s", text);
	ck_assert_msg(strstr(text, "7 over the connection cap (503)"), "%s", text);
	free(text);
	json_object_put(doc);
	/* Nothing counted: nothing to show. */
	struct egress_traffic empty;
	egress_traffic_init(&empty);
	doc = egress_traffic_json(&empty, NULL);
	ck_assert_ptr_null(egress_traffic_format(doc, ""));
	json_object_put(doc);
	/* The version alone says whether there is anything new to write
	 * (the supervisor's traffic_save): a refusal changes nothing. */
	uint64_t v0 = egress_traffic_version(&empty);
	egress_traffic_add(&empty, &denied);
	ck_assert(egress_traffic_version(&empty) == v0);
	egress_traffic_add(&empty, &rej);
	ck_assert(egress_traffic_version(&empty) != v0);
	doc = egress_traffic_json(&empty, &v);
	ck_assert(v == egress_traffic_version(&empty));
	json_object_put(doc);
	egress_traffic_destroy(&empty);
	egress_traffic_destroy(&t);
}
END_TEST

/* ---- policy ------------------------------------------------------------- */

START_TEST(test_entries_parse)
{
	static const struct {
		const char *in, *text;
	} good[] = {
		{ "api.anthropic.com", "api.anthropic.com" },
		{ "API.Anthropic.COM.", "api.anthropic.com" },
		{ "*.github.com:443", "*.github.com:443" },
		{ "localhost:8080", "localhost:8080" },
		{ "10.0.0.1", "10.0.0.1" },
		{ "[::1]:8443", "[::1]:8443" },
		{ "[0:0::0:1]", "[::1]" },
		{ "intranet", "intranet" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		allow(good[i].in);
		ck_assert_str_eq(tpol.rules[tpol.nrules - 1].text, good[i].text);
	}
	ck_assert_int_eq(tpol.nrules, ARRAY_SIZE(good));
	ck_assert(tpol.rules[2].wildcard);
	ck_assert_str_eq(tpol.rules[2].host, "github.com");
	ck_assert_int_eq(tpol.rules[2].port, 443);
	ck_assert_int_eq(tpol.rules[0].port, 0);

	static const struct {
		const char *in, *msg;
	} bad[] = {
		{ "", "allow entry \"\": empty" },
		{ "*", "allow entry \"*\": a wildcard is \"*.\" followed by a domain" },
		{ "*github.com", "allow entry \"*github.com\": a wildcard is" },
		{ "*.", "allow entry \"*.\": a wildcard is" },
		{ "api.*.com", "allow entry \"api.*.com\": \"*\" only as a leading" },
		{ "a..b", "allow entry \"a..b\": empty label" },
		{ "bad host", "allow entry \"bad host\": contains a space" },
		{ "x.com:0", "allow entry \"x.com:0\": the port is not a number in 1..65535" },
		{ "x.com:65536", "the port is not a number" },
		{ "x.com:https", "the port is not a number" },
		{ "https://x.com", "allow entry \"https://x.com\": a host with an optional :port, not a URL" },
		{ "x.com/path", "not a URL" },
		{ "::1", "allow entry \"::1\": an IPv6 address goes in [brackets]" },
		{ "[::1", "unbalanced [ ]" },
		{ "[zz::1]", "not an IPv6 address" },
		{ "*.10.0.0.1", "a wildcard takes a domain, not an IP address" },
		{ "ex$ample.com", "invalid character in the host name" },
	};
	size_t before = tpol.nrules;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char err[256] = "";
		ck_assert_int_eq(egress_policy_add(&tpol, bad[i].in, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, bad[i].msg), "%s: got \"%s\"", bad[i].in, err);
	}
	ck_assert_int_eq(tpol.nrules, before);

	enum egress_mode m = EGRESS_OPEN;
	char err[128];
	ck_assert_int_eq(egress_mode_parse("none", &m, err, sizeof(err)), 0);
	ck_assert_int_eq(m, EGRESS_NONE);
	ck_assert_int_eq(egress_mode_parse("allowlist", &m, err, sizeof(err)), 0);
	ck_assert_int_eq(m, EGRESS_ALLOWLIST);
	ck_assert_int_eq(egress_mode_parse("open", &m, err, sizeof(err)), 0);
	ck_assert_int_eq(m, EGRESS_OPEN);
	ck_assert_int_eq(egress_mode_parse("closed", &m, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "egress \"closed\": use none, allowlist or open");
	ck_assert_str_eq(egress_mode_name(EGRESS_ALLOWLIST), "allowlist");
}
END_TEST

START_TEST(test_name_policy)
{
	allow("api.anthropic.com");
	allow("*.github.com:443");
	allow("localhost:8080");
	allow("[fd00::1]:9000");
	static const struct {
		const char *host;
		int port;
		bool ok;
		const char *rule;
	} cases[] = {
		{ "api.anthropic.com", 443, true, "api.anthropic.com" },
		{ "API.ANTHROPIC.COM.", 80, true, "api.anthropic.com" },
		{ "api.anthropic.com", 8443, false, "allowlist" },
		{ "anthropic.com", 443, false, "allowlist" },
		{ "github.com", 443, false, "allowlist" },
		{ "api.github.com", 443, true, "*.github.com:443" },
		{ "a.b.github.com", 443, true, "*.github.com:443" },
		{ "api.github.com", 80, false, "allowlist" },
		{ "evilgithub.com", 443, false, "allowlist" },
		{ "github.com.evil.net", 443, false, "allowlist" },
		{ "localhost", 8080, true, "localhost:8080" },
		{ "localhost", 80, false, "allowlist" },
		{ "fd00:0::1", 9000, true, "[fd00::1]:9000" },
		{ "bad host", 443, false, "allowlist" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *rule = NULL, *why = NULL;
		bool ok = egress_policy_allows(&tpol, cases[i].host, cases[i].port, &rule, &why);
		ck_assert_msg(ok == cases[i].ok, "%s:%d", cases[i].host, cases[i].port);
		ck_assert_str_eq(rule, cases[i].rule);
		if (!ok)
			ck_assert_ptr_nonnull(why);
	}
	const char *rule, *why;
	tpol.mode = EGRESS_NONE;
	ck_assert(!egress_policy_allows(&tpol, "api.anthropic.com", 443, &rule, &why));
	ck_assert_str_eq(why, "egress is none");
	ck_assert_str_eq(rule, "egress: none");
	tpol.mode = EGRESS_OPEN;
	ck_assert(egress_policy_allows(&tpol, "example.org", 8080, &rule, &why));
	ck_assert_str_eq(rule, "egress: open");
}
END_TEST

static struct sockaddr_storage sa_of(const char *ip, socklen_t *len)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		*len = sizeof(*in);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
		in6->sin6_family = AF_INET6;
		*len = sizeof(*in6);
	}
	return ss;
}

START_TEST(test_addr_check)
{
	static const struct {
		const char *ip;
		int none, loop, all; /* 0 allowed, 1 refused: no flags, loopback, both */
		const char *why;
	} cases[] = {
		{ "93.184.216.34", 0, 0, 0, NULL },
		{ "2606:4700::1", 0, 0, 0, NULL },
		{ "169.254.169.254", 1, 1, 1, "link-local/cloud metadata" },
		{ "::ffff:169.254.169.254", 1, 1, 1, "link-local/cloud metadata" },
		{ "64:ff9b::a9fe:a9fe", 1, 1, 1, "link-local/cloud metadata" },
		{ "fd00:ec2::254", 1, 1, 1, "cloud metadata" },
		{ "fe80::1", 1, 1, 1, "link-local" },
		{ "0.0.0.0", 1, 1, 1, "unspecified/this-network" },
		{ "224.0.0.1", 1, 1, 1, "multicast" },
		{ "127.0.0.1", 1, 0, 0, "loopback" },
		{ "::1", 1, 0, 0, "loopback" },
		{ "10.1.2.3", 1, 1, 0, "private network" },
		{ "192.168.1.1", 1, 1, 0, "private network" },
		{ "fd12::1", 1, 1, 0, "private network" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		socklen_t len;
		struct sockaddr_storage ss = sa_of(cases[i].ip, &len);
		const struct sockaddr *sa = (const struct sockaddr *)&ss;
		const char *why = "x";
		int want[3] = { cases[i].none, cases[i].loop, cases[i].all };
		bool flags[3][2] = { { false, false }, { true, false }, { true, true } };
		for (int k = 0; k < 3; k++) {
			int rc = http_addr_check(sa, len, flags[k][0], flags[k][1], &why);
			ck_assert_msg(rc == (want[k] ? -EPERM : 0), "%s flags %d: %d", cases[i].ip, k, rc);
			if (rc)
				ck_assert_msg(strstr(why, cases[i].why), "%s: %s", cases[i].ip, why);
			else
				ck_assert_ptr_null(why);
		}
	}
	/* A short length or another family is refused. */
	socklen_t len;
	struct sockaddr_storage ss = sa_of("93.184.216.34", &len);
	ck_assert_int_eq(http_addr_check((struct sockaddr *)&ss, 4, true, true, NULL), -EPERM);
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	const char *why;
	ck_assert_int_eq(http_addr_check((struct sockaddr *)&un, sizeof(un), true, true, &why), -EPERM);
	ck_assert_str_eq(why, "unsupported address family");
}
END_TEST

/* ---- the server --------------------------------------------------------- */

START_TEST(test_connect_relays)
{
	allow_upstream();
	px_start();
	int fd = dial(px_port);
	char req[128], buf[512];
	snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", up_port, up_port);
	send_str(fd, req);
	(void)read_until(fd, buf, sizeof(buf), "\r\n\r\n", 5000);
	ck_assert_str_eq(buf, "HTTP/1.1 200 Connection established\r\n\r\n");
	send_str(fd, "ping-1");
	(void)read_until(fd, buf, sizeof(buf), "ping-1", 5000);
	ck_assert_str_eq(buf, "ping-1");
	send_str(fd, "second");
	(void)read_until(fd, buf, sizeof(buf), "second", 5000);
	ck_assert_str_eq(buf, "second");
	(void)shutdown(fd, SHUT_WR); /* half-close: the upstream sees EOF, closes, we see EOF */
	ck_assert_int_ge(ms_until_closed(fd, 5000), 0);
	(void)close(fd);
	struct rec e = event_wait(0);
	ck_assert(e.allowed);
	ck_assert_str_eq(e.host, "127.0.0.1");
	ck_assert_int_eq(e.port, up_port);
	ck_assert_str_eq(e.method, "CONNECT");
	ck_assert_str_eq(e.addr, "127.0.0.1");
	ck_assert_int_eq(e.status, 200);
	ck_assert_str_eq(e.reason, "");
	ck_assert_int_eq(e.up, 12);
	ck_assert_int_eq(e.down, 12);
	snprintf(req, sizeof(req), "127.0.0.1:%d", up_port);
	ck_assert_str_eq(e.rule, req);
}
END_TEST

/* Bytes sent right behind the CONNECT head (a TLS hello) are relayed. */
START_TEST(test_connect_early_bytes)
{
	allow_upstream();
	px_start();
	int fd = dial(px_port);
	char req[128], buf[512];
	snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\nearly-bytes", up_port);
	send_str(fd, req);
	(void)read_until(fd, buf, sizeof(buf), "early-bytes", 5000);
	ck_assert_str_eq(buf, "HTTP/1.1 200 Connection established\r\n\r\nearly-bytes");
	(void)close(fd);
	ck_assert_int_eq(event_wait(0).up, 11);
}
END_TEST

START_TEST(test_not_in_allowlist)
{
	allow("api.anthropic.com");
	allow_upstream();
	px_start();
	char buf[1024];
	ask("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", buf, sizeof(buf));
	ck_assert_msg(strncmp(buf, "HTTP/1.1 403 Forbidden\r\n", 24) == 0, "%s", buf);
	ck_assert_msg(strstr(buf, "\r\n\r\negress refused: example.com port 443: not in the allowlist\n"), "%s", buf);
	struct rec e = event_wait(0);
	ck_assert(!e.allowed);
	ck_assert_str_eq(e.host, "example.com");
	ck_assert_int_eq(e.port, 443);
	ck_assert_str_eq(e.rule, "allowlist");
	ck_assert_str_eq(e.reason, "not in the allowlist");
	ck_assert_int_eq(e.status, 403);
	ck_assert_str_eq(e.addr, "");
	/* An allowed host on a port its entry does not cover. */
	ask("CONNECT api.anthropic.com:22 HTTP/1.1\r\n\r\n", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "403 Forbidden"), "%s", buf);
	e = event_wait(1);
	ck_assert_str_eq(e.host, "api.anthropic.com");
	ck_assert_int_eq(e.port, 22);
	/* The same for plain HTTP. */
	ask("GET http://Example.COM/x HTTP/1.1\r\nHost: example.com\r\n\r\n", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "403 Forbidden"), "%s", buf);
	e = event_wait(2);
	ck_assert_str_eq(e.host, "example.com");
	ck_assert_str_eq(e.method, "GET");
	ck_assert_int_eq(e.port, 80);
	ck_assert_int_eq(atomic_load(&up_conns), 0);
}
END_TEST

START_TEST(test_mode_none)
{
	tpol.mode = EGRESS_NONE;
	allow_upstream(); /* ignored in mode none */
	px_start();
	char req[256], buf[1024];
	snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n", up_port);
	ask(req, buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "403 Forbidden") && strstr(buf, "egress is none"), "%s", buf);
	snprintf(req, sizeof(req), "GET http://127.0.0.1:%d/hello HTTP/1.1\r\n\r\n", up_port);
	ask(req, buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "403 Forbidden"), "%s", buf);
	struct rec e = event_wait(1);
	ck_assert(!e.allowed);
	ck_assert_str_eq(e.rule, "egress: none");
	ck_assert_str_eq(e.reason, "egress is none");
	ck_assert_int_eq(atomic_load(&up_conns), 0);
}
END_TEST

/* Metadata and link-local addresses, however written, in open mode with
 * loopback and private ranges allowed: refused after resolution.  The
 * decimal and hex forms are names to the name policy (and allowed by an
 * allow entry naming them), which the resolver turns into
 * 169.254.169.254: an allowlisted name that resolves to the metadata
 * address. */
static const struct {
	const char *target;  /* CONNECT target */
	const char *host;    /* in the event */
	const char *addr;
	const char *why;
	const char *entry;   /* NULL: open mode; else allowlist with this entry */
} meta[] = {
	{ "169.254.169.254:80", "169.254.169.254", "169.254.169.254", "link-local/cloud metadata", NULL },
	{ "169.254.169.254:80", "169.254.169.254", "169.254.169.254", "link-local/cloud metadata", "169.254.169.254" },
	{ "[::ffff:169.254.169.254]:443", "::ffff:169.254.169.254", "::ffff:169.254.169.254",
	  "link-local/cloud metadata", NULL },
	{ "[fd00:ec2::254]:80", "fd00:ec2::254", "fd00:ec2::254", "cloud metadata", NULL },
	{ "[fe80::1]:443", "fe80::1", "fe80::1", "link-local", NULL },
	{ "2852039166:443", "2852039166", "169.254.169.254", "link-local/cloud metadata", "2852039166" },
	{ "0xa9.0xfe.0xa9.0xfe:80", "0xa9.0xfe.0xa9.0xfe", "169.254.169.254", "link-local/cloud metadata", NULL },
	{ "169.254.169.254.:80", "169.254.169.254", "169.254.169.254", "link-local/cloud metadata", NULL },
};

START_TEST(test_metadata_refused)
{
	tpol.mode = meta[_i].entry ? EGRESS_ALLOWLIST : EGRESS_OPEN;
	tpol.allow_private = true;
	if (meta[_i].entry)
		allow(meta[_i].entry);
	px_start();
	char req[256], buf[1024];
	snprintf(req, sizeof(req), "CONNECT %s HTTP/1.1\r\n\r\n", meta[_i].target);
	ask(req, buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "403 Forbidden"), "%s: %s", meta[_i].target, buf);
	ck_assert_msg(strstr(buf, meta[_i].why), "%s: %s", meta[_i].target, buf);
	struct rec e = event_wait(0);
	ck_assert(!e.allowed);
	ck_assert_str_eq(e.host, meta[_i].host);
	ck_assert_str_eq(e.addr, meta[_i].addr);
	ck_assert_str_eq(e.reason, meta[_i].why);
	ck_assert_str_eq(e.rule, meta[_i].entry ? meta[_i].entry : "egress: open");
	/* Plain HTTP to the same place. */
	char host[128];
	snprintf(host, sizeof(host), "%s", meta[_i].target);
	snprintf(req, sizeof(req), "GET http://%s/latest/meta-data/ HTTP/1.1\r\n\r\n", host);
	ask(req, buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "403 Forbidden"), "%s: %s", req, buf);
}
END_TEST

START_TEST(test_loopback_refused)
{
	tpol.mode = EGRESS_OPEN;
	tpol.allow_loopback = false;
	tpol.allow_private = true;
	px_start();
	static const char *const targets[] = { "127.0.0.1", "[::1]", "localhost", "127.1" };
	for (size_t i = 0; i < ARRAY_SIZE(targets); i++) {
		char req[256], buf[1024];
		snprintf(req, sizeof(req), "CONNECT %s:%d HTTP/1.1\r\n\r\n", targets[i], up_port);
		ask(req, buf, sizeof(buf));
		ck_assert_msg(strstr(buf, "403 Forbidden") && strstr(buf, "loopback"), "%s: %s", targets[i], buf);
		struct rec e = event_wait((int)i);
		ck_assert(!e.allowed);
		ck_assert_msg(strstr(e.reason, "loopback"), "%s", e.reason);
	}
	ck_assert_int_eq(atomic_load(&up_conns), 0);
}
END_TEST

/* A name resolved by the proxy, allowed, connected. */
START_TEST(test_name_resolved)
{
	char e[64];
	snprintf(e, sizeof(e), "localhost:%d", up_port);
	allow(e);
	px_start();
	char req[256], buf[512];
	int fd = dial(px_port);
	snprintf(req, sizeof(req), "CONNECT LocalHost:%d HTTP/1.1\r\n\r\n", up_port);
	send_str(fd, req);
	(void)read_until(fd, buf, sizeof(buf), "\r\n\r\n", 5000);
	if (strstr(buf, "502")) {
		/* localhost resolved to ::1 first and nothing listens there:
		 * the proxy tries every allowed address, so this is a failure. */
		ck_abort_msg("%s", buf);
	}
	ck_assert_str_eq(buf, "HTTP/1.1 200 Connection established\r\n\r\n");
	send_str(fd, "by-name");
	(void)read_until(fd, buf, sizeof(buf), "by-name", 5000);
	ck_assert_str_eq(buf, "by-name");
	(void)close(fd);
	struct rec ev = event_wait(0);
	ck_assert(ev.allowed);
	ck_assert_str_eq(ev.host, "localhost");
	ck_assert_str_eq(ev.rule, e);
	ck_assert_str_eq(ev.addr, "127.0.0.1");
}
END_TEST

START_TEST(test_http_forward_streams)
{
	allow_upstream();
	px_start();
	int fd = dial(px_port);
	char req[512], buf[4096];
	snprintf(req, sizeof(req),
		 "GET http://127.0.0.1:%d/stream HTTP/1.1\r\n"
		 "Host: evil.example\r\n"
		 "Proxy-Authorization: Basic c2VjcmV0\r\n"
		 "Proxy-Connection: keep-alive\r\n"
		 "Connection: keep-alive, X-Hop\r\n"
		 "X-Hop: 1\r\n"
		 "Accept: text/event-stream\r\n"
		 "X-Keep: 2\r\n\r\n",
		 up_port);
	send_str(fd, req);
	/* The first event arrives while the upstream waits at its gate. */
	(void)read_until(fd, buf, sizeof(buf), "data: one\n\n", 5000);
	ck_assert_msg(strstr(buf, "data: one\n\n"), "first chunk not streamed: \"%s\"", buf);
	ck_assert_ptr_null(strstr(buf, "data: two"));
	ck_assert(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	ck_assert_int_eq(write(up_gate[1], "g", 1), 1);
	size_t n = strlen(buf);
	(void)read_until(fd, buf + n, sizeof(buf) - n, NULL, 5000);
	ck_assert_msg(strstr(buf, "data: one\n\ndata: two\n\n"), "%s", buf);
	ck_assert_int_eq(atomic_load(&up_gate_ok), 1);
	(void)close(fd);

	char head[8192];
	(void)pthread_mutex_lock(&up_lock);
	snprintf(head, sizeof(head), "%s", up_head);
	(void)pthread_mutex_unlock(&up_lock);
	char want[128];
	snprintf(want, sizeof(want), "GET /stream HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", up_port);
	ck_assert_msg(strncmp(head, want, strlen(want)) == 0, "%s", head);
	ck_assert_msg(strstr(head, "\r\nAccept: text/event-stream\r\nX-Keep: 2\r\nConnection: close\r\n\r\n"), "%s", head);
	ck_assert_msg(!strstr(head, "Proxy-") && !strstr(head, "c2VjcmV0") && !strstr(head, "X-Hop") &&
			      !strstr(head, "evil.example") && !strstr(head, "keep-alive"),
		      "%s", head);
	struct rec e = event_wait(0);
	ck_assert(e.allowed);
	ck_assert_str_eq(e.method, "GET");
	ck_assert_int_eq(e.status, 200);
	ck_assert_int_eq(e.up, strlen(head));
	ck_assert_int_gt(e.down, 40);
}
END_TEST

START_TEST(test_http_post_body)
{
	allow_upstream();
	px_start();
	int fd = dial(px_port);
	char req[256], buf[1024];
	snprintf(req, sizeof(req), "POST http://127.0.0.1:%d/p?q=1 HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello", up_port);
	send_str(fd, req);
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	(void)nanosleep(&ts, NULL);
	send_str(fd, " world");
	(void)read_until(fd, buf, sizeof(buf), NULL, 5000);
	(void)close(fd);
	ck_assert_msg(strstr(buf, "200 OK") && strstr(buf, "\r\n\r\nhello world"), "%s", buf);
	(void)pthread_mutex_lock(&up_lock);
	bool origin_form = str_startswith(up_head, "POST /p?q=1 HTTP/1.1\r\nHost: 127.0.0.1:");
	(void)pthread_mutex_unlock(&up_lock);
	ck_assert(origin_form);
}
END_TEST

static const struct {
	const char *req, *msg;
} bad_reqs[] = {
	{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "CONNECT host:port or an absolute http:// URL" },
	{ "GARBAGE\r\n\r\n", "malformed request line" },
	{ "GET https://example.com/ HTTP/1.1\r\n\r\n", "https:// goes through CONNECT" },
	{ "CONNECT example.com HTTP/1.1\r\n\r\n", "CONNECT needs host:port" },
	{ "CONNECT example.com:99999 HTTP/1.1\r\n\r\n", "the port is not a number" },
	{ "GET http://user:pw@example.com/ HTTP/1.1\r\n\r\n", "credentials in the URL" },
	{ "GET http://example.com/ HTTP/2.0\r\n\r\n", "only HTTP/1.0 and HTTP/1.1" },
	{ "GET http://ex ample.com/ HTTP/1.1\r\n\r\n", "malformed request line" },
	{ "GET http://example.com/ HTTP/1.1\r\n folded: x\r\n\r\n", "folded header line" },
	{ "GET http://example.com/ HTTP/1.1\r\nno colon\r\n\r\n", "malformed header line" },
	{ "\r\n\r\n", "empty request line" },
};

/* The proxy has no connection left (each one's event is sent before its
 * thread ends). */
static bool wait_idle(void)
{
	for (int i = 0; i < 300 && egress_active(px); i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		(void)nanosleep(&ts, NULL);
	}
	return egress_active(px) == 0;
}

START_TEST(test_bad_request)
{
	tpol.mode = EGRESS_OPEN;
	px_start();
	char buf[1024];
	ask(bad_reqs[_i].req, buf, sizeof(buf));
	ck_assert_msg(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26) == 0, "%s", buf);
	ck_assert_msg(strstr(buf, bad_reqs[_i].msg), "%s", buf);
	/* No request event; one rejection, with the answer's reason. */
	struct rec r = event_wait(0);
	ck_assert_int_eq(r.kind, EGRESS_EV_REJECTED);
	ck_assert_int_eq(r.status, 400);
	ck_assert_uint_eq(r.count, 1);
	ck_assert_msg(strstr(r.reason, bad_reqs[_i].msg), "%s", r.reason);
	ck_assert_int_eq(event_count(), 1);
}
END_TEST

/* A flood of malformed requests is one event at once and one with the
 * rest's count when the proxy stops, not an event each; the traffic
 * counts have them all. */
START_TEST(test_rejections_rate_limited)
{
	tpol.mode = EGRESS_OPEN;
	px_start();
	char buf[512];
	for (int i = 0; i < 25; i++) {
		ask("GARBAGE\r\n\r\n", buf, sizeof(buf));
		ck_assert_msg(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26) == 0, "%s", buf);
	}
	struct rec r = event_wait(0);
	ck_assert_int_eq(r.kind, EGRESS_EV_REJECTED);
	ck_assert_uint_eq(r.count, 1);
	ck_assert(wait_idle());
	ck_assert_int_eq(event_count(), 1);
	egress_stop(px);
	px = NULL;
	ck_assert_int_eq(event_count(), 2);
	r = event_wait(1);
	ck_assert_int_eq(r.status, 400);
	ck_assert_uint_eq(r.count, 24);
}
END_TEST

START_TEST(test_oversized_head)
{
	tpol.mode = EGRESS_OPEN;
	px_start();
	int fd = dial(px_port);
	send_str(fd, "GET http://127.0.0.1/ HTTP/1.1\r\n");
	char pad[1024];
	memset(pad, 'a', sizeof(pad));
	memcpy(pad, "X-Pad: ", 7);
	pad[sizeof(pad) - 3] = '\r';
	pad[sizeof(pad) - 2] = '\n';
	pad[sizeof(pad) - 1] = '\0';
	for (int i = 0; i < 17; i++)
		send_str(fd, pad);
	char buf[1024];
	(void)read_until(fd, buf, sizeof(buf), NULL, 5000);
	(void)close(fd);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26) == 0, "%s", buf);
	ck_assert_msg(strstr(buf, "request head too large (limit 16 KiB)"), "%s", buf);
}
END_TEST

START_TEST(test_header_timeout)
{
	tpol.mode = EGRESS_OPEN;
	tpol.header_timeout_ms = 1000;
	px_start();
	int quiet = dial(px_port);
	int slow = dial(px_port);
	int64_t t0 = ms_now();
	/* A byte every 200 ms does not extend the deadline. */
	const char *req = "GET http://127.0.0.1/ HTTP/1.1\r\n";
	int64_t slow_done = -1;
	for (size_t i = 0; i < strlen(req) && slow_done < 0 && ms_now() - t0 < 4000; i++) {
		(void)!send(slow, req + i, 1, MSG_NOSIGNAL);
		struct pollfd p = { .fd = slow, .events = POLLIN };
		if (poll(&p, 1, 200) == 1)
			slow_done = ms_now() - t0;
	}
	int64_t quiet_ms = ms_until_closed(quiet, 4000);
	char buf[512];
	(void)read_until(slow, buf, sizeof(buf), NULL, 2000);
	ck_assert_msg(strstr(buf, "408 Request Timeout"), "%s", buf);
	ck_assert_msg(slow_done >= 900 && slow_done < 2500, "slow client dropped after %lld ms", (long long)slow_done);
	ck_assert_msg(quiet_ms >= 0, "quiet client never dropped");
	int64_t total = ms_now() - t0;
	ck_assert_msg(total >= 900 && total < 2500, "quiet client dropped after %lld ms", (long long)total);
	(void)close(quiet);
	(void)close(slow);
	/* Two timeouts: the first reported at once, the second (within
	 * EGRESS_REJECT_EVERY_MS) by the stop. */
	struct rec r = event_wait(0);
	ck_assert_int_eq(r.kind, EGRESS_EV_REJECTED);
	ck_assert_int_eq(r.status, 408);
	egress_stop(px);
	px = NULL;
	ck_assert_int_eq(event_count(), 2);
	ck_assert_uint_eq(r.count + event_wait(1).count, 2);
}
END_TEST

static bool wait_active(int n)
{
	for (int i = 0; i < 300; i++) {
		if (egress_active(px) == n)
			return true;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		(void)nanosleep(&ts, NULL);
	}
	return false;
}

START_TEST(test_connection_cap)
{
	allow_upstream();
	tpol.max_conns = 2;
	px_start();
	int a = dial(px_port), b = dial(px_port);
	ck_assert(wait_active(2));
	int c = dial(px_port);
	char buf[512];
	(void)read_until(c, buf, sizeof(buf), NULL, 5000);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0, "%s", buf);
	ck_assert_msg(strstr(buf, "too many connections (limit 2)"), "%s", buf);
	(void)close(c);
	struct rec r = event_wait(0);
	ck_assert_int_eq(r.kind, EGRESS_EV_REJECTED);
	ck_assert_int_eq(r.status, 503);
	ck_assert_msg(strstr(r.reason, "too many connections (limit 2)"), "%s", r.reason);
	/* A slot freed is a slot used again. */
	(void)close(a);
	ck_assert(wait_active(1));
	int d = dial(px_port);
	char req[128];
	snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\nagain", up_port);
	send_str(d, req);
	(void)read_until(d, buf, sizeof(buf), "again", 5000);
	ck_assert_msg(strstr(buf, "200 Connection established\r\n\r\nagain"), "%s", buf);
	(void)close(d);
	(void)close(b);
}
END_TEST

START_TEST(test_stop_prompt)
{
	allow_upstream();
	px_start();
	int relay = dial(px_port);
	char req[128], buf[512];
	snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\nlive", up_port);
	send_str(relay, req);
	(void)read_until(relay, buf, sizeof(buf), "live", 5000);
	ck_assert_msg(strstr(buf, "\r\n\r\nlive"), "%s", buf);
	int idle = dial(px_port);
	int partial = dial(px_port);
	send_str(partial, "GET http://127.0.0.1/ HT");
	ck_assert(wait_active(3));
	int64_t t0 = ms_now();
	egress_stop(px);
	px = NULL;
	int64_t took = ms_now() - t0;
	ck_assert_msg(took < 1000, "egress_stop took %lld ms", (long long)took);
	ck_assert_int_ge(ms_until_closed(relay, 2000), 0);
	ck_assert_int_ge(ms_until_closed(idle, 2000), 0);
	ck_assert_int_ge(ms_until_closed(partial, 2000), 0);
	(void)close(relay);
	(void)close(idle);
	(void)close(partial);
	struct rec e = event_wait(0);
	ck_assert(e.allowed);
	ck_assert_int_eq(e.up, 4);
	ck_assert_int_eq(event_count(), 1);
}
END_TEST

START_TEST(test_idle_timeout)
{
	allow_upstream();
	tpol.idle_timeout_ms = 400;
	px_start();
	int fd = dial(px_port);
	char req[128], buf[512];
	snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\nx", up_port);
	send_str(fd, req);
	(void)read_until(fd, buf, sizeof(buf), "\r\n\r\nx", 5000);
	ck_assert_msg(strstr(buf, "\r\n\r\nx"), "%s", buf);
	/* Traffic keeps it open... */
	for (int i = 0; i < 4; i++) {
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		(void)nanosleep(&ts, NULL);
		send_str(fd, "y");
		(void)read_until(fd, buf, sizeof(buf), "y", 2000);
		ck_assert_str_eq(buf, "y");
	}
	/* ...silence closes it. */
	int64_t ms = ms_until_closed(fd, 3000);
	ck_assert_msg(ms >= 300 && ms < 1500, "closed after %lld ms", (long long)ms);
	(void)close(fd);
	struct rec e = event_wait(0);
	ck_assert_int_eq(e.up, 5);
	ck_assert_int_eq(e.down, 5);
}
END_TEST

/* A client that resets the connection mid-stream ends that relay, not
 * the process (no SIGPIPE), and the event counts what went through. */
START_TEST(test_client_reset)
{
	allow_upstream();
	px_start();
	for (int round = 0; round < 3; round++) {
		int fd = dial(px_port);
		char req[128], buf[4096];
		snprintf(req, sizeof(req), "GET http://127.0.0.1:%d/flood HTTP/1.1\r\n\r\n", up_port);
		send_str(fd, req);
		ck_assert_int_gt(read_until(fd, buf, sizeof(buf), "\r\n\r\n", 5000), 0);
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
		(void)close(fd); /* RST */
		struct rec e = event_wait(round);
		ck_assert(e.allowed);
		ck_assert_int_eq(e.status, 200);
		ck_assert_int_lt(e.down, 1024 * 16384);
		ck_assert(e.sigpipe_blocked);
	}
	ck_assert(wait_active(0));
}
END_TEST

START_TEST(test_upstream_refused)
{
	int port;
	int fd = listen_local(&port);
	(void)close(fd); /* nothing listens there now */
	char e[64];
	snprintf(e, sizeof(e), "127.0.0.1:%d", port);
	allow(e);
	px_start();
	char req[128], buf[1024];
	snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n", port);
	ask(req, buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "502 Bad Gateway") && strstr(buf, "Connection refused"), "%s", buf);
	struct rec ev = event_wait(0);
	ck_assert(ev.allowed);
	ck_assert_int_eq(ev.status, 502);
	ck_assert_msg(strstr(ev.reason, "connect to 127.0.0.1: Connection refused"), "%s", ev.reason);
}
END_TEST

START_TEST(test_start_errors)
{
	char err[256];
	int fds[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	ck_assert_ptr_null(egress_start(&tpol, fds[0], NULL, NULL, err, sizeof(err)));
	ck_assert_msg(strstr(err, "is not a listening stream socket"), "%s", err);
	(void)close(fds[0]);
	(void)close(fds[1]);
	ck_assert_ptr_null(egress_start(&tpol, -1, NULL, NULL, err, sizeof(err)));
	egress_stop(NULL);
}
END_TEST

/* ---- the credential route ------------------------------------------------ */

#define RT_PLACEHOLDER "paddock-placeholder-0123abcd"
#define RT_SECRET "sk-real-Secret-4242"

static int rt_port;

static void route_start(const char *upstream, const char *ca_file)
{
	char err[256] = "";
	int lfd = listen_local(&px_port);
	int rfd = listen_local(&rt_port);
	struct egress_route r = { .upstream = upstream, .header = "x-api-key", .prefix = "",
				  .placeholder = RT_PLACEHOLDER, .value = RT_SECRET,
				  .value_len = strlen(RT_SECRET), .ca_file = ca_file };
	px = egress_start_routed(&tpol, lfd, &r, rfd, on_event, NULL, err, sizeof(err));
	ck_assert_msg(px != NULL, "%s", err);
}

static void route_ask(const char *req, char *out, size_t cap)
{
	int fd = dial(rt_port);
	send_str(fd, req);
	(void)read_until(fd, out, cap, NULL, 5000);
	(void)close(fd);
}

static void up_head_copy(char *out, size_t n)
{
	(void)pthread_mutex_lock(&up_lock);
	snprintf(out, n, "%s", up_head);
	(void)pthread_mutex_unlock(&up_lock);
}

/* The placeholder goes out as the credential, under the upstream's path
 * and Host; the answer streams; the client is told to close.  The
 * upstream's name needs no allow entry (tpol allows nothing). */
START_TEST(test_route_replaces)
{
	char up[128], buf[4096], head[8192];
	snprintf(up, sizeof(up), "http://127.0.0.1:%d/v1/", up_port);
	route_start(up, NULL);
	route_ask("GET /ka HTTP/1.1\r\nHost: 127.0.0.1:3129\r\nx-api-key: " RT_PLACEHOLDER "\r\n"
		  "Connection: keep-alive\r\nExpect: 100-continue\r\nAccept: */*\r\n\r\n",
		  buf, sizeof(buf));
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0 && strstr(buf, "\r\n\r\nok"), "%s", buf);
	ck_assert_msg(strstr(buf, "\r\nConnection: close\r\n") && !strstr(buf, "keep-alive") &&
			      !strstr(buf, "Keep-Alive"),
		      "%s", buf);
	up_head_copy(head, sizeof(head));
	char want[128];
	snprintf(want, sizeof(want), "GET /v1/ka HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", up_port);
	ck_assert_msg(strncmp(head, want, strlen(want)) == 0, "%s", head);
	ck_assert_msg(strstr(head, "\r\nx-api-key: " RT_SECRET "\r\n"), "%s", head);
	ck_assert_msg(!strstr(head, RT_PLACEHOLDER) && !strstr(head, "Expect") &&
			      strstr(head, "\r\nAccept: */*\r\nConnection: close\r\n\r\n"),
		      "%s", head);
	struct rec e = event_wait(0);
	ck_assert(e.allowed);
	ck_assert_str_eq(e.rule, "credential route");
	ck_assert_int_eq(e.status, 200);
}
END_TEST

START_TEST(test_route_streams)
{
	char up[128], buf[4096];
	snprintf(up, sizeof(up), "http://127.0.0.1:%d", up_port);
	route_start(up, NULL);
	int fd = dial(rt_port);
	send_str(fd, "GET /stream HTTP/1.1\r\nX-Api-Key:  " RT_PLACEHOLDER " \r\n\r\n");
	(void)read_until(fd, buf, sizeof(buf), "data: one\n\n", 5000);
	ck_assert_msg(strstr(buf, "data: one\n\n") && !strstr(buf, "data: two"), "first event not streamed: %s", buf);
	ck_assert_int_eq(write(up_gate[1], "g", 1), 1);
	size_t n = strlen(buf);
	(void)read_until(fd, buf + n, sizeof(buf) - n, NULL, 5000);
	ck_assert_msg(strstr(buf, "data: one\n\ndata: two\n\n"), "%s", buf);
	(void)close(fd);
}
END_TEST

/* A request body far larger than the head buffer, in pieces (a CLI's
 * conversation is 100 KiB and more). */
START_TEST(test_route_large_body)
{
	char up[128], buf[2048];
	snprintf(up, sizeof(up), "http://127.0.0.1:%d", up_port);
	route_start(up, NULL);
	enum { BODY = 300 * 1024 };
	int fd = dial(rt_port);
	char head[256];
	snprintf(head, sizeof(head), "POST /count HTTP/1.1\r\nx-api-key: " RT_PLACEHOLDER "\r\nContent-Length: %d\r\n\r\n", BODY);
	send_str(fd, head);
	static char body[BODY];
	memset(body, 'b', sizeof(body));
	for (size_t off = 0; off < sizeof(body);) {
		ssize_t w = send(fd, body + off, sizeof(body) - off < 7000 ? sizeof(body) - off : 7000, MSG_NOSIGNAL);
		ck_assert_int_gt(w, 0);
		off += (size_t)w;
	}
	(void)read_until(fd, buf, sizeof(buf), NULL, 5000);
	(void)close(fd);
	char want[64];
	snprintf(want, sizeof(want), "counted %012d", BODY);
	ck_assert_msg(strstr(buf, want), "%s", buf);
}
END_TEST

/* A credential header holding anything but this run's placeholder:
 * nothing goes out, 403 and an event.  Without the header the request
 * goes as it is (a CLI's reachability probe), with no credential. */
START_TEST(test_route_refuses)
{
	static const char *const reqs[] = {
		"GET /hello HTTP/1.1\r\nx-api-key: sk-some-other-key\r\n\r\n",
		"GET /hello HTTP/1.1\r\nx-api-key: paddock-placeholder-ffff\r\n\r\n",
		"GET /hello HTTP/1.1\r\nx-api-key: " RT_PLACEHOLDER "x\r\n\r\n",
	};
	char up[128], buf[2048];
	snprintf(up, sizeof(up), "http://127.0.0.1:%d", up_port);
	route_start(up, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
		route_ask(reqs[i], buf, sizeof(buf));
		ck_assert_msg(strstr(buf, "403 Forbidden"), "%zu: %s", i, buf);
		struct rec e = event_wait((int)i);
		ck_assert(!e.allowed);
		ck_assert_str_eq(e.rule, "credential route");
	}
	route_ask("GET /hello HTTP/1.1\r\nx-api-key: " RT_PLACEHOLDER "\r\nx-api-key: " RT_PLACEHOLDER "\r\n\r\n",
		  buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "400 Bad Request"), "%s", buf);
	route_ask("GET http://127.0.0.1/hello HTTP/1.1\r\nx-api-key: " RT_PLACEHOLDER "\r\n\r\n", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "400 Bad Request") && strstr(buf, "origin-form"), "%s", buf);
	ck_assert_int_eq(atomic_load(&up_conns), 0);
	/* The forward listener still refuses what the policy does not allow. */
	char req[128];
	snprintf(req, sizeof(req), "GET http://127.0.0.1:%d/hello HTTP/1.1\r\n\r\n", up_port);
	ask(req, buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "403 Forbidden"), "%s", buf);
	ck_assert_int_eq(atomic_load(&up_conns), 0);
	/* No credential header: through, and nothing added. */
	route_ask("HEAD /hello HTTP/1.1\r\nHost: 127.0.0.1:3129\r\n\r\n", buf, sizeof(buf));
	ck_assert_int_eq(atomic_load(&up_conns), 1);
	char head[8192];
	up_head_copy(head, sizeof(head));
	ck_assert_msg(strncmp(head, "HEAD /hello HTTP/1.1\r\n", 22) == 0 && !strstr(head, "x-api-key") &&
			      !strstr(head, RT_SECRET),
		      "%s", head);
}
END_TEST

/* The upstream's address goes through the address policy. */
START_TEST(test_route_loopback_refused)
{
	char up[128], buf[2048];
	tpol.allow_loopback = false;
	snprintf(up, sizeof(up), "http://127.0.0.1:%d", up_port);
	route_start(up, NULL);
	route_ask("GET /hello HTTP/1.1\r\nx-api-key: " RT_PLACEHOLDER "\r\n\r\n", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "403 Forbidden") && strstr(buf, "loopback"), "%s", buf);
	ck_assert_int_eq(atomic_load(&up_conns), 0);
}
END_TEST

/* ---- a TLS upstream with a certificate made here ---------------------- */

static char tls_dir[64];
static char tls_cert[128], tls_other[128];
static SSL_CTX *tls_srv;
static int tls_lfd = -1, tls_port;
static pthread_t tls_tid;
static char tls_head[4096];
static atomic_int tls_done;

/* A self-signed certificate for IP 127.0.0.1 (and its key), as PEM files. */
static void make_cert(const char *cert_path, EVP_PKEY **key_out, X509 **cert_out)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	ck_assert_ptr_nonnull(key);
	X509 *x = X509_new();
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)ms_now() & 0x7fffffff);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"paddock test", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1");
	ck_assert_ptr_nonnull(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
	FILE *f = fopen(cert_path, "w");
	ck_assert_ptr_nonnull(f);
	PEM_write_X509(f, x);
	ck_assert_int_eq(fclose(f), 0);
	*key_out = key;
	*cert_out = x;
}

static void *tls_main(void *arg)
{
	(void)arg;
	int fd = -1;
	if (up_wait(tls_lfd, 10000))
		fd = accept(tls_lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	SSL *ssl = SSL_new(tls_srv);
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) == 1) {
		size_t len = 0;
		while (len + 1 < sizeof(tls_head) && !strstr(tls_head, "\r\n\r\n")) {
			int r = SSL_read(ssl, tls_head + len, (int)(sizeof(tls_head) - 1 - len));
			if (r <= 0)
				break;
			len += (size_t)r;
			tls_head[len] = '\0';
		}
		static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nover tls!";
		(void)SSL_write(ssl, resp, (int)sizeof(resp) - 1);
		(void)SSL_shutdown(ssl);
	}
	SSL_free(ssl);
	(void)close(fd);
	atomic_store(&tls_done, 1);
	return NULL;
}

static void tls_setup(void)
{
	setup();
	snprintf(tls_dir, sizeof(tls_dir), "/tmp/pd-egress-tls-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tls_dir));
	snprintf(tls_cert, sizeof(tls_cert), "%s/server.pem", tls_dir);
	snprintf(tls_other, sizeof(tls_other), "%s/other.pem", tls_dir);
	EVP_PKEY *key, *okey;
	X509 *cert, *ocert;
	make_cert(tls_cert, &key, &cert);
	make_cert(tls_other, &okey, &ocert);
	EVP_PKEY_free(okey);
	X509_free(ocert);
	tls_srv = SSL_CTX_new(TLS_server_method());
	ck_assert_int_eq(SSL_CTX_use_certificate(tls_srv, cert), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(tls_srv, key), 1);
	EVP_PKEY_free(key);
	X509_free(cert);
	tls_lfd = listen_local(&tls_port);
	tls_head[0] = '\0';
	atomic_store(&tls_done, 0);
	ck_assert_int_eq(pthread_create(&tls_tid, NULL, tls_main, NULL), 0);
}

static void tls_teardown(void)
{
	teardown();
	(void)shutdown(tls_lfd, SHUT_RDWR);
	(void)pthread_join(tls_tid, NULL);
	(void)close(tls_lfd);
	SSL_CTX_free(tls_srv);
	(void)unlink(tls_cert);
	(void)unlink(tls_other);
	(void)rmdir(tls_dir);
}

START_TEST(test_route_tls)
{
	char up[128], buf[2048];
	snprintf(up, sizeof(up), "https://127.0.0.1:%d/api", tls_port);
	route_start(up, tls_cert);
	route_ask("POST /v1/messages HTTP/1.1\r\nx-api-key: " RT_PLACEHOLDER "\r\nContent-Length: 2\r\n\r\n{}",
		  buf, sizeof(buf));
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0 && strstr(buf, "Connection: close\r\n") &&
			      strstr(buf, "\r\n\r\nover tls!"),
		      "%s", buf);
	ck_assert_msg(strncmp(tls_head, "POST /api/v1/messages HTTP/1.1\r\n", 32) == 0 &&
			      strstr(tls_head, "\r\nx-api-key: " RT_SECRET "\r\n") &&
			      strstr(tls_head, "\r\nHost: 127.0.0.1:"),
		      "%s", tls_head);
}
END_TEST

/* An upstream whose certificate is not trusted gets no request at all. */
START_TEST(test_route_tls_untrusted)
{
	char up[128], buf[2048];
	snprintf(up, sizeof(up), "https://127.0.0.1:%d", tls_port);
	route_start(up, tls_other);
	route_ask("GET /x HTTP/1.1\r\nx-api-key: " RT_PLACEHOLDER "\r\n\r\n", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "502 Bad Gateway") && strstr(buf, "certificate not trusted"), "%s", buf);
	for (int i = 0; i < 50 && !atomic_load(&tls_done); i++) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		(void)nanosleep(&ts, NULL);
	}
	ck_assert_msg(tls_head[0] == '\0', "the upstream got: %s", tls_head);
}
END_TEST

START_TEST(test_route_start_errors)
{
	char err[256];
	int lfd = listen_local(&px_port), rfd = listen_local(&rt_port);
	struct egress_route r = { .upstream = "ftp://x", .header = "x-api-key", .placeholder = "p",
				  .value = "v", .value_len = 1 };
	ck_assert_ptr_null(egress_start_routed(&tpol, lfd, &r, rfd, NULL, NULL, err, sizeof(err)));
	ck_assert_msg(strstr(err, "is not http(s)://"), "%s", err);
	r.upstream = "https://api.example.com";
	r.value = "two\r\nlines";
	r.value_len = strlen(r.value);
	ck_assert_ptr_null(egress_start_routed(&tpol, lfd, &r, rfd, NULL, NULL, err, sizeof(err)));
	ck_assert_msg(strstr(err, "one-line credential"), "%s", err);
	(void)close(lfd);
	(void)close(rfd);
}
END_TEST

/* ---- the sidecar's log read back (Kubernetes) ------------------------------ */

static json_object *host_of(json_object *doc, const char *name)
{
	json_object *hosts = json_object_object_get(doc, "hosts");
	for (size_t i = 0; i < json_object_array_length(hosts); i++) {
		json_object *h = json_object_array_get_idx(hosts, i);
		if (!strcmp(json_object_get_string(json_object_object_get(h, "host")), name))
			return h;
	}
	return NULL;
}

static int64_t jint(json_object *o, const char *key)
{
	return json_object_get_int64(json_object_object_get(o, key));
}

/* Lines as sidecar.c prints them: allowed and denied requests, rejected
 * counts, its stderr, garbage; with the summary, without it (killed). */
START_TEST(test_sidecar_log_parse)
{
	const char *base =
		"paddock __egress: serving 127.0.0.1:3128\n"
		"{\"host\":\"pkg.example\",\"port\":443,\"method\":\"CONNECT\",\"rule\":\"pkg.example\",\"allowed\":true,"
		"\"status\":200,\"addr\":\"203.0.113.7:443\",\"bytesUp\":100,\"bytesDown\":5000}\n"
		"{\"host\":\"pkg.example\",\"port\":443,\"method\":\"CONNECT\",\"rule\":\"pkg.example\",\"allowed\":true,"
		"\"status\":200,\"bytesUp\":50,\"bytesDown\":1000}\n"
		"{\"host\":\"evil.example\",\"port\":443,\"method\":\"CONNECT\",\"rule\":\"\",\"allowed\":false,"
		"\"status\":403,\"reason\":\"not in the allowlist\",\"bytesUp\":0,\"bytesDown\":0}\n"
		"{\"host\":\"evil.example\",\"port\":443,\"method\":\"CONNECT\",\"rule\":\"\",\"allowed\":false,"
		"\"status\":403,\"reason\":\"not in the allowlist\",\"bytesUp\":0,\"bytesDown\":0}\r\n"
		"{\"host\":\"169.254.169.254\",\"port\":80,\"method\":\"GET\",\"rule\":\"169.254.169.254\","
		"\"allowed\":false,\"status\":403,\"reason\":\"a link-local address\",\"bytesUp\":0,\"bytesDown\":0}\n"
		"{\"rejected\":1,\"status\":400,\"reason\":\"malformed request line\"}\n"
		"{\"rejected\":4,\"status\":400,\"reason\":\"header too large\"}\n"
		"{\"rejected\":2,\"status\":999}\n"
		"not json at all {\n"
		"{\"host\":5,\"port\":443,\"allowed\":false}\n"
		"{\"host\":\"x.example\",\"port\":70000,\"allowed\":false}\n"
		"{\"host\":\"y.example\",\"port\":1,\"allowed\":true,\"bytesUp\":-5,\"bytesDown\":0}\n"
		"[paddock] 1234 bytes cut here\n";
	/* Killed: no summary, the per-request lines summed. */
	struct egress_log el;
	egress_log_parse(base, strlen(base), &el);
	ck_assert(!el.summary);
	ck_assert_int_eq(el.ndenied, 2);
	ck_assert_str_eq(el.denied[0].host, "evil.example");
	ck_assert_int_eq(el.denied[0].port, 443);
	ck_assert_int_eq((int)el.denied[0].count, 2);
	ck_assert_str_eq(el.denied[0].reason, "not in the allowlist");
	ck_assert_str_eq(el.denied[1].rule, "169.254.169.254");
	ck_assert_int_eq((int)el.denied[1].count, 1);
	ck_assert_int_eq((int)el.rejected[0], 5);
	ck_assert_str_eq(el.rejected_reason[0], "header too large");
	ck_assert_int_eq((int)el.rejected[1] + (int)el.rejected[2], 0);
	ck_assert_int_eq((int)el.ignored, 7);
	json_object *h = host_of(el.traffic, "pkg.example");
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(jint(h, "requests"), 2);
	ck_assert_int_eq(jint(h, "bytesUp"), 150);
	ck_assert_int_eq(jint(h, "bytesDown"), 6000);
	ck_assert_ptr_null(host_of(el.traffic, "evil.example")); /* refusals carry no traffic */
	ck_assert_int_eq(jint(json_object_object_get(el.traffic, "rejected"), "badRequest"), 5);
	egress_log_free(&el);

	/* With the summary: its totals win (they count what was never
	 * printed, e.g. a cut middle). */
	char *full = xasprintf("%s{\"summary\":{\"hosts\":[{\"host\":\"pkg.example\",\"requests\":9,\"bytesUp\":900,"
			       "\"bytesDown\":90000},{\"host\":\"other\",\"requests\":3,\"bytesUp\":3,\"bytesDown\":3},"
			       "{\"host\":\"bad\",\"requests\":\"x\"}],"
			       "\"rejected\":{\"badRequest\":6,\"timeout\":1,\"busy\":0}}}\n",
			       base);
	egress_log_parse(full, strlen(full), &el);
	ck_assert(el.summary);
	ck_assert_int_eq(el.ndenied, 2);
	h = host_of(el.traffic, "pkg.example");
	ck_assert_int_eq(jint(h, "requests"), 9);
	ck_assert_int_eq(jint(h, "bytesDown"), 90000);
	ck_assert_int_eq(jint(host_of(el.traffic, "other"), "requests"), 3);
	ck_assert_ptr_null(host_of(el.traffic, "bad"));
	ck_assert_int_eq((int)el.rejected[0], 6);
	ck_assert_int_eq((int)el.rejected[1], 1);
	char msg[900];
	egress_denied_message(msg, sizeof(msg), el.denied[0].host, el.denied[0].port, el.denied[0].reason,
			      el.denied[0].rule, (int64_t)el.denied[0].count);
	ck_assert_str_eq(msg, "egress refused evil.example:443 (not in the allowlist; rule: -), times: 2");
	egress_rejected_message(msg, sizeof(msg), 400, 6, el.rejected_reason[0]);
	ck_assert_str_eq(msg, "egress proxy answered 6 clients 400 before a target (last: header too large)");
	egress_log_free(&el);
	free(full);

	/* Bounds: distinct refusals past the cap folded into one count; an
	 * over-long line (a forged host of 10 KiB) ignored, never cut into
	 * something else; a NUL in a line ignored. */
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i < EGRESS_LOG_DENIED_MAX + 5; i++)
		(void)buf_printf(&b, "{\"host\":\"d%d.example\",\"port\":443,\"rule\":\"\",\"allowed\":false}\n", i);
	(void)buf_printf(&b, "{\"host\":\"");
	for (int i = 0; i < 10000; i++)
		(void)buf_printf(&b, "a");
	(void)buf_printf(&b, "\",\"port\":443,\"allowed\":false}\n");
	size_t at = b.len;
	(void)buf_printf(&b, "{\"host\":\"nul.example\",\"port\":1,\"allowed\":false}\n");
	b.data[at + 3] = '\0';
	egress_log_parse(b.data, b.len, &el);
	ck_assert_int_eq(el.ndenied, EGRESS_LOG_DENIED_MAX);
	ck_assert_int_eq((int)el.more_denied, 5);
	ck_assert_int_eq((int)el.ignored, 2);
	ck_assert_int_eq((int)json_object_array_length(json_object_object_get(el.traffic, "hosts")), 0);
	egress_log_free(&el);
	buf_free(&b);

	/* Nothing at all. */
	egress_log_parse(NULL, 0, &el);
	ck_assert_int_eq(el.ndenied + (int)el.ignored + (int)el.rejected[0], 0);
	ck_assert_ptr_nonnull(el.traffic);
	egress_log_free(&el);
}
END_TEST

static Suite *egress_suite(void)
{
	Suite *s = suite_create("egress");
	TCase *tc = tcase_create("policy");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_entries_parse);
	tcase_add_test(tc, test_name_policy);
	tcase_add_test(tc, test_addr_check);
	tcase_add_test(tc, test_traffic_counts);
	tcase_add_test(tc, test_sidecar_log_parse);
	suite_add_tcase(s, tc);

	tc = tcase_create("server");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_connect_relays);
	tcase_add_test(tc, test_connect_early_bytes);
	tcase_add_test(tc, test_not_in_allowlist);
	tcase_add_test(tc, test_mode_none);
	tcase_add_loop_test(tc, test_metadata_refused, 0, (int)ARRAY_SIZE(meta));
	tcase_add_test(tc, test_loopback_refused);
	tcase_add_test(tc, test_name_resolved);
	tcase_add_test(tc, test_http_forward_streams);
	tcase_add_test(tc, test_http_post_body);
	tcase_add_loop_test(tc, test_bad_request, 0, (int)ARRAY_SIZE(bad_reqs));
	tcase_add_test(tc, test_oversized_head);
	tcase_add_test(tc, test_header_timeout);
	tcase_add_test(tc, test_rejections_rate_limited);
	tcase_add_test(tc, test_connection_cap);
	tcase_add_test(tc, test_stop_prompt);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_client_reset);
	tcase_add_test(tc, test_upstream_refused);
	tcase_add_test(tc, test_start_errors);
	tcase_add_test(tc, test_route_replaces);
	tcase_add_test(tc, test_route_streams);
	tcase_add_test(tc, test_route_large_body);
	tcase_add_test(tc, test_route_refuses);
	tcase_add_test(tc, test_route_loopback_refused);
	tcase_add_test(tc, test_route_start_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("route-tls");
	tcase_add_checked_fixture(tc, tls_setup, tls_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_route_tls);
	tcase_add_test(tc, test_route_tls_untrusted);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(egress_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
