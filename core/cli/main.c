/* SPDX-License-Identifier: MIT */
/*
 * cli/main.c - `paddock [GLOBAL OPTIONS] COMMAND [ARGS]`: global options, the
 * command table, help, and the shared config/plugin loading helpers.
 */
#include "config.h"
#include "cli/cli.h"
#include "base/term.h"

#include "base/util.h"
#include "local/local.h"
#include "proxy/sidecar.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The command table: one extern and one entry per command. */
extern const struct cli_command cmd_version;
extern const struct cli_command cmd_plugins;
extern const struct cli_command cmd_config;
extern const struct cli_command cmd_status;
extern const struct cli_command cmd_init;
extern const struct cli_command cmd_dashboard;
extern const struct cli_command cmd_apply;
extern const struct cli_command cmd_run;
extern const struct cli_command cmd_get;
extern const struct cli_command cmd_describe;
extern const struct cli_command cmd_logs;
extern const struct cli_command cmd_stop;
extern const struct cli_command cmd_delete;
extern const struct cli_command cmd_controller;
extern const struct cli_command cmd_install;

static const struct cli_command *const commands[] = {
	&cmd_run,
	&cmd_apply,
	&cmd_get,
	&cmd_describe,
	&cmd_logs,
	&cmd_stop,
	&cmd_delete,
	&cmd_controller,
	&cmd_install,
	&cmd_plugins,
	&cmd_config,
	&cmd_status,
	&cmd_init,
	&cmd_dashboard,
	&cmd_version,
};

/* `paddock help`: handled by main(), not in the table. */
static const struct cli_command cmd_help_cmd = {
	"help", "show help for paddock or a command",
	"Usage: paddock help [COMMAND]\n"
	"\n"
	"Without COMMAND, the global options and the list of commands (the same as\n"
	"paddock --help); with one, that command's full usage with examples (the\n"
	"same as paddock COMMAND --help).\n"
	"\n"
	"Examples:\n"
	"  paddock help\n"
	"  paddock help run\n",
	NULL,
};

static void print_usage(FILE *f)
{
	fprintf(f,
		"Usage: paddock [GLOBAL OPTIONS] COMMAND [ARGS...]\n"
		"\n"
		"Paddock runs autonomous coding agents in sandboxes.\n"
		"\n"
		"Global options (before the command):\n"
		"  -c, --config FILE      config file (default: $PADDOCK_CONFIG, else\n"
		"                         %s)\n"
		"  -v, --verbose          log at debug level\n"
		"      --log-format FMT   log format on stderr: kv or json\n"
		"      --kubeconfig FILE  work against the Kubernetes cluster of FILE (the task\n"
		"                         commands; also when the config says backend: kubernetes)\n"
		"      --context NAME     the kubeconfig context to use (default: current-context)\n"
		"  -h, --help             show this help\n"
		"      --version          print the version\n"
		"\n"
		"Commands:\n",
		PADDOCK_SYSCONFDIR "/paddock/paddock.yaml");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "  %-12s %s\n", cmd_help_cmd.name, cmd_help_cmd.summary);
	fprintf(f,
		"\n"
		"Run 'paddock help COMMAND' or 'paddock COMMAND --help' for a command's options.\n"
		"\n"
		"Environment:\n"
		"  PADDOCK_CONFIG         config file when --config is not given\n"
		"  PADDOCK_PLUGIN_PATH    colon-separated plugin directories; replaces pluginDirs\n"
		"  PADDOCK_NAMESPACE      namespace when -n is not given\n"
		"  KUBECONFIG             kubeconfig when --kubeconfig and kubernetes.kubeconfig\n"
		"                         are not given (backend kubernetes only)\n"
		"\n"
		"Exit codes: 0 success, 1 failed (operation, task or check), 2 usage error,\n"
		"3 not found, 4 config or plugin error.\n");
}

static const struct cli_command *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

static void command_names(char *out, size_t len)
{
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		buf_printf(&b, "%s, ", commands[i]->name);
	buf_puts(&b, "help");
	snprintf(out, len, "%s", b.data);
	buf_free(&b);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("paddock: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* cli_error() with the whole message escaped: for messages that quote
 * what the cluster, a manifest or a task's status said. */
void cli_error_escaped(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	char *e = term_safe(msg ? msg : fmt, 0);
	cli_error("%s", e);
	free(e);
	free(msg);
}

int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("paddock: ", stderr);
	if (cmd)
		fprintf(stderr, "%s: ", cmd->name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (cmd)
		fprintf(stderr, "Run 'paddock %s --help' for usage.\n", cmd->name);
	else
		fprintf(stderr, "Run 'paddock help' for usage.\n");
	return CLI_EXIT_USAGE;
}

/* The "Usage:" lines of a usage text: up to its first empty line. */
static void print_usage_lines(FILE *f, const char *usage)
{
	const char *end = strstr(usage, "\n\n");
	fprintf(f, "%.*s\n", end ? (int)(end - usage) : (int)strcspn(usage, "\n"), usage);
}

int cli_option_error(const struct cli_command *cmd, int c, int argc, char **argv)
{
	/* GNU getopt_long: optind is past the element that failed, except
	 * for an unknown short option inside a group (-xA), which optopt
	 * names; optopt is 0 for an unknown long option. */
	const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
	char name[128];
	if (c == '?' && optopt == 0)
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg, "="), arg);
	else if (!strncmp(arg, "--", 2))
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg, "="), arg);
	else if (optopt > 0 && optopt < 127)
		snprintf(name, sizeof(name), "-%c", optopt);
	else
		snprintf(name, sizeof(name), "%s", arg);
	char *shown = term_safe(name, 0);
	fputs("paddock: ", stderr);
	if (cmd)
		fprintf(stderr, "%s: ", cmd->name);
	if (c == ':')
		fprintf(stderr, "option \"%s\" needs an argument\n", shown);
	else if (!strncmp(arg, "--", 2) && strchr(arg, '=') && optopt != 0)
		fprintf(stderr, "option \"%s\" takes no argument\n", shown);
	else
		fprintf(stderr, "unknown option \"%s\"\n", shown);
	free(shown);
	if (cmd) {
		print_usage_lines(stderr, cmd->usage);
		fprintf(stderr, "Run 'paddock %s --help' for the options.\n", cmd->name);
	} else {
		fprintf(stderr, "Usage: paddock [GLOBAL OPTIONS] COMMAND [ARGS...]\n"
				"Run 'paddock help' for the options.\n");
	}
	return CLI_EXIT_USAGE;
}

static void apply_log_settings(const struct cli_ctx *ctx)
{
	int level = ctx->cfg ? ctx->cfg->log_level : LOG_INFO;
	int format = ctx->cfg ? ctx->cfg->log_format : LOG_FORMAT_KV;
	if (ctx->verbose)
		level = LOG_DEBUG;
	if (ctx->log_format >= 0)
		format = ctx->log_format;
	log_setup(level, format);
}

int cli_load_config(struct cli_ctx *ctx)
{
	char err[1024];
	if (ctx->cfg)
		return 0;
	if (!ctx->config_path)
		ctx->config_path = config_default_path();
	struct pd_config *cfg = NULL;
	int rc = config_load(ctx->config_path, &cfg, err, sizeof(err));
	if (rc == -ENOENT && !ctx->config_explicit && !getenv("PADDOCK_CONFIG")) {
		log_debug("no config file, using defaults", "path", ctx->config_path);
		cfg = config_new_default();
		rc = 0;
	}
	if (rc < 0) {
		cli_error("%s", err);
		return rc;
	}
	ctx->cfg = cfg;
	apply_log_settings(ctx);
	return 0;
}

int cli_load_plugins(struct cli_ctx *ctx, bool instantiate)
{
	char err[1024];
	if (ctx->plugins)
		return 0;
	int rc = cli_load_config(ctx);
	if (rc < 0)
		return rc;
	rc = plugins_load(ctx->cfg, instantiate, &ctx->plugins, err, sizeof(err));
	if (rc < 0) {
		cli_error("%s", err);
		return rc;
	}
	for (size_t i = 0; i < ctx->plugins->n_refused; i++)
		log_warn("plugin refused", "path", ctx->plugins->refused[i].path, "reason",
			 ctx->plugins->refused[i].reason);
	return 0;
}

/* True when the command's arguments ask for help (before any "--"). */
static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return false;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	}
	return false;
}

static int cmd_help(int argc, char **argv)
{
	if (wants_help(argc, argv)) {
		fputs(cmd_help_cmd.usage, stdout);
		return CLI_EXIT_OK;
	}
	if (argc < 2) {
		print_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (argc > 2)
		return cli_usage_error(&cmd_help_cmd, "expected at most one command name");
	if (!strcmp(argv[1], "help")) {
		fputs(cmd_help_cmd.usage, stdout);
		return CLI_EXIT_OK;
	}
	const struct cli_command *cmd = find_command(argv[1]);
	if (!cmd) {
		char names[512];
		command_names(names, sizeof(names));
		return cli_usage_error(&cmd_help_cmd, "unknown command \"%s\": valid commands are %s",
				       argv[1], names);
	}
	fputs(cmd->usage, stdout);
	return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
	enum { OPT_VERSION = 256, OPT_LOG_FORMAT, OPT_KUBECONFIG, OPT_CONTEXT };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "kubeconfig", required_argument, NULL, OPT_KUBECONFIG },
		{ "context", required_argument, NULL, OPT_CONTEXT },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_ctx ctx = { .log_format = -1 };
	int c, rc;

	/* First of all, before any option, config or plugin: `paddock
	 * __supervise RUN_DIR` is a run's supervisor (core/local/local.h),
	 * started by this same binary; no command, not in the help. */
	if (local_supervisor_dispatch(argc, argv, &rc))
		return rc;
	/* `paddock __egress ...`: a Kubernetes Job's egress sidecar
	 * (core/proxy/sidecar.h). */
	if (egress_sidecar_dispatch(argc, argv, &rc))
		return rc;
	opterr = 0;
	/* '+': stop at the command name; its options are its own. */
	while ((c = getopt_long(argc, argv, "+:c:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ctx.config_path = optarg;
			ctx.config_explicit = true;
			break;
		case 'v':
			ctx.verbose++;
			break;
		case OPT_LOG_FORMAT:
			if (!strcmp(optarg, "kv"))
				ctx.log_format = LOG_FORMAT_KV;
			else if (!strcmp(optarg, "json"))
				ctx.log_format = LOG_FORMAT_JSON;
			else
				return cli_usage_error(NULL, "--log-format: unsupported value "
						       "\"%s\": use kv or json", optarg);
			break;
		case OPT_KUBECONFIG:
			if (!*optarg)
				return cli_usage_error(NULL, "--kubeconfig: give a file name");
			ctx.kubeconfig = optarg;
			break;
		case OPT_CONTEXT:
			if (!*optarg)
				return cli_usage_error(NULL, "--context: give a context name");
			ctx.kube_context = optarg;
			break;
		case 'h':
			print_usage(stdout);
			return CLI_EXIT_OK;
		case OPT_VERSION:
			printf("%s %s (plugin ABI %d.%d)\n", PACKAGE_NAME, PACKAGE_VERSION,
			       PADDOCK_ABI_MAJOR, PADDOCK_ABI_MINOR);
			return CLI_EXIT_OK;
		default:
			return cli_option_error(NULL, c, argc, argv);
		}
	}
	if (optind >= argc) {
		print_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	/* Until the config is read: info, or what the command line says. */
	apply_log_settings(&ctx);

	const char *name = argv[optind];
	int cargc = argc - optind;
	char **cargv = argv + optind;
	if (!strcmp(name, "help"))
		return cmd_help(cargc, cargv);
	const struct cli_command *cmd = find_command(name);
	if (!cmd) {
		char names[512];
		command_names(names, sizeof(names));
		return cli_usage_error(NULL, "unknown command \"%s\": valid commands are %s", name,
				       names);
	}
	if (wants_help(cargc, cargv)) {
		fputs(cmd->usage, stdout);
		return CLI_EXIT_OK;
	}
	/* GNU getopt: start over for the command's own options; commands
	 * report bad options themselves (opterr stays 0). */
	optind = 0;
	rc = cmd->fn(&ctx, cargc, cargv);
	plugins_free(ctx.plugins);
	config_free(ctx.cfg);
	return rc;
}
