/* SPDX-License-Identifier: MIT */
/*
 * cli/logview.c - a task's log for people (cli/logview.h).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/term.h"
#include "cli/logview.h"

/* Lines longer than this are cut (the rest of the line is dropped). */
#define LOGVIEW_LINE_MAX (4u * 1024 * 1024)

/* How each kind of rendered line starts: the agent's own words bare,
 * Paddock's reading of the stream marked. */
static const char *kind_prefix(int kind)
{
	switch (kind) {
	case PADDOCK_RENDER_TEXT: return "";
	case PADDOCK_RENDER_TOOL: return "-> ";
	case PADDOCK_RENDER_RESULT: return "   ";
	case PADDOCK_RENDER_ERROR: return "!! error: ";
	case PADDOCK_RENDER_USAGE: return "-- ";
	default: return "-- ";
	}
}

/* Print (or hold for --tail) one finished line. */
static void put(struct logview *v, char *s)
{
	if (!v->out) {
		free(s);
		return;
	}
	if (v->tail >= 0 && v->tailing) {
		if (!v->tail) {
			free(s);
			return;
		}
		if (!v->ring)
			v->ring = xcalloc((size_t)v->tail, sizeof(char *));
		free(v->ring[v->ring_next]);
		v->ring[v->ring_next] = s;
		v->ring_next = (v->ring_next + 1) % (size_t)v->tail;
		if (v->ring_n < (size_t)v->tail)
			v->ring_n++;
		return;
	}
	fputs(s, v->out);
	free(s);
}

static void stamp(struct buf *b, int64_t ms)
{
	if (ms <= 0) {
		buf_puts(b, "-                        ");
		return;
	}
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char when[32];
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	buf_printf(b, "%s.%03dZ ", when, (int)(ms % 1000));
}

static void emit(void *ctx, int kind, const char *text, size_t len)
{
	struct logview *v = ctx;
	if (v->on_line)
		v->on_line(v->on_ctx, kind, text, len);
	struct buf b;
	buf_init(&b, 0);
	if (v->timestamps)
		stamp(&b, v->ts);
	buf_puts(&b, kind_prefix(kind));
	term_sanitize(&b, text, len, 0);
	buf_puts(&b, "\n");
	put(v, buf_steal(&b));
}

void logview_init(struct logview *v, const struct loaded_plugin *drv)
{
	v->ops = NULL;
	v->renderer = NULL;
	v->ring = NULL;
	v->ring_n = v->ring_next = 0;
	v->tailing = v->tail >= 0;
	v->pops = NULL;
	v->parser = NULL;
	if (!drv || !drv->instance)
		return;
	if (PLUGIN_DRIVER_OP(drv, parser_peek) &&
	    plugin_driver_ops(drv)->parser_new(drv->instance, &v->parser) == 0 && v->parser)
		v->pops = plugin_driver_ops(drv);
	if (v->raw)
		return;
	int (*rnew)(void *, void **) = PLUGIN_DRIVER_OP(drv, renderer_new);
	if (!rnew || !PLUGIN_DRIVER_OP(drv, renderer_line) || !PLUGIN_DRIVER_OP(drv, renderer_free))
		return; /* a 1.0 driver: its stream is shown raw */
	if (rnew(drv->instance, &v->renderer) < 0 || !v->renderer) {
		v->renderer = NULL;
		return;
	}
	v->ops = plugin_driver_ops(drv);
}

void logview_line(struct logview *v, const char *line, size_t len, int64_t ts_ms)
{
	v->ts = ts_ms;
	if (v->parser)
		v->pops->parser_line(v->parser, line, len);
	if (v->since_ms && ts_ms && ts_ms < v->since_ms) {
		if (v->renderer) /* its totals and state still follow the stream */
			v->ops->renderer_line(v->renderer, line, len, NULL, NULL);
		return;
	}
	if (v->renderer) {
		v->ops->renderer_line(v->renderer, line, len, emit, v);
		return;
	}
	if (v->on_line)
		v->on_line(v->on_ctx, PADDOCK_RENDER_TEXT, line, len);
	struct buf b;
	buf_init(&b, 0);
	if (v->timestamps)
		stamp(&b, ts_ms);
	if (v->escape)
		term_sanitize(&b, line, len, TERM_MULTILINE);
	else
		buf_append(&b, line, len);
	buf_puts(&b, "\n");
	put(v, buf_steal(&b));
}

void logview_caught_up(struct logview *v)
{
	if (!v->tailing)
		return;
	v->tailing = false;
	size_t n = v->ring_n, cap = v->tail > 0 ? (size_t)v->tail : 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = (v->ring_next + cap - n + i) % cap;
		put(v, v->ring[k]);
		v->ring[k] = NULL;
	}
	v->ring_n = 0;
	if (v->out)
		fflush(v->out);
}

void logview_free(struct logview *v)
{
	if (v->renderer)
		v->ops->renderer_free(v->renderer);
	v->renderer = NULL;
	if (v->parser)
		v->pops->parser_free(v->parser);
	v->parser = NULL;
	for (long i = 0; v->ring && i < v->tail; i++)
		free(v->ring[i]);
	free(v->ring);
	v->ring = NULL;
}

bool logview_usage(const struct logview *v, struct paddock_run_result *so_far)
{
	if (!v->parser)
		return false;
	so_far->input_tokens = -1;
	so_far->output_tokens = -1;
	so_far->cost_usd = -1;
	v->pops->parser_peek(v->parser, so_far);
	return so_far->input_tokens >= 0 || so_far->output_tokens >= 0 || so_far->cost_usd >= 0;
}

int logview_parse_since(const char *s, int64_t *ms)
{
	char *end = NULL;
	errno = 0;
	double n = strtod(s, &end);
	if (errno || end == s || !(n >= 0) || n > 1e9)
		return -EINVAL;
	int64_t unit = 1000;
	if (*end == 's')
		end++;
	else if (*end == 'm')
		unit = 60000, end++;
	else if (*end == 'h')
		unit = 3600000, end++;
	else if (*end == 'd')
		unit = 86400000, end++;
	if (*end)
		return -EINVAL;
	*ms = (int64_t)(n * (double)unit);
	return 0;
}

/* ---- a local run's log ------------------------------------------------ */

void logfile_init(struct logfile *lf, const char *run_dir)
{
	memset(lf, 0, sizeof(*lf));
	lf->path = xasprintf("%s/log", run_dir);
	lf->times_path = xasprintf("%s/log.times", run_dir);
	buf_init(&lf->line, 0);
	lf->next_off = -1;
}

/* The time of the byte at `off`: the last log.times entry at or before it. */
static int64_t time_at(struct logfile *lf, int64_t off)
{
	if (!lf->times)
		lf->times = fopen(lf->times_path, "r");
	while (lf->times) {
		if (lf->next_off < 0) {
			long long o, m;
			long pos = ftell(lf->times);
			if (fscanf(lf->times, "%lld %lld\n", &o, &m) != 2) {
				/* a record still being written: read it again next time */
				clearerr(lf->times);
				if (pos >= 0)
					(void)fseek(lf->times, pos, SEEK_SET);
				break;
			}
			lf->next_off = o;
			lf->next_ms = m;
		}
		if (lf->next_off > off)
			break;
		lf->cur_ms = lf->next_ms;
		lf->next_off = -1;
	}
	return lf->cur_ms;
}

bool logfile_pump(struct logfile *lf, struct logview *v, bool final)
{
	if (!lf->f)
		lf->f = fopen(lf->path, "r");
	if (!lf->f)
		return false;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), lf->f)) > 0) {
		const char *p = chunk;
		while (n) {
			const char *nl = memchr(p, '\n', n);
			size_t seg = nl ? (size_t)(nl - p) + 1 : n;
			size_t take = nl ? seg - 1 : seg;
			if (!lf->partial)
				lf->line_start = lf->off;
			lf->partial = true;
			if (lf->line.len + take > LOGVIEW_LINE_MAX)
				take = LOGVIEW_LINE_MAX - lf->line.len;
			buf_append(&lf->line, p, take);
			lf->off += (int64_t)seg;
			if (nl) {
				logview_line(v, lf->line.data ? lf->line.data : "", lf->line.len,
					     time_at(lf, lf->line_start));
				buf_reset(&lf->line);
				lf->partial = false;
			}
			p += seg;
			n -= seg;
		}
	}
	clearerr(lf->f);
	if (final && lf->partial) {
		logview_line(v, lf->line.data ? lf->line.data : "", lf->line.len,
			     time_at(lf, lf->line_start));
		buf_reset(&lf->line);
		lf->partial = false;
	}
	return true;
}

void logfile_close(struct logfile *lf)
{
	if (lf->f)
		fclose(lf->f);
	if (lf->times)
		fclose(lf->times);
	free(lf->path);
	free(lf->times_path);
	buf_free(&lf->line);
}
