/* SPDX-License-Identifier: MIT */
/*
 * fuzz_template.c - tmpl_render, tmpl_refs and tmpl_check_deps.
 *
 * Input: byte 0 picks max_out (small caps for -E2BIG, or the default),
 * the rest is the template (cut at the first NUL, as a C string would be).
 *
 * The lookup answers: build.{sha,branch,empty,braces,long}, test has no
 * results (-ENODATA), a.null returns no value, a.io fails with -EIO, any
 * other dependency is unknown (-ENOENT); `avail` gets a list longer than
 * its buffer sometimes.
 *
 * Invariants beyond the sanitizers:
 *   - tmpl_refs and tmpl_render agree on syntax: with a lookup that
 *     answers everything, render fails with -EINVAL iff refs does, and
 *     otherwise succeeds; the refs callback sees offsets of "{{" in order;
 *   - values are inserted, never expanded again;
 *   - on failure *out is untouched and err is set; on success the output
 *     fits max_out.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_common.h"
#include "control/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char LONGV[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
			    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static int lookup(void *ctx, const char *dep, const char *key, const char **value, char *avail,
		  size_t availlen)
{
	(void)ctx;
	if (!strcmp(dep, "build")) {
		if (!strcmp(key, "sha"))
			*value = "0123abc";
		else if (!strcmp(key, "branch"))
			*value = "main";
		else if (!strcmp(key, "empty"))
			*value = "";
		else if (!strcmp(key, "braces"))
			*value = "{{ deps.build.results.sha }} {{";
		else if (!strcmp(key, "long"))
			*value = LONGV;
		else {
			snprintf(avail, availlen, "branch, braces, empty, long, sha");
			return -ENODATA;
		}
		return 0;
	}
	if (!strcmp(dep, "test"))
		return -ENODATA; /* avail left "" */
	if (!strcmp(dep, "a")) {
		if (!strcmp(key, "null"))
			return 0; /* no value: the renderer must treat it as missing */
		if (!strcmp(key, "io"))
			return -EIO;
		/* Longer than avail: the renderer must cope with truncation. */
		snprintf(avail, availlen, "%s, %s, %s, %s, %s", LONGV, LONGV, LONGV, LONGV, LONGV);
		return -ENODATA;
	}
	snprintf(avail, availlen, "a, build, test");
	return -ENOENT;
}

static int lookup_all(void *ctx, const char *dep, const char *key, const char **value,
		      char *avail, size_t availlen)
{
	(void)ctx;
	(void)avail;
	(void)availlen;
	FUZZ_CHECK(*dep && *key, "empty dep \"%s\" or key \"%s\"", dep, key);
	*value = "V";
	return 0;
}

struct refs {
	const char *in;
	size_t n, last;
};

static int ref_cb(void *ctx, const char *dep, const char *key, size_t offset)
{
	struct refs *r = ctx;
	FUZZ_CHECK(*dep && *key, "empty dep or key");
	FUZZ_CHECK(strlen(dep) <= 253 && strlen(key) <= 253, "name over 253 bytes");
	FUZZ_CHECK(r->in[offset] == '{' && r->in[offset + 1] == '{', "offset %zu is not a \"{{\"",
		   offset);
	FUZZ_CHECK(r->n == 0 || offset > r->last, "offsets out of order");
	r->last = offset;
	r->n++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const size_t caps[] = { 1, 8, 64, 1000 };
	size_t max_out = data[0] < 0x80 ? caps[data[0] & 3] : 0;
	char *in = fuzz_strdup(data + 1, size - 1);
	char err[512], *out = (char *)(uintptr_t)0x1;

	/* The listing. */
	struct refs r = { .in = in };
	err[0] = '\0';
	int refs_rc = tmpl_refs(in, ref_cb, &r, err, sizeof(err));
	FUZZ_CHECK(refs_rc == 0 || refs_rc == -EINVAL, "tmpl_refs rc %d", refs_rc);
	FUZZ_CHECK(refs_rc == 0 || err[0], "tmpl_refs failed without a message");

	/* Syntax agreement, with every reference answered. */
	err[0] = '\0';
	int rc = tmpl_render(in, lookup_all, NULL, 0, &out, err, sizeof(err));
	if (refs_rc == -EINVAL) {
		FUZZ_CHECK(rc == -EINVAL, "refs says syntax error, render rc %d", rc);
		FUZZ_CHECK(out == (char *)(uintptr_t)0x1, "*out written on failure");
	} else {
		FUZZ_CHECK(rc == 0, "refs ok, render rc %d: %s", rc, err);
		free(out);
	}

	/* The real lookup, with the chosen cap. */
	out = (char *)(uintptr_t)0x1;
	err[0] = '\0';
	rc = tmpl_render(in, lookup, NULL, max_out, &out, err, sizeof(err));
	if (rc == 0) {
		FUZZ_CHECK(refs_rc == 0, "render ok on a syntax error");
		FUZZ_CHECK(strlen(out) <= (max_out ? max_out : (size_t)1 << 20),
			   "output %zu bytes over the cap %zu", strlen(out), max_out);
		free(out);
	} else {
		FUZZ_CHECK(out == (char *)(uintptr_t)0x1, "*out written on failure");
		FUZZ_CHECK(err[0], "render rc %d without a message", rc);
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOENT || rc == -ENODATA || rc == -E2BIG ||
				   rc == -EIO,
			   "render rc %d", rc);
	}

	/* dependsOn check. */
	static const char *const deps[] = { "build", "test" };
	err[0] = '\0';
	rc = tmpl_check_deps(in, deps, data[0] & 1 ? 2 : 0, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOENT, "tmpl_check_deps rc %d", rc);
	FUZZ_CHECK(rc == 0 || err[0], "tmpl_check_deps failed without a message");
	/* It may stop at an unknown dependency before a later syntax error. */
	FUZZ_CHECK(rc != -EINVAL || refs_rc == -EINVAL, "check_deps: syntax error, refs: none");

	free(in);
	return 0;
}
