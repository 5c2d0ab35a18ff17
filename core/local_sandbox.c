/* SPDX-License-Identifier: MIT */
/*
 * local_sandbox.c - the command line and environment of a local run: the
 * bubblewrap argv (no shell anywhere) and the exact environment the
 * command sees.  Secret values go into the environment handed to execve,
 * never into argv, where `ps` would show them.  Policy: docs/sandbox.md.
 */
#include "config.h"
#include "local.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* Linux refuses one argv string longer than this (MAX_ARG_STRLEN). */
#define ARG_STRLEN_MAX (32 * 4096)

/* The part of /etc a program needs to resolve names, speak TLS, know
 * users and time, and load shared libraries.  Not: shadow, ssh keys,
 * sudoers, cron, machine-id, the package manager's configuration. */
static const char *const etc_files[] = {
	"/etc/resolv.conf", "/etc/hosts", "/etc/host.conf", "/etc/nsswitch.conf",
	"/etc/gai.conf", "/etc/services", "/etc/protocols", "/etc/passwd", "/etc/group",
	"/etc/ssl", "/etc/ca-certificates", "/etc/ca-certificates.conf", "/etc/pki",
	"/etc/crypto-policies", "/etc/alternatives", "/etc/localtime", "/etc/timezone",
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/mime.types",
	"/etc/os-release", "/etc/debian_version", "/etc/gitconfig",
};

/* Top-level system directories that merged-/usr systems make symlinks. */
static const char *const sys_dirs[] = {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"};

static bool reserved_env(const char *name)
{
	return !strcmp(name, "HOME") || !strcmp(name, "PADDOCK_LIB") || !strcmp(name, "TMPDIR") ||
	       !strcmp(name, "PWD");
}

void local_env_free(char **envp)
{
	if (!envp)
		return;
	for (char **e = envp; *e; e++)
		secure_free(*e, strlen(*e));
	free(envp);
}

int local_env_build(const struct local_spec *s, char ***envp, char *err, size_t errlen)
{
	const struct run_plan *p = s->plan;
	const char *ns = s->ns ? s->ns : p->secret_ns;
	struct strv v = {0};
	int rc = 0;
	bool have_path = false;
	for (size_t i = 0; i < p->n_env; i++) {
		const struct plan_env *e = &p->env[i];
		if (reserved_env(e->name))
			continue;
		if (!strcmp(e->name, "PATH"))
			have_path = true;
		if (!e->secret_name) {
			strv_push_owned(&v, xasprintf("%s=%s", e->name, e->value ? e->value : ""));
			continue;
		}
		if (!s->secrets || !s->secrets->get) {
			rc = errf(err, errlen, -ENOENT, "env %s: no secret store to read Secret %s from",
				  e->name, e->secret_name);
			goto out;
		}
		char *val = NULL;
		size_t len = 0;
		char serr[256] = "";
		rc = s->secrets->get(s->secrets->ctx, ns, e->secret_name, e->secret_key, &val, &len,
				     serr, sizeof(serr));
		if (rc < 0) {
			errf(err, errlen, rc, "env %s: Secret %s/%s key %s: %s", e->name, ns ? ns : "",
			     e->secret_name, e->secret_key, serr[0] ? serr : strerror(-rc));
			goto out;
		}
		if (memchr(val, '\0', len)) {
			secure_free(val, len);
			rc = errf(err, errlen, -EINVAL,
				  "env %s: Secret %s key %s holds a NUL byte: an environment value cannot",
				  e->name, e->secret_name, e->secret_key);
			goto out;
		}
		size_t nl = strlen(e->name);
		char *kv = xmalloc(nl + 1 + len + 1);
		memcpy(kv, e->name, nl);
		kv[nl] = '=';
		memcpy(kv + nl + 1, val, len);
		kv[nl + 1 + len] = '\0';
		secure_free(val, len);
		strv_push_owned(&v, kv);
	}
	if (!have_path)
		strv_push_owned(&v, xasprintf("PATH=%s", DEFAULT_PATH));
	if (s->isolation) {
		strv_push(&v, "HOME=" LOCAL_SANDBOX_HOME);
		strv_push(&v, "TMPDIR=/tmp");
		strv_push(&v, "PWD=" LOCAL_SANDBOX_WORKSPACE);
		if (s->lib_path)
			strv_push(&v, "PADDOCK_LIB=" LOCAL_SANDBOX_LIB);
	} else {
		strv_push_owned(&v, xasprintf("HOME=%s/home", s->run_dir));
		strv_push_owned(&v, xasprintf("TMPDIR=%s/tmp", s->run_dir));
		strv_push_owned(&v, xasprintf("PWD=%s/workspace", s->run_dir));
		if (s->lib_path)
			strv_push_owned(&v, xasprintf("PADDOCK_LIB=%s", s->lib_path));
	}
out:
	if (rc < 0) {
		local_env_free(v.v);
		return rc;
	}
	if (!v.v)
		strv_push(&v, "PATH=" DEFAULT_PATH);
	*envp = v.v;
	return 0;
}

static void add2(struct strv *a, const char *opt, const char *x)
{
	strv_push(a, opt);
	strv_push(a, x);
}

static void add3(struct strv *a, const char *opt, const char *x, const char *y)
{
	strv_push(a, opt);
	strv_push(a, x);
	strv_push(a, y);
}

int local_argv_build(const struct local_spec *s, struct strv *out, char *err, size_t errlen)
{
	const struct run_plan *p = s->plan;
	if (!p->command || !*p->command)
		return errf(err, errlen, -EINVAL, "plan: no command to run");
	if (s->task_md && strlen(s->task_md) >= ARG_STRLEN_MAX)
		return errf(err, errlen, -E2BIG,
			    "task.md is %zu bytes, over the %d-byte limit of one program argument: shorten the prompt or move contexts to files (mountPath)",
			    strlen(s->task_md), ARG_STRLEN_MAX - 1);
	struct strv a = {0};
	int rc = 0;
	if (!s->isolation) {
		strv_push(&a, s->entrypoint_path ? s->entrypoint_path : p->command);
		goto tail;
	}
	if (p->command[0] != '/')
		return errf(err, errlen, -EINVAL,
			    "plan: command \"%s\" must be an absolute path in the sandbox", p->command);
	strv_push(&a, s->bwrap_path ? s->bwrap_path : BWRAP_PATH);
	static const char *const flags[] = {"--unshare-pid", "--unshare-ipc", "--unshare-uts",
					    "--unshare-cgroup-try", "--die-with-parent",
					    "--new-session"};
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
		strv_push(&a, flags[i]);
	/* bwrap run by root keeps every capability unless told otherwise. */
	add2(&a, "--cap-drop", "ALL");
	add3(&a, "--ro-bind", "/usr", "/usr");
	for (size_t i = 0; i < ARRAY_SIZE(sys_dirs); i++) {
		struct stat st;
		if (lstat(sys_dirs[i], &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			char target[512];
			ssize_t n = readlink(sys_dirs[i], target, sizeof(target) - 1);
			if (n <= 0)
				continue;
			target[n] = '\0';
			add3(&a, "--symlink", target, sys_dirs[i]);
		} else if (S_ISDIR(st.st_mode)) {
			add3(&a, "--ro-bind", sys_dirs[i], sys_dirs[i]);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(etc_files); i++)
		add3(&a, "--ro-bind-try", etc_files[i], etc_files[i]);
	struct stat st;
	if (stat("/opt", &st) == 0 && S_ISDIR(st.st_mode))
		add3(&a, "--ro-bind", "/opt", "/opt");
	add2(&a, "--proc", "/proc");
	add2(&a, "--dev", "/dev");
	add2(&a, "--tmpfs", "/tmp");
	add3(&a, "--symlink", "../tmp", "/var/tmp");
	/* After the private /tmp, so a read-only path below /tmp stays visible. */
	for (size_t i = 0; s->ro_paths && s->ro_paths[i]; i++) {
		const char *r = s->ro_paths[i];
		if (r[0] != '/') {
			rc = errf(err, errlen, -EINVAL,
				  "sandbox: read-only path \"%s\" must be absolute", r);
			goto out;
		}
		if (stat(r, &st) < 0) {
			rc = errf(err, errlen, -errno, "sandbox: read-only path %s: %s", r,
				  strerror(errno));
			goto out;
		}
		add3(&a, "--ro-bind", r, r);
	}
	char *ws = xasprintf("%s/workspace", s->run_dir);
	char *home = xasprintf("%s/home", s->run_dir);
	add3(&a, "--bind", ws, LOCAL_SANDBOX_WORKSPACE);
	add3(&a, "--bind", home, LOCAL_SANDBOX_HOME);
	free(ws);
	free(home);
	if (s->entrypoint_path)
		add3(&a, "--ro-bind", s->entrypoint_path, p->command);
	if (s->lib_path)
		add3(&a, "--ro-bind", s->lib_path, LOCAL_SANDBOX_LIB);
	add2(&a, "--chdir", LOCAL_SANDBOX_WORKSPACE);
	/* Nothing outside the binds above is writable, not even the root. */
	add2(&a, "--remount-ro", "/");
	strv_push(&a, "--");
	strv_push(&a, p->command);
tail:
	for (size_t i = 0; i < p->args.n; i++)
		strv_push(&a, p->args.v[i]);
	if (s->task_md)
		strv_push(&a, s->task_md);
out:
	if (rc < 0) {
		strv_free(&a);
		return rc;
	}
	*out = a;
	return 0;
}

int local_sandbox_check(const char *bwrap, char *err, size_t errlen)
{
	static char ok_for[512];
	if (!bwrap)
		bwrap = BWRAP_PATH;
	if (!strcmp(ok_for, bwrap))
		return 0;
	if (access(bwrap, X_OK) < 0)
		return errf(err, errlen, -ENOENT,
			    "bubblewrap (bwrap) not found at %s: install the bubblewrap package, or set isolation: none in paddock.yaml",
			    bwrap);
	const char *truebin = access("/usr/bin/true", X_OK) == 0 ? "/usr/bin/true" : "/bin/true";
	const char *argv[] = {bwrap, "--unshare-pid", "--unshare-ipc", "--unshare-uts",
			      "--die-with-parent", "--cap-drop", "ALL", "--ro-bind", "/", "/",
			      "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--remount-ro", "/",
			      "--", truebin, NULL};
	char *const envp[] = {"PATH=" DEFAULT_PATH, NULL};
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return errf(err, errlen, -errno, "bubblewrap check: pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pfd[0]);
		close(pfd[1]);
		return errf(err, errlen, -e, "bubblewrap check: fork: %s", strerror(e));
	}
	if (pid == 0) {
		int dn = open("/dev/null", O_RDWR);
		if (dn < 0 || dup2(dn, 0) < 0 || dup2(dn, 1) < 0 || dup2(pfd[1], 2) < 0)
			_exit(126);
		execve(bwrap, (char *const *)argv, envp);
		dprintf(2, "cannot run %s: %s\n", bwrap, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	char msg[512];
	size_t len = 0;
	int64_t deadline = now_mono_ms() + 10000;
	for (;;) {
		int64_t left = deadline - now_mono_ms();
		if (left <= 0)
			break;
		struct pollfd pf = {.fd = pfd[0], .events = POLLIN};
		int r = poll(&pf, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		char tmp[256];
		ssize_t n = read(pfd[0], tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		size_t take = (size_t)n < sizeof(msg) - 1 - len ? (size_t)n : sizeof(msg) - 1 - len;
		memcpy(msg + len, tmp, take);
		len += take;
	}
	close(pfd[0]);
	msg[len] = '\0';
	char *nl = strchr(msg, '\n');
	if (nl)
		*nl = '\0';
	int status = 0;
	pid_t w;
	while ((w = waitpid(pid, &status, WNOHANG)) == 0 && now_mono_ms() < deadline) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return errf(err, errlen, -ETIMEDOUT,
			    "bubblewrap check: %s did not finish in 10 s: set isolation: none in paddock.yaml to run without it",
			    bwrap);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return errf(err, errlen, -EPERM,
			    "bubblewrap does not work here: %s: allow user namespaces (e.g. sysctl kernel.unprivileged_userns_clone=1), run with the needed privileges, or set isolation: none in paddock.yaml",
			    msg[0] ? msg : "it failed without a message");
	snprintf(ok_for, sizeof(ok_for), "%s", bwrap);
	return 0;
}
