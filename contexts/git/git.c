/* SPDX-License-Identifier: MIT */
/*
 * git.c - the Git context source: a checkout at mountPath, fetched by the
 * backend (this plugin only checks the item and adds a git fetch to the
 * plan).  Repositories: https://, http://, ssh://, git:// and scp-like
 * user@host:path; file:// and local paths only when the operator sets
 * git.allowLocalRepositories: true in paddock.yaml, the one rule for
 * spec.workspace.repo and Git contexts (the core hands it to this plugin
 * as its setting allowFileRepositories, that rule's old spelling).
 */
#include "../common/ctxutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GIT_MAX_DEPTH 1000000UL

static bool git_file_allowed(struct cu_instance *in)
{
	const char *v = in && in->host->config_get
				? in->host->config_get(in->host->ctx, "allowFileRepositories")
				: NULL;
	return v && strcmp(v, "true") == 0;
}

static int git_check_repo(struct cu_instance *in, const char *repo, const char *fp, char *err,
			  size_t errlen)
{
	static const char *const remote[] = { "https://", "http://", "ssh://", "git://" };
	/* Checked first, so that no later message echoes a password. */
	const char *sep = strstr(repo, "://");
	if (sep) {
		const char *auth = sep + 3;
		size_t alen = strcspn(auth, "/?#");
		const char *at = memchr(auth, '@', alen);
		if (at && memchr(auth, ':', (size_t)(at - auth)))
			return cu_errf(err, errlen, -EINVAL,
				       "%s.git.repository: the URL carries a password: remove it and use git.secretRef",
				       fp);
	}
	if (strlen(repo) > 2048)
		return cu_errf(err, errlen, -ENAMETOOLONG,
			       "%s.git.repository: longer than 2048 bytes", fp);
	for (const char *p = repo; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return cu_errf(err, errlen, -EINVAL,
				       "%s.git.repository: space or control character in \"%.200s\": give a plain URL",
				       fp, repo);
	if (repo[0] == '-')
		return cu_errf(err, errlen, -EINVAL,
			       "%s.git.repository: \"%.200s\" must not start with '-'", fp, repo);
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		if (strncasecmp(repo, remote[i], strlen(remote[i])) == 0)
			return repo[strlen(remote[i])]
				       ? 0
				       : cu_errf(err, errlen, -EINVAL,
						 "%s.git.repository: \"%s\" has no host: give a full URL",
						 fp, repo);
	bool is_file = strncasecmp(repo, "file://", 7) == 0 || repo[0] == '/' || repo[0] == '.';
	if (is_file) {
		/* The core's rule (config_git_local_check), which a plugin
		 * cannot call: an absolute path or file:///path. */
		const char *path = repo;
		if (strncasecmp(path, "file://", 7) == 0) {
			path += 7;
			if (strncasecmp(path, "localhost/", 10) == 0)
				path += 9;
		}
		if (git_file_allowed(in))
			return path[0] == '/'
				       ? 0
				       : cu_errf(err, errlen, -EINVAL,
						 "%s.git.repository: local repository \"%.200s\": give an absolute path (or file:///path)",
						 fp, repo);
		return cu_errf(err, errlen, -EPERM,
			       "%s.git.repository: local repository \"%.200s\" refused: a Task may not read the controller's files; use a remote URL (an operator may allow local repositories with git.allowLocalRepositories: true in paddock.yaml)",
			       fp, repo);
	}
	/* scp-like: [user@]host:path, with no "://" */
	const char *colon = strchr(repo, ':');
	const char *slash = strchr(repo, '/');
	if (colon && colon != repo && colon[1] && (!slash || colon < slash) && !strstr(repo, "://"))
		return 0;
	return cu_errf(err, errlen, -EINVAL,
		       "%s.git.repository: \"%.200s\" is not a repository URL: use https://host/path, ssh://host/path or user@host:path",
		       fp, repo);
}

/* A full commit SHA (40 hex, or 64 for SHA-256 repositories). */
static bool git_is_sha(const char *s)
{
	size_t n = strlen(s);
	if (n != 40 && n != 64)
		return false;
	return strspn(s, "0123456789abcdefABCDEF") == n;
}

/* git check-ref-format rules, for a branch or tag name. */
static bool git_ref_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 255 || s[0] == '-' || s[0] == '/' || s[n - 1] == '/' || s[n - 1] == '.' ||
	    strcmp(s, "@") == 0)
		return false;
	if (strstr(s, "..") || strstr(s, "@{") || strstr(s, "//") || strstr(s, "/.") || s[0] == '.')
		return false;
	if (n >= 5 && strcmp(s + n - 5, ".lock") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f || strchr("~^:?*[\\", c))
			return false;
	}
	return true;
}

static int git_validate(void *instance, const struct paddock_context_item *item, char *err,
			size_t errlen)
{
	struct cu_instance *in = instance;
	if (!item)
		return cu_errf(err, errlen, -EINVAL, "git context: no item");
	const char *fp = cu_fp(item);
	int rc = cu_check_foreign(item, "git", err, errlen);
	if (rc == 0)
		rc = cu_check_mount_path(item, true, err, errlen);
	if (rc < 0)
		return rc;
	if (item->file_mode != -1)
		return cu_errf(err, errlen, -EINVAL,
			       "%s.fileMode: not supported for type Git (a checkout keeps the repository's modes): remove it",
			       fp);
	const char *repo = cu_field(item, "git.repository");
	if (!repo)
		return cu_errf(err, errlen, -EINVAL,
			       "%s.git.repository: required for type Git: give the repository URL", fp);
	rc = git_check_repo(in, repo, fp, err, errlen);
	if (rc < 0)
		return rc;
	const char *ref = cu_field(item, "git.ref");
	if (ref && !git_is_sha(ref) && !git_ref_name_ok(ref))
		return cu_errf(err, errlen, -EINVAL,
			       "%s.git.ref: \"%.200s\" is neither a branch or tag name nor a full 40-hex commit SHA: fix the ref",
			       fp, ref);
	const char *depth = cu_field(item, "git.depth");
	unsigned long d;
	if (depth && cu_parse_ulong(depth, GIT_MAX_DEPTH, &d) < 0)
		return cu_errf(err, errlen, -EINVAL,
			       "%s.git.depth: \"%.40s\" is not a number from 0 to %lu: use 0 for full history",
			       fp, depth, GIT_MAX_DEPTH);
	const char *sub = cu_field(item, "git.path");
	if (sub) {
		rc = cu_check_rel_path(sub, fp, "git.path", err, errlen);
		if (rc < 0)
			return rc;
	}
	const char *sec = cu_field(item, "git.secretRef.name");
	if (sec && !cu_object_name_ok(sec))
		return cu_errf(err, errlen, -EINVAL,
			       "%s.git.secretRef.name: \"%.100s\" is not a valid Secret name: use lower-case letters, digits, '-' and '.'",
			       fp, sec);
	if (!sec && cu_field(item, "git.secretRef.key"))
		return cu_errf(err, errlen, -EINVAL,
			       "%s.git.secretRef.name: required when git.secretRef is given", fp);
	return 0;
}

static int git_resolve(void *instance, const struct paddock_task_view *task,
		       const struct paddock_context_item *item,
		       const struct paddock_plan_builder *plan, char *err, size_t errlen)
{
	(void)task;
	int rc = git_validate(instance, item, err, errlen);
	if (rc < 0)
		return rc;
	unsigned long depth = 0;
	const char *ds = cu_field(item, "git.depth");
	if (ds)
		cu_parse_ulong(ds, GIT_MAX_DEPTH, &depth);
	struct paddock_git_fetch g = {
		.size = sizeof(g),
		.repository = cu_field(item, "git.repository"),
		.ref = cu_field(item, "git.ref"),
		.depth = (int)depth,
		.subpath = cu_field(item, "git.path"),
		.dest = item->mount_path,
		.secret_name = cu_field(item, "git.secretRef.name"),
	};
	rc = plan->add_git(plan->ctx, &g);
	if (rc < 0)
		return cu_plan_failed(item, rc, "the git checkout", err, errlen);
	return 0;
}

static const struct paddock_context_ops git_ops = {
	.size = sizeof(struct paddock_context_ops),
	.type = "Git",
	.create = cu_create,
	.destroy = cu_destroy,
	.validate = git_validate,
	.resolve = git_resolve,
};

static const struct paddock_plugin git_plugin = {
	PADDOCK_PLUGIN_HEADER(PADDOCK_KIND_CONTEXT),
	.name = "git",
	.version = "0.1.0",
	.description = "Git context: a repository checked out at mountPath by the backend",
	.license = "MIT",
	.ops = &git_ops,
	.ops_size = sizeof(struct paddock_context_ops),
};

PADDOCK_PLUGIN(git_plugin)
