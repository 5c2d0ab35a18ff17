/* SPDX-License-Identifier: MIT */
/*
 * kube/client.h - a lean Kubernetes API client over libcurl and json-c.
 *
 *   kube_config_*   where the API server is and how to authenticate:
 *                   a kubeconfig (current or named context; bearer token,
 *                   token file, client certificate and key as data or
 *                   files, CA as data or file, insecure-skip-tls-verify)
 *                   or the in-cluster service account.
 *   kube_request    one JSON request/response, every response bounded.
 *   kube_stream     one long GET (pod logs with follow=true) handed on
 *                   as it arrives, bounded buffers, no total cap.
 *   kube_watchbuf   the watch stream's framing (one JSON event per line),
 *                   bounded; pure, so it is fuzzed (tests/fuzz).
 *   kube_informer   list+watch of one resource kept as a local cache:
 *                   resourceVersion + bookmarks, relist on 410 Gone,
 *                   exponential backoff on errors.  Several informers are
 *                   driven together by kube_informers_poll() on one
 *                   curl multi handle: no threads.
 *
 * Every error message names the request ("GET /api/v1/...: 404 NotFound:
 * ...") and never holds a credential: tokens, keys and Secret data are
 * never logged or copied into err.
 *
 * Not thread-safe: use a client and its informers from one thread.
 * Environment proxies (HTTPS_PROXY, NO_PROXY) apply, as with kubectl.
 */
#ifndef PADDOCK_KUBE_H
#define PADDOCK_KUBE_H

#include <json-c/json.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- configuration --------------------------------------------------- */

struct kube_config {
	char *server;          /* "https://127.0.0.1:6443", no trailing '/' */
	char *namespace;       /* the context's namespace, or NULL */
	char *context;         /* the context used, or "in-cluster" */
	char *ca_file;         /* PEM file, or NULL */
	char *ca_pem;          /* PEM data (certificate-authority-data decoded), or NULL */
	char *cert_pem;        /* client certificate PEM data, or NULL */
	char *key_pem;         /* client key PEM data, or NULL (zeroed on free) */
	char *cert_file, *key_file;
	char *token;           /* bearer token, or NULL (zeroed on free) */
	char *token_file;      /* re-read on each request (projected SA tokens rotate) */
	bool insecure;         /* insecure-skip-tls-verify */
};

/* Parse a kubeconfig document (YAML or JSON) of `len` bytes.  `context`:
 * NULL for current-context.  Relative file paths are resolved against
 * `base_dir` (the kubeconfig's directory; NULL: as given).  Only what the
 * client supports is read; an exec/auth-provider user is refused with a
 * clear error.  Errors name the field ("users[0].user.token: ...").
 * Owned *out.  Pure: no I/O besides nothing (files are read at connect). */
int kube_config_parse(const char *doc, size_t len, const char *context, const char *base_dir,
		      struct kube_config **out, char *err, size_t errlen);

/* Load: `path` if given, else $KUBECONFIG (first existing entry), else
 * ~/.kube/config, else the in-cluster service account
 * (KUBERNETES_SERVICE_HOST/PORT, /var/run/secrets/kubernetes.io/serviceaccount).
 * The file is bounded (1 MiB).  Owned *out. */
int kube_config_load(const char *path, const char *context, struct kube_config **out, char *err,
		     size_t errlen);
/* The in-cluster service account only.  -ENOENT when not in a cluster. */
int kube_config_in_cluster(struct kube_config **out, char *err, size_t errlen);
void kube_config_free(struct kube_config *c); /* NULL-safe; zeroes secrets */

/* ---- client ---------------------------------------------------------- */

struct kube_limits {
	size_t max_response_bytes; /* one non-watch response; 0: 64 MiB */
	size_t max_event_bytes;    /* one watch event line; 0: 16 MiB */
	long timeout_s;            /* one non-watch request; 0: 30 s */
	long connect_timeout_s;    /* 0: 10 s */
};

struct kube_client;

/* The client copies what it needs from cfg.  Owned *out. */
int kube_client_new(const struct kube_config *cfg, const struct kube_limits *lim,
		    struct kube_client **out, char *err, size_t errlen);
void kube_client_free(struct kube_client *c); /* NULL-safe */

/* Counters (for metrics): requests that failed (transport, unreadable
 * token file, or >= 500) and requests retried (conflicts, backoffs,
 * relists).  Informers count on their client. */
unsigned long kube_client_errors(const struct kube_client *c);
unsigned long kube_client_retries(const struct kube_client *c);

/*
 * One request.  `path` starts with '/' and is already escaped (build it
 * with kube_path()).  `body` (borrowed, may be NULL) is sent as JSON with
 * `content_type` (NULL: "application/json"; use
 * "application/merge-patch+json" for PATCH).  Returns the HTTP status
 * (200..599) or a negative errno for a transport failure (err says
 * which).  *out (may be NULL to ignore) gets the parsed body, owned, or
 * NULL when empty/unparsable.  For status >= 400, err gets
 * "METHOD PATH: CODE Reason: message" from the Status object (without the
 * message when a body was sent to a secrets path: the server may quote it).
 */
/* Key `key` of Secret ns/name, decoded: *value owned (release with
 * secure_free), *len bytes.  -ENOENT (Secret or key missing, named in
 * err), -EINVAL (bad base64), -EIO (what the server said), or the
 * transport's error.  The response's other values are scrubbed before
 * they are freed. */
int kube_secret_get(struct kube_client *c, const char *ns, const char *name, const char *key,
		    char **value, size_t *len, char *err, size_t errlen);

int kube_request(struct kube_client *c, const char *method, const char *path, json_object *body,
		 const char *content_type, json_object **out, char *err, size_t errlen);

/* The raw body of a GET, bounded by `max` bytes (more is cut, *truncated
 * set): for pod logs.  Returns the status or a negative errno; *out owned,
 * NUL-terminated. */
int kube_get_raw(struct kube_client *c, const char *path, size_t max, char **out, size_t *len,
		 bool *truncated, char *err, size_t errlen);

/*
 * Stream the body of GET `path` (pod logs with follow=true) to `chunk` as
 * it arrives: each call gets the bytes received since the last one (data
 * borrowed for the call, at most about 80 KiB: the transfer is paused
 * while a chunk is being handed on, so memory stays bounded whatever the
 * total).  Callbacks run outside libcurl and may make other requests on
 * the client (the stream has its own connection).  `chunk` is also called
 * with (NULL, 0) about once a second while the stream is open, data or
 * not, so the caller can check what else should end it.  A non-zero
 * return of `chunk` ends the stream.
 *
 * No overall timeout and no size cap (only the connect timeout); it ends
 * when the server ends the body, when `chunk` says so, or when *stop (may
 * be NULL: a SIGINT/SIGTERM flag) becomes non-zero, noticed within about
 * 0.2 s.  Returns the HTTP status (2xx: the stream ran and ended one of
 * these ways; 0 when it was ended before the server answered) or a
 * negative errno for a transport failure ("GET PATH: curl error[:
 * detail]", also when the connection breaks mid-stream).
 * For status >= 300 nothing is handed to `chunk`: the body (bounded,
 * 64 KiB) gives err "GET PATH: CODE Reason: message".  Counted in
 * kube_client_errors() like kube_request (transport failures, >= 500).
 */
typedef int (*kube_chunk_fn)(void *ctx, const char *data, size_t len);
int kube_stream(struct kube_client *c, const char *path, kube_chunk_fn chunk, void *ctx,
		volatile sig_atomic_t *stop, char *err, size_t errlen);

/* A whole pod log (GET `path`, streamed) kept within `cap` bytes by its
 * head and its tail, with the "[paddock] N bytes cut here" line between
 * them (base/headtail.h): the end of an agent's log holds its final
 * error and its outputs block.  Read in one client timeout at most: a log
 * not read to its end by then keeps what was read, ending with a
 * "[paddock] the log was not read to its end" line (the head still holds
 * what it held).  Returns the status or a negative errno like
 * kube_stream; for 2xx *out
 * (owned, NUL-terminated) and *len, and *cut (may be NULL) the bytes cut. */
int kube_get_log(struct kube_client *c, const char *path, size_t cap, char **out, size_t *len,
		 uint64_t *cut, char *err, size_t errlen);

/*
 * Requests in parallel, with bounds: kube_submit() queues one request and
 * returns; kube_informers_poll() sends it (on the informers' multi handle,
 * at most kube_client_set_inflight() of a client's at once, FIFO; kept-
 * alive connections, HTTP/2 where the server speaks it), retries it with
 * back-off on 429 (after Retry-After), 500, 502, 503, 504 and transport
 * failures (KUBE_SUBMIT_ATTEMPTS in all), and calls `done` (may be NULL)
 * with the final status (or a negative errno), the parsed body (borrowed
 * for the call, may be NULL) and an error text like kube_request's.
 * `done` runs inside kube_informers_poll() and may submit more (a second
 * request that must follow the first is submitted from the first's
 * `done`).  Without any informer the request is made at once, and `done`
 * called before kube_submit() returns.  Returns 0 or -EINVAL.
 */
typedef void (*kube_done_fn)(void *ctx, int status, json_object *resp, const char *err);
int kube_submit(struct kube_client *c, const char *method, const char *path, json_object *body,
		const char *content_type, kube_done_fn done, void *ctx);
/* kube_submit() with a body already serialized: `data` (len bytes,
 * malloc'd, owned from here on, may be NULL) as JSON.  With
 * KUBE_SUBMIT_NO_BODY a success's answer is not parsed (resp is NULL):
 * the caller needs its status only, as for a ConfigMap or an Event whose
 * echo is as large as what was sent. */
#define KUBE_SUBMIT_NO_BODY 1u
int kube_submit_str(struct kube_client *c, const char *method, const char *path, char *data,
		    size_t len, unsigned flags, kube_done_fn done, void *ctx);
/* Requests of `c` queued or in flight. */
size_t kube_submitted(const struct kube_client *c);
/* Requests of `c` in flight at once: 1..KUBE_INFLIGHT_MAX. */
void kube_client_set_inflight(struct kube_client *c, int n);
#define KUBE_INFLIGHT_DEFAULT 16
#define KUBE_INFLIGHT_MAX 256
#define KUBE_SUBMIT_ATTEMPTS 6
#define KUBE_SUBMIT_BACKOFF_MS 200L

/* A resource type. */
struct kube_resource {
	const char *prefix;    /* "/api/v1", "/apis/batch/v1", "/apis/paddock.dev/v1alpha1" */
	const char *plural;    /* "pods", "jobs", "tasks" */
	bool namespaced;
};
extern const struct kube_resource KUBE_TASKS, KUBE_AGENTS, KUBE_JOBS, KUBE_PODS, KUBE_CONFIGMAPS,
	KUBE_SECRETS, KUBE_LEASES, KUBE_NAMESPACES, KUBE_EVENTS, KUBE_SPAWNERS, KUBE_NETWORKPOLICIES,
	KUBE_BUDGETS;

/* "/apis/g/v/namespaces/NS/PLURAL/NAME/SUB" with each part escaped; ns,
 * name, sub may be NULL or "" (left out; ns always for a cluster-scoped
 * resource, sub when there is no name); `query` (may be NULL) is appended
 * after '?' as given (the caller escapes it; kube_query_escape helps).
 * Owned; NULL only when r is. */
char *kube_path(const struct kube_resource *r, const char *ns, const char *name, const char *sub,
		const char *query);
char *kube_query_escape(const char *s); /* owned */

/*
 * Write `obj`'s status through the status subresource (PUT .../status,
 * with obj's metadata.resourceVersion: a compare-and-swap).  With `mutate`,
 * a 409 Conflict is retried up to 5 times: it GETs the object again, calls
 * `mutate(ctx, fresh)` to re-apply the change to the fresh copy, and PUTs
 * that.  Without (NULL), a 409 is returned as it is: the caller decided on
 * a state that is gone and must decide again.  `obj` is borrowed.  Returns the final HTTP
 * status (200 on success, 404 when the object is gone) or a negative errno.
 * *updated (may be NULL) gets the server's answer, owned.
 */
typedef void (*kube_mutate_fn)(void *ctx, json_object *fresh);
int kube_update_status(struct kube_client *c, const struct kube_resource *r, json_object *obj,
		       kube_mutate_fn mutate, void *ctx, json_object **updated, char *err,
		       size_t errlen);

/* ---- watch framing ----------------------------------------------------- */

enum kube_event_type { KUBE_ADDED, KUBE_MODIFIED, KUBE_DELETED, KUBE_BOOKMARK, KUBE_ERROR };

/* A watch stream is a sequence of JSON objects {"type":..,"object":{..}},
 * each on its own line.  Feed it bytes in any chunking; each complete
 * event is handed to `fn` (object borrowed for the call).  An event line
 * over `max_event` bytes, invalid JSON or a wrong shape is an error. */
typedef void (*kube_event_fn)(void *ctx, enum kube_event_type type, json_object *obj);
struct kube_watchbuf {
	char *buf;
	size_t len, cap, max_event;
	kube_event_fn fn;
	void *ctx;
};
void kube_watchbuf_init(struct kube_watchbuf *w, size_t max_event, kube_event_fn fn, void *ctx);
/* 0, or -EMSGSIZE / -EBADMSG with err; the stream must then be dropped. */
int kube_watchbuf_feed(struct kube_watchbuf *w, const char *data, size_t len, char *err,
		       size_t errlen);
void kube_watchbuf_free(struct kube_watchbuf *w);

/* ---- informers ------------------------------------------------------ */

struct kube_informer;

/* Called for each change seen, after the cache has been updated (for
 * DELETED: after removal; obj is the last state).  On a relist, objects
 * that vanished are reported DELETED, new ones ADDED and those with
 * another resourceVersion MODIFIED (unchanged ones are not reported).
 * BOOKMARK and ERROR events are handled inside and never reported.
 * Listed objects get the list's kind and apiVersion, like watched ones.
 * The callback may read the cache and kube_informer_store(), but must
 * not free an informer or call kube_informers_poll(). */
typedef void (*kube_informer_fn)(void *ctx, struct kube_informer *inf, enum kube_event_type type,
				 json_object *obj);

/* Watch `r` in namespace `ns` (NULL: all) with an optional label
 * selector.  Nothing is sent until kube_informers_poll().  Owned; NULL on
 * a bad argument.  `c` and `r` are borrowed: free informers before their
 * client. */
struct kube_informer *kube_informer_new(struct kube_client *c, const struct kube_resource *r,
					const char *ns, const char *label_selector,
					kube_informer_fn fn, void *ctx);
void kube_informer_free(struct kube_informer *inf); /* NULL-safe */

/*
 * Drive informers: (re)list those that need it, keep a watch open for
 * each (with allowWatchBookmarks and the last resourceVersion), deliver
 * events, relist on 410 Gone or an ERROR event, back off exponentially
 * (0.5 s doubling to 30 s, reset after success) on failures.  Waits at
 * most `timeout_ms` for activity; returns the number of events delivered,
 * or a negative errno on a bad argument only (server trouble is retried,
 * logged and counted, never returned).  All informers share one curl
 * multi handle; the streams of informers not passed are held (paused
 * when their buffer is full) and delivered when they are next polled.
 */
int kube_informers_poll(struct kube_informer **infs, size_t n, int timeout_ms);

/* True once the first list has completed (the cache is complete). */
bool kube_informer_synced(const struct kube_informer *inf);
/* Cached object (borrowed until the next poll or kube_informer_store()),
 * or NULL.  ns is ignored for a cluster-scoped resource. */
json_object *kube_informer_get(const struct kube_informer *inf, const char *ns, const char *name);
/* Call fn for each cached object (borrowed); stop early when fn returns
 * non-zero (that value is returned). */
int kube_informer_foreach(const struct kube_informer *inf,
			  int (*fn)(void *ctx, json_object *obj), void *ctx);
size_t kube_informer_count(const struct kube_informer *inf);
/* Put an object the controller just wrote into the cache (it is newer
 * than what the watch has delivered so far); ignored when the cache
 * already holds a newer resourceVersion.  obj is copied. */
void kube_informer_store(struct kube_informer *inf, json_object *obj);
/* kube_informer_store() without the copy: the cache takes a reference to
 * `obj` itself and trims it in place (the caller reads no more of it than
 * the cache keeps; a compact cache leaves `obj` alone).  True when it was
 * cached (false: the cache holds a newer version). */
bool kube_informer_take(struct kube_informer *inf, json_object *obj);
/* The cache never keeps metadata.managedFields; `trim` (may be NULL),
 * called on each object before it is cached, may drop more of what the
 * owner never reads (the controller keeps only metadata and status of
 * Jobs).  Set it before the first poll. */
void kube_informer_set_trim(struct kube_informer *inf, void (*trim)(json_object *obj));
/* A list answered 403 or 404 (no RBAC for it, no CRD) leaves the cache
 * synced and empty, with one warning that `feature` (e.g. "Budgets") is
 * off and why, instead of retrying with the informer unsynced; it is
 * listed again every 30 s and works once it can.  Set it before the
 * first poll. */
void kube_informer_set_optional(struct kube_informer *inf, const char *feature);
/* Restrict the list and watch with a field selector
 * ("metadata.name=NAME": one object, without every other object's
 * events); NULL or "" for none.  Copied.  Set it before the first poll. */
void kube_informer_set_field_selector(struct kube_informer *inf, const char *field_selector);
/*
 * A compact cache: instead of JSON (every json-c object costs some 700
 * bytes, a trimmed Pod is a dozen of them), the informer keeps what
 * `make` returns for each object: a C struct of its owner's, beginning
 * with a struct kube_compact (its resourceVersion), in one allocation
 * that free() releases.
 * The callback still gets the JSON of each change (for a DELETED found by
 * a relist: what `ident` makes of the compact form: metadata.name,
 * namespace and labels at least).  kube_informer_get() and
 * kube_informer_foreach() see nothing: read it with
 * kube_informer_get_compact() and kube_informer_foreach_compact().  Set it
 * before the first poll; `trim` still applies to a list's pages.
 */
struct kube_compact {
	const char *rv; /* metadata.resourceVersion, or NULL */
};
typedef struct kube_compact *(*kube_compact_fn)(json_object *obj);
void kube_informer_set_compact(struct kube_informer *inf, kube_compact_fn make,
			       json_object *(*ident)(const struct kube_compact *c));
/* Borrowed until the next poll or kube_informer_take(); NULL when absent. */
const struct kube_compact *kube_informer_get_compact(const struct kube_informer *inf,
						     const char *ns, const char *name);
/* fn for each cached object (on a snapshot: fn may store into the cache);
 * stops early when fn returns non-zero (that value is returned). */
int kube_informer_foreach_compact(const struct kube_informer *inf,
				  int (*fn)(void *ctx, const struct kube_compact *c), void *ctx);

/* How many relists (initial list excluded) this informer has done. */
unsigned long kube_informer_relists(const struct kube_informer *inf);

#endif
