/* SPDX-License-Identifier: MIT */
/*
 * proxy/sidecar.c - `paddock __egress`: the egress proxy as a Kubernetes
 * Job's native sidecar (an init container with restartPolicy Always,
 * rendered by kube/render.c).  The pod's containers share one network
 * namespace, so the agent reaches it on 127.0.0.1: the forward proxy on
 * EGRESS_PROXY_PORT, the credential route on EGRESS_ROUTE_PORT.
 *
 *   paddock __egress [--allow ENTRY]... [--allow-loopback] [--allow-private]
 *                    [--route-upstream URL --route-header NAME
 *                     [--route-prefix TEXT] --route-placeholder TEXT]
 *
 * The credential comes from the environment variable PADDOCK_ROUTE_VALUE
 * (a secretKeyRef on this container only); it is copied into the proxy,
 * then wiped from the environment.  The sidecar runs as a uid of its own
 * and is not dumpable, so the agent (uid 1000, same PID namespace) cannot
 * read its memory or /proc/PID/environ.  Each request is one JSON line on
 * stdout (the container's log); clients rejected before a target, a
 * rate-limited line with their count ({"rejected":N,"status":400,...});
 * on SIGTERM or SIGINT: stop, print {"summary":{"hosts":[...],
 * "rejected":{...}}} (proxy/traffic.h), exit 0.
 */
#include "config.h"
#include "proxy/sidecar.h"
#include "proxy/egress.h"
#include "proxy/traffic.h"
#include "base/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define ROUTE_ENV "PADDOCK_ROUTE_VALUE"

static void usage_error(const char *msg)
{
	fprintf(stderr, "paddock __egress: %s\n"
			"usage: paddock __egress [--allow ENTRY]... [--allow-loopback] [--allow-private]\n"
			"         [--route-upstream URL --route-header NAME [--route-prefix TEXT] --route-placeholder TEXT]\n"
			"(internal: the egress sidecar of a Kubernetes Job)\n",
		msg);
}

static int listen_on(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 128) < 0) {
		int e = errno;
		if (fd >= 0)
			(void)close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* One line per request, refused or done, or per (rate-limited) count of
 * clients rejected before a target: the container's log; every allowed
 * request counted for the summary. */
static void log_event(void *ctx, const struct egress_event *ev)
{
	egress_traffic_add(ctx, ev);
	json_object *o = egress_event_json(ev);
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	(void)fflush(stdout);
	json_object_put(o);
}

static int sidecar_main(int argc, char **argv)
{
	struct egress_policy pol = { .mode = EGRESS_ALLOWLIST };
	struct egress_route route = { 0 };
	char err[512];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--allow-loopback")) {
			pol.allow_loopback = true;
		} else if (!strcmp(a, "--allow-private")) {
			pol.allow_private = true;
		} else if (v && !strcmp(a, "--allow")) {
			if (egress_policy_add(&pol, v, err, sizeof(err)) < 0) {
				usage_error(err);
				egress_policy_free(&pol);
				return 2;
			}
			i++;
		} else if (v && !strcmp(a, "--route-upstream")) {
			route.upstream = v, i++;
		} else if (v && !strcmp(a, "--route-header")) {
			route.header = v, i++;
		} else if (v && !strcmp(a, "--route-prefix")) {
			route.prefix = v, i++;
		} else if (v && !strcmp(a, "--route-placeholder")) {
			route.placeholder = v, i++;
		} else {
			char msg[300];
			snprintf(msg, sizeof(msg), "unknown or incomplete option \"%.200s\"", a);
			usage_error(msg);
			egress_policy_free(&pol);
			return 2;
		}
	}
	/* Nothing of this process for anyone else to read. */
	(void)prctl(PR_SET_DUMPABLE, 0);
	char *value = NULL;
	const char *env = getenv(ROUTE_ENV);
	if (route.upstream) {
		if (!env || !*env) {
			usage_error("--route-upstream without the credential in " ROUTE_ENV);
			egress_policy_free(&pol);
			return 2;
		}
		value = xstrdup(env);
		route.value = value;
		route.value_len = strlen(value);
	}
	if (env)
		explicit_bzero((char *)env, strlen(env));
	(void)unsetenv(ROUTE_ENV);

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	(void)pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	int lfd = listen_on(EGRESS_PROXY_PORT);
	int rfd = route.upstream ? listen_on(EGRESS_ROUTE_PORT) : -1;
	struct egress *eg = NULL;
	struct egress_traffic traffic;
	egress_traffic_init(&traffic);
	if (lfd < 0 || (route.upstream && rfd < 0)) {
		fprintf(stderr, "paddock __egress: cannot listen on 127.0.0.1:%d/%d: %s\n", EGRESS_PROXY_PORT,
			EGRESS_ROUTE_PORT, strerror(errno));
	} else {
		eg = egress_start_routed(&pol, lfd, route.upstream ? &route : NULL, rfd, log_event, &traffic,
					 err, sizeof(err));
		if (!eg)
			fprintf(stderr, "paddock __egress: %s\n", err);
	}
	secure_free(value, value ? strlen(value) : 0);
	egress_policy_free(&pol);
	if (!eg) {
		if (lfd >= 0)
			(void)close(lfd);
		if (rfd >= 0)
			(void)close(rfd);
		egress_traffic_destroy(&traffic);
		return 1;
	}
	fprintf(stderr, "paddock __egress: serving 127.0.0.1:%d%s\n", EGRESS_PROXY_PORT,
		route.upstream ? " and the credential route on 127.0.0.1:3129" : "");
	int sig = 0;
	(void)sigwait(&set, &sig);
	egress_stop(eg); /* the credential is zeroed with it */
	/* The last line: the run's traffic per allowed host. */
	json_object *sum = egress_summary_json(&traffic);
	printf("%s\n", json_object_to_json_string_ext(sum, JSON_C_TO_STRING_PLAIN));
	(void)fflush(stdout);
	json_object_put(sum);
	egress_traffic_destroy(&traffic);
	return 0;
}

bool egress_sidecar_dispatch(int argc, char **argv, int *rc)
{
	if (argc >= 2 && !strcmp(argv[1], EGRESS_SIDECAR_ARG)) {
		*rc = sidecar_main(argc, argv);
		return true;
	}
	return false;
}
