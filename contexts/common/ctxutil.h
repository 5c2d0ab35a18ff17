/* SPDX-License-Identifier: MIT */
/*
 * ctxutil.h - helpers shared by the context plugins (compiled into each
 * .so; plugins link nothing of the core).  Field access, the checks every
 * item type shares (mountPath, fileMode, fields of other types), number
 * and duration parsing, a bounded string builder, and the common
 * "text into task.md or file at mountPath" step.
 */
#ifndef PADDOCK_CTXUTIL_H
#define PADDOCK_CTXUTIL_H

#include <paddock/plugin.h>
#include <stdbool.h>
#include <stddef.h>

/* Longest mountPath / subpath accepted (the plan builder agrees). */
#define CU_PATH_MAX 1024

/* The per-plugin instance: every context plugin only keeps the host. */
struct cu_instance {
	const struct paddock_host *host;
};

/* create()/destroy() shared by all context plugins. */
int cu_create(const struct paddock_host *host, void **instance, char *err, size_t errlen);
void cu_destroy(void *instance);

/* errf(): one line into err, returns rc. */
int cu_errf(char *err, size_t errlen, int rc, const char *fmt, ...) PADDOCK_PRINTF(4, 5);

/* item->field(item, key), NULL-safe; "spec.contexts[?]" when no path. */
const char *cu_field(const struct paddock_context_item *item, const char *key);
const char *cu_fp(const struct paddock_context_item *item);
/* The name used in task.md: item->name, else `dflt`. */
const char *cu_name(const struct paddock_context_item *item, const char *dflt);

/* Checks shared by every type. */
int cu_check_mount_path(const struct paddock_context_item *item, bool required, char *err,
			size_t errlen);
/* A relative path without "..", control bytes or a leading '/'. */
int cu_check_rel_path(const char *path, const char *fp, const char *field, char *err,
		      size_t errlen);
int cu_check_file_mode(const struct paddock_context_item *item, char *err, size_t errlen);
/* The checks of an item that becomes text or a file: no fields of other
 * types (own_prefix as for cu_check_foreign), an optional mountPath, and
 * fileMode. */
int cu_check_item(const struct paddock_context_item *item, const char *own_prefix, char *err,
		  size_t errlen);
/* Refuse fields that belong to another type ("url.url" on a Text). */
int cu_check_foreign(const struct paddock_context_item *item, const char *own_prefix, char *err,
		     size_t errlen);
/* Kubernetes object name (DNS-1123 subdomain), for Secret/ConfigMap refs. */
bool cu_object_name_ok(const char *s);

/* Parsing of manifest scalars (field() always returns strings). */
int cu_parse_ulong(const char *s, unsigned long max, unsigned long *out);
int cu_parse_bool(const char *s, bool *out);
/* "500ms", "10s", "2m", "1h", or a bare number of seconds. */
int cu_parse_duration_ms(const char *s, long max_ms, long *out);

/* A growable string; append fails with -E2BIG past `cap` or -ENOMEM. */
struct cu_str {
	char *data;
	size_t len, alloc, cap;
	int rc; /* first failure, sticky */
};
void cu_str_init(struct cu_str *s, size_t cap);
int cu_str_add(struct cu_str *s, const char *p, size_t n);
int cu_str_puts(struct cu_str *s, const char *p);
int cu_str_printf(struct cu_str *s, const char *fmt, ...) PADDOCK_PRINTF(2, 3);
void cu_str_free(struct cu_str *s);

/* A <context> block in task.md named `name`. */
int cu_add_text(const struct paddock_plan_builder *plan, const struct paddock_context_item *item,
		const char *name, const char *type, const char *data, size_t len, char *err,
		size_t errlen);
/* A file at `path` in the workspace with the item's fileMode (or 0644);
 * `what` names it if the builder refuses it. */
int cu_add_file(const struct paddock_plan_builder *plan, const struct paddock_context_item *item,
		const char *path, const char *data, size_t len, const char *what, char *err,
		size_t errlen);
/* Material for an item: with a mountPath a file there (fileMode or
 * 0644), else a <context> block in task.md named `name`. */
int cu_emit(const struct paddock_plan_builder *plan, const struct paddock_context_item *item,
	    const char *name, const char *type, const char *data, size_t len, char *err,
	    size_t errlen);
/* The message when a plan builder method refused something (the builder
 * keeps its own detailed message). */
int cu_plan_failed(const struct paddock_context_item *item, int rc, const char *what, char *err,
		   size_t errlen);

#endif
