/* SPDX-License-Identifier: MIT */
/*
 * cli/tasks.c - the task author's commands: apply, run, get, describe,
 * logs, stop, delete, and the local controller daemon.  kubectl habits:
 * NAME TYPE PHASE AGE tables, -o yaml|json|wide, -n NAMESPACE, -A.
 *
 * The commands work on a backend (struct backend): the local store and
 * runtime, or a cluster through cli/kube.h.  Everything the user reads is
 * printed here, whichever backend answered.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/format.h"
#include "cli/kube.h"
#include "cli/jsonpath.h"
#include "base/cron.h"
#include "cli/logview.h"
#include "cli/progress.h"
#include "cli/ctlinfo.h"
#include "base/jsonutil.h"
#include "kube/backend.h"
#include "kube/hook.h"
#include "model/manifest.h"
#include "control/metrics.h"
#include "model/model.h"
#include "control/pipeline.h"
#include "base/quantity.h"
#include "base/sha256.h"
#include "control/reconcile.h"
#include "control/spawner.h"
#include "local/backend.h"
#include "local/budget.h"
#include "local/github.h"
#include "local/intake.h"
#include "local/local.h"
#include "local/store.h"
#include "base/term.h"
#include "web/dashboard.h"
#include "proxy/traffic.h"
#include "cli/dashkube.h"
#include "kube/netpol.h"

extern const struct cli_command cmd_apply, cmd_run, cmd_get, cmd_describe, cmd_logs, cmd_stop,
	cmd_delete;

/* The cluster paragraph of every task command's --help: the first lines,
 * then `what` (whole lines), then where the namespace comes from. */
#define CLUSTER_HELP_HEAD(what)                                                              \
	"\n"                                                                                   \
	"Cluster: `paddock --kubeconfig FILE [--context NAME] COMMAND ...`, or backend:\n"    \
	"kubernetes in the config, works against that cluster's API server.\n" what
#define CLUSTER_HELP(what)                                                                   \
	CLUSTER_HELP_HEAD(what)                                                              \
	"The namespace: -n NS, else $PADDOCK_NAMESPACE, else kubernetes.namespace in\n"      \
	"the config, else the kubeconfig context's namespace, else default.\n"




/* A new {"name": name} (agentRef, secretRef). */
static json_object *jnamed(const char *name)
{
	json_object *o = json_object_new_object();
	jset_str(o, "name", name);
	return o;
}

/* A new document {apiVersion, kind, metadata: {name, namespace}}; owned. */
static json_object *new_doc(const char *api_version, const char *kind, const char *ns,
			    const char *name)
{
	json_object *doc = json_object_new_object();
	jset_str(doc, "apiVersion", api_version);
	jset_str(doc, "kind", kind);
	json_object *md = jnamed(name);
	jset_str(md, "namespace", ns);
	json_object_object_add(doc, "metadata", md);
	return doc;
}

/* ---- text from outside, for a terminal --------------------------------- */

/*
 * Everything an agent, a Task author or an API server controls (status
 * message and reason, results, outputs, events, names, error messages
 * quoting them) is printed for a human through these: control characters,
 * escape sequences, bidi controls and invalid UTF-8 are shown escaped
 * (term.h), so that they never act on the terminal.  -o json and -o yaml
 * keep values exact (their own escaping, below).
 */

/* s escaped on f; TERM_MULTILINE where s may span lines. */
static void put_safe(FILE *f, const char *s, unsigned flags)
{
	char *e = term_safe(s, flags);
	fputs(e, f);
	free(e);
}

/* Interactive commands log warnings and errors only; the controller
 * (and -v) keep the configured level. */
static void quiet_logs(struct cli_ctx *ctx)
{
	if (!ctx->verbose && ctx->cfg->log_level > LOG_WARN)
		log_setup(LOG_WARN, ctx->log_format >= 0 ? ctx->log_format : ctx->cfg->log_format);
}

/* Open the runtime for a command: config, plugins (instantiated), store. */
static int open_rt(struct cli_ctx *ctx, struct runtime **rt)
{
	if (cli_load_plugins(ctx, true) < 0)
		return CLI_EXIT_CONFIG;
	quiet_logs(ctx);
	char err[512];
	if (runtime_open(ctx->cfg, ctx->plugins, rt, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return CLI_EXIT_CONFIG;
	}
	return 0;
}

/* ---- YAML output ---------------------------------------------------- */

/* Code points written as an escape in a double-quoted scalar: those a
 * terminal acts on (term.h), and those YAML does not allow raw or reads
 * as line breaks (U+0085 is C1), so the value reads back exact. */
static bool yaml_escaped_cp(uint32_t cp)
{
	return term_cp_unsafe(cp) || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff || cp == 0xfffe ||
	       cp == 0xffff;
}

/* Does s[0..n) hold anything yaml_escaped_cp(), a NUL or invalid UTF-8? */
static bool yaml_needs_escapes(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint32_t cp = 0;
		int k = term_utf8_decode(s + i, n - i, &cp);
		if (k <= 0 || yaml_escaped_cp(cp))
			return true;
		i += (size_t)k;
	}
	return false;
}

/* The YAML escape of a character with a short one ("\n"), or NULL. */
static const char *yaml_named_escape(uint32_t cp)
{
	switch (cp) {
	case 0: return "\\0";
	case '\a': return "\\a";
	case '\b': return "\\b";
	case '\t': return "\\t";
	case '\n': return "\\n";
	case '\v': return "\\v";
	case '\f': return "\\f";
	case '\r': return "\\r";
	case 0x1b: return "\\e";
	case '"': return "\\\"";
	case '\\': return "\\\\";
	default: return NULL;
	}
}

/* s[0..n) as a YAML double-quoted scalar that reads back exact.  Invalid
 * UTF-8 has no exact form in YAML (a Unicode format): such a byte is
 * written \xNN, which reads back as U+00NN; -o json keeps the bytes. */
static void yaml_quoted(struct buf *b, const char *s, size_t n)
{
	buf_puts(b, "\"");
	for (size_t i = 0; i < n;) {
		uint32_t cp = 0;
		int k = term_utf8_decode(s + i, n - i, &cp);
		const char *named = k > 0 ? yaml_named_escape(cp) : NULL;
		if (k <= 0)
			buf_printf(b, "\\x%02x", (unsigned char)s[i]);
		else if (named)
			buf_puts(b, named);
		else if (yaml_escaped_cp(cp) && cp < 0x80)
			buf_printf(b, "\\x%02x", (unsigned)cp);
		else if (yaml_escaped_cp(cp))
			buf_printf(b, "\\u%04x", (unsigned)cp);
		else
			buf_append(b, s + i, (size_t)k);
		i += k > 0 ? (size_t)k : 1;
	}
	buf_puts(b, "\"");
}

static bool yaml_plain_ok(const char *s)
{
	if (!*s || strchr("-?:,[]{}#&*!|>'\"%@` ", *s) || strstr(s, ": ") || strstr(s, " #"))
		return false;
	static const char *const reserved[] = { "true", "false", "null", "yes", "no", "on", "off", "~" };
	for (size_t i = 0; i < ARRAY_SIZE(reserved); i++)
		if (!strcasecmp(s, reserved[i]))
			return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == '\\')
			return false;
	char *end;
	strtod(s, &end);
	if (!*end)
		return false;
	size_t n = strlen(s);
	return s[n - 1] != ' ' && s[n - 1] != ':';
}

static void yaml_scalar(struct buf *b, json_object *v)
{
	if (!v) {
		buf_puts(b, "null");
		return;
	}
	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		size_t n = (size_t)json_object_get_string_len(v);
		if (strlen(s) == n && yaml_plain_ok(s) && !yaml_needs_escapes(s, n))
			buf_puts(b, s);
		else
			yaml_quoted(b, s, n);
		return;
	}
	buf_puts(b, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

static bool is_container(json_object *v)
{
	return v && (json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array));
}

static bool is_empty(json_object *v)
{
	if (json_object_is_type(v, json_type_object))
		return json_object_object_length(v) == 0;
	return json_object_array_length(v) == 0;
}

static void yaml_emit(struct buf *b, json_object *v, int indent)
{
	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, k, val) {
			buf_printf(b, "%*s", indent, "");
			json_object *ks = json_object_new_string(k);
			yaml_scalar(b, ks);
			json_object_put(ks);
			if (is_container(val) && !is_empty(val)) {
				buf_puts(b, ":\n");
				yaml_emit(b, val, json_object_is_type(val, json_type_array) ? indent : indent + 2);
			} else {
				buf_puts(b, ": ");
				if (is_container(val))
					buf_puts(b, json_object_is_type(val, json_type_array) ? "[]" : "{}");
				else
					yaml_scalar(b, val);
				buf_puts(b, "\n");
			}
		}
	} else if (json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v);
		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(v, i);
			buf_printf(b, "%*s- ", indent, "");
			if (is_container(e) && !is_empty(e)) {
				struct buf sub;
				buf_init(&sub, 0);
				yaml_emit(&sub, e, indent + 2);
				/* the first line goes after "- " */
				buf_puts(b, sub.data + indent + 2);
				buf_free(&sub);
			} else {
				if (is_container(e))
					buf_puts(b, json_object_is_type(e, json_type_array) ? "[]" : "{}");
				else
					yaml_scalar(b, e);
				buf_puts(b, "\n");
			}
		}
	}
}

/* Secrets are printed without their values. */
static json_object *redacted(json_object *obj, enum model_kind kind)
{
	json_object *c = NULL;
	json_object_deep_copy(obj, &c, NULL);
	if (kind == MODEL_SECRET) {
		json_object *data = jget(c, "data");
		if (data) {
			json_object_object_foreach(data, k, v) {
				(void)v;
				jset_str(data, k, "<redacted>");
			}
		}
		json_object_object_del(c, "stringData");
	}
	return c;
}

/* `o` as pretty JSON (fmt "json") or else YAML on stdout. */
static void print_json_or_yaml(json_object *o, const char *fmt)
{
	if (!strcmp(fmt, "json")) {
		/* json-c escapes C0 controls; DEL, C1 and bidi controls
		 * (term.h) it writes raw: \uXXXX for them too, the same
		 * values.  Invalid UTF-8 is kept as it is. */
		const char *js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								       JSON_C_TO_STRING_SPACED |
								       JSON_C_TO_STRING_NOSLASHESCAPE);
		struct buf b;
		buf_init(&b, 0);
		for (size_t n = strlen(js), i = 0; i < n;) {
			uint32_t cp = 0;
			int k = term_utf8_decode(js + i, n - i, &cp);
			if (k > 0 && cp >= 0x7f && term_cp_unsafe(cp)) /* not the layout's \n */
				buf_printf(&b, "\\u%04x", (unsigned)cp);
			else
				buf_append(&b, js + i, k > 0 ? (size_t)k : 1);
			i += k > 0 ? (size_t)k : 1;
		}
		puts(b.data ? b.data : "");
		buf_free(&b);
	} else {
		struct buf b;
		buf_init(&b, 0);
		yaml_emit(&b, o, 0);
		fputs(b.data ? b.data : "", stdout);
		buf_free(&b);
	}
}

static void print_object(json_object *obj, enum model_kind kind, const char *fmt)
{
	json_object *c = redacted(obj, kind);
	print_json_or_yaml(c, fmt);
	json_object_put(c);
}

/* ---- tables ------------------------------------------------------- */

static void age(int64_t since_ms, char *out, size_t n)
{
	int64_t s = (now_wall_ms() - since_ms) / 1000;
	if (since_ms <= 0 || s < 0)
		snprintf(out, n, "<unknown>");
	else if (s < 120)
		snprintf(out, n, "%llds", (long long)s);
	else if (s < 7200)
		snprintf(out, n, "%lldm", (long long)(s / 60));
	else if (s < 172800)
		snprintf(out, n, "%lldh", (long long)(s / 3600));
	else
		snprintf(out, n, "%lldd", (long long)(s / 86400));
}


static const char *task_type(json_object *task)
{
	json_object *spec = jget(task, "spec");
	const char *t = jstr(spec, "type");
	if (t)
		return t;
	static char buf[160];
	json_object *ref = jget(spec, "agentRef");
	snprintf(buf, sizeof(buf), "agent:%s", jstr(ref, "name") ? jstr(ref, "name") : "?");
	return buf;
}

/* A table: cells escaped (term_safe), lines laid out by cli_table_line()
 * (padded columns, no trailing spaces). */
#define TABLE_COLS 10

struct table {
	const char *fmt;  /* "", "wide", "yaml", "json", "name" */
	enum model_kind kind;
	bool all_ns;
	size_t rows;
	json_object *list; /* for -o json/yaml */
	bool stream;       /* print each row as it comes, at the columns' minimum widths */
	size_t ncols;      /* set with the header */
	int widths[TABLE_COLS];
	char **cells;      /* !stream: the rows (ncols cells each, escaped) until table_flush */
	size_t n_cells;
};

/* One row of escaped cells (owned; taken): printed now (stream) or kept
 * for table_flush(). */
static void table_add(struct table *t, char **row)
{
	if (t->stream) {
		struct buf b;
		buf_init(&b, 0);
		cli_table_line(&b, (const char *const *)row, t->widths, t->ncols);
		fputs(b.data, stdout);
		buf_free(&b);
		for (size_t i = 0; i < t->ncols; i++)
			free(row[i]);
		return;
	}
	t->cells = xrealloc(t->cells, (t->n_cells + t->ncols) * sizeof(*t->cells));
	memcpy(t->cells + t->n_cells, row, t->ncols * sizeof(*row));
	t->n_cells += t->ncols;
}

/* Print the kept rows, each column as wide as its widest cell (at least
 * its minimum), so that long names and reasons keep the table aligned. */
static void table_flush(struct table *t)
{
	if (!t->n_cells)
		return;
	int w[TABLE_COLS];
	memcpy(w, t->widths, sizeof(w));
	for (size_t i = 0; i < t->n_cells; i++) {
		int cw = (int)term_width(t->cells[i]);
		if (cw > w[i % t->ncols])
			w[i % t->ncols] = cw;
	}
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; i < t->n_cells; i += t->ncols)
		cli_table_line(&b, (const char *const *)t->cells + i, w, t->ncols);
	fputs(b.data ? b.data : "", stdout);
	buf_free(&b);
	for (size_t i = 0; i < t->n_cells; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->n_cells = 0;
}

/* The header of t's table: its columns and their minimum widths. */
static void table_header(struct table *t, bool wide)
{
	static const char *const task_cols[] = { "NAME", "TYPE", "PHASE", "AGE", "REASON",
						 "DURATION", "TOKENS(IN/OUT)", "COST", "MESSAGE" };
	static const int task_w[] = { 28, 16, 10, 6, 17, 9, 15, 7, 0 };
	static const char *const agent_cols[] = { "NAME", "TYPE", "MAXRUN", "AGE" };
	static const int agent_w[] = { 28, 16, 8, 6 };
	static const char *const spawner_cols[] = { "NAME", "SOURCE", "HOOK", "AGE" };
	static const int spawner_w[] = { 28, 16, 32, 6 };
	static const char *const budget_cols[] = { "NAME", "SCOPE", "WINDOW", "AGE" };
	static const int budget_w[] = { 28, 24, 10, 6 };
	static const char *const other_cols[] = { "NAME", "AGE" };
	static const int other_w[] = { 28, 6 };
	const char *const *cols = other_cols;
	const int *w = other_w;
	size_t n = ARRAY_SIZE(other_cols);
	if (t->kind == MODEL_TASK) {
		cols = task_cols;
		w = task_w;
		n = wide ? ARRAY_SIZE(task_cols) : 4;
	} else if (t->kind == MODEL_AGENT) {
		cols = agent_cols;
		w = agent_w;
		n = ARRAY_SIZE(agent_cols);
	} else if (t->kind == MODEL_SPAWNER) {
		cols = spawner_cols;
		w = spawner_w;
		n = ARRAY_SIZE(spawner_cols);
	} else if (t->kind == MODEL_BUDGET) {
		cols = budget_cols;
		w = budget_w;
		n = ARRAY_SIZE(budget_cols);
	}
	char *row[TABLE_COLS];
	size_t k = 0;
	if (t->all_ns) {
		t->widths[k] = 16;
		row[k++] = xstrdup("NAMESPACE");
	}
	for (size_t i = 0; i < n; i++) {
		t->widths[k] = w[i];
		row[k++] = xstrdup(cols[i]);
	}
	t->ncols = k;
	table_add(t, row);
}

/* "namespace", "agent NAME", "spawner NAME" */
static void budget_scope(json_object *b, char *out, size_t n)
{
	json_object *spec = jget(b, "spec");
	const char *a = jstr(jget(spec, "agentRef"), "name"), *s = jstr(jget(spec, "spawnerRef"), "name");
	snprintf(out, n, "%s%s", a ? "agent " : s ? "spawner " : "namespace", a ? a : s ? s : "");
}

static void budget_window_text(json_object *b, char *out, size_t n)
{
	json_object *spec = jget(b, "spec"), *h = jget(spec, "rollingHours");
	if (h)
		snprintf(out, n, "%lldh", (long long)json_object_get_int64(h));
	else
		snprintf(out, n, "%s", jstr(spec, "window") ? jstr(spec, "window") : "day");
}

static int table_row(json_object *obj, void *vctx)
{
	struct table *t = vctx;
	json_object *md = jget(obj, "metadata");
	if (!strcmp(t->fmt, "json") || !strcmp(t->fmt, "yaml")) {
		json_object_array_add(t->list, redacted(obj, t->kind));
		t->rows++;
		return 0;
	}
	if (!strcmp(t->fmt, "name")) {
		printf("%s/", model_kind_name(t->kind));
		put_safe(stdout, jstr(md, "name"), 0);
		putchar('\n');
		t->rows++;
		return 0;
	}
	char a[32];
	age(jtime(md, "creationTimestamp"), a, sizeof(a));
	bool wide = !strcmp(t->fmt, "wide");
	if (t->rows++ == 0)
		table_header(t, wide);
	char *row[TABLE_COLS];
	size_t k = 0;
	if (t->all_ns)
		row[k++] = term_safe(jstr(md, "namespace"), 0);
	row[k++] = term_safe(jstr(md, "name"), 0);
	if (t->kind == MODEL_TASK) {
		json_object *st = jget(obj, "status");
		row[k++] = term_safe(task_type(obj), 0);
		row[k++] = term_safe(jstr(st, "phase") ? jstr(st, "phase") : "Pending", 0);
		row[k++] = xstrdup(a);
		if (wide) {
			char dur[32] = "-";
			int64_t s0 = jtime(st, "startTime"), s1 = jtime(st, "completionTime");
			if (s0 && !s1) /* running: so far */
				s1 = now_wall_ms();
			if (s0 && s1)
				snprintf(dur, sizeof(dur), "%.1fs", (double)(s1 - s0) / 1000.0);
			char cost[32] = "-";
			json_object *usd = jget(jget(st, "usage"), "costUSD");
			if (usd)
				cli_format_cost(json_object_get_double(usd), cost, sizeof(cost));
			json_object *u = jget(st, "usage");
			char tok[48] = "-";
			if (jget(u, "inputTokens") || jget(u, "outputTokens"))
				snprintf(tok, sizeof(tok), "%lld/%lld",
					 (long long)json_object_get_int64(jget(u, "inputTokens")),
					 (long long)json_object_get_int64(jget(u, "outputTokens")));
			row[k++] = term_safe(jstr(st, "reason"), 0);
			row[k++] = xstrdup(dur);
			row[k++] = xstrdup(tok);
			row[k++] = xstrdup(cost);
			row[k++] = term_safe(jstr(st, "message"), 0);
		}
	} else if (t->kind == MODEL_AGENT) {
		json_object *spec = jget(obj, "spec");
		json_object *m = jget(spec, "maxConcurrentTasks");
		char max[16] = "-";
		if (m && json_object_get_int(m) > 0)
			snprintf(max, sizeof(max), "%d", json_object_get_int(m));
		row[k++] = term_safe(jstr(spec, "type"), 0);
		row[k++] = xstrdup(max);
		row[k++] = xstrdup(a);
	} else if (t->kind == MODEL_SPAWNER) {
		json_object *wh = jget(jget(obj, "spec"), "webhook"), *sc = jget(jget(obj, "spec"), "schedule");
		json_object *gh = jget(jget(obj, "spec"), "github");
		char *src = wh ? xasprintf("webhook:%s", jstr(wh, "type"))
			    : gh ? xasprintf("github:%s", json_object_get_string(json_object_array_get_idx(jget(gh, "repositories"), 0)) ?: "")
			    : xasprintf("schedule:%s", jstr(sc, "cron"));
		row[k++] = term_safe(src, 0);
		free(src);
		char *hook = wh ? xasprintf("%s%s/%s", SPAWNER_HOOK_PREFIX, jstr(md, "namespace"), jstr(md, "name"))
				: xstrdup("-");
		row[k++] = term_safe(hook, 0);
		free(hook);
		row[k++] = xstrdup(a);
	} else if (t->kind == MODEL_BUDGET) {
		char scope[160], win[48];
		budget_scope(obj, scope, sizeof(scope));
		budget_window_text(obj, win, sizeof(win));
		row[k++] = term_safe(scope, 0);
		row[k++] = xstrdup(win);
		row[k++] = xstrdup(a);
	} else {
		row[k++] = xstrdup(a);
	}
	table_add(t, row);
	return 0;
}

/* ---- common option parsing ------------------------------------------ */

static const char *default_ns(struct cli_ctx *ctx, const char *flag)
{
	if (flag)
		return flag;
	const char *e = getenv("PADDOCK_NAMESPACE");
	(void)ctx;
	if (e && *e)
		return e;
	/* namespace: in the user's settings (paddock init); kept for the
	 * process (the backend's namespace points at it). */
	static char *user_ns;
	if (!user_ns)
		user_ns = user_config_get("namespace");
	return user_ns && *user_ns ? user_ns : MODEL_DEFAULT_NAMESPACE;
}

static int parse_kind(const char *s, enum model_kind *k)
{
	int v = model_kind_parse(s);
	if (v < 0)
		return -EINVAL;
	*k = (enum model_kind)v;
	return 0;
}

/* ---- the backend: the local store, or a cluster ------------------------ */

struct backend {
	struct runtime *rt; /* local: owned, else NULL */
	struct kcli *kc;    /* cluster: owned, else NULL */
	const char *ns;     /* the namespace: -n, else the backend's default */
};

/* Open the backend for a command; `validate`: it will apply documents
 * (the cluster needs the plugins then).  0 or an exit code (printed). */
static int be_open(struct cli_ctx *ctx, const char *ns_flag, bool validate, struct backend *be)
{
	memset(be, 0, sizeof(*be));
	if (cli_load_config(ctx) < 0)
		return CLI_EXIT_CONFIG;
	if (!kcli_wanted(ctx)) {
		be->ns = default_ns(ctx, ns_flag);
		return open_rt(ctx, &be->rt);
	}
	if (validate && cli_load_plugins(ctx, true) < 0)
		return CLI_EXIT_CONFIG;
	quiet_logs(ctx);
	char err[1024];
	if (kcli_open(ctx, ns_flag, ctx->plugins, &be->kc, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return CLI_EXIT_CONFIG;
	}
	be->ns = kcli_namespace(be->kc);
	return 0;
}

static void be_close(struct backend *be)
{
	runtime_close(be->rt);
	kcli_close(be->kc);
	be->rt = NULL;
	be->kc = NULL;
}

/* The one not-found message, whichever command and backend: `task "q1"
 * not found in namespace default` (kind in lower case, as the cluster's
 * errors say it).  Returns the exit code 3. */
static int cli_not_found(const char *what, const char *name, const char *ns)
{
	char kind[32];
	size_t i = 0;
	for (; what[i] && i + 1 < sizeof(kind); i++)
		kind[i] = (char)tolower((unsigned char)what[i]);
	kind[i] = '\0';
	cli_error_escaped("%s \"%s\" not found in namespace %s", kind, name, ns);
	return CLI_EXIT_NOT_FOUND;
}

static const char *split_kind(const struct cli_command *cmd, const char *arg, enum model_kind *kind);

/* A failed lookup of `what` "name": not found (3), or what the cluster
 * said (err).  The local store only ever answers "not found". */
static int be_fail(const struct backend *be, int rc, const char *what, const char *name,
		   const char *ns, const char *err)
{
	if (!be->kc || rc == -ENOENT)
		return cli_not_found(what, name, ns);
	cli_error_escaped("%s", err);
	return kcli_exit_code(rc);
}

static int be_get(struct backend *be, enum model_kind kind, const char *ns, const char *name,
		  json_object **out, char *err, size_t errlen)
{
	if (be->kc)
		return kcli_get(be->kc, kind, ns, name, out, err, errlen);
	return store_get(be->rt->store, kind, ns, name, out);
}

/* Validate and store; `create_only` (cluster): -EEXIST when it exists. */
static int be_apply(struct backend *be, json_object *doc, bool create_only, enum store_applied *res,
		    enum model_kind *kind, char *err, size_t errlen)
{
	if (be->kc)
		return kcli_apply(be->kc, doc, create_only, res, kind, err, errlen);
	return runtime_apply(be->rt, doc, res, kind, err, errlen);
}

/* ---- apply ---------------------------------------------------------- */

/* Read and parse the manifests of `path` ("-": stdin), capped at
 * limits.manifestBytes.  0 with owned *docs, or an exit code (printed). */
static int read_manifests(struct cli_ctx *ctx, const char *path, json_object ***docs_out,
			  size_t *n_out)
{
	char *data = NULL;
	size_t len = 0;
	size_t cap = ctx->cfg->limits.manifest_bytes;
	int rc;
	if (!strcmp(path, "-")) {
		struct buf b;
		buf_init(&b, cap);
		char chunk[8192];
		ssize_t n;
		rc = 0;
		while ((n = read(0, chunk, sizeof(chunk))) > 0)
			if ((rc = buf_append(&b, chunk, (size_t)n)) < 0)
				break;
		len = b.len;
		data = buf_steal(&b);
	} else {
		rc = read_file(path, cap, &data, &len);
	}
	if (rc == -E2BIG) {
		cli_error("%s: manifest larger than %zu bytes (limits.manifestBytes)", path, cap);
		free(data);
		return CLI_EXIT_FAILED;
	}
	if (rc < 0) {
		cli_error("%s: %s", path, strerror(-rc));
		free(data);
		return CLI_EXIT_FAILED;
	}
	json_object **docs = NULL;
	size_t n = 0;
	char err[1024];
	struct manifest_limits lim = { .max_bytes = cap, .max_depth = 64, .max_nodes = 100000 };
	rc = manifest_parse(path, data, len, &lim, &docs, &n, err, sizeof(err));
	free(data);
	if (rc < 0) {
		cli_error_escaped("%s", err);
		return CLI_EXIT_FAILED;
	}
	*docs_out = docs;
	*n_out = n;
	return 0;
}

static int apply_file(struct backend *be, struct cli_ctx *ctx, const char *path)
{
	json_object **docs = NULL;
	size_t n = 0;
	char err[1024];
	int rc, ret = read_manifests(ctx, path, &docs, &n);
	size_t tasks = 0;
	if (ret)
		return ret;
	/* On a cluster, documents without a namespace go to the current one
	 * (-n, $PADDOCK_NAMESPACE, kubernetes.namespace, the context's). */
	for (size_t i = 0; be->kc && i < n; i++) {
		json_object *md = jget(docs[i], "metadata");
		if (md && json_object_is_type(md, json_type_object) && !jget(md, "namespace"))
			jset_str(md, "namespace", be->ns);
	}
	/* All or nothing would need one transaction over the plugins'
	 * validation too; instead every document is validated before any is
	 * stored, in order, so a bad file changes nothing. */
	for (size_t i = 0; i < n; i++) {
		json_object *copy = NULL;
		json_object_deep_copy(docs[i], &copy, NULL);
		struct model_limits ml = { .prompt_bytes = ctx->cfg->limits.prompt_bytes };
		enum model_kind k;
		if (model_validate(copy, &ml, &k, err, sizeof(err)) < 0) {
			cli_error_escaped("%s: document %zu: %s", path, i + 1, err);
			ret = CLI_EXIT_FAILED;
		} else if (model_deprecated(copy)) {
			log_warn(model_deprecated(copy), "file", path, "name",
				 jstr(jget(copy, "metadata"), "name"));
		}
		json_object_put(copy);
	}
	for (size_t i = 0; ret == CLI_EXIT_OK && i < n; i++) {
		enum store_applied res = STORE_APPLY_CONFIGURED;
		enum model_kind k = MODEL_TASK;
		rc = be_apply(be, docs[i], false, &res, &k, err, sizeof(err));
		if (rc == -EHOSTUNREACH) { /* the server, not the document */
			cli_error_escaped("%s", err);
			ret = CLI_EXIT_FAILED;
			break;
		}
		if (rc < 0) {
			cli_error_escaped("%s: document %zu: %s", path, i + 1, err);
			ret = CLI_EXIT_FAILED;
			break;
		}
		json_object *md = jget(docs[i], "metadata");
		printf("%s/", model_kind_name(k));
		put_safe(stdout, jstr(md, "name"), 0);
		printf(" %s\n", res == STORE_APPLY_CREATED     ? "created"
				 : res == STORE_APPLY_UNCHANGED ? "unchanged"
								: "configured");
		if (k == MODEL_TASK && res != STORE_APPLY_UNCHANGED)
			tasks++;
	}
	/* Locally nothing runs a submitted task but a controller: say so. */
	if (tasks && be->rt && !ctl_running(be->rt->state_dir))
		fprintf(stderr, "paddock: warning: no controller is running: the task%s stay%s Pending "
			"until `paddock controller` runs\n", tasks > 1 ? "s" : "", tasks > 1 ? "" : "s");
	manifest_docs_free(docs, n);
	return ret;
}

static int cmd_apply_fn(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "filename", required_argument, NULL, 'f' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct strv files = { 0 };
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
		if (c == 'f')
			strv_push(&files, optarg);
		else {
			strv_free(&files);
			return cli_option_error(&cmd_apply, c, argc, argv);
		}
	}
	if (!files.n) {
		strv_free(&files);
		return cli_usage_error(NULL, "apply: give at least one -f FILE (or -f - for stdin)");
	}
	struct backend be;
	int ret = be_open(ctx, NULL, true, &be);
	for (size_t i = 0; ret == 0 && i < files.n; i++)
		ret = apply_file(&be, ctx, files.v[i]);
	be_close(&be);
	strv_free(&files);
	return ret;
}

const struct cli_command cmd_apply = {
	"apply", "create or update Tasks, Agents, Secrets and ConfigMaps from YAML or JSON",
	"Usage: paddock apply -f FILE [-f FILE...]\n"
	"\n"
	"Create or update every document in FILE (YAML, multi-document YAML, or JSON;\n"
	"'-' reads standard input).  Every document is validated before any is stored,\n"
	"so a file with an error changes nothing.  A Task's spec cannot change once it\n"
	"has started; delete and re-create it to run it again.  Prints KIND/NAME\n"
	"created, configured, or unchanged (the document is what is stored already:\n"
	"nothing is written).\n"
	"\n"
	"Kinds: Task, Agent, Spawner, Budget (apiVersion paddock.dev/v1alpha1); Secret, ConfigMap (v1).\n"
	CLUSTER_HELP_HEAD("The documents are validated the same way, then created or updated on the\n"
			  "server (spec or data, labels and annotations; never status).  Documents\n"
			  "without metadata.namespace go to $PADDOCK_NAMESPACE, else\n"
			  "kubernetes.namespace in the config, else the kubeconfig context's\n"
			  "namespace, else default.\n")
	"\n"
	"Examples:\n"
	"  paddock apply -f etc/examples/hello-agent.yaml\n"
	"  kubectl create secret generic claude --from-literal=apiKey=$KEY --dry-run=client -o yaml | paddock apply -f -\n",
	cmd_apply_fn,
};

/* ---- watching -------------------------------------------------------- */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static bool phase_done(const char *p)
{
	return str_eq(p, "Succeeded") || str_eq(p, "Failed") || str_eq(p, "Stopped");
}

/* The task's next state: locally, reconcile in-process when no controller
 * runs, then read the store; on a cluster, from the watch (*task stays
 * NULL while nothing is known).  0, -ENOENT when it is gone, or another
 * error with err. */
static int next_state(struct backend *be, struct kcli_watch *kw, const char *ns, const char *name,
		      json_object **task, char *err, size_t errlen)
{
	if (kw)
		return kcli_watch_next(kw, 500, task, err, errlen);
	if (runtime_lock(be->rt) == 1)
		(void)runtime_sync(be->rt);
	return store_get(be->rt->store, MODEL_TASK, ns, name, task) < 0 ? -ENOENT : 0;
}

/* Wait for the task to finish (at most limit_s seconds on a cluster).
 * Returns the final phase's exit code.  `show` prints a NAME TYPE PHASE
 * AGE row on every phase change. */
static bool controller_runs(const struct runtime *rt);
static const struct loaded_plugin *task_driver(struct cli_ctx *ctx, struct runtime *rt,
					       json_object *task, const char *ns);

/* Ctrl-C while attached: stop the task, detach, or go on (progress_ask).
 * Returns -1 to go on watching, else the exit code. */
static int interrupted(struct backend *be, struct progress *pg, const char *ns, const char *name)
{
	int ans = progress_ask(pg);
	if (ans == 's') {
		char err[1024];
		const char *finished = NULL;
		int rc = be->kc ? kcli_stop(be->kc, ns, name, &finished, err, sizeof(err))
				: runtime_stop(be->rt, ns, name, &finished, err, sizeof(err));
		if (rc < 0)
			cli_error_escaped("%s", err);
		else
			printf("Task/%s stop requested\n", name);
		return -1;
	}
	if (ans == 'd') {
		bool ours = be->rt && !controller_runs(be->rt);
		printf("Detached: task %s/%s goes on%s (paddock logs -f %s, paddock get task %s)\n", ns,
		       name, ours ? "; no controller is running to record its end: start `paddock controller`" : "",
		       name, name);
		return CLI_EXIT_OK;
	}
	return -1;
}

static int wait_task(struct backend *be, const char *ns, const char *name, bool show, long limit_s,
		     struct progress *pg)
{
	char last[32] = "";
	struct table rows = { .fmt = "", .kind = MODEL_TASK, .stream = true };
	int ret = CLI_EXIT_FAILED;
	int64_t last_note = now_mono_ms(), deadline = last_note + (int64_t)limit_s * 1000;
	char err[1024];
	struct kcli_watch *kw = NULL;
	if (be->kc && kcli_watch_open(be->kc, ns, name, &kw, err, sizeof(err)) < 0) {
		cli_error_escaped("%s", err);
		return CLI_EXIT_FAILED;
	}
	for (;;) {
		if (stop_flag && !pg)
			break;
		if (stop_flag) {
			stop_flag = 0;
			int r = interrupted(be, pg, ns, name);
			if (r >= 0) {
				ret = r;
				goto out;
			}
		}
		if (kw && now_mono_ms() > deadline) {
			cli_error_escaped("gave up waiting after %lds: task %s/%s is still %s (paddock get task %s)",
				  limit_s, ns, name, *last ? last : "Pending", name);
			goto out;
		}
		json_object *task = NULL;
		int rc = next_state(be, kw, ns, name, &task, err, sizeof(err));
		if (rc == -ENOENT) {
			cli_error_escaped("task \"%s/%s\" disappeared (deleted?)", ns, name);
			ret = CLI_EXIT_NOT_FOUND;
			goto out;
		}
		if (rc < 0) {
			cli_error_escaped("%s", err);
			goto out;
		}
		if (!task)
			continue;
		json_object *st = jget(task, "status");
		const char *phase = jstr(st, "phase") ? jstr(st, "phase") : "Pending";
		if (pg) {
			char *rd = be->rt ? runtime_run_dir(be->rt, task) : NULL;
			progress_update(pg, task, rd);
			free(rd);
		}
		if (strcmp(phase, last) != 0) {
			snprintf(last, sizeof(last), "%s", phase);
			if (show) {
				table_row(task, &rows); /* the header before the first row */
				fflush(stdout);
			}
			last_note = now_mono_ms();
		} else if (show && now_mono_ms() - last_note > 30000) {
			cli_error_escaped("still %s (%s)", phase,
				      jstr(st, "message") && *jstr(st, "message") ? jstr(st, "message") : "waiting");
			last_note = now_mono_ms();
		}
		if (phase_done(phase) && pg) {
			progress_end(pg, task);
			ret = str_eq(phase, "Succeeded") ? CLI_EXIT_OK : CLI_EXIT_FAILED;
			json_object_put(task);
			goto out;
		}
		if (phase_done(phase)) {
			if (!str_eq(phase, "Succeeded"))
				cli_error_escaped("task %s/%s %s: %s: %s", ns, name, phase,
					      jstr(st, "reason") ? jstr(st, "reason") : "",
					      jstr(st, "message") ? jstr(st, "message") : "");
			ret = str_eq(phase, "Succeeded") ? CLI_EXIT_OK : CLI_EXIT_FAILED;
			json_object_put(task);
			goto out;
		}
		json_object_put(task);
		if (!kw)
			usleep(100 * 1000);
	}
	cli_error_escaped("interrupted; task %s/%s keeps its state (paddock get task %s)", ns, name, name);
out:
	kcli_watch_free(kw);
	return ret;
}

/* ---- run ----------------------------------------------------------- */

struct cred_env {
	const char *driver;
	const char *api_env;   /* for api-key */
	const char *oauth_env; /* for oauth */
};

static const struct cred_env cred_envs[] = {
	{ "claude-code", "ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN" },
	{ "codex", "CODEX_API_KEY", NULL },
	{ "gemini", "GEMINI_API_KEY", NULL },
	{ "opencode", "OPENCODE_API_KEY", NULL },
};

static const struct cred_env *find_cred_env(const char *driver)
{
	const struct cred_env *ce = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(cred_envs); i++)
		if (str_eq(cred_envs[i].driver, driver))
			ce = &cred_envs[i];
	return ce;
}

/* Wipe the values of a Secret document (stringData, and data once
 * validation has folded stringData in) before it is freed. */
static void scrub_secret_doc(json_object *doc)
{
	static const char *const fields[] = { "stringData", "data" };
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		json_object *d = jget(doc, fields[i]);
		if (!d || !json_object_is_type(d, json_type_object))
			continue;
		json_object_object_foreach(d, k, v) {
			(void)k;
			if (json_object_is_type(v, json_type_string))
				explicit_bzero((char *)json_object_get_string(v),
					       (size_t)json_object_get_string_len(v));
		}
	}
}

/* Find a credential for `driver` (env > user config) and store it as the
 * Secret paddock-<driver>-credentials-<hash>: hash is the first 10 hex
 * digits of SHA-256(key name, a NUL, value), so the name follows the
 * content.  A Task queued with one value keeps it when a later run finds
 * another (that one gets a Secret of its own), and the same value reuses
 * its Secret.  The Secret is created only when absent, never updated, and
 * is immutable.  Neither the value nor the full digest is ever printed.
 * Returns 1 if stored (secret name in *secret_name), 0 if none was found,
 * < 0 on an error (printed). */
static int auto_credentials(struct backend *be, const char *ns, const char *driver, const char *type,
			    const char **secret_name, const char **source)
{
	const struct cred_env *ce = find_cred_env(driver);
	bool oauth = str_eq(type, "oauth");
	const char *key = oauth ? "oauthToken" : "apiKey";
	const char *envs[3] = { oauth ? "PADDOCK_OAUTH_TOKEN" : "PADDOCK_API_KEY",
				ce ? (oauth ? ce->oauth_env : ce->api_env) : NULL, NULL };
	char *value = NULL;
	for (size_t i = 0; i < 2 && !value; i++) {
		const char *v = envs[i] ? getenv(envs[i]) : NULL;
		if (v && *v) {
			value = xstrdup(v);
			*source = envs[i];
		}
	}
	if (!value) {
		value = user_config_get(key);
		if (value)
			*source = oauth ? "oauthToken in ~/.config/paddock/config.yaml"
					: "apiKey in ~/.config/paddock/config.yaml";
	}
	if (!value)
		return 0;
	struct sha256 h;
	char hash[11];
	sha256_init(&h);
	sha256_update(&h, key, strlen(key) + 1);
	sha256_update(&h, value, strlen(value));
	sha256_final_hex(&h, hash, 10);
	static char name[128];
	snprintf(name, sizeof(name), "paddock-%s-credentials-%s", driver, hash);
	char err[512];
	int rc;
	/* Locally: look first, and leave an existing one as it is.  On a
	 * cluster: create only; AlreadyExists (409) is the same content. */
	if (!be->kc) {
		json_object *cur = NULL;
		rc = be_get(be, MODEL_SECRET, ns, name, &cur, err, sizeof(err));
		if (rc == 0) {
			scrub_secret_doc(cur);
			json_object_put(cur);
			secure_free(value, strlen(value));
			*secret_name = name;
			return 1;
		}
	}
	json_object *doc = new_doc("v1", "Secret", ns, name);
	json_object *labels = json_object_new_object();
	jset_str(labels, "paddock.dev/credentials", driver);
	json_object_object_add(jget(doc, "metadata"), "labels", labels);
	json_object *sd = json_object_new_object();
	jset_str(sd, key, value);
	json_object_object_add(doc, "stringData", sd);
	json_object_object_add(doc, "immutable", json_object_new_boolean(true));
	secure_free(value, strlen(value));
	enum model_kind k;
	rc = be_apply(be, doc, true, NULL, &k, err, sizeof(err));
	scrub_secret_doc(doc);
	json_object_put(doc);
	if (rc < 0 && rc != -EEXIST) {
		cli_error_escaped("storing credentials: %s", err);
		return rc;
	}
	*secret_name = name;
	return 1;
}

static void random_suffix(char *out, size_t n)
{
	static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned seed = (unsigned)(now_wall_ms() ^ (getpid() << 16));
	for (size_t i = 0; i + 1 < n; i++)
		out[i] = al[rand_r(&seed) % (sizeof(al) - 1)];
	out[n - 1] = '\0';
}

/* How long -w waits on a cluster: the task's timeout (--timeout, else
 * limits.defaultTaskTimeout) and a margin for queueing and the pod. */
static long watch_limit(const struct cli_ctx *ctx, const char *timeout)
{
	long s = 0;
	if (!timeout || parse_duration(timeout, &s) < 0 || s <= 0)
		s = ctx->cfg->limits.default_task_timeout;
	return s + 600;
}

static int cmd_run_fn(struct cli_ctx *ctx, int argc, char **argv)
{
	enum { O_MODEL = 256, O_EFFORT, O_REPO, O_REF, O_REPO_SECRET, O_DEP, O_TIMEOUT, O_NAME, O_OUTPUT,
	       O_CRED, O_SECRET, O_TTL, O_DETACH, O_CONTEXT };
	static const struct option opts[] = {
		{ "prompt", required_argument, NULL, 'p' },
		{ "type", required_argument, NULL, 't' },
		{ "agent", required_argument, NULL, 'a' },
		{ "model", required_argument, NULL, O_MODEL },
		{ "effort", required_argument, NULL, O_EFFORT },
		{ "workspace-repo", required_argument, NULL, O_REPO },
		{ "workspace-ref", required_argument, NULL, O_REF },
		{ "workspace-secret", required_argument, NULL, O_REPO_SECRET },
		{ "depends-on", required_argument, NULL, O_DEP },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "name", required_argument, NULL, O_NAME },
		{ "namespace", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, O_OUTPUT },
		{ "context", required_argument, NULL, O_CONTEXT },
		{ "credentials", required_argument, NULL, O_CRED },
		{ "secret", required_argument, NULL, O_SECRET },
		{ "ttl", required_argument, NULL, O_TTL },
		{ "watch", no_argument, NULL, 'w' },
		{ "detach", no_argument, NULL, O_DETACH },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prompt = NULL, *type = NULL, *agent = NULL, *model = NULL, *effort = NULL, *repo = NULL,
		   *ref = NULL, *repo_secret = NULL, *timeout = NULL, *name = NULL, *ns = NULL,
		   *cred = NULL, *secret = NULL, *ttl = NULL;
	struct strv deps = { 0 }, outputs = { 0 }, contexts = { 0 };
	bool watch = false, detach = false;
	int c, ret = CLI_EXIT_OK;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":p:t:a:n:wh", opts, NULL)) != -1) {
		switch (c) {
		case 'p': prompt = optarg; break;
		case 't': type = optarg; break;
		case 'a': agent = optarg; break;
		case 'n': ns = optarg; break;
		case 'w': watch = true; break;
		case O_MODEL: model = optarg; break;
		case O_EFFORT: effort = optarg; break;
		case O_REPO: repo = optarg; break;
		case O_REF: ref = optarg; break;
		case O_REPO_SECRET: repo_secret = optarg; break;
		case O_DEP: strv_push(&deps, optarg); break;
		case O_TIMEOUT: timeout = optarg; break;
		case O_NAME: name = optarg; break;
		case O_OUTPUT: strv_push(&outputs, optarg); break;
		case O_CONTEXT: strv_push(&contexts, optarg); break;
		case O_CRED: cred = optarg; break;
		case O_SECRET: secret = optarg; break;
		case O_TTL: ttl = optarg; break;
		case O_DETACH: detach = true; break;
		default: ret = cli_option_error(&cmd_run, c, argc, argv); goto out;
		}
	}
	if (optind < argc) {
		ret = cli_usage_error(NULL, "run: unexpected argument \"%s\": quote the prompt and pass it with -p",
				      argv[optind]);
		goto out;
	}
	if (!prompt) {
		ret = cli_usage_error(NULL, "run: -p PROMPT is required");
		goto out;
	}
	if (!!type == !!agent) {
		ret = cli_usage_error(NULL, "run: give exactly one of --type DRIVER or --agent AGENT");
		goto out;
	}
	struct backend be;
	if ((ret = be_open(ctx, ns, true, &be)) != 0)
		goto out;
	struct runtime *rt = be.rt;
	ns = be.ns;

	char gen[64];
	if (!name) {
		char sfx[7];
		random_suffix(sfx, sizeof(sfx));
		snprintf(gen, sizeof(gen), "task-%s", sfx);
		name = gen;
	}
	json_object *doc = new_doc(MODEL_API_GROUP_VERSION, "Task", ns, name);
	json_object *spec = json_object_new_object();
	json_object_object_add(doc, "spec", spec);
	if (type)
		jset_str(spec, "type", type);
	else
		json_object_object_add(spec, "agentRef", jnamed(agent));
	jset_str(spec, "prompt", prompt);
	char *user_model = !model && type ? user_config_get("model") : NULL;
	if (user_model)
		model = user_model; /* paddock init's model: for --type runs only */
	if (model)
		jset_str(spec, "model", model);
	free(user_model);
	model = user_model = NULL;
	if (effort)
		jset_str(spec, "effort", effort);
	if (timeout)
		jset_str(spec, "timeout", timeout);
	if (ttl)
		json_object_object_add(spec, "ttlSecondsAfterFinished", json_object_new_int(atoi(ttl)));
	if (repo) {
		json_object *ws = json_object_new_object();
		jset_str(ws, "repo", repo);
		if (ref)
			jset_str(ws, "ref", ref);
		if (repo_secret)
			json_object_object_add(ws, "secretRef", jnamed(repo_secret));
		json_object_object_add(spec, "workspace", ws);
	}
	if (deps.n) {
		json_object *a = json_object_new_array();
		for (size_t i = 0; i < deps.n; i++)
			json_object_array_add(a, json_object_new_string(deps.v[i]));
		json_object_object_add(spec, "dependsOn", a);
	}
	if (contexts.n) {
		json_object *a = json_object_new_array();
		for (size_t i = 0; i < contexts.n; i++) {
			json_object *it = json_object_new_object();
			jset_str(it, "type", "Text");
			jset_str(it, "text", contexts.v[i]);
			json_object_array_add(a, it);
		}
		json_object_object_add(spec, "contexts", a);
	}
	if (outputs.n) {
		json_object *params = json_object_new_array();
		for (size_t i = 0; i < outputs.n; i++) {
			char *eq = strchr(outputs.v[i], '=');
			if (!eq) {
				ret = cli_usage_error(NULL, "run: --output %s: use NAME=PATH", outputs.v[i]);
				json_object_put(params);
				goto free_doc;
			}
			json_object *p = json_object_new_object();
			json_object_object_add(p, "name", json_object_new_string_len(outputs.v[i],
										      (int)(eq - outputs.v[i])));
			jset_str(p, "path", eq + 1);
			json_object_array_add(params, p);
		}
		json_object *o = json_object_new_object();
		json_object_object_add(o, "parameters", params);
		json_object_object_add(spec, "outputs", o);
	}
	/* Credentials: --credentials/--secret, else found in the environment or
	 * the user config and stored as a Secret named by its content, else
	 * none for exec. */
	if (type && !str_eq(cred, "none")) {
		const char *ctype = cred ? cred : "api-key";
		const char *sname = secret, *source = NULL;
		if (!sname && !str_eq(type, "exec")) {
			int r = auto_credentials(&be, ns, type, ctype, &sname, &source);
			if (r < 0) {
				ret = CLI_EXIT_FAILED;
				goto free_doc;
			}
			if (r == 0) {
				const struct cred_env *ce = find_cred_env(type);
				const char *var = ce ? (str_eq(ctype, "oauth") ? ce->oauth_env : ce->api_env) : NULL;
				cli_error("no %s credential for driver %s: set %s%s%s, or %s in ~/.config/paddock/config.yaml, or pass --secret NAME (a Secret with key %s), or --credentials none",
					  ctype, type, var ? var : "", var ? " or " : "",
					  str_eq(ctype, "oauth") ? "PADDOCK_OAUTH_TOKEN" : "PADDOCK_API_KEY",
					  str_eq(ctype, "oauth") ? "oauthToken" : "apiKey",
					  str_eq(ctype, "oauth") ? "oauthToken" : "apiKey");
				ret = CLI_EXIT_FAILED;
				goto free_doc;
			}
		}
		if (sname) {
			json_object *cr = json_object_new_object();
			jset_str(cr, "type", ctype);
			json_object_object_add(cr, "secretRef", jnamed(sname));
			json_object_object_add(spec, "credentials", cr);
		}
	} else if (type) {
		json_object *cr = json_object_new_object();
		jset_str(cr, "type", "none");
		json_object_object_add(spec, "credentials", cr);
	}
	char err[1024];
	enum store_applied res = STORE_APPLY_CONFIGURED;
	enum model_kind k;
	int rc = be_apply(&be, doc, true, &res, &k, err, sizeof(err));
	if (rc < 0 && rc != -EEXIST) {
		cli_error_escaped("%s", err);
		ret = CLI_EXIT_FAILED;
		goto free_doc;
	}
	if (res != STORE_APPLY_CREATED) {
		cli_error("task \"%s/%s\" already exists: pick another --name, or paddock delete task %s", ns, name,
			  name);
		ret = CLI_EXIT_FAILED;
		goto free_doc;
	}
	if (!watch)
		printf("Task/%s created\n", name);
	fflush(stdout);
	install_signals();
	/* A cluster always has its controller.  Locally, without one, this
	 * process runs the task (holding the controller's lock). */
	bool daemon_runs = be.kc || runtime_lock(rt) == 0;
	if (detach) {
		if (!daemon_runs)
			fprintf(stderr, "paddock: warning: no controller is running: task %s stays Pending "
				"until `paddock controller` runs\n", name);
		ret = CLI_EXIT_OK;
	} else if (watch) {
		ret = wait_task(&be, ns, name, true, watch_limit(ctx, timeout), NULL);
	} else {
		/* Attached, as docker run: the task's progress, then its result. */
		struct progress *pg = progress_new(isatty(STDOUT_FILENO), ns, name,
						   rt ? task_driver(ctx, rt, doc, ns) : NULL);
		ret = wait_task(&be, ns, name, false, watch_limit(ctx, timeout), pg);
		progress_free(pg);
	}
free_doc:
	json_object_put(doc);
	be_close(&be);
out:
	strv_free(&deps);
	strv_free(&outputs);
	strv_free(&contexts);
	return ret;
}

const struct cli_command cmd_run = {
	"run", "submit a task and follow it to its end (as docker run; --detach to leave)",
	"Usage: paddock run -p PROMPT (--type DRIVER | --agent AGENT) [options]\n"
	"\n"
	"Create a Task and stay attached until it ends.  With no `paddock controller`\n"
	"running, this process acts as the controller for it.  On a terminal one\n"
	"status block is redrawn in place: phase, elapsed time, the agent's current\n"
	"step (its last tool call or words, as `paddock logs` renders them), tokens\n"
	"and cost so far; then the result, the outputs and the usage.  Off a terminal,\n"
	"plain timestamped lines: phase changes and the agent's activity.  Ctrl-C asks\n"
	"whether to stop the task (s), detach and leave it running (d), or keep\n"
	"watching (c).  Exit status: 0 when the task Succeeded, 1 when it Failed or\n"
	"was Stopped, 2 on a usage error, 4 on a config error.\n"
	"\n"
	"Options:\n"
	"  -p, --prompt TEXT         what to do (templates: {{ deps.NAME.results.KEY }})\n"
	"  -t, --type DRIVER         the agent driver (exec, claude-code, codex, gemini, opencode)\n"
	"  -a, --agent NAME          an Agent (applied with paddock apply) instead of --type\n"
	"      --name NAME           task name (default: task-XXXXXX)\n"
	"  -n, --namespace NS        namespace (default: default, or $PADDOCK_NAMESPACE)\n"
	"      --model M, --effort E model and reasoning effort for the agent\n"
	"      --workspace-repo URL  clone this git repository as the workspace\n"
	"      --workspace-ref REF   branch, tag or full commit SHA\n"
	"      --workspace-secret S  Secret with `token`, or `ssh-privatekey` (and `known_hosts`)\n"
	"      --depends-on TASK     wait for TASK to succeed (repeatable)\n"
	"      --context TEXT        add a Text context (repeatable)\n"
	"      --output NAME=PATH    declare an output read from PATH in the workspace (repeatable)\n"
	"      --timeout DURATION    e.g. 30m, 2h (default: limits.defaultTaskTimeout)\n"
	"      --ttl SECONDS         delete the task this long after it finishes\n"
	"      --credentials TYPE    api-key (default for agent CLIs), oauth or none\n"
	"      --secret NAME         Secret holding apiKey / oauthToken\n"
	"  -w, --watch               rows NAME TYPE PHASE AGE as the phase changes, instead\n"
	"                            of the status block\n"
	"      --detach              submit and leave (warns when no controller will run it)\n"
	"\n"
	"Credentials for --type: --secret, else $PADDOCK_API_KEY or the driver's own\n"
	"variable (ANTHROPIC_API_KEY, CODEX_API_KEY, GEMINI_API_KEY, OPENCODE_API_KEY),\n"
	"else apiKey/oauthToken in ~/.config/paddock/config.yaml.  A found value is\n"
	"stored as Secret paddock-DRIVER-credentials-HASH (HASH: 10 hex digits of\n"
	"SHA-256 of the key name and value), created once and never changed, so a\n"
	"queued task keeps the value it was submitted with; the value is never\n"
	"printed.  Old ones stay: paddock delete secret NAME once no task uses it.\n"
	CLUSTER_HELP("The Task (and a found credential, as the Secret above) is created in the\n"
		     "cluster, whose controller runs it as a Job; run follows its phase (at\n"
		     "most the timeout plus 10 minutes), with the same exit status.\n")
	"\n"
	"Examples:\n"
	"  paddock run --agent hello -p 'say hi' --output greeting=greeting.txt\n"
	"  paddock run --type claude-code -p 'fix the failing test' \\\n"
	"      --workspace-repo https://example.com/repo.git --workspace-ref main\n"
	"  paddock run --detach --agent hello -p 'say hi later'\n",
	cmd_run_fn,
};

/* ---- get ------------------------------------------------------------ */

/* get -w: objects as they change, one row each (the table streams). */
struct watch_seen {
	struct strv keys, sigs;
	struct table *t;
	const char *name; /* only this one, or NULL */
};

static int watch_row(json_object *obj, void *vctx)
{
	struct watch_seen *w = vctx;
	json_object *md = jget(obj, "metadata");
	if (w->name && !str_eq(jstr(md, "name"), w->name))
		return 0;
	char *key = xasprintf("%s/%s", jstr(md, "namespace") ? jstr(md, "namespace") : "",
			      jstr(md, "name") ? jstr(md, "name") : "");
	const char *sig = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	size_t i = 0;
	while (i < w->keys.n && strcmp(w->keys.v[i], key) != 0)
		i++;
	if (i < w->keys.n && strcmp(w->sigs.v[i], sig) == 0) {
		free(key);
		return 0;
	}
	if (i < w->keys.n) {
		free(w->sigs.v[i]);
		w->sigs.v[i] = xstrdup(sig);
		free(key);
	} else {
		strv_push(&w->keys, key);
		strv_push(&w->sigs, sig);
		free(key);
	}
	table_row(obj, w->t);
	fflush(stdout);
	return 0;
}

static int get_watch(struct backend *be, enum model_kind kind, const char *ns, const char *name,
		     const char *fmt, bool all)
{
	struct table t = { .fmt = fmt, .kind = kind, .all_ns = all, .stream = true };
	struct watch_seen w = { .t = &t, .name = name };
	install_signals();
	if (be->kc) { /* one list+watch of the API server */
		char err[1024] = "";
		int rc = kcli_watch_kind(be->kc, kind, all ? NULL : ns, watch_row, &w, &stop_flag, err,
					 sizeof(err));
		strv_free(&w.keys);
		strv_free(&w.sigs);
		if (rc < 0)
			cli_error_escaped("%s", err);
		return rc < 0 ? kcli_exit_code(rc) : CLI_EXIT_OK;
	}
	while (!stop_flag) {
		store_list(be->rt->store, kind, all ? NULL : ns, watch_row, &w);
		usleep(250 * 1000);
	}
	strv_free(&w.keys);
	strv_free(&w.sigs);
	return CLI_EXIT_OK;
}

/* ---- get: selectors, sorting, several names ----------------------------- */

/* -l: "k=v", "k==v", "k!=v", "k" (has it), "!k" (has not), comma-separated,
 * on metadata.labels, as kubectl's equality-based selectors. */
static int selector_check(const char *sel)
{
	for (const char *p = sel; *p;) {
		size_t n = strcspn(p, ",");
		if (!n || p[0] == '=' || (p[0] == '!' && (n == 1 || p[1] == '=')))
			return -EINVAL;
		p += n;
		if (*p)
			p++;
	}
	return 0;
}

static bool selector_match(json_object *obj, const char *sel)
{
	json_object *labels = jget(jget(obj, "metadata"), "labels");
	const char *p = sel;
	while (p && *p) {
		size_t n = strcspn(p, ",");
		char *term = xstrndup(p, n);
		bool neg = term[0] == '!' && !strchr(term, '=');
		char *key = neg ? term + 1 : term, *val = NULL;
		bool want_eq = true;
		char *op = strstr(key, "!=");
		if (op) {
			*op = '\0';
			val = op + 2;
			want_eq = false;
		} else if ((op = strchr(key, '='))) {
			*op = '\0';
			val = op + 1 + (op[1] == '=');
		}
		const char *have = jstr(labels, key);
		bool ok = val ? (have && !strcmp(have, val)) == want_eq : (have != NULL) != neg;
		free(term);
		if (!ok)
			return false;
		p += n;
		if (*p)
			p++;
	}
	return true;
}

struct get_list {
	const char *selector;
	json_object *items;
};

static int get_collect(json_object *obj, void *vctx)
{
	struct get_list *g = vctx;
	if (!g->selector || selector_match(obj, g->selector))
		json_object_array_add(g->items, json_object_get(obj));
	return 0;
}

/* --sort-by: a field path as kubectl writes it, "{.metadata.name}" or
 * ".status.phase"; numbers as numbers, a missing value first. */
static const char *sort_path;

static int sort_cmp(const void *x, const void *y)
{
	json_object *a = model_path(*(json_object *const *)x, sort_path);
	json_object *b = model_path(*(json_object *const *)y, sort_path);
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	bool na = json_object_is_type(a, json_type_int) || json_object_is_type(a, json_type_double);
	bool nb = json_object_is_type(b, json_type_int) || json_object_is_type(b, json_type_double);
	if (na && nb) {
		double da = json_object_get_double(a), db = json_object_get_double(b);
		return (da > db) - (da < db);
	}
	return strcmp(json_object_get_string(a), json_object_get_string(b));
}

/* "{.a.b}" or ".a.b" or "a.b" to "a.b"; NULL when empty. */
static char *sort_field(const char *s)
{
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '{' && s[n - 1] == '}') {
		s++;
		n -= 2;
	}
	if (n && *s == '.') {
		s++;
		n--;
	}
	return n ? xstrndup(s, n) : NULL;
}

/* The arguments after the options: "KIND [NAME...]" or "KIND/NAME...". */
struct get_target {
	enum model_kind kind;
	const char *name; /* NULL: all */
};

static int get_targets(int argc, char **argv, struct get_target **out, size_t *n)
{
	static const char kinds_hint[] = "use tasks, agents, spawners, budgets, secrets or configmaps";
	struct get_target *t = xcalloc((size_t)argc + 1, sizeof(*t));
	size_t k = 0;
	if (!strchr(argv[0], '/')) {
		int kind = model_kind_parse(argv[0]);
		if (kind < 0) {
			free(t);
			return cli_usage_error(&cmd_get, "unknown kind \"%s\": %s", argv[0], kinds_hint);
		}
		t[k++] = (struct get_target){ (enum model_kind)kind, argc > 1 ? argv[1] : NULL };
		for (int i = 2; i < argc; i++)
			t[k++] = (struct get_target){ (enum model_kind)kind, argv[i] };
	} else {
		for (int i = 0; i < argc; i++) {
			char *slash = strchr(argv[i], '/');
			char *kname = slash ? xstrndup(argv[i], (size_t)(slash - argv[i])) : NULL;
			int kind = kname ? model_kind_parse(kname) : -1;
			free(kname);
			if (kind < 0 || !slash[1]) {
				free(t);
				return cli_usage_error(&cmd_get, "\"%s\": use TYPE/NAME (task/q1), %s", argv[i],
						       kinds_hint);
			}
			t[k++] = (struct get_target){ (enum model_kind)kind, slash + 1 };
		}
	}
	*out = t;
	*n = k;
	return 0;
}

/* -o jsonpath: the template over what -o json prints (one object, or a
 * List); on a terminal escaped like the tables. */
static int get_print_jsonpath(json_object *items, enum model_kind kind, const struct jsonpath *jp,
			      bool as_list)
{
	size_t n = json_object_array_length(items);
	json_object *root;
	if (!as_list && n == 1) {
		root = redacted(json_object_array_get_idx(items, 0), kind);
	} else {
		json_object *list = json_object_new_array();
		for (size_t i = 0; i < n; i++)
			json_object_array_add(list, redacted(json_object_array_get_idx(items, i), kind));
		root = json_object_new_object();
		jset_str(root, "apiVersion", "v1");
		jset_str(root, "kind", "List");
		json_object_object_add(root, "items", list);
	}
	struct buf b, e;
	buf_init(&b, 0);
	buf_init(&e, 0);
	char err[256];
	int rc = jsonpath_run(jp, root, &b, err, sizeof(err));
	if (rc < 0) {
		cli_error("get: %s", err);
	} else if (isatty(1)) {
		term_sanitize(&e, b.data ? b.data : "", b.len, TERM_MULTILINE);
		fwrite(e.data ? e.data : "", 1, e.len, stdout);
	} else {
		fwrite(b.data ? b.data : "", 1, b.len, stdout);
	}
	fflush(stdout);
	buf_free(&b);
	buf_free(&e);
	json_object_put(root);
	return rc < 0 ? CLI_EXIT_FAILED : 0;
}

/* Print `items` (a list of one kind) in format fmt. */
static void get_print(json_object *items, enum model_kind kind, const char *fmt, bool all,
		      bool as_list)
{
	size_t n = json_object_array_length(items);
	if (!as_list && n == 1 && (!strcmp(fmt, "yaml") || !strcmp(fmt, "json"))) {
		print_object(json_object_array_get_idx(items, 0), kind, fmt);
		return;
	}
	struct table t = { .fmt = fmt, .kind = kind, .all_ns = all, .list = json_object_new_array() };
	for (size_t i = 0; i < n; i++)
		table_row(json_object_array_get_idx(items, i), &t);
	table_flush(&t);
	if (!strcmp(fmt, "yaml") || !strcmp(fmt, "json")) {
		json_object *list = json_object_new_object();
		jset_str(list, "apiVersion", "v1");
		jset_str(list, "kind", "List");
		json_object_object_add(list, "items", json_object_get(t.list));
		print_json_or_yaml(list, fmt);
		json_object_put(list);
	}
	json_object_put(t.list);
}

static int get_checked(struct cli_ctx *ctx, int argc, char **argv, const char *fmt, const char *ns,
		       const char *selector, const char *sort_by, bool all, bool watch,
		       const struct jsonpath *jp);

static int cmd_get_fn(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "output", required_argument, NULL, 'o' },
					      { "namespace", required_argument, NULL, 'n' },
					      { "all-namespaces", no_argument, NULL, 'A' },
					      { "watch", no_argument, NULL, 'w' },
					      { "selector", required_argument, NULL, 'l' },
					      { "sort-by", required_argument, NULL, 'S' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *fmt = "", *ns = NULL, *selector = NULL, *sort_by = NULL;
	bool all = false, watch = false;
	struct jsonpath *jp = NULL;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":o:n:Awl:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': fmt = optarg; break;
		case 'n': ns = optarg; break;
		case 'A': all = true; break;
		case 'w': watch = true; break;
		case 'l': selector = optarg; break;
		case 'S': sort_by = optarg; break;
		default: return cli_option_error(&cmd_get, c, argc, argv);
		}
	}
	if (str_startswith(fmt, "jsonpath=")) {
		char jerr[512];
		if (jsonpath_compile(fmt + 9, &jp, jerr, sizeof(jerr)) < 0)
			return cli_usage_error(&cmd_get, "-o %s", jerr);
		fmt = "json"; /* the template runs over what -o json prints */
	} else if (strcmp(fmt, "") && strcmp(fmt, "wide") && strcmp(fmt, "yaml") &&
		   strcmp(fmt, "json") && strcmp(fmt, "name")) {
		return cli_usage_error(&cmd_get,
				       "get: -o %s: use wide, yaml, json, name or jsonpath=TEMPLATE", fmt);
	}
	int ret = get_checked(ctx, argc, argv, fmt, ns, selector, sort_by, all, watch, jp);
	jsonpath_free(jp);
	return ret;
}

/* get, its options read (jp: -o jsonpath, fmt then "json"). */
static int get_checked(struct cli_ctx *ctx, int argc, char **argv, const char *fmt, const char *ns,
		       const char *selector, const char *sort_by, bool all, bool watch,
		       const struct jsonpath *jp)
{
	if (optind >= argc)
		return cli_usage_error(&cmd_get, "what? use tasks, agents, spawners, budgets, secrets or configmaps");
	if (selector && selector_check(selector) < 0)
		return cli_usage_error(&cmd_get, "-l %s: use key=value, key!=value, key or !key, "
				       "separated by commas", selector);
	char *sort = sort_by ? sort_field(sort_by) : NULL;
	if (sort_by && !sort)
		return cli_usage_error(&cmd_get, "--sort-by %s: use a field such as .metadata.name", sort_by);
	struct get_target *tg = NULL;
	size_t ntg = 0;
	int ret = get_targets(argc - optind, argv + optind, &tg, &ntg);
	if (ret) {
		free(sort);
		return ret;
	}
	if (watch && (!strcmp(fmt, "yaml") || !strcmp(fmt, "json"))) {
		free(sort);
		free(tg);
		return cli_usage_error(&cmd_get, "-w prints table rows: use it without -o, or with -o wide or name");
	}
	struct backend be;
	ret = be_open(ctx, ns, false, &be);
	if (ret) {
		free(sort);
		free(tg);
		return ret;
	}
	ns = be.ns;
	char err[1024] = "";
	if (watch) {
		ret = get_watch(&be, tg[0].kind, ns, tg[0].name, fmt, all);
	} else if (!tg[0].name) {
		struct get_list g = { .selector = selector, .items = json_object_new_array() };
		enum model_kind kind = tg[0].kind;
		if (be.kc) {
			int rc = kcli_list(be.kc, kind, all ? NULL : ns, get_collect, &g, err, sizeof(err));
			if (rc < 0) {
				cli_error_escaped("%s", err);
				ret = kcli_exit_code(rc);
			}
		} else {
			store_list(be.rt->store, kind, all ? NULL : ns, get_collect, &g);
		}
		if (sort) {
			sort_path = sort;
			json_object_array_sort(g.items, sort_cmp);
		}
		if (!ret && jp)
			ret = get_print_jsonpath(g.items, kind, jp, true);
		else if (!ret && (json_object_array_length(g.items) || !strcmp(fmt, "yaml") || !strcmp(fmt, "json")))
			get_print(g.items, kind, fmt, all, true);
		else if (!ret)
			fprintf(stderr, "No %ss found in %s%s.\n", model_kind_name(kind),
				all ? "any namespace" : ns, selector ? " with those labels" : "");
		json_object_put(g.items);
	} else {
		/* Named objects, in the order given; a table per run of one kind. */
		size_t i = 0;
		while (i < ntg) {
			enum model_kind kind = tg[i].kind;
			json_object *items = json_object_new_array();
			for (; i < ntg && tg[i].kind == kind; i++) {
				json_object *obj = NULL;
				int rc = be_get(&be, kind, ns, tg[i].name, &obj, err, sizeof(err));
				if (rc < 0)
					ret = be_fail(&be, rc, model_kind_name(kind), tg[i].name, ns, err);
				else if (!selector || selector_match(obj, selector))
					json_object_array_add(items, obj);
				else
					json_object_put(obj);
			}
			if (json_object_array_length(items) && jp) {
				int prc = get_print_jsonpath(items, kind, jp, ntg > 1);
				ret = ret ? ret : prc;
			} else if (json_object_array_length(items)) {
				get_print(items, kind, fmt, false, ntg > 1);
			}
			json_object_put(items);
		}
	}
	free(sort);
	free(tg);
	be_close(&be);
	return ret;
}

const struct cli_command cmd_get = {
	"get", "list tasks, agents, spawners, budgets, secrets or configmaps, or show one",
	"Usage: paddock get KIND [NAME...] | KIND/NAME... [-o wide|yaml|json|name|jsonpath=TEMPLATE]\n"
	"                   [-n NS | -A] [-l SELECTOR] [--sort-by FIELD] [-w]\n"
	"\n"
	"KIND: tasks, agents, spawners, budgets, secrets or configmaps (task, agent ... too).  Without\n"
	"NAME, a NAME TYPE PHASE AGE table (tasks) in creation order; with names (or\n"
	"task/q1 agent/hello), those objects in that order.  -l app=web,tier!=db,ready,\n"
	"!draft keeps objects whose labels match; --sort-by .metadata.name (or\n"
	"{.status.phase} ...) sorts by that field.  -o wide\n"
	"adds the reason, the duration (so far, while running), tokens, cost and\n"
	"message; -w (--watch) goes on printing a row for each object that changes,\n"
	"until Ctrl-C; -o yaml/json prints whole\n"
	"objects with their status (outputs, results, usage); -o jsonpath=TEMPLATE\n"
	"prints fields of that JSON with kubectl's templates: {.metadata.name},\n"
	"{.items[*].status.phase}, {.a[0]}, {range .items[*]}...{end}, {\"\\n\"}\n"
	"(no filters, slices or ..).  Secret values are\n"
	"never printed.  Tables show text from agents with control characters and\n"
	"escape sequences escaped (\\x1b, \\u009b); -o yaml/json keep values exact.\n"
	CLUSTER_HELP("Same columns and formats; -A lists every namespace; -w is one\n"
		     "list and watch of the API server.\n")
	"\n"
	"Examples:\n"
	"  paddock get tasks\n"
	"  paddock get task hello-paddock -o yaml\n"
	"  paddock get tasks -A -o wide\n"
	"  paddock get tasks q1 q2\n"
	"  paddock get task/q1 agent/hello\n"
	"  paddock get tasks -l team=web --sort-by .metadata.name\n"
	"  paddock get tasks -o jsonpath='{range .items[*]}{.metadata.name}{\"\\n\"}{end}'\n",
	cmd_get_fn,
};

/* ---- describe --------------------------------------------------------- */

static int print_event(int64_t t, const char *type, const char *reason, const char *message, void *ctx)
{
	(void)ctx;
	char ts[40];
	format_time_ms(t, ts, sizeof(ts));
	char *cells[] = { xstrdup(ts), term_safe(type, 0), term_safe(reason, 0), term_safe(message, 0) };
	static const int widths[] = { 25, 8, 18, 0 };
	struct buf b;
	buf_init(&b, 0);
	(void)buf_puts(&b, "  ");
	cli_table_line(&b, (const char *const *)cells, widths, ARRAY_SIZE(cells));
	fputs(b.data, stdout);
	buf_free(&b);
	for (size_t i = 0; i < ARRAY_SIZE(cells); i++)
		free(cells[i]);
	return 0;
}

/* "Label:        value", the value escaped on one line; the label alone
 * when there is no value. */
static void describe_field(const char *label, const char *value)
{
	if (!value || !*value) {
		printf("%s\n", label);
		return;
	}
	printf("%-14s", label);
	put_safe(stdout, value, 0);
	putchar('\n');
}

/* A map's "key: value" lines; a number under a key named costUSD is a
 * cost ($0.0003). */
static void describe_map(const char *title, json_object *m)
{
	if (!m || !json_object_is_type(m, json_type_object) || !json_object_object_length(m))
		return;
	printf("%s:\n", title);
	json_object_object_foreach(m, k, v) {
		fputs("  ", stdout);
		put_safe(stdout, k, 0);
		fputs(": ", stdout);
		char cost[32];
		if (!strcmp(k, "costUSD") && (json_object_is_type(v, json_type_double) ||
					      json_object_is_type(v, json_type_int))) {
			cli_format_cost(json_object_get_double(v), cost, sizeof(cost));
			fputs(cost, stdout);
		} else {
			put_safe(stdout, json_object_is_type(v, json_type_string)
						 ? json_object_get_string(v)
						 : json_object_to_json_string(v), 0);
		}
		putchar('\n');
	}
}

/* Multi-line text (the prompt), escaped, each line indented by two. */
static void describe_block(const char *text)
{
	char *e = term_safe(text, TERM_MULTILINE);
	for (char *line = e, *nl; line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		printf("  %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
	}
	free(e);
}

/* "NetworkPolicy:" on Kubernetes: whether the run has one
 * (kubernetes.networkPolicy, a run that is not open: kube/netpol.h), asked of
 * the API server once the run exists; `task` NULL: an Agent's runs. */
static void describe_netpol(struct cli_ctx *ctx, struct backend *be, json_object *task,
			    const struct pipeline_net *net)
{
	const struct pd_config *cfg = ctx->cfg;
	const char *what = net->mode == EGRESS_NONE ? "DNS and its git hosts only"
						    : "DNS, the allowlist's and the git hosts' addresses only";
	char err[256], *line;
	if (!cfg->kube_network_policy)
		line = xstrdup("none (kubernetes.networkPolicy is off): the sidecar fences what honours the proxy variables");
	else if (!kube_netpol_wanted(cfg->kube_network_policy, net->mode))
		line = xstrdup("none (egress open)");
	else if (!task)
		line = xasprintf("one per run: %s (kubernetes.networkPolicy)", what);
	else {
		int rc = kcli_netpol_exists(be->kc, task, err, sizeof(err));
		const char *job = jstr(jget(task, "status"), "jobName");
		line = rc > 0  ? xasprintf("in place (%s): %s", job, what)
		       : rc < 0 ? xasprintf("unknown: %s", err)
		       : job    ? xasprintf("missing (%s not found)", job)
				: xstrdup("rendered when the run starts (kubernetes.networkPolicy)");
	}
	fputs("NetworkPolicy: ", stdout);
	put_safe(stdout, line, 0);
	putchar('\n');
	free(line);
}

/* An Agent on Kubernetes: whether its runs get a NetworkPolicy (its
 * spec.network.egress, else paddock.yaml's; unset there: allowlist with
 * kubernetes.proxyImage, pipeline_egress's default). */
static void describe_agent_netpol(struct cli_ctx *ctx, struct backend *be, json_object *adoc)
{
	struct model_agent *a = NULL;
	char err[256];
	if (model_agent_from_json(adoc, &a, err, sizeof(err)) < 0)
		return;
	const struct pd_config *cfg = ctx->cfg;
	const char *mode = a->net_egress ? a->net_egress : cfg->egress;
	struct pipeline_net net = { .mode = cfg->kube_proxy_image && *cfg->kube_proxy_image ? EGRESS_ALLOWLIST
											  : EGRESS_OPEN };
	if (mode)
		(void)egress_mode_parse(mode, &net.mode, err, sizeof(err));
	describe_netpol(ctx, be, NULL, &net);
	model_agent_free(a);
}

/* "Limits:" and the run's effective limits (pipeline_limits): the Task's,
 * else its Agent's, else paddock.yaml's (this host's, also for a cluster);
 * "Egress:" and the run's effective network (pipeline_egress). */
static void describe_limits(struct cli_ctx *ctx, struct backend *be, json_object *task)
{
	struct model_task *t = NULL;
	struct model_agent *a = NULL;
	json_object *adoc = NULL;
	char err[512], text[160];
	if (model_task_from_json(task, &t, err, sizeof(err)) < 0)
		return;
	if (t->agent_name &&
	    be_get(be, MODEL_AGENT, t->agent_ns, t->agent_name, &adoc, err, sizeof(err)) == 0 &&
	    model_agent_from_json(adoc, &a, err, sizeof(err)) < 0)
		a = NULL;
	struct run_limits l;
	pipeline_limits(ctx->cfg, t, a, &l);
	limits_format(&l, text, sizeof(text));
	printf("%-14s%s\n", "Limits:", text);
	struct pipeline_net net;
	if (pipeline_egress(ctx->cfg, t, a, &net, err, sizeof(err)) == 0) {
		char *line = pipeline_net_describe(&net);
		describe_field("Egress:", line);
		free(line);
		if (be->kc)
			describe_netpol(ctx, be, task, &net);
	} else {
		describe_field("Egress:", err);
	}
	pipeline_net_free(&net);
	model_agent_free(a);
	json_object_put(adoc);
	model_task_free(t);
}

/* "Host keys:" for each SSH repository of the Task (workspace, Git
 * contexts): how its host key is checked (core/local/git.c's order: the
 * Secret's known_hosts, else paddock.yaml's, else trust on first use). */
static void describe_host_keys(struct cli_ctx *ctx, struct backend *be, json_object *task)
{
	const char *ns = jstr(jget(task, "metadata"), "namespace");
	json_object *spec = jget(task, "spec"), *ctxs = jget(spec, "contexts");
	size_t n = ctxs && json_object_is_type(ctxs, json_type_array) ? json_object_array_length(ctxs) : 0;
	const struct pd_git *g = &ctx->cfg->git;
	bool conf_kh = (g->known_hosts && *g->known_hosts) || g->known_hosts_file;
	for (size_t i = 0; i <= n; i++) {
		json_object *src = i == 0 ? jget(spec, "workspace")
					  : jget(json_object_array_get_idx(ctxs, i - 1), "git");
		const char *repo = i == 0 ? jstr(src, "repo") : jstr(src, "repository");
		const char *secret = jstr(jget(src, "secretRef"), "name");
		char host[256], err[256];
		if (!repo || !config_git_ssh_host(repo, host, sizeof(host)))
			continue;
		int has = 0; /* the Secret's "known_hosts": 1 yes, 0 no, -1 unknown */
		json_object *sdoc = NULL;
		if (secret) {
			has = -1;
			if (be_get(be, MODEL_SECRET, ns, secret, &sdoc, err, sizeof(err)) == 0) {
				has = jget(jget(sdoc, "data"), "known_hosts") ||
				      jget(jget(sdoc, "stringData"), "known_hosts");
				scrub_secret_doc(sdoc);
			}
			json_object_put(sdoc);
		}
		const char *fallback = conf_kh			    ? "known hosts from paddock.yaml"
				       : g->trust_on_first_use ? "trust on first use (unverified)"
							       : "none: the fetch fails (set git.knownHosts)";
		char *line;
		if (has == 1)
			line = xasprintf("%s: from Secret %s", host, secret);
		else if (has < 0)
			line = xasprintf("%s: from Secret %s if it has a \"known_hosts\" key, else %s",
					 host, secret, fallback);
		else
			line = xasprintf("%s: %s", host, fallback);
		if (g->trust_on_first_use && (has != 0 || conf_kh)) {
			char *l2 = xasprintf("%s; unknown hosts: trust on first use (unverified)", line);
			free(line);
			line = l2;
		}
		describe_field("Host keys:", line);
		free(line);
	}
}

/* "Egress traffic:" per allowed host (proxy/traffic.h's document). */
static void describe_traffic_doc(json_object *doc)
{
	char *text = NULL;
	if (doc && (text = egress_traffic_format(doc, "  "))) {
		printf("Egress traffic:\n");
		put_safe(stdout, text, TERM_MULTILINE);
	}
	free(text);
}

/* Locally from the run's egress-traffic.json (its supervisor rewrites
 * it while the run lasts); on Kubernetes from the sidecar's log. */
static void describe_traffic(struct backend *be, json_object *task, const char *run_dir)
{
	json_object *doc = NULL;
	char *data = NULL;
	if (be->kc) {
		char err[512];
		(void)kcli_egress_traffic(be->kc, task, &doc, err, sizeof(err)); /* optional */
	} else {
		char *path = xasprintf("%s/" LOCAL_EGRESS_TRAFFIC, run_dir);
		size_t len = 0;
		doc = read_file(path, 1 << 20, &data, &len) == 0 ? json_tokener_parse(data) : NULL;
		free(path);
	}
	describe_traffic_doc(doc);
	json_object_put(doc);
	free(data);
}

static int print_delivery(const struct store_delivery *d, void *ctx)
{
	(void)ctx;
	char ts[40];
	format_time_ms(d->time_ms, ts, sizeof(ts));
	printf("  %s  %-9s  ", ts, d->outcome);
	put_safe(stdout, d->event ? d->event : "-", 0);
	printf("  ");
	put_safe(stdout, d->id ? d->id : "-", 0);
	printf("  ");
	put_safe(stdout, d->detail ? d->detail : "", 0);
	putchar('\n');
	return 0;
}

/* A github source: what it polls and how the last poll went (st: the
 * poll state, the local state file's or the Spawner's status.github). */
static void describe_github(json_object *sp, json_object *st)
{
	json_object *gh = jget(jget(sp, "spec"), "github");
	json_object *repos = jget(gh, "repositories"), *labels = jget(gh, "labels");
	char line[512];
	snprintf(line, sizeof(line), "github %s, labels %s",
		 json_object_to_json_string_ext(repos, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
		 labels ? json_object_to_json_string_ext(labels, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "(any)");
	describe_field("Source:", line);
	describe_field("API:", jstr(gh, "baseURL"));
	describe_field("Token:", jstr(jget(gh, "tokenSecretRef"), "name"));
	json_object *v;
	describe_field("Last poll:", jstr(st, "lastPoll") ? jstr(st, "lastPoll") : "never");
	describe_field("Next poll:", jstr(st, "nextPoll") ? jstr(st, "nextPoll") : "-");
	if ((v = jget(st, "rateLimitRemaining"))) {
		snprintf(line, sizeof(line), "%lld of %lld left, resets %s%s%s",
			 (long long)json_object_get_int64(v),
			 (long long)json_object_get_int64(jget(st, "rateLimitLimit")),
			 jstr(st, "rateLimitReset") ? jstr(st, "rateLimitReset") : "-",
			 jstr(st, "rateLimitedUntil") ? "; waiting until " : "",
			 jstr(st, "rateLimitedUntil") ? jstr(st, "rateLimitedUntil") : "");
		describe_field("Rate limit:", line);
	} else {
		describe_field("Rate limit:", "unknown (not polled yet)");
	}
	if (jstr(st, "lastError"))
		describe_field("Last error:", jstr(st, "lastError"));
}

/* A Spawner: its source, where its webhook is, what it took. */
static void describe_spawner(struct store *st, const char *state_dir, json_object *sp)
{
	json_object *md = jget(sp, "metadata"), *wh = jget(jget(sp, "spec"), "webhook");
	const char *ns = jstr(md, "namespace"), *name = jstr(md, "name");
	char *hook = xasprintf("POST %s%s/%s", SPAWNER_HOOK_PREFIX, ns ? ns : "", name ? name : "");
	json_object *sc = jget(jget(sp, "spec"), "schedule");
	if (sc) {
		char line[256], next[40] = "-";
		struct cron c;
		int64_t now = now_wall_ms() / 1000, t = now - now % 60 + 60;
		if (cron_parse(jstr(sc, "cron"), &c, NULL, 0) == 0)
			for (int i = 0; i < SCHEDULE_SCAN_MINUTES; i++, t += 60)
				if (cron_matches(&c, jstr(sc, "timeZone"), t)) {
					format_time_ms(t * 1000, next, sizeof(next));
					break;
				}
		snprintf(line, sizeof(line), "schedule \"%s\" in %s, concurrencyPolicy %s",
			 jstr(sc, "cron"), jstr(sc, "timeZone"), jstr(sc, "concurrencyPolicy"));
		describe_field("Source:", line);
		describe_field("Next:", next);
	} else if (jget(jget(sp, "spec"), "github")) {
		json_object *gst = github_state_read(state_dir, ns, name);
		describe_github(sp, gst);
		json_object_put(gst);
	} else {
		describe_field("Source:", wh ? jstr(wh, "type") : "-");
		describe_field("Webhook:", hook);
		describe_field("Secret:", jstr(jget(wh, "secretRef"), "name"));
	}
	free(hook);
	describe_field("Suspended:", json_object_get_boolean(jget(jget(sp, "spec"), "suspend")) ? "true" : "false");
	char counts[160];
	snprintf(counts, sizeof(counts), "accepted %ld, filtered %ld, duplicate %ld, rejected %ld",
		 store_delivery_count(st, ns, name, "accepted"), store_delivery_count(st, ns, name, "filtered"),
		 store_delivery_count(st, ns, name, "duplicate"), store_delivery_count(st, ns, name, "rejected"));
	describe_field("Deliveries:", counts);
	printf("Task template:\n");
	char *tt = NULL;
	struct buf b;
	buf_init(&b, 0);
	yaml_emit(&b, jget(jget(sp, "spec"), "taskTemplate"), 2);
	tt = buf_steal(&b);
	put_safe(stdout, tt, TERM_MULTILINE);
	free(tt);
	printf("Last events:\n");
	(void)store_deliveries(st, ns, name, 20, print_delivery, NULL);
}

/* A Budget: its window, caps, spend so far, what remains, what waits. */
/* The spend of Budget b: local, with running Tasks' usage so far;
 * cluster, from the Tasks' status (a running one's usage is known when
 * it ends).  0 or < 0. */
static int budget_spend(struct backend *be, json_object *b, struct budget_spend *sp,
			struct strv *waiting)
{
	if (!be->kc)
		return local_budget_spend(be->rt, b, sp, waiting);
	struct budget_sum s;
	char err[512];
	budget_sum_init(&s, b, now_wall_ms(), NULL, NULL, waiting);
	int rc = kcli_list(be->kc, MODEL_TASK, jstr(jget(b, "metadata"), "namespace"),
			   budget_sum_task, &s, err, sizeof(err));
	*sp = s.sp;
	return rc;
}

static void describe_budget(struct backend *be, json_object *b)
{
	json_object *spec = jget(b, "spec");
	char scope[160], win[48], line[256], t0[40], t1[40];
	budget_scope(b, scope, sizeof(scope));
	budget_window_text(b, win, sizeof(win));
	int64_t start, reset;
	budget_window(b, now_wall_ms(), &start, &reset);
	format_time_ms(start, t0, sizeof(t0));
	format_time_ms(reset, t1, sizeof(t1));
	describe_field("Scope:", scope);
	snprintf(line, sizeof(line), "%s (%s to %s)", win, t0, jget(spec, "rollingHours") ? "now" : t1);
	describe_field("Window:", line);
	struct budget_spend sp;
	struct strv waiting = { 0 };
	if (budget_spend(be, b, &sp, &waiting) < 0) {
		describe_field("Spend:", be->kc ? "cannot list the Tasks" : "cannot be read from the store");
		strv_free(&waiting);
		return;
	}
	json_object *c = jget(spec, "maxCostUSD"), *t = jget(spec, "maxTokens"), *k = jget(spec, "maxTasks");
	if (c) {
		double cap = json_object_get_double(c), left = cap - sp.cost_usd;
		snprintf(line, sizeof(line), "$%.4f of $%.4f spent, $%.4f remaining", sp.cost_usd, cap,
			 left > 0 ? left : 0);
		describe_field("Cost:", line);
	}
	if (t) {
		long long cap = (long long)json_object_get_int64(t), left = cap - (long long)sp.tokens;
		snprintf(line, sizeof(line), "%lld of %lld used, %lld remaining", (long long)sp.tokens, cap,
			 left > 0 ? left : 0);
		describe_field("Tokens:", line);
	}
	if (k) {
		long cap = (long)json_object_get_int64(k), left = cap - sp.tasks;
		snprintf(line, sizeof(line), "%ld of %ld started, %ld remaining", sp.tasks, cap,
			 left > 0 ? left : 0);
		describe_field("Tasks:", line);
	} else {
		snprintf(line, sizeof(line), "%ld started", sp.tasks);
		describe_field("Tasks:", line);
	}
	printf("Waiting (BudgetExhausted): %zu\n", waiting.n);
	for (size_t i = 0; i < waiting.n; i++) {
		printf("  ");
		put_safe(stdout, waiting.v[i], 0);
		putchar('\n');
	}
	strv_free(&waiting);
}

static int cmd_describe_fn(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "namespace", required_argument, NULL, 'n' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *ns = NULL;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":n:h", opts, NULL)) != -1) {
		if (c == 'n')
			ns = optarg;
		else
			return cli_option_error(&cmd_describe, c, argc, argv);
	}
	const char *name = NULL;
	enum model_kind kind = MODEL_TASK;
	if (optind + 1 < argc) {
		if (parse_kind(argv[optind], &kind) < 0)
			return cli_usage_error(NULL, "describe: unknown kind \"%s\"", argv[optind]);
		name = argv[optind + 1];
	} else if (optind < argc) {
		name = split_kind(&cmd_describe, argv[optind], &kind);
		if (!name)
			return CLI_EXIT_USAGE;
	} else {
		return cli_usage_error(NULL, "describe: give a task name: paddock describe task NAME");
	}
	struct backend be;
	int ret = be_open(ctx, ns, false, &be);
	if (ret)
		return ret;
	ns = be.ns;
	json_object *obj = NULL;
	char err[1024] = "";
	int rc = be_get(&be, kind, ns, name, &obj, err, sizeof(err));
	if (rc < 0) {
		ret = be_fail(&be, rc, model_kind_name(kind), name, ns, err);
		be_close(&be);
		return ret;
	}
	json_object *md = jget(obj, "metadata"), *spec = jget(obj, "spec"), *st = jget(obj, "status");
	describe_field("Name:", jstr(md, "name"));
	describe_field("Namespace:", jstr(md, "namespace"));
	describe_field("Kind:", model_kind_name(kind));
	describe_field("UID:", jstr(md, "uid"));
	describe_field("Created:", jstr(md, "creationTimestamp"));
	describe_map("Labels", jget(md, "labels"));
	if (kind == MODEL_TASK) {
		describe_field("Type:", task_type(obj));
		const char *model = jstr(spec, "model"), *result = jstr(st, "result");
		if (model)
			describe_field("Model:", model);
		describe_limits(ctx, &be, obj);
		describe_host_keys(ctx, &be, obj);
		describe_field("Phase:", jstr(st, "phase") ?: "Pending");
		describe_field("Reason:", jstr(st, "reason"));
		describe_field("Message:", jstr(st, "message"));
		describe_field("Run:", jstr(st, "runId"));
		describe_field("Started:", jstr(st, "startTime"));
		describe_field("Completed:", jstr(st, "completionTime"));
		if (result)
			describe_field("Result:", result);
		describe_map("Outputs", jget(st, "outputs"));
		describe_map("Results", jget(st, "results"));
		describe_map("Usage", jget(st, "usage"));
		if (be.kc) {
			char *job = xasprintf("%s%s%s", jstr(st, "runNamespace") ?: "",
					      jstr(st, "runNamespace") ? "/" : "", jstr(st, "jobName") ?: "");
			describe_field("Job:", job);
			free(job);
			describe_traffic(&be, obj, NULL);
		} else {
			char *run_dir = runtime_run_dir(be.rt, obj);
			describe_field("Run dir:", run_dir);
			describe_traffic(&be, obj, run_dir);
			free(run_dir);
		}
		printf("Prompt:\n");
		describe_block(jstr(spec, "prompt"));
		printf("Events:\n");
		if (!be.kc) {
			store_events(be.rt->store, jstr(md, "namespace"), jstr(md, "name"), print_event, NULL);
		} else if ((rc = kcli_events(be.kc, obj, print_event, NULL, err, sizeof(err))) < 0) {
			fflush(stdout);
			cli_error_escaped("%s", err);
			ret = kcli_exit_code(rc);
		}
	} else if (kind == MODEL_SPAWNER && !be.kc) {
		describe_spawner(be.rt->store, be.rt->state_dir, obj);
	} else if (kind == MODEL_SPAWNER && jget(spec, "github")) { /* Kubernetes: its status */
		describe_github(obj, jget(st, "github"));
		describe_field("Suspended:", json_object_get_boolean(jget(spec, "suspend")) ? "true" : "false");
	} else if (kind == MODEL_BUDGET) {
		describe_budget(&be, obj);
	} else {
		if (kind == MODEL_AGENT && be.kc)
			describe_agent_netpol(ctx, &be, obj);
		print_object(obj, kind, "yaml");
	}
	json_object_put(obj);
	be_close(&be);
	return ret;
}

const struct cli_command cmd_describe = {
	"describe", "show a task's status, outputs, usage and events",
	"Usage: paddock describe [task] NAME [-n NS]\n"
	"       paddock describe agent NAME\n"
	"       paddock describe spawner NAME\n"
	"       paddock describe budget NAME\n"
	"\n"
	"A spawner: its source, webhook path (github: the last and next poll and\n"
	"the rate limit), deliveries by outcome and the last 20 (accepted,\n"
	"duplicate, filtered, rejected, with why).  A budget: its\n"
	"window, spend and what remains of each cap, and the tasks waiting for it.\n"
	"\n"
	"Shows the phase with its reason and message, the run, the outputs, results\n"
	"and usage, and the event log: one line per transition with its time.\n"
	"Text from agents and Task authors is shown with control characters, escape\n"
	"sequences, bidi controls and invalid UTF-8 escaped (\\x1b, \\u009b, \\xff).\n"
	CLUSTER_HELP("Events are the Task's Events in its namespace; Job is the run's Job.\n")
	"\n"
	"Example:\n"
	"  paddock --kubeconfig ~/.kube/config describe task hello-paddock -n agents\n",
	cmd_describe_fn,
};

/* ---- logs ----------------------------------------------------------- */

/* The driver that reads task's stream: spec.type, else its Agent's; NULL
 * when that is unknown here or the driver is not enabled (raw lines). */
static const struct loaded_plugin *task_driver(struct cli_ctx *ctx, struct runtime *rt,
					       json_object *task, const char *ns)
{
	json_object *spec = jget(task, "spec");
	const char *type = jstr(spec, "type");
	json_object *agent = NULL;
	json_object *ref = jget(spec, "agentRef");
	if (!type && jstr(ref, "name")) {
		const char *ans = jstr(ref, "namespace") ? jstr(ref, "namespace") : ns;
		if (store_get(rt->store, MODEL_AGENT, ans, jstr(ref, "name"), &agent) == 0)
			type = jstr(jget(agent, "spec"), "type");
	}
	const struct loaded_plugin *p = type && ctx->plugins ? plugins_driver(ctx->plugins, type) : NULL;
	json_object_put(agent);
	return p;
}

/* Options of `paddock logs` that shape what is shown (cli/logview.h). */
static int logs_options(struct logview *v, const char *since, const char *tail)
{
	if (since) {
		int64_t ms = 0;
		if (logview_parse_since(since, &ms) < 0)
			return cli_usage_error(&cmd_logs, "--since %s: use a duration such as 30s, 5m, 2h or 1d",
					       since);
		v->since_ms = now_wall_ms() - ms;
	}
	if (tail) {
		char *end = NULL;
		long n = strtol(tail, &end, 10);
		if (!*tail || *end || n < -1 || n > 1000000)
			return cli_usage_error(&cmd_logs, "--tail %s: use a number of lines (-1: all)", tail);
		v->tail = n;
	}
	return 0;
}

static bool controller_runs(const struct runtime *rt)
{
	return ctl_running(rt->state_dir);
}

/* What `logs -f` waits for, said once on stderr. */
static void say_waiting(const struct runtime *rt, const char *ns, const char *name,
			json_object *task)
{
	const char *phase = jstr(jget(task, "status"), "phase");
	fprintf(stderr, "paddock: task %s/%s is %s: waiting for it to start%s\n", ns, name,
		phase && *phase ? phase : "Pending",
		controller_runs(rt) ? " (the controller runs it)"
				    : "; no controller is running: start `paddock controller`, or Ctrl-C");
}

/* A cluster's log, line by line into a logview (cli/logview.h).  The
 * API server adds "RFC3339NANO " to each line when asked (timestamps=true). */
struct kube_lines {
	struct logview *v;
	struct buf line;
	bool stamped;
};

/* "2026-12-07T15:00:00.123456789Z " at the start of s: its time (0 when
 * there is none) and its length with the space in *used. */
static int64_t parse_stamp(const char *s, size_t n, size_t *used)
{
	char head[48];
	size_t sp = 0;
	*used = 0;
	while (sp < n && sp < sizeof(head) - 1 && s[sp] != ' ')
		sp++;
	if (sp == n || sp >= sizeof(head) - 1)
		return 0;
	memcpy(head, s, sp);
	head[sp] = '\0';
	int64_t ms = 0;
	if (parse_time(head, &ms) < 0)
		return 0;
	*used = sp + 1;
	return ms;
}

static void kube_line(struct kube_lines *kl)
{
	size_t used = 0;
	const char *s = kl->line.data ? kl->line.data : "";
	int64_t ts = kl->stamped ? parse_stamp(s, kl->line.len, &used) : 0;
	logview_line(kl->v, s + used, kl->line.len - used, ts);
	buf_reset(&kl->line);
}

static int kube_lines_write(void *ctx, const char *data, size_t len)
{
	struct kube_lines *kl = ctx;
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t seg = nl ? (size_t)(nl - data) : len;
		if (kl->line.len + seg <= 4u * 1024 * 1024)
			(void)buf_append(&kl->line, data, seg);
		if (nl)
			kube_line(kl);
		data += seg + (nl ? 1 : 0);
		len -= seg + (nl ? 1 : 0);
	}
	logview_caught_up(kl->v);
	fflush(stdout);
	return ferror(stdout) ? 1 : 0;
}

/* The driver of a task on the cluster, when it is enabled here too. */
static const struct loaded_plugin *kube_task_driver(struct cli_ctx *ctx, struct backend *be,
						    const char *name)
{
	char err[1024];
	json_object *task = NULL, *agent = NULL;
	if (kcli_get(be->kc, MODEL_TASK, be->ns, name, &task, err, sizeof(err)) < 0)
		return NULL;
	json_object *spec = jget(task, "spec");
	const char *type = jstr(spec, "type");
	json_object *ref = jget(spec, "agentRef");
	if (!type && jstr(ref, "name") &&
	    kcli_get(be->kc, MODEL_AGENT, jstr(ref, "namespace") ? jstr(ref, "namespace") : be->ns,
		     jstr(ref, "name"), &agent, err, sizeof(err)) == 0)
		type = jstr(jget(agent, "spec"), "type");
	if (type && !ctx->plugins)
		(void)plugins_load(ctx->cfg, true, &ctx->plugins, err, sizeof(err));
	const struct loaded_plugin *p = type && ctx->plugins ? plugins_driver(ctx->plugins, type) : NULL;
	json_object_put(agent);
	json_object_put(task);
	return p;
}

static int kube_logs(struct cli_ctx *ctx, struct backend *be, const char *name, bool follow,
		     struct logview *v, const char *since)
{
	char err[1024] = "";
	struct kube_lines kl = { .v = v, .stamped = v->timestamps };
	buf_init(&kl.line, 0);
	v->escape = isatty(1);
	logview_init(v, kube_task_driver(ctx, be, name));
	/* --since is the API server's (sinceSeconds); --tail too for raw lines,
	 * while a rendering is cut here (its lines are not the log's). */
	struct buf q;
	buf_init(&q, 0);
	if (v->timestamps)
		buf_puts(&q, "&timestamps=true");
	if (since)
		buf_printf(&q, "&sinceSeconds=%lld", (long long)((now_wall_ms() - v->since_ms + 999) / 1000));
	v->since_ms = 0;
	if (v->raw && v->tail >= 0) {
		buf_printf(&q, "&tailLines=%ld", v->tail);
		v->tail = -1;
		v->tailing = false;
	}
	struct kcli_log_sink sink = { kube_lines_write, &kl, q.len ? q.data + 1 : NULL };
	install_signals();
	int rc = kcli_logs(be->kc, be->ns, name, follow, ctx->cfg->limits.log_bytes_per_run, &sink,
			   &stop_flag, err, sizeof(err));
	if (kl.line.len)
		kube_line(&kl);
	logview_caught_up(v);
	fflush(stdout);
	logview_free(v);
	buf_free(&kl.line);
	buf_free(&q);
	return rc < 0 ? be_fail(be, rc, "task", name, be->ns, err) : 0;
}

static int cmd_logs_fn(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "follow", no_argument, NULL, 'f' },
					      { "namespace", required_argument, NULL, 'n' },
					      { "raw", no_argument, NULL, 'r' },
					      { "timestamps", no_argument, NULL, 'T' },
					      { "since", required_argument, NULL, 'S' },
					      { "tail", required_argument, NULL, 'N' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *ns = NULL, *since = NULL, *tail = NULL;
	bool follow = false;
	struct logview v = { .out = stdout, .tail = -1 };
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":fn:h", opts, NULL)) != -1) {
		if (c == 'f')
			follow = true;
		else if (c == 'n')
			ns = optarg;
		else if (c == 'r')
			v.raw = true;
		else if (c == 'T')
			v.timestamps = true;
		else if (c == 'S')
			since = optarg;
		else if (c == 'N')
			tail = optarg;
		else
			return cli_option_error(&cmd_logs, c, argc, argv);
	}
	if (optind >= argc)
		return cli_usage_error(&cmd_logs, "give a task name");
	int ret = logs_options(&v, since, tail);
	if (ret)
		return ret;
	const char *name = argv[optind];
	if (!strcmp(name, "task") && optind + 1 < argc)
		name = argv[optind + 1];
	else if (!strncmp(name, "task/", 5) || !strncmp(name, "tasks/", 6))
		name = strchr(name, '/') + 1;
	struct backend be;
	ret = be_open(ctx, ns, false, &be);
	if (ret)
		return ret;
	ns = be.ns;
	struct runtime *rt = be.rt;
	if (be.kc) {
		ret = kube_logs(ctx, &be, name, follow, &v, since);
		be_close(&be);
		return ret;
	}
	json_object *task = NULL;
	if (store_get(rt->store, MODEL_TASK, ns, name, &task) < 0) {
		ret = be_fail(&be, -ENOENT, "task", name, ns, NULL);
		be_close(&be);
		return ret;
	}
	char *run_dir = runtime_run_dir(rt, task);
	v.escape = isatty(1);
	logview_init(&v, task_driver(ctx, rt, task, ns));
	struct logfile lf;
	logfile_init(&lf, run_dir);
	install_signals();
	bool have = logfile_pump(&lf, &v, false), said = false;
	while (follow && !stop_flag) {
		json_object *t = NULL;
		bool done = true;
		if (store_get(rt->store, MODEL_TASK, ns, name, &t) == 0)
			done = phase_done(jstr(jget(t, "status"), "phase"));
		if (!have && !said && !done) {
			say_waiting(rt, ns, name, t);
			said = true;
		}
		json_object_put(t);
		have = logfile_pump(&lf, &v, done);
		if (done)
			break;
		logview_caught_up(&v);
		fflush(stdout);
		usleep(200 * 1000);
	}
	if (have && !follow)
		(void)logfile_pump(&lf, &v, true);
	logview_caught_up(&v);
	fflush(stdout);
	if (!have && !follow) {
		cli_error("task %s has no log yet: it has not started (paddock describe task %s)", name, name);
		ret = CLI_EXIT_NOT_FOUND;
	}
	logview_free(&v);
	logfile_close(&lf);
	json_object_put(task);
	free(run_dir);
	be_close(&be);
	return ret;
}

const struct cli_command cmd_logs = {
	"logs", "print (or follow) what a task's agent did",
	"Usage: paddock logs NAME [-f] [--raw] [--tail N] [--since DURATION] [--timestamps] [-n NS]\n"
	"\n"
	"Prints what the agent did, read from its output by the task's driver: the\n"
	"agent's text, each tool call with its key argument (\"-> Write out.txt\",\n"
	"\"-> Bash: npm test\"), tool results (\"   ok\", \"   failed: exit 1\"), errors\n"
	"(\"!! error: ...\"), token and cost totals and notes (\"-- ...\"), and the\n"
	"outputs.  Noise the driver knows is left out.  Control characters, escape\n"
	"sequences, bidi controls and invalid UTF-8 are shown escaped (\\x1b, \\u009b).\n"
	"A driver without a renderer (plugin ABI 1.0) shows the output as captured.\n"
	"A run's output over limits.logBytesPerRun keeps its head and its tail, a\n"
	"line \"[paddock] N bytes cut here\" between them.\n"
	"\n"
	"Options:\n"
	"  -f, --follow          keep printing until the task has finished\n"
	"      --raw             the agent's output as captured: exact into a pipe or\n"
	"                        a file, escaped line by line on a terminal\n"
	"      --tail N          only the last N lines (then -f goes on from there)\n"
	"      --since DURATION  only lines from the last 30s, 5m, 2h, 1d ...\n"
	"      --timestamps      each line starts with when it arrived (UTC)\n"
	"  -n, --namespace NS    the task's namespace\n"
	CLUSTER_HELP("Reads the log of container \"agent\" of the Job's pod (rendered by the\n"
		     "driver when it is enabled in this machine's config, else as captured); -f\n"
		     "follows it until the pod ends; --since and --raw --tail are the API\n"
		     "server's sinceSeconds and tailLines.  A task that has not started has no\n"
		     "logs yet (exit 3).\n")
	"\n"
	"Examples:\n"
	"  paddock logs -f hello-paddock\n"
	"  paddock logs --raw --tail 20 hello-paddock\n",
	cmd_logs_fn,
};

/* ---- stop / delete ---------------------------------------------------- */

/* "[KIND] NAME..." or "KIND/NAME..." after the options; `file` (delete
 * only; NULL elsewhere) takes -f FILE, whose documents name the objects. */
static int name_args(const struct cli_command *cmd, int argc, char **argv, const char **ns,
		     enum model_kind *kind, struct strv *names, const char **file)
{
	static const struct option opts[] = { { "namespace", required_argument, NULL, 'n' },
					      { "help", no_argument, NULL, 'h' },
					      { "ignore-not-found", no_argument, NULL, 'i' },
					      { "filename", required_argument, NULL, 'f' },
					      { NULL, 0, NULL, 0 } };
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, file ? ":n:hf:" : ":n:h", opts, NULL)) != -1) {
		if (c == 'n')
			*ns = optarg;
		else if (c == 'f' && file)
			*file = optarg;
		else if (c != 'i' || !file)
			return cli_option_error(cmd, c, argc, argv);
	}
	int i = optind;
	if (i < argc && !strchr(argv[i], '/') && model_kind_parse(argv[i]) >= 0 && i + 1 < argc) {
		*kind = (enum model_kind)model_kind_parse(argv[i]);
		i++;
	}
	for (; i < argc; i++)
		strv_push(names, argv[i]);
	if (!names->n && !(file && *file))
		return cli_usage_error(cmd, "%s: give at least one name%s", cmd->name,
				       file ? " (or -f FILE)" : "");
	if (names->n && file && *file)
		return cli_usage_error(cmd, "%s: give names or -f FILE, not both", cmd->name);
	return 0;
}

/* "KIND/NAME" into *kind and the name; a plain name keeps *kind.  NULL
 * (printed) for an unknown kind. */
static const char *split_kind(const struct cli_command *cmd, const char *arg, enum model_kind *kind)
{
	const char *slash = strchr(arg, '/');
	if (!slash)
		return arg;
	char *k = xstrndup(arg, (size_t)(slash - arg));
	int v = model_kind_parse(k);
	free(k);
	if (v < 0 || !slash[1]) {
		(void)cli_usage_error(cmd, "%s: \"%s\": use KIND/NAME (task/q1) with task, agent, secret or configmap",
				cmd->name, arg);
		return NULL;
	}
	*kind = (enum model_kind)v;
	return slash + 1;
}

#define SETTLE_WAIT_S 60

/* After a stop or delete intent, locally: wait until the task is
 * finished (gone) - doing the controller's work in-process when no
 * controller runs - so that the command returns when it is true.
 * 0, or -ETIMEDOUT after SETTLE_WAIT_S (the intent stays). */
static int local_settle(struct backend *be, const char *ns, const char *name, bool gone)
{
	int64_t start = now_mono_ms();
	bool said = false;
	while (!stop_flag && now_mono_ms() - start < SETTLE_WAIT_S * 1000) {
		if (runtime_lock(be->rt) == 1)
			(void)runtime_sync(be->rt);
		json_object *task = NULL;
		if (store_get(be->rt->store, MODEL_TASK, ns, name, &task) < 0)
			return 0;
		bool done = !gone && phase_done(jstr(jget(task, "status"), "phase"));
		json_object_put(task);
		if (done)
			return 0;
		if (!said && now_mono_ms() - start > 2000) {
			fprintf(stderr, "paddock: waiting for the run of %s/%s to end...\n", ns, name);
			said = true;
		}
		usleep(50 * 1000);
	}
	return -ETIMEDOUT;
}

static int cmd_stop_fn(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *ns = NULL;
	enum model_kind kind = MODEL_TASK;
	struct strv names = { 0 };
	int ret = name_args(&cmd_stop, argc, argv, &ns, &kind, &names, NULL);
	if (ret) {
		strv_free(&names);
		return ret;
	}
	struct backend be;
	if ((ret = be_open(ctx, ns, false, &be)) == 0) {
		ns = be.ns;
		for (size_t i = 0; i < names.n; i++) {
			char err[1024];
			const char *finished = NULL;
			enum model_kind k = MODEL_TASK;
			const char *nm = split_kind(&cmd_stop, names.v[i], &k);
			if (!nm || k != MODEL_TASK) {
				if (nm)
					(void)cli_usage_error(&cmd_stop, "%s: only tasks stop", names.v[i]);
				ret = CLI_EXIT_USAGE;
				continue;
			}
			if (nm != names.v[i])
				memmove(names.v[i], nm, strlen(nm) + 1);
			int rc = be.kc ? kcli_stop(be.kc, ns, names.v[i], &finished, err, sizeof(err))
				       : runtime_stop(be.rt, ns, names.v[i], &finished, err, sizeof(err));
			if (rc == -ENOENT) {
				ret = cli_not_found("task", names.v[i], ns);
			} else if (rc < 0) {
				cli_error_escaped("%s", err);
				ret = be.kc ? kcli_exit_code(rc) : CLI_EXIT_NOT_FOUND;
				if (rc == -EHOSTUNREACH)
					break; /* once is enough */
			} else if (rc > 0) {
				printf("Task/%s already %s: nothing to stop\n", names.v[i],
				       finished ? finished : "finished");
			} else if (!be.kc && local_settle(&be, ns, names.v[i], false) == 0) {
				printf("Task/%s stopped\n", names.v[i]);
			} else {
				printf("Task/%s stop requested\n", names.v[i]);
			}
		}
	}
	be_close(&be);
	strv_free(&names);
	return ret;
}

const struct cli_command cmd_stop = {
	"stop", "stop a task: kill its whole run and record reason Stopped",
	"Usage: paddock stop NAME... [-n NS]\n"
	"\n"
	"Records the request (annotation paddock.dev/stop=true); the controller\n"
	"then stops a task that has not started, or kills a running one (the whole\n"
	"process tree) and records Stopped.  With no `paddock controller` running,\n"
	"this command does the controller's work itself.  It returns once the task\n"
	"is finished (at most 60 s, then it says the stop is still pending).\n"
	"A task that has already finished is left as it is: \"Task/NAME already\n"
	"Succeeded: nothing to stop\" (exit 0).\n"
	"Dependents of a stopped task fail with DependencyFailed.\n"
	CLUSTER_HELP("Sets annotation paddock.dev/stop=true; the cluster's controller stops the run.\n")
	"\n"
	"Example:\n"
	"  paddock --kubeconfig ~/.kube/config stop hello-paddock\n",
	cmd_stop_fn,
};

/* Delete one object; an exit code (0: done or ignored). */
static int delete_one(struct backend *be, enum model_kind kind, const char *ns, const char *name,
		      bool ignore)
{
	char err[1024] = "";
	char *run_dir = NULL;
	json_object *task = NULL;
	int ret = 0;
	if (!be->kc && kind == MODEL_TASK && store_get(be->rt->store, MODEL_TASK, ns, name, &task) == 0)
		run_dir = runtime_run_dir(be->rt, task);
	json_object_put(task);
	int rc = be->kc ? kcli_delete(be->kc, kind, ns, name, err, sizeof(err))
			: runtime_delete(be->rt, kind, ns, name, err, sizeof(err));
	if (rc == -ENOENT) {
		if (!ignore)
			ret = cli_not_found(model_kind_name(kind), name, ns);
	} else if (rc < 0) {
		cli_error_escaped("%s", err);
		ret = rc == -EHOSTUNREACH ? -1 : CLI_EXIT_FAILED;
	} else if (!be->kc && kind == MODEL_TASK && local_settle(be, ns, name, true) < 0) {
		printf("%s/%s marked for deletion: its run has not ended yet\n", model_kind_name(kind), name);
	} else if (!be->kc && kind == MODEL_TASK && run_dir && access(run_dir, F_OK) == 0 &&
		   local_cleanup(run_dir, err, sizeof(err)) < 0) {
		cli_error_escaped("task \"%s/%s\" deleted, but its run directory remains: %s; "
				  "`paddock controller` retries removing it",
				  ns, name, err);
		ret = CLI_EXIT_FAILED;
	} else {
		printf("%s/%s deleted\n", model_kind_name(kind), name);
	}
	free(run_dir);
	return ret;
}

static int cmd_delete_fn(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *ns = NULL, *file = NULL;
	enum model_kind kind = MODEL_TASK;
	struct strv names = { 0 };
	bool ignore = false;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--ignore-not-found"))
			ignore = true;
	int ret = name_args(&cmd_delete, argc, argv, &ns, &kind, &names, &file);
	if (ret) {
		strv_free(&names);
		return ret;
	}
	json_object **docs = NULL;
	size_t ndocs = 0;
	struct backend be;
	if ((ret = be_open(ctx, ns, false, &be)) == 0 && file)
		ret = read_manifests(ctx, file, &docs, &ndocs);
	if (ret == 0) {
		ns = be.ns;
		/* The objects of -f FILE, each in its document's namespace. */
		for (size_t i = 0; i < ndocs; i++) {
			json_object *md = jget(docs[i], "metadata");
			int k = model_kind_parse(jstr(docs[i], "kind") ? jstr(docs[i], "kind") : "");
			const char *nm = jstr(md, "name");
			if (k < 0 || !nm) {
				cli_error("%s: document %zu: no kind Task, Agent, Secret or ConfigMap with "
					  "metadata.name: nothing to delete",
					  file, i + 1);
				ret = CLI_EXIT_FAILED;
				continue;
			}
			int r = delete_one(&be, (enum model_kind)k,
					   jstr(md, "namespace") && !be.kc ? jstr(md, "namespace") : ns, nm, ignore);
			if (r < 0) {
				ret = CLI_EXIT_FAILED;
				break; /* the server is unreachable: once is enough */
			}
			if (r)
				ret = r;
		}
		for (size_t i = 0; i < names.n; i++) {
			enum model_kind k = kind;
			const char *nm = split_kind(&cmd_delete, names.v[i], &k);
			int r = nm ? delete_one(&be, k, ns, nm, ignore) : CLI_EXIT_USAGE;
			if (r < 0) {
				ret = CLI_EXIT_FAILED;
				break;
			}
			if (r)
				ret = r;
		}
	}
	if (docs)
		manifest_docs_free(docs, ndocs);
	be_close(&be);
	strv_free(&names);
	return ret;
}

const struct cli_command cmd_delete = {
	"delete", "delete tasks (killing their runs), agents, spawners, budgets, secrets or configmaps",
	"Usage: paddock delete [task|agent|spawner|budget|secret|configmap] NAME... [-n NS] [--ignore-not-found]\n"
	"       paddock delete KIND/NAME...    paddock delete -f FILE (\"-\": stdin)\n"
	"\n"
	"-f deletes the objects a manifest file names (each document's kind,\n"
	"metadata.name and metadata.namespace), as kubectl delete -f.\n"
	"A task is marked for deletion (metadata.deletionTimestamp); the controller\n"
	"kills its run, removes its run directory, then the task and its events.\n"
	"With no `paddock controller` running, this command does that itself.  It\n"
	"returns once the task is gone (at most 60 s).\n"
	CLUSTER_HELP("Deletes with propagation Background: a task's Job goes by garbage collection.\n")
	"\n"
	"Examples:\n"
	"  paddock delete task hello-paddock\n"
	"  paddock delete task/q1 agent/hello\n"
	"  paddock delete -f etc/examples/hello-agent.yaml\n",
	cmd_delete_fn,
};

/* ---- controller -------------------------------------------------------- */

/* Listen on addr; "WHAT listening" with the port, or "WHAT disabled". */
static void listen_logged(struct metrics *m, const char *addr, const char *what)
{
	char err[512], msg[64];
	if (metrics_listen(m, addr, err, sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "%s disabled", what);
		log_error(msg, "error", err);
		return;
	}
	char port[16];
	snprintf(port, sizeof(port), "%d", metrics_port(m));
	snprintf(msg, sizeof(msg), "%s listening", what);
	log_info(msg, "listen", addr, "port", port);
}

/* The controller's /metrics, /healthz and /readyz.  An observer: a busy
 * port is logged and the controller goes on without it. */
static struct metrics *start_metrics(struct cli_ctx *ctx, struct dash *dash, const char *hooks_dir,
				     struct intake **in, struct metrics *m)
{
	if (!m)
		m = metrics_new();
	if (!ctx->cfg->dashboard_listen)
		dashboard_attach(dash, m);
	metrics_plugin_failures(m, ctx->plugins ? (long)ctx->plugins->n_refused : 0);
	metrics_set_default_limits(m, &ctx->cfg->default_limits);
	char err[512];
	/* Spawners' webhooks on the same listener, routed before it listens:
	 * a delivery never finds it without them. */
	if (hooks_dir && intake_start(hooks_dir, m, in, err, sizeof(err)) < 0)
		log_error("webhooks disabled", "error", err);
	listen_logged(m, ctx->cfg->listen, "metrics endpoint");
	return m;
}

/* dashboard.listen: the dashboard on a listener of its own (NULL
 * otherwise; free it after dashboard_shutdown).  An observer, as above. */
static struct metrics *dashboard_listener(struct cli_ctx *ctx, struct dash *dash)
{
	if (!dash || !ctx->cfg->dashboard_listen)
		return NULL;
	struct metrics *own = metrics_new();
	dashboard_attach(dash, own);
	listen_logged(own, ctx->cfg->dashboard_listen, "dashboard");
	return own;
}

/* The Kubernetes backend's controller: informers, the Lease, Jobs; the
 * dashboard of every namespace's Tasks as the controller's service
 * account sees them (cli/dashkube.c), read-only unless dashboard.token. */
static int controller_kube(struct cli_ctx *ctx)
{
	char err[512];
	if (dashboard_check_listen(ctx->cfg, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return CLI_EXIT_CONFIG;
	}
	install_signals();
	struct dash *dash = NULL;
	if (ctx->cfg->dashboard_enabled) {
		struct dash_source src;
		struct dash_opts o = { .listen = ctx->cfg->dashboard_listen ? ctx->cfg->dashboard_listen
									  : ctx->cfg->listen,
				       .token = ctx->cfg->dashboard_token, .ticker = true };
		if (dash_source_kube(ctx, NULL, true, &src, err, sizeof(err)) < 0 ||
		    dashboard_new_source(ctx->cfg, &src, &o, &dash, err, sizeof(err)) < 0)
			log_error("dashboard disabled", "error", err);
	}
	struct metrics *m = metrics_new();
	/* Spawners' webhooks, routed before the listener starts */
	struct kube_hook *hk = NULL;
	if (kube_hook_start(ctx->kubeconfig ? ctx->kubeconfig : ctx->cfg->kubeconfig,
			    ctx->kube_context, m, &hk, err, sizeof(err)) < 0)
		log_error("webhooks disabled", "error", err);
	m = start_metrics(ctx, dash, NULL, NULL, m);
	struct metrics *dm = dashboard_listener(ctx, dash);
	struct kube_controller_opts o = {
		.kubeconfig = ctx->kubeconfig,
		.context = ctx->kube_context,
		.metrics = m,
	};
	int rc = kube_controller_run(ctx->cfg, ctx->plugins, &o, &stop_flag, err, sizeof(err));
	dashboard_shutdown(dash); /* its streams end before the listeners stop */
	metrics_free(dm);
	metrics_free(m);
	dashboard_free(dash);
	kube_hook_free(hk);
	if (rc < 0) {
		cli_error("%s", err);
		return CLI_EXIT_CONFIG;
	}
	return CLI_EXIT_OK;
}

/* SIGHUP: reread paddock.yaml.  The controller checks the file as
 * `config check` would (the config, then every plugin it enables); a bad
 * file is logged and the running config kept.  A good one restarts the
 * controller in place (exec of the same command line): the new config and
 * plugins load as at startup, and live runs are re-adopted, as after any
 * restart. */
static volatile sig_atomic_t reload_flag;

static void on_hup(int sig)
{
	(void)sig;
	reload_flag = 1;
	stop_flag = 1;
}

/* True when the file passes the check (restart with it); false keeps
 * the running config. */
static bool reload_ok(struct cli_ctx *ctx)
{
	char err[1024];
	struct pd_config *cfg = NULL;
	const char *path = ctx->cfg->path ? ctx->cfg->path : ctx->config_path;
	int rc = config_load(path, &cfg, err, sizeof(err));
	struct plugin_set *ps = NULL;
	if (rc == 0)
		rc = plugins_load(cfg, true, &ps, err, sizeof(err));
	plugins_free(ps);
	config_free(cfg);
	if (rc < 0) {
		log_error("SIGHUP: the config was not reloaded; the controller keeps the one it runs",
			  "path", path, "error", err);
		return false;
	}
	return true;
}

/* The same command line again, from /proc/self/cmdline. */
static void reexec(void)
{
	char *data = NULL;
	size_t len = 0;
	if (read_file("/proc/self/cmdline", 64 * 1024, &data, &len) < 0 || !len) {
		log_error("SIGHUP: cannot read /proc/self/cmdline to restart; exiting");
		return;
	}
	struct strv args = { 0 };
	for (size_t i = 0; i < len; i += strlen(data + i) + 1)
		strv_push(&args, data + i);
	free(data);
	fflush(NULL);
	execv("/proc/self/exe", args.v);
	log_error("SIGHUP: cannot restart; exiting", "error", strerror(errno));
	strv_free(&args);
}

static int cmd_controller_fn(struct cli_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") && strcmp(argv[i], "-h"))
			return cli_usage_error(NULL, "controller: unexpected argument \"%s\"", argv[i]);
	struct runtime *rt = NULL;
	if (cli_load_plugins(ctx, true) < 0)
		return CLI_EXIT_CONFIG;
	if (kcli_wanted(ctx))
		return controller_kube(ctx);
	char oerr[512];
	if (runtime_open(ctx->cfg, ctx->plugins, &rt, oerr, sizeof(oerr)) < 0) {
		cli_error("%s", oerr);
		return CLI_EXIT_CONFIG;
	}
	/* The dashboard shows every prompt and log: beyond loopback only
	 * with a token (refused before anything starts). */
	if (dashboard_check_listen(ctx->cfg, oerr, sizeof(oerr)) < 0) {
		cli_error("%s", oerr);
		runtime_close(rt);
		return CLI_EXIT_CONFIG;
	}
	install_signals();
	bool said = false;
	int r;
	while ((r = runtime_lock(rt)) == 0 && !stop_flag) {
		if (!said) {
			log_info("another controller holds the lock; waiting", "state_dir", rt->state_dir);
			said = true;
		}
		sleep(1);
	}
	if (r < 0) {
		cli_error("%s/controller.lock: %s", rt->state_dir, strerror(-r));
		runtime_close(rt);
		return CLI_EXIT_FAILED;
	}
	log_info("controller started", "state_dir", rt->state_dir, "backend", ctx->cfg->backend, "isolation",
		 ctx->cfg->isolation);
	/* The endpoint is an observer: a busy port is logged, the controller
	 * keeps reconciling (listening only once we hold the lock, so a
	 * waiting second controller does not take the port). */
	struct dash *dash = NULL;
	if (ctx->cfg->dashboard_enabled &&
	    dashboard_new(ctx->cfg, rt->state_dir, true, &dash, oerr, sizeof(oerr)) < 0)
		log_error("dashboard disabled", "error", oerr);
	struct intake *in = NULL;
	struct metrics *m = start_metrics(ctx, dash, rt->state_dir, &in, NULL);
	struct metrics *dm = dashboard_listener(ctx, dash);
	rt->metrics = m;
	struct local_github *gh = NULL; /* Spawners' github source: a thread of its own */
	if (local_github_start(rt->state_dir, ctx->cfg, m, &gh, oerr, sizeof(oerr)) < 0)
		log_error("github polling disabled", "error", oerr);
	ctlinfo_write(rt->state_dir, ctx->cfg, ctx->plugins);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	for (;;) {
		(void)runtime_serve(rt, &stop_flag);
		if (!reload_flag || reload_ok(ctx))
			break; /* a stop, or a good file: restart with it */
		reload_flag = 0; /* a bad file: serve on with the old config */
		stop_flag = 0;
	}
	log_info(reload_flag ? "controller reloading paddock.yaml: restarting; runs keep going under their supervisors"
			     : "controller stopping; runs keep going under their supervisors");
	local_github_free(gh);
	rt->metrics = NULL;
	dashboard_shutdown(dash); /* its streams end before the listener stops */
	metrics_free(dm);
	metrics_free(m);
	dashboard_free(dash);
	intake_free(in);
	runtime_close(rt);
	if (reload_flag)
		reexec();
	return CLI_EXIT_OK;
}

const struct cli_command cmd_controller = {
	"controller", "run the controller daemon, local or on Kubernetes (until SIGTERM)",
	"Usage: paddock controller\n"
	"\n"
	"The long-running daemon of the local backend.  One controller acts at a time\n"
	"(STATE_DIR/controller.lock); a second one waits.  Runs are owned by their own\n"
	"supervisor processes, so stopping or killing the controller never loses a\n"
	"run: a restarted controller re-adopts live runs and collects finished ones.\n"
	"SIGTERM or SIGINT stop it gracefully.  SIGHUP rereads the config: a file\n"
	"that passes the check of `paddock config check` restarts the controller in\n"
	"place with it (runs keep going and are re-adopted); a bad one is logged and\n"
	"the running config kept.  STATE_DIR/controller.json records what it loaded\n"
	"(paddock status, paddock config check).\n"
	"\n"
	"Kubernetes (backend: kubernetes, or paddock --kubeconfig FILE controller):\n"
	"it watches Tasks, Agents and its Jobs in every namespace and turns each\n"
	"admitted Task into a Job + ConfigMap in the Agent's namespace.  Replicas\n"
	"elect a leader on the Lease paddock-controller (kubernetes.leaseNamespace,\n"
	"else $POD_NAMESPACE, else paddock-system); only the leader acts, and SIGTERM\n"
	"hands the Lease over at once.  The identity is $POD_NAME, else HOST_PID.\n"
	"\n"
	"Both also serve the dashboard there, or on dashboard.listen (docs/operations.md):\n"
	"live tasks, logs and Agents (on Kubernetes: every namespace's, read with\n"
	"the controller's credentials); read-only unless dashboard.token is set.  A\n"
	"dashboard listener beyond 127.0.0.1 needs dashboard.token (or\n"
	"dashboard.enabled: false): the controller refuses to start otherwise.\n"
	"\n"
	"Both serve /metrics, /healthz and /readyz on controller.listen\n"
	"(default 127.0.0.1:9464); on Kubernetes /readyz says \"ok: leader\" or\n"
	"\"ok: standby\", and /readyz?leader is 503 on a standby.\n"
	"\n"
	"Examples:\n"
	"  paddock controller\n"
	"  paddock --kubeconfig ~/.kube/config controller\n",
	cmd_controller_fn,
};
