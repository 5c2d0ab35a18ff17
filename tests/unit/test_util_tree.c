/* SPDX-License-Identifier: MIT */
/* test_util_tree.c - directory trees an agent controls: rm_rf on a
 * 100,000-level tree with 64 fds, symbolic links to the outside (targets
 * intact), unreadable directories (as a non-root remover too), a wide
 * directory, a mount point inside (reported, never entered); tree_usage
 * figures and its early stop; tree_chown not following links (nor
 * handing over hard-linked files). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"

#define NOBODY 65534

static char base[64];

static void setup(void)
{
	snprintf(base, sizeof(base), "/tmp/paddock-tree-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
}

static void teardown(void)
{
	ck_assert_int_eq(rm_rf(base), 0);
}

/* base/rel (owned) */
static char *at(const char *rel)
{
	return xasprintf("%s/%s", base, rel);
}

static void mkdir_at(const char *rel, unsigned mode)
{
	char *p = at(rel);
	ck_assert_msg(mkdir(p, mode) == 0, "mkdir %s: %s", p, strerror(errno));
	ck_assert_int_eq(chmod(p, mode), 0); /* past the umask */
	free(p);
}

/* A file of `size` bytes. */
static void put(const char *rel, size_t size)
{
	char *p = at(rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_msg(fd >= 0, "open %s: %s", p, strerror(errno));
	char block[4096];
	memset(block, 'x', sizeof(block));
	for (size_t done = 0; done < size;) {
		size_t n = size - done < sizeof(block) ? size - done : sizeof(block);
		ck_assert_int_eq(write(fd, block, n), (ssize_t)n);
		done += n;
	}
	close(fd);
	free(p);
}

static void link_at(const char *target, const char *rel)
{
	char *p = at(rel);
	ck_assert_int_eq(symlink(target, p), 0);
	free(p);
}

static bool exists(const char *rel)
{
	struct stat st;
	char *p = at(rel);
	bool r = lstat(p, &st) == 0;
	free(p);
	return r;
}

/* A chain of `depth` directories "d" below base/rel, created one level at
 * a time through fds (the path would be far longer than PATH_MAX); the
 * last one holds a file "f" and, with `extra`, what extra() puts there. */
static void chain(const char *rel, long depth, void (*extra)(int fd))
{
	char *p = at(rel);
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	for (long i = 0; i < depth; i++) {
		ck_assert_int_eq(mkdirat(fd, "d", 0755), 0);
		int next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ck_assert_int_ge(next, 0);
		close(fd);
		fd = next;
	}
	int f = openat(fd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_int_ge(f, 0);
	close(f);
	if (extra)
		extra(fd);
	close(fd);
	free(p);
}

/* Run fn() in a child with RLIMIT_NOFILE at `nofile` (and as `uid` when
 * >= 0); its exit status. */
static int in_child(int nofile, int uid, int (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit rl;
		(void)getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = (rlim_t)nofile; /* the soft limit only: valgrind keeps the hard one */
		if (nofile > 0 && setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(90);
		if (uid >= 0 && (setgroups(0, NULL) < 0 || setgid((gid_t)uid) < 0 || setuid((uid_t)uid) < 0))
			_exit(91);
		/* still ours after setuid: /proc/self/fd (see open_chmod) */
		(void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		_exit(fn());
	}
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child killed by signal %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}

/* ---- rm_rf ------------------------------------------------------------ */

#define DEEP 100000L

static int usage_deep(void)
{
	char *p = at("deep");
	int64_t bytes = 0, entries = 0;
	int rc = tree_usage(p, &bytes, &entries, 0);
	free(p);
	if (rc != 0)
		return 10;
	return entries == DEEP + 1 ? 0 : 11; /* DEEP directories and "f" */
}

static int rm_deep(void)
{
	char *p = at("deep");
	int rc = rm_rf(p);
	free(p);
	return rc == 0 ? 0 : 12;
}

START_TEST(deep_tree_with_64_fds)
{
	mkdir_at("deep", 0755);
	chain("deep", DEEP, NULL);
	ck_assert_int_eq(in_child(64, -1, usage_deep), 0);
	ck_assert_int_eq(in_child(64, -1, rm_deep), 0);
	ck_assert(!exists("deep"));
}
END_TEST

/* Symbolic links to a file and a directory outside, near the top and
 * beyond the levels that keep their fd. */
static char *outside_file, *outside_dir;

static void deep_links(int fd)
{
	ck_assert_int_eq(symlinkat(outside_file, fd, "lf"), 0);
	ck_assert_int_eq(symlinkat(outside_dir, fd, "ld"), 0);
}

START_TEST(symlinks_not_followed)
{
	mkdir_at("out", 0755);
	mkdir_at("out/dir", 0755);
	put("out/dir/keep", 10);
	put("out/file", 10);
	outside_file = at("out/file");
	outside_dir = at("out/dir");
	mkdir_at("t", 0755);
	link_at(outside_file, "t/lf");
	link_at(outside_dir, "t/ld");
	link_at("/etc", "t/etc");
	link_at("../out", "t/up");
	chain("t", 40, deep_links);
	char *t = at("t");
	ck_assert_int_eq(rm_rf(t), 0);
	free(t);
	ck_assert(!exists("t"));
	ck_assert(exists("out/dir/keep"));
	ck_assert(exists("out/file"));
	struct stat st;
	ck_assert_int_eq(stat("/etc/passwd", &st), 0);
	/* A symbolic link as the path itself: the link goes, not its target. */
	link_at(outside_dir, "l");
	char *l = at("l");
	ck_assert_int_eq(rm_rf(l), 0);
	free(l);
	ck_assert(!exists("l"));
	ck_assert(exists("out/dir/keep"));
	free(outside_file);
	free(outside_dir);
}
END_TEST

static void locked(int fd)
{
	ck_assert_int_eq(mkdirat(fd, "z", 0), 0);
	ck_assert_int_eq(fchmodat(fd, "z", 0, 0), 0);
}

static void make_locked_tree(void)
{
	mkdir_at("m", 0755);
	mkdir_at("m/a", 0755);
	put("m/a/f", 10);
	mkdir_at("m/a/b", 0755);
	put("m/a/b/f", 10);
	mkdir_at("m/r", 0755);
	put("m/r/f", 10);
	chain("m/r", 40, locked); /* 0000 beyond the levels that keep an fd */
	char *p = at("m/r");
	ck_assert_int_eq(chmod(p, 0500), 0);
	free(p);
	p = at("m/a/b");
	ck_assert_int_eq(chmod(p, 0), 0);
	free(p);
	p = at("m/a");
	ck_assert_int_eq(chmod(p, 0), 0);
	free(p);
	p = at("m");
	ck_assert_int_eq(chmod(p, 0), 0);
	free(p);
}

static int rm_m(void)
{
	char *p = at("m");
	char e[512] = "";
	int rc = rm_rf_report(p, e, sizeof(e));
	free(p);
	if (rc != 0)
		fprintf(stderr, "rm_rf_report: %s\n", e);
	return rc == 0 ? 0 : 13;
}

START_TEST(unreadable_directories)
{
	make_locked_tree();
	ck_assert_int_eq(in_child(0, -1, rm_m), 0);
	ck_assert(!exists("m"));
	if (geteuid() != 0)
		return;
	/* Again as a remover that is not root (the agent's uid). */
	make_locked_tree();
	int fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_eq(tree_chown(fd, NOBODY, NOBODY, NULL, 0), 0);
	close(fd);
	ck_assert_int_eq(in_child(0, NOBODY, rm_m), 0);
	ck_assert(!exists("m"));
}
END_TEST

static char report[512];

static int rm_report_t(void)
{
	char *p = at("t");
	int rc = rm_rf_report(p, report, sizeof(report));
	free(p);
	bool ok = rc == -EACCES && strstr(report, "could not remove 1 entry below") &&
		  strstr(report, "first: a/root: Permission denied");
	if (!ok)
		fprintf(stderr, "rm_rf_report: %d: %s\n", rc, report);
	return ok ? 0 : 14;
}

START_TEST(report_what_is_left)
{
	if (geteuid() != 0) {
		printf("report_what_is_left: skipped: needs root (a directory the remover does not own)\n");
		return;
	}
	/* What nobody cannot remove: a non-empty directory of root's. */
	mkdir_at("t", 0755);
	mkdir_at("t/a", 0755);
	put("t/a/f", 1);
	mkdir_at("t/a/root", 0700);
	put("t/a/root/f", 1);
	mkdir_at("t/b", 0755);
	int fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_eq(tree_chown(fd, NOBODY, NOBODY, NULL, 0), 0);
	close(fd);
	char *p = at("t/a/root");
	ck_assert_int_eq(chown(p, 0, 0), 0);
	free(p);
	ck_assert_int_eq(in_child(0, NOBODY, rm_report_t), 0);
	ck_assert(exists("t/a/root/f"));
	ck_assert(!exists("t/a/f"));
	ck_assert(!exists("t/b"));
}
END_TEST

START_TEST(wide_directory)
{
	mkdir_at("w", 0755);
	char name[32];
	for (int i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "w/%d", i);
		mkdir_at(name, 0755);
		if (i % 10 == 0) {
			snprintf(name, sizeof(name), "w/%d/f", i);
			put(name, 1);
		}
	}
	char *p = at("w");
	ck_assert_int_eq(rm_rf(p), 0);
	free(p);
	ck_assert(!exists("w"));
}
END_TEST

/* ---- a mount point inside: an unchecked fixture, so that the unmount
 * happens in the parent even when the test fails -------------------- */

static char mbase[64];
static bool mounted;

static void mount_setup(void)
{
	snprintf(mbase, sizeof(mbase), "/tmp/paddock-mnt-XXXXXX");
	if (!mkdtemp(mbase))
		return;
	char *src = xasprintf("%s/src", mbase), *dst = xasprintf("%s/t/sub/mnt", mbase);
	char *keep = xasprintf("%s/keep", src);
	if (mkdir(src, 0755) == 0 && mkdir_p(dst, 0755) == 0 && write_file_atomic(keep, "x", 1, 0644) == 0)
		mounted = mount(src, dst, "none", MS_BIND, NULL) == 0;
	if (!mounted)
		printf("mount_point_reported: skipped: cannot bind-mount: %s\n", strerror(errno));
	free(src);
	free(dst);
	free(keep);
}

static void mount_teardown(void)
{
	char *dst = xasprintf("%s/t/sub/mnt", mbase);
	if (mounted && umount2(dst, MNT_DETACH) < 0)
		fprintf(stderr, "umount %s: %s\n", dst, strerror(errno));
	else
		(void)rm_rf(mbase);
	free(dst);
}

START_TEST(mount_point_reported)
{
	if (!mounted)
		return;
	char *t = xasprintf("%s/t", mbase), *keep = xasprintf("%s/src/keep", mbase);
	char *other = xasprintf("%s/t/other", mbase);
	ck_assert_int_eq(write_file_atomic(other, "x", 1, 0644), 0);
	char e[512] = "";
	ck_assert_int_eq(rm_rf_report(t, e, sizeof(e)), -EXDEV);
	char *want = xasprintf("could not remove 1 entry below %s, first: sub/mnt: a mount point", t);
	ck_assert_msg(strstr(e, want), "message: %s", e);
	ck_assert_int_eq(access(keep, F_OK), 0);  /* never entered */
	ck_assert_int_ne(access(other, F_OK), 0); /* the rest went */
	int64_t bytes, entries;
	ck_assert_int_eq(tree_usage(t, &bytes, &entries, 0), 0);
	ck_assert_int_le(entries, 2); /* sub (and sub/mnt): not what is mounted there */
	ck_assert_int_ge(entries, 1);
	free(want);
	free(t);
	free(keep);
	free(other);
}
END_TEST

/* ---- tree_usage ------------------------------------------------------- */

START_TEST(usage_figures)
{
	mkdir_at("u", 0755);
	mkdir_at("u/a", 0755);
	mkdir_at("u/a/b", 0755);
	mkdir_at("u/c", 0755);
	put("u/f1", 1000);
	put("u/a/f2", 50000);
	put("u/a/b/f3", 200000);
	link_at("/etc", "u/a/l");
	char *p = at("u");
	int64_t bytes = -1, entries = -1;
	ck_assert_int_eq(tree_usage(p, &bytes, &entries, 0), 0);
	ck_assert_int_eq(entries, 7);
	ck_assert_int_ge(bytes, 1000 + 50000 + 200000);
	ck_assert_int_lt(bytes, 1000 + 50000 + 200000 + 64 * 4096);
	/* More than 3: stop, with what was counted so far. */
	bytes = entries = -1;
	ck_assert_int_eq(tree_usage(p, &bytes, &entries, 3), -E2BIG);
	ck_assert_int_eq(entries, 4);
	ck_assert_int_gt(bytes, 0);
	ck_assert_int_eq(tree_usage(p, &bytes, &entries, 7), 0);
	free(p);
	p = at("missing");
	ck_assert_int_eq(tree_usage(p, &bytes, &entries, 0), -ENOENT);
	free(p);
}
END_TEST

/* ---- tree_chown ------------------------------------------------------- */

static uid_t owner(const char *rel)
{
	struct stat st;
	char *p = at(rel);
	ck_assert_int_eq(lstat(p, &st), 0);
	free(p);
	return st.st_uid;
}

START_TEST(chown_not_following)
{
	if (geteuid() != 0) {
		printf("chown_not_following: skipped: needs root\n");
		return;
	}
	mkdir_at("c", 0755);
	mkdir_at("c/d", 0700);
	put("c/d/f", 10);
	put("target", 10);
	char *target = at("target");
	link_at(target, "c/d/l");
	link_at(base, "c/up");
	char *hl = at("c/d/hl");
	ck_assert_int_eq(link(target, hl), 0); /* a hard link to the outside */
	free(hl);
	mkdir_at("c/k", 0755);
	chain("c/k", 40, NULL);
	char *p = at("c");
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	char e[256] = "";
	ck_assert_msg(tree_chown(fd, 4242, 4343, e, sizeof(e)) == 0, "%s", e);
	close(fd);
	ck_assert_int_eq(owner("c"), 4242);
	ck_assert_int_eq(owner("c/d"), 4242);
	ck_assert_int_eq(owner("c/d/f"), 4242);
	ck_assert_int_eq(owner("c/d/l"), 4242);
	ck_assert_int_eq(owner("c/up"), 4242);
	ck_assert_int_eq(owner("target"), 0);
	ck_assert_int_eq(owner("c/d/hl"), 0);
	ck_assert_int_eq(owner("."), 0);
	/* the bottom of the chain, beyond the levels that keep an fd */
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, "c/k");
	for (int i = 0; i < 40; i++)
		buf_puts(&b, "/d");
	buf_puts(&b, "/f");
	ck_assert_int_eq(owner(b.data), 4242);
	struct stat st;
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_gid, 4343);
	buf_free(&b);
	free(p);
	free(target);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util_tree");
	TCase *tc = tcase_create("tree");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, deep_tree_with_64_fds);
	tcase_add_test(tc, symlinks_not_followed);
	tcase_add_test(tc, unreadable_directories);
	tcase_add_test(tc, report_what_is_left);
	tcase_add_test(tc, wide_directory);
	tcase_add_test(tc, usage_figures);
	tcase_add_test(tc, chown_not_following);
	suite_add_tcase(s, tc);
	TCase *tm = tcase_create("mount");
	tcase_add_unchecked_fixture(tm, mount_setup, mount_teardown);
	tcase_add_test(tm, mount_point_reported);
	suite_add_tcase(s, tm);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
