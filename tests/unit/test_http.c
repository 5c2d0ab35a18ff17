/* SPDX-License-Identifier: MIT */
/* http_fetch() and http_call(): limits, address policy, redirects, headers, messages,
 * against tests/url-server.py on 127.0.0.1. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx_harness.h"
#include "plugin/http.h"

#define TOKEN "tok-http-5f2a9c"

static pid_t srv_pid;
static int srv_port;

static void srv_up(void)
{
	srv_port = ch_server_start(TOKEN, &srv_pid);
}

static void srv_down(void)
{
	ch_server_stop(srv_pid);
}

static struct http_policy pol(void)
{
	struct http_policy p = {
		.max_bytes = 1024 * 1024,
		.timeout_ms = 10000,
		.max_redirects = 3,
		.allow_loopback = true,
		.allow_private = false,
	};
	return p;
}

struct res {
	int rc;
	char *body;
	size_t len;
	long status;
	char err[512];
};

static struct res get_h(const struct http_policy *p, const char *url, long timeout_ms,
			size_t max_bytes, const char *const *headers)
{
	struct res r;
	memset(&r, 0, sizeof(r));
	struct paddock_http_request req = {
		.size = sizeof(req),
		.url = url,
		.headers = headers,
		.timeout_ms = timeout_ms,
		.max_bytes = max_bytes,
		.max_redirects = -1,
	};
	r.rc = http_fetch(p, &req, &r.body, &r.len, &r.status, r.err, sizeof(r.err));
	return r;
}

static struct res get(const struct http_policy *p, const char *path)
{
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", srv_port, path);
	return get_h(p, url, 0, 0, NULL);
}

START_TEST(test_server_up)
{
	ck_assert_int_gt(srv_port, 0);
}
END_TEST

START_TEST(test_ok_body)
{
	struct http_policy p = pol();
	struct res r = get(&p, "/ok");
	ck_assert_msg(r.rc == 0, "%s", r.err);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "hello from the paddock test server\n");
	ck_assert_uint_eq(r.len, strlen(r.body));
	free(r.body);
}
END_TEST

START_TEST(test_non_2xx_is_not_an_error)
{
	struct http_policy p = pol();
	struct res r = get(&p, "/status/404");
	ck_assert_msg(r.rc == 0, "%s", r.err);
	ck_assert_int_eq(r.status, 404);
	free(r.body);
}
END_TEST

START_TEST(test_timeout)
{
	struct http_policy p = pol();
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", srv_port);
	struct res r = get_h(&p, url, 500, 0, NULL);
	ck_assert_int_eq(r.rc, -ETIMEDOUT);
	ck_assert_ptr_null(r.body);
	ck_assert_msg(strstr(r.err, "/slow: timed out after 500 ms"), "%s", r.err);
}
END_TEST

START_TEST(test_policy_timeout_caps_request)
{
	struct http_policy p = pol();
	p.timeout_ms = 400;
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", srv_port);
	struct res r = get_h(&p, url, 60000, 0, NULL);
	ck_assert_int_eq(r.rc, -ETIMEDOUT);
	ck_assert_msg(strstr(r.err, "timed out after 400 ms"), "%s", r.err);
}
END_TEST

START_TEST(test_body_cap_declared_length)
{
	struct http_policy p = pol();
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/big", srv_port);
	struct res r = get_h(&p, url, 0, 65536, NULL);
	ck_assert_int_eq(r.rc, -E2BIG);
	ck_assert_msg(strstr(r.err, "/big: body over 65536 bytes"), "%s", r.err);
}
END_TEST

START_TEST(test_body_cap_streamed)
{
	struct http_policy p = pol();
	p.max_bytes = 100000; /* the policy caps a request asking for more */
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/big-stream", srv_port);
	struct res r = get_h(&p, url, 0, 50 * 1024 * 1024, NULL);
	ck_assert_int_eq(r.rc, -E2BIG);
	ck_assert_msg(strstr(r.err, "body over 100000 bytes"), "%s", r.err);
}
END_TEST

START_TEST(test_redirect_followed)
{
	struct http_policy p = pol();
	struct res r = get(&p, "/redirect-ok");
	ck_assert_msg(r.rc == 0, "%s", r.err);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "hello from the paddock test server\n");
	free(r.body);
}
END_TEST

START_TEST(test_redirect_to_metadata_refused)
{
	struct http_policy p = pol();
	struct res r = get(&p, "/redirect-metadata");
	ck_assert_int_eq(r.rc, -EPERM);
	ck_assert_msg(strstr(r.err, "redirected to http://169.254.169.254/latest/meta-data/: "
				    "address 169.254.169.254 refused (link-local/cloud metadata)"),
		      "%s", r.err);
}
END_TEST

START_TEST(test_redirect_limit)
{
	struct http_policy p = pol();
	struct res r = get(&p, "/redirect-loop");
	ck_assert_int_eq(r.rc, -EIO);
	ck_assert_msg(strstr(r.err, "more than 3 redirects"), "%s", r.err);
}
END_TEST

START_TEST(test_redirect_to_file_refused)
{
	struct http_policy p = pol();
	struct res r = get(&p, "/redirect-file");
	ck_assert_int_eq(r.rc, -EPERM);
	ck_assert_msg(strstr(r.err, "redirect to file:///etc/passwd refused"), "%s", r.err);
}
END_TEST

START_TEST(test_loopback_refused_unless_allowed)
{
	struct http_policy p = pol();
	p.allow_loopback = false;
	struct res r = get(&p, "/ok");
	ck_assert_int_eq(r.rc, -EPERM);
	ck_assert_msg(strstr(r.err, "address 127.0.0.1 refused (loopback"), "%s", r.err);
	ck_assert_ptr_null(r.body);
}
END_TEST

/* Addresses refused whatever the name resolves to; checked before any
 * packet is sent, so no network is needed. */
static const struct {
	const char *host;
	bool allow_loopback, allow_private;
	const char *reason;
} refused[] = {
	{ "169.254.169.254", true, true, "link-local/cloud metadata" },
	{ "[fd00:ec2::254]", true, true, "cloud metadata" },
	{ "[::ffff:169.254.169.254]", true, true, "link-local/cloud metadata" },
	{ "0.0.0.0", true, true, "unspecified" },
	{ "224.0.0.1", true, true, "multicast" },
	{ "[ff02::1]", true, true, "multicast" },
	{ "[::ffff:127.0.0.1]", false, true, "loopback" },
	{ "[::1]", false, true, "loopback" },
	{ "10.1.2.3", true, false, "private network" },
	{ "192.168.1.1", true, false, "private network" },
	{ "172.20.0.1", true, false, "private network" },
	{ "[fd12::1]", true, false, "private network" },
};

START_TEST(test_address_policy_table)
{
	struct http_policy p = pol();
	p.allow_loopback = refused[_i].allow_loopback;
	p.allow_private = refused[_i].allow_private;
	p.timeout_ms = 3000;
	char url[256];
	snprintf(url, sizeof(url), "http://%s:%d/x", refused[_i].host, srv_port);
	struct res r = get_h(&p, url, 0, 0, NULL);
	ck_assert_msg(r.rc == -EPERM, "%s: rc %d: %s", refused[_i].host, r.rc, r.err);
	ck_assert_msg(strstr(r.err, refused[_i].reason), "%s", r.err);
}
END_TEST

START_TEST(test_scheme_refused)
{
	struct http_policy p = pol();
	struct res r = get_h(&p, "ftp://127.0.0.1/x", 0, 0, NULL);
	ck_assert_int_eq(r.rc, -EPERM);
	ck_assert_msg(strstr(r.err, "use http:// or https://"), "%s", r.err);
	r = get_h(&p, "file:///etc/passwd", 0, 0, NULL);
	ck_assert_int_eq(r.rc, -EPERM);
}
END_TEST

START_TEST(test_headers_sent)
{
	struct http_policy p = pol();
	const char *h[] = { "Authorization: Bearer " TOKEN, "X-Plain: plain-value", NULL };
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/auth", srv_port);
	struct res r = get_h(&p, url, 0, 0, h);
	ck_assert_msg(r.rc == 0, "%s", r.err);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "secret area\n");
	free(r.body);
	/* same origin after a redirect: still sent */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/redirect-auth-same", srv_port);
	r = get_h(&p, url, 0, 0, h);
	ck_assert_msg(r.rc == 0, "%s", r.err);
	ck_assert_int_eq(r.status, 200);
	free(r.body);
}
END_TEST

START_TEST(test_headers_not_sent_to_other_origin)
{
	struct http_policy p = pol();
	const char *h[] = { "Authorization: Bearer " TOKEN, NULL };
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/redirect-other-origin", srv_port);
	struct res r = get_h(&p, url, 0, 0, h);
	ck_assert_msg(r.rc == 0, "%s", r.err);
	ck_assert_str_eq(r.body, "authorization=absent\n");
	free(r.body);
	/* the control: sent when asked directly */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/auth-echo", srv_port);
	r = get_h(&p, url, 0, 0, h);
	ck_assert_msg(r.rc == 0, "%s", r.err);
	ck_assert_str_eq(r.body, "authorization=present\n");
	free(r.body);
}
END_TEST

START_TEST(test_messages_hide_credentials)
{
	struct http_policy p = pol();
	p.allow_loopback = false;
	char url[256];
	snprintf(url, sizeof(url), "http://alice:pw-9d81@127.0.0.1:%d/x?token=q-77ab#frag", srv_port);
	struct res r = get_h(&p, url, 0, 0, NULL);
	ck_assert_int_eq(r.rc, -EPERM);
	ck_assert_msg(strstr(r.err, "/x: address 127.0.0.1 refused"), "%s", r.err);
	ck_assert_ptr_null(strstr(r.err, "pw-9d81"));
	ck_assert_ptr_null(strstr(r.err, "alice"));
	ck_assert_ptr_null(strstr(r.err, "q-77ab"));
}
END_TEST

/* http_call(): a method with a body; the answer's headers by name, in
 * any case; a write follows no redirect; messages name the method. */
START_TEST(test_call_method_body_headers)
{
	struct http_policy p = pol();
	char url[256], v[64];
	const char *h[] = { "Content-Type: application/json", NULL };
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", srv_port);
	struct http_call c = { .method = "POST", .url = url, .headers = h, .body = "{\"a\":1}",
			       .body_len = 7 };
	struct http_reply r;
	char err[512];
	ck_assert_msg(http_call(&p, &c, &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(r.status, 201);
	ck_assert_str_eq(r.body, "POST {\"a\":1}");
	ck_assert(http_reply_header(&r, "etag", v, sizeof(v)));
	ck_assert_str_eq(v, "W/\"e-1\"");
	ck_assert(http_reply_header(&r, "X-RateLimit-Remaining", v, sizeof(v)));
	ck_assert_str_eq(v, "0");
	ck_assert(!http_reply_header(&r, "Retry-After", v, sizeof(v)));
	http_reply_free(&r);
	c.method = "DELETE";
	c.body = NULL;
	ck_assert_msg(http_call(&p, &c, &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(r.body, "DELETE ");
	http_reply_free(&r);
	/* a POST answered 302 is returned as it is */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/redirect-ok", srv_port);
	c.method = "POST";
	ck_assert_msg(http_call(&p, &c, &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(r.status, 302);
	http_reply_free(&r);
	/* the address policy, the method in the message */
	p.allow_loopback = false;
	ck_assert_int_eq(http_call(&p, &c, &r, err, sizeof(err)), -EPERM);
	ck_assert_msg(strstr(err, "POST http://127.0.0.1:") && strstr(err, "refused"), "%s", err);
}
END_TEST

START_TEST(test_bad_header_line)
{
	struct http_policy p = pol();
	const char *h[] = { "X-Key: v-1\r\nX-Evil: inject-4410", NULL };
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", srv_port);
	struct res r = get_h(&p, url, 0, 0, h);
	ck_assert_int_eq(r.rc, -EINVAL);
	ck_assert_msg(strstr(r.err, "\"X-Key\""), "%s", r.err);
	ck_assert_ptr_null(strstr(r.err, "inject-4410"));
	ck_assert_ptr_null(strstr(r.err, "v-1"));
}
END_TEST

static Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("fetch");
	tcase_add_unchecked_fixture(tc, srv_up, srv_down);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_server_up);
	tcase_add_test(tc, test_ok_body);
	tcase_add_test(tc, test_non_2xx_is_not_an_error);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_policy_timeout_caps_request);
	tcase_add_test(tc, test_body_cap_declared_length);
	tcase_add_test(tc, test_body_cap_streamed);
	tcase_add_test(tc, test_redirect_followed);
	tcase_add_test(tc, test_redirect_to_metadata_refused);
	tcase_add_test(tc, test_redirect_limit);
	tcase_add_test(tc, test_redirect_to_file_refused);
	tcase_add_test(tc, test_loopback_refused_unless_allowed);
	tcase_add_loop_test(tc, test_address_policy_table, 0, (int)ARRAY_SIZE(refused));
	tcase_add_test(tc, test_scheme_refused);
	tcase_add_test(tc, test_headers_sent);
	tcase_add_test(tc, test_headers_not_sent_to_other_origin);
	tcase_add_test(tc, test_messages_hide_credentials);
	tcase_add_test(tc, test_bad_header_line);
	tcase_add_test(tc, test_call_method_body_headers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(http_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
