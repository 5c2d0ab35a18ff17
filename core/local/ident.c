/* SPDX-License-Identifier: MIT */
/*
 * local/ident.c - who a sandboxed run is: an unprivileged host uid of its
 * own, seen inside the sandbox as LOCAL_SANDBOX_UID in a user namespace.
 *
 * When Paddock runs as root, each live run holds one uid of the range
 * configured in paddock.yaml (sandbox.uidBase, uidCount) through an
 * flock(2) on STATE_DIR/uid-slots/N, taken by its supervisor and released
 * by the kernel when the supervisor exits, however it exits.  The user
 * namespace is made here, by root, mapping exactly that one uid and gid:
 * this works where unprivileged user namespaces are disabled, and the
 * mapping can never include host uid 0.  The namespace is owned by the
 * run's uid, so bwrap, started as that uid, joins it with --userns: no
 * process of the run, bwrap's included, is root on the host.
 */
#include "config.h"
#include "local/local.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int local_uid_claim(const char *slot_dir, long base, long count, uid_t *uid, char *err,
		    size_t errlen)
{
	if (base <= 0 || count <= 0 || base + count > 0x7fffffffL)
		return errf(err, errlen, -EINVAL,
			    "sandbox.uidBase %ld / uidCount %ld: use a range of positive uids below 2^31",
			    base, count);
	int rc = mkdir_p(slot_dir, 0700);
	if (rc < 0)
		return errf(err, errlen, rc, "cannot create %s: %s", slot_dir, strerror(-rc));
	for (long i = 0; i < count; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%ld", slot_dir, i);
		int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return errf(err, errlen, -errno, "cannot open %s: %s", path, strerror(errno));
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			*uid = (uid_t)(base + i);
			return fd;
		}
		close(fd);
	}
	return errf(err, errlen, -EAGAIN,
		    "all %ld sandbox uids (sandbox.uidBase %ld) are in use: raise sandbox.uidCount in paddock.yaml",
		    count, base);
}

static int write_proc(pid_t pid, const char *file, const char *data)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, data, strlen(data));
	int rc = n == (ssize_t)strlen(data) ? 0 : n < 0 ? -errno : -EIO;
	close(fd);
	return rc;
}

int local_drop_to(uid_t uid)
{
	/* The bounding set first: dropping it needs CAP_SETPCAP. */
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap) < 0 && errno != EINVAL)
			return -errno;
	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

int local_userns_new(uid_t host, char *err, size_t errlen)
{
	int go[2], ready[2];
	if (pipe2(go, O_CLOEXEC) < 0)
		return errf(err, errlen, -errno, "user namespace: pipe: %s", strerror(errno));
	if (pipe2(ready, O_CLOEXEC) < 0) {
		int e = errno;
		close(go[0]);
		close(go[1]);
		return errf(err, errlen, -e, "user namespace: pipe: %s", strerror(e));
	}
	pid_t pid = fork();
	if (pid == 0) {
		/* Become `host`, keeping only CAP_SYS_ADMIN (which lets the
		 * namespace be made where unprivileged ones are disabled), so
		 * that `host` owns it: bwrap, run as `host`, may then join it.
		 * Make it, say so, and wait until the maps are written and the
		 * namespace is held by an fd. */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(go[1]);
		close(ready[0]);
		struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct d[2];
		memset(d, 0, sizeof(d));
		d[CAP_SYS_ADMIN / 32].effective = d[CAP_SYS_ADMIN / 32].permitted =
			1u << (CAP_SYS_ADMIN % 32);
		char c = prctl(PR_SET_KEEPCAPS, 1) == 0 && setgroups(0, NULL) == 0 &&
				 setresgid(host, host, host) == 0 && setresuid(host, host, host) == 0 &&
				 syscall(SYS_capset, &h, d) == 0 && unshare(CLONE_NEWUSER) == 0
			 ? 'y'
			 : 'n';
		if (write(ready[1], &c, 1) != 1 || c != 'y')
			_exit(1);
		(void)read(go[0], &c, 1);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	int rc = 0, fd = -1;
	char c = 0;
	if (pid < 0) {
		rc = errf(err, errlen, -errno, "user namespace: fork: %s", strerror(errno));
		goto out;
	}
	if (read(ready[0], &c, 1) != 1 || c != 'y') {
		rc = errf(err, errlen, -EPERM,
			  "cannot create a user namespace (is user.max_user_namespaces 0?): the sandbox needs one");
		goto out;
	}
	char map[64];
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)LOCAL_SANDBOX_UID, (unsigned)host);
	if ((rc = write_proc(pid, "setgroups", "deny\n")) < 0 || (rc = write_proc(pid, "uid_map", map)) < 0 ||
	    (rc = write_proc(pid, "gid_map", map)) < 0) {
		errf(err, errlen, rc, "user namespace: cannot write its id maps: %s", strerror(-rc));
		goto out;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		rc = errf(err, errlen, -errno, "user namespace: open %s: %s", path, strerror(errno));
out:
	close(go[1]); /* lets the holder exit */
	close(ready[0]);
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	return rc < 0 ? rc : fd;
}

const char *local_stage_dir(void)
{
	/* Any directory that exists on a Linux host and that everyone may
	 * traverse; it is covered only in the run's private mount namespace. */
	static const char *const cand[] = {"/mnt", "/media", "/srv", "/opt", "/var", "/home"};
	static const char *found;
	if (found)
		return found;
	for (size_t i = 0; i < ARRAY_SIZE(cand); i++) {
		struct stat st;
		if (lstat(cand[i], &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0001)) {
			found = cand[i];
			return found;
		}
	}
	return found = "/mnt";
}

int local_stage_binds(char *const *srcs)
{
	if (!srcs || !srcs[0])
		return 0;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	/* Every source is opened (in the new namespace: a mount is bound
	 * only from its own) before the stage covers its directory, since a
	 * source may lie below it (/mnt/tools/...). */
	int fds[LOCAL_BINDS_MAX];
	size_t n = 0;
	for (; srcs[n] && n < LOCAL_BINDS_MAX; n++)
		if ((fds[n] = open(srcs[n], O_PATH | O_CLOEXEC)) < 0)
			return -errno;
	const char *stage = local_stage_dir();
	if (mount("paddock-stage", stage, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=0755,size=64k") < 0)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		char at[64], from[64];
		struct stat st;
		snprintf(at, sizeof(at), "%s/%zu", stage, i);
		snprintf(from, sizeof(from), "/proc/self/fd/%d", fds[i]);
		if (fstat(fds[i], &st) < 0)
			return -errno;
		if (S_ISDIR(st.st_mode) ? mkdir(at, 0755) < 0 : mknod(at, S_IFREG | 0444, 0) < 0)
			return -errno;
		if (mount(from, at, NULL, MS_BIND | MS_REC, NULL) < 0)
			return -errno;
		close(fds[i]);
	}
	return 0;
}
