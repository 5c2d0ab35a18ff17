/* SPDX-License-Identifier: MIT */
/*
 * local/cgroup.c - the per-run cgroup of the local backend, v1 and v2.
 * Control files are opened, never created: the kernel makes them on mkdir.
 */
#include "config.h"
#include "local/cgroup.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* v1 hierarchies, in this order; v2 uses slot 0 only. */
enum { H_MEMORY, H_PIDS, H_CPU, H_CPUACCT, H_N };
static const char *const hier_name[H_N] = {"memory", "pids", "cpu", "cpuacct"};

#define CG_PERIOD_US 100000
#define CG_MIN_QUOTA_US 1000 /* the kernel's minimum cfs quota */
#define CG_LEAF "paddock-controller"
#define VAL_MAX 32

struct cg_run {
	enum cg_version ver;
	char *dir[H_N];   /* the run's directory per hierarchy; NULL: hierarchy absent */
	char *procs[H_N]; /* dir/cgroup.procs; NULL when absent or the same directory
			   * as an earlier slot (cpu,cpuacct combined) */
};

static void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	(void)nanosleep(&ts, NULL);
}

/* Async-signal-safe: open, write, close. */
static int wr(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = strlen(val);
	ssize_t n;
	do
		n = write(fd, val, len);
	while (n < 0 && errno == EINTR);
	int rc = n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
	if (close(fd) < 0 && rc == 0 && errno != EINTR)
		rc = -errno;
	return rc;
}

static int fail(char *err, size_t errlen, int rc, const char *what, const char *path)
{
	const char *fix = "";
	if (rc == -EACCES || rc == -EPERM || rc == -EROFS)
		fix = ": run paddock as root or delegate a cgroup subtree to its user";
	else if (rc == -EINVAL)
		fix = ": is the value above a limit of an enclosing cgroup?";
	return errf(err, errlen, rc, "cannot %s %s: %s%s", what, path, strerror(-rc), fix);
}

static bool has(const char *dir, const char *file)
{
	char *p = xasprintf("%s/%s", dir, file);
	bool ok = access(p, F_OK) == 0;
	free(p);
	return ok;
}

/* Call cb (may be NULL) for every pid listed in a cgroup.procs file.
 * Returns how many were listed, or -errno (a missing file lists none). */
static int procs_each(const char *path, void (*cb)(pid_t pid, void *ctx), void *ctx)
{
	char *text = NULL, *save = NULL;
	int rc = read_file(path, 1 << 20, &text, NULL);
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	for (char *t = strtok_r(text, "\n", &save); t; t = strtok_r(NULL, "\n", &save), rc++)
		if (cb)
			cb((pid_t)strtol(t, NULL, 10), ctx);
	free(text);
	return rc;
}

/* This process's cgroup path ("/..." ) for v1 controller `ctrl`, or for
 * v2 when ctrl is NULL, from a /proc/self/cgroup-format file.  Owned. */
static int self_path(const char *self_cgroup, const char *ctrl, char **out)
{
	char *text = NULL;
	int rc = read_file(self_cgroup, 64 * 1024, &text, NULL);
	if (rc < 0)
		return rc;
	rc = -ENOENT;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || c2[1] != '/')
			continue;
		*c2 = '\0';
		bool match = false;
		if (!ctrl) {
			match = c1 == line + 1 && line[0] == '0' && c1[1] == '\0';
		} else {
			char *s2 = NULL;
			char *t = strtok_r(c1 + 1, ",", &s2);
			for (; t && !match; t = strtok_r(NULL, ",", &s2))
				match = str_eq(t, ctrl);
		}
		if (match) {
			*out = xstrdup(c2 + 1);
			rc = 0;
			break;
		}
	}
	free(text);
	return rc;
}

static bool name_ok(const char *name)
{
	if (!name || !*name || name[0] == '/' || strlen(name) > 255)
		return false;
	if (str_startswith(name, CG_LEAF) && (!name[strlen(CG_LEAF)] || name[strlen(CG_LEAF)] == '/'))
		return false;
	for (const char *p = name; *p;) {
		size_t len = strcspn(p, "/");
		if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && !strncmp(p, "..", 2)) ||
		    memchr(p, '\n', len))
			return false;
		p += len;
		if (*p == '/' && !*++p)
			return false;
	}
	return true;
}

static int check_empty(const char *dir, char *err, size_t errlen)
{
	char *p = xasprintf("%s/cgroup.procs", dir);
	int n = procs_each(p, NULL, NULL);
	int rc = 0;
	if (n < 0)
		rc = fail(err, errlen, n, "read", p);
	else if (n > 0)
		rc = errf(err, errlen, -EBUSY,
			  "cgroup %s already exists and has %d processes (a previous run still "
			  "alive?): kill them or remove the cgroup", dir, n);
	free(p);
	return rc;
}

static void move_cb(pid_t pid, void *ctx)
{
	char v[24];
	snprintf(v, sizeof(v), "%ld", (long)pid);
	(void)wr(ctx, v); /* a failure shows as EBUSY on the retry */
}

/* v2 no-internal-processes rule: move all of base's processes into
 * base/paddock-controller so that base may enable controllers. */
static int evacuate(const char *base, char *err, size_t errlen)
{
	char *leaf = xasprintf("%s/%s", base, CG_LEAF);
	char *from = xasprintf("%s/cgroup.procs", base);
	char *to = xasprintf("%s/cgroup.procs", leaf);
	int rc = 0;
	if (mkdir(leaf, 0755) < 0 && errno != EEXIST) {
		rc = fail(err, errlen, -errno, "create", leaf);
		goto out;
	}
	rc = procs_each(from, move_cb, to);
	if (rc < 0)
		rc = fail(err, errlen, rc, "read", from);
out:
	free(leaf);
	free(from);
	free(to);
	return rc < 0 ? rc : 0;
}

/* Create base/name component by component; `enable` (v2, may be NULL) is
 * written to each parent's cgroup.subtree_control first.  The last
 * component may exist if it holds no process. */
static int make_dirs(const char *base, const char *name, const char *enable, char *err,
		     size_t errlen)
{
	char *cur = xstrdup(base);
	int rc = 0;
	for (const char *p = name; *p;) {
		size_t len = strcspn(p, "/");
		bool last = !p[len];
		if (enable) {
			char *sc = xasprintf("%s/cgroup.subtree_control", cur);
			int ev = 0;
			rc = wr(sc, enable);
			if (rc == -EBUSY && p == name && (ev = evacuate(cur, err, errlen)) == 0)
				rc = wr(sc, enable);
			if (ev < 0)
				rc = ev;
			else if (rc == -EBUSY)
				rc = errf(err, errlen, rc,
					  "cannot write \"%s\" to %s: %s: the cgroup has processes; "
					  "move them into a leaf cgroup", enable, sc, strerror(-rc));
			else if (rc < 0)
				rc = fail(err, errlen, rc, "write", sc);
			free(sc);
			if (rc < 0)
				goto out;
		}
		char *next = xasprintf("%s/%.*s", cur, (int)len, p);
		free(cur);
		cur = next;
		if (mkdir(cur, 0755) < 0) {
			if (errno != EEXIST) {
				rc = fail(err, errlen, -errno, "create", cur);
				goto out;
			}
			if (last && (rc = check_empty(cur, err, errlen)) < 0)
				goto out;
		}
		p += len + !last;
	}
out:
	free(cur);
	return rc;
}

/* One control file write; h < 0 or an absent hierarchy: skipped. */
struct op {
	int h;
	const char *file;
	char val[VAL_MAX];
	bool optional; /* a missing file is skipped (no swap accounting, old kernel) */
};

static void num(char *v, int64_t x, const char *none)
{
	if (x > 0)
		snprintf(v, VAL_MAX, "%lld", (long long)x);
	else
		snprintf(v, VAL_MAX, "%s", none);
}

static int apply(const struct cg_run *c, const struct op *ops, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		if (ops[i].h < 0 || !c->dir[ops[i].h])
			continue;
		char *p = xasprintf("%s/%s", c->dir[ops[i].h], ops[i].file);
		int rc = wr(p, ops[i].val);
		if (rc == -ENOENT && ops[i].optional)
			rc = 0;
		else if (rc < 0)
			rc = fail(err, errlen, rc, "write", p);
		free(p);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The cfs quota in microseconds per CG_PERIOD_US; 0: none. */
static int64_t quota_us(int64_t cpu_milli)
{
	int64_t q = cpu_milli * (CG_PERIOD_US / 1000);
	return cpu_milli && q < CG_MIN_QUOTA_US ? CG_MIN_QUOTA_US : q;
}

/* CPU weight, as Kubernetes sets it: a run's cpu.shares follow its cpu
 * limit (1000m = 1024), so that runs and the processes around them are
 * weighed by what they may use; without a limit, the whole machine's.
 * The runs' parent directory weighs as much as the machine's CPUs (the
 * kubelet does the same for kubepods), else all runs together would
 * count as one process of the host under contention. */
static int64_t cpu_shares(int64_t cpu_milli)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int64_t sh = cpu_milli > 0 ? cpu_milli * 1024 / 1000 : 1024 * (ncpu > 0 ? ncpu : 1);
	return sh < 2 ? 2 : sh > 262144 ? 262144 : sh;
}

static int64_t cpu_weight(int64_t shares) /* cgroup v2: 1 .. 10000 */
{
	return 1 + (shares - 2) * 9999 / 262142;
}

/* The weight of the run's parent directory (best effort: optional). */
static void parent_weight(const struct cg_run *c, int h, const char *file, int64_t v)
{
	if (!c->dir[h])
		return;
	char *parent = xstrdup(c->dir[h]);
	char *sl = strrchr(parent, '/');
	if (sl) {
		*sl = '\0';
		char *p = xasprintf("%s/%s", parent, file);
		char val[VAL_MAX];
		num(val, v, "");
		(void)wr(p, val);
		free(p);
	}
	free(parent);
}

static int v1_limits(struct cg_run *c, const struct run_limits *l, char *err, size_t errlen)
{
	/* memsw >= limit at every step: memsw to unlimited, limit, memsw. */
	struct op ops[] = {
		{H_MEMORY, "memory.memsw.limit_in_bytes", "-1", true},
		{H_MEMORY, "memory.limit_in_bytes", "", false},
		{H_MEMORY, "memory.memsw.limit_in_bytes", "", true},
		{H_MEMORY, "memory.oom_control", "0", false}, /* OOM kills, never pauses */
		{H_PIDS, "pids.max", "", false},
		{H_CPU, "cpu.cfs_period_us", "", false},
		{H_CPU, "cpu.cfs_quota_us", "", false},
		{H_CPU, "cpu.shares", "", true},
	};
	num(ops[1].val, l->memory_bytes, "-1");
	num(ops[2].val, l->memory_bytes, "-1");
	num(ops[4].val, l->pids, "max");
	num(ops[5].val, CG_PERIOD_US, "");
	num(ops[6].val, quota_us(l->cpu_milli), "-1");
	num(ops[7].val, cpu_shares(l->cpu_milli), "");
	parent_weight(c, H_CPU, "cpu.shares", cpu_shares(0));
	return apply(c, ops, ARRAY_SIZE(ops), err, errlen);
}

static int create_v1(struct cg_run *c, const char *root, const char *self, const char *name,
		     const struct run_limits *l, char *err, size_t errlen)
{
	const int64_t need[H_N] = {l->memory_bytes, l->pids, l->cpu_milli, 0};
	struct stat st[H_N];
	char *own[H_N] = {NULL};
	int rc = 0;
	for (int i = 0; i < H_N; i++) {
		char *h = xasprintf("%s/%s", root, hier_name[i]);
		bool there = stat(h, &st[i]) == 0 && S_ISDIR(st[i].st_mode) &&
			     self_path(self, hier_name[i], &own[i]) == 0;
		if (!there) {
			if (need[i])
				rc = errf(err, errlen, -ENOENT,
					  "no cgroup v1 %s hierarchy at %s (or no %s line in %s): "
					  "mount it there or set no %s limit",
					  hier_name[i], h, hier_name[i], self, hier_name[i]);
			free(h);
			if (rc < 0)
				goto out;
			continue;
		}
		c->dir[i] = xasprintf("%s%s/%s", h, str_eq(own[i], "/") ? "" : own[i], name);
		free(h);
		bool alias = false;
		for (int j = 0; j < i && !alias; j++)
			alias = c->dir[j] && st[j].st_dev == st[i].st_dev &&
				st[j].st_ino == st[i].st_ino && str_eq(own[j], own[i]);
		if (alias)
			continue;
		c->procs[i] = xasprintf("%s/cgroup.procs", c->dir[i]);
		char *base = xstrndup(c->dir[i], strlen(c->dir[i]) - strlen(name) - 1);
		rc = make_dirs(base, name, NULL, err, errlen);
		free(base);
		if (rc < 0)
			goto out;
	}
	rc = v1_limits(c, l, err, errlen);
out:
	for (int i = 0; i < H_N; i++)
		free(own[i]);
	return rc;
}

static int create_v2(struct cg_run *c, const char *root, const char *self, const char *name,
		     const struct run_limits *l, char *err, size_t errlen)
{
	static const char *const ctl[3] = {"cpu", "memory", "pids"};
	const int64_t need[3] = {l->cpu_milli, l->memory_bytes, l->pids};
	bool on[3] = {false};
	char *own = NULL, *avail = NULL, *base = NULL;
	char enable[64] = "";
	int rc = self_path(self, NULL, &own);
	if (rc < 0) {
		rc = errf(err, errlen, rc, "no cgroup v2 line (\"0::/...\") in %s: %s", self,
			  strerror(-rc));
		goto out;
	}
	base = str_eq(own, "/") ? xstrdup(root) : xasprintf("%s%s", root, own);
	char *cf = xasprintf("%s/cgroup.controllers", base);
	rc = read_file(cf, 4096, &avail, NULL);
	if (rc < 0)
		rc = fail(err, errlen, rc, "read", cf);
	char *s = NULL;
	for (char *t = rc < 0 ? NULL : strtok_r(avail, " \n", &s); t; t = strtok_r(NULL, " \n", &s))
		for (int i = 0; i < 3; i++)
			on[i] = on[i] || str_eq(t, ctl[i]);
	for (int i = 0; i < 3 && rc == 0; i++) {
		if (on[i])
			snprintf(enable + strlen(enable), sizeof(enable) - strlen(enable), "%s+%s",
				 *enable ? " " : "", ctl[i]);
		else if (need[i])
			rc = errf(err, errlen, -ENOENT,
				  "the %s controller is not available in %s: enable it in the parent's "
				  "cgroup.subtree_control (systemd: Delegate=yes) or set no %s limit",
				  ctl[i], cf, ctl[i]);
	}
	free(cf);
	if (rc < 0)
		goto out;
	c->dir[0] = xasprintf("%s/%s", base, name);
	c->procs[0] = xasprintf("%s/cgroup.procs", c->dir[0]);
	if ((rc = make_dirs(base, name, *enable ? enable : NULL, err, errlen)) < 0)
		goto out;
	struct op ops[] = {
		{on[1] ? 0 : -1, "memory.max", "", false},
		{on[1] ? 0 : -1, "memory.swap.max", "", true},
		{on[2] ? 0 : -1, "pids.max", "", false},
		{on[0] ? 0 : -1, "cpu.max", "", false},
		{on[0] ? 0 : -1, "cpu.weight", "", true},
	};
	num(ops[0].val, l->memory_bytes, "max");
	num(ops[1].val, 0, l->memory_bytes ? "0" : "max"); /* no swapping past the limit */
	num(ops[2].val, l->pids, "max");
	num(ops[3].val, quota_us(l->cpu_milli), "max");
	size_t n = strlen(ops[3].val);
	snprintf(ops[3].val + n, sizeof(ops[3].val) - n, " %d", CG_PERIOD_US);
	num(ops[4].val, cpu_weight(cpu_shares(l->cpu_milli)), "");
	if (on[0])
		parent_weight(c, 0, "cpu.weight", cpu_weight(cpu_shares(0)));
	rc = apply(c, ops, ARRAY_SIZE(ops), err, errlen);
out:
	free(own);
	free(avail);
	free(base);
	return rc;
}

int cg_detect(const char *root, enum cg_version *out)
{
	if (has(root, "cgroup.controllers")) {
		*out = CG_V2;
		return 0;
	}
	for (int i = 0; i < H_N; i++) {
		char *h = xasprintf("%s/%s", root, hier_name[i]);
		bool v1 = has(h, "cgroup.procs");
		free(h);
		if (v1) {
			*out = CG_V1;
			return 0;
		}
	}
	*out = CG_NONE;
	return 0;
}

static void run_free(struct cg_run *c)
{
	for (int i = 0; i < H_N; i++) {
		free(c->dir[i]);
		free(c->procs[i]);
	}
	free(c);
}

/* rmdir, retrying while busy for up to about `busy_ms`: the first
 * retries come fast (an exited process leaves its cgroup within a
 * fraction of a millisecond, mostly), then every 10 ms. */
static int rm_dirs(struct cg_run *c, int busy_ms)
{
	int rc = 0;
	for (int i = 0; i < H_N; i++) {
		if (!c->procs[i])
			continue;
		int r = 0;
		long waited_us = 0, step_us = 50;
		for (;;) {
			r = rmdir(c->dir[i]) < 0 && errno != ENOENT ? -errno : 0;
			if (r != -EBUSY || waited_us >= (long)busy_ms * 1000)
				break;
			struct timespec ts = {0, step_us * 1000};
			(void)nanosleep(&ts, NULL);
			waited_us += step_us;
			step_us = step_us * 2 > 10000 ? 10000 : step_us * 2;
		}
		if (r < 0 && rc == 0)
			rc = r;
	}
	return rc;
}

int cg_create(const char *root, const char *self_cgroup, const char *name,
	      const struct run_limits *l, struct cg_run **out, char *err, size_t errlen)
{
	if (!name_ok(name))
		return errf(err, errlen, -EINVAL,
			    "cgroup name \"%s\": must be a relative path without \"..\", \".\" or "
			    "empty components, not under \"" CG_LEAF "\"", name ? name : "");
	if (l->cpu_milli < 0 || l->cpu_milli > INT64_MAX / 1000 || l->memory_bytes < 0 || l->pids < 0)
		return errf(err, errlen, -EINVAL, "resource limit out of range: use 0 for none");
	enum cg_version ver = CG_NONE;
	int rc = cg_detect(root, &ver);
	if (rc < 0 || ver == CG_NONE)
		return errf(err, errlen, rc < 0 ? rc : -ENOTSUP,
			    "no cgroup hierarchy under %s: mount cgroup2 there or set no limits", root);
	struct cg_run *c = xcalloc(1, sizeof(*c));
	c->ver = ver;
	if (ver == CG_V1)
		rc = create_v1(c, root, self_cgroup, name, l, err, errlen);
	else
		rc = create_v2(c, root, self_cgroup, name, l, err, errlen);
	if (rc < 0) {
		(void)rm_dirs(c, 0); /* best effort: leave no empty directory behind */
		run_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int cg_attach(const struct cg_run *c, pid_t pid)
{
	char buf[24], *p = buf + sizeof(buf);
	unsigned long v = (unsigned long)pid;
	*--p = '\0';
	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) && p > buf);
	for (int i = 0; i < H_N; i++) {
		if (!c->procs[i])
			continue;
		int rc = wr(c->procs[i], p);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Where each counter is read from: hierarchy slot, file, "key N" line
 * (NULL: the whole file is the number), multiplier, field. */
struct src {
	int h;
	const char *file, *key;
	int64_t mul;
	size_t off;
};
#define F(x) offsetof(struct cg_usage, x)
static const struct src v1_src[] = {
	{H_CPUACCT, "cpuacct.usage", NULL, 1, F(cpu_ns)},
	{H_MEMORY, "memory.max_usage_in_bytes", NULL, 1, F(memory_peak)},
	{H_MEMORY, "memory.oom_control", "oom_kill", 1, F(oom_kills)},
	{H_PIDS, "pids.events", "max", 1, F(pids_max_hits)},
	{H_PIDS, "pids.current", NULL, 1, F(pids_current)},
};
static const struct src v2_src[] = {
	{0, "cpu.stat", "usage_usec", 1000, F(cpu_ns)},
	{0, "memory.peak", NULL, 1, F(memory_peak)},
	{0, "memory.events", "oom_kill", 1, F(oom_kills)},
	{0, "pids.events", "max", 1, F(pids_max_hits)},
	{0, "pids.current", NULL, 1, F(pids_current)},
};
#undef F

static int64_t parse_counter(const char *text, const char *key)
{
	size_t kl = key ? strlen(key) : 0;
	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (key && (strncmp(l, key, kl) || l[kl] != ' '))
			continue;
		long long v = strtoll(l + kl, NULL, 10);
		return v > 0 ? (int64_t)v : 0;
	}
	return 0;
}

int cg_usage_read(const struct cg_run *c, struct cg_usage *u)
{
	struct cg_usage r = {0};
	const struct src *s = c->ver == CG_V1 ? v1_src : v2_src;
	for (size_t i = 0; i < ARRAY_SIZE(v1_src); i++) {
		if (!c->dir[s[i].h])
			continue;
		char *p = xasprintf("%s/%s", c->dir[s[i].h], s[i].file), *text = NULL;
		int rc = read_file(p, 64 * 1024, &text, NULL);
		free(p);
		if (rc == -ENOENT)
			continue;
		if (rc < 0)
			return rc;
		*(int64_t *)((char *)&r + s[i].off) = parse_counter(text, s[i].key) * s[i].mul;
		free(text);
	}
	*u = r;
	return 0;
}

struct killer {
	pid_t seen[1024]; /* beyond this many, a process may be counted twice */
	size_t n;
	int count;
};

static void kill_cb(pid_t pid, void *ctx)
{
	struct killer *k = ctx;
	bool known = false;
	if (pid <= 1 || pid == getpid())
		return;
	for (size_t i = 0; i < k->n && !known; i++)
		known = k->seen[i] == pid;
	if (!known && k->n < ARRAY_SIZE(k->seen))
		k->seen[k->n++] = pid;
	if (kill(pid, SIGKILL) == 0 && !known)
		k->count++;
}

int cg_kill_all(const struct cg_run *c, int timeout_ms)
{
	struct killer k = {.n = 0, .count = 0};
	int64_t deadline = now_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	for (bool first = true;; first = false) {
		int left = 0;
		for (int i = 0; i < H_N; i++) {
			if (!c->procs[i])
				continue;
			int n = procs_each(c->procs[i], kill_cb, &k);
			if (n < 0)
				return n;
			left += n;
		}
		if (first && c->ver == CG_V2 && left > 0) {
			char *p = xasprintf("%s/cgroup.kill", c->dir[0]);
			(void)wr(p, "1"); /* -ENOENT before Linux 5.14: the loop does it */
			free(p);
		}
		if (left == 0)
			return k.count;
		if (now_mono_ms() >= deadline)
			return -ETIMEDOUT;
		msleep(10);
	}
}

int cg_destroy(struct cg_run *c)
{
	if (!c)
		return 0;
	/* A killed process leaves its cgroup a moment after it is gone. */
	int rc = rm_dirs(c, 1000);
	run_free(c);
	return rc;
}

const char *cg_path(const struct cg_run *c, const char *controller)
{
	if (!c)
		return NULL;
	if (c->ver == CG_V2)
		return c->dir[0];
	for (int i = 0; i < H_N; i++)
		if (str_eq(controller, hier_name[i]))
			return c->dir[i];
	return NULL;
}

enum cg_version cg_version_of(const struct cg_run *c)
{
	return c ? c->ver : CG_NONE;
}
