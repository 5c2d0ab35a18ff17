/* SPDX-License-Identifier: MIT */
/*
 * local/local.h - the local backend: renders a run plan into a run directory
 * (workspace, private home, files, git checkouts, task.md) and runs its
 * command under a detached supervisor, optionally inside bubblewrap.
 *
 * Owns, per run, the directory `run_dir`:
 *   workspace/       the agent's cwd (/workspace in the sandbox)
 *   home/            its $HOME (/home/agent in the sandbox)
 *   tmp/             its /tmp
 *   log              the combined stdout+stderr within log_cap bytes: its
 *                    head as it comes, its tail when the run ends, a
 *                    "[paddock] N bytes cut here" line between them
 *   supervisor.json  (0600) what the supervisor needs, written by
 *                    local_start(): never a secret value
 *   supervisor.pid   "PID STARTTIME START_MS": the supervisor's identity
 *   result.json      written once, atomically, when the run has ended
 *
 * The supervisor is a program of its own, never a fork of the caller
 * (the controller: threads, a SQLite page cache holding Secrets, an HTTP
 * listener) that goes on running: local_start() double-forks (setsid)
 * and the grandchild execs `EXE __supervise RUN_DIR` with no_new_privs,
 * an environment of PATH (and LD_LIBRARY_PATH, if the caller has one)
 * and no descriptor but 0-2 (/dev/null) and LOCAL_SUP_FD_* below.  It
 * reads supervisor.json, takes the command's environment (secret values
 * included) from the memfd on LOCAL_SUP_FD_ENV and reports "0 started"
 * or the error on LOCAL_SUP_FD_STATUS.  It survives the caller being
 * killed; a restarted controller only calls local_observe() again.
 * Nothing here is ever run twice: a second local_start() on the same
 * run_dir fails with -EEXIST.
 *
 * EXE, the first of: local_spec.supervisor_exe; when the running
 * program's main() called local_supervisor_dispatch() (the paddock
 * binary), paddock-supervisor (local/supmain.c: the same code, linking a
 * handful of libraries where paddock links 39) beside the running program
 * (a build tree) or in PADDOCK_LIBEXECDIR when the program runs from
 * PADDOCK_BINDIR (an install), opened once and executed through that
 * descriptor, else the running program itself through /proc/self/exe (a
 * paddock copied elsewhere): either way a supervisor is what its
 * controller found when it started its first run, even after an upgrade
 * replaced the file; $PADDOCK_SUPERVISOR, an absolute path (programs that
 * call local_start() but are not paddock: the unit tests, which
 * tests/Makefile.am points at the build tree's paddock-supervisor).
 * None: local_start() fails saying so.
 *
 * The sink (struct local_sink: the driver's parser of the output) cannot
 * cross an exec as function pointers.  Either the caller names its driver
 * (local_spec.sink_rebuild: driver, config file, plugin directories) and
 * the supervisor reads that config, loads those plugins, instantiates
 * that driver alone and parses with control/pipeline's sink: no process
 * holds anything of the caller's; or (no sink_rebuild) the callbacks run
 * in a "sink process" forked from the caller beside the supervisor, which
 * first closes every descriptor but its socket to the supervisor
 * (LOCAL_SUP_FD_SINK), becomes uid 65534 when root, is made non-dumpable
 * with no_new_privs, and then gets each line over that socket.  The
 * second form keeps callers that cannot name a driver working (the unit
 * tests' sinks, the local backend until it sets sink_rebuild).
 *
 * The fence (docs/sandbox.md): as root, each run takes a host uid of its
 * own (local/ident.c), workspace/home/tmp are handed to it, and bwrap
 * runs as that uid in a user namespace made for the run, with a seccomp
 * filter (local/seccomp.c) and, given limits, a cgroup of its own
 * (local/cgroup.c); the supervisor enforces the writable-space limit.
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
#include <sys/types.h>

#include "base/run_limits.h"
#include "control/plan.h"
#include "base/util.h"
#include "proxy/egress.h"

struct pd_git; /* base/conf.h */

/* The longest output line handed to sink->line; longer lines are cut. */
#define LOCAL_LINE_MAX (64 * 1024)
/* Seconds between SIGTERM and SIGKILL on timeout, stop or exit. */
#define LOCAL_KILL_GRACE_S 5
/* Where the sandbox sees the run's directories and helper. */
#define LOCAL_SANDBOX_WORKSPACE "/workspace"
#define LOCAL_SANDBOX_HOME "/home/agent"
#define LOCAL_SANDBOX_LIB "/paddock_lib.sh"
/* The uid and gid the agent has inside the sandbox's user namespace. */
#define LOCAL_SANDBOX_UID 1000
/* Descriptors the command's bwrap finds its seccomp filter and user
 * namespace on, and the passwd and group files the sandbox sees
 * (local_etc_fds). */
#define LOCAL_FD_SECCOMP 10
#define LOCAL_FD_USERNS 11
#define LOCAL_FD_PASSWD 12
#define LOCAL_FD_GROUP 13
/* The most binds of a run's own (readOnlyPaths included). */
#define LOCAL_BINDS_MAX 64

/* Secret lookup.  On success *value is owned by the caller, who releases
 * it with secure_free(*value, *len).  -ENOENT if the Secret or key is
 * missing; the message goes into err and never holds a value. */
struct local_secrets {
	void *ctx;
	int (*get)(void *ctx, const char *ns, const char *name, const char *key, char **value,
		   size_t *len, char *err, size_t errlen);
};

/* The core's stream consumers.  Never called in the caller's process:
 * see "The sink" above. */
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

/* The hook that lets the supervisor build the sink itself (see "The sink"
 * above), so that the callbacks of local_spec.sink are not used at all:
 * the driver whose parser reads the output (pipeline_sink_init()'s
 * `driver`), the config file the caller loaded (pd_config.path; NULL: the
 * built-in defaults) and the plugin directories it searched
 * (pd_config.plugin_dirs, PADDOCK_PLUGIN_PATH applied; NULL-terminated;
 * NULL: the config's).  The supervisor enables no other plugin.  All
 * copied into supervisor.json.  (Not in struct local_sink: callers fill
 * that one positionally.)  The local backend's start_run() would pass
 *     { e.driver, rt->cfg->path, (const char *const *)rt->cfg->plugin_dirs.v }
 * for the sink it now builds with pipeline_sink_init(). */
struct local_sink_rebuild {
	const char *driver;
	const char *config_path;
	const char *const *plugin_dirs;
	const char *plugin_file; /* the driver's .so the caller loaded, or NULL */
};

/* The run's network (paddock.yaml network.egress; docs/sandbox.md):
 *   HOST   the host's network, as any process (egress: open);
 *   NONE   a network namespace of its own with only loopback up: no
 *          route anywhere, no host loopback, no host abstract sockets,
 *          no host port to listen on (egress: none);
 *   PROXY  that, plus Paddock's egress proxy: a socket listening on
 *          127.0.0.1:LOCAL_PROXY_PORT inside the run's namespace, served
 *          by the supervisor from the host's, which connects only where
 *          `allow` and the address policy let it (egress: allowlist).
 *          HTTP_PROXY/HTTPS_PROXY (both cases) and NO_PROXY are set.
 * As root the namespace is made by the command's process before it
 * becomes the run's uid (so the agent has no capability over it); as a
 * normal user bwrap makes it (--unshare-net), and PROXY needs root. */
enum local_net_mode { LOCAL_NET_HOST = 0, LOCAL_NET_NONE, LOCAL_NET_PROXY };
#define LOCAL_PROXY_PORT EGRESS_PROXY_PORT
#define LOCAL_ROUTE_PORT EGRESS_ROUTE_PORT
#define LOCAL_ROUTE_ENDPOINT EGRESS_ROUTE_ENDPOINT
#define LOCAL_ROUTE_ENV "\x01paddock-route"
/* RUN_DIR/egress.jsonl: the proxy's refusals, one JSON object a line
 * ({host, port, rule, reason, addr}), at most 1000, and its summary at
 * the end; made at its first line (none for a run that used no network). */
#define LOCAL_EGRESS_EVENTS "egress.jsonl"
/* RUN_DIR/egress-traffic.json: the proxy's counts per allowed host so far
 * (proxy/traffic.h's egress_traffic_json), rewritten by the supervisor
 * every LOCAL_TRAFFIC_EVERY_MS while they change and once at the end. */
#define LOCAL_EGRESS_TRAFFIC "egress-traffic.json"
#define LOCAL_TRAFFIC_EVERY_MS 2000
struct local_network {
	enum local_net_mode mode;
	const char *const *allow;     /* PROXY: allowlist rules, NULL-terminated */
	bool allow_loopback, allow_private; /* PROXY: destination addresses */
	const char *events_path;      /* PROXY: where refused connections are
				       * recorded (JSON lines); NULL: RUN_DIR/egress.jsonl */
	/* PROXY with the plan's credential route (plan->route): a second
	 * socket, 127.0.0.1:LOCAL_ROUTE_PORT in the run's namespace, where
	 * the proxy puts the credential in place of the placeholder.  The
	 * value crosses to the supervisor in the environment memfd as the
	 * entry LOCAL_ROUTE_ENV "=value", which never reaches the command. */
	const char *route_upstream;   /* NULL: no route */
	const char *route_header, *route_prefix, *route_placeholder;
	const char *route_ca_file;    /* CA bundle for an https upstream; NULL: the system's */
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
	const struct pd_git *git_hosts; /* paddock.yaml's git: SSH host keys (known
				       * hosts, trustOnFirstUse); NULL: none, so
				       * an SSH fetch needs a Secret's known_hosts */
	const char *ns;               /* secret namespace; NULL: plan->secret_ns */
	const struct local_secrets *secrets; /* NULL: any secret reference fails */
	const struct local_sink *sink;       /* may be NULL */
	const char *uid_slot_dir;     /* as root: the run takes a uid of its own from
				       * uid_base..+uid_count, locked through a file
				       * here.  NULL: no uid change (not root) */
	long uid_base, uid_count;
	const struct run_limits *limits; /* NULL: none */
	const char *const *private_paths; /* never bound into the sandbox, nor
				       * anything above them: the state directory,
				       * the config file's directory; may be NULL */
	const char *cgroup_root;      /* NULL: /sys/fs/cgroup */
	const char *self_cgroup;      /* NULL: /proc/self/cgroup */
	const char *bwrap_path;       /* NULL: BWRAP_PATH */
	const char *git_path;         /* NULL: GIT_PATH */
	const char *supervisor_exe;   /* absolute path of a paddock binary to run
				       * the supervisor with; NULL: see the top */
	const struct local_sink_rebuild *sink_rebuild; /* NULL: `sink` runs in a
				       * sink process (see the top) */
	struct local_network net;     /* zero: the host's network */
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

/* local_start() without the wait: returns once the supervisor is forked,
 * with *status_fd (owned, close-on-exec, non-blocking) the descriptor its
 * report comes on; readable when there is something to read (poll it).
 * The run counts as started from here: its start lock is held, so a
 * second start fails with -EEXIST.  On failure *status_fd is -1.  *sid
 * is the session the supervisor runs in (for local_start_abort). */
int local_start_async(const struct local_spec *s, int *status_fd, pid_t *sid, char *err,
		      size_t errlen);

/* Read the report on `fd` into msg (cap bytes, *len read so far; start
 * with *len 0).  1: not complete yet; 0: started; a negative errno with
 * the reason in err, exactly as local_start() would fail ("the
 * supervisor did not report back" when it died first). */
int local_start_report(int fd, char *msg, size_t cap, size_t *len, const char *run_dir, char *err,
		       size_t errlen);

/* How long a supervisor has to report its start (setup, cgroup, bwrap,
 * proxy) before the start counts as failed and its session is killed. */
#define LOCAL_START_REPORT_MS 30000

/* local_start_report() until it is complete, at most timeout_ms; then
 * local_start_late().  What local_start() waits with. */
int local_start_wait(int fd, char *msg, size_t cap, size_t *len, const char *run_dir, pid_t sid,
		     long timeout_ms, char *err, size_t errlen);

/* A start not reported within timeout_ms: kill the supervisor's session
 * (local_start_abort) and return -ETIMEDOUT with the reason in err. */
int local_start_late(const char *run_dir, pid_t sid, long timeout_ms, char *err, size_t errlen);

/* SIGKILL every process of session `sid` (from local_start_async) while
 * run_dir's start lock is still held by it: a start that never reported. */
void local_start_abort(const char *run_dir, pid_t sid);

enum local_state { LOCAL_NONE, LOCAL_RUNNING, LOCAL_EXITED, LOCAL_LOST };

struct local_obs {
	enum local_state state;
	int exit_code;          /* EXITED: the command's exit status (128+N if killed) */
	int term_signal;        /* EXITED: the signal that ended it, or 0 */
	char end_reason[32];    /* "", "Timeout", "Stopped", a limit ("OOMKilled",
				 * "PidsLimitReached", "DiskQuotaExceeded"), or
				 * "SupervisorError": it could not start the command */
	char end_message[256];  /* with a limit: which one, e.g. "memory limit 256Mi ..." */
	long uid;               /* the host uid the run had, or -1 */
	double cpu_seconds;     /* CPU time of the run's cgroup; 0 when unknown */
	int64_t memory_peak;    /* bytes; 0 when unknown */
	int64_t start_ms, end_ms; /* wall clock; 0 when unknown */
	char *result_json;      /* owned: what sink->finish produced, or NULL */
};

/* Fill *o from run_dir.  Returns 0 (state NONE when never started) or a
 * negative errno for an unreadable run.  Release with local_obs_free. */
int local_observe(const char *run_dir, struct local_obs *o);
void local_obs_free(struct local_obs *o); /* NULL-safe */

/* A pidfd (close-on-exec) for the run's supervisor: readable when it has
 * exited, after result.json was written (the controller waits on it
 * instead of polling).  -ENOENT before its supervisor.pid exists, -ESRCH
 * when it is gone, another negative errno. */
int local_pidfd(const char *run_dir);

/* Ask the supervisor to end the run, recording `reason` (LOCAL_STOP_* :
 * end reason "Stopped", "Timeout", "BudgetExceeded").
 * 0 if asked or already exited, -ENOENT if never started, -ESRCH if lost. */
enum { LOCAL_STOP_USER = 1, LOCAL_STOP_TIMEOUT = 2, LOCAL_STOP_BUDGET = 3 };

/* run_dir/usage.json: the driver's usage so far ({"inputTokens",
 * "outputTokens", "costUSD"}, unknown ones absent), rewritten atomically
 * by the supervisor whenever a line changes it (ABI 1.1 parser_peek). */
#define LOCAL_USAGE_FILE "usage.json"
int local_stop(const char *run_dir, int reason);

/* Remove run_dir.  -EBUSY while the run is running. */
int local_cleanup(const char *run_dir, char *err, size_t errlen);

/* The supervisor's entry: call first thing in main() of a program that
 * may start runs (the paddock binary).  For `PROG __supervise RUN_DIR`
 * it runs the supervisor and sets *rc to its exit status (true: return
 * it from main); otherwise it only records that this program can be its
 * own supervisor (local_start() then execs paddock-supervisor or
 * /proc/self/exe, above) and returns false.  Not a command: it is listed nowhere. */
#define LOCAL_SUPERVISE_ARG "__supervise"
bool local_supervisor_dispatch(int argc, char **argv, int *rc);

/* ---- internal, shared by local_*.c ------------------------------- */

/* What the exec'd supervisor finds open (everything else is closed):
 * 0-2 /dev/null; the status pipe to local_start(); the memfd with the
 * command's environment (read and emptied at once); the socket to the
 * sink process, when there is one. */
#define LOCAL_SUP_FD_STATUS 3
#define LOCAL_SUP_FD_ENV 4
#define LOCAL_SUP_FD_SINK 5
/* RUN_DIR itself (a directory descriptor; RUN_DIR/start.lock before
 * 2026-12), flock(2)ed by local_start before it forks and held
 * by the supervisor for its whole life: a run whose supervisor is still
 * coming up (its caller died meanwhile) is seen RUNNING, never NONE, so
 * that nobody starts it a second time. */
#define LOCAL_SUP_FD_START 6
#define LOCAL_SUP_FILE "supervisor.json"

/* local/supervisor.c, in local_start(): write run_dir/supervisor.json
 * (0600) for `s` and the command built for it (`proxy`: the sink runs in
 * a sink process); a memfd holding envp, NUL-separated, at offset 0. */
int local_sup_write(const struct local_spec *s, char *const *argv, char *const *srcs, bool proxy,
		    char *err, size_t errlen);
int local_sup_env_fd(char *const *envp, char *err, size_t errlen);
/* In the sink process (forked from the caller of local_start()): confine
 * this process (every other descriptor closed, uid 65534 when root,
 * no_new_privs, not dumpable), then serve `sink` over the socket `fd`
 * until the supervisor is done. */
_Noreturn void local_sink_process(const struct local_sink *sink, int fd);
/* True once local_supervisor_dispatch() ran in this process. */
bool local_sup_self(void);
/* Open paddock-supervisor for this program now (local_supervisor_dispatch
 * does, at the start): runs use that file, whatever replaces it later. */
void local_supervisor_pin(void);
/* local/run.c: the supervisor proper, once everything is in place but
 * what `late` (may be NULL) sets up (the sink): it is called after the
 * command's process is forked, while that process enters the run's
 * cgroup; a failure of it ends the run as SupervisorError. */
_Noreturn void local_supervise(const struct local_spec *s, char **argv, char **srcs, char **envp,
			       int sfd, int (*late)(void *ctx, char *err, size_t errlen),
			       void *late_ctx);
/* Close every descriptor from `from` up. */
void local_close_from(int from);

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
 * the entrypoint directly.  *srcs: the host paths to stage for it
 * (local_stage_binds), empty when bwrap runs as the Paddock user.  Both
 * owned. */
int local_argv_build(const struct local_spec *s, struct strv *argv, struct strv *srcs, char *err,
		     size_t errlen);
/* Check once per process that bubblewrap exists and can build a sandbox
 * with a user namespace here: one made by Paddock (`own_uid`, as root) or
 * by bwrap itself (unprivileged). */
int local_sandbox_check(const char *bwrap, bool own_uid, char *err, size_t errlen);
/* A memfd holding the sandbox's seccomp BPF program (compiled once per
 * process), positioned at 0.  Owned; -errno with err on failure. */
int local_seccomp_fd(char *err, size_t errlen);
/* Take a free uid of base..base+count-1: returns the fd whose flock holds
 * it (owned: the uid is free again when it is closed). */
int local_uid_claim(const char *slot_dir, long base, long count, uid_t *uid, char *err,
		    size_t errlen);
/* Root only: a user namespace owned by host uid `host`, mapping
 * LOCAL_SANDBOX_UID (uid and gid) to `host` and nothing else.  Returns an
 * owned fd of it. */
int local_userns_new(uid_t host, char *err, size_t errlen);
/* Where a run's bind sources are staged: a directory every uid may
 * traverse, covered by a tmpfs in the run's private mount namespace. */
const char *local_stage_dir(void);
/* Root only, in the forked child before it drops to the run's uid: a
 * private mount namespace with srcs[i] bind-mounted at STAGE/i, so that
 * bwrap, as the run's uid, reaches them whatever the modes above them.
 * 0 or -errno. */
int local_stage_binds(char *const *srcs);
/* The passwd and group files the sandbox sees (`agent` LOCAL_SANDBOX_UID,
 * root, nobody), each on a pipe at LOCAL_FD_PASSWD and LOCAL_FD_GROUP
 * for bwrap's --ro-bind-data: no file per run on disk.  Called last
 * before the exec (it may replace whatever those descriptors held).
 * 0 or -errno. */
int local_etc_fds(void);
/* Root only: become `uid` (and gid), with no supplementary groups, an
 * empty capability bounding set and no_new_privs.  0 or -errno. */
int local_drop_to(uid_t uid);
/* The first of `privates` (NULL-terminated) that `path` contains or lies
 * inside, compared as real paths (*inside says which; one it lies inside
 * is preferred), or NULL. */
const char *local_private_overlap(const char *path, const char *const *privates, bool *inside);
/* -EPERM with a message naming `field` when `path` contains or lies
 * inside one of `privates` (local_private_overlap). */
int local_check_bind(const char *path, const char *const *privates, const char *field, char *err,
		     size_t errlen);
/* True when the run takes a host uid of its own (isolation, as root). */
bool local_uses_slots(const struct local_spec *s);
/* Where the agent CLI named by the plan (PADDOCK_AGENT_BIN) lives on the
 * host, as bwrap arguments that make it visible read-only at the same
 * path; appended to `a`.  Nothing for a CLI below /usr. */
void local_cli_binds(const struct local_spec *s, struct strv *a, struct strv *srcs);

#endif
