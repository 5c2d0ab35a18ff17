/* SPDX-License-Identifier: MIT */
/*
 * sha256.h - SHA-256 (FIPS 180-4), small and dependency-free.  Used to
 * name content-addressed objects (the credentials Secrets `paddock run`
 * stores); not for passwords or MACs.  The context holds message bytes:
 * sha256_final() wipes it.
 */
#ifndef PADDOCK_SHA256_H
#define PADDOCK_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32

struct sha256 {
	uint32_t h[8];
	uint64_t len; /* bytes hashed so far */
	unsigned char block[64];
	size_t fill; /* bytes in block */
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t len);
/* The digest into out; the context is wiped (init it again to reuse). */
void sha256_final(struct sha256 *c, unsigned char out[SHA256_DIGEST_LEN]);

/* sha256_final(), written as its first `nhex` hex digits (lower case, at
 * most 64) into hex (nhex + 1 bytes, NUL-terminated). */
void sha256_final_hex(struct sha256 *c, char *hex, size_t nhex);
/* The same for one buffer. */
void sha256_hex(const void *data, size_t len, char *hex, size_t nhex);

#endif
