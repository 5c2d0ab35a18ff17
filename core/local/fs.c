/* SPDX-License-Identifier: MIT */
/*
 * local/fs.c - creating files and directories below a run's workspace or
 * home without ever following a symbolic link: a git checkout done
 * earlier may contain links, and a later file must not land outside.
 */
#include "config.h"
#include "local/local.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int walk_err(char *err, size_t errlen, int rc, const char *rel, const char *comp)
{
	if (rc == -ELOOP || rc == -ENOTDIR)
		return errf(err, errlen, rc,
			    "\"%s\": component \"%s\" is a symbolic link or not a directory: refusing to follow it",
			    rel, comp);
	return errf(err, errlen, rc, "\"%s\": cannot open or create \"%s\": %s", rel, comp,
		    strerror(-rc));
}

int local_open_dir(int dirfd, const char *rel, bool create, unsigned dmode, char *err,
		   size_t errlen)
{
	int cur = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return errf(err, errlen, -errno, "cannot open directory: %s", strerror(errno));
	char *copy = xstrdup(rel ? rel : "");
	char *save = NULL;
	int rc = 0;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, ".") )
			continue;
		if (!strcmp(c, "..")) {
			rc = errf(err, errlen, -EINVAL, "\"%s\": \"..\" not allowed", rel);
			break;
		}
		int nfd = openat(cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT && create) {
			if (mkdirat(cur, c, 0700) < 0 && errno != EEXIST) {
				rc = walk_err(err, errlen, -errno, rel, c);
				break;
			}
			nfd = openat(cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			/* The umask must not narrow nor widen what was asked. */
			if (nfd >= 0 && fchmod(nfd, dmode & 07777) < 0) {
				rc = walk_err(err, errlen, -errno, rel, c);
				close(nfd);
				break;
			}
		}
		if (nfd < 0) {
			rc = walk_err(err, errlen, -errno, rel, c);
			break;
		}
		close(cur);
		cur = nfd;
	}
	free(copy);
	if (rc < 0) {
		close(cur);
		return rc;
	}
	return cur;
}

int local_write_at(int dirfd, const char *rel, const void *data, size_t len, unsigned mode,
		   char *err, size_t errlen)
{
	char *dir = xstrdup(rel);
	char *slash = strrchr(dir, '/');
	const char *base = rel;
	int pfd;
	int rc = 0;
	int fd = -1;
	if (slash) {
		*slash = '\0';
		base = rel + (slash - dir) + 1;
		pfd = local_open_dir(dirfd, dir, true, 0755, err, errlen);
	} else {
		pfd = local_open_dir(dirfd, "", false, 0, err, errlen);
	}
	if (pfd < 0) {
		rc = pfd;
		goto out;
	}
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
		rc = errf(err, errlen, -EINVAL, "\"%s\": not a file name", rel);
		goto out;
	}
	/* O_NONBLOCK: never hang on a FIFO; O_NOFOLLOW: never write through a link. */
	fd = openat(pfd, base, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
		    0600);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ELOOP)
			errf(err, errlen, rc, "\"%s\" is a symbolic link: refusing to write through it", rel);
		else
			errf(err, errlen, rc, "cannot create \"%s\": %s", rel, strerror(-rc));
		goto out;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = errf(err, errlen, -EINVAL, "\"%s\" exists and is not a regular file", rel);
		goto out;
	}
	const char *p = data;
	size_t left = len;
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = errf(err, errlen, -errno, "cannot write \"%s\": %s", rel, strerror(errno));
			goto out;
		}
		p += n;
		left -= (size_t)n;
	}
	if (fchmod(fd, mode & 07777) < 0) {
		rc = errf(err, errlen, -errno, "cannot set the mode of \"%s\": %s", rel, strerror(errno));
		goto out;
	}
out:
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = errf(err, errlen, -errno, "cannot write \"%s\": %s", rel, strerror(errno));
	if (pfd >= 0)
		close(pfd);
	free(dir);
	return rc;
}

char *local_url_redact(const char *url)
{
	if (!url)
		return NULL;
	struct buf b;
	buf_init(&b, 0);
	const char *s = url;
	for (;;) {
		const char *sep = strstr(s, "://");
		if (!sep) {
			buf_puts(&b, s);
			break;
		}
		sep += 3;
		buf_append(&b, s, (size_t)(sep - s));
		size_t hostlen = strcspn(sep, "/ \t\n");
		const char *at = memchr(sep, '@', hostlen);
		/* Keep only what follows the last '@' of the authority. */
		while (at) {
			const char *next = memchr(at + 1, '@', hostlen - (size_t)(at + 1 - sep));
			if (!next)
				break;
			at = next;
		}
		s = at ? at + 1 : sep;
	}
	return buf_steal(&b);
}
