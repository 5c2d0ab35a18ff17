/* SPDX-License-Identifier: MIT */
/*
 * plan-dump - stand in for the core's "plan one task" step in the driver
 * e2e tests: load a driver plugin, run validate + credentials +
 * entrypoint into a real run_plan (core/control/plan.c), then
 *   - write the plan's files under --home / --workspace (secret files
 *     resolved from --secrets),
 *   - print the run's command and environment as shell assignments
 *     (secret references resolved from --secrets), the way the local
 *     backend would start it.
 *
 * Usage: plan-dump DRIVER.so --home DIR --workspace DIR [--secrets FILE]
 *          [--model M] [--effort E] [--cred TYPE --secret NAME [--key KEY]]
 *          [--set KEY=VALUE]... [--field KEY=VALUE]... [--output NAME=PATH]...
 *          [--task NS/NAME]
 *        plan-dump --parse DRIVER.so STREAM-FILE EXIT-CODE
 * --secrets: lines "SECRET/KEY=VALUE".  Exit 0, or 2 with the driver's
 * error on stderr (e.g. a validation refusal).
 *
 * Built by tests/e2e/test-entrypoints.sh from core/control/plan.c and core/base/util.c.
 */
#include "config.h"
#include "control/plan.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAXKV 32

struct kvlist {
	const char *k[MAXKV];
	const char *v[MAXKV];
	size_t n;
};

static struct kvlist settings, fields, secrets;

static void kv_add(struct kvlist *l, char *arg)
{
	char *eq = strchr(arg, '=');
	if (!eq || l->n == MAXKV) {
		fprintf(stderr, "plan-dump: bad KEY=VALUE \"%s\"\n", arg);
		exit(2);
	}
	*eq = '\0';
	l->k[l->n] = arg;
	l->v[l->n++] = eq + 1;
}

static const char *kv_get(const struct kvlist *l, const char *k)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->k[i], k) == 0)
			return l->v[i];
	return NULL;
}

static void h_log(void *ctx, int level, const char *fmt, ...)
{
	(void)ctx;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "plan-dump: driver log %d: ", level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static const char *h_config_get(void *ctx, const char *key)
{
	(void)ctx;
	return kv_get(&settings, key);
}

static void h_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

static const char *field_get(const struct paddock_task_view *self, const char *key)
{
	(void)self;
	return kv_get(&fields, key);
}

static const char *secret_value(const char *name, const char *key)
{
	char k[512];
	snprintf(k, sizeof(k), "%s/%s", name, key);
	const char *v = kv_get(&secrets, k);
	if (!v) {
		fprintf(stderr, "plan-dump: secret %s not in --secrets\n", k);
		exit(2);
	}
	return v;
}

static void load_secrets(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "plan-dump: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		kv_add(&secrets, line);
}

static void shq(const char *s)
{
	putchar('\'');
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	}
	putchar('\'');
}

static void write_at(const char *dir, const struct plan_file *f)
{
	char *path = xasprintf("%s/%s", dir, f->path);
	if (f->is_dir) {
		mkdir_p(path, f->mode ? f->mode : 0755);
		free(path);
		return;
	}
	char *slash = strrchr(path, '/');
	*slash = '\0';
	mkdir_p(path, 0755);
	*slash = '/';
	const char *data = f->data;
	size_t len = f->len;
	if (f->secret_name) {
		data = secret_value(f->secret_name, f->secret_key);
		len = strlen(data);
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, f->mode ? f->mode : 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		fprintf(stderr, "plan-dump: cannot write %s\n", path);
		exit(2);
	}
	close(fd);
	free(path);
}

static const struct paddock_plugin *load(const char *so)
{
	void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "plan-dump: %s\n", dlerror());
		exit(2);
	}
	paddock_plugin_entry_fn entry = (paddock_plugin_entry_fn)dlsym(h, PADDOCK_ENTRY_SYMBOL);
	const struct paddock_plugin *d = entry ? entry() : NULL;
	if (!d || d->kind != PADDOCK_KIND_DRIVER) {
		fprintf(stderr, "plan-dump: %s is not a driver plugin\n", so);
		exit(2);
	}
	return d;
}

/* plan-dump --parse DRIVER.so FILE EXIT: feed FILE's lines to the
 * driver's parser, print outcome=, input_tokens=, output_tokens=,
 * cost_usd=, result=, error= (one line each). */
static int parse_mode(const char *so, const char *file, int exit_code)
{
	const struct paddock_plugin *d = load(so);
	const struct paddock_driver_ops *ops = d->ops;
	struct paddock_host host = { .size = sizeof(host), .abi_major = PADDOCK_ABI_MAJOR,
				     .abi_minor = PADDOCK_ABI_MINOR, .log = h_log,
				     .config_get = h_config_get, .free = h_free };
	void *inst = NULL, *p = NULL;
	char err[512];
	if (ops->create(&host, &inst, err, sizeof(err)) < 0 || ops->parser_new(inst, &p) < 0)
		return 2;
	FILE *f = fopen(file, "r");
	if (!f) {
		fprintf(stderr, "plan-dump: %s: %s\n", file, strerror(errno));
		return 2;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) >= 0) {
		if (n && line[n - 1] == '\n')
			n--;
		ops->parser_line(p, line, (size_t)n);
	}
	free(line);
	fclose(f);
	struct paddock_run_result r = { .size = sizeof(r) };
	ops->parser_finish(p, exit_code, &r);
	static const char *const names[] = { "UNKNOWN", "SUCCESS", "FAILED" };
	printf("outcome=%s\ninput_tokens=%lld\noutput_tokens=%lld\ncost_usd=%g\nresult=%s\nerror=%s\n",
	       r.outcome >= 0 && r.outcome <= 2 ? names[r.outcome] : "?", (long long)r.input_tokens,
	       (long long)r.output_tokens, r.cost_usd, r.result, r.error);
	ops->parser_free(p);
	ops->destroy(inst);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "--parse") == 0)
		return parse_mode(argv[2], argv[3], atoi(argv[4]));
	if (argc < 2) {
		fprintf(stderr, "usage: plan-dump DRIVER.so --home DIR --workspace DIR [options]\n");
		return 2;
	}
	const char *so = argv[1], *home = NULL, *ws = NULL, *task = "default/e2e";
	struct paddock_task_view t = { .size = sizeof(t), .ns = "default", .name = "e2e",
				       .uid = "00000000-e2e", .prompt = "", .secret_ns = "default",
				       .agent_field = field_get };
	static struct paddock_output_param outs[MAXKV];
	static char outs_env[8192];
	size_t outs_len = 0;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			fprintf(stderr, "plan-dump: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--home"))
			home = v;
		else if (!strcmp(a, "--workspace"))
			ws = v;
		else if (!strcmp(a, "--secrets"))
			load_secrets(v);
		else if (!strcmp(a, "--model"))
			t.model = v;
		else if (!strcmp(a, "--effort"))
			t.effort = v;
		else if (!strcmp(a, "--cred"))
			t.credentials_type = v;
		else if (!strcmp(a, "--secret"))
			t.credentials_secret = v;
		else if (!strcmp(a, "--key"))
			t.credentials_key = v;
		else if (!strcmp(a, "--task"))
			task = v;
		else if (!strcmp(a, "--set"))
			kv_add(&settings, v);
		else if (!strcmp(a, "--field"))
			kv_add(&fields, v);
		else if (!strcmp(a, "--output") && t.n_outputs < MAXKV) {
			char *eq = strchr(v, '=');
			if (!eq)
				return 2;
			*eq = '\0';
			outs[t.n_outputs].name = v;
			outs[t.n_outputs++].path = eq + 1;
			outs_len += (size_t)snprintf(outs_env + outs_len, sizeof(outs_env) - outs_len,
						     "%s%s\t%s", outs_len ? "\n" : "", v, eq + 1);
		} else {
			fprintf(stderr, "plan-dump: unknown option %s\n", a);
			return 2;
		}
	}
	t.outputs = outs;
	if (!home || !ws) {
		fprintf(stderr, "plan-dump: --home and --workspace are required\n");
		return 2;
	}
	if (t.credentials_type && !t.credentials_key)
		t.credentials_key = strcmp(t.credentials_type, "oauth") == 0 ? "oauthToken" : "apiKey";

	const struct paddock_plugin *d = load(so);
	const struct paddock_driver_ops *ops = d->ops;
	t.type = d->name;
	struct paddock_host host = { .size = sizeof(host), .abi_major = PADDOCK_ABI_MAJOR,
				     .abi_minor = PADDOCK_ABI_MINOR, .log = h_log,
				     .config_get = h_config_get, .free = h_free };
	void *inst = NULL;
	char err[1024] = "";
	int rc = ops->create(&host, &inst, err, sizeof(err));
	struct run_plan plan;
	plan_init(&plan, "default", 0, 0);
	struct paddock_plan_builder b;
	plan_builder(&plan, &b);
	if (rc == 0)
		rc = ops->validate(inst, &t, err, sizeof(err));
	if (rc == 0)
		rc = ops->credentials(inst, &t, &b, err, sizeof(err));
	if (rc == 0)
		rc = ops->entrypoint(inst, &t, &b, err, sizeof(err));
	if (rc == 0 && plan.rc) {
		rc = plan.rc;
		snprintf(err, sizeof(err), "%s", plan.err);
	}
	if (rc < 0) {
		fprintf(stderr, "%s\n", err);
		plan_free(&plan);
		ops->destroy(inst);
		return 2;
	}
	for (size_t i = 0; i < plan.n_files; i++)
		write_at(plan.files[i].root == PADDOCK_ROOT_HOME ? home : ws, &plan.files[i]);
	/* The core's part of the contract (what the local backend sets). */
	printf("PD_COMMAND=");
	shq(plan.command ? plan.command : "");
	putchar('\n');
	printf("PD_ARGS=%zu\n", plan.args.n);
	printf("export HOME=");
	shq(home);
	putchar('\n');
	printf("export PADDOCK_TASK=");
	shq(task);
	putchar('\n');
	printf("export PADDOCK_MODEL=");
	shq(t.model ? t.model : "");
	putchar('\n');
	printf("export PADDOCK_EFFORT=");
	shq(t.effort ? t.effort : "");
	putchar('\n');
	printf("export PADDOCK_OUTPUTS=");
	shq(outs_env);
	putchar('\n');
	for (size_t i = 0; i < plan.n_env; i++) {
		const struct plan_env *e = &plan.env[i];
		printf("export %s=", e->name);
		shq(e->secret_name ? secret_value(e->secret_name, e->secret_key) : e->value);
		putchar('\n');
	}
	plan_free(&plan);
	ops->destroy(inst);
	/* No dlclose: the process ends here (and keeps leak checkers quiet). */
	return 0;
}
