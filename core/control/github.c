/* SPDX-License-Identifier: MIT */
/*
 * control/github.c - the github source of Spawners, for both backends.
 * See github.h and docs/triggers.md.
 */
#include "config.h"
#include "control/github.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/jsonutil.h"
#include "base/sha256.h"
#include "base/util.h"
#include "control/metrics.h"
#include "control/spawner.h"
#include "model/model.h"
#include "plugin/http.h"

#define REPORTED GITHUB_REPORTED
#define CLAIM_MARK "<!-- paddock-claim: "
#define API_VERSION "2022-11-28"

/* A rate limit: GitHub counts per token (and server), so the Spawners
 * sharing one share its wait. */
struct ghrl {
	struct ghrl *next;
	char key[65]; /* SHA-256 of the base URL and the token */
	long remaining, limit; /* -1: unknown */
	int64_t reset_s, wait_until_ms;
	/* The login the token posts as (the user.login of the answer to our
	 * own comment's POST): a GitHub App's or bot's comments carry
	 * author_association NONE.  "" until it is known. */
	char login[64];
};

/* What the poller keeps of one Spawner between polls. */
struct ghs {
	struct ghs *next;
	char key[160]; /* ns/name */
	char claimer[17];
	int64_t next_poll_ms, interval_s;
	int64_t last_poll_ms;
	long last_status;
	struct ghrl *rl; /* its token's, set at each look */
	char last_error[600];
	/* its token's login as the state file keeps it across a restart,
	 * with the limit key (16 hex) of the token it is of */
	char login[64], login_for[17];
	char *written; /* the state file as last written */
	json_object *etags;  /* list query -> its last ETag */
	json_object *others; /* event id -> true: claimed by someone else */
	json_object *retry;  /* Task name -> {at, wait} (ms): its failed report's back-off */
	char uid[64];        /* the Spawner's uid its claimer id is of */
};

struct github {
	struct github_ops ops;
	struct metrics *metrics;
	struct http_policy pol;
	int loop_ms;
	pthread_t thread;
	volatile int stop;
	struct ghs *states;
	struct ghrl *limits;
	struct strv bases; /* github.baseURLs (without a trailing '/') */
};

/* One Spawner's poll or report: the connection to its GitHub. */
struct gh {
	struct github *g;
	struct ghs *s;
	json_object *sp, *spec; /* spec.github */
	const char *ns, *name, *base;
	char *auth; /* "Authorization: Bearer ..." (secret) */
	size_t auth_len;
	json_object *due; /* the Tasks with a report due */
};

static int64_t wall_ms(void)
{
	return now_wall_ms();
}

/* ---- requests ----------------------------------------------------------- */

/* May this poller act: not stopping, and (Kubernetes) still the leader.
 * Asked before every request, not once a turn: a turn begun as leader
 * must not go on claiming and posting after the Lease was lost. */
static bool leading(struct github *g)
{
	return !g->stop && (!g->ops.active || g->ops.active(g->ops.ctx));
}

/* The marker of a Task's start or end comment (the record that it was
 * posted, and that the issue was taken: see claim()). */
static void task_mark(char *buf, size_t len, const char *task, const char *what)
{
	snprintf(buf, len, "<!-- paddock-task: %s %s -->", task, what);
}

/* Rate-limit headers of any answer into the state. */
static void note_rate(struct gh *c, const struct http_reply *r)
{
	char v[64];
	struct ghrl *rl = c->s->rl;
	if (http_reply_header(r, "X-RateLimit-Remaining", v, sizeof(v)))
		rl->remaining = strtol(v, NULL, 10);
	if (http_reply_header(r, "X-RateLimit-Limit", v, sizeof(v)))
		rl->limit = strtol(v, NULL, 10);
	if (http_reply_header(r, "X-RateLimit-Reset", v, sizeof(v)))
		rl->reset_s = strtoll(v, NULL, 10);
	c->s->last_status = r->status;
	int64_t now = wall_ms(), until = 0;
	if (r->status == 403 || r->status == 429) {
		/* secondary limits say Retry-After; primary ones the reset */
		if (http_reply_header(r, "Retry-After", v, sizeof(v)))
			until = now + strtoll(v, NULL, 10) * 1000;
		else if (rl->remaining == 0 && rl->reset_s)
			until = rl->reset_s * 1000;
		else /* GitHub: without either, wait at least a minute */
			until = now + 60 * 1000;
	}
	if (!until && rl->remaining == 0 && rl->reset_s * 1000 > now)
		until = rl->reset_s * 1000;
	if (until > rl->wait_until_ms)
		rl->wait_until_ms = until;
}

/* method PATH (under baseURL) with an optional JSON body.  0 with *r
 * (http_reply_free it), or -errno with the reason in the state. */
static int call(struct gh *c, const char *method, const char *path, const char *etag,
		json_object *body, struct http_reply *r)
{
	if (!leading(c->g))
		return -ECANCELED; /* stopping, or no longer the leader: nothing more is sent */
	if (wall_ms() < c->s->rl->wait_until_ms)
		return -EAGAIN; /* rate limited: nothing is sent before the wait is over */
	char *url = xasprintf("%s%s", c->base, path), *inm = NULL;
	const char *hdrs[6];
	size_t n = 0;
	hdrs[n++] = c->auth;
	hdrs[n++] = "Accept: application/vnd.github+json";
	hdrs[n++] = "X-GitHub-Api-Version: " API_VERSION;
	if (etag)
		hdrs[n++] = inm = xasprintf("If-None-Match: %s", etag);
	if (body)
		hdrs[n++] = "Content-Type: application/json";
	hdrs[n] = NULL;
	const char *data = body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : NULL;
	struct http_call hc = { .method = method, .url = url, .headers = hdrs, .body = data,
				.body_len = data ? strlen(data) : 0 };
	char err[512];
	int rc = http_call(&c->g->pol, &hc, r, err, sizeof(err));
	free(url);
	free(inm);
	if (rc < 0) {
		snprintf(c->s->last_error, sizeof(c->s->last_error), "%s", err);
		log_warn("github: request failed", "spawner", c->s->key, "error", err);
		return rc;
	}
	note_rate(c, r);
	if (r->status >= 400 && r->status != 404) {
		snprintf(c->s->last_error, sizeof(c->s->last_error), "%s %s: HTTP %ld", method, path,
			 r->status);
		char st[16];
		snprintf(st, sizeof(st), "%ld", r->status);
		log_warn("github: request refused", "spawner", c->s->key, "method", method, "path", path,
			 "status", st);
	}
	return 0;
}

/* A call whose JSON answer (2xx) is wanted: owned, or NULL. */
static json_object *call_json(struct gh *c, const char *method, const char *path, json_object *body)
{
	struct http_reply r;
	if (call(c, method, path, NULL, body, &r) < 0)
		return NULL;
	json_object *j = r.status >= 200 && r.status < 300 ? json_tokener_parse(r.body) : NULL;
	http_reply_free(&r);
	return j;
}

/* A write whose answer only matters as a status: true for 2xx (and 404
 * when ok404: a label already gone). */
static bool call_ok(struct gh *c, const char *method, const char *path, json_object *body, bool ok404)
{
	struct http_reply r;
	if (call(c, method, path, NULL, body, &r) < 0)
		return false;
	bool ok = (r.status >= 200 && r.status < 300) || (ok404 && r.status == 404);
	http_reply_free(&r);
	json_object_put(body);
	return ok;
}

static char *issue_path(const char *repo, long num, const char *tail)
{
	return xasprintf("/repos/%s/issues/%ld%s", repo, num, tail);
}

/* ---- claims and posts -------------------------------------------------- */

/* The issue's comments (the first 100: claims and markers are early). */
static json_object *comments(struct gh *c, const char *repo, long num)
{
	char *p = issue_path(repo, num, "/comments?per_page=100");
	json_object *j = call_json(c, "GET", p, NULL);
	free(p);
	if (j && !json_object_is_type(j, json_type_array)) {
		json_object_put(j);
		j = NULL;
	}
	return j;
}

/* A comment by someone with write access to the repository, or by our
 * own token's login: only those count as claims and markers (anyone may
 * comment on a public issue, and a forged claim must not keep an issue
 * from being taken; a GitHub App's or bot's own comments say NONE). */
static bool trusted(struct gh *c, json_object *comment)
{
	const char *a = jstr(comment, "author_association");
	if (str_eq(a, "OWNER") || str_eq(a, "MEMBER") || str_eq(a, "COLLABORATOR"))
		return true;
	return c->s->rl->login[0] && str_eq(jstr(jget(comment, "user"), "login"), c->s->rl->login);
}

/* The claimer id in the first claim comment, "" when none (out: 17). */
static void first_claim(struct gh *c, json_object *cs, char out[17])
{
	out[0] = '\0';
	for (size_t i = 0; cs && i < json_object_array_length(cs); i++) {
		if (!trusted(c, json_object_array_get_idx(cs, i)))
			continue;
		const char *b = jstr(json_object_array_get_idx(cs, i), "body");
		const char *m = b ? strstr(b, CLAIM_MARK) : NULL;
		if (m) {
			snprintf(out, 17, "%.16s", m + strlen(CLAIM_MARK));
			return;
		}
	}
}

static bool has_marker(struct gh *c, json_object *cs, const char *mark)
{
	for (size_t i = 0; cs && i < json_object_array_length(cs); i++) {
		const char *b = jstr(json_object_array_get_idx(cs, i), "body");
		if (b && strstr(b, mark) && trusted(c, json_object_array_get_idx(cs, i)))
			return true;
	}
	return false;
}

/* POST {key: val} (val owned) to the issue's path + tail. */
static bool post_field(struct gh *c, const char *repo, long num, const char *tail, const char *key,
		       json_object *val)
{
	json_object *b = json_object_new_object();
	json_object_object_add(b, key, val);
	char *p = issue_path(repo, num, tail);
	bool ok = call_ok(c, "POST", p, b, false);
	free(p);
	return ok;
}

/* Post a comment; its answer tells the login our token posts as. */
static bool post_comment(struct gh *c, const char *repo, long num, const char *text)
{
	json_object *b = json_object_new_object();
	json_object_object_add(b, "body", json_object_new_string(text));
	char *p = issue_path(repo, num, "/comments");
	struct http_reply r;
	int rc = call(c, "POST", p, NULL, b, &r);
	free(p);
	json_object_put(b);
	if (rc < 0)
		return false;
	bool ok = r.status >= 200 && r.status < 300;
	json_object *j = ok ? json_tokener_parse(r.body) : NULL;
	const char *login = jstr(jget(j, "user"), "login");
	if (login && strlen(login) < sizeof(c->s->rl->login))
		snprintf(c->s->rl->login, sizeof(c->s->rl->login), "%s", login);
	json_object_put(j);
	http_reply_free(&r);
	return ok;
}

static bool has_label(json_object *issue, const char *label)
{
	json_object *ls = jget(issue, "labels");
	for (size_t i = 0; ls && i < json_object_array_length(ls); i++) {
		json_object *l = json_object_array_get_idx(ls, i);
		const char *n = json_object_is_type(l, json_type_string) ? json_object_get_string(l)
									: jstr(l, "name");
		if (str_eq(n, label))
			return true;
	}
	return false;
}

static bool add_labels(struct gh *c, const char *repo, long num, json_object *labels)
{
	if (!labels || !json_object_array_length(labels))
		return true;
	return post_field(c, repo, num, "/labels", "labels", json_object_get(labels));
}

static bool remove_labels(struct gh *c, const char *repo, long num, json_object *labels)
{
	bool ok = true;
	for (size_t i = 0; labels && i < json_object_array_length(labels); i++) {
		struct buf b;
		buf_init(&b, 4096);
		(void)buf_puts(&b, "/labels/");
		buf_put_escaped(&b, json_object_get_string(json_object_array_get_idx(labels, i)), true);
		char *p = issue_path(repo, num, b.data);
		ok = call_ok(c, "DELETE", p, NULL, true) && ok;
		free(p);
		buf_free(&b);
	}
	return ok;
}

static bool move_labels(struct gh *c, const char *repo, long num, const char *when)
{
	json_object *mv = jget(c->spec, when);
	bool ok = remove_labels(c, repo, num, jget(mv, "remove"));
	return add_labels(c, repo, num, jget(mv, "add")) && ok;
}

/* Claim issue num of repo and decide: 1 when it is ours to take, 0 when
 * someone else's, 2 when ours and taken before (its Task's start
 * comment is there), -1 when GitHub did not answer (tried again).  The
 * comments are read first: a claimer killed after its claim comment
 * finds it when it comes back (and posts no second one). */
static int claim(struct gh *c, const char *repo, long num, json_object *issue, const char *task)
{
	json_object *cl = jget(c->spec, "claim");
	const char *label = jstr(cl, "label"), *who = jstr(cl, "assignee");
	json_object *as = jget(issue, "assignees");
	bool claimed = label ? has_label(issue, label) : (as && json_object_array_length(as) > 0);
	bool comment = json_object_get_boolean(jget(c->spec, "comment"));
	char first[17] = "";
	if (comment) {
		json_object *cs = comments(c, repo, num);
		if (!cs)
			return -1;
		first_claim(c, cs, first);
		/* Ours, and its Task's start was reported: the Task was made
		 * and is gone since (deleted, or its TTL): taken for good.
		 * The issue's comments are the record where the backend keeps
		 * none once the Task is gone (Kubernetes). */
		char mark[160];
		task_mark(mark, sizeof(mark), task, "start");
		bool done = !strcmp(first, c->s->claimer) && has_marker(c, cs, mark);
		json_object_put(cs);
		if (done)
			return 2;
		if (*first && strcmp(first, c->s->claimer))
			return 0;
		if (!*first && claimed)
			return 0; /* claimed without a claim comment: by hand or another tool */
	} else if (claimed) {
		return 0;
	}
	if (comment && !*first) {
		char *text = xasprintf("%s%s -->\nPaddock (Spawner %s) took this issue: Task `%s`.",
				       CLAIM_MARK, c->s->claimer, c->s->key, task);
		bool ok = post_comment(c, repo, num, text);
		free(text);
		if (!ok)
			return -1;
	}
	bool ok;
	if (label) {
		json_object *ls = json_object_new_array();
		json_object_array_add(ls, json_object_new_string(label));
		ok = add_labels(c, repo, num, ls);
		json_object_put(ls);
	} else {
		json_object *a = json_object_new_array();
		json_object_array_add(a, json_object_new_string(who));
		ok = post_field(c, repo, num, "/assignees", "assignees", a);
	}
	if (!ok)
		return -1;
	if (!comment)
		return 1;
	/* Read back: the first claim comment decides between claimers. */
	json_object *cs = comments(c, repo, num);
	if (!cs)
		return -1;
	first_claim(c, cs, first);
	json_object_put(cs);
	return !strcmp(first, c->s->claimer);
}

/* ---- polling ------------------------------------------------------------ */

static void count(struct gh *c, enum spawner_outcome o)
{
	if (!c->g->metrics)
		return;
	metrics_series(c->g->metrics, "paddock_spawner_events_total", "counter",
		       "Webhook deliveries to Spawners by outcome (accepted, duplicate, filtered, rejected).",
		       "spawner", c->s->key, "outcome", spawner_outcome_name(o), 1, true);
	if (o == SPAWNER_ACCEPTED)
		metrics_series(c->g->metrics, "paddock_spawner_tasks_created_total", "counter",
			       "Tasks made by Spawners.", "spawner", c->s->key, NULL, NULL, 1, true);
}

static bool in_list(json_object *arr, const char *s)
{
	for (size_t i = 0; s && i < json_object_array_length(arr); i++)
		if (!strcasecmp(json_object_get_string(json_object_array_get_idx(arr, i)), s))
			return true;
	return false;
}

/* One issue of a poll's list: 1 when it made a Task, 0 when none, -1
 * when it must be looked at again (GitHub or the store failed). */
static int take_issue(struct gh *c, const char *repo, json_object *issue)
{
	long num = (long)json_object_get_int64(jget(issue, "number"));
	const char *author = jstr(jget(issue, "user"), "login");
	json_object *authors = jget(c->spec, "authors");
	if (num <= 0 || !json_object_is_type(issue, json_type_object))
		return 0;
	if (jget(issue, "pull_request") && !json_object_get_boolean(jget(c->spec, "pullRequests")))
		return 0;
	if (authors && json_object_array_length(authors) && !in_list(authors, author))
		return 0;
	char id[256], task[64], err[512];
	snprintf(id, sizeof(id), "%s#%ld", repo, num);
	if (jget(c->s->others, id))
		return 0;
	spawner_task_name(c->ns, c->name, id, task);
	int seen = c->g->ops.seen(c->g->ops.ctx, c->ns, c->name, id, task);
	if (seen < 0)
		return -1;
	if (seen)
		return 0;
	int mine = claim(c, repo, num, issue, task);
	if (mine < 0)
		return -1; /* the next poll tries again (no ETag kept) */
	if (mine != 1) {
		/* remembered until a restart; no event id recorded: not taken for good */
		json_object_object_add(c->s->others, id, json_object_new_boolean(1));
		char why[400];
		if (mine == 2)
			snprintf(why, sizeof(why),
				 "%s was taken before: its Task %s started and no longer exists", id, task);
		else
			snprintf(why, sizeof(why), "%s is claimed by another Spawner or controller", id);
		if (c->g->ops.filtered)
			c->g->ops.filtered(c->g->ops.ctx, c->ns, c->name, why);
		log_info("github: issue not taken", "spawner", c->s->key, "issue", id, "why", why);
		count(c, mine == 2 ? SPAWNER_DUPLICATE : SPAWNER_FILTERED);
		return 0;
	}
	/* re-read after the claim: the Task gets the issue as it is now */
	char *p = issue_path(repo, num, "");
	json_object *fresh = call_json(c, "GET", p, NULL);
	free(p);
	json_object *ev = json_object_new_object(), *r = json_object_new_object();
	json_object_object_add(ev, "issue", json_object_get(fresh ? fresh : issue));
	json_object_object_add(r, "full_name", json_object_new_string(repo));
	json_object_object_add(r, "name", json_object_new_string(strchr(repo, '/') + 1));
	json_object_object_add(ev, "repository", r);
	json_object_object_add(ev, "sender", json_object_get(jget(fresh ? fresh : issue, "user")));
	json_object_put(fresh);
	struct spawner_result res;
	int made = -1;
	if (c->g->ops.take(c->g->ops.ctx, c->sp, id, ev, &res, err, sizeof(err)) < 0) {
		log_warn("github: cannot take an issue; retried", "spawner", c->s->key, "issue", id,
			 "error", err);
	} else {
		made = res.outcome == SPAWNER_ACCEPTED;
		count(c, res.outcome);
		log_info("github: issue", "spawner", c->s->key, "issue", id, "outcome",
			 spawner_outcome_name(res.outcome), "detail", res.why);
	}
	json_object_put(ev);
	return made;
}

/* GET the open issues of one repository; true when one made a Task. */
static bool poll_repo(struct gh *c, const char *repo)
{
	struct buf q;
	buf_init(&q, 8192);
	(void)buf_puts(&q, "/repos/");
	(void)buf_puts(&q, repo);
	(void)buf_puts(&q, "/issues?state=open&sort=created&direction=asc&per_page=100");
	json_object *labels = jget(c->spec, "labels");
	for (size_t i = 0; labels && i < json_object_array_length(labels); i++) {
		(void)buf_puts(&q, i ? "," : "&labels=");
		buf_put_escaped(&q, json_object_get_string(json_object_array_get_idx(labels, i)), false);
	}
	const char *as = jstr(c->spec, "assignee");
	if (as) {
		(void)buf_puts(&q, "&assignee=");
		buf_put_escaped(&q, as, false);
	}
	struct http_reply r;
	/* ETags by query: a Spawner whose labels change asks anew */
	int rc = call(c, "GET", q.data, jstr(c->s->etags, q.data), NULL, &r);
	if (rc < 0 || r.status == 304) {
		if (rc == 0)
			http_reply_free(&r);
		buf_free(&q);
		return false;
	}
	bool found = false, retry = false;
	char etag[256];
	json_object *list = r.status == 200 ? json_tokener_parse(r.body) : NULL;
	if (list && json_object_is_type(list, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(list) && !c->g->stop; i++) {
			int t = take_issue(c, repo, json_object_array_get_idx(list, i));
			found = found || t > 0;
			retry = retry || t < 0;
		}
		/* the ETag only once its issues were taken: a failed take is
		 * looked at again by the next poll, not answered 304 */
		if (retry || c->g->stop)
			json_object_object_del(c->s->etags, q.data);
		else if (http_reply_header(&r, "ETag", etag, sizeof(etag)))
			json_object_object_add(c->s->etags, q.data, json_object_new_string(etag));
	}
	json_object_put(list);
	http_reply_free(&r);
	buf_free(&q);
	return found;
}

static void poll_spawner(struct gh *c)
{
	int64_t now = wall_ms();
	if (now < c->s->next_poll_ms || now < c->s->rl->wait_until_ms)
		return;
	c->s->last_error[0] = '\0';
	json_object *repos = jget(c->spec, "repositories");
	bool found = false;
	for (size_t i = 0; repos && i < json_object_array_length(repos) && !c->g->stop; i++) {
		if (wall_ms() < c->s->rl->wait_until_ms)
			break; /* rate limited: the rest waits too */
		if (poll_repo(c, json_object_get_string(json_object_array_get_idx(repos, i))))
			found = true;
	}
	int64_t base = json_object_get_int64(jget(c->spec, "pollSeconds"));
	int64_t max = json_object_get_int64(jget(c->spec, "maxPollSeconds"));
	if (found || !c->s->interval_s || c->s->interval_s < base)
		c->s->interval_s = base;
	else if (c->s->last_poll_ms)
		c->s->interval_s = c->s->interval_s * 2 > max ? max : c->s->interval_s * 2;
	c->s->last_poll_ms = now;
	c->s->next_poll_ms = wall_ms() + c->s->interval_s * 1000;
	if (c->g->metrics && c->s->rl->remaining >= 0)
		metrics_series(c->g->metrics, "paddock_spawner_github_ratelimit_remaining", "gauge",
			       "GitHub API requests left in the rate-limit window, per Spawner.",
			       "spawner", c->s->key, NULL, NULL, (double)c->s->rl->remaining, false);
}

/* ---- following the Tasks -------------------------------------------------- */

/* The outcome comment of a finished Task. */
static char *end_text(json_object *task, const char *mark)
{
	json_object *st = jget(task, "status"), *res = jget(st, "results");
	struct buf b;
	buf_init(&b, 16384);
	(void)buf_puts(&b, mark);
	(void)buf_puts(&b, "\nPaddock Task `");
	(void)buf_puts(&b, jstr(jget(task, "metadata"), "name"));
	(void)buf_puts(&b, "` finished: **");
	(void)buf_puts(&b, jstr(st, "phase") ? jstr(st, "phase") : "?");
	(void)buf_puts(&b, "**");
	if (jstr(st, "reason")) {
		(void)buf_puts(&b, " (");
		(void)buf_puts(&b, jstr(st, "reason"));
		(void)buf_puts(&b, ")");
	}
	(void)buf_puts(&b, ".\n");
	static const char *const keys[] = { "branch", "commit", "pullRequest", "pr", "prURL", "url" };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *v = jstr(res, keys[i]);
		if (!v)
			continue;
		char line[400];
		snprintf(line, sizeof(line), "- %s: %.300s\n", keys[i], v);
		(void)buf_puts(&b, line);
	}
	const char *msg = jstr(st, "message");
	if (msg && !str_eq(jstr(st, "phase"), "Succeeded")) {
		char line[700];
		snprintf(line, sizeof(line), "\n> %.600s\n", msg);
		(void)buf_puts(&b, line);
	}
	return buf_steal(&b);
}

/* Post `what` (start, end) of a Task once: its marker looked for first. */
static bool report(struct gh *c, json_object *task, const char *repo, long num, const char *what)
{
	const char *tname = jstr(jget(task, "metadata"), "name");
	const char *phase = jstr(jget(task, "status"), "phase");
	bool ok;
	if (!strcmp(what, "start"))
		ok = move_labels(c, repo, num, "onStart");
	else
		ok = move_labels(c, repo, num, str_eq(phase, "Succeeded") ? "onSuccess" : "onFailure");
	if (!ok || !json_object_get_boolean(jget(c->spec, "comment")))
		return ok;
	char mark[160];
	task_mark(mark, sizeof(mark), tname, what);
	json_object *cs = comments(c, repo, num);
	if (!cs)
		return false;
	bool seen = has_marker(c, cs, mark);
	json_object_put(cs);
	if (seen)
		return true;
	char *text = !strcmp(what, "start")
			     ? xasprintf("%s\nPaddock Task `%s` started.", mark, tname)
			     : end_text(task, mark);
	ok = post_comment(c, repo, num, text);
	free(text);
	return ok;
}

/* A Task of a github Spawner whose start or end is yet to be reported
 * (and can be: it started); its Spawner's name in *spawner. */
bool github_report_due(json_object *task, const char **spawner)
{
	json_object *md = jget(task, "metadata");
	const char *ev = jstr(jget(md, "annotations"), MODEL_ANNOTATION_EVENT);
	*spawner = jstr(jget(md, "labels"), MODEL_LABEL_SPAWNER);
	if (!*spawner || !ev || strncmp(ev, "github/", 7))
		return false;
	const char *done = jstr(jget(md, "annotations"), REPORTED);
	const char *ph = jstr(jget(task, "status"), "phase");
	int p = model_phase_parse(ph ? ph : "Pending");
	if (str_eq(done, "end") || p < MODEL_PHASE_RUNNING)
		return false;
	return !str_eq(done, "start") || model_phase_finished((enum model_phase)p);
}

/* A report that failed (an issue gone, a refused label, GitHub down) is
 * tried again after 5 s, doubling to 10 minutes, not at every turn: one
 * stuck Task must not spend the token's rate limit. */
#define RETRY_FIRST_MS 5000
#define RETRY_MAX_MS (10 * 60 * 1000)
static void retry_after(struct gh *c, const char *task, bool ok)
{
	if (ok || c->g->stop) {
		json_object_object_del(c->s->retry, task);
		return;
	}
	int64_t wait = json_object_get_int64(jget(jget(c->s->retry, task), "wait"));
	wait = wait ? (wait * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : wait * 2) : RETRY_FIRST_MS;
	json_object *b = json_object_new_object();
	json_object_object_add(b, "at", json_object_new_int64(wall_ms() + wait));
	json_object_object_add(b, "wait", json_object_new_int64(wait));
	json_object_object_add(c->s->retry, task, b);
}

static int follow_cb(json_object *task, void *ctx)
{
	struct gh *c = ctx;
	json_object *md = jget(task, "metadata");
	const char *ev = jstr(jget(md, "annotations"), MODEL_ANNOTATION_EVENT);
	const char *tname = jstr(md, "name");
	json_object *back = jget(c->s->retry, tname);
	if (c->g->stop || wall_ms() < json_object_get_int64(jget(back, "at")))
		return 0; /* its last report failed: tried again after the back-off */
	const char *done = jstr(jget(md, "annotations"), REPORTED);
	const char *ph = jstr(jget(task, "status"), "phase");
	int p = model_phase_parse(ph ? ph : "Pending");
	char repo[256];
	const char *hash = strrchr(ev + 7, '#');
	if (!hash || (size_t)(hash - (ev + 7)) >= sizeof(repo) || wall_ms() < c->s->rl->wait_until_ms)
		return 0;
	snprintf(repo, sizeof(repo), "%.*s", (int)(hash - (ev + 7)), ev + 7);
	long num = strtol(hash + 1, NULL, 10);
	char err[256];
	bool ok = true;
	if (!str_eq(done, "start"))
		ok = report(c, task, repo, num, "start") &&
		     c->g->ops.mark(c->g->ops.ctx, c->ns, tname, "start", err, sizeof(err)) == 0;
	if (ok && model_phase_finished((enum model_phase)p))
		ok = report(c, task, repo, num, "end") &&
		     c->g->ops.mark(c->g->ops.ctx, c->ns, tname, "end", err, sizeof(err)) == 0;
	retry_after(c, tname, ok);
	return 0;
}

/* Collect the Tasks of the Spawner with a report due (the backend's
 * tasks op gives candidates). */
static int due_cb(json_object *task, void *arg)
{
	struct gh *c = arg;
	const char *sp = NULL;
	if (github_report_due(task, &sp) && str_eq(sp, c->name))
		json_object_array_add(c->due, json_object_get(task));
	return 0;
}

/* ---- the poll state and the loop ------------------------------------------ */

static void write_state(struct gh *c)
{
	json_object *o = json_object_new_object();
	char t[40];
	if (c->s->last_poll_ms) {
		format_time_ms(c->s->last_poll_ms, t, sizeof(t));
		json_object_object_add(o, "lastPoll", json_object_new_string(t));
	}
	struct ghrl *rl = c->s->rl;
	format_time_ms(c->s->next_poll_ms > rl->wait_until_ms ? c->s->next_poll_ms : rl->wait_until_ms,
		       t, sizeof(t));
	json_object_object_add(o, "nextPoll", json_object_new_string(t));
	json_object_object_add(o, "intervalSeconds", json_object_new_int64(c->s->interval_s));
	json_object_object_add(o, "lastStatus", json_object_new_int64(c->s->last_status));
	if (rl->remaining >= 0)
		json_object_object_add(o, "rateLimitRemaining", json_object_new_int64(rl->remaining));
	if (rl->limit >= 0)
		json_object_object_add(o, "rateLimitLimit", json_object_new_int64(rl->limit));
	if (rl->reset_s) {
		format_time_ms(rl->reset_s * 1000, t, sizeof(t));
		json_object_object_add(o, "rateLimitReset", json_object_new_string(t));
	}
	if (rl->wait_until_ms > wall_ms()) {
		format_time_ms(rl->wait_until_ms, t, sizeof(t));
		json_object_object_add(o, "rateLimitedUntil", json_object_new_string(t));
	}
	if (c->s->last_error[0])
		json_object_object_add(o, "lastError", json_object_new_string(c->s->last_error));
	if (rl->login[0]) { /* kept across a restart: its own comments are known */
		char of[17];
		snprintf(of, sizeof(of), "%.16s", rl->key);
		json_object_object_add(o, "tokenLogin", json_object_new_string(rl->login));
		json_object_object_add(o, "tokenLoginOf", json_object_new_string(of));
	}
	const char *str = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (!str_eq(str, c->s->written) &&
	    c->g->ops.state_write(c->g->ops.ctx, c->ns, c->name, o) == 0) {
		free(c->s->written);
		c->s->written = xstrdup(str);
	}
	json_object_put(o);
}

static struct ghs *find_state(struct github *g, const char *ns, const char *name)
{
	char key[160];
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	for (struct ghs *s = g->states; s; s = s->next)
		if (!strcmp(s->key, key))
			return s;
	return NULL;
}

static struct ghs *state_of(struct github *g, json_object *sp, const char *ns, const char *name)
{
	char key[160];
	const char *uid = jstr(jget(sp, "metadata"), "uid");
	struct ghs *s = find_state(g, ns, name);
	if (s && str_eq(s->uid, uid ? uid : ""))
		return s;
	if (s) { /* deleted and made again under its name: another Spawner */
		json_object_put(s->others);
		s->others = json_object_new_object();
		snprintf(s->uid, sizeof(s->uid), "%s", uid ? uid : "");
		g->ops.claimer(g->ops.ctx, sp, s->claimer);
		return s;
	}
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	s = xcalloc(1, sizeof(*s));
	snprintf(s->key, sizeof(s->key), "%s", key);
	snprintf(s->uid, sizeof(s->uid), "%s", uid ? uid : "");
	s->etags = json_object_new_object();
	s->others = json_object_new_object();
	s->retry = json_object_new_object();
	g->ops.claimer(g->ops.ctx, sp, s->claimer);
#ifdef PADDOCK_TEST_HOOKS
	const char *t = getenv("PADDOCK_TEST_GITHUB_CLAIMER");
	if (t && *t)
		snprintf(s->claimer, sizeof(s->claimer), "%.16s", t);
#endif
	json_object *old = g->ops.state_read(g->ops.ctx, ns, name);
	const char *l = jstr(old, "tokenLogin"), *f = jstr(old, "tokenLoginOf");
	if (l && f && strlen(l) < sizeof(s->login) && strlen(f) == 16) {
		snprintf(s->login, sizeof(s->login), "%s", l);
		snprintf(s->login_for, sizeof(s->login_for), "%s", f);
	}
	json_object_put(old);
	s->next = g->states;
	g->states = s;
	return s;
}

static struct ghrl *limit_of(struct github *g, const char *base, const char *tok, size_t tlen)
{
	struct sha256 h;
	char key[65];
	sha256_init(&h);
	sha256_update(&h, base, strlen(base) + 1);
	sha256_update(&h, tok, tlen);
	sha256_final_hex(&h, key, 64);
	for (struct ghrl *l = g->limits; l; l = l->next)
		if (!strcmp(l->key, key))
			return l;
	struct ghrl *l = xcalloc(1, sizeof(*l));
	snprintf(l->key, sizeof(l->key), "%s", key);
	l->remaining = l->limit = -1;
	l->next = g->limits;
	g->limits = l;
	return l;
}

/* Is base one of github.baseURLs (https://api.github.com without it)?
 * A trailing '/' on either side does not count. */
static bool base_allowed(const struct github *g, const char *base)
{
	size_t n = base ? strlen(base) : 0;
	while (n && base[n - 1] == '/')
		n--;
	if (!g->bases.n)
		return n == strlen("https://api.github.com") && !strncmp(base, "https://api.github.com", n);
	for (size_t i = 0; i < g->bases.n; i++)
		if (strlen(g->bases.v[i]) == n && !strncmp(g->bases.v[i], base, n))
			return true;
	return false;
}

static int spawner_cb(json_object *sp, void *ctx)
{
	struct github *g = ctx;
	json_object *md = jget(sp, "metadata"), *spec = jget(sp, "spec"), *ghs = jget(spec, "github");
	if (!ghs || g->stop)
		return 0;
	struct gh c = { g, NULL, sp, ghs, jstr(md, "namespace"), jstr(md, "name"), jstr(ghs, "baseURL"),
			NULL, 0, NULL };
	c.s = state_of(g, sp, c.ns, c.name);
	static struct ghrl none = { .remaining = -1, .limit = -1 };
	if (!c.s->rl)
		c.s->rl = &none; /* until its token is read */
	/* The token is read (and its limit found) only when a poll or a
	 * report is due: most turns of the loop have nothing to do. */
	int64_t now = wall_ms();
	bool poll = !json_object_get_boolean(jget(spec, "suspend")) && now >= c.s->next_poll_ms;
	c.due = json_object_new_array();
	if (now >= c.s->rl->wait_until_ms)
		(void)g->ops.tasks(g->ops.ctx, c.ns, c.name, due_cb, &c);
	bool follow = json_object_array_length(c.due) > 0;
	if ((!poll && !follow) || now < c.s->rl->wait_until_ms) {
		write_state(&c);
		json_object_put(c.due);
		return 0;
	}
	json_object *ref = jget(ghs, "tokenSecretRef");
	char *tok = NULL, err[512];
	size_t tlen = 0;
	if (!base_allowed(g, c.base)) {
		/* Before the Secret is read: a Spawner's author must not be
		 * able to send a Secret of its namespace to a host of theirs. */
		snprintf(c.s->last_error, sizeof(c.s->last_error),
			 "spec.github.baseURL: %.200s is not in github.baseURLs of paddock.yaml (without it only https://api.github.com): the token is sent nowhere else; an operator adds a GitHub Enterprise URL there",
			 c.base);
		write_state(&c);
		json_object_put(c.due);
		return 0;
	}
	if (g->ops.secret(g->ops.ctx, c.ns, jstr(ref, "name"), jstr(ref, "key"), &tok, &tlen, err,
			  sizeof(err)) < 0) {
		snprintf(c.s->last_error, sizeof(c.s->last_error), "tokenSecretRef: %s", err);
		write_state(&c);
		json_object_put(c.due);
		return 0;
	}
	while (tlen && strchr(" \t\r\n", tok[tlen - 1]))
		tok[--tlen] = '\0'; /* a token file's line break */
	if (memchr(tok, '\n', tlen) || memchr(tok, '\r', tlen) || !tlen) {
		snprintf(c.s->last_error, sizeof(c.s->last_error),
			 "tokenSecretRef: the token is empty or has a line break: store the token alone");
		secure_free(tok, tlen);
		write_state(&c);
		json_object_put(c.due);
		return 0;
	}
	c.s->rl = limit_of(g, c.base, tok, tlen);
	if (!c.s->rl->login[0] && c.s->login[0] && !strncmp(c.s->login_for, c.s->rl->key, 16))
		snprintf(c.s->rl->login, sizeof(c.s->rl->login), "%s", c.s->login);
	c.auth_len = tlen + 32;
	c.auth = xcalloc(1, c.auth_len);
	snprintf(c.auth, c.auth_len, "Authorization: Bearer %s", tok);
	secure_free(tok, tlen);
	if (poll)
		poll_spawner(&c);
	for (size_t i = 0; i < json_object_array_length(c.due) && !g->stop; i++)
		(void)follow_cb(json_object_array_get_idx(c.due, i), &c);
	write_state(&c);
	secure_free(c.auth, c.auth_len);
	json_object_put(c.due);
	return 0;
}

static void *loop(void *arg)
{
	struct github *g = arg;
	while (!g->stop) {
		if (leading(g)) {
			if (g->ops.turn)
				g->ops.turn(g->ops.ctx);
			(void)g->ops.spawners(g->ops.ctx, spawner_cb, g);
		}
		for (int i = 0; i < g->loop_ms / 50 && !g->stop; i++) {
			struct timespec ts = { 0, 50 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

int github_start(const struct github_ops *ops, const struct pd_config *cfg, struct metrics *m,
		 int loop_ms, struct github **out, char *err, size_t errlen)
{
	struct github *g = xcalloc(1, sizeof(*g));
	g->ops = *ops;
	g->metrics = m;
	g->pol = (struct http_policy){ .max_bytes = 8 << 20, .timeout_ms = 15000, .max_redirects = 3,
				       .allow_loopback = cfg->allow_loopback,
				       .allow_private = cfg->allow_private };
	g->loop_ms = loop_ms;
	for (size_t i = 0; i < cfg->github_base_urls.n; i++) {
		const char *u = cfg->github_base_urls.v[i];
		size_t n = strlen(u);
		while (n && u[n - 1] == '/')
			n--;
		strv_push_owned(&g->bases, xstrndup(u, n));
	}
	int rc = pthread_create(&g->thread, NULL, loop, g);
	if (rc != 0) {
		strv_free(&g->bases);
		free(g);
		return errf(err, errlen, -rc, "github: cannot start the poller: %s", strerror(rc));
	}
	*out = g;
	return 0;
}

void github_free(struct github *g)
{
	if (!g)
		return;
	g->stop = 1;
	pthread_join(g->thread, NULL);
	for (struct ghrl *l = g->limits, *n; l; l = n) {
		n = l->next;
		free(l);
	}
	for (struct ghs *s = g->states, *n; s; s = n) {
		n = s->next;
		json_object_put(s->etags);
		json_object_put(s->others);
		json_object_put(s->retry);
		free(s->written);
		free(s);
	}
	strv_free(&g->bases);
	free(g);
}
