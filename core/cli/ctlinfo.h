/* SPDX-License-Identifier: MIT */
/*
 * cli/ctlinfo.h - what the running local controller loaded, for the
 * commands that tell the truth about it (config check, status, submit
 * warnings): STATE_DIR/controller.json, written by the controller when it
 * starts and when it reloads paddock.yaml (SIGHUP), and the lock probe.
 */
#ifndef PADDOCK_CLI_CTLINFO_H
#define PADDOCK_CLI_CTLINFO_H

#include <stdbool.h>
#include <stdint.h>

#include "base/conf.h"
#include "plugin/loader.h"

struct ctlinfo {
	long pid;
	char config[1024];     /* the config file it loaded, "" for the defaults */
	int64_t config_mtime;  /* that file's mtime (ms) when loaded, 0: none */
	int64_t loaded_at;     /* wall ms */
	char plugins[1024];    /* enabled plugins, comma-separated */
};

/* Is a controller holding STATE_DIR/controller.lock?  Probed without
 * keeping the lock. */
bool ctl_running(const char *state_dir);
/* Record what this controller loaded (0600, replaced atomically). */
void ctlinfo_write(const char *state_dir, const struct pd_config *cfg, const struct plugin_set *ps);
/* 0, or -ENOENT when there is no record. */
int ctlinfo_read(const char *state_dir, struct ctlinfo *out);
/* The local state dir, as runtime_open finds it; owned. */
char *ctl_state_dir(const struct pd_config *cfg);
/* What a command that read `cfg` should know about the running
 * controller: one line on stderr when it runs an older version of that
 * file (or another file), nothing otherwise. */
void ctl_config_note(const struct pd_config *cfg);
/* mtime of `path` in ms, 0 when it cannot be read. */
int64_t ctl_file_mtime(const char *path);

#endif
