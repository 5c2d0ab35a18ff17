/* SPDX-License-Identifier: MIT */
/*
 * kube/lease.c - see kube/lease.h.  The decision (kube_lease_observe and
 * friends) reads no clock and makes no request; the wrapper below does
 * the GET/PUT/POST and measures how long they took on the monotonic clock.
 */
#include "config.h"
#include "kube/lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/jsonutil.h"
#include "base/util.h"

/* A leaseDurationSeconds beyond this (a century) is taken as this: the
 * arithmetic in ms stays far from overflowing. */
#define DURATION_MAX_S (100LL * 365 * 24 * 3600)

/* ---- the decision ---------------------------------------------------------- */

void kube_lease_state_init(struct kube_lease_state *s)
{
	memset(s, 0, sizeof(*s));
	s->giveup_ms = KUBE_LEASE_GIVEUP_MS;
}

static void forget(struct kube_lease_state *s)
{
	free(s->holder);
	free(s->renew_time);
	free(s->acquire_time);
	free(s->resource_version);
	s->holder = s->renew_time = s->acquire_time = s->resource_version = NULL;
	s->transitions = s->duration_s = 0;
	s->seen = false;
}

void kube_lease_state_clear(struct kube_lease_state *s)
{
	if (!s)
		return;
	forget(s);
	s->leader = false;
}

static bool same_record(const struct kube_lease_state *s, const struct kube_lease_record *r)
{
	return s->seen && str_eq(s->holder, r->holder) && str_eq(s->renew_time, r->renew_time) &&
	       str_eq(s->acquire_time, r->acquire_time) && s->transitions == r->transitions &&
	       s->duration_s == r->duration_s && str_eq(s->resource_version, r->resource_version);
}

static void remember(struct kube_lease_state *s, const struct kube_lease_record *r, int64_t mono_ms)
{
	forget(s);
	s->holder = xstrdup(r->holder);
	s->renew_time = xstrdup(r->renew_time);
	s->acquire_time = xstrdup(r->acquire_time);
	s->resource_version = xstrdup(r->resource_version);
	s->transitions = r->transitions;
	s->duration_s = r->duration_s;
	s->seen = true;
	s->observed_ms = mono_ms;
}

static void lose(struct kube_lease_state *s, const char *why)
{
	if (!s->leader)
		return;
	s->leader = false;
	s->why = why;
}

static int64_t json_int(json_object *o, const char *key)
{
	json_object *v = jget(o, key);
	return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
}

void kube_lease_record_from_json(json_object *lease, struct kube_lease_record *r)
{
	json_object *spec = jget(lease, "spec");
	r->holder = jstr(spec, "holderIdentity");
	r->renew_time = jstr(spec, "renewTime");
	r->acquire_time = jstr(spec, "acquireTime");
	r->transitions = json_int(spec, "leaseTransitions");
	r->duration_s = json_int(spec, "leaseDurationSeconds");
	r->resource_version = jstr(jget(lease, "metadata"), "resourceVersion");
}

bool kube_lease_check(struct kube_lease_state *s, int64_t mono_ms)
{
	if (s->leader && mono_ms - s->renewed_ms >= s->giveup_ms)
		lose(s, "the Lease could not be renewed in time");
	return s->leader;
}

enum kube_lease_action kube_lease_observe(struct kube_lease_state *s,
					  const struct kube_lease_record *rec, int64_t mono_ms,
					  const char *identity)
{
	(void)kube_lease_check(s, mono_ms);
	if (!rec) {
		forget(s);
		lose(s, "the Lease was deleted");
		return KUBE_LEASE_TAKE;
	}
	/* The only use of time: how long, on OUR monotonic clock, the record
	 * has stayed exactly as it is.  Its timestamps are never read. */
	if (!same_record(s, rec))
		remember(s, rec, mono_ms);
	bool free_ = !rec->holder || !*rec->holder;
	if (!free_ && identity && str_eq(rec->holder, identity))
		return KUBE_LEASE_RENEW;
	lose(s, free_ ? "the Lease was released" : "another replica holds the Lease");
	if (free_)
		return KUBE_LEASE_TAKE;
	int64_t dur_s = rec->duration_s > 0 ? rec->duration_s : KUBE_LEASE_DURATION_S;
	if (dur_s > DURATION_MAX_S)
		dur_s = DURATION_MAX_S;
	return mono_ms - s->observed_ms >= dur_s * 1000 ? KUBE_LEASE_TAKE : KUBE_LEASE_WAIT;
}

void kube_lease_written(struct kube_lease_state *s, const struct kube_lease_record *rec,
			int64_t sent_ms)
{
	remember(s, rec, sent_ms);
	s->leader = true;
	s->renewed_ms = sent_ms;
	s->why = NULL;
}

/* ---- the requests ------------------------------------------------------------ */

struct kube_lease {
	struct kube_client *kc;
	char *ns, *name, *identity;
	char *path;           /* .../leases/NAME */
	char *coll;           /* .../leases (to create it) */
	struct kube_lease_state st;
	bool logged;          /* leadership as last logged */
	int64_t t0_real;      /* now_mono_ms() when the current tick started */
	int64_t t0;           /* the tick's mono_ms */
};

struct kube_lease *kube_lease_new(struct kube_client *kc, const char *ns, const char *name,
				  const char *identity)
{
	if (!kc || !ns || !*ns || !name || !*name || !identity || !*identity)
		return NULL;
	struct kube_lease *l = xcalloc(1, sizeof(*l));
	l->kc = kc;
	l->ns = xstrdup(ns);
	l->name = xstrdup(name);
	l->identity = xstrdup(identity);
	l->path = kube_path(&KUBE_LEASES, ns, name, NULL, NULL);
	l->coll = kube_path(&KUBE_LEASES, ns, NULL, NULL, NULL);
	kube_lease_state_init(&l->st);
	return l;
}

void kube_lease_free(struct kube_lease *l)
{
	if (!l)
		return;
	kube_lease_state_clear(&l->st);
	free(l->ns);
	free(l->name);
	free(l->identity);
	free(l->path);
	free(l->coll);
	free(l);
}

/* The tick's clock: its mono_ms plus the time spent since it started. */
static int64_t tick_now(const struct kube_lease *l)
{
	return l->t0 + (now_mono_ms() - l->t0_real);
}

/* A metav1.MicroTime of the wall clock: for people and kubectl only. */
static void micro_time(char *buf, size_t n)
{
	int64_t ms = now_wall_ms();
	char base[32];
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	if (!gmtime_r(&secs, &tm))
		memset(&tm, 0, sizeof(tm));
	if (strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		base[0] = '\0';
	(void)snprintf(buf, n, "%s.%06dZ", base, (int)(ms % 1000) * 1000);
}

/* Log a change of leadership since the last one logged. */
static void note_change(struct kube_lease *l)
{
	if (l->st.leader == l->logged)
		return;
	l->logged = l->st.leader;
	if (l->st.leader)
		log_info("became the leader", "identity", l->identity, "lease", l->ns);
	else
		log_warn("no longer the leader: not acting", "identity", l->identity, "reason",
			 l->st.why ? l->st.why : "unknown");
}

/* Our spec on `lease` (a GET answer, or a new object): holder, duration,
 * renewTime; on a take-over also acquireTime and one more transition. */
static void fill_spec(struct kube_lease *l, json_object *lease, enum kube_lease_action a,
		      bool create)
{
	json_object *spec = jget(lease, "spec");
	if (!spec || !json_object_is_type(spec, json_type_object)) {
		spec = json_object_new_object();
		json_object_object_add(lease, "spec", spec);
	}
	char ts[48];
	micro_time(ts, sizeof(ts));
	int64_t transitions = json_int(spec, "leaseTransitions");
	jset_str(spec, "holderIdentity", l->identity);
	json_object_object_add(spec, "leaseDurationSeconds", json_object_new_int(KUBE_LEASE_DURATION_S));
	jset_str(spec, "renewTime", ts);
	if (a == KUBE_LEASE_TAKE || !jstr(spec, "acquireTime"))
		jset_str(spec, "acquireTime", ts);
	if (a == KUBE_LEASE_TAKE)
		json_object_object_add(spec, "leaseTransitions",
				       json_object_new_int64(create ? 0 : transitions + 1));
}

static json_object *new_lease(const struct kube_lease *l)
{
	json_object *o = json_object_new_object();
	jset_str(o, "apiVersion", "coordination.k8s.io/v1");
	jset_str(o, "kind", "Lease");
	json_object *md = json_object_new_object();
	jset_str(md, "name", l->name);
	jset_str(md, "namespace", l->ns);
	json_object_object_add(o, "metadata", md);
	return o;
}

/* One read, decision and (maybe) write.  Returns 1 to read again (the
 * write met a 409), else 0. */
static int attempt(struct kube_lease *l)
{
	json_object *lease = NULL, *answer = NULL;
	char err[512] = "";
	int again = 0;
	int st = kube_request(l->kc, "GET", l->path, NULL, NULL, &lease, err, sizeof(err));
	int64_t seen = tick_now(l);
	if (st != 200 && st != 404) {
		log_warn("cannot read the leader Lease", "namespace", l->ns, "name", l->name, "error",
			 err);
		goto out;
	}
	if (st == 200 && !lease) {
		log_warn("cannot read the leader Lease", "namespace", l->ns, "name", l->name, "error",
			 "unreadable answer");
		goto out;
	}
	struct kube_lease_record rec;
	if (st == 200)
		kube_lease_record_from_json(lease, &rec);
	enum kube_lease_action a =
		kube_lease_observe(&l->st, st == 200 ? &rec : NULL, seen, l->identity);
	if (a == KUBE_LEASE_WAIT)
		goto out;
	bool create = st == 404;
	if (create) {
		json_object_put(lease);
		lease = new_lease(l);
	}
	fill_spec(l, lease, a, create);
	int64_t sent = tick_now(l);
	int wst = kube_request(l->kc, create ? "POST" : "PUT", create ? l->coll : l->path, lease,
			       NULL, &answer, err, sizeof(err));
	if (wst == 200 || wst == 201) {
		struct kube_lease_record w;
		kube_lease_record_from_json(answer ? answer : lease, &w);
		kube_lease_written(&l->st, &w, sent);
	} else if (wst == 409) {
		/* Another replica wrote (or created it) first: read it again. */
		log_debug("the leader Lease changed under us: reading it again", "identity",
			  l->identity, "error", err);
		again = 1;
	} else {
		log_warn(create ? "cannot create the leader Lease"
			 : a == KUBE_LEASE_RENEW ? "cannot renew the leader Lease"
						 : "cannot take the leader Lease",
			 "namespace", l->ns, "name", l->name, "error", err);
	}
out:
	json_object_put(answer);
	json_object_put(lease);
	return again;
}

bool kube_lease_tick(struct kube_lease *l, int64_t mono_ms)
{
	l->t0 = mono_ms;
	l->t0_real = now_mono_ms();
	for (int i = 0; i < 3 && attempt(l); i++)
		;
	(void)kube_lease_check(&l->st, tick_now(l));
	note_change(l);
	return l->st.leader;
}

bool kube_lease_leader(const struct kube_lease *l)
{
	return l && l->st.leader;
}

bool kube_lease_leader_at(struct kube_lease *l, int64_t mono_ms)
{
	if (!l)
		return false;
	(void)kube_lease_check(&l->st, mono_ms);
	note_change(l);
	return l->st.leader;
}

void kube_lease_release(struct kube_lease *l)
{
	if (!l)
		return;
	bool ours = l->st.leader || (l->st.seen && str_eq(l->st.holder, l->identity));
	for (int i = 0; ours && i < 2; i++) {
		json_object *lease = NULL;
		char err[512] = "";
		int st = kube_request(l->kc, "GET", l->path, NULL, NULL, &lease, err, sizeof(err));
		if (st != 200 || !str_eq(jstr(jget(lease, "spec"), "holderIdentity"), l->identity)) {
			if (st != 200 && st != 404)
				log_warn("cannot release the leader Lease", "namespace", l->ns, "error",
					 err);
			json_object_put(lease);
			break;
		}
		json_object *spec = jget(lease, "spec");
		char ts[48];
		micro_time(ts, sizeof(ts));
		jset_str(spec, "holderIdentity", "");
		json_object_object_add(spec, "leaseDurationSeconds", json_object_new_int(1));
		jset_str(spec, "renewTime", ts);
		st = kube_request(l->kc, "PUT", l->path, lease, NULL, NULL, err, sizeof(err));
		json_object_put(lease);
		if (st == 200) {
			log_info("released the leader Lease", "identity", l->identity);
			break;
		}
		if (st != 409) {
			log_warn("cannot release the leader Lease", "namespace", l->ns, "error", err);
			break;
		}
	}
	/* Not a loss to report: we are stopping. */
	l->st.leader = false;
	l->logged = false;
	forget(&l->st);
}
