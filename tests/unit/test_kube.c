/* SPDX-License-Identifier: MIT */
/* test_kube.c - the Kubernetes client without a cluster: kubeconfig
 * parsing and loading, paths, watch framing, the informer cache, and
 * that no message ever holds a credential (tests/k8s/ runs the client
 * against a real API server). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <arpa/inet.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kube/client.h"
#include "model/model.h"
#include "base/util.h"

#define TOKEN "tok-kube-3b9f0e7d1c"
#define CA_PEM "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n"
#define CERT_PEM "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"
#define KEY_PEM "-----BEGIN PRIVATE KEY-----\nMIIEkeysecret\n-----END PRIVATE KEY-----\n"

static char err[1024];

/* A kubeconfig with two contexts: "dev" (current; token, CA data) and
 * "prod" (client certificate and key files, CA file, relative paths).
 * `user_extra` is added to the dev user's mapping. Owned. */
static char *kubeconfig(const char *user_extra)
{
	char *ca = model_b64_encode(CA_PEM, strlen(CA_PEM));
	char *s = xasprintf("apiVersion: v1\n"
			    "kind: Config\n"
			    "current-context: dev\n"
			    "contexts:\n"
			    "- name: dev\n"
			    "  context: {cluster: c1, user: u1, namespace: team-a}\n"
			    "- name: prod\n"
			    "  context: {cluster: c2, user: u2}\n"
			    "clusters:\n"
			    "- name: c1\n"
			    "  cluster:\n"
			    "    server: https://127.0.0.1:6443/\n"
			    "    certificate-authority-data: %s\n"
			    "- name: c2\n"
			    "  cluster:\n"
			    "    server: https://prod.example:443\n"
			    "    certificate-authority: certs/ca.crt\n"
			    "users:\n"
			    "- name: u1\n"
			    "  user:\n"
			    "    token: %s\n%s"
			    "- name: u2\n"
			    "  user:\n"
			    "    client-certificate: certs/client.crt\n"
			    "    client-key: /abs/client.key\n",
			    ca, TOKEN, user_extra ? user_extra : "");
	free(ca);
	return s;
}

static int parse(const char *doc, const char *ctx, const char *base, struct kube_config **out)
{
	err[0] = '\0';
	return kube_config_parse(doc, strlen(doc), ctx, base, out, err, sizeof(err));
}

/* Parse `doc`, expect failure with `want` in the message and no token. */
static void parse_fails(const char *doc, const char *ctx, const char *want)
{
	struct kube_config *c = (struct kube_config *)(uintptr_t)0x1;
	int rc = parse(doc, ctx, NULL, &c);
	ck_assert_msg(rc < 0, "parsed, wanted \"%s\"", want);
	ck_assert_ptr_eq(c, (struct kube_config *)(uintptr_t)0x1);
	ck_assert_msg(strstr(err, want), "message \"%s\" lacks \"%s\"", err, want);
	ck_assert_msg(!strstr(err, TOKEN) && !strstr(err, "keysecret"), "secret in \"%s\"", err);
}

START_TEST(test_config_current_context)
{
	char *doc = kubeconfig(NULL);
	struct kube_config *c = NULL;
	ck_assert_int_eq(parse(doc, NULL, "/home/u/.kube", &c), 0);
	ck_assert_str_eq(c->server, "https://127.0.0.1:6443");
	ck_assert_str_eq(c->context, "dev");
	ck_assert_str_eq(c->namespace, "team-a");
	ck_assert_str_eq(c->token, TOKEN);
	ck_assert_str_eq(c->ca_pem, CA_PEM);
	ck_assert_ptr_null(c->ca_file);
	ck_assert_ptr_null(c->cert_pem);
	ck_assert_ptr_null(c->token_file);
	ck_assert(!c->insecure);
	kube_config_free(c);
	/* The same document as JSON. */
	const char *json = "{\"current-context\":\"x\",\"contexts\":[{\"name\":\"x\",\"context\":"
			   "{\"cluster\":\"k\",\"user\":\"u\"}}],\"clusters\":[{\"name\":\"k\","
			   "\"cluster\":{\"server\":\"http://10.0.0.1:8080\","
			   "\"insecure-skip-tls-verify\":true}}],\"users\":[{\"name\":\"u\","
			   "\"user\":{\"tokenFile\":\"tok\"}}]}";
	ck_assert_int_eq(parse(json, NULL, "/etc/k", &c), 0);
	ck_assert_str_eq(c->server, "http://10.0.0.1:8080");
	ck_assert(c->insecure);
	ck_assert_str_eq(c->token_file, "/etc/k/tok");
	ck_assert_ptr_null(c->token);
	ck_assert_ptr_null(c->namespace);
	kube_config_free(c);
	kube_config_free(NULL);
	free(doc);
}
END_TEST

START_TEST(test_config_named_context_files)
{
	char *doc = kubeconfig(NULL);
	struct kube_config *c = NULL;
	ck_assert_int_eq(parse(doc, "prod", "/home/u/.kube", &c), 0);
	ck_assert_str_eq(c->context, "prod");
	ck_assert_str_eq(c->server, "https://prod.example:443");
	ck_assert_ptr_null(c->namespace);
	ck_assert_ptr_null(c->token);
	ck_assert_str_eq(c->ca_file, "/home/u/.kube/certs/ca.crt");
	ck_assert_str_eq(c->cert_file, "/home/u/.kube/certs/client.crt");
	ck_assert_str_eq(c->key_file, "/abs/client.key"); /* absolute: as given */
	kube_config_free(c);
	/* Without base_dir, relative paths stay as given. */
	ck_assert_int_eq(parse(doc, "prod", NULL, &c), 0);
	ck_assert_str_eq(c->ca_file, "certs/ca.crt");
	kube_config_free(c);
	free(doc);

	/* Certificate and key as data. */
	char *cert = model_b64_encode(CERT_PEM, strlen(CERT_PEM));
	char *key = model_b64_encode(KEY_PEM, strlen(KEY_PEM));
	char *extra = xasprintf("    client-certificate-data: %s\n    client-key-data: %s\n", cert,
				key);
	doc = kubeconfig(extra);
	ck_assert_int_eq(parse(doc, "dev", NULL, &c), 0);
	ck_assert_str_eq(c->cert_pem, CERT_PEM);
	ck_assert_str_eq(c->key_pem, KEY_PEM);
	ck_assert_str_eq(c->token, TOKEN);
	kube_config_free(c);
	free(doc);
	free(extra);
	free(cert);
	free(key);
}
END_TEST

START_TEST(test_config_refused)
{
	char *doc = kubeconfig("    exec: {command: aws, args: [eks, get-token]}\n");
	parse_fails(doc, NULL, "users[0].user.exec: credential plugins are not supported");
	free(doc);
	doc = kubeconfig("    auth-provider: {name: gcp}\n");
	parse_fails(doc, NULL, "users[0].user.auth-provider: credential plugins are not supported");
	free(doc);
	doc = kubeconfig("    username: admin\n    password: hunter2\n");
	parse_fails(doc, NULL, "users[0].user.username: basic authentication is not supported");
	free(doc);
	/* A certificate without its key, and both forms of one field. */
	doc = kubeconfig("    client-certificate: a.crt\n");
	parse_fails(doc, NULL, "users[0].user.client-key: missing");
	free(doc);
	doc = kubeconfig("    client-key: a.key\n");
	parse_fails(doc, NULL, "users[0].user.client-certificate: missing");
	free(doc);
	char *key = model_b64_encode(KEY_PEM, strlen(KEY_PEM));
	char *extra = xasprintf("    client-certificate: a.crt\n    client-key: a.key\n"
				"    client-key-data: %s\n", key);
	doc = kubeconfig(extra);
	parse_fails(doc, NULL, "users[0].user.client-key: set together with client-key-data");
	free(doc);
	free(extra);
	free(key);
	/* Data that is not base64, or not PEM: the field, never the value. */
	doc = kubeconfig("    client-certificate: a.crt\n    client-key-data: keysecret!!\n");
	parse_fails(doc, NULL, "users[0].user.client-key-data: not valid base64");
	free(doc);
	doc = kubeconfig("    client-certificate: a.crt\n    client-key-data: a2V5c2VjcmV0\n");
	parse_fails(doc, NULL, "users[0].user.client-key-data: does not decode to PEM");
	free(doc);
	doc = kubeconfig("    tokenFile: [a, b]\n");
	parse_fails(doc, NULL, "users[0].user.tokenFile: must be a string");
	free(doc);
}
END_TEST

START_TEST(test_config_missing)
{
	char *doc = kubeconfig(NULL);
	parse_fails(doc, "staging", "context: no context named \"staging\" in contexts");
	free(doc);
	parse_fails("apiVersion: v1\nkind: Config\n", NULL, "current-context: not set");
	parse_fails("current-context: a\n", NULL, "current-context: no context named \"a\"");
	parse_fails("current-context: a\ncontexts: [{name: a, context: {user: u}}]\n", NULL,
		    "contexts[0].context.cluster: missing");
	parse_fails("current-context: a\ncontexts: [{name: b}, {name: a, context: {cluster: k, user: u}}]\n"
		    "clusters: [{name: j, cluster: {server: 'https://x'}}]\n",
		    NULL, "contexts[1].context.cluster: no cluster named \"k\" in clusters");
	parse_fails("current-context: a\ncontexts: [{name: a, context: {cluster: k, user: u}}]\n"
		    "clusters: [{name: k, cluster: {server: 'https://x'}}]\nusers: []\n",
		    NULL, "contexts[0].context.user: no user named \"u\" in users");
	parse_fails("current-context: a\ncontexts: [{name: a, context: {cluster: k}}]\n"
		    "clusters: [{name: k, cluster: {insecure-skip-tls-verify: true}}]\n",
		    NULL, "clusters[0].cluster.server: missing");
	parse_fails("current-context: a\ncontexts: [{name: a, context: {cluster: k}}]\n"
		    "clusters: [{name: k, cluster: {server: 'ftp://x'}}]\n",
		    NULL, "clusters[0].cluster.server: \"ftp://x\" is not an http(s) URL");
	parse_fails("current-context: a\ncontexts: [{name: a, context: {cluster: k}}]\n"
		    "clusters: [{name: k, cluster: {server: 'https://x', insecure-skip-tls-verify: yes}}]\n",
		    NULL, "clusters[0].cluster.insecure-skip-tls-verify: must be true or false");
	parse_fails("current-context: a\ncontexts: [{name: a, context: {cluster: k}}]\n"
		    "clusters: [{name: k, cluster: {server: 'https://x', insecure-skip-tls-verify: true,"
		    " certificate-authority: ca.crt}}]\n",
		    NULL, "clusters[0].cluster.insecure-skip-tls-verify: cannot be combined");
	parse_fails("contexts: {a: b}\ncurrent-context: a\n", NULL, "contexts: must be a list");
	parse_fails("- a\n- b\n", NULL, "expected one kubeconfig document, found 2");
	parse_fails("just a string\n", NULL, "kubeconfig: must be a mapping");
	/* A context without a user is anonymous access. */
	struct kube_config *c = NULL;
	ck_assert_int_eq(parse("current-context: a\ncontexts: [{name: a, context: {cluster: k}}]\n"
			       "clusters: [{name: k, cluster: {server: 'https://x'}}]\n",
			       NULL, NULL, &c),
			 0);
	ck_assert_ptr_null(c->token);
	kube_config_free(c);
}
END_TEST

START_TEST(test_config_malformed)
{
	parse_fails("current-context: a\ncontexts: [\n", NULL, "kubeconfig:");
	parse_fails("a: b\na: c\n", NULL, "kubeconfig:2:1: duplicate key \"a\"");
	parse_fails("{\"current-context\": ", NULL, "kubeconfig:");
	parse_fails("x: &a 1\ny: *a\n", NULL, "aliases are not allowed");
	/* YAML errors that quote a scalar do not show a token's value. */
	char *bad = xasprintf("users:\n- name: u\n  user:\n    token: !!int %s\n", TOKEN);
	parse_fails(bad, NULL, "value not shown");
	free(bad);
	parse_fails("users:\n- name: u\n  user:\n    token: 123456789012345678901234567890\n", NULL,
		    "value not shown");
	ck_assert_ptr_null(strstr(err, "1234567890"));
	struct kube_config *c = NULL;
	ck_assert_int_eq(kube_config_parse(NULL, 1, NULL, NULL, &c, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(kube_config_parse("", 0, NULL, NULL, &c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(c);
}
END_TEST

/* A scratch directory with files; removed by the caller. */
static char *scratch(void)
{
	char tmpl[] = "/tmp/test_kube.XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	return xstrdup(tmpl);
}

static void put_file(const char *dir, const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", dir, name);
	ck_assert_int_eq(write_file_atomic(p, text, strlen(text), 0600), 0);
	free(p);
}

START_TEST(test_config_load)
{
	char *dir = scratch();
	char *doc = kubeconfig(NULL);
	put_file(dir, "config", doc);
	free(doc);
	char *path = xasprintf("%s/config", dir);
	struct kube_config *c = NULL;

	/* An explicit path: relative files resolve against its directory. */
	ck_assert_int_eq(kube_config_load(path, "prod", &c, err, sizeof(err)), 0);
	char *want = xasprintf("%s/certs/ca.crt", dir);
	ck_assert_str_eq(c->ca_file, want);
	free(want);
	kube_config_free(c);

	/* $KUBECONFIG: the first entry that exists. */
	char *env = xasprintf("%s/nope:%s", dir, path);
	setenv("KUBECONFIG", env, 1);
	c = NULL;
	ck_assert_int_eq(kube_config_load(NULL, NULL, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c->context, "dev");
	kube_config_free(c);
	free(env);

	/* Field errors name the file. */
	put_file(dir, "bad", "current-context: zz\n");
	char *bad = xasprintf("%s/bad", dir);
	c = NULL;
	ck_assert_int_eq(kube_config_load(bad, NULL, &c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, bad));
	ck_assert_ptr_nonnull(strstr(err, "current-context: no context named \"zz\""));
	ck_assert_ptr_null(c);

	/* A missing file. */
	char *missing = xasprintf("%s/missing", dir);
	ck_assert_int_eq(kube_config_load(missing, NULL, &c, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, missing));

	/* Nothing at all: no KUBECONFIG entry, no ~/.kube/config, not in a cluster. */
	setenv("KUBECONFIG", missing, 1);
	setenv("HOME", dir, 1);
	unsetenv("KUBERNETES_SERVICE_HOST");
	ck_assert_int_eq(kube_config_load(NULL, NULL, &c, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "no Kubernetes configuration"));
	ck_assert_int_eq(kube_config_in_cluster(&c, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "KUBERNETES_SERVICE_HOST is not set"));
	/* In a pod without a mounted token. */
	if (access("/var/run/secrets/kubernetes.io/serviceaccount/token", F_OK) != 0) {
		setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
		setenv("KUBERNETES_SERVICE_PORT", "443", 1);
		ck_assert_int_eq(kube_config_in_cluster(&c, err, sizeof(err)), -ENOENT);
		ck_assert_ptr_nonnull(strstr(err, "serviceaccount/token"));
		ck_assert_ptr_nonnull(strstr(err, "automountServiceAccountToken"));
		unsetenv("KUBERNETES_SERVICE_HOST");
	}
	ck_assert_ptr_null(c);
	unsetenv("KUBECONFIG");
	free(bad);
	free(missing);
	free(path);
	ck_assert_int_eq(rm_rf(dir), 0);
	free(dir);
}
END_TEST

/* ---- client (no server: a closed port) ------------------------------------ */

static struct kube_config *cfg_closed_port(void)
{
	struct kube_config *c = xcalloc(1, sizeof(*c));
	/* Port 1 on loopback: nothing listens there; refused at once. */
	c->server = xstrdup("http://127.0.0.1:1");
	c->token = xstrdup(TOKEN);
	return c;
}

START_TEST(test_client_errors_no_token)
{
	struct kube_config *cfg = cfg_closed_port();
	struct kube_client *c = NULL;
	ck_assert_int_eq(kube_client_new(cfg, NULL, &c, err, sizeof(err)), 0);
	json_object *out = (json_object *)(uintptr_t)0x1;
	int rc = kube_request(c, "GET", "/api/v1/namespaces/a/pods", NULL, NULL, &out, err,
			      sizeof(err));
	ck_assert_int_lt(rc, 0);
	ck_assert_msg(strstr(err, "GET /api/v1/namespaces/a/pods: "), "%s", err);
	ck_assert_ptr_null(strstr(err, TOKEN));
	ck_assert_ptr_eq(out, (json_object *)(uintptr_t)0x1);
	ck_assert_uint_eq(kube_client_errors(c), 1);
	char *raw = NULL;
	size_t len = 0;
	bool cut = false;
	rc = kube_get_raw(c, "/api/v1/namespaces/a/pods/p/log", 100, &raw, &len, &cut, err,
			  sizeof(err));
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_null(raw);
	ck_assert_ptr_null(strstr(err, TOKEN));
	ck_assert_uint_eq(kube_client_errors(c), 2);
	json_object *obj = json_tokener_parse("{\"metadata\":{\"name\":\"t\"}}");
	rc = kube_update_status(c, &KUBE_TASKS, obj, NULL, NULL, NULL, err, sizeof(err));
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "metadata.namespace"));
	json_object_put(obj);
	ck_assert_int_eq(kube_request(c, "GET", "api/v1", NULL, NULL, NULL, err, sizeof(err)), -EINVAL);
	kube_client_free(c);

	/* A token file that is not one line of text; one that is missing. */
	char *dir = scratch();
	put_file(dir, "token", "\n\n");
	free(cfg->token);
	cfg->token = NULL;
	cfg->token_file = xasprintf("%s/token", dir);
	ck_assert_int_eq(kube_client_new(cfg, NULL, &c, err, sizeof(err)), 0);
	rc = kube_request(c, "GET", "/api/v1/pods", NULL, NULL, NULL, err, sizeof(err));
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "empty or not one line"));
	put_file(dir, "token", TOKEN "\n");
	rc = kube_request(c, "GET", "/api/v1/pods", NULL, NULL, NULL, err, sizeof(err));
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_null(strstr(err, TOKEN));
	kube_client_free(c);
	free(cfg->token_file);
	cfg->token_file = xasprintf("%s/missing", dir);
	c = NULL;
	ck_assert_int_eq(kube_client_new(cfg, NULL, &c, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "tokenFile"));
	ck_assert_ptr_null(c);
	free(cfg->token_file);
	cfg->token_file = NULL;
	cfg->cert_pem = xstrdup(CERT_PEM);
	ck_assert_int_eq(kube_client_new(cfg, NULL, &c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "needs its key"));
	free(cfg->cert_pem);
	cfg->cert_pem = NULL;
	cfg->token = xstrdup(TOKEN "\r\nX-Injected: 1");
	ck_assert_int_eq(kube_client_new(cfg, NULL, &c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "token: contains a line break"));
	ck_assert_ptr_null(strstr(err, TOKEN));
	free(cfg->server);
	cfg->server = xstrdup("127.0.0.1:6443");
	ck_assert_int_eq(kube_client_new(cfg, NULL, &c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "server"));
	kube_config_free(cfg);
	ck_assert_int_eq(rm_rf(dir), 0);
	free(dir);
	kube_client_free(NULL);
}
END_TEST

/* ---- streams (no server: a closed port, a peer that never answers) ---------- */

struct chunks {
	size_t data_calls, ticks, bytes;
	int stop_after_ticks; /* > 0: return 1 on that tick */
	volatile sig_atomic_t *set_stop; /* set on the first tick, when not NULL */
};

static int on_chunk(void *ctx, const char *data, size_t len)
{
	struct chunks *c = ctx;
	if (len) {
		ck_assert_ptr_nonnull(data);
		c->data_calls++;
		c->bytes += len;
		return 0;
	}
	c->ticks++;
	if (c->set_stop)
		*c->set_stop = 1;
	return c->stop_after_ticks > 0 && c->ticks >= (size_t)c->stop_after_ticks;
}

/* A loopback port that accepts connections (the kernel's backlog) and
 * never answers: *fd is its socket. */
static int silent_port(int *fd)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t n = sizeof(a);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(*fd, 0);
	ck_assert_int_eq(bind(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(*fd, 4), 0);
	ck_assert_int_eq(getsockname(*fd, (struct sockaddr *)&a, &n), 0);
	return ntohs(a.sin_port);
}

static volatile sig_atomic_t alarm_stop;

static void on_alarm(int sig)
{
	(void)sig;
	alarm_stop = 1;
}

START_TEST(test_stream)
{
	const char *path = "/api/v1/namespaces/a/pods/p/log?container=agent&follow=true";
	struct kube_config *cfg = cfg_closed_port();
	struct kube_client *c = NULL;
	struct chunks got = { 0 };
	ck_assert_int_eq(kube_client_new(cfg, NULL, &c, err, sizeof(err)), 0);

	/* Arguments. */
	ck_assert_int_eq(kube_stream(NULL, path, on_chunk, &got, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(kube_stream(c, "api/v1", on_chunk, &got, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(kube_stream(c, NULL, on_chunk, &got, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(kube_stream(c, path, NULL, &got, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "kube_stream: missing argument"));
	ck_assert_uint_eq(kube_client_errors(c), 0);

	/* Nothing listens: a transport error naming the request, counted,
	 * without the token; nothing handed on. */
	err[0] = '\0';
	int rc = kube_stream(c, path, on_chunk, &got, NULL, err, sizeof(err));
	ck_assert_int_lt(rc, 0);
	ck_assert_msg(strstr(err, "GET /api/v1/namespaces/a/pods/p/log?container=agent&follow=true: "),
		      "%s", err);
	ck_assert_msg(strstr(err, "onnect"), "%s", err); /* "Couldn't connect ...: Failed to connect ..." */
	ck_assert_ptr_null(strstr(err, TOKEN));
	ck_assert_uint_eq(kube_client_errors(c), 1);
	ck_assert_uint_eq(got.data_calls, 0);
	kube_client_free(c);

	/* A server that never answers: the stream stays open (no overall
	 * timeout) and ticks; a tick's non-zero return ends it, as does the
	 * stop flag, set before, from a tick, or by a signal.  No answer:
	 * status 0, nothing counted as an error. */
	int fd;
	free(cfg->server);
	cfg->server = xasprintf("http://127.0.0.1:%d", silent_port(&fd));
	ck_assert_int_eq(kube_client_new(cfg, NULL, &c, err, sizeof(err)), 0);
	got = (struct chunks){ .stop_after_ticks = 2 };
	ck_assert_int_eq(kube_stream(c, path, on_chunk, &got, NULL, err, sizeof(err)), 0);
	ck_assert_uint_eq(got.ticks, 2);
	ck_assert_uint_eq(got.data_calls, 0);

	volatile sig_atomic_t stop = 1;
	got = (struct chunks){ 0 };
	ck_assert_int_eq(kube_stream(c, path, on_chunk, &got, &stop, err, sizeof(err)), 0);
	ck_assert_uint_eq(got.ticks, 0);

	stop = 0;
	got = (struct chunks){ .set_stop = &stop };
	ck_assert_int_eq(kube_stream(c, path, on_chunk, &got, &stop, err, sizeof(err)), 0);
	ck_assert_uint_eq(got.ticks, 1);

	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	ck_assert_int_eq(sigaction(SIGALRM, &sa, &old), 0);
	alarm_stop = 0;
	got = (struct chunks){ 0 };
	int64_t t0 = now_mono_ms();
	alarm(2);
	ck_assert_int_eq(kube_stream(c, path, on_chunk, &got, &alarm_stop, err, sizeof(err)), 0);
	alarm(0);
	ck_assert_int_eq(alarm_stop, 1);
	ck_assert_int_ge(now_mono_ms() - t0, 1500); /* it was open until the signal */
	ck_assert_uint_ge(got.ticks, 1);
	sigaction(SIGALRM, &old, NULL);
	ck_assert_uint_eq(kube_client_errors(c), 0);
	close(fd);
	kube_client_free(c);
	kube_config_free(cfg);
}
END_TEST

/* A log server that never ends its answer: a line every 50 ms, forever
 * (until the client goes). */
static void *dribble(void *arg)
{
	int fd = *(int *)arg, c = accept(fd, NULL, NULL);
	if (c < 0)
		return NULL;
	char req[4096];
	(void)!read(c, req, sizeof(req));
	const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n";
	if (send(c, head, strlen(head), MSG_NOSIGNAL) < 0)
		goto out;
	for (int i = 0; i < 400; i++) {
		char line[64], chunk[96];
		int n = snprintf(line, sizeof(line), "line %d\n", i);
		int m = snprintf(chunk, sizeof(chunk), "%x\r\n%s\r\n", n, line);
		if (send(c, chunk, (size_t)m, MSG_NOSIGNAL) < 0)
			break;
		usleep(50 * 1000);
	}
out:
	close(c);
	return NULL;
}

/* A log not read to its end within the client's timeout keeps what was
 * read (its head, where the run's start is), marked, instead of nothing. */
START_TEST(test_get_log_late)
{
	struct kube_config *cfg = cfg_closed_port();
	int fd;
	free(cfg->server);
	cfg->server = xasprintf("http://127.0.0.1:%d", silent_port(&fd));
	struct kube_limits lim = { .timeout_s = 1 };
	struct kube_client *c = NULL;
	ck_assert_int_eq(kube_client_new(cfg, &lim, &c, err, sizeof(err)), 0);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, dribble, &fd), 0);
	char *log = NULL;
	size_t len = 0;
	int rc = kube_get_log(c, "/api/v1/namespaces/a/pods/p/log?container=agent", 1 << 20, &log, &len, NULL,
			      err, sizeof(err));
	ck_assert_int_eq(rc, 200);
	ck_assert_ptr_nonnull(log);
	ck_assert_msg(!strncmp(log, "line 0\n", 7), "%.80s", log);
	ck_assert_msg(strstr(log, "[paddock] the log was not read to its end within 1 s\n"), "%s", log);
	ck_assert_ptr_null(strstr(log, "line 399"));
	free(log);
	kube_client_free(c);
	pthread_join(th, NULL);
	close(fd);
	kube_config_free(cfg);
}
END_TEST

/* ---- paths ----------------------------------------------------------------- */

START_TEST(test_paths)
{
	struct {
		const struct kube_resource *r;
		const char *ns, *name, *sub, *query, *want;
	} cases[] = {
		{ &KUBE_TASKS, "default", "t1", "status", NULL,
		  "/apis/paddock.dev/v1alpha1/namespaces/default/tasks/t1/status" },
		{ &KUBE_PODS, NULL, NULL, NULL, "watch=1", "/api/v1/pods?watch=1" },
		{ &KUBE_JOBS, "ns", NULL, NULL, NULL, "/apis/batch/v1/namespaces/ns/jobs" },
		{ &KUBE_NAMESPACES, "ignored", "team-a", NULL, NULL, "/api/v1/namespaces/team-a" },
		{ &KUBE_LEASES, "", "", "status", "", "/apis/coordination.k8s.io/v1/leases" },
		{ &KUBE_PODS, "a/b", "x y?#%", "log", NULL,
		  "/api/v1/namespaces/a%2Fb/pods/x%20y%3F%23%25/log" },
		{ &KUBE_SECRETS, "..", ".", NULL, NULL, "/api/v1/namespaces/%2E%2E/secrets/%2E" },
		{ &KUBE_CONFIGMAPS, "n", "a.b-c_d~e", NULL, NULL,
		  "/api/v1/namespaces/n/configmaps/a.b-c_d~e" },
		{ &KUBE_EVENTS, "n", "\xc3\xa9", NULL, NULL, "/api/v1/namespaces/n/events/%C3%A9" },
		{ &KUBE_AGENTS, "n", NULL, "status", NULL,
		  "/apis/paddock.dev/v1alpha1/namespaces/n/agents" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *p = kube_path(cases[i].r, cases[i].ns, cases[i].name, cases[i].sub,
				    cases[i].query);
		ck_assert_msg(str_eq(p, cases[i].want), "case %zu: %s", i, p);
		free(p);
	}
	ck_assert_ptr_null(kube_path(NULL, "a", "b", NULL, NULL));
	char *q = kube_query_escape("app=x,tier in (a, b)&z");
	ck_assert_str_eq(q, "app%3Dx%2Ctier%20in%20%28a%2C%20b%29%26z");
	free(q);
	q = kube_query_escape("..");
	ck_assert_str_eq(q, "..");
	free(q);
	ck_assert_ptr_null(kube_query_escape(NULL));
}
END_TEST

/* ---- watch framing ------------------------------------------------------- */

struct seen {
	struct buf log; /* "TYPE name\n" per event */
};

static void on_event(void *ctx, enum kube_event_type type, json_object *obj)
{
	static const char *const names[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR" };
	struct seen *s = ctx;
	json_object *m = NULL, *n = NULL, *code = NULL;
	const char *what = "?";
	if (json_object_object_get_ex(obj, "metadata", &m) &&
	    json_object_object_get_ex(m, "name", &n))
		what = json_object_get_string(n);
	else if (json_object_object_get_ex(m, "resourceVersion", &n))
		what = json_object_get_string(n);
	else if (json_object_object_get_ex(obj, "code", &code))
		what = json_object_get_string(code);
	buf_printf(&s->log, "%s %s\n", names[type], what);
}

static const char stream[] =
	"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"5\"}}}\n"
	"{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"b\"}}}\r\n"
	"\n"
	"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"77\"}}}\n"
	"{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n"
	"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}\n";
static const char stream_want[] = "ADDED a\nMODIFIED b\nBOOKMARK 77\nDELETED a\nERROR 410\n";

START_TEST(test_watch_every_split)
{
	size_t n = strlen(stream);
	for (size_t k = 0; k <= n; k++) {
		for (size_t j = k; j <= n; j += 7) {
			struct seen s;
			struct kube_watchbuf w;
			buf_init(&s.log, 0);
			kube_watchbuf_init(&w, 0, on_event, &s);
			ck_assert_int_eq(kube_watchbuf_feed(&w, stream, k, err, sizeof(err)), 0);
			ck_assert_int_eq(kube_watchbuf_feed(&w, stream + k, j - k, err, sizeof(err)), 0);
			ck_assert_int_eq(kube_watchbuf_feed(&w, stream + j, n - j, err, sizeof(err)), 0);
			ck_assert_msg(str_eq(s.log.data, stream_want), "split %zu/%zu:\n%s", k, j,
				      s.log.data);
			kube_watchbuf_free(&w);
			buf_free(&s.log);
		}
	}
	/* One byte at a time; then all in one chunk. */
	struct seen s;
	struct kube_watchbuf w;
	buf_init(&s.log, 0);
	kube_watchbuf_init(&w, 0, on_event, &s);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(kube_watchbuf_feed(&w, stream + i, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(kube_watchbuf_feed(&w, stream, n, err, sizeof(err)), 0);
	ck_assert_int_eq(kube_watchbuf_feed(&w, "", 0, err, sizeof(err)), 0);
	char *want = xasprintf("%s%s", stream_want, stream_want);
	ck_assert_str_eq(s.log.data, want);
	free(want);
	/* An incomplete last event is held, not delivered. */
	ck_assert_int_eq(kube_watchbuf_feed(&w, stream, 30, err, sizeof(err)), 0);
	ck_assert_uint_eq(w.len, 30);
	kube_watchbuf_free(&w);
	kube_watchbuf_free(NULL);
	buf_free(&s.log);
}
END_TEST

static int feed_one(size_t max, const char *data, struct seen *s)
{
	struct kube_watchbuf w;
	kube_watchbuf_init(&w, max, on_event, s);
	err[0] = '\0';
	int rc = kube_watchbuf_feed(&w, data, strlen(data), err, sizeof(err));
	kube_watchbuf_free(&w);
	return rc;
}

START_TEST(test_watch_errors)
{
	struct seen s;
	buf_init(&s.log, 0);
	const char *ev = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"abc\"}}}";
	size_t n = strlen(ev);
	char *line = xasprintf("%s\n", ev);
	/* Exactly max_event bytes is an event; one more is not. */
	ck_assert_int_eq(feed_one(n, line, &s), 0);
	ck_assert_str_eq(s.log.data, "ADDED abc\n");
	ck_assert_int_eq(feed_one(n - 1, line, &s), -EMSGSIZE);
	ck_assert_ptr_nonnull(strstr(err, "longer than"));
	/* ... also when it never ends and arrives in pieces. */
	struct kube_watchbuf w;
	kube_watchbuf_init(&w, 64, on_event, &s);
	int rc = 0;
	for (int i = 0; i < 100 && rc == 0; i++)
		rc = kube_watchbuf_feed(&w, "xxxxxxxxxx", 10, err, sizeof(err));
	ck_assert_int_eq(rc, -EMSGSIZE);
	ck_assert_uint_le(w.cap, 64);
	kube_watchbuf_free(&w);
	free(line);

	static const char *const bad[] = {
		"{\"type\":\"ADDED\",\"object\":{}\n",             /* truncated JSON */
		"{\"type\":\"ADDED\",\"object\":{}} trailing\n",   /* garbage after it */
		"not json\n",
		"[1,2]\n",
		"{\"type\":\"ADDED\"}\n",                          /* no object */
		"{\"type\":\"ADDED\",\"object\":[]}\n",            /* object not a mapping */
		"{\"type\":\"RENAMED\",\"object\":{}}\n",          /* unknown type */
		"{\"type\":7,\"object\":{}}\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_msg(feed_one(0, bad[i], &s) == -EBADMSG, "accepted %s", bad[i]);
		ck_assert(err[0]);
	}
	/* A NUL byte inside a line. */
	kube_watchbuf_init(&w, 0, on_event, &s);
	ck_assert_int_eq(kube_watchbuf_feed(&w, "{\"type\":\"ADDED\"\0}\n", 18, err, sizeof(err)),
			 -EBADMSG);
	kube_watchbuf_free(&w);
	/* Events before a bad line are delivered. */
	buf_reset(&s.log);
	ck_assert_int_eq(feed_one(0, "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"z\"}}}\n{bad\n", &s),
			 -EBADMSG);
	ck_assert_str_eq(s.log.data, "DELETED z\n");
	buf_free(&s.log);
	/* Without a callback, events are checked and dropped. */
	kube_watchbuf_init(&w, 0, NULL, NULL);
	ck_assert_int_eq(kube_watchbuf_feed(&w, stream, strlen(stream), err, sizeof(err)), 0);
	kube_watchbuf_free(&w);
}
END_TEST

/* ---- informers (no server) ------------------------------------------------- */

static int count_cb(void *ctx, json_object *obj)
{
	int *n = ctx;
	(void)obj;
	return ++*n == 2 ? 42 : 0;
}

static json_object *task(const char *ns, const char *name, const char *rv, const char *phase)
{
	char *s = xasprintf("{\"metadata\":{\"namespace\":\"%s\",\"name\":\"%s\","
			    "\"resourceVersion\":\"%s\"},\"status\":{\"phase\":\"%s\"}}",
			    ns, name, rv, phase);
	json_object *o = json_tokener_parse(s);
	free(s);
	return o;
}

static const char *phase_of(json_object *o)
{
	json_object *st = NULL, *p = NULL;
	if (!o || !json_object_object_get_ex(o, "status", &st) ||
	    !json_object_object_get_ex(st, "phase", &p))
		return NULL;
	return json_object_get_string(p);
}

static int events_seen;

static void on_change(void *ctx, struct kube_informer *inf, enum kube_event_type type,
		      json_object *obj)
{
	(void)ctx;
	(void)inf;
	(void)type;
	(void)obj;
	events_seen++;
}

START_TEST(test_informer_cache_and_backoff)
{
	struct kube_config *cfg = cfg_closed_port();
	struct kube_client *c = NULL;
	ck_assert_int_eq(kube_client_new(cfg, NULL, &c, err, sizeof(err)), 0);
	kube_config_free(cfg);
	struct kube_informer *inf = kube_informer_new(c, &KUBE_TASKS, NULL, "app=x", on_change, NULL);
	ck_assert_ptr_nonnull(inf);
	ck_assert(!kube_informer_synced(inf));
	ck_assert_uint_eq(kube_informer_count(inf), 0);

	/* The cache keeps the newest resourceVersion. */
	json_object *t = task("a", "t1", "10", "Running");
	kube_informer_store(inf, t);
	json_object_put(t);
	t = task("a", "t1", "9", "Pending");
	kube_informer_store(inf, t); /* older: ignored */
	json_object_put(t);
	ck_assert_str_eq(phase_of(kube_informer_get(inf, "a", "t1")), "Running");
	t = task("a", "t1", "11", "Succeeded");
	kube_informer_store(inf, t);
	json_object_put(t); /* stored as a copy */
	ck_assert_str_eq(phase_of(kube_informer_get(inf, "a", "t1")), "Succeeded");
	t = task("b", "t1", "3", "Queued");
	kube_informer_store(inf, t);
	json_object_put(t);
	ck_assert_uint_eq(kube_informer_count(inf), 2);
	ck_assert_str_eq(phase_of(kube_informer_get(inf, "b", "t1")), "Queued");
	/* Taken, not copied: the cache holds that very object, trimmed;
	 * an older one is still ignored. */
	t = task("b", "t1", "4", "Running");
	json_object_object_add(json_object_object_get(t, "metadata"), "managedFields",
			       json_object_new_array());
	kube_informer_take(inf, t);
	ck_assert_ptr_eq(kube_informer_get(inf, "b", "t1"), t);
	json_object *tmd = json_object_object_get(t, "metadata");
	ck_assert(!json_object_object_get_ex(tmd, "managedFields", NULL));
	json_object_put(t); /* the cache's reference remains */
	ck_assert_str_eq(phase_of(kube_informer_get(inf, "b", "t1")), "Running");
	t = task("b", "t1", "2", "Failed");
	kube_informer_take(inf, t); /* older: ignored */
	json_object_put(t);
	ck_assert_str_eq(phase_of(kube_informer_get(inf, "b", "t1")), "Running");
	ck_assert_uint_eq(kube_informer_count(inf), 2);
	ck_assert_ptr_null(kube_informer_get(inf, "c", "t1"));
	ck_assert_ptr_null(kube_informer_get(inf, "a", NULL));
	kube_informer_store(inf, NULL);
	t = json_tokener_parse("{\"metadata\":{}}");
	kube_informer_store(inf, t); /* no name: ignored */
	json_object_put(t);
	int n = 0;
	ck_assert_int_eq(kube_informer_foreach(inf, count_cb, &n), 42);
	ck_assert_int_eq(n, 2);

	/* A server that is not there: no events, retried with backoff,
	 * counted; poll returns after its timeout. */
	struct kube_informer *infs[] = { inf };
	int64_t t0 = now_mono_ms();
	ck_assert_int_eq(kube_informers_poll(infs, 1, 700), 0);
	ck_assert_int_ge(now_mono_ms() - t0, 650);
	ck_assert(!kube_informer_synced(inf));
	ck_assert_int_eq(events_seen, 0);
	/* Tried at 0 and 500 ms (the first backoff step), then waiting 1 s:
	 * never more than twice; each failure counted and retried. */
	ck_assert_uint_ge(kube_client_errors(c), 1);
	ck_assert_uint_le(kube_client_errors(c), 2);
	ck_assert_uint_eq(kube_client_retries(c), kube_client_errors(c));
	ck_assert_uint_eq(kube_informer_relists(inf), 0);
	ck_assert_uint_eq(kube_informer_count(inf), 2); /* the cache is kept */
	ck_assert_int_eq(kube_informers_poll(NULL, 1, 0), -EINVAL);
	ck_assert_int_eq(kube_informers_poll(infs, 1, -1), -EINVAL);
	struct kube_informer *none[] = { NULL };
	ck_assert_int_eq(kube_informers_poll(none, 1, 0), -EINVAL);
	ck_assert_int_eq(kube_informers_poll(NULL, 0, 0), 0);
	/* A field selector: copied, replaced, cleared; NULL-safe. */
	char sel[] = "metadata.name=t1";
	kube_informer_set_field_selector(inf, sel);
	sel[0] = 'X';
	kube_informer_set_field_selector(inf, "metadata.name=t2");
	kube_informer_set_field_selector(inf, "");
	kube_informer_set_field_selector(inf, "metadata.name=t3");
	kube_informer_set_field_selector(NULL, "metadata.name=t1");
	kube_informer_free(inf);
	kube_informer_free(NULL);
	ck_assert_ptr_null(kube_informer_new(NULL, &KUBE_TASKS, NULL, NULL, NULL, NULL));
	kube_client_free(c);
}
END_TEST

/* A compact cache: what `make` returns is kept, the newest version wins,
 * the JSON is never kept nor changed. */
struct phase_only {
	struct kube_compact c;
	char rv[16], phase[16];
};

static int made;

static struct kube_compact *make_phase(json_object *obj)
{
	struct phase_only *p = xcalloc(1, sizeof(*p));
	json_object *md = json_object_object_get(obj, "metadata");
	snprintf(p->rv, sizeof(p->rv), "%s", json_object_get_string(json_object_object_get(md, "resourceVersion")));
	snprintf(p->phase, sizeof(p->phase), "%s", phase_of(obj));
	p->c.rv = p->rv;
	made++;
	return &p->c;
}

static const char *compact_phase(struct kube_informer *inf, const char *ns, const char *name)
{
	const struct kube_compact *c = kube_informer_get_compact(inf, ns, name);
	return c ? ((const struct phase_only *)c)->phase : NULL;
}

static int count_compact(void *ctx, const struct kube_compact *c)
{
	ck_assert_ptr_nonnull(c);
	++*(int *)ctx;
	return 0;
}

START_TEST(test_informer_compact_cache)
{
	struct kube_config *cfg = cfg_closed_port();
	struct kube_client *c = NULL;
	ck_assert_int_eq(kube_client_new(cfg, NULL, &c, err, sizeof(err)), 0);
	kube_config_free(cfg);
	struct kube_informer *inf = kube_informer_new(c, &KUBE_JOBS, NULL, NULL, on_change, NULL);
	kube_informer_set_compact(inf, make_phase, NULL);
	json_object *t = task("a", "j1", "10", "Running");
	json_object_object_add(json_object_object_get(t, "metadata"), "managedFields",
			       json_object_new_array());
	ck_assert(kube_informer_take(inf, t));
	/* the JSON is left as it was, and not what the cache holds */
	ck_assert(json_object_object_get_ex(json_object_object_get(t, "metadata"), "managedFields", NULL));
	ck_assert_int_eq(json_object_put(t), 1); /* the last reference: the cache kept none */
	ck_assert_str_eq(compact_phase(inf, "a", "j1"), "Running");
	ck_assert_ptr_null(kube_informer_get(inf, "a", "j1")); /* no JSON to read */
	t = task("a", "j1", "9", "Pending");
	ck_assert(!kube_informer_take(inf, t)); /* older: ignored */
	kube_informer_store(inf, t);
	json_object_put(t);
	ck_assert_str_eq(compact_phase(inf, "a", "j1"), "Running");
	t = task("a", "j1", "11", "Succeeded");
	kube_informer_store(inf, t);
	json_object_put(t);
	ck_assert_str_eq(compact_phase(inf, "a", "j1"), "Succeeded");
	t = task("b", "j1", "3", "Queued");
	ck_assert(kube_informer_take(inf, t));
	json_object_put(t);
	ck_assert_int_eq(made, 3);
	ck_assert_uint_eq(kube_informer_count(inf), 2);
	ck_assert_ptr_null(compact_phase(inf, "c", "j1"));
	int n = 0;
	ck_assert_int_eq(kube_informer_foreach_compact(inf, count_compact, &n), 0);
	ck_assert_int_eq(n, 2);
	n = 0;
	ck_assert_int_eq(kube_informer_foreach(inf, count_cb, &n), 0); /* JSON: none */
	ck_assert_int_eq(n, 0);
	kube_informer_free(inf); /* frees the compact forms (valgrind, ASan) */
	kube_client_free(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kube");
	TCase *t = tcase_create("config");
	tcase_add_test(t, test_config_current_context);
	tcase_add_test(t, test_config_named_context_files);
	tcase_add_test(t, test_config_refused);
	tcase_add_test(t, test_config_missing);
	tcase_add_test(t, test_config_malformed);
	tcase_add_test(t, test_config_load);
	suite_add_tcase(s, t);
	t = tcase_create("client");
	tcase_add_test(t, test_client_errors_no_token);
	tcase_add_test(t, test_paths);
	tcase_add_test(t, test_informer_cache_and_backoff);
	tcase_add_test(t, test_informer_compact_cache);
	tcase_add_test(t, test_stream);
	tcase_add_test(t, test_get_log_late);
	tcase_set_timeout(t, 30);
	suite_add_tcase(s, t);
	t = tcase_create("watch");
	tcase_add_test(t, test_watch_every_split);
	tcase_add_test(t, test_watch_errors);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	log_setup(LOG_ERR, LOG_FORMAT_KV);
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
