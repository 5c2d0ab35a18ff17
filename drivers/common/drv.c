/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "drv.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int drv_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

const char *drv_setting(const struct drv *d, const char *key)
{
	if (!d || !d->host || !d->host->config_get)
		return NULL;
	const char *v = d->host->config_get(d->host->ctx, key);
	return v && *v ? v : NULL;
}

const char *drv_cred_type(const struct paddock_task_view *t)
{
	return t && t->credentials_type && *t->credentials_type ? t->credentials_type : "none";
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

int drv_env(const struct paddock_plan_builder *plan, const char *name, const char *value,
	    char *err, size_t errlen)
{
	int rc = plan->set_env(plan->ctx, name, value);
	if (rc < 0)
		return drv_errf(err, errlen, rc, "entrypoint: cannot set environment variable %s", name);
	return 0;
}

int drv_arg(const struct paddock_plan_builder *plan, const char *arg, char *err, size_t errlen)
{
	int rc = plan->add_arg(plan->ctx, arg);
	if (rc < 0)
		return drv_errf(err, errlen, rc, "entrypoint: cannot add argument \"%s\"", arg);
	return 0;
}

int drv_env_secret(const struct paddock_task_view *t, const struct paddock_plan_builder *plan,
		   const char *name, char *err, size_t errlen)
{
	if (!t->credentials_secret || !*t->credentials_secret)
		return drv_errf(err, errlen, -EINVAL,
				"spec.credentials.secretRef: required for credentials type %s: "
				"name the Secret that holds the credential",
				drv_cred_type(t));
	const char *key = t->credentials_key && *t->credentials_key ? t->credentials_key
		: (strcmp(drv_cred_type(t), "oauth") == 0 ? "oauthToken" : "apiKey");
	int rc = plan->set_env_secret(plan->ctx, name, t->credentials_secret, key);
	if (rc < 0)
		return drv_errf(err, errlen, rc,
				"spec.credentials: cannot reference Secret \"%s\" key \"%s\" as %s",
				t->credentials_secret, key, name);
	return 0;
}

int drv_setting_long(const struct drv *d, const char *key, long min, long max, long *out,
		     char *err, size_t errlen)
{
	const char *v = drv_setting(d, key);
	if (!v)
		return 0;
	char *end = NULL;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < min || n > max)
		return drv_errf(err, errlen, -EINVAL,
				"drivers.%s.settings.%s: invalid value \"%.64s\": use an integer from %ld to %ld",
				d->spec->name, key, v, min, max);
	*out = n;
	return 0;
}

int drv_check_url(const struct drv *d, const char *key, char *err, size_t errlen)
{
	const char *v = drv_setting(d, key);
	if (!v)
		return 0;
	const char *rest = NULL;
	if (strncmp(v, "http://", 7) == 0)
		rest = v + 7;
	else if (strncmp(v, "https://", 8) == 0)
		rest = v + 8;
	bool bad = !rest || !*rest || *rest == '/' || strlen(v) > 2048 || has_ctl(v) ||
		   strpbrk(v, " \"'\\`$") != NULL;
	if (bad)
		return drv_errf(err, errlen, -EINVAL,
				"drivers.%s.settings.%s: invalid URL \"%.128s\": use http://host[:port][/path] or https://...",
				d->spec->name, key, v);
	return 0;
}

/* ---- JSON helpers -------------------------------------------------- */

struct json_object *drv_jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (!o || !json_object_is_type(o, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

struct json_object *drv_jpath(struct json_object *o, const char *path)
{
	char seg[128];
	const char *s = path;
	while (o && *s) {
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);
		if (n >= sizeof(seg))
			return NULL;
		memcpy(seg, s, n);
		seg[n] = '\0';
		o = drv_jget(o, seg);
		s += n;
		if (*s == '.')
			s++;
	}
	return o;
}

const char *drv_jstr(struct json_object *o, const char *path)
{
	struct json_object *v = drv_jpath(o, path);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int64_t drv_jint(struct json_object *o, const char *path, int64_t dflt)
{
	struct json_object *v = drv_jpath(o, path);
	if (!v || !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		return dflt;
	return json_object_get_int64(v);
}

int64_t drv_jcount(struct json_object *o, const char *path)
{
	struct json_object *v = drv_jpath(o, path);
	if (!v)
		return -1;
	if (json_object_is_type(v, json_type_double)) {
		double d = json_object_get_double(v);
		if (!(d >= 0 && d <= (double)DRV_COUNT_MAX) || d != (double)(int64_t)d)
			return -1;
		return (int64_t)d;
	}
	if (!json_object_is_type(v, json_type_int))
		return -1;
	int64_t n = json_object_get_int64(v);
	return n >= 0 && n <= DRV_COUNT_MAX ? n : -1;
}

int64_t drv_count_add(int64_t a, int64_t b)
{
	if (b < 0)
		return a;
	if (a < 0)
		a = 0;
	return a > DRV_COUNT_MAX - b ? DRV_COUNT_MAX : a + b;
}

double drv_jcost(struct json_object *o, const char *path)
{
	struct json_object *v = drv_jpath(o, path);
	if (!v || !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
		return -1;
	double d = json_object_get_double(v);
	return d >= 0 && d <= 1e9 ? d : -1; /* also refuses NaN */
}

bool drv_jbool(struct json_object *o, const char *path, bool dflt)
{
	struct json_object *v = drv_jpath(o, path);
	return v && json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) : dflt;
}

/* ---- bounded text -------------------------------------------------- */

size_t drv_utf8_cut(const char *s, size_t n, size_t full)
{
	if (n >= full)
		return full;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

void drv_copy(char *dst, size_t dstlen, const char *src, size_t n)
{
	if (!dst || !dstlen)
		return;
	if (!src)
		n = 0;
	size_t m = n < dstlen - 1 ? n : drv_utf8_cut(src, dstlen - 1, n);
	if (m)
		memcpy(dst, src, m);
	dst[m] = '\0';
}

void drv_text_append(struct drv_parser *p, const char *s, size_t n)
{
	size_t room = sizeof(p->text) - 1 - p->text_len;
	if (!s || !n || !room)
		return;
	size_t m = n <= room ? n : drv_utf8_cut(s, room, n);
	memcpy(p->text + p->text_len, s, m);
	p->text_len += m;
	p->text[p->text_len] = '\0';
}

void drv_text_reset(struct drv_parser *p)
{
	p->text_len = 0;
	p->text[0] = '\0';
}

void drv_fail(struct drv_parser *p, int http_status, const char *msg)
{
	p->failed = true;
	if (http_status == 401 || http_status == 403)
		p->auth_failed = true;
	if (http_status && !p->http_status)
		p->http_status = http_status;
	if (p->error[0])
		return;
	if (!msg || !*msg)
		msg = "unknown error";
	if (http_status == 401 || http_status == 403)
		snprintf(p->error, sizeof(p->error), "authentication failed (HTTP %d): %s", http_status,
			 msg);
	else
		drv_copy(p->error, sizeof(p->error), msg, strlen(msg));
}

void drv_fill(const struct drv_parser *p, int outcome, struct paddock_run_result *out)
{
	/* Only the fields of the size the host declared (all of v1.0). */
	out->input_tokens = p->input_tokens;
	out->output_tokens = p->output_tokens;
	out->cost_usd = p->cost_usd;
	out->outcome = outcome;
	const char *r = p->result[0] ? p->result : p->text;
	drv_copy(out->result, sizeof(out->result), r, strlen(r));
	drv_copy(out->error, sizeof(out->error), p->error, strlen(p->error));
}

void drv_finish_common(struct drv_parser *p, int exit_code, struct paddock_run_result *out)
{
	const char *cli = p->spec->cli;
	if (p->failed) {
		if (!p->error[0])
			snprintf(p->error, sizeof(p->error), "%s reported an error (exit status %d)%s%s",
				 cli, exit_code, p->last_raw[0] ? ": " : "", p->last_raw);
		drv_fill(p, PADDOCK_OUTCOME_FAILED, out);
		return;
	}
	if (!p->saw_final) {
		snprintf(p->error, sizeof(p->error),
			 "%s output ended without its final result event (exit status %d)%s%s", cli,
			 exit_code, p->last_raw[0] ? ": " : "", p->last_raw);
		drv_fill(p, PADDOCK_OUTCOME_FAILED, out);
		return;
	}
	if (exit_code != 0) {
		snprintf(p->error, sizeof(p->error), "%s exited with status %d", cli, exit_code);
		drv_fill(p, PADDOCK_OUTCOME_FAILED, out);
		return;
	}
	drv_fill(p, PADDOCK_OUTCOME_SUCCESS, out);
}

/* ---- ops ----------------------------------------------------------- */

int drv_create(const struct drv_spec *spec, const struct paddock_host *host, void **inst,
	       char *err, size_t errlen)
{
	if (!host || !inst)
		return drv_errf(err, errlen, -EINVAL, "%s: create: no host table", spec->name);
	if (host->size < offsetof(struct paddock_host, free) + sizeof(host->free))
		return drv_errf(err, errlen, -EPROTO, "%s: host table too small (%u bytes)", spec->name,
				(unsigned)host->size);
	struct drv *d = calloc(1, sizeof(*d));
	if (!d)
		return drv_errf(err, errlen, -ENOMEM, "%s: out of memory", spec->name);
	d->host = host;
	d->spec = spec;
	*inst = d;
	return 0;
}

void drv_destroy(void *inst)
{
	free(inst);
}

unsigned drv_credential_types(void *inst)
{
	const struct drv *d = inst;
	return d ? d->spec->cred_types : 0;
}

static const char *const cred_names[] = { "none", "api-key", "oauth" };
static const unsigned cred_bits[] = { PADDOCK_CRED_NONE, PADDOCK_CRED_API_KEY, PADDOCK_CRED_OAUTH };

/* "a, b or c" into buf. */
static void join_or(char *buf, size_t n, const char *const *v, size_t count)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < count && off < n; i++) {
		const char *sep = i == 0 ? "" : (i + 1 == count ? " or " : ", ");
		int w = snprintf(buf + off, n - off, "%s%s", sep, v[i]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

static int check_credentials(const struct drv *d, const struct paddock_task_view *t, char *err,
			     size_t errlen)
{
	const char *type = drv_cred_type(t);
	const char *ok[3];
	size_t nok = 0;
	unsigned bit = 0;
	/* Listed in the order users reach for them. */
	static const int order[] = { 1, 2, 0 };
	for (size_t k = 0; k < 3; k++) {
		size_t i = (size_t)order[k];
		if (d->spec->cred_types & cred_bits[i])
			ok[nok++] = cred_names[i];
		if (strcmp(type, cred_names[i]) == 0)
			bit = cred_bits[i];
	}
	if (!(bit & d->spec->cred_types)) {
		char list[128];
		join_or(list, sizeof(list), ok, nok);
		return drv_errf(err, errlen, -EINVAL,
				"spec.credentials.type: unsupported value \"%.64s\" for driver %s: use %s",
				type, d->spec->name, list);
	}
	if (bit != PADDOCK_CRED_NONE && (!t->credentials_secret || !*t->credentials_secret))
		return drv_errf(err, errlen, -EINVAL,
				"spec.credentials.secretRef: required for credentials type %s: "
				"name the Secret that holds the credential (or use type none)",
				type);
	return 0;
}

static int check_effort(const struct drv *d, const struct paddock_task_view *t, char *err,
			size_t errlen)
{
	if (!t->effort || !*t->effort || d->spec->any_effort)
		return 0;
	const char *const *e = d->spec->efforts;
	if (!e)
		return drv_errf(err, errlen, -EINVAL,
				"spec.effort: driver %s has no effort setting (got \"%.64s\"): remove spec.effort",
				d->spec->name, t->effort);
	size_t n = 0;
	for (; e[n]; n++)
		if (strcmp(e[n], t->effort) == 0)
			return 0;
	char list[256];
	join_or(list, sizeof(list), e, n);
	return drv_errf(err, errlen, -EINVAL,
			"spec.effort: unsupported value \"%.64s\" for driver %s: use %s", t->effort,
			d->spec->name, list);
}

static int check_model(const struct drv *d, const struct paddock_task_view *t, char *err,
		       size_t errlen)
{
	if (!t->model)
		return 0;
	size_t n = strlen(t->model);
	bool bad = n == 0 || n > 256 || t->model[0] == '-' || has_ctl(t->model) ||
		   strpbrk(t->model, " \t") != NULL;
	if (bad)
		return drv_errf(err, errlen, -EINVAL,
				"spec.model: invalid value \"%.64s\" for driver %s: use a model name without spaces, "
				"not starting with '-'",
				t->model, d->spec->name);
	return 0;
}

static int check_bin(const struct drv *d, char *err, size_t errlen)
{
	const char *b = drv_setting(d, "bin");
	if (!b)
		return 0;
	if (strlen(b) > 1024 || has_ctl(b) || b[0] == '-')
		return drv_errf(err, errlen, -EINVAL,
				"drivers.%s.settings.bin: invalid value \"%.64s\": use the path of the %s executable",
				d->spec->name, b, d->spec->cli);
	return 0;
}

int drv_validate(void *inst, const struct paddock_task_view *t, char *err, size_t errlen)
{
	struct drv *d = inst;
	if (!d || !t)
		return drv_errf(err, errlen, -EINVAL, "validate: no task");
	int rc = check_credentials(d, t, err, errlen);
	if (rc == 0)
		rc = check_effort(d, t, err, errlen);
	if (rc == 0)
		rc = check_model(d, t, err, errlen);
	if (rc == 0)
		rc = check_bin(d, err, errlen);
	if (rc == 0)
		rc = drv_check_url(d, "baseURL", err, errlen);
	long retries = -1;
	if (rc == 0)
		rc = drv_setting_long(d, "maxRetries", 0, 100, &retries, err, errlen);
	if (rc == 0 && d->spec->validate)
		rc = d->spec->validate(d, t, err, errlen);
	return rc;
}

bool drv_routing(const struct drv *d, const struct paddock_task_view *t,
		 const struct paddock_plan_builder *plan, struct drv_route *r)
{
	struct drv_route tmp;
	if (!r)
		r = &tmp;
	if (!PADDOCK_HAS_FIELD(t, struct paddock_task_view, credential_placeholder) ||
	    !t->credential_endpoint || !t->credential_placeholder ||
	    !PADDOCK_HAS_FIELD(plan, struct paddock_plan_builder, add_credential_route) ||
	    !plan->add_credential_route || !d->spec->route ||
	    strcmp(drv_cred_type(t), "none") == 0 || !t->credentials_secret)
		return false;
	const char *type = drv_cred_type(t);
	memset(r, 0, sizeof(*r));
	r->prefix = "";
	r->env = strcmp(type, "oauth") == 0 ? d->spec->oauth_env : d->spec->api_key_env;
	return d->spec->route(d, t, r) && r->upstream && r->header && r->env;
}

const char *drv_base_url(const struct drv *d, const struct paddock_task_view *t,
			 const struct paddock_plan_builder *plan)
{
	return drv_routing(d, t, plan, NULL) ? t->credential_endpoint : drv_setting(d, "baseURL");
}

const char *drv_upstream(const struct drv *d, const char *dflt)
{
	const char *u = drv_setting(d, "baseURL");
	return u ? u : dflt;
}

int drv_credentials(void *inst, const struct paddock_task_view *t,
		    const struct paddock_plan_builder *plan, char *err, size_t errlen)
{
	struct drv *d = inst;
	if (!d || !t || !plan)
		return drv_errf(err, errlen, -EINVAL, "credentials: no task or plan");
	int rc = check_credentials(d, t, err, errlen);
	if (rc < 0)
		return rc;
	struct drv_route r;
	bool routed = drv_routing(d, t, plan, &r);
	if (routed) {
		const char *key = t->credentials_key && *t->credentials_key ? t->credentials_key
			: (strcmp(drv_cred_type(t), "oauth") == 0 ? "oauthToken" : "apiKey");
		struct paddock_credential_route cr = {
			.size = sizeof(cr),
			.upstream = r.upstream,
			.header = r.header,
			.prefix = r.prefix,
			.secret_name = t->credentials_secret,
			.secret_key = key,
		};
		if ((rc = plan->add_credential_route(plan->ctx, &cr)) < 0)
			return drv_errf(err, errlen, rc,
					"spec.credentials: cannot route Secret \"%s\" key \"%s\" to %s",
					t->credentials_secret, key, r.upstream);
		if ((rc = drv_env(plan, r.env, t->credential_placeholder, err, errlen)) < 0)
			return rc;
	}
	if (d->spec->credentials)
		return d->spec->credentials(d, t, plan, routed, err, errlen);
	if (routed)
		return 0;
	const char *type = drv_cred_type(t);
	const char *env = NULL;
	if (strcmp(type, "api-key") == 0)
		env = d->spec->api_key_env;
	else if (strcmp(type, "oauth") == 0)
		env = d->spec->oauth_env;
	if (!env)
		return 0;
	return drv_env_secret(t, plan, env, err, errlen);
}

int drv_entrypoint(void *inst, const struct paddock_task_view *t,
		   const struct paddock_plan_builder *plan, char *err, size_t errlen)
{
	struct drv *d = inst;
	if (!d || !t || !plan)
		return drv_errf(err, errlen, -EINVAL, "entrypoint: no task or plan");
	int rc = plan->set_command(plan->ctx, DRV_ENTRYPOINT);
	if (rc < 0)
		return drv_errf(err, errlen, rc, "entrypoint: cannot set command %s", DRV_ENTRYPOINT);
	const char *image = t->image && *t->image ? t->image : drv_setting(d, "image");
	if (image) {
		rc = plan->set_image(plan->ctx, image);
		if (rc < 0)
			return drv_errf(err, errlen, rc, "entrypoint: cannot set image \"%.128s\"", image);
	}
	const char *bin = drv_setting(d, "bin");
	if (!bin)
		bin = d->spec->default_bin;
	if (bin) {
		rc = drv_env(plan, "PADDOCK_AGENT_BIN", bin, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (d->spec->entrypoint)
		rc = d->spec->entrypoint(d, t, plan, err, errlen);
	return rc;
}

int drv_parser_new(void *inst, void **parser)
{
	struct drv *d = inst;
	if (!d || !parser)
		return -EINVAL;
	struct drv_parser *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->spec = d->spec;
	p->input_tokens = -1;
	p->output_tokens = -1;
	p->cost_usd = -1;
	if (d->spec->json) {
		p->tok = json_tokener_new_ex(DRV_JSON_DEPTH);
		if (!p->tok) {
			free(p);
			return -ENOMEM;
		}
	}
	*parser = p;
	return 0;
}

static bool line_is(const char *line, size_t len, const char *marker)
{
	size_t n = strlen(marker);
	return len == n && memcmp(line, marker, n) == 0;
}

void drv_parser_feed(struct drv_parser *p, const char *line, size_t len,
		     struct json_object **obj_out)
{
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	if (line_is(line, len, DRV_OUTPUTS_START)) {
		p->in_outputs = true;
		return;
	}
	if (line_is(line, len, DRV_OUTPUTS_END)) {
		p->in_outputs = false;
		return;
	}
	if (p->in_outputs)
		return;
	struct json_object *obj = NULL;
	if (p->tok && len <= DRV_MAX_JSON_LINE) {
		size_t i = 0;
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i < len && line[i] == '{') {
			json_tokener_reset(p->tok);
			obj = json_tokener_parse_ex(p->tok, line + i, (int)(len - i));
			if (json_tokener_get_error(p->tok) != json_tokener_success ||
			    !json_object_is_type(obj, json_type_object)) {
				json_object_put(obj);
				obj = NULL;
			}
		}
	}
	if (!obj && p->tok && len)
		drv_copy(p->last_raw, sizeof(p->last_raw), line, len);
	if (p->spec->line)
		p->spec->line(p, obj, line, len);
	if (obj_out)
		*obj_out = obj;
	else
		json_object_put(obj);
}

void drv_parser_line(void *parser, const char *line, size_t len)
{
	struct drv_parser *p = parser;
	if (!p || !line)
		return;
	drv_parser_feed(p, line, len, NULL);
}

/* Usage so far: the parser's running totals (the other fields untouched). */
void drv_parser_peek(void *parser, struct paddock_run_result *so_far)
{
	const struct drv_parser *p = parser;
	if (!p || !so_far)
		return;
	so_far->input_tokens = p->input_tokens;
	so_far->output_tokens = p->output_tokens;
	so_far->cost_usd = p->cost_usd;
}

void drv_parser_finish(void *parser, int exit_code, struct paddock_run_result *out)
{
	struct drv_parser *p = parser;
	if (!p || !out)
		return;
	if (p->spec->finish)
		p->spec->finish(p, exit_code, out);
	else
		drv_finish_common(p, exit_code, out);
}

void drv_parser_free(void *parser)
{
	struct drv_parser *p = parser;
	if (!p)
		return;
	if (p->tok)
		json_tokener_free(p->tok);
	free(p);
}
