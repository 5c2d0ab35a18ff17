/* SPDX-License-Identifier: MIT */
/*
 * kube/netpol.h - the destinations of a run's NetworkPolicy
 * (kubernetes.networkPolicy; kube_render_netpol renders it): the run's
 * allowlist and the credential route's upstream, resolved by the
 * controller when it starts the run.
 */
#ifndef PADDOCK_KUBE_NETPOL_H
#define PADDOCK_KUBE_NETPOL_H

#include <stdbool.h>
#include <stddef.h>

#include "kube/render.h"
#include "proxy/egress.h"

/* Each allow entry ("host", "host:port", an IP literal; `allow`
 * NULL-terminated), the route's upstream ("https://host[:port]/...";
 * NULL: none) and each git repository its init containers clone before
 * the sidecar starts (`git_repos`, NULL-terminated or NULL: SSH on 22 or
 * the URL's port, HTTP(S) on the URL's), resolved now: every address that
 * passes the proxy's address policy (http_addr_check with the two flags:
 * link-local and metadata never, loopback and private ranges only when
 * allowed) as a /32 or /128 with the entry's port, each pair once.  A
 * wildcard entry names no address and is left out; so is a name that does
 * not resolve (the sidecar would refuse it too).  Each one left out is
 * logged, with why.  Names are resolved once a minute at most (a cache:
 * the controller's loop thread asks).  Owned *out (may be NULL when *n is
 * 0). */
void kube_netpol_dests(const char *const *allow, const char *route_upstream, const char *const *git_repos,
		       bool allow_loopback, bool allow_private, struct kube_np_dest **out, size_t *n);

/* Whether a run whose egress is `mode` gets a NetworkPolicy: with
 * kubernetes.networkPolicy on, every run that is not `open` (`none`: DNS
 * and its git hosts only, with or without the sidecar). */
bool kube_netpol_wanted(bool network_policy, enum egress_mode mode);

#endif
