/* SPDX-License-Identifier: MIT */
/* Spawners (control/spawner.c, model validation, template event mode). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonutil.h"
#include "base/util.h"
#include "base/cron.h"
#include "control/budget.h"
#include "control/reconcile.h"
#include "control/schedule.h"
#include "control/spawner.h"
#include "control/template.h"
#include "model/manifest.h"
#include "model/model.h"

static json_object *doc_of(const char *yaml)
{
	json_object **docs = NULL;
	size_t n = 0;
	char err[256];
	ck_assert_int_eq(manifest_parse("t", yaml, strlen(yaml), NULL, &docs, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 1);
	json_object *d = json_object_get(docs[0]);
	manifest_docs_free(docs, n);
	return d;
}

static const char SPAWNER[] =
	"apiVersion: paddock.dev/v1alpha1\n"
	"kind: Spawner\n"
	"metadata: {name: triage}\n"
	"spec:\n"
	"  taskTemplate:\n"
	"    metadata: {labels: {issue: '{{ event.issue.number }}'}}\n"
	"    spec: {type: exec, prompt: 'Fix {{ event.issue.title }} of {{ event.repository }}'}\n"
	"  webhook:\n"
	"    secretRef: {name: hook}\n"
	"    events: [issues, issue_comment]\n"
	"    actions: [opened, created]\n"
	"    commandPrefix: /paddock\n"
	"    filters: [{field: issue.labels.name, values: [ready]}]\n";

static json_object *valid_spawner(void)
{
	json_object *d = doc_of(SPAWNER);
	enum model_kind k;
	char err[512] = "";
	ck_assert_msg(model_validate(d, NULL, &k, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(k, MODEL_SPAWNER);
	return d;
}

static const unsigned char *unhex(const char *h, unsigned char *out)
{
	for (size_t i = 0; i < strlen(h) / 2; i++)
		sscanf(h + 2 * i, "%2hhx", &out[i]);
	return out;
}

START_TEST(test_hmac_rfc4231)
{
	unsigned char mac[32], want[32], key[131];
	spawner_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
	ck_assert(!memcmp(mac, unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want), 32));
	memset(key, 0xaa, sizeof(key)); /* a key longer than a block is hashed first */
	const char *m = "Test Using Larger Than Block-Size Key - Hash Key First";
	spawner_hmac_sha256(key, sizeof(key), m, strlen(m), mac);
	ck_assert(!memcmp(mac, unhex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", want), 32));
	ck_assert(spawner_ct_equal("abc", "abc", 3));
	ck_assert(!spawner_ct_equal("abc", "abd", 3));
}
END_TEST

static char *sign(const char *secret, const char *body)
{
	unsigned char mac[32];
	spawner_hmac_sha256(secret, strlen(secret), body, strlen(body), mac);
	char *s = xcalloc(1, 7 + 65);
	memcpy(s, "sha256=", 7);
	for (int i = 0; i < 32; i++)
		snprintf(s + 7 + 2 * i, 3, "%02x", mac[i]);
	return s;
}

START_TEST(test_verify)
{
	json_object *sp = valid_spawner();
	const char *body = "{\"action\":\"opened\"}";
	char *sig = sign("s3", body), why[256];
	struct spawner_delivery d = { .event = "issues", .id = "abc-1", .signature = sig,
				      .content_type = "application/json", .body = body,
				      .len = strlen(body) };
	ck_assert_uint_eq(spawner_verify(sp, &d, "s3", 2, why, sizeof(why)), 0);
	ck_assert_uint_eq(spawner_verify(sp, &d, "s4", 2, why, sizeof(why)), 401);
	ck_assert_ptr_null(strstr(why, "s3"));
	ck_assert_uint_eq(spawner_verify(sp, &d, "", 0, why, sizeof(why)), 401);
	sig[10] ^= 1;
	ck_assert_uint_eq(spawner_verify(sp, &d, "s3", 2, why, sizeof(why)), 401);
	d.signature = NULL;
	ck_assert_uint_eq(spawner_verify(sp, &d, "s3", 2, why, sizeof(why)), 401);
	ck_assert_msg(strstr(why, "no signature"), "%s", why);
	d.content_type = "application/x-www-form-urlencoded";
	ck_assert_uint_eq(spawner_verify(sp, &d, "s3", 2, why, sizeof(why)), 415);
	d.content_type = "application/json; charset=utf-8";
	d.signature = sig;
	sig[10] ^= 1;
	ck_assert_uint_eq(spawner_verify(sp, &d, "s3", 2, why, sizeof(why)), 0);
	char id[SPAWNER_ID_MAX + 1];
	ck_assert_uint_eq(spawner_event_id(sp, &d, id, why, sizeof(why)), 0);
	ck_assert_str_eq(id, "abc-1");
	d.id = "../../x";
	ck_assert_uint_eq(spawner_event_id(sp, &d, id, why, sizeof(why)), 400);
	d.id = NULL;
	ck_assert_uint_eq(spawner_event_id(sp, &d, id, why, sizeof(why)), 400);
	free(sig);
	json_object_put(sp);
}
END_TEST

START_TEST(test_bearer)
{
	json_object *d0 = doc_of("apiVersion: paddock.dev/v1alpha1\nkind: Spawner\nmetadata: {name: g}\n"
				 "spec:\n  taskTemplate: {spec: {type: exec, prompt: x}}\n"
				 "  webhook: {type: generic, auth: bearer, secretRef: {name: t, key: token}}\n");
	enum model_kind k;
	char err[512] = "", why[256], id[SPAWNER_ID_MAX + 1];
	ck_assert_msg(model_validate(d0, NULL, &k, err, sizeof(err)) == 0, "%s", err);
	struct spawner_delivery d = { .authorization = "Bearer tok", .content_type = "application/json",
				      .body = "{}", .len = 2 };
	ck_assert_uint_eq(spawner_verify(d0, &d, "tok", 3, why, sizeof(why)), 0);
	d.authorization = "Bearer tok2";
	ck_assert_uint_eq(spawner_verify(d0, &d, "tok", 3, why, sizeof(why)), 401);
	d.authorization = NULL;
	ck_assert_uint_eq(spawner_verify(d0, &d, "tok", 3, why, sizeof(why)), 401);
	/* no id header: the body's hash is the event id */
	ck_assert_uint_eq(spawner_event_id(d0, &d, id, why, sizeof(why)), 0);
	ck_assert(!strncmp(id, "sha256-", 7));
	json_object_put(d0);
}
END_TEST

START_TEST(test_wanted_and_task)
{
	json_object *sp = valid_spawner();
	json_object *ev = json_tokener_parse(
		"{\"action\":\"opened\",\"issue\":{\"number\":7,\"title\":\"Crash {{ deps.a.results.b }}\","
		"\"labels\":[{\"name\":\"bug\"},{\"name\":\"ready\"}]},"
		"\"repository\":{\"full_name\":\"o/r\"}}");
	char why[256];
	ck_assert(spawner_wanted(sp, "issues", ev, why, sizeof(why)));
	ck_assert(!spawner_wanted(sp, "pull_request", ev, why, sizeof(why)));
	ck_assert_msg(strstr(why, "event pull_request"), "%s", why);
	ck_assert(!spawner_wanted(sp, "ping", ev, why, sizeof(why)));
	json_object_object_add(ev, "action", json_object_new_string("closed"));
	ck_assert(!spawner_wanted(sp, "issues", ev, why, sizeof(why)));
	json_object_object_add(ev, "action", json_object_new_string("opened"));
	json_object *labels = json_object_new_array();
	json_object_object_add(json_object_object_get(ev, "issue"), "labels", labels);
	ck_assert(!spawner_wanted(sp, "issues", ev, why, sizeof(why)));
	ck_assert_msg(strstr(why, "issue.labels.name"), "%s", why);
	json_object *l = json_object_new_object();
	json_object_object_add(l, "name", json_object_new_string("ready"));
	json_object_array_add(labels, l);
	json_object *c = json_object_new_object();
	json_object_object_add(c, "body", json_object_new_string("  /paddock go"));
	json_object_object_add(ev, "comment", c);
	ck_assert(spawner_wanted(sp, "issue_comment", ev, why, sizeof(why)));
	json_object_object_add(c, "body", json_object_new_string("/paddocks go"));
	ck_assert(!spawner_wanted(sp, "issue_comment", ev, why, sizeof(why)));
	json_object_object_del(ev, "comment");

	json_object *task = NULL;
	char err[512] = "", n1[64], n2[64];
	ck_assert_int_eq(spawner_task(sp, "issues", "d-1", ev, &task, err, sizeof(err)), 0);
	enum model_kind k;
	ck_assert_msg(model_validate(task, NULL, &k, err, sizeof(err)) == 0, "%s", err);
	json_object *spec = json_object_object_get(task, "spec"),
		    *md = json_object_object_get(task, "metadata");
	/* the "{{" is escaped for the Task's own template pass */
	ck_assert_str_eq(json_object_get_string(json_object_object_get(spec, "prompt")),
			 "Fix Crash {{ \"{{\" }} deps.a.results.b }} of o/r");
	json_object *lb = json_object_object_get(md, "labels");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(lb, "issue")), "7");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(lb, MODEL_LABEL_SPAWNER)), "triage");
	spawner_task_name("default", "triage", "d-1", n1);
	spawner_task_name("default", "triage", "d-2", n2);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(md, "name")), n1);
	ck_assert_str_ne(n1, n2);
	ck_assert_uint_eq(strlen(n1), strlen("triage-") + 12);
	json_object_put(task);
	json_object_put(ev);
	json_object_put(sp);
}
END_TEST

static const struct {
	const char *yaml, *want;
} BAD[] = {
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, webhook: {secretRef: {name: h}, bogus: 1}}",
	  "spec.webhook.bogus: unknown field" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x, extra: 1}}, webhook: {secretRef: {name: h}}}",
	  "spec.taskTemplate.spec.extra: unknown field" },
	{ "spec: {taskTemplate: {spec: {type: exec}}, webhook: {secretRef: {name: h}}}",
	  "spec.taskTemplate.spec.prompt: required field is missing" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}}", "spec: a source is required: set one of spec.webhook, spec.schedule or spec.github" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, webhook: {}}",
	  "spec.webhook.secretRef: required field is missing" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, webhook: {type: gitlab, secretRef: {name: h}}}",
	  "spec.webhook.type: unsupported value \"gitlab\": use github or generic" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, webhook: {auth: bearer, secretRef: {name: h}}}",
	  "spec.webhook.auth: GitHub signs deliveries" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, webhook: {secretRef: {name: h}, maxBodyBytes: 99999999999}}",
	  "spec.webhook.maxBodyBytes: invalid value" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, webhook: {secretRef: {name: h}, filters: [{field: 'a b', values: [x]}]}}",
	  "spec.webhook.filters[0].field: invalid value" },
	{ "spec: {taskTemplate: {metadata: {name: x}, spec: {type: exec, prompt: x}}, webhook: {secretRef: {name: h}}}",
	  "spec.taskTemplate.metadata.name: unknown field" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, schedule: {cron: '* * *'}}",
	  "spec.schedule.cron: invalid value \"* * *\": 3 fields: use five" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, schedule: {cron: '@daily', timeZone: Moon/Base}}",
	  "spec.schedule.timeZone: unknown time zone \"Moon/Base\"" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, schedule: {cron: '@daily', concurrencyPolicy: Queue}}",
	  "spec.schedule.concurrencyPolicy: unsupported value \"Queue\": use Allow, Forbid or Replace" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, schedule: {cron: '@daily'}, webhook: {secretRef: {name: h}}}",
	  "spec: one source per Spawner" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, github: {repositories: [o/r], tokenSecretRef: {name: t}}, webhook: {secretRef: {name: h}}}",
	  "spec: one source per Spawner" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, github: {repositories: [o/r], tokenSecretRef: {name: t}, labels: ['a,b']}}",
	  "spec.github.labels[0]: a label with a comma cannot be queried" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, github: {repositories: [o/r], tokenSecretRef: {name: t}, authors: ['bad login']}}",
	  "spec.github.authors[0]: invalid value \"bad login\": use a GitHub login" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, github: {repositories: [o/r], tokenSecretRef: {name: t}, assignee: bot, claim: {assignee: bot}}}",
	  "spec.github.assignee: cannot be combined with claim.assignee" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, github: {repositories: ['o/..'], tokenSecretRef: {name: t}}}",
	  "spec.github.repositories[0]: invalid value \"o/..\"" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, github: {repositories: [o/r], tokenSecretRef: {name: t}, comment: yes}}",
	  "spec.github.comment: expected a boolean" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, github: {repositories: [o/r], tokenSecretRef: {name: t}, pollSeconds: 0}}",
	  "spec.github.pollSeconds" },
	/* plain http would send the token unencrypted: only to loopback */
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, github: {repositories: [o/r], tokenSecretRef: {name: t}, baseURL: 'http://api.github.com'}}",
	  "spec.github.baseURL: \"http://api.github.com\" is plain http to a host that is not loopback: the token would be sent unencrypted; use https://" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, github: {repositories: [o/r], tokenSecretRef: {name: t}, baseURL: 'http://127.0.0.1.evil.example/api'}}",
	  "spec.github.baseURL: \"http://127.0.0.1.evil.example/api\" is plain http" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, github: {repositories: [o/r], tokenSecretRef: {name: t}, baseURL: 'http://localhost.evil.example'}}",
	  "spec.github.baseURL: \"http://localhost.evil.example\" is plain http" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, github: {repositories: [o/r], tokenSecretRef: {name: t}, baseURL: 'http://10.0.0.1:8080'}}",
	  "spec.github.baseURL: \"http://10.0.0.1:8080\" is plain http" },
	{ "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, github: {repositories: [o/r], tokenSecretRef: {name: t}, baseURL: 'http://[::1'}}",
	  "spec.github.baseURL: \"http://[::1\" is plain http" },
};

/* https anywhere, plain http to loopback (a local proxy, the tests) */
START_TEST(test_github_base_url_ok)
{
	static const char *const ok[] = { "https://api.github.com", "https://github.example.com/api/v3",
					  "http://127.0.0.1:8080", "http://127.1.2.3/api/v3",
					  "http://localhost:3000", "http://[::1]:9000/api" };
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		char *y = xasprintf("apiVersion: paddock.dev/v1alpha1\nkind: Spawner\nmetadata: {name: s}\n"
				    "spec: {taskTemplate: {spec: {type: exec, prompt: x}}, github: {repositories: [o/r], tokenSecretRef: {name: t}, baseURL: '%s'}}\n",
				    ok[i]);
		json_object *d = doc_of(y);
		enum model_kind k;
		char err[512] = "";
		ck_assert_msg(model_validate(d, NULL, &k, err, sizeof(err)) == 0, "%s: %s", ok[i], err);
		json_object_put(d);
		free(y);
	}
}
END_TEST

START_TEST(test_invalid)
{
	char *y = xasprintf("apiVersion: paddock.dev/v1alpha1\nkind: Spawner\nmetadata: {name: s}\n%s\n",
			    BAD[_i].yaml);
	json_object *d = doc_of(y);
	enum model_kind k;
	char err[512] = "";
	ck_assert_int_eq(model_validate(d, NULL, &k, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, BAD[_i].want), "got \"%s\", want \"%s\"", err, BAD[_i].want);
	json_object_put(d);
	free(y);
}
END_TEST

static int ev_lookup(void *ctx, const char *root, const char *path, char **value)
{
	(void)ctx;
	*value = xasprintf("%s:%s{{", root, path);
	return 0;
}

START_TEST(test_template_event)
{
	char *out = NULL, err[256];
	ck_assert_int_eq(tmpl_render_event("a {{ event.x.y }} {{ deps.d.results.k }} {{ \"{{\" }} {{schedule.time}}",
					   ev_lookup, NULL, 0, &out, err, sizeof(err)), 0);
	ck_assert_str_eq(out, "a event:x.y{{ \"{{\" }} {{ deps.d.results.k }} {{ \"{{\" }} schedule:time{{ \"{{\" }}");
	free(out);
	ck_assert_int_eq(tmpl_render_event("{{ nope.x }}", ev_lookup, NULL, 0, &out, err, sizeof(err)),
			 -EINVAL);
	/* outside a Spawner, event references are not tags */
	ck_assert_int_eq(tmpl_check_deps("{{ event.x }}", NULL, 0, err, sizeof(err)), -EINVAL);
}
END_TEST


/* A document made of `fmt` with its arguments, validated (owned). */
static json_object *valid_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_object *valid_of(const char *fmt, ...)
{
	char y[2048];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(y, sizeof(y), fmt, ap);
	va_end(ap);
	json_object *d = doc_of(y);
	enum model_kind k;
	char err[512] = "";
	ck_assert_msg(model_validate(d, NULL, &k, err, sizeof(err)) == 0, "%s", err);
	return d;
}

static json_object *budget_of(const char *spec)
{
	return valid_of("apiVersion: paddock.dev/v1alpha1\nkind: Budget\nmetadata: {name: b}\nspec: %s\n", spec);
}

/* 2026-12-09T15:30:00Z, a Wednesday */
#define WED_MS ((int64_t)1796830200 * 1000)

START_TEST(test_budget_window)
{
	int64_t s, r;
	json_object *b = budget_of("{maxCostUSD: 1}"); /* window day by default */
	budget_window(b, WED_MS, &s, &r);
	ck_assert_int_eq(s, (int64_t)1796774400 * 1000); /* 2026-12-09T00:00Z */
	ck_assert_int_eq(r, (int64_t)1796860800 * 1000); /* the next midnight: the spend resets */
	json_object_put(b);
	b = budget_of("{window: week, maxTasks: 3}");
	budget_window(b, WED_MS, &s, &r);
	ck_assert_int_eq(s, (int64_t)1796601600 * 1000); /* Monday 2026-12-07 */
	ck_assert_int_eq(r, (int64_t)1797206400 * 1000);
	json_object_put(b);
	b = budget_of("{window: month, maxTokens: 10}");
	budget_window(b, WED_MS, &s, &r);
	ck_assert_int_eq(s, (int64_t)1796083200 * 1000); /* 2026-12-01 */
	ck_assert_int_eq(r, (int64_t)1798761600 * 1000); /* 2027-01-01 */
	json_object_put(b);
	b = budget_of("{rollingHours: 6, maxCostUSD: 2.5}");
	budget_window(b, WED_MS, &s, &r);
	ck_assert_int_eq(s, WED_MS - 6 * 3600 * 1000);
	json_object_put(b);
}
END_TEST

START_TEST(test_budget_caps)
{
	char msg[256];
	json_object *b = budget_of("{agentRef: {name: a}, maxCostUSD: 1, maxTokens: 100, maxTasks: 2}");
	struct budget_spend sp = { .cost_usd = 1.0, .tokens = 10, .tasks = 1 };
	ck_assert(budget_reached(b, &sp, false, msg, sizeof(msg))); /* reached: nothing starts */
	ck_assert_msg(strstr(msg, "budget b: $1.0000 of $1.0000 (maxCostUSD) spent this day"), "%s", msg);
	ck_assert(!budget_reached(b, &sp, true, msg, sizeof(msg))); /* not crossed: runs go on */
	sp.cost_usd = 0.5;
	sp.tasks = 2;
	ck_assert(budget_reached(b, &sp, false, msg, sizeof(msg)));
	ck_assert(!budget_reached(b, &sp, true, msg, sizeof(msg))); /* a task cap never kills */
	sp.tasks = 0;
	sp.tokens = 101;
	ck_assert(budget_reached(b, &sp, true, msg, sizeof(msg)));
	ck_assert_msg(strstr(msg, "101 of 100 tokens"), "%s", msg);
	json_object *t = doc_of("apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: t, namespace: default}\n"
				"spec: {agentRef: {name: a}, prompt: x, maxCostUSD: 0.5}\n");
	enum model_kind k;
	ck_assert_int_eq(model_validate(t, NULL, &k, msg, sizeof(msg)), 0);
	ck_assert(budget_covers(b, t));
	json_object *other = budget_of("{agentRef: {name: z}, maxTasks: 1}");
	ck_assert(!budget_covers(other, t));
	json_object *u = json_tokener_parse("{\"costUSD\": 0.6}");
	ck_assert(budget_task_crossed(t, u, msg, sizeof(msg)));
	json_object_object_add(u, "costUSD", json_object_new_double(0.5));
	ck_assert(!budget_task_crossed(t, u, msg, sizeof(msg)));
	json_object_put(u);
	json_object_put(other);
	json_object_put(t);
	json_object_put(b);
}
END_TEST

static const struct {
	const char *spec, *want;
} BAD_BUDGET[] = {
	{ "{window: day}", "spec: no cap: set maxCostUSD, maxTokens or maxTasks" },
	{ "{window: year, maxTasks: 1}", "spec.window: unsupported value \"year\"" },
	{ "{window: day, rollingHours: 3, maxTasks: 1}", "spec.rollingHours: not with spec.window" },
	{ "{maxCostUSD: -1}", "spec.maxCostUSD: invalid value -1" },
	{ "{maxCostUSD: cheap}", "spec.maxCostUSD: invalid value \"cheap\"" },
	{ "{agentRef: {name: a}, spawnerRef: {name: s}, maxTasks: 1}", "agentRef and spawnerRef are mutually exclusive" },
	{ "{agentRef: {name: a, kind: x}, maxTasks: 1}", "spec.agentRef.kind: unknown field" },
	{ "{limit: 1}", "spec.limit: unknown field" },
};

START_TEST(test_budget_invalid)
{
	char *y = xasprintf("apiVersion: paddock.dev/v1alpha1\nkind: Budget\nmetadata: {name: b}\nspec: %s\n",
			    BAD_BUDGET[_i].spec);
	json_object *d = doc_of(y);
	enum model_kind k;
	char err[512] = "";
	ck_assert_int_eq(model_validate(d, NULL, &k, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, BAD_BUDGET[_i].want), "got \"%s\", want \"%s\"", err, BAD_BUDGET[_i].want);
	json_object_put(d);
	free(y);
}
END_TEST

START_TEST(test_budget_decisions)
{
	struct rec_input in = { .phase = REC_QUEUED, .now_ms = 1000, .created_ms = 1, .head_of_queue = true,
				.budget_hold = "budget b: $1 of $1" };
	struct rec_decision d;
	rec_decide(&in, &d);
	ck_assert_int_eq(d.action, REC_SET_PHASE);
	ck_assert_int_eq(d.phase, REC_QUEUED);
	ck_assert_str_eq(d.reason, "BudgetExhausted");
	ck_assert_int_eq(d.requeue_after_ms, REC_BUDGET_RECHECK_MS);
	in.budget_hold = NULL;
	rec_decide(&in, &d);
	ck_assert_int_eq(d.action, REC_START);
	struct rec_input run = { .phase = REC_RUNNING, .now_ms = 1000, .run = REC_RUN_ACTIVE,
				 .budget_exceeded = "over" };
	rec_decide(&run, &d);
	ck_assert_int_eq(d.action, REC_KILL);
	ck_assert_str_eq(d.reason, "BudgetExceeded");
	run.run = REC_RUN_EXITED;
	run.exit_code = -15;
	run.run_end_reason = "BudgetExceeded";
	rec_decide(&run, &d);
	ck_assert_int_eq(d.action, REC_SET_PHASE);
	ck_assert_int_eq(d.phase, REC_FAILED);
	ck_assert_str_eq(d.reason, "BudgetExceeded");
	ck_assert_msg(strstr(d.message, "over"), "%s", d.message);
}
END_TEST


START_TEST(test_cron)
{
	struct cron c;
	char err[256];
	/* 2026-12-09T15:30:00Z is 16:30 in Berlin (CET), a Wednesday */
	ck_assert_int_eq(cron_parse("30 15 * * *", &c, err, sizeof(err)), 0);
	ck_assert(cron_matches(&c, "UTC", 1796830200));
	ck_assert(!cron_matches(&c, "Europe/Berlin", 1796830200));
	ck_assert_int_eq(cron_parse("30 16 * * wed", &c, err, sizeof(err)), 0);
	ck_assert(cron_matches(&c, "Europe/Berlin", 1796830200));
	ck_assert_int_eq(cron_parse("*/20 9-17 * dec mon-fri", &c, err, sizeof(err)), 0);
	ck_assert(!cron_matches(&c, "UTC", 1796830200)); /* :30 is not a multiple of 20 */
	ck_assert(cron_matches(&c, "UTC", 1796830200 - 600));
	/* day of month and day of week both set: either matches (cron's rule) */
	ck_assert_int_eq(cron_parse("30 15 1 * wed", &c, err, sizeof(err)), 0);
	ck_assert(cron_matches(&c, "UTC", 1796830200));
	ck_assert_int_eq(cron_parse("@hourly", &c, err, sizeof(err)), 0);
	ck_assert(!cron_matches(&c, "UTC", 1796830200));
	ck_assert_int_eq(cron_parse("* * * *", &c, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "4 fields: use five"), "%s", err);
	ck_assert_int_eq(cron_parse("61 * * * *", &c, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "minute field \"61\""), "%s", err);
	ck_assert_int_eq(cron_parse("* * * * 5-2", &c, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(cron_parse("*/0 * * * *", &c, err, sizeof(err)), -EINVAL);
	ck_assert(schedule_tz_ok("Europe/Berlin"));
	ck_assert(!schedule_tz_ok("Mars/Olympus"));
	ck_assert(!schedule_tz_ok("../../etc/passwd"));

	/* every minute, a 30-minute outage: the latest runs, 29 are missed */
	int64_t latest;
	long missed;
	ck_assert_int_eq(cron_parse("* * * * *", &c, err, sizeof(err)), 0);
	schedule_due(&c, "UTC", 1796830200, 1796830200 + 30 * 60 + 5, &latest, &missed);
	ck_assert_int_eq(latest, 1796830200 + 30 * 60);
	ck_assert_int_eq(missed, 29);
	schedule_due(&c, "UTC", 1796830200, 1796830200 + 59, &latest, &missed);
	ck_assert_int_eq(latest, 0); /* the minute taken already */
	/* 180 simulated minutes, one step each: 180 start times */
	int64_t last = 1796830200 - 60, n = 0;
	for (int64_t now = 1796830200; now < 1796830200 + 180 * 60; now += 60) {
		schedule_due(&c, "Europe/Berlin", last, now + 1, &latest, &missed);
		ck_assert_int_eq(missed, 0);
		if (latest) {
			last = latest;
			n++;
		}
	}
	ck_assert_int_eq(n, 180);
}
END_TEST

/* The decisions both backends share (control/schedule.h): what is due,
 * the deadline, and concurrencyPolicy. */
static json_object *spawner_of(const char *schedule)
{
	return valid_of("apiVersion: paddock.dev/v1alpha1\nkind: Spawner\n"
			"metadata: {name: s, namespace: default, creationTimestamp: \"2026-12-09T15:00:00Z\"}\n"
			"spec: {taskTemplate: {spec: {type: exec, prompt: x}}, schedule: %s}\n", schedule);
}

START_TEST(test_schedule_step)
{
	int64_t t0 = 1796828400; /* 2026-12-09T15:00:00Z */
	struct schedule_step st;
	json_object *sp = spawner_of("{cron: \"*/10 * * * *\", startingDeadlineSeconds: 120}");
	ck_assert(schedule_active(sp));
	ck_assert_int_eq(schedule_step(sp, t0, t0 + 599, &st), SCHEDULE_NONE);
	ck_assert_int_eq(schedule_step(sp, t0, t0 + 601, &st), SCHEDULE_DUE);
	ck_assert_int_eq(st.time, t0 + 600);
	ck_assert_str_eq(st.id, "schedule-1796829000");
	ck_assert_str_eq(st.when, "2026-12-09T15:10:00.000Z");
	ck_assert_str_eq(st.detail, "");
	/* an outage: only the latest runs, the others are counted */
	ck_assert_int_eq(schedule_step(sp, t0, t0 + 3000 + 30, &st), SCHEDULE_DUE);
	ck_assert_int_eq(st.time, t0 + 3000);
	ck_assert_int_eq(st.missed, 4);
	ck_assert_str_eq(st.detail, "4 earlier start times missed (only the latest runs) ");
	/* past startingDeadlineSeconds: late, nothing runs */
	ck_assert_int_eq(schedule_step(sp, t0, t0 + 3000 + 121, &st), SCHEDULE_LATE);
	ck_assert_msg(strstr(st.why, "121s late, over startingDeadlineSeconds"), "%s", st.why);
	/* Allow: never looks at the Tasks */
	struct strv active = { 0 };
	strv_push(&active, "s-0123456789ab");
	ck_assert(!schedule_needs_active(sp));
	ck_assert_int_eq(schedule_policy(sp, &active, &st), SCHEDULE_START);
	json_object_put(sp);
	sp = spawner_of("{cron: \"@hourly\", concurrencyPolicy: Forbid}");
	ck_assert(schedule_needs_active(sp));
	ck_assert_int_eq(schedule_step(sp, t0, t0 + 3601, &st), SCHEDULE_DUE);
	ck_assert_int_eq(schedule_policy(sp, &active, &st), SCHEDULE_FORBID);
	ck_assert_msg(strstr(st.why, "skipped 2026-12-09T16:00:00.000Z: concurrencyPolicy Forbid and task s-0123456789ab"),
		      "%s", st.why);
	struct strv none = { 0 };
	ck_assert_int_eq(schedule_policy(sp, &none, &st), SCHEDULE_START);
	json_object_put(sp);
	sp = spawner_of("{cron: \"@hourly\", concurrencyPolicy: Replace}");
	ck_assert_int_eq(schedule_policy(sp, &active, &st), SCHEDULE_REPLACE);
	ck_assert_int_eq(schedule_policy(sp, &none, &st), SCHEDULE_START);
	json_object_object_add(jget(sp, "spec"), "suspend", json_object_new_boolean(1));
	ck_assert(!schedule_active(sp));
	ck_assert_int_eq(schedule_step(sp, t0, t0 + 7200, &st), SCHEDULE_NONE);
	json_object_put(sp);
	strv_free(&active);
	/* which Tasks are a Spawner's unfinished ones */
	json_object *t = doc_of("apiVersion: paddock.dev/v1alpha1\nkind: Task\n"
				"metadata: {name: t, namespace: default, labels: {paddock.dev/spawner: s}}\n"
				"spec: {type: exec, prompt: x}\nstatus: {phase: Running}\n");
	ck_assert(schedule_task_active(t, "s"));
	ck_assert(!schedule_task_active(t, "other"));
	jset_str(jget(t, "status"), "phase", "Succeeded");
	ck_assert(!schedule_task_active(t, "s"));
	json_object_put(t);
}
END_TEST

/* A Budget's spend, Task by Task, as both backends and the CLI add it up. */
static json_object *task_of(const char *agent, const char *status)
{
	char *y = xasprintf("apiVersion: paddock.dev/v1alpha1\nkind: Task\n"
			    "metadata: {name: t-%s, namespace: default}\n"
			    "spec: {agentRef: {name: %s}, prompt: x}\nstatus: %s\n", agent, agent, status);
	json_object *d = doc_of(y);
	free(y);
	return d;
}

static json_object *so_far(void *ctx, json_object *task)
{
	(void)task;
	return json_tokener_parse(ctx);
}

static bool admitted_all(void *ctx, json_object *task)
{
	(void)ctx;
	(void)task;
	return true;
}

START_TEST(test_budget_sum)
{
	json_object *b = budget_of("{agentRef: {name: a}, maxCostUSD: 1}");
	json_object_object_add(jget(b, "metadata"), "namespace", json_object_new_string("default"));
	json_object *done = task_of("a", "{phase: Succeeded, startTime: \"2026-12-09T10:00:00Z\", "
					 "usage: {costUSD: 0.25, inputTokens: 100, outputTokens: 50}}");
	json_object *yesterday = task_of("a", "{phase: Succeeded, startTime: \"2026-12-08T10:00:00Z\", "
					      "usage: {costUSD: 5}}");
	json_object *other = task_of("z", "{phase: Succeeded, startTime: \"2026-12-09T10:00:00Z\", "
					  "usage: {costUSD: 5}}");
	json_object *running = task_of("a", "{phase: Running, startTime: \"2026-12-09T15:00:00Z\"}");
	json_object *held = task_of("a", "{phase: Queued, reason: BudgetExhausted}");
	struct strv waiting = { 0 };
	struct budget_sum s;
	budget_sum_init(&s, b, WED_MS, so_far, (void *)"{\"costUSD\": 0.5, \"outputTokens\": 7}", &waiting);
	json_object *all[] = { done, yesterday, other, running, held };
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		ck_assert_int_eq(budget_sum_task(all[i], &s), 0);
	ck_assert_int_eq(s.sp.tasks, 2);
	ck_assert(s.sp.cost_usd > 0.749 && s.sp.cost_usd < 0.751);
	ck_assert_int_eq(s.sp.tokens, 157);
	ck_assert_int_eq(waiting.n, 1);
	ck_assert_str_eq(waiting.v[0], "default/t-a");
	/* without usage so far (Kubernetes): a running Task counts as started only */
	budget_sum_init(&s, b, WED_MS, NULL, NULL, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		(void)budget_sum_task(all[i], &s);
	ck_assert_int_eq(s.sp.tasks, 2);
	ck_assert(s.sp.cost_usd > 0.249 && s.sp.cost_usd < 0.251);
	/* admitted (its Job made, no startTime yet): counts as started now;
	 * one with a startTime before the window does not */
	budget_sum_init(&s, b, WED_MS, NULL, NULL, NULL);
	s.admitted = admitted_all;
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		(void)budget_sum_task(all[i], &s);
	ck_assert_int_eq(s.sp.tasks, 3);
	ck_assert(s.sp.cost_usd > 0.249 && s.sp.cost_usd < 0.251);
	strv_free(&waiting);
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		json_object_put(all[i]);
	json_object_put(b);
}
END_TEST

START_TEST(test_schedule_gate)
{
	struct schedule_gate g = { 0 };
	int64_t t0 = 1796292000; /* a whole minute */
	ck_assert(schedule_gate_open(&g, t0 + 5, 0));   /* the first look */
	ck_assert(!schedule_gate_open(&g, t0 + 6, 0));  /* same minute, nothing changed */
	ck_assert(!schedule_gate_open(&g, t0 + 59, 0));
	ck_assert(schedule_gate_open(&g, t0 + 60, 0));  /* the next minute */
	ck_assert(!schedule_gate_open(&g, t0 + 61, 0));
	ck_assert(schedule_gate_open(&g, t0 + 62, 1));  /* a Spawner changed */
	ck_assert(!schedule_gate_open(&g, t0 + 63, 1));
	g.retry = true;                                 /* a take failed */
	ck_assert(schedule_gate_open(&g, t0 + 64, 1));
	ck_assert(!schedule_gate_open(&g, t0 + 65, 1));
	ck_assert(schedule_gate_open(&g, t0 - 60, 1));  /* the clock went back */
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("spawner");
	TCase *t = tcase_create("spawner");
	tcase_add_test(t, test_hmac_rfc4231);
	tcase_add_test(t, test_verify);
	tcase_add_test(t, test_bearer);
	tcase_add_test(t, test_wanted_and_task);
	tcase_add_loop_test(t, test_invalid, 0, (int)ARRAY_SIZE(BAD));
	tcase_add_test(t, test_github_base_url_ok);
	tcase_add_test(t, test_template_event);
	suite_add_tcase(s, t);
	tcase_add_test(t, test_cron);
	t = tcase_create("budget");
	tcase_add_test(t, test_budget_window);
	tcase_add_test(t, test_budget_caps);
	tcase_add_loop_test(t, test_budget_invalid, 0, (int)ARRAY_SIZE(BAD_BUDGET));
	tcase_add_test(t, test_budget_decisions);
	tcase_add_test(t, test_budget_sum);
	tcase_add_test(t, test_schedule_step);
	tcase_add_test(t, test_schedule_gate);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
