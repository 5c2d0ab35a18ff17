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
#include "base/conf.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
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

/* Names resolved, kept a minute: a burst of runs with one allowlist asks
 * the resolver once per name, not once per run (the controller resolves
 * on its loop thread).  Keyed by the host and the two address flags. */
#define NP_CACHE_MS 60000
#define NP_CACHE_MAX 64
#define NP_ADDRS_MAX 16

struct np_cached {
	char host[EGRESS_HOST_MAX + 1];
	bool lo, priv;
	int64_t at;                         /* mono ms; 0: empty slot */
	struct sockaddr_storage addrs[NP_ADDRS_MAX];
	size_t n;
};

static struct np_cached np_cache[NP_CACHE_MAX];
static pthread_mutex_t np_lock = PTHREAD_MUTEX_INITIALIZER;

/* `host`'s addresses that pass the address policy, from the cache or the
 * resolver (then kept). */
static size_t np_resolve(const char *host, bool lo, bool priv, struct sockaddr_storage *out)
{
	int64_t now = now_mono_ms();
	struct np_cached *c = NULL, *oldest = &np_cache[0];
	pthread_mutex_lock(&np_lock);
	for (size_t i = 0; i < NP_CACHE_MAX && !c; i++) {
		struct np_cached *e = &np_cache[i];
		if (e->at && now - e->at < NP_CACHE_MS && e->lo == lo && e->priv == priv && str_eq(e->host, host))
			c = e;
		else if (e->at < oldest->at)
			oldest = e;
	}
	if (c) {
		size_t n = c->n;
		memcpy(out, c->addrs, n * sizeof(*out));
		pthread_mutex_unlock(&np_lock);
		return n;
	}
	pthread_mutex_unlock(&np_lock);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	size_t n = 0;
	if (rc != 0)
		log_warn("NetworkPolicy: a host does not resolve; left out", "host", host, "error",
			 gai_strerror(rc));
	for (struct addrinfo *ai = rc == 0 ? res : NULL; ai && n < NP_ADDRS_MAX; ai = ai->ai_next) {
		const char *why = NULL;
		if (ai->ai_addrlen > sizeof(*out) ||
		    http_addr_check(ai->ai_addr, ai->ai_addrlen, lo, priv, &why) < 0) {
			log_warn("NetworkPolicy: an address refused by the address policy; left out", "host",
				 host, "why", why ? why : "refused");
			continue;
		}
		memcpy(&out[n++], ai->ai_addr, ai->ai_addrlen);
	}
	if (res)
		freeaddrinfo(res);
	pthread_mutex_lock(&np_lock);
	snprintf(oldest->host, sizeof(oldest->host), "%s", host);
	oldest->lo = lo;
	oldest->priv = priv;
	oldest->at = now ? now : 1;
	memcpy(oldest->addrs, out, n * sizeof(*out));
	oldest->n = n;
	pthread_mutex_unlock(&np_lock);
	return n;
}

/* `host` (a name or an IP literal, IPv6 without brackets) resolved, each
 * address that passes the address policy added with `port`. */
static void resolve_into(struct dests *d, const char *host, int port, bool lo, bool priv)
{
	struct sockaddr_storage a[NP_ADDRS_MAX];
	size_t n = np_resolve(host, lo, priv, a);
	for (size_t i = 0; i < n; i++)
		dest_add(d, (const struct sockaddr *)&a[i], port);
}

/* A git repository's host and port as its init container connects to it,
 * before the sidecar runs: SSH (22 or the URL's port) or HTTP(S). */
static bool git_host_port(const char *repo, char *host, size_t hostlen, int *port)
{
	char h[EGRESS_HOST_MAX + 16];
	if (config_git_ssh_host(repo, h, sizeof(h))) { /* "host", or "[host]:port" */
		char *rb = h[0] == '[' ? strstr(h, "]:") : NULL;
		*port = 22;
		if (rb) {
			*rb = '\0';
			long v = strtol(rb + 2, NULL, 10);
			if (v < 1 || v > 65535)
				return false;
			*port = (int)v;
		}
		const char *hh = rb ? h + 1 : h;
		size_t hl = strlen(hh);
		if (hl == 0 || hl >= hostlen)
			return false;
		memcpy(host, hh, hl + 1);
		return true;
	}
	bool tls;
	const char *why;
	char nh[EGRESS_HOST_MAX + 1];
	if (!egress_url_split(repo, nh, port, &tls, &why))
		return false;
	snprintf(host, hostlen, "%s", nh);
	return true;
}

void kube_netpol_dests(const char *const *allow, const char *route_upstream, const char *const *git_repos,
		       bool allow_loopback, bool allow_private, struct kube_np_dest **out, size_t *n)
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
	char host[EGRESS_HOST_MAX + 1];
	int port;
	bool tls;
	const char *why;
	if (route_upstream && egress_url_split(route_upstream, host, &port, &tls, &why))
		resolve_into(&d, host, port, allow_loopback, allow_private);
	for (size_t i = 0; git_repos && git_repos[i]; i++)
		if (git_host_port(git_repos[i], host, sizeof(host), &port))
			resolve_into(&d, host, port, allow_loopback, allow_private);
	*out = d.v;
	*n = d.n;
}

bool kube_netpol_wanted(bool network_policy, enum egress_mode mode)
{
	return network_policy && mode != EGRESS_OPEN;
}
