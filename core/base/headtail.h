/* SPDX-License-Identifier: MIT */
/*
 * base/headtail.h - a byte stream kept within a cap by its head and its
 * tail, with one line marking where and how much was cut between them:
 * the start of a run's log says what it set out to do, its end holds the
 * final error and the outputs block; the middle is what a cap can lose.
 * The head is handed back as it comes (to be written out at once); the
 * tail is held in a ring, in memory, until the end.
 */
#ifndef PADDOCK_BASE_HEADTAIL_H
#define PADDOCK_BASE_HEADTAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

/* Room kept in the cap for what a keeper adds at the cut: the marker
 * line and, locally, the note written when the head fills. */
#define HEADTAIL_RESERVE 256
/* The smallest cap configuration accepts (limits.logBytesPerRun, base/conf.c):
 * below 4 * HEADTAIL_RESERVE the tail gets no share, and a log whose
 * keeper says its end is held would lose that end. */
#define HEADTAIL_CAP_MIN (16 * HEADTAIL_RESERVE)
/* The marker's fixed start, for readers that look for it. */
#define HEADTAIL_MARK_PREFIX "[paddock] "

struct headtail {
	size_t head_cap, tail_cap;
	size_t head_len;     /* bytes handed back as the head */
	bool head_nl;        /* the head's last byte is a newline */
	char *ring;          /* tail_cap bytes once the head is full; owned */
	size_t ring_len, ring_pos;
	uint64_t seen;       /* bytes fed in all */
};

/* Head and tail share `cap` less HEADTAIL_RESERVE (a cap too small for
 * that: the head takes it all and the marker goes over). */
void headtail_init(struct headtail *h, size_t cap);
/* Feed n bytes; returns how many of the first ones belong to the head
 * (the caller writes them out now); the rest go to the tail. */
size_t headtail_feed(struct headtail *h, const char *p, size_t n);
/* Bytes that will not be kept, as things stand. */
uint64_t headtail_cut(const struct headtail *h);
/* What follows the head, appended to `out`: the held tail when nothing
 * was cut; else the marker line
 * ("[paddock] N bytes cut here (...)") and the tail from its first whole
 * line.  *tail_start (may be NULL) gets the offset in the stream of the
 * first tail byte appended (for timestamps).  Returns the bytes cut.
 * The ring is freed; the keeper can be fed no more. */
uint64_t headtail_finish(struct headtail *h, struct buf *out, uint64_t *tail_start);
void headtail_free(struct headtail *h); /* NULL-safe */

#endif
