/* SPDX-License-Identifier: MIT */
/* test_reconcile.c - every transition of rec_decide() from one table, plus
 * rec_find_cycle(). */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/reconcile.h"
#include "base/util.h"

/* The table starts each case from a preset (READY, RUNNING ...) and
 * overrides some fields: that is the point, not a mistake. */
#pragma GCC diagnostic ignored "-Woverride-init"

#define NOW 1700000000000LL
#define MIN 60000LL

struct rcase {
	const char *name;
	struct rec_input in;
	enum rec_action action;
	enum rec_phase phase;
	const char *reason;
	const char *msg;          /* substring expected in the message, or NULL */
	int64_t requeue;          /* expected requeue_after_ms */
};

/* Ready to run: no deps, free slots, first in line. */
#define READY .now_ms = NOW, .created_ms = NOW - MIN, .ttl_s = -1, .agent_max = 2, \
	      .global_max = 10, .head_of_queue = true
/* Running for 10 minutes. */
#define RUNNING READY, .phase = REC_RUNNING, .start_ms = NOW - 10 * MIN
#define EXITED(code, oc) RUNNING, .run = REC_RUN_EXITED, .exit_code = (code), .outcome = (oc)
#define DONE(ph) READY, .phase = (ph), .start_ms = NOW - 20 * MIN, .completion_ms = NOW - 5 * MIN

static const struct rcase cases[] = {
	/* ---- admission ---- */
	{ "pending, no deps, slot free -> start",
	  { READY, .phase = REC_PENDING }, REC_START, REC_RUNNING, "Started", NULL, 0 },
	{ "pending, agent slots full -> queued",
	  { READY, .phase = REC_PENDING, .agent_running = 2 },
	  REC_SET_PHASE, REC_QUEUED, "AgentCapacity", "2 of 2 agent slots", 0 },
	{ "pending, global slots full -> queued",
	  { READY, .phase = REC_PENDING, .global_running = 10 },
	  REC_SET_PHASE, REC_QUEUED, "GlobalCapacity", "10 of 10 global", 0 },
	{ "pending, older task waiting -> queued",
	  { READY, .phase = REC_PENDING, .head_of_queue = false },
	  REC_SET_PHASE, REC_QUEUED, "QueuedBehindOlder", "older", 0 },
	{ "pending, unlimited slots -> start",
	  { READY, .phase = REC_PENDING, .agent_max = 0, .global_max = 0,
	    .agent_running = 500, .global_running = 9000 },
	  REC_START, REC_RUNNING, "Started", NULL, 0 },
	{ "queued, still full -> stays queued",
	  { READY, .phase = REC_QUEUED, .agent_running = 3 },
	  REC_NOOP, REC_QUEUED, "AgentCapacity", "3 of 2", 0 },
	{ "queued, slot freed, head -> start",
	  { READY, .phase = REC_QUEUED, .agent_running = 1, .global_running = 9 },
	  REC_START, REC_RUNNING, "Started", NULL, 0 },
	{ "queued, slot free but not head -> stays queued",
	  { READY, .phase = REC_QUEUED, .head_of_queue = false },
	  REC_NOOP, REC_QUEUED, "QueuedBehindOlder", NULL, 0 },

	/* ---- dependencies ---- */
	{ "pending, deps not done -> waiting",
	  { READY, .phase = REC_PENDING, .deps_total = 2, .deps_succeeded = 1 },
	  REC_SET_PHASE, REC_WAITING, "WaitingForDependencies", "1 of 2", 0 },
	{ "waiting, deps still running -> stays waiting",
	  { READY, .phase = REC_WAITING, .deps_total = 3, .deps_succeeded = 0 },
	  REC_NOOP, REC_WAITING, "WaitingForDependencies", "3 of 3", 0 },
	{ "waiting, deps done, slot -> start",
	  { READY, .phase = REC_WAITING, .deps_total = 2, .deps_succeeded = 2 },
	  REC_START, REC_RUNNING, "Started", NULL, 0 },
	{ "waiting, deps done, no slot -> queued",
	  { READY, .phase = REC_WAITING, .deps_total = 2, .deps_succeeded = 2,
	    .agent_running = 2 },
	  REC_SET_PHASE, REC_QUEUED, "AgentCapacity", NULL, 0 },
	{ "pending, deps not done and no slot -> waiting (deps first)",
	  { READY, .phase = REC_PENDING, .deps_total = 1, .agent_running = 2 },
	  REC_SET_PHASE, REC_WAITING, "WaitingForDependencies", NULL, 0 },
	{ "pending, dep failed -> failed",
	  { READY, .phase = REC_PENDING, .deps_total = 2, .deps_succeeded = 1,
	    .deps_failed = 1, .failed_dep = "build" },
	  REC_SET_PHASE, REC_FAILED, "DependencyFailed", "dependency \"build\" did not succeed",
	  0 },
	{ "waiting, dep stopped -> failed",
	  { READY, .phase = REC_WAITING, .deps_total = 1, .deps_failed = 1,
	    .failed_dep = "lint" },
	  REC_SET_PHASE, REC_FAILED, "DependencyFailed", "\"lint\"", 0 },
	{ "dep failed beats dep missing",
	  { READY, .phase = REC_WAITING, .deps_total = 2, .deps_failed = 1, .failed_dep = "a",
	    .deps_missing = 1, .missing_dep = "b" },
	  REC_SET_PHASE, REC_FAILED, "DependencyFailed", "\"a\"", 0 },
	{ "pending, dep missing -> waiting for it to be created",
	  { READY, .phase = REC_PENDING, .deps_total = 1, .deps_missing = 1,
	    .missing_dep = "later" },
	  REC_SET_PHASE, REC_WAITING, "DependencyNotFound",
	  "waiting for task \"later\" to be created", 0 },
	{ "waiting, dep still missing -> stays waiting",
	  { READY, .phase = REC_WAITING, .deps_total = 2, .deps_succeeded = 1,
	    .deps_missing = 1, .missing_dep = "later" },
	  REC_NOOP, REC_WAITING, "DependencyNotFound", "\"later\"", 0 },
	{ "pending, dep cycle -> failed with path",
	  { READY, .phase = REC_PENDING, .deps_total = 1, .dep_cycle = true,
	    .cycle_path = "a -> b -> a" },
	  REC_SET_PHASE, REC_FAILED, "DependencyCycle", "dependency cycle: a -> b -> a", 0 },
	{ "waiting, dep cycle beats dep failed",
	  { READY, .phase = REC_WAITING, .deps_total = 2, .deps_failed = 1, .dep_cycle = true,
	    .cycle_path = "x -> x" },
	  REC_SET_PHASE, REC_FAILED, "DependencyCycle", "x -> x", 0 },

	/* ---- resolution problems ---- */
	{ "agent missing -> failed",
	  { READY, .phase = REC_PENDING, .invalid = "spec.agentRef: Agent \"coder\" not found",
	    .invalid_reason = "AgentNotFound" },
	  REC_SET_PHASE, REC_FAILED, "AgentNotFound", "Agent \"coder\" not found", 0 },
	{ "namespace not allowed -> failed forbidden",
	  { READY, .phase = REC_QUEUED, .invalid = "namespace \"dev\" may not use Agent \"x\"",
	    .invalid_reason = "Forbidden" },
	  REC_SET_PHASE, REC_FAILED, "Forbidden", "may not use", 0 },
	{ "secret missing -> failed",
	  { READY, .phase = REC_PENDING, .invalid = "Secret \"key\" not found",
	    .invalid_reason = "SecretNotFound" },
	  REC_SET_PHASE, REC_FAILED, "SecretNotFound", "Secret \"key\"", 0 },
	{ "driver missing -> failed",
	  { READY, .phase = REC_WAITING, .invalid = "driver \"codex\" is not enabled",
	    .invalid_reason = "DriverNotFound" },
	  REC_SET_PHASE, REC_FAILED, "DriverNotFound", "codex", 0 },
	{ "template error -> failed",
	  { READY, .phase = REC_PENDING, .invalid = "{{ deps.a.results.x }}: no result",
	    .invalid_reason = "TemplateError" },
	  REC_SET_PHASE, REC_FAILED, "TemplateError", "no result", 0 },
	{ "invalid without reason -> InvalidSpec",
	  { READY, .phase = REC_PENDING, .invalid = "spec.prompt: empty" },
	  REC_SET_PHASE, REC_FAILED, "InvalidSpec", "spec.prompt: empty", 0 },
	{ "invalid beats waiting for deps",
	  { READY, .phase = REC_WAITING, .deps_total = 1, .invalid = "bad",
	    .invalid_reason = "AgentNotFound" },
	  REC_SET_PHASE, REC_FAILED, "AgentNotFound", NULL, 0 },
	{ "running ignores a later resolution problem",
	  { RUNNING, .run = REC_RUN_ACTIVE, .invalid = "Agent deleted",
	    .invalid_reason = "AgentNotFound" },
	  REC_NOOP, REC_RUNNING, "Running", NULL, 0 },

	/* ---- stop ---- */
	{ "stop while pending -> stopped",
	  { READY, .phase = REC_PENDING, .stop_requested = true },
	  REC_SET_PHASE, REC_STOPPED, "Stopped", "before it started (was Pending)", 0 },
	{ "stop while waiting -> stopped",
	  { READY, .phase = REC_WAITING, .deps_total = 1, .stop_requested = true },
	  REC_SET_PHASE, REC_STOPPED, "Stopped", "was Waiting", 0 },
	{ "stop while queued -> stopped",
	  { READY, .phase = REC_QUEUED, .agent_running = 2, .stop_requested = true },
	  REC_SET_PHASE, REC_STOPPED, "Stopped", "was Queued", 0 },
	{ "stop beats invalid",
	  { READY, .phase = REC_PENDING, .stop_requested = true, .invalid = "x",
	    .invalid_reason = "AgentNotFound" },
	  REC_SET_PHASE, REC_STOPPED, "Stopped", NULL, 0 },
	{ "stop while running -> kill",
	  { RUNNING, .run = REC_RUN_ACTIVE, .stop_requested = true },
	  REC_KILL, REC_RUNNING, "Stopped", "stop requested", 0 },
	{ "stop while starting (run not seen yet) -> kill",
	  { RUNNING, .run = REC_RUN_NONE, .stop_requested = true },
	  REC_KILL, REC_RUNNING, "Stopped", NULL, 0 },
	{ "stop beats timeout while running",
	  { RUNNING, .run = REC_RUN_ACTIVE, .stop_requested = true, .timeout_s = 60 },
	  REC_KILL, REC_RUNNING, "Stopped", NULL, 0 },
	{ "exited after stop -> stopped",
	  { EXITED(-15, 0), .stop_requested = true },
	  REC_SET_PHASE, REC_STOPPED, "Stopped", "signal 15", 0 },
	{ "exited 0 with success after stop -> still stopped",
	  { EXITED(0, 1), .stop_requested = true },
	  REC_SET_PHASE, REC_STOPPED, "Stopped", "exit code 0", 0 },
	{ "supervisor says stopped -> stopped",
	  { EXITED(137, 0), .run_end_reason = "Stopped" },
	  REC_SET_PHASE, REC_STOPPED, "Stopped", NULL, 0 },
	{ "lost after stop -> stopped",
	  { RUNNING, .run = REC_RUN_LOST, .stop_requested = true },
	  REC_SET_PHASE, REC_STOPPED, "Stopped", "lost", 0 },

	/* ---- timeout ---- */
	{ "running, no timeout -> nothing to do",
	  { RUNNING, .run = REC_RUN_ACTIVE }, REC_NOOP, REC_RUNNING, "Running", NULL, 0 },
	{ "running within timeout -> requeue at deadline",
	  { RUNNING, .run = REC_RUN_ACTIVE, .timeout_s = 15 * 60 },
	  REC_NOOP, REC_RUNNING, "Running", NULL, 5 * MIN },
	{ "running 1 ms before deadline -> requeue 1 ms",
	  { RUNNING, .run = REC_RUN_ACTIVE, .timeout_s = 10 * 60, .now_ms = NOW - 1 },
	  REC_NOOP, REC_RUNNING, "Running", NULL, 1 },
	{ "running at deadline -> kill timeout",
	  { RUNNING, .run = REC_RUN_ACTIVE, .timeout_s = 10 * 60 },
	  REC_KILL, REC_RUNNING, "Timeout", "timeout of 10m exceeded (running for 10m)", 0 },
	{ "starting past deadline -> kill timeout",
	  { RUNNING, .run = REC_RUN_NONE, .timeout_s = 90 },
	  REC_KILL, REC_RUNNING, "Timeout", "timeout of 1m30s", 0 },
	{ "no start time: timeout counts from creation",
	  { RUNNING, .start_ms = 0, .run = REC_RUN_ACTIVE, .timeout_s = 30 },
	  REC_KILL, REC_RUNNING, "Timeout", NULL, 0 },
	{ "huge timeout does not overflow",
	  { RUNNING, .run = REC_RUN_ACTIVE, .timeout_s = 0x7fffffffL },
	  REC_NOOP, REC_RUNNING, "Running", NULL, 0x7fffffffLL * 1000 - 10 * MIN },
	{ "LONG_MAX timeout saturates",
	  { RUNNING, .run = REC_RUN_ACTIVE, .timeout_s = LONG_MAX },
	  REC_NOOP, REC_RUNNING, "Running", NULL, INT64_MAX - NOW },
	{ "exited after timeout kill -> failed timeout",
	  { EXITED(-9, 0), .run_end_reason = "Timeout", .timeout_s = 60 },
	  REC_SET_PHASE, REC_FAILED, "Timeout", "timeout of 1m exceeded", 0 },
	{ "failed exit past the deadline -> failed timeout",
	  { EXITED(137, 0), .timeout_s = 5 * 60 },
	  REC_SET_PHASE, REC_FAILED, "Timeout", "exit code 137", 0 },
	{ "lost with timeout reason -> failed timeout",
	  { RUNNING, .run = REC_RUN_LOST, .run_end_reason = "Timeout", .timeout_s = 60 },
	  REC_SET_PHASE, REC_FAILED, "Timeout", "lost", 0 },
	{ "clean success just after the deadline -> succeeded",
	  { EXITED(0, 1), .timeout_s = 5 * 60 },
	  REC_SET_PHASE, REC_SUCCEEDED, "Completed", NULL, 0 },

	/* ---- exit code x outcome ---- */
	{ "exit 0, success -> succeeded",
	  { EXITED(0, 1) }, REC_SET_PHASE, REC_SUCCEEDED, "Completed", NULL, 0 },
	{ "exit 0, agent reported failure -> failed AgentError",
	  { EXITED(0, 2), .run_error = "rate limited" },
	  REC_SET_PHASE, REC_FAILED, "AgentError", "reported an error: rate limited", 0 },
	{ "exit 0, agent reported failure without text",
	  { EXITED(0, 2) }, REC_SET_PHASE, REC_FAILED, "AgentError", "(no details)", 0 },
	{ "exit 0, no result -> failed AgentError",
	  { EXITED(0, 0) }, REC_SET_PHASE, REC_FAILED, "AgentError",
	  "without reporting a result", 0 },
	{ "exit 1, success -> failed Error",
	  { EXITED(1, 1) }, REC_SET_PHASE, REC_FAILED, "Error", "exit code 1", 0 },
	{ "exit 2, failure with text -> failed Error",
	  { EXITED(2, 2), .run_error = "auth failed" },
	  REC_SET_PHASE, REC_FAILED, "Error", "exit code 2: auth failed", 0 },
	{ "exit 3, unknown -> failed Error",
	  { EXITED(3, 0) }, REC_SET_PHASE, REC_FAILED, "Error", "exit code 3", 0 },
	{ "killed by signal -> failed Error",
	  { EXITED(-9, 0) }, REC_SET_PHASE, REC_FAILED, "Error", "killed by signal 9", 0 },
	{ "run lost -> failed RunLost",
	  { RUNNING, .run = REC_RUN_LOST },
	  REC_SET_PHASE, REC_FAILED, "RunLost", "vanished", 0 },
	{ "run lost with error text",
	  { RUNNING, .run = REC_RUN_LOST, .run_error = "pod evicted" },
	  REC_SET_PHASE, REC_FAILED, "RunLost", "pod evicted", 0 },

	/* ---- crash between START and recording Running ---- */
	{ "queued but a run exists -> adopt, do not start again",
	  { READY, .phase = REC_QUEUED, .run = REC_RUN_ACTIVE },
	  REC_SET_PHASE, REC_RUNNING, "Started", "adopting", 0 },
	{ "pending, run exists, stop requested -> adopt first (then kill)",
	  { READY, .phase = REC_PENDING, .run = REC_RUN_ACTIVE, .stop_requested = true },
	  REC_SET_PHASE, REC_RUNNING, "Started", NULL, 0 },
	{ "queued, run already exited -> adopt",
	  { READY, .phase = REC_QUEUED, .run = REC_RUN_EXITED },
	  REC_SET_PHASE, REC_RUNNING, "Started", NULL, 0 },

	/* ---- a run made, its agent not running yet (Kubernetes) ---- */
	{ "pending, Job made, pod just created -> no write yet, look again",
	  { READY, .phase = REC_PENDING, .run = REC_RUN_STARTING, .run_wait_normal = true,
	    .run_wait_reason = "ContainerCreating", .run_wait_since_ms = NOW - 500 },
	  REC_NOOP, REC_PENDING, "Starting", NULL, REC_WAIT_QUIET_MS - 500 },
	{ "pending, pod creating for long -> queued Starting (one reason for every normal step)",
	  { READY, .phase = REC_PENDING, .run = REC_RUN_STARTING, .run_wait_normal = true,
	    .run_wait_reason = "ContainerCreating", .run_wait_since_ms = NOW - REC_WAIT_QUIET_MS,
	    .run_wait_message = "the pod's containers are being created" },
	  REC_SET_PHASE, REC_QUEUED, "Starting", "waiting for its agent to start", 0 },
	{ "queued Starting, pod now pulling -> the same reason and message (no new write)",
	  { READY, .phase = REC_QUEUED, .run = REC_RUN_STARTING, .run_wait_normal = true,
	    .run_wait_reason = "PodInitializing", .run_wait_since_ms = NOW - 60000 },
	  REC_SET_PHASE, REC_QUEUED, "Starting", "waiting for its agent to start", 0 },
	{ "pending, pod unschedulable -> queued Unschedulable at once",
	  { READY, .phase = REC_PENDING, .run = REC_RUN_STARTING, .run_wait_reason = "Unschedulable",
	    .run_wait_message = "0/2 nodes are available", .run_wait_since_ms = NOW - 100 },
	  REC_SET_PHASE, REC_QUEUED, "Unschedulable", "0/2 nodes", 0 },
	{ "queued ImagePullBackOff, stop requested -> kill",
	  { READY, .phase = REC_QUEUED, .run = REC_RUN_STARTING, .run_wait_reason = "ImagePullBackOff",
	    .stop_requested = true },
	  REC_KILL, REC_QUEUED, "Stopped", NULL, 0 },
	{ "pending, pod running -> Running in one write",
	  { READY, .phase = REC_PENDING, .run = REC_RUN_ACTIVE, .run_awaited = true },
	  REC_SET_PHASE, REC_RUNNING, "Started", "the agent is running", 0 },
	{ "queued (pod was waiting), pod running -> Running",
	  { READY, .phase = REC_QUEUED, .run = REC_RUN_ACTIVE, .run_awaited = true,
	    .agent_running = 2 },
	  REC_SET_PHASE, REC_RUNNING, "Started", "the agent is running", 0 },

	/* ---- TTL ---- */
	{ "succeeded, no ttl -> kept",
	  { DONE(REC_SUCCEEDED) }, REC_NOOP, REC_SUCCEEDED, "Finished", NULL, 0 },
	{ "succeeded, ttl not reached -> requeue at expiry",
	  { DONE(REC_SUCCEEDED), .ttl_s = 600 },
	  REC_NOOP, REC_SUCCEEDED, "Finished", NULL, 5 * MIN },
	{ "LONG_MAX ttl saturates",
	  { DONE(REC_SUCCEEDED), .ttl_s = LONG_MAX },
	  REC_NOOP, REC_SUCCEEDED, "Finished", NULL, INT64_MAX - NOW },
	{ "failed, ttl reached exactly -> delete",
	  { DONE(REC_FAILED), .ttl_s = 300 },
	  REC_DELETE, REC_FAILED, "TTLExpired", "5m", 0 },
	{ "stopped, ttl passed -> delete",
	  { DONE(REC_STOPPED), .ttl_s = 60 },
	  REC_DELETE, REC_STOPPED, "TTLExpired", NULL, 0 },
	{ "ttl 0 -> delete at once",
	  { DONE(REC_SUCCEEDED), .ttl_s = 0, .completion_ms = NOW },
	  REC_DELETE, REC_SUCCEEDED, "TTLExpired", NULL, 0 },
	{ "unknown completion time -> never deleted on a guess",
	  { DONE(REC_FAILED), .ttl_s = 1, .completion_ms = 0 },
	  REC_NOOP, REC_FAILED, "Finished", NULL, 0 },

	/* ---- terminal phases absorb everything ---- */
	{ "failed ignores stop, free slot and success",
	  { DONE(REC_FAILED), .stop_requested = true, .run = REC_RUN_EXITED, .outcome = 1 },
	  REC_NOOP, REC_FAILED, "Finished", NULL, 0 },
	{ "succeeded ignores a stop, a failed dep and invalid",
	  { DONE(REC_SUCCEEDED), .stop_requested = true, .deps_total = 1, .deps_failed = 1,
	    .invalid = "gone",
	    .invalid_reason = "AgentNotFound" },
	  REC_NOOP, REC_SUCCEEDED, "Finished", NULL, 0 },
	{ "stopped ignores an active run and a timeout",
	  { DONE(REC_STOPPED), .run = REC_RUN_ACTIVE, .timeout_s = 1 },
	  REC_NOOP, REC_STOPPED, "Finished", NULL, 0 },
	{ "failed ignores a lost run",
	  { DONE(REC_FAILED), .run = REC_RUN_LOST },
	  REC_NOOP, REC_FAILED, "Finished", NULL, 0 },
};

START_TEST(test_table)
{
	const struct rcase *c = &cases[_i];
	struct rec_decision d;

	memset(&d, 0xa5, sizeof(d)); /* rec_decide must write everything */
	rec_decide(&c->in, &d);
	ck_assert_msg(d.action == c->action, "%s: action %d, expected %d (%s)", c->name,
		      d.action, c->action, d.message);
	ck_assert_msg(d.phase == c->phase, "%s: phase %s, expected %s", c->name,
		      rec_phase_name(d.phase), rec_phase_name(c->phase));
	ck_assert_msg(d.reason && strcmp(d.reason, c->reason) == 0, "%s: reason %s, expected %s",
		      c->name, d.reason ? d.reason : "(null)", c->reason);
	ck_assert_msg(d.requeue_after_ms == c->requeue, "%s: requeue %lld, expected %lld",
		      c->name, (long long)d.requeue_after_ms, (long long)c->requeue);
	ck_assert_msg(memchr(d.message, '\0', sizeof(d.message)) != NULL, "%s: unterminated",
		      c->name);
	ck_assert_msg(d.message[0] != '\0', "%s: empty message", c->name);
	ck_assert_msg(!strchr(d.message, '\n'), "%s: message not one line", c->name);
	if (c->msg)
		ck_assert_msg(strstr(d.message, c->msg), "%s: message \"%s\" lacks \"%s\"",
			      c->name, d.message, c->msg);
	/* An action that changes state always targets a different phase or
	 * acts; but for a run that does not run yet, why it waits is the
	 * state (the controller writes it only when reason or message
	 * changed). */
	if (d.action == REC_SET_PHASE && c->in.run != REC_RUN_STARTING)
		ck_assert_msg(d.phase != c->in.phase, "%s: SET_PHASE to the same phase", c->name);
}
END_TEST

/* A long message from the caller is cut, never overflows. */
START_TEST(test_long_message)
{
	char big[2000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	struct rec_input in = { READY, .phase = REC_PENDING, .invalid = big };
	struct rec_decision d;
	rec_decide(&in, &d);
	ck_assert_int_eq(d.action, REC_SET_PHASE);
	ck_assert_uint_eq(strlen(d.message), sizeof(d.message) - 1);
}
END_TEST

/* Walk one task through its whole life, applying each decision. */
START_TEST(test_walk)
{
	struct rec_input in = { READY, .phase = REC_PENDING, .deps_total = 1, .agent_max = 1,
				.agent_running = 1, .timeout_s = 3600, .ttl_s = 60 };
	struct rec_decision d;

	rec_decide(&in, &d);
	ck_assert_int_eq(d.phase, REC_WAITING);
	in.phase = d.phase;
	in.deps_succeeded = 1;
	rec_decide(&in, &d);
	ck_assert_int_eq(d.phase, REC_QUEUED);
	in.phase = d.phase;
	in.agent_running = 0;
	rec_decide(&in, &d);
	ck_assert_int_eq(d.action, REC_START);
	in.phase = d.phase;
	in.start_ms = in.now_ms;
	in.run = REC_RUN_ACTIVE;
	rec_decide(&in, &d);
	ck_assert_int_eq(d.action, REC_NOOP);
	ck_assert_int_eq(d.requeue_after_ms, 3600 * 1000);
	in.now_ms += 1000;
	in.run = REC_RUN_EXITED;
	in.outcome = 1;
	rec_decide(&in, &d);
	ck_assert_int_eq(d.phase, REC_SUCCEEDED);
	in.phase = d.phase;
	in.completion_ms = in.now_ms;
	rec_decide(&in, &d);
	ck_assert_int_eq(d.action, REC_NOOP);
	ck_assert_int_eq(d.requeue_after_ms, 60 * 1000);
	in.now_ms += d.requeue_after_ms;
	rec_decide(&in, &d);
	ck_assert_int_eq(d.action, REC_DELETE);
}
END_TEST

START_TEST(test_phase_names)
{
	static const char *names[] = { "Pending", "Waiting", "Queued", "Running",
				       "Succeeded", "Failed", "Stopped" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		enum rec_phase p = REC_FAILED;
		ck_assert_str_eq(rec_phase_name((enum rec_phase)i), names[i]);
		ck_assert_int_eq(rec_phase_parse(names[i], &p), 0);
		ck_assert_int_eq(p, (int)i);
		ck_assert(rec_phase_terminal(p) == (i >= REC_SUCCEEDED));
	}
	enum rec_phase p = REC_QUEUED;
	ck_assert_int_eq(rec_phase_parse("running", &p), -EINVAL);
	ck_assert_int_eq(rec_phase_parse("", &p), -EINVAL);
	ck_assert_int_eq(rec_phase_parse(NULL, &p), -EINVAL);
	ck_assert_int_eq(p, REC_QUEUED);
	ck_assert_str_eq(rec_phase_name((enum rec_phase)42), "Unknown");
}
END_TEST

/* ---- rec_find_cycle --------------------------------------------------- */

struct gnode {
	const char *name;
	const char *deps[4];
};

struct graph {
	const struct gnode *nodes;
	size_t n;
	int calls;
	int fail_on;  /* index of a node whose lookup fails with -EIO, or -1 */
};

static int graph_deps(void *ctx, const char *name, const char *const **deps, size_t *n)
{
	struct graph *g = ctx;
	g->calls++;
	for (size_t i = 0; i < g->n; i++) {
		if (strcmp(g->nodes[i].name, name) != 0)
			continue;
		if ((int)i == g->fail_on)
			return -EIO;
		size_t k = 0;
		while (k < 4 && g->nodes[i].deps[k])
			k++;
		*deps = g->nodes[i].deps;
		*n = k;
		return 0;
	}
	return -ENOENT;
}

static const struct gnode G[] = {
	{ "a", { "b" } },      { "b", { "c" } },      { "c", { "a" } },
	{ "d", { "e", "a" } }, { "e", { "f" } },      { "f", { 0 } },
	{ "self", { "self" } }, { "top", { "l", "r", "ghost" } },
	{ "l", { "f" } },      { "r", { "f", "e" } },
};

START_TEST(test_cycle)
{
	struct graph g = { G, ARRAY_SIZE(G), 0, -1 };
	char path[128], err[128] = "";

	ck_assert_int_eq(rec_find_cycle("a", graph_deps, &g, 0, path, sizeof(path), err,
					sizeof(err)), 1);
	ck_assert_str_eq(path, "a -> b -> c -> a");
	/* d is not on the cycle but depends on it: the cycle is reported. */
	ck_assert_int_eq(rec_find_cycle("d", graph_deps, &g, 0, path, sizeof(path), err,
					sizeof(err)), 1);
	ck_assert_str_eq(path, "a -> b -> c -> a");
	ck_assert_int_eq(rec_find_cycle("self", graph_deps, &g, 0, path, sizeof(path), err,
					sizeof(err)), 1);
	ck_assert_str_eq(path, "self -> self");
	/* A diamond with a missing node is no cycle. */
	strcpy(path, "untouched");
	ck_assert_int_eq(rec_find_cycle("top", graph_deps, &g, 0, path, sizeof(path), err,
					sizeof(err)), 0);
	ck_assert_str_eq(path, "untouched");
	ck_assert_int_eq(rec_find_cycle("nosuch", graph_deps, &g, 0, path, sizeof(path), err,
					sizeof(err)), 0);
	/* Truncated path. */
	char small[12];
	ck_assert_int_eq(rec_find_cycle("a", graph_deps, &g, 0, small, sizeof(small), err,
					sizeof(err)), 1);
	ck_assert(str_endswith(small, "..."));
	ck_assert(str_startswith(small, "a -> "));
}
END_TEST

START_TEST(test_cycle_errors)
{
	struct graph g = { G, ARRAY_SIZE(G), 0, 4 /* "e" */ };
	char path[64], err[160] = "";

	ck_assert_int_eq(rec_find_cycle("d", graph_deps, &g, 0, path, sizeof(path), err,
					sizeof(err)), -EIO);
	ck_assert_msg(strstr(err, "\"e\""), "%s", err);
	g.fail_on = -1;
	ck_assert_int_eq(rec_find_cycle("top", graph_deps, &g, 3, path, sizeof(path), err,
					sizeof(err)), -E2BIG);
	ck_assert_msg(strstr(err, "more than 3 tasks"), "%s", err);
	ck_assert_int_eq(rec_find_cycle(NULL, graph_deps, &g, 0, path, sizeof(path), err,
					sizeof(err)), -EINVAL);
}
END_TEST

/* Chain n0 -> n1 -> ... -> n<len-1>; layered diamonds when `wide`. */
struct gen {
	int len;
	bool wide;
	int calls;
	char a[16], b[16];
	const char *v[2];
};

static int gen_deps(void *ctx, const char *name, const char *const **deps, size_t *n)
{
	struct gen *g = ctx;
	int i = 0, side = 0;
	g->calls++;
	if (sscanf(name, "n%d_%d", &i, &side) < 1)
		return -ENOENT;
	if (i + 1 >= g->len) {
		*n = 0;
		return 0;
	}
	snprintf(g->a, sizeof(g->a), "n%d_0", i + 1);
	snprintf(g->b, sizeof(g->b), "n%d_1", i + 1);
	g->v[0] = g->a;
	g->v[1] = g->b;
	*deps = g->v;
	*n = g->wide ? 2 : 1;
	return 0;
}

START_TEST(test_cycle_bounds)
{
	char path[64], err[160] = "";
	struct gen deep = { .len = REC_CYCLE_MAX_DEPTH + 10 };
	ck_assert_int_eq(rec_find_cycle("n0_0", gen_deps, &deep, 0, path, sizeof(path), err,
					sizeof(err)), -ELOOP);
	ck_assert_msg(strstr(err, "deeper than"), "%s", err);

	struct gen ok = { .len = REC_CYCLE_MAX_DEPTH };
	ck_assert_int_eq(rec_find_cycle("n0_0", gen_deps, &ok, 0, path, sizeof(path), err,
					sizeof(err)), 0);

	/* 40 layers of 2 fully connected nodes: 2^40 paths, 80 nodes.  Each
	 * node must be expanded once. */
	struct gen wide = { .len = 40, .wide = true };
	ck_assert_int_eq(rec_find_cycle("n0_0", gen_deps, &wide, 0, path, sizeof(path), err,
					sizeof(err)), 0);
	ck_assert_int_eq(wide.calls, 1 + 39 * 2);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("reconcile");
	TCase *t = tcase_create("decide");
	tcase_add_loop_test(t, test_table, 0, (int)ARRAY_SIZE(cases));
	tcase_add_test(t, test_long_message);
	tcase_add_test(t, test_walk);
	tcase_add_test(t, test_phase_names);
	suite_add_tcase(s, t);
	t = tcase_create("cycle");
	tcase_add_test(t, test_cycle);
	tcase_add_test(t, test_cycle_errors);
	tcase_add_test(t, test_cycle_bounds);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
