/* SPDX-License-Identifier: MIT */
/* test_metrics.c - the controller's HTTP endpoint: address parsing,
 * /healthz, /readyz (200 and 503 with the reason), /metrics text as a
 * Prometheus scraper reads it (checked with `promtool check metrics` when
 * promtool is installed), label escaping, series caps, counts from a
 * real store, and a second server refused on a busy port. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <paddock/plugin.h>

#include "model/manifest.h"
#include "control/metrics.h"
#include "model/model.h"
#include "local/store.h"
#include "base/util.h"

static char err[1024];

struct resp {
	long status;
	struct buf body;
	char ctype[128];
};

static size_t on_data(char *p, size_t sz, size_t n, void *ctx)
{
	struct buf *b = ctx;
	return buf_append(b, p, sz * n) == 0 ? sz * n : 0;
}

static struct resp http(int port, const char *method, const char *path)
{
	struct resp r;
	memset(&r, 0, sizeof(r));
	buf_init(&r.body, 8 * 1024 * 1024);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	CURL *h = curl_easy_init();
	ck_assert_ptr_nonnull(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	if (!strcmp(method, "POST"))
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "x=1");
	CURLcode cc = curl_easy_perform(h);
	ck_assert_msg(cc == CURLE_OK, "%s %s: %s", method, url, curl_easy_strerror(cc));
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
	char *ct = NULL;
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(r.ctype, sizeof(r.ctype), "%s", ct ? ct : "");
	curl_easy_cleanup(h);
	if (!r.body.data)
		buf_puts(&r.body, "");
	return r;
}

static struct metrics *serve(void)
{
	struct metrics *m = metrics_new();
	err[0] = '\0';
	int rc = metrics_listen(m, "127.0.0.1:0", err, sizeof(err));
	ck_assert_msg(rc == 0, "metrics_listen: %s", err);
	ck_assert_int_gt(metrics_port(m), 0);
	return m;
}

/* The body has this exact line. */
static bool has_line(const char *body, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = body; (p = strstr(p, line)); p++)
		if ((p == body || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

#define ck_line(body, line) ck_assert_msg(has_line(body, line), "missing line <%s> in:\n%s", line, body)

/* The local store as the metrics' source. */
static long src_count(void *ctx, enum model_phase phase, const char *agent_key)
{
	return store_count_phase(ctx, phase, agent_key);
}

static int src_keys(void *ctx, struct strv *keys)
{
	return store_agent_keys(ctx, keys, METRICS_MAX_AGENTS);
}

START_TEST(parse_addresses)
{
	struct sockaddr_storage ss;
	socklen_t len;
	ck_assert_int_eq(metrics_parse_addr("127.0.0.1:9464", &ss, &len, err, sizeof(err)), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET);
	ck_assert_int_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9464);
	ck_assert_int_eq(metrics_parse_addr("[::1]:80", &ss, &len, err, sizeof(err)), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert_int_eq(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 80);
	ck_assert_int_eq(metrics_parse_addr("localhost:0", &ss, &len, err, sizeof(err)), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET);
	ck_assert_int_eq(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr), INADDR_LOOPBACK);
	ck_assert_int_eq(metrics_parse_addr("0.0.0.0:9464", &ss, &len, err, sizeof(err)), 0);

	static const struct {
		const char *addr, *msg;
	} bad[] = {
		{ "9464", "use HOST:PORT" },
		{ ":9464", "no host in \":9464\"" },
		{ "::1:9464", "in brackets" },
		{ "[::1]9464", "use HOST:PORT" },
		{ "127.0.0.1:65536", "invalid port \"65536\"" },
		{ "127.0.0.1:-1", "invalid port" },
		{ "127.0.0.1:", "invalid port \"\"" },
		{ "127.0.0.1:80x", "invalid port" },
		{ "example.com:80", "invalid host \"example.com\"" },
		{ "", "empty address" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		ck_assert_int_eq(metrics_parse_addr(bad[i].addr, &ss, &len, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, "controller.listen: ") == err && strstr(err, bad[i].msg),
			      "%s: %s", bad[i].addr, err);
	}
}
END_TEST

START_TEST(health_and_readiness)
{
	struct metrics *m = serve();
	int port = metrics_port(m);
	struct resp r = http(port, "GET", "/healthz");
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body.data, "ok\n");
	buf_free(&r.body);

	/* no pass yet */
	r = http(port, "GET", "/readyz");
	ck_assert_int_eq(r.status, 503);
	ck_assert_msg(strstr(r.body.data, "no reconcile pass yet"), "%s", r.body.data);
	buf_free(&r.body);

	metrics_observe_tick(m, 0.002, true, NULL);
	r = http(port, "GET", "/readyz");
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body.data, "ok\n");
	buf_free(&r.body);

	metrics_observe_tick(m, 0.002, false, "database is locked");
	r = http(port, "GET", "/readyz");
	ck_assert_int_eq(r.status, 503);
	ck_assert_str_eq(r.body.data, "not ready: last reconcile pass failed: database is locked\n");
	buf_free(&r.body);
	/* health does not depend on readiness */
	r = http(port, "GET", "/healthz");
	ck_assert_int_eq(r.status, 200);
	buf_free(&r.body);

	metrics_observe_tick(m, 0.002, true, NULL);
	char why[256];
	ck_assert(metrics_ready(m, now_mono_ms(), why, sizeof(why)));
	/* a loop that stopped ticking is not ready */
	ck_assert(!metrics_ready(m, now_mono_ms() + (METRICS_READY_MAX_AGE_S + 5) * 1000, why, sizeof(why)));
	ck_assert_msg(strstr(why, "stuck"), "%s", why);

	/* 64 connections that never send a byte do not blind the probes */
	int idle[64];
	for (size_t i = 0; i < ARRAY_SIZE(idle); i++) {
		idle[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		ck_assert_int_eq(connect(idle[i], (struct sockaddr *)&sin, sizeof(sin)), 0);
	}
	int64_t t0 = now_mono_ms();
	r = http(port, "GET", "/healthz");
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_lt(now_mono_ms() - t0, 2000);
	buf_free(&r.body);
	for (size_t i = 0; i < ARRAY_SIZE(idle); i++)
		(void)close(idle[i]);

	r = http(port, "GET", "/nope");
	ck_assert_int_eq(r.status, 404);
	buf_free(&r.body);
	r = http(port, "POST", "/metrics");
	ck_assert_int_eq(r.status, 405);
	buf_free(&r.body);
	r = http(port, "HEAD", "/healthz");
	ck_assert_int_eq(r.status, 200);
	buf_free(&r.body);
	metrics_free(m);
}
END_TEST

/* Kubernetes: /readyz says who leads; ?leader is 503 on a standby; the
 * leader gauge and API counters appear only there (not locally). */
START_TEST(leader_readiness)
{
	struct metrics *m = serve();
	int port = metrics_port(m);
	metrics_observe_tick(m, 0.001, true, NULL);
	char *text = metrics_render(m);
	ck_assert_msg(!strstr(text, "paddock_leader"), "local backend has no leader gauge:\n%s", text);
	free(text);

	metrics_set_leader(m, false);
	metrics_set_api(m, 3, 7);
	struct resp r = http(port, "GET", "/readyz");
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body.data, "ok: standby, another replica leads\n");
	buf_free(&r.body);
	r = http(port, "GET", "/readyz?leader");
	ck_assert_int_eq(r.status, 503);
	buf_free(&r.body);
	r = http(port, "GET", "/readyz?leader=1");
	ck_assert_int_eq(r.status, 503);
	buf_free(&r.body);

	metrics_set_leader(m, true);
	r = http(port, "GET", "/readyz?leader");
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body.data, "ok: leader\n");
	buf_free(&r.body);
	text = metrics_render(m);
	ck_line(text, "paddock_leader 1");
	ck_line(text, "paddock_api_errors_total 3");
	ck_line(text, "paddock_api_retries_total 7");
	free(text);
	metrics_free(m);
}
END_TEST

static void feed(struct metrics *m)
{
	long counts[METRICS_N_PHASES] = { 1, 0, 3, 2, 10, 4, 0 };
	metrics_set_phase_counts(m, counts);
	const char *keys[] = { "", "team/reviewer", "odd/a\"b\\c\nd" };
	long depth[] = { 1, 2, 0 };
	metrics_set_queue_depths(m, keys, depth, ARRAY_SIZE(keys));
	metrics_observe_tick(m, 0.0004, true, NULL);
	metrics_observe_tick(m, 0.003, true, NULL);
	metrics_observe_tick(m, 20, true, NULL);
	metrics_run_finished(m, "claude-code", 42.5, 1000, 250, 0.125);
	metrics_run_finished(m, "claude-code", 7, 10, 5, 0.5);
	metrics_run_finished(m, "exec", 0.5, -1, -1, -1); /* no usage reported */
	metrics_run_finished(m, "codex", -1, 3, -1, -1);   /* no duration known */
	metrics_egress_denied(m, "team/reviewer", "169.254.169.254", 3);
	metrics_egress_denied(m, "team/reviewer", "169.254.169.254", 2);
	metrics_egress_denied(m, "", "evil.example", 1);
	metrics_egress_traffic(m, "team/reviewer", "api.anthropic.com", 3, 1200, 48000);
	metrics_egress_traffic(m, "team/reviewer", "api.anthropic.com", 1, 100, 900);
	metrics_egress_traffic(m, "team/reviewer", "other", 2, 10, 20);
	metrics_plugin_failures(m, 2);
	metrics_run_resources(m, "OOMKilled", 1.25);
	metrics_run_resources(m, "OOMKilled", 0);
	metrics_run_resources(m, "", 0.5);
	const struct run_limits defaults = {.cpu_milli = 1500, .memory_bytes = 4LL << 30,
					    .storage_bytes = 0, .pids = 1024};
	metrics_set_default_limits(m, &defaults);
}

START_TEST(metrics_text)
{
	struct metrics *m = serve();
	feed(m);
	struct resp r = http(metrics_port(m), "GET", "/metrics");
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
	const char *b = r.body.data;
	char line[256];
	/* Limits: kills by reason, cgroup CPU time, the operator's defaults. */
	ck_assert_ptr_nonnull(strstr(b, "\npaddock_run_limit_exceeded_total{reason=\"OOMKilled\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(b, "\npaddock_run_limit_exceeded_total{reason=\"PidsLimitReached\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(b, "\npaddock_run_cpu_seconds_total 1.750\n"));
	ck_assert_ptr_nonnull(strstr(b, "\npaddock_default_limit{resource=\"cpu\"} 1.500\n"));
	ck_assert_ptr_nonnull(strstr(b, "\npaddock_default_limit{resource=\"memory\"} 4294967296\n"));
	ck_assert_ptr_nonnull(strstr(b, "\npaddock_default_limit{resource=\"pids\"} 1024\n"));
	snprintf(line, sizeof(line), "paddock_build_info{version=\"%s\",abi=\"%d.%d\"} 1", PACKAGE_VERSION,
		 PADDOCK_ABI_MAJOR, PADDOCK_ABI_MINOR);
	ck_line(b, line);
	ck_line(b, "paddock_egress_denied_total{agent=\"team/reviewer\",host=\"169.254.169.254\"} 5");
	ck_line(b, "paddock_egress_denied_total{agent=\"(none)\",host=\"evil.example\"} 1");
	ck_line(b, "paddock_egress_requests_total{agent=\"team/reviewer\",host=\"api.anthropic.com\"} 4");
	ck_line(b, "paddock_egress_bytes_total{agent=\"team/reviewer\",host=\"api.anthropic.com\",direction=\"up\"} 1300");
	ck_line(b, "paddock_egress_bytes_total{agent=\"team/reviewer\",host=\"api.anthropic.com\",direction=\"down\"} 48900");
	ck_line(b, "paddock_egress_requests_total{agent=\"team/reviewer\",host=\"other\"} 2");
	/* a host with traffic and no refusal has no denied series, and the other way round */
	ck_assert_ptr_null(strstr(b, "paddock_egress_denied_total{agent=\"team/reviewer\",host=\"api.anthropic.com\"}"));
	ck_assert_ptr_null(strstr(b, "paddock_egress_requests_total{agent=\"(none)\",host=\"evil.example\"}"));
	ck_line(b, "# TYPE paddock_tasks gauge");
	ck_line(b, "paddock_tasks{phase=\"Pending\"} 1");
	ck_line(b, "paddock_tasks{phase=\"Queued\"} 3");
	ck_line(b, "paddock_tasks{phase=\"Succeeded\"} 10");
	ck_line(b, "paddock_tasks{phase=\"Stopped\"} 0");
	ck_line(b, "# TYPE paddock_queue_depth gauge");
	ck_line(b, "paddock_queue_depth{agent=\"(none)\"} 1");
	ck_line(b, "paddock_queue_depth{agent=\"team/reviewer\"} 2");
	ck_line(b, "paddock_queue_depth{agent=\"odd/a\\\"b\\\\c\\nd\"} 0");
	ck_line(b, "# TYPE paddock_reconcile_duration_seconds histogram");
	ck_line(b, "paddock_reconcile_duration_seconds_bucket{le=\"0.0005\"} 1");
	ck_line(b, "paddock_reconcile_duration_seconds_bucket{le=\"0.0025\"} 1");
	ck_line(b, "paddock_reconcile_duration_seconds_bucket{le=\"0.005\"} 2");
	ck_line(b, "paddock_reconcile_duration_seconds_bucket{le=\"10\"} 2");
	ck_line(b, "paddock_reconcile_duration_seconds_bucket{le=\"+Inf\"} 3");
	ck_line(b, "paddock_reconcile_duration_seconds_count 3");
	ck_line(b, "paddock_run_duration_seconds_bucket{le=\"1\"} 1");
	ck_line(b, "paddock_run_duration_seconds_bucket{le=\"5\"} 1");
	ck_line(b, "paddock_run_duration_seconds_bucket{le=\"15\"} 2");
	ck_line(b, "paddock_run_duration_seconds_bucket{le=\"60\"} 3");
	ck_line(b, "paddock_run_duration_seconds_bucket{le=\"+Inf\"} 3");
	ck_line(b, "paddock_run_duration_seconds_sum 50");
	ck_line(b, "paddock_run_duration_seconds_count 3");
	ck_line(b, "# TYPE paddock_plugin_load_failures_total counter");
	ck_line(b, "paddock_plugin_load_failures_total 2");
	ck_line(b, "# TYPE paddock_tokens_total counter");
	ck_line(b, "paddock_tokens_total{driver=\"claude-code\",direction=\"input\"} 1010");
	ck_line(b, "paddock_tokens_total{driver=\"claude-code\",direction=\"output\"} 255");
	ck_line(b, "paddock_tokens_total{driver=\"codex\",direction=\"input\"} 3");
	ck_line(b, "# TYPE paddock_cost_usd_total counter");
	ck_line(b, "paddock_cost_usd_total{driver=\"claude-code\"} 0.625");
	ck_assert_msg(!strstr(b, "driver=\"exec\""), "a run without usage made a usage series:\n%s", b);
	/* every metric has its HELP */
	for (const char *p = b; (p = strstr(p, "# TYPE ")); p++) {
		char name[128];
		ck_assert_int_eq(sscanf(p, "# TYPE %127s", name), 1);
		char *help = xasprintf("# HELP %s ", name);
		ck_assert_msg(strstr(b, help), "no HELP for %s", name);
		free(help);
	}
	buf_free(&r.body);
	metrics_free(m);
}
END_TEST

static bool have_promtool(void)
{
	return system("command -v promtool >/dev/null 2>&1") == 0;
}

START_TEST(promtool_check)
{
	if (!have_promtool()) {
		printf("SKIP: promtool not installed (apt-get install prometheus): "
		       "`promtool check metrics` not run\n");
		return;
	}
	struct metrics *m = serve();
	feed(m);
	struct resp r = http(metrics_port(m), "GET", "/metrics");
	ck_assert_int_eq(r.status, 200);
	char path[] = "/tmp/paddock-metrics-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, r.body.data, r.body.len), (ssize_t)r.body.len);
	close(fd);
	char *cmd = xasprintf("promtool check metrics < %s > %s.out 2>&1", path, path);
	int st = system(cmd);
	char *out = NULL;
	size_t olen = 0;
	char *outpath = xasprintf("%s.out", path);
	read_file(outpath, 64 * 1024, &out, &olen);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "promtool check metrics failed:\n%s\n--- input:\n%s",
		      out ? out : "", r.body.data);
	unlink(path);
	unlink(outpath);
	free(outpath);
	free(out);
	free(cmd);
	buf_free(&r.body);
	metrics_free(m);
}
END_TEST

START_TEST(series_are_capped)
{
	struct metrics *m = metrics_new();
	size_t n = METRICS_MAX_AGENTS + 500;
	char **keys = xcalloc(n, sizeof(char *));
	long *depth = xcalloc(n, sizeof(long));
	for (size_t i = 0; i < n; i++) {
		keys[i] = xasprintf("ns/agent-%zu", i);
		depth[i] = 1;
	}
	metrics_set_queue_depths(m, (const char *const *)keys, depth, n);
	for (int i = 0; i < METRICS_MAX_DRIVERS + 30; i++) {
		char d[32];
		snprintf(d, sizeof(d), "driver-%d", i);
		metrics_run_finished(m, d, 1, 1, 1, 0.01);
	}
	/* an overlong driver name is cut, not a multi-kilobyte label */
	char *text = metrics_render(m);
	ck_assert_ptr_nonnull(text);
	size_t series = 0;
	for (const char *p = text; (p = strstr(p, "\npaddock_queue_depth{")); p++)
		series++;
	ck_assert_uint_eq(series, METRICS_MAX_AGENTS + 1);
	ck_line(text, "paddock_queue_depth{agent=\"(other)\"} 500");
	size_t drivers = 0;
	for (const char *p = text; (p = strstr(p, "\npaddock_cost_usd_total{")); p++)
		drivers++;
	ck_assert_uint_eq(drivers, METRICS_MAX_DRIVERS + 1);
	ck_line(text, "paddock_tokens_total{driver=\"(other)\",direction=\"input\"} 30");
	free(text);

	struct metrics *m2 = metrics_new();
	char *longname = xcalloc(1, 5000);
	memset(longname, 'x', 4999);
	metrics_run_finished(m2, longname, 1, 1, 1, 1);
	text = metrics_render(m2);
	ck_assert_ptr_null(strstr(text, longname + 4999 - METRICS_LABEL_MAX - 1));
	ck_assert_ptr_nonnull(strstr(text, longname + 4999 - METRICS_LABEL_MAX));
	free(text);
	free(longname);
	metrics_free(m2);

	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	free(depth);
	metrics_free(m);
}
END_TEST

static void add_doc(struct store *s, const char *yaml)
{
	json_object **docs = NULL;
	size_t n = 0;
	ck_assert_int_eq(manifest_parse("t", yaml, strlen(yaml), NULL, &docs, &n, err, sizeof(err)), 0);
	enum model_kind k;
	ck_assert_msg(model_validate(docs[0], NULL, &k, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(store_apply(s, docs[0], k, NULL, err, sizeof(err)) == 0, "%s", err);
	manifest_docs_free(docs, n);
}

static void queue(struct store *s, const char *name)
{
	json_object *st = json_object_new_object();
	json_object_object_add(st, "phase", json_object_new_string("Queued"));
	ck_assert_int_eq(store_set_status(s, "default", name, st, NULL, NULL, err, sizeof(err)), 0);
	json_object_put(st);
}

START_TEST(counts_from_store)
{
	char dir[] = "/tmp/paddock-metrics-store-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char *sdir = xasprintf("%s/state", dir);
	struct store *s = NULL;
	ck_assert_msg(store_open(sdir, &s, err, sizeof(err)) == 0, "%s", err);
	add_doc(s, "apiVersion: paddock.dev/v1alpha1\nkind: Agent\nmetadata: {name: rev}\n"
		   "spec: {type: exec}\n");
	add_doc(s, "apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: a}\n"
		   "spec: {agentRef: {name: rev}, prompt: hi}\n");
	add_doc(s, "apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: b}\n"
		   "spec: {agentRef: {name: rev}, prompt: hi}\n");
	add_doc(s, "apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: c}\n"
		   "spec: {type: exec, prompt: hi}\n");
	add_doc(s, "apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: d}\n"
		   "spec: {type: exec, prompt: hi}\n");
	queue(s, "a");
	queue(s, "b");
	queue(s, "c");

	struct metrics *m = metrics_new();
	ck_assert_int_eq(metrics_refresh(m, &(struct metrics_source){ s, src_count, src_keys }), 0);
	metrics_observe_tick(m, 0.001, true, NULL);
	char why[256];
	ck_assert_msg(metrics_ready(m, now_mono_ms(), why, sizeof(why)), "%s", why);
	char *text = metrics_render(m);
	ck_line(text, "paddock_tasks{phase=\"Pending\"} 1");
	ck_line(text, "paddock_tasks{phase=\"Queued\"} 3");
	ck_line(text, "paddock_tasks{phase=\"Running\"} 0");
	ck_line(text, "paddock_queue_depth{agent=\"default/rev\"} 2");
	ck_line(text, "paddock_queue_depth{agent=\"(none)\"} 1");
	free(text);

	/* refreshed at most once a second: a change shows up later */
	queue(s, "d");
	ck_assert_int_eq(metrics_refresh(m, &(struct metrics_source){ s, src_count, src_keys }), 0);
	text = metrics_render(m);
	ck_line(text, "paddock_tasks{phase=\"Queued\"} 3");
	free(text);

	metrics_free(m);
	store_close(s);
	rm_rf(dir);
	free(sdir);
}
END_TEST

START_TEST(busy_port_and_ipv6)
{
	struct metrics *m = serve();
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", metrics_port(m));
	struct metrics *m2 = metrics_new();
	err[0] = '\0';
	int rc = metrics_listen(m2, addr, err, sizeof(err));
	ck_assert_int_eq(rc, -EADDRINUSE);
	ck_assert_msg(strstr(err, "controller.listen: cannot listen on 127.0.0.1:") &&
		      strstr(err, "set controller.listen to a free HOST:PORT"), "%s", err);
	ck_assert_int_eq(metrics_listen(m, "127.0.0.1:0", err, sizeof(err)), -EALREADY);
	metrics_free(m2);
	metrics_free(m);

	/* IPv6 loopback, when the machine has it */
	m = metrics_new();
	rc = metrics_listen(m, "[::1]:0", err, sizeof(err));
	if (rc == 0) {
		ck_assert_int_gt(metrics_port(m), 0);
		char url[64];
		snprintf(url, sizeof(url), "http://[::1]:%d/healthz", metrics_port(m));
		CURL *h = curl_easy_init();
		struct buf b;
		buf_init(&b, 1024);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
		curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
		ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
		long status = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		ck_assert_int_eq(status, 200);
		curl_easy_cleanup(h);
		buf_free(&b);
	} else {
		printf("SKIP: no IPv6 loopback here (%s)\n", err);
	}
	metrics_free(m);
}
END_TEST

START_TEST(null_safe)
{
	long counts[METRICS_N_PHASES] = { 0 };
	metrics_observe_tick(NULL, 1, true, NULL);
	metrics_set_phase_counts(NULL, counts);
	metrics_set_queue_depths(NULL, NULL, NULL, 0);
	metrics_run_finished(NULL, "x", 1, 1, 1, 1);
	metrics_plugin_failures(NULL, 1);
	ck_assert_int_eq(metrics_refresh(NULL, NULL), 0);
	ck_assert_int_eq(metrics_port(NULL), 0);
	metrics_free(NULL);
	/* a fresh registry renders valid text with no samples of its own */
	struct metrics *m = metrics_new();
	char *text = metrics_render(m);
	ck_line(text, "paddock_plugin_load_failures_total 0");
	ck_line(text, "paddock_run_duration_seconds_count 0");
	free(text);
	metrics_free(m);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, parse_addresses);
	tcase_add_test(tc, health_and_readiness);
	tcase_add_test(tc, leader_readiness);
	tcase_add_test(tc, metrics_text);
	tcase_add_test(tc, promtool_check);
	tcase_add_test(tc, series_are_capped);
	tcase_add_test(tc, counts_from_store);
	tcase_add_test(tc, busy_port_and_ipv6);
	tcase_add_test(tc, null_safe);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
