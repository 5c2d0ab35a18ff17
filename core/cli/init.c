/* SPDX-License-Identifier: MIT */
/*
 * cli/init.c - the user's own settings file (~/.config/paddock/config.yaml,
 * or $XDG_CONFIG_HOME/paddock/config.yaml): `paddock init` writes it,
 * commented, mode 0600; `paddock run` and the namespace default read it
 * through user_config_get(), which warns when a file holding a credential
 * is readable by others.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/jsonutil.h"
#include "cli/cli.h"
#include "model/manifest.h"

extern const struct cli_command cmd_init;

char *user_config_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	return xdg && *xdg ? xasprintf("%s/paddock/config.yaml", xdg)
			   : xasprintf("%s/.config/paddock/config.yaml", home ? home : "/");
}

/* A credential in a file others may read: said once per process. */
static void check_mode(const char *path, const char *key, int fd)
{
	static bool said;
	struct stat st;
	if (said || (strcmp(key, "apiKey") && strcmp(key, "oauthToken")) || fstat(fd, &st) < 0 ||
	    !(st.st_mode & 077))
		return;
	said = true;
	fprintf(stderr, "paddock: warning: %s holds %s and other users may read it (mode %04o): chmod 600 %s\n",
		path, key, (unsigned)(st.st_mode & 07777), path);
}

char *user_config_get(const char *key)
{
	char *path = user_config_path();
	char *val = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct buf b;
	buf_init(&b, 64 * 1024);
	char chunk[4096];
	ssize_t n;
	bool ok = fd >= 0;
	while (ok && (n = read(fd, chunk, sizeof(chunk))) > 0)
		ok = buf_append(&b, chunk, (size_t)n) == 0;
	if (ok && b.len) {
		json_object **docs = NULL;
		size_t ndocs = 0;
		char err[256];
		struct manifest_limits lim = { 64 * 1024, 8, 1000 };
		if (manifest_parse(path, b.data, b.len, &lim, &docs, &ndocs, err, sizeof(err)) == 0 && ndocs > 0) {
			const char *v = jstr(docs[0], key);
			if (v && *v) {
				val = xstrdup(v);
				check_mode(path, key, fd);
			}
			manifest_docs_free(docs, ndocs);
		} else if (ndocs == 0) {
			cli_error("%s", err);
		}
	}
	size_t blen = b.len;
	if (b.data)
		secure_free(buf_steal(&b), blen);
	if (fd >= 0)
		close(fd);
	free(path);
	return val;
}

static const char template_text[] =
	"# Paddock's settings for you (written by `paddock init`), read by the\n"
	"# paddock command on this machine.  It may hold a credential: keep it\n"
	"# mode 0600 (paddock warns when others may read it).  Uncomment to use.\n"
	"\n"
	"# The model credential `paddock run --type DRIVER` uses when there is no\n"
	"# --secret, no $PADDOCK_API_KEY and no variable of the driver's own\n"
	"# (ANTHROPIC_API_KEY, CODEX_API_KEY, GEMINI_API_KEY, OPENCODE_API_KEY).\n"
	"# run stores it once as a Secret named by its hash; it is never printed.\n"
	"#apiKey: sk-...\n"
	"# or a subscription token (claude setup-token, codex auth.json):\n"
	"#oauthToken: ...\n"
	"\n"
	"# The model of `paddock run --type DRIVER` when --model is not given\n"
	"# (an Agent's own spec.model is kept).\n"
	"#model: claude-sonnet-4-5\n"
	"\n"
	"# The namespace of the local commands when there is no -n and no\n"
	"# $PADDOCK_NAMESPACE (default: default).\n"
	"#namespace: default\n";

static int init_fn(struct cli_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	static const struct option opts[] = { { "force", no_argument, NULL, 'f' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	bool force = false;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":fh", opts, NULL)) != -1) {
		if (c == 'f')
			force = true;
		else
			return cli_option_error(&cmd_init, c, argc, argv);
	}
	if (optind < argc)
		return cli_usage_error(&cmd_init, "unexpected argument \"%s\"", argv[optind]);
	char *path = user_config_path();
	char *dir = xstrdup(path);
	*strrchr(dir, '/') = '\0';
	int ret = CLI_EXIT_OK;
	int rc = mkdir_p(dir, 0700);
	if (rc < 0) {
		cli_error("%s: %s", dir, strerror(-rc));
		ret = CLI_EXIT_FAILED;
		goto out;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (force ? O_TRUNC : O_EXCL), 0600);
	if (fd < 0 && errno == EEXIST) {
		cli_error("%s exists: edit it, or paddock init --force to replace it with the commented template",
			  path);
		ret = CLI_EXIT_FAILED;
		goto out;
	}
	size_t len = sizeof(template_text) - 1;
	if (fd < 0 || fchmod(fd, 0600) < 0 || write(fd, template_text, len) != (ssize_t)len) {
		cli_error("%s: %s", path, strerror(errno));
		ret = CLI_EXIT_FAILED;
	} else {
		printf("Wrote %s (mode 0600), every setting commented out: apiKey or oauthToken, model,\n"
		       "namespace.  Next: set apiKey there (or export ANTHROPIC_API_KEY), then\n"
		       "  paddock run --type claude-code -p 'say hello'\n",
		       path);
	}
	if (fd >= 0)
		close(fd);
out:
	free(dir);
	free(path);
	return ret;
}

const struct cli_command cmd_init = {
	.name = "init",
	.summary = "write a commented ~/.config/paddock/config.yaml (mode 0600)",
	.usage = "Usage: paddock init [--force]\n"
		 "\n"
		 "Writes your settings file, $XDG_CONFIG_HOME/paddock/config.yaml (else\n"
		 "~/.config/paddock/config.yaml), mode 0600 in a 0700 directory, with every\n"
		 "setting commented out and explained: the model credential `paddock run`\n"
		 "uses (apiKey or oauthToken), the default model and namespace.  An existing\n"
		 "file is kept unless --force.  Exit status: 0 written, 1 not written.\n"
		 "\n"
		 "Example:\n"
		 "  paddock init\n",
	.fn = init_fn,
};
