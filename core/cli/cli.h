/* SPDX-License-Identifier: MIT */
/*
 * cli.h - the command-line front end.  cli/main.c parses the global options,
 * then dispatches to one struct cli_command from its table.  A command
 * loads the config and plugins only when it needs them (cli_load_config,
 * cli_load_plugins); main frees both after the command returns.
 *
 * Adding a command: define `const struct cli_command cmd_xxx = {...};` in
 * its own file, then add `extern const struct cli_command cmd_xxx;` and
 * `&cmd_xxx,` to the table in cli/main.c.
 */
#ifndef PADDOCK_CLI_H
#define PADDOCK_CLI_H

#include <stdbool.h>

#include "base/conf.h"
#include "plugin/loader.h"

/* Exit codes of every command (documented in docs/cli.md). */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILED = 1,    /* the operation or task failed; a check failed */
	CLI_EXIT_USAGE = 2,     /* bad command line */
	CLI_EXIT_NOT_FOUND = 3, /* no such task, agent, ... */
	CLI_EXIT_CONFIG = 4,    /* config file or plugin error */
};

struct cli_ctx {
	const char *config_path;  /* --config, else config_default_path(); borrowed */
	bool config_explicit;     /* given with --config: missing file is an error */
	struct pd_config *cfg;    /* owned, after cli_load_config */
	struct plugin_set *plugins; /* owned, after cli_load_plugins */
	int verbose;              /* -v count: forces log level debug */
	int log_format;           /* --log-format, -1 when not given */
	const char *kubeconfig;   /* --kubeconfig: talk to that cluster; borrowed, or NULL */
	const char *kube_context; /* --context: the kubeconfig context; borrowed, or NULL */
};

struct cli_command {
	const char *name;
	const char *summary;  /* one line for `paddock help` */
	const char *usage;    /* the full --help text, with examples */
	/* argv[0] is the command name; returns an enum cli_exit. */
	int (*fn)(struct cli_ctx *ctx, int argc, char **argv);
};

/* Load ctx->cfg (no-op if loaded).  A missing default config file means
 * defaults; a missing --config file is an error.  Applies the log settings
 * (config, then -v and --log-format).  On error prints "paddock: MESSAGE"
 * to stderr and returns a negative errno. */
int cli_load_config(struct cli_ctx *ctx);

/* Load ctx->plugins (loads the config first).  Same error reporting. */
int cli_load_plugins(struct cli_ctx *ctx, bool instantiate);

/* The user's settings file (cli/init.c): its path, and the value of `key`
 * (owned, NULL when unset; a credential in a file others may read gets a
 * warning on stderr). */
char *user_config_path(void);
char *user_config_get(const char *key);

/* Print "paddock: " + message to stderr. */
void cli_error(const char *fmt, ...) PD_PRINTF(1, 2);
/* cli_error() with the whole message escaped for a terminal (term.h):
 * for messages that quote a server, a manifest or an agent. */
void cli_error_escaped(const char *fmt, ...) PD_PRINTF(1, 2);

/* "Run 'paddock help CMD'" style usage error; returns CLI_EXIT_USAGE. */
int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...) PD_PRINTF(2, 3);

/* The error of every command's getopt_long() (optstring starting with
 * ':', opterr 0) when it returned c ('?' or ':'): names the option
 * ("paddock: get: unknown option \"--foo\"", "option \"-n\" needs an
 * argument"), then the command's Usage lines (cmd NULL: the global
 * ones).  Returns CLI_EXIT_USAGE. */
int cli_option_error(const struct cli_command *cmd, int c, int argc, char **argv);

#endif
