/* SPDX-License-Identifier: MIT */
/*
 * cli/dashkube.h - the dashboard (web/dashboard.h) over an API server:
 * its source of data (web/source.h) and `paddock dashboard`.
 */
#ifndef PADDOCK_CLI_DASHKUBE_H
#define PADDOCK_CLI_DASHKUBE_H

#include "cli/cli.h"
#include "web/source.h"

/* Tasks of namespace ns_flag (NULL: as the other commands pick it; all:
 * every namespace) through the kubeconfig
 * of ctx (--kubeconfig/--context, kubernetes.kubeconfig, $KUBECONFIG,
 * ~/.kube/config, else the in-cluster service account), as kcli_open()
 * finds it.  ctx is borrowed for the source's life.  Starts the watch. */
int dash_source_kube(const struct cli_ctx *ctx, const char *ns_flag, bool all, struct dash_source *src,
		     char *err, size_t errlen);

#define DASHBOARD_DEFAULT_LISTEN "127.0.0.1:9465"

extern const struct cli_command cmd_dashboard;

#endif
