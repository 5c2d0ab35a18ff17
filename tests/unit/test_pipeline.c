/* SPDX-License-Identifier: MIT */
/* test_pipeline.c - what the pipeline decides for a run on both backends:
 * the effective resource limits and requests (Task, then Agent, then the
 * Agent's deprecated spec.pod.resources, then paddock.yaml), a request
 * above the run's limit, and the Agent's spec.sandbox.env in the run plan
 * (with the real drivers from the build tree). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/conf.h"
#include "plugin/loader.h"
#include "model/model.h"
#include "control/pipeline.h"
#include "control/plan.h"
#include "base/quantity.h"
#include "base/util.h"

static char err[1024];

static json_object *valid_doc(const char *json, enum model_kind want)
{
	json_object *d = json_tokener_parse(json);
	ck_assert_msg(d != NULL, "bad JSON: %s", json);
	enum model_kind k;
	int rc = model_validate(d, NULL, &k, err, sizeof(err));
	ck_assert_msg(rc == 0, "validate: %s", err);
	ck_assert_int_eq(k, want);
	return d;
}

/* A Task default/t using Agent default/a, with `extra` in its spec. */
static struct model_task *task_with(const char *extra)
{
	char *json = xasprintf("{\"apiVersion\":\"paddock.dev/v1alpha1\",\"kind\":\"Task\","
			       "\"metadata\":{\"name\":\"t\",\"uid\":\"u-1\"},"
			       "\"spec\":{\"agentRef\":{\"name\":\"a\"},\"prompt\":\"hi\"%s}}",
			       extra);
	json_object *d = valid_doc(json, MODEL_TASK);
	free(json);
	struct model_task *t = NULL;
	ck_assert_int_eq(model_task_from_json(d, &t, err, sizeof(err)), 0);
	json_object_put(d);
	return t;
}

/* An Agent default/a with `spec` (a JSON object's members, no braces). */
static struct model_agent *agent_with(const char *spec)
{
	char *json = xasprintf("{\"apiVersion\":\"paddock.dev/v1alpha1\",\"kind\":\"Agent\","
			       "\"metadata\":{\"name\":\"a\"},\"spec\":{%s}}",
			       spec);
	json_object *d = valid_doc(json, MODEL_AGENT);
	free(json);
	struct model_agent *a = NULL;
	ck_assert_int_eq(model_agent_from_json(d, &a, err, sizeof(err)), 0);
	json_object_put(d);
	return a;
}

static struct pd_config *cfg_from(const char *yaml)
{
	struct pd_config *c = NULL;
	int rc = config_parse("t.yaml", yaml, strlen(yaml), &c, err, sizeof(err));
	ck_assert_msg(rc == 0, "config: %s", err);
	return c;
}

static void assert_limits(const struct run_limits *l, const char *want)
{
	char text[160];
	limits_format(l, text, sizeof(text));
	ck_assert_str_eq(text, want);
}

/* ---- resources ---------------------------------------------------------- */

START_TEST(limits_precedence)
{
	struct pd_config *cfg = config_new_default();
	struct run_limits l, r;
	struct model_task *t = task_with("");
	struct model_agent *a = agent_with("\"type\":\"exec\"");

	/* Nothing set: paddock.yaml's defaults; without a config, none. */
	pipeline_limits(cfg, t, a, &l);
	assert_limits(&l, "cpu=2 memory=4Gi ephemeral-storage=10Gi pids=1024");
	pipeline_limits(cfg, t, NULL, &l);
	assert_limits(&l, "cpu=2 memory=4Gi ephemeral-storage=10Gi pids=1024");
	pipeline_limits(NULL, t, a, &l);
	assert_limits(&l, "none");
	pipeline_requests(cfg, t, a, &r);
	assert_limits(&r, "none");
	model_agent_free(a);

	/* The Agent's over the defaults, field by field. */
	a = agent_with("\"type\":\"exec\",\"resources\":{\"limits\":{\"cpu\":\"500m\",\"pids\":256},"
		       "\"requests\":{\"memory\":\"1Gi\"}}");
	pipeline_limits(cfg, t, a, &l);
	assert_limits(&l, "cpu=500m memory=4Gi ephemeral-storage=10Gi pids=256");
	pipeline_requests(cfg, t, a, &r);
	assert_limits(&r, "memory=1Gi");

	/* The Task's over the Agent's. */
	model_task_free(t);
	t = task_with(",\"resources\":{\"limits\":{\"cpu\":2.5,\"memory\":\"256Mi\",\"pids\":512},"
		      "\"requests\":{\"memory\":\"128Mi\"}}");
	pipeline_limits(cfg, t, a, &l);
	assert_limits(&l, "cpu=2500m memory=256Mi ephemeral-storage=10Gi pids=512");
	pipeline_requests(cfg, t, a, &r);
	assert_limits(&r, "memory=128Mi");
	model_agent_free(a);

	/* The deprecated spec.pod.resources is the Agent's level when
	 * spec.resources does not set the field. */
	a = agent_with("\"type\":\"exec\",\"resources\":{\"limits\":{\"cpu\":1}},"
		       "\"pod\":{\"resources\":{\"limits\":{\"cpu\":3,\"ephemeral-storage\":\"1Gi\"},"
		       "\"requests\":{\"cpu\":\"100m\"}}}");
	pipeline_limits(cfg, t, a, &l);
	assert_limits(&l, "cpu=2500m memory=256Mi ephemeral-storage=1Gi pids=512");
	model_task_free(t);
	t = task_with("");
	pipeline_limits(cfg, t, a, &l);
	assert_limits(&l, "cpu=1 memory=4Gi ephemeral-storage=1Gi pids=1024");
	pipeline_requests(cfg, t, a, &r);
	assert_limits(&r, "cpu=100m");
	model_agent_free(a);
	model_task_free(t);
	config_free(cfg);

	/* An operator's 0 turns a default off. */
	cfg = cfg_from("resources: {limits: {cpu: 0, pids: 0}, requests: {cpu: 100m}}\n");
	t = task_with("");
	pipeline_limits(cfg, t, NULL, &l);
	assert_limits(&l, "memory=4Gi ephemeral-storage=10Gi");
	pipeline_requests(cfg, t, NULL, &r);
	assert_limits(&r, "cpu=100m");
	model_task_free(t);
	config_free(cfg);
}
END_TEST

START_TEST(request_above_limit)
{
	struct pd_config *cfg = config_new_default();
	struct model_agent *a = agent_with("\"type\":\"exec\",\"resources\":{\"limits\":{\"memory\":\"1Gi\"}}");

	/* The Task's request against the Agent's limit. */
	struct model_task *t = task_with(",\"resources\":{\"requests\":{\"memory\":\"2Gi\"}}");
	ck_assert_int_eq(pipeline_check_resources(cfg, t, a, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "spec.resources.requests.memory: 2Gi is above the run's memory limit 1Gi "
			      "(Agent spec.resources.limits.memory): lower the request or set "
			      "spec.resources.limits.memory");
	/* ... which apply checks too, without paddock.yaml. */
	ck_assert_int_eq(pipeline_check_task(NULL, t, 0, a, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "spec.resources.requests.memory: 2Gi is above"));
	model_task_free(t);

	/* Against paddock.yaml's default limit. */
	t = task_with(",\"resources\":{\"requests\":{\"cpu\":3}}");
	ck_assert_int_eq(pipeline_check_resources(cfg, t, a, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "spec.resources.requests.cpu: 3 is above the run's cpu limit 2 "
			      "(paddock.yaml resources.limits.cpu): lower the request or set "
			      "spec.resources.limits.cpu");
	ck_assert_int_eq(pipeline_check_resources(NULL, t, a, err, sizeof(err)), 0);
	model_task_free(t);

	/* Raising the limit with it is fine. */
	t = task_with(",\"resources\":{\"requests\":{\"memory\":\"2Gi\"},\"limits\":{\"memory\":\"3Gi\"}}");
	ck_assert_int_eq(pipeline_check_resources(cfg, t, a, err, sizeof(err)), 0);
	model_task_free(t);
	model_agent_free(a);
	config_free(cfg);
}
END_TEST

/* ---- spec.sandbox.env --------------------------------------------------- */

static struct pd_config *drivers_cfg(void)
{
	return cfg_from("pluginDirs: [\"" TOP_BUILDDIR "/drivers/.libs\"]\n"
			"drivers:\n"
			"  exec: {}\n"
			"  claude-code: {settings: {baseURL: \"https://llm.example\"}}\n");
}

/* The plan of Task default/t with Agent `a`; its rc. */
static int plan_for(const struct pd_config *cfg, const struct plugin_set *ps,
		    const struct model_agent *a, struct run_plan *plan)
{
	struct model_task *t = task_with("");
	plan_init(plan, "default", 0, 0);
	err[0] = '\0';
	int rc = pipeline_plan(cfg, ps, t, a, NULL, plan, err, sizeof(err));
	model_task_free(t);
	return rc;
}

START_TEST(sandbox_env_in_plan)
{
	unsetenv("PADDOCK_PLUGIN_PATH");
	struct pd_config *cfg = drivers_cfg();
	struct plugin_set *ps = NULL;
	ck_assert_msg(plugins_load(cfg, true, &ps, err, sizeof(err)) == 0, "%s", err);
	struct run_plan plan;

	/* The variables are in the plan, next to the driver's and the core's. */
	struct model_agent *a = agent_with("\"type\":\"exec\",\"command\":\"true\","
					   "\"sandbox\":{\"env\":{\"GOFLAGS\":\"-mod=mod\","
					   "\"HTTPS_PROXY\":\"http://proxy:3128\",\"EMPTY\":\"\"}}");
	ck_assert_msg(plan_for(cfg, ps, a, &plan) == 0, "%s", err);
	ck_assert_str_eq(plan_env_get(&plan, "GOFLAGS"), "-mod=mod");
	ck_assert_str_eq(plan_env_get(&plan, "HTTPS_PROXY"), "http://proxy:3128");
	ck_assert_str_eq(plan_env_get(&plan, "EMPTY"), "");
	ck_assert_str_eq(plan_env_get(&plan, "PADDOCK_COMMAND"), "true");
	ck_assert_str_eq(plan_env_get(&plan, "PADDOCK_TASK"), "default/t");
	plan_free(&plan);
	model_agent_free(a);

	/* Over a plain variable of the driver (its setting), and the plan has
	 * each name once. */
	a = agent_with("\"type\":\"claude-code\","
		       "\"credentials\":{\"type\":\"api-key\",\"secretRef\":{\"name\":\"anthropic\"}},"
		       "\"sandbox\":{\"env\":{\"ANTHROPIC_BASE_URL\":\"https://proxy.example\"}}");
	ck_assert_msg(plan_for(cfg, ps, a, &plan) == 0, "%s", err);
	ck_assert_str_eq(plan_env_get(&plan, "ANTHROPIC_BASE_URL"), "https://proxy.example");
	size_t seen = 0;
	for (size_t i = 0; i < plan.n_env; i++)
		seen += str_eq(plan.env[i].name, "ANTHROPIC_BASE_URL");
	ck_assert_uint_eq(seen, 1);
	plan_free(&plan);
	model_agent_free(a);

	/* Never over a credential the driver takes from a Secret: refused when
	 * the Task is applied (pipeline_check_task) and when the run starts. */
	a = agent_with("\"type\":\"claude-code\","
		       "\"credentials\":{\"type\":\"api-key\",\"secretRef\":{\"name\":\"anthropic\"}},"
		       "\"sandbox\":{\"env\":{\"ANTHROPIC_API_KEY\":\"sk-not-a-secret\"}}");
	const char *want = "Agent spec.sandbox.env[\"ANTHROPIC_API_KEY\"]: the run sets it from "
			   "Secret \"anthropic\" (a credential): remove it from spec.sandbox.env";
	ck_assert_int_eq(plan_for(cfg, ps, a, &plan), -EINVAL);
	ck_assert_str_eq(err, want);
	plan_free(&plan);
	struct model_task *t = task_with("");
	ck_assert_int_eq(pipeline_check_task(ps, t, 0, a, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, want);
	model_task_free(t);
	model_agent_free(a);

	/* A document stored before the reserved names were refused: ignored
	 * (HOME, PADDOCK_*), the core's contract stays. */
	json_object *d = json_tokener_parse(
		"{\"apiVersion\":\"paddock.dev/v1alpha1\",\"kind\":\"Agent\","
		"\"metadata\":{\"name\":\"a\",\"namespace\":\"default\"},"
		"\"spec\":{\"type\":\"exec\",\"command\":\"true\","
		"\"sandbox\":{\"env\":{\"PADDOCK_TASK\":\"evil\",\"PADDOCK_COMMAND\":\"rm\",\"OK\":\"1\"}}}}");
	ck_assert_int_eq(model_agent_from_json(d, &a, err, sizeof(err)), 0);
	json_object_put(d);
	ck_assert_msg(plan_for(cfg, ps, a, &plan) == 0, "%s", err);
	ck_assert_str_eq(plan_env_get(&plan, "PADDOCK_TASK"), "default/t");
	ck_assert_str_eq(plan_env_get(&plan, "PADDOCK_COMMAND"), "true");
	ck_assert_str_eq(plan_env_get(&plan, "OK"), "1");
	plan_free(&plan);
	model_agent_free(a);

	/* A request above the limit fails the plan too (both backends). */
	a = agent_with("\"type\":\"exec\",\"command\":\"true\","
		       "\"resources\":{\"requests\":{\"memory\":\"8Gi\"}}");
	ck_assert_int_eq(plan_for(cfg, ps, a, &plan), -EINVAL);
	ck_assert_str_eq(err, "Agent spec.resources.requests.memory: 8Gi is above the run's memory "
			      "limit 4Gi (paddock.yaml resources.limits.memory): lower the request "
			      "or set spec.resources.limits.memory");
	plan_free(&plan);
	model_agent_free(a);

	plugins_free(ps);
	config_free(cfg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pipeline");
	TCase *tc = tcase_create("resources");
	tcase_add_test(tc, limits_precedence);
	tcase_add_test(tc, request_above_limit);
	suite_add_tcase(s, tc);
	tc = tcase_create("sandbox_env");
	tcase_add_test(tc, sandbox_env_in_plan);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
