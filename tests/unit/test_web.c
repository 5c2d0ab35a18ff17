/* SPDX-License-Identifier: MIT */
/* test_web.c - the dashboard (core/web/) without a browser: who may
 * listen where, what the HTTP answers carry (CSP, refusals), and a task's
 * log on its event stream, raw or through its driver's renderer (a real
 * plugin, tests/.libs/render-driver.so, loaded by the loader).  Served on
 * 127.0.0.1 port 0 in this process; the ticker is driven by the test. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/conf.h"
#include "base/util.h"
#include "control/metrics.h"
#include "local/store.h"
#include "model/manifest.h"
#include "model/model.h"
#include "web/dashboard.h"

static char err[1024];
static char dir[256];

static void setup(void)
{
	unsetenv("PADDOCK_PLUGIN_PATH");
	snprintf(dir, sizeof(dir), "/tmp/paddock-web-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	(void)rm_rf(dir);
}

static struct pd_config *cfg_of(const char *yaml)
{
	struct pd_config *c = NULL;
	int rc = config_parse("t.yaml", yaml, strlen(yaml), &c, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	return c;
}

START_TEST(listen_check)
{
	static const struct { const char *yaml; int rc; } cases[] = {
		{ "controller: {listen: \"127.0.0.1:9464\"}\n", 0 },
		{ "controller: {listen: \"127.0.0.2:9464\"}\n", 0 },
		{ "controller: {listen: \"[::1]:9464\"}\n", 0 },
		{ "controller: {listen: \"localhost:9464\"}\n", 0 },
		{ "controller: {listen: \"0.0.0.0:9464\"}\n", -EPERM },
		{ "controller: {listen: \"[::]:9464\"}\n", -EPERM },
		{ "controller: {listen: \"10.1.2.3:9464\"}\n", -EPERM },
		{ "controller: {listen: \"0.0.0.0:9464\"}\ndashboard: {token: 0123456789abcdef0123}\n", 0 },
		{ "controller: {listen: \"0.0.0.0:9464\"}\ndashboard: {enabled: false}\n", 0 },
		/* dashboard.listen: the dashboard's own listener is what counts */
		{ "controller: {listen: \"0.0.0.0:9464\"}\ndashboard: {listen: \"127.0.0.1:9465\"}\n", 0 },
		{ "dashboard: {listen: \"0.0.0.0:9465\"}\n", -EPERM },
		{ "dashboard: {listen: \"0.0.0.0:9465\", token: 0123456789abcdef0123}\n", 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct pd_config *c = cfg_of(cases[i].yaml);
		err[0] = '\0';
		int rc = dashboard_check_listen(c, err, sizeof(err));
		ck_assert_msg(rc == cases[i].rc, "%s: rc %d: %s", cases[i].yaml, rc, err);
		if (rc < 0) {
			ck_assert_msg(strstr(err, strstr(cases[i].yaml, "dashboard: {listen") ? "dashboard.listen: "
										      : "controller.listen: ") == err,
				      "%s", err);
			ck_assert_msg(strstr(err, "Set dashboard.token in paddock.yaml"), "%s", err);
		}
		config_free(c);
	}
}
END_TEST

/* ---- a served dashboard ------------------------------------------------ */

struct served {
	struct pd_config *cfg;
	struct store *s;
	struct dash *d;
	struct metrics *m;
	int port;
};

static void serve(struct served *sv, const char *yaml)
{
	memset(sv, 0, sizeof(*sv));
	sv->cfg = cfg_of(yaml);
	ck_assert_int_eq(store_open(dir, &sv->s, err, sizeof(err)), 0);
	ck_assert_msg(dashboard_new(sv->cfg, dir, false, &sv->d, err, sizeof(err)) == 0, "%s", err);
	sv->m = metrics_new();
	dashboard_attach(sv->d, sv->m);
	ck_assert_msg(metrics_listen(sv->m, "127.0.0.1:0", err, sizeof(err)) == 0, "%s", err);
	sv->port = metrics_port(sv->m);
}

static void unserve(struct served *sv)
{
	dashboard_shutdown(sv->d);
	metrics_free(sv->m);
	dashboard_free(sv->d);
	store_close(sv->s);
	config_free(sv->cfg);
}

static int connect_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct timeval tv = { .tv_sec = 10 };
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* One request, the whole answer (owned). */
static char *http(int port, const char *method, const char *path, const char *headers)
{
	int fd = connect_to(port);
	char host[64] = "";
	if (!headers || !strstr(headers, "Host: "))
		snprintf(host, sizeof(host), "Host: 127.0.0.1:%d\r\n", port);
	char *req = xasprintf("%s %s HTTP/1.1\r\n%sConnection: close\r\n%s\r\n", method, path, host,
			      headers ? headers : "");
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	free(req);
	struct buf b;
	buf_init(&b, 1 << 20);
	char chunk[4096];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		ck_assert_int_eq(buf_append(&b, chunk, (size_t)n), 0);
	close(fd);
	return buf_steal(&b);
}

/* Read a stream until `want` (and the end of its event) shows up. */
static char *read_event(int fd, const char *want)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	char chunk[4096];
	for (;;) {
		const char *at = b.len ? strstr(b.data, want) : NULL;
		if (at && strstr(at, "\n\n"))
			return buf_steal(&b);
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n <= 0) {
			ck_abort_msg("stream ended before \"%s\": %s", want, b.len ? b.data : "");
			return NULL;
		}
		ck_assert_int_eq(buf_append(&b, chunk, (size_t)n), 0);
	}
}

/* A task of `type` with `log` as its run's output (a file in
 * its run directory). */
static void add_task(struct store *s, const char *name, const char *type, const char *log)
{
	char *y = xasprintf("apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: %s}\n"
			    "spec: {type: %s, prompt: hi}\n", name, type);
	json_object **docs = NULL;
	size_t nd = 0;
	enum model_kind k;
	ck_assert_int_eq(manifest_parse("t", y, strlen(y), NULL, &docs, &nd, err, sizeof(err)), 0);
	ck_assert_int_eq(model_validate(docs[0], NULL, &k, err, sizeof(err)), 0);
	ck_assert_int_eq(store_apply(s, docs[0], k, NULL, err, sizeof(err)), 0);
	manifest_docs_free(docs, nd);
	free(y);
	json_object *t = NULL;
	ck_assert_int_eq(store_get(s, MODEL_TASK, "default", name, &t), 0);
	char *rd = xasprintf("%s/runs/%s", dir, json_object_get_string(
		json_object_object_get(json_object_object_get(t, "metadata"), "uid")));
	ck_assert_int_eq(mkdir_p(rd, 0700), 0);
	char *lp = xasprintf("%s/log", rd);
	ck_assert_int_eq(write_file_atomic(lp, log, strlen(log), 0600), 0);
	free(lp);
	free(rd);
	json_object_put(t);
}

START_TEST(http_answers)
{
	struct served sv;
	serve(&sv, "dashboard: {token: 0123456789abcdef0123}\n");
	char *r = http(sv.port, "GET", "/", NULL);
	ck_assert_msg(strstr(r, "HTTP/1.1 200"), "%s", r);
	ck_assert_msg(strstr(r, "Content-Security-Policy: default-src 'none'; script-src 'self'"), "%s", r);
	ck_assert_msg(strstr(r, "X-Content-Type-Options: nosniff"), "%s", r);
	ck_assert_msg(strstr(r, "<script src=\"/app.js\""), "%s", r);
	ck_assert_msg(!strstr(r, "<script>"), "an inline script in the page");
	free(r);
	r = http(sv.port, "GET", "/app.js", NULL);
	ck_assert_msg(strstr(r, "Content-Type: text/javascript") && strstr(r, "textContent"), "%.300s", r);
	ck_assert_msg(!strstr(r, "innerHTML"), "the script inserts HTML");
	free(r);
	/* The health endpoints are still the metrics module's. */
	r = http(sv.port, "GET", "/healthz", NULL);
	ck_assert_msg(strstr(r, "\r\n\r\nok\n"), "%s", r);
	free(r);
	r = http(sv.port, "PUT", "/api/tasks", NULL);
	ck_assert_msg(strstr(r, "HTTP/1.1 405"), "%s", r);
	free(r);
	/* A page of another name reaching us through DNS rebinding. */
	r = http(sv.port, "GET", "/api/tasks", "Host: evil.example\r\n");
	ck_assert_msg(strstr(r, "HTTP/1.1 403"), "%s", r);
	free(r);
	r = http(sv.port, "GET", "/api/tasks", "Host: localhost:1\r\n");
	ck_assert_msg(strstr(r, "HTTP/1.1 200") && strstr(r, "\"readOnly\":false"), "%s", r);
	free(r);
	/* Stop: no token, a wrong one, the right one from elsewhere, then
	 * right: the stop request is recorded only then. */
	add_task(sv.s, "t", "exec", "");
	static const struct { const char *headers; const char *status; } stops[] = {
		{ "", "HTTP/1.1 401" },
		{ "X-Paddock-Token: 0123456789abcdef0124\r\n", "HTTP/1.1 401" },
		{ "X-Paddock-Token: 0123456789abcdef012\r\n", "HTTP/1.1 401" },
		{ "X-Paddock-Token: 0123456789abcdef0123\r\nOrigin: http://evil.example\r\n", "HTTP/1.1 403" },
		{ "X-Paddock-Token: 0123456789abcdef0123\r\nSec-Fetch-Site: cross-site\r\n", "HTTP/1.1 403" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(stops); i++) {
		r = http(sv.port, "POST", "/api/task/stop?ns=default&name=t", stops[i].headers);
		ck_assert_msg(strstr(r, stops[i].status), "%s: %s", stops[i].headers, r);
		free(r);
		json_object *t = NULL;
		ck_assert_int_eq(store_get(sv.s, MODEL_TASK, "default", "t", &t), 0);
		ck_assert_msg(!model_stop_requested(t), "stopped by %s", stops[i].headers);
		json_object_put(t);
	}
	char *h = xasprintf("X-Paddock-Token: 0123456789abcdef0123\r\nOrigin: http://127.0.0.1:%d\r\n", sv.port);
	r = http(sv.port, "POST", "/api/task/stop?ns=default&name=t", h);
	free(h);
	ck_assert_msg(strstr(r, "HTTP/1.1 200") && strstr(r, "stop requested"), "%s", r);
	free(r);
	json_object *t = NULL;
	ck_assert_int_eq(store_get(sv.s, MODEL_TASK, "default", "t", &t), 0);
	ck_assert(model_stop_requested(t));
	json_object_put(t);
	unserve(&sv);
}
END_TEST

static char *log_event_of(struct served *sv, const char *name)
{
	int fd = connect_to(sv->port);
	char *req = xasprintf("GET /api/task/stream?ns=default&name=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", name);
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	free(req);
	free(read_event(fd, "retry: 2000"));
	/* The request is handled by the HTTP thread: wait for the stream. */
	for (int i = 0; i < 500 && dashboard_streams(sv->d) == 0; i++)
		usleep(10000);
	dashboard_tick(sv->d);
	char *ev = read_event(fd, "event: log\n");
	close(fd);
	return ev;
}

START_TEST(renderer)
{
	char *yaml = xasprintf("pluginDirs: [\"%s/tests/.libs\"]\ndrivers: {render-driver: {enabled: true}}\n",
			       TOP_BUILDDIR);
	struct served sv;
	serve(&sv, yaml);
	free(yaml);
	const char *log = "$ ls -la\nhello <b>x</b>\nERR boom\n\n";
	add_task(sv.s, "rendered", "render-driver", log);
	add_task(sv.s, "raw", "exec", log);
	char *ev = log_event_of(&sv, "rendered");
	ck_assert_msg(strstr(ev, "data: [{\"k\":\"tool\",\"t\":\"Bash: ls -la\"},{\"k\":\"text\",\"t\":\"hello <b>x<\\/b>\"},"
			     "{\"k\":\"error\",\"t\":\"boom\"}]\n"), "%s", ev);
	free(ev);
	/* A driver without a renderer (exec is not even loaded here): raw. */
	ev = log_event_of(&sv, "raw");
	ck_assert_msg(strstr(ev, "data: [\"$ ls -la\",\"hello <b>x<\\/b>\",\"ERR boom\",\"\"]\n"), "%s", ev);
	free(ev);
	unserve(&sv);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("web");
	TCase *tc = tcase_create("web");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, listen_check);
	tcase_add_test(tc, http_answers);
	tcase_add_test(tc, renderer);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
