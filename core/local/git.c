/* SPDX-License-Identifier: MIT */
/*
 * local/git.c - the plan's git fetches (workspace and Git contexts) with
 * the real git, run by fork/execve (never a shell), one process group per
 * command so that a timeout kills git and its helpers (remote-http, ssh).
 *
 * Credentials never reach argv or the URL: a `token` becomes an
 * http.<url>.extraHeader in git's environment (GIT_CONFIG_COUNT), an
 * `ssh-privatekey` a 0600 file in a private temporary directory named by
 * GIT_SSH_COMMAND.  Both are removed when the fetch is done.
 *
 * SSH host keys are checked (StrictHostKeyChecking=yes) against the Secret's
 * `known_hosts` key, else paddock.yaml's git.knownHosts/knownHostsFile,
 * written 0600 into the same private directory; an unknown host's key is
 * accepted only with git.trustOnFirstUse (accept-new).  With neither, an
 * SSH fetch is refused before ssh runs, naming the settings and the host.
 */
#include "config.h"
#include "local/local.h"
#include "base/conf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GIT_DEFAULT_TIMEOUT_S 600
#define GIT_LINE_MAX 512

struct git_run {
	const struct local_spec *s;
	const char *git;
	struct strv env;       /* owned; may hold a header with the token: zeroed on free */
	char *tmpdir;          /* owned path of the private temp dir (HOME, key) */
	char *repo;            /* redacted repository, for messages */
	char *ref;             /* borrowed */
	const char *url;       /* what git is given: the repository, or `repo` when
				* its userinfo became a header */
	char *scrub;           /* owned secret to scrub from messages, or NULL */
	size_t scrub_len;
	long timeout_s;
	char ssh_host[256];    /* the SSH URL's host ("[h]:port"), "" for other URLs */
	char kh_from[320];     /* where the known hosts came from, for messages */
	bool hostkey_failed;   /* ssh said "Host key verification failed" */
};

static void git_run_free(struct git_run *g)
{
	for (size_t i = 0; i < g->env.n; i++)
		secure_free(g->env.v[i], strlen(g->env.v[i]));
	free(g->env.v);
	memset(&g->env, 0, sizeof(g->env));
	if (g->tmpdir) {
		rm_rf(g->tmpdir);
		free(g->tmpdir);
	}
	free(g->repo);
	secure_free(g->scrub, g->scrub_len);
	memset(g, 0, sizeof(*g));
}

static char *base64(const unsigned char *p, size_t n)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = tbl[(v >> 18) & 63];
		out[o++] = tbl[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tbl[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static bool is_sha(const char *r)
{
	if (!r)
		return false;
	size_t n = strlen(r);
	if (n != 40 && n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((r[i] >= '0' && r[i] <= '9') || (r[i] >= 'a' && r[i] <= 'f')))
			return false;
	return true;
}

/* Remove userinfo from URLs in `line` and mask every occurrence of the secret. */
static void scrub_line(const struct git_run *g, char *line, size_t cap)
{
	char *red = local_url_redact(line);
	snprintf(line, cap, "%s", red);
	free(red);
	if (!g->scrub || !g->scrub_len)
		return;
	/* Each hit becomes '*' of the same length: never longer, never rescanned. */
	char *pos = line;
	char *hit;
	while ((hit = memmem(pos, strlen(pos), g->scrub, g->scrub_len))) {
		memset(hit, '*', g->scrub_len);
		pos = hit + g->scrub_len;
	}
}

/* Run git with `args` in the directory `cwd_fd`.  0 on success; -EIO
 * when git failed (its last error line in `last`); -ETIMEDOUT. */
static int run_git(struct git_run *g, int cwd_fd, const char *const *args, char *last,
		   size_t lastlen)
{
	const char *argv[32];
	size_t n = 0;
	argv[n++] = "git";
	argv[n++] = "-c";
	argv[n++] = "advice.detachedHead=false";
	for (size_t i = 0; args[i] && n < ARRAY_SIZE(argv) - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	last[0] = '\0';

	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pfd[0]);
		close(pfd[1]);
		return -e;
	}
	if (pid == 0) {
		setpgid(0, 0);
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		int dn = open("/dev/null", O_RDONLY);
		if (dn < 0 || dup2(dn, 0) < 0 || dup2(pfd[1], 1) < 0 || dup2(pfd[1], 2) < 0 ||
		    fchdir(cwd_fd) < 0)
			_exit(126);
		execve(g->git, (char *const *)argv, g->env.v);
		dprintf(2, "fatal: cannot run %s: %s\n", g->git, strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	close(pfd[1]);

	int64_t deadline = now_mono_ms() + (int64_t)g->timeout_s * 1000;
	char cur[GIT_LINE_MAX] = "", line_any[GIT_LINE_MAX] = "", line_err[GIT_LINE_MAX] = "";
	size_t curlen = 0;
	bool timed_out = false, eof = false;
	int status = 0;
	bool reaped = false;
	while (!reaped) {
		int64_t left = deadline - now_mono_ms();
		if (left <= 0) {
			timed_out = true;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		if (eof) {
			pid_t w = waitpid(pid, &status, WNOHANG);
			if (w == pid) {
				reaped = true;
				break;
			}
			struct timespec ts = {0, 20 * 1000 * 1000};
			nanosleep(&ts, NULL);
			continue;
		}
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		int r = poll(&p, 1, left > 1000 ? 1000 : (int)left);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		char chunk[4096];
		ssize_t got = read(pfd[0], chunk, sizeof(chunk));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			eof = true;
			continue;
		}
		for (ssize_t i = 0; i < got; i++) {
			char c = chunk[i];
			if (c == '\n' || c == '\r') {
				cur[curlen] = '\0';
				if (curlen) {
					memcpy(line_any, cur, curlen + 1);
					if (strstr(cur, "Host key verification failed"))
						g->hostkey_failed = true;
					if (str_startswith(cur, "fatal:") || str_startswith(cur, "error:"))
						memcpy(line_err, cur, curlen + 1);
				}
				curlen = 0;
			} else if (curlen < sizeof(cur) - 1) {
				cur[curlen++] = c;
			}
		}
	}
	close(pfd[0]);
	/* Helpers (remote-http, ssh) left behind go with the group. */
	kill(-pid, SIGKILL);
	if (curlen) {
		cur[curlen] = '\0';
		memcpy(line_any, cur, curlen + 1);
	}
	snprintf(last, lastlen, "%s", line_err[0] ? line_err : line_any);
	scrub_line(g, last, lastlen);
	if (timed_out)
		return -ETIMEDOUT;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -EIO;
	return 0;
}

static int git_fail(struct git_run *g, int rc, const char *last, char *err, size_t errlen)
{
	char refpart[160] = "";
	if (g->ref)
		snprintf(refpart, sizeof(refpart), " (ref %s)", g->ref);
	if (rc == -ETIMEDOUT)
		return errf(err, errlen, rc, "git: fetching %s%s timed out after %ld s%s%s", g->repo,
			    refpart, g->timeout_s, *last ? ": " : "", last);
	if (g->hostkey_failed && g->ssh_host[0])
		return errf(err, errlen, rc,
			    "git: fetching %s%s failed: Host key verification failed: the host key "
			    "of %s is not in, or does not match, the known hosts (%s): someone may "
			    "be intercepting the connection; if the server's key really changed, "
			    "update %s",
			    g->repo, refpart, g->ssh_host, g->kh_from[0] ? g->kh_from : "none",
			    g->kh_from[0] ? g->kh_from : "git.knownHosts");
	return errf(err, errlen, rc, "git: fetching %s%s failed: %s", g->repo, refpart,
		    *last ? last : "git exited with an error");
}

static void env_add(struct git_run *g, const char *name, const char *value)
{
	strv_push_owned(&g->env, xasprintf("%s=%s", name, value));
}

/* Send `user:pass` (len bytes) as HTTP Basic auth to the repository's URL
 * only, through git's environment. */
static void set_basic_auth(struct git_run *g, const char *cred, size_t len)
{
	char *b64 = base64((const unsigned char *)cred, len);
	env_add(g, "GIT_CONFIG_COUNT", "1");
	strv_push_owned(&g->env, xasprintf("GIT_CONFIG_KEY_0=http.%s.extraHeader", g->repo));
	strv_push_owned(&g->env, xasprintf("GIT_CONFIG_VALUE_0=Authorization: Basic %s", b64));
	secure_free(b64, strlen(b64));
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* "https://user:pass@host/x": the percent-decoded "user:pass", or NULL
 * when the URL is not http(s) or carries no password.  Owned. */
static char *http_userinfo(const char *url, size_t *len)
{
	const char *at = plan_url_password_at(url);
	if (!at)
		return NULL;
	const char *a = strstr(url, "://") + 3;
	char *out = xmalloc((size_t)(at - a) + 1);
	size_t o = 0;
	for (const char *p = a; p < at; p++) {
		int h, l;
		if (*p == '%' && p + 2 < at && (h = hexval(p[1])) >= 0 && (l = hexval(p[2])) >= 0) {
			out[o++] = (char)(h * 16 + l);
			p += 2;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	*len = o;
	return out;
}

/* GIT_SSH_COMMAND: the host key is checked against the Secret's
 * known_hosts, else paddock.yaml's, written 0600 into the private temp
 * dir; accept-new only with git.trustOnFirstUse.  An SSH URL with
 * neither is refused here, before ssh could trust whoever answers. */
static int ssh_setup(struct git_run *g, const struct plan_git *pg, bool with_key, char *err,
		     size_t errlen)
{
	const struct local_spec *s = g->s;
	const char *ns = s->ns ? s->ns : s->plan->secret_ns;
	if (strchr(g->tmpdir, '\''))
		return errf(err, errlen, -EINVAL, "git: run directory %s contains a quote", s->run_dir);
	bool ssh = config_git_ssh_host(pg->repository, g->ssh_host, sizeof(g->ssh_host));
	if (!ssh)
		g->ssh_host[0] = '\0';
	bool tofu = s->git_hosts && s->git_hosts->trust_on_first_use;
	char *kh = NULL;
	size_t khlen = 0;
	char e2[512] = "";
	int rc = 0;
	if (ssh && pg->secret_name && s->secrets && s->secrets->get) {
		rc = s->secrets->get(s->secrets->ctx, ns, pg->secret_name, "known_hosts", &kh, &khlen,
				     e2, sizeof(e2));
		if (rc < 0 && rc != -ENOENT)
			return errf(err, errlen, rc, "git: %s: cannot read Secret %s: %s", g->repo,
				    pg->secret_name, e2);
		if (rc == 0) {
			snprintf(g->kh_from, sizeof(g->kh_from), "the \"known_hosts\" key of Secret %s",
				 pg->secret_name);
			if ((rc = config_known_hosts_check(kh, khlen, g->kh_from, e2, sizeof(e2))) < 0) {
				secure_free(kh, khlen);
				return errf(err, errlen, rc, "git: %s: %s", g->repo, e2);
			}
		}
	}
	if (ssh && !kh) {
		if ((rc = config_git_known_hosts(s->git_hosts, &kh, e2, sizeof(e2))) < 0)
			return errf(err, errlen, rc, "git: %s: %s", g->repo, e2);
		if (kh) {
			khlen = strlen(kh);
			snprintf(g->kh_from, sizeof(g->kh_from),
				 "git.knownHosts/git.knownHostsFile in paddock.yaml");
		}
	}
	if (ssh && !kh && !tofu) {
		/* "[h]:port" -> "-p port h" for ssh-keyscan. */
		char scan[300];
		const char *rb = g->ssh_host[0] == '[' ? strstr(g->ssh_host, "]:") : NULL;
		if (rb)
			snprintf(scan, sizeof(scan), "-p %s %.*s", rb + 2, (int)(rb - g->ssh_host - 1),
				 g->ssh_host + 1);
		else
			snprintf(scan, sizeof(scan), "%s", g->ssh_host);
		return errf(err, errlen, -EPERM,
			    "git: %s: cannot verify the SSH host key of %s: no known hosts are configured. "
			    "Add the output of `ssh-keyscan %s` (run over a network you trust) to "
			    "git.knownHosts or git.knownHostsFile in paddock.yaml or as the key "
			    "\"known_hosts\" of %s%s, or set git.trustOnFirstUse: true in "
			    "paddock.yaml to accept an unknown key unverified",
			    g->repo, g->ssh_host, scan,
			    pg->secret_name ? "Secret " : "the repository's secretRef",
			    pg->secret_name ? pg->secret_name : "");
	}
	if (kh) {
		int dfd = open(g->tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0) {
			rc = -errno;
			secure_free(kh, khlen);
			return errf(err, errlen, rc, "git: %s: %s", g->tmpdir, strerror(-rc));
		}
		bool nl = khlen && kh[khlen - 1] == '\n';
		char *data = xmalloc(khlen + 2);
		memcpy(data, kh, khlen);
		if (!nl)
			data[khlen] = '\n';
		secure_free(kh, khlen);
		rc = local_write_at(dfd, "known_hosts", data, khlen + (nl ? 0 : 1), 0600, e2,
				    sizeof(e2));
		free(data);
		close(dfd);
		if (rc < 0)
			return errf(err, errlen, rc, "git: %s: known_hosts: %s", g->repo, e2);
	}
	char *key = with_key ? xasprintf(" -i '%s/id' -o IdentitiesOnly=yes", g->tmpdir) : NULL;
	char *cmd = xasprintf("ssh%s -o BatchMode=yes -o StrictHostKeyChecking=%s "
			      "-o UserKnownHostsFile='%s/known_hosts' -o GlobalKnownHostsFile=/dev/null",
			      key ? key : "", tofu ? "accept-new" : "yes", g->tmpdir);
	env_add(g, "GIT_SSH_COMMAND", cmd);
	free(cmd);
	free(key);
	return 0;
}

/* Build git's environment and its private temp dir; fetch credentials. */
static int git_setup(struct git_run *g, const struct plan_git *pg, char *err, size_t errlen)
{
	const struct local_spec *s = g->s;
	g->tmpdir = xasprintf("%s/.git-XXXXXX", s->run_dir);
	if (!mkdtemp(g->tmpdir)) {
		int e = errno;
		free(g->tmpdir);
		g->tmpdir = NULL;
		return errf(err, errlen, -e, "git: cannot create a temporary directory in %s: %s",
			    s->run_dir, strerror(e));
	}
	env_add(g, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	env_add(g, "HOME", g->tmpdir);
	env_add(g, "LC_ALL", "C");
	env_add(g, "GIT_CONFIG_NOSYSTEM", "1");
	env_add(g, "GIT_TERMINAL_PROMPT", "0");
	/* git's "file" covers file:// and paths: only when the operator
	 * allows local repositories (checked before, and here too) */
	env_add(g, "GIT_ALLOW_PROTOCOL", s->git_hosts && s->git_hosts->allow_local
						 ? "file:git:http:https:ssh"
						 : "git:http:https:ssh");
	static const char *const pass[] = {"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY",
					   "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "all_proxy"};
	for (size_t i = 0; i < ARRAY_SIZE(pass); i++) {
		const char *v = getenv(pass[i]);
		if (v)
			env_add(g, pass[i], v);
	}
	/* A password in an http(s) URL would show in `ps` and in the
	 * checkout's .git/config: move it into a header, like a token. */
	size_t uilen = 0;
	char *ui = http_userinfo(pg->repository, &uilen);
	if (ui) {
		g->url = g->repo;
		if (!pg->secret_name)
			set_basic_auth(g, ui, uilen);
		secure_free(ui, uilen + 1);
	}
	if (!pg->secret_name)
		return ssh_setup(g, pg, false, err, errlen);

	const char *ns = s->ns ? s->ns : s->plan->secret_ns;
	if (!s->secrets || !s->secrets->get)
		return errf(err, errlen, -ENOENT, "git: %s: no secret store to read Secret %s from",
			    g->repo, pg->secret_name);
	char *val = NULL;
	size_t len = 0;
	char serr[256] = "";
	int rc = s->secrets->get(s->secrets->ctx, ns, pg->secret_name, "token", &val, &len, serr,
				 sizeof(serr));
	if (rc == 0) {
		/* Basic x-access-token:TOKEN works for GitHub, GitLab, Gitea. */
		size_t ulen = strlen("x-access-token:") + len;
		char *user = xmalloc(ulen + 1);
		memcpy(user, "x-access-token:", 15);
		memcpy(user + 15, val, len);
		user[ulen] = '\0';
		set_basic_auth(g, user, ulen);
		secure_free(user, ulen + 1);
		g->scrub = val;
		g->scrub_len = len;
		return ssh_setup(g, pg, false, err, errlen);
	}
	if (rc != -ENOENT)
		return errf(err, errlen, rc, "git: %s: cannot read Secret %s: %s", g->repo,
			    pg->secret_name, serr);
	rc = s->secrets->get(s->secrets->ctx, ns, pg->secret_name, "ssh-privatekey", &val, &len,
			     serr, sizeof(serr));
	if (rc == -ENOENT)
		return errf(err, errlen, rc,
			    "git: %s: Secret %s/%s has neither a \"token\" nor an \"ssh-privatekey\" key: add one of them",
			    g->repo, ns ? ns : "", pg->secret_name);
	if (rc < 0)
		return errf(err, errlen, rc, "git: %s: cannot read Secret %s: %s", g->repo,
			    pg->secret_name, serr);
	if (strchr(g->tmpdir, '\'')) {
		secure_free(val, len);
		return errf(err, errlen, -EINVAL, "git: run directory %s contains a quote", s->run_dir);
	}
	int dfd = open(g->tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		secure_free(val, len);
		return errf(err, errlen, -errno, "git: %s: %s", g->tmpdir, strerror(errno));
	}
	/* ssh refuses a key without a final newline on some versions. */
	bool nl = len && val[len - 1] == '\n';
	char *keydata = xmalloc(len + 2);
	memcpy(keydata, val, len);
	if (!nl)
		keydata[len] = '\n';
	secure_free(val, len);
	rc = local_write_at(dfd, "id", keydata, len + (nl ? 0 : 1), 0600, err, errlen);
	secure_free(keydata, len + 2);
	close(dfd);
	if (rc < 0)
		return rc;
	return ssh_setup(g, pg, true, err, errlen);
}

/* Wait for one of `max` slot files in `dir`; returns the held fd or -1. */
static int slot_acquire(const struct local_spec *s, long timeout_s)
{
	if (!s->git_lock_dir || s->git_max_concurrent <= 0)
		return -1;
	if (mkdir_p(s->git_lock_dir, 0700) < 0)
		return -1;
	int64_t deadline = now_mono_ms() + (int64_t)timeout_s * 1000;
	for (;;) {
		for (int i = 0; i < s->git_max_concurrent; i++) {
			char *p = xasprintf("%s/slot.%d", s->git_lock_dir, i);
			int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
			free(p);
			if (fd < 0)
				continue;
			if (flock(fd, LOCK_EX | LOCK_NB) == 0)
				return fd;
			close(fd);
		}
		/* Do not wait forever: the fetch's own timeout still applies. */
		if (now_mono_ms() > deadline)
			return -1;
		struct timespec ts = {0, 200 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static int fetch_into(struct git_run *g, const struct plan_git *pg, int tfd, char *err,
		      size_t errlen)
{
	char last[GIT_LINE_MAX];
	char depth[32] = "";
	if (pg->depth > 0)
		snprintf(depth, sizeof(depth), "--depth=%d", pg->depth);
	int rc;
	if (is_sha(pg->ref)) {
		const char *init[] = {"init", "-q", ".", NULL};
		const char *radd[] = {"remote", "add", "origin", "--", g->url, NULL};
		if ((rc = run_git(g, tfd, init, last, sizeof(last))) < 0 ||
		    (rc = run_git(g, tfd, radd, last, sizeof(last))) < 0)
			return git_fail(g, rc, last, err, errlen);
		const char *f1[] = {"fetch", "-q", "origin", pg->ref, NULL};
		const char *f1d[] = {"fetch", "-q", depth, "origin", pg->ref, NULL};
		rc = run_git(g, tfd, depth[0] ? f1d : f1, last, sizeof(last));
		if (rc == 0) {
			const char *co[] = {"checkout", "-q", "--detach", "FETCH_HEAD", NULL};
			rc = run_git(g, tfd, co, last, sizeof(last));
			return rc < 0 ? git_fail(g, rc, last, err, errlen) : 0;
		}
		if (rc == -ETIMEDOUT)
			return git_fail(g, rc, last, err, errlen);
		/* The server refused a fetch by SHA: take everything, then check out. */
		const char *f2[] = {"fetch", "-q", "--tags", "origin",
				    "+refs/heads/*:refs/remotes/origin/*", NULL};
		const char *co[] = {"checkout", "-q", "--detach", pg->ref, NULL};
		if ((rc = run_git(g, tfd, f2, last, sizeof(last))) < 0 ||
		    (rc = run_git(g, tfd, co, last, sizeof(last))) < 0)
			return git_fail(g, rc, last, err, errlen);
		return 0;
	}
	const char *args[12];
	size_t n = 0;
	args[n++] = "clone";
	args[n++] = "-q";
	if (depth[0])
		args[n++] = depth;
	if (pg->ref) {
		args[n++] = "--branch";
		args[n++] = pg->ref;
	}
	args[n++] = "--";
	args[n++] = g->url;
	args[n++] = ".";
	args[n] = NULL;
	rc = run_git(g, tfd, args, last, sizeof(last));
	return rc < 0 ? git_fail(g, rc, last, err, errlen) : 0;
}

/* Move the checkout's `subpath` to the destination. */
static int move_subpath(struct git_run *g, const struct plan_git *pg, int cfd, int ws_fd,
			char *err, size_t errlen)
{
	char *sub = NULL;
	char e2[256];
	int rc = plan_clean_path(pg->subpath, "subpath", &sub, e2, sizeof(e2));
	if (rc < 0)
		return errf(err, errlen, rc, "git: %s: %s", g->repo, e2);
	int sfd = local_open_dir(cfd, sub, false, 0, e2, sizeof(e2));
	int dfd = -1;
	if (sfd < 0) {
		rc = errf(err, errlen, sfd, "git: %s: subpath %s", g->repo, e2);
		goto out;
	}
	if (!*pg->dest) {
		/* Into the workspace itself: entry by entry, never replacing. */
		DIR *d = fdopendir(sfd);
		if (!d) {
			rc = errf(err, errlen, -errno, "git: %s: %s", g->repo, strerror(errno));
			goto out;
		}
		sfd = -1;
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			if (renameat2(dirfd(d), e->d_name, ws_fd, e->d_name, RENAME_NOREPLACE) < 0) {
				rc = errf(err, errlen, -errno, "git: %s: cannot move %s/%s into the workspace: %s",
					  g->repo, sub, e->d_name, strerror(errno));
				break;
			}
		}
		closedir(d);
		goto out;
	}
	char *dir = xstrdup(pg->dest);
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : dir;
	if (slash)
		*slash = '\0';
	dfd = local_open_dir(ws_fd, slash ? dir : "", true, 0755, e2, sizeof(e2));
	if (dfd < 0) {
		rc = errf(err, errlen, dfd, "git: %s: destination %s", g->repo, e2);
	} else {
		/* Rename through the subpath's parent (opened without links). */
		char *sdir = xstrdup(sub);
		char *ss = strrchr(sdir, '/');
		const char *sbase = ss ? ss + 1 : sdir;
		if (ss)
			*ss = '\0';
		int pfd = local_open_dir(cfd, ss ? sdir : "", false, 0, e2, sizeof(e2));
		if (pfd < 0)
			rc = errf(err, errlen, pfd, "git: %s: subpath %s", g->repo, e2);
		else if (renameat2(pfd, sbase, dfd, base, RENAME_NOREPLACE) < 0)
			rc = errf(err, errlen, -errno, "git: %s: cannot move subpath %s to %s: %s",
				  g->repo, sub, pg->dest, strerror(errno));
		if (pfd >= 0)
			close(pfd);
		free(sdir);
	}
	free(dir);
out:
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	free(sub);
	return rc;
}

/* A local repository (git.allowLocalRepositories) is an absolute path
 * outside Paddock's own files: a Task never clones the state directory
 * (Secrets, other runs' workspaces) or the config's directory. */
static int local_repo_check(const struct local_spec *s, const char *repo, char *err, size_t errlen)
{
	int rc = config_git_local_check(s->git_hosts, repo, "git", err, errlen);
	if (rc < 0 || !config_git_local(repo))
		return rc;
	const char *path = config_git_local_path(repo); /* absolute: checked above */
	/* Nothing there: git says so.  One that contains them is cloned by
	 * what it has committed, not by its files: allowed. */
	bool inside = false;
	const char *priv = local_private_overlap(path, s->private_paths, &inside);
	if (priv && inside)
		return errf(err, errlen, -EPERM,
			    "git: local repository \"%.200s\" lies inside %s, which holds Paddock's state or configuration (Secrets, other runs): refused",
			    repo, priv);
	return 0;
}

static int fetch_one(const struct local_spec *s, const struct plan_git *pg, int ws_fd, char *err,
		     size_t errlen)
{
	struct git_run g;
	memset(&g, 0, sizeof(g));
	g.s = s;
	g.git = s->git_path ? s->git_path : GIT_PATH;
	g.repo = local_url_redact(pg->repository);
	g.ref = pg->ref;
	g.url = pg->repository;
	g.timeout_s = s->git_timeout_s > 0 ? s->git_timeout_s : GIT_DEFAULT_TIMEOUT_S;
	int tfd = -1, cfd = -1, slot = -1;
	int rc = 0;
	if (access(g.git, X_OK) < 0) {
		rc = errf(err, errlen, -ENOENT, "git: not found at %s: install the git package", g.git);
		goto out;
	}
	if ((rc = local_repo_check(s, pg->repository, err, errlen)) < 0)
		goto out;
	if ((rc = git_setup(&g, pg, err, errlen)) < 0)
		goto out;
	char e2[256];
	if (pg->subpath) {
		int tmp = open(g.tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (tmp < 0) {
			rc = errf(err, errlen, -errno, "git: %s: %s", g.tmpdir, strerror(errno));
			goto out;
		}
		cfd = local_open_dir(tmp, "checkout", true, 0755, e2, sizeof(e2));
		close(tmp);
		if (cfd < 0) {
			rc = errf(err, errlen, cfd, "git: %s", e2);
			goto out;
		}
		tfd = cfd;
	} else if (!*pg->dest) {
		tfd = ws_fd;
	} else {
		tfd = local_open_dir(ws_fd, pg->dest, true, 0755, e2, sizeof(e2));
		if (tfd < 0) {
			rc = errf(err, errlen, tfd, "git: %s: destination %s", g.repo, e2);
			goto out;
		}
	}
	slot = slot_acquire(s, g.timeout_s);
	rc = fetch_into(&g, pg, tfd, err, errlen);
	if (slot >= 0)
		close(slot);
	if (rc == 0 && pg->subpath)
		rc = move_subpath(&g, pg, cfd, ws_fd, err, errlen);
out:
	if (tfd >= 0 && tfd != ws_fd && tfd != cfd)
		close(tfd);
	if (cfd >= 0)
		close(cfd);
	git_run_free(&g);
	return rc;
}

int local_git_fetch_all(const struct local_spec *s, int ws_fd, char *err, size_t errlen)
{
	const struct run_plan *p = s->plan;
	size_t *order = plan_git_order(p);
	int rc = 0;
	for (size_t i = 0; i < p->n_gits && rc == 0; i++)
		rc = fetch_one(s, &p->gits[order[i]], ws_fd, err, errlen);
	free(order);
	return rc;
}
