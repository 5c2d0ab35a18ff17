/* SPDX-License-Identifier: MIT */
/*
 * cli/logview.h - a task's log as `paddock logs` and `paddock run` show
 * it: rendered by the driver (ABI 1.1 renderer ops: one human line per
 * event, kinds labelled, control characters escaped), or raw as captured
 * (--raw, or a driver without a renderer); with --timestamps, --since
 * and --tail over the lines.
 */
#ifndef PADDOCK_CLI_LOGVIEW_H
#define PADDOCK_CLI_LOGVIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/util.h"
#include "plugin/loader.h"

struct logview {
	FILE *out;            /* NULL: lines go to on_line only */
	bool raw;             /* the stream as captured */
	bool escape;          /* raw lines escaped (stdout is a terminal) */
	bool timestamps;      /* each line prefixed with when it arrived */
	int64_t since_ms;     /* wall time: earlier lines skipped; 0: all */
	long tail;            /* the last N lines only; < 0: all */
	/* Every rendered line, also when `out` is NULL (live progress). */
	void (*on_line)(void *ctx, int kind, const char *text, size_t len);
	void *on_ctx;
	/* private */
	const struct paddock_driver_ops *ops;
	void *renderer;
	const struct paddock_driver_ops *pops; /* with parser_peek */
	void *parser;         /* usage so far */
	int64_t ts;           /* the current line's time, 0: unknown */
	char **ring;          /* --tail: the last lines, until logview_caught_up */
	size_t ring_n, ring_next;
	bool tailing;
};

/* `drv` may be NULL (the task's driver is not loaded): raw lines. */
void logview_init(struct logview *v, const struct loaded_plugin *drv);
/* One line of the stream (no newline), received at ts_ms (0: unknown). */
void logview_line(struct logview *v, const char *line, size_t len, int64_t ts_ms);
/* What was there has been read: print the held --tail lines; from now on
 * each line is printed as it comes. */
void logview_caught_up(struct logview *v);
void logview_free(struct logview *v);
/* Tokens and cost so far, from the driver's parser (parser_peek); false
 * when the driver cannot say. */
bool logview_usage(const struct logview *v, struct paddock_run_result *so_far);

/* A duration for --since: "30s", "5m", "2h", "1d" (or plain seconds). */
int logview_parse_since(const char *s, int64_t *ms);

/* Reads a local run's log and its log.times in order, line by line, as
 * the run writes them. */
struct logfile {
	FILE *f, *times;
	char *path, *times_path;
	struct buf line;      /* a line still being written */
	int64_t off;          /* offset in the log of the next byte to read */
	int64_t line_start;   /* offset of line's first byte */
	bool partial;         /* line holds the start of a line */
	int64_t next_off, next_ms, cur_ms;
};
void logfile_init(struct logfile *lf, const char *run_dir);
/* Feed the complete lines the log has now (`final`: the run has ended,
 * a last line without its newline too).  false: no log yet. */
bool logfile_pump(struct logfile *lf, struct logview *v, bool final);
void logfile_close(struct logfile *lf);

#endif
