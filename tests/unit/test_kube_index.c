/* SPDX-License-Identifier: MIT */
/* test_kube_index.c - kube/taskindex: slots held and the FIFO line, kept per
 * change, checked after every change against a scan of the same objects
 * (what the backend did before it had the index). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonutil.h"
#include "base/util.h"
#include "kube/render.h"
#include "kube/taskindex.h"
#include "model/model.h"

#define N 64

static json_object *task(int i, const char *phase, const char *agent, int created_s, bool stop)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"t%d\",\"uid\":\"u%03d\","
		 "\"creationTimestamp\":\"2030-01-01T00:%02d:%02dZ\"%s},"
		 "\"spec\":{\"agentRef\":{\"name\":\"%s\"}%s},\"status\":{\"phase\":\"%s\"}}",
		 i, i, created_s / 60, created_s % 60,
		 stop ? ",\"annotations\":{\"" MODEL_ANNOTATION_STOP "\":\"true\"}" : "", agent,
		 i % 5 == 0 ? ",\"maxCostUSD\":1" : "", phase);
	return json_tokener_parse(buf);
}

static json_object *job(int i, const char *agent, bool ended)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"j%d\",\"labels\":{\"" KUBE_LABEL_TASK_UID
		 "\":\"u%03d\"},\"annotations\":{\"" KUBE_ANNOTATION_AGENT "\":\"ns/%s\"}},"
		 "\"status\":{%s}}",
		 i, i, agent, ended ? "\"conditions\":[{\"type\":\"Complete\",\"status\":\"True\"}]" : "");
	return json_tokener_parse(buf);
}

/* The model: what a scan finds. */
static json_object *tasks[N], *jobs[N];

static long scan_running(const char *akey)
{
	long n = 0;
	for (int i = 0; i < N; i++) {
		char k[320] = "";
		bool running = tasks[i] && str_eq(jstr(jget(tasks[i], "status"), "phase"), "Running");
		bool active = jobs[i] && !jget(jget(jobs[i], "status"), "conditions");
		if (tasks[i])
			model_task_agent_key(tasks[i], k, sizeof(k));
		else if (jobs[i])
			snprintf(k, sizeof(k), "%s", jstr(jget(jget(jobs[i], "metadata"), "annotations"),
							  KUBE_ANNOTATION_AGENT));
		if ((running || active) && (!akey || str_eq(k, akey)))
			n++;
	}
	return n;
}

static int scan_head(const char *akey)
{
	int best = -1;
	for (int i = 0; i < N; i++) {
		char k[320];
		if (!tasks[i] || !str_eq(jstr(jget(tasks[i], "status"), "phase"), "Queued") ||
		    model_stop_requested(tasks[i]) || (jobs[i] && !jget(jget(jobs[i], "status"), "conditions")))
			continue;
		model_task_agent_key(tasks[i], k, sizeof(k));
		if (akey && !str_eq(k, akey))
			continue;
		if (best < 0 || jtime(jget(tasks[i], "metadata"), "creationTimestamp") <
				       jtime(jget(tasks[best], "metadata"), "creationTimestamp"))
			best = i; /* ties: the lower index, as the uid "u%03d" sorts */
	}
	return best;
}

/* The metrics' figures, as op_housekeeping found them by a walk: Tasks
 * by phase, Queued Tasks by agent key. */
static void agree_counts(struct kidx *x, int step)
{
	long want[KIDX_PHASES] = { 0 }, got[KIDX_PHASES];
	long qa = 0, qb = 0;
	for (int i = 0; i < N; i++) {
		if (!tasks[i])
			continue;
		const char *ph = jstr(jget(tasks[i], "status"), "phase");
		want[model_phase_parse(ph)]++;
		if (str_eq(ph, "Queued"))
			(*(i % 3 ? &qa : &qb))++;
	}
	kidx_phase_counts(x, got);
	for (int p = 0; p < KIDX_PHASES; p++)
		ck_assert_msg(got[p] == want[p], "step %d: phase %d: %ld Tasks, a scan says %ld", step, p,
			      got[p], want[p]);
	json_object *d = kidx_queue_depths(x), *v = NULL;
	long da = json_object_object_get_ex(d, "ns/a", &v) ? (long)json_object_get_int64(v) : 0;
	long db = json_object_object_get_ex(d, "ns/b", &v) ? (long)json_object_get_int64(v) : 0;
	ck_assert_msg(da == qa && db == qb, "step %d: Queued by agent %ld/%ld, a scan says %ld/%ld", step,
		      da, db, qa, qb);
	ck_assert_int_eq(json_object_object_length(d), (qa > 0) + (qb > 0));
	/* The Running tasks, and those with their own cost cap. */
	for (int capped = 0; capped < 2; capped++) {
		struct strv keys = { 0 };
		kidx_running_tasks(x, capped, &keys);
		size_t want_n = 0;
		for (int i = 0; i < N; i++) {
			if (!tasks[i] || !str_eq(jstr(jget(tasks[i], "status"), "phase"), "Running") ||
			    (capped && i % 5))
				continue;
			want_n++;
			char k[32];
			snprintf(k, sizeof(k), "ns/t%d", i);
			bool found = false;
			for (size_t j = 0; j < keys.n && !found; j++)
				found = str_eq(keys.v[j], k);
			ck_assert_msg(found, "step %d: %s Running%s, not in the index", step, k,
				      capped ? " and capped" : "");
		}
		ck_assert_msg(keys.n == want_n, "step %d: %zu Running%s in the index, a scan says %zu",
			      step, keys.n, capped ? " and capped" : "", want_n);
		strv_free(&keys);
	}
}

static void agree(struct kidx *x, int step)
{
	agree_counts(x, step);
	static const char *const keys[] = { "ns/a", "ns/b", NULL };
	for (size_t k = 0; k < 3; k++) {
		ck_assert_msg(kidx_running(x, keys[k]) == scan_running(keys[k]),
			      "step %d: running(%s) %ld, a scan says %ld", step,
			      keys[k] ? keys[k] : "all", kidx_running(x, keys[k]), scan_running(keys[k]));
		int h = scan_head(keys[k]);
		const char *got = kidx_queue_head(x, keys[k]);
		char want[32];
		snprintf(want, sizeof(want), "ns/t%d", h);
		ck_assert_msg(h < 0 ? got == NULL : got && str_eq(got, want),
			      "step %d: head(%s) %s, a scan says %s", step, keys[k] ? keys[k] : "all",
			      got ? got : "none", h < 0 ? "none" : want);
	}
}

START_TEST(random_changes_agree_with_a_scan)
{
	static const char *const phases[] = { "Pending", "Queued", "Queued", "Running", "Succeeded",
					      "Waiting", "Failed", "Stopped" };
	struct kidx *x = kidx_new();
	srand(18);
	for (int step = 0; step < 20000; step++) {
		int i = rand() % N;
		int what = rand() % 10;
		const char *agent = i % 3 ? "a" : "b";
		if (what < 6) {
			json_object_put(tasks[i]);
			/* Same creation time for some: the uid breaks the tie. */
			tasks[i] = task(i, phases[rand() % 8], agent, (i * 7) % 40, rand() % 8 == 0);
			kidx_task(x, tasks[i], false);
		} else if (what < 7 && tasks[i]) {
			kidx_task(x, tasks[i], true);
			json_object_put(tasks[i]);
			tasks[i] = NULL;
		} else if (what < 9) {
			json_object_put(jobs[i]);
			jobs[i] = job(i, agent, rand() % 3 == 0);
			kidx_job(x, jobs[i], false);
		} else if (jobs[i]) {
			kidx_job(x, jobs[i], true);
			json_object_put(jobs[i]);
			jobs[i] = NULL;
		}
		agree(x, step);
	}
	for (int i = 0; i < N; i++) {
		json_object_put(tasks[i]);
		json_object_put(jobs[i]);
		tasks[i] = jobs[i] = NULL;
	}
	kidx_free(x);
}
END_TEST

START_TEST(a_start_in_flight_holds_a_slot_and_leaves_the_line)
{
	struct kidx *x = kidx_new();
	json_object *t = task(1, "Queued", "a", 1, false);
	kidx_task(x, t, false);
	ck_assert_str_eq(kidx_queue_head(x, "ns/a"), "ns/t1");
	ck_assert_int_eq(kidx_running(x, "ns/a"), 0);
	ck_assert(!kidx_admitted(x, "u001"));
	kidx_starting(x, "u001", NULL, true);
	ck_assert(kidx_admitted(x, "u001")); /* a Budget's maxTasks counts it */
	ck_assert_ptr_null(kidx_queue_head(x, "ns/a"));
	ck_assert_int_eq(kidx_running(x, "ns/a"), 1);
	ck_assert_int_eq(kidx_running(x, NULL), 1);
	kidx_starting(x, "u001", NULL, false);
	ck_assert(!kidx_admitted(x, "u001"));
	ck_assert_str_eq(kidx_queue_head(x, "ns/a"), "ns/t1");
	ck_assert_int_eq(kidx_running(x, NULL), 0);
	json_object *j = job(1, "a", false); /* its Job, not ended: admitted */
	kidx_job(x, j, false);
	ck_assert(kidx_admitted(x, "u001"));
	kidx_job(x, j, true);
	ck_assert(!kidx_admitted(x, "u001"));
	json_object_put(j);
	json_object_put(t);
	kidx_free(x);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kube_index");
	TCase *tc = tcase_create("index");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, random_changes_agree_with_a_scan);
	tcase_add_test(tc, a_start_in_flight_holds_a_slot_and_leaves_the_line);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
