/* SPDX-License-Identifier: MIT */
/*
 * admit_bench - the cost of one admission against queue length.
 *
 * An admission is what the controller does to start a Task: in one
 * BEGIN IMMEDIATE transaction, count the Agent's Running tasks
 * (capacity), take the oldest Queued task (FIFO) and set it Running with
 * an event.  The store's indexes should make this independent of how
 * many tasks wait, so the ratio against the 100-task baseline measured in
 * the same run should stay ~1.
 *
 *   make -C core bench          (or: core/admit_bench [STATE_DIR])
 *
 * Bounded: 100 + 1,000 + 10,000 tasks are created once per size (one
 * transaction each) and ADMITS admissions are timed per size.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/model.h"
#include "local/store.h"
#include "base/util.h"

#define ADMITS 50
#define ROUNDS 5

struct fill {
	int n;
	int base;
};

static int fill_fn(struct store *s, void *ctx, char *err, size_t errlen)
{
	struct fill *f = ctx;
	for (int i = 0; i < f->n; i++) {
		char name[64];
		snprintf(name, sizeof(name), "task-%d", f->base + i);
		json_object *doc = json_object_new_object();
		json_object *md = json_object_new_object();
		json_object *spec = json_object_new_object();
		json_object *agent = json_object_new_object();
		json_object_object_add(doc, "apiVersion", json_object_new_string(MODEL_API_GROUP_VERSION));
		json_object_object_add(doc, "kind", json_object_new_string("Task"));
		json_object_object_add(md, "name", json_object_new_string(name));
		json_object_object_add(md, "namespace", json_object_new_string("bench"));
		json_object_object_add(doc, "metadata", md);
		json_object_object_add(agent, "name", json_object_new_string("coder"));
		json_object_object_add(agent, "namespace", json_object_new_string("bench"));
		json_object_object_add(spec, "agentRef", agent);
		json_object_object_add(spec, "prompt", json_object_new_string("Fix the bug."));
		json_object_object_add(doc, "spec", spec);
		int rc = store_apply(s, doc, MODEL_TASK, NULL, err, errlen);
		json_object_put(doc);
		if (rc < 0)
			return rc;
		json_object *st = json_object_new_object();
		json_object_object_add(st, "phase", json_object_new_string("Queued"));
		rc = store_set_status(s, "bench", name, st, NULL, NULL, err, errlen);
		json_object_put(st);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int admit_fn(struct store *s, void *ctx, char *err, size_t errlen)
{
	(void)ctx;
	long running = store_count_phase(s, MODEL_PHASE_RUNNING, "bench/coder");
	if (running < 0)
		return (int)running;
	json_object *t = NULL;
	int rc = store_next_queued(s, "bench/coder", &t);
	if (rc < 0)
		return errf(err, errlen, rc, "no queued task");
	char name[256];
	snprintf(name, sizeof(name), "%s", model_field(t, "metadata.name"));
	json_object_put(t);
	json_object *st = json_object_new_object();
	json_object_object_add(st, "phase", json_object_new_string("Running"));
	json_object_object_add(st, "runId", json_object_new_string("bench"));
	rc = store_set_status(s, "bench", name, st, "Started", "admitted", err, errlen);
	json_object_put(st);
	return rc;
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median over ROUNDS of the mean time of ADMITS admissions, with the
 * queue refilled to `size` before each round. */
static int measure(const char *dir, int size, double *us)
{
	char err[512];
	struct store *s = NULL;
	char *sub = xasprintf("%s/q%d", dir, size);
	int rc = store_open(sub, &s, err, sizeof(err));
	free(sub);
	if (rc < 0) {
		fprintf(stderr, "admit_bench: %s\n", err);
		return rc;
	}
	double rounds[ROUNDS];
	int base = 0;
	struct fill f = { .n = size, .base = base };
	if ((rc = store_tx(s, fill_fn, &f, err, sizeof(err))) < 0)
		goto out;
	base += size;
	for (int r = 0; r < ROUNDS && rc == 0; r++) {
		double t0 = now_us();
		for (int i = 0; i < ADMITS && rc == 0; i++)
			rc = store_tx(s, admit_fn, NULL, err, sizeof(err));
		rounds[r] = (now_us() - t0) / ADMITS;
		/* top the queue back up so every round sees `size` waiting */
		struct fill more = { .n = ADMITS, .base = base };
		base += ADMITS;
		if (rc == 0)
			rc = store_tx(s, fill_fn, &more, err, sizeof(err));
	}
	if (rc == 0) {
		qsort(rounds, ROUNDS, sizeof(double), cmp_double);
		*us = rounds[ROUNDS / 2];
	}
out:
	if (rc < 0)
		fprintf(stderr, "admit_bench: %s\n", err);
	store_close(s);
	return rc;
}

int main(int argc, char **argv)
{
	static const int sizes[] = { 100, 1000, 10000 };
	char tmpl[] = "/tmp/paddock-bench-XXXXXX";
	const char *dir = argc > 1 ? argv[1] : mkdtemp(tmpl);
	if (!dir) {
		perror("admit_bench: mkdtemp");
		return 1;
	}
	double base = 0;
	int rc = 0;
	printf("%-10s %-16s %s\n", "queued", "us/admission", "ratio vs 100");
	for (size_t i = 0; i < ARRAY_SIZE(sizes) && rc == 0; i++) {
		double us = 0;
		rc = measure(dir, sizes[i], &us);
		if (rc < 0)
			break;
		if (i == 0)
			base = us;
		printf("%-10d %-16.1f %.2f\n", sizes[i], us, base > 0 ? us / base : 0.0);
	}
	if (argc <= 1)
		rm_rf(dir);
	return rc < 0 ? 1 : 0;
}
