/* SPDX-License-Identifier: MIT */
/*
 * kube/client.c - the lean Kubernetes API client declared in kube/client.h.
 *
 *  - kubeconfig: parsed with manifest_parse() (YAML or JSON, bounded),
 *    then only the fields the client supports are read; the parsed tree
 *    has its strings zeroed before it is freed (it held credentials).
 *  - requests: one curl easy handle per client, reset and set up for
 *    each request (the connection is kept), body bounded by kube_limits.
 *  - streams: a handle and a multi handle of their own per kube_stream()
 *    (so its callbacks may use the client's handle), driven with
 *    curl_multi_poll() in short waits so that the stop flag is seen;
 *    the write callback only buffers (pausing when full), data is handed
 *    on after curl_multi_perform() returns.
 *  - informers: one curl multi handle for the whole process (created
 *    with the first informer, released with the last).  Write callbacks
 *    only buffer; events are framed and delivered after
 *    curl_multi_perform() returns, and only for the informers passed to
 *    kube_informers_poll() (the others' streams pause when their buffer
 *    is full), so callbacks never run inside libcurl.
 *
 * Credentials: the bearer token goes into one "Authorization" header
 * line, zeroed after use; the client key is handed to libcurl as a blob
 * that it does not copy (CURL_BLOB_NOCOPY) and zeroed when the client is
 * freed.  Not thread-safe: use a client and the informers from one thread.
 */
#include "config.h"
#include "kube/client.h"
#include "base/headtail.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/manifest.h"
#include "model/model.h"
#include "base/util.h"

#define KUBE_MAX_CONFIG_BYTES ((size_t)1 << 20)
#define KUBE_MAX_TOKEN_BYTES ((size_t)64 << 10)
#define KUBE_DEFAULT_MAX_RESPONSE ((size_t)64 << 20)
#define KUBE_DEFAULT_MAX_EVENT ((size_t)16 << 20)
#define KUBE_DEFAULT_TIMEOUT_S 30L
#define KUBE_DEFAULT_CONNECT_TIMEOUT_S 10L
#define KUBE_JSON_DEPTH 128
#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define KUBE_CONFLICT_RETRIES 5
#define KUBE_LIST_PAGE 500
#define KUBE_WATCH_TIMEOUT_S 300L /* plus 0..59 s of jitter */
#define KUBE_BACKOFF_MIN_MS 500L
#define KUBE_BACKOFF_MAX_MS 30000L
#define KUBE_STATUS_BODY_MAX ((size_t)64 << 10) /* a failed watch's Status */
#define KUBE_PENDING_MAX ((size_t)256 << 10)    /* unframed watch bytes before pausing */
#define KUBE_STREAM_MAX ((size_t)64 << 10)      /* stream bytes before pausing */
#define KUBE_STREAM_TICK_MS 1000                /* kube_stream's (NULL, 0) calls */
#define KUBE_STREAM_POLL_MS 200                 /* how soon *stop is noticed */

const struct kube_resource KUBE_TASKS = { "/apis/paddock.dev/v1alpha1", "tasks", true };
const struct kube_resource KUBE_AGENTS = { "/apis/paddock.dev/v1alpha1", "agents", true };
const struct kube_resource KUBE_SPAWNERS = { "/apis/paddock.dev/v1alpha1", "spawners", true };
const struct kube_resource KUBE_BUDGETS = { "/apis/paddock.dev/v1alpha1", "budgets", true };
const struct kube_resource KUBE_JOBS = { "/apis/batch/v1", "jobs", true };
const struct kube_resource KUBE_PODS = { "/api/v1", "pods", true };
const struct kube_resource KUBE_CONFIGMAPS = { "/api/v1", "configmaps", true };
const struct kube_resource KUBE_NETWORKPOLICIES = { "/apis/networking.k8s.io/v1", "networkpolicies", true };
const struct kube_resource KUBE_SECRETS = { "/api/v1", "secrets", true };
const struct kube_resource KUBE_LEASES = { "/apis/coordination.k8s.io/v1", "leases", true };
const struct kube_resource KUBE_NAMESPACES = { "/api/v1", "namespaces", false };
const struct kube_resource KUBE_EVENTS = { "/api/v1", "events", true };

/* ---- small JSON helpers ---------------------------------------------- */

/* The string member `key` of `o`, or NULL (absent, not a string, empty). */
static const char *jstr(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	const char *s = json_object_get_string(v);
	return *s ? s : NULL;
}

static const char *meta_str(json_object *o, const char *key)
{
	json_object *m = NULL;
	return json_object_object_get_ex(o, "metadata", &m) ? jstr(m, key) : NULL;
}

/* One JSON value filling all of s[0..len) (whitespace around it allowed).
 * -EBADMSG when it is not. */
static int kube_json_parse(const char *s, size_t len, json_object **out)
{
	if (len > INT_MAX)
		return -E2BIG;
	if (memchr(s, '\0', len))
		return -EBADMSG;
	struct json_tokener *tok = json_tokener_new_ex(KUBE_JSON_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_object *j = json_tokener_parse_ex(tok, s, (int)len);
	int rc = -EBADMSG;
	if (j && json_tokener_get_error(tok) == json_tokener_success) {
		size_t end = json_tokener_get_parse_end(tok);
		while (end < len && strchr(" \t\r\n", s[end]))
			end++;
		if (end == len) {
			*out = j;
			j = NULL;
			rc = 0;
		}
	}
	json_object_put(j);
	json_tokener_free(tok);
	return rc;
}

/* Zero every string of a tree before it is freed (it held credentials). */
static void json_scrub(json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_string:
		explicit_bzero((char *)json_object_get_string(o), (size_t)json_object_get_string_len(o));
		break;
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			json_scrub(json_object_array_get_idx(o, i));
		break;
	case json_type_object: {
		json_object_object_foreach(o, k, v)
		{
			(void)k;
			json_scrub(v);
		}
		break;
	}
	default:
		break;
	}
}

/* "CODE Reason: message" from a Status object (which may be NULL). */
static void status_text(json_object *st, long code, char *dst, size_t n)
{
	const char *reason = jstr(st, "reason"), *msg = jstr(st, "message");
	snprintf(dst, n, "%ld%s%s%s%.300s", code, reason ? " " : "", reason ? reason : "",
		 msg ? ": " : "", msg ? msg : "");
}

/* ---- configuration ---------------------------------------------------- */

static void config_clear(struct kube_config *c)
{
	free(c->server);
	free(c->namespace);
	free(c->context);
	free(c->ca_file);
	free(c->ca_pem);
	free(c->cert_pem);
	if (c->key_pem)
		secure_free(c->key_pem, strlen(c->key_pem));
	free(c->cert_file);
	free(c->key_file);
	if (c->token)
		secure_free(c->token, strlen(c->token));
	free(c->token_file);
	memset(c, 0, sizeof(*c));
}

void kube_config_free(struct kube_config *c)
{
	if (!c)
		return;
	config_clear(c);
	free(c);
}

/* The string `key` of `o` (NULL when absent or empty); -EINVAL when it is
 * not a string.  The message names the field, never the value. */
static int cfg_str(json_object *o, const char *field, const char *key, const char **out,
		   char *err, size_t errlen)
{
	json_object *v = NULL;
	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return errf(err, errlen, -EINVAL, "%s%s%s: must be a string: quote it", field,
			    *field ? "." : "", key);
	const char *s = json_object_get_string(v);
	*out = *s ? s : NULL;
	return 0;
}

static int cfg_bool(json_object *o, const char *field, const char *key, bool *out, char *err,
		    size_t errlen)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return errf(err, errlen, -EINVAL, "%s.%s: must be true or false", field, key);
	*out = json_object_get_boolean(v);
	return 0;
}

/* A file path, resolved against base_dir when relative.  Owned *out. */
static int cfg_path(json_object *o, const char *field, const char *key, const char *base_dir,
		    char **out, char *err, size_t errlen)
{
	const char *s;
	int rc = cfg_str(o, field, key, &s, err, errlen);
	if (rc < 0 || !s)
		return rc;
	*out = (s[0] != '/' && base_dir && *base_dir) ? xasprintf("%s/%s", base_dir, s) : xstrdup(s);
	return 0;
}

/* A base64 PEM blob (whitespace ignored).  Owned *out. */
static int cfg_pem(json_object *o, const char *field, const char *key, char **out, char *err,
		   size_t errlen)
{
	const char *s;
	int rc = cfg_str(o, field, key, &s, err, errlen);
	if (rc < 0 || !s)
		return rc;
	size_t n = strlen(s), m = 0;
	char *clean = xmalloc(n + 1), *pem = NULL;
	for (size_t i = 0; i < n; i++)
		if (!strchr(" \t\r\n", s[i]))
			clean[m++] = s[i];
	size_t len = 0;
	rc = model_b64_decode(clean, m, &pem, &len);
	secure_free(clean, n + 1);
	if (rc < 0)
		return errf(err, errlen, -EINVAL,
			    "%s.%s: not valid base64: use the base64 of the PEM file (base64 -w0 FILE)",
			    field, key);
	if (strlen(pem) != len || !strstr(pem, "-----BEGIN ")) {
		secure_free(pem, len + 1);
		return errf(err, errlen, -EINVAL,
			    "%s.%s: does not decode to PEM text (-----BEGIN ...): use the base64 of the PEM file",
			    field, key);
	}
	*out = pem;
	return 0;
}

static int cfg_refuse(json_object *o, const char *field, const char *key, const char *why,
		      char *err, size_t errlen)
{
	if (json_object_object_get_ex(o, key, NULL))
		return errf(err, errlen, -EINVAL, "%s.%s: %s", field, key, why);
	return 0;
}

/* The `inner` mapping of the element of list `key` whose name is `name`
 * ("contexts"/"context"); *field gets its path ("contexts[2].context").
 * `ref` names the field that asked for it, for the message. */
static int cfg_find(json_object *root, const char *key, const char *inner, const char *name,
		    const char *ref, json_object **out, char *field, size_t fieldlen, char *err,
		    size_t errlen)
{
	json_object *list = NULL;
	if (json_object_object_get_ex(root, key, &list) && list &&
	    !json_object_is_type(list, json_type_array))
		return errf(err, errlen, -EINVAL, "%s: must be a list of {name, %s}", key, inner);
	size_t n = list ? json_object_array_length(list) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(list, i), *v = NULL;
		if (!json_object_is_type(e, json_type_object))
			return errf(err, errlen, -EINVAL, "%s[%zu]: must be a mapping with name and %s",
				    key, i, inner);
		if (!str_eq(jstr(e, "name"), name))
			continue;
		snprintf(field, fieldlen, "%s[%zu].%s", key, i, inner);
		if (!json_object_object_get_ex(e, inner, &v) || !v) {
			if (strcmp(inner, "user") == 0) {
				v = NULL; /* a user without credentials */
			} else {
				return errf(err, errlen, -EINVAL, "%s: missing", field);
			}
		} else if (!json_object_is_type(v, json_type_object)) {
			return errf(err, errlen, -EINVAL, "%s: must be a mapping", field);
		}
		*out = v;
		return 0;
	}
	return errf(err, errlen, -EINVAL, "%s: no %s named \"%.100s\" in %s: %s", ref, inner, name,
		    key,
		    strcmp(key, "contexts") == 0 ? "list them with kubectl config get-contexts"
						 : "fix the name or add the entry");
}

static int cfg_cluster(json_object *cl, const char *f, const char *base_dir, struct kube_config *c,
		       char *err, size_t errlen)
{
	const char *server;
	int rc;
	if ((rc = cfg_str(cl, f, "server", &server, err, errlen)) < 0)
		return rc;
	if (!server)
		return errf(err, errlen, -EINVAL, "%s.server: missing: set the API server URL (https://HOST:PORT)", f);
	if (!str_startswith(server, "https://") && !str_startswith(server, "http://"))
		return errf(err, errlen, -EINVAL, "%s.server: \"%.100s\" is not an http(s) URL: use https://HOST:PORT",
			    f, server);
	size_t n = strlen(server);
	while (n > 8 && server[n - 1] == '/')
		n--;
	c->server = xstrndup(server, n);
	if ((rc = cfg_refuse(cl, f, "proxy-url", "not supported: set HTTPS_PROXY in the environment instead",
			     err, errlen)) < 0 ||
	    (rc = cfg_refuse(cl, f, "tls-server-name",
			     "not supported: use a server URL whose host name the certificate names",
			     err, errlen)) < 0 ||
	    (rc = cfg_bool(cl, f, "insecure-skip-tls-verify", &c->insecure, err, errlen)) < 0 ||
	    (rc = cfg_pem(cl, f, "certificate-authority-data", &c->ca_pem, err, errlen)) < 0 ||
	    (rc = cfg_path(cl, f, "certificate-authority", base_dir, &c->ca_file, err, errlen)) < 0)
		return rc;
	if (c->ca_pem && c->ca_file)
		return errf(err, errlen, -EINVAL,
			    "%s.certificate-authority: set together with certificate-authority-data: remove one", f);
	if (c->insecure && (c->ca_pem || c->ca_file))
		return errf(err, errlen, -EINVAL,
			    "%s.insecure-skip-tls-verify: cannot be combined with a certificate authority: remove one", f);
	return 0;
}

static int cfg_user(json_object *u, const char *f, const char *base_dir, struct kube_config *c,
		    char *err, size_t errlen)
{
	static const char *const no_plugin =
		"credential plugins are not supported: use a token, tokenFile or client "
		"certificate (e.g. token: the output of kubectl create token NAME)";
	const char *token;
	int rc;
	if ((rc = cfg_refuse(u, f, "exec", no_plugin, err, errlen)) < 0 ||
	    (rc = cfg_refuse(u, f, "auth-provider", no_plugin, err, errlen)) < 0 ||
	    (rc = cfg_refuse(u, f, "username", "basic authentication is not supported: use a token or client certificate",
			     err, errlen)) < 0 ||
	    (rc = cfg_refuse(u, f, "as", "impersonation is not supported: remove it", err, errlen)) < 0 ||
	    (rc = cfg_str(u, f, "token", &token, err, errlen)) < 0 ||
	    (rc = cfg_path(u, f, "tokenFile", base_dir, &c->token_file, err, errlen)) < 0 ||
	    (rc = cfg_pem(u, f, "client-certificate-data", &c->cert_pem, err, errlen)) < 0 ||
	    (rc = cfg_path(u, f, "client-certificate", base_dir, &c->cert_file, err, errlen)) < 0 ||
	    (rc = cfg_pem(u, f, "client-key-data", &c->key_pem, err, errlen)) < 0 ||
	    (rc = cfg_path(u, f, "client-key", base_dir, &c->key_file, err, errlen)) < 0)
		return rc;
	if (token) {
		for (const char *p = token; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return errf(err, errlen, -EINVAL,
					    "%s.token: contains a line break or control character: put the token on one line",
					    f);
		c->token = xstrdup(token);
	}
	if (c->cert_pem && c->cert_file)
		return errf(err, errlen, -EINVAL,
			    "%s.client-certificate: set together with client-certificate-data: remove one", f);
	if (c->key_pem && c->key_file)
		return errf(err, errlen, -EINVAL, "%s.client-key: set together with client-key-data: remove one", f);
	bool cert = c->cert_pem || c->cert_file, key = c->key_pem || c->key_file;
	if (cert && !key)
		return errf(err, errlen, -EINVAL, "%s.client-key: missing: a client certificate needs its key (client-key or client-key-data)", f);
	if (key && !cert)
		return errf(err, errlen, -EINVAL, "%s.client-certificate: missing: a client key needs its certificate (client-certificate or client-certificate-data)", f);
	return 0;
}

static int cfg_from_doc(json_object *root, const char *context, const char *base_dir,
			struct kube_config **out, char *err, size_t errlen)
{
	char cf[64], lf[64], uf[64], ref[96];
	json_object *ctx = NULL, *cl = NULL, *user = NULL;
	const char *ref0 = "context", *cname, *uname, *ns;
	int rc;

	if (!json_object_is_type(root, json_type_object))
		return errf(err, errlen, -EINVAL, "kubeconfig: must be a mapping (apiVersion: v1, kind: Config)");
	if (!context || !*context) {
		if ((rc = cfg_str(root, "", "current-context", &context, err, errlen)) < 0)
			return rc;
		if (!context)
			return errf(err, errlen, -EINVAL,
				    "current-context: not set: name a context, or run kubectl config use-context NAME");
		ref0 = "current-context";
	}
	if ((rc = cfg_find(root, "contexts", "context", context, ref0, &ctx, cf, sizeof(cf), err,
			   errlen)) < 0 ||
	    (rc = cfg_str(ctx, cf, "cluster", &cname, err, errlen)) < 0 ||
	    (rc = cfg_str(ctx, cf, "user", &uname, err, errlen)) < 0 ||
	    (rc = cfg_str(ctx, cf, "namespace", &ns, err, errlen)) < 0)
		return rc;
	if (!cname)
		return errf(err, errlen, -EINVAL, "%s.cluster: missing: name the cluster of this context", cf);
	snprintf(ref, sizeof(ref), "%s.cluster", cf);
	if ((rc = cfg_find(root, "clusters", "cluster", cname, ref, &cl, lf, sizeof(lf), err, errlen)) < 0)
		return rc;
	snprintf(ref, sizeof(ref), "%s.user", cf);
	if (uname &&
	    (rc = cfg_find(root, "users", "user", uname, ref, &user, uf, sizeof(uf), err, errlen)) < 0)
		return rc;

	struct kube_config *c = xcalloc(1, sizeof(*c));
	c->context = xstrdup(context);
	c->namespace = xstrdup(ns);
	rc = cfg_cluster(cl, lf, base_dir, c, err, errlen);
	if (rc == 0 && user)
		rc = cfg_user(user, uf, base_dir, c, err, errlen);
	if (rc < 0) {
		kube_config_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* manifest_parse quotes the offending scalar in two of its messages; in
 * a kubeconfig that scalar may be a credential, so it is cut out. */
static void redact_scalar(char *err, size_t errlen)
{
	if (!strstr(err, " is out of range") && !strstr(err, " is not a valid !!"))
		return;
	char *m = strstr(err, "value \"");
	if (!m)
		m = strstr(err, "number ");
	if (m)
		snprintf(m, errlen - (size_t)(m - err), "invalid scalar (value not shown): quote it");
}

/* Parse; `name` labels YAML errors, `prefix` also prefixes field errors. */
static int cfg_parse(const char *name, bool prefix, const char *doc, size_t len,
		     const char *context, const char *base_dir, struct kube_config **out,
		     char *err, size_t errlen)
{
	struct manifest_limits lim = { .max_bytes = KUBE_MAX_CONFIG_BYTES };
	json_object **docs = NULL;
	size_t n = 0;
	int rc = manifest_parse(name, doc, len, &lim, &docs, &n, err, errlen);
	if (rc < 0) {
		redact_scalar(err, errlen);
		return rc;
	}
	if (n != 1) {
		rc = errf(err, errlen, -EINVAL, "%s: expected one kubeconfig document, found %zu", name, n);
	} else {
		rc = cfg_from_doc(docs[0], context, base_dir, out, err, errlen);
		if (rc < 0 && prefix && err && errlen) {
			char *inner = xstrdup(err);
			errf(err, errlen, rc, "%s: %s", name, inner);
			free(inner);
		}
	}
	for (size_t i = 0; i < n; i++)
		json_scrub(docs[i]);
	manifest_docs_free(docs, n);
	return rc;
}

int kube_config_parse(const char *doc, size_t len, const char *context, const char *base_dir,
		      struct kube_config **out, char *err, size_t errlen)
{
	if ((!doc && len) || !out)
		return errf(err, errlen, -EINVAL, "kube_config_parse: missing argument");
	return cfg_parse("kubeconfig", false, doc ? doc : "", len, context, base_dir, out, err, errlen);
}

int kube_config_in_cluster(struct kube_config **out, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	if (!out)
		return errf(err, errlen, -EINVAL, "kube_config_in_cluster: missing argument");
	if (!host || !*host)
		return errf(err, errlen, -ENOENT, "not in a cluster: KUBERNETES_SERVICE_HOST is not set");
	if (!port || !*port)
		port = "443";
	if (strpbrk(host, "/@?#[] \t\r\n") || strspn(port, "0123456789") != strlen(port))
		return errf(err, errlen, -EINVAL,
			    "in-cluster: KUBERNETES_SERVICE_HOST/PORT \"%.64s\":\"%.16s\" is not a host and port",
			    host, port);
	if (access(KUBE_SA_DIR "/token", R_OK) != 0)
		return errf(err, errlen, -ENOENT,
			    "in-cluster: %s/token: %s: mount the service account token (automountServiceAccountToken: true)",
			    KUBE_SA_DIR, strerror(errno));
	struct kube_config *c = xcalloc(1, sizeof(*c));
	c->server = xasprintf(strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
	c->context = xstrdup("in-cluster");
	c->token_file = xstrdup(KUBE_SA_DIR "/token");
	if (access(KUBE_SA_DIR "/ca.crt", R_OK) == 0)
		c->ca_file = xstrdup(KUBE_SA_DIR "/ca.crt");
	char *ns = NULL;
	size_t len = 0;
	if (read_file(KUBE_SA_DIR "/namespace", 256, &ns, &len) == 0) {
		while (len && strchr(" \t\r\n", ns[len - 1]))
			ns[--len] = '\0';
		if (len)
			c->namespace = xstrdup(ns);
		free(ns);
	}
	*out = c;
	return 0;
}

int kube_config_load(const char *path, const char *context, struct kube_config **out, char *err,
		     size_t errlen)
{
	char *found = NULL, *data = NULL;
	size_t len = 0;
	int rc;
	if (!out)
		return errf(err, errlen, -EINVAL, "kube_config_load: missing argument");
	if (path && *path) {
		found = xstrdup(path);
	} else {
		const char *env = getenv("KUBECONFIG");
		for (const char *p = env; p && *p && !found;) {
			size_t n = strcspn(p, ":");
			char *one = xstrndup(p, n);
			if (n && access(one, F_OK) == 0)
				found = one;
			else
				free(one);
			p += n + (p[n] == ':');
		}
		const char *home = getenv("HOME");
		if (!found && home && *home) {
			found = xasprintf("%s/.kube/config", home);
			if (access(found, F_OK) != 0) {
				free(found);
				found = NULL;
			}
		}
		if (!found) {
			rc = kube_config_in_cluster(out, err, errlen);
			const char *h = getenv("KUBERNETES_SERVICE_HOST");
			if (rc == -ENOENT && !(h && *h))
				errf(err, errlen, rc,
				     "no Kubernetes configuration: %s~/.kube/config does not exist and not in a "
				     "cluster: set kubernetes.kubeconfig or KUBECONFIG",
				     env && *env ? "no KUBECONFIG entry exists, " : "");
			return rc;
		}
	}
	rc = read_file(found, KUBE_MAX_CONFIG_BYTES, &data, &len);
	if (rc == -E2BIG) {
		errf(err, errlen, rc, "%s: larger than %zu bytes: is this a kubeconfig?", found,
		     KUBE_MAX_CONFIG_BYTES);
	} else if (rc < 0) {
		errf(err, errlen, rc, "%s: %s: set kubernetes.kubeconfig or KUBECONFIG to a readable kubeconfig",
		     found, strerror(-rc));
	} else {
		const char *slash = strrchr(found, '/');
		char *base = slash ? xstrndup(found, (size_t)(slash - found) + (slash == found)) : NULL;
		rc = cfg_parse(found, true, data, len, context, base, out, err, errlen);
		free(base);
		secure_free(data, len);
	}
	free(found);
	return rc;
}

/* ---- client ------------------------------------------------------------ */

struct kube_client {
	struct kube_config cfg; /* owned copies */
	struct kube_limits lim;
	CURL *h;                /* synchronous requests; keeps the connection */
	unsigned long errors, retries;
	int max_inflight;       /* kube_submit(): requests at once (KUBE_INFLIGHT_DEFAULT) */
	int inflight;           /* of this client, on the informers' multi handle */
	bool submitted;         /* kube_submit() was used: its requests are in the process's list */
};

static pthread_once_t kube_once = PTHREAD_ONCE_INIT;
static CURLcode kube_init_rc = CURLE_FAILED_INIT;

static void kube_global_init(void)
{
	kube_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int check_file(const char *what, const char *path, char *err, size_t errlen)
{
	if (path && access(path, R_OK) != 0)
		return errf(err, errlen, -errno, "kubernetes: %s %s: %s: fix the path in the kubeconfig",
			    what, path, strerror(errno));
	return 0;
}

int kube_client_new(const struct kube_config *cfg, const struct kube_limits *lim,
		    struct kube_client **out, char *err, size_t errlen)
{
	int rc;
	if (!cfg || !out)
		return errf(err, errlen, -EINVAL, "kube_client_new: missing argument");
	if (!cfg->server || (!str_startswith(cfg->server, "https://") &&
			     !str_startswith(cfg->server, "http://")))
		return errf(err, errlen, -EINVAL, "kubernetes: server: missing or not an http(s) URL");
	if ((rc = check_file("certificate-authority", cfg->ca_file, err, errlen)) < 0 ||
	    (rc = check_file("client-certificate", cfg->cert_file, err, errlen)) < 0 ||
	    (rc = check_file("client-key", cfg->key_file, err, errlen)) < 0 ||
	    (rc = check_file("tokenFile", cfg->token_file, err, errlen)) < 0)
		return rc;
	for (const char *p = cfg->token; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return errf(err, errlen, -EINVAL,
				    "kubernetes: token: contains a line break or control character");
	if (!(cfg->cert_pem || cfg->cert_file) != !(cfg->key_pem || cfg->key_file))
		return errf(err, errlen, -EINVAL,
			    "kubernetes: a client certificate needs its key and a key its certificate");
	pthread_once(&kube_once, kube_global_init);
	if (kube_init_rc != CURLE_OK)
		return errf(err, errlen, -EIO, "kubernetes: libcurl initialisation failed");
	CURL *h = curl_easy_init();
	if (!h)
		return errf(err, errlen, -ENOMEM, "kubernetes: cannot create a curl handle");
	struct kube_client *c = xcalloc(1, sizeof(*c));
	c->h = h;
	c->cfg.server = xstrdup(cfg->server);
	c->cfg.namespace = xstrdup(cfg->namespace);
	c->cfg.context = xstrdup(cfg->context);
	c->cfg.ca_file = xstrdup(cfg->ca_file);
	c->cfg.ca_pem = xstrdup(cfg->ca_pem);
	c->cfg.cert_pem = xstrdup(cfg->cert_pem);
	c->cfg.key_pem = xstrdup(cfg->key_pem);
	c->cfg.cert_file = xstrdup(cfg->cert_file);
	c->cfg.key_file = xstrdup(cfg->key_file);
	c->cfg.token = xstrdup(cfg->token);
	c->cfg.token_file = xstrdup(cfg->token_file);
	c->cfg.insecure = cfg->insecure;
	if (lim)
		c->lim = *lim;
	if (!c->lim.max_response_bytes)
		c->lim.max_response_bytes = KUBE_DEFAULT_MAX_RESPONSE;
	if (!c->lim.max_event_bytes)
		c->lim.max_event_bytes = KUBE_DEFAULT_MAX_EVENT;
	if (c->lim.timeout_s <= 0)
		c->lim.timeout_s = KUBE_DEFAULT_TIMEOUT_S;
	if (c->lim.connect_timeout_s <= 0)
		c->lim.connect_timeout_s = KUBE_DEFAULT_CONNECT_TIMEOUT_S;
	c->max_inflight = KUBE_INFLIGHT_DEFAULT;
	*out = c;
	return 0;
}

static void kube_cancel_all(struct kube_client *c);

void kube_client_free(struct kube_client *c)
{
	if (!c)
		return;
	/* Only a client that submitted touches the process's request list:
	 * a thread's own client (kube/usage.c) never does. */
	if (c->submitted)
		kube_cancel_all(c);
	curl_easy_cleanup(c->h);
	config_clear(&c->cfg);
	free(c);
}

unsigned long kube_client_errors(const struct kube_client *c)
{
	return c ? c->errors : 0;
}

unsigned long kube_client_retries(const struct kube_client *c)
{
	return c ? c->retries : 0;
}

/* Header lines may hold the token: zero them before freeing. */
static void slist_free_secret(struct curl_slist *l)
{
	for (struct curl_slist *n = l; n; n = n->next)
		explicit_bzero(n->data, strlen(n->data));
	curl_slist_free_all(l);
}

/* "Authorization: Bearer ..." for the client, or NULL without a token;
 * the token file is read each time (projected tokens rotate).  Owned
 * *out: release with secure_free(). */
static int auth_header(const struct kube_client *c, char **out, char *err, size_t errlen)
{
	*out = NULL;
	if (c->cfg.token_file) {
		char *tok = NULL;
		size_t len = 0, n;
		int rc = read_file(c->cfg.token_file, KUBE_MAX_TOKEN_BYTES, &tok, &len);
		if (rc < 0)
			return errf(err, errlen, rc, "token file %s: %s", c->cfg.token_file,
				    rc == -E2BIG ? "larger than 64 KiB" : strerror(-rc));
		for (n = len; n && strchr(" \t\r\n", tok[n - 1]); n--)
			;
		bool ok = n > 0;
		for (size_t i = 0; i < n; i++)
			ok = ok && (unsigned char)tok[i] >= 0x20 && tok[i] != 0x7f;
		if (ok)
			*out = xasprintf("Authorization: Bearer %.*s", (int)n, tok);
		secure_free(tok, len);
		if (!ok)
			return errf(err, errlen, -EINVAL,
				    "token file %s: empty or not one line of text: write the bare token into it",
				    c->cfg.token_file);
	} else if (c->cfg.token) {
		*out = xasprintf("Authorization: Bearer %s", c->cfg.token);
	}
	return 0;
}

static struct curl_slist *slist_add(struct curl_slist *l, const char *s)
{
	struct curl_slist *n = curl_slist_append(l, s);
	if (!n) {
		slist_free_secret(l);
		return NULL;
	}
	return n;
}

/* Reset `h` and set it up for METHOD PATH on the client's server: TLS,
 * credentials, connect timeout, headers.  Owned *hdrs (free with
 * slist_free_secret() once the transfer is over). */
static int client_setup(struct kube_client *c, CURL *h, const char *method, const char *path,
			const char *accept, const char *ctype, struct curl_slist **hdrs, char *err,
			size_t errlen)
{
	char *auth = NULL, line[160];
	int rc = auth_header(c, &auth, err, errlen);
	if (rc < 0)
		return rc;
	struct curl_slist *l = NULL;
	snprintf(line, sizeof(line), "Accept: %s", accept);
	l = slist_add(l, line);
	if (l && ctype) {
		snprintf(line, sizeof(line), "Content-Type: %s", ctype);
		l = slist_add(l, line);
	}
	if (l && auth)
		l = slist_add(l, auth);
	if (auth)
		secure_free(auth, strlen(auth));
	if (!l)
		return errf(err, errlen, -ENOMEM, "%s %s: out of memory", method, path);

	curl_easy_reset(h);
	char *url = xasprintf("%s%s", c->cfg.server, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "paddock/" PACKAGE_VERSION);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->lim.connect_timeout_s);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (strcmp(method, "GET") == 0)
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	else
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	/* Blobs are not copied: they live in the client, which outlives h. */
	if (c->cfg.ca_pem) {
		struct curl_blob b = { c->cfg.ca_pem, strlen(c->cfg.ca_pem), CURL_BLOB_NOCOPY };
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
	} else if (c->cfg.ca_file) {
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cfg.ca_file);
	}
	if (c->cfg.cert_pem) {
		struct curl_blob b = { c->cfg.cert_pem, strlen(c->cfg.cert_pem), CURL_BLOB_NOCOPY };
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
	} else if (c->cfg.cert_file) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cfg.cert_file);
	}
	if (c->cfg.key_pem) {
		struct curl_blob b = { c->cfg.key_pem, strlen(c->cfg.key_pem), CURL_BLOB_NOCOPY };
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
	} else if (c->cfg.key_file) {
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->cfg.key_file);
	}
	curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
	curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	if (c->cfg.insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	*hdrs = l;
	return 0;
}

struct xfer {
	struct buf body;
	bool cut, truncate;
};

static size_t xfer_write(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct xfer *x = userdata;
	size_t n = size * nmemb;
	if (buf_append(&x->body, p, n) == 0)
		return n;
	if (x->truncate && x->body.len < x->body.cap)
		buf_append(&x->body, p, x->body.cap - x->body.len);
	x->cut = true;
	return 0; /* stops the transfer */
}

/* One synchronous request.  Returns the HTTP status (the body in *resp,
 * owned by the caller on success) or a negative errno with err set.
 * With `truncate`, a body over `max` is cut there and *cut set. */
static int client_perform(struct kube_client *c, const char *method, const char *path,
			  const char *data, size_t datalen, const char *accept, const char *ctype,
			  size_t max, bool truncate, struct buf *resp, bool *cut, char *err,
			  size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	char cerr[CURL_ERROR_SIZE] = "";
	struct xfer x = { .truncate = truncate };
	long code = 0;
	buf_init(&x.body, max);
	int rc = client_setup(c, c->h, method, path, accept, ctype, &hdrs, err, errlen);
	if (rc < 0) {
		c->errors++;
		return rc;
	}
	if (data) {
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)datalen);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, data);
	}
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, xfer_write);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT, c->lim.timeout_s);
	if (!truncate)
		curl_easy_setopt(c->h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	CURLcode cc = curl_easy_perform(c->h);
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, NULL);
	if (cc == CURLE_WRITE_ERROR && truncate && x.cut)
		cc = CURLE_OK;
	if (cc != CURLE_OK) {
		c->errors++;
		if (x.cut || cc == CURLE_FILESIZE_EXCEEDED)
			rc = errf(err, errlen, -E2BIG, "%s %s: response over %zu bytes", method, path, max);
		else if (cc == CURLE_OPERATION_TIMEDOUT)
			rc = errf(err, errlen, -ETIMEDOUT, "%s %s: timed out after %ld s", method, path,
				  c->lim.timeout_s);
		else
			rc = errf(err, errlen, -EIO, "%s %s: %s%s%s", method, path, curl_easy_strerror(cc),
				  cerr[0] ? ": " : "", cerr);
		buf_free(&x.body);
		goto out;
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 500)
		c->errors++;
	if (cut)
		*cut = x.cut;
	*resp = x.body;
	rc = (int)code;
out:
	slist_free_secret(hdrs);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
	return rc;
}

/* "METHOD PATH: CODE Reason: message".  The API server's message may
 * quote the request body (a decoding error does), so for a request that
 * sent a Secret only the code and reason are shown. */
static void request_error(const char *method, const char *path, bool secret, long code,
			  json_object *st, char *err, size_t errlen)
{
	char text[512];
	const char *reason = jstr(st, "reason");
	if (secret)
		snprintf(text, sizeof(text), "%ld%s%s (message not shown: it may quote Secret data)",
			 code, reason ? " " : "", reason ? reason : "");
	else
		status_text(st, code, text, sizeof(text));
	errf(err, errlen, 0, "%s %s: %s", method, path, text);
}

int kube_request(struct kube_client *c, const char *method, const char *path, json_object *body,
		 const char *content_type, json_object **out, char *err, size_t errlen)
{
	if (!c || !method || !path || path[0] != '/')
		return errf(err, errlen, -EINVAL, "kube_request: missing argument or path without '/'");
	const char *data = NULL;
	size_t dlen = 0;
	if (body)
		data = json_object_to_json_string_length(body, JSON_C_TO_STRING_PLAIN, &dlen);
	struct buf resp;
	int rc = client_perform(c, method, path, data, dlen, "application/json",
				body ? (content_type ? content_type : "application/json") : NULL,
				c->lim.max_response_bytes, false, &resp, NULL, err, errlen);
	if (rc < 0)
		return rc;
	json_object *j = NULL;
	if (resp.len && kube_json_parse(resp.data, resp.len, &j) < 0)
		j = NULL;
	buf_free(&resp);
	if (rc >= 400)
		request_error(method, path, body && strstr(path, "/secrets"), rc, j, err, errlen);
	if (out)
		*out = j;
	else
		json_object_put(j);
	return rc;
}

int kube_get_raw(struct kube_client *c, const char *path, size_t max, char **out, size_t *len,
		 bool *truncated, char *err, size_t errlen)
{
	if (!c || !path || path[0] != '/' || !out)
		return errf(err, errlen, -EINVAL, "kube_get_raw: missing argument or path without '/'");
	struct buf resp;
	bool cut = false;
	int rc = client_perform(c, "GET", path, NULL, 0, "*/*", NULL,
				max ? max : c->lim.max_response_bytes, true, &resp, &cut, err, errlen);
	if (rc < 0)
		return rc;
	if (rc >= 400) {
		json_object *st = NULL;
		if (kube_json_parse(resp.data ? resp.data : "", resp.len, &st) < 0)
			st = NULL;
		request_error("GET", path, false, rc, st, err, errlen);
		json_object_put(st);
	}
	if (len)
		*len = resp.len;
	if (truncated)
		*truncated = cut;
	*out = buf_steal(&resp);
	return rc;
}

/* ---- streams ------------------------------------------------------------ */

struct stream {
	CURL *h;
	struct buf pending; /* 2xx bytes not yet handed on; bounded (pause) */
	struct buf status;  /* the body of an answer >= 300; what is over the cap is dropped */
	bool paused;
};

/* Write callback of a stream: only buffers. */
static size_t stream_write(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct stream *s = userdata;
	size_t n = size * nmemb;
	long code = 0;
	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code >= 300) {
		size_t room = s->status.cap - s->status.len;
		buf_append(&s->status, p, n < room ? n : room);
		return n;
	}
	/* Handed on after curl_multi_perform() returns; until then at most
	 * KUBE_STREAM_MAX bytes (plus one curl write) wait here. */
	if (s->pending.len && s->pending.len + n > KUBE_STREAM_MAX) {
		s->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	return buf_append(&s->pending, p, n) < 0 ? 0 : n; /* 0: cannot happen (cap), fails */
}

int kube_stream(struct kube_client *c, const char *path, kube_chunk_fn chunk, void *ctx,
		volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	if (!c || !path || path[0] != '/' || !chunk)
		return errf(err, errlen, -EINVAL, "kube_stream: missing argument or path without '/'");
	struct stream s = { 0 };
	struct curl_slist *hdrs = NULL;
	char cerr[CURL_ERROR_SIZE] = "";
	CURLM *m = NULL;
	bool added = false, ended = false;
	CURLcode cc = CURLE_OK;
	long code = 0;
	int rc;
	buf_init(&s.pending, KUBE_STREAM_MAX + CURL_MAX_WRITE_SIZE);
	buf_init(&s.status, KUBE_STATUS_BODY_MAX);
	if (!(s.h = curl_easy_init()) || !(m = curl_multi_init())) {
		rc = errf(err, errlen, -ENOMEM, "GET %s: cannot create a curl handle", path);
		goto out;
	}
	/* Its own handle: callbacks may use the client's meanwhile. */
	rc = client_setup(c, s.h, "GET", path, "*/*", NULL, &hdrs, err, errlen);
	if (rc < 0) {
		c->errors++;
		goto out;
	}
	/* Identity: a compressed stream could hold bytes back until more come. */
	curl_easy_setopt(s.h, CURLOPT_ACCEPT_ENCODING, NULL);
	curl_easy_setopt(s.h, CURLOPT_WRITEFUNCTION, stream_write);
	curl_easy_setopt(s.h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(s.h, CURLOPT_ERRORBUFFER, cerr);
	CURLMcode mc = curl_multi_add_handle(m, s.h);
	if (mc != CURLM_OK) {
		rc = errf(err, errlen, -EIO, "GET %s: curl_multi_add_handle: %s", path,
			  curl_multi_strerror(mc));
		goto out;
	}
	added = true;
	log_debug("kube: stream", "path", path);
	int64_t next_tick = now_mono_ms() + KUBE_STREAM_TICK_MS;
	for (;;) {
		int running = 0, left = 0;
		curl_multi_perform(m, &running);
		CURLMsg *msg;
		while ((msg = curl_multi_info_read(m, &left)))
			if (msg->msg == CURLMSG_DONE) {
				ended = true;
				cc = msg->data.result;
			}
		bool stopped = false;
		if (s.pending.len) {
			stopped = chunk(ctx, s.pending.data, s.pending.len) != 0;
			buf_reset(&s.pending);
		}
		if (stopped || ended || (stop && *stop))
			break;
		if (s.paused) {
			s.paused = false;
			curl_easy_pause(s.h, CURLPAUSE_CONT); /* may buffer again at once */
			continue;
		}
		int64_t now = now_mono_ms();
		if (now >= next_tick) {
			curl_easy_getinfo(s.h, CURLINFO_RESPONSE_CODE, &code);
			if ((code == 0 || (code >= 200 && code < 300)) && chunk(ctx, NULL, 0) != 0)
				break;
			next_tick = now_mono_ms() + KUBE_STREAM_TICK_MS;
			continue; /* the check may have taken a while */
		}
		int64_t wait = next_tick - now;
		if (wait > KUBE_STREAM_POLL_MS)
			wait = KUBE_STREAM_POLL_MS;
		curl_multi_poll(m, NULL, 0, (int)wait, NULL);
	}
	code = 0;
	curl_easy_getinfo(s.h, CURLINFO_RESPONSE_CODE, &code);
	if (ended && cc != CURLE_OK) {
		c->errors++;
		if (cc == CURLE_OPERATION_TIMEDOUT && !code)
			rc = errf(err, errlen, -ETIMEDOUT, "GET %s: no connection after %ld s", path,
				  c->lim.connect_timeout_s);
		else
			rc = errf(err, errlen, -EIO, "GET %s: %s%s%s", path, curl_easy_strerror(cc),
				  cerr[0] ? ": " : "", cerr);
		goto out;
	}
	if (!code) { /* stopped before an answer came */
		rc = 0;
		goto out;
	}
	if (code >= 500)
		c->errors++;
	if (code >= 300) {
		json_object *st = NULL;
		if (!ended)
			log_debug("kube: stream stopped before its error body was complete", "path", path);
		if (kube_json_parse(s.status.data ? s.status.data : "", s.status.len, &st) < 0)
			st = NULL;
		request_error("GET", path, false, code, st, err, errlen);
		json_object_put(st);
	}
	rc = (int)code;
out:
	if (added)
		curl_multi_remove_handle(m, s.h);
	if (s.h) {
		curl_easy_setopt(s.h, CURLOPT_ERRORBUFFER, NULL);
		curl_easy_cleanup(s.h);
	}
	curl_multi_cleanup(m);
	slist_free_secret(hdrs);
	buf_free(&s.pending);
	buf_free(&s.status);
	return rc;
}

struct log_get {
	struct headtail h;
	struct buf out;
	int64_t deadline;
	bool late;
};

static int log_chunk(void *ctx, const char *data, size_t len)
{
	struct log_get *g = ctx;
	if (now_mono_ms() > g->deadline) {
		g->late = true;
		return 1;
	}
	if (data)
		(void)buf_append(&g->out, data, headtail_feed(&g->h, data, len));
	return 0;
}

int kube_get_log(struct kube_client *c, const char *path, size_t cap, char **out, size_t *len,
		 uint64_t *cut, char *err, size_t errlen)
{
	if (!c || !out)
		return errf(err, errlen, -EINVAL, "kube_get_log: missing argument");
	struct log_get g = { .deadline = now_mono_ms() + c->lim.timeout_s * 1000 };
	headtail_init(&g.h, cap);
	buf_init(&g.out, 0);
	int rc = kube_stream(c, path, log_chunk, &g, NULL, err, errlen);
	if (rc >= 200 && rc < 300) {
		uint64_t n = headtail_finish(&g.h, &g.out, NULL);
		if (g.late) { /* what was read, said to be cut: its end is missing */
			char note[160];
			int nl = snprintf(note, sizeof(note),
					  "%s[paddock] the log was not read to its end within %ld s\n",
					  g.out.len && g.out.data[g.out.len - 1] != '\n' ? "\n" : "",
					  c->lim.timeout_s);
			(void)buf_append(&g.out, note, (size_t)nl);
			log_warn("a log was not read to its end in time; kept what was read", "path", path);
		}
		if (cut)
			*cut = n;
		if (len)
			*len = g.out.len;
		*out = buf_steal(&g.out);
	}
	headtail_free(&g.h);
	buf_free(&g.out);
	return rc;
}

/* ---- paths ------------------------------------------------------------- */

char *kube_query_escape(const char *s)
{
	struct buf b;
	if (!s)
		return NULL;
	buf_init(&b, 0);
	buf_put_escaped(&b, s, false);
	return buf_steal(&b);
}

char *kube_path(const struct kube_resource *r, const char *ns, const char *name, const char *sub,
		const char *query)
{
	struct buf b;
	if (!r || !r->prefix || !r->plural)
		return NULL;
	buf_init(&b, 0);
	buf_puts(&b, r->prefix);
	if (r->namespaced && ns && *ns) {
		buf_puts(&b, "/namespaces/");
		buf_put_escaped(&b, ns, true);
	}
	buf_printf(&b, "/%s", r->plural);
	if (name && *name) {
		buf_puts(&b, "/");
		buf_put_escaped(&b, name, true);
		if (sub && *sub) {
			buf_puts(&b, "/");
			buf_put_escaped(&b, sub, true);
		}
	}
	if (query && *query)
		buf_printf(&b, "?%s", query);
	return buf_steal(&b);
}

/* ---- status writes ----------------------------------------------------- */

int kube_update_status(struct kube_client *c, const struct kube_resource *r, json_object *obj,
		       kube_mutate_fn mutate, void *ctx, json_object **updated, char *err,
		       size_t errlen)
{
	if (!c || !r || !obj)
		return errf(err, errlen, -EINVAL, "kube_update_status: missing argument");
	const char *name = meta_str(obj, "name");
	const char *ns = r->namespaced ? meta_str(obj, "namespace") : NULL;
	if (!name || (r->namespaced && !ns))
		return errf(err, errlen, -EINVAL, "update %s status: the object has no metadata.%s",
			    r->plural, name ? "namespace" : "name");
	char *spath = kube_path(r, ns, name, "status", NULL);
	char *opath = kube_path(r, ns, name, NULL, NULL);
	json_object *body = json_object_get(obj), *resp = NULL;
	int rc;
	for (int attempt = 0;; attempt++) {
		rc = kube_request(c, "PUT", spath, body, NULL, &resp, err, errlen);
		if (rc != 409 || attempt == KUBE_CONFLICT_RETRIES || !mutate)
			break;
		json_object_put(resp);
		resp = NULL;
		c->retries++;
		log_debug("kube: status conflict, retrying on a fresh copy", "object", opath);
		json_object *fresh = NULL;
		rc = kube_request(c, "GET", opath, NULL, NULL, &fresh, err, errlen);
		if (rc == 200 && !json_object_is_type(fresh, json_type_object))
			rc = errf(err, errlen, -EBADMSG, "GET %s: the answer is not a JSON object", opath);
		if (rc != 200) {
			json_object_put(fresh);
			break;
		}
		if (mutate) {
			mutate(ctx, fresh);
		} else {
			json_object *st = NULL;
			if (json_object_object_get_ex(obj, "status", &st))
				json_object_object_add(fresh, "status", json_object_get(st));
			else
				json_object_object_del(fresh, "status");
		}
		json_object_put(body);
		body = fresh;
	}
	if (rc >= 200 && rc < 300 && updated) {
		*updated = resp;
		resp = NULL;
	}
	json_object_put(resp);
	json_object_put(body);
	free(spath);
	free(opath);
	return rc;
}

/* ---- watch framing ----------------------------------------------------- */

void kube_watchbuf_init(struct kube_watchbuf *w, size_t max_event, kube_event_fn fn, void *ctx)
{
	memset(w, 0, sizeof(*w));
	w->max_event = max_event ? max_event : KUBE_DEFAULT_MAX_EVENT;
	w->fn = fn;
	w->ctx = ctx;
}

void kube_watchbuf_free(struct kube_watchbuf *w)
{
	if (!w)
		return;
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

static int watch_line(struct kube_watchbuf *w, const char *line, size_t len, char *err,
		      size_t errlen)
{
	static const char *const names[] = { [KUBE_ADDED] = "ADDED", [KUBE_MODIFIED] = "MODIFIED",
					     [KUBE_DELETED] = "DELETED", [KUBE_BOOKMARK] = "BOOKMARK",
					     [KUBE_ERROR] = "ERROR" };
	size_t i = 0;
	while (i < len && strchr(" \t\r", line[i]))
		i++;
	if (i == len)
		return 0; /* a blank line */
	json_object *ev = NULL, *obj = NULL;
	if (kube_json_parse(line, len, &ev) < 0)
		return errf(err, errlen, -EBADMSG, "watch: event of %zu bytes is not valid JSON", len);
	const char *type = jstr(ev, "type");
	int t = -1;
	for (size_t k = 0; type && k < ARRAY_SIZE(names); k++)
		if (strcmp(type, names[k]) == 0)
			t = (int)k;
	int rc = 0;
	if (!json_object_object_get_ex(ev, "object", &obj) ||
	    !json_object_is_type(obj, json_type_object) || t < 0)
		rc = errf(err, errlen, -EBADMSG,
			  "watch: expected {\"type\": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, \"object\": {...}}");
	else if (w->fn)
		w->fn(w->ctx, (enum kube_event_type)t, obj);
	json_object_put(ev);
	return rc;
}

int kube_watchbuf_feed(struct kube_watchbuf *w, const char *data, size_t len, char *err,
		       size_t errlen)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t seg = nl ? (size_t)(nl - data) : len;
		if (seg > w->max_event || w->len > w->max_event - seg) {
			w->len = 0;
			return errf(err, errlen, -EMSGSIZE, "watch: event longer than %zu bytes",
				    w->max_event);
		}
		if (nl && w->len == 0) { /* a whole line: no copy */
			int rc = watch_line(w, data, seg, err, errlen);
			if (rc < 0)
				return rc;
		} else {
			if (w->len + seg > w->cap) {
				size_t cap = w->cap ? w->cap : 4096;
				while (cap < w->len + seg)
					cap *= 2;
				w->cap = cap < w->max_event ? cap : w->max_event;
				w->buf = xrealloc(w->buf, w->cap);
			}
			memcpy(w->buf + w->len, data, seg);
			w->len += seg;
			if (!nl)
				return 0;
			size_t n = w->len;
			w->len = 0;
			int rc = watch_line(w, w->buf, n, err, errlen);
			if (rc < 0)
				return rc;
		}
		data += seg + 1;
		len -= seg + 1;
	}
	return 0;
}

/* ---- informers ----------------------------------------------------------- */

static CURLM *kube_multi;         /* the process's multi handle for list and watch */
static size_t kube_multi_users;   /* informers alive */
static unsigned long kube_delivered; /* events handed to informer callbacks */

struct kube_informer {
	struct kube_client *c;           /* borrowed */
	const struct kube_resource *r;   /* borrowed */
	char *ns, *selector;
	char *field_selector;            /* kube_informer_set_field_selector(), or NULL */
	kube_informer_fn fn;
	void *ctx;
	json_object *cache;              /* key() -> object */
	json_object *listing;            /* pages of the list in progress, or NULL */
	char *rv;                        /* resourceVersion to watch from */
	char *cont;                      /* continue token of the list in progress */
	bool need_list, synced;
	unsigned long relists;
	int64_t next_ms;                 /* earliest start of the next request */
	long backoff_ms;                 /* 0 after a success */
	/* the request in flight */
	CURL *h;
	struct curl_slist *hdrs;
	bool active, listing_now, done, paused;
	CURLcode result;
	char cerr[CURL_ERROR_SIZE];
	int64_t started_ms;
	unsigned long watch_events;
	struct buf body;                 /* a list page, or a failed watch's Status */
	struct buf pending;              /* watch bytes not yet framed */
	struct kube_watchbuf wb;
	char *stop;                      /* set by an ERROR event: why the watch is dropped */
	bool stop_gone;                  /* ... and it was 410 Gone */
	void (*trim)(json_object *obj);  /* kube_informer_set_trim(), or NULL */
	char *optional;                  /* kube_informer_set_optional(), or NULL */
	bool off;                        /* optional, and its list answered 403/404 */
	kube_compact_fn compact;         /* kube_informer_set_compact(), or NULL */
	json_object *(*ident)(const struct kube_compact *c);
};

/* A compact cache's value: an int object holding the struct as userdata. */
static void compact_free(json_object *o, void *p)
{
	(void)o;
	free(p); /* one allocation (struct kube_compact) */
}

static const struct kube_compact *compact_of(json_object *v)
{
	return v ? json_object_get_userdata(v) : NULL;
}

/* The resourceVersion of a cached value, JSON or compact. */
static const char *cached_rv(const struct kube_informer *inf, json_object *v)
{
	if (inf->compact && !json_object_is_type(v, json_type_object)) {
		const struct kube_compact *c = compact_of(v);
		return c ? c->rv : NULL;
	}
	return meta_str(v, "resourceVersion");
}

static void inf_trim(const struct kube_informer *inf, json_object *obj);

/* Put `obj` (borrowed) into the cache under `key`: a reference to it,
 * trimmed in place, or its compact form. */
static void inf_cache_put(struct kube_informer *inf, json_object *cache, const char *key,
			  json_object *obj)
{
	if (inf->compact) {
		struct kube_compact *c = inf->compact(obj);
		if (!c)
			return;
		json_object *v = json_object_new_int(0);
		json_object_set_userdata(v, c, compact_free);
		json_object_object_add(cache, key, v);
		return;
	}
	inf_trim(inf, obj);
	json_object_object_add(cache, key, json_object_get(obj));
}

/* What the cache keeps of an object: never metadata.managedFields (three
 * quarters of a parsed Job or Task, and nobody reads it), and less when
 * the owner says so. */
static void inf_trim(const struct kube_informer *inf, json_object *obj)
{
	json_object *md = NULL;
	if (json_object_object_get_ex(obj, "metadata", &md) && json_object_is_type(md, json_type_object))
		json_object_object_del(md, "managedFields");
	if (inf->trim)
		inf->trim(obj);
}

static const char *inf_ns(const struct kube_informer *inf)
{
	return inf->ns ? inf->ns : "(all)";
}

/* Cache key: "namespace/name" for namespaced resources, else "name". */
static char *inf_key(const struct kube_informer *inf, json_object *obj)
{
	const char *name = meta_str(obj, "name");
	if (!name)
		return NULL;
	if (!inf->r->namespaced)
		return xstrdup(name);
	const char *ns = meta_str(obj, "namespace");
	return xasprintf("%s/%s", ns ? ns : "", name);
}

/* True when resourceVersion a is newer than b.  They are opaque; when
 * both are decimal (etcd revisions, in practice) they are compared. */
static bool rv_newer(const char *a, const char *b)
{
	if (!a || !b || !*a || !*b || a[0] == '0' || b[0] == '0' ||
	    strspn(a, "0123456789") != strlen(a) || strspn(b, "0123456789") != strlen(b))
		return false;
	size_t la = strlen(a), lb = strlen(b);
	return la != lb ? la > lb : strcmp(a, b) > 0;
}

static void inf_set_rv(struct kube_informer *inf, const char *rv)
{
	if (rv && !str_eq(rv, inf->rv)) {
		free(inf->rv);
		inf->rv = xstrdup(rv);
	}
}

static void inf_deliver(struct kube_informer *inf, enum kube_event_type type, json_object *obj)
{
	kube_delivered++;
	if (inf->fn)
		inf->fn(inf->ctx, inf, type, obj);
}

static void inf_reset_listing(struct kube_informer *inf)
{
	json_object_put(inf->listing);
	inf->listing = NULL;
	free(inf->cont);
	inf->cont = NULL;
}

/* Remove the request in flight from the multi handle. */
static void inf_stop(struct kube_informer *inf)
{
	if (inf->active)
		curl_multi_remove_handle(kube_multi, inf->h);
	inf->active = inf->done = inf->paused = false;
	slist_free_secret(inf->hdrs);
	inf->hdrs = NULL;
	buf_reset(&inf->pending);
	kube_watchbuf_free(&inf->wb);
}

/* A failed request: retry after the next backoff step. */
static void inf_backoff(struct kube_informer *inf, int64_t now, const char *op, const char *why)
{
	char ms[24];
	inf->backoff_ms = inf->backoff_ms ? inf->backoff_ms * 2 : KUBE_BACKOFF_MIN_MS;
	if (inf->backoff_ms > KUBE_BACKOFF_MAX_MS)
		inf->backoff_ms = KUBE_BACKOFF_MAX_MS;
	inf->next_ms = now + inf->backoff_ms;
	inf->c->retries++;
	snprintf(ms, sizeof(ms), "%ld", inf->backoff_ms);
	log_warn("kube: request failed, retrying", "resource", inf->r->plural, "namespace",
		 inf_ns(inf), "op", op, "reason", why, "retry_in_ms", ms);
}

/* An optional informer's first list answered 403 or 404 (the RBAC or the
 * CRD of an older install): synced and empty, said once, listed again at the
 * longest backoff (a later grant or CRD turns it on, no restart). */
static void inf_off(struct kube_informer *inf, int64_t now, const char *why)
{
	if (!inf->off)
		log_warn("kube: cannot list: off until it can", "resource", inf->r->plural,
			 "namespace", inf_ns(inf), "feature", inf->optional, "reason", why, "fix",
			 "apply this version's CRDs and the controller's RBAC (etc/kubernetes/)");
	inf->off = inf->synced = true;
	inf->next_ms = now + KUBE_BACKOFF_MAX_MS;
}

static void inf_relist(struct kube_informer *inf, int64_t now, bool backoff, const char *why)
{
	inf_reset_listing(inf);
	inf->need_list = true;
	if (backoff) {
		inf_backoff(inf, now, "watch", why);
	} else {
		inf->c->retries++;
		inf->next_ms = now;
	}
	log_warn("kube: relisting", "resource", inf->r->plural, "namespace", inf_ns(inf), "reason",
		 why);
}

static void inf_event(void *ctx, enum kube_event_type type, json_object *obj)
{
	struct kube_informer *inf = ctx;
	char why[512];
	if (inf->stop)
		return; /* the rest of a dropped watch */
	const char *rv = meta_str(obj, "resourceVersion");
	if (type == KUBE_BOOKMARK) {
		inf_set_rv(inf, rv);
		return;
	}
	if (type == KUBE_ERROR) {
		json_object *code = NULL;
		long n = json_object_object_get_ex(obj, "code", &code) ? json_object_get_int(code) : 0;
		char text[400];
		status_text(obj, n, text, sizeof(text));
		snprintf(why, sizeof(why), "watch ERROR event: %s", text);
		inf->stop = xstrdup(why);
		inf->stop_gone = n == 410;
		return;
	}
	char *key = inf_key(inf, obj);
	if (!key) {
		inf->stop = xstrdup("watch event without metadata.name");
		return;
	}
	inf->watch_events++;
	inf->backoff_ms = 0;
	inf_set_rv(inf, rv);
	json_object *cur = NULL;
	bool have = json_object_object_get_ex(inf->cache, key, &cur);
	if (type == KUBE_DELETED) {
		json_object_object_del(inf->cache, key);
	} else {
		if (have && rv_newer(cached_rv(inf, cur), rv)) {
			free(key); /* older than what kube_informer_store() put there */
			return;
		}
		inf_cache_put(inf, inf->cache, key, obj);
	}
	free(key);
	inf_deliver(inf, type, obj);
}

/* Write callback of list and watch requests: only buffers (bounded). */
static size_t inf_write(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct kube_informer *inf = userdata;
	size_t n = size * nmemb;
	long code = 0;
	if (inf->listing_now)
		return buf_append(&inf->body, p, n) < 0 ? 0 : n; /* 0: over the cap, fails */
	curl_easy_getinfo(inf->h, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		buf_append(&inf->body, p, n); /* a Status; what is over the cap is dropped */
		return n;
	}
	/* Framed after curl_multi_perform() returns; a stream whose informer
	 * is not being polled waits here, paused, once its buffer is full. */
	if (inf->pending.len && inf->pending.len + n > KUBE_PENDING_MAX) {
		inf->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	buf_append(&inf->pending, p, n);
	return n;
}

static void inf_start(struct kube_informer *inf, int64_t now)
{
	char err[512];
	struct buf q;
	long timeout_s = inf->c->lim.timeout_s;
	bool list = inf->need_list;
	buf_init(&q, 0);
	if (list) {
		buf_printf(&q, "limit=%d", KUBE_LIST_PAGE);
		if (inf->cont) {
			buf_puts(&q, "&continue=");
			buf_put_escaped(&q, inf->cont, false);
		}
	} else {
		timeout_s = KUBE_WATCH_TIMEOUT_S + (long)(((uint64_t)now ^ (uintptr_t)inf) % 60);
		buf_printf(&q, "watch=1&allowWatchBookmarks=true&timeoutSeconds=%ld&resourceVersion=",
			   timeout_s);
		buf_put_escaped(&q, inf->rv ? inf->rv : "", false);
		timeout_s += 60; /* the server ends it first; this catches a dead connection */
	}
	if (inf->selector) {
		buf_puts(&q, "&labelSelector=");
		buf_put_escaped(&q, inf->selector, false);
	}
	if (inf->field_selector) {
		buf_puts(&q, "&fieldSelector=");
		buf_put_escaped(&q, inf->field_selector, false);
	}
	char *path = kube_path(inf->r, inf->ns, NULL, NULL, q.data);
	buf_free(&q);
	buf_free(&inf->body);
	buf_init(&inf->body, list ? inf->c->lim.max_response_bytes : KUBE_STATUS_BODY_MAX);
	buf_reset(&inf->pending);
	int rc = client_setup(inf->c, inf->h, "GET", path, "application/json", NULL, &inf->hdrs,
			      err, sizeof(err));
	if (rc == 0) {
		inf->listing_now = list;
		inf->cerr[0] = '\0';
		curl_easy_setopt(inf->h, CURLOPT_PRIVATE, inf);
		curl_easy_setopt(inf->h, CURLOPT_ERRORBUFFER, inf->cerr);
		curl_easy_setopt(inf->h, CURLOPT_TIMEOUT, timeout_s);
		if (list)
			curl_easy_setopt(inf->h, CURLOPT_MAXFILESIZE_LARGE,
					 (curl_off_t)inf->c->lim.max_response_bytes);
		curl_easy_setopt(inf->h, CURLOPT_WRITEDATA, inf);
		curl_easy_setopt(inf->h, CURLOPT_WRITEFUNCTION, inf_write);
		kube_watchbuf_init(&inf->wb, inf->c->lim.max_event_bytes, inf_event, inf);
		free(inf->stop);
		inf->stop = NULL;
		CURLMcode mc = curl_multi_add_handle(kube_multi, inf->h);
		if (mc != CURLM_OK) {
			rc = -EIO;
			snprintf(err, sizeof(err), "curl_multi_add_handle: %s", curl_multi_strerror(mc));
			slist_free_secret(inf->hdrs);
			inf->hdrs = NULL;
		}
	}
	if (rc < 0) {
		inf->c->errors++;
		inf_backoff(inf, now, list ? "list" : "watch", err);
	} else {
		inf->active = true;
		inf->done = false;
		inf->started_ms = now;
		inf->watch_events = 0;
		log_debug(list ? "kube: list" : "kube: watch", "path", path);
	}
	free(path);
}

/* Take one page of a list into inf->listing.  List items carry no kind
 * or apiVersion: they get the list's, so that cached objects look like
 * the watch's. */
static int inf_take_page(struct kube_informer *inf, json_object *page, char *why, size_t n)
{
	json_object *items = NULL;
	if (!json_object_is_type(page, json_type_object) ||
	    !json_object_object_get_ex(page, "items", &items) ||
	    (items && !json_object_is_type(items, json_type_array))) {
		snprintf(why, n, "the answer is not a list (no items)");
		return -EBADMSG;
	}
	const char *kind = jstr(page, "kind"), *api = jstr(page, "apiVersion");
	char *ikind = kind && str_endswith(kind, "List") ? xstrndup(kind, strlen(kind) - 4) : NULL;
	int rc = 0;
	if (!inf->listing)
		inf->listing = json_object_new_object();
	for (size_t i = 0; items && i < json_object_array_length(items); i++) {
		json_object *it = json_object_array_get_idx(items, i);
		char *key = json_object_is_type(it, json_type_object) ? inf_key(inf, it) : NULL;
		if (!key) {
			snprintf(why, n, "items[%zu] has no metadata.name", i);
			rc = -EBADMSG;
			break;
		}
		if (ikind && *ikind && !json_object_object_get_ex(it, "kind", NULL))
			json_object_object_add(it, "kind", json_object_new_string(ikind));
		if (api && !json_object_object_get_ex(it, "apiVersion", NULL))
			json_object_object_add(it, "apiVersion", json_object_new_string(api));
		inf_trim(inf, it);
		json_object_object_add(inf->listing, key, json_object_get(it));
		free(key);
	}
	free(ikind);
	free(inf->cont);
	inf->cont = xstrdup(meta_str(page, "continue"));
	inf_set_rv(inf, meta_str(page, "resourceVersion"));
	return rc;
}

struct inf_change {
	enum kube_event_type type;
	json_object *obj;
};

/* The list is complete: it becomes the cache; report the difference. */
static void inf_list_done(struct kube_informer *inf)
{
	json_object *old = inf->cache;
	inf->cache = inf->listing ? inf->listing : json_object_new_object();
	inf->listing = NULL;
	inf->need_list = false;
	inf->backoff_ms = 0;
	if (inf->off)
		log_info("kube: listed again: on", "resource", inf->r->plural, "namespace",
			 inf_ns(inf), "feature", inf->optional);
	inf->off = false;
	if (inf->synced)
		inf->relists++;
	inf->synced = true;

	size_t n = 0, cap = json_object_object_length(old) + json_object_object_length(inf->cache);
	struct inf_change *ch = xcalloc(cap ? cap : 1, sizeof(*ch));
	json_object_object_foreach(old, k, v)
	{
		if (json_object_object_get_ex(inf->cache, k, NULL))
			continue;
		json_object *gone = !inf->compact ? json_object_get(v)
			: inf->ident ? inf->ident(compact_of(v)) : NULL;
		if (gone)
			ch[n++] = (struct inf_change){ KUBE_DELETED, gone };
	}
	json_object_object_foreach(inf->cache, k2, v2)
	{
		json_object *prev = NULL;
		if (!json_object_object_get_ex(old, k2, &prev))
			ch[n++] = (struct inf_change){ KUBE_ADDED, json_object_get(v2) };
		else if (!str_eq(cached_rv(inf, prev), meta_str(v2, "resourceVersion")))
			ch[n++] = (struct inf_change){ KUBE_MODIFIED, json_object_get(v2) };
	}
	json_object_put(old);
	if (inf->compact) {
		/* The listed JSON becomes the compact form before anyone reads
		 * the cache; the changes keep their JSON for the callback. */
		json_object *cache = json_object_new_object();
		json_object_object_foreach(inf->cache, k3, v3)
			inf_cache_put(inf, cache, k3, v3);
		json_object_put(inf->cache);
		inf->cache = cache;
	}
	char count[24];
	snprintf(count, sizeof(count), "%d", json_object_object_length(inf->cache));
	log_debug("kube: listed", "resource", inf->r->plural, "namespace", inf_ns(inf), "objects",
		  count, "resourceVersion", inf->rv ? inf->rv : "");
	for (size_t i = 0; i < n; i++) {
		inf_deliver(inf, ch[i].type, ch[i].obj);
		json_object_put(ch[i].obj);
	}
	free(ch);
}

/* The request in flight has ended (inf->result). */
static void inf_finish(struct kube_informer *inf, int64_t now)
{
	long code = 0;
	char why[600];
	CURLcode cc = inf->result;
	bool list = inf->listing_now;
	const char *op = list ? "list" : "watch";
	curl_easy_getinfo(inf->h, CURLINFO_RESPONSE_CODE, &code);
	inf_stop(inf);
	if (cc != CURLE_OK || code != 200) {
		if (cc != CURLE_OK && (cc == CURLE_WRITE_ERROR || cc == CURLE_FILESIZE_EXCEEDED)) {
			snprintf(why, sizeof(why), "response over %zu bytes", inf->body.cap);
		} else if (cc != CURLE_OK) {
			snprintf(why, sizeof(why), "%s%s%s", curl_easy_strerror(cc),
				 inf->cerr[0] ? ": " : "", inf->cerr);
		} else {
			json_object *st = NULL;
			if (kube_json_parse(inf->body.data ? inf->body.data : "", inf->body.len, &st) < 0)
				st = NULL;
			status_text(st, code, why, sizeof(why));
			json_object_put(st);
		}
		if (cc != CURLE_OK || code >= 500)
			inf->c->errors++;
		if (list)
			inf_reset_listing(inf);
		if (list && inf->optional && (!inf->synced || inf->off) && cc == CURLE_OK &&
		    (code == 403 || code == 404)) {
			inf_off(inf, now, why);
		} else if (cc == CURLE_OK && code == 410 && !list) {
			inf_relist(inf, now, false, why);
		} else if (cc == CURLE_OK && code == 410) { /* the continue token expired */
			inf->c->retries++;
			inf->next_ms = now;
			log_warn("kube: list continue token expired, listing again", "resource",
				 inf->r->plural, "namespace", inf_ns(inf));
		} else {
			inf_backoff(inf, now, op, why);
		}
		return;
	}
	if (list) {
		json_object *page = NULL;
		int rc = kube_json_parse(inf->body.data ? inf->body.data : "", inf->body.len, &page);
		if (rc < 0)
			snprintf(why, sizeof(why), "the answer is not valid JSON");
		else
			rc = inf_take_page(inf, page, why, sizeof(why));
		json_object_put(page);
		buf_free(&inf->body);
		if (rc < 0) {
			inf_reset_listing(inf);
			inf_backoff(inf, now, op, why);
			return;
		}
		inf->next_ms = now;
		if (!inf->cont)
			inf_list_done(inf);
		return;
	}
	if (inf->watch_events == 0 && now - inf->started_ms < 1000) {
		inf_backoff(inf, now, op, "the server ended the watch at once");
		return;
	}
	inf->next_ms = now;
	log_debug("kube: watch ended by the server, reopening", "resource", inf->r->plural,
		  "namespace", inf_ns(inf), "resourceVersion", inf->rv ? inf->rv : "");
}

/* Frame what the watch delivered, then finish a request that ended. */
static void inf_process(struct kube_informer *inf, int64_t now)
{
	char err[256];
	if (!inf->active)
		return;
	if (inf->pending.len) {
		int rc = kube_watchbuf_feed(&inf->wb, inf->pending.data, inf->pending.len, err,
					    sizeof(err));
		buf_reset(&inf->pending);
		if (rc < 0 || inf->stop) {
			bool gone = rc == 0 && inf->stop_gone;
			char *why = xstrdup(rc < 0 ? err : inf->stop);
			inf_stop(inf);
			inf_relist(inf, now, !gone, why);
			free(why);
			return;
		}
	}
	if (inf->paused) {
		inf->paused = false;
		curl_easy_pause(inf->h, CURLPAUSE_CONT);
	}
	if (inf->done)
		inf_finish(inf, now);
}

/* ---- requests in parallel (kube_submit) -------------------------------- */

/* A request queued or in flight.  All clients' requests share one FIFO
 * and the informers' multi handle (its connection cache keeps the
 * connections alive; HTTP/2 multiplexes them on one where the server
 * speaks it); each client has at most max_inflight of them in flight. */
struct kube_req {
	struct kube_req *next;
	struct kube_client *c;
	char *method, *path, *data, *ctype;
	size_t dlen;
	kube_done_fn done;
	void *ctx;
	int attempt;
	int64_t not_before;     /* monotonic: a retry's back-off */
	CURL *h;
	struct curl_slist *hdrs;
	struct xfer x;
	char cerr[CURL_ERROR_SIZE];
	long retry_after_s;     /* the server's Retry-After, or 0 */
	bool finished;
	bool no_body;           /* KUBE_SUBMIT_NO_BODY */
	CURLcode result;
};

static struct kube_req *kube_reqs;       /* queued and in flight, in order */
static struct kube_req *kube_reqs_tail;  /* its last, or NULL */
/* The one client whose requests are queued, or NULL when several are:
 * then a full client ends reqs_start()'s walk. */
static struct kube_client *kube_reqs_client;
static bool kube_reqs_mixed;
static unsigned long kube_req_done;      /* completions (wakes kube_informers_poll) */

void kube_client_set_inflight(struct kube_client *c, int n)
{
	if (c)
		c->max_inflight = n < 1 ? 1 : n > KUBE_INFLIGHT_MAX ? KUBE_INFLIGHT_MAX : n;
}

static void req_free(struct kube_req *r)
{
	if (r->h) {
		if (kube_multi)
			curl_multi_remove_handle(kube_multi, r->h);
		curl_easy_cleanup(r->h);
		r->c->inflight--;
	}
	slist_free_secret(r->hdrs);
	buf_free(&r->x.body);
	if (r->data && strstr(r->path, "/secrets"))
		explicit_bzero(r->data, r->dlen);
	free(r->method);
	free(r->path);
	free(r->data);
	free(r->ctype);
	free(r);
}

static void req_unlink(struct kube_req *r)
{
	struct kube_req *prev = NULL;
	for (struct kube_req **pp = &kube_reqs; *pp; prev = *pp, pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			if (kube_reqs_tail == r)
				kube_reqs_tail = prev;
			return;
		}
}

static size_t req_header(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct kube_req *r = userdata;
	size_t n = size * nmemb;
	if (n > 12 && !strncasecmp(p, "Retry-After:", 12))
		r->retry_after_s = strtol(p + 12, NULL, 10);
	return n;
}

/* Put a queued request on the multi handle. */
static int req_start(struct kube_req *r, char *err, size_t errlen)
{
	CURL *h = curl_easy_init();
	if (!h)
		return errf(err, errlen, -ENOMEM, "%s %s: cannot create a curl handle", r->method, r->path);
	int rc = client_setup(r->c, h, r->method, r->path, "application/json", r->data ? r->ctype : NULL,
			      &r->hdrs, err, errlen);
	if (rc < 0) {
		curl_easy_cleanup(h);
		return rc;
	}
	buf_free(&r->x.body);
	r->x = (struct xfer){ 0 };
	buf_init(&r->x.body, r->c->lim.max_response_bytes);
	r->cerr[0] = '\0';
	r->retry_after_s = 0;
	r->finished = false;
	if (r->data) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->dlen);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->data);
	}
	curl_easy_setopt(h, CURLOPT_PRIVATE, NULL); /* not an informer's */
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, xfer_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, req_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->cerr);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, r->c->lim.timeout_s);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->c->lim.max_response_bytes);
	curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L); /* share an HTTP/2 connection */
	CURLMcode mc = curl_multi_add_handle(kube_multi, h);
	if (mc != CURLM_OK) {
		slist_free_secret(r->hdrs);
		r->hdrs = NULL;
		curl_easy_cleanup(h);
		return errf(err, errlen, -EIO, "%s %s: curl_multi_add_handle: %s", r->method, r->path,
			    curl_multi_strerror(mc));
	}
	r->h = h;
	r->c->inflight++;
	return 0;
}

/* Hand the answer on and forget the request. */
static void req_finish(struct kube_req *r, int status, json_object *resp, const char *err)
{
	req_unlink(r);
	kube_req_done++;
	if (r->done)
		r->done(r->ctx, status, resp, err);
	req_free(r);
}

static bool req_retryable(int status)
{
	return status < 0 || status == 429 || status == 500 || status == 502 || status == 503 ||
	       status == 504;
}

/* A finished transfer: retry with back-off (429, 5xx, transport), else
 * parse and hand on. */
static void req_done(struct kube_req *r, int64_t now)
{
	char err[768] = "";
	int status;
	long code = 0;
	if (r->result == CURLE_OK) {
		curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &code);
		status = (int)code;
	} else if (r->result == CURLE_OPERATION_TIMEDOUT) {
		status = errf(err, sizeof(err), -ETIMEDOUT, "%s %s: timed out after %ld s", r->method,
			      r->path, r->c->lim.timeout_s);
	} else {
		status = errf(err, sizeof(err), -EIO, "%s %s: %s%s%s", r->method, r->path,
			      curl_easy_strerror(r->result), r->cerr[0] ? ": " : "", r->cerr);
	}
	curl_multi_remove_handle(kube_multi, r->h);
	curl_easy_cleanup(r->h);
	r->h = NULL;
	r->c->inflight--;
	slist_free_secret(r->hdrs);
	r->hdrs = NULL;
	if (status < 0 || status >= 500)
		r->c->errors++;
	if (req_retryable(status) && r->attempt + 1 < KUBE_SUBMIT_ATTEMPTS) {
		long ms = KUBE_SUBMIT_BACKOFF_MS << r->attempt;
		if (r->retry_after_s > 0)
			ms = r->retry_after_s * 1000 > KUBE_BACKOFF_MAX_MS ? KUBE_BACKOFF_MAX_MS
									   : r->retry_after_s * 1000;
		r->attempt++;
		r->not_before = now + ms;
		r->c->retries++;
		char ms_s[24], st_s[24];
		snprintf(ms_s, sizeof(ms_s), "%ld", ms);
		snprintf(st_s, sizeof(st_s), "%d", status);
		log_debug("kube: request retried", "method", r->method, "path", r->path, "status", st_s,
			  "retry_in_ms", ms_s);
		return;
	}
	json_object *j = NULL;
	if (status > 0 && r->x.body.len && !(r->no_body && status < 400) &&
	    kube_json_parse(r->x.body.data, r->x.body.len, &j) < 0)
		j = NULL;
	if (status >= 400)
		request_error(r->method, r->path, r->data && strstr(r->path, "/secrets"), status, j,
			      err, sizeof(err));
	req_finish(r, status, j, err);
	json_object_put(j);
}

/* Start what may start; the earliest back-off still waiting (0: none). */
static int64_t reqs_start(int64_t now)
{
	int64_t next = 0;
	for (struct kube_req *r = kube_reqs, *n; r; r = n) {
		n = r->next;
		if (r->h)
			continue;
		if (r->not_before > now) {
			if (!next || r->not_before < next)
				next = r->not_before;
			continue;
		}
		if (r->c->inflight >= r->c->max_inflight) {
			if (!kube_reqs_mixed)
				break; /* the rest are its too: a burst queues thousands */
			continue;
		}
		char err[512];
		if (req_start(r, err, sizeof(err)) < 0) {
			r->c->errors++;
			req_finish(r, -EIO, NULL, err);
		}
	}
	return next;
}

/* A finished transfer of the multi handle that is ours. */
static bool reqs_mark(CURL *h, CURLcode result)
{
	for (struct kube_req *r = kube_reqs; r; r = r->next)
		if (r->h == h) {
			r->finished = true;
			r->result = result;
			return true;
		}
	return false;
}

static void reqs_process(int64_t now)
{
	bool again = true;
	while (again) {
		again = false;
		for (struct kube_req *r = kube_reqs; r; r = r->next)
			if (r->h && r->finished) {
				req_done(r, now); /* may unlink r and submit more */
				again = true;
				break;
			}
	}
}

/* Queue `r` last: the tail is remembered, so a burst of submissions
 * does not walk the queue once each. */
static void req_append(struct kube_req *r)
{
	if (!kube_reqs) {
		kube_reqs_client = r->c;
		kube_reqs_mixed = false;
	} else if (kube_reqs_client != r->c) {
		kube_reqs_mixed = true;
	}
	struct kube_req **pp = &kube_reqs;
	if (kube_reqs_tail && kube_reqs)
		pp = &kube_reqs_tail->next;
	while (*pp)
		pp = &(*pp)->next;
	*pp = r;
	kube_reqs_tail = r;
}

/* Queue a request; `data` (may be NULL) is owned from here on. */
static int req_queue(struct kube_client *c, const char *method, const char *path, char *data,
		     size_t len, const char *content_type, unsigned flags, kube_done_fn done,
		     void *ctx)
{
	struct kube_req *r = xcalloc(1, sizeof(*r));
	c->submitted = true;
	r->c = c;
	r->method = xstrdup(method);
	r->path = xstrdup(path);
	if (data) {
		r->data = data;
		r->dlen = len;
		r->ctype = xstrdup(content_type ? content_type : "application/json");
	}
	r->no_body = flags & KUBE_SUBMIT_NO_BODY;
	r->done = done;
	r->ctx = ctx;
	buf_init(&r->x.body, 1);
	req_append(r);
	return 0;
}

int kube_submit_str(struct kube_client *c, const char *method, const char *path, char *data,
		    size_t len, unsigned flags, kube_done_fn done, void *ctx)
{
	if (!c || !method || !path || path[0] != '/') {
		free(data);
		return -EINVAL;
	}
	if (!kube_multi) {
		json_object *body = NULL;
		if (data && kube_json_parse(data, len, &body) < 0) {
			free(data);
			return -EINVAL;
		}
		free(data);
		int rc = kube_submit(c, method, path, body, NULL, done, ctx);
		json_object_put(body);
		return rc;
	}
	return req_queue(c, method, path, data, len, NULL, flags, done, ctx);
}

int kube_submit(struct kube_client *c, const char *method, const char *path, json_object *body,
		const char *content_type, kube_done_fn done, void *ctx)
{
	if (!c || !method || !path || path[0] != '/')
		return -EINVAL;
	if (!kube_multi) {
		/* No informer, no multi handle: one request now. */
		char err[768] = "";
		json_object *out = NULL;
		int st = kube_request(c, method, path, body, content_type, &out, err, sizeof(err));
		if (done)
			done(ctx, st, out, err);
		json_object_put(out);
		return 0;
	}
	char *data = NULL;
	size_t len = 0;
	if (body) {
		const char *d = json_object_to_json_string_length(body, JSON_C_TO_STRING_PLAIN, &len);
		data = xstrndup(d, len);
	}
	return req_queue(c, method, path, data, len, content_type, 0, done, ctx);
}

size_t kube_submitted(const struct kube_client *c)
{
	size_t n = 0;
	for (struct kube_req *r = kube_reqs; r; r = r->next)
		n += r->c == c;
	return n;
}

/* A client going away takes its requests with it, unanswered. */
static void kube_cancel_all(struct kube_client *c)
{
	for (struct kube_req *r = kube_reqs, *n; r; r = n) {
		n = r->next;
		if (r->c == c) {
			req_unlink(r);
			req_free(r);
		}
	}
}

int kube_informers_poll(struct kube_informer **infs, size_t n, int timeout_ms)
{
	if ((n && !infs) || timeout_ms < 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!infs[i])
			return -EINVAL;
	if (!kube_multi)
		return 0; /* no informer at all */
	unsigned long before = kube_delivered, done_before = kube_req_done;
	int64_t deadline = now_mono_ms() + timeout_ms;
	for (;;) {
		int64_t now = now_mono_ms();
		for (size_t i = 0; i < n; i++)
			if (!infs[i]->active && now >= infs[i]->next_ms)
				inf_start(infs[i], now);
		int64_t retry_at = reqs_start(now);
		int running = 0, left = 0;
		curl_multi_perform(kube_multi, &running);
		CURLMsg *m;
		while ((m = curl_multi_info_read(kube_multi, &left))) {
			char *p = NULL;
			if (m->msg != CURLMSG_DONE)
				continue;
			if (reqs_mark(m->easy_handle, m->data.result))
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
			struct kube_informer *x = (struct kube_informer *)(void *)p;
			if (x) {
				x->done = true;
				x->result = m->data.result;
			}
		}
		now = now_mono_ms();
		for (size_t i = 0; i < n; i++)
			inf_process(infs[i], now);
		reqs_process(now);
		if (kube_delivered != before || kube_req_done != done_before || now >= deadline)
			break;
		/* Submitted by a callback just now: start it at once. */
		bool ready = false;
		for (struct kube_req *r = kube_reqs; r && !ready; r = r->next) {
			if (r->c->inflight >= r->c->max_inflight) {
				if (!kube_reqs_mixed)
					break; /* one client, full: nothing may start */
				continue;
			}
			ready = !r->h && r->not_before <= now;
		}
		if (ready)
			continue;
		int64_t wait = deadline - now;
		if (retry_at && retry_at - now < wait)
			wait = retry_at - now;
		for (size_t i = 0; i < n; i++)
			if (!infs[i]->active && infs[i]->next_ms - now < wait)
				wait = infs[i]->next_ms - now;
		if (wait > 0)
			curl_multi_poll(kube_multi, NULL, 0, (int)wait, NULL);
	}
	unsigned long d = (kube_delivered - before) + (kube_req_done - done_before);
	return d > INT_MAX ? INT_MAX : (int)d;
}

struct kube_informer *kube_informer_new(struct kube_client *c, const struct kube_resource *r,
					const char *ns, const char *label_selector,
					kube_informer_fn fn, void *ctx)
{
	if (!c || !r || !r->prefix || !r->plural)
		return NULL;
	if (!kube_multi && !(kube_multi = curl_multi_init()))
		return NULL;
	CURL *h = curl_easy_init();
	if (!h) {
		if (!kube_multi_users) {
			curl_multi_cleanup(kube_multi);
			kube_multi = NULL;
		}
		return NULL;
	}
	struct kube_informer *inf = xcalloc(1, sizeof(*inf));
	inf->c = c;
	inf->r = r;
	inf->ns = r->namespaced && ns && *ns ? xstrdup(ns) : NULL;
	inf->selector = label_selector && *label_selector ? xstrdup(label_selector) : NULL;
	inf->fn = fn;
	inf->ctx = ctx;
	inf->h = h;
	inf->cache = json_object_new_object();
	inf->need_list = true;
	buf_init(&inf->body, 1);
	buf_init(&inf->pending, 0); /* bounded by KUBE_PENDING_MAX + one curl chunk (pause) */
	kube_multi_users++;
	return inf;
}

void kube_informer_free(struct kube_informer *inf)
{
	if (!inf)
		return;
	inf_stop(inf);
	curl_easy_cleanup(inf->h);
	json_object_put(inf->cache);
	inf_reset_listing(inf);
	free(inf->rv);
	free(inf->ns);
	free(inf->selector);
	free(inf->field_selector);
	free(inf->optional);
	free(inf->stop);
	buf_free(&inf->body);
	buf_free(&inf->pending);
	free(inf);
	if (--kube_multi_users == 0) {
		curl_multi_cleanup(kube_multi);
		kube_multi = NULL;
	}
}

bool kube_informer_synced(const struct kube_informer *inf)
{
	return inf && inf->synced;
}

json_object *kube_informer_get(const struct kube_informer *inf, const char *ns, const char *name)
{
	json_object *o = NULL;
	if (!inf || !name)
		return NULL;
	char *key = inf->r->namespaced ? xasprintf("%s/%s", ns ? ns : "", name) : xstrdup(name);
	if (!json_object_object_get_ex(inf->cache, key, &o))
		o = NULL;
	free(key);
	return inf->compact ? NULL : o;
}

const struct kube_compact *kube_informer_get_compact(const struct kube_informer *inf,
						     const char *ns, const char *name)
{
	json_object *o = NULL;
	if (!inf || !name || !inf->compact)
		return NULL;
	char key[600];
	if (inf->r->namespaced)
		snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name);
	else
		snprintf(key, sizeof(key), "%s", name);
	if (!json_object_object_get_ex(inf->cache, key, &o))
		return NULL;
	return compact_of(o);
}

/* fn (JSON) or cfn (compact) for each cached value, on a snapshot (a
 * walk may store into the cache); stops at the first non-zero. */
static int cache_walk(const struct kube_informer *inf, int (*fn)(void *ctx, json_object *obj),
		      int (*cfn)(void *ctx, const struct kube_compact *c), void *ctx)
{
	size_t n = 0;
	json_object **v = xcalloc((size_t)json_object_object_length(inf->cache) + 1, sizeof(*v));
	json_object_object_foreach(inf->cache, k, o)
	{
		(void)k;
		v[n++] = json_object_get(o);
	}
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (rc == 0)
			rc = fn ? fn(ctx, v[i]) : cfn(ctx, compact_of(v[i]));
		json_object_put(v[i]);
	}
	free(v);
	return rc;
}

int kube_informer_foreach_compact(const struct kube_informer *inf,
				  int (*fn)(void *ctx, const struct kube_compact *c), void *ctx)
{
	if (!inf || !fn || !inf->compact)
		return 0;
	return cache_walk(inf, NULL, fn, ctx);
}

void kube_informer_set_compact(struct kube_informer *inf, kube_compact_fn make,
			       json_object *(*ident)(const struct kube_compact *c))
{
	if (!inf)
		return;
	inf->compact = make;
	inf->ident = ident;
}

int kube_informer_foreach(const struct kube_informer *inf,
			  int (*fn)(void *ctx, json_object *obj), void *ctx)
{
	if (!inf || !fn || inf->compact)
		return 0;
	return cache_walk(inf, fn, NULL, ctx);
}

size_t kube_informer_count(const struct kube_informer *inf)
{
	return inf ? (size_t)json_object_object_length(inf->cache) : 0;
}

void kube_informer_store(struct kube_informer *inf, json_object *obj)
{
	json_object *cur = NULL, *copy = NULL;
	char *key = inf && obj ? inf_key(inf, obj) : NULL;
	if (!key)
		return;
	if (json_object_object_get_ex(inf->cache, key, &cur) &&
	    rv_newer(cached_rv(inf, cur), meta_str(obj, "resourceVersion"))) {
		free(key);
		return;
	}
	if (inf->compact)
		inf_cache_put(inf, inf->cache, key, obj);
	else if (json_object_deep_copy(obj, &copy, NULL) == 0)
		inf_cache_put(inf, inf->cache, key, copy);
	json_object_put(copy);
	free(key);
}

bool kube_informer_take(struct kube_informer *inf, json_object *obj)
{
	json_object *cur = NULL;
	char *key = inf && obj ? inf_key(inf, obj) : NULL;
	if (!key)
		return false;
	bool put = !(json_object_object_get_ex(inf->cache, key, &cur) &&
		     rv_newer(cached_rv(inf, cur), meta_str(obj, "resourceVersion")));
	if (put)
		inf_cache_put(inf, inf->cache, key, obj);
	free(key);
	return put;
}

void kube_informer_set_trim(struct kube_informer *inf, void (*trim)(json_object *obj))
{
	if (inf)
		inf->trim = trim;
}

void kube_informer_set_optional(struct kube_informer *inf, const char *feature)
{
	if (!inf)
		return;
	free(inf->optional);
	inf->optional = feature ? xstrdup(feature) : NULL;
}

void kube_informer_set_field_selector(struct kube_informer *inf, const char *field_selector)
{
	if (!inf)
		return;
	free(inf->field_selector);
	inf->field_selector = field_selector && *field_selector ? xstrdup(field_selector) : NULL;
}

unsigned long kube_informer_relists(const struct kube_informer *inf)
{
	return inf ? inf->relists : 0;
}

int kube_secret_get(struct kube_client *c, const char *ns, const char *name, const char *key,
		    char **value, size_t *len, char *err, size_t errlen)
{
	char *path = kube_path(&KUBE_SECRETS, ns, name, NULL, NULL);
	json_object *o = NULL;
	char rerr[512] = "";
	int st = kube_request(c, "GET", path, NULL, NULL, &o, rerr, sizeof(rerr));
	free(path);
	int rc;
	if (st < 0) {
		rc = errf(err, errlen, st, "secret \"%s/%s\": %s", ns, name, rerr);
	} else if (st == 404) {
		rc = errf(err, errlen, -ENOENT, "secret \"%s/%s\" not found", ns, name);
	} else if (st != 200) {
		rc = errf(err, errlen, -EIO, "secret \"%s/%s\": %s", ns, name, rerr);
	} else {
		json_object *d = NULL;
		const char *b64 = json_object_object_get_ex(o, "data", &d) ? jstr(d, key) : NULL;
		if (!b64)
			rc = errf(err, errlen, -ENOENT, "secret \"%s/%s\" has no key \"%s\"", ns, name, key);
		else if (model_b64_decode(b64, strlen(b64), value, len) < 0)
			rc = errf(err, errlen, -EINVAL, "secret \"%s/%s\" key \"%s\": invalid base64", ns,
				  name, key);
		else
			rc = 0;
	}
	json_object *data = NULL;
	if (o && json_object_object_get_ex(o, "data", &data) && json_object_is_type(data, json_type_object)) {
		/* scrub the values we were sent before letting go of them */
		json_object_object_foreach(data, dk, dv) {
			(void)dk;
			if (json_object_is_type(dv, json_type_string))
				explicit_bzero((char *)json_object_get_string(dv),
					       (size_t)json_object_get_string_len(dv));
		}
	}
	json_object_put(o);
	return rc;
}
