/* SPDX-License-Identifier: MIT */
/* test_conf.c - paddock.yaml parsing: defaults, every key, and the errors
 * an operator sees (with line:column and the fix). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <paddock/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/conf.h"
#include "base/util.h"

static char err[1024];

static struct pd_config *parse_ok(const char *yaml)
{
	struct pd_config *c = NULL;
	err[0] = '\0';
	int rc = config_parse("t.yaml", yaml, strlen(yaml), &c, err, sizeof(err));
	ck_assert_msg(rc == 0, "parse failed: %s", err);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* Parse must fail with exactly `want`. */
static void parse_fails(const char *yaml, const char *want)
{
	struct pd_config *c = NULL;
	err[0] = '\0';
	int rc = config_parse("t.yaml", yaml, strlen(yaml), &c, err, sizeof(err));
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_null(c);
	ck_assert_str_eq(err, want);
}

static void setup(void)
{
	unsetenv("PADDOCK_PLUGIN_PATH");
	unsetenv("PADDOCK_CONFIG");
}

static void check_default_limits(const struct pd_limits *l)
{
	ck_assert_int_eq(l->max_concurrent_tasks, 4);
	ck_assert_uint_eq(l->prompt_bytes, 262144);
	ck_assert_uint_eq(l->manifest_bytes, 1048576);
	ck_assert_uint_eq(l->log_bytes_per_run, 16777216);
	ck_assert_uint_eq(l->output_bytes, 65536);
	ck_assert_uint_eq(l->context_item_bytes, 1048576);
	ck_assert_uint_eq(l->context_total_bytes, 8388608);
	ck_assert_uint_eq(l->url_fetch_bytes, 1048576);
	ck_assert_int_eq(l->url_fetch_timeout_ms, 10000);
	ck_assert_int_eq(l->url_max_redirects, 3);
	ck_assert_int_eq(l->git_timeout_seconds, 300);
	ck_assert_int_eq(l->concurrent_clones, 2);
	ck_assert_int_eq(l->default_task_timeout, 3600);
}

/* resources: and sandbox: when paddock.yaml says nothing. */
static void check_default_resources(const struct pd_config *c)
{
	ck_assert_int_eq(c->default_limits.cpu_milli, 2000);
	ck_assert_int_eq(c->default_limits.memory_bytes, 4LL << 30);
	ck_assert_int_eq(c->default_limits.storage_bytes, 10LL << 30);
	ck_assert_int_eq(c->default_limits.pids, 1024);
	ck_assert_int_eq(c->default_requests.cpu_milli, 0);
	ck_assert_int_eq(c->default_requests.memory_bytes, 0);
	ck_assert_int_eq(c->default_requests.storage_bytes, 0);
	ck_assert_int_eq(c->default_requests.pids, 0);
	ck_assert_int_eq(c->sandbox_uid_base, 2100000000);
	ck_assert_int_eq(c->sandbox_uid_count, 256);
}

static void check_defaults(const struct pd_config *c)
{
	ck_assert_str_eq(c->backend, "local");
	ck_assert_str_eq(c->isolation, "bwrap");
	ck_assert_uint_eq(c->plugin_dirs.n, 1);
	ck_assert(str_endswith(c->plugin_dirs.v[0], "/paddock/plugins"));
	ck_assert_ptr_null(c->state_dir);
	ck_assert_int_eq(c->log_level, LOG_INFO);
	ck_assert_int_eq(c->log_format, LOG_FORMAT_KV);
	ck_assert(!c->allow_loopback);
	ck_assert(!c->allow_private);
	ck_assert_ptr_null(c->kubeconfig);
	ck_assert_ptr_null(c->kube_namespace);
	ck_assert_str_eq(c->listen, "127.0.0.1:9464");
	ck_assert_uint_eq(c->n_plugins, 0);
	ck_assert_ptr_null(c->git.known_hosts);
	ck_assert_ptr_null(c->git.known_hosts_file);
	ck_assert(!c->git.trust_on_first_use);
	check_default_limits(&c->limits);
	check_default_resources(c);
}

START_TEST(defaults)
{
	struct pd_config *c = config_new_default();
	check_defaults(c);
	ck_assert_ptr_null(c->path);
	config_free(c);

	/* An empty file, a comment-only file and empty sections: defaults too. */
	c = parse_ok("");
	check_defaults(c);
	config_free(c);
	c = parse_ok("# nothing here\n");
	check_defaults(c);
	config_free(c);
	c = parse_ok("limits:\nlog: {}\ndrivers:\n");
	check_defaults(c);
	config_free(c);
	config_free(NULL);
}
END_TEST

START_TEST(every_key)
{
	struct pd_config *c = parse_ok(
		"backend: kubernetes\n"
		"pluginDirs: [/opt/a, /opt/b]\n"
		"stateDir: /srv/paddock\n"
		"isolation: none\n"
		"log: {level: debug, format: json}\n"
		"network: {allowLoopback: true, allowPrivate: true, egress: allowlist,\n"
		"          allow: [api.example.com, \"*.example.org\", \"h:8443\", \"[::1]:443\"]}\n"
		"kubernetes: {kubeconfig: /root/.kube/config, namespace: agents}\n"
		"controller: {listen: \"0.0.0.0:9000\"}\n"
		"limits:\n"
		"  maxConcurrentTasks: 7\n"
		"  promptBytes: 64Ki\n"
		"  manifestBytes: 2Mi\n"
		"  logBytesPerRun: 1Gi\n"
		"  outputBytes: 1000\n"
		"  contextItemBytes: 3k\n"
		"  contextTotalBytes: 2M\n"
		"  urlFetchBytes: 512Ki\n"
		"  urlFetchTimeout: 30s\n"
		"  urlMaxRedirects: 0\n"
		"  gitTimeout: 5m\n"
		"  concurrentClones: 9\n"
		"  defaultTaskTimeout: 1h30m\n"
		"drivers:\n"
		"  exec: {enabled: true, settings: {command: \"/bin/echo hi\", retries: 3}}\n"
		"  claude-code: {enabled: false}\n"
		"  codex:\n"
		"contexts:\n"
		"  text: {enabled: true}\n");
	ck_assert_str_eq(c->backend, "kubernetes");
	ck_assert_uint_eq(c->plugin_dirs.n, 2);
	ck_assert_str_eq(c->plugin_dirs.v[0], "/opt/a");
	ck_assert_str_eq(c->plugin_dirs.v[1], "/opt/b");
	ck_assert_str_eq(c->state_dir, "/srv/paddock");
	ck_assert_str_eq(c->isolation, "none");
	ck_assert_int_eq(c->log_level, LOG_DEBUG);
	ck_assert_int_eq(c->log_format, LOG_FORMAT_JSON);
	ck_assert(c->allow_loopback);
	ck_assert(c->allow_private);
	ck_assert_str_eq(c->egress, "allowlist");
	ck_assert_uint_eq(c->egress_allow.n, 4);
	ck_assert_str_eq(c->egress_allow.v[1], "*.example.org");
	ck_assert_str_eq(c->kubeconfig, "/root/.kube/config");
	ck_assert_str_eq(c->kube_namespace, "agents");
	ck_assert_str_eq(c->listen, "0.0.0.0:9000");
	const struct pd_limits *l = &c->limits;
	ck_assert_int_eq(l->max_concurrent_tasks, 7);
	ck_assert_uint_eq(l->prompt_bytes, 65536);
	ck_assert_uint_eq(l->manifest_bytes, 2 * 1048576);
	ck_assert_uint_eq(l->log_bytes_per_run, 1073741824);
	ck_assert_uint_eq(l->output_bytes, 1000);
	ck_assert_uint_eq(l->context_item_bytes, 3000);
	ck_assert_uint_eq(l->context_total_bytes, 2000000);
	ck_assert_uint_eq(l->url_fetch_bytes, 524288);
	ck_assert_int_eq(l->url_fetch_timeout_ms, 30000);
	ck_assert_int_eq(l->url_max_redirects, 0);
	ck_assert_int_eq(l->git_timeout_seconds, 300);
	ck_assert_int_eq(l->concurrent_clones, 9);
	ck_assert_int_eq(l->default_task_timeout, 5400);

	ck_assert_uint_eq(c->n_plugins, 4);
	const struct pd_plugin_conf *p = config_plugin(c, "exec");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p->kind, PADDOCK_KIND_DRIVER);
	ck_assert(p->enabled);
	ck_assert_int_eq(p->line, 25);
	ck_assert_int_eq(p->column, 3);
	ck_assert_str_eq(config_plugin_setting(c, "exec", "command"), "/bin/echo hi");
	ck_assert_str_eq(config_plugin_setting(c, "exec", "retries"), "3");
	ck_assert_ptr_null(config_plugin_setting(c, "exec", "nope"));
	ck_assert_ptr_null(config_plugin_setting(c, "nope", "command"));
	p = config_plugin(c, "claude-code");
	ck_assert(!p->enabled);
	/* Listed without a body: enabled, no settings. */
	p = config_plugin(c, "codex");
	ck_assert(p->enabled);
	ck_assert_uint_eq(p->n_settings, 0);
	p = config_plugin(c, "text");
	ck_assert_int_eq(p->kind, PADDOCK_KIND_CONTEXT);
	ck_assert(p->enabled);
	ck_assert_ptr_null(config_plugin(c, "git"));
	config_free(c);
}
END_TEST

START_TEST(shipped_example)
{
	/* etc/paddock.yaml must stay valid and enable what it says. */
	struct pd_config *c = NULL;
	int rc = config_load(TOP_SRCDIR "/etc/paddock.yaml", &c, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_str_eq(c->path, TOP_SRCDIR "/etc/paddock.yaml");
	static const char *const drivers[] = { "exec", "claude-code", "codex", "gemini",
					       "opencode" };
	static const char *const contexts[] = { "text", "configmap", "git", "url", "runtime" };
	for (size_t i = 0; i < ARRAY_SIZE(drivers); i++) {
		const struct pd_plugin_conf *p = config_plugin(c, drivers[i]);
		ck_assert_msg(p && p->enabled && p->kind == PADDOCK_KIND_DRIVER, "%s", drivers[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(contexts); i++) {
		const struct pd_plugin_conf *p = config_plugin(c, contexts[i]);
		ck_assert_msg(p && p->enabled && p->kind == PADDOCK_KIND_CONTEXT, "%s",
			      contexts[i]);
	}
	/* It documents the defaults, so its limits are the defaults. */
	check_default_limits(&c->limits);
	check_default_resources(c);
	config_free(c);
}
END_TEST

START_TEST(unknown_keys)
{
	parse_fails("backend: local\nlimits:\n  promptBytes: 1\n  foo: 2\n",
		    "t.yaml:4:3: unknown key \"foo\" in limits: valid keys are "
		    "maxConcurrentTasks, promptBytes, manifestBytes, logBytesPerRun, outputBytes, "
		    "contextItemBytes, contextTotalBytes, urlFetchBytes, urlFetchTimeout, "
		    "urlMaxRedirects, gitTimeout, concurrentClones and defaultTaskTimeout");
	parse_fails("limit: {}\n",
		    "t.yaml:1:1: unknown key \"limit\": valid keys are backend, pluginDirs, "
		    "stateDir, isolation, log, network, kubernetes, controller, limits, resources, "
		    "sandbox, drivers, contexts, git, dashboard and github");
	parse_fails("github: {baseURLs: https://github.example.com}\n",
		    "t.yaml:1:20: github.baseURLs: expected a list of GitHub API URLs "
		    "(\"https://api.github.com\", \"https://github.example.com/api/v3\"), got a scalar");
	parse_fails("github: {baseURLs: [\"ftp://x\"]}\n",
		    "t.yaml:1:21: github.baseURLs[0]: expected an http(s) URL such as "
		    "https://github.example.com/api/v3");
	parse_fails("github: {baseURL: x}\n",
		    "t.yaml:1:10: unknown key \"baseURL\" in github: valid keys are baseURLs");
	parse_fails("log: {level: info, colour: true}\n",
		    "t.yaml:1:20: unknown key \"colour\" in log: valid keys are level and format");
	parse_fails("drivers:\n  exec: {enable: true}\n",
		    "t.yaml:2:10: unknown key \"enable\" in drivers.exec: valid keys are enabled "
		    "and settings");
}
END_TEST

START_TEST(wrong_types)
{
	parse_fails("backend: k8s\n",
		    "t.yaml:1:10: backend: unsupported value \"k8s\": use local or kubernetes");
	parse_fails("isolation: docker\n",
		    "t.yaml:1:12: isolation: unsupported value \"docker\": use bwrap or none");
	parse_fails("log:\n  level: verbose\n",
		    "t.yaml:2:10: log.level: unsupported value \"verbose\": use error, warn, info "
		    "or debug");
	parse_fails("log: {format: text}\n",
		    "t.yaml:1:15: log.format: unsupported value \"text\": use kv or json");
	parse_fails("network: {allowLoopback: yes}\n",
		    "t.yaml:1:26: network.allowLoopback: unsupported value \"yes\": use false or "
		    "true");
	parse_fails("network: {egress: closed}\n",
		    "t.yaml:1:19: network.egress: unsupported value \"closed\": use open, none or allowlist");
	parse_fails("network: {allow: api.example.com}\n",
		    "t.yaml:1:18: network.allow: expected a list of hosts (\"api.example.com\", \"*.example.com\", \"host:port\"), got a scalar");
	parse_fails("network: {allow: [[a]]}\n",
		    "t.yaml:1:19: network.allow[0]: expected a host, got a list");
	parse_fails("backend: [local]\n",
		    "t.yaml:1:10: backend: expected a scalar, got a list");
	parse_fails("limits: 5\n", "t.yaml:1:9: limits: expected a mapping, got a scalar");
	parse_fails("limits: {promptBytes: 12x}\n",
		    "t.yaml:1:23: limits.promptBytes: invalid size \"12x\": use a positive byte "
		    "count such as 65536, 64Ki or 1Mi");
	parse_fails("limits: {promptBytes: 0}\n",
		    "t.yaml:1:23: limits.promptBytes: invalid size \"0\": use a positive byte "
		    "count such as 65536, 64Ki or 1Mi");
	parse_fails("limits: {promptBytes: -5}\n",
		    "t.yaml:1:23: limits.promptBytes: invalid size \"-5\": use a positive byte "
		    "count such as 65536, 64Ki or 1Mi");
	parse_fails("limits: {outputBytes: 99999999999999999999999}\n",
		    "t.yaml:1:23: limits.outputBytes: invalid size \"99999999999999999999999\": "
		    "use a positive byte count such as 65536, 64Ki or 1Mi");
	/* Below the minimum the log's tail would get no room: refused,
	 * naming the field and the minimum; the minimum itself is fine. */
	parse_fails("limits: {logBytesPerRun: 1Ki}\n",
		    "t.yaml:1:26: limits.logBytesPerRun: 1024 bytes is below the minimum of 4096 "
		    "(4Ki): the log keeps its head and its tail, each needs room; use 4Ki or more");
	{
		const char *y = "limits: {logBytesPerRun: 4Ki}\n";
		struct pd_config *c4 = NULL;
		ck_assert_msg(config_parse("t.yaml", y, strlen(y), &c4, err, sizeof(err)) == 0, "%s",
			      err);
		ck_assert_uint_eq(c4->limits.log_bytes_per_run, 4096);
		config_free(c4);
	}
	parse_fails("limits: {maxConcurrentTasks: 0}\n",
		    "t.yaml:1:30: limits.maxConcurrentTasks: invalid value \"0\": use a whole "
		    "number from 1 to 100000");
	parse_fails("limits: {urlFetchTimeout: 5 minutes}\n",
		    "t.yaml:1:27: limits.urlFetchTimeout: invalid duration \"5 minutes\": use e.g. "
		    "30s, 15m, 2h or 1h30m");
	parse_fails("limits: {contextItemBytes: 2Mi, contextTotalBytes: 1Mi}\n",
		    "t.yaml: limits.contextItemBytes (2097152) is larger than "
		    "limits.contextTotalBytes (1048576): raise contextTotalBytes");
	parse_fails("pluginDirs: /opt/plugins\n",
		    "t.yaml:1:13: pluginDirs: expected a list of directories, got a scalar");
	parse_fails("pluginDirs: [plugins]\n",
		    "t.yaml:1:14: pluginDirs[0]: expected an absolute directory path, got plugins");
	parse_fails("stateDir: var/lib\n",
		    "t.yaml:1:11: stateDir: relative path \"var/lib\": use an absolute path");
	parse_fails("controller: {listen: 9464}\n",
		    "t.yaml:1:22: controller.listen: invalid address \"9464\": use HOST:PORT, e.g. "
		    "127.0.0.1:9464");
	parse_fails("drivers: [exec]\n",
		    "t.yaml:1:10: drivers: expected a mapping of plugin names, got a list");
	parse_fails("drivers:\n  Exec_1: {}\n",
		    "t.yaml:2:3: drivers: invalid plugin name \"Exec_1\": use lowercase letters, "
		    "digits and '-' (at most 64)");
	parse_fails("drivers:\n  text: {}\ncontexts:\n  text: {}\n",
		    "t.yaml:4:3: contexts.text: plugin \"text\" is already listed at line 2: list "
		    "it once, under drivers or contexts");
}
END_TEST

#define MEM_HINT "use a number with an optional suffix Ki, Mi, Gi (or k, M, G), e.g. 256Mi"

START_TEST(resources_and_sandbox)
{
	/* Each field on its own: the others keep their defaults; 0 is none. */
	struct pd_config *c = parse_ok("resources:\n"
				       "  limits: {cpu: 500m, memory: 0, pids: 64}\n"
				       "  requests: {cpu: \"0.25\", memory: 1e9, ephemeral-storage: 1Gi}\n"
				       "sandbox: {uidBase: 300000000, uidCount: 8}\n");
	ck_assert_int_eq(c->default_limits.cpu_milli, 500);
	ck_assert_int_eq(c->default_limits.memory_bytes, 0);
	ck_assert_int_eq(c->default_limits.storage_bytes, 10LL << 30);
	ck_assert_int_eq(c->default_limits.pids, 64);
	ck_assert_int_eq(c->default_requests.cpu_milli, 250);
	ck_assert_int_eq(c->default_requests.memory_bytes, 1000000000);
	ck_assert_int_eq(c->default_requests.storage_bytes, 1LL << 30);
	ck_assert_int_eq(c->sandbox_uid_base, 300000000);
	ck_assert_int_eq(c->sandbox_uid_count, 8);
	config_free(c);
	c = parse_ok("resources:\nsandbox: {}\n");
	check_default_resources(c);
	config_free(c);
	/* The byte limits share the parser: decimal units and exponents too,
	 * and K still means k. */
	c = parse_ok("limits: {promptBytes: 1.5Ki, manifestBytes: 2e6, outputBytes: 3K}\n");
	ck_assert_uint_eq(c->limits.prompt_bytes, 1536);
	ck_assert_uint_eq(c->limits.manifest_bytes, 2000000);
	ck_assert_uint_eq(c->limits.output_bytes, 3000);
	config_free(c);
	/* uidCount covers maxConcurrentTasks, from either side. */
	c = parse_ok("limits: {maxConcurrentTasks: 256}\n");
	config_free(c);
	/* Kubernetes runs take no host uid: any concurrency. */
	c = parse_ok("backend: kubernetes\nlimits: {maxConcurrentTasks: 1120}\n");
	ck_assert_int_eq(c->limits.max_concurrent_tasks, 1120);
	config_free(c);

	parse_fails("resources: {limits: {memory: 256MB}}\n",
		    "t.yaml:1:30: resources.limits.memory: invalid quantity \"256MB\": " MEM_HINT);
	parse_fails("resources:\n  requests:\n    ephemeral-storage: -1Gi\n",
		    "t.yaml:3:24: resources.requests.ephemeral-storage: invalid quantity \"-1Gi\": "
		    "must not be negative: " MEM_HINT);
	parse_fails("resources: {limits: {cpu: 0.0001}}\n",
		    "t.yaml:1:27: resources.limits.cpu: invalid quantity \"0.0001\": finer than 1m "
		    "(a thousandth of a core): use a number of cores with an optional suffix m "
		    "(thousandths), e.g. 500m, 0.5 or 2");
	parse_fails("resources: {limits: {memory: 99999999999999999999Ei}}\n",
		    "t.yaml:1:30: resources.limits.memory: invalid quantity "
		    "\"99999999999999999999Ei\": too large: " MEM_HINT);
	parse_fails("resources: {limits: {pids: lots}}\n",
		    "t.yaml:1:28: resources.limits.pids: invalid value \"lots\": use a whole number "
		    "from 0 to 4194304");
	parse_fails("resources: {limits: {gpu: 1}}\n",
		    "t.yaml:1:22: unknown key \"gpu\" in resources.limits: valid keys are cpu, "
		    "memory, ephemeral-storage and pids");
	parse_fails("resources: {requests: {pids: 1}}\n",
		    "t.yaml:1:24: unknown key \"pids\" in resources.requests: valid keys are cpu, "
		    "memory and ephemeral-storage");
	parse_fails("resources: {limit: {}}\n",
		    "t.yaml:1:13: unknown key \"limit\" in resources: valid keys are limits and "
		    "requests");
	parse_fails("resources: {requests: {memory: 8Gi}}\n",
		    "t.yaml:1:32: resources.requests.memory: 8Gi is above resources.limits.memory "
		    "(4Gi): lower the request or raise the limit");
	parse_fails("sandbox: {uidBase: 1000}\n",
		    "t.yaml:1:20: sandbox.uidBase: invalid value \"1000\": use a whole number from "
		    "65536 to 2147483647");
	parse_fails("sandbox: {uidCount: 0}\n",
		    "t.yaml:1:21: sandbox.uidCount: invalid value \"0\": use a whole number from 1 "
		    "to 1000000");
	parse_fails("sandbox: {uidBase: 2147483600, uidCount: 100}\n",
		    "t.yaml:1:42: sandbox: uidBase 2147483600 + uidCount 100 goes past uid "
		    "2147483647: lower sandbox.uidBase");
	parse_fails("sandbox: {uidKind: x}\n",
		    "t.yaml:1:11: unknown key \"uidKind\" in sandbox: valid keys are uidBase and "
		    "uidCount");
	parse_fails("limits: {maxConcurrentTasks: 300}\n",
		    "t.yaml:1:30: sandbox.uidCount (256) is less than limits.maxConcurrentTasks "
		    "(300): the local backend runs each concurrent task as its own uid: raise "
		    "sandbox.uidCount or lower limits.maxConcurrentTasks");
	parse_fails("limits: {maxConcurrentTasks: 8}\nsandbox: {uidCount: 4}\n",
		    "t.yaml:2:21: sandbox.uidCount (4) is less than limits.maxConcurrentTasks (8): "
		    "the local backend runs each concurrent task as its own uid: raise "
		    "sandbox.uidCount or lower limits.maxConcurrentTasks");
}
END_TEST

START_TEST(settings)
{
	struct pd_config *c = parse_ok("drivers:\n"
				       "  exec:\n"
				       "    settings:\n"
				       "      command: 'echo \"$1\"'\n"
				       "      empty:\n"
				       "      flag: true\n");
	ck_assert_str_eq(config_plugin_setting(c, "exec", "command"), "echo \"$1\"");
	ck_assert_str_eq(config_plugin_setting(c, "exec", "empty"), "");
	ck_assert_str_eq(config_plugin_setting(c, "exec", "flag"), "true");
	config_free(c);
	parse_fails("drivers:\n  exec:\n    settings:\n      env: {A: b}\n",
		    "t.yaml:4:12: drivers.exec.settings.env: settings values must be scalars, got "
		    "a mapping: write it as a string");
	parse_fails("drivers:\n  exec: {settings: [a]}\n",
		    "t.yaml:2:20: drivers.exec.settings: expected a mapping of scalars, got a list");
	parse_fails("drivers:\n  exec: {enabled: maybe}\n",
		    "t.yaml:2:19: drivers.exec.enabled: unsupported value \"maybe\": use false or "
		    "true");
}
END_TEST

START_TEST(duplicates_and_aliases)
{
	parse_fails("backend: local\nisolation: none\nbackend: kubernetes\n",
		    "t.yaml:3:1: duplicate key \"backend\" (first at line 1): keep only one");
	parse_fails("limits:\n  promptBytes: 1\n  promptBytes: 2\n",
		    "t.yaml:3:3: duplicate key \"promptBytes\" (first at line 2): keep only one");
	parse_fails("drivers:\n  exec: &x {enabled: true}\ncontexts:\n  text: *x\n",
		    "t.yaml:2:9: anchor \"&x\" is not supported: write the value out in full");
	parse_fails("backend: *b\n",
		    "t.yaml:1:10: alias \"*b\" is not supported: write the value out in full");
	parse_fails("backend: local\n---\nbackend: local\n",
		    "t.yaml:2:1: more than one YAML document: keep only one");
}
END_TEST

START_TEST(syntax_errors)
{
	struct pd_config *c = NULL;
	const char *bad = "backend: local\nlimits: {promptBytes: 1\n";
	int rc = config_parse("t.yaml", bad, strlen(bad), &c, err, sizeof(err));
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_msg(str_startswith(err, "t.yaml:3:1: YAML syntax error: "), "%s", err);

	bad = "backend: local\n\tisolation: none\n";
	rc = config_parse("t.yaml", bad, strlen(bad), &c, err, sizeof(err));
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_msg(str_startswith(err, "t.yaml:2:1: YAML syntax error: "), "%s", err);

	/* Deep nesting is bounded. */
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, "drivers: {exec: {settings: ");
	for (int i = 0; i < 100; i++)
		buf_puts(&b, "[");
	rc = config_parse("t.yaml", b.data, b.len, &c, err, sizeof(err));
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_msg(strstr(err, "nesting deeper than"), "%s", err);
	buf_free(&b);

	/* So is the number of items in one collection. */
	buf_init(&b, 0);
	buf_puts(&b, "pluginDirs: [");
	for (int i = 0; i <= 10000; i++)
		buf_puts(&b, "/a,");
	buf_puts(&b, "/a]\n");
	rc = config_parse("t.yaml", b.data, b.len, &c, err, sizeof(err));
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_msg(strstr(err, "more than 10000 items in one list"), "%s", err);
	buf_free(&b);
}
END_TEST

START_TEST(size_limit)
{
	size_t n = 1024 * 1024 + 1;
	char *big = xmalloc(n);
	memset(big, '#', n);
	struct pd_config *c = NULL;
	int rc = config_parse("big.yaml", big, n, &c, err, sizeof(err));
	ck_assert_int_eq(rc, -E2BIG);
	ck_assert_str_eq(err, "big.yaml: larger than 1048576 bytes: is this the right file?");

	char path[] = "/tmp/paddock-conf-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(write_file_atomic(path, big, n, 0600), 0);
	rc = config_load(path, &c, err, sizeof(err));
	ck_assert_int_eq(rc, -E2BIG);
	ck_assert_ptr_null(c);
	ck_assert(str_startswith(err, path));
	unlink(path);
	free(big);
}
END_TEST

START_TEST(load_file)
{
	struct pd_config *c = NULL;
	int rc = config_load("/nonexistent/paddock.yaml", &c, err, sizeof(err));
	ck_assert_int_eq(rc, -ENOENT);
	ck_assert_ptr_null(c);
	ck_assert_str_eq(err, "/nonexistent/paddock.yaml: cannot read the config file: No such "
			      "file or directory");

	char path[] = "/tmp/paddock-conf-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	const char *yaml = "backend: local\nlimits: {bogus: 1}\n";
	ck_assert_int_eq(write_file_atomic(path, yaml, strlen(yaml), 0600), 0);
	rc = config_load(path, &c, err, sizeof(err));
	ck_assert_int_eq(rc, -EINVAL);
	char want[256];
	snprintf(want, sizeof(want), "%s:2:10: unknown key \"bogus\" in limits", path);
	ck_assert_msg(str_startswith(err, want), "%s", err);
	unlink(path);
}
END_TEST

START_TEST(env_overrides)
{
	setenv("PADDOCK_PLUGIN_PATH", "/x/a::/x/b:", 1);
	struct pd_config *c = parse_ok("pluginDirs: [/opt/p]\n");
	ck_assert_uint_eq(c->plugin_dirs.n, 2);
	ck_assert_str_eq(c->plugin_dirs.v[0], "/x/a");
	ck_assert_str_eq(c->plugin_dirs.v[1], "/x/b");
	config_free(c);
	c = config_new_default();
	ck_assert_uint_eq(c->plugin_dirs.n, 2);
	config_free(c);
	unsetenv("PADDOCK_PLUGIN_PATH");

	setenv("PADDOCK_CONFIG", "/srv/p.yaml", 1);
	ck_assert_str_eq(config_default_path(), "/srv/p.yaml");
	unsetenv("PADDOCK_CONFIG");
	ck_assert(str_endswith(config_default_path(), "/paddock/paddock.yaml"));
}
END_TEST

#define KH_LINE "git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKx"

/* One rule for local repositories (spec.workspace.repo, Git contexts):
 * git.allowLocalRepositories, or the Git context's old spelling of it;
 * the plugin is handed the outcome. */
START_TEST(git_local_repositories)
{
	static const char *const local[] = { "/srv/repo.git", "file:///srv/r", "FILE:///etc",
					     "./r", "../r", "repo", "dir/repo" };
	static const char *const remote[] = { "https://h/r.git", "ssh://h/r", "git://h/r",
					      "git@github.com:o/r.git", "h:r" };
	for (size_t i = 0; i < ARRAY_SIZE(local); i++)
		ck_assert_msg(config_git_local(local[i]), "%s", local[i]);
	for (size_t i = 0; i < ARRAY_SIZE(remote); i++)
		ck_assert_msg(!config_git_local(remote[i]), "%s", remote[i]);

	const char *ctx = "contexts: {git: {enabled: true}}\n";
	struct pd_config *c = parse_ok(ctx);
	ck_assert(!c->git.allow_local);
	ck_assert_str_eq(config_plugin_setting(c, "git", "allowFileRepositories"), "false");
	ck_assert_int_eq(config_git_local_check(&c->git, "/etc", "spec.workspace.repo", err,
						sizeof(err)), -EPERM);
	ck_assert_str_eq(err, "spec.workspace.repo: local repository \"/etc\" refused: a Task may not "
			      "read the controller's files; use a remote URL (an operator may allow "
			      "local repositories with git.allowLocalRepositories: true in paddock.yaml)");
	ck_assert_int_eq(config_git_local_check(&c->git, "https://h/r", "f", err, sizeof(err)), 0);
	config_free(c);

	c = parse_ok("git: {allowLocalRepositories: true}\ncontexts: {git: {enabled: true}}\n");
	ck_assert(c->git.allow_local);
	ck_assert_str_eq(config_plugin_setting(c, "git", "allowFileRepositories"), "true");
	ck_assert_int_eq(config_git_local_check(&c->git, "/srv/r", "f", err, sizeof(err)), 0);
	ck_assert_int_eq(config_git_local_check(&c->git, "file://localhost/srv/r", "f", err,
						sizeof(err)), 0);
	/* Allowed, still absolute: relative to the controller's cwd is refused. */
	ck_assert_int_eq(config_git_local_check(&c->git, "../r", "spec.workspace.repo", err,
						sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "spec.workspace.repo: local repository \"../r\": give an absolute "
			      "path (or file:///path)");
	ck_assert_int_eq(config_git_local_check(&c->git, "file://r", "f", err, sizeof(err)), -EINVAL);
	config_free(c);

	c = parse_ok("contexts: {git: {enabled: true, settings: {allowFileRepositories: \"true\"}}}\n");
	ck_assert(c->git.allow_local);
	config_free(c);

	parse_fails("git: {allowLocalRepositories: yes}\n",
		    "t.yaml:1:31: git.allowLocalRepositories: unsupported value \"yes\": use false or true");
}
END_TEST

START_TEST(git_host_keys)
{
	struct pd_config *c = parse_ok("git:\n  knownHosts: |\n    # a comment\n    " KH_LINE
				       "\n  trustOnFirstUse: true\n");
	ck_assert_str_eq(c->git.known_hosts, "# a comment\n" KH_LINE "\n");
	ck_assert(c->git.trust_on_first_use);
	char *kh = NULL;
	ck_assert_int_eq(config_git_known_hosts(&c->git, &kh, err, sizeof(err)), 0);
	ck_assert_str_eq(kh, "# a comment\n" KH_LINE "\n");
	free(kh);
	config_free(c);

	/* Nothing set: no known hosts, no error. */
	c = parse_ok("git: {}\n");
	ck_assert_int_eq(config_git_known_hosts(&c->git, &kh, err, sizeof(err)), 0);
	ck_assert_ptr_null(kh);
	config_free(c);

	/* A file, read at each fetch, after the inline lines. */
	char path[] = "/tmp/paddock-kh-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	const char *line2 = "[h2]:2222 ssh-rsa AAAAB3NzaC1yc2E";
	ck_assert_int_eq(write_file_atomic(path, line2, strlen(line2), 0600), 0);
	char yaml[512];
	snprintf(yaml, sizeof(yaml), "git: {knownHosts: \"" KH_LINE "\", knownHostsFile: %s}\n", path);
	c = parse_ok(yaml);
	ck_assert_str_eq(c->git.known_hosts_file, path);
	ck_assert_int_eq(config_git_known_hosts(&c->git, &kh, err, sizeof(err)), 0);
	ck_assert_str_eq(kh, KH_LINE "\n[h2]:2222 ssh-rsa AAAAB3NzaC1yc2E\n");
	free(kh);
	const char *bad = "h2 ssh-rsa\n";
	ck_assert_int_eq(write_file_atomic(path, bad, strlen(bad), 0600), 0);
	ck_assert_int_eq(config_git_known_hosts(&c->git, &kh, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(kh);
	char want[512];
	snprintf(want, sizeof(want), "git.knownHostsFile %s: line 1 is not a known_hosts line", path);
	ck_assert_msg(str_startswith(err, want), "%s", err);
	unlink(path);
	ck_assert_int_eq(config_git_known_hosts(&c->git, &kh, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "git.knownHostsFile: cannot read %s: No such file or directory",
		 path);
	ck_assert_str_eq(err, want);
	config_free(c);

	parse_fails("git: {knownHostsFile: etc/known_hosts}\n",
		    "t.yaml:1:23: git.knownHostsFile: relative path \"etc/known_hosts\": use an "
		    "absolute path");
	parse_fails("git: {knownHosts: \"github.com AAAA\"}\n",
		    "t.yaml:1:19: git.knownHosts: line 1 is not a known_hosts line \"HOST KEYTYPE "
		    "KEY\": take them from `ssh-keyscan HOST` run over a trusted network");
	parse_fails("git: {knownHosts: \"# only a comment\"}\n",
		    "t.yaml:1:19: git.knownHosts: no known_hosts line: give \"HOST KEYTYPE KEY\" "
		    "lines (`ssh-keyscan HOST` over a trusted network)");
	parse_fails("git: {trustOnFirstUse: yes}\n",
		    "t.yaml:1:24: git.trustOnFirstUse: unsupported value \"yes\": use false or true");
	parse_fails("git: {knownhosts: x}\n",
		    "t.yaml:1:7: unknown key \"knownhosts\" in git: valid keys are knownHosts, "
		    "knownHostsFile, trustOnFirstUse and allowLocalRepositories");
}
END_TEST

START_TEST(git_ssh_host)
{
	static const struct { const char *url, *host; } cases[] = {
		{ "ssh://git@github.com/o/r.git", "github.com" },
		{ "ssh://github.com:22/o/r", "github.com" },
		{ "ssh://git@127.0.0.1:2222/srv/r.git", "[127.0.0.1]:2222" },
		{ "git+ssh://h/r", "h" },
		{ "ssh+git://u@h:1/r", "[h]:1" },
		{ "ssh://u@[::1]:2200/r", "[::1]:2200" },
		{ "git@github.com:o/r.git", "github.com" },
		{ "host:r", "host" },
		{ "u@[fe80::1]:r", "fe80::1" },
		{ "https://github.com/o/r", NULL },
		{ "git://h/r", NULL },
		{ "file:///srv/r", NULL },
		{ "/srv/r", NULL },
		{ "./a:b", NULL },
		{ "dir/a:b", NULL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char host[256] = "";
		bool ssh = config_git_ssh_host(cases[i].url, host, sizeof(host));
		ck_assert_msg(ssh == (cases[i].host != NULL), "%s", cases[i].url);
		if (ssh)
			ck_assert_str_eq(host, cases[i].host);
	}
}
END_TEST

START_TEST(dashboard)
{
	struct pd_config *c = parse_ok("");
	ck_assert(c->dashboard_enabled);
	ck_assert_ptr_null(c->dashboard_token);
	config_free(c);
	c = parse_ok("dashboard: {enabled: false, token: 0123456789abcdef-XYZ}\n");
	ck_assert(!c->dashboard_enabled);
	ck_assert_str_eq(c->dashboard_token, "0123456789abcdef-XYZ");
	config_free(c);
	/* Too short, or with a space: the message names the field and the
	 * fix, never the value (a secret). */
	parse_fails("dashboard: {token: short-secret}\n",
		    "t.yaml:1:20: dashboard.token: invalid value (12 bytes): use 16 to 256 printable ASCII "
		    "characters without spaces, e.g. the output of `openssl rand -hex 32`");
	parse_fails("dashboard: {token: \"0123456789 abcdef0123\"}\n",
		    "t.yaml:1:20: dashboard.token: invalid value (21 bytes, with spaces or control characters): "
		    "use 16 to 256 printable ASCII characters without spaces, e.g. the output of `openssl rand -hex 32`");
	struct pd_config *bad = NULL;
	ck_assert_int_lt(config_parse("t.yaml", "dashboard: {tokn: x}\n", 21, &bad, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "t.yaml:1:13: unknown key \"tokn\" in dashboard: valid keys are enabled, token "
			      "and listen");
	/* A listener of its own, HOST:PORT. */
	c = parse_ok("dashboard: {listen: \"127.0.0.1:9465\"}\n");
	ck_assert_str_eq(c->dashboard_listen, "127.0.0.1:9465");
	config_free(c);
	c = parse_ok("");
	ck_assert_ptr_null(c->dashboard_listen);
	config_free(c);
	/* controller.listen's own address: one listener, the dashboard on it
	 * (two binds of one port would leave it nowhere); port 0 is two. */
	c = parse_ok("controller: {listen: \"127.0.0.1:9470\"}\ndashboard: {listen: \"127.0.0.1:9470\"}\n");
	ck_assert_ptr_null(c->dashboard_listen);
	config_free(c);
	c = parse_ok("controller: {listen: \"127.0.0.1:0\"}\ndashboard: {listen: \"127.0.0.1:0\"}\n");
	ck_assert_str_eq(c->dashboard_listen, "127.0.0.1:0");
	config_free(c);
	parse_fails("dashboard: {listen: \"9465\"}\n",
		    "t.yaml:1:21: dashboard.listen: invalid value \"9465\": use HOST:PORT, e.g. 127.0.0.1:9465");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("conf");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, every_key);
	tcase_add_test(tc, shipped_example);
	tcase_add_test(tc, unknown_keys);
	tcase_add_test(tc, wrong_types);
	tcase_add_test(tc, resources_and_sandbox);
	tcase_add_test(tc, settings);
	tcase_add_test(tc, duplicates_and_aliases);
	tcase_add_test(tc, syntax_errors);
	tcase_add_test(tc, size_limit);
	tcase_add_test(tc, load_file);
	tcase_add_test(tc, env_overrides);
	tcase_add_test(tc, git_host_keys);
	tcase_add_test(tc, git_local_repositories);
	tcase_add_test(tc, git_ssh_host);
	tcase_add_test(tc, dashboard);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
