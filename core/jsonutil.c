/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "jsonutil.h"

#include "util.h"

json_object *jget(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

const char *jstr(json_object *o, const char *key)
{
	json_object *v = jget(o, key);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int64_t jtime(json_object *o, const char *key)
{
	int64_t ms = 0;
	const char *s = jstr(o, key);
	if (s && parse_time(s, &ms) < 0)
		ms = 0;
	return ms;
}

void jset_str(json_object *o, const char *key, const char *value)
{
	json_object_object_add(o, key, value ? json_object_new_string(value) : NULL);
}

void jset_time(json_object *o, const char *key, int64_t wall_ms)
{
	char ts[40];
	format_time_ms(wall_ms, ts, sizeof(ts));
	json_object_object_add(o, key, json_object_new_string(ts));
}
