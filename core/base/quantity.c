/* SPDX-License-Identifier: MIT */
/*
 * base/quantity.c - Kubernetes resource quantities (see quantity.h).  Exact
 * integer arithmetic only: a value is mantissa * 10^e10 * 1024^bin, with
 * the mantissa the digits without the decimal point.
 */
#include "config.h"
#include "base/quantity.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"

/* Exponents past this many digits are refused, whatever the mantissa. */
#define EXP_MAX 400

static const struct {
	const char *suffix;
	int e10; /* power of 10 */
	int bin; /* power of 1024 */
} suffixes[] = {
	{ "", 0, 0 },	 { "n", -9, 0 }, { "u", -6, 0 }, { "m", -3, 0 }, { "k", 3, 0 },
	{ "M", 6, 0 },	 { "G", 9, 0 },	 { "T", 12, 0 }, { "P", 15, 0 }, { "E", 18, 0 },
	{ "Ki", 0, 1 },	 { "Mi", 0, 2 }, { "Gi", 0, 3 }, { "Ti", 0, 4 }, { "Pi", 0, 5 },
	{ "Ei", 0, 6 },
};

/* The suffix at `p` (all of the rest of the string): 0 and *e10, *bin
 * set, or -EINVAL. */
static int parse_suffix(const char *p, long *e10, int *bin)
{
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		if (!strcmp(p, suffixes[i].suffix)) {
			*e10 = suffixes[i].e10;
			*bin = suffixes[i].bin;
			return 0;
		}
	}
	if (*p != 'e' && *p != 'E')
		return -EINVAL;
	p++;
	bool neg = false;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	size_t n = strspn(p, "0123456789");
	if (n == 0 || p[n])
		return -EINVAL;
	while (n > 1 && *p == '0') { /* leading zeros */
		p++;
		n--;
	}
	long x = 0;
	for (size_t i = 0; i < n; i++) {
		x = x * 10 + (p[i] - '0');
		if (x > EXP_MAX) {
			x = EXP_MAX + 1; /* decided by the caller: too large or a fraction */
			break;
		}
	}
	*e10 = neg ? -x : x;
	*bin = 0;
	return 0;
}

static int parse(const char *s, enum quantity_kind kind, int64_t *out, const char **why)
{
	const char *p = s;
	*why = NULL;
	if (!p)
		return -EINVAL;
	bool neg = false;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	const char *ip = p;
	size_t ni = strspn(p, "0123456789");
	p += ni;
	const char *fp = p;
	size_t nf = 0;
	if (*p == '.') {
		fp = ++p;
		nf = strspn(p, "0123456789");
		p += nf;
	}
	long e10 = 0;
	int bin = 0;
	if (ni + nf == 0 || parse_suffix(p, &e10, &bin) < 0)
		return -EINVAL;

	/* The mantissa: all digits, without leading zeros nor the fraction's
	 * trailing zeros (which do not change the value). */
	while (nf > 0 && fp[nf - 1] == '0')
		nf--;
	uint64_t m = 0;
	bool big = false;
	for (size_t i = 0; i < ni + nf; i++) {
		unsigned d = (unsigned)((i < ni ? ip[i] : fp[i - ni]) - '0');
		if (m > (UINT64_MAX - d) / 10) {
			big = true;
			break;
		}
		m = m * 10 + d;
	}
	if (neg && (m || big)) {
		*why = "must not be negative";
		return -EINVAL;
	}
	if (!big && m == 0) {
		*out = 0;
		return 0;
	}
	const char *fraction = kind == QUANTITY_CPU ? "finer than 1m (a thousandth of a core)"
						    : "a fraction of a byte";
	if (big) {
		*why = "too large";
		return -ERANGE;
	}
	long e = e10 - (long)nf + (kind == QUANTITY_CPU ? 3 : 0);
	if (e > EXP_MAX) {
		*why = "too large";
		return -ERANGE;
	}
	if (e < -EXP_MAX) {
		*why = fraction;
		return -EINVAL;
	}
	/* value = m * 10^e * 2^(10 bin) = m * 5^e * 2^(e + 10 bin) */
	long twos = e + 10L * bin;
	for (; e < 0; e++) {
		if (m % 5) {
			*why = fraction;
			return -EINVAL;
		}
		m /= 5;
	}
	for (; e > 0; e--) {
		if (m > INT64_MAX / 5) {
			*why = "too large";
			return -ERANGE;
		}
		m *= 5;
	}
	if (twos < 0) {
		if (twos <= -64 || m % ((uint64_t)1 << -twos)) {
			*why = fraction;
			return -EINVAL;
		}
		m >>= -twos;
	} else {
		for (; twos > 0; twos--) {
			if (m > INT64_MAX / 2) {
				*why = "too large";
				return -ERANGE;
			}
			m <<= 1;
		}
	}
	if (m > INT64_MAX) {
		*why = "too large";
		return -ERANGE;
	}
	*out = (int64_t)m;
	return 0;
}

int quantity_parse(const char *s, enum quantity_kind kind, int64_t *out, const char **why)
{
	const char *reason = NULL;
	int64_t v = 0;
	int rc = parse(s, kind, &v, &reason);
	if (why)
		*why = reason;
	if (rc == 0)
		*out = v;
	return rc;
}

const char *quantity_hint(enum quantity_kind kind)
{
	if (kind == QUANTITY_CPU)
		return "use a number of cores with an optional suffix m (thousandths), e.g. 500m, 0.5 or 2";
	return "use a number with an optional suffix Ki, Mi, Gi (or k, M, G), e.g. 256Mi";
}

void quantity_format(int64_t v, enum quantity_kind kind, char *buf, size_t len)
{
	static const char *const bin[] = { "Ei", "Pi", "Ti", "Gi", "Mi", "Ki" };
	static const char *const dec[] = { "E", "P", "T", "G", "M", "k" };
	if (kind == QUANTITY_CPU) {
		if (v % 1000 == 0)
			snprintf(buf, len, "%" PRId64, v / 1000);
		else
			snprintf(buf, len, "%" PRId64 "m", v);
		return;
	}
	/* The largest exact binary and decimal units; the smaller number wins
	 * (512M, not 500000Ki), binary on a tie. */
	int64_t q = v;
	const char *sfx = "";
	for (size_t i = 0; v != 0 && i < ARRAY_SIZE(bin); i++) {
		int64_t unit = (int64_t)1 << (10 * (ARRAY_SIZE(bin) - i));
		if (v % unit == 0) {
			q = v / unit;
			sfx = bin[i];
			break;
		}
	}
	int64_t unit = 1000000000000000000LL;
	for (size_t i = 0; v != 0 && i < ARRAY_SIZE(dec); i++, unit /= 1000) {
		if (v % unit == 0) {
			if (v / unit < q) {
				q = v / unit;
				sfx = dec[i];
			}
			break;
		}
	}
	snprintf(buf, len, "%" PRId64 "%s", q, sfx);
}

void limits_format(const struct run_limits *l, char *buf, size_t len)
{
	struct buf b;
	char q[32];
	buf_init(&b, 0);
	if (l->cpu_milli > 0) {
		quantity_format(l->cpu_milli, QUANTITY_CPU, q, sizeof(q));
		buf_printf(&b, "cpu=%s", q);
	}
	if (l->memory_bytes > 0) {
		quantity_format(l->memory_bytes, QUANTITY_BYTES, q, sizeof(q));
		buf_printf(&b, "%smemory=%s", b.len ? " " : "", q);
	}
	if (l->storage_bytes > 0) {
		quantity_format(l->storage_bytes, QUANTITY_BYTES, q, sizeof(q));
		buf_printf(&b, "%sephemeral-storage=%s", b.len ? " " : "", q);
	}
	if (l->pids > 0)
		buf_printf(&b, "%spids=%" PRId64, b.len ? " " : "", l->pids);
	snprintf(buf, len, "%s", b.len ? b.data : "none");
	buf_free(&b);
}

const char *const limits_names[LIMITS_N] = { "cpu", "memory", "ephemeral-storage", "pids" };

int64_t *limits_field(struct run_limits *l, size_t i)
{
	switch (i) {
	case 0: return &l->cpu_milli;
	case 1: return &l->memory_bytes;
	case 2: return &l->storage_bytes;
	default: return &l->pids;
	}
}
