/* SPDX-License-Identifier: MIT */
/*
 * base/cron.h - cron schedules (a Spawner's spec.schedule, docs/triggers.md):
 * cron expressions (five fields: minute hour day-of-month month
 * day-of-week; `*`, lists, ranges, steps, names jan..dec and sun..sat;
 * @hourly @daily @weekly @monthly @yearly), read in an IANA time zone,
 * and which start times are due after an outage, as a Kubernetes CronJob
 * decides it: only the most recent missed time runs, and not at all when
 * it is older than startingDeadlineSeconds.  No I/O but the time zone
 * database.
 */
#ifndef PADDOCK_BASE_CRON_H
#define PADDOCK_BASE_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cron {
	uint64_t minute;  /* bit i: minute i */
	uint32_t hour;
	uint32_t mday;    /* bits 1..31 */
	uint16_t month;   /* bits 1..12 */
	uint8_t wday;     /* bits 0..6, Sunday 0 */
	bool mday_any, wday_any; /* cron's rule: both restricted -> either matches */
};

/* Parse `expr`; -EINVAL with the field and the fix in err. */
int cron_parse(const char *expr, struct cron *c, char *err, size_t errlen);

/* Is tz a time zone this machine knows ("UTC", "Europe/Berlin")? */
bool schedule_tz_ok(const char *tz);

/* Does the minute starting at unix time t (seconds, a multiple of 60)
 * match, read in time zone tz (NULL: UTC)? */
bool cron_matches(const struct cron *c, const char *tz, int64_t t);

/* How far back a catch-up looks at most (minutes): a week. */
#define SCHEDULE_SCAN_MINUTES (7 * 24 * 60)

/* The start times due in (last_s, now_s]: *latest the most recent (0:
 * none) and *missed how many before it (counted up to the scan bound).
 * Looks back at most SCHEDULE_SCAN_MINUTES. */
void schedule_due(const struct cron *c, const char *tz, int64_t last_s, int64_t now_s,
		  int64_t *latest, long *missed);

#endif
