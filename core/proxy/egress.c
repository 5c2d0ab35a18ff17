/* SPDX-License-Identifier: MIT */
/*
 * proxy/egress.c - the egress proxy (egress.h).  What it owns:
 *
 *  - the policy: the mode, allow entries (parsed and normalized here) and
 *    the name check; the address check is http_addr_check()
 *    (plugin/http.c), the same one URL contexts go through;
 *  - the server: one acceptor thread on the listening socket it is given
 *    and one thread per connection, at most pol.max_conns of them (the
 *    connection past the cap gets a 503 from the acceptor and is closed);
 *  - per connection: the request head (at most EGRESS_MAX_HEAD bytes,
 *    within header_timeout_ms), the name policy, resolution (a helper
 *    thread for names, so that egress_stop() never waits on the system
 *    resolver), the address policy on every address the name resolved
 *    to, a non-blocking connect within connect_timeout_ms, then a relay
 *    both ways in a poll loop (each read is written out at once: nothing
 *    waits for a buffer to fill, so server-sent events stream);
 *  - the events: one per request that named a target, refused or done;
 *    clients answered 400, 408 or 503 before that are counted and
 *    reported rate-limited (EGRESS_EV_REJECTED).
 *
 * A connection carries one request: plain HTTP goes upstream with
 * "Connection: close" and the connection ends when the upstream closes.
 *
 * Every poll also waits on the stop eventfd: egress_stop() writes it once
 * and every thread sees it at its next poll (it is never read, so it stays
 * readable).  Sockets are non-blocking and written with MSG_NOSIGNAL.
 */
#include "config.h"
#include "proxy/egress.h"
#include "base/util.h"
#include "plugin/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define EG_DEF_MAX_CONNS 64
#define EG_DEF_HEADER_MS 10000
#define EG_DEF_CONNECT_MS 10000
#define EG_DEF_IDLE_MS (10 * 60 * 1000)
#define EG_REPLY_MS 2000            /* to write a short answer to a client */
#define EG_RELAY_BUF (64 * 1024)    /* per direction, when splice() cannot be used */
#define EG_PIPE_SIZE (256 * 1024)   /* per direction, with splice() */
#define EG_HOST_MAX 253
#define EG_SHOWN_MAX 80             /* of an entry or target quoted in a message */
#define EG_THREAD_STACK (512 * 1024)
#define EG_RESP_HEAD_MAX (64 * 1024) /* a route's upstream response head */

/* ---- the agent's side ------------------------------------------------- */

#define EG_PROXY_URL "http://127.0.0.1:3128"
_Static_assert(EGRESS_PROXY_PORT == 3128, "EG_PROXY_URL names EGRESS_PROXY_PORT");
#define EG_NO_PROXY "localhost,127.0.0.1,::1"

const char *const egress_agent_env[] = {
	"HTTP_PROXY=" EG_PROXY_URL, "HTTPS_PROXY=" EG_PROXY_URL, "ALL_PROXY=" EG_PROXY_URL,
	"http_proxy=" EG_PROXY_URL, "https_proxy=" EG_PROXY_URL, "all_proxy=" EG_PROXY_URL,
	"NO_PROXY=" EG_NO_PROXY,    "no_proxy=" EG_NO_PROXY,     NULL,
};

bool egress_is_proxy_var(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	for (size_t i = 0; n && egress_agent_env[i]; i++)
		if (!strncasecmp(egress_agent_env[i], name, n) && egress_agent_env[i][n] == '=')
			return true;
	return false;
}

/* ---- policy ----------------------------------------------------------- */

int egress_mode_parse(const char *s, enum egress_mode *mode, char *err, size_t errlen)
{
	if (str_eq(s, "none"))
		*mode = EGRESS_NONE;
	else if (str_eq(s, "allowlist"))
		*mode = EGRESS_ALLOWLIST;
	else if (str_eq(s, "open"))
		*mode = EGRESS_OPEN;
	else
		return errf(err, errlen, -EINVAL, "egress \"%.*s\": use none, allowlist or open",
			    EG_SHOWN_MAX, s ? s : "");
	return 0;
}

const char *egress_mode_name(enum egress_mode mode)
{
	switch (mode) {
	case EGRESS_NONE:
		return "none";
	case EGRESS_ALLOWLIST:
		return "allowlist";
	case EGRESS_OPEN:
		return "open";
	}
	return "?";
}

static bool is_ipv4_literal(const char *s)
{
	struct in_addr a;
	return inet_pton(AF_INET, s, &a) == 1;
}

static bool is_ipv6_literal(const char *s)
{
	struct in6_addr a;
	return inet_pton(AF_INET6, s, &a) == 1;
}

/* Normalize the host in[0..n) into out (EG_HOST_MAX + 1 bytes): lower case,
 * one trailing dot dropped, an IPv6 literal (with or without brackets)
 * in canonical form without brackets.  NULL, or a static reason. */
static const char *host_norm(const char *in, size_t n, bool brackets_only, char *out)
{
	char tmp[INET6_ADDRSTRLEN + 16];
	if (n == 0)
		return "empty host";
	if (in[0] == '[' || memchr(in, ':', n)) {
		struct in6_addr a6;
		if (in[0] == '[') {
			if (n < 3 || in[n - 1] != ']')
				return "unbalanced [ ] around an IPv6 address";
			in++;
			n -= 2;
		} else if (brackets_only) {
			return "an IPv6 address goes in [brackets]";
		}
		if (n >= sizeof(tmp))
			return "not an IPv6 address";
		memcpy(tmp, in, n);
		tmp[n] = '\0';
		if (inet_pton(AF_INET6, tmp, &a6) != 1)
			return "not an IPv6 address";
		if (!inet_ntop(AF_INET6, &a6, out, EG_HOST_MAX + 1))
			return "not an IPv6 address";
		return NULL;
	}
	if (in[n - 1] == '.')
		n--;
	if (n == 0)
		return "empty host";
	if (n > EG_HOST_MAX)
		return "host name longer than 253 characters";
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '.') {
			if (label == 0)
				return "empty label in the host name";
			label = 0;
		} else if (isalnum(c) || c == '-' || c == '_') {
			if (++label > 63)
				return "a label of the host name is longer than 63 characters";
		} else {
			return "invalid character in the host name";
		}
		out[i] = (char)tolower(c);
	}
	if (label == 0)
		return "empty label in the host name";
	out[n] = '\0';
	return NULL;
}

/* "123" -> 123 in 1..65535, else -1. */
static int port_parse(const char *s, size_t n)
{
	if (n == 0 || n > 5)
		return -1;
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535 ? v : -1;
}

/* Split "host[:port]" / "[v6][:port]" into the host part and the port
 * (0 when absent).  NULL or a static reason. */
static const char *authority_split(const char *s, size_t n, const char **host, size_t *hostlen,
				   int *port)
{
	const char *colon = NULL;
	*port = 0;
	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return "unbalanced [ ] around an IPv6 address";
		size_t after = (size_t)(close + 1 - s);
		if (after < n) {
			if (s[after] != ':')
				return "unexpected text after ]";
			colon = s + after;
		}
	} else {
		colon = memchr(s, ':', n);
		if (colon && memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)))
			return "an IPv6 address goes in [brackets]";
	}
	*host = s;
	*hostlen = colon ? (size_t)(colon - s) : n;
	if (colon) {
		*port = port_parse(colon + 1, n - (size_t)(colon + 1 - s));
		if (*port < 0)
			return "the port is not a number in 1..65535";
	}
	return NULL;
}

int egress_policy_add(struct egress_policy *pol, const char *entry, char *err, size_t errlen)
{
	const char *s = entry ? entry : "";
	size_t n = strlen(s);
	char host[EG_HOST_MAX + 1];
	const char *h, *why;
	size_t hn;
	int port;
	bool wildcard = false;
#define EG_BAD(msg) errf(err, errlen, -EINVAL, "allow entry \"%.*s\": %s", EG_SHOWN_MAX, s, msg)
	if (n == 0)
		return EG_BAD("empty");
	for (size_t i = 0; i < n; i++)
		if (isspace((unsigned char)s[i]) || iscntrl((unsigned char)s[i]))
			return EG_BAD("contains a space or control character");
	if (s[0] == '*') {
		if (n < 3 || s[1] != '.' || s[2] == '.' || s[2] == ':')
			return EG_BAD("a wildcard is \"*.\" followed by a domain, e.g. \"*.github.com\"");
		wildcard = true;
	}
	if (memchr(s + (wildcard ? 1 : 0), '*', n - (wildcard ? 1 : 0)))
		return EG_BAD("\"*\" only as a leading \"*.\", e.g. \"*.github.com\"");
	if (strstr(s, "://") || memchr(s, '/', n) || memchr(s, '@', n))
		return EG_BAD("a host with an optional :port, not a URL");
	if ((why = authority_split(s + (wildcard ? 2 : 0), n - (wildcard ? 2 : 0), &h, &hn, &port)))
		return EG_BAD(why);
	if ((why = host_norm(h, hn, true, host)))
		return EG_BAD(why);
	if (wildcard && (is_ipv4_literal(host) || strchr(host, ':')))
		return EG_BAD("a wildcard takes a domain, not an IP address");
#undef EG_BAD
	struct egress_rule r = {
		.host = xstrdup(host),
		.wildcard = wildcard,
		.port = port,
	};
	bool v6 = strchr(host, ':') != NULL;
	char portstr[8] = "";
	if (port)
		snprintf(portstr, sizeof(portstr), ":%d", port);
	r.text = xasprintf("%s%s%s%s%s", wildcard ? "*." : "", v6 ? "[" : "", host, v6 ? "]" : "",
			   portstr);
	pol->rules = xrealloc(pol->rules, (pol->nrules + 1) * sizeof(*pol->rules));
	pol->rules[pol->nrules++] = r;
	return 0;
}

void egress_policy_free(struct egress_policy *pol)
{
	if (!pol)
		return;
	for (size_t i = 0; i < pol->nrules; i++) {
		free(pol->rules[i].host);
		free(pol->rules[i].text);
	}
	free(pol->rules);
	pol->rules = NULL;
	pol->nrules = 0;
	pol->mode = EGRESS_NONE;
}

/* The name check on a normalized host. */
static bool policy_allows_norm(const struct egress_policy *pol, const char *host, int port,
			       const char **rule, const char **why)
{
	*why = NULL;
	switch (pol->mode) {
	case EGRESS_NONE:
		*rule = "egress: none";
		*why = "egress is none";
		return false;
	case EGRESS_OPEN:
		*rule = "egress: open";
		return true;
	case EGRESS_ALLOWLIST:
		break;
	}
	size_t hl = strlen(host);
	for (size_t i = 0; i < pol->nrules; i++) {
		const struct egress_rule *r = &pol->rules[i];
		if (r->port ? r->port != port : port != 80 && port != 443)
			continue;
		bool match;
		if (r->wildcard) {
			size_t rl = strlen(r->host);
			match = hl > rl + 1 && host[hl - rl - 1] == '.' &&
				memcmp(host + hl - rl, r->host, rl) == 0;
		} else {
			match = strcmp(host, r->host) == 0;
		}
		if (match) {
			*rule = r->text;
			return true;
		}
	}
	*rule = "allowlist";
	*why = "not in the allowlist";
	return false;
}

bool egress_policy_allows(const struct egress_policy *pol, const char *host, int port,
			  const char **rule, const char **why)
{
	const char *r_, *w_;
	char norm[EG_HOST_MAX + 1];
	if (!rule)
		rule = &r_;
	if (!why)
		why = &w_;
	if (!host || host_norm(host, strlen(host), false, norm)) {
		*rule = "allowlist";
		*why = "invalid host";
		return false;
	}
	return policy_allows_norm(pol, norm, port, rule, why);
}

/* ---- the server --------------------------------------------------------- */

struct eg_slot {
	pthread_t tid;
	bool used;          /* acceptor's own */
	atomic_bool done;   /* set by the worker as its last act */
};

struct egress {
	struct egress_policy pol; /* a deep copy, limits defaulted */
	int lfd;
	int stopfd;               /* eventfd, written once by egress_stop() */
	egress_event_fn fn;
	void *ctx;
	pthread_mutex_t ev_lock;  /* one event call at a time; guards rej[] */
	struct eg_rej {           /* EGRESS_EV_REJECTED per status, rate-limited */
		int status;
		uint64_t pending;     /* not reported yet */
		int64_t last_ms;      /* last reported, 0: never */
		char reason[160];     /* the last one's */
	} rej[3];                 /* 400, 408, 503 */
	pthread_t acceptor;
	pthread_attr_t attr;
	struct eg_slot *slots;
	int nslots;
	atomic_int active;
	/* The credential route (egress_start_routed), when rfd >= 0. */
	int rfd;
	struct {
		bool tls;
		char host[EG_HOST_MAX + 1];
		int port;
		char *base;             /* the upstream's path, "" or "/v1" */
		char *header, *prefix, *placeholder;
		char *value;            /* the credential: zeroed by egress_stop */
		size_t value_len;
		SSL_CTX *ssl;           /* https upstreams */
	} rt;
};

/* One direction of a relay.  Bytes move through a pipe with splice()
 * (no copy through user space); where a socket does not splice, through
 * a buffer.  Whatever is read is written out in the same turn of the
 * loop; the pipe may take more reads while the destination is slow, the
 * buffer only when it is empty. */
struct dir {
	int pr, pw;         /* the pipe, or -1 in buffer mode */
	size_t cap;         /* the pipe's capacity */
	char *buf;          /* buffer mode */
	size_t off;         /* buffer mode: pending bytes are buf[off .. off+len) */
	size_t len;         /* bytes read and not yet written */
	bool eof;           /* the source said EOF */
	uint64_t total;     /* bytes written to the destination */
};

struct conn {
	struct egress *eg;
	struct eg_slot *slot;
	int cfd, ufd;
	char head[EGRESS_MAX_HEAD + 1];
	size_t headlen, headend;
	int64_t t0;
	/* the request */
	char method[33];
	char version[9];
	char host[EG_HOST_MAX + 1];
	int port;
	bool connect;
	const char *path;       /* into head (NUL-terminated there) */
	size_t pathlen;
	/* the outcome */
	const char *rule;
	char addr[INET6_ADDRSTRLEN];
	char reason[160];
	int status;
	char peek[16];          /* the upstream's first bytes (plain HTTP status) */
	size_t peeklen;
	bool answered;          /* an error answer was written: linger before close */
	bool routed;            /* accepted on the credential route's listener */
	SSL *ssl;               /* a routed connection's TLS to the upstream */
	struct dir up, down;
};

static int remaining(int64_t deadline)
{
	int64_t left = deadline - now_mono_ms();
	return left <= 0 ? 0 : left > 1000000000 ? 1000000000 : (int)left;
}

/* Wait for `events` on fd until the deadline: 1 ready, 0 timed out, -1
 * stopping. */
static int wait_fd(const struct egress *eg, int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = events }, { .fd = eg->stopfd, .events = POLLIN } };
		int r = poll(p, 2, remaining(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || p[1].revents)
			return -1;
		if (r == 0)
			return 0;
		return 1;
	}
}

/* All of buf to a non-blocking socket before the deadline: 0, or -1. */
static int send_all(const struct egress *eg, int fd, const char *buf, size_t n, int64_t deadline)
{
	while (n) {
		ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
		if (w > 0) {
			buf += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (wait_fd(eg, fd, POLLOUT, deadline) != 1)
			return -1;
	}
	return 0;
}

static void reply(struct conn *c, int code, const char *text, const char *line)
{
	char msg[1024];
	int n = snprintf(msg, sizeof(msg),
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
			 code, text, strlen(line) + 1, line);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return;
	c->answered = true;
	(void)send_all(c->eg, c->cfd, msg, (size_t)n, now_mono_ms() + EG_REPLY_MS);
}

static void emit(struct conn *c, bool allowed)
{
	struct egress *eg = c->eg;
	if (!eg->fn)
		return;
	struct egress_event ev = {
		.kind = EGRESS_EV_REQUEST,
		.count = 1,
		.host = c->host,
		.port = c->port,
		.method = c->method,
		.rule = c->rule ? c->rule : "",
		.addr = c->addr[0] ? c->addr : NULL,
		.reason = c->reason[0] ? c->reason : NULL,
		.allowed = allowed,
		.status = c->status,
		.bytes_up = c->up.total,
		.bytes_down = c->down.total,
		.ms = (uint64_t)(now_mono_ms() - c->t0),
	};
	(void)pthread_mutex_lock(&eg->ev_lock);
	eg->fn(eg->ctx, &ev);
	(void)pthread_mutex_unlock(&eg->ev_lock);
}

static void rej_emit(struct egress *eg, struct eg_rej *r, const char *host, int64_t now)
{
	struct egress_event ev = { .kind = EGRESS_EV_REJECTED, .count = r->pending, .host = host,
				   .method = "", .rule = "", .reason = r->reason, .status = r->status };
	r->pending = 0;
	r->last_ms = now;
	eg->fn(eg->ctx, &ev);
}

/* A client answered 400, 408 or 503 before it named a target: counted,
 * and reported at once if it is the first of its status or the last
 * report is EGRESS_REJECT_EVERY_MS old, so a flood costs a counter, not
 * an event each. */
static void rejected(struct egress *eg, int status, const char *host, const char *why)
{
	if (!eg->fn)
		return;
	struct eg_rej *r = &eg->rej[status == 400 ? 0 : status == 408 ? 1 : 2];
	int64_t now = now_mono_ms();
	(void)pthread_mutex_lock(&eg->ev_lock);
	r->status = status;
	r->pending++;
	snprintf(r->reason, sizeof(r->reason), "%s", why);
	if (!r->last_ms || now - r->last_ms >= EGRESS_REJECT_EVERY_MS)
		rej_emit(eg, r, host ? host : "", now);
	(void)pthread_mutex_unlock(&eg->ev_lock);
}

/* A malformed request: 400 and a (rate-limited) rejection. */
static void bad_request(struct conn *c, const char *line)
{
	reply(c, 400, "Bad Request", line);
	rejected(c->eg, 400, c->host, line);
}

/* A refusal by the policy: 403, one line, one event. */
static void refuse(struct conn *c, const char *why)
{
	char line[400];
	snprintf(c->reason, sizeof(c->reason), "%s", why);
	c->status = 403;
	if (c->addr[0])
		snprintf(line, sizeof(line), "egress refused: %s port %d (address %s): %s", c->host,
			 c->port, c->addr, why);
	else
		snprintf(line, sizeof(line), "egress refused: %s port %d: %s", c->host, c->port, why);
	reply(c, 403, "Forbidden", line);
	emit(c, false);
}

/* An upstream failure after the policy said yes: 502 or 504, one event. */
static void fail(struct conn *c, int code, const char *why)
{
	char line[400];
	snprintf(c->reason, sizeof(c->reason), "%s", why);
	c->status = code;
	snprintf(line, sizeof(line), "egress: %s port %d: %s", c->host, c->port, why);
	reply(c, code, code == 504 ? "Gateway Timeout" : "Bad Gateway", line);
	emit(c, true);
}

/* ---- the request head --------------------------------------------------- */

enum head_rc { HEAD_OK, HEAD_GONE, HEAD_TIMEOUT, HEAD_TOO_BIG };

static enum head_rc read_head(struct conn *c)
{
	const struct egress *eg = c->eg;
	int64_t deadline = now_mono_ms() + eg->pol.header_timeout_ms;
	for (;;) {
		int w = wait_fd(eg, c->cfd, POLLIN, deadline);
		if (w < 0)
			return HEAD_GONE;
		if (w == 0)
			return HEAD_TIMEOUT;
		ssize_t r = recv(c->cfd, c->head + c->headlen, EGRESS_MAX_HEAD - c->headlen, 0);
		if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (r <= 0)
			return HEAD_GONE;
		size_t from = c->headlen >= 2 ? c->headlen - 2 : 0;
		c->headlen += (size_t)r;
		c->head[c->headlen] = '\0';
		for (size_t i = from; i < c->headlen; i++) {
			if (c->head[i] != '\n')
				continue;
			if (i + 1 < c->headlen && c->head[i + 1] == '\n') {
				c->headend = i + 2;
				return HEAD_OK;
			}
			if (i + 2 < c->headlen && c->head[i + 1] == '\r' && c->head[i + 2] == '\n') {
				c->headend = i + 3;
				return HEAD_OK;
			}
		}
		if (c->headlen >= EGRESS_MAX_HEAD)
			return HEAD_TOO_BIG;
	}
}

/* The line starting at *pos (within head[0..end)), without its \r\n:
 * returns its length and moves *pos past it; -1 at the end. */
static ssize_t next_line(const char *head, size_t end, size_t *pos, const char **line)
{
	if (*pos >= end)
		return -1;
	const char *s = head + *pos;
	const char *nl = memchr(s, '\n', end - *pos);
	size_t n = nl ? (size_t)(nl - s) : end - *pos;
	*pos += n + (nl ? 1 : 0);
	if (n && s[n - 1] == '\r')
		n--;
	*line = s;
	return (ssize_t)n;
}

static bool is_tchar(unsigned char ch)
{
	return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool token_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)s[i]))
			return false;
	return true;
}

/* The request line: method, target, version; the target to host, port
 * and (plain HTTP) path.  NULL or a static reason for the 400. */
static const char *parse_request_line(struct conn *c, bool origin_form)
{
	size_t pos = 0;
	const char *line;
	ssize_t n = next_line(c->head, c->headend, &pos, &line);
	if (n <= 0)
		return "empty request line";
	const char *sp1 = memchr(line, ' ', (size_t)n);
	if (!sp1)
		return "malformed request line";
	const char *target = sp1 + 1;
	const char *sp2 = memchr(target, ' ', (size_t)(line + n - target));
	if (!sp2 || memchr(sp2 + 1, ' ', (size_t)(line + n - sp2 - 1)))
		return "malformed request line";
	size_t ml = (size_t)(sp1 - line), tl = (size_t)(sp2 - target), vl = (size_t)(line + n - sp2 - 1);
	if (ml >= sizeof(c->method) || !token_ok(line, ml))
		return "malformed method";
	memcpy(c->method, line, ml);
	c->method[ml] = '\0';
	if (vl != 8 || (memcmp(sp2 + 1, "HTTP/1.1", 8) != 0 && memcmp(sp2 + 1, "HTTP/1.0", 8) != 0))
		return "only HTTP/1.0 and HTTP/1.1";
	memcpy(c->version, sp2 + 1, 8);
	c->version[8] = '\0';
	for (size_t i = 0; i < tl; i++)
		if ((unsigned char)target[i] <= ' ' || (unsigned char)target[i] >= 0x7f)
			return "malformed request target";

	const char *auth = target, *why, *h;
	size_t authlen = tl, hn;
	if (origin_form) {
		/* The credential route: "METHOD /path HTTP/1.1", to the route's upstream. */
		if (tl == 0 || target[0] != '/')
			return "the credential endpoint takes origin-form requests (\"POST /v1/messages\")";
		c->path = target;
		c->pathlen = tl;
		return NULL;
	}
	if (strcmp(c->method, "CONNECT") == 0) {
		c->connect = true;
	} else {
		if (tl >= 8 && strncasecmp(target, "https://", 8) == 0)
			return "https:// goes through CONNECT";
		if (tl < 7 || strncasecmp(target, "http://", 7) != 0)
			return "a proxy request is CONNECT host:port or an absolute http:// URL";
		auth = target + 7;
		authlen = strcspn(auth, "/?# ");
		if (authlen > (size_t)(sp2 - auth))
			authlen = (size_t)(sp2 - auth);
		if (memchr(auth, '@', authlen))
			return "credentials in the URL";
		c->path = auth + authlen;
		c->pathlen = (size_t)(sp2 - c->path);
	}
	if ((why = authority_split(auth, authlen, &h, &hn, &c->port)))
		return why;
	if ((why = host_norm(h, hn, true, c->host)))
		return why;
	if (c->connect && c->port == 0)
		return "CONNECT needs host:port";
	if (c->port == 0)
		c->port = 80;
	return NULL;
}

/* ---- resolution ----------------------------------------------------------
 * Names are resolved in a helper thread so that the worker can wait for
 * the answer, egress_stop() and its deadline at once.  The job has two
 * references (worker, helper); when the worker gives up (stop, deadline)
 * it detaches the helper, which frees the job when the resolver returns. */

struct resolve_job {
	atomic_int ref;
	int efd;                /* written by the helper when done */
	pthread_t tid;
	char host[EG_HOST_MAX + 1];
	char port[8];
	struct addrinfo *res;
	int rc;
	int sys_errno;          /* for EAI_SYSTEM */
};

static void job_unref(struct resolve_job *j)
{
	if (atomic_fetch_sub(&j->ref, 1) != 1)
		return;
	if (j->res)
		freeaddrinfo(j->res);
	(void)close(j->efd);
	free(j);
}

static void *resolve_main(void *arg)
{
	struct resolve_job *j = arg;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_protocol = IPPROTO_TCP };
	j->rc = getaddrinfo(j->host, j->port, &hints, &j->res);
	j->sys_errno = errno;
	uint64_t one = 1;
	(void)!write(j->efd, &one, sizeof(one));
	job_unref(j);
	return NULL;
}

/* 0 with *res, or -1 with the reason in c->reason and the answer given. */
static int resolve(struct conn *c, int64_t deadline, struct addrinfo **res)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_protocol = IPPROTO_TCP };
	char port[8];
	snprintf(port, sizeof(port), "%d", c->port);
	if (is_ipv4_literal(c->host) || is_ipv6_literal(c->host)) {
		hints.ai_flags = AI_NUMERICHOST;
		int rc = getaddrinfo(c->host, port, &hints, res);
		if (rc != 0) {
			fail(c, 502, gai_strerror(rc));
			return -1;
		}
		return 0;
	}
	struct resolve_job *j = xcalloc(1, sizeof(*j));
	j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (j->efd < 0) {
		free(j);
		fail(c, 502, "could not resolve: out of file descriptors");
		return -1;
	}
	snprintf(j->host, sizeof(j->host), "%s", c->host);
	snprintf(j->port, sizeof(j->port), "%s", port);
	atomic_init(&j->ref, 2);
	if (pthread_create(&j->tid, NULL, resolve_main, j) != 0) {
		(void)close(j->efd);
		free(j);
		fail(c, 502, "could not resolve: no thread");
		return -1;
	}
	int w = wait_fd(c->eg, j->efd, POLLIN, deadline);
	if (w != 1) {
		(void)pthread_detach(j->tid);
		job_unref(j);
		if (w == 0)
			fail(c, 504, "could not resolve the name in time");
		return -1;
	}
	(void)pthread_join(j->tid, NULL);
	int rc = j->rc, sys_errno = j->sys_errno;
	*res = j->res;
	j->res = NULL;
	job_unref(j);
	if (rc != 0) {
		char why[160];
		snprintf(why, sizeof(why), "could not resolve: %s", rc == EAI_SYSTEM ? strerror(sys_errno) : gai_strerror(rc));
		fail(c, 502, why);
		return -1;
	}
	return 0;
}

static void addr_string(const struct sockaddr *sa, char *out, size_t n)
{
	if (sa->sa_family == AF_INET)
		(void)inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)n);
	else if (sa->sa_family == AF_INET6)
		(void)inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)n);
	else
		snprintf(out, n, "?");
}

static void set_nodelay(int fd)
{
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Check every address, connect to the first allowed one that answers.
 * 0 with c->ufd, or -1 with the answer given. */
static int connect_upstream(struct conn *c, int64_t deadline, struct addrinfo *res)
{
	const struct egress_policy *pol = &c->eg->pol;
	const char *first_why = NULL;
	char first_addr[INET6_ADDRSTRLEN] = "";
	int allowed = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		const char *why;
		if (http_addr_check(ai->ai_addr, ai->ai_addrlen, pol->allow_loopback, pol->allow_private, &why) == 0) {
			allowed++;
			continue;
		}
		if (!first_why) {
			first_why = why;
			addr_string(ai->ai_addr, first_addr, sizeof(first_addr));
		}
		ai->ai_family = AF_UNSPEC; /* marks it refused */
	}
	if (!allowed) {
		snprintf(c->addr, sizeof(c->addr), "%s", first_addr);
		refuse(c, first_why ? first_why : "no address");
		return -1;
	}
	int err = 0;
	bool timed_out = false;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_UNSPEC)
			continue;
		addr_string(ai->ai_addr, c->addr, sizeof(c->addr));
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		set_nodelay(fd);
		int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (rc < 0 && errno == EINPROGRESS) {
			int w = wait_fd(c->eg, fd, POLLOUT, deadline);
			if (w < 0) {
				(void)close(fd);
				return -1;
			}
			if (w == 0) {
				timed_out = true;
				(void)close(fd);
				break;
			}
			socklen_t len = sizeof(err);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				err = errno;
			rc = err ? -1 : 0;
		} else if (rc < 0) {
			err = errno;
		}
		if (rc == 0) {
			c->ufd = fd;
			return 0;
		}
		(void)close(fd);
	}
	char why[160];
	if (timed_out) {
		snprintf(why, sizeof(why), "connect to %s timed out", c->addr);
		fail(c, 504, why);
	} else {
		snprintf(why, sizeof(why), "connect to %s: %s", c->addr, strerror(err ? err : EIO));
		fail(c, 502, why);
	}
	return -1;
}

/* ---- forwarding --------------------------------------------------------- */

static bool header_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* Is `name` one of the comma-separated tokens in the Connection header values? */
static bool named_by_connection(const char *conn_vals, size_t cn, const char *name, size_t n)
{
	size_t i = 0;
	while (i < cn) {
		while (i < cn && (conn_vals[i] == ',' || conn_vals[i] == ' ' || conn_vals[i] == '\t'))
			i++;
		size_t s = i;
		while (i < cn && conn_vals[i] != ',' && conn_vals[i] != ' ' && conn_vals[i] != '\t')
			i++;
		if (i - s == n && n > 0 && strncasecmp(conn_vals + s, name, n) == 0)
			return true;
	}
	return false;
}

/* The request head for the origin server: origin-form target, Host from
 * the URL, hop-by-hop headers (Connection and what it names, Keep-Alive,
 * Proxy-*, TE, Upgrade) dropped, "Connection: close".  NULL or a reason
 * for the 400. */
static const char *rewrite_head(struct conn *c, struct buf *out, int *code)
{
	const bool routed = c->routed;
	const struct egress *eg = c->eg;
	size_t want_len = 0, seen = 0;
	bool cred_ok = false;
	char want[256] = "";
	if (routed) {
		int wl = snprintf(want, sizeof(want), "%s%s", eg->rt.prefix, eg->rt.placeholder);
		want_len = wl > 0 && (size_t)wl < sizeof(want) ? (size_t)wl : 0;
	}
	*code = 400;
	size_t pos = 0;
	const char *line;
	ssize_t n;
	char conn_vals[512];
	size_t cn = 0;
	(void)next_line(c->head, c->headend, &pos, &line); /* the request line */
	size_t hdr_start = pos;
	/* First pass: validate, and collect what Connection names. */
	while ((n = next_line(c->head, c->headend, &pos, &line)) > 0) {
		if (line[0] == ' ' || line[0] == '\t')
			return "folded header line";
		const char *colon = memchr(line, ':', (size_t)n);
		if (!colon || !token_ok(line, (size_t)(colon - line)))
			return "malformed header line";
		for (ssize_t i = 0; i < n; i++)
			if (line[i] == '\0' || line[i] == '\r')
				return "malformed header line";
		if (routed && header_is(line, (size_t)(colon - line), eg->rt.header)) {
			const char *v = colon + 1, *e = line + n;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			seen++;
			cred_ok = want_len && (size_t)(e - v) == want_len && memcmp(v, want, want_len) == 0;
		}
		if (header_is(line, (size_t)(colon - line), "Connection")) {
			size_t vn = (size_t)(line + n - colon - 1);
			if (cn + vn + 1 < sizeof(conn_vals)) {
				memcpy(conn_vals + cn, colon + 1, vn);
				cn += vn;
				conn_vals[cn++] = ',';
			}
		}
	}
	if (routed && seen > 1)
		return "the credential header appears more than once";
	/* Without the header (a CLI's reachability probe) the request goes
	 * as it is, without the credential; with anything but the
	 * placeholder in it, nowhere. */
	if (routed && seen && !cred_ok) {
		*code = 403;
		return "its credential header does not hold this run's placeholder";
	}
	bool v6 = strchr(c->host, ':') != NULL;
	char hostport[EG_HOST_MAX + 16];
	if (routed ? c->port == (eg->rt.tls ? 443 : 80) : c->port == 80)
		snprintf(hostport, sizeof(hostport), "%s%s%s", v6 ? "[" : "", c->host, v6 ? "]" : "");
	else
		snprintf(hostport, sizeof(hostport), "%s%s%s:%d", v6 ? "[" : "", c->host, v6 ? "]" : "", c->port);
	int rc = buf_printf(out, "%s %s%s%.*s %s\r\nHost: %s\r\n", c->method,
			    routed ? eg->rt.base : "",
			    c->pathlen == 0 || c->path[0] != '/' ? "/" : "", (int)c->pathlen, c->path,
			    c->version, hostport);
	pos = hdr_start;
	while (rc == 0 && (n = next_line(c->head, c->headend, &pos, &line)) > 0) {
		size_t nl = (size_t)((const char *)memchr(line, ':', (size_t)n) - line);
		if (header_is(line, nl, "Host") || header_is(line, nl, "Connection") ||
		    header_is(line, nl, "Keep-Alive") || header_is(line, nl, "TE") ||
		    header_is(line, nl, "Upgrade") || (nl >= 6 && strncasecmp(line, "Proxy-", 6) == 0) ||
		    named_by_connection(conn_vals, cn, line, nl) ||
		    (routed && header_is(line, nl, "Expect")))
			continue;
		if (routed && header_is(line, nl, eg->rt.header)) {
			/* The placeholder out, the credential in. */
			if ((rc = buf_printf(out, "%s: %s", eg->rt.header, eg->rt.prefix)) == 0 &&
			    (rc = buf_append(out, eg->rt.value, eg->rt.value_len)) == 0)
				rc = buf_puts(out, "\r\n");
			continue;
		}
		if ((rc = buf_append(out, line, (size_t)n)) == 0)
			rc = buf_puts(out, "\r\n");
	}
	if (rc == 0)
		rc = buf_puts(out, "Connection: close\r\n\r\n");
	return rc == 0 ? NULL : "request head too large";
}

static void dir_init(struct dir *d)
{
	int p[2];
	memset(d, 0, sizeof(*d));
	d->pr = d->pw = -1;
#ifdef EGRESS_NO_SPLICE /* build with -DEGRESS_NO_SPLICE to test the buffer mode */
	return;
#endif
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
		d->pr = p[0];
		d->pw = p[1];
		(void)fcntl(d->pw, F_SETPIPE_SZ, EG_PIPE_SIZE); /* a smaller one does too */
		int sz = fcntl(d->pw, F_GETPIPE_SZ);
		d->cap = sz > 0 ? (size_t)sz : 4096;
	}
}

static void dir_free(struct dir *d)
{
	if (d->pr >= 0)
		(void)close(d->pr);
	if (d->pw >= 0)
		(void)close(d->pw);
	d->pr = d->pw = -1;
	free(d->buf);
	d->buf = NULL;
}

/* Buffer mode from now on; what the pipe holds moves to the buffer. */
static int dir_to_buffer(struct dir *d)
{
	d->buf = xmalloc(d->len > EG_RELAY_BUF ? d->len : EG_RELAY_BUF);
	d->off = 0;
	size_t have = 0;
	while (have < d->len) {
		ssize_t r = read(d->pr, d->buf + have, d->len - have);
		if (r <= 0)
			return -1;
		have += (size_t)r;
	}
	(void)close(d->pr);
	(void)close(d->pw);
	d->pr = d->pw = -1;
	return 0;
}

/* Bytes already received (after the request head) go first. */
static int dir_preload(struct dir *d, const char *p, size_t n)
{
	if (n == 0)
		return 0;
	if (d->pw >= 0) {
		ssize_t w = write(d->pw, p, n); /* n <= EGRESS_MAX_HEAD < a pipe's capacity */
		if (w == (ssize_t)n) {
			d->len = n;
			return 0;
		}
		return -1;
	}
	d->buf = xmalloc(EG_RELAY_BUF);
	memcpy(d->buf, p, n);
	d->off = 0;
	d->len = n;
	return 0;
}

/* Room for a read? */
static bool dir_room(const struct dir *d)
{
	return !d->eof && (d->pw >= 0 ? d->len < d->cap : d->len == 0);
}

/* One read from `from`: 1 read something, 0 nothing yet, -1 failed.
 * EOF sets d->eof. */
static int dir_fill(struct dir *d, int from)
{
	ssize_t got;
	if (d->pw >= 0) {
		got = splice(from, NULL, d->pw, NULL, d->cap - d->len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (got < 0 && (errno == EINVAL || errno == ENOSYS)) {
			if (dir_to_buffer(d) < 0)
				return -1;
			return d->len ? 0 : dir_fill(d, from); /* the buffer takes a read only when empty */
		}
	} else {
		if (!d->buf)
			d->buf = xmalloc(EG_RELAY_BUF);
		got = recv(from, d->buf, EG_RELAY_BUF, 0);
		d->off = 0;
	}
	if (got > 0) {
		d->len += (size_t)got;
		return 1;
	}
	if (got == 0) {
		d->eof = true;
		return 1;
	}
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
}

/* Write out what was read: 1 wrote something, 0 nothing could be
 * written now, -1 failed. */
static int dir_drain(struct dir *d, int to)
{
	bool moved = false;
	while (d->len) {
		ssize_t w;
		if (d->pr >= 0) {
			w = splice(d->pr, NULL, to, NULL, d->len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (w < 0 && (errno == EINVAL || errno == ENOSYS)) {
				if (dir_to_buffer(d) < 0)
					return -1;
				continue;
			}
		} else {
			w = send(to, d->buf + d->off, d->len, MSG_NOSIGNAL);
		}
		if (w > 0) {
			d->off += (size_t)w;
			d->len -= (size_t)w;
			d->total += (uint64_t)w;
			moved = true;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		return -1;
	}
	return moved;
}

/* One wait of a relay: `cev` on the client, `uev` on the upstream, and
 * the stop, until idle_timeout_ms after `last`.  1 with p[] filled, 0 to
 * try again (a signal), -1 to end (idle, stopping, a closed socket). */
static int relay_wait(struct conn *c, short cev, short uev, int64_t last, struct pollfd p[3])
{
	const struct egress *eg = c->eg;
	p[0] = (struct pollfd){ .fd = cev ? c->cfd : -1, .events = cev };
	p[1] = (struct pollfd){ .fd = uev ? c->ufd : -1, .events = uev };
	p[2] = (struct pollfd){ .fd = eg->stopfd, .events = POLLIN };
	int64_t idle_left = last + eg->pol.idle_timeout_ms - now_mono_ms();
	if (idle_left <= 0)
		return -1;
	int r = poll(p, 3, idle_left > 1000000000 ? 1000000000 : (int)idle_left);
	if (r < 0 && errno == EINTR)
		return 0;
	if (r <= 0 || p[2].revents || ((p[0].revents | p[1].revents) & POLLNVAL))
		return -1;
	return 1;
}

/* Relay both ways until the upstream has closed and everything it sent
 * has reached the client, or either side fails, or nothing moved for
 * idle_timeout_ms, or egress_stop().  The client closing its side
 * half-closes the upstream's (the response still comes back). */
static void relay(struct conn *c)
{
	struct dir *up = &c->up, *down = &c->down;
	bool up_shut = false;
	int64_t last = now_mono_ms();
	for (;;) {
		if (up->eof && up->len == 0 && !up_shut) {
			(void)shutdown(c->ufd, SHUT_WR);
			up_shut = true;
		}
		if (down->eof && down->len == 0)
			return;
		short cev = (short)((dir_room(up) ? POLLIN : 0) | (down->len ? POLLOUT : 0));
		short uev = (short)((dir_room(down) ? POLLIN : 0) | (up->len ? POLLOUT : 0));
		struct pollfd p[3];
		int r = relay_wait(c, cev, uev, last, p);
		if (r == 0)
			continue;
		if (r < 0)
			return;
		bool moved = false;
		/* Each read is written out at once: a byte read is a byte sent. */
		struct {
			int from, to;
			short frev;
			struct dir *d;
		} legs[2] = {
			{ c->cfd, c->ufd, p[0].revents, up },
			{ c->ufd, c->cfd, p[1].revents, down },
		};
		for (int i = 0; i < 2; i++) {
			struct dir *d = legs[i].d;
			int rc;
			if (dir_room(d) && (legs[i].frev & (POLLIN | POLLHUP | POLLERR))) {
				if (d == down && !c->connect && c->peeklen == 0 && d->total == 0 && d->len == 0) {
					/* The status line, for the event. */
					ssize_t k = recv(c->ufd, c->peek, sizeof(c->peek), MSG_PEEK);
					c->peeklen = k > 0 ? (size_t)k : 0;
				}
				if ((rc = dir_fill(d, legs[i].from)) < 0)
					return;
				moved |= rc > 0;
			}
			if ((rc = dir_drain(d, legs[i].to)) < 0)
				return;
			moved |= rc > 0;
		}
		if (moved)
			last = now_mono_ms();
		else if ((p[0].revents | p[1].revents) & (POLLERR | POLLHUP))
			return; /* a socket failed with nothing we can do about it */
	}
}

/* The request head, or the answer for a client that sent none in time
 * or too large a one (`who` starts the message): false then. */
static bool head_in(struct conn *c, const char *who)
{
	char line[128];
	switch (read_head(c)) {
	case HEAD_OK:
		return true;
	case HEAD_GONE:
		return false;
	case HEAD_TIMEOUT:
		snprintf(line, sizeof(line), "%s: no complete request head in time", who);
		reply(c, 408, "Request Timeout", line);
		rejected(c->eg, 408, "", line);
		return false;
	case HEAD_TOO_BIG:
	default:
		snprintf(line, sizeof(line), "%s: request head too large (limit 16 KiB)", who);
		bad_request(c, line);
		return false;
	}
}

static void serve(struct conn *c)
{
	struct egress *eg = c->eg;
	const char *why;
	if (!head_in(c, "egress"))
		return;
	c->t0 = now_mono_ms();
	if ((why = parse_request_line(c, false))) {
		char line[200];
		snprintf(line, sizeof(line), "egress: bad request: %s", why);
		bad_request(c, line);
		return;
	}
	if (!policy_allows_norm(&eg->pol, c->host, c->port, &c->rule, &why)) {
		refuse(c, why);
		return;
	}
	int64_t deadline = now_mono_ms() + eg->pol.connect_timeout_ms;
	struct buf fwd;
	int code;
	buf_init(&fwd, EGRESS_MAX_HEAD + 1024);
	if (!c->connect && (why = rewrite_head(c, &fwd, &code))) {
		char line[200];
		buf_free(&fwd);
		snprintf(line, sizeof(line), "egress: bad request: %s", why);
		bad_request(c, line);
		return;
	}
	struct addrinfo *res = NULL;
	if (resolve(c, deadline, &res) < 0) {
		buf_free(&fwd);
		return;
	}
	int rc = connect_upstream(c, deadline, res);
	freeaddrinfo(res);
	if (rc < 0) {
		buf_free(&fwd);
		return;
	}
	dir_init(&c->up);
	dir_init(&c->down);
	int64_t wd = now_mono_ms() + EG_REPLY_MS;
	if (c->connect) {
		static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
		c->status = 200;
		rc = send_all(eg, c->cfd, ok, sizeof(ok) - 1, wd);
	} else {
		rc = send_all(eg, c->ufd, fwd.data, fwd.len, wd);
		if (rc == 0)
			c->up.total += fwd.len;
	}
	buf_free(&fwd);
	if (rc == 0) {
		/* What came after the head (a body, a TLS hello) goes first. */
		if (dir_preload(&c->up, c->head + c->headend, c->headlen - c->headend) == 0)
			relay(c);
	}
	if (!c->connect) {
		const char *p = c->peek;
		if (c->peeklen >= 12 && memcmp(p, "HTTP/1.", 7) == 0 && p[8] == ' ' && isdigit((unsigned char)p[9]) &&
		    isdigit((unsigned char)p[10]) && isdigit((unsigned char)p[11]))
			c->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	}
	emit(c, true);
}

/* ---- the credential route ------------------------------------------------
 * One origin-form request per connection: the head rewritten (upstream
 * path and Host, the placeholder replaced by the credential, hop-by-hop
 * headers and Expect dropped, "Connection: close"), then both ways
 * through buffers (TLS does not splice) with the upstream's response
 * head rewritten to "Connection: close" too, so the client never reuses
 * a connection the proxy will not carry a second request on. */

enum { IO_ERR = -1, IO_AGAIN_IN = -2, IO_AGAIN_OUT = -3 };

static ssize_t io_errno(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? IO_AGAIN_IN : IO_ERR;
}

static ssize_t ssl_io_rc(SSL *ssl, int r)
{
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_WANT_READ:
		return IO_AGAIN_IN;
	case SSL_ERROR_WANT_WRITE:
		return IO_AGAIN_OUT;
	default:
		return IO_ERR;
	}
}

static ssize_t up_recv(struct conn *c, char *b, size_t n)
{
	if (!c->ssl) {
		ssize_t r = recv(c->ufd, b, n, 0);
		return r >= 0 ? r : io_errno();
	}
	ERR_clear_error();
	int r = SSL_read(c->ssl, b, n > INT32_MAX ? INT32_MAX : (int)n);
	return r > 0 ? r : ssl_io_rc(c->ssl, r);
}

static ssize_t up_send(struct conn *c, const char *b, size_t n)
{
	if (!c->ssl) {
		ssize_t w = send(c->ufd, b, n, MSG_NOSIGNAL);
		if (w >= 0)
			return w;
		ssize_t e = io_errno();
		return e == IO_AGAIN_IN ? IO_AGAIN_OUT : e;
	}
	ERR_clear_error();
	int w = SSL_write(c->ssl, b, n > INT32_MAX ? INT32_MAX : (int)n);
	return w > 0 ? w : ssl_io_rc(c->ssl, w);
}

/* TLS to the route's upstream, verified against the CA store for its
 * name (or IP literal).  0, or -1 with the answer given. */
static int tls_connect(struct conn *c, int64_t deadline)
{
	const struct egress *eg = c->eg;
	SSL *ssl = SSL_new(eg->rt.ssl);
	if (!ssl || SSL_set_fd(ssl, c->ufd) != 1) {
		SSL_free(ssl);
		fail(c, 502, "TLS: cannot set up a session");
		return -1;
	}
	bool literal = is_ipv4_literal(c->host) || is_ipv6_literal(c->host);
	if (!literal)
		(void)SSL_set_tlsext_host_name(ssl, c->host);
	if (literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), c->host) != 1
		    : SSL_set1_host(ssl, c->host) != 1) {
		SSL_free(ssl);
		fail(c, 502, "TLS: cannot set the name to verify");
		return -1;
	}
	SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	for (;;) {
		ERR_clear_error();
		int r = SSL_connect(ssl);
		if (r == 1)
			break;
		ssize_t k = ssl_io_rc(ssl, r);
		int w = k == IO_AGAIN_IN ? wait_fd(eg, c->ufd, POLLIN, deadline)
			: k == IO_AGAIN_OUT ? wait_fd(eg, c->ufd, POLLOUT, deadline) : -2;
		if (w == 1)
			continue;
		char why[400];
		long vr = SSL_get_verify_result(ssl);
		if (w == 0)
			snprintf(why, sizeof(why), "TLS handshake with %.100s timed out", c->host);
		else if (vr != X509_V_OK)
			snprintf(why, sizeof(why), "TLS: %.100s: certificate not trusted: %.120s", c->host,
				 X509_verify_cert_error_string(vr));
		else {
			char e[120];
			ERR_error_string_n(ERR_peek_last_error(), e, sizeof(e));
			snprintf(why, sizeof(why), "TLS handshake with %.100s failed: %s", c->host, e);
		}
		SSL_free(ssl);
		if (w != -1)
			fail(c, w == 0 ? 504 : 502, why);
		return -1;
	}
	c->ssl = ssl;
	return 0;
}

/* The upstream's response head h[0..n) for the client: status kept,
 * Connection/Keep-Alive (and what Connection names) dropped,
 * "Connection: close" added.  -1 if it is not an HTTP response head. */
static int route_resp_head(struct conn *c, const char *h, size_t n, struct buf *out)
{
	size_t pos = 0;
	const char *line;
	ssize_t ln = next_line(h, n, &pos, &line);
	if (ln < 12 || memcmp(line, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)line[9]) ||
	    !isdigit((unsigned char)line[10]) || !isdigit((unsigned char)line[11]))
		return -1;
	c->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	(void)buf_append(out, line, (size_t)ln);
	(void)buf_puts(out, "\r\n");
	size_t hdr = pos;
	char conn_vals[512];
	size_t cn = 0;
	while ((ln = next_line(h, n, &pos, &line)) > 0) {
		const char *colon = memchr(line, ':', (size_t)ln);
		if (colon && header_is(line, (size_t)(colon - line), "Connection")) {
			size_t vn = (size_t)(line + ln - colon - 1);
			if (cn + vn + 1 < sizeof(conn_vals)) {
				memcpy(conn_vals + cn, colon + 1, vn);
				cn += vn;
				conn_vals[cn++] = ',';
			}
		}
	}
	pos = hdr;
	while ((ln = next_line(h, n, &pos, &line)) > 0) {
		const char *colon = memchr(line, ':', (size_t)ln);
		size_t nl = colon ? (size_t)(colon - line) : (size_t)ln;
		if (header_is(line, nl, "Connection") || header_is(line, nl, "Keep-Alive") ||
		    named_by_connection(conn_vals, cn, line, nl))
			continue;
		(void)buf_append(out, line, (size_t)ln);
		(void)buf_puts(out, "\r\n");
	}
	return buf_puts(out, "Connection: close\r\n\r\n") == 0 ? 0 : -1;
}

/* Zero a buffer that held the credential, then free it. */
static void buf_wipe(struct buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->alloc);
	buf_free(b);
}

/* Where the response head ends in h[0..n): the offset past the blank
 * line, or 0. */
static size_t head_end(const char *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (h[i] != '\n')
			continue;
		if (i + 1 < n && h[i + 1] == '\n')
			return i + 2;
		if (i + 2 < n && h[i + 1] == '\r' && h[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Both ways until the upstream has closed and the client has all of its
 * answer, or a side fails, or idle_timeout_ms, or egress_stop().  `upq`
 * starts with the rewritten head and what followed the request head. */
static void route_relay(struct conn *c, struct buf *upq)
{
	struct buf dq, rh;
	buf_init(&dq, 0);
	buf_init(&rh, EG_RESP_HEAD_MAX);
	size_t uoff = 0, doff = 0;
	bool cl_eof = false, up_eof = false, head_done = false;
	char *chunk = xmalloc(EG_RELAY_BUF);
	int64_t last = now_mono_ms();
	for (;;) {
		bool moved = false, u_in = false, u_out = false;
		if (!cl_eof && uoff == upq->len) {
			if (upq->len) {
				/* The head with the credential is out: nothing of it stays. */
				explicit_bzero(upq->data, upq->alloc);
				buf_reset(upq);
				uoff = 0;
			}
			ssize_t r = recv(c->cfd, chunk, EG_RELAY_BUF, 0);
			if (r > 0) {
				if (buf_append(upq, chunk, (size_t)r) < 0)
					break;
				moved = true;
			} else if (r == 0) {
				cl_eof = true;
			} else if (io_errno() == IO_ERR) {
				break;
			}
		}
		if (uoff < upq->len) {
			ssize_t w = up_send(c, upq->data + uoff, upq->len - uoff);
			if (w > 0) {
				uoff += (size_t)w;
				c->up.total += (uint64_t)w;
				moved = true;
			} else if (w == IO_AGAIN_IN || w == IO_AGAIN_OUT) {
				u_in |= w == IO_AGAIN_IN;
				u_out |= w == IO_AGAIN_OUT;
			} else {
				break;
			}
		}
		if (!up_eof && doff == dq.len) {
			buf_reset(&dq);
			doff = 0;
			ssize_t r = up_recv(c, chunk, EG_RELAY_BUF);
			if (r > 0) {
				moved = true;
				if (head_done) {
					if (buf_append(&dq, chunk, (size_t)r) < 0)
						break;
				} else if (buf_append(&rh, chunk, (size_t)r) < 0) {
					fail(c, 502, "the upstream's response head is too large");
					break;
				} else {
					size_t end = head_end(rh.data, rh.len);
					if (end && route_resp_head(c, rh.data, end, &dq) < 0) {
						fail(c, 502, "the upstream did not answer in HTTP/1.x");
						break;
					}
					if (end && buf_append(&dq, rh.data + end, rh.len - end) < 0)
						break;
					head_done |= end != 0;
				}
			} else if (r == 0) {
				up_eof = true;
			} else if (r == IO_AGAIN_IN || r == IO_AGAIN_OUT) {
				u_in |= r == IO_AGAIN_IN;
				u_out |= r == IO_AGAIN_OUT;
			} else {
				break;
			}
		}
		if (doff < dq.len) {
			ssize_t w = send(c->cfd, dq.data + doff, dq.len - doff, MSG_NOSIGNAL);
			if (w > 0) {
				doff += (size_t)w;
				c->down.total += (uint64_t)w;
				moved = true;
			} else if (w < 0 && io_errno() == IO_ERR) {
				break;
			}
		}
		if (up_eof && doff == dq.len) {
			if (!head_done)
				fail(c, 502, "the upstream closed without an answer");
			break;
		}
		if (moved) {
			last = now_mono_ms();
			continue;
		}
		short cev = (short)((!cl_eof && uoff == upq->len ? POLLIN : 0) | (doff < dq.len ? POLLOUT : 0));
		short uev = (short)((u_in ? POLLIN : 0) | (u_out ? POLLOUT : 0));
		struct pollfd p[3];
		int r = relay_wait(c, cev, uev, last, p);
		if (r == 0)
			continue;
		if (r < 0)
			break;
		if ((p[0].revents & (POLLERR | POLLHUP)) && !(p[0].revents & POLLIN) && cev)
			cl_eof = true;
	}
	free(chunk);
	buf_free(&dq);
	buf_free(&rh);
}

static void serve_route(struct conn *c)
{
	struct egress *eg = c->eg;
	const char *why;
	if (!head_in(c, "credential route"))
		return;
	c->t0 = now_mono_ms();
	snprintf(c->host, sizeof(c->host), "%s", eg->rt.host);
	c->port = eg->rt.port;
	c->rule = "credential route";
	char line[300];
	if ((why = parse_request_line(c, true))) {
		snprintf(line, sizeof(line), "credential route: bad request: %s", why);
		bad_request(c, line);
		return;
	}
	struct buf fwd;
	int code;
	buf_init(&fwd, EGRESS_MAX_HEAD + 1024);
	if ((why = rewrite_head(c, &fwd, &code))) {
		buf_wipe(&fwd);
		if (code == 403) {
			/* Not this run's placeholder: nothing goes out with the credential. */
			snprintf(line, sizeof(line), "request refused: %s", why);
			refuse(c, line);
		} else {
			snprintf(line, sizeof(line), "credential route: bad request: %s", why);
			bad_request(c, line);
		}
		return;
	}
	int64_t deadline = now_mono_ms() + eg->pol.connect_timeout_ms;
	struct addrinfo *res = NULL;
	int rc = resolve(c, deadline, &res);
	if (rc == 0) {
		rc = connect_upstream(c, deadline, res);
		freeaddrinfo(res);
	}
	if (rc == 0 && eg->rt.tls)
		rc = tls_connect(c, deadline);
	/* From here it holds at most the head and one read of the client's
	 * (route_relay reads only once it is all sent). */
	fwd.cap = 0;
	if (rc == 0 && buf_append(&fwd, c->head + c->headend, c->headlen - c->headend) == 0) {
		route_relay(c, &fwd);
		if (!c->reason[0])
			emit(c, true);
	}
	buf_wipe(&fwd);
}

/* After an error answer: end our side, then read (and drop) what the
 * client still sends for a short while, so that closing with unread
 * bytes does not reset the connection before the answer is read. */
static void linger_close(struct conn *c)
{
	char sink[4096];
	size_t total = 0;
	int64_t deadline = now_mono_ms() + 500;
	(void)shutdown(c->cfd, SHUT_WR);
	while (total < 256 * 1024 && wait_fd(c->eg, c->cfd, POLLIN, deadline) == 1) {
		ssize_t r = recv(c->cfd, sink, sizeof(sink), 0);
		if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (r <= 0)
			break;
		total += (size_t)r;
	}
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct eg_slot *slot = c->slot;
	struct egress *eg = c->eg;
	if (c->routed)
		serve_route(c);
	else
		serve(c);
	if (c->answered)
		linger_close(c);
	if (c->ssl) {
		(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	(void)close(c->cfd);
	if (c->ufd >= 0)
		(void)close(c->ufd);
	dir_free(&c->up);
	dir_free(&c->down);
	free(c);
	(void)atomic_fetch_sub(&eg->active, 1);
	atomic_store(&slot->done, true);
	return NULL;
}

/* Past the cap: a 503 without blocking the acceptor, then close. */
static void refuse_busy(struct egress *eg, int fd)
{
	char msg[256];
	char body[96];
	int bn = snprintf(body, sizeof(body), "egress: too many connections (limit %d)\n", eg->pol.max_conns);
	int n = snprintf(msg, sizeof(msg),
			 "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
			 "Content-Length: %d\r\nConnection: close\r\nRetry-After: 1\r\n\r\n%s",
			 bn, body);
	if (n > 0 && (size_t)n < sizeof(msg))
		(void)!send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	/* Read what the client already sent so that close() does not reset
	 * the connection before the answer is read. */
	(void)shutdown(fd, SHUT_WR);
	char sink[4096];
	(void)!recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
	(void)close(fd);
}

static void reap(struct egress *eg, bool all)
{
	for (int i = 0; i < eg->nslots; i++) {
		struct eg_slot *s = &eg->slots[i];
		if (s->used && (all || atomic_load(&s->done))) {
			(void)pthread_join(s->tid, NULL);
			s->used = false;
		}
	}
}

static void *accept_main(void *arg)
{
	struct egress *eg = arg;
	for (;;) {
		struct pollfd p[3] = { { .fd = eg->lfd, .events = POLLIN }, { .fd = eg->stopfd, .events = POLLIN },
				       { .fd = eg->rfd, .events = POLLIN } };
		int r = poll(p, 3, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || p[1].revents)
			break;
		bool routed = !(p[0].revents & POLLIN) && (p[2].revents & POLLIN);
		int fd = accept4(routed ? eg->rfd : eg->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* Out of descriptors: back off instead of spinning. */
				struct pollfd s = { .fd = eg->stopfd, .events = POLLIN };
				(void)poll(&s, 1, 100);
			}
			continue;
		}
		reap(eg, false);
		struct eg_slot *slot = NULL;
		for (int i = 0; i < eg->nslots && !slot; i++)
			if (!eg->slots[i].used)
				slot = &eg->slots[i];
		if (!slot) {
			refuse_busy(eg, fd);
			char why[96];
			snprintf(why, sizeof(why), "egress: too many connections (limit %d)", eg->pol.max_conns);
			rejected(eg, 503, "", why);
			continue;
		}
		set_nodelay(fd);
		struct conn *c = xcalloc(1, sizeof(*c));
		c->eg = eg;
		c->slot = slot;
		c->cfd = fd;
		c->routed = routed;
		c->ufd = -1;
		c->up.pr = c->up.pw = c->down.pr = c->down.pw = -1;
		c->t0 = now_mono_ms();
		atomic_store(&slot->done, false);
		(void)atomic_fetch_add(&eg->active, 1);
		if (pthread_create(&slot->tid, &eg->attr, conn_main, c) != 0) {
			(void)atomic_fetch_sub(&eg->active, 1);
			free(c);
			refuse_busy(eg, fd);
			continue;
		}
		slot->used = true;
	}
	return NULL;
}

static void policy_copy(struct egress_policy *dst, const struct egress_policy *src)
{
	*dst = *src;
	dst->rules = src->nrules ? xcalloc(src->nrules, sizeof(*dst->rules)) : NULL;
	for (size_t i = 0; i < src->nrules; i++) {
		dst->rules[i] = src->rules[i];
		dst->rules[i].host = xstrdup(src->rules[i].host);
		dst->rules[i].text = xstrdup(src->rules[i].text);
	}
	if (dst->max_conns <= 0)
		dst->max_conns = EG_DEF_MAX_CONNS;
	if (dst->header_timeout_ms <= 0)
		dst->header_timeout_ms = EG_DEF_HEADER_MS;
	if (dst->connect_timeout_ms <= 0)
		dst->connect_timeout_ms = EG_DEF_CONNECT_MS;
	if (dst->idle_timeout_ms <= 0)
		dst->idle_timeout_ms = EG_DEF_IDLE_MS;
}

/* A listening stream socket, made non-blocking: 0, or -1 with err. */
static int listener_ok(int fd, char *err, size_t errlen)
{
	int type = 0, acc = 0;
	socklen_t tl = sizeof(type), al = sizeof(acc);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al) < 0 || type != SOCK_STREAM || !acc)
		return errf(err, errlen, -EINVAL, "egress: fd %d is not a listening stream socket", fd);
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return errf(err, errlen, -errno, "egress: fd %d: %s", fd, strerror(errno));
	return 0;
}

static void route_free(struct egress *eg)
{
	free(eg->rt.base);
	free(eg->rt.header);
	free(eg->rt.prefix);
	free(eg->rt.placeholder);
	secure_free(eg->rt.value, eg->rt.value_len);
	SSL_CTX_free(eg->rt.ssl);
	memset(&eg->rt, 0, sizeof(eg->rt));
}

/* The route's upstream URL and TLS context into eg->rt. */
const char *egress_url_split(const char *url, char *host, int *port, bool *tls, const char **why)
{
	const char *u = url ? url : "";
	const char *auth = !strncmp(u, "https://", 8) ? u + 8 : !strncmp(u, "http://", 7) ? u + 7 : NULL;
	if (!auth) {
		*why = "is not http(s)://";
		return NULL;
	}
	*tls = auth == u + 8;
	size_t an = strcspn(auth, "/?#");
	const char *h;
	size_t hn;
	if (memchr(auth, '@', an) || auth[an] == '?' || auth[an] == '#') {
		*why = "bad host";
		return NULL;
	}
	if ((*why = authority_split(auth, an, &h, &hn, port)) || (*why = host_norm(h, hn, true, host)))
		return NULL;
	if (*port == 0)
		*port = *tls ? 443 : 80;
	return auth + an;
}

static int route_init(struct egress *eg, const struct egress_route *r, char *err, size_t errlen)
{
	const char *u = r->upstream ? r->upstream : "", *why;
	const char *path = egress_url_split(u, eg->rt.host, &eg->rt.port, &eg->rt.tls, &why);
	if (!path)
		return errf(err, errlen, -EINVAL, "credential route: upstream \"%.*s\": %s", EG_SHOWN_MAX, u,
			    why);
	eg->rt.base = xstrdup(path);
	size_t bl = strlen(eg->rt.base);
	while (bl && eg->rt.base[bl - 1] == '/')
		eg->rt.base[--bl] = '\0';
	if (!r->header || !token_ok(r->header, strlen(r->header)) || !r->placeholder ||
	    !*r->placeholder || strpbrk(r->placeholder, "\r\n") || (r->prefix && strpbrk(r->prefix, "\r\n")) ||
	    !r->value || memchr(r->value, '\r', r->value_len) || memchr(r->value, '\n', r->value_len) ||
	    memchr(r->value, '\0', r->value_len))
		return errf(err, errlen, -EINVAL,
			    "credential route: a header name, a placeholder and a one-line credential are needed");
	eg->rt.header = xstrdup(r->header);
	eg->rt.prefix = xstrdup(r->prefix ? r->prefix : "");
	eg->rt.placeholder = xstrdup(r->placeholder);
	eg->rt.value = xmalloc(r->value_len + 1);
	memcpy(eg->rt.value, r->value, r->value_len);
	eg->rt.value[r->value_len] = '\0';
	eg->rt.value_len = r->value_len;
	if (!eg->rt.tls)
		return 0;
	eg->rt.ssl = SSL_CTX_new(TLS_client_method());
	if (!eg->rt.ssl)
		return errf(err, errlen, -ENOMEM, "credential route: no TLS context");
	(void)SSL_CTX_set_min_proto_version(eg->rt.ssl, TLS1_2_VERSION);
	/* Servers that close after "Connection: close" often skip close_notify. */
	(void)SSL_CTX_set_options(eg->rt.ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	int ok = r->ca_file ? SSL_CTX_load_verify_locations(eg->rt.ssl, r->ca_file, NULL)
			    : SSL_CTX_set_default_verify_paths(eg->rt.ssl);
	if (ok != 1)
		return errf(err, errlen, -EINVAL, "credential route: cannot load CA certificates%s%s",
			    r->ca_file ? " from " : "", r->ca_file ? r->ca_file : "");
	return 0;
}

struct egress *egress_start(const struct egress_policy *pol, int listen_fd, egress_event_fn fn,
			    void *ctx, char *err, size_t errlen)
{
	return egress_start_routed(pol, listen_fd, NULL, -1, fn, ctx, err, errlen);
}

struct egress *egress_start_routed(const struct egress_policy *pol, int listen_fd,
				   const struct egress_route *route, int route_fd,
				   egress_event_fn fn, void *ctx, char *err, size_t errlen)
{
	if (!pol || listen_fd < 0 || (route && route_fd < 0)) {
		(void)errf(err, errlen, -EINVAL, "egress: no policy or no socket");
		return NULL;
	}
	if (listener_ok(listen_fd, err, errlen) < 0 || (route && listener_ok(route_fd, err, errlen) < 0))
		return NULL;
	struct egress *eg = xcalloc(1, sizeof(*eg));
	eg->rfd = -1;
	if (route && route_init(eg, route, err, errlen) < 0) {
		route_free(eg);
		free(eg);
		return NULL;
	}
	if (route)
		eg->rfd = route_fd;
	policy_copy(&eg->pol, pol);
	eg->lfd = listen_fd;
	eg->fn = fn;
	eg->ctx = ctx;
	eg->nslots = eg->pol.max_conns;
	eg->slots = xcalloc((size_t)eg->nslots, sizeof(*eg->slots));
	atomic_init(&eg->active, 0);
	eg->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (eg->stopfd < 0) {
		(void)errf(err, errlen, -errno, "egress: eventfd: %s", strerror(errno));
		goto fail;
	}
	(void)pthread_mutex_init(&eg->ev_lock, NULL);
	(void)pthread_attr_init(&eg->attr);
	(void)pthread_attr_setstacksize(&eg->attr, EG_THREAD_STACK);
	/* The proxy's threads (the acceptor's children inherit its mask)
	 * block SIGPIPE: splice() into a socket the peer has closed raises
	 * it, and the process serving a run must not die of a client. */
	sigset_t pipe_set, old_set;
	(void)sigemptyset(&pipe_set);
	(void)sigaddset(&pipe_set, SIGPIPE);
	(void)pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
	int rc = pthread_create(&eg->acceptor, NULL, accept_main, eg);
	(void)pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	if (rc != 0) {
		(void)errf(err, errlen, -rc, "egress: thread: %s", strerror(rc));
		(void)pthread_attr_destroy(&eg->attr);
		(void)pthread_mutex_destroy(&eg->ev_lock);
		(void)close(eg->stopfd);
		goto fail;
	}
	return eg;
fail:
	egress_policy_free(&eg->pol);
	route_free(eg);
	free(eg->slots);
	free(eg);
	return NULL;
}

void egress_stop(struct egress *eg)
{
	if (!eg)
		return;
	uint64_t one = 1;
	(void)!write(eg->stopfd, &one, sizeof(one));
	(void)pthread_join(eg->acceptor, NULL);
	reap(eg, true);
	/* The rejections counted since their last report. */
	for (int i = 0; eg->fn && i < 3; i++)
		if (eg->rej[i].pending)
			rej_emit(eg, &eg->rej[i], "", now_mono_ms());
	(void)close(eg->lfd);
	if (eg->rfd >= 0)
		(void)close(eg->rfd);
	route_free(eg);
	(void)close(eg->stopfd);
	(void)pthread_attr_destroy(&eg->attr);
	(void)pthread_mutex_destroy(&eg->ev_lock);
	egress_policy_free(&eg->pol);
	free(eg->slots);
	free(eg);
}

int egress_active(struct egress *eg)
{
	return eg ? atomic_load(&eg->active) : 0;
}
