/* SPDX-License-Identifier: MIT */
/* test_lease.c - the leader election decision (kube/lease.h) under skewed
 * clocks: the other replica's renewTime is written from a wall clock an
 * hour ahead or behind ours, and only the monotonic time during which the
 * record has not changed decides.  The decision is pure (no server, no
 * clock); the wrapper (kube_lease_tick and friends) is run against a fake
 * API server in a thread that keeps one Lease with resourceVersions and
 * 409 Conflicts as kube-apiserver does, and can write it "between" our
 * GET and PUT. */
#include "config.h"
#include "kube/lease.h"
#include "base/util.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define ME "replica-b"
#define OTHER "replica-a"
#define HOUR_MS (3600LL * 1000)
/* Our wall clock, as the standby would read it (never given to the core). */
#define WALL0 1790000000000LL

/* The Lease as stored by the API server, written by a replica whose wall
 * clock is what it is. */
struct fake {
	char holder[64], renew[40], acquire[40], rv[24];
	int64_t transitions, duration_s;
	long rvn;
};

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->rvn = 100;
	(void)snprintf(f->rv, sizeof(f->rv), "%ld", f->rvn);
}

/* A write by `holder` at its wall time `wall_ms`: a take-over when the
 * holder changes, a renewal otherwise.  Every write gets a new
 * resourceVersion, as on a real server. */
static void fake_write(struct fake *f, const char *holder, int64_t wall_ms)
{
	if (strcmp(f->holder, holder) != 0) {
		if (f->holder[0] || f->transitions)
			f->transitions++;
		format_time_ms(wall_ms, f->acquire, sizeof(f->acquire));
	}
	(void)snprintf(f->holder, sizeof(f->holder), "%s", holder);
	format_time_ms(wall_ms, f->renew, sizeof(f->renew));
	f->duration_s = KUBE_LEASE_DURATION_S;
	(void)snprintf(f->rv, sizeof(f->rv), "%ld", ++f->rvn);
}

static struct kube_lease_record rec_of(const struct fake *f)
{
	struct kube_lease_record r = { f->holder, f->renew[0] ? f->renew : NULL,
				       f->acquire[0] ? f->acquire : NULL, f->transitions,
				       f->duration_s, f->rv };
	return r;
}

static enum kube_lease_action observe(struct kube_lease_state *s, const struct fake *f, int64_t mono)
{
	struct kube_lease_record r = rec_of(f);
	return kube_lease_observe(s, &r, mono, ME);
}

static const int64_t skews[] = { HOUR_MS, -HOUR_MS, 0, 20 * 1000, -20 * 1000 };

/* ---- (1) a healthy leader is never taken over, whatever its clock -------- */

START_TEST(skewed_leader_that_renews_is_not_taken_over)
{
	for (size_t k = 0; k < ARRAY_SIZE(skews); k++) {
		struct kube_lease_state s;
		kube_lease_state_init(&s);
		struct fake f;
		fake_init(&f);
		int64_t skew = skews[k];
		/* Standby mono starts at 5,000 (an arbitrary boot time); the leader
		 * renews every 2 s of the standby's time, for 10 minutes; the
		 * standby reads every 500 ms. */
		fake_write(&f, OTHER, WALL0 + skew);
		for (int64_t t = 0; t <= 10 * 60 * 1000; t += 500) {
			if (t % 2000 == 0)
				fake_write(&f, OTHER, WALL0 + skew + t);
			ck_assert_msg(observe(&s, &f, 5000 + t) == KUBE_LEASE_WAIT,
				      "skew %lld ms: took over at t=%lld", (long long)skew, (long long)t);
			ck_assert(!s.leader);
		}
		kube_lease_state_clear(&s);
	}
}
END_TEST

/* A leader whose clock is coarse or stuck (same renewTime each time): the
 * resourceVersion still changes, and that is a change. */
START_TEST(resource_version_alone_is_a_change)
{
	struct kube_lease_state s;
	kube_lease_state_init(&s);
	struct fake f;
	fake_init(&f);
	fake_write(&f, OTHER, WALL0 - HOUR_MS);
	for (int64_t t = 0; t <= 5 * 60 * 1000; t += 2000) {
		fake_write(&f, OTHER, WALL0 - HOUR_MS); /* same renewTime string */
		ck_assert(observe(&s, &f, t) == KUBE_LEASE_WAIT);
	}
	/* And a changed renewTime with the same resourceVersion (a server that
	 * does not bump it) too. */
	f.renew[0] = 'X';
	ck_assert(observe(&s, &f, 5 * 60 * 1000 + 14999) == KUBE_LEASE_WAIT);
	ck_assert_int_eq(s.observed_ms, 5 * 60 * 1000 + 14999);
	kube_lease_state_clear(&s);
}
END_TEST

/* ---- (2) a leader that stops renewing: exactly leaseDuration later ------- */

START_TEST(takeover_after_duration_of_own_monotonic_time)
{
	for (size_t k = 0; k < ARRAY_SIZE(skews); k++) {
		struct kube_lease_state s;
		kube_lease_state_init(&s);
		struct fake f;
		fake_init(&f);
		int64_t skew = skews[k], t;
		for (t = 0; t <= 60 * 1000; t += 1000) {
			if (t % 2000 == 0)
				fake_write(&f, OTHER, WALL0 + skew + t);
			ck_assert(observe(&s, &f, 777 + t) == KUBE_LEASE_WAIT);
		}
		/* Last write at t = 60,000, seen at mono 777 + 60,000.  The leader
		 * dies; the record's renewTime (an hour ahead, or behind) is never
		 * looked at. */
		int64_t seen = 777 + 60 * 1000;
		for (int64_t m = seen + 1; m < seen + KUBE_LEASE_DURATION_S * 1000; m += 997)
			ck_assert(observe(&s, &f, m) == KUBE_LEASE_WAIT);
		ck_assert_msg(observe(&s, &f, seen + KUBE_LEASE_DURATION_S * 1000 - 1) ==
				      KUBE_LEASE_WAIT,
			      "skew %lld: took over a millisecond early", (long long)skew);
		ck_assert_msg(observe(&s, &f, seen + KUBE_LEASE_DURATION_S * 1000) == KUBE_LEASE_TAKE,
			      "skew %lld: not taken over after the duration", (long long)skew);
		ck_assert(!s.leader); /* deciding to take is not leading */
		/* Our write succeeds: now we lead. */
		fake_write(&f, ME, WALL0 + 61 * 1000);
		struct kube_lease_record w = rec_of(&f);
		kube_lease_written(&s, &w, seen + 15000 + 3);
		ck_assert(s.leader);
		ck_assert_int_eq(s.renewed_ms, seen + 15000 + 3);
		ck_assert(observe(&s, &f, seen + 17000) == KUBE_LEASE_RENEW);
		kube_lease_state_clear(&s);
	}
}
END_TEST

/* The duration is the record's leaseDurationSeconds (15 when absent). */
START_TEST(duration_from_the_record)
{
	struct kube_lease_state s;
	kube_lease_state_init(&s);
	struct fake f;
	fake_init(&f);
	fake_write(&f, OTHER, WALL0 + HOUR_MS);
	f.duration_s = 40;
	ck_assert(observe(&s, &f, 1000) == KUBE_LEASE_WAIT);
	ck_assert(observe(&s, &f, 1000 + 39999) == KUBE_LEASE_WAIT);
	ck_assert(observe(&s, &f, 1000 + 40000) == KUBE_LEASE_TAKE);
	kube_lease_state_clear(&s);

	kube_lease_state_init(&s);
	f.duration_s = 0;
	ck_assert(observe(&s, &f, 1000) == KUBE_LEASE_WAIT);
	ck_assert(observe(&s, &f, 1000 + KUBE_LEASE_DURATION_S * 1000 - 1) == KUBE_LEASE_WAIT);
	ck_assert(observe(&s, &f, 1000 + KUBE_LEASE_DURATION_S * 1000) == KUBE_LEASE_TAKE);
	kube_lease_state_clear(&s);
}
END_TEST

/* ---- (3) a free Lease is taken at once --------------------------------------- */

START_TEST(free_lease_taken_at_once)
{
	struct kube_lease_state s;
	kube_lease_state_init(&s);
	/* No Lease at all (404). */
	ck_assert(kube_lease_observe(&s, NULL, 0, ME) == KUBE_LEASE_TAKE);
	/* Empty holder, first sight, renewed "just now" by the wall clock. */
	struct fake f;
	fake_init(&f);
	fake_write(&f, "", WALL0);
	ck_assert(observe(&s, &f, 1) == KUBE_LEASE_TAKE);
	/* No holder field at all. */
	struct kube_lease_record r = rec_of(&f);
	r.holder = NULL;
	ck_assert(kube_lease_observe(&s, &r, 2, ME) == KUBE_LEASE_TAKE);
	kube_lease_state_clear(&s);

	/* A standby that was watching a healthy leader: the leader releases
	 * (holderIdentity "", leaseDurationSeconds 1): take at once. */
	kube_lease_state_init(&s);
	fake_init(&f);
	for (int64_t t = 0; t < 20000; t += 2000) {
		fake_write(&f, OTHER, WALL0 + HOUR_MS + t);
		ck_assert(observe(&s, &f, t) == KUBE_LEASE_WAIT);
	}
	fake_write(&f, "", WALL0 + HOUR_MS + 20000);
	f.duration_s = 1;
	ck_assert(observe(&s, &f, 20001) == KUBE_LEASE_TAKE);
	kube_lease_state_clear(&s);
}
END_TEST

/* ---- (4) the leader gives up when it cannot renew ------------------------- */

START_TEST(leader_gives_up_after_renew_deadline)
{
	struct kube_lease_state s;
	kube_lease_state_init(&s);
	struct fake f;
	fake_init(&f);
	ck_assert(kube_lease_observe(&s, NULL, 1000, ME) == KUBE_LEASE_TAKE);
	fake_write(&f, ME, WALL0 - HOUR_MS);
	struct kube_lease_record w = rec_of(&f);
	kube_lease_written(&s, &w, 1000);
	ck_assert(s.leader);
	/* Renewals every 2 s succeed for 10 minutes: leads throughout. */
	int64_t t;
	for (t = 3000; t <= 601000; t += 2000) {
		ck_assert(observe(&s, &f, t) == KUBE_LEASE_RENEW);
		ck_assert(s.leader);
		fake_write(&f, ME, WALL0 - HOUR_MS + t);
		w = rec_of(&f);
		kube_lease_written(&s, &w, t);
	}
	int64_t last = t - 2000;
	/* Then every write fails (the reads still work, the record names us). */
	for (int64_t m = last + 2000; m < last + KUBE_LEASE_GIVEUP_MS; m += 2000) {
		ck_assert(observe(&s, &f, m) == KUBE_LEASE_RENEW);
		ck_assert(s.leader);
	}
	ck_assert(kube_lease_check(&s, last + KUBE_LEASE_GIVEUP_MS - 1));
	ck_assert(!kube_lease_check(&s, last + KUBE_LEASE_GIVEUP_MS));
	ck_assert_ptr_nonnull(s.why);
	ck_assert(strstr(s.why, "renewed") != NULL);
	/* Reads fail too: the same through observe. */
	kube_lease_written(&s, &w, last);
	ck_assert(observe(&s, &f, last + KUBE_LEASE_GIVEUP_MS) == KUBE_LEASE_RENEW);
	ck_assert(!s.leader);
	/* A later successful renewal (nobody else took it) leads again. */
	fake_write(&f, ME, WALL0);
	w = rec_of(&f);
	kube_lease_written(&s, &w, last + 12000);
	ck_assert(s.leader);
	ck_assert_ptr_null(s.why);
	kube_lease_state_clear(&s);
}
END_TEST

START_TEST(leader_sees_another_holder)
{
	struct kube_lease_state s;
	kube_lease_state_init(&s);
	struct fake f;
	fake_init(&f);
	fake_write(&f, ME, WALL0);
	struct kube_lease_record w = rec_of(&f);
	kube_lease_written(&s, &w, 0);
	ck_assert(s.leader);
	fake_write(&f, OTHER, WALL0 - HOUR_MS);
	ck_assert(observe(&s, &f, 2000) == KUBE_LEASE_WAIT);
	ck_assert(!s.leader);
	ck_assert_ptr_nonnull(s.why);
	/* And it waits a full duration before taking it back. */
	ck_assert(observe(&s, &f, 2000 + 14999) == KUBE_LEASE_WAIT);
	ck_assert(observe(&s, &f, 2000 + 15000) == KUBE_LEASE_TAKE);
	kube_lease_state_clear(&s);
}
END_TEST

/* ---- (5) a record seen for the first time counts as just renewed ------ */

START_TEST(first_sight_waits_full_duration)
{
	for (size_t k = 0; k < ARRAY_SIZE(skews); k++) {
		struct kube_lease_state s;
		kube_lease_state_init(&s);
		struct fake f;
		fake_init(&f);
		/* renewTime an hour old (or ahead) by our wall clock: the old code
		 * took an hour-old one over at once. */
		fake_write(&f, OTHER, WALL0 + skews[k]);
		int64_t first = 123456;
		ck_assert(observe(&s, &f, first) == KUBE_LEASE_WAIT);
		ck_assert_int_eq(s.observed_ms, first);
		ck_assert(observe(&s, &f, first + 14999) == KUBE_LEASE_WAIT);
		ck_assert(observe(&s, &f, first + 15000) == KUBE_LEASE_TAKE);
		kube_lease_state_clear(&s);
	}
}
END_TEST

/* A 409 on our take-over: the re-read shows the winner's new record, a
 * change, so the full wait starts again. */
START_TEST(lost_race_waits_again)
{
	struct kube_lease_state s;
	kube_lease_state_init(&s);
	struct fake f;
	fake_init(&f);
	fake_write(&f, OTHER, WALL0);
	ck_assert(observe(&s, &f, 0) == KUBE_LEASE_WAIT);
	ck_assert(observe(&s, &f, 15000) == KUBE_LEASE_TAKE);
	fake_write(&f, "replica-c", WALL0 - HOUR_MS); /* replica-c won */
	ck_assert(observe(&s, &f, 15010) == KUBE_LEASE_WAIT);
	ck_assert(observe(&s, &f, 15010 + 14999) == KUBE_LEASE_WAIT);
	ck_assert(observe(&s, &f, 15010 + 15000) == KUBE_LEASE_TAKE);
	kube_lease_state_clear(&s);
}
END_TEST

/* Two replicas, each with its own monotonic clock (different boot times)
 * and wall clock (an hour apart), requests that take a while: whenever the
 * leader's writes start failing, it has stopped acting at least
 * DURATION - GIVEUP before the standby takes over.  `T` is true time. */
START_TEST(never_two_leaders)
{
	static const int64_t latencies[] = { 0, 5, 300, 1900 };
	static const int64_t offsets[] = { 0, 1, 700, 1999 };
	for (size_t li = 0; li < ARRAY_SIZE(latencies); li++) {
		for (size_t oi = 0; oi < ARRAY_SIZE(offsets); oi++) {
			for (int64_t fail_at = 10000; fail_at < 16000; fail_at += 1300) {
				int64_t lat = latencies[li], off = offsets[oi];
				const int64_t lmono = 987654321, smono = 42; /* boot offsets */
				struct kube_lease_state ls, ss;
				kube_lease_state_init(&ls);
				kube_lease_state_init(&ss);
				struct fake f;
				fake_init(&f);
				int64_t stop_at = -1, take_at = -1;
				for (int64_t T = 0; T < 120000; T++) {
					if (T % 2000 == 0 && stop_at < 0) { /* the leader's tick */
						struct kube_lease_record r = rec_of(&f);
						enum kube_lease_action a = kube_lease_observe(
							&ls, f.holder[0] ? &r : NULL, lmono + T, OTHER);
						if (a != KUBE_LEASE_WAIT && T < fail_at) {
							/* sent at T, committed at T + lat */
							fake_write(&f, OTHER, WALL0 + HOUR_MS + T + lat);
							struct kube_lease_record w = rec_of(&f);
							kube_lease_written(&ls, &w, lmono + T);
						}
					}
					if (stop_at < 0 && ls.renewed_ms &&
					    !kube_lease_check(&ls, lmono + T))
						stop_at = T;
					if (T % 2000 == off && T > 0) { /* the standby's read */
						struct kube_lease_record r = rec_of(&f);
						if (kube_lease_observe(&ss, &r, smono + T + lat, ME) ==
						    KUBE_LEASE_TAKE) {
							take_at = T + lat;
							break;
						}
					}
				}
				ck_assert_msg(stop_at >= 0 && take_at >= 0, "lat %lld off %lld fail %lld",
					      (long long)lat, (long long)off, (long long)fail_at);
				ck_assert_msg(take_at - stop_at >=
						      KUBE_LEASE_DURATION_S * 1000 - KUBE_LEASE_GIVEUP_MS,
					      "lat %lld off %lld fail %lld: stopped %lld, taken %lld",
					      (long long)lat, (long long)off, (long long)fail_at,
					      (long long)stop_at, (long long)take_at);
				kube_lease_state_clear(&ls);
				kube_lease_state_clear(&ss);
			}
		}
	}
}
END_TEST

START_TEST(record_from_json)
{
	json_object *o = json_tokener_parse(
		"{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
		"\"metadata\":{\"name\":\"paddock-controller\",\"resourceVersion\":\"4711\"},"
		"\"spec\":{\"holderIdentity\":\"replica-a\",\"leaseDurationSeconds\":15,"
		"\"renewTime\":\"2026-01-01T00:00:00.000000Z\","
		"\"acquireTime\":\"2025-12-31T23:00:00.000000Z\",\"leaseTransitions\":3}}");
	ck_assert_ptr_nonnull(o);
	struct kube_lease_record r;
	kube_lease_record_from_json(o, &r);
	ck_assert_str_eq(r.holder, "replica-a");
	ck_assert_str_eq(r.renew_time, "2026-01-01T00:00:00.000000Z");
	ck_assert_str_eq(r.acquire_time, "2025-12-31T23:00:00.000000Z");
	ck_assert_str_eq(r.resource_version, "4711");
	ck_assert_int_eq(r.transitions, 3);
	ck_assert_int_eq(r.duration_s, 15);
	json_object_put(o);
	o = json_tokener_parse("{\"metadata\":{},\"spec\":{\"leaseDurationSeconds\":\"15\"}}");
	kube_lease_record_from_json(o, &r);
	ck_assert_ptr_null(r.holder);
	ck_assert_ptr_null(r.resource_version);
	ck_assert_int_eq(r.duration_s, 0);
	json_object_put(o);
	kube_lease_record_from_json(NULL, &r);
	ck_assert_ptr_null(r.holder);
	ck_assert_int_eq(r.transitions, 0);
}
END_TEST

START_TEST(wrapper_arguments)
{
	ck_assert_ptr_null(kube_lease_new(NULL, "ns", "n", "id"));
	ck_assert(!kube_lease_leader(NULL));
	kube_lease_free(NULL);
	kube_lease_release(NULL);
}
END_TEST

/* ---- the wrapper, against a fake API server ---------------------------------- */

#define LEASE_PATH "/apis/coordination.k8s.io/v1/namespaces/ns/leases/lease"
#define LEASES_PATH "/apis/coordination.k8s.io/v1/namespaces/ns/leases"

/* One Lease as kube-apiserver keeps it: every write gets a new
 * resourceVersion, a PUT with another one than stored is a 409. */
struct fake_api {
	int fd, port;
	pthread_t th;
	pthread_mutex_t mu;
	volatile int stop;
	json_object *lease;  /* stored, or NULL */
	long rv;
	int down;            /* answer 503 to everything */
	/* Run (under the lock) when the next write arrives, before it is
	 * judged: another replica writing between our GET and PUT. */
	void (*interfere)(struct fake_api *);
	char log[64][24];    /* "GET 200", "PUT 409", ... */
	int nlog;
	char last_put_rv[32]; /* metadata.resourceVersion of the last PUT */
};

static void api_bump(struct fake_api *a, json_object *o)
{
	json_object *md = json_object_object_get(o, "metadata");
	char rv[24];
	(void)snprintf(rv, sizeof(rv), "%ld", ++a->rv);
	json_object_object_add(md, "resourceVersion", json_object_new_string(rv));
}

/* Another replica's write: holder, renewTime from its wall clock. */
static void api_write_as(struct fake_api *a, const char *holder, int64_t wall_ms)
{
	if (!a->lease) {
		a->lease = json_tokener_parse("{\"apiVersion\":\"coordination.k8s.io/v1\","
					      "\"kind\":\"Lease\",\"metadata\":{\"name\":\"lease\","
					      "\"namespace\":\"ns\"},\"spec\":{}}");
	}
	json_object *spec = json_object_object_get(a->lease, "spec");
	char ts[40];
	format_time_ms(wall_ms, ts, sizeof(ts));
	json_object_object_add(spec, "holderIdentity", json_object_new_string(holder));
	json_object_object_add(spec, "renewTime", json_object_new_string(ts));
	json_object_object_add(spec, "leaseDurationSeconds", json_object_new_int(15));
	api_bump(a, a->lease);
}

static void steal(struct fake_api *a)
{
	api_write_as(a, "replica-c", WALL0 - HOUR_MS);
}

static void touch_label(struct fake_api *a)
{
	json_object *md = json_object_object_get(a->lease, "metadata");
	json_object_object_add(md, "labels", json_tokener_parse("{\"touched\":\"yes\"}"));
	api_bump(a, a->lease);
}

static void api_answer(int c, int code, json_object *body)
{
	const char *b = body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : "";
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 code, strlen(b));
	ck_assert(write(c, head, (size_t)n) == n);
	ck_assert(write(c, b, strlen(b)) == (ssize_t)strlen(b));
}

static json_object *api_status(int code, const char *reason)
{
	json_object *s = json_object_new_object();
	json_object_object_add(s, "kind", json_object_new_string("Status"));
	json_object_object_add(s, "reason", json_object_new_string(reason));
	json_object_object_add(s, "message", json_object_new_string(reason));
	json_object_object_add(s, "code", json_object_new_int(code));
	return s;
}

/* One request on connection c (closed after the answer). */
static void api_serve(struct fake_api *a, int c)
{
	char buf[65536];
	size_t len = 0;
	char *end = NULL;
	while (!end && len < sizeof(buf) - 1) {
		ssize_t r = read(c, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			return;
		len += (size_t)r;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	if (!end)
		return;
	size_t hlen = (size_t)(end + 4 - buf), clen = 0;
	for (char *h = strstr(buf, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n")) {
		if (strncasecmp(h + 2, "Content-Length:", 15) == 0)
			clen = strtoul(h + 17, NULL, 10);
		if (strncasecmp(h + 2, "Expect: 100-continue", 20) == 0)
			ck_assert(write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 25);
	}
	ck_assert_uint_lt(hlen + clen, sizeof(buf));
	while (len < hlen + clen) {
		ssize_t r = read(c, buf + len, hlen + clen - len);
		if (r <= 0)
			return;
		len += (size_t)r;
	}
	buf[len] = '\0';
	char method[8] = "", path[256] = "";
	ck_assert_int_eq(sscanf(buf, "%7s %255s", method, path), 2);
	json_object *body = clen ? json_tokener_parse(buf + hlen) : NULL;

	pthread_mutex_lock(&a->mu);
	int code;
	json_object *answer = NULL;
	if (a->down) {
		code = 503;
		answer = api_status(code, "ServiceUnavailable");
	} else if (strcmp(method, "GET") == 0 && strcmp(path, LEASE_PATH) == 0) {
		code = a->lease ? 200 : 404;
		answer = a->lease ? json_object_get(a->lease) : api_status(code, "NotFound");
	} else if ((strcmp(method, "PUT") == 0 && strcmp(path, LEASE_PATH) == 0) ||
		   (strcmp(method, "POST") == 0 && strcmp(path, LEASES_PATH) == 0)) {
		ck_assert_ptr_nonnull(body);
		if (a->interfere) {
			a->interfere(a);
			a->interfere = NULL;
		}
		const char *rv = NULL;
		json_object *md = json_object_object_get(body, "metadata"), *v;
		if (json_object_object_get_ex(md, "resourceVersion", &v))
			rv = json_object_get_string(v);
		if (method[1] == 'U')
			(void)snprintf(a->last_put_rv, sizeof(a->last_put_rv), "%s", rv ? rv : "");
		const char *cur = NULL;
		if (a->lease &&
		    json_object_object_get_ex(json_object_object_get(a->lease, "metadata"),
					      "resourceVersion", &v))
			cur = json_object_get_string(v);
		if (method[1] == 'O' ? a->lease != NULL : !a->lease || !rv || !cur || strcmp(rv, cur)) {
			code = 409;
			answer = api_status(code, method[1] == 'O' ? "AlreadyExists" : "Conflict");
		} else {
			code = method[1] == 'O' ? 201 : 200;
			json_object_put(a->lease);
			a->lease = json_object_get(body);
			api_bump(a, a->lease);
			answer = json_object_get(a->lease);
		}
	} else {
		code = 400;
		answer = api_status(code, "BadRequest");
	}
	if (a->nlog < (int)ARRAY_SIZE(a->log))
		(void)snprintf(a->log[a->nlog++], sizeof(a->log[0]), "%s %d", method, code);
	api_answer(c, code, answer);
	pthread_mutex_unlock(&a->mu);
	json_object_put(answer);
	json_object_put(body);
}

static void *api_main(void *arg)
{
	struct fake_api *a = arg;
	while (!a->stop) {
		struct pollfd p = { a->fd, POLLIN, 0 };
		if (poll(&p, 1, 50) <= 0)
			continue;
		int c = accept(a->fd, NULL, NULL);
		if (c < 0)
			continue;
		api_serve(a, c);
		close(c);
	}
	return NULL;
}

static void api_start(struct fake_api *a)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->mu, NULL);
	a->rv = 1000;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t n = sizeof(sa);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(a->fd, 0);
	ck_assert_int_eq(bind(a->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(a->fd, 16), 0);
	ck_assert_int_eq(getsockname(a->fd, (struct sockaddr *)&sa, &n), 0);
	a->port = ntohs(sa.sin_port);
	ck_assert_int_eq(pthread_create(&a->th, NULL, api_main, a), 0);
}

static void api_stop(struct fake_api *a)
{
	a->stop = 1;
	ck_assert_int_eq(pthread_join(a->th, NULL), 0);
	close(a->fd);
	json_object_put(a->lease);
	pthread_mutex_destroy(&a->mu);
}

static struct kube_client *api_client(const struct fake_api *a)
{
	struct kube_config *cfg = xcalloc(1, sizeof(*cfg));
	cfg->server = xasprintf("http://127.0.0.1:%d", a->port);
	cfg->token = xstrdup("test-token");
	struct kube_client *c = NULL;
	char e[512];
	ck_assert_int_eq(kube_client_new(cfg, NULL, &c, e, sizeof(e)), 0);
	kube_config_free(cfg);
	return c;
}

/* The requests since the last call, as "GET 200,PUT 409,...". */
static char *api_log(struct fake_api *a)
{
	static char out[1024];
	pthread_mutex_lock(&a->mu);
	out[0] = '\0';
	for (int i = 0; i < a->nlog; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, a->log[i]);
	}
	a->nlog = 0;
	pthread_mutex_unlock(&a->mu);
	return out;
}

static const char *api_spec_str(struct fake_api *a, const char *key, char *buf, size_t n)
{
	pthread_mutex_lock(&a->mu);
	json_object *v;
	buf[0] = '\0';
	if (json_object_object_get_ex(json_object_object_get(a->lease, "spec"), key, &v))
		(void)snprintf(buf, n, "%s", json_object_get_string(v));
	pthread_mutex_unlock(&a->mu);
	return buf;
}

static const char *api_rv(struct fake_api *a, char *buf, size_t n)
{
	pthread_mutex_lock(&a->mu);
	json_object *v;
	buf[0] = '\0';
	if (json_object_object_get_ex(json_object_object_get(a->lease, "metadata"),
				      "resourceVersion", &v))
		(void)snprintf(buf, n, "%s", json_object_get_string(v));
	pthread_mutex_unlock(&a->mu);
	return buf;
}

#define T0 1000000LL /* our monotonic clock at the first tick */

START_TEST(wrapper_create_renew_conflict_release)
{
	struct fake_api a;
	api_start(&a);
	struct kube_client *kc = api_client(&a);
	struct kube_lease *l = kube_lease_new(kc, "ns", "lease", ME);
	ck_assert_ptr_nonnull(l);
	char b[64], rv[32];

	/* No Lease: created (POST), we lead. */
	ck_assert(kube_lease_tick(l, T0));
	ck_assert(kube_lease_leader(l));
	ck_assert_str_eq(api_log(&a), "GET 404,POST 201");
	ck_assert_str_eq(api_spec_str(&a, "holderIdentity", b, sizeof(b)), ME);
	ck_assert_str_eq(api_spec_str(&a, "leaseDurationSeconds", b, sizeof(b)), "15");
	ck_assert_str_eq(api_spec_str(&a, "leaseTransitions", b, sizeof(b)), "0");
	/* A MicroTime: 6 fractional digits. */
	ck_assert_int_eq(strlen(api_spec_str(&a, "renewTime", b, sizeof(b))), 27);
	ck_assert(b[19] == '.' && b[26] == 'Z');
	int64_t wall = 0;
	ck_assert_int_eq(parse_time(b, &wall), 0);
	ck_assert_int_lt(llabs(wall - now_wall_ms()), 60000); /* written from the wall clock */

	/* Renewal: a PUT with the resourceVersion read. */
	(void)api_rv(&a, rv, sizeof(rv));
	ck_assert(kube_lease_tick(l, T0 + 2000));
	ck_assert_str_eq(api_log(&a), "GET 200,PUT 200");
	ck_assert_str_eq(a.last_put_rv, rv);
	ck_assert_str_eq(api_spec_str(&a, "leaseTransitions", b, sizeof(b)), "0");

	/* Someone else writes between our GET and PUT (a label, the holder
	 * stays us): 409, read again, renew with the new resourceVersion. */
	a.interfere = touch_label;
	ck_assert(kube_lease_tick(l, T0 + 4000));
	ck_assert_str_eq(api_log(&a), "GET 200,PUT 409,GET 200,PUT 200");
	ck_assert(kube_lease_leader(l));

	/* Another replica takes it between our GET and PUT: 409, read again,
	 * the record names replica-c: not assumed ours, we stop leading. */
	a.interfere = steal;
	ck_assert(!kube_lease_tick(l, T0 + 6000));
	ck_assert_str_eq(api_log(&a), "GET 200,PUT 409,GET 200");
	ck_assert_str_eq(api_spec_str(&a, "holderIdentity", b, sizeof(b)), "replica-c");
	ck_assert(!kube_lease_leader(l));
	/* ... and waits a full duration of its own time before taking it back. */
	ck_assert(!kube_lease_tick(l, T0 + 6000 + 14000));
	ck_assert_str_eq(api_log(&a), "GET 200");
	ck_assert(kube_lease_tick(l, T0 + 6000 + 15500));
	ck_assert_str_eq(api_log(&a), "GET 200,PUT 200");
	ck_assert_str_eq(api_spec_str(&a, "holderIdentity", b, sizeof(b)), ME);
	ck_assert_str_eq(api_spec_str(&a, "leaseTransitions", b, sizeof(b)), "1");

	/* Release: holder "", 1 s, with the resourceVersion read. */
	(void)api_rv(&a, rv, sizeof(rv));
	kube_lease_release(l);
	ck_assert(!kube_lease_leader(l));
	ck_assert_str_eq(api_log(&a), "GET 200,PUT 200");
	ck_assert_str_eq(a.last_put_rv, rv);
	ck_assert_str_eq(api_spec_str(&a, "holderIdentity", b, sizeof(b)), "");
	ck_assert_str_eq(api_spec_str(&a, "leaseDurationSeconds", b, sizeof(b)), "1");
	kube_lease_free(l);

	/* Another replica (fresh, first sight) takes the free Lease at once. */
	struct kube_lease *l2 = kube_lease_new(kc, "ns", "lease", OTHER);
	ck_assert(kube_lease_tick(l2, 5));
	ck_assert_str_eq(api_log(&a), "GET 200,PUT 200");
	ck_assert_str_eq(api_spec_str(&a, "holderIdentity", b, sizeof(b)), OTHER);
	ck_assert_str_eq(api_spec_str(&a, "leaseTransitions", b, sizeof(b)), "2");
	ck_assert_str_eq(api_spec_str(&a, "leaseDurationSeconds", b, sizeof(b)), "15");
	kube_lease_free(l2);
	kube_client_free(kc);
	api_stop(&a);
}
END_TEST

/* A leader an hour behind (or ahead) renewing every 2 s through the fake
 * server: never taken over; taken over 15 s after it stops, by our
 * monotonic clock (the tick's mono_ms). */
START_TEST(wrapper_skewed_leader)
{
	for (size_t k = 0; k < 2; k++) {
		struct fake_api a;
		api_start(&a);
		struct kube_client *kc = api_client(&a);
		struct kube_lease *l = kube_lease_new(kc, "ns", "lease", ME);
		int64_t skew = k ? HOUR_MS : -HOUR_MS, t;
		for (t = 0; t <= 60000; t += 2000) {
			pthread_mutex_lock(&a.mu);
			api_write_as(&a, OTHER, WALL0 + skew + t);
			pthread_mutex_unlock(&a.mu);
			ck_assert(!kube_lease_tick(l, T0 + t + 1000));
		}
		ck_assert_str_eq(api_log(&a), "GET 200,GET 200,GET 200,GET 200,GET 200,GET 200,"
					      "GET 200,GET 200,GET 200,GET 200,GET 200,GET 200,"
					      "GET 200,GET 200,GET 200,GET 200,GET 200,GET 200,"
					      "GET 200,GET 200,GET 200,GET 200,GET 200,GET 200,"
					      "GET 200,GET 200,GET 200,GET 200,GET 200,GET 200,"
					      "GET 200");
		/* Last change seen at T0 + 61000 (+ the GET's few ms). */
		ck_assert(!kube_lease_tick(l, T0 + 61000 + 14900));
		ck_assert(kube_lease_tick(l, T0 + 61000 + 15000 + 500));
		char b[64];
		ck_assert_str_eq(api_spec_str(&a, "holderIdentity", b, sizeof(b)), ME);
		kube_lease_free(l);
		kube_client_free(kc);
		api_stop(&a);
	}
}
END_TEST

/* The API server goes away: the leader stops leading KUBE_LEASE_GIVEUP_MS
 * after its last successful renewal was sent, between ticks too. */
START_TEST(wrapper_gives_up_when_api_down)
{
	struct fake_api a;
	api_start(&a);
	struct kube_client *kc = api_client(&a);
	struct kube_lease *l = kube_lease_new(kc, "ns", "lease", ME);
	ck_assert(kube_lease_tick(l, T0));
	ck_assert(kube_lease_tick(l, T0 + 2000));
	a.down = 1;
	for (int64_t t = T0 + 4000; t <= T0 + 10000; t += 2000)
		ck_assert(kube_lease_tick(l, t));
	ck_assert(kube_lease_leader_at(l, T0 + 2000 + KUBE_LEASE_GIVEUP_MS - 200));
	ck_assert(!kube_lease_leader_at(l, T0 + 2000 + KUBE_LEASE_GIVEUP_MS + 200));
	ck_assert(!kube_lease_leader(l));
	ck_assert(!kube_lease_tick(l, T0 + 12000 + 300));
	/* Back: the record still names us (nobody took it): leads again. */
	a.down = 0;
	(void)api_log(&a);
	ck_assert(kube_lease_tick(l, T0 + 14000));
	ck_assert_str_eq(api_log(&a), "GET 200,PUT 200");
	/* Release when the API server is down: no crash, not leading. */
	a.down = 1;
	kube_lease_release(l);
	ck_assert(!kube_lease_leader(l));
	kube_lease_free(l);
	kube_client_free(kc);
	api_stop(&a);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("lease");
	TCase *t = tcase_create("skew");
	tcase_add_test(t, skewed_leader_that_renews_is_not_taken_over);
	tcase_add_test(t, resource_version_alone_is_a_change);
	tcase_add_test(t, takeover_after_duration_of_own_monotonic_time);
	tcase_add_test(t, duration_from_the_record);
	tcase_add_test(t, first_sight_waits_full_duration);
	suite_add_tcase(s, t);
	t = tcase_create("free");
	tcase_add_test(t, free_lease_taken_at_once);
	tcase_add_test(t, lost_race_waits_again);
	suite_add_tcase(s, t);
	t = tcase_create("leader");
	tcase_add_test(t, leader_gives_up_after_renew_deadline);
	tcase_add_test(t, leader_sees_another_holder);
	tcase_add_test(t, never_two_leaders);
	suite_add_tcase(s, t);
	t = tcase_create("json");
	tcase_add_test(t, record_from_json);
	tcase_add_test(t, wrapper_arguments);
	suite_add_tcase(s, t);
	t = tcase_create("wrapper");
	tcase_add_test(t, wrapper_create_renew_conflict_release);
	tcase_add_test(t, wrapper_skewed_leader);
	tcase_add_test(t, wrapper_gives_up_when_api_down);
	tcase_set_timeout(t, 60);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	log_setup(LOG_ERR, LOG_FORMAT_KV);
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
