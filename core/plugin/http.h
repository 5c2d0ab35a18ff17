/* SPDX-License-Identifier: MIT */
/*
 * http.h - the host's HTTP GET (libcurl) with hard limits and an address
 * policy that is checked against the address actually connected to, not
 * just the name: link-local (169.254.0.0/16, fe80::/10), cloud metadata
 * (fd00:ec2::254), unspecified and multicast addresses are always
 * refused; loopback and private ranges only when the policy allows.
 */
#ifndef PADDOCK_HTTP_H
#define PADDOCK_HTTP_H

#include <paddock/plugin.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "base/util.h"

struct http_policy {
	size_t max_bytes;      /* hard cap on the body */
	long timeout_ms;       /* hard cap on the whole transfer */
	long max_redirects;    /* hard cap */
	bool allow_loopback;
	bool allow_private;
};

/* Request limits are lowered to the policy's, never raised.  Owned
 * *body (free()), NUL-terminated.  Errors: -EPERM for a refused address
 * or scheme, -E2BIG for an oversized body, -ETIMEDOUT, -EIO otherwise;
 * the message names the URL (without credentials) and the reason. */
int http_fetch(const struct http_policy *pol, const struct paddock_http_request *req,
	       char **body, size_t *len, long *status, char *err, size_t errlen);

/* One request of any method with its response's headers: the host's
 * HTTP client for core (the github source of Spawners, local/github.c)
 * under the same policy and limits as http_fetch().  A method other than
 * GET follows no redirect (a 3xx is returned as it is).  Errors as
 * http_fetch()'s, naming the method and the URL; the header values (a
 * token) are never in a message. */
struct http_call {
	const char *method;          /* NULL: GET */
	const char *url;
	const char *const *headers;  /* "Name: value" lines, NULL-terminated */
	const char *body;            /* NULL: none */
	size_t body_len;
	long timeout_ms;             /* 0: the policy's */
	size_t max_bytes;            /* 0: the policy's */
};
struct http_reply {
	long status;
	char *body;       /* owned, NUL-terminated */
	size_t len;
	struct buf head;  /* the last response's header lines */
};
/* On success *r is filled (http_reply_free() it); on error it is empty
 * and needs no free. */
int http_call(const struct http_policy *pol, const struct http_call *c, struct http_reply *r,
	      char *err, size_t errlen);
/* The value of header `name` (any case) of the response into out
 * (truncated to n), true; false when absent. */
bool http_reply_header(const struct http_reply *r, const char *name, char *out, size_t n);
void http_reply_free(struct http_reply *r); /* the body and the headers */

/* The address policy on one address, the one implementation of it (used
 * by http_fetch() on every address curl connects to and by the egress
 * proxy on every address a name resolves to).  0 when `sa` (`len` bytes,
 * AF_INET or AF_INET6; any other family is refused) may be connected
 * to, else -EPERM with *why (if `why` is not NULL) set to a static
 * reason: "link-local/cloud metadata", "multicast", "loopback: set
 * network.allowLoopback to permit", ...  IPv4-mapped, -compatible, NAT64
 * and 6to4 IPv6 addresses are judged by the IPv4 address they carry. */
int http_addr_check(const struct sockaddr *sa, socklen_t len, bool allow_loopback,
		    bool allow_private, const char **why);

#endif
