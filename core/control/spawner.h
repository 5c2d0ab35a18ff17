/* SPDX-License-Identifier: MIT */
/*
 * control/spawner.h - what both backends share of a Spawner
 * (docs/triggers.md): checking a webhook delivery (HMAC-SHA256 or a bearer
 * token, compared in constant time), filtering it (event, action, command
 * prefix, field filters) and making the one Task an event maps to: its
 * name is the Spawner's name and 12 hex digits of SHA-256(namespace/name,
 * event id), so a repeated delivery names the same Task.  Pure: no I/O,
 * no clock; the backend stores the Task together with its delivery
 * record (exactly once) and answers the HTTP request.
 */
#ifndef PADDOCK_CONTROL_SPAWNER_H
#define PADDOCK_CONTROL_SPAWNER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/sha256.h"

/* The path a Spawner's webhook is served at: SPAWNER_HOOK_PREFIX NS/NAME. */
#define SPAWNER_HOOK_PREFIX "/hooks/"
/* The longest event id kept (a delivery GUID is 36). */
#define SPAWNER_ID_MAX 128

void spawner_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
			 unsigned char out[SHA256_DIGEST_LEN]);
/* Equal in time independent of where they differ. */
bool spawner_ct_equal(const void *a, const void *b, size_t n);

/* A delivery as the listener got it; strings borrowed, NULL when absent. */
struct spawner_delivery {
	const char *event;         /* X-GitHub-Event */
	const char *id;            /* X-GitHub-Delivery, or the idHeader */
	const char *signature;     /* X-Hub-Signature-256 (GitHub), X-Signature-256 (generic) */
	const char *authorization; /* "Bearer TOKEN" */
	const char *content_type;
	const char *body;
	size_t len;
};

/* How a delivery ended (the store's record, metrics, describe). */
enum spawner_outcome {
	SPAWNER_ACCEPTED = 0, /* a Task was made */
	SPAWNER_DUPLICATE,    /* its id was seen: nothing made */
	SPAWNER_FILTERED,     /* verified, not wanted: nothing made */
	SPAWNER_REJECTED,     /* not verified or not readable: nothing made */
};
#define SPAWNER_N_OUTCOMES 4
const char *spawner_outcome_name(enum spawner_outcome o); /* "accepted", ... */

/* Check content type and authenticity of a delivery to `spawner` (a
 * validated document) with its secret.  0, or an HTTP status (415, 401)
 * with the reason in why (never the secret or the signature). */
unsigned spawner_verify(json_object *spawner, const struct spawner_delivery *d, const char *secret,
			size_t slen, char *why, size_t whylen);

/* The event id of a verified delivery into id (SPAWNER_ID_MAX + 1 bytes):
 * the id header, or (generic source without one) the SHA-256 of the body.
 * 0, or 400 with why. */
unsigned spawner_event_id(json_object *spawner, const struct spawner_delivery *d, char *id,
			  char *why, size_t whylen);

/* Is the parsed payload `ev` wanted?  true, or false with why
 * ("action closed is not in spec.webhook.actions"). */
bool spawner_wanted(json_object *spawner, const char *event, json_object *ev, char *why,
		    size_t whylen);

/* "NAME-<12 hex>" for event `id` of Spawner ns/name (64 bytes). */
void spawner_task_name(const char *ns, const char *name, const char *id, char out[64]);

/* The Task for event `ev` (the payload; `event` the event name, may be
 * NULL) with id `id`: the template rendered (tmpl_render_event), the
 * labels paddock.dev/spawner and annotation paddock.dev/event set, not
 * yet validated.  Owned *task; -EINVAL with the template error in err. */
int spawner_task(json_object *spawner, const char *event, const char *id, json_object *ev,
		 json_object **task, char *err, size_t errlen);

/* How a delivery was taken (the backend's take op). */
struct spawner_result {
	enum spawner_outcome outcome;
	unsigned status; /* the HTTP answer: 202, 200, 422 */
	char task[64];   /* the Task's name, "" when none was made */
	char why[512];
};

#endif
