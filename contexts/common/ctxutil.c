/* SPDX-License-Identifier: MIT */
#include "ctxutil.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cu_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int cu_create(const struct paddock_host *host, void **instance, char *err, size_t errlen)
{
	if (!host || !instance)
		return cu_errf(err, errlen, -EINVAL, "context plugin: no host table");
	if (!PADDOCK_HAS_FIELD(host, struct paddock_host, free))
		return cu_errf(err, errlen, -ENOTSUP,
			       "context plugin: host table too short (%u bytes): upgrade Paddock",
			       (unsigned)host->size);
	struct cu_instance *in = calloc(1, sizeof(*in));
	if (!in)
		return cu_errf(err, errlen, -ENOMEM, "context plugin: out of memory");
	in->host = host;
	*instance = in;
	return 0;
}

void cu_destroy(void *instance)
{
	free(instance);
}

const char *cu_field(const struct paddock_context_item *item, const char *key)
{
	if (!item || !PADDOCK_HAS_FIELD(item, struct paddock_context_item, field) || !item->field)
		return NULL;
	return item->field(item, key);
}

const char *cu_fp(const struct paddock_context_item *item)
{
	return item && item->field_path ? item->field_path : "spec.contexts[?]";
}

const char *cu_name(const struct paddock_context_item *item, const char *dflt)
{
	return item && item->name && *item->name ? item->name : dflt;
}

int cu_check_rel_path(const char *path, const char *fp, const char *field, char *err,
		      size_t errlen)
{
	if (!path || !*path)
		return cu_errf(err, errlen, -EINVAL,
			       "%s.%s: empty path: give a path relative to the workspace", fp, field);
	if (path[0] == '/')
		return cu_errf(err, errlen, -EINVAL,
			       "%s.%s: absolute path \"%.200s\" not allowed: give a path relative to the workspace",
			       fp, field, path);
	size_t n = strlen(path);
	if (n > CU_PATH_MAX)
		return cu_errf(err, errlen, -ENAMETOOLONG, "%s.%s: path longer than %d bytes", fp,
			       field, CU_PATH_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f)
			return cu_errf(err, errlen, -EINVAL,
				       "%s.%s: control character in path: use printable characters",
				       fp, field);
	bool any = false;
	for (const char *s = path; *s;) {
		size_t c = strcspn(s, "/");
		if (c == 2 && s[0] == '.' && s[1] == '.')
			return cu_errf(err, errlen, -EINVAL,
				       "%s.%s: \"..\" not allowed in \"%.200s\": the path must stay inside the workspace",
				       fp, field, path);
		if (c && !(c == 1 && s[0] == '.'))
			any = true;
		s += c;
		if (*s == '/')
			s++;
	}
	if (!any)
		return cu_errf(err, errlen, -EINVAL,
			       "%s.%s: \"%.200s\" names the workspace itself: give a file or directory path",
			       fp, field, path);
	return 0;
}

int cu_check_mount_path(const struct paddock_context_item *item, bool required, char *err,
			size_t errlen)
{
	if (!item->mount_path) {
		if (required)
			return cu_errf(err, errlen, -EINVAL,
				       "%s.mountPath: required for type %s: give a directory relative to the workspace",
				       cu_fp(item), item->type ? item->type : "?");
		return 0;
	}
	return cu_check_rel_path(item->mount_path, cu_fp(item), "mountPath", err, errlen);
}

int cu_check_file_mode(const struct paddock_context_item *item, char *err, size_t errlen)
{
	if (item->file_mode == -1)
		return 0;
	if (item->file_mode < 0 || item->file_mode > 0777)
		return cu_errf(err, errlen, -EINVAL,
			       "%s.fileMode: %d (0%o) out of range: use an octal mode from 0 to 0777, e.g. 0644",
			       cu_fp(item), item->file_mode, (unsigned)item->file_mode);
	if (!item->mount_path)
		return cu_errf(err, errlen, -EINVAL,
			       "%s.fileMode: set without mountPath: a fileMode applies only to a mounted file; add mountPath or drop fileMode",
			       cu_fp(item));
	return 0;
}

int cu_check_item(const struct paddock_context_item *item, const char *own_prefix, char *err,
		  size_t errlen)
{
	int rc = cu_check_foreign(item, own_prefix, err, errlen);
	if (rc == 0)
		rc = cu_check_mount_path(item, false, err, errlen);
	if (rc == 0)
		rc = cu_check_file_mode(item, err, errlen);
	return rc;
}

int cu_check_foreign(const struct paddock_context_item *item, const char *own_prefix, char *err,
		     size_t errlen)
{
	static const struct {
		const char *prefix;
		const char *key;
	} keys[] = {
		{ "text", "text" },
		{ "configMap", "configMap.name" },
		{ "configMap", "configMap.key" },
		{ "git", "git.repository" },
		{ "git", "git.ref" },
		{ "url", "url.url" },
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (own_prefix && strcmp(keys[i].prefix, own_prefix) == 0)
			continue;
		if (cu_field(item, keys[i].key))
			return cu_errf(err, errlen, -EINVAL,
				       "%s.%s: not a field of type %s: remove it or change type",
				       cu_fp(item), keys[i].key, item->type ? item->type : "?");
	}
	return 0;
}

bool cu_object_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	return s[0] != '-' && s[0] != '.' && s[n - 1] != '-' && s[n - 1] != '.';
}

int cu_parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	if (!s || !*s)
		return -EINVAL;
	unsigned long v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		unsigned d = (unsigned)(*p - '0');
		if (v > (ULONG_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int cu_parse_bool(const char *s, bool *out)
{
	if (s && strcmp(s, "true") == 0)
		*out = true;
	else if (s && strcmp(s, "false") == 0)
		*out = false;
	else
		return -EINVAL;
	return 0;
}

int cu_parse_duration_ms(const char *s, long max_ms, long *out)
{
	if (!s || !*s)
		return -EINVAL;
	size_t digits = strspn(s, "0123456789");
	if (digits == 0 || digits > 9)
		return digits ? -ERANGE : -EINVAL;
	char num[10];
	memcpy(num, s, digits);
	num[digits] = '\0';
	long v = strtol(num, NULL, 10);
	const char *unit = s + digits;
	long mult;
	if (!*unit || strcmp(unit, "s") == 0)
		mult = 1000;
	else if (strcmp(unit, "ms") == 0)
		mult = 1;
	else if (strcmp(unit, "m") == 0)
		mult = 60000;
	else if (strcmp(unit, "h") == 0)
		mult = 3600000;
	else
		return -EINVAL;
	if (v > max_ms / mult)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

void cu_str_init(struct cu_str *s, size_t cap)
{
	memset(s, 0, sizeof(*s));
	s->cap = cap;
}

int cu_str_add(struct cu_str *s, const char *p, size_t n)
{
	if (s->rc)
		return s->rc;
	if (s->cap && (n > s->cap || s->len > s->cap - n))
		return s->rc = -E2BIG;
	if (s->len + n + 1 > s->alloc) {
		size_t a = s->alloc ? s->alloc : 256;
		while (a < s->len + n + 1)
			a *= 2;
		char *d = realloc(s->data, a);
		if (!d)
			return s->rc = -ENOMEM;
		s->data = d;
		s->alloc = a;
	}
	memcpy(s->data + s->len, p, n);
	s->len += n;
	s->data[s->len] = '\0';
	return 0;
}

int cu_str_puts(struct cu_str *s, const char *p)
{
	return cu_str_add(s, p ? p : "", p ? strlen(p) : 0);
}

int cu_str_printf(struct cu_str *s, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return s->rc ? s->rc : (s->rc = -EINVAL);
	return cu_str_add(s, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void cu_str_free(struct cu_str *s)
{
	if (!s)
		return;
	free(s->data);
	memset(s, 0, sizeof(*s));
}

int cu_plan_failed(const struct paddock_context_item *item, int rc, const char *what, char *err,
		   size_t errlen)
{
	return cu_errf(err, errlen, rc, "%s: the run plan refused %s: %s", cu_fp(item), what,
		       strerror(-rc));
}

int cu_add_text(const struct paddock_plan_builder *plan, const struct paddock_context_item *item,
		const char *name, const char *type, const char *data, size_t len, char *err,
		size_t errlen)
{
	int rc = plan->add_text(plan->ctx, name, type, data, len);
	if (rc < 0)
		return cu_plan_failed(item, rc, "the text for task.md", err, errlen);
	return 0;
}

int cu_add_file(const struct paddock_plan_builder *plan, const struct paddock_context_item *item,
		const char *path, const char *data, size_t len, const char *what, char *err,
		size_t errlen)
{
	unsigned mode = item->file_mode >= 0 ? (unsigned)item->file_mode : 0644;
	int rc = plan->add_file(plan->ctx, PADDOCK_ROOT_WORKSPACE, path, data, len, mode);
	if (rc < 0)
		return cu_plan_failed(item, rc, what, err, errlen);
	return 0;
}

int cu_emit(const struct paddock_plan_builder *plan, const struct paddock_context_item *item,
	    const char *name, const char *type, const char *data, size_t len, char *err,
	    size_t errlen)
{
	if (item->mount_path)
		return cu_add_file(plan, item, item->mount_path, data, len, "the file at mountPath",
				   err, errlen);
	return cu_add_text(plan, item, name, type, data, len, err, errlen);
}
