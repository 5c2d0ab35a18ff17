/* SPDX-License-Identifier: MIT */
/*
 * fuzz_webhook.c - a webhook delivery to a Spawner (control/spawner.c)
 * and a cron expression (base/cron.c).
 *
 * Input: byte 0 picks what the sender does (bit 0: sign the body with
 * the Spawner's secret or not; bit 1: a generic bearer Spawner instead;
 * bit 2: the rest is a cron expression), the rest is the body.
 *
 * Invariants beyond the sanitizers:
 *   - a delivery is verified iff it was signed (or carried the token);
 *   - the Task an accepted payload makes is valid or refused with a
 *     message, and its prompt renders in the Task's own template pass
 *     with a lookup that knows nothing: text from the payload never
 *     becomes a template reference;
 *   - a cron expression that parses matches some minute within a year
 *     or is one that never can (Feb 30).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_common.h"
#include "base/cron.h"
#include "control/spawner.h"
#include "control/template.h"
#include "model/manifest.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char GITHUB[] =
	"{\"apiVersion\":\"paddock.dev/v1alpha1\",\"kind\":\"Spawner\",\"metadata\":{\"name\":\"f\"},"
	"\"spec\":{\"taskTemplate\":{\"metadata\":{\"labels\":{\"n\":\"{{ event.issue.number }}\"}},"
	"\"spec\":{\"type\":\"exec\",\"prompt\":\"{{ event.issue.title }} {{ event.comment.body }} "
	"{{ event.repository }} {{ event.issue.labels }} {{ event.sender }}\"}},"
	"\"webhook\":{\"secretRef\":{\"name\":\"s\"},\"commandPrefix\":\"/paddock\","
	"\"filters\":[{\"field\":\"issue.labels.name\",\"values\":[\"ready\"]}]}}}";
static const char BEARER[] =
	"{\"apiVersion\":\"paddock.dev/v1alpha1\",\"kind\":\"Spawner\",\"metadata\":{\"name\":\"g\"},"
	"\"spec\":{\"taskTemplate\":{\"spec\":{\"type\":\"exec\",\"prompt\":\"{{ event.a.b }}\"}},"
	"\"webhook\":{\"type\":\"generic\",\"auth\":\"bearer\",\"secretRef\":{\"name\":\"s\"}}}}";

static int nothing(void *ctx, const char *dep, const char *key, const char **value, char *avail,
		   size_t availlen)
{
	(void)ctx;
	(void)dep;
	(void)key;
	(void)value;
	(void)avail;
	(void)availlen;
	return -ENOENT;
}

static void fuzz_cron(const char *s)
{
	struct cron c;
	char err[256];
	if (cron_parse(s, &c, err, sizeof(err)) < 0)
		return;
	int64_t latest;
	long missed;
	schedule_due(&c, "UTC", 1796830200 - 3600, 1796830200, &latest, &missed);
	FUZZ_CHECK(!latest || (latest > 1796830200 - 3600 && latest <= 1796830200 && latest % 60 == 0),
		   "latest %lld", (long long)latest);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	char *body = fuzz_dup(data + 1, size - 1);
	char *text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (mode & 4) {
		fuzz_cron(text);
		goto out;
	}
	json_object *sp = json_tokener_parse(mode & 2 ? BEARER : GITHUB);
	enum model_kind k;
	char err[1024], why[512], id[SPAWNER_ID_MAX + 1];
	FUZZ_CHECK(model_validate(sp, NULL, &k, err, sizeof(err)) == 0, "%s", err);
	const char *secret = "s3cret";
	unsigned char mac[SHA256_DIGEST_LEN];
	char sig[7 + 2 * SHA256_DIGEST_LEN + 1] = "sha256=";
	spawner_hmac_sha256(secret, strlen(secret), body, size - 1, mac);
	for (int i = 0; i < SHA256_DIGEST_LEN; i++)
		snprintf(sig + 7 + 2 * i, 3, "%02x", mac[i]);
	bool sign = mode & 1;
	struct spawner_delivery d = { .event = "issue_comment", .id = "d-1",
				      .signature = sign ? sig : "sha256=00",
				      .authorization = sign ? "Bearer s3cret" : "Bearer s3creu",
				      .content_type = "application/json", .body = body, .len = size - 1 };
	unsigned st = spawner_verify(sp, &d, secret, strlen(secret), why, sizeof(why));
	FUZZ_CHECK((st == 0) == sign, "verify %u for a %ssigned body", st, sign ? "" : "un");
	FUZZ_CHECK(spawner_event_id(sp, &d, id, why, sizeof(why)) == 0, "%s", why);
	json_object *ev = json_tokener_parse(text);
	if (st == 0 && json_object_is_type(ev, json_type_object) &&
	    spawner_wanted(sp, d.event, ev, why, sizeof(why))) {
		json_object *task = NULL;
		if (spawner_task(sp, d.event, id, ev, &task, err, sizeof(err)) == 0) {
			if (model_validate(task, NULL, &k, err, sizeof(err)) == 0) {
				const char *prompt = json_object_get_string(
					json_object_object_get(json_object_object_get(task, "spec"), "prompt"));
				char *out = NULL;
				int rc = tmpl_render(prompt, nothing, NULL, 0, &out, err, sizeof(err));
				FUZZ_CHECK(rc == 0 || rc == -E2BIG, "payload text became a tag: %s", err);
				free(out);
			} else {
				FUZZ_CHECK(err[0], "refused without a message");
			}
			json_object_put(task);
		}
	}
	json_object_put(ev);
	json_object_put(sp);
out:
	free(text);
	free(body);
	return 0;
}
