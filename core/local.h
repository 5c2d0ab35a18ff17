/* SPDX-License-Identifier: MIT */
/*
 * local.h - the local backend: renders a run plan into a run directory
 * (workspace, private home, files, git checkouts, task.md) and runs its
 * command under a detached supervisor, optionally inside bubblewrap.
 *
 * Owns, per run, the directory `run_dir`:
 *   workspace/       the agent's cwd (/workspace in the sandbox)
 *   home/            its $HOME (/home/agent in the sandbox)
 *   log              the combined stdout+stderr, capped at log_cap bytes
 *   supervisor.pid   "PID STARTTIME START_MS": the supervisor's identity
 *   result.json      written once, atomically, when the run has ended
 *
 * The supervisor is a forked child of the calling process (double fork +
 * setsid), so the sink callbacks (driver parsers in loaded plugins) run in
 * it.  It survives the caller being killed; a restarted controller only
 * calls local_observe() again.  Nothing here is ever run twice: a second
 * local_start() on the same run_dir fails with -EEXIST.
 *
 * Secrets: the plan holds references only.  Values are fetched through
 * `secrets` at prepare (secret files) and start (secret env), passed to
 * the command through its environment (never argv), and zeroed after use.
 * See docs/sandbox.md.
 */
#ifndef PADDOCK_LOCAL_H
#define PADDOCK_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plan.h"
#include "util.h"

/* The longest output line handed to sink->line; longer lines are cut. */
#define LOCAL_LINE_MAX (64 * 1024)
/* Seconds between SIGTERM and SIGKILL on timeout, stop or exit. */
#define LOCAL_KILL_GRACE_S 5
/* Where the sandbox sees the run's directories and helper. */
#define LOCAL_SANDBOX_WORKSPACE "/workspace"
#define LOCAL_SANDBOX_HOME "/home/agent"
#define LOCAL_SANDBOX_LIB "/paddock_lib.sh"

/* Secret lookup.  On success *value is owned by the caller, who releases
 * it with secure_free(*value, *len).  -ENOENT if the Secret or key is
 * missing; the message goes into err and never holds a value. */
struct local_secrets {
	void *ctx;
	int (*get)(void *ctx, const char *ns, const char *name, const char *key, char **value,
		   size_t *len, char *err, size_t errlen);
};

/* The core's stream consumers, called IN THE SUPERVISOR process. */
struct local_sink {
	void *ctx;
	/* Each line of the combined stdout+stderr, without its newline; `len`
	 * bytes (at most LOCAL_LINE_MAX), not NUL-terminated.  May be NULL. */
	void (*line)(void *ctx, const char *line, size_t len);
	/* At the end: append one JSON value (normally an object) describing
	 * the parsed results into `out`.  Invalid JSON is recorded as null.
	 * May be NULL. */
	void (*finish)(void *ctx, int exit_code, struct buf *out);
};

/* Everything borrowed, for the duration of the call. */
struct local_spec {
	const char *run_dir;          /* created by local_prepare (0700) */
	const struct run_plan *plan;
	const char *task_md;          /* written to workspace/task.md, passed as the last argv */
	const char *entrypoint_path;  /* host path; bound read-only at plan->command.
				       * NULL: plan->command is run as is */
	const char *lib_path;         /* host path of paddock_lib.sh, or NULL */
	bool isolation;               /* true: bubblewrap; false: run directly */
	const char *const *ro_paths;  /* extra read-only binds, NULL-terminated; may be NULL */
	long timeout_s;               /* 0: none */
	size_t log_cap;               /* bytes kept in run_dir/log; 0: 8 MiB */
	long git_timeout_s;           /* per git command; 0: 600 s */
	const char *git_lock_dir;     /* slot files for limiting concurrent fetches; NULL: no limit */
	int git_max_concurrent;       /* with git_lock_dir; <= 0: no limit */
	const char *ns;               /* secret namespace; NULL: plan->secret_ns */
	const struct local_secrets *secrets; /* NULL: any secret reference fails */
	const struct local_sink *sink;       /* may be NULL */
	const char *bwrap_path;       /* NULL: BWRAP_PATH */
	const char *git_path;         /* NULL: GIT_PATH */
};

/* Create run_dir (0700) with workspace/ and home/, perform the git
 * fetches, write the plan's files with their exact modes (secret files
 * default to 0600) and task.md (0644).  Never follows a symbolic link
 * below the workspace or home.  May be called again until local_start. */
int local_prepare(const struct local_spec *s, char *err, size_t errlen);

/* Start the detached supervisor; returns once it has recorded its pid and
 * spawned the command (or with the reason it could not).  -EEXIST if the
 * run was already started. */
int local_start(const struct local_spec *s, char *err, size_t errlen);

enum local_state { LOCAL_NONE, LOCAL_RUNNING, LOCAL_EXITED, LOCAL_LOST };

struct local_obs {
	enum local_state state;
	int exit_code;          /* EXITED: the command's exit status (128+N if killed) */
	int term_signal;        /* EXITED: the signal that ended it, or 0 */
	char end_reason[32];    /* "", "Timeout", "Stopped" (or "SupervisorError":
				 * it could not spawn the command) */
	int64_t start_ms, end_ms; /* wall clock; 0 when unknown */
	char *result_json;      /* owned: what sink->finish produced, or NULL */
};

/* Fill *o from run_dir.  Returns 0 (state NONE when never started) or a
 * negative errno for an unreadable run.  Release with local_obs_free. */
int local_observe(const char *run_dir, struct local_obs *o);
void local_obs_free(struct local_obs *o); /* NULL-safe */

/* Ask the supervisor to end the run (end reason "Stopped").  0 if asked
 * or already exited, -ENOENT if never started, -ESRCH if lost. */
int local_stop(const char *run_dir);

/* Remove run_dir.  -EBUSY while the run is running. */
int local_cleanup(const char *run_dir);

/* ---- internal, shared by local_*.c ------------------------------- */

/* Open (creating with `dmode` when `create`) the directory `rel` below
 * `dirfd`, one component at a time, never following a symbolic link.
 * Returns an O_DIRECTORY fd or a negative errno; err names the component. */
int local_open_dir(int dirfd, const char *rel, bool create, unsigned dmode, char *err,
		   size_t errlen);
/* Write `len` bytes at `rel` below `dirfd` with exactly `mode`; parents
 * are created 0755.  Refuses symbolic links anywhere on the path. */
int local_write_at(int dirfd, const char *rel, const void *data, size_t len, unsigned mode,
		   char *err, size_t errlen);

/* Copy `url` without any userinfo ("https://u:p@h/x" -> "https://h/x").  Owned. */
char *local_url_redact(const char *url);

/* Perform the plan's git fetches into the workspace open at `ws_fd`. */
int local_git_fetch_all(const struct local_spec *s, int ws_fd, char *err, size_t errlen);

/* Resolve the plan's environment (secret references included) into a
 * NULL-terminated envp for the command.  Owned: free with local_env_free,
 * which zeroes every entry. */
int local_env_build(const struct local_spec *s, char ***envp, char *err, size_t errlen);
void local_env_free(char **envp);
/* The argv that runs the command: bwrap ... -- command args task_md, or
 * the entrypoint directly.  Owned. */
int local_argv_build(const struct local_spec *s, struct strv *argv, char *err, size_t errlen);
/* Check once per process that bubblewrap exists and works here. */
int local_sandbox_check(const char *bwrap, char *err, size_t errlen);

#endif
