/* SPDX-License-Identifier: MIT */
/*
 * base/headtail.c - a stream kept by its head and its tail (headtail.h).
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/headtail.h"

void headtail_init(struct headtail *h, size_t cap)
{
	memset(h, 0, sizeof(*h));
	h->head_nl = true;
	if (cap <= 4 * HEADTAIL_RESERVE) {
		h->head_cap = cap;
		return;
	}
	h->head_cap = (cap - HEADTAIL_RESERVE) / 2;
	h->tail_cap = cap - HEADTAIL_RESERVE - h->head_cap;
}

/* The last tail_cap bytes fed stay in the ring. */
static void ring_put(struct headtail *h, const char *p, size_t n)
{
	if (!h->tail_cap)
		return;
	if (!h->ring)
		h->ring = xmalloc(h->tail_cap);
	if (n >= h->tail_cap) {
		memcpy(h->ring, p + n - h->tail_cap, h->tail_cap);
		h->ring_pos = 0;
		h->ring_len = h->tail_cap;
		return;
	}
	size_t first = h->tail_cap - h->ring_pos;
	if (first > n)
		first = n;
	memcpy(h->ring + h->ring_pos, p, first);
	memcpy(h->ring, p + first, n - first);
	h->ring_pos = (h->ring_pos + n) % h->tail_cap;
	h->ring_len = h->ring_len + n > h->tail_cap ? h->tail_cap : h->ring_len + n;
}

size_t headtail_feed(struct headtail *h, const char *p, size_t n)
{
	size_t room = h->head_cap - h->head_len;
	size_t take = n < room ? n : room;
	if (take) {
		h->head_len += take;
		h->head_nl = p[take - 1] == '\n';
	}
	h->seen += n;
	ring_put(h, p + take, n - take);
	return take;
}

uint64_t headtail_cut(const struct headtail *h)
{
	return h->seen - h->head_len - h->ring_len;
}

uint64_t headtail_finish(struct headtail *h, struct buf *out, uint64_t *tail_start)
{
	/* the ring in order: [ring_pos, end) then [0, ring_pos) once full */
	size_t start = h->ring_len < h->tail_cap ? 0 : h->ring_pos;
	size_t skip = 0;
	uint64_t cut = headtail_cut(h);
	if (cut) {
		/* From the tail's first whole line, if it has one. */
		for (size_t i = 0; i < h->ring_len; i++)
			if (h->ring[(start + i) % h->tail_cap] == '\n') {
				skip = i + 1 < h->ring_len ? i + 1 : 0;
				break;
			}
		cut += skip;
		(void)buf_printf(out, "%s" HEADTAIL_MARK_PREFIX
				 "%" PRIu64 " bytes cut here (limits.logBytesPerRun keeps the log's head and tail)\n",
				 h->head_nl ? "" : "\n", cut);
	}
	if (tail_start)
		*tail_start = h->seen - h->ring_len + skip;
	for (size_t i = skip; i < h->ring_len;) {
		size_t at = (start + i) % h->tail_cap;
		size_t run = h->tail_cap - at < h->ring_len - i ? h->tail_cap - at : h->ring_len - i;
		(void)buf_append(out, h->ring + at, run);
		i += run;
	}
	free(h->ring);
	h->ring = NULL;
	h->ring_len = h->ring_pos = 0;
	return cut;
}

void headtail_free(struct headtail *h)
{
	if (!h)
		return;
	free(h->ring);
	h->ring = NULL;
}
