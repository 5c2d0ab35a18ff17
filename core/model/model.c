/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "model/model.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include "base/cron.h"
#include "base/jsonutil.h"
#include "base/quantity.h"

#define MAX_CONTEXTS 64
#define MAX_OUTPUTS 64
#define MAX_DEPS 256
#define MAX_ANNOTATION_BYTES (256 * 1024)
#define PATHLEN 320
/* Linux's highest pid_max (PID_MAX_LIMIT on 64-bit). */
#define PIDS_MAX 4194304

/* ---- names --------------------------------------------------------- */

static const char *const kind_names[] = { "Task", "Agent", "Secret", "ConfigMap", "Spawner", "Budget" };
_Static_assert(ARRAY_SIZE(kind_names) == MODEL_N_KINDS, "one name per kind");
static const char *const phase_names[] = { "Pending",   "Waiting", "Queued", "Running",
					   "Succeeded", "Failed",  "Stopped" };

const char *model_kind_name(enum model_kind k)
{
	return (unsigned)k < ARRAY_SIZE(kind_names) ? kind_names[k] : NULL;
}

int model_kind_parse(const char *s)
{
	if (!s)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(kind_names); i++) {
		size_t n = strlen(kind_names[i]);
		if (!strcmp(s, kind_names[i]))
			return (int)i;
		if (!strncasecmp(s, kind_names[i], n) && (!s[n] || (s[n] == 's' && !s[n + 1])))
			return (int)i;
	}
	return -1;
}

const char *model_phase_name(enum model_phase p)
{
	return (unsigned)p < ARRAY_SIZE(phase_names) ? phase_names[p] : NULL;
}

int model_phase_parse(const char *s)
{
	for (size_t i = 0; s && i < ARRAY_SIZE(phase_names); i++)
		if (!strcmp(s, phase_names[i]))
			return (int)i;
	return -1;
}

bool model_phase_finished(enum model_phase p)
{
	return p == MODEL_PHASE_SUCCEEDED || p == MODEL_PHASE_FAILED || p == MODEL_PHASE_STOPPED;
}

static bool alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool label_n(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !alnum_lower(s[0]) || !alnum_lower(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!alnum_lower(s[i]) && s[i] != '-')
			return false;
	return true;
}

bool model_dns1123_label(const char *s)
{
	return s && label_n(s, strlen(s));
}

bool model_dns1123_subdomain(const char *s)
{
	if (!s)
		return false;
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	const char *p = s;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (!label_n(p, len))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

/* Label/annotation key name part: [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, <= 63. */
static bool qualified_name_n(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

static bool label_key_ok(const char *k)
{
	const char *slash = strchr(k, '/');
	if (!slash)
		return qualified_name_n(k, strlen(k));
	char *prefix = xstrndup(k, (size_t)(slash - k));
	bool ok = model_dns1123_subdomain(prefix) && qualified_name_n(slash + 1, strlen(slash + 1));
	free(prefix);
	return ok;
}

static bool label_value_ok(const char *v)
{
	return !*v || qualified_name_n(v, strlen(v));
}

/* Secret / ConfigMap keys: [-._a-zA-Z0-9]+, <= 253, not "." or "..". */
static bool data_key_ok(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > 253 || !strcmp(k, ".") || !strcmp(k, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)k[i]) && !strchr("-._", k[i]))
			return false;
	return true;
}

static bool output_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-._", s[i]))
			return false;
	return true;
}

static bool env_name_ok(const char *s)
{
	if (!*s || strlen(s) > 128 || isdigit((unsigned char)s[0]))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Relative path, no "..", no empty or absolute path. */
static bool rel_path_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 4096 || s[0] == '/' || has_ctl(s))
		return false;
	const char *p = s;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == 2 && !strncmp(p, "..", 2))
			return false;
		if (!e)
			break;
		p = e + 1;
	}
	return true;
}

static bool abs_path_ok(const char *s)
{
	return s[0] == '/' && (s[1] == '\0' || rel_path_ok(s + 1));
}

static bool git_ref_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 40) {
		bool hex = true;
		for (size_t i = 0; i < n; i++)
			if (!isxdigit((unsigned char)s[i]))
				hex = false;
		if (hex)
			return true;
	}
	if (n == 0 || n > 255 || s[0] == '-' || s[0] == '/' || s[0] == '.' || s[n - 1] == '/' ||
	    s[n - 1] == '.' || str_endswith(s, ".lock") || strstr(s, "..") || strstr(s, "@{") ||
	    strstr(s, "//") || strstr(s, "/.") || !strcmp(s, "@"))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || strchr("~^:?*[\\", s[i]))
			return false;
	return true;
}

static bool repo_url_ok(const char *s)
{
	static const char *const schemes[] = { "https://", "http://", "ssh://", "git://",
					       "file://" };
	if (!*s || s[0] == '-' || strstr(s, "::") || strlen(s) > 2048)
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return false;
	for (size_t i = 0; i < ARRAY_SIZE(schemes); i++)
		if (str_startswith(s, schemes[i]) && s[strlen(schemes[i])])
			return true;
	if (s[0] == '/')
		return true;
	/* scp-like: [user@]host:path */
	const char *colon = strchr(s, ':');
	const char *slash = strchr(s, '/');
	return colon && colon > s && (!slash || slash > colon) && colon[1];
}

/* ---- base64 -------------------------------------------------------- */

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *model_b64_encode(const void *in, size_t len)
{
	const unsigned char *s = in;
	char *out = xmalloc((len + 2) / 3 * 4 + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)s[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)s[i + 1] << 8;
		if (i + 2 < len)
			v |= s[i + 2];
		out[o++] = b64chars[(v >> 18) & 63];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64chars[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static int b64val(char c)
{
	const char *p = c ? strchr(b64chars, c) : NULL;
	return p ? (int)(p - b64chars) : -1;
}

int model_b64_decode(const char *in, size_t inlen, char **out, size_t *len)
{
	if (inlen % 4)
		return -EINVAL;
	char *buf = xmalloc(inlen / 4 * 3 + 1);
	size_t o = 0;
	for (size_t i = 0; i < inlen; i += 4) {
		int v[4];
		bool last = i + 4 == inlen;
		for (int j = 0; j < 4; j++)
			v[j] = b64val(in[i + j]);
		int pad = 0;
		if (last && in[i + 3] == '=') {
			pad = in[i + 2] == '=' ? 2 : 1;
		}
		if (v[0] < 0 || v[1] < 0 || (pad < 2 && v[2] < 0) || (pad < 1 && v[3] < 0)) {
			secure_free(buf, inlen / 4 * 3 + 1);
			return -EINVAL;
		}
		unsigned w = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 |
			     (pad < 2 ? (unsigned)v[2] << 6 : 0) | (pad < 1 ? (unsigned)v[3] : 0);
		buf[o++] = (char)(w >> 16);
		if (pad < 2)
			buf[o++] = (char)(w >> 8);
		if (pad < 1)
			buf[o++] = (char)w;
	}
	buf[o] = '\0';
	*out = buf;
	*len = o;
	return 0;
}

/* ---- validation helpers -------------------------------------------- */

struct vctx {
	char *err;
	size_t errlen;
	size_t prompt_bytes;
};

static int verr(struct vctx *v, const char *fmt, ...) PD_PRINTF(2, 3);
static int verr(struct vctx *v, const char *fmt, ...)
{
	if (v->err && v->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(v->err, v->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const char *tname(json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_null: return "null";
	case json_type_boolean: return "a boolean";
	case json_type_double: return "a number";
	case json_type_int: return "an integer";
	case json_type_string: return "a string";
	case json_type_object: return "a mapping";
	case json_type_array: return "a list";
	}
	return "?";
}

/* The hint after "expected a string, got ...": quoting helps a scalar. */
static const char *quote_hint(json_object *o)
{
	return json_object_is_type(o, json_type_object) || json_object_is_type(o, json_type_array)
		       ? ""
		       : ": quote the value";
}

/* out = path "." key (or key alone), truncated to n bytes. */
static void join(char *out, size_t n, const char *path, const char *key)
{
	struct buf b;
	buf_init(&b, n - 1);
	if (path && *path) {
		buf_puts(&b, path);
		buf_puts(&b, ".");
	}
	if (buf_puts(&b, key) < 0)
		buf_append(&b, key, n - 1 - b.len);
	snprintf(out, n, "%s", b.data ? b.data : "");
	buf_free(&b);
}

/* A field of `o`; a null value counts as absent and is removed. */
static json_object *fget(json_object *o, const char *k)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, k, &v))
		return NULL;
	if (!v)
		json_object_object_del(o, k);
	return v;
}

static int check_fields(struct vctx *v, json_object *o, const char *path,
			const char *const *allowed)
{
	json_object_object_foreach(o, key, val) {
		(void)val;
		bool ok = false;
		for (size_t i = 0; allowed[i]; i++)
			if (!strcmp(key, allowed[i]))
				ok = true;
		if (ok)
			continue;
		char list[512] = "";
		size_t used = 0;
		for (size_t i = 0; allowed[i]; i++) {
			int w = snprintf(list + used, sizeof(list) - used, "%s%s",
					 i ? ", " : "", allowed[i]);
			if (w < 0 || (size_t)w >= sizeof(list) - used)
				break;
			used += (size_t)w;
		}
		char p[PATHLEN];
		join(p, sizeof(p), path, key);
		return verr(v, "%.300s: unknown field: valid fields are %s", p, list);
	}
	return 0;
}

static int want_type(struct vctx *v, json_object *o, json_type t, const char *path, const char *what)
{
	if (json_object_is_type(o, t))
		return 0;
	return verr(v, "%.300s: expected %s, got %s", path, what, tname(o));
}

/* Optional (or required) non-empty string field. */
static int get_str(struct vctx *v, json_object *o, const char *key, const char *path,
		   bool required, const char **out)
{
	char p[PATHLEN];
	join(p, sizeof(p), path, key);
	json_object *f = fget(o, key);
	if (!f) {
		if (required)
			return verr(v, "%s: required field is missing", p);
		*out = NULL;
		return 0;
	}
	if (!json_object_is_type(f, json_type_string))
		return verr(v, "%s: expected a string, got %s%s", p, tname(f), quote_hint(f));
	const char *s = json_object_get_string(f);
	if (!*s)
		return verr(v, "%s: must not be empty", p);
	if ((size_t)json_object_get_string_len(f) != strlen(s))
		return verr(v, "%s: must not contain NUL characters", p);
	*out = s;
	return 0;
}

static int get_int(struct vctx *v, json_object *o, const char *key, const char *path,
		   int64_t min, int64_t max, int64_t *out, bool *present)
{
	char p[PATHLEN];
	join(p, sizeof(p), path, key);
	json_object *f = fget(o, key);
	*present = f != NULL;
	if (!f)
		return 0;
	if (!json_object_is_type(f, json_type_int))
		return verr(v, "%s: expected an integer, got %s", p, tname(f));
	int64_t x = json_object_get_int64(f);
	if (x < min || x > max)
		return verr(v, "%s: invalid value %lld: use an integer from %lld to %lld", p,
			    (long long)x, (long long)min, (long long)max);
	*out = x;
	return 0;
}

static int get_obj(struct vctx *v, json_object *o, const char *key, const char *path,
		   bool required, json_object **out)
{
	char p[PATHLEN];
	join(p, sizeof(p), path, key);
	json_object *f = fget(o, key);
	if (!f) {
		if (required)
			return verr(v, "%s: required field is missing", p);
		*out = NULL;
		return 0;
	}
	int rc = want_type(v, f, json_type_object, p, "a mapping");
	if (rc == 0)
		*out = f;
	return rc;
}

static int get_arr(struct vctx *v, json_object *o, const char *key, const char *path,
		   json_object **out)
{
	char p[PATHLEN];
	join(p, sizeof(p), path, key);
	json_object *f = fget(o, key);
	*out = NULL;
	if (!f)
		return 0;
	int rc = want_type(v, f, json_type_array, p, "a list");
	if (rc == 0)
		*out = f;
	return rc;
}

static int check_enum(struct vctx *v, const char *path, const char *val,
		      const char *const *choices, const char *hint)
{
	if (!val)
		return 0;
	for (size_t i = 0; choices[i]; i++)
		if (!strcmp(val, choices[i]))
			return 0;
	return verr(v, "%s: unsupported value \"%.64s\": use %s", path, val, hint);
}

/* map of string -> string with validated keys (and values). */
static int check_string_map(struct vctx *v, json_object *m, const char *path,
			    bool (*key_ok)(const char *), const char *key_hint,
			    bool (*val_ok)(const char *), const char *val_hint)
{
	json_object_object_foreach(m, k, val) {
		if (!key_ok(k))
			return verr(v, "%s[\"%.64s\"]: invalid key: %s", path, k, key_hint);
		if (!json_object_is_type(val, json_type_string))
			return verr(v, "%s[\"%.64s\"]: expected a string, got %s%s", path, k,
				    tname(val), quote_hint(val));
		if (val_ok && !val_ok(json_object_get_string(val)))
			return verr(v, "%s[\"%.64s\"]: invalid value \"%.64s\": %s", path, k,
				    json_object_get_string(val), val_hint);
	}
	return 0;
}

#define LABEL_KEY_HINT \
	"use [prefix/]name: name of at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit; prefix a DNS subdomain"
#define LABEL_VALUE_HINT \
	"use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
#define DATA_KEY_HINT "use letters, digits, '-', '_' or '.' (at most 253)"

/* ---- metadata ------------------------------------------------------ */

static int check_metadata(struct vctx *v, json_object *doc, enum model_kind kind)
{
	/* uid .. deletionTimestamp are the server's: accepted (a document
	 * read back can be applied again) and never taken from a user. */
	static const char *const fields[] = { "name",	     "namespace", "labels",
					      "annotations", "uid",	  "resourceVersion",
					      "generation",  "creationTimestamp", "deletionTimestamp",
					      NULL };
	json_object *md = NULL, *labels = NULL, *ann = NULL;
	const char *name = NULL, *ns = NULL;
	int rc = get_obj(v, doc, "metadata", "", true, &md);
	if (rc < 0)
		return rc;
	if ((rc = check_fields(v, md, "metadata", fields)) < 0)
		return rc;
	if ((rc = get_str(v, md, "name", "metadata", true, &name)) < 0)
		return rc;
	bool label = kind == MODEL_TASK || kind == MODEL_AGENT || kind == MODEL_SPAWNER ||
		     kind == MODEL_BUDGET;
	if (label ? !model_dns1123_label(name) : !model_dns1123_subdomain(name))
		return verr(v,
			    "metadata.name: invalid value \"%.64s\": use lowercase letters, digits and '-'%s, at most %d characters, starting and ending with a letter or digit",
			    name, label ? "" : " or '.'", label ? 63 : 253);
	if ((rc = get_str(v, md, "namespace", "metadata", false, &ns)) < 0)
		return rc;
	if (!ns)
		json_object_object_add(md, "namespace",
				       json_object_new_string(MODEL_DEFAULT_NAMESPACE));
	else if (!model_dns1123_label(ns))
		return verr(v,
			    "metadata.namespace: invalid value \"%.64s\": use lowercase letters, digits and '-', at most 63 characters, starting and ending with a letter or digit",
			    ns);
	if ((rc = get_obj(v, md, "labels", "metadata", false, &labels)) < 0)
		return rc;
	if (labels && (rc = check_string_map(v, labels, "metadata.labels", label_key_ok,
					     LABEL_KEY_HINT, label_value_ok, LABEL_VALUE_HINT)) < 0)
		return rc;
	if ((rc = get_obj(v, md, "annotations", "metadata", false, &ann)) < 0)
		return rc;
	if (ann) {
		if ((rc = check_string_map(v, ann, "metadata.annotations", label_key_ok,
					   LABEL_KEY_HINT, NULL, NULL)) < 0)
			return rc;
		size_t total = 0;
		json_object_object_foreach(ann, k, val) {
			total += strlen(k) + (size_t)json_object_get_string_len(val);
		}
		if (total > MAX_ANNOTATION_BYTES)
			return verr(v, "metadata.annotations: %zu bytes, more than %d: shorten them",
				    total, MAX_ANNOTATION_BYTES);
	}
	return 0;
}

/* ---- spec pieces --------------------------------------------------- */

static int check_secret_ref(struct vctx *v, json_object *o, const char *path, bool with_key,
			    const char *default_key)
{
	static const char *const f_key[] = { "name", "key", NULL };
	static const char *const f_name[] = { "name", NULL };
	const char *name = NULL, *key = NULL;
	char p[PATHLEN];
	int rc = check_fields(v, o, path, with_key ? f_key : f_name);
	if (rc < 0)
		return rc;
	if ((rc = get_str(v, o, "name", path, true, &name)) < 0)
		return rc;
	if (!model_dns1123_subdomain(name)) {
		join(p, sizeof(p), path, "name");
		return verr(v, "%s: invalid value \"%.64s\": use a Secret name (lowercase letters, digits, '-' and '.')",
			    p, name);
	}
	if (!with_key)
		return 0;
	if ((rc = get_str(v, o, "key", path, false, &key)) < 0)
		return rc;
	join(p, sizeof(p), path, "key");
	if (key && !data_key_ok(key))
		return verr(v, "%s: invalid value \"%.64s\": %s", p, key, DATA_KEY_HINT);
	if (!key && default_key)
		json_object_object_add(o, "key", json_object_new_string(default_key));
	return 0;
}

static int check_credentials(struct vctx *v, json_object *spec, const char *path)
{
	static const char *const fields[] = { "type", "secretRef", NULL };
	static const char *const types[] = { "api-key", "oauth", "none", NULL };
	json_object *c = NULL, *ref = NULL;
	const char *type = NULL;
	char p[PATHLEN], tp[PATHLEN], rp[PATHLEN];
	join(p, sizeof(p), path, "credentials");
	join(tp, sizeof(tp), p, "type");
	join(rp, sizeof(rp), p, "secretRef");
	int rc = get_obj(v, spec, "credentials", path, false, &c);
	if (rc < 0 || !c)
		return rc;
	if ((rc = check_fields(v, c, p, fields)) < 0)
		return rc;
	if ((rc = get_str(v, c, "type", p, false, &type)) < 0)
		return rc;
	if (!type)
		return verr(v, "%s: required field is missing: use api-key, oauth or none", tp);
	if ((rc = check_enum(v, tp, type, types, "api-key, oauth or none")) < 0)
		return rc;
	if ((rc = get_obj(v, c, "secretRef", p, false, &ref)) < 0)
		return rc;
	if (!strcmp(type, "none")) {
		if (ref)
			return verr(v, "%s: not allowed when type is none: remove it or set type to api-key or oauth",
				    rp);
		return 0;
	}
	if (!ref)
		return verr(v, "%s: required when type is %s: name the Secret holding the credential",
			    rp, type);
	return check_secret_ref(v, ref, rp, true, !strcmp(type, "api-key") ? "apiKey" : "oauthToken");
}

/* "ConfigMap" -> "configMap", "URL" -> "url", "HTTPHeader" -> "httpHeader". */
static char *type_key(const char *type)
{
	char *k = xstrdup(type);
	size_t n = strlen(k), run = 0;
	while (run < n && isupper((unsigned char)k[run]))
		run++;
	size_t lower = run == n ? n : run > 1 ? run - 1 : run;
	for (size_t i = 0; i < lower; i++)
		k[i] = (char)tolower((unsigned char)k[i]);
	return k;
}

static int check_contexts(struct vctx *v, json_object *spec)
{
	json_object *arr = NULL;
	int rc = get_arr(v, spec, "contexts", "spec", &arr);
	if (rc < 0 || !arr)
		return rc;
	size_t n = json_object_array_length(arr);
	if (n > MAX_CONTEXTS)
		return verr(v, "spec.contexts: %zu items, more than %d: merge some", n, MAX_CONTEXTS);
	json_object *names = json_object_new_object();
	for (size_t i = 0; i < n && rc == 0; i++) {
		json_object *it = json_object_array_get_idx(arr, i);
		char p[PATHLEN], fp[PATHLEN];
		const char *type = NULL, *name = NULL, *mp = NULL;
		snprintf(p, sizeof(p), "spec.contexts[%zu]", i);
		if ((rc = want_type(v, it, json_type_object, p, "a mapping")) < 0)
			break;
		if ((rc = get_str(v, it, "type", p, true, &type)) < 0)
			break;
		bool ident = isalpha((unsigned char)type[0]) && strlen(type) <= 63;
		for (const char *s = type; *s; s++)
			if (!isalnum((unsigned char)*s))
				ident = false;
		if (!ident) {
			rc = verr(v, "%s.type: invalid value \"%.64s\": use a context type such as Text, ConfigMap, Git, URL or Runtime",
				  p, type);
			break;
		}
		char *tk = type_key(type);
		const char *fields[] = { "name", "type", "mountPath", "fileMode", tk, NULL };
		rc = check_fields(v, it, p, fields);
		free(tk);
		if (rc < 0)
			break;
		if ((rc = get_str(v, it, "name", p, false, &name)) < 0)
			break;
		if (name && !output_name_ok(name)) {
			rc = verr(v, "%s.name: invalid value \"%.64s\": use at most 63 letters, digits, '-', '_' or '.'",
				  p, name);
			break;
		}
		if (name && json_object_object_get_ex(names, name, NULL)) {
			rc = verr(v, "%s.name: duplicate name \"%s\": give each context a unique name",
				  p, name);
			break;
		}
		if (name)
			json_object_object_add(names, name, NULL);
		if ((rc = get_str(v, it, "mountPath", p, false, &mp)) < 0)
			break;
		if (mp && !rel_path_ok(mp)) {
			rc = verr(v, "%s.mountPath: invalid value \"%.64s\": use a path relative to the workspace, without \"..\"",
				  p, mp);
			break;
		}
		int64_t mode = 0;
		bool has_mode = false;
		json_object *fm = fget(it, "fileMode");
		if (fm && !json_object_is_type(fm, json_type_int)) {
			rc = verr(v, "%s.fileMode: expected an integer, got %s: use an octal mode such as 0644",
				  p, tname(fm));
			break;
		}
		if (fm && ((mode = json_object_get_int64(fm)) < 0 || mode > 0777)) {
			rc = verr(v, "%s.fileMode: invalid value %lld: use an octal mode from 0 to 0777 such as 0644",
				  p, (long long)mode);
			break;
		}
		has_mode = fm != NULL;
		join(fp, sizeof(fp), p, "fileMode");
		if (has_mode && !mp) {
			rc = verr(v, "%s: only allowed with mountPath: add mountPath or remove fileMode", fp);
			break;
		}
	}
	json_object_put(names);
	return rc;
}

/* ---- resources ----------------------------------------------------- */

/* The quantities of resources.limits/requests (pids is a plain integer,
 * limits only). */
#define N_QUANTITIES 3
static const enum quantity_kind res_kinds[] = { QUANTITY_CPU, QUANTITY_BYTES, QUANTITY_BYTES };

/* The text of a quantity: a string as it is, a number as YAML wrote it
 * ("%.15g": 0.1, not 0.10000000000000001); NULL for other types. */
static const char *qtext(json_object *f, char *buf, size_t len)
{
	if (json_object_is_type(f, json_type_string))
		return json_object_get_string(f);
	if (json_object_is_type(f, json_type_int)) {
		snprintf(buf, len, "%" PRId64, json_object_get_int64(f));
		return buf;
	}
	if (json_object_is_type(f, json_type_double)) {
		snprintf(buf, len, "%.15g", json_object_get_double(f));
		return buf;
	}
	return NULL;
}

/* The value f at path p as a quantity of `kind`; `positive`: 0 refused. */
static int check_quantity(struct vctx *v, json_object *f, const char *p, enum quantity_kind kind,
			  bool positive, int64_t *out)
{
	char num[48];
	const char *s = qtext(f, num, sizeof(num));
	if (!s)
		return verr(v, "%s: expected a quantity (a string or a number), got %s", p, tname(f));
	if (json_object_is_type(f, json_type_string) &&
	    (size_t)json_object_get_string_len(f) != strlen(s))
		return verr(v, "%s: must not contain NUL characters", p);
	const char *why = NULL;
	int64_t q = 0;
	if (quantity_parse(s, kind, &q, &why) < 0)
		return verr(v, "%s: invalid quantity \"%.64s\": %s%s%s", p, s, why ? why : "",
			    why ? ": " : "", quantity_hint(kind));
	if (q == 0 && positive)
		return verr(v, "%s: invalid quantity \"%.64s\": must be greater than 0: remove the field to get the default",
			    p, s);
	*out = q;
	return 0;
}

/* spec.resources, Kubernetes' shape: limits {cpu, memory,
 * ephemeral-storage, pids}, requests {cpu, memory, ephemeral-storage}. */
static int check_resources(struct vctx *v, json_object *spec)
{
	static const char *const fields[] = { "limits", "requests", NULL };
	static const char *const lfields[] = { "cpu", "memory", "ephemeral-storage", "pids", NULL };
	static const char *const rfields[] = { "cpu", "memory", "ephemeral-storage", NULL };
	json_object *res = NULL, *lim = NULL, *req = NULL;
	struct run_limits l = { 0 }, r = { 0 };
	int rc = get_obj(v, spec, "resources", "spec", false, &res);
	if (rc < 0 || !res || (rc = check_fields(v, res, "spec.resources", fields)) < 0)
		return rc;
	if ((rc = get_obj(v, res, "limits", "spec.resources", false, &lim)) < 0 ||
	    (rc = get_obj(v, res, "requests", "spec.resources", false, &req)) < 0 ||
	    (lim && (rc = check_fields(v, lim, "spec.resources.limits", lfields)) < 0) ||
	    (req && (rc = check_fields(v, req, "spec.resources.requests", rfields)) < 0))
		return rc;
	for (size_t i = 0; i < N_QUANTITIES; i++) {
		struct {
			json_object *m;
			const char *path;
			struct run_limits *out;
		} parts[] = { { lim, "spec.resources.limits", &l }, { req, "spec.resources.requests", &r } };
		for (size_t j = 0; j < ARRAY_SIZE(parts); j++) {
			json_object *f = parts[j].m ? fget(parts[j].m, limits_names[i]) : NULL;
			char p[PATHLEN];
			join(p, sizeof(p), parts[j].path, limits_names[i]);
			if (f && (rc = check_quantity(v, f, p, res_kinds[i], true,
						      limits_field(parts[j].out, i))) < 0)
				return rc;
		}
	}
	int64_t pids;
	bool has;
	if (lim && (rc = get_int(v, lim, "pids", "spec.resources.limits", 1, PIDS_MAX, &pids, &has)) < 0)
		return rc;
	for (size_t i = 0; i < N_QUANTITIES; i++) {
		int64_t rq = *limits_field(&r, i), lq = *limits_field(&l, i);
		if (!rq || !lq || rq <= lq)
			continue;
		char rs[32], ls[32];
		quantity_format(rq, res_kinds[i], rs, sizeof(rs));
		quantity_format(lq, res_kinds[i], ls, sizeof(ls));
		return verr(v, "spec.resources.requests.%s: %s is above spec.resources.limits.%s (%s): lower the request or raise the limit",
			    limits_names[i], rs, limits_names[i], ls);
	}
	return 0;
}

/* ---- Task ---------------------------------------------------------- */

static int check_workspace(struct vctx *v, json_object *spec)
{
	static const char *const fields[] = { "repo", "ref", "secretRef", NULL };
	json_object *ws = NULL, *ref = NULL;
	const char *repo = NULL, *gitref = NULL;
	int rc = get_obj(v, spec, "workspace", "spec", false, &ws);
	if (rc < 0 || !ws)
		return rc;
	if ((rc = check_fields(v, ws, "spec.workspace", fields)) < 0)
		return rc;
	if ((rc = get_str(v, ws, "repo", "spec.workspace", true, &repo)) < 0)
		return rc;
	if (!repo_url_ok(repo))
		return verr(v, "spec.workspace.repo: invalid value \"%.128s\": use an https://, http://, ssh://, git:// or file:// URL, user@host:path or an absolute path",
			    repo);
	if ((rc = get_str(v, ws, "ref", "spec.workspace", false, &gitref)) < 0)
		return rc;
	if (gitref && !git_ref_ok(gitref))
		return verr(v, "spec.workspace.ref: invalid value \"%.64s\": use a branch or tag name or a 40-hex commit SHA",
			    gitref);
	if ((rc = get_obj(v, ws, "secretRef", "spec.workspace", false, &ref)) < 0)
		return rc;
	if (ref)
		rc = check_secret_ref(v, ref, "spec.workspace.secretRef", false, NULL);
	return rc;
}

static int check_outputs(struct vctx *v, json_object *spec)
{
	static const char *const fields[] = { "parameters", NULL };
	static const char *const pfields[] = { "name", "path", "default", NULL };
	json_object *out = NULL, *params = NULL;
	int rc = get_obj(v, spec, "outputs", "spec", false, &out);
	if (rc < 0 || !out)
		return rc;
	if ((rc = check_fields(v, out, "spec.outputs", fields)) < 0)
		return rc;
	if ((rc = get_arr(v, out, "parameters", "spec.outputs", &params)) < 0 || !params)
		return rc;
	size_t n = json_object_array_length(params);
	if (n > MAX_OUTPUTS)
		return verr(v, "spec.outputs.parameters: %zu items, more than %d", n, MAX_OUTPUTS);
	json_object *seen = json_object_new_object();
	for (size_t i = 0; i < n && rc == 0; i++) {
		json_object *it = json_object_array_get_idx(params, i);
		char p[PATHLEN];
		const char *name = NULL, *path = NULL;
		snprintf(p, sizeof(p), "spec.outputs.parameters[%zu]", i);
		if ((rc = want_type(v, it, json_type_object, p, "a mapping")) < 0 ||
		    (rc = check_fields(v, it, p, pfields)) < 0 ||
		    (rc = get_str(v, it, "name", p, true, &name)) < 0)
			break;
		if (!output_name_ok(name)) {
			rc = verr(v, "%s.name: invalid value \"%.64s\": use at most 63 letters, digits, '-', '_' or '.'",
				  p, name);
			break;
		}
		if (json_object_object_get_ex(seen, name, NULL)) {
			rc = verr(v, "%s.name: duplicate name \"%s\": give each output a unique name", p,
				  name);
			break;
		}
		json_object_object_add(seen, name, NULL);
		if ((rc = get_str(v, it, "path", p, true, &path)) < 0)
			break;
		if (!rel_path_ok(path)) {
			rc = verr(v, "%s.path: invalid value \"%.64s\": use a path relative to the workspace, without \"..\"",
				  p, path);
			break;
		}
		json_object *d = fget(it, "default");
		if (d && !json_object_is_type(d, json_type_string))
			rc = verr(v, "%s.default: expected a string, got %s: quote the value", p,
				  tname(d));
	}
	json_object_put(seen);
	return rc;
}

static int check_deps(struct vctx *v, json_object *spec, const char *self)
{
	json_object *arr = NULL;
	int rc = get_arr(v, spec, "dependsOn", "spec", &arr);
	if (rc < 0 || !arr)
		return rc;
	size_t n = json_object_array_length(arr);
	if (n > MAX_DEPS)
		return verr(v, "spec.dependsOn: %zu items, more than %d", n, MAX_DEPS);
	for (size_t i = 0; i < n; i++) {
		json_object *it = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(it, json_type_string))
			return verr(v, "spec.dependsOn[%zu]: expected a string (a Task name), got %s", i,
				    tname(it));
		const char *d = json_object_get_string(it);
		if (!model_dns1123_label(d))
			return verr(v, "spec.dependsOn[%zu]: invalid value \"%.64s\": use the name of a Task in the same namespace",
				    i, d);
		if (!strcmp(d, self))
			return verr(v, "spec.dependsOn[%zu]: a Task cannot depend on itself (\"%s\"): remove it",
				    i, d);
		for (size_t j = 0; j < i; j++)
			if (str_eq(json_object_get_string(json_object_array_get_idx(arr, j)), d))
				return verr(v, "spec.dependsOn[%zu]: duplicate \"%s\": list each Task once",
					    i, d);
	}
	return 0;
}

static int timeout_seconds(json_object *t, long *out)
{
	if (json_object_is_type(t, json_type_int)) {
		int64_t x = json_object_get_int64(t);
		if (x <= 0 || x > LONG_MAX)
			return -EINVAL;
		*out = (long)x;
		return 0;
	}
	if (!json_object_is_type(t, json_type_string))
		return -EINVAL;
	long s = 0;
	if (parse_duration(json_object_get_string(t), &s) < 0 || s <= 0)
		return -EINVAL;
	*out = s;
	return 0;
}

static const char *const effort_values[] = { "minimal", "low", "medium", "high", "xhigh", NULL };
#define EFFORT_HINT "minimal, low, medium, high or xhigh"

static int check_driver_type(struct vctx *v, const char *type)
{
	bool ok = strlen(type) <= 63;
	for (const char *s = type; *s; s++)
		if (!alnum_lower(*s) && *s != '-')
			ok = false;
	if (!ok)
		return verr(v, "spec.type: invalid value \"%.64s\": use a driver name such as claude-code, codex, gemini, opencode or exec",
			    type);
	return 0;
}

/* An optional amount of US dollars: a number >= 0 (an integer is fine). */
static int get_money(struct vctx *v, json_object *o, const char *key, const char *path)
{
	char p[PATHLEN];
	join(p, sizeof(p), path, key);
	json_object *f = fget(o, key);
	if (!f)
		return 0;
	bool num = json_object_is_type(f, json_type_double) || json_object_is_type(f, json_type_int);
	double x = num ? json_object_get_double(f) : -1;
	if (!num || !(x >= 0) || x > 1e9)
		return verr(v, "%s: invalid value %.64s: use a number of US dollars such as 2.50", p,
			    json_object_to_json_string_ext(f, JSON_C_TO_STRING_PLAIN));
	return 0;
}

static int check_task(struct vctx *v, json_object *doc)
{
	static const char *const fields[] = { "type",	    "agentRef",	 "prompt",
					      "credentials", "model",	 "effort",
					      "workspace",   "contexts", "outputs",
					      "dependsOn",   "timeout",	 "ttlSecondsAfterFinished",
					      "stop",	     "resources", "maxCostUSD", NULL };
	static const char *const ref_fields[] = { "name", "namespace", NULL };
	json_object *spec = NULL, *ref = NULL, *md = fget(doc, "metadata");
	const char *type = NULL, *prompt = NULL, *s = NULL;
	const char *ns = json_object_get_string(fget(md, "namespace"));
	const char *self = json_object_get_string(fget(md, "name"));
	int rc = get_obj(v, doc, "spec", "", true, &spec);
	if (rc < 0 || (rc = check_fields(v, spec, "spec", fields)) < 0)
		return rc;
	if ((rc = get_str(v, spec, "type", "spec", false, &type)) < 0 ||
	    (rc = get_obj(v, spec, "agentRef", "spec", false, &ref)) < 0)
		return rc;
	if (!type == !ref)
		return verr(v, "spec: %s: set spec.type (a driver name) or spec.agentRef (an Agent)",
			    type ? "type and agentRef are mutually exclusive" : "one of type or agentRef is required");
	if (type && (rc = check_driver_type(v, type)) < 0)
		return rc;
	if (ref) {
		const char *an = NULL, *ans = NULL;
		if ((rc = check_fields(v, ref, "spec.agentRef", ref_fields)) < 0 ||
		    (rc = get_str(v, ref, "name", "spec.agentRef", true, &an)) < 0 ||
		    (rc = get_str(v, ref, "namespace", "spec.agentRef", false, &ans)) < 0)
			return rc;
		if (!model_dns1123_label(an))
			return verr(v, "spec.agentRef.name: invalid value \"%.64s\": use the name of an Agent",
				    an);
		if (ans && !model_dns1123_label(ans))
			return verr(v, "spec.agentRef.namespace: invalid value \"%.64s\": use a namespace name",
				    ans);
		if (!ans)
			json_object_object_add(ref, "namespace", json_object_new_string(ns));
	}
	if ((rc = get_str(v, spec, "prompt", "spec", true, &prompt)) < 0)
		return rc;
	size_t plen = strlen(prompt);
	if (plen > v->prompt_bytes)
		return verr(v, "spec.prompt: %zu bytes, more than the limit of %zu: shorten it or move material into spec.contexts",
			    plen, v->prompt_bytes);
	if ((rc = get_str(v, spec, "model", "spec", false, &s)) < 0)
		return rc;
	if ((rc = get_str(v, spec, "effort", "spec", false, &s)) < 0 ||
	    (rc = check_enum(v, "spec.effort", s, effort_values, EFFORT_HINT)) < 0)
		return rc;
	if ((rc = check_credentials(v, spec, "spec")) < 0)
		return rc;
	if (type && !fget(spec, "credentials")) {
		json_object *c = json_object_new_object();
		json_object_object_add(c, "type", json_object_new_string("none"));
		json_object_object_add(spec, "credentials", c);
	}
	if ((rc = check_workspace(v, spec)) < 0 || (rc = check_contexts(v, spec)) < 0 ||
	    (rc = check_outputs(v, spec)) < 0 || (rc = check_deps(v, spec, self)) < 0 ||
	    (rc = check_resources(v, spec)) < 0)
		return rc;
	json_object *t = fget(spec, "timeout");
	long secs;
	if (t && timeout_seconds(t, &secs) < 0)
		return verr(v, "spec.timeout: invalid value %.64s: use a positive duration such as 30m, 1h30m or 900 (seconds)",
			    json_object_to_json_string_ext(t, JSON_C_TO_STRING_PLAIN));
	if ((rc = get_money(v, spec, "maxCostUSD", "spec")) < 0)
		return rc;
	json_object *stop = fget(spec, "stop");
	if (stop && !json_object_is_type(stop, json_type_boolean))
		return verr(v, "spec.stop: expected a boolean, got %s: use true or false", tname(stop));
	int64_t ttl;
	bool has;
	return get_int(v, spec, "ttlSecondsAfterFinished", "spec", 0, INT32_MAX, &ttl, &has);
}

/* ---- Agent --------------------------------------------------------- */

static int check_sandbox(struct vctx *v, json_object *spec)
{
	static const char *const fields[] = { "readOnlyPaths", "env", NULL };
	json_object *sb = NULL, *ro = NULL, *env = NULL;
	int rc = get_obj(v, spec, "sandbox", "spec", false, &sb);
	if (rc < 0 || !sb || (rc = check_fields(v, sb, "spec.sandbox", fields)) < 0)
		return rc;
	if ((rc = get_arr(v, sb, "readOnlyPaths", "spec.sandbox", &ro)) < 0)
		return rc;
	for (size_t i = 0; ro && i < json_object_array_length(ro); i++) {
		json_object *it = json_object_array_get_idx(ro, i);
		if (!json_object_is_type(it, json_type_string) ||
		    !abs_path_ok(json_object_get_string(it)))
			return verr(v, "spec.sandbox.readOnlyPaths[%zu]: invalid value %.64s: use an absolute path without \"..\"",
				    i, json_object_to_json_string_ext(it, JSON_C_TO_STRING_PLAIN));
	}
	if ((rc = get_obj(v, sb, "env", "spec.sandbox", false, &env)) < 0 || !env)
		return rc;
	json_object_object_foreach(env, k, val) {
		if (!env_name_ok(k))
			return verr(v, "spec.sandbox.env[\"%.64s\"]: invalid name: use letters, digits and '_', not starting with a digit",
				    k);
		/* The sandbox's own (local/sandbox.c, kube/render.c) and the
		 * core's and drivers' contract (PADDOCK_TASK, PADDOCK_LIB, ...). */
		if (!strcmp(k, "HOME") || !strcmp(k, "TMPDIR") || !strcmp(k, "PWD") ||
		    str_startswith(k, "PADDOCK_"))
			return verr(v, "spec.sandbox.env[\"%.64s\"]: reserved name: Paddock sets HOME, TMPDIR, PWD and the PADDOCK_* variables itself: remove it",
				    k);
		if (!json_object_is_type(val, json_type_string))
			return verr(v, "spec.sandbox.env[\"%.64s\"]: expected a string, got %s: quote the value",
				    k, tname(val));
		if ((size_t)json_object_get_string_len(val) != strlen(json_object_get_string(val)))
			return verr(v, "spec.sandbox.env[\"%.64s\"]: must not contain NUL characters", k);
	}
	return 0;
}

/* "1".."65535" without leading zeros (as the CRD's pattern). */
static bool net_port_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 5 || s[0] == '0')
		return false;
	long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	return v <= 65535;
}

/* The syntax of an egress allow entry, the same as the CRD's pattern:
 * "host", "*.domain" or "[v6]", each with an optional ":PORT"; a host is
 * labels of letters, digits, '-' and '_' (1-63 each) joined by dots, with
 * an optional trailing dot.  The proxy's parser (egress_policy_add, run
 * when an Agent is applied and when its runs start) checks the rest
 * (an IPv6 literal's form, a wildcard over an IP, 253 characters). */
static bool net_allow_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > MODEL_NET_ALLOW_MAX)
		return false;
	const char *p = s, *port = NULL;
	if (*p == '[') {
		const char *close = strchr(p, ']');
		if (!close || close == p + 1)
			return false;
		for (const char *q = p + 1; q < close; q++)
			if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
				return false;
		p = close + 1;
		if (*p && *p != ':')
			return false;
		port = *p ? p + 1 : NULL;
	} else {
		if (p[0] == '*' && p[1] == '.')
			p += 2;
		size_t label = 0, labels = 0;
		for (; *p && *p != ':'; p++) {
			if (*p == '.') {
				if (label == 0)
					return false;
				label = 0;
				labels++;
			} else if (isalnum((unsigned char)*p) || *p == '-' || *p == '_') {
				if (++label > 63)
					return false;
			} else {
				return false;
			}
		}
		if (label == 0 && labels == 0) /* empty, or only a trailing dot is fine */
			return false;
		port = *p == ':' ? p + 1 : NULL;
	}
	return !port || net_port_ok(port);
}

/* spec.network: the Agent's egress, within paddock.yaml's ceiling (that
 * part is checked against the operator's config, pipeline_egress). */
static int check_network(struct vctx *v, json_object *spec)
{
	static const char *const fields[] = { "egress", "allow", NULL };
	static const char *const modes[] = { "none", "allowlist", "open", NULL };
	json_object *net = NULL, *allow = NULL;
	const char *mode = NULL;
	int rc = get_obj(v, spec, "network", "spec", false, &net);
	if (rc < 0 || !net || (rc = check_fields(v, net, "spec.network", fields)) < 0)
		return rc;
	if ((rc = get_str(v, net, "egress", "spec.network", false, &mode)) < 0 ||
	    (rc = check_enum(v, "spec.network.egress", mode, modes, "none, allowlist or open")) < 0 ||
	    (rc = get_arr(v, net, "allow", "spec.network", &allow)) < 0)
		return rc;
	size_t n = allow ? json_object_array_length(allow) : 0;
	if (n > MODEL_NET_ALLOW_ITEMS)
		return verr(v, "spec.network.allow: %zu entries, more than %d: use wildcards (\"*.example.com\")",
			    n, MODEL_NET_ALLOW_ITEMS);
	for (size_t i = 0; i < n; i++) {
		json_object *it = json_object_array_get_idx(allow, i);
		if (!json_object_is_type(it, json_type_string) ||
		    (size_t)json_object_get_string_len(it) != strlen(json_object_get_string(it)) ||
		    !net_allow_ok(json_object_get_string(it)))
			return verr(v, "spec.network.allow[%zu]: invalid value %.64s: use a host (\"api.example.com\"), \"*.example.com\" for its subdomains or \"[v6 address]\", each with an optional \":PORT\"",
				    i, json_object_to_json_string_ext(it, JSON_C_TO_STRING_PLAIN));
	}
	if (n && str_eq(mode, "none"))
		return verr(v, "spec.network.allow: egress none allows no host: remove spec.network.allow or use egress allowlist");
	return 0;
}

static bool any_key(const char *k)
{
	return *k != '\0';
}

static int check_pod(struct vctx *v, json_object *spec)
{
	static const char *const fields[] = { "labels",	     "runtimeClassName", "nodeSelector",
					      "tolerations", "resources",	 NULL };
	static const char *const rfields[] = { "limits", "requests", NULL };
	json_object *pod = NULL, *m = NULL, *tol = NULL, *res = NULL;
	const char *rcn = NULL;
	int rc = get_obj(v, spec, "pod", "spec", false, &pod);
	if (rc < 0 || !pod || (rc = check_fields(v, pod, "spec.pod", fields)) < 0)
		return rc;
	if ((rc = get_obj(v, pod, "labels", "spec.pod", false, &m)) < 0 ||
	    (m && (rc = check_string_map(v, m, "spec.pod.labels", label_key_ok, LABEL_KEY_HINT,
					 label_value_ok, LABEL_VALUE_HINT)) < 0))
		return rc;
	if ((rc = get_obj(v, pod, "nodeSelector", "spec.pod", false, &m)) < 0 ||
	    (m && (rc = check_string_map(v, m, "spec.pod.nodeSelector", label_key_ok,
					 LABEL_KEY_HINT, label_value_ok, LABEL_VALUE_HINT)) < 0))
		return rc;
	if ((rc = get_str(v, pod, "runtimeClassName", "spec.pod", false, &rcn)) < 0)
		return rc;
	if (rcn && !model_dns1123_subdomain(rcn))
		return verr(v, "spec.pod.runtimeClassName: invalid value \"%.64s\": use a RuntimeClass name",
			    rcn);
	if ((rc = get_arr(v, pod, "tolerations", "spec.pod", &tol)) < 0)
		return rc;
	for (size_t i = 0; tol && i < json_object_array_length(tol); i++)
		if (!json_object_is_type(json_object_array_get_idx(tol, i), json_type_object))
			return verr(v, "spec.pod.tolerations[%zu]: expected a mapping, got %s", i,
				    tname(json_object_array_get_idx(tol, i)));
	if ((rc = get_obj(v, pod, "resources", "spec.pod", false, &res)) < 0 || !res ||
	    (rc = check_fields(v, res, "spec.pod.resources", rfields)) < 0)
		return rc;
	for (int i = 0; i < 2; i++) {
		char p[PATHLEN];
		snprintf(p, sizeof(p), "spec.pod.resources.%s", rfields[i]);
		if ((rc = get_obj(v, res, rfields[i], "spec.pod.resources", false, &m)) < 0)
			return rc;
		if (!m)
			continue;
		json_object_object_foreach(m, k, val) {
			if (!any_key(k) || !(json_object_is_type(val, json_type_string) ||
					     json_object_is_type(val, json_type_int) ||
					     json_object_is_type(val, json_type_double)))
				return verr(v, "%s[\"%.64s\"]: expected a quantity (a string or a number), got %s",
					    p, k, tname(val));
			/* The ones spec.resources also has are read by Paddock
			 * (pipeline_limits): the same parser, 0 still allowed. */
			for (size_t j = 0; j < N_QUANTITIES; j++) {
				char kp[PATHLEN];
				int64_t q;
				join(kp, sizeof(kp), p, k);
				if (!strcmp(k, limits_names[j]) &&
				    (rc = check_quantity(v, val, kp, res_kinds[j], false, &q)) < 0)
					return rc;
			}
		}
	}
	return 0;
}

static int check_agent(struct vctx *v, json_object *doc)
{
	static const char *const fields[] = { "type",	 "image",    "model",
					      "effort",	 "command",  "credentials",
					      "contexts", "maxConcurrentTasks", "allowedNamespaces",
					      "sandbox", "pod",	     "resources", "network", NULL };
	json_object *spec = NULL, *allowed = NULL;
	const char *type = NULL, *s = NULL;
	int rc = get_obj(v, doc, "spec", "", true, &spec);
	if (rc < 0 || (rc = check_fields(v, spec, "spec", fields)) < 0)
		return rc;
	if ((rc = get_str(v, spec, "type", "spec", true, &type)) < 0 ||
	    (rc = check_driver_type(v, type)) < 0)
		return rc;
	if ((rc = get_str(v, spec, "image", "spec", false, &s)) < 0)
		return rc;
	if (s && (strpbrk(s, " \t\r\n") || has_ctl(s)))
		return verr(v, "spec.image: invalid value \"%.64s\": use an image reference without spaces",
			    s);
	if ((rc = get_str(v, spec, "model", "spec", false, &s)) < 0 ||
	    (rc = get_str(v, spec, "command", "spec", false, &s)) < 0)
		return rc;
	if ((rc = get_str(v, spec, "effort", "spec", false, &s)) < 0 ||
	    (rc = check_enum(v, "spec.effort", s, effort_values, EFFORT_HINT)) < 0)
		return rc;
	if ((rc = check_credentials(v, spec, "spec")) < 0 || (rc = check_contexts(v, spec)) < 0)
		return rc;
	int64_t mct;
	bool has;
	if ((rc = get_int(v, spec, "maxConcurrentTasks", "spec", 0, INT32_MAX, &mct, &has)) < 0)
		return rc;
	if ((rc = get_arr(v, spec, "allowedNamespaces", "spec", &allowed)) < 0)
		return rc;
	for (size_t i = 0; allowed && i < json_object_array_length(allowed); i++) {
		json_object *it = json_object_array_get_idx(allowed, i);
		const char *g = json_object_get_string(it);
		bool ok = json_object_is_type(it, json_type_string) && *g && strlen(g) <= 253;
		for (const char *p = g; ok && *p; p++)
			if (!alnum_lower(*p) && !strchr("-*?[]!", *p))
				ok = false;
		if (!ok)
			return verr(v, "spec.allowedNamespaces[%zu]: invalid value %.64s: use a namespace name or a glob such as team-*",
				    i, json_object_to_json_string_ext(it, JSON_C_TO_STRING_PLAIN));
	}
	if ((rc = check_sandbox(v, spec)) < 0 || (rc = check_resources(v, spec)) < 0 ||
	    (rc = check_network(v, spec)) < 0)
		return rc;
	return check_pod(v, spec);
}

/* ---- Spawner ------------------------------------------------------- */

/* A list of non-empty strings of at most `max` bytes each. */
static int check_str_list(struct vctx *v, json_object *o, const char *key, const char *path,
			  size_t max, const char *hint)
{
	json_object *arr = NULL;
	char p[PATHLEN];
	join(p, sizeof(p), path, key);
	int rc = get_arr(v, o, key, path, &arr);
	if (rc < 0 || !arr)
		return rc;
	if (json_object_array_length(arr) > 64)
		return verr(v, "%s: more than 64 items", p);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *it = json_object_array_get_idx(arr, i);
		const char *s = json_object_get_string(it);
		if (!json_object_is_type(it, json_type_string) || !*s || strlen(s) > max || has_ctl(s))
			return verr(v, "%s[%zu]: invalid value %.64s: %s", p, i,
				    json_object_to_json_string_ext(it, JSON_C_TO_STRING_PLAIN), hint);
	}
	return 0;
}

/* spec.webhook.filters: [{field: "a.b", values: [...]}] */
static int check_filters(struct vctx *v, json_object *wh)
{
	static const char *const fields[] = { "field", "values", NULL };
	json_object *arr = NULL;
	int rc = get_arr(v, wh, "filters", "spec.webhook", &arr);
	if (rc < 0 || !arr)
		return rc;
	if (json_object_array_length(arr) > 16)
		return verr(v, "spec.webhook.filters: more than 16 items: combine some");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		char p[PATHLEN];
		const char *f = NULL;
		snprintf(p, sizeof(p), "spec.webhook.filters[%zu]", i);
		json_object *it = json_object_array_get_idx(arr, i);
		if ((rc = want_type(v, it, json_type_object, p, "a mapping")) < 0 ||
		    (rc = check_fields(v, it, p, fields)) < 0 ||
		    (rc = get_str(v, it, "field", p, true, &f)) < 0)
			return rc;
		if (strlen(f) > 200 || strspn(f, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != strlen(f))
			return verr(v, "%s.field: invalid value \"%.64s\": use a dotted path into the payload such as pull_request.base.ref",
				    p, f);
		if (!fget(it, "values"))
			return verr(v, "%s.values: required field is missing: list the accepted values", p);
		if ((rc = check_str_list(v, it, "values", p, 1024, "use a string")) < 0)
			return rc;
	}
	return 0;
}

static int check_webhook(struct vctx *v, json_object *wh)
{
	static const char *const fields[] = { "type",	       "secretRef", "auth",	"events",
					      "actions",       "commandPrefix", "filters", "idHeader",
					      "maxBodyBytes", NULL };
	static const char *const types[] = { "github", "generic", NULL };
	static const char *const auths[] = { "hmac", "bearer", NULL };
	const char *type = NULL, *auth = NULL, *s = NULL;
	json_object *ref = NULL;
	int rc = check_fields(v, wh, "spec.webhook", fields);
	if (rc < 0 || (rc = get_str(v, wh, "type", "spec.webhook", false, &type)) < 0 ||
	    (rc = check_enum(v, "spec.webhook.type", type, types, "github or generic")) < 0)
		return rc;
	if (!type)
		json_object_object_add(wh, "type", json_object_new_string(type = "github"));
	bool gh = !strcmp(type, "github");
	if ((rc = get_obj(v, wh, "secretRef", "spec.webhook", false, &ref)) < 0)
		return rc;
	if (!ref)
		return verr(v, "spec.webhook.secretRef: required field is missing: name the Secret holding the webhook secret (key webhookSecret)");
	if ((rc = check_secret_ref(v, ref, "spec.webhook.secretRef", true, "webhookSecret")) < 0)
		return rc;
	if ((rc = get_str(v, wh, "auth", "spec.webhook", false, &auth)) < 0 ||
	    (rc = check_enum(v, "spec.webhook.auth", auth, auths, "hmac or bearer")) < 0)
		return rc;
	if (gh && auth && strcmp(auth, "hmac"))
		return verr(v, "spec.webhook.auth: GitHub signs deliveries (X-Hub-Signature-256): remove auth or use type generic");
	if (!auth)
		json_object_object_add(wh, "auth", json_object_new_string("hmac"));
	if ((rc = check_str_list(v, wh, "events", "spec.webhook", 64,
				 "use an event name such as issues or issue_comment")) < 0 ||
	    (rc = check_str_list(v, wh, "actions", "spec.webhook", 64,
				 "use an action such as opened or labeled")) < 0)
		return rc;
	if (!gh && (fget(wh, "events") || fget(wh, "actions")))
		return verr(v, "spec.webhook.%s: GitHub deliveries only: use filters with type generic",
			    fget(wh, "events") ? "events" : "actions");
	if ((rc = get_str(v, wh, "commandPrefix", "spec.webhook", false, &s)) < 0)
		return rc;
	if (s && (strlen(s) > 64 || has_ctl(s) || strchr(s, ' ')))
		return verr(v, "spec.webhook.commandPrefix: invalid value \"%.64s\": use one word such as /paddock",
			    s);
	if ((rc = get_str(v, wh, "idHeader", "spec.webhook", false, &s)) < 0)
		return rc;
	if (s && (strlen(s) > 64 || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != strlen(s)))
		return verr(v, "spec.webhook.idHeader: invalid value \"%.64s\": use a header name such as X-Delivery-Id",
			    s);
	int64_t max;
	bool has;
	if ((rc = get_int(v, wh, "maxBodyBytes", "spec.webhook", 1024, MODEL_WEBHOOK_BODY_MAX, &max,
			  &has)) < 0)
		return rc;
	return check_filters(v, wh);
}

/* Prefix a check_task() message ("spec.x: ...") with the template's path. */
static int template_err(struct vctx *v, const char *msg)
{
	if (!strncmp(msg, "spec", 4))
		return verr(v, "spec.taskTemplate.%s", msg);
	return verr(v, "spec.taskTemplate: %s", msg);
}

static int check_task_template(struct vctx *v, json_object *spec, const char *ns, const char *name)
{
	static const char *const fields[] = { "metadata", "spec", NULL };
	static const char *const md_fields[] = { "labels", "annotations", NULL };
	json_object *tt = NULL, *md = NULL, *ts = NULL;
	int rc = get_obj(v, spec, "taskTemplate", "spec", true, &tt);
	if (rc < 0 || (rc = check_fields(v, tt, "spec.taskTemplate", fields)) < 0 ||
	    (rc = get_obj(v, tt, "metadata", "spec.taskTemplate", false, &md)) < 0 ||
	    (rc = get_obj(v, tt, "spec", "spec.taskTemplate", true, &ts)) < 0)
		return rc;
	if (md && (rc = check_fields(v, md, "spec.taskTemplate.metadata", md_fields)) < 0)
		return rc;
	/* The template as the Task it makes: the same checks, the same
	 * defaults (filled into the template), paths under taskTemplate. */
	json_object *probe = json_object_new_object(), *pmd = json_object_new_object();
	json_object_object_add(pmd, "name", json_object_new_string(name));
	json_object_object_add(pmd, "namespace", json_object_new_string(ns));
	json_object_object_add(probe, "metadata", pmd);
	json_object_object_add(probe, "spec", json_object_get(ts));
	if (md) {
		json_object *l = fget(md, "labels"), *a = fget(md, "annotations");
		if (l && json_object_is_type(l, json_type_object)) {
			/* a templated value is checked once rendered, on the Task */
			json_object *pl = json_object_new_object();
			json_object_object_foreach(l, k, val) {
				const char *sv = json_object_get_string(val);
				bool tmpl = json_object_is_type(val, json_type_string) && strstr(sv, "{{");
				json_object_object_add(pl, k, tmpl ? json_object_new_string("x")
								   : json_object_get(val));
			}
			json_object_object_add(pmd, "labels", pl);
		} else if (l) {
			json_object_object_add(pmd, "labels", json_object_get(l));
		}
		if (a)
			json_object_object_add(pmd, "annotations", json_object_get(a));
	}
	char msg[1024];
	struct vctx inner = *v;
	inner.err = msg;
	inner.errlen = sizeof(msg);
	rc = check_metadata(&inner, probe, MODEL_TASK);
	if (rc == 0)
		rc = check_task(&inner, probe);
	if (rc < 0) {
		if (!strncmp(msg, "metadata.", 9))
			rc = verr(v, "spec.taskTemplate.%s", msg);
		else
			rc = template_err(v, msg);
	}
	json_object_put(probe);
	return rc;
}

static int check_schedule(struct vctx *v, json_object *sc)
{
	static const char *const fields[] = { "cron", "timeZone", "concurrencyPolicy",
					      "startingDeadlineSeconds", NULL };
	static const char *const policies[] = { "Allow", "Forbid", "Replace", NULL };
	const char *cron = NULL, *tz = NULL, *pol = NULL;
	int rc = check_fields(v, sc, "spec.schedule", fields);
	if (rc < 0 || (rc = get_str(v, sc, "cron", "spec.schedule", true, &cron)) < 0)
		return rc;
	struct cron c;
	char e[256];
	if (cron_parse(cron, &c, e, sizeof(e)) < 0)
		return verr(v, "spec.schedule.cron: invalid value \"%.64s\": %s", cron, e);
	if ((rc = get_str(v, sc, "timeZone", "spec.schedule", false, &tz)) < 0)
		return rc;
	if (tz && !schedule_tz_ok(tz))
		return verr(v, "spec.schedule.timeZone: unknown time zone \"%.64s\": use an IANA name such as UTC or Europe/Berlin",
			    tz);
	if (!tz)
		json_object_object_add(sc, "timeZone", json_object_new_string("UTC"));
	if ((rc = get_str(v, sc, "concurrencyPolicy", "spec.schedule", false, &pol)) < 0 ||
	    (rc = check_enum(v, "spec.schedule.concurrencyPolicy", pol, policies,
			     "Allow, Forbid or Replace")) < 0)
		return rc;
	if (!pol)
		json_object_object_add(sc, "concurrencyPolicy", json_object_new_string("Allow"));
	int64_t x;
	bool has;
	return get_int(v, sc, "startingDeadlineSeconds", "spec.schedule", 1, INT32_MAX, &x, &has);
}

/* "owner/name": GitHub's characters for both. */
static bool repo_ok(const char *s)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.";
	size_t a = strspn(s, ok);
	return a > 0 && a <= 100 && s[a] == '/' && strspn(s + a + 1, ok) == strlen(s + a + 1) &&
	       s[a + 1] && strlen(s + a + 1) <= 100 && strcmp(s + a + 1, ".") && strcmp(s + a + 1, "..");
}

static bool login_ok(const char *s)
{
	size_t n = strlen(s);
	return n && n <= 39 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-[]") == n;
}

static int check_bool(struct vctx *v, json_object *o, const char *key, const char *path, bool def)
{
	json_object *b = fget(o, key);
	if (b && !json_object_is_type(b, json_type_boolean))
		return verr(v, "%s.%s: expected a boolean, got %s: use true or false", path, key, tname(b));
	if (!b)
		json_object_object_add(o, key, json_object_new_boolean(def));
	return 0;
}

/* spec.github.onStart|onSuccess|onFailure: {add: [...], remove: [...]} */
static int check_label_move(struct vctx *v, json_object *gh, const char *key)
{
	static const char *const fields[] = { "add", "remove", NULL };
	char p[PATHLEN];
	json_object *o = NULL;
	join(p, sizeof(p), "spec.github", key);
	int rc = get_obj(v, gh, key, "spec.github", false, &o);
	if (rc < 0 || !o || (rc = check_fields(v, o, p, fields)) < 0)
		return rc;
	if ((rc = check_str_list(v, o, "add", p, 50, "use a label name")) < 0)
		return rc;
	return check_str_list(v, o, "remove", p, 50, "use a label name");
}

/* The host of a URL after "http://" is loopback (localhost, 127/8,
 * [::1]): plain http carries the token only where it cannot be read on
 * the wire. */
static bool loopback_url(const char *hp)
{
	char host[64];
	size_t n = hp[0] == '[' ? strcspn(hp, "]") + 1 : strcspn(hp, ":/");
	if (n >= sizeof(host) || (hp[0] == '[' && hp[n - 1] != ']'))
		return false;
	memcpy(host, hp, n);
	host[n] = '\0';
	if (hp[n] && hp[n] != ':' && hp[n] != '/')
		return false;
	struct in_addr a;
	return !strcasecmp(host, "localhost") || !strcmp(host, "[::1]") ||
	       (!strncmp(host, "127.", 4) && inet_pton(AF_INET, host, &a) == 1);
}

static int check_github(struct vctx *v, json_object *gh)
{
	static const char *const fields[] = { "repositories", "labels", "assignee", "authors",
					      "baseURL", "tokenSecretRef", "claim", "pullRequests",
					      "comment", "onStart", "onSuccess", "onFailure",
					      "pollSeconds", "maxPollSeconds", NULL };
	static const char *const claim_fields[] = { "label", "assignee", NULL };
	const char *s = NULL;
	json_object *arr = NULL, *ref = NULL, *claim = NULL;
	int rc = check_fields(v, gh, "spec.github", fields);
	if (rc < 0 || (rc = get_arr(v, gh, "repositories", "spec.github", &arr)) < 0)
		return rc;
	if (!arr || !json_object_array_length(arr))
		return verr(v, "spec.github.repositories: required field is missing: list repositories as owner/name");
	if ((rc = check_str_list(v, gh, "repositories", "spec.github", 201, "use owner/name")) < 0)
		return rc;
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		if (!repo_ok(json_object_get_string(json_object_array_get_idx(arr, i))))
			return verr(v, "spec.github.repositories[%zu]: invalid value \"%.64s\": use owner/name such as octo-org/widgets",
				    i, json_object_get_string(json_object_array_get_idx(arr, i)));
	if ((rc = check_str_list(v, gh, "labels", "spec.github", 50, "use a label name")) < 0 ||
	    (rc = check_str_list(v, gh, "authors", "spec.github", 39, "use a GitHub login")) < 0)
		return rc;
	if ((arr = fget(gh, "labels")))
		for (size_t i = 0; i < json_object_array_length(arr); i++)
			if (strchr(json_object_get_string(json_object_array_get_idx(arr, i)), ','))
				return verr(v, "spec.github.labels[%zu]: a label with a comma cannot be queried: rename the label",
					    i);
	if ((arr = fget(gh, "authors")))
		for (size_t i = 0; i < json_object_array_length(arr); i++)
			if (!login_ok(json_object_get_string(json_object_array_get_idx(arr, i))))
				return verr(v, "spec.github.authors[%zu]: invalid value \"%.64s\": use a GitHub login",
					    i, json_object_get_string(json_object_array_get_idx(arr, i)));
	if ((rc = get_str(v, gh, "assignee", "spec.github", false, &s)) < 0)
		return rc;
	if (s && !login_ok(s) && strcmp(s, "none") && strcmp(s, "*"))
		return verr(v, "spec.github.assignee: invalid value \"%.64s\": use a GitHub login, none or *", s);
	if ((rc = get_str(v, gh, "baseURL", "spec.github", false, &s)) < 0)
		return rc;
	if (s && ((strncmp(s, "https://", 8) && strncmp(s, "http://", 7)) || strlen(s) > 200 ||
		  has_ctl(s) || strpbrk(s, "?#@ ")))
		return verr(v, "spec.github.baseURL: invalid value \"%.64s\": use the API's URL such as https://api.github.com or https://github.example.com/api/v3",
			    s);
	if (s && !strncmp(s, "http://", 7) && !loopback_url(s + 7))
		return verr(v, "spec.github.baseURL: \"%.64s\" is plain http to a host that is not loopback: the token would be sent unencrypted; use https://",
			    s);
	if (!s)
		json_object_object_add(gh, "baseURL", json_object_new_string("https://api.github.com"));
	if ((rc = get_obj(v, gh, "tokenSecretRef", "spec.github", false, &ref)) < 0)
		return rc;
	if (!ref)
		return verr(v, "spec.github.tokenSecretRef: required field is missing: name the Secret holding the GitHub token (key token)");
	if ((rc = check_secret_ref(v, ref, "spec.github.tokenSecretRef", true, "token")) < 0)
		return rc;
	if ((rc = get_obj(v, gh, "claim", "spec.github", false, &claim)) < 0)
		return rc;
	if (!claim) {
		claim = json_object_new_object();
		json_object_object_add(claim, "label", json_object_new_string("paddock-claimed"));
		json_object_object_add(gh, "claim", claim);
	}
	if ((rc = check_fields(v, claim, "spec.github.claim", claim_fields)) < 0)
		return rc;
	const char *cl = NULL, *ca = NULL;
	if ((rc = get_str(v, claim, "label", "spec.github.claim", false, &cl)) < 0 ||
	    (rc = get_str(v, claim, "assignee", "spec.github.claim", false, &ca)) < 0)
		return rc;
	if (!cl == !ca)
		return verr(v, "spec.github.claim: set one of label (a label added to what is taken) or assignee (a login assigned to it)");
	if (cl && (!*cl || strlen(cl) > 50 || has_ctl(cl) || strchr(cl, ',')))
		return verr(v, "spec.github.claim.label: invalid value \"%.64s\": use a label name", cl);
	if (ca && !login_ok(ca))
		return verr(v, "spec.github.claim.assignee: invalid value \"%.64s\": use a GitHub login", ca);
	if (ca && fget(gh, "assignee"))
		return verr(v, "spec.github.assignee: cannot be combined with claim.assignee (an assigned issue counts as claimed): claim with a label");
	if ((rc = check_bool(v, gh, "pullRequests", "spec.github", false)) < 0 ||
	    (rc = check_bool(v, gh, "comment", "spec.github", true)) < 0 ||
	    (rc = check_label_move(v, gh, "onStart")) < 0 ||
	    (rc = check_label_move(v, gh, "onSuccess")) < 0 ||
	    (rc = check_label_move(v, gh, "onFailure")) < 0)
		return rc;
	int64_t poll = 120, maxp = 3600;
	bool has;
	if ((rc = get_int(v, gh, "pollSeconds", "spec.github", 1, 86400, &poll, &has)) < 0)
		return rc;
	if (!has)
		json_object_object_add(gh, "pollSeconds", json_object_new_int64(poll = 120));
	if ((rc = get_int(v, gh, "maxPollSeconds", "spec.github", 1, 86400, &maxp, &has)) < 0)
		return rc;
	if (!has)
		json_object_object_add(gh, "maxPollSeconds", json_object_new_int64(maxp = poll > 3600 ? poll : 3600));
	if (maxp < poll)
		return verr(v, "spec.github.maxPollSeconds: %lld is below pollSeconds %lld: the idle back-off starts at pollSeconds and doubles up to maxPollSeconds",
			    (long long)maxp, (long long)poll);
	return 0;
}

static int check_spawner(struct vctx *v, json_object *doc)
{
	static const char *const fields[] = { "taskTemplate", "webhook", "schedule", "github",
					      "suspend", NULL };
	json_object *spec = NULL, *wh = NULL, *md = fget(doc, "metadata");
	const char *ns = json_object_get_string(fget(md, "namespace"));
	const char *name = json_object_get_string(fget(md, "name"));
	int rc = get_obj(v, doc, "spec", "", true, &spec);
	if (rc < 0 || (rc = check_fields(v, spec, "spec", fields)) < 0)
		return rc;
	/* Task names are NAME-<12 hex digits>: at most 63 characters. */
	if (strlen(name) > 50)
		return verr(v, "metadata.name: \"%.64s\" is %zu characters: a Spawner's name is at most 50 (its Tasks add 13)",
			    name, strlen(name));
	if ((rc = check_task_template(v, spec, ns, name)) < 0)
		return rc;
	json_object *susp = fget(spec, "suspend");
	if (susp && !json_object_is_type(susp, json_type_boolean))
		return verr(v, "spec.suspend: expected a boolean, got %s: use true or false", tname(susp));
	json_object *sc = NULL, *gh = NULL;
	if ((rc = get_obj(v, spec, "webhook", "spec", false, &wh)) < 0 ||
	    (rc = get_obj(v, spec, "schedule", "spec", false, &sc)) < 0 ||
	    (rc = get_obj(v, spec, "github", "spec", false, &gh)) < 0)
		return rc;
	int n = !!wh + !!sc + !!gh;
	if (n != 1)
		return verr(v, "spec: %s: set one of spec.webhook, spec.schedule or spec.github",
			    n ? "one source per Spawner" : "a source is required");
	return wh ? check_webhook(v, wh) : sc ? check_schedule(v, sc) : check_github(v, gh);
}

/* ---- Budget -------------------------------------------------------- */

static int check_budget(struct vctx *v, json_object *doc)
{
	static const char *const fields[] = { "agentRef", "spawnerRef", "window", "rollingHours",
					      "maxCostUSD", "maxTokens", "maxTasks", NULL };
	static const char *const windows[] = { "day", "week", "month", NULL };
	static const char *const ref_fields[] = { "name", NULL };
	json_object *spec = NULL, *ar = NULL, *sr = NULL;
	const char *w = NULL, *n = NULL;
	int rc = get_obj(v, doc, "spec", "", true, &spec);
	if (rc < 0 || (rc = check_fields(v, spec, "spec", fields)) < 0)
		return rc;
	if ((rc = get_obj(v, spec, "agentRef", "spec", false, &ar)) < 0 ||
	    (rc = get_obj(v, spec, "spawnerRef", "spec", false, &sr)) < 0)
		return rc;
	if (ar && sr)
		return verr(v, "spec: agentRef and spawnerRef are mutually exclusive: a Budget covers one Agent, one Spawner, or (neither) its namespace");
	json_object *ref = ar ? ar : sr;
	const char *rp = ar ? "spec.agentRef" : "spec.spawnerRef";
	if (ref && ((rc = check_fields(v, ref, rp, ref_fields)) < 0 ||
		    (rc = get_str(v, ref, "name", rp, true, &n)) < 0))
		return rc;
	if (n && !model_dns1123_label(n))
		return verr(v, "%s.name: invalid value \"%.64s\": use the name of an %s in the Budget's namespace",
			    rp, n, ar ? "Agent" : "Spawner");
	if ((rc = get_str(v, spec, "window", "spec", false, &w)) < 0 ||
	    (rc = check_enum(v, "spec.window", w, windows, "day, week or month (UTC), or set rollingHours")) < 0)
		return rc;
	int64_t x;
	bool hours, has_cost = fget(spec, "maxCostUSD") != NULL, tok, tasks;
	if ((rc = get_int(v, spec, "rollingHours", "spec", 1, 24 * 366, &x, &hours)) < 0)
		return rc;
	if (hours && w)
		return verr(v, "spec.rollingHours: not with spec.window: use one of them");
	if (!hours && !w)
		json_object_object_add(spec, "window", json_object_new_string("day"));
	if ((rc = get_money(v, spec, "maxCostUSD", "spec")) < 0 ||
	    (rc = get_int(v, spec, "maxTokens", "spec", 0, INT64_MAX, &x, &tok)) < 0 ||
	    (rc = get_int(v, spec, "maxTasks", "spec", 0, INT32_MAX, &x, &tasks)) < 0)
		return rc;
	if (!has_cost && !tok && !tasks)
		return verr(v, "spec: no cap: set maxCostUSD, maxTokens or maxTasks");
	return 0;
}

/* ---- Secret / ConfigMap -------------------------------------------- */

static int check_immutable(struct vctx *v, json_object *doc)
{
	json_object *imm = fget(doc, "immutable");
	if (imm && !json_object_is_type(imm, json_type_boolean))
		return verr(v, "immutable: expected a boolean, got %s", tname(imm));
	return 0;
}

static int check_secret(struct vctx *v, json_object *doc)
{
	json_object *data = NULL, *sd = NULL;
	const char *type = NULL;
	int rc = get_str(v, doc, "type", "", false, &type);
	if (rc < 0 || (rc = get_obj(v, doc, "data", "", false, &data)) < 0 ||
	    (rc = get_obj(v, doc, "stringData", "", false, &sd)) < 0 ||
	    (rc = check_immutable(v, doc)) < 0)
		return rc;
	if (data) {
		json_object_object_foreach(data, k, val) {
			if (!data_key_ok(k))
				return verr(v, "data[\"%.64s\"]: invalid key: %s", k, DATA_KEY_HINT);
			/* never echo the value: it is a secret */
			if (!json_object_is_type(val, json_type_string))
				return verr(v, "data[\"%.64s\"]: expected a base64 string, got %s",
					    k, tname(val));
			char *dec = NULL;
			size_t dlen = 0;
			if (model_b64_decode(json_object_get_string(val),
					     (size_t)json_object_get_string_len(val), &dec, &dlen) < 0)
				return verr(v, "data[\"%.64s\"]: value is not valid base64 (value not shown): encode it with `base64 -w0` or use stringData",
					    k);
			secure_free(dec, dlen + 1);
		}
	}
	if (sd) {
		json_object_object_foreach(sd, k, val) {
			if (!data_key_ok(k))
				return verr(v, "stringData[\"%.64s\"]: invalid key: %s", k, DATA_KEY_HINT);
			if (!json_object_is_type(val, json_type_string))
				return verr(v, "stringData[\"%.64s\"]: expected a string, got %s: quote the value",
					    k, tname(val));
		}
		/* Fold stringData into data, like the API server does. */
		if (!data) {
			data = json_object_new_object();
			json_object_object_add(doc, "data", data);
		}
		json_object_object_foreach(sd, k2, val2) {
			char *enc = model_b64_encode(json_object_get_string(val2),
						     (size_t)json_object_get_string_len(val2));
			json_object_object_add(data, k2, json_object_new_string(enc));
			secure_free(enc, strlen(enc));
		}
		json_object_object_del(doc, "stringData");
	}
	return 0;
}

static int check_configmap(struct vctx *v, json_object *doc)
{
	json_object *data = NULL, *bin = NULL;
	int rc = get_obj(v, doc, "data", "", false, &data);
	if (rc < 0 || (rc = get_obj(v, doc, "binaryData", "", false, &bin)) < 0 ||
	    (rc = check_immutable(v, doc)) < 0)
		return rc;
	if (data && (rc = check_string_map(v, data, "data", data_key_ok, DATA_KEY_HINT, NULL, NULL)) < 0)
		return rc;
	if (!bin)
		return 0;
	json_object_object_foreach(bin, k, val) {
		if (!data_key_ok(k))
			return verr(v, "binaryData[\"%.64s\"]: invalid key: %s", k, DATA_KEY_HINT);
		if (data && json_object_object_get_ex(data, k, NULL))
			return verr(v, "binaryData[\"%.64s\"]: key also in data: use each key once", k);
		char *dec = NULL;
		size_t dlen = 0;
		if (!json_object_is_type(val, json_type_string) ||
		    model_b64_decode(json_object_get_string(val),
				     (size_t)json_object_get_string_len(val), &dec, &dlen) < 0)
			return verr(v, "binaryData[\"%.64s\"]: value is not valid base64: encode it with `base64 -w0`",
				    k);
		free(dec);
	}
	return 0;
}

int model_validate(json_object *doc, const struct model_limits *lim, enum model_kind *kind,
		   char *err, size_t errlen)
{
	static const char *const f_task[] = { "apiVersion", "kind", "metadata", "spec", "status", NULL };
	static const char *const f_secret[] = { "apiVersion", "kind",	    "metadata", "type",
						"data",	      "stringData", "immutable", NULL };
	static const char *const f_cm[] = { "apiVersion", "kind", "metadata", "data", "binaryData",
					    "immutable",  NULL };
	struct vctx v = { .err = err, .errlen = errlen, .prompt_bytes = MODEL_DEFAULT_PROMPT_BYTES };
	if (lim && lim->prompt_bytes)
		v.prompt_bytes = lim->prompt_bytes;
	if (!json_object_is_type(doc, json_type_object))
		return verr(&v, "document: expected a mapping with apiVersion, kind and metadata, got %s",
			    tname(doc));
	const char *api = NULL, *ks = NULL;
	int rc = get_str(&v, doc, "apiVersion", "", true, &api);
	if (rc < 0 || (rc = get_str(&v, doc, "kind", "", true, &ks)) < 0)
		return rc;
	int k = -1;
	for (size_t i = 0; i < ARRAY_SIZE(kind_names); i++)
		if (!strcmp(ks, kind_names[i]))
			k = (int)i;
	if (k < 0)
		return verr(&v, "kind: unsupported value \"%.64s\": use Task, Agent, Spawner, Budget, Secret or ConfigMap",
			    ks);
	const char *want = k == MODEL_SECRET || k == MODEL_CONFIGMAP ? "v1" : MODEL_API_GROUP_VERSION;
	if (strcmp(api, want))
		return verr(&v, "apiVersion: unsupported value \"%.64s\" for kind %s: use %s", api, ks,
			    want);
	const char *const *fields = k == MODEL_SECRET ? f_secret : k == MODEL_CONFIGMAP ? f_cm : f_task;
	if ((rc = check_fields(&v, doc, "", fields)) < 0 ||
	    (rc = check_metadata(&v, doc, (enum model_kind)k)) < 0)
		return rc;
	switch (k) {
	case MODEL_TASK: rc = check_task(&v, doc); break;
	case MODEL_AGENT: rc = check_agent(&v, doc); break;
	case MODEL_SPAWNER: rc = check_spawner(&v, doc); break;
	case MODEL_BUDGET: rc = check_budget(&v, doc); break;
	case MODEL_SECRET: rc = check_secret(&v, doc); break;
	default: rc = check_configmap(&v, doc); break;
	}
	if (rc < 0)
		return rc;
	/* status is written by the core only */
	json_object_object_del(doc, "status");
	*kind = (enum model_kind)k;
	return 0;
}

int model_from_server(json_object *obj, const struct model_limits *lim, enum model_kind *kind,
		      json_object **out, char *err, size_t errlen)
{
	static const char *const keep[] = { "name", "namespace", "labels", "annotations", "uid",
					    "resourceVersion", "generation", "creationTimestamp" };
	if (!json_object_is_type(obj, json_type_object))
		return errf(err, errlen, -EINVAL, "the server's object is not a mapping");
	json_object *doc = json_object_new_object(), *md = NULL;
	json_object_object_foreach(obj, key, val) {
		if (strcmp(key, "metadata"))
			json_object_object_add(doc, key, json_object_get(val));
		else
			md = val;
	}
	json_object *slim = json_object_new_object();
	for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
		json_object *v = NULL;
		if (md && json_object_object_get_ex(md, keep[i], &v))
			json_object_object_add(slim, keep[i], json_object_get(v));
	}
	json_object_object_add(doc, "metadata", slim);
	/* Validation fills defaults in place: never into the caller's object. */
	json_object *copy = NULL;
	int rc = json_object_deep_copy(doc, &copy, NULL) == 0 ? 0 : -ENOMEM;
	json_object_put(doc);
	if (rc == 0)
		rc = model_validate(copy, lim, kind, err, errlen);
	if (rc < 0) {
		json_object_put(copy);
		return rc;
	}
	*out = copy;
	return 0;
}

/* ---- views --------------------------------------------------------- */

static json_object *path_get(json_object *o, const char *dotted)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", dotted);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(o, json_type_array)) {
			char *end;
			errno = 0;
			unsigned long i = strtoul(tok, &end, 10);
			if (*end || errno || i >= json_object_array_length(o))
				return NULL;
			o = json_object_array_get_idx(o, i);
		} else if (json_object_is_type(o, json_type_object)) {
			json_object *n = NULL;
			if (!json_object_object_get_ex(o, tok, &n))
				return NULL;
			o = n;
		} else {
			return NULL;
		}
	}
	return o;
}

json_object *model_path(json_object *obj, const char *path)
{
	return path ? path_get(obj, path) : NULL;
}

const char *model_field(json_object *obj, const char *path)
{
	json_object *o = path ? path_get(obj, path) : NULL;
	if (!o || json_object_is_type(o, json_type_object) || json_object_is_type(o, json_type_array))
		return NULL;
	return json_object_get_string(o);
}

static const char *sget(json_object *o, const char *path)
{
	json_object *x = path_get(o, path);
	return json_object_is_type(x, json_type_string) ? json_object_get_string(x) : NULL;
}

/* The value at `path` if it has type `t`, else NULL (borrowed). */
static json_object *typed_get(json_object *o, const char *path, json_type t)
{
	json_object *x = path_get(o, path);
	return json_object_is_type(x, t) ? x : NULL;
}

/* An integer at `path`, else `dflt`. */
static long long_get(json_object *o, const char *path, long dflt)
{
	json_object *x = typed_get(o, path, json_type_int);
	return x ? (long)json_object_get_int64(x) : dflt;
}

/* Copies of the strings of the list at `path` (other items skipped). */
static void strv_get(json_object *o, const char *path, struct strv *out)
{
	json_object *a = typed_get(o, path, json_type_array);
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		json_object *s = json_object_array_get_idx(a, i);
		if (json_object_is_type(s, json_type_string))
			strv_push(out, json_object_get_string(s));
	}
}

/* The resources at `path` (spec.resources, spec.pod.resources); what does
 * not parse, or is 0, stays unset: the document was validated. */
static void res_get(json_object *doc, const char *path, bool with_pids, struct model_resources *out)
{
	static const char *const parts[] = { "limits", "requests" };
	memset(out, 0, sizeof(*out));
	for (size_t j = 0; j < ARRAY_SIZE(parts); j++) {
		char p[128];
		snprintf(p, sizeof(p), "%s.%s", path, parts[j]);
		json_object *m = typed_get(doc, p, json_type_object), *f = NULL;
		struct run_limits *l = j == 0 ? &out->limits : &out->requests;
		for (size_t i = 0; m && i < N_QUANTITIES; i++) {
			char num[48];
			const char *s = json_object_object_get_ex(m, limits_names[i], &f)
						? qtext(f, num, sizeof(num))
						: NULL;
			int64_t q = 0;
			if (s && quantity_parse(s, res_kinds[i], &q, NULL) == 0 && q > 0)
				*limits_field(l, i) = q;
		}
		if (m && j == 0 && with_pids && json_object_object_get_ex(m, "pids", &f) &&
		    json_object_is_type(f, json_type_int) && json_object_get_int64(f) > 0)
			l->pids = json_object_get_int64(f);
	}
}

const char *model_deprecated(json_object *doc)
{
	if (str_eq(sget(doc, "kind"), "Agent") &&
	    typed_get(doc, "spec.pod.resources", json_type_object))
		return "spec.pod.resources is deprecated: use spec.resources (the same limits and requests, for both backends; it wins field by field when both are set)";
	return NULL;
}

/* metadata namespace (defaulted), name and uid; borrowed from doc. */
static void meta_get(json_object *doc, const char **ns, const char **name, const char **uid)
{
	*ns = sget(doc, "metadata.namespace");
	if (!*ns)
		*ns = MODEL_DEFAULT_NAMESPACE;
	*name = sget(doc, "metadata.name");
	*uid = sget(doc, "metadata.uid");
}

/* spec.credentials; the key defaults by type when a Secret is named. */
static void cred_get(json_object *doc, const char **type, const char **secret, const char **key)
{
	*type = sget(doc, "spec.credentials.type");
	*secret = sget(doc, "spec.credentials.secretRef.name");
	*key = sget(doc, "spec.credentials.secretRef.key");
	if (*secret && !*key)
		*key = str_eq(*type, "oauth") ? "oauthToken" : "apiKey";
}

/* doc is a validated `kind` with the string field `required`. */
static int check_kind(json_object *doc, const char *kind, const char *required, char *err,
		      size_t errlen)
{
	if (!str_eq(sget(doc, "kind"), kind) || !sget(doc, "metadata.name") ||
	    !json_object_is_type(path_get(doc, "spec"), json_type_object))
		return errf(err, errlen, -EINVAL, "document is not a validated %s", kind);
	if (!sget(doc, required))
		return errf(err, errlen, -EINVAL, "%s: required field is missing", required);
	return 0;
}

int model_task_from_json(json_object *doc, struct model_task **out, char *err, size_t errlen)
{
	int rc = check_kind(doc, "Task", "spec.prompt", err, errlen);
	if (rc < 0)
		return rc;
	struct model_task *t = xcalloc(1, sizeof(*t));
	t->obj = json_object_get(doc);
	meta_get(doc, &t->ns, &t->name, &t->uid);
	t->type = sget(doc, "spec.type");
	t->agent_name = sget(doc, "spec.agentRef.name");
	t->agent_ns = sget(doc, "spec.agentRef.namespace");
	if (t->agent_name && !t->agent_ns)
		t->agent_ns = t->ns;
	t->prompt = sget(doc, "spec.prompt");
	t->model = sget(doc, "spec.model");
	t->effort = sget(doc, "spec.effort");
	cred_get(doc, &t->cred_type, &t->cred_secret, &t->cred_key);
	t->ws_repo = sget(doc, "spec.workspace.repo");
	t->ws_ref = sget(doc, "spec.workspace.ref");
	t->ws_secret = sget(doc, "spec.workspace.secretRef.name");
	json_object *params = typed_get(doc, "spec.outputs.parameters", json_type_array);
	size_t np = params ? json_object_array_length(params) : 0;
	t->outputs = np ? xcalloc(np, sizeof(*t->outputs)) : NULL;
	for (size_t i = 0; i < np; i++) {
		json_object *p = json_object_array_get_idx(params, i);
		if (!sget(p, "name") || !sget(p, "path"))
			continue;
		t->outputs[t->n_outputs].name = sget(p, "name");
		t->outputs[t->n_outputs].path = sget(p, "path");
		t->outputs[t->n_outputs].dflt = sget(p, "default");
		t->n_outputs++;
	}
	strv_get(doc, "spec.dependsOn", &t->deps);
	json_object *to = path_get(doc, "spec.timeout");
	if (!to || timeout_seconds(to, &t->timeout_s) < 0)
		t->timeout_s = -1;
	t->ttl_s = long_get(doc, "spec.ttlSecondsAfterFinished", -1);
	t->contexts = typed_get(doc, "spec.contexts", json_type_array);
	res_get(doc, "spec.resources", true, &t->res);
	t->status = typed_get(doc, "status", json_type_object);
	int ph = model_phase_parse(sget(doc, "status.phase"));
	t->phase = ph < 0 ? MODEL_PHASE_PENDING : (enum model_phase)ph;
	*out = t;
	return 0;
}

void model_task_free(struct model_task *t)
{
	if (!t)
		return;
	free(t->outputs);
	strv_free(&t->deps);
	json_object_put(t->obj);
	free(t);
}

int model_agent_from_json(json_object *doc, struct model_agent **out, char *err, size_t errlen)
{
	int rc = check_kind(doc, "Agent", "spec.type", err, errlen);
	if (rc < 0)
		return rc;
	struct model_agent *a = xcalloc(1, sizeof(*a));
	a->obj = json_object_get(doc);
	meta_get(doc, &a->ns, &a->name, &a->uid);
	a->type = sget(doc, "spec.type");
	a->image = sget(doc, "spec.image");
	a->model = sget(doc, "spec.model");
	a->effort = sget(doc, "spec.effort");
	a->command = sget(doc, "spec.command");
	cred_get(doc, &a->cred_type, &a->cred_secret, &a->cred_key);
	a->contexts = typed_get(doc, "spec.contexts", json_type_array);
	a->max_concurrent = long_get(doc, "spec.maxConcurrentTasks", 0);
	strv_get(doc, "spec.allowedNamespaces", &a->allowed_ns);
	strv_get(doc, "spec.sandbox.readOnlyPaths", &a->ro_paths);
	a->sandbox_env = typed_get(doc, "spec.sandbox.env", json_type_object);
	a->pod = typed_get(doc, "spec.pod", json_type_object);
	a->net_egress = sget(doc, "spec.network.egress");
	strv_get(doc, "spec.network.allow", &a->net_allow);
	res_get(doc, "spec.resources", true, &a->res);
	res_get(doc, "spec.pod.resources", false, &a->pod_res);
	*out = a;
	return 0;
}

void model_agent_free(struct model_agent *a)
{
	if (!a)
		return;
	strv_free(&a->allowed_ns);
	strv_free(&a->ro_paths);
	strv_free(&a->net_allow);
	json_object_put(a->obj);
	free(a);
}

bool model_agent_allows(const struct model_agent *a, const char *ns)
{
	if (!a || !ns)
		return false;
	if (str_eq(a->ns, ns))
		return true;
	for (size_t i = 0; i < a->allowed_ns.n; i++)
		if (fnmatch(a->allowed_ns.v[i], ns, 0) == 0)
			return true;
	return false;
}

bool model_stop_requested(json_object *task)
{
	json_object *stop = NULL;
	if (json_object_object_get_ex(jget(task, "spec"), "stop", &stop) &&
	    json_object_get_boolean(stop))
		return true;
	return str_eq(jstr(jget(jget(task, "metadata"), "annotations"), MODEL_ANNOTATION_STOP),
		      "true");
}

void model_task_agent_key(json_object *task, char *key, size_t n)
{
	json_object *ref = jget(jget(task, "spec"), "agentRef");
	const char *name = jstr(ref, "name");
	if (!name) {
		snprintf(key, n, "%s", "");
		return;
	}
	const char *ns = jstr(ref, "namespace");
	if (!ns)
		ns = jstr(jget(task, "metadata"), "namespace");
	snprintf(key, n, "%s/%s", ns ? ns : MODEL_DEFAULT_NAMESPACE, name);
}
