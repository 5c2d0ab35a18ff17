/* SPDX-License-Identifier: MIT */
/*
 * local/seccomp.c - the seccomp filter every sandboxed run gets.
 *
 * Built with libseccomp once per process (the BPF program is kept), then
 * handed to bubblewrap as a memfd per run (`--seccomp FD`), which loads
 * it right before it executes the command: bwrap's own setup is not
 * filtered, everything the agent runs is.  The default is to allow: the
 * filter closes the kernel surfaces an agent never needs and that have a
 * history of privilege escalation.  The list and the reason for each
 * entry are in docs/sandbox.md; keep the two in step.
 */
#include "config.h"
#include "local/local.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* Refused with EPERM, whatever the arguments. */
static const char *const denied[] = {
	/* kernel keyrings: shared per host uid, not namespaced */
	"add_key", "keyctl", "request_key",
	/* joining namespaces */
	"setns",
	/* the mount family */
	"mount", "umount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree",
	"fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
	/* in-kernel programs and tracing */
	"bpf", "perf_event_open",
	/* replacing or extending the kernel */
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	/* file handles bypass the mount namespace (the "shocker" escape) */
	"open_by_handle_at", "name_to_handle_at",
	/* userfaultfd and io_uring: favourite tools of kernel exploits */
	"userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
	/* host-wide state a run has no business with */
	"acct", "swapon", "swapoff", "reboot", "syslog", "quotactl", "settimeofday",
	"clock_settime", "clock_adjtime", "adjtimex", "iopl", "ioperm", "vhangup",
	"lookup_dcookie", "nfsservctl", "uselib", "_sysctl", "personality",
};

/* Namespace flags refused in clone() and unshare(). */
static const unsigned long ns_flags[] = {
	CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWIPC,
	CLONE_NEWUTS, CLONE_NEWCGROUP, CLONE_NEWTIME,
};

static unsigned char *bpf_prog;
static size_t bpf_len;

/* pread/pwrite the whole of [0, len), retrying short transfers. */
static int io_all(int fd, unsigned char *p, size_t len, bool wr)
{
	for (size_t off = 0; off < len;) {
		ssize_t n = wr ? pwrite(fd, p + off, len - off, (off_t)off)
			       : pread(fd, p + off, len - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += (size_t)n;
	}
	return 0;
}

static int build(char *err, size_t errlen)
{
	int rc = 0, mfd = -1;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return errf(err, errlen, -ENOMEM, "seccomp: cannot create a filter");
	/* Syscalls of other ABIs (i386, x32) are killed: the default
	 * bad-architecture action.  personality(2) is refused above, and
	 * PER_LINUX32 makes no difference to that. */
	for (size_t i = 0; i < ARRAY_SIZE(denied); i++) {
		int nr = seccomp_syscall_resolve_name(denied[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0)) < 0) {
			errf(err, errlen, rc, "seccomp: rule for %s: %s", denied[i], strerror(-rc));
			goto out;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(ns_flags); i++) {
		const struct scmp_arg_cmp a0 = SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]);
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1, a0)) < 0 ||
		    (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, a0)) < 0) {
			errf(err, errlen, rc, "seccomp: rule for namespace flags: %s", strerror(-rc));
			goto out;
		}
	}
	/* clone3 passes its flags in memory a filter cannot read: ENOSYS
	 * makes the C library fall back to clone(), which is checked. */
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0) {
		errf(err, errlen, rc, "seccomp: rule for clone3: %s", strerror(-rc));
		goto out;
	}
	/* Faking terminal input into the caller's terminal. */
	static const unsigned long tty_cmds[] = {TIOCSTI, TIOCLINUX};
	for (size_t i = 0; i < ARRAY_SIZE(tty_cmds); i++) {
		const struct scmp_arg_cmp a1 = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, tty_cmds[i]);
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1, a1)) < 0) {
			errf(err, errlen, rc, "seccomp: rule for ioctl: %s", strerror(-rc));
			goto out;
		}
	}
	mfd = memfd_create("paddock-seccomp", MFD_CLOEXEC);
	if (mfd < 0) {
		rc = errf(err, errlen, -errno, "seccomp: memfd_create: %s", strerror(errno));
		goto out;
	}
	if ((rc = seccomp_export_bpf(ctx, mfd)) < 0) {
		errf(err, errlen, rc, "seccomp: cannot export the filter: %s", strerror(-rc));
		goto out;
	}
	off_t end = lseek(mfd, 0, SEEK_END);
	if (end <= 0 || end > 1024 * 1024) {
		rc = errf(err, errlen, -EIO, "seccomp: the exported filter has an odd size");
		goto out;
	}
	unsigned char *p = xmalloc((size_t)end);
	if (io_all(mfd, p, (size_t)end, false) < 0) {
		free(p);
		rc = errf(err, errlen, -EIO, "seccomp: cannot read the exported filter back");
		goto out;
	}
	bpf_prog = p;
	bpf_len = (size_t)end;
	rc = 0;
out:
	if (mfd >= 0)
		close(mfd);
	seccomp_release(ctx);
	return rc;
}

int local_seccomp_fd(char *err, size_t errlen)
{
	int rc;
	if (!bpf_prog && (rc = build(err, errlen)) < 0)
		return rc;
	int fd = memfd_create("paddock-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return errf(err, errlen, -errno, "seccomp: memfd_create: %s", strerror(errno));
	if ((rc = io_all(fd, bpf_prog, bpf_len, true)) < 0) {
		close(fd);
		return errf(err, errlen, rc, "seccomp: cannot write the filter: %s", strerror(-rc));
	}
	(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	return fd;
}
