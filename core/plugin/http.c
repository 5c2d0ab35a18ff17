/* SPDX-License-Identifier: MIT */
/*
 * plugin/http.c - http_fetch(): one HTTP GET with libcurl's easy API under hard
 * limits.  What it owns:
 *
 *  - the scheme policy (http/https only, also on every redirect hop);
 *  - the address policy, checked in CURLOPT_OPENSOCKETFUNCTION on the
 *    address curl is about to connect to (so DNS answers, redirects and
 *    rebinding cannot sneak past it);
 *  - the limits: whole-transfer deadline across all hops, redirect count,
 *    body size (CURLOPT_MAXFILESIZE for a declared length, the write
 *    callback for everything else);
 *  - redirects, followed here rather than by curl so that request headers
 *    (which may carry secrets) are only ever sent to the origin of the
 *    URL they were written for;
 *  - messages that name the URL without userinfo, query or fragment.
 *
 * The address policy itself is http_addr_check() (http.h), shared with
 * the egress proxy (proxy/egress.c) so that it exists once.
 *
 * Environment proxies are ignored (CURLOPT_PROXY ""): a proxy would make
 * the address policy check the proxy instead of the real destination.
 */
#include "config.h"
#include "plugin/http.h"
#include "base/util.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define HTTP_DEFAULT_MAX_BYTES (1024 * 1024)
#define HTTP_DEFAULT_TIMEOUT_MS 10000L
#define HTTP_DEFAULT_MAX_REDIRECTS 3L
#define HTTP_MAX_HEADERS 64
#define HTTP_SHOWN_URL_MAX 200

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLcode http_init_rc = CURLE_FAILED_INIT;

static void http_global_init(void)
{
	http_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- URL handling --------------------------------------------------- */

/* Parse `url`; refuses anything but http and https.  Owned *out. */
static int http_parse_url(const char *url, CURLU **out)
{
	CURLU *u = curl_url();
	char *scheme = NULL;
	int rc = -EINVAL;
	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || !scheme)
		goto out;
	if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
		rc = -EPERM;
		goto out;
	}
	*out = u;
	u = NULL;
	rc = 0;
out:
	curl_free(scheme);
	curl_url_cleanup(u);
	return rc;
}

/* The URL as shown in messages: no userinfo, query or fragment, control
 * bytes replaced, bounded.  Writes into `dst` (always NUL-terminated). */
static void http_shown_url(const char *url, char *dst, size_t n)
{
	CURLU *u = curl_url();
	char *s = NULL;
	const char *src = NULL;
	if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
		curl_url_set(u, CURLUPART_USER, NULL, 0);
		curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
		curl_url_set(u, CURLUPART_OPTIONS, NULL, 0);
		curl_url_set(u, CURLUPART_QUERY, NULL, 0);
		curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
		if (curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK)
			src = s;
	}
	if (!src) {
		/* Unparseable: show only up to the authority's end, without
		 * anything that could be userinfo. */
		src = "(unparseable URL)";
	}
	size_t j = 0;
	for (size_t i = 0; src[i] && j + 4 < n; i++) {
		unsigned char c = (unsigned char)src[i];
		if (i >= HTTP_SHOWN_URL_MAX) {
			memcpy(dst + j, "...", 3);
			j += 3;
			break;
		}
		dst[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (n)
		dst[j < n ? j : n - 1] = '\0';
	curl_free(s);
	curl_url_cleanup(u);
}

/* True when a and b have the same scheme, host and port. */
static bool http_same_origin(CURLU *a, CURLU *b)
{
	static const CURLUPart parts[] = { CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT };
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
		char *x = NULL, *y = NULL;
		unsigned fl = parts[i] == CURLUPART_PORT ? CURLU_DEFAULT_PORT : 0;
		bool same = curl_url_get(a, parts[i], &x, fl) == CURLUE_OK &&
			    curl_url_get(b, parts[i], &y, fl) == CURLUE_OK && x && y &&
			    strcasecmp(x, y) == 0;
		curl_free(x);
		curl_free(y);
		if (!same)
			return false;
	}
	return true;
}

/* ---- address policy ------------------------------------------------- */

enum addr_class {
	ADDR_OK = 0,
	ADDR_LOOPBACK,
	ADDR_PRIVATE,
	ADDR_FORBIDDEN,
};

static enum addr_class http_class_v4(uint32_t a, const char **why)
{
	if ((a >> 24) == 0) {
		*why = "unspecified/this-network";
		return ADDR_FORBIDDEN;
	}
	if ((a >> 16) == 0xa9fe) {
		*why = "link-local/cloud metadata";
		return ADDR_FORBIDDEN;
	}
	if ((a >> 28) == 0xe) {
		*why = "multicast";
		return ADDR_FORBIDDEN;
	}
	if ((a >> 28) == 0xf) {
		*why = "reserved/broadcast";
		return ADDR_FORBIDDEN;
	}
	if ((a >> 24) == 127) {
		*why = "loopback: set network.allowLoopback to permit";
		return ADDR_LOOPBACK;
	}
	if ((a >> 24) == 10 || (a >> 20) == 0xac1 || (a >> 16) == 0xc0a8 ||
	    (a >> 22) == (0x64400000u >> 22)) {
		*why = "private network: set network.allowPrivate to permit";
		return ADDR_PRIVATE;
	}
	return ADDR_OK;
}

static enum addr_class http_class_v6(const unsigned char *b, const char **why)
{
	static const unsigned char metadata[16] = { 0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0,
						    0,    0,    0,    0,    0, 0, 0x02, 0x54 };
	static const unsigned char zero[16];
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const unsigned char nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
	if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1)) {
		if (b[15] == 1) {
			*why = "loopback: set network.allowLoopback to permit";
			return ADDR_LOOPBACK;
		}
		*why = "unspecified";
		return ADDR_FORBIDDEN;
	}
	/* IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and
	 * NAT64 (64:ff9b::a.b.c.d) carry an IPv4 address: judge that one. */
	if (memcmp(b, mapped, 12) == 0 || memcmp(b, zero, 12) == 0 || memcmp(b, nat64, 12) == 0) {
		uint32_t a = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
		return http_class_v4(a, why);
	}
	/* 6to4 (2002:aabb:ccdd::/48) likewise. */
	if (b[0] == 0x20 && b[1] == 0x02) {
		uint32_t a = (uint32_t)b[2] << 24 | (uint32_t)b[3] << 16 | (uint32_t)b[4] << 8 | b[5];
		enum addr_class c = http_class_v4(a, why);
		if (c != ADDR_OK)
			return c;
	}
	if (memcmp(b, metadata, 16) == 0) {
		*why = "cloud metadata";
		return ADDR_FORBIDDEN;
	}
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) {
		*why = "link-local";
		return ADDR_FORBIDDEN;
	}
	if (b[0] == 0xff) {
		*why = "multicast";
		return ADDR_FORBIDDEN;
	}
	if ((b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)) {
		*why = "private network: set network.allowPrivate to permit";
		return ADDR_PRIVATE;
	}
	return ADDR_OK;
}

struct http_xfer {
	const struct http_policy *pol;
	struct buf body;
	struct buf *head; /* the last response's header lines, or NULL */
	bool too_big;
	char refused[160]; /* "address X refused (why)", set by the socket callback */
};

int http_addr_check(const struct sockaddr *sa, socklen_t len, bool allow_loopback,
		    bool allow_private, const char **why)
{
	const char *dummy;
	enum addr_class c = ADDR_FORBIDDEN;
	if (!why)
		why = &dummy;
	*why = "unsupported address family";
	if (!sa)
		return -EPERM;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		c = http_class_v4(ntohl(in->sin_addr.s_addr), why);
	} else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		c = http_class_v6(in6->sin6_addr.s6_addr, why);
	}
	bool ok = c == ADDR_OK || (c == ADDR_LOOPBACK && allow_loopback) ||
		  (c == ADDR_PRIVATE && allow_private);
	if (ok)
		*why = NULL;
	return ok ? 0 : -EPERM;
}

static curl_socket_t http_open_socket(void *clientp, curlsocktype purpose,
				      struct curl_sockaddr *sa)
{
	struct http_xfer *x = clientp;
	char ip[INET6_ADDRSTRLEN] = "?";
	const char *why = NULL;
	(void)purpose;
	if (sa->family == AF_INET && sa->addrlen >= sizeof(struct sockaddr_in))
		(void)inet_ntop(AF_INET, &((const struct sockaddr_in *)&sa->addr)->sin_addr, ip, sizeof(ip));
	else if (sa->family == AF_INET6 && sa->addrlen >= sizeof(struct sockaddr_in6))
		(void)inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&sa->addr)->sin6_addr, ip, sizeof(ip));
	if (http_addr_check(&sa->addr, (socklen_t)sa->addrlen, x->pol->allow_loopback,
			    x->pol->allow_private, &why) < 0) {
		snprintf(x->refused, sizeof(x->refused), "address %s refused (%s)", ip, why);
		return CURL_SOCKET_BAD;
	}
	return socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
}

static size_t http_write(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct http_xfer *x = userdata;
	size_t n = size * nmemb;
	if (buf_append(&x->body, p, n) < 0) {
		x->too_big = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	return n;
}

/* Header lines of the response: a new status line (a redirect hop, a
 * 100 Continue) starts them again. */
static size_t http_header(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct http_xfer *x = userdata;
	size_t n = size * nmemb;
	if (n >= 5 && !strncmp(p, "HTTP/", 5))
		buf_reset(x->head);
	(void)buf_append(x->head, p, n); /* bounded: past the cap, later lines are lost */
	return n;
}

/* ---- the fetch ------------------------------------------------------ */

static long lower_long(long req, long cap)
{
	return (req > 0 && req < cap) ? req : cap;
}

/* One request: method (NULL: GET) with data (dlen bytes, may be NULL);
 * the response's header lines into head when not NULL.  Redirects are
 * followed for GET only. */
static int http_run(const struct http_policy *pol, const struct paddock_http_request *req,
		    const char *method, const char *data, size_t dlen, struct buf *head,
		    char **body, size_t *len, long *status, char *err, size_t errlen)
{
	char shown[HTTP_SHOWN_URL_MAX + 8];
	char hop_shown[HTTP_SHOWN_URL_MAX + 8];
	struct http_xfer x;
	struct curl_slist *hdrs = NULL;
	CURL *h = NULL;
	CURLU *first = NULL, *cur = NULL;
	char *cur_url = NULL;
	int rc;

	memset(&x, 0, sizeof(x));
	buf_init(&x.body, 1);
	if (!pol || !req || !req->url || !body || !len || !status)
		return errf(err, errlen, -EINVAL, "http_fetch: missing argument");
	const char *m = method ? method : "GET";
	bool get = !strcmp(m, "GET");
	http_shown_url(req->url, shown, sizeof(shown));

	/* Limits: the request may lower the policy's, never raise them. */
	size_t cap_bytes = pol->max_bytes ? pol->max_bytes : HTTP_DEFAULT_MAX_BYTES;
	size_t max_bytes = (req->max_bytes && req->max_bytes < cap_bytes) ? req->max_bytes : cap_bytes;
	long timeout_ms = lower_long(req->timeout_ms,
				     pol->timeout_ms > 0 ? pol->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS);
	long cap_redirs = pol->max_redirects >= 0 ? pol->max_redirects : HTTP_DEFAULT_MAX_REDIRECTS;
	long max_redirs = (req->max_redirects >= 0 && req->max_redirects < cap_redirs)
				  ? req->max_redirects
				  : cap_redirs;
	x.pol = pol;
	buf_init(&x.body, max_bytes);

	rc = http_parse_url(req->url, &first);
	if (rc == -EPERM)
		return errf(err, errlen, rc, "%s %s: scheme refused: use http:// or https://", m, shown);
	if (rc < 0)
		return errf(err, errlen, rc, "%s %s: not a valid URL", m, shown);

	size_t nh = 0;
	for (const char *const *hp = req->headers; hp && *hp; hp++, nh++) {
		const char *line = *hp;
		const char *colon = strchr(line, ':');
		size_t namelen = colon ? (size_t)(colon - line) : strlen(line);
		if (nh >= HTTP_MAX_HEADERS) {
			rc = errf(err, errlen, -E2BIG, "%s %s: more than %d request headers", m, shown,
				  HTTP_MAX_HEADERS);
			goto out;
		}
		/* Name the header only: its value may be a secret. */
		if (!colon || namelen == 0 || strpbrk(line, "\r\n")) {
			rc = errf(err, errlen, -EINVAL,
				  "%s %s: request header \"%.*s\" is not a single \"Name: value\" line",
				  m, shown, (int)(namelen > 64 ? 64 : namelen), line);
			goto out;
		}
	}

	pthread_once(&http_once, http_global_init);
	if (http_init_rc != CURLE_OK) {
		rc = errf(err, errlen, -EIO, "%s %s: libcurl initialisation failed", m, shown);
		goto out;
	}
	h = curl_easy_init();
	if (!h) {
		rc = errf(err, errlen, -ENOMEM, "%s %s: cannot create a curl handle", m, shown);
		goto out;
	}
	for (const char *const *hp = req->headers; hp && *hp; hp++) {
		struct curl_slist *n = curl_slist_append(hdrs, *hp);
		if (!n) {
			rc = errf(err, errlen, -ENOMEM, "%s %s: out of memory", m, shown);
			goto out;
		}
		hdrs = n;
	}

	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "paddock/" PACKAGE_VERSION);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_bytes);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, http_open_socket);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &x);
	if (get) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(data ? dlen : 0));
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, data ? data : "");
	}
	if (head) {
		x.head = head;
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, http_header);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	}

	int64_t deadline = now_mono_ms() + timeout_ms;
	cur_url = xstrdup(req->url);
	long code = 0;
	for (long hop = 0;; hop++) {
		int64_t left = deadline - now_mono_ms();
		if (left <= 0) {
			rc = errf(err, errlen, -ETIMEDOUT, "%s %s: timed out after %ld ms", m, shown,
				  timeout_ms);
			goto out;
		}
		/* Headers go to the origin they were written for, and to no
		 * other host a redirect names. */
		bool same = hop == 0 || (cur && http_same_origin(first, cur));
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, same ? hdrs : NULL);
		curl_easy_setopt(h, CURLOPT_URL, cur_url);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)left);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)left);
		buf_reset(&x.body);
		x.too_big = false;
		x.refused[0] = '\0';

		CURLcode cc = curl_easy_perform(h);
		const char *via = "";
		if (hop > 0) {
			http_shown_url(cur_url, hop_shown, sizeof(hop_shown));
			via = hop_shown;
		}
		const char *sep = hop > 0 ? ": redirected to " : "";
		if (cc != CURLE_OK) {
			if (x.refused[0])
				rc = errf(err, errlen, -EPERM, "%s %s%s%s: %s", m, shown, sep, via,
					  x.refused);
			else if (x.too_big || cc == CURLE_FILESIZE_EXCEEDED)
				rc = errf(err, errlen, -E2BIG, "%s %s%s%s: body over %zu bytes", m, shown,
					  sep, via, max_bytes);
			else if (cc == CURLE_OPERATION_TIMEDOUT)
				rc = errf(err, errlen, -ETIMEDOUT, "%s %s%s%s: timed out after %ld ms",
					  m, shown, sep, via, timeout_ms);
			else if (cc == CURLE_UNSUPPORTED_PROTOCOL)
				rc = errf(err, errlen, -EPERM,
					  "%s %s%s%s: scheme refused: use http:// or https://", m, shown,
					  sep, via);
			else
				rc = errf(err, errlen, -EIO, "%s %s%s%s: %s", m, shown, sep, via,
					  curl_easy_strerror(cc));
			goto out;
		}
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		char *loc = NULL;
		if (get && code >= 300 && code < 400 &&
		    curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc) {
			if (hop >= max_redirs) {
				rc = errf(err, errlen, -EIO, "%s %s: more than %ld redirects", m, shown,
					  max_redirs);
				goto out;
			}
			CURLU *next = NULL;
			int prc = http_parse_url(loc, &next);
			if (prc < 0) {
				http_shown_url(loc, hop_shown, sizeof(hop_shown));
				rc = errf(err, errlen, -EPERM,
					  "%s %s: redirect to %s refused: only http:// and https:// are followed",
					  m, shown, hop_shown);
				goto out;
			}
			free(cur_url);
			cur_url = xstrdup(loc); /* loc belongs to the handle */
			curl_url_cleanup(cur);
			cur = next;
			continue;
		}
		break;
	}
	*len = x.body.len;
	*body = buf_steal(&x.body);
	*status = code;
	rc = 0;
out:
	/* Header lines may hold secrets: zero our copies before freeing. */
	for (struct curl_slist *n = hdrs; n; n = n->next)
		explicit_bzero(n->data, strlen(n->data));
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	curl_url_cleanup(first);
	curl_url_cleanup(cur);
	free(cur_url);
	buf_free(&x.body);
	return rc;
}

int http_fetch(const struct http_policy *pol, const struct paddock_http_request *req,
	       char **body, size_t *len, long *status, char *err, size_t errlen)
{
	return http_run(pol, req, NULL, NULL, 0, NULL, body, len, status, err, errlen);
}

int http_call(const struct http_policy *pol, const struct http_call *c, struct http_reply *r,
	      char *err, size_t errlen)
{
	struct paddock_http_request req = { .size = sizeof(req), .url = c->url, .headers = c->headers,
					    .timeout_ms = c->timeout_ms, .max_bytes = c->max_bytes,
					    .max_redirects = -1 };
	memset(r, 0, sizeof(*r));
	buf_init(&r->head, 64 * 1024);
	int rc = http_run(pol, &req, c->method, c->body, c->body_len, &r->head, &r->body, &r->len,
			  &r->status, err, errlen);
	if (rc < 0)
		buf_free(&r->head);
	return rc;
}

bool http_reply_header(const struct http_reply *r, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);
	const char *p = r->head.data, *end = p ? p + r->head.len : NULL;
	while (p && p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t ll = eol ? (size_t)(eol - p) : (size_t)(end - p);
		if (ll > nl && p[nl] == ':' && !strncasecmp(p, name, nl)) {
			const char *v = p + nl + 1, *ve = p + ll;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
				ve--;
			snprintf(out, n, "%.*s", (int)(ve - v), v);
			return true;
		}
		p = eol ? eol + 1 : end;
	}
	return false;
}

void http_reply_free(struct http_reply *r)
{
	free(r->body);
	r->body = NULL;
	buf_free(&r->head);
}
