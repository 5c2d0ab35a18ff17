/* SPDX-License-Identifier: MIT */
/*
 * cli/ctlinfo.c - the running controller's record (cli/ctlinfo.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/jsonutil.h"
#include "cli/ctlinfo.h"
#include "local/store.h"

#define CTLINFO_FILE "controller.json"

bool ctl_running(const char *state_dir)
{
	char *path = xasprintf("%s/controller.lock", state_dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return false;
	bool held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

int64_t ctl_file_mtime(const char *path)
{
	struct stat st;
	if (!path || stat(path, &st) < 0)
		return 0;
	return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

void ctlinfo_write(const char *state_dir, const struct pd_config *cfg, const struct plugin_set *ps)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "pid", json_object_new_int64((int64_t)getpid()));
	jset_str(o, "config", cfg->path ? cfg->path : "");
	json_object_object_add(o, "configMtime", json_object_new_int64(ctl_file_mtime(cfg->path)));
	json_object_object_add(o, "loadedAt", json_object_new_int64(now_wall_ms()));
	struct buf names;
	buf_init(&names, 0);
	for (size_t i = 0; ps && i < ps->n; i++)
		if (ps->v[i].enabled)
			buf_printf(&names, "%s%s", names.len ? "," : "", ps->v[i].desc->name);
	jset_str(o, "plugins", names.data ? names.data : "");
	buf_free(&names);
	char *path = xasprintf("%s/%s", state_dir, CTLINFO_FILE);
	char *tmp = xasprintf("%s.tmp", path);
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	if (fd >= 0)
		close(fd);
	if (!ok || rename(tmp, path) < 0) {
		log_warn("cannot record the controller's config", "path", path, "error", strerror(errno));
		(void)unlink(tmp);
	}
	free(tmp);
	free(path);
	json_object_put(o);
}

int ctlinfo_read(const char *state_dir, struct ctlinfo *out)
{
	char *path = xasprintf("%s/%s", state_dir, CTLINFO_FILE);
	char *data = NULL;
	size_t len = 0;
	int rc = read_file(path, 64 * 1024, &data, &len);
	free(path);
	if (rc < 0)
		return rc == -ENOENT ? -ENOENT : rc;
	json_object *o = json_tokener_parse(data);
	free(data);
	if (!o)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->pid = (long)json_object_get_int64(jget(o, "pid"));
	snprintf(out->config, sizeof(out->config), "%s", jstr(o, "config") ? jstr(o, "config") : "");
	out->config_mtime = json_object_get_int64(jget(o, "configMtime"));
	out->loaded_at = json_object_get_int64(jget(o, "loadedAt"));
	snprintf(out->plugins, sizeof(out->plugins), "%s", jstr(o, "plugins") ? jstr(o, "plugins") : "");
	json_object_put(o);
	return 0;
}

char *ctl_state_dir(const struct pd_config *cfg)
{
	const char *env = getenv("PADDOCK_STATE_DIR");
	if (env && *env)
		return xstrdup(env);
	return xstrdup(cfg->state_dir ? cfg->state_dir : store_default_dir());
}

void ctl_config_note(const struct pd_config *cfg)
{
	if (!str_eq(cfg->backend, "local"))
		return;
	char *sd = ctl_state_dir(cfg);
	struct ctlinfo ci;
	if (ctl_running(sd) && ctlinfo_read(sd, &ci) == 0) {
		const char *path = cfg->path ? cfg->path : "";
		if (strcmp(ci.config, path) != 0)
			fprintf(stderr, "paddock: note: the running controller (pid %ld) runs another config: %s\n",
				ci.pid, ci.config[0] ? ci.config : "the defaults (no file)");
		else if (ctl_file_mtime(cfg->path) > ci.config_mtime)
			fprintf(stderr, "paddock: warning: the running controller (pid %ld) loaded %s before its "
				"last change and runs the old version: reload it with kill -HUP %ld (or restart it)\n",
				ci.pid, path, ci.pid);
	}
	free(sd);
}
