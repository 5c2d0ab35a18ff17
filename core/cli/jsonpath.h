/* SPDX-License-Identifier: MIT */
/*
 * cli/jsonpath.h - `-o jsonpath=TEMPLATE`: the part of kubectl's JSONPath
 * templates people type, over the JSON `-o json` prints.
 *
 *   text outside braces     printed as it is
 *   {.metadata.name}        a field; {$.a} from the root, {@.a} the current
 *   {.a.b[0]} {.a[-1]}      an array item (from the end when negative)
 *   {.items[*].x} {.m.*}    every item of an array (or value of an object)
 *   {['k.with.dots']} {.a\.b}  a key with dots
 *   {range .items[*]}...{end}  the text inside once per result, relative
 *                           to it (nested up to JSONPATH_DEPTH)
 *   {"\n"} {"\t"}           a literal (\n \t \r \\ \")
 *
 * Several results of one expression are joined by a space; strings are
 * printed bare, numbers and booleans as JSON, objects and arrays as
 * compact JSON, a missing field or null as nothing (kubectl's default).
 * Anything else (filters [?()], slices [a:b], recursive descent ..,
 * functions) is refused with its position in the template.
 */
#ifndef PADDOCK_CLI_JSONPATH_H
#define PADDOCK_CLI_JSONPATH_H

#include <json-c/json.h>
#include <stddef.h>

#include "base/util.h"

#define JSONPATH_MAX 4096       /* template bytes */
#define JSONPATH_DEPTH 8        /* nested ranges */
#define JSONPATH_OUT_MAX (64u << 20)

struct jsonpath;

/* Compile `tmpl`; *out owned.  -EINVAL with "jsonpath: ... at position N
 * ..." in err. */
int jsonpath_compile(const char *tmpl, struct jsonpath **out, char *err, size_t errlen);
/* Append the template over `root` (borrowed) to `out`.  -E2BIG past
 * JSONPATH_OUT_MAX. */
int jsonpath_run(const struct jsonpath *p, json_object *root, struct buf *out, char *err,
		 size_t errlen);
void jsonpath_free(struct jsonpath *p); /* NULL-safe */

#endif
