/* SPDX-License-Identifier: MIT */
/*
 * quantity.h - Kubernetes resource quantities as exact integers, and back
 * as text.  The one parser of sizes and CPU amounts: paddock.yaml's byte
 * limits (limits.logBytesPerRun: 16Mi), its resources: defaults, and the
 * manifests' spec.resources.  Also the one-line form of a run's limits
 * (struct run_limits, limits.h) for `paddock describe` and messages.
 *
 * The grammar is Kubernetes' (k8s.io/apimachinery resource.Quantity):
 * an optional sign, digits with an optional fraction ("2", "0.5", ".5"),
 * then one suffix: binary Ki Mi Gi Ti Pi Ei (powers of 1024), decimal
 * n u m k M G T P E (powers of 1000), or an exponent e/E with an optional
 * sign ("1e9", "5E-1").  Unlike Kubernetes, which rounds up, a value that
 * is not a whole number of the unit (a fraction of a byte, less than a
 * millicore) is refused, and so is a negative one.
 */
#ifndef PADDOCK_QUANTITY_H
#define PADDOCK_QUANTITY_H

#include <stddef.h>
#include <stdint.h>

#include "base/run_limits.h"

enum quantity_kind {
	QUANTITY_CPU,   /* cores; the result is in millicores: "500m" = 500, "2" = 2000 */
	QUANTITY_BYTES, /* bytes: "256Mi" = 268435456, "1G" = 1000000000 */
};

/* Parse all of `s` into *out (untouched on failure).  0, or -EINVAL (not a
 * quantity, negative, a fraction of the unit) or -ERANGE (above
 * INT64_MAX).  *why (may be NULL) is then NULL when `s` is not a quantity
 * at all, else the reason: "must not be negative", "a fraction of a
 * byte", "finer than 1m (a thousandth of a core)", "too large".  Static
 * strings. */
int quantity_parse(const char *s, enum quantity_kind kind, int64_t *out, const char **why);

/* The fix for a bad quantity of `kind`, e.g. "use a number with an
 * optional suffix Ki, Mi, Gi (or k, M, G), e.g. 256Mi".  Static. */
const char *quantity_hint(enum quantity_kind kind);

/* `v` as Kubernetes writes it, into buf: CPU "2" or "500m"; bytes with
 * the largest suffix that divides it exactly, binary first ("256Mi",
 * "1G", "1000001").  The text parses back to `v`. */
void quantity_format(int64_t v, enum quantity_kind kind, char *buf, size_t len);

/* The set fields of `l` as "cpu=500m memory=256Mi ephemeral-storage=1Gi
 * pids=512", in that order, skipping the unset (0) ones; "none" when none
 * is set. */
void limits_format(const struct run_limits *l, char *buf, size_t len);

/* The fields of struct run_limits by index, in the order of their names
 * in resources.limits: 0 cpu, 1 memory, 2 ephemeral-storage, 3 pids. */
#define LIMITS_N 4
extern const char *const limits_names[LIMITS_N];
int64_t *limits_field(struct run_limits *l, size_t i);

#endif
