/* SPDX-License-Identifier: MIT */
/*
 * cli/progress.c - `paddock run` attached (cli/progress.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "base/jsonutil.h"
#include "base/term.h"
#include "cli/format.h"
#include "cli/logview.h"
#include "cli/progress.h"

struct progress {
	bool tty;
	char *ns, *name;
	const struct loaded_plugin *drv;
	bool log_open;
	struct logview v;
	struct logfile lf;
	int drawn;             /* lines of the block on screen */
	char phase[32];
	char step[512];        /* the last TOOL or TEXT line, escaped */
	int64_t start_ms;      /* status.startTime, else creation */
	int64_t end_ms;
	char *shown;           /* the block as drawn */
};

/* The current step for the block: the agent's last tool call or words. */
static void on_line(void *ctx, int kind, const char *text, size_t len)
{
	struct progress *p = ctx;
	if (kind != PADDOCK_RENDER_TOOL && kind != PADDOCK_RENDER_TEXT && kind != PADDOCK_RENDER_ERROR)
		return;
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, kind == PADDOCK_RENDER_TOOL ? "-> " : kind == PADDOCK_RENDER_ERROR ? "error: " : "");
	term_sanitize(&b, text, len, 0);
	snprintf(p->step, sizeof(p->step), "%s", b.data ? b.data : "");
	buf_free(&b);
}

struct progress *progress_new(bool tty, const char *ns, const char *name,
			      const struct loaded_plugin *drv)
{
	struct progress *p = xcalloc(1, sizeof(*p));
	p->tty = tty;
	p->ns = xstrdup(ns);
	p->name = xstrdup(name);
	p->drv = drv;
	p->v.tail = -1;
	p->v.on_line = on_line;
	p->v.on_ctx = p;
	/* Off a terminal the activity itself is the progress, line by line. */
	p->v.out = tty ? NULL : stdout;
	p->v.timestamps = !tty;
	return p;
}

static int columns(void)
{
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

/* s cut to `cols` terminal columns (escaped text: one column a code point). */
static void put_cut(struct buf *b, const char *s, int cols)
{
	size_t n = strlen(s), i = 0;
	int w = 0;
	while (i < n && w < cols) {
		uint32_t cp;
		int k = term_utf8_decode(s + i, n - i, &cp);
		if (k <= 0)
			break;
		i += (size_t)k;
		w++;
	}
	buf_append(b, s, i);
}

static void elapsed(int64_t ms, char *out, size_t n)
{
	int64_t s = ms < 0 ? 0 : ms / 1000;
	if (s < 3600)
		snprintf(out, n, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else
		snprintf(out, n, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
}

static void usage_text(const struct paddock_run_result *u, char *out, size_t n)
{
	char cost[32] = "";
	if (u->cost_usd >= 0) {
		char c[24];
		cli_format_cost(u->cost_usd, c, sizeof(c));
		snprintf(cost, sizeof(cost), ", %s", c);
	}
	snprintf(out, n, "tokens %lld in / %lld out%s", (long long)(u->input_tokens < 0 ? 0 : u->input_tokens),
		 (long long)(u->output_tokens < 0 ? 0 : u->output_tokens), cost);
}

/* Move to the block's first line and clear what it drew. */
static void clear_block(struct progress *p)
{
	if (!p->tty || !p->drawn)
		return;
	printf("\r\033[%dA\033[J", p->drawn);
	p->drawn = 0;
}

/* The block, redrawn only when it changed (the elapsed time ticks once
 * a second). */
static void draw(struct progress *p)
{
	int cols = columns() - 1;
	char el[32], line[1024];
	elapsed((p->end_ms ? p->end_ms : now_wall_ms()) - p->start_ms, el, sizeof(el));
	struct buf b;
	buf_init(&b, 0);
	char *who = term_safe(p->name, 0);
	snprintf(line, sizeof(line), "Task %s  %s  %s", who, p->phase, p->start_ms ? el : "");
	free(who);
	put_cut(&b, line, cols);
	buf_puts(&b, "\n  step:  ");
	put_cut(&b, p->step[0] ? p->step : "-", cols - 9);
	struct paddock_run_result u = { .size = sizeof(u) };
	buf_puts(&b, "\n  usage: ");
	if (logview_usage(&p->v, &u)) {
		usage_text(&u, line, sizeof(line));
		put_cut(&b, line, cols - 9);
	} else {
		buf_puts(&b, "-");
	}
	buf_puts(&b, "\n");
	if (p->drawn && p->shown && strcmp(p->shown, b.data) == 0) {
		buf_free(&b);
		return;
	}
	clear_block(p);
	fputs(b.data, stdout);
	free(p->shown);
	p->shown = buf_steal(&b);
	p->drawn = 3;
	fflush(stdout);
}

void progress_update(struct progress *p, json_object *task, const char *run_dir)
{
	json_object *st = jget(task, "status");
	const char *phase = jstr(st, "phase") ? jstr(st, "phase") : "Pending";
	bool changed = strcmp(phase, p->phase) != 0;
	snprintf(p->phase, sizeof(p->phase), "%s", phase);
	p->start_ms = jtime(st, "startTime");
	p->end_ms = jtime(st, "completionTime");
	if (run_dir && !p->log_open) {
		logview_init(&p->v, p->drv);
		logfile_init(&p->lf, run_dir);
		p->log_open = true;
	}
	if (p->log_open)
		(void)logfile_pump(&p->lf, &p->v, false);
	if (changed && !p->tty) {
		char ts[40];
		format_time_ms(now_wall_ms(), ts, sizeof(ts));
		char *who = term_safe(p->name, 0);
		printf("%s task %s/%s %s\n", ts, p->ns, who, phase);
		free(who);
	}
	if (p->tty)
		draw(p);
	fflush(stdout);
}

void progress_end(struct progress *p, json_object *task)
{
	if (p->log_open)
		(void)logfile_pump(&p->lf, &p->v, true);
	clear_block(p);
	json_object *st = jget(task, "status");
	const char *phase = jstr(st, "phase") ? jstr(st, "phase") : "?";
	int64_t s0 = jtime(st, "startTime"), s1 = jtime(st, "completionTime");
	char el[32] = "";
	if (s0 && s1)
		snprintf(el, sizeof(el), " in %.1fs", (double)(s1 - s0) / 1000.0);
	char *who = term_safe(p->name, 0);
	printf("Task %s %s%s", who, phase, el);
	free(who);
	const char *reason = jstr(st, "reason"), *msg = jstr(st, "message");
	if (strcmp(phase, "Succeeded") != 0 && ((reason && *reason) || (msg && *msg))) {
		fputs(": ", stdout);
		char *r = term_safe(reason ? reason : "", 0), *m = term_safe(msg ? msg : "", 0);
		printf("%s%s%s", r, *r && *m ? ": " : "", m);
		free(r);
		free(m);
	}
	putchar('\n');
	const char *result = jstr(st, "result");
	if (result && *result && p->tty) {
		char *r = term_safe(result, TERM_MULTILINE);
		printf("Result:\n  %s\n", r);
		free(r);
	}
	json_object *outs = jget(st, "outputs");
	if (outs && json_object_is_type(outs, json_type_object) && json_object_object_length(outs) > 0) {
		printf("Outputs:\n");
		json_object_object_foreach(outs, k, val)
		{
			char *kk = term_safe(k, 0), *vv = term_safe(json_object_get_string(val), 0);
			printf("  %s: %s\n", kk, vv);
			free(kk);
			free(vv);
		}
	}
	json_object *u = jget(st, "usage");
	if (json_object_get_int64(jget(u, "inputTokens")) > 0 ||
	    json_object_get_int64(jget(u, "outputTokens")) > 0 || jget(u, "costUSD")) {
		struct paddock_run_result r = { .input_tokens = json_object_get_int64(jget(u, "inputTokens")),
						.output_tokens = json_object_get_int64(jget(u, "outputTokens")),
						.cost_usd = jget(u, "costUSD") ? json_object_get_double(jget(u, "costUSD")) : -1 };
		char line[128];
		usage_text(&r, line, sizeof(line));
		printf("Usage: %s\n", line);
	}
	fflush(stdout);
}

void progress_break(struct progress *p)
{
	p->drawn = 0;
}

int progress_ask(struct progress *p)
{
	clear_block(p);
	if (!p->tty || !isatty(STDIN_FILENO))
		return 'd';
	char *who = term_safe(p->name, 0);
	printf("Interrupted.  Stop task %s (s), detach and leave it running (d), or keep watching (c)? [s/d/c] ",
	       who);
	free(who);
	fflush(stdout);
	struct termios old, raw;
	bool have = tcgetattr(STDIN_FILENO, &old) == 0;
	if (have) {
		raw = old;
		raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	int ans = 'c';
	for (;;) {
		char c;
		ssize_t n = read(STDIN_FILENO, &c, 1);
		if (n <= 0) {
			ans = 'd';
			break;
		}
		if (c == 's' || c == 'S' || c == 'd' || c == 'D' || c == 'c' || c == 'C' || c == '\n') {
			ans = c == '\n' ? 'c' : c | 0x20;
			break;
		}
	}
	if (have)
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &old);
	printf("%c\n", ans);
	fflush(stdout);
	return ans;
}

void progress_free(struct progress *p)
{
	if (!p)
		return;
	if (p->log_open) {
		logview_free(&p->v);
		logfile_close(&p->lf);
	}
	free(p->shown);
	free(p->ns);
	free(p->name);
	free(p);
}
