/* SPDX-License-Identifier: MIT */
/*
 * dashboard_bench - what the web dashboard (core/web/) costs with 1,000
 * tasks in the store, as ratios against an empty store measured in the
 * same run:
 *
 *   - the server's time per SSE update: one task's status changes (a
 *     write on another connection, as the controller's), then one ticker
 *     pass (dashboard_tick: data_version, the tasks written since the
 *     stream's version, their rows, the task count, queued on the stream
 *     of one connected client and the client resumed), timed alone; the
 *     client reads the event before the next change;
 *   - with a command after `--` (bench/dashboard.sh passes a headless
 *     Chromium script): both dashboards stay up on 127.0.0.1 while it
 *     runs, their ports in PORT_EMPTY and PORT_FULL.
 *
 *   make -C core dashboard_bench && core/dashboard_bench [-- CMD ARGS...]
 *
 * The 1,000 tasks are finished ones with usage (what a store fills up
 * with), in 4 namespaces and 5 Agents, created in one transaction.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/conf.h"
#include "base/util.h"
#include "control/metrics.h"
#include "local/store.h"
#include "model/model.h"
#include "web/dashboard.h"

#define UPDATES 300
#define FULL 1000

struct side {
	int n;
	char dir[64];
	struct store *writer;
	struct dash *d;
	struct metrics *m;
	int fd; /* the SSE client */
	double *us;
};

static json_object *task_doc(const char *ns, const char *name, const char *agent)
{
	json_object *doc = json_object_new_object(), *md = json_object_new_object(),
		    *spec = json_object_new_object(), *ref = json_object_new_object();
	json_object_object_add(doc, "apiVersion", json_object_new_string(MODEL_API_GROUP_VERSION));
	json_object_object_add(doc, "kind", json_object_new_string("Task"));
	json_object_object_add(md, "name", json_object_new_string(name));
	json_object_object_add(md, "namespace", json_object_new_string(ns));
	json_object *labels = json_object_new_object();
	json_object_object_add(labels, "team", json_object_new_string(agent));
	json_object_object_add(md, "labels", labels);
	json_object_object_add(doc, "metadata", md);
	json_object_object_add(ref, "name", json_object_new_string(agent));
	json_object_object_add(spec, "agentRef", ref);
	json_object_object_add(spec, "prompt", json_object_new_string("Fix the flaky test in the parser."));
	json_object_object_add(doc, "spec", spec);
	return doc;
}

static json_object *finished_status(int i)
{
	json_object *st = json_object_new_object(), *usage = json_object_new_object();
	json_object_object_add(st, "phase", json_object_new_string(i % 7 ? "Succeeded" : "Failed"));
	json_object_object_add(st, "reason", json_object_new_string(i % 7 ? "Completed" : "AgentFailed"));
	json_object_object_add(st, "message", json_object_new_string("agent completed"));
	int64_t now = now_wall_ms() - (int64_t)i * 60000;
	char t[40];
	format_time(now - 300000, t, sizeof(t));
	json_object_object_add(st, "startTime", json_object_new_string(t));
	format_time(now, t, sizeof(t));
	json_object_object_add(st, "completionTime", json_object_new_string(t));
	json_object_object_add(usage, "inputTokens", json_object_new_int64(12000 + i));
	json_object_object_add(usage, "outputTokens", json_object_new_int64(3000 + i));
	json_object_object_add(usage, "costUSD", json_object_new_double(0.05 + i * 0.001));
	json_object_object_add(st, "usage", usage);
	return st;
}

static int fill_fn(struct store *s, void *ctx, char *err, size_t errlen)
{
	struct side *sd = ctx;
	static const char *const agents[] = { "coder", "reviewer", "tester", "docs", "triage" };
	for (int i = 0; i < sd->n; i++) {
		char ns[32], name[64];
		snprintf(ns, sizeof(ns), "team-%d", i % 4);
		snprintf(name, sizeof(name), "task-%04d", i);
		json_object *doc = task_doc(ns, name, agents[i % 5]);
		int rc = store_apply(s, doc, MODEL_TASK, NULL, err, errlen);
		json_object_put(doc);
		if (rc < 0)
			return rc;
		json_object *st = finished_status(i);
		rc = store_set_status(s, ns, name, st, "Completed", "agent completed", err, errlen);
		json_object_put(st);
		if (rc < 0)
			return rc;
	}
	json_object *probe = task_doc("default", "probe", "coder");
	int rc = store_apply(s, probe, MODEL_TASK, NULL, err, errlen);
	json_object_put(probe);
	return rc;
}

/* Read what the server sent until `want` shows up (or 5 s pass). */
static int read_until(int fd, const char *want)
{
	static char acc[1 << 20];
	static size_t n;
	int64_t end = now_mono_ms() + 5000;
	while (now_mono_ms() < end) {
		if (n && memmem(acc, n, want, strlen(want))) {
			n = 0;
			return 0;
		}
		if (n > sizeof(acc) / 2)
			n = 0; /* keep the tail small: only the marker matters */
		ssize_t r = read(fd, acc + n, sizeof(acc) - n);
		if (r <= 0)
			return -1;
		n += (size_t)r;
	}
	return -1;
}

static int setup(struct side *sd, const struct pd_config *cfg)
{
	char err[512];
	snprintf(sd->dir, sizeof(sd->dir), "/tmp/paddock-dashbench-XXXXXX");
	if (!mkdtemp(sd->dir) || store_open(sd->dir, &sd->writer, err, sizeof(err)) < 0 ||
	    store_tx(sd->writer, fill_fn, sd, err, sizeof(err)) < 0) {
		fprintf(stderr, "dashboard_bench: store: %s\n", err);
		return -1;
	}
	if (dashboard_new(cfg, sd->dir, false, &sd->d, err, sizeof(err)) < 0) {
		fprintf(stderr, "dashboard_bench: %s\n", err);
		return -1;
	}
	sd->m = metrics_new();
	dashboard_attach(sd->d, sd->m);
	if (metrics_listen(sd->m, "127.0.0.1:0", err, sizeof(err)) < 0) {
		fprintf(stderr, "dashboard_bench: %s\n", err);
		return -1;
	}
	/* One client on the task list's stream, from the store's version now. */
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)metrics_port(sd->m)) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sd->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sd->fd < 0 || connect(sd->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	char req[256];
	int len = snprintf(req, sizeof(req), "GET /api/stream?since=%lld HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
			   (long long)store_rv(sd->writer));
	if (write(sd->fd, req, (size_t)len) != len || read_until(sd->fd, "retry: 2000") < 0)
		return -1;
	dashboard_tick(sd->d); /* the stream's first pass */
	return read_until(sd->fd, "event: total");
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* UPDATES changes of the probe task, each followed by one timed pass. */
static int measure(struct side *sd, double *median, double *p90)
{
	char err[512];
	sd->us = xcalloc(UPDATES, sizeof(double));
	for (int i = 0; i < UPDATES; i++) {
		json_object *st = json_object_new_object();
		char msg[32];
		snprintf(msg, sizeof(msg), "update %d", i);
		json_object_object_add(st, "phase", json_object_new_string(i % 2 ? "Queued" : "Pending"));
		json_object_object_add(st, "message", json_object_new_string(msg));
		int rc = store_set_status(sd->writer, "default", "probe", st, NULL, NULL, err, sizeof(err));
		json_object_put(st);
		if (rc < 0) {
			fprintf(stderr, "dashboard_bench: %s\n", err);
			return -1;
		}
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		dashboard_tick(sd->d);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		sd->us[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
		if (read_until(sd->fd, msg) < 0) {
			fprintf(stderr, "dashboard_bench: update %d never reached the client\n", i);
			return -1;
		}
	}
	qsort(sd->us, UPDATES, sizeof(double), cmp_double);
	*median = sd->us[UPDATES / 2];
	*p90 = sd->us[UPDATES * 9 / 10];
	return 0;
}

static void teardown(struct side *sd)
{
	if (sd->fd > 0)
		close(sd->fd);
	dashboard_shutdown(sd->d);
	metrics_free(sd->m);
	dashboard_free(sd->d);
	store_close(sd->writer);
	free(sd->us);
	if (sd->dir[0])
		(void)rm_rf(sd->dir);
}

int main(int argc, char **argv)
{
	log_setup(LOG_ERR, LOG_FORMAT_KV);
	struct pd_config *cfg = config_new_default();
	struct side empty = { .n = 0, .fd = -1 }, full = { .n = FULL, .fd = -1 };
	int rc = 1;
	double em, ep, fm, fp;
	if (setup(&empty, cfg) < 0 || setup(&full, cfg) < 0 || measure(&empty, &em, &ep) < 0 ||
	    measure(&full, &fm, &fp) < 0)
		goto out;
	printf("dashboard SSE update, server time per update (%d updates, one client):\n", UPDATES);
	printf("  empty store      median %8.1f us  p90 %8.1f us\n", em, ep);
	printf("  %d tasks       median %8.1f us  p90 %8.1f us\n", FULL, fm, fp);
	printf("  ratio %d/empty: median %.2fx  p90 %.2fx\n", FULL, fm / em, fp / ep);
	fflush(stdout);
	rc = 0;
	if (argc > 2 && !strcmp(argv[1], "--")) {
		char pe[16], pf[16];
		snprintf(pe, sizeof(pe), "%d", metrics_port(empty.m));
		snprintf(pf, sizeof(pf), "%d", metrics_port(full.m));
		pid_t pid = fork();
		if (pid == 0) {
			setenv("PORT_EMPTY", pe, 1);
			setenv("PORT_FULL", pf, 1);
			execvp(argv[2], argv + 2);
			_exit(127);
		}
		/* The browser's streams need a ticker: one pass every 100 ms. */
		int st = 0;
		while (pid > 0 && waitpid(pid, &st, WNOHANG) == 0) {
			dashboard_tick(empty.d);
			dashboard_tick(full.d);
			usleep(100 * 1000);
		}
		rc = pid > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
out:
	teardown(&empty);
	teardown(&full);
	config_free(cfg);
	return rc;
}
