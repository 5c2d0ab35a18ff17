/* SPDX-License-Identifier: MIT */
/* test_sha256.c - base/sha256: the FIPS 180-4 examples, a million bytes,
 * every padding length around the block boundary, and input split
 * anywhere giving the same digest as one buffer. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"

static void ck_hex(const char *msg, size_t len, const char *want)
{
	char hex[65];
	sha256_hex(msg, len, hex, 64);
	ck_assert_str_eq(hex, want);
}

START_TEST(fips_examples)
{
	ck_hex("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ck_hex("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	ck_hex(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(a_million_a)
{
	struct sha256 c;
	char chunk[1000];
	char hex[65];
	memset(chunk, 'a', sizeof(chunk));
	sha256_init(&c);
	for (int i = 0; i < 1000; i++)
		sha256_update(&c, chunk, sizeof(chunk));
	sha256_final_hex(&c, hex, 64);
	ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(prefix_and_separator)
{
	/* what `paddock run` names a credentials Secret by: key name, NUL,
	 * value; the first 10 hex digits */
	struct sha256 c;
	char hex[11];
	sha256_init(&c);
	sha256_update(&c, "apiKey", 7); /* with its NUL */
	sha256_update(&c, "sk-test-A", 9);
	sha256_final_hex(&c, hex, 10);
	ck_assert_str_eq(hex, "9f5e69a451");
	char all[65];
	sha256_hex("x", 1, all, 100); /* capped at 64 */
	ck_assert_uint_eq(strlen(all), 64);
}
END_TEST

START_TEST(padding_lengths)
{
	/* a run of 'a' one byte short of, at and past each padding boundary */
	static const struct {
		size_t n;
		const char *hex;
	} want[] = {
		{ 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
		{ 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
		{ 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
		{ 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
		{ 65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0" },
		{ 119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb" },
		{ 120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c" },
	};
	char msg[128];
	memset(msg, 'a', sizeof(msg));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_hex(msg, want[i].n, want[i].hex);
}
END_TEST

START_TEST(split_anywhere)
{
	/* lengths around the padding boundaries (55, 56, 63, 64, 119, 120),
	 * each hashed whole and in two parts at every split point */
	unsigned char msg[200];
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)(i * 7 + 3);
	for (size_t len = 0; len <= sizeof(msg); len++) {
		char whole[65];
		sha256_hex(msg, len, whole, 64);
		for (size_t cut = 0; cut <= len; cut += (len < 130 ? 1 : 17)) {
			struct sha256 c;
			char parts[65];
			sha256_init(&c);
			sha256_update(&c, msg, cut);
			sha256_update(&c, msg + cut, len - cut);
			sha256_final_hex(&c, parts, 64);
			ck_assert_msg(!strcmp(parts, whole), "len %zu cut %zu", len, cut);
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sha256");
	TCase *tc = tcase_create("sha256");
	tcase_add_test(tc, fips_examples);
	tcase_add_test(tc, a_million_a);
	tcase_add_test(tc, padding_lengths);
	tcase_add_test(tc, prefix_and_separator);
	tcase_add_test(tc, split_anywhere);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
