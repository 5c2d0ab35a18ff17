/* SPDX-License-Identifier: MIT */
/*
 * fuzz_manifest.c - manifest_parse (YAML and JSON, one or many documents)
 * then model_validate on every document, and the typed views of the
 * valid ones.
 *
 * Invariants beyond the sanitizers:
 *   - on failure *docs and *n are untouched and err is a terminated line;
 *   - a validated (normalized) document, serialized to JSON and parsed
 *     again, validates again as the same kind (normalization is stable).
 */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#include "fuzz_common.h"
#include "model/manifest.h"
#include "model/model.h"
#include "base/util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* FUZZ_VERBOSE=1: print why each document was refused (for corpus upkeep). */
static int verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup(LOG_ERR, LOG_FORMAT_KV);
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	return 0;
}

static void views(json_object *doc, enum model_kind kind)
{
	char err[512];
	static const char *const paths[] = { "metadata.name", "spec.command", "spec.contexts.0.name",
					     "spec.pod.runtimeClassName", "spec.timeout",
					     "spec.outputs.parameters.0.path", "data", "..", "" };
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		(void)model_field(doc, paths[i]);
	if (kind == MODEL_TASK) {
		struct model_task *t = NULL;
		if (model_task_from_json(doc, &t, err, sizeof(err)) == 0) {
			FUZZ_CHECK(t && t->name && t->ns, "task view without name/namespace");
			for (size_t i = 0; i < t->n_outputs; i++)
				FUZZ_CHECK(t->outputs[i].name, "output %zu without a name", i);
			model_task_free(t);
		}
	} else if (kind == MODEL_AGENT) {
		struct model_agent *a = NULL;
		if (model_agent_from_json(doc, &a, err, sizeof(err)) == 0) {
			FUZZ_CHECK(a && a->name && a->ns, "agent view without name/namespace");
			(void)model_agent_allows(a, a->ns);
			(void)model_agent_allows(a, "other-ns");
			model_agent_free(a);
		}
	}
}

/* Serialize the normalized document and validate it again. */
static void roundtrip(json_object *doc, enum model_kind kind)
{
	char err[512];
	const char *s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	json_object **docs = NULL;
	size_t n = 0;
	int rc = manifest_parse("<roundtrip>", s, strlen(s), NULL, &docs, &n, err, sizeof(err));
	FUZZ_CHECK(rc == 0 && n == 1, "normalized document does not parse again (rc %d, n %zu): %s\n%s",
		   rc, n, rc ? err : "", s);
	enum model_kind k2 = (enum model_kind)-1;
	rc = model_validate(docs[0], NULL, &k2, err, sizeof(err));
	FUZZ_CHECK(rc == 0 && k2 == kind, "normalized document does not validate again (rc %d): %s\n%s",
		   rc, rc ? err : "", s);
	manifest_docs_free(docs, n);
}

static void one(const char *data, size_t size, const struct manifest_limits *lim)
{
	char err[512];
	json_object **docs = (json_object **)(uintptr_t)0x1;
	size_t n = 12345;
	err[0] = '\0';
	int rc = manifest_parse("fuzz.yaml", data, size, lim, &docs, &n, err, sizeof(err));
	if (verbose)
		fprintf(stderr, "manifest_parse: rc %d, %zu documents %s\n", rc, rc ? 0 : n, rc ? err : "");
	if (rc < 0) {
		FUZZ_CHECK(docs == (json_object **)(uintptr_t)0x1 && n == 12345,
			   "out-parameters written on failure");
		FUZZ_CHECK(err[0] && memchr(err, '\0', sizeof(err)), "no error message for rc %d", rc);
		FUZZ_CHECK(rc == -EINVAL || rc == -E2BIG, "unexpected rc %d", rc);
		return;
	}
	FUZZ_CHECK(n == 0 || docs, "n %zu documents but no array", n);
	for (size_t i = 0; i < n; i++) {
		enum model_kind kind;
		struct model_limits ml = { .prompt_bytes = (size & 1) ? 64 : 0 };
		err[0] = '\0';
		if (model_validate(docs[i], &ml, &kind, err, sizeof(err)) < 0) {
			if (verbose)
				fprintf(stderr, "  doc %zu: %s\n", i, err);
			FUZZ_CHECK(err[0], "model_validate failed without a message");
			continue;
		}
		FUZZ_CHECK(model_kind_name(kind) != NULL, "bad kind %d", (int)kind);
		if (verbose)
			fprintf(stderr, "  doc %zu: valid %s\n", i, model_kind_name(kind));
		views(docs[i], kind);
		roundtrip(docs[i], kind);
	}
	manifest_docs_free(docs, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Not NUL-terminated, exact size: reads past the end are caught. */
	char *buf = fuzz_dup(data, size);
	one(buf, size, NULL);
	/* Tight limits too, for the depth/node/size refusals. */
	if (size < 4096) {
		struct manifest_limits tight = { .max_bytes = 2048, .max_depth = 4, .max_nodes = 40 };
		one(buf, size, &tight);
	}
	free(buf);
	return 0;
}
