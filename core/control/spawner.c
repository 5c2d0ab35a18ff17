/* SPDX-License-Identifier: MIT */
/*
 * control/spawner.c - webhook deliveries to Tasks.  See spawner.h and
 * docs/triggers.md.
 */
#include "config.h"
#include "control/spawner.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/jsonutil.h"
#include "base/util.h"
#include "control/template.h"
#include "model/model.h"

static const char *const outcome_names[] = { "accepted", "duplicate", "filtered", "rejected" };

const char *spawner_outcome_name(enum spawner_outcome o)
{
	return (unsigned)o < ARRAY_SIZE(outcome_names) ? outcome_names[o] : "unknown";
}

/* ---- HMAC (RFC 2104) -------------------------------------------------- */

void spawner_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
			 unsigned char out[SHA256_DIGEST_LEN])
{
	unsigned char k[64] = { 0 }, pad[64], inner[SHA256_DIGEST_LEN];
	struct sha256 c;
	if (klen > sizeof(k)) {
		sha256_init(&c);
		sha256_update(&c, key, klen);
		sha256_final(&c, k);
	} else if (klen) {
		memcpy(k, key, klen);
	}
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x36;
	sha256_init(&c);
	sha256_update(&c, pad, sizeof(pad));
	sha256_update(&c, msg, mlen);
	sha256_final(&c, inner);
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x5c;
	sha256_init(&c);
	sha256_update(&c, pad, sizeof(pad));
	sha256_update(&c, inner, sizeof(inner));
	sha256_final(&c, out);
	explicit_bzero(k, sizeof(k));
	explicit_bzero(pad, sizeof(pad));
	explicit_bzero(inner, sizeof(inner));
}

bool spawner_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "sha256=<64 hex>" matches HMAC(secret, body)? */
static bool signature_ok(const char *sig, const char *secret, size_t slen, const char *body,
			 size_t len)
{
	unsigned char want[SHA256_DIGEST_LEN], got[SHA256_DIGEST_LEN];
	if (!sig || strncmp(sig, "sha256=", 7) || strlen(sig + 7) != 2 * SHA256_DIGEST_LEN)
		return false;
	for (size_t i = 0; i < SHA256_DIGEST_LEN; i++) {
		int hi = hexval(sig[7 + 2 * i]), lo = hexval(sig[8 + 2 * i]);
		if (hi < 0 || lo < 0)
			return false;
		got[i] = (unsigned char)(hi << 4 | lo);
	}
	spawner_hmac_sha256(secret, slen, body, len, want);
	bool ok = spawner_ct_equal(want, got, sizeof(want));
	explicit_bzero(want, sizeof(want));
	return ok;
}

/* "Bearer TOKEN" matches the secret?  Both hashed first, so the compare
 * takes the same time whatever the token's length. */
static bool bearer_ok(const char *auth, const char *secret, size_t slen)
{
	unsigned char a[SHA256_DIGEST_LEN], b[SHA256_DIGEST_LEN];
	if (!auth || strncasecmp(auth, "Bearer ", 7))
		return false;
	const char *tok = auth + 7;
	struct sha256 c;
	sha256_init(&c);
	sha256_update(&c, tok, strlen(tok));
	sha256_final(&c, a);
	sha256_init(&c);
	sha256_update(&c, secret, slen);
	sha256_final(&c, b);
	return spawner_ct_equal(a, b, sizeof(a)) && slen > 0;
}

static json_object *webhook(json_object *spawner)
{
	return jget(jget(spawner, "spec"), "webhook");
}

static bool github(json_object *spawner)
{
	const char *t = jstr(webhook(spawner), "type");
	return !t || !strcmp(t, "github");
}

unsigned spawner_verify(json_object *spawner, const struct spawner_delivery *d, const char *secret,
			size_t slen, char *why, size_t whylen)
{
	const char *ct = d->content_type;
	size_t n = ct ? strcspn(ct, ";") : 0;
	while (n && ct[n - 1] == ' ')
		n--;
	if (!ct || n != strlen("application/json") || strncasecmp(ct, "application/json", n)) {
		snprintf(why, whylen,
			 "content type %.64s: send application/json (GitHub: Content type application/json)",
			 ct ? ct : "missing");
		return 415;
	}
	if (!slen) {
		snprintf(why, whylen, "the webhook secret is empty: set one in the Secret");
		return 401;
	}
	if (str_eq(jstr(webhook(spawner), "auth"), "bearer")) {
		if (!bearer_ok(d->authorization, secret, slen)) {
			snprintf(why, whylen, "%s bearer token", d->authorization ? "wrong" : "no");
			return 401;
		}
		return 0;
	}
	if (!signature_ok(d->signature, secret, slen, d->body, d->len)) {
		snprintf(why, whylen, "%s signature (%s)", d->signature ? "bad" : "no",
			 github(spawner) ? "X-Hub-Signature-256" : "X-Signature-256");
		return 401;
	}
	return 0;
}

static bool id_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > SPAWNER_ID_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-_.:", *s))
			return false;
	return true;
}

unsigned spawner_event_id(json_object *spawner, const struct spawner_delivery *d, char *id,
			  char *why, size_t whylen)
{
	if (d->id) {
		if (!id_ok(d->id)) {
			snprintf(why, whylen, "delivery id: use at most %d letters, digits, '-', '_', '.' or ':'",
				 SPAWNER_ID_MAX);
			return 400;
		}
		snprintf(id, SPAWNER_ID_MAX + 1, "%s", d->id);
		return 0;
	}
	if (github(spawner)) {
		snprintf(why, whylen, "no X-GitHub-Delivery header");
		return 400;
	}
	/* The same body is the same event. */
	char hex[65];
	sha256_hex(d->body, d->len, hex, 64);
	snprintf(id, SPAWNER_ID_MAX + 1, "sha256-%s", hex);
	return 0;
}

/* ---- filters ---------------------------------------------------------- */

static bool in_list(json_object *arr, const char *s)
{
	for (size_t i = 0; s && i < json_object_array_length(arr); i++)
		if (str_eq(json_object_get_string(json_object_array_get_idx(arr, i)), s))
			return true;
	return false;
}

/* A scalar as text: strings as they are, numbers and booleans as JSON. */
static const char *scalar_text(json_object *v)
{
	if (!v || json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array))
		return NULL;
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

/* Does the value at dotted `path` of o (any element of a list on the
 * way: issue.labels.name) equal one of `values`? */
static bool field_matches(json_object *o, const char *path, json_object *values, int depth)
{
	if (!o || depth > 16)
		return false;
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (field_matches(json_object_array_get_idx(o, i), path, values, depth + 1))
				return true;
		return false;
	}
	if (!*path)
		return in_list(values, scalar_text(o));
	size_t n = strcspn(path, ".");
	char key[256];
	if (n >= sizeof(key) || !json_object_is_type(o, json_type_object))
		return false;
	memcpy(key, path, n);
	key[n] = '\0';
	return field_matches(jget(o, key), path + n + (path[n] == '.'), values, depth + 1);
}

/* Does the comment start with the command (then a space or the end)? */
static bool has_command(const char *body, const char *cmd)
{
	if (!body)
		return false;
	while (isspace((unsigned char)*body))
		body++;
	size_t n = strlen(cmd);
	return !strncmp(body, cmd, n) && (!body[n] || isspace((unsigned char)body[n]));
}

bool spawner_wanted(json_object *spawner, const char *event, json_object *ev, char *why,
		    size_t whylen)
{
	json_object *wh = webhook(spawner), *events = jget(wh, "events"), *actions = jget(wh, "actions");
	const char *action = jstr(ev, "action"), *cmd = jstr(wh, "commandPrefix");
	if (github(spawner) && str_eq(event, "ping")) {
		snprintf(why, whylen, "ping");
		return false;
	}
	if (events && json_object_array_length(events) && !in_list(events, event)) {
		snprintf(why, whylen, "event %.64s is not in spec.webhook.events", event ? event : "(none)");
		return false;
	}
	if (actions && json_object_array_length(actions) && !in_list(actions, action)) {
		snprintf(why, whylen, "action %.64s is not in spec.webhook.actions",
			 action ? action : "(none)");
		return false;
	}
	json_object *comment = jget(ev, "comment");
	if (cmd && comment && !has_command(jstr(comment, "body"), cmd)) {
		snprintf(why, whylen, "the comment does not start with %.64s", cmd);
		return false;
	}
	json_object *filters = jget(wh, "filters");
	for (size_t i = 0; filters && i < json_object_array_length(filters); i++) {
		json_object *f = json_object_array_get_idx(filters, i);
		if (!field_matches(ev, jstr(f, "field"), jget(f, "values"), 0)) {
			snprintf(why, whylen, "%.128s is not one of spec.webhook.filters[%zu].values",
				 jstr(f, "field"), i);
			return false;
		}
	}
	return true;
}

/* ---- the Task --------------------------------------------------------- */

void spawner_task_name(const char *ns, const char *name, const char *id, char out[64])
{
	struct sha256 c;
	char hex[13];
	sha256_init(&c);
	sha256_update(&c, ns, strlen(ns));
	sha256_update(&c, "/", 1);
	sha256_update(&c, name, strlen(name));
	sha256_update(&c, "\n", 1);
	sha256_update(&c, id, strlen(id));
	sha256_final_hex(&c, hex, 12);
	snprintf(out, 64, "%.50s-%s", name, hex);
}

struct render_ctx {
	json_object *ev;
	const char *event, *id;
};

/* The value at a dotted path (list indexes as numbers), or NULL. */
static json_object *at_path(json_object *o, const char *path)
{
	char key[256];
	while (o && *path) {
		size_t n = strcspn(path, ".");
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		path += n + (path[n] == '.');
		if (json_object_is_type(o, json_type_array)) {
			char *end;
			long i = strtol(key, &end, 10);
			o = *end || i < 0 ? NULL : json_object_array_get_idx(o, (size_t)i);
		} else if (json_object_is_type(o, json_type_object)) {
			o = jget(o, key);
		} else {
			o = NULL;
		}
	}
	return o;
}

/* How a value reads in a prompt: scalars as text; an object by its
 * full_name, login or name (repository, sender, label) else as JSON; a
 * list as its items so read, joined by ", ". */
static void value_text(struct buf *b, json_object *v, int depth)
{
	const char *s = scalar_text(v);
	if (!v)
		return;
	if (s) {
		(void)buf_puts(b, s);
	} else if (json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			if (i)
				(void)buf_puts(b, ", ");
			value_text(b, json_object_array_get_idx(v, i), depth + 1);
		}
	} else if ((s = jstr(v, "full_name")) || (s = jstr(v, "login")) || (s = jstr(v, "name"))) {
		(void)buf_puts(b, s);
	} else {
		(void)buf_puts(b, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	}
}

static int lookup(void *vctx, const char *root, const char *path, char **value)
{
	struct render_ctx *r = vctx;
	struct buf b;
	buf_init(&b, 1 << 20);
	if (!strcmp(root, "event")) {
		/* event.name, event.id: the delivery's, unless the payload has them */
		json_object *v = at_path(r->ev, path);
		if (!v && !strcmp(path, "name"))
			(void)buf_puts(&b, r->event ? r->event : "");
		else if (!v && !strcmp(path, "id"))
			(void)buf_puts(&b, r->id);
		else
			value_text(&b, v, 0);
	} else if (!strcmp(root, "schedule")) {
		/* a scheduled start: the payload is {time} */
		value_text(&b, str_eq(r->event, "schedule") ? at_path(r->ev, path) : NULL, 0);
	}
	*value = buf_steal(&b);
	return 0;
}

static int render_all(json_object *o, struct render_ctx *r, const char *path, char *err, size_t errlen);

/* v rendered: a string into *out (owned), anything else in place. */
static int render_value(json_object *v, struct render_ctx *r, const char *path, char **out,
			char *err, size_t errlen)
{
	*out = NULL;
	if (!json_object_is_type(v, json_type_string))
		return render_all(v, r, path, err, errlen);
	char e[512];
	if (tmpl_render_event(json_object_get_string(v), lookup, r, 0, out, e, sizeof(e)) < 0)
		return errf(err, errlen, -EINVAL, "%s: %s", path, e);
	return 0;
}

/* Render every string of o (a copy of the template) in place. */
static int render_all(json_object *o, struct render_ctx *r, const char *path, char *err, size_t errlen)
{
	char p[320], *out;
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v) {
			snprintf(p, sizeof(p), "%s.%s", path, k);
			if (render_value(v, r, p, &out, err, errlen) < 0)
				return -EINVAL;
			if (out)
				json_object_object_add(o, k, json_object_new_string(out));
			free(out);
		}
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++) {
			snprintf(p, sizeof(p), "%s[%zu]", path, i);
			if (render_value(json_object_array_get_idx(o, i), r, p, &out, err, errlen) < 0)
				return -EINVAL;
			if (out)
				json_object_array_put_idx(o, i, json_object_new_string(out));
			free(out);
		}
	}
	return 0;
}

int spawner_task(json_object *spawner, const char *event, const char *id, json_object *ev,
		 json_object **task, char *err, size_t errlen)
{
	json_object *smd = jget(spawner, "metadata"), *tt = jget(jget(spawner, "spec"), "taskTemplate");
	const char *ns = jstr(smd, "namespace"), *sname = jstr(smd, "name");
	if (!ns || !sname || !tt)
		return errf(err, errlen, -EINVAL, "spawner: not a validated Spawner");
	json_object *t = NULL;
	if (json_object_deep_copy(tt, &t, NULL) != 0)
		return -ENOMEM;
	struct render_ctx r = { ev, event, id };
	int rc = render_all(t, &r, "spec.taskTemplate", err, errlen);
	if (rc < 0) {
		json_object_put(t);
		return rc;
	}
	char name[64];
	spawner_task_name(ns, sname, id, name);
	json_object *doc = json_object_new_object(), *md = jget(t, "metadata");
	jset_str(doc, "apiVersion", MODEL_API_GROUP_VERSION);
	jset_str(doc, "kind", "Task");
	if (!md) {
		md = json_object_new_object();
		json_object_object_add(t, "metadata", md);
	}
	json_object *labels = jget(md, "labels"), *ann = jget(md, "annotations");
	if (!labels) {
		labels = json_object_new_object();
		json_object_object_add(md, "labels", labels);
	}
	if (!ann) {
		ann = json_object_new_object();
		json_object_object_add(md, "annotations", ann);
	}
	jset_str(labels, MODEL_LABEL_SPAWNER, sname);
	char *e = xasprintf("%s/%s", event ? event : "event", id);
	jset_str(ann, MODEL_ANNOTATION_EVENT, e);
	free(e);
	jset_str(md, "name", name);
	jset_str(md, "namespace", ns);
	json_object_object_add(doc, "metadata", json_object_get(md));
	json_object_object_add(doc, "spec", json_object_get(jget(t, "spec")));
	json_object_put(t);
	*task = doc;
	return 0;
}
