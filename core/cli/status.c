/* SPDX-License-Identifier: MIT */
/*
 * cli/status.c - `paddock status`: the controller, the config it loaded,
 * the plugins, the store, and what the sandbox can do on this host, each
 * found out for real (a user namespace made, a network namespace made,
 * bubblewrap run) rather than guessed from files.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/jsonutil.h"
#include "base/term.h"
#include "cli/cli.h"
#include "cli/ctlinfo.h"
#include "local/cgroup.h"
#include "local/local.h"
#include "local/store.h"

extern const struct cli_command cmd_status;

/* Can a child of ours unshare `flags`?  (The child exits at once.) */
static bool can_unshare(int flags)
{
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0)
		_exit(unshare(flags) == 0 ? 0 : 1);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void field(const char *label, const char *fmt, ...) PD_PRINTF(2, 3);
static void field(const char *label, const char *fmt, ...)
{
	printf("%-22s", label);
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void show_controller(const struct pd_config *cfg, const char *sd)
{
	struct ctlinfo ci;
	if (!ctl_running(sd)) {
		field("Controller:", "not running: submitted tasks stay Pending until `paddock controller` "
		      "runs (paddock run acts as one for its task)");
		return;
	}
	if (ctlinfo_read(sd, &ci) < 0) {
		field("Controller:", "running (it has not said what it loaded)");
		return;
	}
	char when[40];
	format_time_ms(ci.loaded_at, when, sizeof(when));
	char *conf = term_safe(ci.config[0] ? ci.config : "(defaults, no file)", 0);
	field("Controller:", "running, pid %ld, config loaded %s from %s", ci.pid, when, conf);
	free(conf);
	ctl_config_note(cfg);
}

static void show_plugins(const struct plugin_set *ps)
{
	struct buf d, c;
	buf_init(&d, 0);
	buf_init(&c, 0);
	for (size_t i = 0; i < ps->n; i++) {
		if (!ps->v[i].enabled)
			continue;
		struct buf *b = ps->v[i].desc->kind == PADDOCK_KIND_DRIVER ? &d : &c;
		buf_printf(b, "%s%s", b->len ? ", " : "", ps->v[i].desc->name);
	}
	field("Drivers:", "%s", d.len ? d.data : "none enabled");
	field("Contexts:", "%s", c.len ? c.data : "none enabled");
	if (ps->n_refused)
		field("Refused plugins:", "%zu (paddock plugins says why)", ps->n_refused);
	buf_free(&d);
	buf_free(&c);
}

struct counts {
	size_t n, pending, running, done;
};

static int count_task(json_object *obj, void *ctx)
{
	struct counts *c = ctx;
	const char *p = jstr(jget(obj, "status"), "phase");
	c->n++;
	if (str_eq(p, "Running"))
		c->running++;
	else if (str_eq(p, "Succeeded") || str_eq(p, "Failed") || str_eq(p, "Stopped"))
		c->done++;
	else
		c->pending++;
	return 0;
}

static void show_store(const char *sd)
{
	struct store *st = NULL;
	char err[512];
	if (store_open(sd, &st, err, sizeof(err)) < 0) {
		field("Store:", "%s: %s", sd, err);
		return;
	}
	struct counts c = { 0 };
	store_list(st, MODEL_TASK, NULL, count_task, &c);
	field("Store:", "%s/paddock.db: %zu task%s (%zu pending or queued, %zu running, %zu finished)", sd,
	      c.n, c.n == 1 ? "" : "s", c.pending, c.running, c.done);
	store_close(st);
}

static void show_sandbox(const struct pd_config *cfg)
{
	bool root = geteuid() == 0;
	char err[512];
	field("Isolation:", "%s", cfg->isolation ? cfg->isolation : "bwrap");
	if (local_sandbox_check(NULL, root, err, sizeof(err)) == 0)
		field("  bubblewrap:", "ok (%s built a sandbox)", BWRAP_PATH);
	else
		field("  bubblewrap:", "no: %s", err);
	field("  user namespaces:", "%s", can_unshare(CLONE_NEWUSER) ? "yes" : "no (bubblewrap needs them, or setuid)");
	bool netns = can_unshare(root ? CLONE_NEWNET : CLONE_NEWUSER | CLONE_NEWNET);
	field("  network namespace:", "%s", netns ? "yes (network.egress none and allowlist work)"
					   : "no: network.egress none and allowlist cannot fence runs here");
	enum cg_version v = CG_NONE;
	(void)cg_detect("/sys/fs/cgroup", &v);
	field("  cgroups:", "%s%s", v == CG_V2 ? "v2" : v == CG_V1 ? "v1" : "none",
	      v == CG_NONE ? ": cpu, memory and process limits are not enforced"
	      : root ? " (limits enforced)" : " (limits enforced only when paddock runs as root)");
	int fd = local_seccomp_fd(err, sizeof(err));
	bool kernel = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;
	field("  seccomp:", "%s", fd >= 0 && kernel ? "yes (the sandbox's filter compiles and the kernel has seccomp)"
				   : kernel ? "the filter does not compile" : "no: the kernel has no seccomp");
	if (fd >= 0)
		close(fd);
}

static int status_fn(struct cli_ctx *ctx, int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return cli_usage_error(&cmd_status, "no arguments expected");
	if (cli_load_config(ctx) < 0)
		return CLI_EXIT_CONFIG;
	const struct pd_config *cfg = ctx->cfg;
	char *path = term_safe(cfg->path ? cfg->path : ctx->config_path, 0);
	field("Config:", "%s%s (backend %s)", path, cfg->path ? "" : " does not exist: defaults", cfg->backend);
	free(path);
	char err[1024];
	if (!ctx->plugins && plugins_load(cfg, false, &ctx->plugins, err, sizeof(err)) < 0)
		field("Plugins:", "%s", err);
	else
		show_plugins(ctx->plugins);
	if (!str_eq(cfg->backend, "local")) {
		field("Controller:", "on the cluster (paddock --kubeconfig ... get tasks)");
		return CLI_EXIT_OK;
	}
	char *sd = ctl_state_dir(cfg);
	show_controller(cfg, sd);
	show_store(sd);
	free(sd);
	show_sandbox(cfg);
	return CLI_EXIT_OK;
}

const struct cli_command cmd_status = {
	.name = "status",
	.summary = "the controller, config, plugins, store and sandbox of this host",
	.usage = "Usage: paddock status\n"
		 "\n"
		 "What this machine's Paddock is: the config file and its backend, the\n"
		 "enabled drivers and contexts, whether a controller is running (its pid,\n"
		 "when it loaded which config, and a warning when the file changed since:\n"
		 "kill -HUP PID reloads it), the store (its tasks by phase), and what the\n"
		 "sandbox can do here, each tried for real: bubblewrap, user namespaces, a\n"
		 "network namespace (network.egress none and allowlist), the cgroup version\n"
		 "(resource limits) and seccomp.  Exit status 0; 4 on a config error.\n"
		 "\n"
		 "Example:\n"
		 "  paddock status\n",
	.fn = status_fn,
};
