/* SPDX-License-Identifier: MIT */
/*
 * base/cron.c - cron expressions in a time zone.  See cron.h.
 */
#include "config.h"
#include "base/cron.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"

static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun",
				      "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const days[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

static const struct field {
	const char *name;
	int lo, hi;
	const char *const *names;
} fields[] = {
	{ "minute", 0, 59, NULL },     { "hour", 0, 23, NULL }, { "day of month", 1, 31, NULL },
	{ "month", 1, 12, months },    { "day of week", 0, 7, days },
};

static int value(const struct field *f, const char *s, size_t n, int *out)
{
	if (f->names && n == 3) {
		int count = f == &fields[3] ? 12 : 7;
		for (int i = 0; i < count; i++)
			if (!strncasecmp(s, f->names[i], 3)) {
				*out = f == &fields[3] ? i + 1 : i;
				return 0;
			}
	}
	if (!n || n > 2)
		return -1;
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < f->lo || v > f->hi)
		return -1;
	*out = v;
	return 0;
}

/* One field ("*", "*\/5", "1-5", "mon,wed", "10-40\/10") into bits. */
static int parse_field(const struct field *f, const char *s, uint64_t *bits, bool *any)
{
	*bits = 0;
	*any = !strcmp(s, "*") || !strcmp(s, "?");
	char buf[128];
	if (strlen(s) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	char *save = NULL;
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		int lo = f->lo, hi = f->hi, step = 1;
		char *slash = strchr(item, '/');
		if (slash) {
			*slash = '\0';
			char *end;
			long st = strtol(slash + 1, &end, 10);
			if (*end || st < 1 || st > f->hi + 1 || !slash[1])
				return -1;
			step = (int)st;
		}
		if (strcmp(item, "*") && strcmp(item, "?")) {
			char *dash = strchr(item, '-');
			if (value(f, item, dash ? (size_t)(dash - item) : strlen(item), &lo) < 0)
				return -1;
			hi = lo;
			if (dash && value(f, dash + 1, strlen(dash + 1), &hi) < 0)
				return -1;
			if (slash && !dash)
				hi = f->hi; /* "5/15": from 5 on */
			if (hi < lo)
				return -1;
		}
		for (int v = lo; v <= hi; v += step)
			*bits |= (uint64_t)1 << (f == &fields[4] ? v % 7 : v);
	}
	return *bits ? 0 : -1;
}

int cron_parse(const char *expr, struct cron *c, char *err, size_t errlen)
{
	static const struct { const char *macro, *expr; } macros[] = {
		{ "@hourly", "0 * * * *" },	{ "@daily", "0 0 * * *" },  { "@midnight", "0 0 * * *" },
		{ "@weekly", "0 0 * * 0" },	{ "@monthly", "0 0 1 * *" }, { "@yearly", "0 0 1 1 *" },
		{ "@annually", "0 0 1 1 *" },
	};
	const char *e = expr ? expr : "";
	for (size_t i = 0; i < ARRAY_SIZE(macros); i++)
		if (!strcmp(e, macros[i].macro))
			e = macros[i].expr;
	char buf[256];
	if (strlen(e) >= sizeof(buf))
		return errf(err, errlen, -EINVAL, "too long: use five fields");
	snprintf(buf, sizeof(buf), "%s", e);
	char *tok[6], *save = NULL;
	int n = 0;
	for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
		if (n < 6)
			tok[n++] = t;
		else
			n++;
	if (n != 5)
		return errf(err, errlen, -EINVAL,
			    "%d fields: use five (minute hour day-of-month month day-of-week), e.g. \"*/15 9-17 * * mon-fri\", or @hourly, @daily, @weekly, @monthly",
			    n);
	struct cron out = { 0 };
	uint64_t bits[5];
	bool any[5];
	for (int i = 0; i < 5; i++)
		if (parse_field(&fields[i], tok[i], &bits[i], &any[i]) < 0)
			return errf(err, errlen, -EINVAL,
				    "%s field \"%.32s\": use *, a number from %d to %d%s, a range a-b, a list a,b or a step */n",
				    fields[i].name, tok[i], fields[i].lo, fields[i].hi,
				    fields[i].names ? " or a name" : "");
	out.minute = bits[0];
	out.hour = (uint32_t)bits[1];
	out.mday = (uint32_t)bits[2];
	out.month = (uint16_t)bits[3];
	out.wday = (uint8_t)bits[4];
	out.mday_any = any[2];
	out.wday_any = any[4];
	*c = out;
	return 0;
}

/* localtime_r in another zone means TZ, which is the process's: one
 * caller at a time, TZ put back afterwards. */
static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

static void local_fields(const char *tz, time_t t, struct tm *tm)
{
	if (!tz || !strcmp(tz, "UTC") || !strcmp(tz, "Etc/UTC")) {
		gmtime_r(&t, tm);
		return;
	}
	pthread_mutex_lock(&tz_lock);
	const char *old = getenv("TZ");
	char *saved = old ? xstrdup(old) : NULL;
	setenv("TZ", tz, 1);
	tzset();
	localtime_r(&t, tm);
	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
	pthread_mutex_unlock(&tz_lock);
}

bool schedule_tz_ok(const char *tz)
{
	if (!tz || !*tz || strlen(tz) > 64 || tz[0] == '/' || strstr(tz, ".."))
		return false;
	for (const char *p = tz; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/_-+", *p))
			return false;
	if (!strcmp(tz, "UTC"))
		return true;
	char path[128];
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
	return access(path, R_OK) == 0;
}

static bool matches_tm(const struct cron *c, const struct tm *tm)
{
	if (!(c->minute >> tm->tm_min & 1) || !(c->hour >> tm->tm_hour & 1) ||
	    !(c->month >> (tm->tm_mon + 1) & 1))
		return false;
	bool md = c->mday >> tm->tm_mday & 1, wd = c->wday >> tm->tm_wday & 1;
	if (c->mday_any || c->wday_any)
		return md && wd;
	return md || wd;
}

bool cron_matches(const struct cron *c, const char *tz, int64_t t)
{
	struct tm tm;
	local_fields(tz, (time_t)t, &tm);
	return matches_tm(c, &tm);
}

void schedule_due(const struct cron *c, const char *tz, int64_t last_s, int64_t now_s,
		  int64_t *latest, long *missed)
{
	*latest = 0;
	*missed = 0;
	int64_t t = now_s - ((now_s % 60) + 60) % 60; /* the current minute */
	for (long i = 0; i < SCHEDULE_SCAN_MINUTES && t > last_s; i++, t -= 60) {
		if (!cron_matches(c, tz, t))
			continue;
		if (!*latest)
			*latest = t;
		else
			(*missed)++;
	}
}
