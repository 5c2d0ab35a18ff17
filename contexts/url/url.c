/* SPDX-License-Identifier: MIT */
/*
 * url.c - the URL context source: one HTTP(S) GET through the host's
 * http_get (which owns the limits and the address policy), the body
 * aggregated into task.md or written to mountPath.
 *
 * Request headers are listed explicitly:
 *   url.headers: [{name: Authorization, secretKeyRef: {name: s, key: k}},
 *                 {name: Accept, value: text/plain}]
 * A secret header value is read with host->secret_get, lives only in a
 * buffer that is zeroed before it is freed, and never appears in a
 * message or log: messages name the header, the Secret and the key.
 */
#include "../common/ctxutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define URL_MAX_LEN 4096
#define URL_MAX_HEADERS 16
#define URL_MAX_BYTES_LIMIT (1UL << 30)
#define URL_MAX_TIMEOUT_MS (10L * 60 * 1000)

struct url_header_ref {
	const char *name;
	const char *value;       /* plain value, or NULL */
	const char *secret_name; /* or a Secret reference */
	const char *secret_key;
};

static bool url_token_ok(const char *s)
{
	if (!s || !*s || strlen(s) > 128)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
			return false;
	return true;
}

static bool url_key_ok(const char *k)
{
	size_t n = k ? strlen(k) : 0;
	if (n == 0 || n > 253)
		return false;
	return strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") == n;
}

/* Read header `i` of the item; false when there is none. */
static bool url_header_at(const struct paddock_context_item *item, size_t i,
			  struct url_header_ref *h)
{
	char k[64];
	snprintf(k, sizeof(k), "url.headers.%zu.name", i);
	h->name = cu_field(item, k);
	snprintf(k, sizeof(k), "url.headers.%zu.value", i);
	h->value = cu_field(item, k);
	snprintf(k, sizeof(k), "url.headers.%zu.secretKeyRef.name", i);
	h->secret_name = cu_field(item, k);
	snprintf(k, sizeof(k), "url.headers.%zu.secretKeyRef.key", i);
	h->secret_key = cu_field(item, k);
	return h->name || h->value || h->secret_name || h->secret_key;
}

static int url_check_url(const char *url, const char *fp, char *err, size_t errlen)
{
	const char *rest;
	if (strncasecmp(url, "https://", 8) == 0)
		rest = url + 8;
	else if (strncasecmp(url, "http://", 7) == 0)
		rest = url + 7;
	else
		return cu_errf(err, errlen, -EINVAL,
			       "%s.url.url: scheme of \"%.100s\" not allowed: use http:// or https://", fp,
			       url);
	size_t alen = strcspn(rest, "/?#");
	if (memchr(rest, '@', alen))
		return cu_errf(err, errlen, -EINVAL,
			       "%s.url.url: credentials in the URL are not allowed: put them in url.headers with a secretKeyRef",
			       fp);
	if (alen == 0)
		return cu_errf(err, errlen, -EINVAL, "%s.url.url: \"%.200s\" has no host: give a full URL",
			       fp, url);
	size_t n = strlen(url);
	if (n > URL_MAX_LEN)
		return cu_errf(err, errlen, -ENAMETOOLONG, "%s.url.url: longer than %d bytes", fp,
			       URL_MAX_LEN);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
			return cu_errf(err, errlen, -EINVAL,
				       "%s.url.url: space or control character in the URL: percent-encode it",
				       fp);
	return 0;
}

static int url_validate(void *instance, const struct paddock_context_item *item, char *err,
			size_t errlen)
{
	(void)instance;
	if (!item)
		return cu_errf(err, errlen, -EINVAL, "url context: no item");
	const char *fp = cu_fp(item);
	int rc = cu_check_item(item, "url", err, errlen);
	if (rc < 0)
		return rc;
	const char *url = cu_field(item, "url.url");
	if (!url)
		return cu_errf(err, errlen, -EINVAL,
			       "%s.url.url: required for type URL: give an http:// or https:// URL", fp);
	rc = url_check_url(url, fp, err, errlen);
	if (rc < 0)
		return rc;
	const char *fpol = cu_field(item, "url.failurePolicy");
	if (fpol && strcmp(fpol, "Fail") != 0 && strcmp(fpol, "Ignore") != 0)
		return cu_errf(err, errlen, -EINVAL,
			       "%s.url.failurePolicy: unsupported value \"%.40s\": use Fail or Ignore", fp,
			       fpol);
	const char *t = cu_field(item, "url.timeout");
	long ms;
	if (t && (cu_parse_duration_ms(t, URL_MAX_TIMEOUT_MS, &ms) < 0 || ms <= 0))
		return cu_errf(err, errlen, -EINVAL,
			       "%s.url.timeout: \"%.40s\" is not a duration from 1ms to 10m: use e.g. 10s or 500ms",
			       fp, t);
	const char *mb = cu_field(item, "url.maxBytes");
	unsigned long b;
	if (mb && (cu_parse_ulong(mb, URL_MAX_BYTES_LIMIT, &b) < 0 || b == 0))
		return cu_errf(err, errlen, -EINVAL,
			       "%s.url.maxBytes: \"%.40s\" is not a byte count from 1 to %lu: use e.g. 65536",
			       fp, mb, URL_MAX_BYTES_LIMIT);
	if (cu_field(item, "url.headersSecretRef.name"))
		return cu_errf(err, errlen, -EINVAL,
			       "%s.url.headersSecretRef: not supported: list headers as url.headers: [{name: Authorization, secretKeyRef: {name: SECRET, key: KEY}}]",
			       fp);
	struct url_header_ref h;
	size_t i;
	for (i = 0; url_header_at(item, i, &h); i++) {
		if (i >= URL_MAX_HEADERS)
			return cu_errf(err, errlen, -E2BIG,
				       "%s.url.headers: more than %d headers: send fewer", fp,
				       URL_MAX_HEADERS);
		if (!url_token_ok(h.name))
			return cu_errf(err, errlen, -EINVAL,
				       "%s.url.headers[%zu].name: %s%.60s%s is not a header name: use e.g. Authorization",
				       fp, i, h.name ? "\"" : "", h.name ? h.name : "missing",
				       h.name ? "\"" : "");
		if (strcasecmp(h.name, "Host") == 0 || strcasecmp(h.name, "Content-Length") == 0 ||
		    strcasecmp(h.name, "Transfer-Encoding") == 0)
			return cu_errf(err, errlen, -EINVAL,
				       "%s.url.headers[%zu].name: \"%s\" is set by the HTTP client: remove it",
				       fp, i, h.name);
		bool has_ref = h.secret_name || h.secret_key;
		if (!!h.value == has_ref)
			return cu_errf(err, errlen, -EINVAL,
				       "%s.url.headers[%zu]: give exactly one of value or secretKeyRef", fp,
				       i);
		if (h.value && strpbrk(h.value, "\r\n"))
			return cu_errf(err, errlen, -EINVAL,
				       "%s.url.headers[%zu].value: line break in the value: remove it", fp,
				       i);
		if (has_ref && !cu_object_name_ok(h.secret_name))
			return cu_errf(err, errlen, -EINVAL,
				       "%s.url.headers[%zu].secretKeyRef.name: %s: give the name of a Secret",
				       fp, i, h.secret_name ? "not a valid Secret name" : "required");
		if (has_ref && !url_key_ok(h.secret_key))
			return cu_errf(err, errlen, -EINVAL,
				       "%s.url.headers[%zu].secretKeyRef.key: %s: give a key of Secret \"%s\"",
				       fp, i, h.secret_key ? "not a valid key" : "required",
				       h.secret_name);
	}
	return 0;
}

/* Header lines "Name: value"; secret ones are zeroed by url_headers_free. */
struct url_headers {
	char *line[URL_MAX_HEADERS + 1];
	size_t len[URL_MAX_HEADERS];
	size_t n;
};

static void url_headers_free(struct url_headers *hs)
{
	for (size_t i = 0; i < hs->n; i++) {
		if (hs->line[i]) {
			explicit_bzero(hs->line[i], hs->len[i]);
			free(hs->line[i]);
		}
	}
	memset(hs, 0, sizeof(*hs));
}

static int url_headers_build(const struct paddock_host *host,
			     const struct paddock_context_item *item, struct url_headers *hs,
			     char *err, size_t errlen)
{
	const char *fp = cu_fp(item);
	struct url_header_ref h;
	for (size_t i = 0; i < URL_MAX_HEADERS && url_header_at(item, i, &h); i++) {
		char *val = NULL;
		size_t vlen = 0;
		bool secret = !h.value;
		if (secret) {
			char herr[256] = "";
			int rc = host->secret_get(host->ctx, item->ns, h.secret_name, h.secret_key, &val,
						  &vlen, herr, sizeof(herr));
			if (rc == -ENOENT)
				return cu_errf(err, errlen, rc,
					       "%s.url.headers[%zu].secretKeyRef: Secret \"%s\" key \"%s\" not found in namespace \"%s\": create it",
					       fp, i, h.secret_name, h.secret_key,
					       item->ns ? item->ns : "");
			if (rc < 0)
				return cu_errf(err, errlen, rc, "%s.url.headers[%zu].secretKeyRef: %s",
					       fp, i, herr);
			if (memchr(val, '\0', vlen) || memchr(val, '\r', vlen) ||
			    memchr(val, '\n', vlen)) {
				host->secret_free(host->ctx, val, vlen);
				return cu_errf(err, errlen, -EINVAL,
					       "%s.url.headers[%zu].secretKeyRef: the value of Secret \"%s\" key \"%s\" contains a line break or NUL: store it on one line",
					       fp, i, h.secret_name, h.secret_key);
			}
		} else {
			val = (char *)h.value;
			vlen = strlen(h.value);
		}
		size_t n = strlen(h.name) + 2 + vlen + 1;
		char *line = malloc(n);
		if (line) {
			memcpy(line, h.name, strlen(h.name));
			memcpy(line + strlen(h.name), ": ", 2);
			memcpy(line + strlen(h.name) + 2, val, vlen);
			line[n - 1] = '\0';
		}
		if (secret)
			host->secret_free(host->ctx, val, vlen);
		if (!line)
			return cu_errf(err, errlen, -ENOMEM, "%s: out of memory", fp);
		hs->line[hs->n] = line;
		hs->len[hs->n] = n;
		hs->n++;
	}
	hs->line[hs->n] = NULL;
	return 0;
}

static const char *url_hint(int rc)
{
	switch (rc) {
	case -ETIMEDOUT: return "raise url.timeout or use a faster server";
	case -E2BIG: return "raise url.maxBytes or fetch a smaller document";
	case -EPERM: return "the host's address policy refuses it: use a public address";
	default: return "check the URL";
	}
}

static int url_resolve(void *instance, const struct paddock_task_view *task,
		       const struct paddock_context_item *item,
		       const struct paddock_plan_builder *plan, char *err, size_t errlen)
{
	struct cu_instance *in = instance;
	const struct paddock_host *host = in->host;
	struct url_headers hs;
	char *body = NULL;
	size_t len = 0;
	long status = 0;
	char reason[512] = "";
	(void)task;

	memset(&hs, 0, sizeof(hs));
	int rc = url_validate(instance, item, err, errlen);
	if (rc < 0)
		return rc;
	const char *fp = cu_fp(item);
	const char *fpol = cu_field(item, "url.failurePolicy");
	bool ignore = fpol && strcmp(fpol, "Ignore") == 0;
	long timeout_ms = 0;
	unsigned long max_bytes = 0;
	if (cu_field(item, "url.timeout"))
		cu_parse_duration_ms(cu_field(item, "url.timeout"), URL_MAX_TIMEOUT_MS, &timeout_ms);
	if (cu_field(item, "url.maxBytes"))
		cu_parse_ulong(cu_field(item, "url.maxBytes"), URL_MAX_BYTES_LIMIT, &max_bytes);

	/* A missing Secret is a configuration error, not a fetch failure:
	 * failurePolicy does not cover it. */
	rc = url_headers_build(host, item, &hs, err, errlen);
	if (rc < 0)
		goto out;

	struct paddock_http_request req = {
		.size = sizeof(req),
		.url = cu_field(item, "url.url"),
		.headers = (const char *const *)hs.line,
		.timeout_ms = timeout_ms,
		.max_bytes = max_bytes,
		.max_redirects = -1,
	};
	char herr[400] = "";
	rc = host->http_get(host->ctx, &req, &body, &len, &status, herr, sizeof(herr));
	url_headers_free(&hs);
	if (rc < 0) {
		snprintf(reason, sizeof(reason), "%s", herr);
	} else if (status < 200 || status > 299) {
		rc = -EIO;
		snprintf(reason, sizeof(reason), "GET %s: HTTP status %ld", req.url, status);
		/* Show no query string: it may carry a token. */
		char *q = strpbrk(reason + 4, "?#");
		if (q)
			snprintf(q, sizeof(reason) - (size_t)(q - reason), ": HTTP status %ld", status);
	} else if (max_bytes && len > max_bytes) {
		rc = -E2BIG;
		snprintf(reason, sizeof(reason), "body of %zu bytes over url.maxBytes %lu", len,
			 max_bytes);
	}
	if (rc < 0) {
		if (!ignore) {
			rc = cu_errf(err, errlen, rc, "%s.url.url: %s: %s, or set url.failurePolicy: Ignore",
				     fp, reason, url_hint(rc));
			goto out;
		}
		host->log(host->ctx, PADDOCK_LOG_WARN, "%s: URL context skipped (failurePolicy Ignore): %s",
			  fp, reason);
		rc = 0;
		if (!item->mount_path) {
			char note[700];
			int n = snprintf(note, sizeof(note),
					 "This URL context could not be fetched and was skipped: %s\n",
					 reason);
			size_t nl = n < 0 ? 0 : ((size_t)n < sizeof(note) ? (size_t)n : sizeof(note) - 1);
			rc = cu_add_text(plan, item, cu_name(item, "url"), "URL", note, nl, err, errlen);
		}
		goto out;
	}
	rc = cu_emit(plan, item, cu_name(item, "url"), "URL", body, len, err, errlen);
out:
	url_headers_free(&hs);
	host->free(host->ctx, body);
	return rc;
}

static const struct paddock_context_ops url_ops = {
	.size = sizeof(struct paddock_context_ops),
	.type = "URL",
	.create = cu_create,
	.destroy = cu_destroy,
	.validate = url_validate,
	.resolve = url_resolve,
};

static const struct paddock_plugin url_plugin = {
	PADDOCK_PLUGIN_HEADER(PADDOCK_KIND_CONTEXT),
	.name = "url",
	.version = "0.1.0",
	.description = "URL context: an HTTP(S) document fetched under the host's limits",
	.license = "MIT",
	.ops = &url_ops,
	.ops_size = sizeof(struct paddock_context_ops),
};

PADDOCK_PLUGIN(url_plugin)
