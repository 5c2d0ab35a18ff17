/* SPDX-License-Identifier: MIT */
/*
 * sandbox_bench - what the fence costs when a run starts: a trivial
 * command (/bin/true) in the sandbox Paddock builds now (its own host
 * uid in a user namespace, the seccomp filter, a cgroup with limits, the
 * workspace handed to that uid) against the same command through bare
 * bubblewrap (the flags Paddock used before: no user namespace, filter or
 * cgroup), both measured in this run, alternating, N times each.
 *
 *   core/sandbox_bench [N]      (root; N defaults to 200)
 *
 * Prints ms per start for each and the ratio (the aim: at most 1.2), and
 * the cost of removing the run's cgroup, which the supervisor pays after
 * it has recorded the run's result.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "local/local.h"
#include "local/cgroup.h"
#include "control/plan.h"
#include "base/util.h"

static int run(char **argv, char **srcs, int seccomp_fd, int userns_fd, const struct cg_run *cg,
	       long uid)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int dn = open("/dev/null", O_RDWR);
		if (dn < 0 || dup2(dn, 0) < 0 || dup2(dn, 1) < 0)
			_exit(126);
		if (cg && !getenv("NOCG") && cg_attach(cg, getpid()) < 0)
			_exit(126);
		if (seccomp_fd >= 0 && dup2(seccomp_fd, LOCAL_FD_SECCOMP) < 0)
			_exit(126);
		if (userns_fd >= 0 && dup2(userns_fd, LOCAL_FD_USERNS) < 0)
			_exit(126);
		if (local_stage_binds(srcs) < 0 || (uid >= 0 && local_drop_to((uid_t)uid) < 0) ||
		    local_etc_fds() < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 200;
	if (geteuid() != 0) {
		fprintf(stderr, "sandbox_bench: run as root (the run's own uid needs it)\n");
		return 77;
	}
	char tmpl[] = "/tmp/paddock-sbench.XXXXXX";
	char *dir = mkdtemp(tmpl);
	if (!dir) {
		perror("mkdtemp");
		return 1;
	}
	char err[1024] = "";
	char *run_dir = xasprintf("%s/run", dir), *slots = xasprintf("%s/slots", dir);
	struct run_plan plan;
	plan_init(&plan, "default", 1 << 20, 1 << 20);
	plan.command = xstrdup("/usr/bin/true");
	struct run_limits lim = {.cpu_milli = 1000, .memory_bytes = 512 << 20, .pids = 256,
				 .storage_bytes = 1 << 30};
	if (getenv("ONLY")) {
		const char *o = getenv("ONLY");
		if (strcmp(o, "cpu")) lim.cpu_milli = 0;
		if (strcmp(o, "mem")) lim.memory_bytes = 0;
		if (strcmp(o, "pids")) lim.pids = 0;
	}
	struct local_spec s = {.run_dir = run_dir, .plan = &plan, .isolation = true,
			       .uid_slot_dir = slots, .uid_base = 2100000000, .uid_count = 4,
			       .limits = &lim};
	int rc = local_prepare(&s, err, sizeof(err));
	struct strv fenced = {0}, srcs = {0};
	if (rc == 0)
		rc = local_argv_build(&s, &fenced, &srcs, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "sandbox_bench: %s\n", err);
		return 1;
	}
	/* The baseline: the same binds through bwrap run as root, without the
	 * user namespace, the filter or the cgroup (what Paddock ran before). */
	struct local_spec sb = s;
	sb.uid_slot_dir = NULL;
	struct strv tmp = {0}, none = {0}, bare = {0};
	if (local_argv_build(&sb, &tmp, &none, err, sizeof(err)) < 0) {
		fprintf(stderr, "sandbox_bench: %s\n", err);
		return 1;
	}
	for (size_t k = 0; k < tmp.n; k++) {
		if (!strcmp(tmp.v[k], "--unshare-user"))
			continue;
		if (!strcmp(tmp.v[k], "--uid") || !strcmp(tmp.v[k], "--gid") ||
		    !strcmp(tmp.v[k], "--seccomp")) {
			k++;
			continue;
		}
		strv_push(&bare, tmp.v[k]);
	}
	strv_free(&tmp);
	strv_free(&none);
	char *ws = xasprintf("%s/workspace", run_dir);
	int64_t t_bare = 0, t_fenced = 0, t_clean = 0;
	int failed = 0;
	for (int i = 0; i < n; i++) {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (run(bare.v, NULL, -1, -1, NULL, -1) < 0)
			failed++;
		clock_gettime(CLOCK_MONOTONIC, &b);
		t_bare += (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);

		/* Everything the supervisor does per run for the fence. */
		clock_gettime(CLOCK_MONOTONIC, &a);
		uid_t uid;
		int lock = local_uid_claim(slots, s.uid_base, s.uid_count, &uid, err, sizeof(err));
		int wfd = open(ws, O_RDONLY | O_DIRECTORY);
		int sfd = local_seccomp_fd(err, sizeof(err));
		int ufd = lock >= 0 ? local_userns_new(uid, err, sizeof(err)) : -1;
		char name[64];
		snprintf(name, sizeof(name), "paddock/bench-%d-%d", (int)getpid(), i);
		struct cg_run *cg = NULL;
		if (lock < 0 || wfd < 0 || sfd < 0 || ufd < 0 ||
		    tree_chown(wfd, uid, uid, err, sizeof(err)) < 0 ||
		    cg_create("/sys/fs/cgroup", "/proc/self/cgroup", name, &lim, &cg, err,
			      sizeof(err)) < 0 ||
		    run(fenced.v, srcs.v, sfd, ufd, cg, (long)uid) < 0) {
			if (!failed++)
				fprintf(stderr, "sandbox_bench: fenced start failed: %s\n", err);
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		t_fenced += (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
		/* After the run's result is recorded: not part of the start. */
		(void)cg_destroy(cg);
		clock_gettime(CLOCK_MONOTONIC, &a);
		t_clean += (a.tv_sec - b.tv_sec) * 1000000000LL + (a.tv_nsec - b.tv_nsec);
		if (ufd >= 0)
			close(ufd);
		if (sfd >= 0)
			close(sfd);
		if (wfd >= 0)
			close(wfd);
		if (lock >= 0)
			close(lock);
	}
	double mb = (double)t_bare / n / 1e6, mf = (double)t_fenced / n / 1e6;
	printf("sandbox starts: %d each (failed: %d)\n", n, failed);
	printf("%-34s %10s %8s\n", "", "ms/start", "ratio");
	printf("%-34s %10.2f %8.2f\n", "bwrap, same binds, as root", mb, 1.0);
	printf("%-34s %10.2f %8.2f\n", "sandbox (userns+seccomp+cgroup)", mf, mf / mb);
	printf("sandbox / bwrap: %.2f; then removing the run's cgroup: %.2f ms (after its result is recorded)\n",
	       mf / mb, (double)t_clean / n / 1e6);
	strv_free(&fenced);
	strv_free(&srcs);
	plan_free(&plan);
	(void)rm_rf(dir);
	free(run_dir);
	free(slots);
	free(ws);
	strv_free(&bare);
	return failed ? 1 : 0;
}
