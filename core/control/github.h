/* SPDX-License-Identifier: MIT */
/*
 * control/github.h - the github source of Spawners (docs/triggers.md#
 * github-issues), once for both backends: a thread polls each Spawner's
 * repositories for open issues with its labels, claims what it takes,
 * makes one Task per issue through the backend's take (event id
 * "owner/repo#N": exactly once, as a webhook delivery), then follows
 * those Tasks: when one starts and when it ends it moves the issue's
 * labels and comments on it.  The backend is a table of operations
 * (struct github_ops): local/github.c (the store, a state file),
 * kube/github.c (the API server, the Spawner's status).
 *
 *  - Polls are conditional (If-None-Match with the last ETag: a 304 costs
 *    no rate limit); X-RateLimit-Remaining 0 waits for X-RateLimit-Reset,
 *    a 403 or 429 waits Retry-After (else a minute, or the reset); idle,
 *    the interval doubles from pollSeconds to maxPollSeconds and is reset
 *    when a poll finds something.
 *  - The claim: a claim comment carrying the Spawner's claimer id (the
 *    backend's: the same after a restart), then the claim label (or
 *    assignee); the comments are read back and the first claim
 *    comment wins (only comments by the repository's owner, members and
 *    collaborators count, and those by the login the token posts as, from
 *    the answer to its own first comment and kept in the poll state, since
 *    a GitHub App's or bot's comments say author_association NONE: a
 *    forged claim by anyone else is ignored).  An issue claimed before
 *    (label present) is taken only if the first claim is ours (a restart
 *    between the claim and the Task), so two Spawners or two controllers
 *    never take one issue.
 *  - What was posted is the Task's annotation paddock.dev/github-reported
 *    (start, end), written after the post; a post checks the issue's
 *    comments for its marker first, so a controller killed between the
 *    two posts nothing twice.
 *  - The token (spec.github.tokenSecretRef) is read only when a poll or
 *    a report is due, and is only ever in the Authorization header:
 *    never logged, stored or in a message.
 *  - The poll state (last and next poll, status, rate limit, last error)
 *    goes to the backend's state_write for `describe spawner`.
 *
 * Test builds: $PADDOCK_TEST_GITHUB_CLAIMER sets the claimer id (two
 * controllers in a test pretend to be one restarted, or two).
 */
#ifndef PADDOCK_CONTROL_GITHUB_H
#define PADDOCK_CONTROL_GITHUB_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/conf.h"
#include "control/spawner.h"

/* The Task annotation saying which reports were posted ("start", "end"). */
#define GITHUB_REPORTED "paddock.dev/github-reported"

struct metrics;
typedef int (*github_obj_cb)(json_object *obj, void *arg);

/* A backend, called from the poller's thread only (its ops own their
 * store connection or API client).  All ops but those marked may be NULL
 * are required. */
struct github_ops {
	void *ctx;
	/* May be NULL: false skips the turn (Kubernetes: not the leader). */
	bool (*active)(void *ctx);
	/* May be NULL: called once at each turn before the Spawners. */
	void (*turn)(void *ctx);
	/* Each Spawner (validated, borrowed by cb); those without
	 * spec.github are skipped by the caller. */
	int (*spawners)(void *ctx, github_obj_cb cb, void *arg);
	/* Secret ns/name key: owned *value of *len bytes (secure_free), or
	 * -errno with a message (never the value). */
	int (*secret)(void *ctx, const char *ns, const char *name, const char *key, char **value,
		      size_t *len, char *err, size_t errlen);
	/* Was event id of Spawner ns/name taken (its Task is `task`)?
	 * 1, 0, or -errno (looked at again). */
	int (*seen)(void *ctx, const char *ns, const char *spawner, const char *id,
		    const char *task);
	/* Make the Task of event id (the webhook's take: filtered, exactly once). */
	int (*take)(void *ctx, json_object *spawner, const char *id, json_object *ev,
		    struct spawner_result *r, char *err, size_t errlen);
	/* May be NULL: an issue not taken, with why (describe's last events). */
	void (*filtered)(void *ctx, const char *ns, const char *spawner, const char *why);
	/* The Spawner's Tasks whose report may be due (cb filters): each
	 * Task document, borrowed by cb. */
	int (*tasks)(void *ctx, const char *ns, const char *spawner, github_obj_cb cb, void *arg);
	/* Set GITHUB_REPORTED of Task ns/name to value. */
	int (*mark)(void *ctx, const char *ns, const char *task, const char *value, char *err,
		    size_t errlen);
	/* The poll state of Spawner ns/name (borrowed): written when it changed. */
	int (*state_write)(void *ctx, const char *ns, const char *name, json_object *state);
	/* The poll state written before (owned), or NULL. */
	json_object *(*state_read)(void *ctx, const char *ns, const char *name);
	/* The claimer id of a Spawner (16 hex digits): the same after a
	 * restart, different for two Spawners. */
	void (*claimer)(void *ctx, json_object *spawner, char out[17]);
};

struct github;

/* Start the poller: a turn every loop_ms.  ops copied (ctx borrowed);
 * the base URLs follow the address policy of URL contexts in cfg
 * (network.allowLoopback/Private).  Owned *out; github_free() stops and
 * joins it. */
int github_start(const struct github_ops *ops, const struct pd_config *cfg, struct metrics *m,
		 int loop_ms, struct github **out, char *err, size_t errlen);
void github_free(struct github *g); /* NULL-safe */

/* Is a report of this Task due (a Task of a github Spawner, started, its
 * start or end not yet reported)?  Its Spawner's name in *spawner (also
 * when false, NULL when it has none). */
bool github_report_due(json_object *task, const char **spawner);

#endif
