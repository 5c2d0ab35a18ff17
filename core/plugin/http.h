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
