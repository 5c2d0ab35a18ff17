/* SPDX-License-Identifier: MIT */
/*
 * fuzz_kubeconfig.c - kube_config_parse (kubeconfig YAML or JSON).
 *
 * Input: byte 0 picks the context (current-context, "dev", "prod", "a")
 * and whether a base directory is given; the rest is the document.
 *
 * Invariants beyond the sanitizers:
 *   - on failure *out is untouched and the message is set;
 *   - no message holds a credential: a users[].user.token or
 *     client-key-data value (8 bytes or more) that occurs only once in
 *     the document is never in the message;
 *   - on success: server is http(s) without a trailing '/', context set,
 *     a certificate comes with its key, at most one CA form and none with
 *     insecure-skip-tls-verify, PEM data is text with a BEGIN line, the
 *     token has no control characters, relative paths are under base_dir.
 */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "kube/client.h"
#include "model/manifest.h"
#include "base/util.h"

#define BASE "/fuzz/base"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup(LOG_ERR, LOG_FORMAT_KV);
	return 0;
}

/* How often `needle` occurs in s[0..n). */
static size_t occurrences(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle), c = 0;
	for (const char *p = s; k && (size_t)(p - s) + k <= n; p++) {
		p = memmem(p, n - (size_t)(p - s), needle, k);
		if (!p)
			break;
		c++;
	}
	return c;
}

/* Check that no credential of the document is in `err`. */
static void no_secret(const char *doc, size_t len, const char *err)
{
	static const char *const keys[] = { "token", "client-key-data" };
	json_object **docs = NULL;
	size_t n = 0;
	char perr[256];
	if (manifest_parse("k", doc, len, NULL, &docs, &n, perr, sizeof(perr)) < 0)
		return;
	for (size_t d = 0; d < n; d++) {
		json_object *users = NULL;
		if (!json_object_is_type(docs[d], json_type_object) ||
		    !json_object_object_get_ex(docs[d], "users", &users) ||
		    !json_object_is_type(users, json_type_array))
			continue;
		for (size_t i = 0; i < json_object_array_length(users); i++) {
			json_object *u = NULL, *v = NULL;
			json_object *e = json_object_array_get_idx(users, i);
			if (!json_object_is_type(e, json_type_object) ||
			    !json_object_object_get_ex(e, "user", &u) ||
			    !json_object_is_type(u, json_type_object))
				continue;
			for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
				if (!json_object_object_get_ex(u, keys[k], &v) ||
				    !json_object_is_type(v, json_type_string))
					continue;
				const char *s = json_object_get_string(v);
				if (strlen(s) >= 8 && occurrences(doc, len, s) == 1)
					FUZZ_CHECK(!strstr(err, s), "%s value in the message: %s",
						   keys[k], err);
			}
		}
	}
	manifest_docs_free(docs, n);
}

static void check_pem(const char *pem)
{
	if (pem)
		FUZZ_CHECK(strstr(pem, "-----BEGIN "), "PEM data without a BEGIN line");
}

static void check_path(const char *p, bool base)
{
	if (p && base)
		FUZZ_CHECK(p[0] == '/', "relative path %s not resolved", p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const contexts[] = { NULL, "dev", "prod", "a" };
	if (size < 1)
		return 0;
	const char *context = contexts[data[0] & 3];
	bool base = data[0] & 4;
	char err[512];
	char *doc = fuzz_dup(data + 1, size - 1);
	struct kube_config *c = (struct kube_config *)(uintptr_t)0x1;
	err[0] = '\0';
	int rc = kube_config_parse(doc, size - 1, context, base ? BASE : NULL, &c, err, sizeof(err));
	if (rc < 0) {
		FUZZ_CHECK(c == (struct kube_config *)(uintptr_t)0x1, "*out written on failure");
		FUZZ_CHECK(err[0] && memchr(err, '\0', sizeof(err)), "no message for rc %d", rc);
		no_secret(doc, size - 1, err);
	} else {
		FUZZ_CHECK(c && c->server && c->context, "config without server or context");
		FUZZ_CHECK(str_startswith(c->server, "https://") || str_startswith(c->server, "http://"),
			   "server %s", c->server);
		size_t n = strlen(c->server);
		FUZZ_CHECK(n <= 8 || c->server[n - 1] != '/', "server %s ends with '/'", c->server);
		FUZZ_CHECK(!(c->cert_pem || c->cert_file) == !(c->key_pem || c->key_file),
			   "certificate without key or key without certificate");
		FUZZ_CHECK(!(c->ca_pem && c->ca_file), "two certificate authorities");
		FUZZ_CHECK(!c->insecure || !(c->ca_pem || c->ca_file), "insecure with a CA");
		FUZZ_CHECK(!(c->cert_pem && c->cert_file) && !(c->key_pem && c->key_file),
			   "both forms of a certificate or key");
		check_pem(c->ca_pem);
		check_pem(c->cert_pem);
		check_pem(c->key_pem);
		for (const char *p = c->token; p && *p; p++)
			FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f, "control byte in token");
		check_path(c->ca_file, base);
		check_path(c->cert_file, base);
		check_path(c->key_file, base);
		check_path(c->token_file, base);
		kube_config_free(c);
	}
	free(doc);
	return 0;
}
