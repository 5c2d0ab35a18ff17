/* SPDX-License-Identifier: MIT */
/*
 * manifest.h - turns manifest text (YAML or JSON, one or many documents)
 * into json-c objects, with hard limits on size, depth and node count.
 *
 * YAML: libyaml events, plain scalars resolved per the YAML 1.2 core
 * schema (null/~/empty, true/false, ints incl. 0o/0x, floats), except
 * that a plain integer with a leading 0 ("0755") is octal as in YAML 1.1
 * and Kubernetes, so file modes read as users expect.  Quoted scalars are
 * strings.  Anchors and aliases are refused (never expanded), so alias
 * bombs cost nothing; duplicate keys and non-scalar keys are refused.
 * JSON (first non-space byte '{' or '['): json-c's tokener, one or more
 * concatenated values, with the same depth/node/duplicate-key checks.
 * A top-level sequence, or a `kind: List` object with `items`, yields
 * one document per element.  Empty YAML documents are skipped.
 *
 * Errors: "NAME:LINE:COL: message" in the caller's buffer.
 */
#ifndef PADDOCK_MANIFEST_H
#define PADDOCK_MANIFEST_H

#include <json-c/json.h>
#include <stddef.h>

struct manifest_limits {
	size_t max_bytes;  /* input size; default 1 MiB */
	int max_depth;     /* nested mappings/sequences; default 64 */
	size_t max_nodes;  /* scalars + collections, all documents; default 100000 */
};

#define MANIFEST_DEFAULT_MAX_BYTES ((size_t)1 << 20)
#define MANIFEST_DEFAULT_MAX_DEPTH 64
#define MANIFEST_DEFAULT_MAX_NODES ((size_t)100000)

/* The defaults above. */
void manifest_limits_default(struct manifest_limits *lim);

/* Parse `len` bytes of `data` (need not be NUL-terminated); `name` labels
 * messages (a file name or "<stdin>").  `lim` may be NULL (defaults; a
 * zero field also means its default).  On success *docs is an owned
 * array of *n owned objects (release with manifest_docs_free); *n may be
 * 0 for an empty input.  On failure returns -EINVAL (-E2BIG when over
 * max_bytes), writes "NAME:LINE:COL: message" and leaves *docs and *n alone. */
int manifest_parse(const char *name, const char *data, size_t len,
		   const struct manifest_limits *lim, json_object ***docs, size_t *n,
		   char *err, size_t errlen);

void manifest_docs_free(json_object **docs, size_t n); /* NULL-safe */

#endif
