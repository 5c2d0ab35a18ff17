/* SPDX-License-Identifier: MIT */
/*
 * local/github.h - Spawners with spec.github on the local backend
 * (docs/triggers.md#github-issues): a thread of the controller (its own
 * store connection) polls each Spawner's repositories for open issues
 * with its labels, claims what it takes, makes one Task per issue
 * through intake_take() (event id "owner/repo#N": exactly once, as a
 * webhook delivery), then follows those Tasks: when one starts and when
 * it ends it moves the labels and comments on it.
 *
 *  - Polls are conditional (If-None-Match with the last ETag: a 304 costs
 *    no rate limit); X-RateLimit-Remaining 0 waits for X-RateLimit-Reset,
 *    a 403 or 429 waits Retry-After (else a minute, or the reset); idle,
 *    the interval doubles from pollSeconds to maxPollSeconds and is reset
 *    when a poll finds something.
 *  - The claim: a claim comment carrying this controller's claimer id,
 *    then the claim label (or assignee); the comments
 *    are read back and the first claim comment wins (only comments by
 *    the repository's owner, members and collaborators count, and those
 *    by the login the token posts as, from the answer to its own first
 *    comment and kept in the state file, since a GitHub App's or bot's
 *    comments say author_association NONE: a forged claim by anyone
 *    else is ignored).  An issue claimed
 *    before (label present) is taken only if the first claim is ours
 *    (a restart between the claim and the Task), so two Spawners or two
 *    controllers never take one issue.
 *  - What was posted is the Task's annotation paddock.dev/github-reported
 *    (start, end), written after the post; a post checks the issue's
 *    comments for its marker first, so a controller killed between the
 *    two posts nothing twice.
 *  - The Tasks to report on come from the store's change feed
 *    (store_changed_tasks after the last resource version; all of them
 *    at start): each Spawner keeps the set whose start or end report is
 *    due, and the token is read only when a poll or a report is due.
 *  - The token (spec.github.tokenSecretRef) is only ever in the
 *    Authorization header: never logged, stored or in a message.
 *  - The last poll and the rate-limit state are written to
 *    STATE_DIR/github/NS/NAME.json for `describe spawner`.
 *
 * Test builds: $PADDOCK_TEST_GITHUB_CLAIMER sets the claimer id (two
 * controllers in a test pretend to be one restarted, or two).
 */
#ifndef PADDOCK_LOCAL_GITHUB_H
#define PADDOCK_LOCAL_GITHUB_H

#include <json-c/json.h>
#include <stddef.h>

struct github;
struct metrics;
struct pd_config;

/* Start the poller on the store in state_dir (the caller holds the
 * controller lock).  Owned *out; github_free() stops and joins it. */
int github_start(const char *state_dir, const struct pd_config *cfg, struct metrics *m,
		 struct github **out, char *err, size_t errlen);
void github_free(struct github *g); /* NULL-safe */

/* The poll state of Spawner ns/name written by the poller (owned), or
 * NULL when it has not polled. */
json_object *github_state_read(const char *state_dir, const char *ns, const char *name);

#endif
