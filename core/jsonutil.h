/* SPDX-License-Identifier: MIT */
/*
 * jsonutil.h - the few json-c accessors every part of the core uses on
 * documents (Tasks, statuses, API objects).  All NULL-safe.
 */
#ifndef PADDOCK_JSONUTIL_H
#define PADDOCK_JSONUTIL_H

#include <json-c/json.h>
#include <stdint.h>

/* o[key], borrowed, or NULL (o NULL, no such key). */
json_object *jget(json_object *o, const char *key);
/* o[key] when it is a string, borrowed, else NULL. */
const char *jstr(json_object *o, const char *key);
/* o[key] parsed as an RFC 3339 time (parse_time), in wall ms; 0 when
 * absent or unparsable. */
int64_t jtime(json_object *o, const char *key);
/* o[key] = value (a JSON null for NULL). */
void jset_str(json_object *o, const char *key, const char *value);
/* o[key] = "YYYY-MM-DDTHH:MM:SS.mmmZ" of wall ms (format_time_ms). */
void jset_time(json_object *o, const char *key, int64_t wall_ms);

#endif
