/* SPDX-License-Identifier: MIT */
/*
 * util.h - small helpers shared by the whole core: allocation that never
 * returns NULL, a bounded growable buffer, string lists and leveled
 * key=value logging.  Nothing here knows about tasks or plugins.
 */
#ifndef PADDOCK_UTIL_H
#define PADDOCK_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct stat;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PD_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define PD_UNUSED __attribute__((unused))

/* Allocation: abort with a message on out-of-memory (the only abort). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);          /* NULL-safe: returns NULL for NULL */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PD_PRINTF(1, 2);

/* Zero then free `n` bytes (secrets).  NULL-safe. */
void secure_free(void *p, size_t n);

/* Write a message into a caller-supplied error buffer; returns `rc` so
 * callers can `return errf(err, errlen, -EINVAL, "...")`. */
int errf(char *err, size_t errlen, int rc, const char *fmt, ...) PD_PRINTF(4, 5);

/* A growable byte buffer with a hard cap (curl's dynbuf idea).  Appends
 * past `cap` fail with -E2BIG and leave the buffer as it was. */
struct buf {
	char *data;   /* always NUL-terminated when non-NULL */
	size_t len;
	size_t alloc;
	size_t cap;   /* 0: unbounded (only for data we produce ourselves) */
};
void buf_init(struct buf *b, size_t cap);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) PD_PRINTF(2, 3);
char *buf_steal(struct buf *b);        /* owned result, never NULL; resets b */
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Append s percent-encoded: all but RFC 3986's unreserved bytes; as a
 * path segment (segment true), a whole "." or ".." has its dots encoded
 * too, so that it is never a dot segment. */
void buf_put_escaped(struct buf *b, const char *s, bool segment);

/* A NULL-terminated vector of owned strings. */
struct strv {
	char **v;
	size_t n;
	size_t alloc;
};
void strv_push(struct strv *s, const char *str);       /* copies */
void strv_push_owned(struct strv *s, char *str);       /* takes ownership */
void strv_free(struct strv *s);

bool str_eq(const char *a, const char *b);             /* NULL-safe */
bool str_startswith(const char *s, const char *prefix);
bool str_endswith(const char *s, const char *suffix);

/* Read a whole file, at most `cap` bytes (-E2BIG beyond).  Owned result. */
int read_file(const char *path, size_t cap, char **out, size_t *len);
/* Write atomically (tmp + rename) with `mode`. */
int write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);
/* mkdir -p with `mode` for the directories it creates. */
int mkdir_p(const char *path, unsigned mode);
/* Directory trees that someone else (an agent) controls.  One iterative
 * walker: a bounded number of fds (about 35) and no recursion whatever
 * the depth, each directory read once whatever its width, symbolic links
 * never followed, other mounts (st_dev, mount id) never entered; entries
 * that vanish meanwhile are skipped.
 *
 * rm -rf.  Directories the remover may not enter or empty (mode 0000,
 * 0500) get u+rwx first, through an fd.  0 once `path` is gone (or was
 * never there), else the first failure's errno and, in err, what is left:
 * "could not remove 3 entries below /x, first: a/b: Permission denied"
 * (entries: what could not be removed, apart from the directories above
 * them).  A mount point inside is reported, never entered. */
int rm_rf_report(const char *path, char *err, size_t errlen);
int rm_rf(const char *path); /* rm_rf_report without the message */
/* Disk space (st_blocks * 512, the directory itself included; hard links
 * counted each time) and number of entries (the directory itself
 * excluded) below `path`.  Stops with -E2BIG once more than max_entries
 * (> 0) entries are seen; other failures (an unreadable directory: its
 * content is not counted) give their errno.  *bytes and *entries are
 * filled with what was counted whenever the root could be opened. */
int tree_usage(const char *path, int64_t *bytes, int64_t *entries, int64_t max_entries);
/* fchownat(..., AT_SYMLINK_NOFOLLOW) of the directory open at `dirfd`
 * (borrowed, left as it was) and of everything below it, except files
 * with more than one link (also elsewhere: a `git clone` of a local path
 * hard-links its objects).  For a tree only root has written to yet. */
int tree_chown(int dirfd, uid_t uid, gid_t gid, char *err, size_t errlen);

/* Monotonic and wall clocks in milliseconds. */
int64_t now_mono_ms(void);
int64_t now_wall_ms(void);
/* RFC 3339 UTC ("2026-11-22T15:37:55Z") into buf (>= 21 bytes). */
void format_time(int64_t wall_ms, char *buf, size_t n);
/* RFC 3339 UTC with milliseconds ("2026-11-22T15:37:55.123Z"), >= 25 bytes. */
void format_time_ms(int64_t wall_ms, char *buf, size_t n);
/* Parse RFC 3339 UTC, with or without fractional seconds.  -EINVAL if bad. */
int parse_time(const char *s, int64_t *wall_ms);
/* Parse "90", "90s", "15m", "2h", "1h30m" into seconds; -EINVAL if bad. */
int parse_duration(const char *s, long *seconds);

/* ---- logging ---------------------------------------------------- */
enum log_level { LOG_ERR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };
enum log_format { LOG_FORMAT_KV = 0, LOG_FORMAT_JSON = 1 };

void log_setup(int level, int format);
int log_level_from_string(const char *s); /* -1 if unknown */
/* log_kv(LOG_INFO, "task started", "task", "default/x", "pid", "42", NULL):
 * a message, then key/value string pairs ending with NULL.  Values are
 * quoted when needed.  Never pass a secret. */
void log_kv(int level, const char *msg, ...);
#define log_error(...) log_kv(LOG_ERR, __VA_ARGS__, (char *)NULL)
#define log_warn(...) log_kv(LOG_WARN, __VA_ARGS__, (char *)NULL)
#define log_info(...) log_kv(LOG_INFO, __VA_ARGS__, (char *)NULL)
#define log_debug(...) log_kv(LOG_DEBUG, __VA_ARGS__, (char *)NULL)
void log_kvv(int level, const char *msg, va_list ap);

/* NULL when a file of this stat is safe to load or run for this process
 * (owned by root or the effective user, not writable by group or
 * others), else why not (static or in buf). */
const char *file_mode_unsafe(const struct stat *st, char *buf, size_t len);

#endif
