/* SPDX-License-Identifier: MIT */
/*
 * cli/install.c - `paddock install`: the Kubernetes backend's manifests
 * (CRDs, RBAC, the controller Deployment) as one multi-document YAML
 * stream.  The manifests are etc/kubernetes/{crds,deployment,rbac}.yaml,
 * embedded at build time (core/install.am generates k8s_manifests.c).
 * --dry-run prints them; otherwise they are piped to `kubectl apply -f -`.
 */
#include "config.h"
#include "cli/cli.h"

#include "model/model.h"
#include "base/util.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern const struct cli_command cmd_install;

/* k8s_manifests.c (generated): the three files, NUL-terminated. */
extern const unsigned char paddock_k8s_manifests[];
extern const size_t paddock_k8s_manifests_len;

/* The placeholders in the manifests that the options replace. */
#define IMAGE_PLACEHOLDER "ghcr.io/paddock/controller:VERSION"
#define DEFAULT_IMAGE "ghcr.io/paddock/controller:" PACKAGE_VERSION
#define NS_PLACEHOLDER "paddock-system"

/* An image reference: registry/path:tag or @digest characters only, so
 * that it cannot change the YAML around it. */
static bool image_ok(const char *s)
{
	if (!*s || strlen(s) > 512 || s[0] == '-')
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("._-/:@", *p)))
			return false;
	return true;
}

/* Append `line` (n bytes) to out with every `from` replaced by `to`. */
static void replace_into(struct buf *out, const char *line, size_t n, const char *from,
			 const char *to)
{
	size_t fl = strlen(from);
	size_t i = 0;
	while (i < n) {
		if (n - i >= fl && !memcmp(line + i, from, fl)) {
			buf_puts(out, to);
			i += fl;
		} else {
			buf_append(out, line + i, 1);
			i++;
		}
	}
}

/* The stream with the placeholders replaced on every line that is not a
 * comment (comments keep naming the placeholders).  Owned. */
static char *render(const char *image, const char *ns)
{
	const char *s = (const char *)paddock_k8s_manifests;
	size_t len = paddock_k8s_manifests_len;
	struct buf out, tmp;
	buf_init(&out, 0);
	buf_init(&tmp, 0);
	buf_printf(&out, "# paddock install: %s %s, image %s, namespace %s\n",
		   PACKAGE_NAME, PACKAGE_VERSION, image, ns);
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (s + i)) + 1 : len - i;
		const char *p = s + i;
		while (p < s + i + n && (*p == ' ' || *p == '\t'))
			p++;
		if (p < s + i + n && *p == '#') {
			buf_append(&out, s + i, n);
		} else {
			buf_reset(&tmp);
			replace_into(&tmp, s + i, n, IMAGE_PLACEHOLDER, image);
			replace_into(&out, tmp.data ? tmp.data : "", tmp.len, NS_PLACEHOLDER, ns);
		}
		i += n;
	}
	buf_free(&tmp);
	return buf_steal(&out);
}

/* $KUBECTL, else kubectl in $PATH.  Owned, or NULL. */
static char *find_kubectl(void)
{
	const char *env = getenv("KUBECTL");
	if (env && *env)
		return access(env, X_OK) == 0 ? xstrdup(env) : NULL;
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	char *dirs = xstrdup(path), *save = NULL, *found = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char *cand = xasprintf("%s/kubectl", *d ? d : ".");
		struct stat st;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
			found = cand;
		else
			free(cand);
	}
	free(dirs);
	return found;
}

/* Pipe `text` into `kubectl apply -f -`; returns kubectl's exit status,
 * or -1 when it could not be run. */
static int kubectl_apply(const char *kubectl, const char *text)
{
	int fds[2];
	if (pipe(fds) < 0) {
		cli_error("install: pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		cli_error("install: fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(fds[0], STDIN_FILENO);
		close(fds[0]);
		close(fds[1]);
		execl(kubectl, kubectl, "apply", "-f", "-", (char *)NULL);
		fprintf(stderr, "paddock: install: cannot run %s: %s\n", kubectl, strerror(errno));
		_exit(127);
	}
	close(fds[0]);
	/* kubectl may exit before reading everything: EPIPE, not a signal. */
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fds[1], text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(fds[1]);
	signal(SIGPIPE, old);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			cli_error("install: waitpid: %s", strerror(errno));
			return -1;
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status) == 127 ? -1 : WEXITSTATUS(status);
	cli_error("install: %s killed by signal %d", kubectl, WTERMSIG(status));
	return -1;
}

static int install_fn(struct cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_DRY_RUN = 256, OPT_IMAGE };
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "image", required_argument, NULL, OPT_IMAGE },
		{ "namespace", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *image = DEFAULT_IMAGE, *ns = NS_PLACEHOLDER;
	bool dry_run = false;
	int c;
	(void)ctx;
	while ((c = getopt_long(argc, argv, ":n:", opts, NULL)) != -1) {
		switch (c) {
		case OPT_DRY_RUN:
			dry_run = true;
			break;
		case OPT_IMAGE:
			image = optarg;
			break;
		case 'n':
			ns = optarg;
			break;
		default:
			return cli_option_error(&cmd_install, c, argc, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(&cmd_install, "unexpected argument \"%s\"", argv[optind]);
	if (!image_ok(image))
		return cli_usage_error(&cmd_install,
				       "--image: invalid value \"%.128s\": use an image reference such as ghcr.io/paddock/controller:%s (letters, digits and ._-/:@)",
				       image, PACKAGE_VERSION);
	if (!model_dns1123_label(ns))
		return cli_usage_error(&cmd_install,
				       "--namespace: invalid value \"%.64s\": use lowercase letters, digits and '-', at most 63 characters, starting and ending with a letter or digit",
				       ns);

	char *text = render(image, ns);
	int ret = CLI_EXIT_OK;
	if (dry_run) {
		fputs(text, stdout);
		if (fflush(stdout) == EOF || ferror(stdout)) {
			cli_error("install: writing to stdout: %s", strerror(errno));
			ret = CLI_EXIT_FAILED;
		}
		goto out;
	}
	char *kubectl = find_kubectl();
	if (!kubectl) {
		const char *env = getenv("KUBECTL");
		if (env && *env)
			cli_error("install: $KUBECTL (%s) is not an executable; fix it, or print "
				  "the manifests and apply them yourself:\n"
				  "  paddock install --dry-run | kubectl apply -f -", env);
		else
			cli_error("install: kubectl not found in PATH (set $KUBECTL to its path), "
				  "or print the manifests and apply them yourself:\n"
				  "  paddock install --dry-run | kubectl apply -f -");
		ret = CLI_EXIT_FAILED;
		goto out;
	}
	fprintf(stderr, "paddock: install: %s apply -f - (image %s, namespace %s)\n", kubectl,
		image, ns);
	int rc = kubectl_apply(kubectl, text);
	free(kubectl);
	if (rc != 0) {
		if (rc > 0)
			cli_error("install: kubectl apply failed (exit %d)", rc);
		ret = CLI_EXIT_FAILED;
		goto out;
	}
	fprintf(stderr,
		"paddock: install: applied; wait for the controller with\n"
		"  kubectl -n %s rollout status deployment/paddock-controller\n",
		ns);
out:
	free(text);
	return ret;
}

const struct cli_command cmd_install = {
	.name = "install",
	.summary = "print or apply the Kubernetes manifests (CRDs, RBAC, controller)",
	.usage =
		"Usage: paddock install [--dry-run] [--image IMAGE] [-n NAMESPACE]\n"
		"\n"
		"Install the Kubernetes backend into the cluster of the current kubeconfig\n"
		"context: the CustomResourceDefinitions tasks.paddock.dev,\n"
		"agents.paddock.dev, spawners.paddock.dev and budgets.paddock.dev, the\n"
		"controller's\n"
		"ServiceAccount, ClusterRole, Role and bindings, and its Namespace,\n"
		"ConfigMap (paddock.yaml with backend: kubernetes) and Deployment (2\n"
		"replicas, one leader).  The manifests are the\n"
		"files etc/kubernetes/{crds,deployment,rbac}.yaml of this version, built\n"
		"into the binary.\n"
		"\n"
		"Without --dry-run they are piped to `kubectl apply -f -` ($KUBECTL, else\n"
		"kubectl in $PATH; it uses $KUBECONFIG and the current context).  Paddock\n"
		"itself talks to no cluster here.\n"
		"\n"
		"Options:\n"
		"      --dry-run          print the manifests (one multi-document YAML stream)\n"
		"                         to stdout and apply nothing\n"
		"      --image IMAGE      the controller image (default\n"
		"                         " DEFAULT_IMAGE ")\n"
		"  -n, --namespace NS     the controller's namespace (default " NS_PLACEHOLDER ")\n"
		"\n"
		"The controller image is built from etc/kubernetes/Dockerfile; see\n"
		"docs/kubernetes.md.\n"
		"\n"
		"Exit status: 0 done, 1 kubectl not found or kubectl apply failed, 2 usage.\n"
		"\n"
		"Examples:\n"
		"  # Look at what would be created, then create it\n"
		"  paddock install --dry-run | less\n"
		"  paddock install --dry-run | kubectl apply -f -\n"
		"\n"
		"  # Your own image, in another namespace\n"
		"  paddock install --image registry.example.com/paddock:" PACKAGE_VERSION " -n paddock\n"
		"\n"
		"  # Validate against the cluster without changing it\n"
		"  paddock install --dry-run | kubectl apply --dry-run=server -f -\n"
		"\n"
		"  # Remove it again (deletes every Task and Agent)\n"
		"  paddock install --dry-run | kubectl delete -f -\n",
	.fn = install_fn,
};
