/* SPDX-License-Identifier: MIT */
/*
 * cli/progress.h - `paddock run` attached: what the task is doing while
 * it runs.  On a terminal one status block, redrawn in place (phase,
 * elapsed time, the agent's current step, tokens and cost so far); off a
 * terminal plain timestamped lines (phase changes and the rendered
 * activity).  At the end the result, the outputs and the totals.
 */
#ifndef PADDOCK_CLI_PROGRESS_H
#define PADDOCK_CLI_PROGRESS_H

#include <json-c/json.h>
#include <stdbool.h>

#include "plugin/loader.h"

struct progress;

/* `tty`: draw the block on stdout (a terminal).  `drv` (NULL: unknown) reads
 * the log in run_dir (NULL: no log here, e.g. on a cluster). */
struct progress *progress_new(bool tty, const char *ns, const char *name,
			      const struct loaded_plugin *drv);
/* The task as it is now (and its run directory once known). */
void progress_update(struct progress *p, json_object *task, const char *run_dir);
/* The task has finished: the block gives way to the result. */
void progress_end(struct progress *p, json_object *task);
/* Ctrl-C on a terminal: ask whether to stop the task or detach.  Returns
 * 's' (stop), 'd' (detach) or 'c' (go on watching). */
int progress_ask(struct progress *p);
/* Forget the block (a message follows below it). */
void progress_break(struct progress *p);
void progress_free(struct progress *p); /* NULL-safe */

#endif
