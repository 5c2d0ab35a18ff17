/* SPDX-License-Identifier: MIT */
/* test_model.c - validation of Task/Agent/Secret/ConfigMap documents: the
 * normalized result, the typed views, and the messages a user sees for
 * each mistake (field path, bad value, fix; never a secret value). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/manifest.h"
#include "model/model.h"
#include "base/quantity.h"
#include "base/util.h"

static char err[1024];

static json_object *parse1(const char *yaml)
{
	json_object **docs = NULL;
	size_t n = 0;
	int rc = manifest_parse("t.yaml", yaml, strlen(yaml), NULL, &docs, &n, err, sizeof(err));
	ck_assert_msg(rc == 0, "parse: %s", err);
	ck_assert_uint_eq(n, 1);
	json_object *d = json_object_get(docs[0]);
	manifest_docs_free(docs, n);
	return d;
}

static json_object *valid(const char *yaml, enum model_kind want)
{
	json_object *d = parse1(yaml);
	enum model_kind k = (enum model_kind)-1;
	err[0] = '\0';
	int rc = model_validate(d, NULL, &k, err, sizeof(err));
	ck_assert_msg(rc == 0, "validate: %s", err);
	ck_assert_int_eq(k, want);
	return d;
}

/* Validation fails with `want` as the whole message (exact) or a part. */
static void invalid(const char *yaml, const char *want, bool exact)
{
	json_object *d = parse1(yaml);
	enum model_kind k = (enum model_kind)99;
	err[0] = '\0';
	int rc = model_validate(d, NULL, &k, err, sizeof(err));
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_int_eq(k, 99);
	if (exact)
		ck_assert_str_eq(err, want);
	else
		ck_assert_msg(strstr(err, want), "error \"%s\" lacks \"%s\"", err, want);
	json_object_put(d);
}

static json_object *load_fixture(const char *file, size_t idx)
{
	char *path = xasprintf("%s/tests/data/manifests/%s", TOP_SRCDIR, file);
	char *data = NULL;
	size_t len = 0, n = 0;
	ck_assert_int_eq(read_file(path, 1 << 20, &data, &len), 0);
	json_object **docs = NULL;
	ck_assert_int_eq(manifest_parse(path, data, len, NULL, &docs, &n, err, sizeof(err)), 0);
	ck_assert_uint_gt(n, idx);
	json_object *d = json_object_get(docs[idx]);
	manifest_docs_free(docs, n);
	free(data);
	free(path);
	return d;
}

#define TASK "apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: t}\n"
#define AGENT "apiVersion: paddock.dev/v1alpha1\nkind: Agent\nmetadata: {name: a}\n"

START_TEST(task_fixture)
{
	json_object *d = load_fixture("task.yaml", 0);
	enum model_kind k;
	ck_assert_int_eq(model_validate(d, NULL, &k, err, sizeof(err)), 0);
	ck_assert_int_eq(k, MODEL_TASK);
	struct model_task *t = NULL;
	ck_assert_int_eq(model_task_from_json(d, &t, err, sizeof(err)), 0);
	ck_assert_str_eq(t->ns, "team-a");
	ck_assert_str_eq(t->name, "fix-bug");
	ck_assert_str_eq(t->type, "claude-code");
	ck_assert_ptr_null(t->agent_name);
	ck_assert_str_eq(t->prompt, "Fix the failing test in pkg/foo and open a branch.\n");
	ck_assert_str_eq(t->model, "claude-sonnet-4-5");
	ck_assert_str_eq(t->effort, "high");
	ck_assert_str_eq(t->cred_type, "api-key");
	ck_assert_str_eq(t->cred_secret, "anthropic");
	ck_assert_str_eq(t->cred_key, "apiKey"); /* default filled */
	ck_assert_str_eq(model_field(d, "spec.credentials.secretRef.key"), "apiKey");
	ck_assert_str_eq(t->ws_repo, "https://github.com/example/repo.git");
	ck_assert_str_eq(t->ws_ref, "main");
	ck_assert_str_eq(t->ws_secret, "git-token");
	ck_assert_uint_eq(t->n_outputs, 2);
	ck_assert_str_eq(t->outputs[0].name, "branch");
	ck_assert_str_eq(t->outputs[0].dflt, "none");
	ck_assert_str_eq(t->outputs[1].path, "out/summary.md");
	ck_assert_ptr_null(t->outputs[1].dflt);
	ck_assert_uint_eq(t->deps.n, 2);
	ck_assert_str_eq(t->deps.v[1], "lint");
	ck_assert_int_eq(t->timeout_s, 5400);
	ck_assert_int_eq(t->ttl_s, 3600);
	ck_assert_uint_eq(json_object_array_length(t->contexts), 2);
	ck_assert_str_eq(model_field(d, "spec.contexts.1.fileMode"), "416"); /* 0640 */
	ck_assert_str_eq(model_field(d, "spec.contexts.1.configMap.key"), "settings.json");
	ck_assert_ptr_null(model_field(d, "spec.contexts.1.configMap"));
	ck_assert_ptr_null(t->status); /* input status dropped */
	ck_assert_int_eq(t->phase, MODEL_PHASE_PENDING);
	model_task_free(t);
	json_object_put(d);
}
END_TEST

START_TEST(task_defaults)
{
	json_object *d = valid(TASK "spec: {type: exec, prompt: hi}\n", MODEL_TASK);
	ck_assert_str_eq(model_field(d, "metadata.namespace"), "default");
	ck_assert_str_eq(model_field(d, "spec.credentials.type"), "none");
	struct model_task *t = NULL;
	ck_assert_int_eq(model_task_from_json(d, &t, err, sizeof(err)), 0);
	ck_assert_int_eq(t->timeout_s, -1);
	ck_assert_int_eq(t->ttl_s, -1);
	ck_assert_uint_eq(t->n_outputs, 0);
	ck_assert_ptr_null(t->contexts);
	model_task_free(t);
	json_object_put(d);

	/* agentRef: namespace defaults to the Task's, credentials stay unset */
	d = valid("apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: t, namespace: ns1}\n"
		  "spec: {agentRef: {name: a}, prompt: hi, timeout: 90,\n"
		  "  credentials: {type: oauth, secretRef: {name: s}}}\n",
		  MODEL_TASK);
	ck_assert_int_eq(model_task_from_json(d, &t, err, sizeof(err)), 0);
	ck_assert_str_eq(t->agent_name, "a");
	ck_assert_str_eq(t->agent_ns, "ns1");
	ck_assert_str_eq(t->cred_key, "oauthToken");
	ck_assert_int_eq(t->timeout_s, 90);
	model_task_free(t);
	json_object_put(d);

	d = valid(TASK "spec: {agentRef: {name: a}, prompt: hi}\n", MODEL_TASK);
	ck_assert_ptr_null(model_field(d, "spec.credentials.type"));
	json_object_put(d);

	/* a 40-hex SHA and a tag are refs; scp-like repos are URLs */
	d = valid(TASK "spec: {type: exec, prompt: hi, workspace: {repo: 'git@github.com:o/r.git',"
		       " ref: 0123456789abcdef0123456789abcdef01234567}}\n",
		  MODEL_TASK);
	json_object_put(d);
	d = valid(TASK "spec: {type: exec, prompt: hi, workspace: {repo: /srv/git/r, ref: v1.2.3}}\n",
		  MODEL_TASK);
	json_object_put(d);
}
END_TEST

START_TEST(task_errors)
{
	/* exact messages: what the user reads */
	invalid(TASK "spec: {type: exec, promt: hi}\n",
		"spec.promt: unknown field: valid fields are type, agentRef, prompt, credentials, model, effort, workspace, contexts, outputs, dependsOn, timeout, ttlSecondsAfterFinished, stop, resources, maxCostUSD",
		true);
	invalid(TASK "spec: {type: exec, prompt: hi, credentials: {type: foo}}\n",
		"spec.credentials.type: unsupported value \"foo\": use api-key, oauth or none", true);
	invalid(TASK "spec: {type: exec, prompt: hi, effort: max}\n",
		"spec.effort: unsupported value \"max\": use minimal, low, medium, high or xhigh", true);
	invalid(TASK "spec: {type: exec}\n", "spec.prompt: required field is missing", true);
	invalid(TASK "spec: {prompt: hi}\n",
		"spec: one of type or agentRef is required: set spec.type (a driver name) or spec.agentRef (an Agent)",
		true);
	invalid(TASK "spec: {type: exec, agentRef: {name: a}, prompt: hi}\n",
		"spec: type and agentRef are mutually exclusive", false);
	invalid("apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: Fix_Bug}\nspec: {}\n",
		"metadata.name: invalid value \"Fix_Bug\": use lowercase letters, digits and '-', at most 63 characters, starting and ending with a letter or digit",
		true);
	invalid(TASK "spec: {type: exec, prompt: hi, contexts: [{type: Text, text: x, mountpath: a}]}\n",
		"spec.contexts[0].mountpath: unknown field: valid fields are name, type, mountPath, fileMode, text",
		true);
	invalid(TASK "spec: {type: exec, prompt: hi, contexts: [{type: Text, mountPath: a, fileMode: 01000}]}\n",
		"spec.contexts[0].fileMode: invalid value 512: use an octal mode from 0 to 0777 such as 0644",
		true);
	invalid(TASK "spec: {type: exec, prompt: hi, contexts: [{type: Text, mountPath: ../etc/passwd}]}\n",
		"spec.contexts[0].mountPath: invalid value \"../etc/passwd\": use a path relative to the workspace, without \"..\"",
		true);
	invalid(TASK "spec: {type: exec, prompt: hi, timeout: soon}\n",
		"spec.timeout: invalid value \"soon\": use a positive duration such as 30m, 1h30m or 900 (seconds)",
		true);
	invalid(TASK "spec: {type: exec, prompt: hi, dependsOn: [t]}\n",
		"spec.dependsOn[0]: a Task cannot depend on itself (\"t\"): remove it", true);

	/* the rest: path and fix */
	invalid(TASK "spec: {type: exec, prompt: ''}\n", "spec.prompt: must not be empty", true);
	invalid(TASK "spec: {type: exec, prompt: 5}\n",
		"spec.prompt: expected a string, got an integer: quote the value", true);
	invalid(TASK "spec: {type: Claude, prompt: hi}\n", "spec.type: invalid value \"Claude\"", false);
	invalid(TASK "spec: {type: exec, prompt: hi, credentials: {type: api-key}}\n",
		"spec.credentials.secretRef: required when type is api-key", false);
	invalid(TASK "spec: {type: exec, prompt: hi, credentials: {type: none, secretRef: {name: s}}}\n",
		"spec.credentials.secretRef: not allowed when type is none", false);
	invalid(TASK "spec: {type: exec, prompt: hi, credentials: {type: api-key, secretRef: {name: s, key: 'a b'}}}\n",
		"spec.credentials.secretRef.key: invalid value \"a b\"", false);
	invalid(TASK "spec: {type: exec, prompt: hi, credentials: {secretRef: {name: s}}}\n",
		"spec.credentials.type: required field is missing: use api-key, oauth or none", true);
	invalid(TASK "spec: {agentRef: {name: a, ns: x}, prompt: hi}\n",
		"spec.agentRef.ns: unknown field: valid fields are name, namespace", true);
	invalid(TASK "spec: {type: exec, prompt: hi, workspace: {repo: 'ext::sh -c id'}}\n",
		"spec.workspace.repo: invalid value \"ext::sh -c id\"", false);
	invalid(TASK "spec: {type: exec, prompt: hi, workspace: {repo: 'https://x/r', ref: '--upload-pack=x'}}\n",
		"spec.workspace.ref: invalid value \"--upload-pack=x\": use a branch or tag name or a 40-hex commit SHA",
		true);
	invalid(TASK "spec: {type: exec, prompt: hi, workspace: {ref: main}}\n",
		"spec.workspace.repo: required field is missing", true);
	invalid(TASK "spec: {type: exec, prompt: hi, contexts: [{text: x}]}\n",
		"spec.contexts[0].type: required field is missing", true);
	invalid(TASK "spec: {type: exec, prompt: hi, contexts: [{type: 'my type'}]}\n",
		"spec.contexts[0].type: invalid value \"my type\"", false);
	invalid(TASK "spec: {type: exec, prompt: hi, contexts: [{type: Text, fileMode: 0644}]}\n",
		"spec.contexts[0].fileMode: only allowed with mountPath", false);
	invalid(TASK "spec: {type: exec, prompt: hi, contexts: [{type: Text, mountPath: a, fileMode: '0644'}]}\n",
		"spec.contexts[0].fileMode: expected an integer, got a string", false);
	invalid(TASK "spec: {type: exec, prompt: hi, contexts: [{name: a, type: Text}, {name: a, type: URL, url: {}}]}\n",
		"spec.contexts[1].name: duplicate name \"a\"", false);
	invalid(TASK "spec: {type: exec, prompt: hi, contexts: [{type: URL, text: x}]}\n",
		"spec.contexts[0].text: unknown field: valid fields are name, type, mountPath, fileMode, url",
		true);
	invalid(TASK "spec: {type: exec, prompt: hi, outputs: {parameters: [{name: 'a b', path: x}]}}\n",
		"spec.outputs.parameters[0].name: invalid value \"a b\"", false);
	invalid(TASK "spec: {type: exec, prompt: hi, outputs: {parameters: [{name: a, path: /etc/x}]}}\n",
		"spec.outputs.parameters[0].path: invalid value \"/etc/x\"", false);
	invalid(TASK "spec: {type: exec, prompt: hi, outputs: {parameters: [{name: a, path: x}, {name: a, path: y}]}}\n",
		"spec.outputs.parameters[1].name: duplicate name \"a\"", false);
	invalid(TASK "spec: {type: exec, prompt: hi, outputs: {parameters: [{name: a}]}}\n",
		"spec.outputs.parameters[0].path: required field is missing", true);
	invalid(TASK "spec: {type: exec, prompt: hi, outputs: {params: []}}\n",
		"spec.outputs.params: unknown field: valid fields are parameters", true);
	invalid(TASK "spec: {type: exec, prompt: hi, dependsOn: [a, a]}\n",
		"spec.dependsOn[1]: duplicate \"a\": list each Task once", true);
	invalid(TASK "spec: {type: exec, prompt: hi, dependsOn: [{name: a}]}\n",
		"spec.dependsOn[0]: expected a string (a Task name), got a mapping", true);
	invalid(TASK "spec: {type: exec, prompt: hi, timeout: 0}\n", "spec.timeout: invalid value 0", false);
	invalid(TASK "spec: {type: exec, prompt: hi, ttlSecondsAfterFinished: -1}\n",
		"spec.ttlSecondsAfterFinished: invalid value -1: use an integer from 0 to 2147483647", true);
	invalid(TASK "spec: {type: exec, prompt: hi, stop: yes}\n",
		"spec.stop: expected a boolean, got a string: use true or false", true);
	invalid(TASK "spec: [1]\n", "spec: expected a mapping, got a list", true);
	invalid(TASK, "spec: required field is missing", true);

	/* prompt size limit */
	json_object *d = parse1(TASK "spec: {type: exec, prompt: '0123456789'}\n");
	struct model_limits lim = { .prompt_bytes = 9 };
	enum model_kind k;
	ck_assert_int_eq(model_validate(d, &lim, &k, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "spec.prompt: 10 bytes, more than the limit of 9: shorten it or move material into spec.contexts");
	json_object_put(d);
}
END_TEST

START_TEST(common_errors)
{
	invalid("apiVersion: v1\nkind: Job\nmetadata: {name: x}\n",
		"kind: unsupported value \"Job\": use Task, Agent, Spawner, Budget, Secret or ConfigMap", true);
	invalid("apiVersion: paddock.dev/v1\nkind: Task\nmetadata: {name: x}\n",
		"apiVersion: unsupported value \"paddock.dev/v1\" for kind Task: use paddock.dev/v1alpha1",
		true);
	invalid("kind: Task\n", "apiVersion: required field is missing", true);
	invalid(TASK "spec: {type: exec, prompt: hi}\nextra: 1\n",
		"extra: unknown field: valid fields are apiVersion, kind, metadata, spec, status", true);
	invalid("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: Team}\n",
		"metadata.namespace: invalid value \"Team\"", false);
	invalid("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, labels: {'a b': x}}\n",
		"metadata.labels[\"a b\"]: invalid key: use [prefix/]name", false);
	invalid("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, labels: {a: -x}}\n",
		"metadata.labels[\"a\"]: invalid value \"-x\"", false);
	invalid("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, labels: {a: 1}}\n",
		"metadata.labels[\"a\"]: expected a string, got an integer: quote the value", true);
	invalid("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, owner: me}\n",
		"metadata.owner: unknown field", false);
	invalid("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {k: 1}\n",
		"data[\"k\"]: expected a string, got an integer: quote the value", true);
	invalid("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {'a/b': x}\n",
		"data[\"a/b\"]: invalid key", false);
	json_object *d = NULL;
	enum model_kind k;
	json_object *arr = json_object_new_array();
	ck_assert_int_eq(model_validate(arr, NULL, &k, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "document: expected a mapping with apiVersion, kind and metadata, got a list");
	json_object_put(arr);

	/* ConfigMap/Secret names may be subdomains, Task/Agent names are labels */
	d = valid("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a.b-c}\n", MODEL_CONFIGMAP);
	json_object_put(d);
	invalid("apiVersion: paddock.dev/v1alpha1\nkind: Agent\nmetadata: {name: a.b}\nspec: {type: exec}\n",
		"metadata.name: invalid value \"a.b\"", false);
}
END_TEST

START_TEST(agent)
{
	json_object *d = load_fixture("agent.yaml", 0);
	enum model_kind k;
	ck_assert_int_eq(model_validate(d, NULL, &k, err, sizeof(err)), 0);
	ck_assert_int_eq(k, MODEL_AGENT);
	struct model_agent *a = NULL;
	ck_assert_int_eq(model_agent_from_json(d, &a, err, sizeof(err)), 0);
	ck_assert_str_eq(a->type, "codex");
	ck_assert_str_eq(a->image, "ghcr.io/example/codex:1.2");
	ck_assert_str_eq(a->cred_type, "oauth");
	ck_assert_str_eq(a->cred_key, "oauthToken");
	ck_assert_int_eq(a->max_concurrent, 3);
	ck_assert_uint_eq(a->ro_paths.n, 1);
	ck_assert_str_eq(a->ro_paths.v[0], "/opt/tools");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(a->sandbox_env, "GOFLAGS")),
			 "-mod=mod");
	ck_assert(model_agent_allows(a, "agents"));
	ck_assert(model_agent_allows(a, "team-x"));
	ck_assert(model_agent_allows(a, "prod"));
	ck_assert(!model_agent_allows(a, "production"));
	ck_assert(!model_agent_allows(a, "default"));
	ck_assert_str_eq(model_field(d, "spec.pod.runtimeClassName"), "gvisor");
	model_agent_free(a);
	json_object_put(d);

	d = valid(AGENT "spec: {type: exec, command: 'echo hi'}\nstatus: {x: 1}\n", MODEL_AGENT);
	ck_assert_int_eq(model_agent_from_json(d, &a, err, sizeof(err)), 0);
	ck_assert_int_eq(a->max_concurrent, 0);
	ck_assert(model_agent_allows(a, "default"));
	ck_assert(!model_agent_allows(a, "other"));
	ck_assert_str_eq(a->command, "echo hi");
	model_agent_free(a);
	ck_assert_ptr_null(model_field(d, "status"));
	json_object_put(d);

	invalid(AGENT "spec: {image: x}\n", "spec.type: required field is missing", true);
	invalid(AGENT "spec: {type: exec, maxConcurrentTasks: -1}\n",
		"spec.maxConcurrentTasks: invalid value -1: use an integer from 0 to 2147483647", true);
	invalid(AGENT "spec: {type: exec, allowedNamespaces: ['Team A']}\n",
		"spec.allowedNamespaces[0]: invalid value \"Team A\": use a namespace name or a glob such as team-*",
		true);
	invalid(AGENT "spec: {type: exec, sandbox: {readOnlyPaths: [relative]}}\n",
		"spec.sandbox.readOnlyPaths[0]: invalid value \"relative\": use an absolute path without \"..\"",
		true);
	invalid(AGENT "spec: {type: exec, sandbox: {env: {1X: a}}}\n",
		"spec.sandbox.env[\"1X\"]: invalid name", false);
	invalid(AGENT "spec: {type: exec, sandbox: {env: {X: 1}}}\n",
		"spec.sandbox.env[\"X\"]: expected a string, got an integer: quote the value", true);
	invalid(AGENT "spec: {type: exec, sandbox: {network: true}}\n",
		"spec.sandbox.network: unknown field: valid fields are readOnlyPaths, env", true);
	invalid(AGENT "spec: {type: exec, pod: {hostNetwork: true}}\n",
		"spec.pod.hostNetwork: unknown field: valid fields are labels, runtimeClassName, nodeSelector, tolerations, resources",
		true);
	invalid(AGENT "spec: {type: exec, pod: {resources: {limits: {cpu: [1]}}}}\n",
		"spec.pod.resources.limits[\"cpu\"]: expected a quantity", false);
	invalid(AGENT "spec: {type: exec, pod: {tolerations: [x]}}\n",
		"spec.pod.tolerations[0]: expected a mapping, got a string", true);
	invalid(AGENT "spec: {type: exec, image: 'a b'}\n", "spec.image: invalid value \"a b\"", false);
	invalid(AGENT "spec: {type: exec, prompt: hi}\n", "spec.prompt: unknown field", false);
}
END_TEST

START_TEST(secrets)
{
	json_object *d = load_fixture("secret.yaml", 0);
	enum model_kind k;
	ck_assert_int_eq(model_validate(d, NULL, &k, err, sizeof(err)), 0);
	ck_assert_int_eq(k, MODEL_SECRET);
	/* stringData folded into data */
	ck_assert_ptr_null(model_field(d, "stringData"));
	ck_assert_str_eq(model_field(d, "data.other"), "cGxhaW4tdmFsdWU=");
	ck_assert_str_eq(model_field(d, "data.apiKey"), "c2stdGVzdC1rZXk=");
	json_object_put(d);

	d = load_fixture("secret.yaml", 1);
	ck_assert_int_eq(model_validate(d, NULL, &k, err, sizeof(err)), 0);
	ck_assert_int_eq(k, MODEL_CONFIGMAP);
	json_object_put(d);

	/* a bad base64 value is reported without the value */
	invalid("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {apiKey: 'sk-SECRET-VALUE'}\n",
		"data[\"apiKey\"]: value is not valid base64 (value not shown): encode it with `base64 -w0` or use stringData",
		true);
	ck_assert_ptr_null(strstr(err, "SECRET"));
	invalid("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: 12345}\n",
		"stringData[\"k\"]: expected a string, got an integer: quote the value", true);
	ck_assert_ptr_null(strstr(err, "12345"));
	invalid("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nspec: {}\n",
		"spec: unknown field: valid fields are apiVersion, kind, metadata, type, data, stringData, immutable",
		true);
}
END_TEST

START_TEST(names_and_base64)
{
	ck_assert(model_dns1123_label("a"));
	ck_assert(model_dns1123_label("fix-bug-2"));
	ck_assert(!model_dns1123_label(""));
	ck_assert(!model_dns1123_label("-a"));
	ck_assert(!model_dns1123_label("a-"));
	ck_assert(!model_dns1123_label("A"));
	ck_assert(!model_dns1123_label("a.b"));
	ck_assert(!model_dns1123_label(NULL));
	char l63[64], l64[65];
	memset(l63, 'a', 63);
	l63[63] = '\0';
	memset(l64, 'a', 64);
	l64[64] = '\0';
	ck_assert(model_dns1123_label(l63));
	ck_assert(!model_dns1123_label(l64));
	ck_assert(model_dns1123_subdomain("a.b-c.d"));
	ck_assert(!model_dns1123_subdomain("a..b"));
	ck_assert(!model_dns1123_subdomain(".a"));
	ck_assert(!model_dns1123_subdomain("a_b"));

	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
					   "Zm9vYmFy" };
	for (size_t i = 0; i < ARRAY_SIZE(plain); i++) {
		char *e = model_b64_encode(plain[i], strlen(plain[i]));
		ck_assert_str_eq(e, enc[i]);
		char *dec = NULL;
		size_t n = 0;
		ck_assert_int_eq(model_b64_decode(e, strlen(e), &dec, &n), 0);
		ck_assert_uint_eq(n, strlen(plain[i]));
		ck_assert_str_eq(dec, plain[i]);
		free(dec);
		free(e);
	}
	char *dec = NULL;
	size_t n = 0;
	ck_assert_int_eq(model_b64_decode("Zm9", 3, &dec, &n), -EINVAL);
	ck_assert_int_eq(model_b64_decode("Zm=v", 4, &dec, &n), -EINVAL);
	ck_assert_int_eq(model_b64_decode("Zg==Zg==", 8, &dec, &n), -EINVAL);
	ck_assert_int_eq(model_b64_decode("Z!==", 4, &dec, &n), -EINVAL);
	ck_assert_ptr_null(dec);

	ck_assert_int_eq(model_kind_parse("tasks"), MODEL_TASK);
	ck_assert_int_eq(model_kind_parse("configmap"), MODEL_CONFIGMAP);
	ck_assert_int_eq(model_kind_parse("Jobs"), -1);
	ck_assert_str_eq(model_phase_name(MODEL_PHASE_QUEUED), "Queued");
	ck_assert_int_eq(model_phase_parse("Stopped"), MODEL_PHASE_STOPPED);
	ck_assert(model_phase_finished(MODEL_PHASE_FAILED));
	ck_assert(!model_phase_finished(MODEL_PHASE_RUNNING));
}
END_TEST

/* ---- quantities and spec.resources ---------------------------------- */

#define CPU QUANTITY_CPU
#define BYTES QUANTITY_BYTES
#define FRAC_B "a fraction of a byte"
#define FRAC_C "finer than 1m (a thousandth of a core)"
#define NEG "must not be negative"
#define BIG "too large"

static const struct {
	const char *in;
	enum quantity_kind kind;
	int rc;
	int64_t want;    /* rc 0 */
	const char *why; /* rc < 0: the reason, NULL when not a quantity at all */
} quantities[] = {
	/* CPU, in millicores */
	{ "500m", CPU, 0, 500, NULL },
	{ "0.5", CPU, 0, 500, NULL },
	{ ".5", CPU, 0, 500, NULL },
	{ "2", CPU, 0, 2000, NULL },
	{ "2.", CPU, 0, 2000, NULL },
	{ "+2", CPU, 0, 2000, NULL },
	{ "0.250", CPU, 0, 250, NULL },
	{ "1500000u", CPU, 0, 1500, NULL },
	{ "2e-3", CPU, 0, 2, NULL },
	{ "1E1", CPU, 0, 10000, NULL },
	{ "1k", CPU, 0, 1000000, NULL },
	{ "0", CPU, 0, 0, NULL },
	{ "0.0001", CPU, -EINVAL, 0, FRAC_C },
	{ "100u", CPU, -EINVAL, 0, FRAC_C },
	{ "1n", CPU, -EINVAL, 0, FRAC_C },
	{ "-1", CPU, -EINVAL, 0, NEG },
	{ "-500m", CPU, -EINVAL, 0, NEG },
	{ "500mi", CPU, -EINVAL, 0, NULL },
	{ "two", CPU, -EINVAL, 0, NULL },
	{ "9223372036854775807", CPU, -ERANGE, 0, BIG },
	/* bytes */
	{ "256Mi", BYTES, 0, 268435456, NULL },
	{ "1Gi", BYTES, 0, 1073741824, NULL },
	{ "512M", BYTES, 0, 512000000, NULL },
	{ "1e9", BYTES, 0, 1000000000, NULL },
	{ "1E9", BYTES, 0, 1000000000, NULL },
	{ "1e+9", BYTES, 0, 1000000000, NULL },
	{ "1073741824", BYTES, 0, 1073741824, NULL },
	{ "1.5Gi", BYTES, 0, 1610612736, NULL },
	{ "0.5Ki", BYTES, 0, 512, NULL },
	{ "1.000Gi", BYTES, 0, 1073741824, NULL },
	{ "12k", BYTES, 0, 12000, NULL },
	{ "2T", BYTES, 0, 2000000000000, NULL },
	{ "3Ti", BYTES, 0, (int64_t)3 << 40, NULL },
	{ "1000m", BYTES, 0, 1, NULL },
	{ "7Ei", BYTES, 0, (int64_t)7 << 60, NULL },
	{ "9223372036854775807", BYTES, 0, INT64_MAX, NULL },
	{ "000042", BYTES, 0, 42, NULL },
	{ "0e999", BYTES, 0, 0, NULL },
	{ "-0", BYTES, 0, 0, NULL },
	{ "0.5", BYTES, -EINVAL, 0, FRAC_B },
	{ "1.5", BYTES, -EINVAL, 0, FRAC_B },
	{ "1m", BYTES, -EINVAL, 0, FRAC_B },
	{ "0.3Ki", BYTES, -EINVAL, 0, FRAC_B },
	{ "1e-400", BYTES, -EINVAL, 0, FRAC_B },
	{ "-1Gi", BYTES, -EINVAL, 0, NEG },
	{ "-1", BYTES, -EINVAL, 0, NEG },
	{ "8Ei", BYTES, -ERANGE, 0, BIG },
	{ "9223372036854775808", BYTES, -ERANGE, 0, BIG },
	{ "99999999999999999999999", BYTES, -ERANGE, 0, BIG },
	{ "1e19", BYTES, -ERANGE, 0, BIG },
	{ "1e400", BYTES, -ERANGE, 0, BIG },
	{ "1e99999999999999999999", BYTES, -ERANGE, 0, BIG },
	{ "256MB", BYTES, -EINVAL, 0, NULL },
	{ "1K", BYTES, -EINVAL, 0, NULL },
	{ "1 Gi", BYTES, -EINVAL, 0, NULL },
	{ "1Gi ", BYTES, -EINVAL, 0, NULL },
	{ "", BYTES, -EINVAL, 0, NULL },
	{ "Mi", BYTES, -EINVAL, 0, NULL },
	{ ".", BYTES, -EINVAL, 0, NULL },
	{ "+", BYTES, -EINVAL, 0, NULL },
	{ "0x10", BYTES, -EINVAL, 0, NULL },
	{ "1e", BYTES, -EINVAL, 0, NULL },
	{ "1e+", BYTES, -EINVAL, 0, NULL },
	{ "1e1.5", BYTES, -EINVAL, 0, NULL },
	{ "1..5", BYTES, -EINVAL, 0, NULL },
	{ "--1", BYTES, -EINVAL, 0, NULL },
};

START_TEST(quantity_table)
{
	for (size_t i = 0; i < ARRAY_SIZE(quantities); i++) {
		int64_t v = -42;
		const char *why = "unset";
		int rc = quantity_parse(quantities[i].in, quantities[i].kind, &v, &why);
		ck_assert_msg(rc == quantities[i].rc, "\"%s\": rc %d, want %d", quantities[i].in, rc,
			      quantities[i].rc);
		if (rc == 0) {
			ck_assert_msg(v == quantities[i].want, "\"%s\": %lld, want %lld",
				      quantities[i].in, (long long)v, (long long)quantities[i].want);
			ck_assert_ptr_null(why);
			/* The text Kubernetes would get parses back to the same value. */
			char text[32];
			int64_t back = -1;
			quantity_format(v, quantities[i].kind, text, sizeof(text));
			ck_assert_int_eq(quantity_parse(text, quantities[i].kind, &back, NULL), 0);
			ck_assert_msg(back == v, "%s -> %s -> %lld", quantities[i].in, text,
				      (long long)back);
		} else {
			ck_assert_msg(v == -42, "\"%s\": out written on failure", quantities[i].in);
			if (quantities[i].why)
				ck_assert_msg(why && !strcmp(why, quantities[i].why),
					      "\"%s\": why \"%s\", want \"%s\"", quantities[i].in,
					      why ? why : "(null)", quantities[i].why);
			else
				ck_assert_msg(!why, "\"%s\": why \"%s\", want none", quantities[i].in,
					      why);
		}
	}
	ck_assert_int_eq(quantity_parse(NULL, BYTES, NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(quantity_text)
{
	static const struct {
		int64_t v;
		enum quantity_kind kind;
		const char *want;
	} cases[] = {
		{ 500, CPU, "500m" }, { 2000, CPU, "2" }, { 1500, CPU, "1500m" }, { 0, CPU, "0" },
		{ 268435456, BYTES, "256Mi" }, { 1073741824, BYTES, "1Gi" },
		{ 1000000000, BYTES, "1G" }, { 512000000, BYTES, "512M" }, { 1000, BYTES, "1k" },
		{ 1024, BYTES, "1Ki" }, { 1000001, BYTES, "1000001" }, { 0, BYTES, "0" },
		{ (int64_t)10 << 30, BYTES, "10Gi" }, { INT64_MAX, BYTES, "9223372036854775807" },
	};
	char buf[32];
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		quantity_format(cases[i].v, cases[i].kind, buf, sizeof(buf));
		ck_assert_str_eq(buf, cases[i].want);
	}
	struct run_limits l = { .cpu_milli = 500, .memory_bytes = 268435456,
				.storage_bytes = 1073741824, .pids = 512 };
	char line[160];
	limits_format(&l, line, sizeof(line));
	ck_assert_str_eq(line, "cpu=500m memory=256Mi ephemeral-storage=1Gi pids=512");
	l = (struct run_limits){ .memory_bytes = 4LL << 30 };
	limits_format(&l, line, sizeof(line));
	ck_assert_str_eq(line, "memory=4Gi");
	l = (struct run_limits){ .cpu_milli = 2000, .pids = 1024 };
	limits_format(&l, line, sizeof(line));
	ck_assert_str_eq(line, "cpu=2 pids=1024");
	l = (struct run_limits){ 0 };
	limits_format(&l, line, sizeof(line));
	ck_assert_str_eq(line, "none");
}
END_TEST

#define MEM_HINT "use a number with an optional suffix Ki, Mi, Gi (or k, M, G), e.g. 256Mi"
#define CPU_HINT "use a number of cores with an optional suffix m (thousandths), e.g. 500m, 0.5 or 2"

START_TEST(resources)
{
	/* A Task: strings and numbers, as YAML writes them. */
	json_object *d = valid(TASK "spec:\n  type: exec\n  prompt: hi\n  resources:\n"
				    "    limits: {cpu: 0.5, memory: 256Mi, ephemeral-storage: 1e9, pids: 512}\n"
				    "    requests: {cpu: 250m, memory: 268435456}\n",
			       MODEL_TASK);
	struct model_task *t = NULL;
	ck_assert_int_eq(model_task_from_json(d, &t, err, sizeof(err)), 0);
	ck_assert_int_eq(t->res.limits.cpu_milli, 500);
	ck_assert_int_eq(t->res.limits.memory_bytes, 268435456);
	ck_assert_int_eq(t->res.limits.storage_bytes, 1000000000);
	ck_assert_int_eq(t->res.limits.pids, 512);
	ck_assert_int_eq(t->res.requests.cpu_milli, 250);
	ck_assert_int_eq(t->res.requests.memory_bytes, 268435456);
	ck_assert_int_eq(t->res.requests.storage_bytes, 0);
	ck_assert_int_eq(t->res.requests.pids, 0);
	ck_assert_ptr_null(model_deprecated(d));
	model_task_free(t);
	json_object_put(d);

	/* A Task without: all unset. */
	d = valid(TASK "spec: {type: exec, prompt: hi}\n", MODEL_TASK);
	ck_assert_int_eq(model_task_from_json(d, &t, err, sizeof(err)), 0);
	ck_assert_int_eq(t->res.limits.cpu_milli + t->res.limits.memory_bytes +
				 t->res.limits.storage_bytes + t->res.limits.pids,
			 0);
	model_task_free(t);
	json_object_put(d);

	/* An Agent with both: the views keep them apart (pipeline_limits
	 * merges); the deprecated one is reported. */
	d = valid(AGENT "spec:\n  type: exec\n  resources: {limits: {memory: 1Gi}}\n"
			"  pod: {resources: {limits: {cpu: 2, memory: 4Gi, nvidia.com/gpu: 1},"
			" requests: {cpu: \"0\"}}}\n",
		  MODEL_AGENT);
	struct model_agent *a = NULL;
	ck_assert_int_eq(model_agent_from_json(d, &a, err, sizeof(err)), 0);
	ck_assert_int_eq(a->res.limits.memory_bytes, 1073741824);
	ck_assert_int_eq(a->res.limits.cpu_milli, 0);
	ck_assert_int_eq(a->pod_res.limits.cpu_milli, 2000);
	ck_assert_int_eq(a->pod_res.limits.memory_bytes, 4294967296);
	ck_assert_int_eq(a->pod_res.requests.cpu_milli, 0);
	ck_assert_ptr_nonnull(model_deprecated(d));
	ck_assert_ptr_nonnull(strstr(model_deprecated(d), "spec.pod.resources is deprecated: use spec.resources"));
	model_agent_free(a);
	json_object_put(d);

	/* The mistakes, with the field, the value and the fix. */
	const char *task = TASK "spec:\n  type: exec\n  prompt: hi\n  resources: ";
	struct {
		const char *res;
		const char *want;
	} bad[] = {
		{ "{limits: {memory: 256MB}}",
		  "spec.resources.limits.memory: invalid quantity \"256MB\": " MEM_HINT },
		{ "{limits: {memory: 0.5}}",
		  "spec.resources.limits.memory: invalid quantity \"0.5\": a fraction of a byte: " MEM_HINT },
		{ "{requests: {ephemeral-storage: -1Gi}}",
		  "spec.resources.requests.ephemeral-storage: invalid quantity \"-1Gi\": must not be negative: " MEM_HINT },
		{ "{limits: {ephemeral-storage: 99999999999999999999Gi}}",
		  "spec.resources.limits.ephemeral-storage: invalid quantity \"99999999999999999999Gi\": too large: " MEM_HINT },
		{ "{limits: {cpu: 2 cores}}",
		  "spec.resources.limits.cpu: invalid quantity \"2 cores\": " CPU_HINT },
		{ "{limits: {cpu: -1}}",
		  "spec.resources.limits.cpu: invalid quantity \"-1\": must not be negative: " CPU_HINT },
		{ "{requests: {cpu: 0.0005}}",
		  "spec.resources.requests.cpu: invalid quantity \"0.0005\": finer than 1m (a thousandth of a core): " CPU_HINT },
		{ "{limits: {memory: 0}}",
		  "spec.resources.limits.memory: invalid quantity \"0\": must be greater than 0: remove the field to get the default" },
		{ "{limits: {cpu: true}}",
		  "spec.resources.limits.cpu: expected a quantity (a string or a number), got a boolean" },
		{ "{limits: {pids: 0}}",
		  "spec.resources.limits.pids: invalid value 0: use an integer from 1 to 4194304" },
		{ "{limits: {pids: \"512\"}}",
		  "spec.resources.limits.pids: expected an integer, got a string" },
		{ "{limits: {gpu: 1}}",
		  "spec.resources.limits.gpu: unknown field: valid fields are cpu, memory, ephemeral-storage, pids" },
		{ "{requests: {pids: 5}}",
		  "spec.resources.requests.pids: unknown field: valid fields are cpu, memory, ephemeral-storage" },
		{ "{storage: 1Gi}",
		  "spec.resources.storage: unknown field: valid fields are limits, requests" },
		{ "{limits: 2}", "spec.resources.limits: expected a mapping, got an integer" },
		{ "4Gi", "spec.resources: expected a mapping, got a string" },
		{ "{limits: {memory: 1Gi}, requests: {memory: 2Gi}}",
		  "spec.resources.requests.memory: 2Gi is above spec.resources.limits.memory (1Gi): lower the request or raise the limit" },
		{ "{limits: {cpu: 500m}, requests: {cpu: 1}}",
		  "spec.resources.requests.cpu: 1 is above spec.resources.limits.cpu (500m): lower the request or raise the limit" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *y = xasprintf("%s%s\n", task, bad[i].res);
		invalid(y, bad[i].want, true);
		free(y);
	}
	/* The same rules on an Agent, and on the known keys of the deprecated
	 * spec.pod.resources (others, such as GPUs, stay as written). */
	invalid(AGENT "spec: {type: exec, resources: {limits: {memory: 4GB}}}\n",
		"spec.resources.limits.memory: invalid quantity \"4GB\": " MEM_HINT, true);
	invalid(AGENT "spec: {type: exec, pod: {resources: {limits: {memory: 4GB}}}}\n",
		"spec.pod.resources.limits.memory: invalid quantity \"4GB\": " MEM_HINT, true);
	invalid(AGENT "spec: {type: exec, pod: {resources: {requests: {cpu: lots}}}}\n",
		"spec.pod.resources.requests.cpu: invalid quantity \"lots\": " CPU_HINT, true);
}
END_TEST

START_TEST(sandbox_env_reserved)
{
	static const char *const reserved[] = { "HOME", "TMPDIR", "PWD", "PADDOCK_LIB",
						"PADDOCK_TASK", "PADDOCK_AGENT_BIN" };
	for (size_t i = 0; i < ARRAY_SIZE(reserved); i++) {
		char *y = xasprintf(AGENT "spec: {type: exec, sandbox: {env: {%s: x}}}\n", reserved[i]);
		char *want = xasprintf("spec.sandbox.env[\"%s\"]: reserved name: Paddock sets HOME, TMPDIR, PWD and the PADDOCK_* variables itself: remove it",
				       reserved[i]);
		invalid(y, want, true);
		free(y);
		free(want);
	}
	json_object *d = valid(AGENT "spec: {type: exec, sandbox: {env: {HOMEDIR: x, MY_PADDOCK_X: y}}}\n",
			       MODEL_AGENT);
	json_object_put(d);
}
END_TEST

START_TEST(views_refuse_other_kinds)
{
	json_object *d = valid(AGENT "spec: {type: exec}\n", MODEL_AGENT);
	struct model_task *t = (struct model_task *)0x1;
	ck_assert_int_eq(model_task_from_json(d, &t, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_eq(t, (struct model_task *)0x1);
	ck_assert_str_eq(err, "document is not a validated Task");
	model_task_free(NULL);
	model_agent_free(NULL);
	json_object_put(d);
}
END_TEST

/* spec.network: the syntax of the mode and of each allow entry (the
 * CRD's enum and pattern); the ceiling is the pipeline's (test_pipeline). */
START_TEST(agent_network)
{
	json_object *d = valid(AGENT "spec: {type: exec, network: {egress: allowlist, allow: "
				     "[api.example.com, '*.github.com', 'example.org:8443', '[fd00::1]:443', "
				     "'10.1.2.3', 'host_1.', 'a:65535']}}\n",
			       MODEL_AGENT);
	struct model_agent *a = NULL;
	ck_assert_int_eq(model_agent_from_json(d, &a, err, sizeof(err)), 0);
	ck_assert_str_eq(a->net_egress, "allowlist");
	ck_assert_uint_eq(a->net_allow.n, 7);
	ck_assert_str_eq(a->net_allow.v[1], "*.github.com");
	model_agent_free(a);
	json_object_put(d);
	d = valid(AGENT "spec: {type: exec, network: {egress: none}}\n", MODEL_AGENT);
	ck_assert_int_eq(model_agent_from_json(d, &a, err, sizeof(err)), 0);
	ck_assert_str_eq(a->net_egress, "none");
	ck_assert_uint_eq(a->net_allow.n, 0);
	model_agent_free(a);
	json_object_put(d);
	/* allow alone: the operator's mode */
	d = valid(AGENT "spec: {type: exec, network: {allow: [example.com]}}\n", MODEL_AGENT);
	ck_assert_int_eq(model_agent_from_json(d, &a, err, sizeof(err)), 0);
	ck_assert_ptr_null(a->net_egress);
	model_agent_free(a);
	json_object_put(d);

	invalid(AGENT "spec: {type: exec, network: {egress: closed}}\n",
		"spec.network.egress: unsupported value \"closed\": use none, allowlist or open", true);
	invalid(AGENT "spec: {type: exec, network: {egress: allowlist, ports: [1]}}\n",
		"spec.network.ports: unknown field: valid fields are egress, allow", true);
	invalid(AGENT "spec: {type: exec, network: []}\n", "spec.network: expected a mapping", false);
	invalid(AGENT "spec: {type: exec, network: {allow: example.com}}\n",
		"spec.network.allow: expected a list", false);
	static const char *const bad[] = {
		"''", "'https://example.com'", "'example.com/x'", "'user@example.com'",
		"'*example.com'", "'a.*.example.com'", "'*.'", "'example..com'", "'.example.com'",
		"'example.com:0'", "'example.com:65536'", "'example.com:080'", "'example.com:'",
		"'ex ample.com'", "'[fd00::1'", "'fd00::1'", "'[]'", "'[fd00::1]x'", "'exa$mple.com'", "1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *y = xasprintf(AGENT "spec: {type: exec, network: {allow: [ok.example, %s]}}\n",
				    bad[i]);
		invalid(y, "spec.network.allow[1]: invalid value ", false);
		free(y);
	}
	char *longlabel = xasprintf(AGENT "spec: {type: exec, network: {allow: [%064d.example]}}\n", 0);
	invalid(longlabel, "spec.network.allow[0]: invalid value", false);
	free(longlabel);
	invalid(AGENT "spec: {type: exec, network: {egress: none, allow: [example.com]}}\n",
		"spec.network.allow: egress none allows no host: remove spec.network.allow or use egress allowlist",
		true);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("model");
	tcase_add_test(tc, task_fixture);
	tcase_add_test(tc, task_defaults);
	tcase_add_test(tc, task_errors);
	tcase_add_test(tc, common_errors);
	tcase_add_test(tc, agent);
	tcase_add_test(tc, secrets);
	tcase_add_test(tc, names_and_base64);
	tcase_add_test(tc, views_refuse_other_kinds);
	tcase_add_test(tc, quantity_table);
	tcase_add_test(tc, quantity_text);
	tcase_add_test(tc, resources);
	tcase_add_test(tc, sandbox_env_reserved);
	tcase_add_test(tc, agent_network);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
