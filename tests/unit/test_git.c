/* SPDX-License-Identifier: MIT */
/* The local backend's git fetches against real servers on 127.0.0.1:
 * file://, git daemon, and a private repository over smart HTTP that
 * needs a token (tests/git-http-server.py around git http-backend). */
#include "config.h"
#include "local/local.h"
#include "base/conf.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOKEN "ghp_TestTokenValue1234567890abcdef"

static char base[256];
static char sha1[64], sha2[64], sha3[64];

static void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void sh(const char *fmt, ...) PD_PRINTF(1, 2);
static void sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char cmd[4096];
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	ck_assert_msg(rc == 0, "command failed (%d): %s", rc, cmd);
}

static char *slurp(const char *path)
{
	char *d = NULL;
	if (read_file(path, 1 << 20, &d, NULL) < 0)
		return NULL;
	return d;
}

static void read_line(const char *path, char *out, size_t n)
{
	char *d = slurp(path);
	ck_assert_ptr_nonnull(d);
	d[strcspn(d, "\n")] = '\0';
	snprintf(out, n, "%s", d);
	free(d);
}

/* A repository with: a.txt (v1 at tag v1 = sha1, v2 at sha2 which no ref
 * points to, v3 on main = sha3), sub/inner.txt, a symlink "evil" pointing
 * outside, and a branch "feature" with f.txt. */
static void setup(void)
{
	snprintf(base, sizeof(base), "/tmp/paddock-test-git-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
	setenv("GIT_AUTHOR_NAME", "t", 1);
	setenv("GIT_AUTHOR_EMAIL", "t@example.com", 1);
	setenv("GIT_COMMITTER_NAME", "t", 1);
	setenv("GIT_COMMITTER_EMAIL", "t@example.com", 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("HOME", base, 1);
	sh("cd %s && mkdir outside src && cd src && git init -q -b main . && "
	   "echo v1 > a.txt && mkdir sub && echo inner > sub/inner.txt && ln -s %s/outside evil && "
	   "git add -A && git commit -qm one && git tag v1 && git rev-parse HEAD > ../sha1 && "
	   "echo v2 > a.txt && git commit -qam two && git rev-parse HEAD > ../sha2 && "
	   "echo v3 > a.txt && git commit -qam three && git rev-parse HEAD > ../sha3 && "
	   "git checkout -qb feature && echo f > f.txt && git add f.txt && git commit -qm f && "
	   "git checkout -q main && cd .. && git clone -q --bare src repo.git",
	   base, base);
	char p[512];
	snprintf(p, sizeof(p), "%s/sha1", base);
	read_line(p, sha1, sizeof(sha1));
	snprintf(p, sizeof(p), "%s/sha2", base);
	read_line(p, sha2, sizeof(sha2));
	snprintf(p, sizeof(p), "%s/sha3", base);
	read_line(p, sha3, sizeof(sha3));
}

static void teardown(void)
{
	rm_rf(base);
}

static int secret_get(void *ctx, const char *ns, const char *name, const char *key, char **value,
		      size_t *len, char *err, size_t errlen)
{
	const char *tok = ctx;
	if (str_eq(name, "gitcreds") && str_eq(key, "token")) {
		*value = xstrdup(tok);
		*len = strlen(tok);
		return 0;
	}
	return errf(err, errlen, -ENOENT, "Secret %s/%s has no key %s", ns, name, key);
}

struct fetch {
	struct run_plan plan;
	struct paddock_plan_builder b;
	struct local_spec spec;
	struct local_secrets secrets;
	char *run_dir;
	char err[1024];
};

/* The operator's git.allowLocalRepositories: true (these tests clone
 * file:// repositories). */
static const struct pd_git local_ok = { .allow_local = true };

static void fetch_init(struct fetch *f, const char *name)
{
	memset(f, 0, sizeof(*f));
	plan_init(&f->plan, "default", 0, 0);
	plan_builder(&f->plan, &f->b);
	f->b.set_command(f->b.ctx, "/paddock_entrypoint.sh");
	f->run_dir = xasprintf("%s/runs/%s", base, name);
	f->secrets.ctx = (void *)TOKEN;
	f->secrets.get = secret_get;
	f->spec.run_dir = f->run_dir;
	f->spec.plan = &f->plan;
	f->spec.task_md = "task";
	f->spec.secrets = &f->secrets;
	f->spec.git_timeout_s = 60;
	f->spec.git_hosts = &local_ok;
}

static void add_git(struct fetch *f, const char *repo, const char *ref, int depth,
		    const char *subpath, const char *dest, const char *secret)
{
	struct paddock_git_fetch g = {sizeof(g), repo, ref, depth, subpath, dest, secret};
	ck_assert_int_eq(f->b.add_git(f->b.ctx, &g), 0);
}

static int fetch_run(struct fetch *f)
{
	return local_prepare(&f->spec, f->err, sizeof(f->err));
}

static char *ws_file(struct fetch *f, const char *rel)
{
	char *p = xasprintf("%s/workspace/%s", f->run_dir, rel);
	char *d = slurp(p);
	free(p);
	return d;
}

static bool ws_exists(struct fetch *f, const char *rel)
{
	char *p = xasprintf("%s/workspace/%s", f->run_dir, rel);
	struct stat st;
	bool ok = lstat(p, &st) == 0;
	free(p);
	return ok;
}

static void head_is(struct fetch *f, const char *dir, const char *want)
{
	char cmd[1024], out[128];
	snprintf(cmd, sizeof(cmd), "git -C %s/workspace/%s rev-parse HEAD > %s/head", f->run_dir, dir,
		 base);
	sh("%s", cmd);
	snprintf(cmd, sizeof(cmd), "%s/head", base);
	read_line(cmd, out, sizeof(out));
	ck_assert_str_eq(out, want);
}

static void fetch_free(struct fetch *f)
{
	plan_free(&f->plan);
	free(f->run_dir);
}

/* A local repository only with git.allowLocalRepositories, and then
 * never inside Paddock's state or config directory (another run's
 * workspace is a git repository). */
START_TEST(test_local_repositories_rule)
{
	char *url = xasprintf("file://%s/repo.git", base);
	char *path = xasprintf("%s/repo.git", base);
	static const struct pd_git no_local = { .allow_local = false };
	const char *forms[] = { url, path };
	for (size_t i = 0; i < 2; i++) {
		struct fetch f;
		fetch_init(&f, i ? "nolocal-path" : "nolocal-url");
		f.spec.git_hosts = &no_local;
		add_git(&f, forms[i], NULL, 1, NULL, "", NULL);
		ck_assert_int_eq(fetch_run(&f), -EPERM);
		ck_assert_msg(strstr(f.err, "git.allowLocalRepositories: true"), "%s", f.err);
		ck_assert(!ws_exists(&f, ".git"));
		fetch_free(&f);
	}
	/* allowed, but inside a private directory: the runs' own state */
	struct fetch f;
	fetch_init(&f, "private");
	const char *priv[] = { base, NULL };
	f.spec.private_paths = priv;
	add_git(&f, url, NULL, 1, NULL, "", NULL);
	ck_assert_int_eq(fetch_run(&f), -EPERM);
	ck_assert_msg(strstr(f.err, "holds Paddock's state"), "%s", f.err);
	fetch_free(&f);
	/* a relative path means nothing to a run */
	fetch_init(&f, "relative");
	add_git(&f, "repo.git", NULL, 1, NULL, "", NULL);
	ck_assert_int_eq(fetch_run(&f), -EINVAL);
	ck_assert_msg(strstr(f.err, "give an absolute path"), "%s", f.err);
	fetch_free(&f);
	free(url);
	free(path);
}
END_TEST

START_TEST(test_file_branch_tag_sha)
{
	char *url = xasprintf("file://%s/repo.git", base);
	struct fetch f;
	fetch_init(&f, "branch");
	add_git(&f, url, "feature", 0, NULL, "", NULL);
	add_git(&f, url, "v1", 1, NULL, "tagged", NULL);
	add_git(&f, url, sha1, 1, NULL, "pinned", NULL);
	add_git(&f, url, NULL, 1, NULL, "default", NULL);
	ck_assert_msg(fetch_run(&f) == 0, "%s", f.err);
	char *d = ws_file(&f, "f.txt");
	ck_assert_str_eq(d, "f\n");
	free(d);
	ck_assert(ws_exists(&f, ".git"));
	d = ws_file(&f, "tagged/a.txt");
	ck_assert_str_eq(d, "v1\n");
	free(d);
	d = ws_file(&f, "pinned/a.txt");
	ck_assert_str_eq(d, "v1\n");
	free(d);
	head_is(&f, "pinned", sha1);
	d = ws_file(&f, "default/a.txt");
	ck_assert_str_eq(d, "v3\n");
	free(d);
	head_is(&f, "default", sha3);
	/* depth 1 really is shallow */
	ck_assert(ws_exists(&f, "default/.git/shallow"));
	/* task.md is written after the checkout */
	d = ws_file(&f, "task.md");
	ck_assert_str_eq(d, "task");
	free(d);
	fetch_free(&f);
	free(url);
}
END_TEST

START_TEST(test_subpath)
{
	char *url = xasprintf("file://%s/repo.git", base);
	struct fetch f;
	fetch_init(&f, "subpath");
	add_git(&f, url, "main", 0, "sub", "lib/vendored", NULL);
	ck_assert_msg(fetch_run(&f) == 0, "%s", f.err);
	char *d = ws_file(&f, "lib/vendored/inner.txt");
	ck_assert_str_eq(d, "inner\n");
	free(d);
	ck_assert(!ws_exists(&f, "lib/vendored/.git"));
	ck_assert(!ws_exists(&f, "lib/vendored/a.txt"));
	fetch_free(&f);

	/* A subpath as the workspace itself. */
	fetch_init(&f, "subpath-ws");
	add_git(&f, url, "main", 1, "sub", "", NULL);
	ck_assert_msg(fetch_run(&f) == 0, "%s", f.err);
	d = ws_file(&f, "inner.txt");
	ck_assert_str_eq(d, "inner\n");
	free(d);
	ck_assert(!ws_exists(&f, ".git"));
	ck_assert(ws_exists(&f, "task.md"));
	fetch_free(&f);

	/* A subpath that is a symlink in the repository is refused. */
	fetch_init(&f, "subpath-link");
	add_git(&f, url, "main", 0, "evil", "x", NULL);
	ck_assert_int_lt(fetch_run(&f), 0);
	ck_assert_msg(strstr(f.err, "symbolic link"), "%s", f.err);
	fetch_free(&f);
	free(url);
}
END_TEST

START_TEST(test_symlink_in_checkout_refused)
{
	char *url = xasprintf("file://%s/repo.git", base);
	struct fetch f;
	fetch_init(&f, "evil");
	add_git(&f, url, "main", 0, NULL, "", NULL);
	plan_set_origin(&f.plan, "spec.contexts[1]");
	ck_assert_int_eq(f.b.add_file(f.b.ctx, PADDOCK_ROOT_WORKSPACE, "evil/pwned.txt", "x", 1, 0644), 0);
	ck_assert_int_lt(fetch_run(&f), 0);
	ck_assert_msg(strstr(f.err, "spec.contexts[1]") && strstr(f.err, "symbolic link"), "%s", f.err);
	char *p = xasprintf("%s/outside/pwned.txt", base);
	ck_assert_int_ne(access(p, F_OK), 0);
	free(p);
	fetch_free(&f);

	/* Nor can a second checkout be steered through it. */
	fetch_init(&f, "evil2");
	add_git(&f, url, "main", 0, NULL, "", NULL);
	add_git(&f, url, "feature", 0, NULL, "evil/other", NULL);
	ck_assert_int_lt(fetch_run(&f), 0);
	ck_assert_msg(strstr(f.err, "symbolic link"), "%s", f.err);
	p = xasprintf("%s/outside/other", base);
	ck_assert_int_ne(access(p, F_OK), 0);
	free(p);
	fetch_free(&f);
	free(url);
}
END_TEST

START_TEST(test_bad_ref_message)
{
	char *url = xasprintf("file://%s/repo.git", base);
	struct fetch f;
	fetch_init(&f, "badref");
	add_git(&f, url, "no-such-branch", 0, NULL, "", NULL);
	ck_assert_int_eq(fetch_run(&f), -EIO);
	ck_assert_msg(strstr(f.err, url) && strstr(f.err, "no-such-branch") && strstr(f.err, "fatal:"),
		      "%s", f.err);
	fetch_free(&f);
	free(url);
}
END_TEST

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t l = sizeof(a);
	getsockname(s, (struct sockaddr *)&a, &l);
	close(s);
	return ntohs(a.sin_port);
}

static bool can_connect(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int dn = open("/dev/null", O_RDWR);
		dup2(dn, 0);
		dup2(dn, 1);
		dup2(dn, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

START_TEST(test_git_daemon)
{
	int port = free_port();
	char portarg[32], basearg[300];
	snprintf(portarg, sizeof(portarg), "--port=%d", port);
	snprintf(basearg, sizeof(basearg), "--base-path=%s", base);
	char *argv[] = {"/usr/lib/git-core/git-daemon", "--export-all", "--reuseaddr",
			"--listen=127.0.0.1", portarg, basearg, "--informative-errors", base, NULL};
	pid_t d = spawn(argv);
	for (int i = 0; i < 100 && !can_connect(port); i++)
		msleep(50);
	ck_assert(can_connect(port));
	char *url = xasprintf("git://127.0.0.1:%d/repo.git", port);
	struct fetch f;
	fetch_init(&f, "daemon");
	add_git(&f, url, "main", 1, NULL, "", NULL);
	add_git(&f, url, sha2, 1, NULL, "pinned", NULL);
	int rc = fetch_run(&f);
	reap(d);
	ck_assert_msg(rc == 0, "%s", f.err);
	char *c = ws_file(&f, "a.txt");
	ck_assert_str_eq(c, "v3\n");
	free(c);
	head_is(&f, "pinned", sha2);
	/* by SHA with depth 1: one commit, not the history */
	ck_assert(ws_exists(&f, "pinned/.git/shallow"));
	fetch_free(&f);
	free(url);
}
END_TEST

/* A server that accepts connections and never answers. */
START_TEST(test_timeout)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s, 8), 0);
	socklen_t l = sizeof(a);
	getsockname(s, (struct sockaddr *)&a, &l);
	char *url = xasprintf("git://127.0.0.1:%d/repo.git", ntohs(a.sin_port));
	struct fetch f;
	fetch_init(&f, "timeout");
	f.spec.git_timeout_s = 2;
	add_git(&f, url, NULL, 0, NULL, "", NULL);
	int64_t t0 = now_mono_ms();
	ck_assert_int_eq(fetch_run(&f), -ETIMEDOUT);
	ck_assert_int_lt(now_mono_ms() - t0, 10000);
	ck_assert_msg(strstr(f.err, "timed out after 2 s") && strstr(f.err, url), "%s", f.err);
	close(s);
	fetch_free(&f);
	free(url);
}
END_TEST

struct http_srv {
	pid_t pid;
	int port;
	char log[300];
};

static void http_start(struct http_srv *h)
{
	char pf[300];
	snprintf(pf, sizeof(pf), "%s/http.port", base);
	snprintf(h->log, sizeof(h->log), "%s/http.log", base);
	char *py = xasprintf("%s/tests/git-http-server.py", TOP_SRCDIR);
	char rootarg[300];
	snprintf(rootarg, sizeof(rootarg), "%s", base);
	setenv("GIT_TEST_TOKEN", TOKEN, 1);
	char *argv[] = {"/usr/bin/python3", py, "--root", rootarg, "--port-file", pf,
			"--lifetime", "120", "--log", h->log, NULL};
	h->pid = spawn(argv);
	unsetenv("GIT_TEST_TOKEN");
	char *d = NULL;
	for (int i = 0; i < 200 && !(d = slurp(pf)); i++)
		msleep(50);
	ck_assert_msg(d, "git-http-server.py did not start");
	h->port = atoi(d);
	free(d);
	free(py);
}

START_TEST(test_http_private_token)
{
	struct http_srv h;
	http_start(&h);
	/* A git wrapper that records every argv it is given. */
	char *argvlog = xasprintf("%s/git-argv.log", base);
	char *wrap = xasprintf("%s/git-wrap.sh", base);
	char *body = xasprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" >> %s\nexec %s \"$@\"\n",
			       argvlog, GIT_PATH);
	ck_assert_int_eq(write_file_atomic(wrap, body, strlen(body), 0755), 0);
	free(body);

	char *url = xasprintf("http://127.0.0.1:%d/repo.git", h.port);
	struct fetch f;
	fetch_init(&f, "http-ok");
	f.spec.git_path = wrap;
	add_git(&f, url, "main", 1, NULL, "", "gitcreds");
	/* The server speaks protocol v0, which refuses an unadvertised commit:
	 * this takes the full-fetch fallback. */
	add_git(&f, url, sha2, 1, NULL, "pinned", "gitcreds");
	int rc = fetch_run(&f);
	ck_assert_msg(rc == 0, "%s", f.err);
	char *c = ws_file(&f, "a.txt");
	ck_assert_str_eq(c, "v3\n");
	free(c);
	head_is(&f, "pinned", sha2);
	/* The token is nowhere a user could see it: argv, the checkout's
	 * config, the remote URL. */
	char *al = slurp(argvlog);
	ck_assert_ptr_nonnull(al);
	ck_assert_ptr_nonnull(strstr(al, url));
	ck_assert_ptr_null(strstr(al, TOKEN));
	free(al);
	c = ws_file(&f, ".git/config");
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(strstr(c, TOKEN));
	ck_assert_ptr_null(strstr(c, "extraHeader"));
	free(c);
	/* ... and the temporary git home is gone. */
	char *cmd = xasprintf("ls -a %s | grep -c '^\\.git-' > %s/n || true", f.run_dir, base);
	sh("%s", cmd);
	free(cmd);
	char np[300], n[16];
	snprintf(np, sizeof(np), "%s/n", base);
	read_line(np, n, sizeof(n));
	ck_assert_str_eq(n, "0");
	fetch_free(&f);

	/* A token written into the URL works too, and leaves no trace either. */
	char *url3 = xasprintf("http://x-access-token:%s@127.0.0.1:%d/repo.git", TOKEN, h.port);
	fetch_init(&f, "http-userinfo");
	f.spec.git_path = wrap;
	add_git(&f, url3, "main", 1, NULL, "", NULL);
	rc = fetch_run(&f);
	ck_assert_msg(rc == 0, "%s", f.err);
	al = slurp(argvlog);
	ck_assert_ptr_null(strstr(al, TOKEN));
	free(al);
	c = ws_file(&f, ".git/config");
	ck_assert_ptr_null(strstr(c, TOKEN));
	free(c);
	fetch_free(&f);
	free(url3);

	/* Without the secret: refused by the server, no prompt, a clear message. */
	fetch_init(&f, "http-anon");
	add_git(&f, url, "main", 1, NULL, "", NULL);
	ck_assert_int_eq(fetch_run(&f), -EIO);
	ck_assert_msg(strstr(f.err, url) && strstr(f.err, "fatal:"), "%s", f.err);
	fetch_free(&f);

	/* A wrong token, and userinfo in the URL: neither shows in the message. */
	char *url2 = xasprintf("http://someone:pw-in-url-XYZ@127.0.0.1:%d/repo.git", h.port);
	fetch_init(&f, "http-wrong");
	f.secrets.ctx = (void *)"wrong-token-QRS";
	add_git(&f, url2, "main", 1, NULL, "", "gitcreds");
	ck_assert_int_eq(fetch_run(&f), -EIO);
	ck_assert_ptr_null(strstr(f.err, "wrong-token-QRS"));
	ck_assert_ptr_null(strstr(f.err, "pw-in-url-XYZ"));
	ck_assert_msg(strstr(f.err, url), "%s", f.err);
	fetch_free(&f);

	/* The server saw authenticated requests. */
	char *hl = slurp(h.log);
	ck_assert_ptr_nonnull(hl);
	ck_assert_ptr_nonnull(strstr(hl, " 200 auth=yes"));
	ck_assert_ptr_nonnull(strstr(hl, " 401 auth=no"));
	free(hl);
	reap(h.pid);
	free(url);
	free(url2);
	free(wrap);
	free(argvlog);
}
END_TEST

START_TEST(test_concurrency_slots)
{
	/* With one slot held elsewhere, a fetch waits for it. */
	char *dir = xasprintf("%s/slots", base);
	char *url = xasprintf("file://%s/repo.git", base);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	char *slot = xasprintf("%s/slot.0", dir);
	int fd = open(slot, O_RDWR | O_CREAT, 0600);
	pid_t holder = fork();
	if (holder == 0) {
		int hfd = open(slot, O_RDWR);
		flock(hfd, LOCK_EX);
		msleep(1500);
		_exit(0);
	}
	msleep(300);
	struct fetch f;
	fetch_init(&f, "slots");
	f.spec.git_lock_dir = dir;
	f.spec.git_max_concurrent = 1;
	add_git(&f, url, "main", 0, NULL, "", NULL);
	int64_t t0 = now_mono_ms();
	ck_assert_msg(fetch_run(&f) == 0, "%s", f.err);
	ck_assert_int_ge(now_mono_ms() - t0, 1000);
	waitpid(holder, NULL, 0);
	close(fd);
	fetch_free(&f);
	free(slot);
	free(url);
	free(dir);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("git");
	TCase *t = tcase_create("fetch");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 90);
	tcase_add_test(t, test_file_branch_tag_sha);
	tcase_add_test(t, test_local_repositories_rule);
	tcase_add_test(t, test_subpath);
	tcase_add_test(t, test_symlink_in_checkout_refused);
	tcase_add_test(t, test_bad_ref_message);
	tcase_add_test(t, test_git_daemon);
	tcase_add_test(t, test_timeout);
	tcase_add_test(t, test_http_private_token);
	tcase_add_test(t, test_concurrency_slots);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
