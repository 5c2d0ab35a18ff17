/* SPDX-License-Identifier: MIT */
/* The local backend: exact files and modes, the bubblewrap sandbox, the
 * environment, and the detached supervisor (timeouts, stop, controller
 * crash, lost runs, log cap). */
#include "config.h"
#include "local/local.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECRET_VALUE "sk-test-9f8e7d6c5b4a-SECRET"

static char base[256];

static void setup(void)
{
	snprintf(base, sizeof(base), "/tmp/paddock-test-local-XXXXXX");
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

static char *path_in(const char *a, const char *b)
{
	return xasprintf("%s/%s", a, b);
}

static char *slurp(const char *path)
{
	char *d = NULL;
	if (read_file(path, 16 << 20, &d, NULL) < 0)
		return NULL;
	return d;
}

static unsigned mode_of(const char *path)
{
	struct stat st;
	ck_assert_msg(lstat(path, &st) == 0, "%s missing", path);
	return st.st_mode & 07777;
}

static char *script(const char *name, const char *body)
{
	char *p = path_in(base, name);
	char *text = xasprintf("#!/bin/sh\n%s\n", body);
	ck_assert_int_eq(write_file_atomic(p, text, strlen(text), 0755), 0);
	free(text);
	return p;
}

/* ---- secrets and sink ---------------------------------------------- */

static int test_secret_get(void *ctx, const char *ns, const char *name, const char *key,
			   char **value, size_t *len, char *err, size_t errlen)
{
	(void)ctx;
	if (str_eq(ns, "default") && str_eq(name, "creds") && str_eq(key, "apiKey")) {
		*value = xstrdup(SECRET_VALUE);
		*len = strlen(SECRET_VALUE);
		return 0;
	}
	return errf(err, errlen, -ENOENT, "Secret %s/%s has no key %s", ns, name, key);
}

static const struct local_secrets secrets = {NULL, test_secret_get};

struct sink_state {
	size_t lines, maxlen;
	char last[128];
};
static struct sink_state sink_st;

static void sink_line(void *ctx, const char *line, size_t len)
{
	struct sink_state *s = ctx;
	s->lines++;
	if (len > s->maxlen)
		s->maxlen = len;
	size_t n = len < sizeof(s->last) - 1 ? len : sizeof(s->last) - 1;
	size_t o = 0;
	for (size_t i = 0; i < n; i++)
		if ((line[i] >= 'a' && line[i] <= 'z') || (line[i] >= '0' && line[i] <= '9') ||
		    line[i] == ' ')
			s->last[o++] = line[i];
	s->last[o] = '\0';
}

static void sink_finish(void *ctx, int exit_code, struct buf *out)
{
	struct sink_state *s = ctx;
	buf_printf(out, "{\"lines\":%zu,\"maxlen\":%zu,\"last\":\"%s\",\"exit\":%d}", s->lines,
		   s->maxlen, s->last, exit_code);
}

static const struct local_sink sink = {&sink_st, sink_line, sink_finish};

/* ---- a run ----------------------------------------------------------- */

struct run {
	struct run_plan plan;
	struct paddock_plan_builder b;
	struct local_spec spec;
	char *run_dir;
	char *entry;
	char *slot_dir;
};

static void run_init(struct run *r, const char *name, const char *body, bool isolation)
{
	memset(r, 0, sizeof(*r));
	plan_init(&r->plan, "default", 0, 0);
	plan_builder(&r->plan, &r->b);
	r->b.set_command(r->b.ctx, "/paddock_entrypoint.sh");
	r->run_dir = xasprintf("%s/runs/%s", base, name);
	char *sname = xasprintf("%s.sh", name);
	r->entry = script(sname, body);
	free(sname);
	r->spec.run_dir = r->run_dir;
	r->spec.plan = &r->plan;
	r->spec.task_md = "Do the thing.\n";
	r->spec.entrypoint_path = r->entry;
	r->spec.isolation = isolation;
	/* As root, each run takes a uid of its own (docs/sandbox.md). */
	r->slot_dir = xasprintf("%s/uid-slots", base);
	r->spec.uid_slot_dir = r->slot_dir;
	r->spec.uid_base = 2100000000;
	r->spec.uid_count = 8;
	r->spec.secrets = &secrets;
	r->spec.sink = &sink;
	r->spec.log_cap = 1 << 20;
}

static void run_free(struct run *r)
{
	plan_free(&r->plan);
	free(r->run_dir);
	free(r->entry);
	free(r->slot_dir);
}

static void start_ok(struct run *r)
{
	char err[512] = "";
	int rc = local_prepare(&r->spec, err, sizeof(err));
	ck_assert_msg(rc == 0, "prepare: %d %s", rc, err);
	rc = local_start(&r->spec, err, sizeof(err));
	ck_assert_msg(rc == 0, "start: %d %s", rc, err);
}

static void wait_state(const char *run_dir, enum local_state want, int max_s, struct local_obs *o)
{
	int64_t dl = now_mono_ms() + max_s * 1000;
	for (;;) {
		ck_assert_int_eq(local_observe(run_dir, o), 0);
		if (o->state == want)
			return;
		local_obs_free(o);
		ck_assert_msg(now_mono_ms() < dl, "state %d, wanted %d after %d s", o->state, want,
			      max_s);
		msleep(50);
	}
}

static char *log_of(struct run *r)
{
	char *p = path_in(r->run_dir, "log");
	char *d = slurp(p);
	free(p);
	ck_assert_ptr_nonnull(d);
	return d;
}

/* Live (non-zombie) processes whose argv contains `needle`. */
static int count_procs(const char *needle)
{
	DIR *d = opendir("/proc");
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || pid == getpid())
			continue;
		char p[64], buf[4096];
		snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
		int fd = open(p, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t k = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (k <= 0)
			continue;
		buf[k] = '\0';
		char *rp = strrchr(buf, ')');
		if (rp && rp[2] == 'Z')
			continue;
		snprintf(p, sizeof(p), "/proc/%ld/cmdline", pid);
		fd = open(p, O_RDONLY);
		if (fd < 0)
			continue;
		k = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (k <= 0)
			continue;
		for (ssize_t i = 0; i < k; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[k] = '\0';
		if (strstr(buf, needle))
			n++;
	}
	closedir(d);
	return n;
}

/* ---- files ----------------------------------------------------------- */

START_TEST(test_files_exact_modes)
{
	struct run r;
	run_init(&r, "files", "exit 0", false);
	const char *sh = "#!/bin/sh\necho hi\n";
	ck_assert_int_eq(r.b.add_file(r.b.ctx, PADDOCK_ROOT_WORKSPACE, "bin/run.sh", sh, strlen(sh), 0755), 0);
	ck_assert_int_eq(r.b.add_file(r.b.ctx, PADDOCK_ROOT_WORKSPACE, "conf/private.txt", "p", 1, 0600), 0);
	ck_assert_int_eq(r.b.add_file(r.b.ctx, PADDOCK_ROOT_WORKSPACE, "a/b/c.txt", "c", 1, 0640), 0);
	ck_assert_int_eq(r.b.add_file(r.b.ctx, PADDOCK_ROOT_HOME, ".config/tool.json", "{}", 2, 0644), 0);
	ck_assert_int_eq(r.b.add_dir(r.b.ctx, PADDOCK_ROOT_WORKSPACE, "data", 0750), 0);
	ck_assert_int_eq(r.b.add_secret_file(r.b.ctx, PADDOCK_ROOT_HOME, ".creds", "creds", "apiKey", 0), 0);
	ck_assert_int_eq(r.b.add_secret_file(r.b.ctx, PADDOCK_ROOT_HOME, "ro.key", "creds", "apiKey", 0400), 0);
	/* Neither a narrow nor a wide umask may change what was asked. */
	mode_t old = umask(0077);
	char err[512] = "";
	int rc = local_prepare(&r.spec, err, sizeof(err));
	umask(old);
	ck_assert_msg(rc == 0, "%s", err);

	char *ws = path_in(r.run_dir, "workspace"), *home = path_in(r.run_dir, "home");
	struct { const char *dir, *rel; unsigned mode; } want[] = {
		{ws, "bin/run.sh", 0755}, {ws, "bin", 0755}, {ws, "conf/private.txt", 0600},
		{ws, "a/b/c.txt", 0640}, {ws, "a/b", 0755}, {ws, "data", 0750},
		{ws, "task.md", 0644}, {home, ".config/tool.json", 0644}, {home, ".creds", 0600},
		{home, "ro.key", 0400},
	};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		char *p = path_in(want[i].dir, want[i].rel);
		ck_assert_msg(mode_of(p) == want[i].mode, "%s: mode %o, want %o", want[i].rel,
			      mode_of(p), want[i].mode);
		free(p);
	}
	ck_assert_uint_eq(mode_of(r.run_dir), 0700);
	ck_assert_uint_eq(mode_of(home), 0700);
	char *p = path_in(home, ".creds");
	char *d = slurp(p);
	ck_assert_str_eq(d, SECRET_VALUE);
	free(d);
	free(p);
	p = path_in(ws, "task.md");
	d = slurp(p);
	ck_assert_str_eq(d, "Do the thing.\n");
	free(d);
	free(p);
	p = path_in(ws, "bin/run.sh");
	d = slurp(p);
	ck_assert_str_eq(d, sh);
	free(d);
	free(p);

	/* Prepared again before start: from a clean slate. */
	p = path_in(ws, "stray.txt");
	ck_assert_int_eq(write_file_atomic(p, "s", 1, 0644), 0);
	ck_assert_msg(local_prepare(&r.spec, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_ne(access(p, F_OK), 0);
	free(p);
	p = path_in(ws, "bin/run.sh");
	ck_assert_uint_eq(mode_of(p), 0755);
	free(p);

	/* A missing secret fails with its name and no value. */
	struct run r2;
	run_init(&r2, "files2", "exit 0", false);
	r2.b.add_secret_file(r2.b.ctx, PADDOCK_ROOT_HOME, ".x", "nope", "apiKey", 0);
	ck_assert_int_eq(local_prepare(&r2.spec, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "nope"));
	run_free(&r2);
	free(ws);
	free(home);
	run_free(&r);
}
END_TEST

START_TEST(test_write_refuses_symlinks)
{
	char *dir = path_in(base, "root"), *outside = path_in(base, "outside");
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(mkdir(outside, 0755), 0);
	char *l1 = path_in(dir, "linkdir"), *l2 = path_in(dir, "linkfile");
	char *victim = path_in(outside, "victim.txt");
	ck_assert_int_eq(write_file_atomic(victim, "orig", 4, 0644), 0);
	ck_assert_int_eq(symlink(outside, l1), 0);
	ck_assert_int_eq(symlink(victim, l2), 0);
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	char err[256];
	/* Through a linked directory, at any depth. */
	ck_assert_int_lt(local_write_at(fd, "linkdir/pwned.txt", "x", 1, 0644, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "symbolic link"));
	ck_assert_int_lt(local_write_at(fd, "linkdir/deeper/pwned.txt", "x", 1, 0644, err, sizeof(err)), 0);
	/* Onto a linked file. */
	ck_assert_int_lt(local_write_at(fd, "linkfile", "x", 1, 0644, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "symbolic link"));
	ck_assert_int_lt(local_open_dir(fd, "linkdir", true, 0755, err, sizeof(err)), 0);
	close(fd);
	char *pw = path_in(outside, "pwned.txt"), *deeper = path_in(outside, "deeper");
	ck_assert_int_ne(access(pw, F_OK), 0);
	ck_assert_int_ne(access(deeper, F_OK), 0);
	char *d = slurp(victim);
	ck_assert_str_eq(d, "orig");
	free(d);
	free(pw);
	free(deeper);
	free(l1);
	free(l2);
	free(victim);
	free(dir);
	free(outside);
}
END_TEST

START_TEST(test_url_redact)
{
	char *s = local_url_redact("https://user:tok@example.com/org/repo.git");
	ck_assert_str_eq(s, "https://example.com/org/repo.git");
	free(s);
	s = local_url_redact("fatal: unable to access 'http://a:b@h:1/x/': error");
	ck_assert_str_eq(s, "fatal: unable to access 'http://h:1/x/': error");
	free(s);
	s = local_url_redact("git@github.com:org/repo.git");
	ck_assert_str_eq(s, "git@github.com:org/repo.git");
	free(s);
}
END_TEST

/* ---- the sandbox ------------------------------------------------------ */

START_TEST(test_sandbox_confines)
{
	char marker[128];
	snprintf(marker, sizeof(marker), "/tmp/paddock-host-marker-%d", (int)getpid());
	ck_assert_int_eq(write_file_atomic(marker, "m", 1, 0644), 0);
	unlink("/root/paddock-escape-test");
	unlink("/etc/paddock-escape");
	char *body = xasprintf(
		"echo x > /root/paddock-escape-test 2>/dev/null && echo 'home-escape: wrote' || echo 'home-escape: refused'\n"
		"echo x > /etc/paddock-escape 2>/dev/null && echo 'etc-escape: wrote' || echo 'etc-escape: refused'\n"
		"echo x > /paddock-root-escape 2>/dev/null && echo 'root-escape: wrote' || echo 'root-escape: refused'\n"
		"echo x > /paddock_entrypoint.sh 2>/dev/null && echo 'entry: wrote' || echo 'entry: refused'\n"
		"echo hi > /workspace/out.txt && echo 'workspace: ok'\n"
		"echo hi > \"$HOME/h.txt\" && echo 'home: ok'\n"
		"[ -e %s ] && echo 'tmp: shared' || echo 'tmp: private'\n"
		"echo t > /tmp/paddock-sandbox-tmp-%d && echo 'tmp-write: ok'\n"
		"echo \"cwd: $(pwd)\"\n"
		"echo \"homevar: $HOME\"\n"
		". \"$PADDOCK_LIB\"; paddock_hello\n"
		"grep CapEff /proc/self/status\n"
		"[ -e /root/.bashrc ] && echo 'root: visible' || echo 'root: hidden'\n"
		"[ -e /etc/shadow ] && echo 'shadow: visible' || echo 'shadow: hidden'\n"
		"tr '\\0' '\\n' < /proc/$$/environ > /workspace/env.txt\n"
		"printf '%%s' \"$1\" > /workspace/arg1.txt\n"
		"echo \"argc: $# first: $1\"\n"
		"i=0; while [ ! -e /workspace/go ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done\n",
		marker, (int)getpid());
	struct run r;
	run_init(&r, "sandbox", body, true);
	free(body);
	r.spec.task_md = "prompt-text";
	char *lib = script("lib.sh", "paddock_hello() { echo 'lib: loaded'; }");
	r.spec.lib_path = lib;
	r.b.set_env(r.b.ctx, "PADDOCK_MODEL", "m1");
	r.b.set_env_secret(r.b.ctx, "API_KEY", "creds", "apiKey");
	r.b.add_arg(r.b.ctx, "--flag");
	setenv("PADDOCK_CANARY_LEAK", "leaked", 1);
	start_ok(&r);
	unsetenv("PADDOCK_CANARY_LEAK");

	/* While it runs, the secret is in no process's argv. */
	char *envtxt = path_in(r.run_dir, "workspace/env.txt");
	for (int i = 0; i < 200 && access(envtxt, F_OK) != 0; i++)
		msleep(50);
	ck_assert_int_eq(count_procs(SECRET_VALUE), 0);
	ck_assert_int_ge(count_procs("--unshare-pid"), 1);
	char *go = path_in(r.run_dir, "workspace/go");
	ck_assert_int_eq(write_file_atomic(go, "", 0, 0644), 0);

	struct local_obs o;
	wait_state(r.run_dir, LOCAL_EXITED, 30, &o);
	ck_assert_int_eq(o.exit_code, 0);
	ck_assert_str_eq(o.end_reason, "");
	local_obs_free(&o);

	char *log = log_of(&r);
	const char *want[] = {"home-escape: refused", "etc-escape: refused", "root-escape: refused",
			      "entry: refused", "workspace: ok", "home: ok", "tmp: private",
			      "tmp-write: ok", "cwd: /workspace", "homevar: /home/agent",
			      "CapEff:\t0000000000000000", "root: hidden", "shadow: hidden",
			      "argc: 2 first: --flag", "lib: loaded"};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		ck_assert_msg(strstr(log, want[i]), "log lacks \"%s\":\n%s", want[i], log);
	ck_assert_ptr_null(strstr(log, SECRET_VALUE));
	ck_assert_int_ne(access("/root/paddock-escape-test", F_OK), 0);
	ck_assert_int_ne(access("/etc/paddock-escape", F_OK), 0);
	ck_assert_int_ne(access("/paddock-root-escape", F_OK), 0);
	char tmpf[128];
	snprintf(tmpf, sizeof(tmpf), "/tmp/paddock-sandbox-tmp-%d", (int)getpid());
	ck_assert_int_ne(access(tmpf, F_OK), 0);
	char *out = path_in(r.run_dir, "workspace/out.txt");
	ck_assert_int_eq(access(out, F_OK), 0);
	char *entry = slurp(r.entry);
	ck_assert(str_startswith(entry, "#!/bin/sh\n"));
	free(entry);

	/* The environment is exactly the plan's plus what the backend sets. */
	char *env = slurp(envtxt);
	ck_assert_ptr_nonnull(env);
	const char *env_want[] = {"PADDOCK_MODEL=m1", "API_KEY=" SECRET_VALUE,
				  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				  "HOME=/home/agent", "TMPDIR=/tmp", "PWD=/workspace",
				  "PADDOCK_LIB=/paddock_lib.sh"};
	size_t lines = 0;
	for (char *save = NULL, *l = strtok_r(env, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		bool ok = false;
		for (size_t i = 0; i < ARRAY_SIZE(env_want); i++)
			ok = ok || !strcmp(l, env_want[i]);
		ck_assert_msg(ok, "unexpected variable in the sandbox: %s", l);
		lines++;
	}
	ck_assert_uint_eq(lines, ARRAY_SIZE(env_want));
	free(env);
	char *arg1p = path_in(r.run_dir, "workspace/arg1.txt");
	char *arg1 = slurp(arg1p);
	ck_assert_str_eq(arg1, "--flag");
	free(arg1);
	free(arg1p);
	unlink(marker);
	free(lib);
	free(log);
	free(out);
	free(go);
	free(envtxt);
	run_free(&r);
}
END_TEST

START_TEST(test_task_md_is_last_arg)
{
	struct run r;
	run_init(&r, "lastarg", "for a; do last=$a; done; printf '%s' \"$last\" > /workspace/last.txt; cmp -s /workspace/last.txt /workspace/task.md && echo same", true);
	r.spec.task_md = "line one\nline 'two' $HOME\n";
	r.b.add_arg(r.b.ctx, "a1");
	r.b.add_arg(r.b.ctx, "a2");
	start_ok(&r);
	struct local_obs o;
	wait_state(r.run_dir, LOCAL_EXITED, 30, &o);
	local_obs_free(&o);
	char *log = log_of(&r);
	ck_assert_msg(strstr(log, "same"), "%s", log);
	free(log);
	run_free(&r);
}
END_TEST

/* A secret file (codex's auth.json, say) is there while the run runs and
 * gone when it ends; a plain file stays; a symlink the agent put in the
 * way is not followed. */
START_TEST(test_secret_files_removed_at_end)
{
	struct run r;
	char victim[] = "/tmp/paddock-victim-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(victim));
	char *vfile = path_in(victim, "hostname");
	FILE *vf = fopen(vfile, "w");
	ck_assert_ptr_nonnull(vf);
	fputs("host file\n", vf);
	fclose(vf);
	char *body = xasprintf("test -s \"$HOME/.codex/auth.json\" && echo \"secret present\"; "
			       "rm -rf \"$HOME/trap\" && ln -s %s \"$HOME/trap\"; exit 0", victim);
	run_init(&r, "secfiles", body, false);
	free(body);
	ck_assert_int_eq(r.b.add_secret_file(r.b.ctx, PADDOCK_ROOT_HOME, ".codex/auth.json", "creds",
					     "apiKey", 0), 0);
	ck_assert_int_eq(r.b.add_secret_file(r.b.ctx, PADDOCK_ROOT_HOME, "trap/hostname", "creds",
					     "apiKey", 0), 0);
	ck_assert_int_eq(r.b.add_file(r.b.ctx, PADDOCK_ROOT_HOME, "notes.txt", "keep", 4, 0644), 0);
	start_ok(&r);
	struct local_obs o;
	wait_state(r.run_dir, LOCAL_EXITED, 30, &o);
	local_obs_free(&o);
	char *log = log_of(&r);
	ck_assert_msg(strstr(log, "secret present"), "%s", log);
	free(log);
	char *gone = path_in(r.run_dir, "home/.codex/auth.json");
	char *kept = path_in(r.run_dir, "home/notes.txt");
	ck_assert_msg(access(gone, F_OK) < 0, "%s is still there after the run", gone);
	ck_assert_int_eq(access(kept, F_OK), 0);
	ck_assert_msg(access(vfile, F_OK) == 0, "the removal followed the agent's symlink to %s", vfile);
	(void)unlink(vfile);
	(void)rmdir(victim);
	free(vfile);
	free(gone);
	free(kept);
	run_free(&r);
}
END_TEST

START_TEST(test_no_isolation)
{
	struct run r;
	run_init(&r, "plain", "echo \"cwd: $(pwd)\"; echo \"home: $HOME\"; echo \"canary: ${PADDOCK_CANARY_LEAK:-none}\"; echo \"model: $PADDOCK_MODEL\"; exit 3", false);
	r.b.set_env(r.b.ctx, "PADDOCK_MODEL", "m2");
	setenv("PADDOCK_CANARY_LEAK", "leaked", 1);
	start_ok(&r);
	unsetenv("PADDOCK_CANARY_LEAK");
	struct local_obs o;
	wait_state(r.run_dir, LOCAL_EXITED, 30, &o);
	ck_assert_int_eq(o.exit_code, 3);
	ck_assert_ptr_nonnull(o.result_json);
	ck_assert_ptr_nonnull(strstr(o.result_json, "\"exit\":3"));
	local_obs_free(&o);
	char *log = log_of(&r);
	char real[4096];
	ck_assert_ptr_nonnull(realpath(r.run_dir, real));
	char *cwd = xasprintf("cwd: %s/workspace\n", real), *home = xasprintf("home: %s/home\n", real);
	ck_assert_msg(strstr(log, cwd), "%s", log);
	ck_assert_msg(strstr(log, home), "%s", log);
	ck_assert_ptr_nonnull(strstr(log, "canary: none"));
	ck_assert_ptr_nonnull(strstr(log, "model: m2"));
	free(cwd);
	free(home);
	free(log);
	run_free(&r);
}
END_TEST

START_TEST(test_missing_bwrap)
{
	struct run r;
	run_init(&r, "nobwrap", "exit 0", true);
	r.spec.bwrap_path = "/nonexistent/bin/bwrap";
	char err[512];
	ck_assert_int_eq(local_prepare(&r.spec, err, sizeof(err)), 0);
	ck_assert_int_eq(local_start(&r.spec, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "bubblewrap (bwrap) not found at /nonexistent/bin/bwrap"));
	ck_assert_ptr_nonnull(strstr(err, "isolation: none"));
	struct local_obs o;
	ck_assert_int_eq(local_observe(r.run_dir, &o), 0);
	ck_assert_int_eq(o.state, LOCAL_NONE);
	run_free(&r);
}
END_TEST

START_TEST(test_missing_secret_env)
{
	struct run r;
	run_init(&r, "nosecret", "exit 0", true);
	r.b.set_env_secret(r.b.ctx, "API_KEY", "absent", "apiKey");
	char err[512];
	ck_assert_int_eq(local_prepare(&r.spec, err, sizeof(err)), 0);
	ck_assert_int_eq(local_start(&r.spec, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "API_KEY"));
	ck_assert_ptr_nonnull(strstr(err, "absent"));
	struct local_obs o;
	ck_assert_int_eq(local_observe(r.run_dir, &o), 0);
	ck_assert_int_eq(o.state, LOCAL_NONE);
	run_free(&r);
}
END_TEST

/* ---- the supervisor ---------------------------------------------------- */

static void tree_killed(bool isolation, bool ignore_term)
{
	char mark[64];
	snprintf(mark, sizeof(mark), "1000.%d%d", (int)getpid(), ignore_term ? 1 : 0);
	/* A grandchild in its own session, so that killing the group is not
	 * enough; optionally deaf to SIGTERM. */
	char *body = xasprintf("%s setsid sleep %s & sleep %s & echo started; wait",
			       ignore_term ? "trap '' TERM;" : "", mark, mark);
	struct run r;
	run_init(&r, ignore_term ? "tree-deaf" : "tree", body, isolation);
	free(body);
	r.spec.timeout_s = 2;
	int64_t t0 = now_mono_ms();
	start_ok(&r);
	struct local_obs o;
	for (int i = 0; i < 100 && count_procs(mark) < 2; i++)
		msleep(50);
	ck_assert_int_eq(count_procs(mark), 2);
	wait_state(r.run_dir, LOCAL_EXITED, 30, &o);
	ck_assert_str_eq(o.end_reason, "Timeout");
	ck_assert_int_ne(o.exit_code, 0);
	ck_assert_int_ge(o.end_ms - o.start_ms, 1900);
	local_obs_free(&o);
	if (ignore_term)
		ck_assert_int_ge(now_mono_ms() - t0, (2 + LOCAL_KILL_GRACE_S) * 1000 - 200);
	ck_assert_int_eq(count_procs(mark), 0);
	run_free(&r);
}

START_TEST(test_timeout_kills_tree)
{
	tree_killed(true, false);
}
END_TEST

START_TEST(test_timeout_kills_tree_plain_deaf)
{
	tree_killed(false, true);
}
END_TEST

START_TEST(test_stop)
{
	struct run r;
	run_init(&r, "stop", "echo running; sleep 1000", true);
	start_ok(&r);
	struct local_obs o;
	ck_assert_int_eq(local_observe(r.run_dir, &o), 0);
	ck_assert_int_eq(o.state, LOCAL_RUNNING);
	ck_assert_int_gt(o.start_ms, 0);
	ck_assert_int_eq(local_cleanup(r.run_dir, NULL, 0), -EBUSY);
	ck_assert_int_eq(local_stop(r.run_dir, LOCAL_STOP_USER), 0);
	wait_state(r.run_dir, LOCAL_EXITED, 30, &o);
	ck_assert_str_eq(o.end_reason, "Stopped");
	ck_assert_int_ne(o.exit_code, 0);
	local_obs_free(&o);
	ck_assert_int_eq(local_stop(r.run_dir, LOCAL_STOP_USER), 0);
	ck_assert_int_eq(local_cleanup(r.run_dir, NULL, 0), 0);
	ck_assert_int_ne(access(r.run_dir, F_OK), 0);
	run_free(&r);
}
END_TEST

START_TEST(test_survives_controller_kill)
{
	struct run r;
	run_init(&r, "survive", "echo x >> /workspace/count; sleep 1; echo done; exit 7", true);
	char err[512];
	ck_assert_int_eq(local_prepare(&r.spec, err, sizeof(err)), 0);
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t ctl = fork();
	ck_assert_int_ge(ctl, 0);
	if (ctl == 0) {
		close(p[0]);
		int rc = local_start(&r.spec, err, sizeof(err));
		char c = rc == 0 ? 'k' : 'e';
		if (write(p[1], &c, 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	close(p[1]);
	char c = 0;
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	ck_assert_int_eq(c, 'k');
	/* The controller dies hard while the run is going. */
	kill(ctl, SIGKILL);
	waitpid(ctl, NULL, 0);
	struct local_obs o;
	ck_assert_int_eq(local_observe(r.run_dir, &o), 0);
	ck_assert_int_eq(o.state, LOCAL_RUNNING);
	wait_state(r.run_dir, LOCAL_EXITED, 30, &o);
	ck_assert_int_eq(o.exit_code, 7);
	ck_assert_ptr_nonnull(o.result_json);
	ck_assert_msg(strstr(o.result_json, "\"last\":\"done\""), "%s", o.result_json);
	local_obs_free(&o);

	/* A restarted controller observes, and cannot run it twice. */
	char *res = path_in(r.run_dir, "result.json");
	struct stat st1, st2;
	ck_assert_int_eq(stat(res, &st1), 0);
	ck_assert_int_eq(local_start(&r.spec, err, sizeof(err)), -EEXIST);
	ck_assert_int_eq(local_prepare(&r.spec, err, sizeof(err)), -EEXIST);
	msleep(1200);
	ck_assert_int_eq(local_observe(r.run_dir, &o), 0);
	ck_assert_int_eq(o.state, LOCAL_EXITED);
	ck_assert_int_eq(o.exit_code, 7);
	local_obs_free(&o);
	ck_assert_int_eq(stat(res, &st2), 0);
	ck_assert_uint_eq(st1.st_ino, st2.st_ino);
	ck_assert_int_eq(st1.st_mtim.tv_sec, st2.st_mtim.tv_sec);
	ck_assert_int_eq(st1.st_mtim.tv_nsec, st2.st_mtim.tv_nsec);
	char *cnt = path_in(r.run_dir, "workspace/count");
	char *d = slurp(cnt);
	ck_assert_str_eq(d, "x\n");
	free(d);
	free(cnt);
	free(res);
	run_free(&r);
}
END_TEST

START_TEST(test_log_cap_and_long_lines)
{
	struct run r;
	run_init(&r, "logcap",
		 "i=0; while [ $i -lt 500 ]; do echo \"line $i of the output stream\"; i=$((i+1)); done\n"
		 "head -c 200000 /dev/zero | tr '\\0' a; echo\n"
		 "echo tail end",
		 true);
	r.spec.log_cap = 4096;
	start_ok(&r);
	struct local_obs o;
	wait_state(r.run_dir, LOCAL_EXITED, 30, &o);
	ck_assert_int_eq(o.exit_code, 0);
	ck_assert_ptr_nonnull(o.result_json);
	/* Every line reached the sink, the long one cut at 64 KiB. */
	ck_assert_msg(strstr(o.result_json, "\"lines\":502,"), "%s", o.result_json);
	ck_assert_msg(strstr(o.result_json, "\"maxlen\":65536,"), "%s", o.result_json);
	ck_assert_msg(strstr(o.result_json, "\"last\":\"tail end\""), "%s", o.result_json);
	local_obs_free(&o);
	char *logp = path_in(r.run_dir, "log");
	struct stat st;
	ck_assert_int_eq(stat(logp, &st), 0);
	ck_assert_int_le(st.st_size, 4096);
	/* The head, the note that the end is held, the marker, the tail from
	 * a whole line: together every byte of the stream, once. */
	char *log = log_of(&r);
	ck_assert_ptr_eq(strstr(log, "line 0 of the output stream\n"), log);
	char *note = strstr(log, "[paddock] the log is past half of limits.logBytesPerRun");
	char *mark = strstr(log, "\n[paddock] ");
	ck_assert_ptr_nonnull(note);
	ck_assert_ptr_eq(mark + 1, note);
	mark = strstr(note, "\n[paddock] ");
	ck_assert_ptr_nonnull(mark);
	unsigned long long cut = 0;
	ck_assert_int_eq(sscanf(mark, "\n[paddock] %llu bytes cut here (", &cut), 1);
	char *tail = strchr(mark + 1, '\n') + 1;
	ck_assert_str_eq(tail, "tail end\n");
	struct buf want;
	buf_init(&want, 0);
	for (int i = 0; i < 500; i++)
		buf_printf(&want, "line %d of the output stream\n", i);
	size_t head = 0;
	while (head < want.len && log + head < note && log[head] == want.data[head])
		head++;
	ck_assert_uint_ge(head, (size_t)(note - 1 - log)); /* all but the note's own newline */
	ck_assert_uint_eq(head + cut + strlen(tail), want.len + 200001 + 9);
	buf_free(&want);
	free(log);
	free(logp);
	run_free(&r);
}
END_TEST

START_TEST(test_lost)
{
	struct run r;
	char mark[64], body[256];
	snprintf(mark, sizeof(mark), "1000.%d3", (int)getpid());
	snprintf(body, sizeof(body), "sleep %s & sleep %s; wait", mark, mark);
	run_init(&r, "lost", body, true);
	start_ok(&r);
	for (int i = 0; i < 100 && count_procs(mark) < 2; i++)
		msleep(50);
	ck_assert_int_eq(count_procs(mark), 2);
	char *pf = path_in(r.run_dir, "supervisor.pid");
	char *d = slurp(pf);
	ck_assert_ptr_nonnull(d);
	int pid = atoi(d);
	ck_assert_int_gt(pid, 1);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	struct local_obs o;
	wait_state(r.run_dir, LOCAL_LOST, 10, &o);
	local_obs_free(&o);
	ck_assert_int_eq(local_stop(r.run_dir, LOCAL_STOP_USER), -ESRCH);
	/* The sandbox does not outlive its supervisor. */
	for (int i = 0; i < 100 && count_procs(mark) > 0; i++)
		msleep(50);
	ck_assert_int_eq(count_procs(mark), 0);
	free(d);
	free(pf);
	run_free(&r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("local");
	TCase *t = tcase_create("files");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, test_files_exact_modes);
	tcase_add_test(t, test_write_refuses_symlinks);
	tcase_add_test(t, test_url_redact);
	tcase_add_test(t, test_secret_files_removed_at_end);
	suite_add_tcase(s, t);
	t = tcase_create("sandbox");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, test_sandbox_confines);
	tcase_add_test(t, test_task_md_is_last_arg);
	tcase_add_test(t, test_no_isolation);
	tcase_add_test(t, test_missing_bwrap);
	tcase_add_test(t, test_missing_secret_env);
	suite_add_tcase(s, t);
	t = tcase_create("supervisor");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, test_timeout_kills_tree);
	tcase_add_test(t, test_timeout_kills_tree_plain_deaf);
	tcase_add_test(t, test_stop);
	tcase_add_test(t, test_survives_controller_kill);
	tcase_add_test(t, test_log_cap_and_long_lines);
	tcase_add_test(t, test_lost);
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
