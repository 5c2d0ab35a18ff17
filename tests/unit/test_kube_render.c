/* SPDX-License-Identifier: MIT */
/* test_kube_render.c - a run plan rendered as a Job + ConfigMap: names,
 * ownership, the restricted pod, secret references (never values), the
 * Agent's pod settings, files with exact modes (the materials script is
 * run for real against a scratch directory), git init containers, and
 * the errors. */
#include "config.h"
#include "kube/render.h"
#include "kube/netpol.h"
#include "control/pipeline.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Would be the value of Secret "anthropic" if anyone resolved it. */
#define CANARY "sk-ant-CANARY-7d1f0c55e2"
#define UID1 "0b5c6a3e-9c1d-4e3f-8a6b-2f1e0d9c8b7a"

static char err[1024];

/* ---- fixtures ---------------------------------------------------------- */

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

static struct model_task *task_in(const char *ns, const char *name, const char *uid)
{
	char *json = xasprintf("{\"apiVersion\":\"paddock.dev/v1alpha1\",\"kind\":\"Task\","
			       "\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"%s\"},"
			       "\"spec\":{\"type\":\"exec\",\"prompt\":\"hi\"}}",
			       name, ns, uid);
	json_object *d = valid_doc(json, MODEL_TASK);
	free(json);
	struct model_task *t = NULL;
	ck_assert_int_eq(model_task_from_json(d, &t, err, sizeof(err)), 0);
	json_object_put(d);
	return t;
}

static struct model_agent *agent_with_pod(void)
{
	json_object *d = valid_doc(
		"{\"apiVersion\":\"paddock.dev/v1alpha1\",\"kind\":\"Agent\","
		"\"metadata\":{\"name\":\"coder\",\"namespace\":\"team-a\"},"
		"\"spec\":{\"type\":\"exec\",\"image\":\"example.com/agent:1\",\"command\":\"true\","
		"\"pod\":{\"labels\":{\"team\":\"a\",\"paddock.dev/task\":\"forged\",\"job-name\":\"x\"},"
		"\"runtimeClassName\":\"gvisor\",\"nodeSelector\":{\"pool\":\"agents\"},"
		"\"tolerations\":[{\"key\":\"dedicated\",\"operator\":\"Equal\",\"value\":\"agents\","
		"\"effect\":\"NoSchedule\"}],"
		"\"resources\":{\"limits\":{\"memory\":\"4Gi\",\"cpu\":2},"
		"\"requests\":{\"cpu\":0.1,\"memory\":\"1Gi\"}}}}}",
		MODEL_AGENT);
	struct model_agent *a = NULL;
	ck_assert_int_eq(model_agent_from_json(d, &a, err, sizeof(err)), 0);
	json_object_put(d);
	return a;
}

struct fx {
	struct model_task *t;
	struct model_agent *a;
	struct run_plan plan;
	struct paddock_plan_builder b;
	char *task_md;
	struct kube_render_in in;
	json_object *job, *cm;
};

/* A Task team-a/fix-bug and a claude-code-like plan. */
static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->t = task_in("team-a", "fix-bug", UID1);
	plan_init(&f->plan, "team-a", 0, 0);
	plan_builder(&f->plan, &f->b);
	f->b.set_image(f->b.ctx, "paddock/agent-claude-code:0.1.0");
	f->b.set_command(f->b.ctx, "/paddock_entrypoint.sh");
	f->b.set_env(f->b.ctx, "PADDOCK_MODEL", "claude-sonnet-4-5");
	/* A stale plain value replaced by a reference must not survive. */
	f->b.set_env(f->b.ctx, "ANTHROPIC_API_KEY", CANARY);
	f->b.set_env_secret(f->b.ctx, "ANTHROPIC_API_KEY", "anthropic", "apiKey");
	f->b.set_env(f->b.ctx, "HOME", "/root");
	f->task_md = xstrdup("Fix the bug.\n");
	f->in.t = f->t;
	f->in.plan = &f->plan;
	f->in.task_md = f->task_md;
	f->in.run_ns = "team-a";
	f->in.timeout_s = 5400;
}

static void fx_render(struct fx *f)
{
	f->in.task_md = f->task_md;
	int rc = kube_render(&f->in, &f->job, &f->cm, err, sizeof(err));
	ck_assert_msg(rc == 0, "render: %s", err);
	ck_assert_ptr_nonnull(f->job);
	ck_assert_ptr_nonnull(f->cm);
}

static void fx_free(struct fx *f)
{
	json_object_put(f->job);
	json_object_put(f->cm);
	free(f->task_md);
	plan_free(&f->plan);
	model_task_free(f->t);
	model_agent_free(f->a);
}

/* ---- JSON helpers ------------------------------------------------------ */

/* "a.b.0.c": object keys and array indexes; NULL when absent. */
static json_object *jp(json_object *o, const char *path)
{
	char *p = xstrdup(path);
	char *save = NULL;
	for (char *tok = strtok_r(p, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(o, json_type_array)) {
			char *end;
			long i = strtol(tok, &end, 10);
			o = *end ? NULL : json_object_array_get_idx(o, (size_t)i);
		} else if (!json_object_object_get_ex(o, tok, &o)) {
			o = NULL;
		}
	}
	free(p);
	return o;
}

static const char *js(json_object *o, const char *path)
{
	json_object *v = jp(o, path);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static const char *label(json_object *o, const char *path, const char *key)
{
	json_object *l = jp(o, path), *v = NULL;
	return l && json_object_object_get_ex(l, key, &v) ? json_object_get_string(v) : NULL;
}

static json_object *by_name(json_object *arr, const char *name)
{
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		json_object *it = json_object_array_get_idx(arr, i);
		if (str_eq(js(it, "name"), name))
			return it;
	}
	return NULL;
}

static const char *dump(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* What the kubelet's $(VAR) expansion makes of a rendered string when no
 * variable matches: "$$" is one '$'. */
static char *unexpand(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *o = out;
	for (; *s; s++) {
		*o++ = *s;
		if (s[0] == '$' && s[1] == '$')
			s++;
	}
	*o = '\0';
	return out;
}

static json_object *pod_spec(json_object *job)
{
	return jp(job, "spec.template.spec");
}

/* ---- names ------------------------------------------------------------- */

START_TEST(job_name_stable_and_valid)
{
	char *a = kube_job_name("team-a", "fix-bug", UID1);
	char *b = kube_job_name("team-a", "fix-bug", UID1);
	ck_assert_str_eq(a, b);
	ck_assert(str_startswith(a, "fix-bug-"));
	ck_assert_uint_eq(strlen(a), strlen("fix-bug-") + 8);
	ck_assert(model_dns1123_label(a));
	/* Each of namespace, name and uid changes the hash. */
	char *c = kube_job_name("team-b", "fix-bug", UID1);
	char *d = kube_job_name("team-a", "fix-bug", "other-uid");
	char *e = kube_job_name("team-a", "fix-bu", "g/" UID1);
	ck_assert_str_ne(a, c);
	ck_assert_str_ne(a, d);
	ck_assert_str_ne(a, e);
	free(a);
	free(b);
	free(c);
	free(d);
	free(e);

	/* A 63-character name is cut so that pod names (+6) stay <= 63. */
	const char *longname = "a23456789-123456789-123456789-123456789-123456789-123456789-123";
	ck_assert_uint_eq(strlen(longname), 63);
	a = kube_job_name("ns", longname, UID1);
	ck_assert_uint_le(strlen(a), 52);
	ck_assert(model_dns1123_label(a));
	ck_assert(strncmp(a, longname, 43) == 0);
	/* Two long names differing only past the cut still differ. */
	char *longname2 = xstrdup(longname);
	longname2[60] = 'x';
	b = kube_job_name("ns", longname2, UID1);
	ck_assert_str_ne(a, b);
	free(a);
	free(b);
	free(longname2);

	/* A cut that ends on '-' does not leave "--"-free garbage: no
	 * trailing '-' before the hash, no leading '-'; odd input is mapped. */
	a = kube_job_name("ns", "-Ab.c_", "u");
	ck_assert(model_dns1123_label(a));
	ck_assert(str_startswith(a, "ab-c-"));
	free(a);
	a = kube_job_name(NULL, "---", NULL);
	ck_assert(str_startswith(a, "task-"));
	ck_assert(model_dns1123_label(a));
	free(a);
}
END_TEST

/* ---- the Job ----------------------------------------------------------- */

START_TEST(job_same_namespace)
{
	struct fx f;
	fx_init(&f);
	fx_render(&f);
	json_object *job = f.job;
	char *name = kube_job_name("team-a", "fix-bug", UID1);

	ck_assert_str_eq(js(job, "apiVersion"), "batch/v1");
	ck_assert_str_eq(js(job, "kind"), "Job");
	ck_assert_str_eq(js(job, "metadata.name"), name);
	ck_assert_str_eq(js(job, "metadata.namespace"), "team-a");
	ck_assert_str_eq(label(job, "metadata.labels", KUBE_LABEL_MANAGED), "paddock");
	ck_assert_str_eq(label(job, "metadata.labels", KUBE_LABEL_TASK), "fix-bug");
	ck_assert_str_eq(label(job, "metadata.labels", KUBE_LABEL_TASK_NS), "team-a");
	ck_assert_str_eq(label(job, "metadata.labels", KUBE_LABEL_TASK_UID), UID1);
	ck_assert_uint_eq(json_object_array_length(jp(job, "metadata.ownerReferences")), 1);
	ck_assert_str_eq(js(job, "metadata.ownerReferences.0.apiVersion"), "paddock.dev/v1alpha1");
	ck_assert_str_eq(js(job, "metadata.ownerReferences.0.kind"), "Task");
	ck_assert_str_eq(js(job, "metadata.ownerReferences.0.name"), "fix-bug");
	ck_assert_str_eq(js(job, "metadata.ownerReferences.0.uid"), UID1);
	ck_assert(json_object_get_boolean(jp(job, "metadata.ownerReferences.0.controller")));
	ck_assert(json_object_get_boolean(jp(job, "metadata.ownerReferences.0.blockOwnerDeletion")));

	ck_assert_int_eq(json_object_get_int(jp(job, "spec.backoffLimit")), 0);
	ck_assert_ptr_nonnull(jp(job, "spec.backoffLimit"));
	ck_assert_int_eq(json_object_get_int64(jp(job, "spec.activeDeadlineSeconds")), 5400);
	ck_assert_ptr_null(jp(job, "spec.ttlSecondsAfterFinished"));
	ck_assert_str_eq(label(job, "spec.template.metadata.labels", KUBE_LABEL_TASK_UID), UID1);

	json_object *ps = pod_spec(job);
	ck_assert_str_eq(js(ps, "restartPolicy"), "Never");
	ck_assert(!json_object_get_boolean(jp(ps, "automountServiceAccountToken")));
	ck_assert_ptr_nonnull(jp(ps, "automountServiceAccountToken"));
	ck_assert(!json_object_get_boolean(jp(ps, "enableServiceLinks")));
	ck_assert_ptr_nonnull(jp(ps, "enableServiceLinks"));
	ck_assert(json_object_get_boolean(jp(ps, "securityContext.runAsNonRoot")));
	ck_assert_int_eq(json_object_get_int(jp(ps, "securityContext.runAsUser")), 1000);
	ck_assert_int_eq(json_object_get_int(jp(ps, "securityContext.runAsGroup")), 1000);
	ck_assert_int_eq(json_object_get_int(jp(ps, "securityContext.fsGroup")), 1000);
	ck_assert_str_eq(js(ps, "securityContext.seccompProfile.type"), "RuntimeDefault");
	ck_assert_ptr_null(jp(ps, "runtimeClassName")); /* no Agent: no pod settings */
	ck_assert_ptr_null(jp(ps, "nodeSelector"));

	/* The agent container. */
	json_object *ag = by_name(jp(ps, "containers"), "agent");
	ck_assert_ptr_nonnull(ag);
	ck_assert_uint_eq(json_object_array_length(jp(ps, "containers")), 1);
	ck_assert_str_eq(js(ag, "image"), "paddock/agent-claude-code:0.1.0");
	ck_assert_uint_eq(json_object_array_length(jp(ag, "command")), 1);
	ck_assert_str_eq(js(ag, "command.0"), "/paddock_entrypoint.sh");
	ck_assert_uint_eq(json_object_array_length(jp(ag, "args")), 1);
	ck_assert_str_eq(js(ag, "args.0"), "Fix the bug.\n");
	ck_assert_str_eq(js(ag, "workingDir"), "/workspace");
	ck_assert_ptr_null(jp(ag, "resources"));
	json_object *env = jp(ag, "env");
	ck_assert_uint_eq(json_object_array_length(env), 6); /* model, key, HOME, GIT_CONFIG_* */
	ck_assert_str_eq(js(env, "0.name"), "PADDOCK_MODEL");
	ck_assert_str_eq(js(env, "0.value"), "claude-sonnet-4-5");
	ck_assert_str_eq(js(env, "1.name"), "ANTHROPIC_API_KEY");
	ck_assert_str_eq(js(env, "2.name"), "HOME");
	ck_assert_str_eq(js(env, "2.value"), "/home/agent"); /* the plan's /root is not taken */
	json_object *mounts = jp(ag, "volumeMounts");
	ck_assert_uint_eq(json_object_array_length(mounts), 2);
	ck_assert_str_eq(js(by_name(mounts, "workspace"), "mountPath"), "/workspace");
	ck_assert_str_eq(js(by_name(mounts, "home"), "mountPath"), "/home/agent");

	/* Volumes: two emptyDirs and the ConfigMap named like the Job. */
	json_object *vols = jp(ps, "volumes");
	ck_assert_ptr_nonnull(jp(by_name(vols, "workspace"), "emptyDir"));
	ck_assert_ptr_nonnull(jp(by_name(vols, "home"), "emptyDir"));
	ck_assert_str_eq(js(by_name(vols, "config"), "configMap.name"), name);
	/* The copies get their own modes; the sources are only readable. */
	ck_assert_int_eq(json_object_get_int(jp(by_name(vols, "config"), "configMap.defaultMode")),
			 0444);
	ck_assert_ptr_null(by_name(vols, "secrets"));

	/* The ConfigMap: same name, labels and owner. */
	json_object *cm = f.cm;
	ck_assert_str_eq(js(cm, "apiVersion"), "v1");
	ck_assert_str_eq(js(cm, "kind"), "ConfigMap");
	ck_assert_str_eq(js(cm, "metadata.name"), name);
	ck_assert_str_eq(js(cm, "metadata.namespace"), "team-a");
	ck_assert_str_eq(label(cm, "metadata.labels", KUBE_LABEL_TASK_UID), UID1);
	ck_assert_str_eq(js(cm, "metadata.ownerReferences.0.uid"), UID1);
	ck_assert_str_eq(label(cm, "data", "task.md"), "Fix the bug.\n");
	ck_assert_ptr_null(jp(cm, "binaryData"));
	free(name);
	fx_free(&f);
}
END_TEST

START_TEST(job_other_namespace_no_owner)
{
	struct fx f;
	fx_init(&f);
	f.in.run_ns = "paddock-runs";
	f.in.timeout_s = 0;
	fx_render(&f);
	ck_assert_str_eq(js(f.job, "metadata.namespace"), "paddock-runs");
	ck_assert_str_eq(js(f.cm, "metadata.namespace"), "paddock-runs");
	ck_assert_ptr_null(jp(f.job, "metadata.ownerReferences"));
	ck_assert_ptr_null(jp(f.cm, "metadata.ownerReferences"));
	/* The labels say whose it is. */
	ck_assert_str_eq(label(f.job, "metadata.labels", KUBE_LABEL_TASK_NS), "team-a");
	ck_assert_str_eq(label(f.cm, "metadata.labels", KUBE_LABEL_TASK), "fix-bug");
	ck_assert_ptr_null(jp(f.job, "spec.activeDeadlineSeconds"));
	fx_free(&f);
}
END_TEST

/* Every container, init containers included, is locked down. */
static void assert_restricted(json_object *c)
{
	const char *n = js(c, "name");
	ck_assert_msg(jp(c, "securityContext.allowPrivilegeEscalation") &&
			      !json_object_get_boolean(jp(c, "securityContext.allowPrivilegeEscalation")),
		      "%s: allowPrivilegeEscalation", n);
	ck_assert_msg(json_object_get_boolean(jp(c, "securityContext.runAsNonRoot")),
		      "%s: runAsNonRoot", n);
	ck_assert_uint_eq(json_object_array_length(jp(c, "securityContext.capabilities.drop")), 1);
	ck_assert_str_eq(js(c, "securityContext.capabilities.drop.0"), "ALL");
	ck_assert_ptr_null(jp(c, "securityContext.capabilities.add"));
}

START_TEST(job_every_container_restricted)
{
	struct fx f;
	fx_init(&f);
	struct paddock_git_fetch g = {sizeof(g), "https://github.com/example/repo.git", "main", 1,
				      NULL, NULL, "git-token"};
	f.b.add_git(f.b.ctx, &g);
	f.b.add_secret_file(f.b.ctx, PADDOCK_ROOT_HOME, ".netrc", "netrc", "netrc", 0600);
	fx_render(&f);
	json_object *ps = pod_spec(f.job);
	json_object *init = jp(ps, "initContainers");
	ck_assert_uint_eq(json_object_array_length(init), 2); /* git-0, materials */
	for (size_t i = 0; i < json_object_array_length(init); i++)
		assert_restricted(json_object_array_get_idx(init, i));
	assert_restricted(by_name(jp(ps, "containers"), "agent"));
	fx_free(&f);
}
END_TEST

/* ---- secrets ------------------------------------------------------------ */

START_TEST(secrets_are_references)
{
	struct fx f;
	fx_init(&f);
	f.b.add_secret_file(f.b.ctx, PADDOCK_ROOT_HOME, ".claude/.credentials.json", "anthropic",
			    "credentials.json", 0);
	f.b.add_secret_file(f.b.ctx, PADDOCK_ROOT_WORKSPACE, "keys/deploy.pem", "deploy", "key",
			    0400);
	fx_render(&f);
	json_object *ps = pod_spec(f.job);
	json_object *env = jp(by_name(jp(ps, "containers"), "agent"), "env");
	json_object *key = by_name(env, "ANTHROPIC_API_KEY");
	ck_assert_ptr_nonnull(key);
	ck_assert_ptr_null(jp(key, "value"));
	ck_assert_str_eq(js(key, "valueFrom.secretKeyRef.name"), "anthropic");
	ck_assert_str_eq(js(key, "valueFrom.secretKeyRef.key"), "apiKey");
	ck_assert_ptr_null(jp(key, "valueFrom.secretKeyRef.optional"));
	/* The replaced plain value is gone everywhere. */
	ck_assert_ptr_null(strstr(dump(f.job), CANARY));
	ck_assert_ptr_null(strstr(dump(f.cm), CANARY));

	/* Secret files: a projected volume of secret items, mounted only in
	 * the materials container, read-only. */
	json_object *sv = by_name(jp(ps, "volumes"), "secrets");
	ck_assert_ptr_nonnull(sv);
	json_object *src = jp(sv, "projected.sources");
	ck_assert_uint_eq(json_object_array_length(src), 2);
	ck_assert_str_eq(js(src, "0.secret.name"), "anthropic");
	ck_assert_str_eq(js(src, "0.secret.items.0.key"), "credentials.json");
	ck_assert_str_eq(js(src, "0.secret.items.0.path"), "s0");
	ck_assert_str_eq(js(src, "1.secret.name"), "deploy");
	ck_assert_str_eq(js(src, "1.secret.items.0.key"), "key");
	ck_assert_str_eq(js(src, "1.secret.items.0.path"), "s1");
	ck_assert_ptr_null(jp(sv, "secret"));
	/* Root-owned in the volume: uid 1000 reads them through fsGroup. */
	ck_assert_int_eq(json_object_get_int(jp(sv, "projected.defaultMode")), 0440);
	json_object *mat = by_name(jp(ps, "initContainers"), "materials");
	json_object *m = by_name(jp(mat, "volumeMounts"), "secrets");
	ck_assert_str_eq(js(m, "mountPath"), "/paddock/secrets");
	ck_assert(json_object_get_boolean(jp(m, "readOnly")));
	ck_assert_ptr_null(by_name(jp(by_name(jp(ps, "containers"), "agent"), "volumeMounts"),
				   "secrets"));
	/* Nothing about secret files goes to the ConfigMap. */
	ck_assert_ptr_null(label(f.cm, "data", "s0"));
	ck_assert_ptr_null(jp(f.cm, "binaryData"));
	fx_free(&f);
}
END_TEST

/* The workspace's top directory is an emptyDir owned by root and the
 * repository in it uid 1000's: without safe.directory git refuses to work
 * there (seen on a real node, tests/k8s/real).  An Agent's own
 * GIT_CONFIG_COUNT is left alone. */
START_TEST(git_trusts_workspace)
{
	struct fx f;
	fx_init(&f);
	fx_render(&f);
	json_object *env = jp(by_name(jp(pod_spec(f.job), "containers"), "agent"), "env");
	ck_assert_str_eq(js(by_name(env, "GIT_CONFIG_COUNT"), "value"), "1");
	ck_assert_str_eq(js(by_name(env, "GIT_CONFIG_KEY_0"), "value"), "safe.directory");
	ck_assert_str_eq(js(by_name(env, "GIT_CONFIG_VALUE_0"), "value"), "/workspace");
	fx_free(&f);

	fx_init(&f);
	f.b.set_env(f.b.ctx, "GIT_CONFIG_COUNT", "2");
	fx_render(&f);
	env = jp(by_name(jp(pod_spec(f.job), "containers"), "agent"), "env");
	ck_assert_str_eq(js(by_name(env, "GIT_CONFIG_COUNT"), "value"), "2");
	ck_assert_ptr_null(by_name(env, "GIT_CONFIG_KEY_0"));
	size_t n = 0;
	for (size_t i = 0; i < json_object_array_length(env); i++)
		n += !strcmp(js(json_object_array_get_idx(env, i), "name"), "GIT_CONFIG_COUNT");
	ck_assert_uint_eq(n, 1);
	fx_free(&f);
}
END_TEST

START_TEST(secret_ref_invalid)
{
	struct fx f;
	fx_init(&f);
	f.b.set_env_secret(f.b.ctx, "TOKEN", "Bad_Name", "k");
	ck_assert_int_eq(kube_render(&f.in, &f.job, &f.cm, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "env TOKEN: invalid Secret name \"Bad_Name\""));
	ck_assert_ptr_null(f.job);
	ck_assert_ptr_null(f.cm);
	fx_free(&f);
}
END_TEST

/* ---- pod settings --------------------------------------------------------- */

START_TEST(pod_settings_copied)
{
	struct fx f;
	fx_init(&f);
	f.a = agent_with_pod();
	f.in.a = f.a;
	struct paddock_git_fetch g = {sizeof(g), "https://example.com/r.git", NULL, 0, NULL, NULL,
				      NULL};
	f.b.add_git(f.b.ctx, &g);
	fx_render(&f);
	json_object *tl = jp(f.job, "spec.template.metadata.labels");
	ck_assert_str_eq(label(f.job, "spec.template.metadata.labels", "team"), "a");
	/* Paddock's and the Job controller's labels cannot be overridden. */
	ck_assert_str_eq(label(f.job, "spec.template.metadata.labels", KUBE_LABEL_TASK), "fix-bug");
	ck_assert_ptr_null(label(f.job, "spec.template.metadata.labels", "job-name"));
	ck_assert_int_eq(json_object_object_length(tl), 5);
	/* The Job's own labels are Paddock's only. */
	ck_assert_ptr_null(label(f.job, "metadata.labels", "team"));

	json_object *ps = pod_spec(f.job);
	ck_assert_str_eq(js(ps, "runtimeClassName"), "gvisor");
	ck_assert_str_eq(js(ps, "nodeSelector.pool"), "agents");
	ck_assert_uint_eq(json_object_array_length(jp(ps, "tolerations")), 1);
	ck_assert_str_eq(js(ps, "tolerations.0.key"), "dedicated");
	ck_assert_str_eq(js(ps, "tolerations.0.effect"), "NoSchedule");
	json_object *ag = by_name(jp(ps, "containers"), "agent");
	ck_assert_str_eq(js(ag, "resources.limits.memory"), "4Gi");
	ck_assert_str_eq(js(ag, "resources.limits.cpu"), "2"); /* a number became a quantity string */
	ck_assert_str_eq(js(ag, "resources.requests.cpu"), "0.1");
	ck_assert_str_eq(js(ag, "resources.requests.memory"), "1Gi");
	/* Init containers get the same, for quotas that demand limits. */
	json_object *init = jp(ps, "initContainers");
	for (size_t i = 0; i < json_object_array_length(init); i++)
		ck_assert_str_eq(js(json_object_array_get_idx(init, i), "resources.limits.memory"),
				 "4Gi");
	/* The plan's image wins over the Agent document (the plan has it). */
	ck_assert_str_eq(js(ag, "image"), "paddock/agent-claude-code:0.1.0");
	fx_free(&f);
}
END_TEST

/* ---- resources --------------------------------------------------------- */

static struct model_task *task_with(const char *spec_extra)
{
	char *json = xasprintf("{\"apiVersion\":\"paddock.dev/v1alpha1\",\"kind\":\"Task\","
			       "\"metadata\":{\"name\":\"fix-bug\",\"namespace\":\"team-a\","
			       "\"uid\":\"%s\"},\"spec\":{\"agentRef\":{\"name\":\"coder\"},"
			       "\"prompt\":\"hi\"%s}}",
			       UID1, spec_extra);
	json_object *d = valid_doc(json, MODEL_TASK);
	free(json);
	struct model_task *t = NULL;
	ck_assert_int_eq(model_task_from_json(d, &t, err, sizeof(err)), 0);
	json_object_put(d);
	return t;
}

static struct model_agent *agent_with(const char *spec_extra)
{
	char *json = xasprintf("{\"apiVersion\":\"paddock.dev/v1alpha1\",\"kind\":\"Agent\","
			       "\"metadata\":{\"name\":\"coder\",\"namespace\":\"team-a\"},"
			       "\"spec\":{\"type\":\"exec\",\"command\":\"true\"%s}}",
			       spec_extra);
	json_object *d = valid_doc(json, MODEL_AGENT);
	free(json);
	struct model_agent *a = NULL;
	ck_assert_int_eq(model_agent_from_json(d, &a, err, sizeof(err)), 0);
	json_object_put(d);
	return a;
}

/* Render f with the effective resources of cfg, f->t and f->a, as the
 * controller does; the agent container. */
static json_object *render_with_resources(struct fx *f, const struct pd_config *cfg)
{
	struct run_limits lim, req;
	pipeline_limits(cfg, f->t, f->a, &lim);
	pipeline_requests(cfg, f->t, f->a, &req);
	f->in.a = f->a;
	f->in.limits = &lim;
	f->in.requests = &req;
	fx_render(f);
	f->in.limits = f->in.requests = NULL;
	return by_name(jp(pod_spec(f->job), "containers"), "agent");
}

/* The agent container's resources as "limits: cpu=.. memory=.. es=..;
 * requests: ..", keys in a fixed order, absent ones skipped. */
static char *res_text(json_object *c)
{
	static const char *const keys[] = { "cpu", "memory", "ephemeral-storage", "nvidia.com/gpu",
					    "pids" };
	struct buf b;
	buf_init(&b, 0);
	json_object *r = jp(c, "resources");
	if (!r)
		return xstrdup("none");
	json_object_object_foreach(r, part, m) {
		buf_printf(&b, "%s%s:", b.len ? "; " : "", part);
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
			json_object *v = NULL;
			if (json_object_object_get_ex(m, keys[i], &v))
				buf_printf(&b, " %s=%s", keys[i], json_object_get_string(v));
		}
	}
	return buf_steal(&b);
}

static void assert_resources(json_object *c, const char *want)
{
	char *got = res_text(c);
	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(resources_precedence)
{
	struct pd_config *cfg = config_new_default();
	struct fx f;

	/* Nobody says anything: paddock.yaml's defaults bound the run
	 * (pids is not a container resource: the node's podPidsLimit). */
	fx_init(&f);
	f.a = agent_with("");
	assert_resources(render_with_resources(&f, cfg),
			 "limits: cpu=2 memory=4Gi ephemeral-storage=10Gi");
	/* ... on the init containers too. */
	json_object *init = jp(pod_spec(f.job), "initContainers");
	ck_assert_uint_ge(json_object_array_length(init), 1);
	for (size_t i = 0; i < json_object_array_length(init); i++)
		assert_resources(json_object_array_get_idx(init, i),
				 "limits: cpu=2 memory=4Gi ephemeral-storage=10Gi");
	fx_free(&f);

	/* The Agent's spec.resources over the defaults, field by field. */
	fx_init(&f);
	f.a = agent_with(",\"resources\":{\"limits\":{\"cpu\":1,\"memory\":\"1Gi\",\"pids\":64},"
			 "\"requests\":{\"cpu\":\"250m\"}}");
	assert_resources(render_with_resources(&f, cfg),
			 "limits: cpu=1 memory=1Gi ephemeral-storage=10Gi; requests: cpu=250m");
	fx_free(&f);

	/* The Task's over the Agent's. */
	fx_init(&f);
	model_task_free(f.t);
	f.t = task_with(",\"resources\":{\"limits\":{\"memory\":\"512Mi\",\"ephemeral-storage\":2e9},"
			"\"requests\":{\"cpu\":0.5,\"memory\":268435456}}");
	f.in.t = f.t;
	f.a = agent_with(",\"resources\":{\"limits\":{\"cpu\":1,\"memory\":\"1Gi\"},"
			 "\"requests\":{\"cpu\":\"250m\"}}");
	assert_resources(render_with_resources(&f, cfg),
			 "limits: cpu=1 memory=512Mi ephemeral-storage=2G; requests: cpu=500m memory=256Mi");
	fx_free(&f);

	/* The deprecated spec.pod.resources alone still works, as the Agent's
	 * level (numbers become quantity strings). */
	fx_init(&f);
	f.a = agent_with_pod();
	assert_resources(render_with_resources(&f, cfg),
			 "limits: cpu=2 memory=4Gi ephemeral-storage=10Gi; requests: cpu=100m memory=1Gi");
	fx_free(&f);

	/* Both: spec.resources wins field by field; what only
	 * spec.pod.resources can say (a GPU) is kept as written. */
	fx_init(&f);
	f.a = agent_with(",\"resources\":{\"limits\":{\"memory\":\"2Gi\"}},"
			 "\"pod\":{\"resources\":{\"limits\":{\"memory\":\"4Gi\",\"cpu\":3,"
			 "\"nvidia.com/gpu\":1}}}");
	assert_resources(render_with_resources(&f, cfg),
			 "limits: cpu=3 memory=2Gi ephemeral-storage=10Gi nvidia.com/gpu=1");
	fx_free(&f);

	/* An operator who turns the defaults off (0) and a run that sets
	 * nothing: no resources at all. */
	config_free(cfg);
	const char *none = "resources: {limits: {cpu: 0, memory: 0, ephemeral-storage: 0}}\n";
	ck_assert_int_eq(config_parse("t.yaml", none, strlen(none), &cfg, err, sizeof(err)), 0);
	fx_init(&f);
	f.a = agent_with("");
	assert_resources(render_with_resources(&f, cfg), "none");
	fx_free(&f);

	/* A request from paddock.yaml above the run's own limit is lowered to
	 * it (the API server would refuse the pod). */
	config_free(cfg);
	const char *req = "resources: {requests: {memory: 2Gi, cpu: 1}}\n";
	ck_assert_int_eq(config_parse("t.yaml", req, strlen(req), &cfg, err, sizeof(err)), 0);
	fx_init(&f);
	f.a = agent_with(",\"resources\":{\"limits\":{\"memory\":\"1Gi\"}}");
	assert_resources(render_with_resources(&f, cfg),
			 "limits: cpu=2 memory=1Gi ephemeral-storage=10Gi; requests: cpu=1 memory=1Gi");
	fx_free(&f);
	config_free(cfg);
}
END_TEST

/* ---- files ------------------------------------------------------------- */

static void assert_args(json_object *c, const char *const *want, size_t n)
{
	json_object *args = jp(c, "args");
	ck_assert_uint_eq(json_object_array_length(args), n);
	for (size_t i = 0; i < n; i++) {
		char *got = unexpand(json_object_get_string(json_object_array_get_idx(args, i)));
		ck_assert_msg(!strcmp(got, want[i]), "arg %zu: \"%s\", want \"%s\"", i, got, want[i]);
		free(got);
	}
}

static const char BIN[] = {'\x7f', 'E', 'L', 'F', '\0', '\xff', '\xfe', '\n'};

START_TEST(files_and_modes)
{
	struct fx f;
	fx_init(&f);
	f.b.add_file(f.b.ctx, PADDOCK_ROOT_WORKSPACE, "docs/notes.md", "notes\n", 6, 0640);
	f.b.add_file(f.b.ctx, PADDOCK_ROOT_HOME, ".config/tool/bin.dat", BIN, sizeof(BIN), 0755);
	f.b.add_dir(f.b.ctx, PADDOCK_ROOT_WORKSPACE, "out", 0700);
	f.b.add_secret_file(f.b.ctx, PADDOCK_ROOT_HOME, ".netrc", "netrc", "netrc", 0);
	f.b.add_dir(f.b.ctx, PADDOCK_ROOT_HOME, "cache", 0);
	fx_render(&f);
	json_object *ps = pod_spec(f.job);
	json_object *init = jp(ps, "initContainers");
	ck_assert_uint_eq(json_object_array_length(init), 1);
	json_object *mat = json_object_array_get_idx(init, 0);
	ck_assert_str_eq(js(mat, "name"), "materials");
	ck_assert_str_eq(js(mat, "image"), "paddock/agent-claude-code:0.1.0");
	ck_assert_str_eq(js(mat, "command.0"), "sh");
	ck_assert_str_eq(js(mat, "command.1"), "-c");
	static const char *const want[] = {
		"f", "0640", "/paddock/config/f0",  "/workspace",  "docs/notes.md",
		"f", "0755", "/paddock/config/f1",  "/home/agent", ".config/tool/bin.dat",
		"d", "0700", "-",                   "/workspace",  "out",
		"f", "0600", "/paddock/secrets/s3", "/home/agent", ".netrc",
		"d", "0755", "-",                   "/home/agent", "cache",
		"f", "0644", "/paddock/config/task.md", "/workspace", "task.md",
	};
	assert_args(mat, want, ARRAY_SIZE(want));
	json_object *mm = jp(mat, "volumeMounts");
	ck_assert(json_object_get_boolean(jp(by_name(mm, "config"), "readOnly")));
	ck_assert_str_eq(js(by_name(mm, "config"), "mountPath"), "/paddock/config");
	ck_assert_str_eq(js(by_name(mm, "home"), "mountPath"), "/home/agent");

	/* Text in data, the binary file in binaryData, base64. */
	ck_assert_str_eq(label(f.cm, "data", "f0"), "notes\n");
	ck_assert_ptr_null(label(f.cm, "data", "f1"));
	const char *b64 = label(f.cm, "binaryData", "f1");
	ck_assert_ptr_nonnull(b64);
	char *raw = NULL;
	size_t len = 0;
	ck_assert_int_eq(model_b64_decode(b64, strlen(b64), &raw, &len), 0);
	ck_assert_uint_eq(len, sizeof(BIN));
	ck_assert(memcmp(raw, BIN, len) == 0);
	free(raw);
	ck_assert_str_eq(label(f.cm, "data", "task.md"), "Fix the bug.\n");
	ck_assert(json_object_get_boolean(jp(f.cm, "immutable")));
	fx_free(&f);
}
END_TEST

/* Run the rendered materials script with sh, its paths mapped into `dir`. */
/* Run /bin/sh with argv, stderr into errfile; *out_err gets what it
 * printed (owned, or NULL).  The exit status, or 128 when killed. */
static int run_sh(char **argv, const char *errfile, char **out_err)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0)
			dup2(fd, 2);
		execv("/bin/sh", argv);
		_exit(127);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	*out_err = NULL;
	read_file(errfile, 1 << 16, out_err, NULL);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int run_materials(json_object *mat, const char *dir, char **out_err)
{
	char *script = unexpand(js(mat, "command.2"));
	json_object *args = jp(mat, "args");
	size_t n = json_object_array_length(args);
	char **argv = xcalloc(n + 5, sizeof(char *));
	argv[0] = "sh";
	argv[1] = "-c";
	argv[2] = script;
	argv[3] = "paddock-materials";
	static const char *const map[] = {"/workspace", "/home/agent", "/paddock/config",
					  "/paddock/secrets"};
	for (size_t i = 0; i < n; i++) {
		char *a = unexpand(json_object_get_string(json_object_array_get_idx(args, i)));
		for (size_t k = 0; k < ARRAY_SIZE(map); k++) {
			if (str_startswith(a, map[k])) {
				char *m = xasprintf("%s%s", dir, a);
				free(a);
				a = m;
				break;
			}
		}
		argv[4 + i] = a;
	}
	char *errfile = xasprintf("%s/stderr", dir);
	int rc = run_sh(argv, errfile, out_err);
	for (size_t i = 0; i < n; i++)
		free(argv[4 + i]);
	free(argv);
	free(script);
	free(errfile);
	return rc;
}

static unsigned mode_of(const char *dir, const char *rel)
{
	char *p = xasprintf("%s%s", dir, rel);
	struct stat st;
	ck_assert_msg(lstat(p, &st) == 0, "%s missing", p);
	free(p);
	return st.st_mode & 07777;
}

static void put_file(const char *dir, const char *rel, const void *data, size_t len)
{
	char *p = xasprintf("%s%s", dir, rel);
	ck_assert_int_eq(write_file_atomic(p, data, len, 0444), 0);
	free(p);
}

START_TEST(materials_script_runs)
{
	struct fx f;
	fx_init(&f);
	f.b.add_file(f.b.ctx, PADDOCK_ROOT_WORKSPACE, "docs/notes.md", "notes\n", 6, 0640);
	f.b.add_file(f.b.ctx, PADDOCK_ROOT_HOME, ".config/tool/bin.dat", BIN, sizeof(BIN), 0751);
	f.b.add_dir(f.b.ctx, PADDOCK_ROOT_WORKSPACE, "out", 0700);
	f.b.add_secret_file(f.b.ctx, PADDOCK_ROOT_HOME, ".netrc", "netrc", "netrc", 0);
	f.b.add_file(f.b.ctx, PADDOCK_ROOT_WORKSPACE, "odd $(HOME) name", "x", 1, 0600);
	fx_render(&f);
	json_object *mat = by_name(jp(pod_spec(f.job), "initContainers"), "materials");

	char dir[] = "/tmp/paddock-test-kr-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	static const char *const dirs[] = {"/workspace", "/home", "/home/agent", "/paddock",
					   "/paddock/config", "/paddock/secrets"};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char *p = xasprintf("%s%s", dir, dirs[i]);
		ck_assert_int_eq(mkdir(p, 0755), 0);
		free(p);
	}
	/* What the kubelet would project from the ConfigMap and the Secret. */
	put_file(dir, "/paddock/config/f0", "notes\n", 6);
	put_file(dir, "/paddock/config/f1", BIN, sizeof(BIN));
	put_file(dir, "/paddock/config/f4", "x", 1);
	put_file(dir, "/paddock/config/task.md", f.task_md, strlen(f.task_md));
	put_file(dir, "/paddock/secrets/s3", "machine x login y\n", 18);
	/* An existing read-only file is replaced (as after a checkout). */
	put_file(dir, "/workspace/task.md", "old", 3);

	char *e = NULL;
	int rc = run_materials(mat, dir, &e);
	ck_assert_msg(rc == 0, "materials exited %d: %s", rc, e ? e : "");
	free(e);
	ck_assert_uint_eq(mode_of(dir, "/workspace/docs/notes.md"), 0640);
	ck_assert_uint_eq(mode_of(dir, "/workspace/docs"), 0755);
	ck_assert_uint_eq(mode_of(dir, "/home/agent/.config/tool/bin.dat"), 0751);
	ck_assert_uint_eq(mode_of(dir, "/workspace/out"), 0700);
	ck_assert_uint_eq(mode_of(dir, "/home/agent/.netrc"), 0600);
	ck_assert_uint_eq(mode_of(dir, "/workspace/odd $(HOME) name"), 0600);
	ck_assert_uint_eq(mode_of(dir, "/workspace/task.md"), 0644);
	char *p = xasprintf("%s/home/agent/.config/tool/bin.dat", dir);
	char *data = NULL;
	size_t len = 0;
	ck_assert_int_eq(read_file(p, 1 << 20, &data, &len), 0);
	ck_assert_uint_eq(len, sizeof(BIN));
	ck_assert(memcmp(data, BIN, len) == 0);
	free(data);
	free(p);
	p = xasprintf("%s/workspace/task.md", dir);
	ck_assert_int_eq(read_file(p, 1 << 20, &data, &len), 0);
	ck_assert_str_eq(data, "Fix the bug.\n");
	free(data);
	free(p);

	/* A symbolic link in the way (a checkout may hold one) is refused. */
	char *ws = xasprintf("%s/workspace", dir);
	char *docs = xasprintf("%s/docs", ws);
	char *target = xasprintf("%s/elsewhere", dir);
	ck_assert_int_eq(mkdir(target, 0755), 0);
	ck_assert_int_eq(rm_rf(docs), 0);
	ck_assert_int_eq(symlink(target, docs), 0);
	rc = run_materials(mat, dir, &e);
	ck_assert_int_ne(rc, 0);
	ck_assert_msg(e && strstr(e, "docs is a symbolic link: refusing to write through it"), "%s",
		      e ? e : "");
	free(e);
	char *leaked = xasprintf("%s/notes.md", target);
	ck_assert_int_ne(access(leaked, F_OK), 0);
	free(leaked);
	free(target);
	free(docs);
	free(ws);
	rm_rf(dir);
	fx_free(&f);
}
END_TEST

START_TEST(configmap_too_big)
{
	struct fx f;
	fx_init(&f);
	size_t n = 600 * 1024;
	char *big = xmalloc(n);
	memset(big, 'a', n);
	f.b.add_file(f.b.ctx, PADDOCK_ROOT_WORKSPACE, "a", big, n, 0644);
	f.b.add_file(f.b.ctx, PADDOCK_ROOT_WORKSPACE, "b", big, n, 0644);
	free(big);
	ck_assert_int_eq(kube_render(&f.in, &f.job, &f.cm, err, sizeof(err)), -E2BIG);
	ck_assert_ptr_nonnull(strstr(err, "limit of a Kubernetes ConfigMap"));
	ck_assert_ptr_null(f.job);
	fx_free(&f);
}
END_TEST

/* ---- argv and env are taken literally ----------------------------------- */

START_TEST(literal_strings)
{
	struct fx f;
	fx_init(&f);
	f.b.set_env(f.b.ctx, "PADDOCK_COMMAND", "echo $(HOME) $$ $1");
	f.b.add_arg(f.b.ctx, "--flag=$(PATH)");
	free(f.task_md);
	f.task_md = xstrdup("Use $(HOME) and \xff\xfe bytes\n");
	fx_render(&f);
	json_object *ag = by_name(jp(pod_spec(f.job), "containers"), "agent");
	ck_assert_str_eq(js(by_name(jp(ag, "env"), "PADDOCK_COMMAND"), "value"),
			 "echo $$(HOME) $$$$ $$1");
	ck_assert_str_eq(js(ag, "args.0"), "--flag=$$(PATH)");
	/* The last argument is task.md: valid UTF-8 for the API, '$' escaped. */
	ck_assert_str_eq(js(ag, "args.1"), "Use $$(HOME) and \xef\xbf\xbd\xef\xbf\xbd bytes\n");
	/* /workspace/task.md keeps the exact bytes: binaryData. */
	ck_assert_ptr_null(label(f.cm, "data", "task.md"));
	const char *b64 = label(f.cm, "binaryData", "task.md");
	char *raw = NULL;
	size_t len = 0;
	ck_assert_int_eq(model_b64_decode(b64, strlen(b64), &raw, &len), 0);
	ck_assert_str_eq(raw, f.task_md);
	free(raw);
	fx_free(&f);
}
END_TEST

/* ---- git ----------------------------------------------------------------- */

START_TEST(git_init_containers)
{
	struct fx f;
	fx_init(&f);
	f.in.git_image = "alpine/git:2.47.1";
	/* Added before the workspace checkout, run after it. */
	struct paddock_git_fetch lib = {sizeof(lib), "git@github.com:example/lib.git",
					"0123456789abcdef0123456789abcdef01234567", 0, "./pkg//lib/",
					"vendor/lib", "lib-key"};
	struct paddock_git_fetch ws = {sizeof(ws), "https://github.com/example/repo.git", "main", 1,
				       NULL, ".", "git-token"};
	ck_assert_int_eq(f.b.add_git(f.b.ctx, &lib), 0);
	ck_assert_int_eq(f.b.add_git(f.b.ctx, &ws), 0);
	fx_render(&f);
	json_object *init = jp(pod_spec(f.job), "initContainers");
	ck_assert_uint_eq(json_object_array_length(init), 3);
	json_object *g0 = json_object_array_get_idx(init, 0);
	json_object *g1 = json_object_array_get_idx(init, 1);
	ck_assert_str_eq(js(g0, "name"), "git-0");
	ck_assert_str_eq(js(g1, "name"), "git-1");
	ck_assert_str_eq(js(json_object_array_get_idx(init, 2), "name"), "materials");
	ck_assert_str_eq(js(g0, "image"), "alpine/git:2.47.1");
	/* The repository, ref, ... are positional arguments of a fixed script. */
	static const char *const w0[] = {"https://github.com/example/repo.git", "main", "1", "", "",
					 "git-token", "", "", ""};
	assert_args(g0, w0, ARRAY_SIZE(w0));
	static const char *const w1[] = {"git@github.com:example/lib.git",
					 "0123456789abcdef0123456789abcdef01234567", "", "pkg/lib",
					 "vendor/lib", "lib-key", "github.com", "", ""};
	assert_args(g1, w1, ARRAY_SIZE(w1));
	ck_assert_str_eq(js(g0, "command.0"), "sh");
	ck_assert_str_eq(js(g0, "command.1"), "-c");
	ck_assert_str_eq(js(g0, "command.2"), js(g1, "command.2"));
	ck_assert_ptr_null(strstr(js(g0, "command.2"), "github.com"));
	ck_assert_ptr_null(strstr(js(g0, "command.2"), "git-token"));
	ck_assert_uint_eq(json_object_array_length(jp(g0, "command")), 4);
	/* The token: env secretKeyRef, optional (the Secret may hold an ssh key
	 * instead), never a value. */
	json_object *env = jp(g0, "env");
	ck_assert_uint_eq(json_object_array_length(env), 2);
	for (size_t i = 0; i < 2; i++) {
		json_object *e = json_object_array_get_idx(env, i);
		ck_assert_ptr_null(jp(e, "value"));
		ck_assert_str_eq(js(e, "valueFrom.secretKeyRef.name"), "git-token");
		ck_assert(json_object_get_boolean(jp(e, "valueFrom.secretKeyRef.optional")));
	}
	ck_assert_str_eq(js(by_name(env, "PADDOCK_GIT_TOKEN"), "valueFrom.secretKeyRef.key"), "token");
	ck_assert_str_eq(js(by_name(env, "PADDOCK_GIT_SSH_KEY"), "valueFrom.secretKeyRef.key"),
			 "ssh-privatekey");
	/* An SSH repository's Secret may bring its known_hosts (public, but
	 * in the same Secret); an https one needs none. */
	ck_assert_ptr_null(by_name(env, "PADDOCK_GIT_KNOWN_HOSTS"));
	json_object *env1 = jp(g1, "env");
	ck_assert_uint_eq(json_object_array_length(env1), 3);
	ck_assert_str_eq(js(by_name(env1, "PADDOCK_GIT_KNOWN_HOSTS"), "valueFrom.secretKeyRef.key"),
			 "known_hosts");
	ck_assert(json_object_get_boolean(
		jp(by_name(env1, "PADDOCK_GIT_KNOWN_HOSTS"), "valueFrom.secretKeyRef.optional")));
	/* No host key is ever accepted unverified by default. */
	ck_assert_ptr_null(strstr(js(g0, "command.2"), "accept-new'"));
	ck_assert_ptr_nonnull(strstr(js(g0, "command.2"), "StrictHostKeyChecking=$$strict"));
	ck_assert_ptr_null(label(f.cm, "data", "known_hosts"));
	/* The Basic header is computed in the script, from the env variable. */
	ck_assert_ptr_nonnull(strstr(js(g0, "command.2"), "x-access-token:%s"));
	ck_assert_ptr_nonnull(strstr(js(g0, "command.2"), "GIT_CONFIG_KEY_0"));
	/* Git sees the workspace only. */
	json_object *mounts = jp(g0, "volumeMounts");
	ck_assert_uint_eq(json_object_array_length(mounts), 1);
	ck_assert_str_eq(js(mounts, "0.mountPath"), "/workspace");

	/* Without gitImage: the run's image; without a Secret: no env. */
	json_object_put(f.job);
	json_object_put(f.cm);
	f.job = f.cm = NULL;
	f.in.git_image = NULL;
	plan_free(&f.plan);
	plan_init(&f.plan, "team-a", 0, 0);
	plan_builder(&f.plan, &f.b);
	f.b.set_command(f.b.ctx, "/paddock_entrypoint.sh");
	ws.secret_name = NULL;
	f.b.add_git(f.b.ctx, &ws);
	f.in.default_image = "example.com/default:1";
	fx_render(&f);
	g0 = json_object_array_get_idx(jp(pod_spec(f.job), "initContainers"), 0);
	ck_assert_str_eq(js(g0, "image"), "example.com/default:1");
	ck_assert_ptr_null(jp(g0, "env"));
	fx_free(&f);
}
END_TEST

/* Run a rendered git init container's script with /bin/sh, the pod's
 * /workspace mapped to `ws` (the only path it names in the script). */
static int run_git_cfg(json_object *g, const char *ws, const char *cfg, char **out_err);

static int run_git(json_object *g, const char *ws, char **out_err)
{
	return run_git_cfg(g, ws, NULL, out_err);
}

/* Also maps the pod's /paddock/config to `cfg` (NULL: no mapping). */
static int run_git_cfg(json_object *g, const char *ws, const char *cfg, char **out_err)
{
	char *script = unexpand(js(g, "command.2"));
	char *at = strstr(script, "ws=/workspace\n");
	ck_assert_ptr_nonnull(at);
	char *mapped = xasprintf("%.*sws=%s\n%s", (int)(at - script), script, ws,
				 at + strlen("ws=/workspace\n"));
	json_object *args = jp(g, "args");
	size_t n = json_object_array_length(args);
	char **argv = xcalloc(n + 5, sizeof(char *));
	argv[0] = "sh";
	argv[1] = "-c";
	argv[2] = mapped;
	argv[3] = "paddock-git";
	for (size_t i = 0; i < n; i++) {
		argv[4 + i] = unexpand(json_object_get_string(json_object_array_get_idx(args, i)));
		if (cfg && str_startswith(argv[4 + i], "/paddock/config/")) {
			char *m = xasprintf("%s/%s", cfg, argv[4 + i] + strlen("/paddock/config/"));
			free(argv[4 + i]);
			argv[4 + i] = m;
		}
	}
	char *errfile = xasprintf("%s.stderr", ws);
	int rc = run_sh(argv, errfile, out_err);
	unlink(errfile);
	for (size_t i = 0; i < n; i++)
		free(argv[4 + i]);
	free(argv);
	free(script);
	free(mapped);
	free(errfile);
	return rc;
}

static void sh_ok(const char *cmd)
{
	int rc = system(cmd);
	ck_assert_msg(rc == 0, "%s: exit %d", cmd, rc);
}

/* The rendered git init containers really fetch: a branch into the
 * workspace, a tag's subpath into a destination, with the real git
 * against a local repository (file://). */
START_TEST(git_script_runs)
{
	if (system("git --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "git_script_runs: git not installed, skipped\n");
		return;
	}
	char tmpl[] = "/tmp/paddock-kr-git.XXXXXX";
	char *dir = mkdtemp(tmpl);
	ck_assert_ptr_nonnull(dir);
	char *cmd = xasprintf(
		"set -e; cd %s; git init -q -b main src; cd src;"
		"git -c user.name=t -c user.email=t@t commit -q --allow-empty -m init;"
		"mkdir -p sub; echo hello > sub/greeting.txt; echo top > README;"
		"git add -A; git -c user.name=t -c user.email=t@t commit -q -m files; git tag v1;"
		"echo later > later.txt; git add -A; git -c user.name=t -c user.email=t@t commit -q -m later",
		dir);
	sh_ok(cmd);
	free(cmd);
	char *repo = xasprintf("file://%s/src", dir);
	struct fx f;
	fx_init(&f);
	struct paddock_git_fetch ws = {sizeof(ws), repo, "main", 1, NULL, ".", NULL};
	struct paddock_git_fetch lib = {sizeof(lib), repo, "v1", 0, "sub", "vendor/lib", NULL};
	ck_assert_int_eq(f.b.add_git(f.b.ctx, &lib), 0);
	ck_assert_int_eq(f.b.add_git(f.b.ctx, &ws), 0);
	fx_render(&f);
	json_object *init = jp(pod_spec(f.job), "initContainers");
	char *w = xasprintf("%s/workspace", dir);
	ck_assert_int_eq(mkdir(w, 0755), 0);
	for (size_t i = 0; i < 2; i++) {
		char *e = NULL;
		int rc = run_git(json_object_array_get_idx(init, i), w, &e);
		ck_assert_msg(rc == 0, "git-%zu: exit %d: %s", i, rc, e ? e : "");
		free(e);
	}
	char *check = xasprintf("set -e; cd %s; test -f README && test -f later.txt &&"
				" test \"$(git log --oneline | wc -l)\" = 1 &&"
				" test \"$(cat vendor/lib/greeting.txt)\" = hello && test ! -e vendor/lib/README",
				w);
	sh_ok(check);
	free(check);
	/* A missing branch fails, naming the repository. */
	json_object_put(f.job);
	json_object_put(f.cm);
	f.job = f.cm = NULL;
	plan_free(&f.plan);
	plan_init(&f.plan, "team-a", 0, 0);
	plan_builder(&f.plan, &f.b);
	f.b.set_image(f.b.ctx, "img:1");
	f.b.set_command(f.b.ctx, "/paddock_entrypoint.sh");
	struct paddock_git_fetch bad = {sizeof(bad), repo, "no-such-branch", 1, NULL, "other", NULL};
	ck_assert_int_eq(f.b.add_git(f.b.ctx, &bad), 0);
	fx_render(&f);
	char *e = NULL;
	int rc = run_git(json_object_array_get_idx(jp(pod_spec(f.job), "initContainers"), 0), w, &e);
	ck_assert_int_ne(rc, 0);
	ck_assert_msg(e && strstr(e, "no-such-branch"), "stderr: %s", e ? e : "");
	free(e);
	fx_free(&f);
	char *rm = xasprintf("rm -rf %s", dir);
	sh_ok(rm);
	free(rm);
	free(w);
	free(repo);
}
END_TEST

#define KR_KH "[127.0.0.1]:1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIConfig\n"

/* paddock.yaml's known hosts travel in the ConfigMap to the SSH git
 * containers only; trustOnFirstUse is an argument. */
START_TEST(git_host_keys_rendered)
{
	struct fx f;
	fx_init(&f);
	f.in.known_hosts = KR_KH;
	struct paddock_git_fetch ssh = {sizeof(ssh), "ssh://git@127.0.0.1:1/srv/r.git", NULL, 0,
					NULL, "lib", NULL};
	struct paddock_git_fetch https = {sizeof(https), "https://h/r.git", NULL, 0, NULL, ".", NULL};
	ck_assert_int_eq(f.b.add_git(f.b.ctx, &ssh), 0);
	ck_assert_int_eq(f.b.add_git(f.b.ctx, &https), 0);
	fx_render(&f);
	ck_assert_str_eq(label(f.cm, "data", "known_hosts"), KR_KH);
	json_object *init = jp(pod_spec(f.job), "initContainers");
	json_object *g0 = json_object_array_get_idx(init, 0), *g1 = json_object_array_get_idx(init, 1);
	static const char *const w0[] = {"https://h/r.git", "", "", "", "", "", "", "", ""};
	assert_args(g0, w0, ARRAY_SIZE(w0));
	static const char *const w1[] = {"ssh://git@127.0.0.1:1/srv/r.git", "", "", "", "lib", "",
					 "[127.0.0.1]:1", "/paddock/config/known_hosts", ""};
	assert_args(g1, w1, ARRAY_SIZE(w1));
	ck_assert_uint_eq(json_object_array_length(jp(g0, "volumeMounts")), 1);
	json_object *m1 = jp(g1, "volumeMounts");
	ck_assert_uint_eq(json_object_array_length(m1), 2);
	ck_assert_str_eq(js(m1, "1.name"), "config");
	ck_assert_str_eq(js(m1, "1.mountPath"), "/paddock/config");
	ck_assert(json_object_get_boolean(jp(m1, "1.readOnly")));
	json_object_put(f.job);
	json_object_put(f.cm);
	f.job = f.cm = NULL;

	/* trustOnFirstUse, no known hosts: "1", nothing in the ConfigMap. */
	f.in.known_hosts = NULL;
	f.in.trust_on_first_use = true;
	fx_render(&f);
	ck_assert_ptr_null(label(f.cm, "data", "known_hosts"));
	g1 = json_object_array_get_idx(jp(pod_spec(f.job), "initContainers"), 1);
	static const char *const w1t[] = {"ssh://git@127.0.0.1:1/srv/r.git", "", "", "", "lib", "",
					  "[127.0.0.1]:1", "", "1"};
	assert_args(g1, w1t, ARRAY_SIZE(w1t));
	fx_free(&f);
}
END_TEST

/* The rendered script's host key rule, with a stand-in ssh that reports
 * its options and the known hosts it was given. */
START_TEST(git_host_keys_script)
{
	if (system("git --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "git_host_keys_script: git not installed, skipped\n");
		return;
	}
	char tmpl[] = "/tmp/paddock-kr-ssh.XXXXXX";
	char *dir = mkdtemp(tmpl);
	ck_assert_ptr_nonnull(dir);
	char *cmd = xasprintf(
		"set -e; cd %s; mkdir bin cfg ws; printf '%%s' '" KR_KH "' >cfg/known_hosts;"
		"printf '%%s\\n' '#!/bin/sh' 'echo \"fake-ssh: $*\" >&2'"
		" 'for a; do case $a in UserKnownHostsFile=*) echo \"kh: $(cat \"${a#*=}\" 2>&1)\" >&2;; esac; done'"
		" 'exit 255' >bin/ssh; chmod 755 bin/ssh",
		dir);
	sh_ok(cmd);
	free(cmd);
	char *path = xasprintf("%s/bin:%s", dir, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	char *old_path = getenv("PATH") ? xstrdup(getenv("PATH")) : NULL;
	setenv("PATH", path, 1);
	char *ws = xasprintf("%s/ws", dir), *cfg = xasprintf("%s/cfg", dir);
	struct fx f;
	fx_init(&f);
	struct paddock_git_fetch ssh = {sizeof(ssh), "ssh://git@127.0.0.1:1/srv/r.git", NULL, 0,
					NULL, "lib", "repo-key"};
	ck_assert_int_eq(f.b.add_git(f.b.ctx, &ssh), 0);
	char *e = NULL;
	setenv("PADDOCK_GIT_SSH_KEY", "not-a-real-key", 1);

	/* Neither known hosts nor trustOnFirstUse: refused before ssh runs. */
	fx_render(&f);
	json_object *g = json_object_array_get_idx(jp(pod_spec(f.job), "initContainers"), 0);
	ck_assert_int_ne(run_git_cfg(g, ws, cfg, &e), 0);
	ck_assert_msg(e && strstr(e, "cannot verify the SSH host key of [127.0.0.1]:1") &&
			      strstr(e, "git.knownHosts") && strstr(e, "git.trustOnFirstUse: true") &&
			      !strstr(e, "fake-ssh"),
		      "stderr: %s", e ? e : "");
	free(e);

	/* paddock.yaml's known hosts: strict, with exactly those lines. */
	json_object_put(f.job);
	json_object_put(f.cm);
	f.in.known_hosts = KR_KH;
	fx_render(&f);
	g = json_object_array_get_idx(jp(pod_spec(f.job), "initContainers"), 0);
	ck_assert_int_ne(run_git_cfg(g, ws, cfg, &e), 0);
	ck_assert_msg(e && strstr(e, "StrictHostKeyChecking=yes") &&
			      strstr(e, "GlobalKnownHostsFile=/dev/null") &&
			      strstr(e, "kh: [127.0.0.1]:1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIConfig"),
		      "stderr: %s", e ? e : "");
	free(e);

	/* The Secret's known_hosts wins over paddock.yaml's. */
	setenv("PADDOCK_GIT_KNOWN_HOSTS", "[127.0.0.1]:1 ssh-ed25519 AAAAsecret", 1);
	ck_assert_int_ne(run_git_cfg(g, ws, cfg, &e), 0);
	ck_assert_msg(e && strstr(e, "StrictHostKeyChecking=yes") &&
			      strstr(e, "kh: [127.0.0.1]:1 ssh-ed25519 AAAAsecret") &&
			      !strstr(e, "AAAAIConfig"),
		      "stderr: %s", e ? e : "");
	free(e);
	unsetenv("PADDOCK_GIT_KNOWN_HOSTS");

	/* trustOnFirstUse: accept-new. */
	json_object_put(f.job);
	json_object_put(f.cm);
	f.in.known_hosts = NULL;
	f.in.trust_on_first_use = true;
	fx_render(&f);
	g = json_object_array_get_idx(jp(pod_spec(f.job), "initContainers"), 0);
	ck_assert_int_ne(run_git_cfg(g, ws, cfg, &e), 0);
	ck_assert_msg(e && strstr(e, "StrictHostKeyChecking=accept-new") &&
			      strstr(e, "IdentitiesOnly=yes") && !strstr(e, "not-a-real-key"),
		      "stderr: %s", e ? e : "");
	free(e);
	unsetenv("PADDOCK_GIT_SSH_KEY");
	fx_free(&f);

	if (old_path)
		setenv("PATH", old_path, 1);
	free(old_path);
	free(path);
	free(ws);
	free(cfg);
	char *rm = xasprintf("rm -rf %s", dir);
	sh_ok(rm);
	free(rm);
}
END_TEST

START_TEST(git_password_in_url_refused)
{
	struct fx f;
	fx_init(&f);
	struct paddock_git_fetch g = {sizeof(g), "https://bob:hun@ter2@git.example.com/r.git", NULL,
				      0, NULL, NULL, NULL};
	f.b.add_git(f.b.ctx, &g);
	ck_assert_int_eq(kube_render(&f.in, &f.job, &f.cm, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(strstr(err, "hun"));
	ck_assert_ptr_null(strstr(err, "ter2"));
	ck_assert_ptr_nonnull(strstr(err, "https://***@git.example.com/r.git"));
	ck_assert_ptr_nonnull(strstr(err, "secretRef"));
	fx_free(&f);
}
END_TEST

/* ---- errors ------------------------------------------------------------- */

START_TEST(image_required)
{
	struct fx f;
	fx_init(&f);
	free(f.plan.image);
	f.plan.image = NULL;
	ck_assert_int_eq(kube_render(&f.in, &f.job, &f.cm, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "spec.image"));
	ck_assert_ptr_nonnull(strstr(err, "kubernetes.defaultImage"));
	ck_assert_ptr_null(f.job);
	ck_assert_ptr_null(f.cm);
	f.in.default_image = "example.com/default:1";
	fx_render(&f);
	ck_assert_str_eq(js(by_name(jp(pod_spec(f.job), "containers"), "agent"), "image"),
			 "example.com/default:1");
	ck_assert_str_eq(js(by_name(jp(pod_spec(f.job), "initContainers"), "materials"), "image"),
			 "example.com/default:1");
	fx_free(&f);
}
END_TEST

/* With the controller's own entrypoint scripts, they travel in the
 * ConfigMap and the agent runs them with sh: any image with a shell. */
START_TEST(own_entrypoint)
{
	struct fx f;
	fx_init(&f);
	fx_render(&f);
	json_object *agent = by_name(jp(pod_spec(f.job), "containers"), "agent");
	ck_assert_str_eq(js(agent, "command.0"), "/paddock_entrypoint.sh");
	ck_assert_ptr_null(json_object_object_get(jp(f.cm, "data"), "paddock_entrypoint.sh"));
	json_object_put(f.job);
	json_object_put(f.cm);
	f.job = f.cm = NULL;

	f.in.entrypoint = "#!/bin/sh\necho entry\n";
	f.in.lib = "paddock_finish() { :; }\n";
	fx_render(&f);
	agent = by_name(jp(pod_spec(f.job), "containers"), "agent");
	ck_assert_str_eq(js(agent, "command.0"), "/bin/sh");
	ck_assert_str_eq(js(agent, "command.1"), "/paddock/config/paddock_entrypoint.sh");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(jp(f.cm, "data"),
									  "paddock_entrypoint.sh")),
			 "#!/bin/sh\necho entry\n");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(jp(f.cm, "data"),
									  "paddock_lib.sh")),
			 "paddock_finish() { :; }\n");
	json_object *env = jp(agent, "env");
	bool lib = false;
	for (size_t i = 0; i < json_object_array_length(env); i++) {
		json_object *e = json_object_array_get_idx(env, i);
		if (!strcmp(js(e, "name"), "PADDOCK_LIB")) {
			ck_assert_str_eq(js(e, "value"), "/paddock/config/paddock_lib.sh");
			lib = true;
		}
	}
	ck_assert_msg(lib, "PADDOCK_LIB not set: %s", dump(agent));
	bool mounted = false;
	json_object *mounts = jp(agent, "volumeMounts");
	for (size_t i = 0; i < json_object_array_length(mounts); i++) {
		json_object *m = json_object_array_get_idx(mounts, i);
		if (!strcmp(js(m, "mountPath"), "/paddock/config"))
			mounted = json_object_get_boolean(jp(m, "readOnly"));
	}
	ck_assert_msg(mounted, "config not mounted read-only in the agent: %s", dump(agent));
	json_object_put(f.job);
	json_object_put(f.cm);
	f.job = f.cm = NULL;

	/* A plan with its own command keeps it. */
	free(f.plan.command);
	f.plan.command = xstrdup("/usr/local/bin/my-agent");
	fx_render(&f);
	agent = by_name(jp(pod_spec(f.job), "containers"), "agent");
	ck_assert_str_eq(js(agent, "command.0"), "/usr/local/bin/my-agent");
	ck_assert_ptr_null(json_object_object_get(jp(f.cm, "data"), "paddock_entrypoint.sh"));
	fx_free(&f);
}
END_TEST

START_TEST(task_md_too_long)
{
	struct fx f;
	fx_init(&f);
	free(f.task_md);
	f.task_md = xmalloc(128 * 1024 + 1);
	memset(f.task_md, 'x', 128 * 1024);
	f.task_md[128 * 1024] = '\0';
	f.in.task_md = f.task_md;
	ck_assert_int_eq(kube_render(&f.in, &f.job, &f.cm, err, sizeof(err)), -E2BIG);
	ck_assert_ptr_nonnull(strstr(err, "task.md is 131072 bytes"));
	ck_assert_ptr_nonnull(strstr(err, "mountPath"));
	/* One byte less fits. */
	f.task_md[128 * 1024 - 1] = '\0';
	fx_render(&f);
	fx_free(&f);
}
END_TEST

START_TEST(bad_inputs)
{
	struct fx f;
	fx_init(&f);
	/* The builder's first error is the render's. */
	f.b.add_file(f.b.ctx, PADDOCK_ROOT_WORKSPACE, "../escape", "x", 1, 0644);
	ck_assert_int_lt(kube_render(&f.in, &f.job, &f.cm, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "\"..\""));
	fx_free(&f);

	fx_init(&f);
	f.in.run_ns = "Not_A_Namespace";
	ck_assert_int_eq(kube_render(&f.in, &f.job, &f.cm, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "Not_A_Namespace"));
	f.in.run_ns = NULL;
	ck_assert_int_eq(kube_render(&f.in, &f.job, &f.cm, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(kube_render(NULL, &f.job, &f.cm, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(f.job);
	fx_free(&f);

	/* A Task that never went through the API server has no uid. */
	fx_init(&f);
	json_object *d = valid_doc("{\"apiVersion\":\"paddock.dev/v1alpha1\",\"kind\":\"Task\","
				   "\"metadata\":{\"name\":\"t\"},\"spec\":{\"type\":\"exec\",\"prompt\":\"hi\"}}",
				   MODEL_TASK);
	struct model_task *t = NULL;
	ck_assert_int_eq(model_task_from_json(d, &t, err, sizeof(err)), 0);
	json_object_put(d);
	f.in.t = t;
	ck_assert_int_eq(kube_render(&f.in, &f.job, &f.cm, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "metadata.uid"));
	model_task_free(t);
	fx_free(&f);
}
END_TEST

/* ---- the egress sidecar -------------------------------------------------- */

/* With kubernetes.proxyImage: the proxy as a native sidecar holding the
 * routed credential; the agent container holds the placeholder, the
 * proxy variables, and no reference to the credential. */
START_TEST(egress_sidecar)
{
	struct fx f;
	memset(&f, 0, sizeof(f));
	f.t = task_in("team-a", "fix-bug", UID1);
	plan_init(&f.plan, "team-a", 0, 0);
	plan_offer_route(&f.plan, "http://127.0.0.1:3129");
	ck_assert_ptr_nonnull(f.plan.route_placeholder);
	plan_builder(&f.plan, &f.b);
	f.b.set_image(f.b.ctx, "paddock/agent-claude-code:0.1.0");
	f.b.set_command(f.b.ctx, "/paddock_entrypoint.sh");
	struct paddock_credential_route cr = { sizeof(cr), "https://api.anthropic.com", "x-api-key", "",
					       "anthropic", "apiKey" };
	ck_assert_int_eq(f.b.add_credential_route(f.b.ctx, &cr), 0);
	f.b.set_env(f.b.ctx, "ANTHROPIC_API_KEY", f.plan.route_placeholder);
	f.b.set_env(f.b.ctx, "ANTHROPIC_BASE_URL", f.plan.route_endpoint);
	f.b.set_env(f.b.ctx, "HTTPS_PROXY", "http://evil.example:8080"); /* an Agent's sandbox.env */
	f.task_md = xstrdup("Fix the bug.\n");
	f.in.t = f.t;
	f.in.plan = &f.plan;
	f.in.run_ns = "team-a";
	const char *allow[] = { "api.anthropic.com", "github.com", NULL };
	f.in.egress_image = "paddock/controller:0.1.0";
	f.in.egress_allow = allow;
	f.in.egress_loopback = true;
	fx_render(&f);
	json_object *ps = pod_spec(f.job);
	json_object *init = jp(ps, "initContainers");
	json_object *eg = json_object_array_get_idx(init, json_object_array_length(init) - 1);
	ck_assert_str_eq(js(eg, "name"), "paddock-egress");
	ck_assert_str_eq(js(eg, "restartPolicy"), "Always");
	ck_assert_str_eq(js(eg, "image"), "paddock/controller:0.1.0");
	ck_assert_str_eq(js(eg, "command.0"), "paddock");
	ck_assert_str_eq(js(eg, "command.1"), "__egress");
	const char *args = dump(jp(eg, "args"));
	ck_assert_msg(strstr(args, "\"--allow\",\"api.anthropic.com\",\"--allow\",\"github.com\",\"--allow-loopback\"") &&
			      strstr(args, "\"--route-upstream\",\"https://api.anthropic.com\"") &&
			      strstr(args, "\"--route-header\",\"x-api-key\"") && strstr(args, f.plan.route_placeholder),
		      "%s", args);
	json_object *v = by_name(jp(eg, "env"), "PADDOCK_ROUTE_VALUE");
	ck_assert_str_eq(js(v, "valueFrom.secretKeyRef.name"), "anthropic");
	ck_assert_str_eq(js(v, "valueFrom.secretKeyRef.key"), "apiKey");
	assert_restricted(eg);
	ck_assert_int_eq(json_object_get_int(jp(eg, "securityContext.runAsUser")), 65532);
	ck_assert_int_eq(json_object_get_int(jp(eg, "startupProbe.tcpSocket.port")), 3128);
	ck_assert_str_eq(js(eg, "resources.limits.memory"), "128Mi");

	json_object *agent = by_name(jp(ps, "containers"), "agent");
	json_object *env = jp(agent, "env");
	const char *aenv = dump(env);
	ck_assert_msg(!strstr(aenv, "secretKeyRef") && !strstr(aenv, "evil.example"), "%s", aenv);
	ck_assert_str_eq(js(by_name(env, "ANTHROPIC_API_KEY"), "value"), f.plan.route_placeholder);
	ck_assert_str_eq(js(by_name(env, "ANTHROPIC_BASE_URL"), "value"), "http://127.0.0.1:3129");
	ck_assert_str_eq(js(by_name(env, "HTTPS_PROXY"), "value"), "http://127.0.0.1:3128");
	ck_assert_str_eq(js(by_name(env, "no_proxy"), "value"), "localhost,127.0.0.1,::1");
	ck_assert_ptr_null(jp(agent, "restartPolicy"));
	fx_free(&f);
}
END_TEST

/* The run's NetworkPolicy: selects the run's pod, no ingress, egress to
 * kube-dns and to each destination's address and port only. */
START_TEST(netpol_rendered)
{
	struct fx f;
	fx_init(&f);
	fx_render(&f);
	const struct kube_np_dest d[] = { { "203.0.113.7/32", 0 }, { "2001:db8::5/128", 8443 } };
	json_object *np = NULL;
	ck_assert_int_eq(kube_render_netpol(&f.in, d, 2, &np, err, sizeof(err)), 0);
	ck_assert_str_eq(js(np, "apiVersion"), "networking.k8s.io/v1");
	ck_assert_str_eq(js(np, "kind"), "NetworkPolicy");
	ck_assert_str_eq(js(np, "metadata.name"), js(f.job, "metadata.name"));
	ck_assert_str_eq(js(np, "metadata.namespace"), "team-a");
	ck_assert_str_eq(js(np, "metadata.ownerReferences.0.uid"), UID1);
	ck_assert_str_eq(js(np, "metadata.ownerReferences.0.kind"), "Task");
	/* it selects the Job's pod, and only by the task's uid */
	ck_assert_str_eq(label(np, "spec.podSelector.matchLabels", KUBE_LABEL_TASK_UID), UID1);
	ck_assert_str_eq(label(f.job, "spec.template.metadata.labels", KUBE_LABEL_TASK_UID), UID1);
	ck_assert_int_eq(json_object_object_length(jp(np, "spec.podSelector.matchLabels")), 1);
	ck_assert_str_eq(dump(jp(np, "spec.policyTypes")), "[\"Ingress\",\"Egress\"]");
	ck_assert_str_eq(dump(jp(np, "spec.ingress")), "[]");
	json_object *eg = jp(np, "spec.egress");
	ck_assert_int_eq((int)json_object_array_length(eg), 3);
	ck_assert_str_eq(label(eg, "0.to.0.namespaceSelector.matchLabels", "kubernetes.io/metadata.name"),
			 "kube-system");
	ck_assert_str_eq(label(eg, "0.to.0.podSelector.matchLabels", "k8s-app"), "kube-dns");
	ck_assert_str_eq(dump(jp(eg, "0.ports")),
			 "[{\"protocol\":\"TCP\",\"port\":53},{\"protocol\":\"UDP\",\"port\":53}]");
	ck_assert_str_eq(dump(jp(eg, "1")), "{\"to\":[{\"ipBlock\":{\"cidr\":\"203.0.113.7/32\"}}],"
					   "\"ports\":[{\"protocol\":\"TCP\",\"port\":80},"
					   "{\"protocol\":\"TCP\",\"port\":443}]}");
	ck_assert_str_eq(dump(jp(eg, "2")), "{\"to\":[{\"ipBlock\":{\"cidr\":\"2001:db8::5/128\"}}],"
					   "\"ports\":[{\"protocol\":\"TCP\",\"port\":8443}]}");
	json_object_put(np);
	fx_free(&f);
}
END_TEST

static bool has_dest(const struct kube_np_dest *d, size_t n, const char *cidr, int port)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(d[i].cidr, cidr) && d[i].port == port)
			return true;
	return false;
}

/* The destinations: addresses through the proxy's address policy
 * (metadata never; loopback and private only when allowed), wildcards
 * left out, the route's upstream added, each pair once. */
START_TEST(netpol_destinations)
{
	const char *allow[] = { "203.0.113.7", "169.254.169.254", "*.github.com", "10.1.2.3:22",
				"localhost:8080", "203.0.113.7", "[2001:db8::9]:8443", NULL };
	struct kube_np_dest *d = NULL;
	size_t n = 0;
	kube_netpol_dests(allow, "https://[2001:db8::10]:9443/v1", NULL, false, false, &d, &n);
	ck_assert_msg(n == 3, "%zu destinations", n);
	ck_assert(has_dest(d, n, "203.0.113.7/32", 0));
	ck_assert(has_dest(d, n, "2001:db8::9/128", 8443));
	ck_assert(has_dest(d, n, "2001:db8::10/128", 9443));
	free(d);
	/* The git init containers clone before the sidecar: SSH on 22 or the
	 * URL's port, HTTPS on the URL's; a metadata address never; a local
	 * path names no host. */
	const char *repos[] = { "git@203.0.113.20:org/repo.git", "ssh://git@[2001:db8::21]:2222/repo.git",
				"https://203.0.113.22:8443/repo.git", "ssh://169.254.169.254/x.git",
				"/srv/git/repo", NULL };
	kube_netpol_dests(NULL, NULL, repos, false, false, &d, &n);
	ck_assert_msg(n == 3, "%zu git destinations", n);
	ck_assert(has_dest(d, n, "203.0.113.20/32", 22));
	ck_assert(has_dest(d, n, "2001:db8::21/128", 2222));
	ck_assert(has_dest(d, n, "203.0.113.22/32", 8443));
	free(d);
	/* The user info of a route upstream is refused, as the proxy does. */
	kube_netpol_dests(NULL, "https://user:pw@203.0.113.30", NULL, false, false, &d, &n);
	ck_assert_uint_eq(n, 0);
	free(d);
	kube_netpol_dests(allow, "http://127.0.0.1:8080", NULL, true, true, &d, &n);
	ck_assert(has_dest(d, n, "10.1.2.3/32", 22));
	ck_assert(has_dest(d, n, "127.0.0.1/32", 8080));
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(strncmp(d[i].cidr, "169.254.", 8), "the metadata address: %s", d[i].cidr);
	free(d);
}
END_TEST

/* A plan that routes a credential may not also inject it. */
START_TEST(route_offer_needed)
{
	struct run_plan p;
	struct paddock_plan_builder b;
	plan_init(&p, "ns", 0, 0);
	plan_builder(&p, &b);
	struct paddock_credential_route cr = { sizeof(cr), "https://api.anthropic.com", "x-api-key", "",
					       "anthropic", "apiKey" };
	ck_assert_int_eq(b.add_credential_route(b.ctx, &cr), -EPERM); /* not offered */
	plan_free(&p);
	plan_init(&p, "ns", 0, 0);
	plan_offer_route(&p, "http://127.0.0.1:3129");
	plan_builder(&p, &b);
	cr.upstream = "https://user:pw@api.example.com";
	ck_assert_int_eq(b.add_credential_route(b.ctx, &cr), -EINVAL);
	cr.upstream = "https://api.example.com";
	cr.header = "x api key";
	ck_assert_int_eq(b.add_credential_route(b.ctx, &cr), -EINVAL);
	cr.header = "x-api-key";
	ck_assert_int_eq(b.add_credential_route(b.ctx, &cr), 0);
	ck_assert_int_eq(b.add_credential_route(b.ctx, &cr), -EEXIST);
	plan_free(&p);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kube_render");
	TCase *t = tcase_create("names");
	tcase_add_test(t, job_name_stable_and_valid);
	suite_add_tcase(s, t);
	t = tcase_create("job");
	tcase_add_test(t, job_same_namespace);
	tcase_add_test(t, netpol_rendered);
	tcase_add_test(t, netpol_destinations);
	tcase_add_test(t, job_other_namespace_no_owner);
	tcase_add_test(t, job_every_container_restricted);
	tcase_add_test(t, pod_settings_copied);
	tcase_add_test(t, resources_precedence);
	tcase_add_test(t, literal_strings);
	suite_add_tcase(s, t);
	t = tcase_create("secrets");
	tcase_add_test(t, secrets_are_references);
	tcase_add_test(t, git_trusts_workspace);
	tcase_add_test(t, secret_ref_invalid);
	suite_add_tcase(s, t);
	t = tcase_create("files");
	tcase_add_test(t, files_and_modes);
	tcase_add_test(t, materials_script_runs);
	tcase_add_test(t, configmap_too_big);
	suite_add_tcase(s, t);
	t = tcase_create("git");
	tcase_add_test(t, git_init_containers);
	tcase_add_test(t, git_password_in_url_refused);
	suite_add_tcase(s, t);
	t = tcase_create("errors");
	tcase_add_test(t, image_required);
	tcase_add_test(t, own_entrypoint);
	tcase_add_test(t, git_script_runs);
	tcase_add_test(t, git_host_keys_rendered);
	tcase_add_test(t, git_host_keys_script);
	tcase_add_test(t, task_md_too_long);
	tcase_add_test(t, bad_inputs);
	tcase_add_test(t, egress_sidecar);
	tcase_add_test(t, route_offer_needed);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
