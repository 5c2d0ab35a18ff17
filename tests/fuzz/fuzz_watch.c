/* SPDX-License-Identifier: MIT */
/*
 * fuzz_watch.c - the watch stream framing (kube_watchbuf_*).
 *
 * Input: byte 0 picks max_event (1..192, or the 16 MiB default); bytes
 * 1-4 seed the chunk sizes; the rest is the stream.
 *
 * Invariants beyond the sanitizers: the events delivered (type and
 * object) and the result are the same whether the stream comes whole,
 * in random chunks (including empty feeds) or one line at a time; each
 * event's type is one of the five and its object a mapping; the buffer
 * never holds more than max_event bytes; an error comes with a message
 * and is -EMSGSIZE or -EBADMSG.
 */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "kube/client.h"
#include "base/util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup(LOG_ERR, LOG_FORMAT_KV);
	return 0;
}

static void on_event(void *ctx, enum kube_event_type type, json_object *obj)
{
	struct buf *log = ctx;
	FUZZ_CHECK(type >= KUBE_ADDED && type <= KUBE_ERROR, "event type %d", (int)type);
	FUZZ_CHECK(json_object_is_type(obj, json_type_object), "event object not a mapping");
	buf_printf(log, "%d %s\n", (int)type,
		   json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
}

struct run {
	struct buf log;
	int rc;
};

/* Feed s[0..n) in pieces chosen by `next` (0: the rest at once). */
static void run(struct run *r, const char *s, size_t n, size_t max, uint32_t seed, int mode)
{
	struct kube_watchbuf w;
	char err[256];
	buf_init(&r->log, 0);
	kube_watchbuf_init(&w, max, on_event, &r->log);
	r->rc = 0;
	for (size_t i = 0; i < n && r->rc == 0;) {
		size_t k = n - i;
		if (mode == 1) {
			k = fuzz_rand(&seed) % 29; /* 0-byte feeds too */
		} else if (mode == 2) {
			const char *nl = memchr(s + i, '\n', n - i);
			k = nl ? (size_t)(nl - (s + i)) + 1 : n - i;
		}
		if (k > n - i)
			k = n - i;
		err[0] = '\0';
		r->rc = kube_watchbuf_feed(&w, s + i, k, err, sizeof(err));
		FUZZ_CHECK(w.len <= w.max_event && w.cap <= w.max_event, "buffer %zu/%zu over %zu",
			   w.len, w.cap, w.max_event);
		if (r->rc < 0)
			FUZZ_CHECK((r->rc == -EMSGSIZE || r->rc == -EBADMSG) && err[0],
				   "rc %d, message \"%s\"", r->rc, err);
		i += k;
	}
	kube_watchbuf_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5)
		return 0;
	size_t max = data[0] < 0xc0 ? 1 + data[0] % 192 : 0;
	uint32_t seed = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 |
			(uint32_t)data[4] << 24;
	size_t n = size - 5;
	char *s = fuzz_dup(data + 5, n);
	struct run whole, chunked, lines;
	run(&whole, s, n, max, seed, 0);
	run(&chunked, s, n, max, seed, 1);
	run(&lines, s, n, max, seed, 2);
	FUZZ_CHECK(whole.rc == chunked.rc && whole.rc == lines.rc, "rc %d / %d / %d", whole.rc,
		   chunked.rc, lines.rc);
	FUZZ_CHECK(str_eq(whole.log.data, chunked.log.data), "chunked events differ");
	FUZZ_CHECK(str_eq(whole.log.data, lines.log.data), "line-by-line events differ");
	buf_free(&whole.log);
	buf_free(&chunked.log);
	buf_free(&lines.log);
	free(s);
	return 0;
}
