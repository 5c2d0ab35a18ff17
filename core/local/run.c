/* SPDX-License-Identifier: MIT */
/*
 * local/run.c - the local backend's run directory and supervisor.
 *
 * local_start() double-forks (setsid) and execs the supervisor, a fresh
 * `paddock-supervisor __supervise RUN_DIR` (local/supervisor.c carries the spec, the
 * environment and the sink across; local.h says how), a subreaper that
 * owns the run until it ends: it spawns the command in its own process group,
 * reads its combined output line by line (bounded), keeps a capped log,
 * feeds the sink, enforces the timeout, obeys SIGTERM (local_stop), kills
 * and reaps the whole process tree, and writes result.json exactly once
 * (link() of an fsynced temporary file).  supervisor.pid records the pid
 * and /proc starttime, so that a reused pid is never mistaken for it.
 */
#include "config.h"
#include "local/local.h"
#include "local/cgroup.h"
#include "proxy/egress.h"
#include "proxy/traffic.h"
#include "base/headtail.h"
#include "base/quantity.h"

#include <dirent.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PID_FILE "supervisor.pid"
/* The start lock (LOCAL_SUP_FD_START) is on the run directory itself;
 * this file is only where a paddock before 2026-12 put it. */
#define START_LOCK_OLD "start.lock"
#define SECRET_FILES "secret-files"

/* The secret files local_prepare wrote (codex's auth.json ...), removed
 * when the run ends, without following a link the agent may have put in
 * their way.  A copy the agent made elsewhere is not: placeholders are
 * the answer to that (docs/sandbox.md). */
static void remove_secret_files(const char *run_dir)
{
	char *path = xasprintf("%s/" SECRET_FILES, run_dir), *data = NULL;
	size_t len = 0;
	if (read_file(path, 1 << 20, &data, &len) < 0) {
		free(path);
		return;
	}
	for (char *line = data, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *rel = strchr(line, ' ');
		if (!rel)
			continue;
		*rel++ = '\0';
		char *root = xasprintf("%s/%s", run_dir, str_eq(line, "home") ? "home" : "workspace");
		int rfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		free(root);
		if (rfd < 0)
			continue;
		char *slash = strrchr(rel, '/'), e2[256];
		int dfd = rfd;
		if (slash) {
			*slash = '\0';
			dfd = local_open_dir(rfd, rel, false, 0, e2, sizeof(e2));
		}
		if (dfd >= 0)
			(void)unlinkat(dfd, slash ? slash + 1 : rel, 0);
		if (dfd >= 0 && dfd != rfd)
			(void)close(dfd);
		(void)close(rfd);
	}
	(void)unlink(path);
	free(data);
	free(path);
}
#define RESULT_FILE "result.json"
#define LOG_FILE "log"
/* "OFFSET UNIX_MS\n" per chunk of the log: when its bytes arrived
 * (paddock logs --timestamps/--since); at most one entry per
 * LOG_TIMES_EVERY_MS, and no more bytes than the log's cap. */
#define LOG_TIMES_FILE "log.times"
#define LOG_TIMES_EVERY_MS 10
/* Times of the held tail's bytes (by offset in the stream), written to
 * log.times with the tail; when full, thinned to every other one. */
#define LOG_TAIL_TIMES 2048
#define DEFAULT_LOG_CAP (8u * 1024 * 1024)
#define RESULT_SINK_CAP (1024 * 1024)
#define RESULT_READ_CAP (4 * 1024 * 1024)

/* ---- prepare -------------------------------------------------------- */

static int fresh_dir(int rfd, const char *name, unsigned mode, char *err, size_t errlen)
{
	char e2[256];
	struct stat st;
	if (fstatat(rfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		/* A previous, failed prepare: start again from nothing. */
		int fd = openat(rfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return errf(err, errlen, -errno, "cannot open the run directory: %s", strerror(errno));
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", fd, name);
		int rc = rm_rf(path);
		close(fd);
		if (rc < 0)
			return errf(err, errlen, rc, "cannot remove the old %s: %s", name, strerror(-rc));
	}
	if (mkdirat(rfd, name, 0700) < 0)
		return errf(err, errlen, -errno, "cannot create %s: %s", name, strerror(errno));
	int fd = local_open_dir(rfd, name, false, 0, e2, sizeof(e2));
	if (fd < 0)
		return errf(err, errlen, fd, "%s", e2);
	if (fchmod(fd, mode) < 0) {
		int e = errno;
		close(fd);
		return errf(err, errlen, -e, "cannot chmod %s: %s", name, strerror(e));
	}
	return fd;
}

static int write_plan_file(const struct local_spec *s, const struct plan_file *f, int root_fd,
			   char *err, size_t errlen)
{
	char e2[384];
	const char *o = f->origin ? f->origin : "plan";
	if (f->is_dir) {
		int fd = local_open_dir(root_fd, f->path, true, f->mode ? f->mode : 0755, e2, sizeof(e2));
		if (fd < 0)
			return errf(err, errlen, fd, "%s: %s", o, e2);
		int rc = 0;
		if (f->mode && fchmod(fd, f->mode) < 0)
			rc = errf(err, errlen, -errno, "%s: chmod \"%s\": %s", o, f->path, strerror(errno));
		close(fd);
		return rc;
	}
	int rc;
	if (f->secret_name) {
		const char *ns = s->ns ? s->ns : s->plan->secret_ns;
		if (!s->secrets || !s->secrets->get)
			return errf(err, errlen, -ENOENT, "%s: no secret store to read Secret %s from", o,
				    f->secret_name);
		char *val = NULL;
		size_t len = 0;
		char serr[256] = "";
		rc = s->secrets->get(s->secrets->ctx, ns, f->secret_name, f->secret_key, &val, &len,
				     serr, sizeof(serr));
		if (rc < 0)
			return errf(err, errlen, rc, "%s: Secret %s/%s key %s: %s", o, ns ? ns : "",
				    f->secret_name, f->secret_key, serr[0] ? serr : strerror(-rc));
		rc = local_write_at(root_fd, f->path, val, len, f->mode ? f->mode : 0600, e2,
				    sizeof(e2));
		secure_free(val, len);
	} else {
		rc = local_write_at(root_fd, f->path, f->data, f->len, f->mode, e2, sizeof(e2));
	}
	if (rc < 0)
		return errf(err, errlen, rc, "%s: %s", o, e2);
	return 0;
}

int local_prepare(const struct local_spec *s, char *err, size_t errlen)
{
	if (!s || !s->run_dir || !*s->run_dir || !s->plan)
		return errf(err, errlen, -EINVAL, "local: run directory and plan are required");
	if (s->plan->rc < 0)
		return errf(err, errlen, s->plan->rc, "%s", s->plan->err);
	int rc = mkdir_p(s->run_dir, 0700);
	if (rc < 0)
		return errf(err, errlen, rc, "cannot create %s: %s", s->run_dir, strerror(-rc));
	int rfd = open(s->run_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rfd < 0)
		return errf(err, errlen, -errno, "cannot open %s: %s", s->run_dir, strerror(errno));
	int ws = -1, home = -1, tmp = -1;
	if (fchmod(rfd, 0700) < 0) {
		rc = errf(err, errlen, -errno, "cannot chmod %s: %s", s->run_dir, strerror(errno));
		goto out;
	}
	if (faccessat(rfd, PID_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	    faccessat(rfd, RESULT_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		rc = errf(err, errlen, -EEXIST, "run %s was already started", s->run_dir);
		goto out;
	}
	if ((ws = fresh_dir(rfd, "workspace", 0755, err, errlen)) < 0 ||
	    (home = fresh_dir(rfd, "home", 0700, err, errlen)) < 0 ||
	    (tmp = fresh_dir(rfd, "tmp", 0700, err, errlen)) < 0) {
		rc = ws < 0 ? ws : home < 0 ? home : tmp;
		goto out;
	}
	if ((rc = local_git_fetch_all(s, ws, err, errlen)) < 0)
		goto out;
	struct buf secrets;
	buf_init(&secrets, 256);
	for (size_t i = 0; i < s->plan->n_files; i++) {
		const struct plan_file *f = &s->plan->files[i];
		int root = f->root == PADDOCK_ROOT_HOME ? home : ws;
		if ((rc = write_plan_file(s, f, root, err, errlen)) < 0) {
			buf_free(&secrets);
			goto out;
		}
		if (f->secret_name && !f->is_dir)
			(void)buf_printf(&secrets, "%s %s\n", f->root == PADDOCK_ROOT_HOME ? "home" : "workspace",
					 f->path);
	}
	/* Which files hold a secret: the supervisor removes them when the
	 * run ends (never shown to the agent: outside its directories). */
	if (secrets.len) {
		char e2[256];
		rc = local_write_at(rfd, SECRET_FILES, secrets.data, secrets.len, 0600, e2, sizeof(e2));
		if (rc < 0)
			errf(err, errlen, rc, "%s: %s", SECRET_FILES, e2);
	}
	buf_free(&secrets);
	if (rc < 0)
		goto out;
	if (s->task_md) {
		char e2[256];
		rc = local_write_at(ws, "task.md", s->task_md, strlen(s->task_md), 0644, e2, sizeof(e2));
		if (rc < 0) {
			errf(err, errlen, rc, "task.md: %s", e2);
			goto out;
		}
	}
out:
	if (ws >= 0)
		close(ws);
	if (home >= 0)
		close(home);
	if (tmp >= 0)
		close(tmp);
	close(rfd);
	return rc;
}

/* ---- process identity ------------------------------------------------ */

/* starttime (field 22) and state of /proc/PID/stat; -ESRCH if gone. */
static int proc_stat(pid_t pid, unsigned long long *start, char *state, pid_t *ppid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ESRCH;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	char st = 0;
	int pp = 0;
	unsigned long long t = 0;
	/* ") S ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	 *  utime stime cutime cstime priority nice threads itrealvalue starttime" */
	if (sscanf(p + 1, " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		   &st, &pp, &t) != 3)
		return -EIO;
	if (start)
		*start = t;
	if (state)
		*state = st;
	if (ppid)
		*ppid = pp;
	return 0;
}

struct pidinfo {
	pid_t pid;
	unsigned long long start;
	int64_t start_ms;
};

static int read_pidfile(const char *run_dir, struct pidinfo *pi)
{
	char *path = xasprintf("%s/" PID_FILE, run_dir);
	char *data = NULL;
	int rc = read_file(path, 256, &data, NULL);
	free(path);
	if (rc < 0)
		return rc;
	int pid = 0;
	long long ms = 0;
	unsigned long long st = 0;
	if (sscanf(data, "%d %llu %lld", &pid, &st, &ms) != 3 || pid <= 0)
		rc = -EINVAL;
	free(data);
	if (rc == 0) {
		pi->pid = pid;
		pi->start = st;
		pi->start_ms = ms;
	}
	return rc;
}

static bool pid_alive(const struct pidinfo *pi)
{
	unsigned long long st;
	char state;
	if (proc_stat(pi->pid, &st, &state, NULL) < 0)
		return false;
	return st == pi->start && state != 'Z' && state != 'X';
}

/* ---- supervisor ------------------------------------------------------ */

struct sup {
	const struct local_spec *s;
	int log_fd;
	size_t log_cap, log_kept;
	struct headtail ht;    /* the log's head is written at once, its tail held */
	bool held_noted;
	int times_fd;
	size_t times_kept;
	int64_t times_last_ms;
	struct { uint64_t off; int64_t ms; } tail_times[LOG_TAIL_TIMES];
	size_t tail_times_n;
	char *line;
	size_t line_len;
	bool skipping;
	pid_t child;
	int child_status;
	bool child_done;
	const char *end_reason;
	char end_message[256];
	bool term_sent;
	int64_t kill_at;
	struct cg_run *cg;     /* NULL: no cgroup (not root, or none here) */
	long uid;              /* the run's host uid, or -1 */
	int64_t next_check_ms; /* next limits check */
	int64_t check_every_ms;
};

static void deliver(struct sup *u, const char *p, size_t n)
{
	if (n && p[n - 1] == '\r')
		n--;
	if (u->s->sink && u->s->sink->line)
		u->s->sink->line(u->s->sink->ctx, p, n);
}

static void times_record(struct sup *u, int64_t off, int64_t ms)
{
	char rec[48];
	int n = snprintf(rec, sizeof(rec), "%lld %lld\n", (long long)off, (long long)ms);
	if (u->times_fd >= 0 && u->times_kept < u->log_cap && n > 0 &&
	    write(u->times_fd, rec, (size_t)n) == n)
		u->times_kept += (size_t)n;
}

static void note_time(struct sup *u)
{
	int64_t ms = now_wall_ms();
	if (u->times_fd < 0 || ms - u->times_last_ms < LOG_TIMES_EVERY_MS || u->times_kept >= u->log_cap)
		return;
	off_t off = lseek(u->log_fd, 0, SEEK_END);
	if (off < 0)
		return;
	times_record(u, (int64_t)off, ms);
	u->times_last_ms = ms;
}

/* When the tail's bytes from stream offset `off` arrived.  Samples the
 * ring no longer holds go first (but the last one before it: the time of
 * its first byte); then, still full, every other one. */
static void tail_time(struct sup *u, uint64_t off)
{
	int64_t ms = now_wall_ms();
	size_t n = u->tail_times_n;
	if (n && ms - u->tail_times[n - 1].ms < LOG_TIMES_EVERY_MS)
		return;
	if (n == LOG_TAIL_TIMES) {
		uint64_t held = u->ht.seen - u->ht.ring_len;
		size_t drop = 0;
		while (drop + 1 < n && u->tail_times[drop + 1].off <= held)
			drop++;
		if (drop) {
			memmove(u->tail_times, u->tail_times + drop, (n - drop) * sizeof(u->tail_times[0]));
			n -= drop;
		} else {
			for (size_t i = 0; i < n / 2; i++)
				u->tail_times[i] = u->tail_times[2 * i];
			n /= 2;
		}
	}
	u->tail_times[n].off = off;
	u->tail_times[n].ms = ms;
	u->tail_times_n = n + 1;
}

static void write_all(struct sup *u, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(u->log_fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		u->log_kept += (size_t)w;
		p += w;
		n -= (size_t)w;
	}
}

/* Into the log, within its cap: the head at once, the rest held for the
 * end (finish_run), the bytes between them cut. */
static void log_put(struct sup *u, const char *p, size_t n)
{
	if (u->log_fd < 0 || !n)
		return;
	size_t take = headtail_feed(&u->ht, p, n);
	if (take) {
		note_time(u);
		write_all(u, p, take);
	}
	if (take == n)
		return;
	tail_time(u, u->ht.seen - (n - take));
	if (u->held_noted)
		return;
	/* Someone following the log would see it stop: say why (this line
	 * and the marker fit in the cap's HEADTAIL_RESERVE). */
	u->held_noted = true;
	char note[160];
	int len = snprintf(note, sizeof(note),
			   "%s[paddock] the log is past half of limits.logBytesPerRun: its end is "
			   "held and written when the run ends\n",
			   u->ht.head_nl ? "" : "\n");
	note_time(u);
	write_all(u, note, (size_t)len < sizeof(note) ? (size_t)len : sizeof(note) - 1);
	u->ht.head_nl = true; /* the marker needs no newline of its own now */
}

/* A line of the supervisor's own in the log (never to the parser). */
static void log_note(struct sup *u, const char *fmt, ...) PD_PRINTF(2, 3);
static void log_note(struct sup *u, const char *fmt, ...)
{
	char line[640];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		log_put(u, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* The held tail after its marker; its bytes' times into log.times.
 * Returns the bytes cut. */
static uint64_t log_finish(struct sup *u)
{
	if (u->log_fd < 0)
		return 0;
	struct buf rest;
	buf_init(&rest, 0);
	uint64_t t0 = 0, seen = u->ht.seen;
	uint64_t cut = headtail_finish(&u->ht, &rest, &t0);
	off_t base = lseek(u->log_fd, 0, SEEK_END);
	if (rest.len && base >= 0 && u->times_fd >= 0) {
		int64_t at = (int64_t)base + (int64_t)(rest.len - (seen - t0));
		size_t i = 0;
		while (i + 1 < u->tail_times_n && u->tail_times[i + 1].off <= t0)
			i++;
		for (; i < u->tail_times_n; i++) {
			uint64_t off = u->tail_times[i].off;
			times_record(u, at + (off > t0 ? (int64_t)(off - t0) : 0), u->tail_times[i].ms);
		}
	}
	write_all(u, rest.data, rest.len);
	buf_free(&rest);
	return cut;
}

static void feed(struct sup *u, const char *p, size_t n)
{
	log_put(u, p, n);
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl ? (size_t)(nl - p) : n;
		if (!u->skipping) {
			size_t room = LOCAL_LINE_MAX - u->line_len;
			size_t take = seg < room ? seg : room;
			memcpy(u->line + u->line_len, p, take);
			u->line_len += take;
			if (u->line_len == LOCAL_LINE_MAX && (seg > take || !nl)) {
				/* Too long: deliver what fits, drop the rest of the line. */
				deliver(u, u->line, u->line_len);
				u->line_len = 0;
				u->skipping = true;
			}
		}
		if (nl) {
			if (!u->skipping)
				deliver(u, u->line, u->line_len);
			u->line_len = 0;
			u->skipping = false;
			seg++;
		}
		p += seg;
		n -= seg;
	}
}

/* Signal every descendant of this process (found through /proc) and the
 * command's process group.  Returns how many processes were signalled. */
static int kill_tree(struct sup *u, int sig)
{
	if (u->child > 0 && !u->child_done)
		kill(-u->child, sig);
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	size_t n = 0, cap = 256;
	pid_t *pids = xmalloc(cap * sizeof(*pids)), *ppids = xmalloc(cap * sizeof(*ppids));
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long v = strtol(e->d_name, &end, 10);
		if (*end || v <= 0)
			continue;
		pid_t pp;
		char st;
		if (proc_stat((pid_t)v, NULL, &st, &pp) < 0 || st == 'Z')
			continue;
		if (n == cap) {
			cap *= 2;
			pids = xrealloc(pids, cap * sizeof(*pids));
			ppids = xrealloc(ppids, cap * sizeof(*ppids));
		}
		pids[n] = (pid_t)v;
		ppids[n] = pp;
		n++;
	}
	closedir(d);
	/* Mark descendants: repeat until no new process joins the set. */
	bool *in = xcalloc(n ? n : 1, sizeof(bool));
	pid_t self = getpid();
	bool grew = true;
	while (grew) {
		grew = false;
		for (size_t i = 0; i < n; i++) {
			if (in[i])
				continue;
			bool parent_in = ppids[i] == self;
			for (size_t j = 0; j < n && !parent_in; j++)
				parent_in = in[j] && pids[j] == ppids[i];
			if (parent_in) {
				in[i] = true;
				grew = true;
			}
		}
	}
	int count = 0;
	for (size_t i = 0; i < n; i++) {
		if (in[i] && kill(pids[i], sig) == 0)
			count++;
	}
	free(in);
	free(pids);
	free(ppids);
	return count;
}

static void begin_kill(struct sup *u, const char *reason)
{
	if (reason && !u->end_reason)
		u->end_reason = reason;
	if (u->term_sent)
		return;
	u->term_sent = true;
	u->kill_at = now_mono_ms() + LOCAL_KILL_GRACE_S * 1000;
	kill_tree(u, SIGTERM);
}

/* Reap whatever exited; true when no child is left at all. */
static bool reap(struct sup *u)
{
	for (;;) {
		int st;
		pid_t w = waitpid(-1, &st, WNOHANG);
		if (w > 0) {
			if (w == u->child) {
				u->child_status = st;
				u->child_done = true;
			}
			continue;
		}
		return w < 0 && errno == ECHILD;
	}
}

static int write_result(const char *run_dir, const char *json)
{
	char *tmp = xasprintf("%s/" RESULT_FILE ".tmp.%d", run_dir, (int)getpid());
	char *dst = xasprintf("%s/" RESULT_FILE, run_dir);
	int rc = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	size_t len = strlen(json), off = 0;
	while (off < len) {
		ssize_t n = write(fd, json + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		off += (size_t)n;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	/* link() never replaces: result.json is written once. */
	if (rc == 0 && link(tmp, dst) < 0)
		rc = -errno;
	unlink(tmp);
	if (rc == 0) {
		int dfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
out:
	free(tmp);
	free(dst);
	return rc;
}

static void status_msg(int sfd, int rc, const char *msg)
{
	if (sfd < 0)
		return;
	dprintf(sfd, "%d %s", rc, msg);
}

/* A limit was hit: end the run with `reason`.  The first reason stays. */
static void limit_hit(struct sup *u, const char *reason, const char *fmt, ...) PD_PRINTF(3, 4);
static void limit_hit(struct sup *u, const char *reason, const char *fmt, ...)
{
	if (u->end_reason)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(u->end_message, sizeof(u->end_message), fmt, ap);
	va_end(ap);
	log_note(u, "\n[paddock] %s: %s\n", reason, u->end_message);
	begin_kill(u, reason);
}

/* The kernel's verdicts (OOM kills, refused forks) and the run's
 * writable space against its limits. */
static void check_limits(struct sup *u)
{
	const struct run_limits *l = u->s->limits;
	if (!l)
		return;
	char v[32];
	struct cg_usage cu;
	if (u->cg && cg_usage_read(u->cg, &cu) == 0) {
		if (cu.oom_kills > 0 && l->memory_bytes > 0) {
			quantity_format(l->memory_bytes, QUANTITY_BYTES, v, sizeof(v));
			limit_hit(u, "OOMKilled",
				  "memory limit %s exceeded: the kernel killed %lld process%s of the run",
				  v, (long long)cu.oom_kills, cu.oom_kills == 1 ? "" : "es");
		} else if (cu.pids_max_hits > 0 && l->pids > 0) {
			limit_hit(u, "PidsLimitReached",
				  "process limit %lld reached: %lld fork%s refused", (long long)l->pids,
				  (long long)cu.pids_max_hits, cu.pids_max_hits == 1 ? " was" : "s were");
		}
	}
	if (l->storage_bytes <= 0 || u->end_reason)
		return;
	/* Walk the writable space; walking a big tree costs, so a slow walk
	 * makes the next one wait longer (at most every 1 s, at least 10 s). */
	int64_t t0 = now_mono_ms(), total = 0;
	static const char *const dirs[] = {"workspace", "home", "tmp"};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		int64_t bytes = 0, entries = 0;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", u->s->run_dir, dirs[i]);
		int rc = tree_usage(path, &bytes, &entries, 2000000);
		total += bytes;
		if (rc == -E2BIG) {
			limit_hit(u, "DiskQuotaExceeded",
				  "ephemeral-storage: more than 2000000 files in %s", dirs[i]);
			return;
		}
	}
	int64_t took = now_mono_ms() - t0;
	u->check_every_ms = took * 10 < 1000 ? 1000 : took * 10 > 10000 ? 10000 : took * 10;
	if (total > l->storage_bytes) {
		quantity_format(l->storage_bytes, QUANTITY_BYTES, v, sizeof(v));
		limit_hit(u, "DiskQuotaExceeded",
			  "ephemeral-storage limit %s exceeded: workspace, home and /tmp hold %lld MiB",
			  v, (long long)(total >> 20));
	}
}

static void finish_run(struct sup *u, int64_t start_ms)
{
	const struct local_spec *s = u->s;
	int64_t end_ms = now_wall_ms();
	remove_secret_files(s->run_dir);
	if (u->line_len && !u->skipping)
		deliver(u, u->line, u->line_len);
	uint64_t cut = log_finish(u);
	int code = -1, sig = 0;
	if (u->child_done && WIFEXITED(u->child_status)) {
		code = WEXITSTATUS(u->child_status);
	} else if (u->child_done && WIFSIGNALED(u->child_status)) {
		sig = WTERMSIG(u->child_status);
		code = 128 + sig;
	}
	struct buf out;
	buf_init(&out, RESULT_SINK_CAP);
	if (s->sink && s->sink->finish)
		s->sink->finish(s->sink->ctx, code, &out);
	json_object *res = NULL;
	if (out.len) {
		json_tokener *tok = json_tokener_new();
		res = json_tokener_parse_ex(tok, out.data, (int)out.len);
		if (json_tokener_get_error(tok) != json_tokener_success) {
			json_object_put(res);
			res = NULL;
		}
		json_tokener_free(tok);
	}
	buf_free(&out);
	char st[32], et[32];
	format_time(start_ms, st, sizeof(st));
	format_time(end_ms, et, sizeof(et));
	json_object *o = json_object_new_object();
	json_object_object_add(o, "exitCode", json_object_new_int(code));
	json_object_object_add(o, "signal", json_object_new_int(sig));
	json_object_object_add(o, "endReason", json_object_new_string(u->end_reason ? u->end_reason : ""));
	if (u->end_message[0])
		json_object_object_add(o, "endMessage", json_object_new_string(u->end_message));
	json_object_object_add(o, "uid", json_object_new_int64(u->uid));
	struct cg_usage cu;
	if (u->cg && cg_usage_read(u->cg, &cu) == 0) {
		json_object_object_add(o, "cpuSeconds", json_object_new_double((double)cu.cpu_ns / 1e9));
		json_object_object_add(o, "memoryPeakBytes", json_object_new_int64(cu.memory_peak));
	}
	json_object_object_add(o, "startTime", json_object_new_string(st));
	json_object_object_add(o, "endTime", json_object_new_string(et));
	json_object_object_add(o, "startMs", json_object_new_int64(start_ms));
	json_object_object_add(o, "endMs", json_object_new_int64(end_ms));
	json_object_object_add(o, "logBytes", json_object_new_int64((int64_t)u->log_kept));
	json_object_object_add(o, "logDropped", json_object_new_int64((int64_t)cut));
	json_object_object_add(o, "result", res);
	write_result(s->run_dir, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static int claim_pidfile(const char *run_dir, int64_t start_ms)
{
	unsigned long long st = 0;
	if (proc_stat(getpid(), &st, NULL, NULL) < 0)
		return -EIO;
	char *tmp = xasprintf("%s/" PID_FILE ".tmp.%d", run_dir, (int)getpid());
	char *dst = xasprintf("%s/" PID_FILE, run_dir);
	char data[96];
	int len = snprintf(data, sizeof(data), "%d %llu %lld\n", (int)getpid(), st, (long long)start_ms);
	int rc = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (write(fd, data, (size_t)len) != len)
		rc = -EIO;
	/* No fsync: the file names a process, and no process outlives the
	 * power loss that could tear it (a torn file reads as a lost run,
	 * local_observe).  result.json keeps its fsync: it is the only
	 * record of how a finished run ended until the controller has put
	 * it in the store, and the store survives a power loss. */
	close(fd);
	/* Two concurrent starts: only one link() succeeds. */
	if (rc == 0 && link(tmp, dst) < 0)
		rc = -errno;
	unlink(tmp);
out:
	free(tmp);
	free(dst);
	return rc;
}

/* Close [lo, hi]; async-signal-safe. */
static void close_fds(unsigned lo, unsigned hi)
{
	if (lo > hi || close_range(lo, hi, 0) == 0)
		return;
	struct rlimit rl;
	unsigned max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1u << 20) ? (unsigned)rl.rlim_cur
										 : (1u << 20);
	for (unsigned fd = lo; fd <= hi && fd < max; fd++)
		(void)close((int)fd);
}

void local_close_from(int from)
{
	close_fds((unsigned)from, ~0U);
}

struct child_fds {
	int seccomp, userns; /* -1: none */
	char **srcs;         /* bind sources, NULL-terminated (may be NULL) */
	int net_sock;        /* PROXY: where the proxy's listening socket goes; -1 */
	int handoff;         /* the rest from the supervisor (handoff_send); -1 */
	int handoff_peer;    /* the supervisor's end, closed in the child */
};

/* What the supervisor hands the command's process once its setup is
 * done (setup_ident): the run's uid, and the seccomp filter and user
 * namespace as descriptors.  Nothing (EOF): the setup failed. */
struct handoff {
	long uid;
	int have[2]; /* seccomp, userns */
};

static int handoff_send(int sock, long uid, const struct child_fds *cf)
{
	struct handoff h = { .uid = uid, .have = { cf->seccomp >= 0, cf->userns >= 0 } };
	int fds[2], n = 0;
	if (cf->seccomp >= 0)
		fds[n++] = cf->seccomp;
	if (cf->userns >= 0)
		fds[n++] = cf->userns;
	char cbuf[CMSG_SPACE(sizeof(fds))];
	memset(cbuf, 0, sizeof(cbuf));
	struct iovec iov = { &h, sizeof(h) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (n) {
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(h) ? 0 : -1;
}

/* In the command's process: wait for the handoff.  -1: none came. */
static int handoff_take(int sock, long *uid, struct child_fds *cf)
{
	struct handoff h;
	int fds[2] = { -1, -1 };
	char cbuf[CMSG_SPACE(sizeof(fds))];
	struct iovec iov = { &h, sizeof(h) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t r;
	do
		r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r != (ssize_t)sizeof(h))
		return -1;
	size_t n = 0;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(fds, CMSG_DATA(cm), sizeof(int) * (n < 2 ? n : 2));
	}
	if (n != (size_t)(!!h.have[0] + !!h.have[1]))
		return -1;
	size_t i = 0;
	cf->seccomp = h.have[0] ? fds[i++] : -1;
	cf->userns = h.have[1] ? fds[i++] : -1;
	*uid = h.uid;
	return 0;
}

/* The run's own network namespace, made as root before the run's uid is
 * taken (the agent gets no capability over it): loopback up, nothing
 * else; with the proxy, a socket listening on 127.0.0.1:LOCAL_PROXY_PORT
 * in it, handed to the supervisor, which serves it from the host's. */
static int net_enter(const struct local_spec *s, int net_sock)
{
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	int rc = 0;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		rc = -errno;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (rc == 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		rc = -errno;
	(void)close(fd);
	if (rc < 0 || s->net.mode != LOCAL_NET_PROXY)
		return rc;
	/* The proxy's socket, and the credential route's when there is one. */
	int fds[2] = { -1, -1 }, nfd = s->net.route_upstream ? 2 : 1;
	static const int ports[2] = { LOCAL_PROXY_PORT, LOCAL_ROUTE_PORT };
	for (int i = 0; rc == 0 && i < nfd; i++) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)ports[i]),
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
		    listen(fds[i], 128) < 0)
			rc = -errno;
	}
	if (rc == 0) {
		char cbuf[CMSG_SPACE(sizeof(fds))];
		memset(cbuf, 0, sizeof(cbuf));
		char one = 'L';
		struct iovec iov = { &one, 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfd) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfd);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfd);
		if (sendmsg(net_sock, &mh, MSG_NOSIGNAL) < 0)
			rc = -errno;
	}
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			(void)close(fds[i]);
	return rc;
}

/* Put the filter and the namespace on the descriptors argv names;
 * both go out of the way first (>= 256), so neither move clobbers the
 * other. */
static int place_fds(const struct child_fds *cf)
{
	int tmp[2] = {-1, -1}, want[2] = {LOCAL_FD_SECCOMP, LOCAL_FD_USERNS};
	int from[2] = {cf->seccomp, cf->userns};
	for (int i = 0; i < 2; i++)
		if (from[i] >= 0 && (tmp[i] = fcntl(from[i], F_DUPFD_CLOEXEC, 256)) < 0)
			return -1;
	for (int i = 0; i < 2; i++)
		if (tmp[i] >= 0 && (dup2(tmp[i], want[i]) < 0 || close(tmp[i]) < 0))
			return -1;
	return 0;
}

static _Noreturn void spawn_child(const struct local_spec *s, const struct sup *u, char **argv,
				  char **envp, int out_w, const struct child_fds *cf, pid_t sup_pid,
				  int status_fd)
{
	/* The supervisor's report to the controller is the supervisor's
	 * alone: held here, it would stay open past the supervisor's death
	 * while this process waits for its sandbox. */
	(void)close(status_fd);
	setpgid(0, 0);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int dn = open("/dev/null", O_RDONLY);
	if (dn < 0 || dup2(dn, 0) < 0 || dup2(out_w, 1) < 0 || dup2(out_w, 2) < 0)
		_exit(126);
	/* Into the run's cgroup before anything of the run exists.  The
	 * move waits for an RCU grace period (the kernel's cgroup threadgroup
	 * lock), milliseconds this process spends while the supervisor goes
	 * on with its setup. */
	if (u->cg && cg_attach(u->cg, getpid()) < 0) {
		dprintf(2, "paddock: cannot enter the run's cgroup: %s\n", strerror(errno));
		_exit(126);
	}
	/* Only the supervisor holds its end: its death is our EOF. */
	(void)close(cf->handoff_peer);
	struct child_fds got = *cf;
	long uid = -1;
	if (handoff_take(cf->handoff, &uid, &got) < 0)
		_exit(126); /* the supervisor's setup failed: it says why */
	(void)close(cf->handoff);
	cf = &got;
	if (place_fds(cf) < 0) {
		dprintf(2, "paddock: cannot pass the sandbox its descriptors: %s\n", strerror(errno));
		_exit(126);
	}
	int src = local_stage_binds(cf->srcs);
	if (src < 0) {
		dprintf(2, "paddock: cannot stage the sandbox's binds: %s\n", strerror(-src));
		_exit(126);
	}
	if (s->net.mode != LOCAL_NET_HOST && geteuid() == 0) {
		int nrc = net_enter(s, cf->net_sock);
		if (nrc < 0) {
			dprintf(2, "paddock: cannot give the run a network namespace of its own: %s\n",
				strerror(-nrc));
			_exit(126);
		}
	}
	if (cf->net_sock >= 0)
		(void)close(cf->net_sock);
	/* The run's own uid from here on: bwrap too is never root. */
	if (uid >= 0 && local_drop_to((uid_t)uid) < 0) {
		dprintf(2, "paddock: cannot become uid %ld: %s\n", uid, strerror(errno));
		_exit(126);
	}
	/* A fresh, empty session keyring: nothing of the controller's. */
	(void)syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, NULL);
	/* No core dumps of agent processes into the host's handler; a file
	 * never larger than the run's whole writable space. */
	struct rlimit rl = {0, 0};
	(void)setrlimit(RLIMIT_CORE, &rl);
	if (s->limits && s->limits->storage_bytes > 0) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)s->limits->storage_bytes;
		(void)setrlimit(RLIMIT_FSIZE, &rl);
	}
	/* If the supervisor is killed, the run must not go on unsupervised:
	 * the command (or bwrap, whose --die-with-parent then takes the
	 * sandbox down) gets SIGKILL.  Checked against the race with an
	 * already dead parent. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != sup_pid)
		_exit(125);
	if (!s->isolation) {
		char *ws = xasprintf("%s/workspace", s->run_dir);
		if (chdir(ws) < 0) {
			dprintf(2, "paddock: cannot enter %s: %s\n", ws, strerror(errno));
			_exit(126);
		}
	}
	umask(022);
	int erc = s->isolation ? local_etc_fds() : 0;
	if (erc < 0) {
		dprintf(2, "paddock: cannot pass the sandbox its passwd and group: %s\n", strerror(-erc));
		_exit(126);
	}
	/* Only 0-2 and the sandbox's own descriptors reach bwrap. */
	close_fds(3, LOCAL_FD_SECCOMP - 1);
	close_fds(s->isolation ? LOCAL_FD_GROUP + 1 : LOCAL_FD_USERNS + 1, ~0U);
	execve(argv[0], argv, envp);
	dprintf(2, "paddock: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Hand the freshly prepared directories to the run's uid. */
static int chown_run(const struct local_spec *s, uid_t uid, char *err, size_t errlen)
{
	static const char *const dirs[] = {"workspace", "home", "tmp"};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", s->run_dir, dirs[i]);
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return errf(err, errlen, -errno, "cannot open %s: %s", path, strerror(errno));
		int rc = tree_chown(fd, uid, uid, err, errlen);
		close(fd);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* What the command needs beyond argv, envp and its cgroup: its uid,
 * user namespace and seccomp filter.  Runs in the supervisor while the
 * command's process, forked already, enters the cgroup; handed to it by
 * handoff_send. */
static int setup_ident(struct sup *u, struct child_fds *cf, char *err, size_t errlen)
{
	const struct local_spec *s = u->s;
	int rc;
	if (s->isolation) {
		if ((cf->seccomp = local_seccomp_fd(err, errlen)) < 0)
			return cf->seccomp;
	}
	if (local_uses_slots(s)) {
		uid_t uid;
		/* The lock fd stays open (close-on-exec) for the supervisor's life. */
		if ((rc = local_uid_claim(s->uid_slot_dir, s->uid_base, s->uid_count, &uid, err,
					  errlen)) < 0)
			return rc;
		u->uid = (long)uid;
		if ((rc = chown_run(s, uid, err, errlen)) < 0)
			return rc;
		if ((cf->userns = local_userns_new(uid, err, errlen)) < 0)
			return cf->userns;
	}
	return 0;
}

/* The run's cgroup, before the command's process is forked. */
static int setup_cgroup(struct sup *u, char *err, size_t errlen)
{
	const struct local_spec *s = u->s;
	int rc;
	const struct run_limits *l = s->limits;
	if (l && (l->cpu_milli > 0 || l->memory_bytes > 0 || l->pids > 0)) {
		const char *id = strrchr(s->run_dir, '/');
		char name[300];
		snprintf(name, sizeof(name), "paddock/%s", id ? id + 1 : s->run_dir);
		char e2[512];
		rc = cg_create(s->cgroup_root ? s->cgroup_root : "/sys/fs/cgroup",
			       s->self_cgroup ? s->self_cgroup : "/proc/self/cgroup", name, l, &u->cg,
			       e2, sizeof(e2));
		if (rc < 0 && geteuid() == 0)
			return errf(err, errlen, rc, "resource limits: %s", e2);
		/* Not root and no delegated cgroup: say so in the run's log. */
		if (rc < 0)
			log_note(u, "[paddock] warning: cpu, memory and process limits are not enforced: %s\n",
				 e2);
	}
	return 0;
}

/* In the exec'd supervisor (local/supervisor.c), which has nothing open
 * but 0-2 (/dev/null), the status pipe `sfd` and the sink's socket. */
/* ---- the egress proxy (network.egress: allowlist) ----------------------- */

#define EGRESS_EVENTS_MAX 1000 /* lines in the events file; the rest are counted */

struct proxy_events {
	int fd;       /* RUN_DIR/egress.jsonl, O_APPEND; opened at its first line */
	char *path;   /* where it goes */
	long written, dropped;
	struct egress_traffic traffic; /* per allowed host, for egress-traffic.json */
	uint64_t saved;                /* traffic.version last written */
	int64_t saved_ms;
};

static struct proxy_events proxy_ev = { .fd = -1 };

/* The events file, made when there is a first line for it: a run that
 * is refused nothing (most) leaves none, one file fewer to create per
 * run (backend.c's record_egress reads a missing one as nothing). */
static int events_fd(struct proxy_events *pe)
{
	if (pe->fd < 0 && pe->path) {
		pe->fd = open(pe->path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (pe->fd < 0) { /* once: the lines are lost, the counts are not */
			free(pe->path);
			pe->path = NULL;
		}
	}
	return pe->fd;
}

/* A refused connection (or a rate-limited count of clients rejected
 * before naming a target), as one JSON line the controller turns into
 * an Event; every allowed request counted.  Called from the proxy's
 * threads, one at a time. */
static void proxy_event(void *ctx, const struct egress_event *ev)
{
	struct proxy_events *pe = ctx;
	egress_traffic_add(&pe->traffic, ev);
	if (ev->allowed)
		return;
	if (pe->written >= EGRESS_EVENTS_MAX) {
		pe->dropped++;
		return;
	}
	if (events_fd(pe) < 0)
		return;
	json_object *o = egress_event_json(ev);
	char *line = xasprintf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	if (write(pe->fd, line, strlen(line)) > 0)
		pe->written++;
	free(line);
}

/* RUN_DIR/egress-traffic.json when the counts changed and the last write
 * is LOCAL_TRAFFIC_EVERY_MS old (or `now_too`: the run's end). */
static void traffic_save(const char *run_dir, bool now_too)
{
	struct proxy_events *pe = &proxy_ev;
	int64_t now = now_mono_ms();
	if (!now_too && now - pe->saved_ms < LOCAL_TRAFFIC_EVERY_MS)
		return;
	/* Nothing counted since the last write: no document to build. */
	if (egress_traffic_version(&pe->traffic) == pe->saved)
		return;
	uint64_t version;
	json_object *doc = egress_traffic_json(&pe->traffic, &version);
	const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	char *path = xasprintf("%s/" LOCAL_EGRESS_TRAFFIC, run_dir);
	if (write_file_atomic(path, text, strlen(text), 0600) == 0)
		pe->saved = version;
	free(path);
	pe->saved_ms = now;
	json_object_put(doc);
}

/* The events file's last line, past its cap, as the sidecar's log ends:
 * the run's complete counts (egress_log_parse reads both alike). */
static void proxy_summary(void)
{
	struct proxy_events *pe = &proxy_ev;
	/* Nothing allowed, refused or rejected: no summary to give. */
	if (egress_traffic_version(&pe->traffic) == 0 || events_fd(pe) < 0)
		return;
	json_object *o = egress_summary_json(&pe->traffic);
	char *line = xasprintf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	ssize_t w = write(pe->fd, line, strlen(line)); /* a lost summary: the lines are summed */
	(void)w;
	free(line);
}

/* Receive the listening socket the command's process made in the run's
 * network namespace (net_enter) and serve it with the run's policy. */
static struct egress *proxy_start(const struct local_spec *s, int sock, const char *route_value,
				  char *err, size_t errlen)
{
	struct pollfd pf = { .fd = sock, .events = POLLIN };
	int fds[2] = { -1, -1 }, want = s->net.route_upstream ? 2 : 1;
	if (poll(&pf, 1, 10000) == 1) {
		char one;
		char cbuf[CMSG_SPACE(sizeof(fds))];
		struct iovec iov = { &one, 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) > 0) {
			struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
			if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
				size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				memcpy(fds, CMSG_DATA(cm), sizeof(int) * (n < 2 ? n : 2));
				for (size_t i = 2; i < n; i++) {
					int extra;
					memcpy(&extra, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
					(void)close(extra);
				}
			}
		}
	}
	int lfd = fds[0];
	if (lfd < 0 || (want == 2 && (fds[1] < 0 || !route_value))) {
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				(void)close(fds[i]);
		errf(err, errlen, -EIO, "the run's network namespace did not hand over the proxy's sockets");
		return NULL;
	}
	struct egress_policy pol = { .mode = EGRESS_ALLOWLIST,
				     .allow_loopback = s->net.allow_loopback,
				     .allow_private = s->net.allow_private };
	for (size_t i = 0; s->net.allow && s->net.allow[i]; i++)
		if (egress_policy_add(&pol, s->net.allow[i], err, errlen) < 0) {
			egress_policy_free(&pol);
			(void)close(lfd);
			return NULL;
		}
	proxy_ev.path = s->net.events_path ? xstrdup(s->net.events_path)
					   : xasprintf("%s/" LOCAL_EGRESS_EVENTS, s->run_dir);
	egress_traffic_init(&proxy_ev.traffic);
	struct egress_route route = {
		.upstream = s->net.route_upstream,
		.header = s->net.route_header,
		.prefix = s->net.route_prefix,
		.placeholder = s->net.route_placeholder,
		.value = route_value,
		.value_len = route_value ? strlen(route_value) : 0,
		.ca_file = s->net.route_ca_file,
	};
	struct egress *eg = egress_start_routed(&pol, lfd, want == 2 ? &route : NULL, fds[1],
						proxy_event, &proxy_ev, err, errlen);
	egress_policy_free(&pol);
	if (!eg) {
		(void)close(lfd);
		if (fds[1] >= 0)
			(void)close(fds[1]);
	}
	return eg;
}

/* Take the routed credential (LOCAL_ROUTE_ENV) out of envp: it is the
 * proxy's, never the command's.  Owned result, or NULL. */
static char *route_take(char **envp)
{
	size_t nl = strlen(LOCAL_ROUTE_ENV);
	char *val = NULL;
	size_t j = 0;
	for (size_t i = 0; envp && envp[i]; i++) {
		if (!strncmp(envp[i], LOCAL_ROUTE_ENV "=", nl + 1)) {
			secure_free(val, val ? strlen(val) : 0);
			val = xstrdup(envp[i] + nl + 1);
			secure_free(envp[i], strlen(envp[i]));
			continue;
		}
		envp[j++] = envp[i];
	}
	if (envp)
		envp[j] = NULL;
	return val;
}

/* A test build's crash of the supervisor before it reports (races.sh):
 * STATE_DIR/test-supervisor-die (the run directory is STATE_DIR/runs/UID,
 * our cwd) names the point, "before-pid", "before-setup" or "after-fork"
 * (the command's process forked, its sandbox not yet handed over); "hang:POINT"
 * makes it hang there instead, alive and silent (signals blocked: only
 * SIGKILL ends it), as a supervisor stuck in its setup would. */
static void test_die(const char *point)
{
#ifdef PADDOCK_TEST_HOOKS
	char buf[32] = "";
	int fd = open("../../test-supervisor-die", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n > 0 && !strncmp(buf, point, strlen(point)))
		_exit(3);
	if (n > 5 && !strncmp(buf, "hang:", 5) && !strncmp(buf + 5, point, strlen(point)))
		for (;;)
			(void)pause();
#else
	(void)point;
#endif
}

_Noreturn void local_supervise(const struct local_spec *s, char **argv, char **srcs, char **envp,
			       int sfd, int (*late)(void *ctx, char *err, size_t errlen), void *late_ctx)
{
	int64_t start_ms = now_wall_ms();
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_SETMASK, &set, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	/* The controller (or the sink process) may be gone when we write to it. */
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (chdir(s->run_dir) < 0) {
		status_msg(sfd, -errno, "cannot enter the run directory");
		_exit(1);
	}
	test_die("before-pid");
	int rc = claim_pidfile(s->run_dir, start_ms);
	if (rc < 0) {
		status_msg(sfd, rc, rc == -EEXIST ? "run was already started" :
				     "cannot write supervisor.pid");
		_exit(1);
	}
	struct sup u;
	memset(&u, 0, sizeof(u));
	u.s = s;
	u.uid = -1;
	u.check_every_ms = 1000;
	u.log_cap = s->log_cap ? s->log_cap : DEFAULT_LOG_CAP;
	headtail_init(&u.ht, u.log_cap);
	u.log_fd = open(LOG_FILE, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	u.times_fd = open(LOG_TIMES_FILE, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	u.line = xmalloc(LOCAL_LINE_MAX);
	struct child_fds cf = {-1, -1, srcs, -1, -1, -1};
	char serr[768];
	test_die("before-setup");
	if ((rc = setup_cgroup(&u, serr, sizeof(serr))) < 0) {
		status_msg(sfd, rc, serr);
		u.end_reason = "SupervisorError";
		snprintf(u.end_message, sizeof(u.end_message), "%.200s", serr);
		finish_run(&u, start_ms);
		(void)cg_destroy(u.cg);
		_exit(1);
	}
	int sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	int op[2], hs[2] = {-1, -1};
	if (sigfd < 0 || pipe2(op, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, hs) < 0) {
		status_msg(sfd, -errno, "cannot set up the supervisor");
		u.end_reason = "SupervisorError";
		finish_run(&u, start_ms);
		(void)cg_destroy(u.cg);
		_exit(1);
	}
	fcntl(sfd, F_SETFD, FD_CLOEXEC);
	int netsv[2] = {-1, -1};
	if (s->net.mode == LOCAL_NET_PROXY &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, netsv) < 0) {
		status_msg(sfd, -errno, "cannot set up the egress proxy");
		u.end_reason = "SupervisorError";
		finish_run(&u, start_ms);
		(void)cg_destroy(u.cg);
		_exit(1);
	}
	cf.net_sock = netsv[1];
	cf.handoff = hs[1];
	cf.handoff_peer = hs[0];
	char *route_value = route_take(envp);
	pid_t sup_pid = getpid();
	/* The command's process first, then the rest of the setup (the
	 * driver's parser, uid, user namespace, filter) while it enters the
	 * cgroup: the two waits overlap. */
	u.child = fork();
	if (u.child < 0) {
		status_msg(sfd, -errno, "cannot fork the command");
		u.end_reason = "SupervisorError";
		finish_run(&u, start_ms);
		(void)cg_destroy(u.cg);
		_exit(1);
	}
	if (u.child == 0)
		spawn_child(s, &u, argv, envp, op[1], &cf, sup_pid, sfd);
	setpgid(u.child, u.child);
	test_die("after-fork");
	close(op[1]);
	close(hs[1]);
	if (netsv[1] >= 0)
		close(netsv[1]);
	rc = late ? late(late_ctx, serr, sizeof(serr)) : 0;
	if (rc == 0)
		rc = setup_ident(&u, &cf, serr, sizeof(serr));
	if (rc == 0 && handoff_send(hs[0], u.uid, &cf) < 0)
		rc = errf(serr, sizeof(serr), -errno, "cannot hand the command its sandbox: %s",
			  strerror(errno));
	close(hs[0]);
	if (cf.seccomp >= 0)
		close(cf.seccomp);
	if (cf.userns >= 0)
		close(cf.userns);
	if (rc < 0) {
		/* The command's process never got its sandbox: it exits on
		 * its own (EOF); make sure, and reap it. */
		(void)kill(u.child, SIGKILL);
		while (waitpid(u.child, NULL, 0) < 0 && errno == EINTR)
			;
		/* It may have failed first (entering the cgroup), and said why
		 * on its output: that is the cause, our EPIPE only its echo. */
		char said[256];
		(void)fcntl(op[0], F_SETFL, O_NONBLOCK);
		ssize_t n = read(op[0], said, sizeof(said) - 1);
		while (n > 0 && (said[n - 1] == '\n' || said[n - 1] == '\r'))
			n--;
		if (n > 0) {
			said[n] = '\0';
			size_t l = strlen(serr);
			snprintf(serr + l, sizeof(serr) - l, " (the command's process: %s)", said);
		}
		status_msg(sfd, rc, serr);
		u.end_reason = "SupervisorError";
		snprintf(u.end_message, sizeof(u.end_message), "%.200s", serr);
		u.child = -1;
		finish_run(&u, start_ms);
		(void)cg_destroy(u.cg);
		_exit(1);
	}
	/* The proxy's threads start only now: the command has been forked. */
	struct egress *proxy = NULL;
	if (netsv[0] >= 0) {
		proxy = proxy_start(s, netsv[0], route_value, serr, sizeof(serr));
		close(netsv[0]);
		if (!proxy) {
			status_msg(sfd, -EIO, serr);
			begin_kill(&u, NULL);
		}
	}
	/* The secrets have been handed over; this process no longer needs
	 * them (the proxy keeps its own copy of the routed one). */
	local_env_free(envp);
	secure_free(route_value, route_value ? strlen(route_value) : 0);
	status_msg(sfd, 0, "started");
	close(sfd);

	int64_t deadline = s->timeout_s > 0 ? now_mono_ms() + (int64_t)s->timeout_s * 1000 : 0;
	int out_fd = op[0];
	bool no_children = false;
	for (;;) {
		int64_t now = now_mono_ms();
		int64_t wait = 1000;
		if (deadline && !u.term_sent && deadline - now < wait)
			wait = deadline - now;
		if (u.term_sent && u.kill_at - now < wait)
			wait = u.kill_at - now;
		if (!u.term_sent && u.next_check_ms - now < wait)
			wait = u.next_check_ms - now;
		if (wait < 0)
			wait = 0;
		struct pollfd pf[2] = {{.fd = sigfd, .events = POLLIN}, {.fd = out_fd, .events = POLLIN}};
		int r = poll(pf, out_fd >= 0 ? 2 : 1, (int)wait);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && out_fd >= 0 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			char chunk[65536];
			ssize_t n = read(out_fd, chunk, sizeof(chunk));
			if (n > 0) {
				feed(&u, chunk, (size_t)n);
			} else if (n == 0 || errno != EINTR) {
				close(out_fd);
				out_fd = -1;
			}
		}
		if (r > 0 && (pf[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					continue;
				int why = si.ssi_code == SI_QUEUE ? si.ssi_int : LOCAL_STOP_USER;
				begin_kill(&u, why == LOCAL_STOP_TIMEOUT  ? "Timeout" :
					       why == LOCAL_STOP_BUDGET ? "BudgetExceeded" : "Stopped");
			}
		}
		no_children = reap(&u);
		now = now_mono_ms();
		if (deadline && !u.term_sent && now >= deadline)
			begin_kill(&u, "Timeout");
		/* Limits: on a timer while the command runs, once when it ends
		 * (an OOM kill is often what ended it). */
		if ((!u.term_sent && now >= u.next_check_ms) || (u.child_done && !u.term_sent)) {
			check_limits(&u);
			u.next_check_ms = now_mono_ms() + u.check_every_ms;
		}
		/* The command is done: what it left behind goes too.  No
		 * child left at all (we are the subreaper): nothing to find
		 * in /proc, whose walk costs milliseconds a run. */
		if (u.child_done && !u.term_sent && no_children) {
			u.term_sent = true;
			u.kill_at = now + LOCAL_KILL_GRACE_S * 1000;
		} else if (u.child_done && !u.term_sent) {
			begin_kill(&u, NULL);
		}
		if (u.term_sent && now >= u.kill_at) {
			kill_tree(&u, SIGKILL);
			if (u.cg)
				(void)cg_kill_all(u.cg, 0);
		}
		if (proxy)
			traffic_save(s->run_dir, false);
		if (u.child_done && no_children) {
			if (out_fd < 0)
				break;
			/* Every writer is gone: drain what is left, then stop. */
			int fl = fcntl(out_fd, F_GETFL);
			fcntl(out_fd, F_SETFL, fl | O_NONBLOCK);
			char chunk[65536];
			ssize_t n;
			while ((n = read(out_fd, chunk, sizeof(chunk))) > 0)
				feed(&u, chunk, (size_t)n);
			close(out_fd);
			out_fd = -1;
			break;
		}
	}
	/* Whatever is left in the cgroup (a process that escaped the tree
	 * walk by double-forking under bwrap's init) goes too. */
	if (u.cg)
		(void)cg_kill_all(u.cg, 2000);
	egress_stop(proxy);
	if (proxy) {
		traffic_save(s->run_dir, true);
		proxy_summary();
	}
	finish_run(&u, start_ms);
	(void)cg_destroy(u.cg);
	_exit(0);
}

/* ---- start / observe / stop / cleanup -------------------------------- */

#define SUPERVISOR_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* paddock-supervisor for the running paddock (local.h): in
 * PADDOCK_LIBEXECDIR when it runs from PADDOCK_BINDIR (`make install`),
 * else beside it (a build tree).  It must be as safe to run as a plugin
 * is to load (owned by root or us, not writable by group or others): a
 * paddock run by root from a directory others may write to must not run
 * their file.  Opened once per process, when the program starts
 * (local_supervisor_pin), and executed through that descriptor, so every
 * run of a controller gets the build it started with, even after an
 * upgrade replaced the file.  -1 and shown empty: none (a paddock copied
 * elsewhere supervises with itself). */
static int small_supervisor(char *shown, size_t shownlen)
{
	static int fd = -2;
	static char path[PATH_MAX];
	if (fd != -2) {
		snprintf(shown, shownlen, "%s", fd >= 0 ? path : "");
		return fd;
	}
	fd = -1;
	char self[PATH_MAX], dir[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	char *sl = strrchr(self, '/');
	if (!sl)
		return -1;
	*sl = '\0';
	const char *where = realpath(PADDOCK_BINDIR, dir) && str_eq(dir, self) ? PADDOCK_LIBEXECDIR
									   : self;
	if (snprintf(path, sizeof(path), "%s/paddock-supervisor", where) >= (int)sizeof(path))
		return -1;
	fd = open(path, O_PATH | O_CLOEXEC);
	struct stat st;
	char why[160];
	const char *bad = NULL;
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR) ||
			(bad = file_mode_unsafe(&st, why, sizeof(why))))) {
		if (bad)
			log_warn("paddock-supervisor not used: runs are supervised by paddock itself",
				 "path", path, "reason", bad);
		(void)close(fd);
		fd = -1;
	}
	snprintf(shown, shownlen, "%s", fd >= 0 ? path : "");
	return fd;
}

void local_supervisor_pin(void)
{
	char shown[PATH_MAX];
	(void)small_supervisor(shown, sizeof(shown));
}

/* The program the supervisor runs as (local.h): *exe to execve (or *fd
 * to execveat, -1 for none), and `shown`, its argv[0] (the real path,
 * for ps and /proc/PID/cmdline). */
static int supervisor_exe(const struct local_spec *s, const char **exe, int *fd, char *shown,
			  size_t shownlen, char *err, size_t errlen)
{
	const char *p = s->supervisor_exe;
	*fd = -1;
	if (!p && local_sup_self()) {
		*fd = small_supervisor(shown, shownlen);
		if (*fd >= 0) {
			*exe = shown;
			return 0;
		}
		ssize_t n = readlink("/proc/self/exe", shown, shownlen - 1);
		if (n <= 0)
			return errf(err, errlen, -errno, "cannot resolve /proc/self/exe: %s", strerror(errno));
		shown[n] = '\0';
		*exe = "/proc/self/exe";
		return 0;
	}
	if (!p)
		p = getenv("PADDOCK_SUPERVISOR");
	if (!p || !*p)
		return errf(err, errlen, -ENOENT,
			    "no program to run the run's supervisor with: this program is not paddock; set PADDOCK_SUPERVISOR to paddock-supervisor or the paddock binary");
	if (p[0] != '/' || strlen(p) >= shownlen)
		return errf(err, errlen, -EINVAL, "supervisor program \"%s\": give an absolute path", p);
	if (access(p, X_OK) < 0)
		return errf(err, errlen, -errno, "supervisor program %s: %s", p, strerror(errno));
	snprintf(shown, shownlen, "%s", p);
	*exe = shown;
	return 0;
}

/* The grandchild of local_start(): only what the supervisor needs, at the
 * numbers it expects (local.h, LOCAL_SUP_FD_*), no_new_privs, then exec.
 * Async-signal-safe up to the exec (a fork of a threaded caller). */
static _Noreturn void exec_supervisor(const char *exe, int xfd, char *const *xargv,
				      char *const *xenv, int sfd, int efd, int kfd, int lfd)
{
	/* A stop that comes before the supervisor is listening waits for it. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGCHLD);
	(void)sigprocmask(SIG_SETMASK, &set, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)signal(sig, SIG_DFL);
	/* Out of the way first (>= 16), so that no move clobbers another. */
	int from[5] = {sfd, efd, kfd, lfd, xfd}, tmp[5] = {-1, -1, -1, -1, -1};
	for (int i = 0; i < 5; i++)
		if (from[i] >= 0 && (tmp[i] = fcntl(from[i], F_DUPFD_CLOEXEC, 16)) < 0)
			goto fail;
	int dn = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (dn < 0 || dup2(dn, 0) < 0 || dup2(dn, 1) < 0 || dup2(dn, 2) < 0)
		goto fail;
	for (int i = 0; i < 4; i++)
		if (tmp[i] >= 0 && dup2(tmp[i], LOCAL_SUP_FD_STATUS + i) < 0)
			goto fail;
	if (kfd < 0)
		(void)close(LOCAL_SUP_FD_SINK);
	/* The program's own descriptor (close-on-exec) right above them. */
	int xat = LOCAL_SUP_FD_START + 1;
	if (tmp[4] >= 0 && dup3(tmp[4], xat, O_CLOEXEC) < 0)
		goto fail;
	/* Everything of the caller's goes: its database, its listening
	 * sockets, whatever it had open without O_CLOEXEC. */
	local_close_from(tmp[4] >= 0 ? xat + 1 : xat);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		status_msg(LOCAL_SUP_FD_STATUS, -errno, "cannot set no_new_privs for the supervisor");
		_exit(1);
	}
	/* By its path only where execveat does not exist (valgrind): any
	 * other failure must not run whatever the path holds now. */
	if (tmp[4] < 0 || (execveat(xat, "", xargv, xenv, AT_EMPTY_PATH) < 0 && errno == ENOSYS))
		execve(exe, xargv, xenv);
	int e = errno;
	(void)dprintf(LOCAL_SUP_FD_STATUS, "%d cannot run the supervisor %s: %s", -e, xargv[0], strerror(e));
	_exit(127);
fail:
	status_msg(sfd, -errno, "cannot pass the supervisor its descriptors");
	_exit(1);
}

static int local_start_locked(struct local_spec *spec, char *abs, int lfd, int *status_fd,
			      pid_t *sid, char *err, size_t errlen);

static int start_begin(const struct local_spec *s0, int *status_fd, pid_t *sid, char *err,
		       size_t errlen)
{
	if (!s0 || !s0->run_dir || !s0->plan)
		return errf(err, errlen, -EINVAL, "local: run directory and plan are required");
	char abs[PATH_MAX];
	if (!realpath(s0->run_dir, abs))
		return errf(err, errlen, -errno, "run %s: %s: call local_prepare first", s0->run_dir,
			    strerror(errno));
	struct local_spec s = *s0;
	s.run_dir = abs;
	char *ws = xasprintf("%s/workspace", abs);
	struct stat st;
	int wrc = stat(ws, &st);
	free(ws);
	if (wrc < 0)
		return errf(err, errlen, -ENOENT, "run %s is not prepared: call local_prepare first", abs);
	struct pidinfo pi;
	if (read_pidfile(abs, &pi) == 0)
		return errf(err, errlen, -EEXIST, "run %s was already started", abs);
	/* Held from here by us, then by the supervisor for its life: a lock
	 * on the run directory, no file to create for it. */
	int lfd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (lfd < 0)
		return errf(err, errlen, -errno, "run %s: cannot open it to lock it: %s", abs, strerror(errno));
	if (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		(void)close(lfd);
		return e == EWOULDBLOCK ? errf(err, errlen, -EEXIST, "run %s is being started", abs)
					: errf(err, errlen, -e, "run %s: lock: %s", abs, strerror(e));
	}
	int rc = local_start_locked(&s, abs, lfd, status_fd, sid, err, errlen);
	(void)close(lfd);
	return rc;
}

int local_start_async(const struct local_spec *s, int *status_fd, pid_t *sid, char *err,
		      size_t errlen)
{
	*status_fd = -1;
	*sid = 0;
	int rc = start_begin(s, status_fd, sid, err, errlen);
	if (rc < 0 && *status_fd >= 0) {
		(void)close(*status_fd);
		*status_fd = -1;
	}
	return rc;
}

/* "CODE MESSAGE" as the supervisor wrote it, or nothing (it died first). */
static int start_verdict(const char *msg, const char *run_dir, char *err, size_t errlen)
{
	int code = 0, off = 0;
	if (sscanf(msg, "%d %n", &code, &off) < 1)
		return errf(err, errlen, -EIO, "run %s: the supervisor did not report back", run_dir);
	if (code < 0)
		return errf(err, errlen, code, "run %s: %s", run_dir, msg + off);
	return 0;
}

int local_start_report(int fd, char *msg, size_t cap, size_t *len, const char *run_dir, char *err,
		       size_t errlen)
{
	for (;;) {
		if (*len + 1 >= cap)
			break;
		ssize_t n = read(fd, msg + *len, cap - 1 - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			msg[*len] = '\0';
			/* "0 started" is the whole success report; its
			 * descriptor closes when the command has exec'd. */
			if (str_eq(msg, "0 started"))
				break;
			return 1;
		}
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
	msg[*len] = '\0';
	return start_verdict(msg, run_dir, err, errlen);
}

int local_start_late(const char *run_dir, pid_t sid, long timeout_ms, char *err, size_t errlen)
{
	local_start_abort(run_dir, sid);
	return errf(err, errlen, -ETIMEDOUT, "run %s: the supervisor did not report within %ld s",
		    run_dir, (timeout_ms + 999) / 1000);
}

int local_start_wait(int fd, char *msg, size_t cap, size_t *len, const char *run_dir, pid_t sid,
		     long timeout_ms, char *err, size_t errlen)
{
	int64_t dl = now_mono_ms() + timeout_ms;
	int rc;
	for (;;) {
		rc = local_start_report(fd, msg, cap, len, run_dir, err, errlen);
		int64_t left = dl - now_mono_ms();
		if (rc <= 0 || left <= 0)
			break;
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		(void)poll(&pf, 1, (int)left);
	}
	return rc > 0 ? local_start_late(run_dir, sid, timeout_ms, err, errlen) : rc;
}

int local_start(const struct local_spec *s, char *err, size_t errlen)
{
	int fd = -1;
	pid_t sid = 0;
	int rc = local_start_async(s, &fd, &sid, err, errlen);
	if (rc < 0)
		return rc;
	char abs[PATH_MAX];
	if (!realpath(s->run_dir, abs))
		snprintf(abs, sizeof(abs), "%s", s->run_dir);
	char msg[256];
	size_t len = 0;
	rc = local_start_wait(fd, msg, sizeof(msg), &len, abs, sid, LOCAL_START_REPORT_MS, err,
			      errlen);
	(void)close(fd);
	return rc;
}

static int local_start_locked(struct local_spec *spec, char *abs, int lfd, int *status_fd,
			      pid_t *sid, char *err, size_t errlen)
{
	struct local_spec s = *spec;
	if (s.entrypoint_path && access(s.entrypoint_path, R_OK) < 0)
		return errf(err, errlen, -errno, "entrypoint %s: %s", s.entrypoint_path, strerror(errno));
	if (s.lib_path && access(s.lib_path, R_OK) < 0)
		return errf(err, errlen, -errno, "paddock_lib.sh %s: %s", s.lib_path, strerror(errno));
	int rc;
	/* bwrap's own user namespace, made by root, maps the agent to host
	 * uid 0: never.  As root a run always gets a uid of its own. */
	if (s.isolation && geteuid() == 0 && !s.uid_slot_dir)
		return errf(err, errlen, -EPERM,
			    "run %s: running as root, the sandbox needs a uid range for its runs (uid_slot_dir)",
			    abs);
	if (s.isolation && (rc = local_sandbox_check(s.bwrap_path, local_uses_slots(&s), err, errlen)) < 0)
		return rc;
	/* A network namespace of the run's own: made as root, or by bwrap. */
	if (s.net.mode != LOCAL_NET_HOST && geteuid() != 0 && !s.isolation)
		return errf(err, errlen, -EPERM,
			    "run %s: network.egress none or allowlist without root needs isolation: bwrap", abs);
	if (s.net.mode == LOCAL_NET_PROXY && geteuid() != 0)
		return errf(err, errlen, -EPERM,
			    "run %s: network.egress allowlist needs the controller to run as root (the proxy's socket is made in the run's network namespace); use none or open",
			    abs);
	const char *exe = NULL;
	char shown[PATH_MAX];
	int xfd = -1;
	if ((rc = supervisor_exe(&s, &exe, &xfd, shown, sizeof(shown), err, errlen)) < 0)
		return rc;
	struct strv argv = {0}, srcs = {0};
	char **envp = NULL;
	if ((rc = local_argv_build(&s, &argv, &srcs, err, errlen)) < 0)
		return rc;
	if ((rc = local_env_build(&s, &envp, err, errlen)) < 0) {
		strv_free(&argv);
		strv_free(&srcs);
		return rc;
	}
	/* A sink that does not name its driver runs in a sink process. */
	const struct local_sink *k = s.sink;
	bool proxy = k && !(s.sink_rebuild && s.sink_rebuild->driver) && (k->line || k->finish);
	int efd = -1, sp[2] = {-1, -1}, kp[2] = {-1, -1};
	char *ld_env = NULL;
	if ((rc = local_sup_write(&s, argv.v, srcs.v, proxy, err, errlen)) < 0)
		goto out;
	/* The secret values leave this process through the memfd only. */
	efd = local_sup_env_fd(envp, err, errlen);
	local_env_free(envp);
	envp = NULL;
	if (efd < 0) {
		rc = efd;
		goto out;
	}
	if (pipe2(sp, O_CLOEXEC) < 0 ||
	    (proxy && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, kp) < 0)) {
		rc = errf(err, errlen, -errno, "pipe: %s", strerror(errno));
		goto out;
	}
	/* The supervisor's environment: nothing of the caller's but what it
	 * takes to start the program at all. */
	char path_env[] = "PATH=" SUPERVISOR_PATH;
	const char *ldp = getenv("LD_LIBRARY_PATH");
	if (ldp && *ldp)
		ld_env = xasprintf("LD_LIBRARY_PATH=%s", ldp);
	char *xenv[] = {path_env, ld_env, NULL};
	char arg1[] = LOCAL_SUPERVISE_ARG;
	char *xargv[] = {shown, arg1, abs, NULL};
	pid_t a = fork();
	if (a < 0) {
		rc = errf(err, errlen, -errno, "fork: %s", strerror(errno));
		goto out;
	}
	if (a == 0) {
		/* Intermediate: a new session, then leave the supervisor (and the
		 * sink process) orphaned so that nothing ties them to the caller. */
		(void)close(sp[0]);
		(void)setsid();
		if (proxy) {
			pid_t c = fork();
			if (c < 0) {
				status_msg(sp[1], -errno, "cannot fork the sink process");
				_exit(1);
			}
			if (c == 0) {
				(void)close(kp[0]);
				(void)close(lfd); /* the lock is the supervisor's */
				local_sink_process(k, kp[1]);
			}
			(void)close(kp[1]);
		}
		pid_t b = fork();
		if (b < 0) {
			status_msg(sp[1], -errno, "cannot fork the supervisor");
			_exit(1);
		}
		if (b > 0)
			_exit(0);
		exec_supervisor(exe, xfd, xargv, xenv, sp[1], efd, proxy ? kp[0] : -1, lfd);
	}
	(void)close(sp[1]);
	sp[1] = -1;
	(void)close(efd);
	efd = -1;
	if (proxy) {
		(void)close(kp[0]);
		(void)close(kp[1]);
		kp[0] = kp[1] = -1;
	}
	int ast;
	while (waitpid(a, &ast, 0) < 0 && errno == EINTR)
		;
	/* The report comes later, on this descriptor (local_start_report).
	 * The intermediate's setsid() made the session the supervisor and
	 * the sink process live in (local_start_abort). */
	(void)fcntl(sp[0], F_SETFL, O_NONBLOCK);
	*status_fd = sp[0];
	*sid = a;
	sp[0] = -1;
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (sp[i] >= 0)
			(void)close(sp[i]);
		if (kp[i] >= 0)
			(void)close(kp[i]);
	}
	if (efd >= 0)
		(void)close(efd);
	free(ld_env);
	strv_free(&argv);
	strv_free(&srcs);
	local_env_free(envp);
	return rc;
}

static int parse_result(const char *data, struct local_obs *o)
{
	json_object *root = json_tokener_parse(data);
	if (!root || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return -EINVAL;
	}
	json_object *v;
	if (json_object_object_get_ex(root, "exitCode", &v))
		o->exit_code = json_object_get_int(v);
	if (json_object_object_get_ex(root, "signal", &v))
		o->term_signal = json_object_get_int(v);
	if (json_object_object_get_ex(root, "endReason", &v))
		snprintf(o->end_reason, sizeof(o->end_reason), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(root, "endMessage", &v))
		snprintf(o->end_message, sizeof(o->end_message), "%s", json_object_get_string(v));
	o->uid = -1;
	if (json_object_object_get_ex(root, "uid", &v))
		o->uid = (long)json_object_get_int64(v);
	if (json_object_object_get_ex(root, "cpuSeconds", &v))
		o->cpu_seconds = json_object_get_double(v);
	if (json_object_object_get_ex(root, "memoryPeakBytes", &v))
		o->memory_peak = json_object_get_int64(v);
	if (json_object_object_get_ex(root, "startMs", &v))
		o->start_ms = json_object_get_int64(v);
	if (json_object_object_get_ex(root, "endMs", &v))
		o->end_ms = json_object_get_int64(v);
	if (json_object_object_get_ex(root, "result", &v) && v)
		o->result_json = xstrdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
	return 0;
}

static int read_result(const char *run_dir, struct local_obs *o)
{
	char *path = xasprintf("%s/" RESULT_FILE, run_dir);
	char *data = NULL;
	int rc = read_file(path, RESULT_READ_CAP, &data, NULL);
	free(path);
	if (rc < 0)
		return rc;
	struct local_obs tmp;
	memset(&tmp, 0, sizeof(tmp));
	tmp.state = LOCAL_EXITED;
	rc = parse_result(data, &tmp);
	free(data);
	if (rc == 0)
		*o = tmp;
	return rc;
}

static bool lock_held(const char *path, int flags)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | flags);
	if (fd < 0)
		return false;
	bool held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	(void)close(fd);
	return held;
}

/* A supervisor (or the local_start making it) holds the lock on
 * RUN_DIR, or on RUN_DIR/start.lock if an older paddock started it. */
static bool start_locked(const char *run_dir)
{
	if (lock_held(run_dir, O_DIRECTORY))
		return true;
	char *path = xasprintf("%s/" START_LOCK_OLD, run_dir);
	bool held = lock_held(path, 0);
	free(path);
	return held;
}

/* The session id of /proc/PID/stat (its sixth field), or -1. */
static pid_t proc_session(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the command name may hold anything */
	char state;
	int ppid, pgrp, sess;
	if (!p || sscanf(p + 1, " %c %d %d %d", &state, &ppid, &pgrp, &sess) != 4)
		return -1;
	return sess;
}

void local_start_abort(const char *run_dir, pid_t sid)
{
	/* Still held: the session is the supervisor's, not a pid reused. */
	if (sid <= 0 || !start_locked(run_dir))
		return;
	(void)kill(-sid, SIGKILL);
	/* Its children in process groups of their own (the command). */
	DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long v = strtol(e->d_name, &end, 10);
		if (*end || v <= 0 || v == getpid())
			continue;
		if (proc_session((pid_t)v) == sid)
			(void)kill((pid_t)v, SIGKILL);
	}
	(void)closedir(d);
}

int local_observe(const char *run_dir, struct local_obs *o)
{
	if (!run_dir || !o)
		return -EINVAL;
	struct local_obs r;
	memset(&r, 0, sizeof(r));
	int rc = read_result(run_dir, &r);
	if (rc == 0)
		goto done;
	if (rc != -ENOENT)
		return rc;
	struct pidinfo pi;
	rc = read_pidfile(run_dir, &pi);
	if (rc == -ENOENT) {
		r.state = start_locked(run_dir) ? LOCAL_RUNNING : LOCAL_NONE;
		goto done;
	}
	/* Torn by a power loss (it is not fsynced): its supervisor went
	 * with the machine unless it still holds the start lock. */
	if (rc == -EINVAL && !start_locked(run_dir)) {
		r.state = LOCAL_LOST;
		goto done;
	}
	if (rc < 0)
		return rc;
	r.start_ms = pi.start_ms;
	if (pid_alive(&pi)) {
		r.state = LOCAL_RUNNING;
		goto done;
	}
	/* It may have written the result just before exiting. */
	rc = read_result(run_dir, &r);
	if (rc == 0)
		goto done;
	if (rc != -ENOENT)
		return rc;
	r.state = LOCAL_LOST;
	r.start_ms = pi.start_ms;
done:
	*o = r;
	return 0;
}

void local_obs_free(struct local_obs *o)
{
	if (!o)
		return;
	free(o->result_json);
	o->result_json = NULL;
}

int local_pidfd(const char *run_dir)
{
	struct pidinfo pi;
	int rc = read_pidfile(run_dir, &pi);
	if (rc < 0)
		return rc;
	int fd = (int)syscall(SYS_pidfd_open, pi.pid, 0);
	if (fd < 0)
		return errno == ESRCH ? -ESRCH : -errno;
	/* Checked after opening: a pid reused since is not our supervisor. */
	if (!pid_alive(&pi)) {
		(void)close(fd);
		return -ESRCH;
	}
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

int local_stop(const char *run_dir, int reason)
{
	struct local_obs o;
	int rc = local_observe(run_dir, &o);
	if (rc < 0)
		return rc;
	local_obs_free(&o);
	if (o.state == LOCAL_NONE)
		return -ENOENT;
	if (o.state == LOCAL_EXITED)
		return 0;
	if (o.state == LOCAL_LOST)
		return -ESRCH;
	struct pidinfo pi;
	if ((rc = read_pidfile(run_dir, &pi)) < 0)
		return rc;
	if (!pid_alive(&pi))
		return 0;
	/* The reason travels with the signal: a timeout is not a stop. */
	union sigval sv = {.sival_int = reason};
	return sigqueue(pi.pid, SIGTERM, sv) < 0 ? -errno : 0;
}

int local_cleanup(const char *run_dir, char *err, size_t errlen)
{
	struct local_obs o;
	int rc = local_observe(run_dir, &o);
	if (rc == 0) {
		local_obs_free(&o);
		if (o.state == LOCAL_RUNNING)
			return errf(err, errlen, -EBUSY, "cannot remove %s: its run is still running", run_dir);
	}
	return rm_rf_report(run_dir, err, errlen);
}
