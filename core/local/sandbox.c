/* SPDX-License-Identifier: MIT */
/*
 * local/sandbox.c - the command line and environment of a local run: the
 * bubblewrap argv (no shell anywhere) and the exact environment the
 * command sees.  Secret values go into the environment handed to execve,
 * never into argv, where `ps` would show them.  Policy: docs/sandbox.md.
 */
#include "config.h"
#include "local/local.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
	"/etc/gai.conf", "/etc/services", "/etc/protocols",
	"/etc/ssl/certs", "/etc/ssl/openssl.cnf", "/etc/ca-certificates.conf", "/etc/pki/tls/certs",
	"/etc/pki/ca-trust/extracted",
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

/* Push "NAME=value" of Secret ns/secret key `key` onto v.  A NUL byte is
 * refused (an environment value cannot hold one), and with `one_line` a
 * line break too (the value goes in a header).  `what` starts the
 * messages ("env FOO", "credentials").  0 or -errno with err. */
static int secret_entry(const struct local_spec *s, const char *ns, const char *name,
			const char *secret, const char *key, bool one_line, const char *what,
			struct strv *v, char *err, size_t errlen)
{
	if (!s->secrets || !s->secrets->get)
		return errf(err, errlen, -ENOENT, "%s: no secret store to read Secret %s from", what,
			    secret);
	char *val = NULL;
	size_t len = 0;
	char serr[256] = "";
	int rc = s->secrets->get(s->secrets->ctx, ns, secret, key, &val, &len, serr, sizeof(serr));
	if (rc < 0)
		return errf(err, errlen, rc, "%s: Secret %s/%s key %s: %s", what, ns ? ns : "", secret, key,
			    serr[0] ? serr : strerror(-rc));
	bool nul = memchr(val, '\0', len) != NULL;
	if (nul || (one_line && (memchr(val, '\n', len) || memchr(val, '\r', len)))) {
		secure_free(val, len);
		return errf(err, errlen, -EINVAL, "%s: Secret %s key %s holds a %s: %s cannot", what,
			    secret, key, nul ? "NUL byte" : "line break",
			    one_line ? "a credential sent in a header" : "an environment value");
	}
	size_t nl = strlen(name);
	char *kv = xmalloc(nl + 1 + len + 1);
	memcpy(kv, name, nl);
	kv[nl] = '=';
	memcpy(kv + nl + 1, val, len);
	kv[nl + 1 + len] = '\0';
	secure_free(val, len);
	strv_push_owned(v, kv);
	return 0;
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
		if (reserved_env(e->name) || (s->net.mode == LOCAL_NET_PROXY && egress_is_proxy_var(e->name)))
			continue;
		if (!strcmp(e->name, "PATH"))
			have_path = true;
		if (!e->secret_name) {
			strv_push_owned(&v, xasprintf("%s=%s", e->name, e->value ? e->value : ""));
			continue;
		}
		char what[300];
		snprintf(what, sizeof(what), "env %s", e->name);
		if ((rc = secret_entry(s, ns, e->name, e->secret_name, e->secret_key, false, what, &v, err,
				       errlen)) < 0)
			goto out;
	}
	/* The routed credential, for the supervisor's proxy only:
	 * local_supervise takes it out before the command's exec.  It goes
	 * in a header: one line. */
	const struct plan_route *r = p->route;
	if (s->net.mode == LOCAL_NET_PROXY && s->net.route_upstream && r &&
	    (rc = secret_entry(s, ns, LOCAL_ROUTE_ENV, r->secret_name, r->secret_key, true,
			       "credentials", &v, err, errlen)) < 0)
		goto out;
	if (!have_path)
		strv_push_owned(&v, xasprintf("PATH=%s", DEFAULT_PATH));
	if (s->net.mode == LOCAL_NET_PROXY)
		for (size_t i = 0; egress_agent_env[i]; i++)
			strv_push(&v, egress_agent_env[i]);
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

bool local_uses_slots(const struct local_spec *s)
{
	return s->isolation && s->uid_slot_dir && geteuid() == 0;
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

/* Bind `src` at `dest` through the staging directory: the supervisor's
 * child, still root, mounts `src` at STAGE/n in a private mount namespace
 * (local_stage_binds), because bwrap sets up the sandbox as the run's
 * uid, which may not traverse the directories above `src` (a 0700 state
 * directory, /root). */
static void bind_staged(struct strv *a, struct strv *srcs, bool ro, const char *src,
			const char *dest)
{
	if (!srcs) { /* bwrap runs as the Paddock user: it can reach src */
		add3(a, ro ? "--ro-bind" : "--bind", src, dest);
		return;
	}
	char *st = xasprintf("%s/%zu", local_stage_dir(), srcs->n);
	strv_push(srcs, src);
	add3(a, ro ? "--ro-bind" : "--bind", st, dest);
	free(st);
}

static bool below(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0');
}

/* `text` on a pipe at descriptor `at`, its writing end closed. */
static int data_fd(const char *text, int at)
{
	int p[2];
	if (pipe(p) < 0)
		return -errno;
	size_t n = strlen(text); /* a few hundred bytes: within the pipe's buffer */
	ssize_t w = write(p[1], text, n);
	int e = w < 0 ? errno : EIO;
	(void)close(p[1]);
	if (w != (ssize_t)n) {
		(void)close(p[0]);
		return -e;
	}
	if (p[0] != at) {
		if (dup2(p[0], at) < 0) {
			e = errno;
			(void)close(p[0]);
			return -e;
		}
		(void)close(p[0]);
	}
	return 0;
}

int local_etc_fds(void)
{
	char passwd[256], group[128];
	snprintf(passwd, sizeof(passwd),
		 "root:x:0:0:root:/root:/usr/sbin/nologin\n"
		 "agent:x:%d:%d:Paddock agent:" LOCAL_SANDBOX_HOME ":/bin/sh\n"
		 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		 LOCAL_SANDBOX_UID, LOCAL_SANDBOX_UID);
	snprintf(group, sizeof(group), "root:x:0:\nagent:x:%d:\nnogroup:x:65534:\n",
		 LOCAL_SANDBOX_UID);
	int rc = data_fd(passwd, LOCAL_FD_PASSWD);
	return rc < 0 ? rc : data_fd(group, LOCAL_FD_GROUP);
}

/* Bound anyway: /usr and the merged-/usr directories. */
static bool already_bound(const char *path)
{
	if (below(path, "/usr"))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(sys_dirs); i++)
		if (below(path, sys_dirs[i]))
			return true;
	return false;
}

/* An executable file named `name` in the colon-separated `path`; owned. */
static char *path_lookup(const char *name, const char *path)
{
	if (strchr(name, '/'))
		return xstrdup(name);
	for (const char *p = path; p && *p;) {
		const char *c = strchr(p, ':');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		if (n && p[0] == '/') {
			char *cand = xasprintf("%.*s/%s", (int)n, p, name);
			if (access(cand, X_OK) == 0)
				return cand;
			free(cand);
		}
		p = c ? c + 1 : NULL;
	}
	return NULL;
}

const char *local_private_overlap(const char *path, const char *const *privates, bool *inside)
{
	char rp[PATH_MAX], rq[PATH_MAX];
	const char *found = NULL;
	*inside = false;
	if (!realpath(path, rp))
		return NULL; /* nothing there to expose */
	/* One it lies inside first: a caller may allow containing. */
	for (size_t i = 0; privates && privates[i]; i++) {
		if (!realpath(privates[i], rq))
			continue;
		if (below(rp, rq)) {
			*inside = true;
			return privates[i];
		}
		if (!found && below(rq, rp))
			found = privates[i];
	}
	return found;
}

int local_check_bind(const char *path, const char *const *privates, const char *field, char *err,
		     size_t errlen)
{
	bool inside = false;
	/* Nothing there: binding it fails later. */
	const char *priv = local_private_overlap(path, privates, &inside);
	if (priv)
		return errf(err, errlen, -EPERM,
			    "%s: %s %s %s, which holds Paddock's state or configuration (Secrets, other runs): bind a directory that lies beside it, not above or inside it",
			    field, path, inside ? "lies inside" : "contains", priv);
	return 0;
}

void local_cli_binds(const struct local_spec *s, struct strv *a, struct strv *srcs)
{
	const char *bin = NULL, *path = DEFAULT_PATH;
	for (size_t i = 0; i < s->plan->n_env; i++) {
		const struct plan_env *e = &s->plan->env[i];
		if (e->secret_name || !e->value)
			continue;
		if (!strcmp(e->name, "PADDOCK_AGENT_BIN"))
			bin = e->value;
		else if (!strcmp(e->name, "PATH"))
			path = e->value;
	}
	if (!bin || !*bin)
		return;
	char *found = path_lookup(bin, path);
	char real[PATH_MAX];
	if (!found || found[0] != '/' || !realpath(found, real)) {
		free(found); /* not there: the run says so itself (exit 127) */
		return;
	}
	/* An npm install keeps a package's dependencies beside it, in the
	 * outermost node_modules: bind that whole tree; anything else
	 * brings just its own directory. */
	char root[PATH_MAX];
	snprintf(root, sizeof(root), "%s", real);
	char *nm = strstr(root, "/node_modules/");
	if (nm)
		nm[strlen("/node_modules")] = '\0';
	else
		*strrchr(root, '/') = '\0';
	if (!root[0] || !strcmp(root, "/") ||
	    local_check_bind(root, s->private_paths, "agent CLI", NULL, 0) < 0) {
		free(found);
		return;
	}
	if (!already_bound(root))
		bind_staged(a, srcs, true, root, root);
	if (strcmp(found, real) && !already_bound(found) && !below(found, root))
		add3(a, "--symlink", real, found);
	free(found);
}

int local_argv_build(const struct local_spec *s, struct strv *out, struct strv *srcs, char *err,
		     size_t errlen)
{
	const struct run_plan *p = s->plan;
	if (!p->command || !*p->command)
		return errf(err, errlen, -EINVAL, "plan: no command to run");
	if (s->task_md && strlen(s->task_md) >= ARG_STRLEN_MAX)
		return errf(err, errlen, -E2BIG,
			    "task.md is %zu bytes, over the %d-byte limit of one program argument: shorten the prompt or move contexts to files (mountPath)",
			    strlen(s->task_md), ARG_STRLEN_MAX - 1);
	struct strv a = {0}, b = {0};
	struct strv *bs = local_uses_slots(s) ? &b : NULL;
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
	/* Identity: a user namespace in which the agent is LOCAL_SANDBOX_UID.
	 * As root it is made by the supervisor and maps to the run's own
	 * host uid (local/ident.c); otherwise bwrap makes it, mapping to
	 * the caller's uid. */
	char fdnum[16], uidnum[16];
	snprintf(uidnum, sizeof(uidnum), "%d", LOCAL_SANDBOX_UID);
	if (local_uses_slots(s)) {
		snprintf(fdnum, sizeof(fdnum), "%d", LOCAL_FD_USERNS);
		add2(&a, "--userns", fdnum);
	} else {
		strv_push(&a, "--unshare-user");
		/* As root the command's process makes the network namespace
		 * (local/run.c); otherwise bwrap does, with loopback up. */
		if (s->net.mode != LOCAL_NET_HOST)
			strv_push(&a, "--unshare-net");
	}
	add2(&a, "--uid", uidnum);
	add2(&a, "--gid", uidnum);
	snprintf(fdnum, sizeof(fdnum), "%d", LOCAL_FD_SECCOMP);
	add2(&a, "--seccomp", fdnum);
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
	/* Users and groups as the sandbox sees them: read-only files that
	 * bwrap fills from the descriptors local_etc_fds() leaves. */
	snprintf(fdnum, sizeof(fdnum), "%d", LOCAL_FD_PASSWD);
	add2(&a, "--perms", "0644");
	add3(&a, "--ro-bind-data", fdnum, "/etc/passwd");
	snprintf(fdnum, sizeof(fdnum), "%d", LOCAL_FD_GROUP);
	add2(&a, "--perms", "0644");
	add3(&a, "--ro-bind-data", fdnum, "/etc/group");
	add2(&a, "--proc", "/proc");
	add2(&a, "--dev", "/dev");
	/* /tmp is the run's own directory: on disk, counted against its
	 * ephemeral-storage limit, gone with the run. */
	char *tmp = xasprintf("%s/tmp", s->run_dir);
	bind_staged(&a, bs, false, tmp, "/tmp");
	free(tmp);
	add3(&a, "--symlink", "../tmp", "/var/tmp");
	local_cli_binds(s, &a, bs);
	/* A state or config directory below /usr (a `make install` puts
	 * paddock.yaml in /usr/local/etc) is hidden under an empty tmpfs. */
	struct stat st;
	for (size_t i = 0; s->private_paths && s->private_paths[i]; i++) {
		const char *pp = s->private_paths[i];
		if (pp[0] == '/' && already_bound(pp) && stat(pp, &st) == 0 && S_ISDIR(st.st_mode))
			add2(&a, "--tmpfs", pp);
	}
	/* After /tmp, so a read-only path below /tmp stays visible. */
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
		if ((rc = local_check_bind(r, s->private_paths, "spec.sandbox.readOnlyPaths", err,
					   errlen)) < 0)
			goto out;
		if (i >= LOCAL_BINDS_MAX - 8) {
			rc = errf(err, errlen, -E2BIG, "sandbox: more than %d read-only paths",
				  LOCAL_BINDS_MAX - 8);
			goto out;
		}
		bind_staged(&a, bs, true, r, r);
	}
	char *ws = xasprintf("%s/workspace", s->run_dir);
	char *home = xasprintf("%s/home", s->run_dir);
	bind_staged(&a, bs, false, ws, LOCAL_SANDBOX_WORKSPACE);
	bind_staged(&a, bs, false, home, LOCAL_SANDBOX_HOME);
	free(ws);
	free(home);
	if (s->entrypoint_path)
		bind_staged(&a, bs, true, s->entrypoint_path, p->command);
	if (s->lib_path)
		bind_staged(&a, bs, true, s->lib_path, LOCAL_SANDBOX_LIB);
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
		strv_free(&b);
		return rc;
	}
	*out = a;
	*srcs = b;
	return 0;
}

int local_sandbox_check(const char *bwrap, bool own_uid, char *err, size_t errlen)
{
	static char ok_for[520];
	char key[520];
	if (!bwrap)
		bwrap = BWRAP_PATH;
	snprintf(key, sizeof(key), "%d%s", own_uid, bwrap);
	if (!strcmp(ok_for, key))
		return 0;
	if (access(bwrap, X_OK) < 0)
		return errf(err, errlen, -ENOENT,
			    "bubblewrap (bwrap) not found at %s: install the bubblewrap package, or set isolation: none in paddock.yaml",
			    bwrap);
	const char *truebin = access("/usr/bin/true", X_OK) == 0 ? "/usr/bin/true" : "/bin/true";
	/* The same kind of user namespace the runs get (local/ident.c). */
	int nsfd = -1;
	char fdnum[16];
	if (own_uid) {
		int rc = local_userns_new(65534, err, errlen);
		if (rc < 0)
			return rc;
		nsfd = rc;
		snprintf(fdnum, sizeof(fdnum), "%d", nsfd);
	}
	const char *argv[] = {bwrap, "--unshare-pid", "--unshare-ipc", "--unshare-uts",
			      "--die-with-parent", "--cap-drop", "ALL", "--ro-bind", "/", "/",
			      "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--remount-ro",
			      "/", "--uid", "1000", "--gid", "1000", "--unshare-user", "--", truebin,
			      NULL, NULL};
	if (own_uid) { /* "--userns FD" in place of "--unshare-user" */
		argv[ARRAY_SIZE(argv) - 5] = "--userns";
		argv[ARRAY_SIZE(argv) - 4] = fdnum;
		argv[ARRAY_SIZE(argv) - 3] = "--";
		argv[ARRAY_SIZE(argv) - 2] = truebin;
	}
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
		if (nsfd >= 0 && (fcntl(nsfd, F_SETFD, 0) < 0 || local_drop_to(65534) < 0))
			_exit(126);
		execve(bwrap, (char *const *)argv, envp);
		dprintf(2, "cannot run %s: %s\n", bwrap, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	if (nsfd >= 0)
		close(nsfd);
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
			    "bubblewrap does not work here: %s: %s, or set isolation: none in paddock.yaml",
			    msg[0] ? msg : "it failed without a message",
			    own_uid ? "user namespaces must be enabled (sysctl user.max_user_namespaces above 0)"
				    : "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 on Debian, kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu, user.max_user_namespaces above 0), or run Paddock as root");
	snprintf(ok_for, sizeof(ok_for), "%s", key);
	return 0;
}
