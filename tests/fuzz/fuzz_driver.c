/* SPDX-License-Identifier: MIT */
/*
 * fuzz_driver.c - the stream parsers of the in-tree drivers (exec,
 * claude-code, codex, gemini, opencode), through the plugin ABI:
 * descriptor -> ops->create -> parser_new -> parser_line per line ->
 * parser_finish -> parser_free -> destroy.
 *
 * The driver sources are compiled into this binary (instrumented) by
 * build.sh, each with its paddock_plugin_entry renamed to
 * fuzz_entry_<driver>.
 *
 * Input: byte 0 picks the driver, byte 1 the exit code (0, 1, 2, 137,
 * or -1), the rest is the agent's output, split at "\n"; each line is
 * handed over as an exact-size heap copy without a NUL, as the ABI
 * allows, so a read past `len` is caught.
 *
 * Invariants beyond the sanitizers: the result's outcome is one of the
 * three values, result and error are NUL-terminated inside their arrays,
 * tokens are -1 or >= 0, and SUCCESS needs exit code 0.
 */
#include <paddock/plugin.h>
#include <stdarg.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

const struct paddock_plugin *fuzz_entry_exec(void);
const struct paddock_plugin *fuzz_entry_claude_code(void);
const struct paddock_plugin *fuzz_entry_codex(void);
const struct paddock_plugin *fuzz_entry_gemini(void);
const struct paddock_plugin *fuzz_entry_opencode(void);

static paddock_plugin_entry_fn const entries[] = {
	fuzz_entry_exec, fuzz_entry_claude_code, fuzz_entry_codex, fuzz_entry_gemini,
	fuzz_entry_opencode,
};
static const char *const names[] = { "exec", "claude-code", "codex", "gemini", "opencode" };

/* ---- a minimal host ----------------------------------------------- */

static void h_log(void *ctx, int level, const char *fmt, ...)
{
	(void)ctx;
	(void)level;
	char b[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, sizeof(b), fmt, ap); /* format it: catches bad varargs */
	va_end(ap);
}

static const char *h_config_get(void *ctx, const char *key)
{
	(void)ctx;
	(void)key;
	return NULL;
}

static int h_secret_get(void *ctx, const char *ns, const char *name, const char *key,
			char **value, size_t *len, char *err, size_t errlen)
{
	(void)ctx, (void)ns, (void)name, (void)key, (void)value, (void)len;
	snprintf(err, errlen, "no secrets while fuzzing");
	return -2;
}

static void h_secret_free(void *ctx, char *value, size_t len)
{
	(void)ctx, (void)len;
	free(value);
}

static int h_object_get(void *ctx, const char *kind, const char *ns, const char *name,
			struct paddock_object **out, char *err, size_t errlen)
{
	(void)ctx, (void)kind, (void)ns, (void)name, (void)out;
	snprintf(err, errlen, "no objects while fuzzing");
	return -2;
}

static void h_object_free(void *ctx, struct paddock_object *o)
{
	(void)ctx, (void)o;
}

static int h_http_get(void *ctx, const struct paddock_http_request *req, char **body,
		      size_t *len, long *status, char *err, size_t errlen)
{
	(void)ctx, (void)req, (void)body, (void)len, (void)status;
	snprintf(err, errlen, "no network while fuzzing");
	return -1;
}

static void h_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

static const struct paddock_host host = {
	.size = sizeof(struct paddock_host),
	.abi_major = PADDOCK_ABI_MAJOR,
	.abi_minor = PADDOCK_ABI_MINOR,
	.log = h_log,
	.config_get = h_config_get,
	.secret_get = h_secret_get,
	.secret_free = h_secret_free,
	.object_get = h_object_get,
	.object_free = h_object_free,
	.http_get = h_http_get,
	.free = h_free,
};

/* A rendered line: one human line, short, of a known kind (ABI 1.1). */
static void check_emit(void *ctx, int kind, const char *text, size_t len)
{
	const char *name = ctx;
	FUZZ_CHECK(kind >= PADDOCK_RENDER_TEXT && kind <= PADDOCK_RENDER_NOTE, "%s: render kind %d", name, kind);
	FUZZ_CHECK(kind == PADDOCK_RENDER_TEXT || len <= 1024, "%s: a rendered line of %zu bytes", name, len);
	FUZZ_CHECK(!memchr(text, '\n', len), "%s: a rendered line with a newline", name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t d = data[0] % (sizeof(entries) / sizeof(entries[0]));
	static const int codes[] = { 0, 0, 0, 1, 2, 137, -1, 0 };
	int exit_code = codes[data[1] & 7];
	data += 2;
	size -= 2;

	const struct paddock_plugin *pl = entries[d]();
	FUZZ_CHECK(pl && pl->kind == PADDOCK_KIND_DRIVER && !strcmp(pl->name, names[d]),
		   "bad descriptor for %s", names[d]);
	const struct paddock_driver_ops *ops = pl->ops;
	char err[256];
	void *inst = NULL, *parser = NULL;
	FUZZ_CHECK(ops->create(&host, &inst, err, sizeof(err)) == 0, "%s: create failed", names[d]);
	FUZZ_CHECK(ops->parser_new(inst, &parser) == 0, "%s: parser_new failed", names[d]);
	void *renderer = NULL;
	FUZZ_CHECK(ops->renderer_new(inst, &renderer) == 0, "%s: renderer_new failed", names[d]);

	for (size_t i = 0; i <= size;) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t n = nl ? (size_t)(nl - (data + i)) : size - i;
		if (!nl && n == 0)
			break; /* no empty last line after a final "\n" */
		char *line = fuzz_dup(data + i, n);
		ops->parser_line(parser, line, n);
		ops->renderer_line(renderer, line, n, check_emit, (void *)names[d]);
		struct paddock_run_result so_far = { .size = sizeof(so_far) };
		ops->parser_peek(parser, &so_far);
		FUZZ_CHECK(so_far.input_tokens >= -1 && so_far.output_tokens >= -1, "%s: peek tokens", names[d]);
		free(line);
		i += n + 1;
	}

	struct paddock_run_result out;
	memset(&out, 0xa5, sizeof(out));
	out.size = sizeof(out);
	ops->parser_finish(parser, exit_code, &out);
	FUZZ_CHECK(out.outcome == PADDOCK_OUTCOME_UNKNOWN || out.outcome == PADDOCK_OUTCOME_SUCCESS ||
			   out.outcome == PADDOCK_OUTCOME_FAILED,
		   "%s: outcome %d", names[d], out.outcome);
	FUZZ_CHECK(memchr(out.result, '\0', sizeof(out.result)), "%s: result not terminated",
		   names[d]);
	FUZZ_CHECK(memchr(out.error, '\0', sizeof(out.error)), "%s: error not terminated", names[d]);
#ifndef FUZZ_SKIP_TOKEN_CHECK /* to fuzz past the known token bugs until fixed */
	FUZZ_CHECK(out.input_tokens >= -1 && out.output_tokens >= -1, "%s: tokens %lld/%lld",
		   names[d], (long long)out.input_tokens, (long long)out.output_tokens);
#endif
	FUZZ_CHECK(out.outcome != PADDOCK_OUTCOME_SUCCESS || exit_code == 0,
		   "%s: success with exit code %d", names[d], exit_code);
	FUZZ_CHECK(out.outcome != PADDOCK_OUTCOME_FAILED || out.error[0],
		   "%s: failed without a reason", names[d]);

	ops->renderer_free(renderer);
	ops->parser_free(parser);
	ops->destroy(inst);
	return 0;
}
