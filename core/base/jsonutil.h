/* SPDX-License-Identifier: MIT */
/*
 * jsonutil.h - the few json-c accessors every part of the core uses on
 * documents (Tasks, statuses, API objects).  All NULL-safe.  Header-only
 * (static inline): the short names stay out of the symbol table.
 */
#ifndef PADDOCK_JSONUTIL_H
#define PADDOCK_JSONUTIL_H

#include <json-c/json.h>
#include <stdint.h>

#include "base/util.h"

/* o[key], borrowed, or NULL (o NULL, no such key). */
static inline json_object *jget(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* o[key] when it is a string, borrowed, else NULL. */
static inline const char *jstr(json_object *o, const char *key)
{
	json_object *v = jget(o, key);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* o[key] parsed as an RFC 3339 time (parse_time), in wall ms; 0 when
 * absent or unparsable. */
static inline int64_t jtime(json_object *o, const char *key)
{
	int64_t ms = 0;
	const char *s = jstr(o, key);
	if (s && parse_time(s, &ms) < 0)
		ms = 0;
	return ms;
}

/* o[key] = value (a JSON null for NULL). */
static inline void jset_str(json_object *o, const char *key, const char *value)
{
	json_object_object_add(o, key, value ? json_object_new_string(value) : NULL);
}

/* o[key] = "YYYY-MM-DDTHH:MM:SS.mmmZ" of wall ms (format_time_ms). */
static inline void jset_time(json_object *o, const char *key, int64_t wall_ms)
{
	char ts[40];
	format_time_ms(wall_ms, ts, sizeof(ts));
	json_object_object_add(o, key, json_object_new_string(ts));
}

#endif
