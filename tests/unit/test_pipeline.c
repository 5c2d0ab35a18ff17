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
#include <unistd.h>

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
	ck_assert_int_eq(pipeline_check_task(NULL, NULL, t, 0, a, err, sizeof(err)), -EINVAL);
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
	ck_assert_int_eq(pipeline_check_task(NULL, ps, t, 0, a, err, sizeof(err)), -EINVAL);
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

/* ---- egress: paddock.yaml's ceiling, the Agent's narrowing, defaults --- */

static const char *net_err(const struct pd_config *cfg, const struct model_agent *a)
{
	err[0] = '\0';
	ck_assert_int_eq(pipeline_check_network(cfg, a, err, sizeof(err)), -EINVAL);
	return err;
}

/* The effective egress of Task default/t (`task`: its spec's extra
 * members) with Agent `agent` (its spec's members) under `yaml`, as
 * describe writes it. */
static char *egress_of(const char *yaml, const char *agent, const char *task)
{
	struct pd_config *cfg = cfg_from(yaml);
	struct model_agent *a = agent_with(agent);
	struct model_task *t = task_with(task);
	struct pipeline_net net;
	err[0] = '\0';
	int rc = pipeline_egress(cfg, t, a, &net, err, sizeof(err));
	ck_assert_msg(rc == 0, "pipeline_egress: %s", err);
	char *text = pipeline_net_describe(&net);
	/* the list handed to the local backend is the one described */
	ck_assert(net.mode == EGRESS_ALLOWLIST || net.allow.n == 0);
	pipeline_net_free(&net);
	model_task_free(t);
	model_agent_free(a);
	config_free(cfg);
	return text;
}

#define ASSERT_EGRESS(yaml, agent, task, want)                  \
	do {                                                    \
		char *got_ = egress_of(yaml, agent, task);      \
		ck_assert_str_eq(got_, want);                   \
		free(got_);                                     \
	} while (0)

/* pipeline_lookup.agent: Agent default/a with the spec members in ctx. */
static int lookup_agent(void *ctx, const char *ns, const char *name, struct model_agent **out)
{
	(void)ns;
	(void)name;
	*out = agent_with(ctx);
	return 0;
}

START_TEST(egress_ceiling)
{
	struct pd_config *open = cfg_from("network: {egress: open}\n");
	struct pd_config *allow = cfg_from("network: {egress: allowlist, allow: [pkg.example]}\n");
	struct pd_config *none = cfg_from("network: {egress: none}\n");
	struct model_agent *a_open = agent_with("\"type\":\"exec\",\"network\":{\"egress\":\"open\"}");
	struct model_agent *a_list = agent_with("\"type\":\"exec\",\"network\":{\"egress\":\"allowlist\"}");
	struct model_agent *a_none = agent_with("\"type\":\"exec\",\"network\":{\"egress\":\"none\"}");
	struct model_agent *a_unset = agent_with("\"type\":\"exec\"");

	/* narrowing, or keeping the operator's, is fine */
	ck_assert_int_eq(pipeline_check_network(open, a_open, err, sizeof(err)), 0);
	ck_assert_int_eq(pipeline_check_network(open, a_list, err, sizeof(err)), 0);
	ck_assert_int_eq(pipeline_check_network(open, a_none, err, sizeof(err)), 0);
	ck_assert_int_eq(pipeline_check_network(allow, a_list, err, sizeof(err)), 0);
	ck_assert_int_eq(pipeline_check_network(allow, a_none, err, sizeof(err)), 0);
	ck_assert_int_eq(pipeline_check_network(none, a_none, err, sizeof(err)), 0);
	ck_assert_int_eq(pipeline_check_network(none, a_unset, err, sizeof(err)), 0);
	ck_assert_int_eq(pipeline_check_network(none, NULL, err, sizeof(err)), 0);
	/* widening is refused, naming the field and the operator's setting */
	ck_assert_str_eq(net_err(allow, a_open),
			 "Agent spec.network.egress: open is wider than paddock.yaml network.egress "
			 "(allowlist): an Agent may only narrow the operator's egress (open > "
			 "allowlist > none); use allowlist or narrower, or ask the operator to set "
			 "network.egress: open");
	ck_assert(strstr(net_err(none, a_open), "open is wider than paddock.yaml network.egress (none)"));
	ck_assert(strstr(net_err(none, a_list),
			 "Agent spec.network.egress: allowlist is wider than paddock.yaml network.egress (none)"));

	/* entries the schema lets through, the proxy's parser does not */
	struct model_agent *bad = agent_with("\"type\":\"exec\",\"network\":{\"allow\":[\"ok.example\",\"*.10.0.0.1\"]}");
	ck_assert_str_eq(net_err(allow, bad),
			 "Agent spec.network.allow[1]: allow entry \"*.10.0.0.1\": a wildcard takes a domain, not an IP address");
	model_agent_free(bad);
	bad = agent_with("\"type\":\"exec\",\"network\":{\"allow\":[\"[1:::2]:443\"]}");
	ck_assert(strstr(net_err(open, bad), "Agent spec.network.allow[0]: allow entry \"[1:::2]:443\": "));
	model_agent_free(bad);

	/* a Task whose Agent widens fails InvalidSpec when it is resolved
	 * (paddock.yaml may have changed since the Agent was applied) */
	struct model_task *t = task_with("");
	struct pipeline_lookup lk = { .ctx = (void *)"\"type\":\"exec\",\"network\":{\"egress\":\"open\"}",
				      .agent = lookup_agent };
	struct rec_input in = { 0 };
	struct pipeline_resolution res;
	pipeline_resolve(allow, NULL, t, &lk, &in, &res);
	ck_assert_str_eq(in.invalid_reason, "InvalidSpec");
	ck_assert(strstr(in.invalid, "Agent spec.network.egress: open is wider than paddock.yaml network.egress (allowlist)"));
	pipeline_resolution_free(&res);
	/* under an open paddock.yaml the same Agent is fine (the driver is
	 * what is missing here: no plugins) */
	memset(&in, 0, sizeof(in));
	pipeline_resolve(open, NULL, t, &lk, &in, &res);
	ck_assert_str_eq(in.invalid_reason, "DriverNotFound");
	pipeline_resolution_free(&res);
	model_task_free(t);

	model_agent_free(a_open);
	model_agent_free(a_list);
	model_agent_free(a_none);
	model_agent_free(a_unset);
	config_free(open);
	config_free(allow);
	config_free(none);
}
END_TEST

START_TEST(egress_effective)
{
	const char *list = "network: {egress: allowlist, allow: [pkg.example, '*.cdn.example']}\n";
	const char *ctxs = ",\"workspace\":{\"repo\":\"https://user@git.example:8443/o/r.git\"},"
			   "\"contexts\":[{\"name\":\"lib\",\"type\":\"Git\",\"git\":{\"repository\":\"git@forge.example:o/lib.git\"}},"
			   "{\"name\":\"doc\",\"type\":\"URL\",\"url\":{\"url\":\"https://Docs.Example/a?b\"}},"
			   "{\"name\":\"again\",\"type\":\"Git\",\"git\":{\"repository\":\"ssh://git@forge.example:2222/o/x.git\"}},"
			   "{\"name\":\"local\",\"type\":\"Git\",\"git\":{\"repository\":\"file:///srv/r.git\"}},"
			   "{\"name\":\"t\",\"type\":\"Text\",\"text\":{\"value\":\"x\"}}]";

	/* the operator's mode when the Agent sets none; its list, the Agent's,
	 * then the defaults (model endpoint, workspace, contexts), each once */
	ASSERT_EGRESS(list,
		      "\"type\":\"claude-code\",\"network\":{\"allow\":[\"extra.example\",\"PKG.example\"]},"
		      "\"contexts\":[{\"name\":\"ac\",\"type\":\"URL\",\"url\":{\"url\":\"http://agent-ctx.example:8080/x\"}}]",
		      ctxs,
		      "allowlist (paddock.yaml network.egress): pkg.example, *.cdn.example, extra.example; "
		      "defaults: api.anthropic.com, git.example:8443, agent-ctx.example:8080, forge.example, docs.example");
	/* the Agent narrows to allowlist under open: its entries and the
	 * defaults (a driver's baseURL setting replaces its default host) */
	ASSERT_EGRESS("drivers: {claude-code: {settings: {baseURL: 'http://127.0.0.1:9999/v1'}}}\n",
		      "\"type\":\"claude-code\",\"network\":{\"egress\":\"allowlist\",\"allow\":[\"x.example:22\"]}",
		      "",
		      "allowlist (Agent spec.network.egress): x.example:22; defaults: 127.0.0.1:9999");
	/* opencode: the provider of spec.model; exec: no model endpoint */
	ASSERT_EGRESS(list, "\"type\":\"opencode\",\"model\":\"groq/llama-3\"", "",
		      "allowlist (paddock.yaml network.egress): pkg.example, *.cdn.example; defaults: api.groq.com");
	ASSERT_EGRESS("network: {egress: allowlist}\n", "\"type\":\"exec\"", "",
		      "allowlist (paddock.yaml network.egress): -; defaults: -");
	ASSERT_EGRESS(list, "\"type\":\"codex\"", "",
		      "allowlist (paddock.yaml network.egress): pkg.example, *.cdn.example; defaults: api.openai.com");
	ASSERT_EGRESS(list, "\"type\":\"gemini\"", "",
		      "allowlist (paddock.yaml network.egress): pkg.example, *.cdn.example; defaults: generativelanguage.googleapis.com");
	/* none: nothing, whatever the lists say */
	ASSERT_EGRESS(list, "\"type\":\"claude-code\",\"network\":{\"egress\":\"none\"}", ctxs,
		      "none - no network (Agent spec.network.egress)");
	ASSERT_EGRESS("network: {egress: none}\n",
		      "\"type\":\"claude-code\",\"network\":{\"allow\":[\"extra.example\"]}", ctxs,
		      "none - no network (paddock.yaml network.egress)");
	/* open says so plainly */
	ASSERT_EGRESS("network: {egress: open}\n", "\"type\":\"exec\"", ctxs,
		      "open - unfenced: the host's network, as any process (paddock.yaml network.egress)");
	/* unset: allowlist where it can be enforced (root, bubblewrap), else
	 * open, each saying it is the default */
	if (geteuid() == 0)
		ASSERT_EGRESS("", "\"type\":\"exec\"", ctxs,
			      "allowlist (default: allowlist as root with isolation bwrap): -; defaults: git.example:8443, forge.example, docs.example");
	else
		ASSERT_EGRESS("", "\"type\":\"exec\"", ctxs,
			      "open - unfenced: the host's network, as any process (default without root or bubblewrap: set network.egress to say so)");
	ASSERT_EGRESS("isolation: none\n", "\"type\":\"exec\"", "",
		      "open - unfenced: the host's network, as any process (default without root or bubblewrap: set network.egress to say so)");
	ASSERT_EGRESS("network: {egress: open}\n", "\"type\":\"exec\",\"network\":{\"egress\":\"open\"}", "",
		      "open - unfenced: the host's network, as any process (Agent spec.network.egress)");

	/* widening: an error, nothing allowed */
	struct pd_config *cfg = cfg_from(list);
	struct model_agent *a = agent_with("\"type\":\"exec\",\"network\":{\"egress\":\"open\"}");
	struct model_task *t = task_with("");
	struct pipeline_net net;
	ck_assert_int_eq(pipeline_egress(cfg, t, a, &net, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "Agent spec.network.egress: open is wider than paddock.yaml network.egress (allowlist)"));
	ck_assert_uint_eq(net.allow.n, 0);
	pipeline_net_free(&net);
	model_task_free(t);
	model_agent_free(a);
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
	tc = tcase_create("egress");
	tcase_add_test(tc, egress_ceiling);
	tcase_add_test(tc, egress_effective);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
