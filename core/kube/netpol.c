/* SPDX-License-Identifier: MIT */
/*
 * kube/netpol.c - a run's NetworkPolicy destinations, resolved
 * (netpol.h).  The resolution is the controller's, once per run start:
 * the sidecar resolves again for every connection, so an address that
 * changes later is refused by the policy while the sidecar would allow
 * it (docs/kubernetes.md says so).
 */
#include "config.h"
#include "kube/netpol.h"
#include "base/util.h"
#include "plugin/http.h"
#include "proxy/egress.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct dests {
	struct kube_np_dest *v;
	size_t n;
};

static void dest_add(struct dests *d, const struct sockaddr *sa, int port)
{
	char a[INET6_ADDRSTRLEN], cidr[64];
	if (sa->sa_family == AF_INET) {
		if (!inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, a, sizeof(a)))
			return;
		snprintf(cidr, sizeof(cidr), "%s/32", a);
	} else {
		if (!inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, a, sizeof(a)))
			return;
		snprintf(cidr, sizeof(cidr), "%s/128", a);
	}
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].port == port && !strcmp(d->v[i].cidr, cidr))
			return;
	d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
	snprintf(d->v[d->n].cidr, sizeof(d->v[0].cidr), "%s", cidr);
	d->v[d->n].port = port;
	d->n++;
}

/* `host` (a name or an IP literal, IPv6 without brackets) resolved, each
 * address that passes the address policy added with `port`. */
static void resolve_into(struct dests *d, const char *host, int port, bool lo, bool priv)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0) {
		log_warn("NetworkPolicy: a host does not resolve; left out", "host", host, "error",
			 gai_strerror(rc));
		return;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		const char *why = NULL;
		if (http_addr_check(ai->ai_addr, ai->ai_addrlen, lo, priv, &why) < 0) {
			log_warn("NetworkPolicy: an address refused by the address policy; left out", "host",
				 host, "why", why ? why : "refused");
			continue;
		}
		dest_add(d, ai->ai_addr, port);
	}
	freeaddrinfo(res);
}

/* "scheme://host[:port][/...]" -> host (brackets off) and port (the
 * scheme's default): false when it is not such a URL. */
static bool url_host_port(const char *url, char *host, size_t hostlen, int *port)
{
	const char *p = strstr(url, "://");
	if (!p)
		return false;
	*port = !strncmp(url, "https", 5) ? 443 : 80;
	p += 3;
	size_t n = strcspn(p, "/?#");
	const char *end = p + n, *colon = NULL;
	if (*p == '[') {
		const char *rb = memchr(p, ']', n);
		if (!rb)
			return false;
		snprintf(host, hostlen, "%.*s", (int)(rb - p - 1), p + 1);
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(p, ':', n);
		snprintf(host, hostlen, "%.*s", (int)((colon ? colon : end) - p), p);
	}
	if (colon) {
		long v = strtol(colon + 1, NULL, 10);
		if (v < 1 || v > 65535)
			return false;
		*port = (int)v;
	}
	return *host != '\0';
}

void kube_netpol_dests(const char *const *allow, const char *route_upstream, bool allow_loopback,
		       bool allow_private, struct kube_np_dest **out, size_t *n)
{
	struct dests d = { NULL, 0 };
	struct egress_policy pol = { .mode = EGRESS_ALLOWLIST };
	char err[256];
	for (size_t i = 0; allow && allow[i]; i++)
		if (egress_policy_add(&pol, allow[i], err, sizeof(err)) < 0)
			log_warn("NetworkPolicy: an allow entry left out", "error", err);
	for (size_t i = 0; i < pol.nrules; i++) {
		const struct egress_rule *r = &pol.rules[i];
		if (r->wildcard) {
			log_warn("NetworkPolicy: a wildcard names no address; left out (its hosts are refused by the policy)",
				 "entry", r->text);
			continue;
		}
		resolve_into(&d, r->host, r->port, allow_loopback, allow_private);
	}
	egress_policy_free(&pol);
	char host[256];
	int port;
	if (route_upstream && url_host_port(route_upstream, host, sizeof(host), &port))
		resolve_into(&d, host, port, allow_loopback, allow_private);
	*out = d.v;
	*n = d.n;
}
