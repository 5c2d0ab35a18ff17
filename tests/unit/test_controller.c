/* SPDX-License-Identifier: MIT */
/* test_controller.c - the shared controller loop (core/control/controller.c)
 * against an in-memory backend: FIFO admission under a limit, a status
 * write that loses a compare-and-swap to a stop or a deletion (the loop
 * decides again from fresh state and never starts the run), deletion of a
 * running task (killed, then removed), completionTime on every terminal
 * phase, TTL timers.  No processes, no I/O: every run is a flag. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/conf.h"
#include "base/jsonutil.h"
#include "control/controller.h"
#include "plugin/loader.h"

static char err[1024];

/* ---- the fake backend ---------------------------------------------------- */

enum { RUN_NONE, RUN_ACTIVE, RUN_DONE };

struct fake {
	json_object *tasks;   /* name -> document (metadata.resourceVersion kept) */
	json_object *runs;    /* name -> RUN_* */
	long rv;
	long agent_max;       /* of Agent default/a */
	int starts, max_live;
	/* Before the next status write of `race_task`: write this intent. */
	const char *race_task;
	void (*race)(struct fake *f, const char *name);
};

static void bump(struct fake *f, json_object *doc)
{
	char v[24];
	snprintf(v, sizeof(v), "%ld", ++f->rv);
	jset_str(jget(doc, "metadata"), "resourceVersion", v);
}

static void add_task(struct fake *f, const char *name, int created_s, const char *agent)
{
	char *y = agent ? xasprintf("{\"apiVersion\":\"paddock.dev/v1alpha1\",\"kind\":\"Task\","
				    "\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\",\"uid\":\"u-%s\","
				    "\"creationTimestamp\":\"2026-01-01T00:00:%02dZ\"},"
				    "\"spec\":{\"agentRef\":{\"name\":\"%s\"},\"prompt\":\"go\"},"
				    "\"status\":{\"phase\":\"Pending\"}}",
				    name, name, created_s, agent)
			: xasprintf("{\"apiVersion\":\"paddock.dev/v1alpha1\",\"kind\":\"Task\","
				    "\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\",\"uid\":\"u-%s\","
				    "\"creationTimestamp\":\"2026-01-01T00:00:%02dZ\"},"
				    "\"spec\":{\"type\":\"exec\",\"prompt\":\"go\"},"
				    "\"status\":{\"phase\":\"Pending\"}}",
				    name, name, created_s);
	json_object *d = json_tokener_parse(y);
	free(y);
	ck_assert_ptr_nonnull(d);
	bump(f, d);
	json_object_object_add(f->tasks, name, d);
}

static const char *phase_of(json_object *t)
{
	const char *p = jstr(jget(t, "status"), "phase");
	return p ? p : "Pending";
}

static const char *phase(struct fake *f, const char *name)
{
	json_object *t = jget(f->tasks, name);
	return t ? phase_of(t) : "gone";
}

static int run_of(struct fake *f, const char *name)
{
	json_object *r = jget(f->runs, name);
	return r ? json_object_get_int(r) : RUN_NONE;
}

static void set_run(struct fake *f, const char *name, int state)
{
	json_object_object_add(f->runs, name, json_object_new_int(state));
	int live = 0;
	json_object_object_foreach(f->runs, k, v) {
		(void)k;
		live += json_object_get_int(v) == RUN_ACTIVE;
	}
	if (live > f->max_live)
		f->max_live = live;
}

static json_object *op_get(void *b, const char *ns, const char *name)
{
	struct fake *f = b;
	(void)ns;
	json_object *t = jget(f->tasks, name), *copy = NULL;
	if (!t)
		return NULL;
	json_object_deep_copy(t, &copy, NULL);
	return copy;
}

static int op_list(void *b, enum rec_phase phase_want, ctl_task_cb cb, struct ctl *c)
{
	struct fake *f = b;
	json_object_object_foreach(f->tasks, k, t) {
		(void)k;
		if (str_eq(phase_of(t), rec_phase_name(phase_want)))
			cb(c, t);
	}
	return 0;
}

static int op_list_deleting(void *b, ctl_task_cb cb, struct ctl *c)
{
	struct fake *f = b;
	json_object_object_foreach(f->tasks, k, t) {
		(void)k;
		if (jstr(jget(t, "metadata"), "deletionTimestamp"))
			cb(c, t);
	}
	return 0;
}

static int op_view(void *b, json_object *task, enum rec_phase ph, struct model_task **t, char *inv,
		   size_t invlen)
{
	(void)b;
	(void)ph;
	inv[0] = '\0';
	return model_task_from_json(task, t, inv, invlen);
}

static int lk_phase(void *ctx, const char *ns, const char *name, enum rec_phase *ph)
{
	(void)ns;
	json_object *t = jget(((struct fake *)ctx)->tasks, name);
	if (!t)
		return -ENOENT;
	return rec_phase_parse(phase_of(t), ph);
}

static int lk_agent(void *ctx, const char *ns, const char *name, struct model_agent **out)
{
	struct fake *f = ctx;
	if (!str_eq(name, "a"))
		return -ENOENT;
	char *y = xasprintf("{\"apiVersion\":\"paddock.dev/v1alpha1\",\"kind\":\"Agent\","
			    "\"metadata\":{\"name\":\"a\",\"namespace\":\"%s\"},"
			    "\"spec\":{\"type\":\"exec\",\"command\":\"true\",\"maxConcurrentTasks\":%ld}}",
			    ns, f->agent_max);
	json_object *d = json_tokener_parse(y);
	free(y);
	int rc = model_agent_from_json(d, out, err, sizeof(err));
	json_object_put(d);
	return rc;
}

static void op_lookup(void *b, const char *ns, bool with_secret, struct pipeline_lookup *lk)
{
	(void)ns;
	(void)with_secret;
	*lk = (struct pipeline_lookup){ b, lk_phase, NULL, lk_agent, NULL };
}

static void op_lookup_done(void *b, struct pipeline_lookup *lk)
{
	(void)b;
	(void)lk;
}

static bool key_matches(json_object *t, const char *akey)
{
	const char *a = jstr(jget(jget(t, "spec"), "agentRef"), "name");
	char key[64];
	snprintf(key, sizeof(key), "%s", a ? "default/a" : "");
	return !akey || str_eq(key, akey);
}

static long op_running(void *b, const char *akey)
{
	struct fake *f = b;
	long n = 0;
	json_object_object_foreach(f->tasks, k, t) {
		(void)k;
		n += str_eq(phase_of(t), "Running") && key_matches(t, akey);
	}
	return n;
}

static long op_agent_max(void *b, const char *akey)
{
	return str_eq(akey, "default/a") ? ((struct fake *)b)->agent_max : 0;
}

static json_object *op_queue_head(void *b, const char *akey)
{
	struct fake *f = b;
	json_object *best = NULL;
	json_object_object_foreach(f->tasks, k, t) {
		(void)k;
		if (!str_eq(phase_of(t), "Queued") || !key_matches(t, akey))
			continue;
		if (!best || strcmp(jstr(jget(t, "metadata"), "creationTimestamp"),
				    jstr(jget(best, "metadata"), "creationTimestamp")) < 0)
			best = t;
	}
	return best ? json_object_get(best) : NULL;
}

static int op_queued_agents(void *b, struct strv *keys)
{
	json_object *h = op_queue_head(b, "default/a"), *g = op_queue_head(b, "");
	if (h)
		strv_push(keys, "default/a");
	if (g)
		strv_push(keys, "");
	json_object_put(h);
	json_object_put(g);
	return 0;
}

static void op_observe(void *b, json_object *task, const struct model_task *t,
		       struct model_agent **a, struct rec_input *in, struct ctl_run *run)
{
	(void)a;
	(void)task;
	int r = run_of(b, t->name);
	in->run = r == RUN_ACTIVE ? REC_RUN_ACTIVE : r == RUN_DONE ? REC_RUN_EXITED : REC_RUN_NONE;
	if (r == RUN_DONE) {
		in->exit_code = 0;
		in->outcome = 1;
		run->exit_code = 0;
	}
}

static int op_start(void *b, json_object *task, const struct model_task *t,
		    const struct model_agent *a, json_object *patch, char *e, size_t elen)
{
	(void)task;
	(void)a;
	(void)patch;
	struct fake *f = b;
	if (str_eq(t->name, "broken"))
		return errf(e, elen, -EIO, "cannot start broken");
	f->starts++;
	set_run(f, t->name, RUN_ACTIVE);
	return 0;
}

static int op_kill(void *b, json_object *task, const char *reason)
{
	(void)reason;
	struct fake *f = b;
	const char *name = jstr(jget(task, "metadata"), "name");
	if (run_of(f, name) != RUN_ACTIVE)
		return 0;
	set_run(f, name, RUN_DONE); /* ends at once; seen ended next time */
	return 1;
}

static int op_purge(void *b, json_object *task, char *e, size_t elen)
{
	(void)e;
	(void)elen;
	json_object_object_del(((struct fake *)b)->runs, jstr(jget(task, "metadata"), "name"));
	return 0;
}

static int op_remove(void *b, json_object *task, char *e, size_t elen)
{
	(void)e;
	(void)elen;
	json_object_object_del(((struct fake *)b)->tasks, jstr(jget(task, "metadata"), "name"));
	return 0;
}

static int op_write_status(void *b, json_object *task, json_object *st, const char *reason,
			   const char *message)
{
	(void)reason;
	(void)message;
	struct fake *f = b;
	const char *name = jstr(jget(task, "metadata"), "name");
	if (f->race && str_eq(f->race_task, name)) {
		void (*race)(struct fake *, const char *) = f->race;
		f->race = NULL; /* once */
		race(f, name);
	}
	json_object *cur = jget(f->tasks, name);
	if (!cur) {
		json_object_put(st);
		return -ENOENT;
	}
	if (!str_eq(jstr(jget(cur, "metadata"), "resourceVersion"),
		    jstr(jget(task, "metadata"), "resourceVersion"))) {
		json_object_put(st);
		return -ESTALE;
	}
	json_object_object_add(cur, "status", st);
	bump(f, cur);
	return 0;
}

static bool op_wait(void *b, struct ctl *c, int timeout_ms)
{
	(void)b;
	(void)c;
	(void)timeout_ms;
	return true;
}

static const struct ctl_backend fake_ops = {
	.name = "fake", .get = op_get, .list = op_list, .list_deleting = op_list_deleting,
	.view = op_view, .lookup = op_lookup, .lookup_done = op_lookup_done, .running = op_running,
	.agent_max = op_agent_max, .queued_agents = op_queued_agents, .queue_head = op_queue_head,
	.observe = op_observe, .start = op_start, .kill = op_kill, .purge = op_purge,
	.remove = op_remove, .write_status = op_write_status, .wait = op_wait,
};

/* The CLI's intents, written between the controller's read and write. */
static void intent_stop(struct fake *f, const char *name)
{
	json_object *t = jget(f->tasks, name), *md = jget(t, "metadata");
	json_object *ann = json_object_new_object();
	jset_str(ann, MODEL_ANNOTATION_STOP, "true");
	json_object_object_add(md, "annotations", ann);
	bump(f, t);
}

static void intent_delete(struct fake *f, const char *name)
{
	json_object *t = jget(f->tasks, name);
	jset_str(jget(t, "metadata"), "deletionTimestamp", "2026-01-01T00:01:00Z");
	bump(f, t);
}

/* ---- fixtures ------------------------------------------------------------- */

static struct pd_config *cfg;
static struct plugin_set *ps;
static struct fake f;

static void setup(void)
{
	char *y = xasprintf("pluginDirs: [\"%s/drivers/.libs\"]\ndrivers:\n  exec: {}\n", TOP_BUILDDIR);
	ck_assert_msg(config_parse("t.yaml", y, strlen(y), &cfg, err, sizeof(err)) == 0, "%s", err);
	free(y);
	ck_assert_msg(plugins_load(cfg, true, &ps, err, sizeof(err)) == 0, "%s", err);
	memset(&f, 0, sizeof(f));
	f.tasks = json_object_new_object();
	f.runs = json_object_new_object();
	f.agent_max = 2;
}

static void teardown(void)
{
	json_object_put(f.tasks);
	json_object_put(f.runs);
	plugins_free(ps);
	config_free(cfg);
}

/* Finish every active run and let the controller look again, up to n rounds. */
static void drain(struct ctl *c, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		json_object_object_foreach(f.runs, k, v) {
			if (json_object_get_int(v) == RUN_ACTIVE)
				set_run(&f, k, RUN_DONE);
		}
		ctl_enqueue_all(c);
		(void)ctl_process(c);
	}
}

START_TEST(fifo_under_a_limit)
{
	/* created out of name order: c is the oldest */
	add_task(&f, "b", 2, "a");
	add_task(&f, "c", 1, "a");
	add_task(&f, "a", 3, "a");
	add_task(&f, "d", 4, "a");
	struct ctl *c = ctl_new(cfg, ps, &fake_ops, &f);
	ctl_enqueue_all(c);
	(void)ctl_process(c);
	ck_assert_str_eq(phase(&f, "c"), "Running");
	ck_assert_str_eq(phase(&f, "b"), "Running");
	ck_assert_str_eq(phase(&f, "a"), "Queued");
	ck_assert_str_eq(phase(&f, "d"), "Queued");
	ck_assert_str_eq(jstr(jget(jget(f.tasks, "a"), "status"), "reason"), "AgentCapacity");
	drain(c, 6);
	ck_assert_int_eq(f.starts, 4);
	ck_assert_int_le(f.max_live, 2);
	const char *names[] = { "a", "b", "c", "d" };
	for (int i = 0; i < 4; i++) {
		ck_assert_str_eq(phase(&f, names[i]), "Succeeded");
		ck_assert_ptr_nonnull(jstr(jget(jget(f.tasks, names[i]), "status"), "completionTime"));
	}
	ctl_free(c);
}
END_TEST

START_TEST(a_lone_task_is_never_queued)
{
	add_task(&f, "lone", 1, NULL);
	struct ctl *c = ctl_new(cfg, ps, &fake_ops, &f);
	ctl_enqueue(c, "default", "lone");
	ck_assert_int_eq(ctl_process(c), 1); /* one write: Running */
	ck_assert_str_eq(phase(&f, "lone"), "Running");
	ctl_free(c);
}
END_TEST

START_TEST(stop_wins_the_race_with_a_start)
{
	add_task(&f, "s", 1, NULL);
	f.race_task = "s";
	f.race = intent_stop;
	struct ctl *c = ctl_new(cfg, ps, &fake_ops, &f);
	ctl_enqueue(c, "default", "s");
	(void)ctl_process(c);
	ck_assert_int_eq(f.starts, 0);
	ck_assert_str_eq(phase(&f, "s"), "Stopped");
	ck_assert_ptr_nonnull(jstr(jget(jget(f.tasks, "s"), "status"), "completionTime"));
	ctl_free(c);
}
END_TEST

START_TEST(delete_wins_the_race_with_a_start)
{
	add_task(&f, "d", 1, NULL);
	f.race_task = "d";
	f.race = intent_delete;
	struct ctl *c = ctl_new(cfg, ps, &fake_ops, &f);
	ctl_enqueue(c, "default", "d");
	(void)ctl_process(c);
	ck_assert_int_eq(f.starts, 0);
	ck_assert_str_eq(phase(&f, "d"), "gone");
	ctl_free(c);
}
END_TEST

START_TEST(deleting_a_running_task_kills_it_first)
{
	add_task(&f, "r", 1, "a");
	add_task(&f, "next", 2, "a");
	f.agent_max = 1;
	struct ctl *c = ctl_new(cfg, ps, &fake_ops, &f);
	ctl_enqueue_all(c);
	(void)ctl_process(c);
	ck_assert_str_eq(phase(&f, "r"), "Running");
	ck_assert_str_eq(phase(&f, "next"), "Queued");
	intent_delete(&f, "r");
	ctl_enqueue(c, "default", "r");
	(void)ctl_process(c);
	/* killed, not yet seen ended: still there, still holding the slot */
	ck_assert_str_eq(phase(&f, "r"), "Running");
	ck_assert_str_eq(phase(&f, "next"), "Queued");
	ck_assert_int_gt(ctl_next_due(c), 0);
	ctl_enqueue(c, "default", "r");
	(void)ctl_process(c);
	ck_assert_str_eq(phase(&f, "r"), "gone");
	ck_assert_ptr_null(jget(f.runs, "r"));
	ck_assert_str_eq(phase(&f, "next"), "Running");
	ck_assert_int_le(f.max_live, 1);
	ctl_free(c);
}
END_TEST

START_TEST(start_failed_and_ttl)
{
	add_task(&f, "broken", 1, NULL);
	json_object_object_add(jget(jget(f.tasks, "broken"), "spec"), "ttlSecondsAfterFinished",
			       json_object_new_int(60));
	struct ctl *c = ctl_new(cfg, ps, &fake_ops, &f);
	ctl_enqueue(c, "default", "broken");
	(void)ctl_process(c);
	json_object *st = jget(jget(f.tasks, "broken"), "status");
	ck_assert_str_eq(phase(&f, "broken"), "Failed");
	ck_assert_str_eq(jstr(st, "reason"), "StartFailed");
	ck_assert_ptr_nonnull(jstr(st, "completionTime"));
	/* its TTL is a timer, due a minute after completion */
	int64_t due = ctl_next_due(c), done = jtime(st, "completionTime");
	ck_assert_msg(due >= done + 59000 && due <= done + 61000, "due %lld, completed %lld",
		      (long long)due, (long long)done);
	ctl_free(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("controller");
	TCase *tc = tcase_create("loop");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, fifo_under_a_limit);
	tcase_add_test(tc, a_lone_task_is_never_queued);
	tcase_add_test(tc, stop_wins_the_race_with_a_start);
	tcase_add_test(tc, delete_wins_the_race_with_a_start);
	tcase_add_test(tc, deleting_a_running_task_kills_it_first);
	tcase_add_test(tc, start_failed_and_ttl);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	log_setup(LOG_ERR, LOG_FORMAT_KV);
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
