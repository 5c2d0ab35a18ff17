/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "base/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static void oom(void)
{
	static const char msg[] = "paddock: out of memory\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom();
	return q;
}

char *xstrdup(const char *s)
{
	return s ? xstrndup(s, strlen(s)) : NULL;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		oom();
	return s;
}

void secure_free(void *p, size_t n)
{
	if (!p)
		return;
	explicit_bzero(p, n);
	free(p);
}

int errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* ---- buf ---------------------------------------------------------- */

void buf_init(struct buf *b, size_t cap)
{
	b->data = NULL;
	b->len = b->alloc = 0;
	b->cap = cap;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	if (b->cap && (n > b->cap || b->len > b->cap - n))
		return -E2BIG;
	if (b->len + n + 1 > b->alloc) {
		size_t a = b->alloc ? b->alloc : 64;
		while (a < b->len + n + 1)
			a *= 2;
		b->data = xrealloc(b->data, a);
		b->alloc = a;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	int r = buf_append(b, s, (size_t)n);
	free(s);
	return r;
}

char *buf_steal(struct buf *b)
{
	char *d = b->data ? b->data : xstrdup("");
	b->data = NULL;
	b->len = b->alloc = 0;
	return d;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->alloc = 0;
}

void buf_put_escaped(struct buf *b, const char *s, bool segment)
{
	bool dots = segment && (strcmp(s, ".") == 0 || strcmp(s, "..") == 0);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '_' || *p == '~' || (*p == '.' && !dots))
			(void)buf_append(b, p, 1);
		else
			(void)buf_printf(b, "%%%02X", *p);
	}
}

/* ---- strv --------------------------------------------------------- */

void strv_push_owned(struct strv *s, char *str)
{
	if (s->n + 2 > s->alloc) {
		s->alloc = s->alloc ? s->alloc * 2 : 8;
		s->v = xrealloc(s->v, s->alloc * sizeof(char *));
	}
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
}

void strv_push(struct strv *s, const char *str)
{
	strv_push_owned(s, xstrdup(str));
}

void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = s->alloc = 0;
}

bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

bool str_startswith(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_endswith(const char *s, const char *suffix)
{
	if (!s)
		return false;
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* ---- files -------------------------------------------------------- */

int read_file(const char *path, size_t cap, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct buf b;
	buf_init(&b, cap);
	char chunk[65536];
	int rc = 0;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		rc = buf_append(&b, chunk, (size_t)n);
		if (rc < 0)
			break;
	}
	close(fd);
	if (rc < 0) {
		buf_free(&b);
		return rc;
	}
	if (len)
		*len = b.len;
	*out = buf_steal(&b);
	return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	int rc = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	const char *p = data;
	size_t left = len;
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		p += n;
		left -= (size_t)n;
	}
	if (rc == 0 && fchmod(fd, mode) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
out:
	free(tmp);
	return rc;
}

int mkdir_p(const char *path, unsigned mode)
{
	char *p = xstrdup(path);
	int rc = 0;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			rc = -errno;
			goto out;
		}
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		rc = -errno;
out:
	free(p);
	return rc;
}

/* ---- directory trees ------------------------------------------------ */

/*
 * One iterative walker for rm_rf, tree_usage and tree_chown.  Each
 * directory is read once, completely, when it is entered: its
 * non-directories are handled there and then, the names of its
 * subdirectories are kept in its level.  The levels are a heap-allocated
 * stack (no recursion).  The first WALK_KEEP levels keep their fd; deeper
 * ones close it when going down and reopen ".." when coming back up,
 * checked against the dev/ino they had.  So a walk holds at most
 * WALK_KEEP + 3 fds whatever the depth, and reads each directory once
 * whatever its width.  Never follows a symbolic link (every open is
 * O_NOFOLLOW, one component below a directory fd), never enters another
 * mount (st_dev and the mount id, where statx gives it).
 */
#define WALK_KEEP 32

enum walk_op { WALK_RM, WALK_USAGE, WALK_CHOWN };

struct walk_level {
	int fd;          /* -1 while a deeper level is current (levels >= WALK_KEEP) */
	dev_t dev;
	ino_t ino;
	struct strv sub; /* its subdirectories; sub.v[next - 1] is being walked */
	size_t next;
	bool failed;     /* something in it could not be handled */
};

struct walk {
	enum walk_op op;
	uid_t uid;                /* WALK_CHOWN */
	gid_t gid;
	int64_t bytes, entries;   /* WALK_USAGE */
	int64_t max_entries;      /* WALK_USAGE, 0: no limit */
	int root_pfd;             /* the root is root_name below root_pfd */
	const char *root_name;
	dev_t dev;                /* the root's filesystem and mount (0: unknown) */
	uint64_t mnt_id;
	struct walk_level *lv;    /* owned; lv[depth - 1] is the current level */
	size_t depth, alloc;
	int stop;                 /* < 0: stop now (-E2BIG, or lost our way) */
	long nfail;               /* entries that could not be handled */
	int rc;                   /* the first failure... */
	char *first;              /* ... as "relative/path: reason"; owned */
};

/* Record a failure on `name` in the current directory (NULL: on the
 * current directory itself). */
static void walk_fail(struct walk *w, const char *name, int rc, const char *why)
{
	w->nfail++;
	if (w->depth)
		w->lv[w->depth - 1].failed = true;
	if (w->first)
		return;
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 1; i < w->depth; i++)
		(void)buf_printf(&b, "%s%s", i > 1 ? "/" : "", w->lv[i - 1].sub.v[w->lv[i - 1].next - 1]);
	if (name && w->depth)
		(void)buf_printf(&b, "%s%s", b.len ? "/" : "", name);
	const char *path = b.len ? b.data : ".";
	size_t tail = b.len > 200 ? b.len - 200 : 0; /* a deep path: its end */
	w->rc = rc;
	w->first = xasprintf("%s%s: %s", tail ? "..." : "", path + tail, why ? why : strerror(-rc));
	buf_free(&b);
}

/* Open a directory we may not read (mode 0000, 0300...) after adding
 * u+rwx to it, through an O_PATH fd: the very inode checked, never what a
 * symbolic link points to.  -1 with errno set on failure. */
static int open_chmod(int pfd, const char *name)
{
	int p = openat(pfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (p < 0)
		return -1;
	char proc[48];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", p);
	struct stat st;
	int fd = -1, e = EACCES;
	if (fstat(p, &st) == 0 && chmod(proc, (st.st_mode & 07777) | 0700) == 0) {
		fd = openat(p, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		e = errno;
	}
	close(p);
	errno = e;
	return fd;
}

#ifdef STATX_MNT_ID
#define WALK_STATX (STATX_BASIC_STATS | STATX_MNT_ID)
#define STATX_MNT(sx) (((sx)->stx_mask & STATX_MNT_ID) ? (sx)->stx_mnt_id : 0)
#else
#define WALK_STATX STATX_BASIC_STATS
#define STATX_MNT(sx) 0
#endif

/* Open directory `name` below `pfd` and make it the current level (the
 * first one is the root).  0, or a negative errno when it is not entered:
 * recorded unless it is the root, vanished, or another mount not
 * being removed. */
static int walk_push(struct walk *w, int pfd, const char *name)
{
	int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == EACCES && w->op == WALK_RM)
		fd = open_chmod(pfd, name);
	int e = errno;
	struct statx sx;
	if (fd >= 0 && statx(fd, "", AT_EMPTY_PATH, WALK_STATX, &sx) < 0) {
		e = errno;
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		/* Replaced by a non-directory since it was read: remove that. */
		if ((e == ELOOP || e == ENOTDIR) && w->op == WALK_RM && w->depth)
			e = unlinkat(pfd, name, 0) < 0 ? errno : ENOENT;
		if (w->depth && e != ENOENT)
			walk_fail(w, name, -e, NULL);
		return -e;
	}
	dev_t dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	if (!w->depth) {
		w->dev = dev;
		w->mnt_id = STATX_MNT(&sx);
	} else if (dev != w->dev || STATX_MNT(&sx) != w->mnt_id) {
		close(fd);
		if (w->op == WALK_RM)
			walk_fail(w, name, -EXDEV, "a mount point: not entered");
		return -EXDEV;
	}
	if (w->op == WALK_RM && (sx.stx_mode & 0700) != 0700)
		(void)fchmod(fd, (sx.stx_mode & 07777) | 0700);
	if (w->op == WALK_CHOWN && fchown(fd, w->uid, w->gid) < 0)
		walk_fail(w, w->depth ? name : NULL, -errno, NULL);
	if (w->op == WALK_USAGE && !w->depth)
		w->bytes += (int64_t)sx.stx_blocks * 512;
	if (w->depth == w->alloc) {
		w->alloc = w->alloc ? w->alloc * 2 : 64;
		w->lv = xrealloc(w->lv, w->alloc * sizeof(*w->lv));
	}
	w->lv[w->depth++] = (struct walk_level){ .fd = fd, .dev = dev, .ino = sx.stx_ino };
	return 0;
}

/* One entry of the current directory: a subdirectory is kept for later,
 * anything else is handled now. */
static void walk_entry(struct walk *w, const char *name, unsigned char type)
{
	struct walk_level *l = &w->lv[w->depth - 1];
	struct stat st;
	if (w->op != WALK_RM || type == DT_UNKNOWN) {
		if (fstatat(l->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				walk_fail(w, name, -errno, NULL);
			return;
		}
		type = S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
	}
	if (w->op == WALK_USAGE) {
		if (st.st_dev != w->dev)
			return;
		w->entries++;
		w->bytes += (int64_t)st.st_blocks * 512;
		if (w->max_entries > 0 && w->entries > w->max_entries)
			w->stop = -E2BIG;
	}
	if (type == DT_DIR) {
		strv_push(&l->sub, name);
	} else if (w->op == WALK_RM && unlinkat(l->fd, name, 0) < 0) {
		if (errno == EISDIR) /* a directory now */
			strv_push(&l->sub, name);
		else if (errno != ENOENT)
			walk_fail(w, name, -errno, NULL);
	} else if (w->op == WALK_CHOWN && st.st_nlink == 1 && /* else it is elsewhere too */
		   fchownat(l->fd, name, w->uid, w->gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT) {
		walk_fail(w, name, -errno, NULL);
	}
}

/* Read the current directory, all of it (through a dup: the level keeps
 * its fd). */
static void walk_read(struct walk *w)
{
	int fd = fcntl(w->lv[w->depth - 1].fd, F_DUPFD_CLOEXEC, 0);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		walk_fail(w, NULL, -errno, NULL);
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d);
	while (!w->stop) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (!e) {
			if (errno)
				walk_fail(w, NULL, -errno, NULL);
			break;
		}
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			walk_entry(w, e->d_name, e->d_type);
	}
	closedir(d);
}

/* Leave the current level for its parent (reopened through ".." if it
 * was closed, and checked: something moved otherwise) and, when removing,
 * remove it there. */
static void walk_pop(struct walk *w)
{
	struct walk_level *l = &w->lv[w->depth - 1];
	struct walk_level *p = w->depth > 1 ? l - 1 : NULL;
	if (p && p->fd < 0) {
		int fd = openat(l->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int e = errno == ENOENT ? ESTALE : errno; /* removed meanwhile */
		struct stat st;
		if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_dev != p->dev || st.st_ino != p->ino)) {
			close(fd);
			fd = -1;
			e = ESTALE;
		}
		if (fd < 0) {
			walk_fail(w, NULL, -e, e == ESTALE ? "moved while being walked: stopped" : NULL);
			w->stop = -e;
			return;
		}
		p->fd = fd;
	}
	bool failed = l->failed;
	close(l->fd);
	strv_free(&l->sub);
	w->depth--;
	if (p && failed)
		p->failed = true;
	if (w->op != WALK_RM)
		return;
	const char *name = p ? p->sub.v[p->next - 1] : w->root_name;
	if (unlinkat(p ? p->fd : w->root_pfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT &&
	    !(failed && (errno == ENOTEMPTY || errno == EEXIST)))
		walk_fail(w, name, -errno, NULL);
}

/* Walk the directory `name` below `pfd`.  A negative errno if the root
 * cannot be opened (nothing recorded), else 0: see w->nfail, w->stop. */
static int walk_run(struct walk *w, int pfd, const char *name)
{
	w->root_pfd = pfd;
	w->root_name = name;
	int rc = walk_push(w, pfd, name);
	if (rc < 0)
		return rc;
	walk_read(w);
	while (w->depth && !w->stop) {
		struct walk_level *l = &w->lv[w->depth - 1];
		if (l->next == l->sub.n) {
			walk_pop(w);
			continue;
		}
		if (walk_push(w, l->fd, l->sub.v[l->next++]) < 0)
			continue;
		l = &w->lv[w->depth - 2]; /* w->lv may have moved */
		if (w->depth - 2 >= WALK_KEEP) {
			close(l->fd);
			l->fd = -1;
		}
		walk_read(w);
	}
	for (size_t i = 0; i < w->depth; i++) {
		if (w->lv[i].fd >= 0)
			close(w->lv[i].fd);
		strv_free(&w->lv[i].sub);
	}
	free(w->lv);
	w->lv = NULL;
	w->depth = 0;
	return 0;
}

int rm_rf_report(const char *path, char *err, size_t errlen)
{
	struct walk w = { .op = WALK_RM };
	struct stat st;
	int rc;
	if (lstat(path, &st) < 0)
		rc = -errno;
	else if (!S_ISDIR(st.st_mode)) /* a symbolic link goes, not what it points to */
		rc = unlink(path) < 0 ? -errno : 0;
	else
		rc = walk_run(&w, AT_FDCWD, path);
	if (rc == -ENOENT)
		rc = 0;
	else if (rc < 0)
		rc = errf(err, errlen, rc, "cannot remove %s: %s", path, strerror(-rc));
	else if (w.nfail)
		rc = errf(err, errlen, w.rc, "could not remove %ld entr%s below %s, first: %s", w.nfail,
			  w.nfail == 1 ? "y" : "ies", path, w.first);
	free(w.first);
	return rc;
}

int rm_rf(const char *path)
{
	return rm_rf_report(path, NULL, 0);
}

int tree_usage(const char *path, int64_t *bytes, int64_t *entries, int64_t max_entries)
{
	struct walk w = { .op = WALK_USAGE, .max_entries = max_entries };
	int rc = walk_run(&w, AT_FDCWD, path);
	free(w.first);
	if (rc < 0)
		return rc;
	*bytes = w.bytes;
	*entries = w.entries;
	return w.stop ? w.stop : w.rc;
}

int tree_chown(int dirfd, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct walk w = { .op = WALK_CHOWN, .uid = uid, .gid = gid };
	int rc = walk_run(&w, dirfd, ".");
	if (rc < 0)
		rc = errf(err, errlen, rc, "cannot open the directory to change its owner: %s", strerror(-rc));
	else if (w.nfail)
		rc = errf(err, errlen, w.rc, "could not change the owner of %ld entr%s to %ld:%ld, first: %s",
			  w.nfail, w.nfail == 1 ? "y" : "ies", (long)uid, (long)gid, w.first);
	free(w.first);
	return rc;
}

/* ---- time --------------------------------------------------------- */

int64_t now_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void format_time(int64_t wall_ms, char *buf, size_t n)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void format_time_ms(int64_t wall_ms, char *buf, size_t n)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	char base[32];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, n, "%s.%03dZ", base, (int)(wall_ms % 1000));
}

int parse_time(const char *s, int64_t *wall_ms)
{
	if (!s)
		return -EINVAL;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	int64_t ms = 0;
	if (*p == '.') {
		int digits = 0;
		for (p++; isdigit((unsigned char)*p); p++, digits++)
			if (digits < 3)
				ms = ms * 10 + (*p - '0');
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (*p != 'Z' || p[1])
		return -EINVAL;
	*wall_ms = (int64_t)timegm(&tm) * 1000 + ms;
	return 0;
}

int parse_duration(const char *s, long *seconds)
{
	if (!s || !*s)
		return -EINVAL;
	long total = 0;
	const char *p = s;
	while (*p) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		errno = 0;
		char *end;
		long v = strtol(p, &end, 10);
		if (errno || v < 0)
			return -EINVAL;
		long mult = 1;
		switch (*end) {
		case '\0': mult = 1; break;
		case 's': mult = 1; end++; break;
		case 'm': mult = 60; end++; break;
		case 'h': mult = 3600; end++; break;
		case 'd': mult = 86400; end++; break;
		default: return -EINVAL;
		}
		if (v > LONG_MAX / mult || total > LONG_MAX - v * mult)
			return -ERANGE;
		total += v * mult;
		p = end;
	}
	*seconds = total;
	return 0;
}

/* ---- logging ------------------------------------------------------ */

static int log_max = LOG_INFO;
static int log_fmt = LOG_FORMAT_KV;

void log_setup(int level, int format)
{
	log_max = level;
	log_fmt = format;
}

int log_level_from_string(const char *s)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (str_eq(s, names[i]))
			return (int)i;
	return -1;
}

static void put_value(struct buf *b, const char *v, bool json)
{
	bool quote = json || !*v;
	for (const char *p = v; !quote && *p; p++)
		if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20)
			quote = true;
	if (!quote) {
		buf_puts(b, v);
		return;
	}
	buf_puts(b, "\"");
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_printf(b, "\\%c", *p);
		else if (*p == '\n')
			buf_puts(b, "\\n");
		else if (*p < 0x20)
			buf_printf(b, "\\u%04x", *p);
		else
			buf_append(b, p, 1);
	}
	buf_puts(b, "\"");
}

void log_kvv(int level, const char *msg, va_list ap)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	if (level > log_max)
		return;
	if (level < 0)
		level = 0;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	char ts[32];
	format_time(now_wall_ms(), ts, sizeof(ts));
	struct buf b;
	buf_init(&b, 0);
	bool json = log_fmt == LOG_FORMAT_JSON;
	if (json) {
		buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":", ts, names[level]);
		put_value(&b, msg, true);
	} else {
		buf_printf(&b, "time=%s level=%s msg=", ts, names[level]);
		put_value(&b, msg, false);
	}
	for (;;) {
		const char *k = va_arg(ap, const char *);
		if (!k)
			break;
		const char *v = va_arg(ap, const char *);
		if (json) {
			buf_puts(&b, ",");
			put_value(&b, k, true);
			buf_puts(&b, ":");
		} else {
			buf_printf(&b, " %s=", k);
		}
		put_value(&b, v ? v : "", json);
	}
	buf_puts(&b, json ? "}\n" : "\n");
	fputs(b.data, stderr);
	buf_free(&b);
}

void log_kv(int level, const char *msg, ...)
{
	va_list ap;
	va_start(ap, msg);
	log_kvv(level, msg, ap);
	va_end(ap);
}

const char *file_mode_unsafe(const struct stat *st, char *buf, size_t len)
{
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(buf, len, "writable by group or others (mode %04o): chmod go-w",
			 (unsigned)(st->st_mode & 07777));
		return buf;
	}
	uid_t me = geteuid();
	if (st->st_uid != 0 && st->st_uid != me) {
		snprintf(buf, len, "owned by uid %u, not by root or the current user (uid %u): "
			 "chown it", (unsigned)st->st_uid, (unsigned)me);
		return buf;
	}
	return NULL;
}
