/* SPDX-License-Identifier: MIT */
/*
 * kube/lease.h - leader election on a coordination.k8s.io Lease, the way
 * client-go's leaderelection does it: skew-safe.
 *
 * A replica never compares another replica's timestamps with its own
 * clock.  It remembers the Lease record as it last saw it (holderIdentity,
 * renewTime, acquireTime, leaseTransitions, leaseDurationSeconds and
 * metadata.resourceVersion) and, on its own MONOTONIC clock, when it last
 * saw that record change.  It takes the Lease over only when the record
 * has not changed for the record's leaseDurationSeconds of its own
 * monotonic time (a record seen for the first time counts as just
 * renewed), or at once when it is free (no holder: released, or no Lease
 * at all).  Every write is a PUT with the resourceVersion read (a create
 * for a missing Lease): a 409 means another replica wrote first, so the
 * Lease is read again and the decision made again, never assumed.
 *
 * The leader stops leading when it could not renew for KUBE_LEASE_GIVEUP_MS
 * of its monotonic time, counted from when its last successful write was
 * SENT.  A standby counts from when it SAW that write, which is later, and
 * waits KUBE_LEASE_DURATION_S: the leader has stopped 5 s before anyone can
 * take over, whatever the wall clocks say.  The wall clock only fills
 * renewTime and acquireTime in, for people and kubectl.
 *
 *   kube_lease_state + kube_lease_observe()   the decision, pure: no I/O,
 *                                             no clock (times are passed in)
 *   struct kube_lease + kube_lease_tick()     the requests around it
 */
#ifndef PADDOCK_KUBE_LEASE_H
#define PADDOCK_KUBE_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "kube/client.h"

/* Same values as in kube/backend.h (which should take them from here). */
#define KUBE_LEASE_NAME "paddock-controller"
#define KUBE_LEASE_DURATION_S 15
#define KUBE_LEASE_RENEW_MS 2000
#define KUBE_LEASE_GIVEUP_MS 10000

/* ---- the decision (pure) ------------------------------------------------ */

/* One reading of the Lease.  Strings are borrowed, NULL when absent. */
struct kube_lease_record {
	const char *holder;           /* spec.holderIdentity; NULL or "": free */
	const char *renew_time;       /* spec.renewTime, as written (never interpreted) */
	const char *acquire_time;     /* spec.acquireTime, as written */
	int64_t transitions;          /* spec.leaseTransitions (0 when absent) */
	int64_t duration_s;           /* spec.leaseDurationSeconds; <= 0 when absent */
	const char *resource_version; /* metadata.resourceVersion */
};

/* What a replica remembers between readings.  Owned strings: clear it. */
struct kube_lease_state {
	bool seen;                /* a record was observed (the fields below are set) */
	char *holder, *renew_time, *acquire_time, *resource_version;
	int64_t transitions, duration_s;
	int64_t observed_ms;      /* mono: when the record was last seen changing */
	bool leader;              /* acting as the leader */
	int64_t renewed_ms;       /* mono: when the last successful write was sent */
	int64_t giveup_ms;        /* renew deadline; kube_lease_state_init: KUBE_LEASE_GIVEUP_MS */
	const char *why;          /* static: why leadership was last lost, or NULL */
};

enum kube_lease_action {
	KUBE_LEASE_WAIT,  /* another replica holds the Lease: do not write */
	KUBE_LEASE_TAKE,  /* free, missing or expired: write ourselves in as the new holder */
	KUBE_LEASE_RENEW, /* we hold it: write a new renewTime */
};

void kube_lease_state_init(struct kube_lease_state *s);
void kube_lease_state_clear(struct kube_lease_state *s); /* frees; the state can be reused after init */

/* Fill r from a Lease object (borrowed from `lease`; all zero for NULL). */
void kube_lease_record_from_json(json_object *lease, struct kube_lease_record *r);

/*
 * One reading of the Lease at `mono_ms` (monotonic ms, of this replica's
 * clock; the time the reading was received).  rec NULL: there is no Lease
 * (404).  `identity` is ours (non-empty).  Returns what to do:
 *   - TAKE when rec is NULL, when its holder is empty, or when the record
 *     (any field of struct kube_lease_record) has not changed for its
 *     duration_s (KUBE_LEASE_DURATION_S when <= 0) seconds since it was
 *     first seen changing (at exactly that many ms: TAKE; a millisecond
 *     before: WAIT);
 *   - RENEW when the record names us as the holder;
 *   - WAIT otherwise.
 * Updates the remembered record and when it last changed, and drops
 * leadership (s->why says why) when the record names another holder or
 * nobody, or when the renew deadline has passed (kube_lease_check).  Never
 * makes us the leader: only kube_lease_written() does.
 */
enum kube_lease_action kube_lease_observe(struct kube_lease_state *s,
					  const struct kube_lease_record *rec, int64_t mono_ms,
					  const char *identity);

/* A write (create or PUT) of `rec` succeeded: we lead, renewed as of
 * `sent_ms` (mono, when the request was SENT: the deadline counts from
 * there), and `rec` (what the server answered: its resourceVersion) is the
 * record as now observed. */
void kube_lease_written(struct kube_lease_state *s, const struct kube_lease_record *rec,
			int64_t sent_ms);

/* Drop leadership when the last successful write was sent giveup_ms or
 * more before `mono_ms`.  Returns whether we still lead.  No write, no
 * reading needed: call it whenever a reading or write failed. */
bool kube_lease_check(struct kube_lease_state *s, int64_t mono_ms);

/* ---- the requests --------------------------------------------------------- */

struct kube_lease;

/* The Lease `ns`/`name` through `kc` (borrowed: free the lease first) as
 * `identity` (copied, non-empty).  No request yet.  NULL on a bad argument. */
struct kube_lease *kube_lease_new(struct kube_client *kc, const char *ns, const char *name,
				  const char *identity);
void kube_lease_free(struct kube_lease *l); /* NULL-safe; does not release */

/*
 * GET the Lease, decide (kube_lease_observe), and when it says so write:
 * POST a new Lease when there is none, else PUT with the resourceVersion
 * read (holderIdentity, leaseDurationSeconds = KUBE_LEASE_DURATION_S,
 * renewTime = now, and on a take-over acquireTime = now and
 * leaseTransitions + 1).  A 409 on the write: read again and decide again
 * (at most 3 writes a tick).  `mono_ms` is now_mono_ms() when the tick
 * starts; time spent in requests is added to it (measured on the monotonic
 * clock).  Returns whether we lead after the tick.  Logs "became the
 * leader" (info) and "no longer the leader: not acting" (warn, with the
 * reason) on each change, and failed requests (warn).  Call it every
 * KUBE_LEASE_RENEW_MS.
 */
bool kube_lease_tick(struct kube_lease *l, int64_t mono_ms);

/* Whether we lead, as of the last tick (or kube_lease_leader_at). */
bool kube_lease_leader(const struct kube_lease *l);
/* Whether we lead at `mono_ms`: also false (and logged once) once the
 * renew deadline has passed since the last tick.  No request. */
bool kube_lease_leader_at(struct kube_lease *l, int64_t mono_ms);

/* On shutdown: when we lead or the Lease last named us, PUT holderIdentity
 * "" and leaseDurationSeconds 1 (with the resourceVersion read), so that a
 * standby takes over at once.  Afterwards we do not lead. */
void kube_lease_release(struct kube_lease *l);

#endif
