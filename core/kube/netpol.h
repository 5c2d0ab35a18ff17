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

/* Each allow entry ("host", "host:port", an IP literal; `allow`
 * NULL-terminated) and the route's upstream ("https://host[:port]/...";
 * NULL: none), resolved now: every address that passes the proxy's
 * address policy (http_addr_check with the two flags: link-local and
 * metadata never, loopback and private ranges only when allowed) as a
 * /32 or /128 with the entry's port, each pair once.  A wildcard entry
 * names no address and is left out; so is a name that does not resolve
 * (the sidecar would refuse it too).  Each one left out is logged, with
 * why.  Owned *out (may be NULL when *n is 0). */
void kube_netpol_dests(const char *const *allow, const char *route_upstream, bool allow_loopback,
		       bool allow_private, struct kube_np_dest **out, size_t *n);

#endif
