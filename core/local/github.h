/* SPDX-License-Identifier: MIT */
/*
 * local/github.h - Spawners with spec.github on the local backend
 * (docs/triggers.md#github-issues): control/github.h's poller on a thread
 * of the controller, on a store connection of its own.  Its operations:
 *
 *  - a Task through intake_take() (in one transaction with the delivery
 *    record "owner/repo#N": exactly once, as a webhook delivery), and an
 *    issue claimed by someone else recorded as a filtered delivery;
 *  - the Tasks to report on from the store's change feed
 *    (store_changed_tasks after the last resource version; all of them at
 *    start): each Spawner keeps the set whose start or end report is due;
 *  - the report marks with store_set_annotation();
 *  - the claimer id: this state dir on this host, for this Spawner;
 *  - the poll state in STATE_DIR/github/NS/NAME.json for `describe spawner`.
 */
#ifndef PADDOCK_LOCAL_GITHUB_H
#define PADDOCK_LOCAL_GITHUB_H

#include <json-c/json.h>
#include <stddef.h>

struct local_github;
struct metrics;
struct pd_config;

/* Start the poller on the store in state_dir (the caller holds the
 * controller lock).  Owned *out; local_github_free() stops and joins it. */
int local_github_start(const char *state_dir, const struct pd_config *cfg, struct metrics *m,
		       struct local_github **out, char *err, size_t errlen);
void local_github_free(struct local_github *g); /* NULL-safe */

/* The poll state of Spawner ns/name written by the poller (owned), or
 * NULL when it has not polled. */
json_object *github_state_read(const char *state_dir, const char *ns, const char *name);

#endif
