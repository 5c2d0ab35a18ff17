/* SPDX-License-Identifier: MIT */
/* The per-run cgroup (core/local/cgroup.c).
 *
 * Fake trees: a temporary directory laid out like cgroupfs.  The module
 * opens control files and never creates them (the kernel does, on
 * mkdir), so these tests pre-create the run's directory and its control
 * files; cg_create then takes the "reuse an existing empty directory"
 * path.  Controller files hold what cg_create wrote, so the assertions
 * read back exactly what the kernel would have been told.
 *
 * Real cgroups: run as root on a cgroup v1 (or hybrid) host, below this
 * process's own cgroups, under "paddock-test/<runner pid>-<n>"; anything
 * left there (a failed test exits before its own cleanup) is killed and
 * removed by the unchecked teardown, which runs in the runner process.
 * Otherwise they print why they are skipped. */
#include "config.h"
#include "local/cgroup.h"
#include "base/util.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024LL * 1024)
#define SYS_CG "/sys/fs/cgroup"

static char base[256];
static pid_t runner; /* the test runner; names of real cgroups carry it */

static void setup(void)
{
	snprintf(base, sizeof(base), "/tmp/paddock-test-cgroup-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
}

static void teardown(void)
{
	rm_rf(base);
}

static void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Create dir (and parents) and, in it, each file of the NULL-terminated
 * list, empty. */
static void mkfiles(const char *dir, ...)
{
	ck_assert_int_eq(mkdir_p(dir, 0755), 0);
	va_list ap;
	va_start(ap, dir);
	for (const char *f; (f = va_arg(ap, const char *));) {
		char *p = xasprintf("%s/%s", dir, f);
		ck_assert_int_eq(write_file_atomic(p, "", 0, 0644), 0);
		free(p);
	}
	va_end(ap);
}

static void put(const char *dir, const char *file, const char *text)
{
	char *p = xasprintf("%s/%s", dir, file);
	ck_assert_int_eq(write_file_atomic(p, text, strlen(text), 0644), 0);
	free(p);
}

/* The file's content without its trailing newline; owned, or NULL. */
static char *get(const char *dir, const char *file)
{
	char *p = xasprintf("%s/%s", dir, file), *d = NULL;
	if (read_file(p, 1 << 20, &d, NULL) == 0 && *d && d[strlen(d) - 1] == '\n')
		d[strlen(d) - 1] = '\0';
	free(p);
	return d;
}

#define ck_file(dir, file, want)                                                          \
	do {                                                                              \
		char *got_ = get(dir, file);                                              \
		ck_assert_msg(str_eq(got_, want), "%s/%s: \"%s\", want \"%s\"", dir, file, \
			      got_ ? got_ : "(missing)", want);                           \
		free(got_);                                                               \
	} while (0)

static bool gone(const char *path)
{
	struct stat st;
	return lstat(path, &st) < 0 && errno == ENOENT;
}

/* ---- v2, fake tree -------------------------------------------------- */

#define V2_RUN_FILES                                                                      \
	"cgroup.procs", "cgroup.controllers", "memory.max", "memory.swap.max", "pids.max", \
		"cpu.max", "cgroup.kill"

/* root/system.slice/paddock.service is our own cgroup; returns the self
 * file (owned) and sets *own (owned). */
static char *v2_tree(const char *controllers, char **own)
{
	char *root = xasprintf("%s/cg", base);
	mkfiles(root, "cgroup.controllers", "cgroup.procs", "cgroup.subtree_control", NULL);
	put(root, "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
	*own = xasprintf("%s/system.slice/paddock.service", root);
	mkfiles(*own, "cgroup.controllers", "cgroup.procs", "cgroup.subtree_control", NULL);
	put(*own, "cgroup.controllers", controllers);
	char *p = xasprintf("%s/paddock", *own);
	mkfiles(p, "cgroup.controllers", "cgroup.procs", "cgroup.subtree_control", NULL);
	free(p);
	char *self = xasprintf("%s/self", base);
	ck_assert_int_eq(write_file_atomic(self, "0::/system.slice/paddock.service\n", 33, 0644), 0);
	free(root);
	return self;
}

static void unlink_all(const char *dir)
{
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char *p = xasprintf("%s/%s", dir, e->d_name);
		ck_assert_int_eq(unlink(p), 0);
		free(p);
	}
	closedir(d);
}

START_TEST(test_v2_fake)
{
	char *own = NULL;
	char *self = v2_tree("cpu memory pids io\n", &own);
	char *root = xasprintf("%s/cg", base);
	char *run = xasprintf("%s/paddock/run-1", own);
	mkfiles(run, V2_RUN_FILES, NULL);
	enum cg_version v = CG_NONE;
	ck_assert_int_eq(cg_detect(root, &v), 0);
	ck_assert_int_eq(v, CG_V2);

	struct run_limits l = {.cpu_milli = 500, .memory_bytes = 256 * MIB, .pids = 64};
	struct cg_run *c = NULL;
	char err[512] = "";
	int rc = cg_create(root, self, "paddock/run-1", &l, &c, err, sizeof(err));
	ck_assert_msg(rc == 0, "cg_create: %d %s", rc, err);
	ck_assert_int_eq(cg_version_of(c), CG_V2);
	ck_assert_str_eq(cg_path(c, "memory"), run);
	ck_assert_str_eq(cg_path(c, "pids"), run);
	ck_file(own, "cgroup.subtree_control", "+cpu +memory +pids");
	char *mid = xasprintf("%s/paddock", own);
	ck_file(mid, "cgroup.subtree_control", "+cpu +memory +pids");
	ck_file(run, "memory.max", "268435456");
	ck_file(run, "memory.swap.max", "0");
	ck_file(run, "pids.max", "64");
	ck_file(run, "cpu.max", "50000 100000");
	ck_file(root, "cgroup.subtree_control", ""); /* above our own cgroup: untouched */

	ck_assert_int_eq(cg_attach(c, 12345), 0);
	ck_file(run, "cgroup.procs", "12345");
	/* Reuse is refused while the directory holds a process. */
	struct cg_run *c2 = NULL;
	rc = cg_create(root, self, "paddock/run-1", &l, &c2, err, sizeof(err));
	ck_assert_int_eq(rc, -EBUSY);
	ck_assert_ptr_null(c2);
	ck_assert_msg(strstr(err, run) && strstr(err, "processes"), "%s", err);
	ck_assert_msg(!gone(run), "a refused reuse must not remove the directory");

	put(run, "cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n");
	put(run, "memory.peak", "1048576\n");
	put(run, "memory.events", "low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\noom_group_kill 0\n");
	put(run, "pids.events", "max 7\n");
	put(run, "pids.current", "3\n");
	struct cg_usage u;
	ck_assert_int_eq(cg_usage_read(c, &u), 0);
	ck_assert_int_eq(u.cpu_ns, 1500000000LL);
	ck_assert_int_eq(u.memory_peak, 1048576);
	ck_assert_int_eq(u.oom_kills, 1);
	ck_assert_int_eq(u.pids_max_hits, 7);
	ck_assert_int_eq(u.pids_current, 3);

	/* The test created the control files, so it removes them; then the
	 * run's directory goes, its parent stays. */
	unlink_all(run);
	ck_assert_int_eq(cg_destroy(c), 0);
	ck_assert(gone(run));
	ck_assert(!gone(mid));
	ck_assert_int_eq(cg_destroy(NULL), 0);
	free(mid);
	free(run);
	free(root);
	free(self);
	free(own);
}
END_TEST

START_TEST(test_v2_fake_errors)
{
	char *own = NULL;
	char *self = v2_tree("cpu memory\n", &own);
	char *root = xasprintf("%s/cg", base);
	struct run_limits l = {.cpu_milli = 500, .memory_bytes = 256 * MIB, .pids = 64};
	struct cg_run *c = NULL;
	char err[512];
	static const char *const bad[] = {"../x", "/abs", "a/../b", "", "a//b", "a/", ".",
					  "./a", "..", "paddock-controller", "paddock-controller/x"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		ck_assert_int_eq(cg_create(root, self, bad[i], &l, &c, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, "relative path"), "%s: %s", bad[i], err);
	}
	ck_assert_int_eq(cg_create(root, self, NULL, &l, &c, err, sizeof(err)), -EINVAL);
	char *x = xasprintf("%s/x", own);
	ck_assert(gone(x));
	free(x);

	/* pids limited, but the controller is not available to us. */
	char *run = xasprintf("%s/paddock/r", own);
	mkfiles(run, V2_RUN_FILES, NULL);
	ck_assert_int_eq(cg_create(root, self, "paddock/r", &l, &c, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "pids controller is not available") && strstr(err, "Delegate=yes"),
		      "%s", err);
	ck_assert_ptr_null(c);

	/* Without a pids limit the run is created with cpu and memory only. */
	l.pids = 0;
	ck_assert_msg(cg_create(root, self, "paddock/r", &l, &c, err, sizeof(err)) == 0, "%s", err);
	ck_file(own, "cgroup.subtree_control", "+cpu +memory");
	ck_file(run, "pids.max", "");
	ck_file(run, "memory.max", "268435456");
	unlink_all(run);
	ck_assert_int_eq(cg_destroy(c), 0);

	/* A control file the kernel would have: named in the error. */
	mkfiles(run, "cgroup.procs", "memory.max", NULL);
	c = NULL;
	ck_assert_int_eq(cg_create(root, self, "paddock/r", &l, &c, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "/paddock/r/cpu.max: No such file"), "%s", err);
	ck_assert_ptr_null(c);

	/* No line for v2 in the self file. */
	ck_assert_int_eq(write_file_atomic(self, "4:memory:/x\n", 12, 0644), 0);
	ck_assert_int_eq(cg_create(root, self, "paddock/r", &l, &c, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "no cgroup v2 line"), "%s", err);

	enum cg_version v = CG_V2;
	ck_assert_int_eq(cg_detect(base, &v), 0);
	ck_assert_int_eq(v, CG_NONE);
	ck_assert_int_eq(cg_create(base, self, "paddock/r", &l, &c, err, sizeof(err)), -ENOTSUP);
	free(run);
	free(root);
	free(self);
	free(own);
}
END_TEST

/* ---- v1, fake trees ------------------------------------------------- */

static void v1_run_files(const char *root, const char *hier, const char *own, const char *run)
{
	char *d = xasprintf("%s/%s%s/%s", root, hier, own, run);
	mkfiles(d, "cgroup.procs", "tasks", NULL);
	if (str_eq(hier, "memory"))
		mkfiles(d, "memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
			"memory.oom_control", "memory.max_usage_in_bytes", NULL);
	if (str_eq(hier, "pids"))
		mkfiles(d, "pids.max", "pids.current", "pids.events", NULL);
	if (strstr(hier, "cpu"))
		mkfiles(d, "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpuacct.usage", NULL);
	free(d);
}

START_TEST(test_v1_fake_hybrid)
{
	char *root = xasprintf("%s/cg", base);
	static const char *const h[] = {"memory", "pids", "cpu", "cpuacct", "cpuset", "systemd"};
	for (size_t i = 0; i < ARRAY_SIZE(h); i++) {
		char *d = xasprintf("%s/%s", root, h[i]);
		mkfiles(d, "cgroup.procs", NULL);
		free(d);
	}
	mkfiles(root, NULL);
	char *un = xasprintf("%s/unified", root);
	mkfiles(un, "cgroup.controllers", "cgroup.procs", NULL);
	free(un);
	char *self = xasprintf("%s/self", base);
	const char *text = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/b0f1\n"
			   "3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";
	ck_assert_int_eq(write_file_atomic(self, text, strlen(text), 0644), 0);
	v1_run_files(root, "memory", "/process_api/b0f1", "paddock/r1");
	v1_run_files(root, "pids", "", "paddock/r1");
	v1_run_files(root, "cpu", "", "paddock/r1");
	v1_run_files(root, "cpuacct", "", "paddock/r1");
	enum cg_version v = CG_NONE;
	ck_assert_int_eq(cg_detect(root, &v), 0);
	ck_assert_int_eq(v, CG_V1);

	struct run_limits l = {.cpu_milli = 500, .memory_bytes = 256 * MIB, .pids = 64};
	struct cg_run *c = NULL;
	char err[512] = "";
	ck_assert_msg(cg_create(root, self, "paddock/r1", &l, &c, err, sizeof(err)) == 0, "%s", err);
	char *mem = xasprintf("%s/memory/process_api/b0f1/paddock/r1", root);
	char *pids = xasprintf("%s/pids/paddock/r1", root);
	char *cpu = xasprintf("%s/cpu/paddock/r1", root);
	char *acct = xasprintf("%s/cpuacct/paddock/r1", root);
	ck_assert_str_eq(cg_path(c, "memory"), mem);
	ck_assert_str_eq(cg_path(c, "pids"), pids);
	ck_assert_str_eq(cg_path(c, "cpu"), cpu);
	ck_assert_str_eq(cg_path(c, "cpuacct"), acct);
	ck_assert_ptr_null(cg_path(c, "cpuset"));
	ck_file(mem, "memory.limit_in_bytes", "268435456");
	ck_file(mem, "memory.memsw.limit_in_bytes", "268435456");
	ck_file(mem, "memory.oom_control", "0");
	ck_file(pids, "pids.max", "64");
	ck_file(cpu, "cpu.cfs_period_us", "100000");
	ck_file(cpu, "cpu.cfs_quota_us", "50000");

	ck_assert_int_eq(cg_attach(c, 4242), 0);
	ck_file(mem, "cgroup.procs", "4242");
	ck_file(pids, "cgroup.procs", "4242");
	ck_file(cpu, "cgroup.procs", "4242");
	ck_file(acct, "cgroup.procs", "4242");

	put(mem, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
	put(mem, "memory.max_usage_in_bytes", "66846720\n");
	put(acct, "cpuacct.usage", "123456789\n");
	put(pids, "pids.events", "max 5\n");
	put(pids, "pids.current", "16\n");
	struct cg_usage u;
	ck_assert_int_eq(cg_usage_read(c, &u), 0);
	ck_assert_int_eq(u.cpu_ns, 123456789);
	ck_assert_int_eq(u.memory_peak, 66846720);
	ck_assert_int_eq(u.oom_kills, 2);
	ck_assert_int_eq(u.pids_max_hits, 5);
	ck_assert_int_eq(u.pids_current, 16);
	const char *dirs[] = {mem, pids, cpu, acct};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		unlink_all(dirs[i]);
	ck_assert_int_eq(cg_destroy(c), 0);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		ck_assert_msg(gone(dirs[i]), "%s left behind", dirs[i]);

	/* A pids limit without a pids hierarchy names it; with no pids limit
	 * the run has no pids cgroup. */
	char *ph = xasprintf("%s/pids", root);
	rm_rf(ph);
	c = NULL;
	ck_assert_int_eq(cg_create(root, self, "paddock/r1", &l, &c, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "no cgroup v1 pids hierarchy at") && strstr(err, ph), "%s", err);
	ck_assert_ptr_null(c);
	l.pids = 0;
	v1_run_files(root, "memory", "/process_api/b0f1", "paddock/r1");
	v1_run_files(root, "cpu", "", "paddock/r1");
	v1_run_files(root, "cpuacct", "", "paddock/r1");
	ck_assert_msg(cg_create(root, self, "paddock/r1", &l, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_null(cg_path(c, "pids"));
	ck_assert_int_eq(cg_usage_read(c, &u), 0);
	ck_assert_int_eq(u.pids_max_hits, 0);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (i != 1)
			unlink_all(dirs[i]);
	ck_assert_int_eq(cg_destroy(c), 0);
	free(ph);
	free(mem);
	free(pids);
	free(cpu);
	free(acct);
	free(self);
	free(root);
}
END_TEST

START_TEST(test_v1_fake_combined)
{
	/* "cpu,cpuacct" mounted once, cpu and cpuacct links to it; no memsw
	 * (no swap accounting).  Limit 0: "unlimited" is written. */
	char *root = xasprintf("%s/cg", base);
	static const char *const h[] = {"memory", "pids", "cpu,cpuacct"};
	for (size_t i = 0; i < ARRAY_SIZE(h); i++) {
		char *d = xasprintf("%s/%s", root, h[i]);
		mkfiles(d, "cgroup.procs", NULL);
		free(d);
	}
	char *l1 = xasprintf("%s/cpu", root), *l2 = xasprintf("%s/cpuacct", root);
	ck_assert_int_eq(symlink("cpu,cpuacct", l1), 0);
	ck_assert_int_eq(symlink("cpu,cpuacct", l2), 0);
	char *self = xasprintf("%s/self", base);
	const char *text = "5:pids:/user.slice\n4:memory:/user.slice\n3:cpu,cpuacct:/user.slice\n"
			   "1:name=systemd:/user.slice/x.scope\n";
	ck_assert_int_eq(write_file_atomic(self, text, strlen(text), 0644), 0);
	char *mem = xasprintf("%s/memory/user.slice/paddock/r2", root);
	char *pids = xasprintf("%s/pids/user.slice/paddock/r2", root);
	char *cpu = xasprintf("%s/cpu,cpuacct/user.slice/paddock/r2", root);
	mkfiles(mem, "cgroup.procs", "memory.limit_in_bytes", "memory.oom_control", NULL);
	mkfiles(pids, "cgroup.procs", "pids.max", NULL);
	mkfiles(cpu, "cgroup.procs", "cpu.cfs_period_us", "cpu.cfs_quota_us", NULL);

	struct run_limits l = {.cpu_milli = 250, .memory_bytes = 0, .pids = 16};
	struct cg_run *c = NULL;
	char err[512] = "";
	ck_assert_msg(cg_create(root, self, "paddock/r2", &l, &c, err, sizeof(err)) == 0, "%s", err);
	struct stat a, b;
	ck_assert_int_eq(stat(cg_path(c, "cpu"), &a), 0);
	ck_assert_int_eq(stat(cg_path(c, "cpuacct"), &b), 0);
	ck_assert(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	ck_file(cpu, "cpu.cfs_period_us", "100000");
	ck_file(cpu, "cpu.cfs_quota_us", "25000");
	ck_file(mem, "memory.limit_in_bytes", "-1");
	ck_file(pids, "pids.max", "16");
	char *sw = xasprintf("%s/memory.memsw.limit_in_bytes", mem);
	ck_assert_msg(gone(sw), "memsw must not be created");
	free(sw);
	ck_assert_int_eq(cg_attach(c, 777), 0);
	ck_file(cpu, "cgroup.procs", "777");
	unlink_all(mem);
	unlink_all(pids);
	unlink_all(cpu);
	ck_assert_int_eq(cg_destroy(c), 0);
	ck_assert(gone(mem) && gone(pids) && gone(cpu));
	free(mem);
	free(pids);
	free(cpu);
	free(self);
	free(l1);
	free(l2);
	free(root);
}
END_TEST

/* ---- real cgroups --------------------------------------------------- */

static const char *const real_hier[] = {"memory", "pids", "cpu", "cpuacct", "unified"};

/* This process's cgroup in hierarchy h (v2 for "unified"); owned or NULL. */
static char *own_of(const char *h)
{
	char *text = NULL, *res = NULL;
	if (read_file("/proc/self/cgroup", 1 << 16, &text, NULL) < 0)
		return NULL;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line && !res;
	     line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		char *s2 = NULL;
		if (str_eq(h, "unified")) {
			if (!c1[1])
				res = xstrdup(c2 + 1);
			continue;
		}
		for (char *t = strtok_r(c1 + 1, ",", &s2); t; t = strtok_r(NULL, ",", &s2))
			if (str_eq(t, h))
				res = xstrdup(c2 + 1);
	}
	free(text);
	return res;
}

static char *test_dir(const char *h)
{
	char *own = own_of(h);
	if (!own)
		return NULL;
	char *d = xasprintf(SYS_CG "/%s%s/paddock-test", h, str_eq(own, "/") ? "" : own);
	free(own);
	return d;
}

static int procs_count(const char *dir, bool kill_them)
{
	char *p = xasprintf("%s/cgroup.procs", dir), *text = NULL;
	int n = 0;
	if (read_file(p, 1 << 20, &text, NULL) == 0) {
		for (char *t = strtok(text, "\n"); t; t = strtok(NULL, "\n")) {
			n++;
			if (kill_them)
				(void)kill((pid_t)atol(t), SIGKILL);
		}
	}
	free(text);
	free(p);
	return n;
}

/* Unchecked teardown (runs in the runner): kill and remove whatever the
 * real tests of this runner left, then the shared parent if empty. */
static void real_cleanup(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(real_hier); i++) {
		char *d = test_dir(real_hier[i]);
		DIR *dir = d ? opendir(d) : NULL;
		char prefix[32];
		snprintf(prefix, sizeof(prefix), "%ld-", (long)runner);
		for (struct dirent *e; dir && (e = readdir(dir));) {
			if (!str_startswith(e->d_name, prefix))
				continue;
			char *sub = xasprintf("%s/%s", d, e->d_name);
			for (int t = 0; t < 200 && procs_count(sub, true) > 0; t++)
				msleep(10);
			for (int t = 0; t < 100 && rmdir(sub) < 0 && errno == EBUSY; t++)
				msleep(10);
			free(sub);
		}
		if (dir)
			closedir(dir);
		if (d)
			(void)rmdir(d);
		free(d);
	}
}

static bool real_v1(void)
{
	enum cg_version v = CG_NONE;
	if (geteuid() != 0) {
		fprintf(stderr, "test_cgroup: real cgroup v1 tests skipped: not root\n");
		return false;
	}
	if (cg_detect(SYS_CG, &v) < 0 || v != CG_V1) {
		fprintf(stderr, "test_cgroup: real cgroup v1 tests skipped: %s is not cgroup v1\n",
			SYS_CG);
		return false;
	}
	return true;
}

static char *real_name(int n)
{
	return xasprintf("paddock-test/%ld-%d", (long)runner, n);
}

static void usage(const struct cg_run *c, struct cg_usage *u)
{
	ck_assert_int_eq(cg_usage_read(c, u), 0);
}

/* Fork a child that joins c, then runs fn. */
static pid_t spawn(const struct cg_run *c, void (*fn)(void))
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (cg_attach(c, getpid()) < 0)
			_exit(126);
		fn();
		_exit(0);
	}
	return pid;
}

static void fork_bomb(void)
{
	execl("/bin/sh", "sh", "-c",
	      "i=0; while [ $i -lt 40 ]; do sleep 5 & i=$((i+1)); done; wait", (char *)NULL);
	_exit(127);
}

static void hog_memory(void)
{
	size_t n = 256 * MIB;
	char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(125);
	for (size_t i = 0; i < n; i += 4096)
		p[i] = 1;
	_exit(0);
}

static void spin(void)
{
	int64_t end = now_mono_ms() + 1500;
	volatile unsigned long x = 0;
	while (now_mono_ms() < end)
		x++;
	_exit(0);
}

/* Burns 0.6 s of its own CPU time, however loaded the machine is (at
 * most 30 s of wall time): the cgroup's cpu.stat must show it. */
static void burn(void)
{
	int64_t end = now_mono_ms() + 30000;
	volatile unsigned long x = 0;
	struct timespec ts;
	do {
		for (int i = 0; i < 100000; i++)
			x++;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	} while (ts.tv_sec * 1000 + ts.tv_nsec / 1000000 < 600 && now_mono_ms() < end);
	_exit(0);
}

START_TEST(test_real_v1)
{
	if (!real_v1())
		return;
	char *name = real_name(1);
	struct run_limits l = {.cpu_milli = 250, .memory_bytes = 64 * MIB, .pids = 16};
	struct cg_run *c = NULL;
	char err[512] = "";
	int rc = cg_create(SYS_CG, "/proc/self/cgroup", name, &l, &c, err, sizeof(err));
	ck_assert_msg(rc == 0, "cg_create: %s", err);
	char *own = own_of("memory");
	char *want = xasprintf(SYS_CG "/memory%s/%s", str_eq(own, "/") ? "" : own, name);
	ck_assert_str_eq(cg_path(c, "memory"), want);
	free(want);
	free(own);
	ck_file(cg_path(c, "memory"), "memory.limit_in_bytes", "67108864");
	ck_file(cg_path(c, "pids"), "pids.max", "16");
	ck_file(cg_path(c, "cpu"), "cpu.cfs_quota_us", "25000");
	ck_file(cg_path(c, "cpu"), "cpu.cfs_period_us", "100000");
	/* Weighed by its limit (1000m = 1024 shares), as Kubernetes does. */
	ck_file(cg_path(c, "cpu"), "cpu.shares", "256");

	/* pids: 40 background sleeps under a limit of 16. */
	struct cg_usage u;
	pid_t pid = spawn(c, fork_bomb);
	int64_t end = now_mono_ms() + 10000;
	int st = 0;
	for (usage(c, &u); u.pids_max_hits == 0 && now_mono_ms() < end; usage(c, &u))
		msleep(20);
	ck_assert_msg(u.pids_max_hits > 0, "no fork was refused (pids_current %lld)",
		      (long long)u.pids_current);
	ck_assert_int_le(u.pids_current, 16);
	rc = cg_kill_all(c, 5000);
	ck_assert_msg(rc >= 1, "cg_kill_all: %d", rc);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	static const char *const h[] = {"memory", "pids", "cpu", "cpuacct"};
	for (size_t i = 0; i < ARRAY_SIZE(h); i++)
		ck_assert_int_eq(procs_count(cg_path(c, h[i]), false), 0);
	ck_assert_int_eq(cg_kill_all(c, 100), 0);

	/* memory: touching 256 MiB under 64 MiB gets the child OOM-killed. */
	pid = spawn(c, hog_memory);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "hog: status %#x", st);
	usage(c, &u);
	ck_assert_int_ge(u.oom_kills, 1);
	ck_assert_int_gt(u.memory_peak, 0);
	ck_assert_int_le(u.memory_peak, 64 * MIB);

	/* cpu: 1.5 s of spinning under 250m gets about a quarter of it. */
	struct cg_usage before;
	usage(c, &before);
	int64_t t0 = now_mono_ms();
	pid = spawn(c, spin);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	int64_t wall_ns = (now_mono_ms() - t0) * 1000000LL;
	usage(c, &u);
	double ratio = (double)(u.cpu_ns - before.cpu_ns) / (double)wall_ns;
	ck_assert_msg(ratio > 0.1 && ratio < 0.45, "cpu %lld ns over %lld ns wall: %.2f",
		      (long long)(u.cpu_ns - before.cpu_ns), (long long)wall_ns, ratio);

	const char *dirs[4];
	for (size_t i = 0; i < ARRAY_SIZE(h); i++)
		dirs[i] = xstrdup(cg_path(c, h[i]));
	ck_assert_int_eq(cg_destroy(c), 0);
	for (size_t i = 0; i < ARRAY_SIZE(h); i++) {
		ck_assert_msg(gone(dirs[i]), "%s left behind", dirs[i]);
		free((char *)dirs[i]);
	}
	free(name);
}
END_TEST

static void nap(void)
{
	execl("/bin/sleep", "sleep", "30", (char *)NULL);
	_exit(127);
}

START_TEST(test_real_v1_reuse)
{
	if (!real_v1())
		return;
	char *name = real_name(2);
	struct run_limits l = {.memory_bytes = 32 * MIB};
	struct cg_run *c = NULL, *c2 = NULL;
	char err[512] = "";
	ck_assert_msg(cg_create(SYS_CG, "/proc/self/cgroup", name, &l, &c, err, sizeof(err)) == 0,
		      "%s", err);
	/* A live process in the directory: refused, directory kept. */
	pid_t pid = spawn(c, nap);
	for (int t = 0; t < 200 && procs_count(cg_path(c, "memory"), false) == 0; t++)
		msleep(5);
	int rc = cg_create(SYS_CG, "/proc/self/cgroup", name, &l, &c2, err, sizeof(err));
	ck_assert_msg(rc == -EBUSY && strstr(err, "already exists"), "%d %s", rc, err);
	ck_assert(!gone(cg_path(c, "memory")));
	ck_assert_int_eq(cg_kill_all(c, 5000), 1);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	/* Empty now: reused, and raising the limit passes the memsw order. */
	l.memory_bytes = 128 * MIB;
	l.pids = 8;
	ck_assert_msg(cg_create(SYS_CG, "/proc/self/cgroup", name, &l, &c2, err, sizeof(err)) == 0,
		      "%s", err);
	ck_file(cg_path(c2, "memory"), "memory.limit_in_bytes", "134217728");
	char *sw = xasprintf("%s/memory.memsw.limit_in_bytes", cg_path(c2, "memory"));
	if (!gone(sw))
		ck_file(cg_path(c2, "memory"), "memory.memsw.limit_in_bytes", "134217728");
	free(sw);
	ck_file(cg_path(c2, "pids"), "pids.max", "8");
	/* Lowering again on reuse. */
	l.memory_bytes = 16 * MIB;
	struct cg_run *c3 = NULL;
	ck_assert_msg(cg_create(SYS_CG, "/proc/self/cgroup", name, &l, &c3, err, sizeof(err)) == 0,
		      "%s", err);
	ck_file(cg_path(c3, "memory"), "memory.limit_in_bytes", "16777216");
	char *mem = xstrdup(cg_path(c3, "memory"));
	ck_assert_int_eq(cg_destroy(c3), 0);
	ck_assert_int_eq(cg_destroy(c2), 0); /* already gone: not an error */
	ck_assert_int_eq(cg_destroy(c), 0);
	ck_assert(gone(mem));
	free(mem);
	free(name);
}
END_TEST

START_TEST(test_real_v2_unified)
{
	/* The hybrid layout's cgroup2 mount has no controllers, but creating,
	 * joining, cpu.stat, cgroup.kill and removal are the real v2 ones. */
	const char *root = SYS_CG "/unified";
	enum cg_version v = CG_NONE;
	char *own = own_of("unified");
	if (geteuid() != 0 || cg_detect(root, &v) < 0 || v != CG_V2 || !own) {
		fprintf(stderr, "test_cgroup: real cgroup v2 test skipped: not root or no %s\n",
			root);
		free(own);
		return;
	}
	char *name = real_name(3);
	struct run_limits l = {0};
	struct cg_run *c = NULL;
	char err[512] = "";
	int rc = cg_create(root, "/proc/self/cgroup", name, &l, &c, err, sizeof(err));
	ck_assert_msg(rc == 0, "cg_create: %s", err);
	char *want = xasprintf("%s%s/%s", root, str_eq(own, "/") ? "" : own, name);
	ck_assert_str_eq(cg_path(c, "memory"), want);
	pid_t spinner = spawn(c, burn);
	pid_t sleeper = spawn(c, nap);
	int st;
	ck_assert_int_eq(waitpid(spinner, &st, 0), spinner);
	struct cg_usage u;
	usage(c, &u);
	ck_assert_msg(u.cpu_ns > 500000000LL, "cpu_ns %lld", (long long)u.cpu_ns);
	ck_assert_int_eq(cg_kill_all(c, 5000), 1);
	ck_assert_int_eq(waitpid(sleeper, &st, 0), sleeper);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	ck_assert_int_eq(procs_count(want, false), 0);
	ck_assert_int_eq(cg_destroy(c), 0);
	ck_assert(gone(want));
	free(want);
	free(name);
	free(own);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cgroup");
	TCase *t = tcase_create("fake");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, test_v2_fake);
	tcase_add_test(t, test_v2_fake_errors);
	tcase_add_test(t, test_v1_fake_hybrid);
	tcase_add_test(t, test_v1_fake_combined);
	suite_add_tcase(s, t);
	t = tcase_create("real");
	tcase_add_unchecked_fixture(t, real_cleanup, real_cleanup);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, test_real_v1);
	tcase_add_test(t, test_real_v1_reuse);
	tcase_add_test(t, test_real_v2_unified);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	runner = getpid();
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
