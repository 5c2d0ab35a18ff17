/* SPDX-License-Identifier: MIT */
/*
 * kube/taskindex.h - what admission asks of the Kubernetes caches, kept
 * up to date per change instead of found by a scan per question.
 *
 * Fed every Task and every Job the informers hold (their events, and the
 * controller's own writes put into the caches), keyed by the task's uid:
 *   - slots: a task holds a slot of its agent key while it is Running or
 *     while a Job of it has not ended (also when the task is no longer
 *     Running: a stopped or deleted task's pod may still be terminating);
 *     counts per agent key and in all, O(1) to read;
 *   - the line: Queued tasks that are not stop-requested and have no Job
 *     yet, in FIFO order (creationTimestamp, then uid), one sorted array
 *     per agent key and one for all: the head is O(1), an insertion or
 *     removal a binary search and a move.
 *   - the metrics' figures: Tasks by phase and Queued Tasks by agent key,
 *     so that they cost nothing per Task when they are read;
 *   - the Running tasks, and those of them with a spec.maxCostUSD.
 * Single-threaded, like the controller.
 */
#ifndef PADDOCK_KUBE_TASKINDEX_H
#define PADDOCK_KUBE_TASKINDEX_H

#include <json-c/json.h>
#include <stdbool.h>

#include "base/util.h"

struct kidx;

struct kidx *kidx_new(void);
void kidx_free(struct kidx *x); /* NULL-safe */

/* A Task or a Job as cached now (deleted: it left the cache). */
void kidx_task(struct kidx *x, json_object *task, bool deleted);
void kidx_job(struct kidx *x, json_object *job, bool deleted);

/* The Job of a task is being created (a slot held, out of the line). */
void kidx_starting(struct kidx *x, const char *uid, const char *agent_key, bool on);
/* Slots held by an agent key ("" for spec.type; NULL: all). */
long kidx_running(const struct kidx *x, const char *agent_key);
/* Agent keys with a task in line. */
void kidx_queued_agents(const struct kidx *x, struct strv *keys);
/* "ns/name" of the oldest task in line for an agent key (NULL: of all),
 * borrowed until the next change; NULL when nobody waits. */
const char *kidx_queue_head(const struct kidx *x, const char *agent_key);
/* "ns/name" of the Waiting tasks (a finished task wakes only those). */
void kidx_waiting(const struct kidx *x, struct strv *keys);
/* A Job of this task uid exists and has not ended. */
bool kidx_job_active(const struct kidx *x, const char *uid);
/* Admitted: its Job is being created, or exists and has not ended (a
 * Budget's maxTasks counts it before its pod runs). */
bool kidx_admitted(const struct kidx *x, const char *uid);

/* "ns/name" of the tasks in phase Running; with capped_only, of those
 * with a spec.maxCostUSD (kube/usage.h follows only tasks a cap could
 * stop: without a capped Budget, those alone). */
void kidx_running_tasks(const struct kidx *x, bool capped_only, struct strv *keys);
/* Tasks by phase, indexed by model_phase_parse() (a Task with no phase
 * or an unknown one counts as Pending). */
#define KIDX_PHASES 16
void kidx_phase_counts(const struct kidx *x, long counts[KIDX_PHASES]);
/* Tasks whose phase is Queued by agent key ("(none)" for spec.type):
 * agent key -> int, borrowed until the next change. */
json_object *kidx_queue_depths(const struct kidx *x);

#endif
