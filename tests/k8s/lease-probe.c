/* SPDX-License-Identifier: MIT */
/*
 * lease-probe KUBECONFIG NAMESPACE NAME IDENTITY - one replica of the
 * leader election (kube/lease.h) and nothing else, for tests/k8s/test-lease.sh.
 *
 * Ticks every KUBE_LEASE_RENEW_MS.  Prints "WALL_MS leader" / "WALL_MS
 * standby" on stdout at start and at each change (WALL_MS: the wall clock
 * in ms, for the script to compare with `date +%s%3N`), and on SIGTERM or
 * SIGINT releases the Lease, prints "WALL_MS released" and exits 0.  The
 * wrapper's log (debug level) goes to stderr.
 */
#include "config.h"
#include "kube/lease.h"
#include "base/util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void say(const char *what)
{
	printf("%lld %s\n", (long long)now_wall_ms(), what);
	(void)fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s KUBECONFIG NAMESPACE NAME IDENTITY\n", argv[0]);
		return 2;
	}
	log_setup(LOG_DEBUG, LOG_FORMAT_KV);
	char err[1024];
	struct kube_config *cfg = NULL;
	struct kube_client *kc = NULL;
	if (kube_config_load(argv[1], NULL, &cfg, err, sizeof(err)) < 0 ||
	    kube_client_new(cfg, NULL, &kc, err, sizeof(err)) < 0) {
		fprintf(stderr, "lease-probe: %s\n", err);
		kube_config_free(cfg);
		return 1;
	}
	kube_config_free(cfg);
	struct kube_lease *l = kube_lease_new(kc, argv[2], argv[3], argv[4]);
	if (!l) {
		fprintf(stderr, "lease-probe: bad arguments\n");
		kube_client_free(kc);
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);

	bool was = false;
	say("standby");
	while (!stop) {
		int64_t t = now_mono_ms();
		bool lead = kube_lease_tick(l, t);
		if (lead != was)
			say(lead ? "leader" : "standby");
		was = lead;
		while (!stop && now_mono_ms() - t < KUBE_LEASE_RENEW_MS) {
			struct timespec ts = { 0, 50 * 1000 * 1000 };
			(void)nanosleep(&ts, NULL);
			/* What a controller checks before each action. */
			lead = kube_lease_leader_at(l, now_mono_ms());
			if (lead != was)
				say(lead ? "leader" : "standby");
			was = lead;
		}
	}
	kube_lease_release(l);
	say("released");
	kube_lease_free(l);
	kube_client_free(kc);
	return 0;
}
