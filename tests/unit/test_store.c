/* SPDX-License-Identifier: MIT */
/* test_store.c - the SQLite store: file modes, migrations, apply/update
 * rules, FIFO queue, events, secrets (errors never carry values), and
 * two processes writing at once without SQLITE_BUSY reaching the caller
 * nor a queued Task being admitted twice. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plugin/host.h"
#include "model/manifest.h"
#include "model/model.h"
#include "local/store.h"
#include "base/util.h"

static char err[1024];
static char dir[256];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/paddock-store-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* the store lives one level down so that store_open creates it */
	strcat(dir, "/state");
}

static void teardown(void)
{
	char *parent = xstrndup(dir, strlen(dir) - strlen("/state"));
	rm_rf(parent);
	free(parent);
}

static struct store *open_store(void)
{
	struct store *s = NULL;
	err[0] = '\0';
	int rc = store_open(dir, &s, err, sizeof(err));
	ck_assert_msg(rc == 0, "store_open: %s", err);
	return s;
}

static unsigned mode_of(const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* Parse + validate one document. */
static json_object *doc(const char *yaml, enum model_kind *kind)
{
	json_object **docs = NULL;
	size_t n = 0;
	ck_assert_int_eq(manifest_parse("t", yaml, strlen(yaml), NULL, &docs, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 1);
	json_object *d = json_object_get(docs[0]);
	manifest_docs_free(docs, n);
	int rc = model_validate(d, NULL, kind, err, sizeof(err));
	ck_assert_msg(rc == 0, "validate: %s", err);
	return d;
}

static int apply(struct store *s, const char *yaml, bool *created)
{
	enum model_kind k;
	json_object *d = doc(yaml, &k);
	err[0] = '\0';
	int rc = store_apply(s, d, k, created, err, sizeof(err));
	json_object_put(d);
	return rc;
}

static void add_task(struct store *s, const char *name, const char *agent)
{
	char *y = agent ? xasprintf("apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: %s}\n"
				    "spec: {agentRef: {name: %s}, prompt: hi}\n", name, agent)
			: xasprintf("apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: %s}\n"
				    "spec: {type: exec, prompt: hi}\n", name);
	bool created = false;
	int rc = apply(s, y, &created);
	ck_assert_msg(rc == 0, "apply %s: %s", name, err);
	ck_assert(created);
	free(y);
}

static int set_phase(struct store *s, const char *name, const char *phase, const char *reason)
{
	json_object *st = json_object_new_object();
	json_object_object_add(st, "phase", json_object_new_string(phase));
	int rc = store_set_status(s, "default", name, st, reason, reason ? "because" : NULL, err,
				  sizeof(err));
	json_object_put(st);
	return rc;
}

static const char *field(json_object *o, const char *path)
{
	return model_field(o, path);
}

START_TEST(modes_and_migrations)
{
	struct store *s = open_store();
	ck_assert_uint_eq(mode_of(dir), 0700);
	char *db = xasprintf("%s/paddock.db", dir);
	char *wal = xasprintf("%s/paddock.db-wal", dir);
	char *shm = xasprintf("%s/paddock.db-shm", dir);
	ck_assert_uint_eq(mode_of(db), 0600);
	add_task(s, "t", NULL); /* forces the -wal and -shm files */
	ck_assert_uint_eq(mode_of(wal), 0600);
	ck_assert_uint_eq(mode_of(shm), 0600);
	ck_assert_int_eq(store_schema_version(s), STORE_SCHEMA_VERSION);
	store_close(s);

	/* reopening migrates nothing and keeps the data */
	chmod(dir, 0755);
	chmod(db, 0644);
	s = open_store();
	ck_assert_uint_eq(mode_of(dir), 0700); /* ours: tightened */
	ck_assert_uint_eq(mode_of(db), 0600);
	ck_assert_int_eq(store_schema_version(s), STORE_SCHEMA_VERSION);
	ck_assert_int_eq(store_count_phase(s, MODEL_PHASE_PENDING, NULL), 1);
	store_close(s);

	/* a database from a newer paddock is refused */
	sqlite3 *raw = NULL;
	ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(raw, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	struct store *s2 = (struct store *)0x1;
	ck_assert_int_eq(store_open(dir, &s2, err, sizeof(err)), -EPROTO);
	ck_assert_ptr_eq(s2, (struct store *)0x1);
	char *want = xasprintf("store %s: schema version 99 is newer than this paddock supports (%d): upgrade paddock or use another state directory",
			       db, STORE_SCHEMA_VERSION);
	ck_assert_str_eq(err, want);
	free(want);

	/* someone else's world-readable directory is refused, not chmod'ed */
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(dir, 65534, 65534), 0);
		chmod(dir, 0777);
		ck_assert_int_eq(store_open(dir, &s2, err, sizeof(err)), -EPERM);
		ck_assert_msg(strstr(err, "is owned by uid 65534 and accessible by group or others (mode 0777)"),
			      "%s", err);
		ck_assert_uint_eq(mode_of(dir), 0777);
		ck_assert_int_eq(chown(dir, 0, 0), 0);
	}
	free(db);
	free(wal);
	free(shm);
}
END_TEST

static int count_cb(json_object *o, void *ctx)
{
	(void)o;
	(*(int *)ctx)++;
	return 0;
}

/* Every write bumps the resource version; a status write made on an old
 * one is refused (-ESTALE) and changes nothing; the watch lists what
 * changed; a task marked for deletion cannot be applied again. */
START_TEST(versions_and_intents)
{
	struct store *s = open_store();
	add_task(s, "t1", NULL);
	json_object *o = NULL;
	ck_assert_int_eq(store_get(s, MODEL_TASK, "default", "t1", &o), 0);
	char *rv = xstrdup(field(o, "metadata.resourceVersion"));
	ck_assert_ptr_nonnull(rv);
	int64_t top = store_rv(s);
	ck_assert_int_eq(strtoll(rv, NULL, 10), top);
	json_object_put(o);

	/* the CLI's intent lands between the controller's read and write */
	ck_assert_int_eq(store_set_annotation(s, MODEL_TASK, "default", "t1", MODEL_ANNOTATION_STOP,
					      "true", err, sizeof(err)), 0);
	ck_assert_int_gt(store_rv(s), top);
	json_object *st = json_object_new_object();
	json_object_object_add(st, "phase", json_object_new_string("Running"));
	ck_assert_int_eq(store_set_status_if(s, "default", "t1", rv, st, "Started", "x", err,
					     sizeof(err)), -ESTALE);
	ck_assert_msg(strstr(err, "changed since it was read"), "%s", err);
	ck_assert_int_eq(store_get(s, MODEL_TASK, "default", "t1", &o), 0);
	ck_assert_str_eq(field(o, "status.phase"), "Pending");
	ck_assert(model_stop_requested(o));
	/* on the fresh version it succeeds */
	const char *fresh = field(o, "metadata.resourceVersion");
	ck_assert_int_eq(store_set_status_if(s, "default", "t1", fresh, st, "Stopped", "x", err,
					     sizeof(err)), 0);
	json_object_put(o);
	json_object_put(st);

	/* the watch: only what was written after a version */
	int64_t mark = store_rv(s);
	add_task(s, "t2", NULL);
	int n = 0;
	ck_assert_int_eq(store_changed_tasks(s, mark, count_cb, &n), 0);
	ck_assert_int_eq(n, 1);

	/* deletion mark: kept, listed, refuses a re-apply */
	ck_assert_int_eq(store_mark_deleted(s, MODEL_TASK, "default", "t2", err, sizeof(err)), 0);
	ck_assert_int_eq(store_get(s, MODEL_TASK, "default", "t2", &o), 0);
	ck_assert_ptr_nonnull(field(o, "metadata.deletionTimestamp"));
	json_object_put(o);
	n = 0;
	ck_assert_int_eq(store_list_deleting(s, count_cb, &n), 0);
	ck_assert_int_eq(n, 1);
	bool created = true;
	ck_assert_int_eq(apply(s, "apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: t2}\n"
				  "spec: {type: exec, prompt: again}\n", &created), -EBUSY);
	ck_assert_msg(strstr(err, "is being deleted"), "%s", err);
	/* a user's document cannot set the mark */
	ck_assert_int_eq(apply(s, "apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: t3, deletionTimestamp: \"2020-01-01T00:00:00Z\"}\n"
				  "spec: {type: exec, prompt: hi}\n", &created), 0);
	n = 0;
	ck_assert_int_eq(store_list_deleting(s, count_cb, &n), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(store_mark_deleted(s, MODEL_TASK, "default", "nope", err, sizeof(err)), -ENOENT);
	free(rv);
	store_close(s);
}
END_TEST

START_TEST(default_dir)
{
	setenv("PADDOCK_STATE_DIR", "/srv/pd", 1);
	ck_assert_str_eq(store_default_dir(), "/srv/pd");
	unsetenv("PADDOCK_STATE_DIR");
	if (geteuid() == 0) {
		ck_assert_str_eq(store_default_dir(), "/var/lib/paddock");
	} else {
		setenv("XDG_STATE_HOME", "/x/state", 1);
		ck_assert_str_eq(store_default_dir(), "/x/state/paddock");
	}
}
END_TEST

#define T1 "apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: t1, labels: {a: b}}\n"

START_TEST(apply_rules)
{
	struct store *s = open_store();
	bool created = false;
	ck_assert_int_eq(apply(s, T1 "spec: {type: exec, prompt: one}\nstatus: {phase: Succeeded}\n", &created), 0);
	ck_assert(created);
	json_object *o = NULL;
	ck_assert_int_eq(store_get(s, MODEL_TASK, "default", "t1", &o), 0);
	ck_assert_str_eq(field(o, "status.phase"), "Pending"); /* input status ignored */
	ck_assert_str_eq(field(o, "metadata.generation"), "1");
	ck_assert_uint_eq(strlen(field(o, "metadata.uid")), 36);
	ck_assert_uint_eq(strlen(field(o, "metadata.creationTimestamp")), 24); /* with milliseconds */
	char *uid = xstrdup(field(o, "metadata.uid"));
	json_object_put(o);

	/* same spec: no change; new spec while Pending: generation 2 */
	ck_assert_int_eq(apply(s, T1 "spec: {type: exec, prompt: one}\n", &created), 0);
	ck_assert(!created);
	ck_assert_int_eq(apply(s, T1 "spec: {type: exec, prompt: two}\n", &created), 0);
	ck_assert_int_eq(store_get(s, MODEL_TASK, "default", "t1", &o), 0);
	ck_assert_str_eq(field(o, "metadata.generation"), "2");
	ck_assert_str_eq(field(o, "metadata.uid"), uid);
	ck_assert_str_eq(field(o, "spec.prompt"), "two");
	json_object_put(o);

	/* once started the spec is frozen; labels may still change */
	ck_assert_int_eq(set_phase(s, "t1", "Running", "Started"), 0);
	ck_assert_int_eq(apply(s, T1 "spec: {type: exec, prompt: three}\n", &created), -EPERM);
	ck_assert_str_eq(err, "task \"default/t1\" is Running: its spec cannot change once started; only metadata.labels and metadata.annotations can (delete and re-create it to run again)");
	ck_assert_int_eq(apply(s, "apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: t1, labels: {a: c}}\n"
				  "spec: {type: exec, prompt: two}\n", &created), 0);
	ck_assert_int_eq(store_get(s, MODEL_TASK, "default", "t1", &o), 0);
	ck_assert_str_eq(field(o, "metadata.labels.a"), "c");
	ck_assert_str_eq(field(o, "status.phase"), "Running"); /* status kept */
	ck_assert_str_eq(field(o, "metadata.generation"), "2");
	json_object_put(o);

	/* spec.stop may change on a started task */
	ck_assert_int_eq(apply(s, T1 "spec: {type: exec, prompt: two, stop: true}\n", &created), 0);
	ck_assert_int_eq(store_get(s, MODEL_TASK, "default", "t1", &o), 0);
	ck_assert(model_stop_requested(o));
	ck_assert_str_eq(field(o, "metadata.generation"), "2");
	json_object_put(o);
	ck_assert_int_eq(apply(s, T1 "spec: {type: exec, prompt: two}\n", &created), 0);
	ck_assert_int_eq(store_get(s, MODEL_TASK, "default", "t1", &o), 0);
	ck_assert(!model_stop_requested(o));
	json_object_put(o);

	/* stop request: an annotation, no generation bump, kept by re-apply */
	ck_assert_int_eq(store_set_annotation(s, MODEL_TASK, "default", "t1", MODEL_ANNOTATION_STOP,
					      "true", err, sizeof(err)), 0);
	ck_assert_int_eq(apply(s, T1 "spec: {type: exec, prompt: two}\n", &created), 0);
	ck_assert_int_eq(store_get(s, MODEL_TASK, "default", "t1", &o), 0);
	ck_assert(model_stop_requested(o));
	ck_assert_str_eq(field(o, "status.phase"), "Running");
	ck_assert_str_eq(field(o, "metadata.generation"), "2");
	json_object_put(o);
	ck_assert_int_eq(store_set_annotation(s, MODEL_TASK, "default", "nope", "a", "b", err,
					      sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "Task \"default/nope\" not found");

	/* bad status */
	json_object *bad = json_object_new_object();
	ck_assert_int_eq(store_set_status(s, "default", "t1", bad, NULL, NULL, err, sizeof(err)), -EINVAL);
	json_object_put(bad);
	ck_assert_int_eq(set_phase(s, "ghost", "Running", NULL), -ENOENT);
	ck_assert_str_eq(err, "task \"default/ghost\" not found");

	/* delete */
	ck_assert_int_eq(store_delete(s, MODEL_TASK, "default", "t1", err, sizeof(err)), 0);
	ck_assert_int_eq(store_get(s, MODEL_TASK, "default", "t1", &o), -ENOENT);
	ck_assert_int_eq(store_delete(s, MODEL_TASK, "default", "t1", err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "Task \"default/t1\" not found");
	free(uid);
	store_close(s);
}
END_TEST

static enum store_applied apply_res(struct store *s, const char *yaml)
{
	enum model_kind k;
	json_object *d = doc(yaml, &k);
	enum store_applied res = (enum store_applied)-1;
	err[0] = '\0';
	int rc = store_apply_result(s, d, k, &res, err, sizeof(err));
	ck_assert_msg(rc == 0, "apply: %s", err);
	json_object_put(d);
	return res;
}

/* Re-applying what is stored writes nothing: no resource version, no
 * change for the controller's watch; any difference is written. */
START_TEST(apply_unchanged)
{
	struct store *s = open_store();
	ck_assert_int_eq(apply_res(s, T1 "spec: {type: exec, prompt: one}\n"), STORE_APPLY_CREATED);
	int64_t rv = store_rv(s);
	ck_assert_int_eq(apply_res(s, T1 "spec: {type: exec, prompt: one}\n"), STORE_APPLY_UNCHANGED);
	ck_assert_int_eq(store_rv(s), rv);
	int n = 0;
	ck_assert_int_eq(store_changed_tasks(s, rv, count_cb, &n), 0);
	ck_assert_int_eq(n, 0);
	/* a stop request is kept by a re-apply that does not set it: unchanged */
	ck_assert_int_eq(store_set_annotation(s, MODEL_TASK, "default", "t1", MODEL_ANNOTATION_STOP,
					      "true", err, sizeof(err)), 0);
	rv = store_rv(s);
	ck_assert_int_eq(apply_res(s, T1 "spec: {type: exec, prompt: one}\n"), STORE_APPLY_UNCHANGED);
	ck_assert_int_eq(store_rv(s), rv);
	/* a label, spec.stop, the spec: configured, a new version */
	ck_assert_int_eq(apply_res(s, "apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: t1, labels: {a: c}}\n"
				      "spec: {type: exec, prompt: one}\n"), STORE_APPLY_CONFIGURED);
	ck_assert_int_gt(store_rv(s), rv);
	rv = store_rv(s);
	ck_assert_int_eq(apply_res(s, T1 "spec: {type: exec, prompt: one, stop: true}\n"), STORE_APPLY_CONFIGURED);
	ck_assert_int_gt(store_rv(s), rv);
	ck_assert_int_eq(apply_res(s, T1 "spec: {type: exec, prompt: two}\n"), STORE_APPLY_CONFIGURED);
	/* other kinds too */
	const char *cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {k: v}\n";
	const char *sec = "apiVersion: v1\nkind: Secret\nmetadata: {name: sec}\nstringData: {k: v}\n";
	ck_assert_int_eq(apply_res(s, cm), STORE_APPLY_CREATED);
	ck_assert_int_eq(apply_res(s, sec), STORE_APPLY_CREATED);
	rv = store_rv(s);
	ck_assert_int_eq(apply_res(s, cm), STORE_APPLY_UNCHANGED);
	ck_assert_int_eq(apply_res(s, sec), STORE_APPLY_UNCHANGED);
	ck_assert_int_eq(store_rv(s), rv);
	ck_assert_int_eq(apply_res(s, "apiVersion: v1\nkind: Secret\nmetadata: {name: sec}\nstringData: {k: w}\n"),
			 STORE_APPLY_CONFIGURED);
	/* store_apply() still says created or not */
	bool created = true;
	ck_assert_int_eq(apply(s, cm, &created), 0);
	ck_assert(!created);
	store_close(s);
}
END_TEST

static int collect_names(json_object *o, void *ctx)
{
	struct strv *v = ctx;
	strv_push(v, field(o, "metadata.name"));
	return 0;
}

START_TEST(fifo_queue)
{
	struct store *s = open_store();
	static const char *const names[] = { "a1", "b2", "c3", "d4", "e5" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		add_task(s, names[i], i % 2 ? "agent-x" : NULL);
	json_object *t = NULL;
	ck_assert_int_eq(store_next_queued(s, NULL, &t), -ENOENT);
	/* queued in reverse order: the queue still follows creation order */
	for (size_t i = ARRAY_SIZE(names); i-- > 0;)
		ck_assert_int_eq(set_phase(s, names[i], "Queued", NULL), 0);
	ck_assert_int_eq(store_count_phase(s, MODEL_PHASE_QUEUED, NULL), 5);
	ck_assert_int_eq(store_count_phase(s, MODEL_PHASE_QUEUED, "default/agent-x"), 2);
	ck_assert_int_eq(store_count_phase(s, MODEL_PHASE_QUEUED, ""), 3);

	ck_assert_int_eq(store_next_queued(s, NULL, &t), 0);
	ck_assert_str_eq(field(t, "metadata.name"), "a1");
	json_object_put(t);
	ck_assert_int_eq(store_next_queued(s, "default/agent-x", &t), 0);
	ck_assert_str_eq(field(t, "metadata.name"), "b2");
	json_object_put(t);

	ck_assert_int_eq(set_phase(s, "a1", "Running", "Started"), 0);
	ck_assert_int_eq(set_phase(s, "b2", "Running", "Started"), 0);
	ck_assert_int_eq(store_count_phase(s, MODEL_PHASE_RUNNING, "default/agent-x"), 1);
	ck_assert_int_eq(store_next_queued(s, NULL, &t), 0);
	ck_assert_str_eq(field(t, "metadata.name"), "c3");
	json_object_put(t);
	ck_assert_int_eq(store_next_queued(s, "default/agent-x", &t), 0);
	ck_assert_str_eq(field(t, "metadata.name"), "d4");
	json_object_put(t);

	struct strv v = { 0 };
	ck_assert_int_eq(store_list_phase(s, MODEL_PHASE_QUEUED, collect_names, &v), 0);
	ck_assert_uint_eq(v.n, 3);
	ck_assert_str_eq(v.v[0], "c3");
	ck_assert_str_eq(v.v[2], "e5");
	strv_free(&v);
	ck_assert_int_eq(store_list(s, MODEL_TASK, NULL, collect_names, &v), 0);
	ck_assert_uint_eq(v.n, 5);
	ck_assert_str_eq(v.v[0], "a1");
	strv_free(&v);
	ck_assert_int_eq(store_list(s, MODEL_TASK, "other", collect_names, &v), 0);
	ck_assert_uint_eq(v.n, 0);
	store_close(s);
}
END_TEST

static int collect_events(int64_t t, const char *type, const char *reason, const char *msg,
			  void *ctx)
{
	struct strv *v = ctx;
	ck_assert_int_gt(t, 0);
	strv_push_owned(v, xasprintf("%s/%s/%s", type, reason, msg));
	return 0;
}

START_TEST(events)
{
	struct store *s = open_store();
	add_task(s, "t", NULL);
	ck_assert_int_eq(set_phase(s, "t", "Running", "Started"), 0);
	ck_assert_int_eq(set_phase(s, "t", "Failed", "AgentFailed"), 0);
	ck_assert_int_eq(store_add_event(s, "default", "t", "Normal", "Note", "hello", err, sizeof(err)), 0);
	struct strv v = { 0 };
	ck_assert_int_eq(store_events(s, "default", "t", collect_events, &v), 0);
	ck_assert_uint_eq(v.n, 4);
	ck_assert_str_eq(v.v[0], "Normal/Created/task created");
	ck_assert_str_eq(v.v[1], "Normal/Started/because");
	ck_assert_str_eq(v.v[2], "Warning/AgentFailed/because");
	ck_assert_str_eq(v.v[3], "Normal/Note/hello");
	strv_free(&v);
	/* delete + re-create: a fresh event log */
	ck_assert_int_eq(store_delete(s, MODEL_TASK, "default", "t", err, sizeof(err)), 0);
	add_task(s, "t", NULL);
	ck_assert_int_eq(store_events(s, "default", "t", collect_events, &v), 0);
	ck_assert_uint_eq(v.n, 1);
	strv_free(&v);
	store_close(s);
}
END_TEST

START_TEST(secrets_and_configmaps)
{
	struct store *s = open_store();
	ck_assert_int_eq(apply(s, "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n"
				  "stringData: {apiKey: sk-VERY-SECRET}\ndata: {raw: AAEC}\n", NULL), 0);
	char *val = NULL;
	size_t len = 0;
	ck_assert_int_eq(store_secret_get(s, "default", "creds", "apiKey", &val, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(len, 14);
	ck_assert_str_eq(val, "sk-VERY-SECRET");
	secure_free(val, len);
	ck_assert_int_eq(store_secret_get(s, "default", "creds", "raw", &val, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert(val[0] == 0 && val[1] == 1 && val[2] == 2);
	secure_free(val, len);

	val = (char *)0x1;
	ck_assert_int_eq(store_secret_get(s, "default", "creds", "token", &val, &len, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "secret \"default/creds\" has no key \"token\"");
	ck_assert_ptr_eq(val, (char *)0x1);
	ck_assert_int_eq(store_secret_get(s, "prod", "creds", "apiKey", &val, &len, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "secret \"prod/creds\" not found");

	/* an immutable Secret cannot change */
	ck_assert_int_eq(apply(s, "apiVersion: v1\nkind: Secret\nmetadata: {name: imm}\nimmutable: true\n"
				  "stringData: {k: v1}\n", NULL), 0);
	ck_assert_int_eq(apply(s, "apiVersion: v1\nkind: Secret\nmetadata: {name: imm}\nimmutable: true\n"
				  "stringData: {k: v2}\n", NULL), -EPERM);
	ck_assert_str_eq(err, "Secret \"default/imm\" is immutable: delete and re-create it to change it");
	ck_assert_ptr_null(strstr(err, "v2"));

	ck_assert_int_eq(apply(s, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: ns}\n"
				  "data: {z: last, a: first}\nbinaryData: {bin: AAEC}\n", NULL), 0);
	struct paddock_object *o = NULL;
	ck_assert_int_eq(store_configmap_get(s, "ns", "cm", &o, err, sizeof(err)), 0);
	ck_assert_uint_eq(o->n, 3);
	ck_assert_str_eq(o->items[0].key, "a");
	ck_assert_str_eq(o->items[0].value, "first");
	ck_assert_str_eq(o->items[1].key, "bin");
	ck_assert_uint_eq(o->items[1].len, 3);
	ck_assert_str_eq(o->items[2].key, "z");
	host_object_free(o);
	ck_assert_int_eq(store_configmap_get(s, "ns", "nope", &o, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "configmap \"ns/nope\" not found");
	store_close(s);
}
END_TEST

/* ---- two processes --------------------------------------------------- */

struct admit_ctx {
	char name[128];
};

/* One admission: the oldest Queued task becomes Running, atomically. */
static int admit_one(struct store *s, void *ctx, char *e, size_t elen)
{
	struct admit_ctx *a = ctx;
	json_object *t = NULL;
	int rc = store_next_queued(s, NULL, &t);
	if (rc < 0)
		return rc;
	snprintf(a->name, sizeof(a->name), "%s", field(t, "metadata.name"));
	json_object_put(t);
	json_object *st = json_object_new_object();
	json_object_object_add(st, "phase", json_object_new_string("Running"));
	json_object_object_add(st, "runId", json_object_new_int(getpid()));
	rc = store_set_status(s, "default", a->name, st, "Started", "admitted", e, elen);
	json_object_put(st);
	return rc;
}

/* Child: create a task, admit one, repeat; then drain the queue. */
static int child_work(int id)
{
	struct store *s = NULL;
	char e[512];
	if (store_open(dir, &s, e, sizeof(e)) < 0)
		return 10;
	int admitted = 0;
	for (int i = 0; i < 400; i++) {
		if (i < 100) {
			char *y = xasprintf("apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: w%d-%d}\n"
					    "spec: {type: exec, prompt: hi}\n", id, i);
			json_object **docs = NULL;
			size_t n = 0;
			enum model_kind k;
			int rc = manifest_parse("t", y, strlen(y), NULL, &docs, &n, e, sizeof(e));
			if (rc == 0 && (rc = model_validate(docs[0], NULL, &k, e, sizeof(e))) == 0)
				rc = store_apply(s, docs[0], k, NULL, e, sizeof(e));
			manifest_docs_free(docs, n);
			free(y);
			if (rc < 0) {
				fprintf(stderr, "child %d apply: %s\n", id, e);
				return 11;
			}
		}
		struct admit_ctx a;
		int rc = store_tx(s, admit_one, &a, e, sizeof(e));
		if (rc == -ENOENT && i >= 100)
			break;
		if (rc == -ENOENT)
			continue;
		if (rc < 0) {
			fprintf(stderr, "child %d admit: %s\n", id, e);
			return 12;
		}
		admitted++;
		usleep(200); /* a real controller does other work between admissions */
	}
	store_close(s);
	fprintf(stderr, "child %d admitted %d\n", id, admitted);
	return 0;
}

static int check_once(json_object *o, void *ctx)
{
	int *running = ctx;
	if (str_eq(field(o, "status.phase"), "Running"))
		(*running)++;
	return 0;
}

START_TEST(two_processes)
{
	struct store *s = open_store();
	for (int i = 0; i < 300; i++) {
		char name[32];
		snprintf(name, sizeof(name), "q%d", i);
		add_task(s, name, NULL);
		ck_assert_int_eq(set_phase(s, name, "Queued", NULL), 0);
	}
	store_close(s);
	/* both children start together: they block until the pipe closes */
	int gate[2];
	ck_assert_int_eq(pipe(gate), 0);
	pid_t kids[2];
	for (int i = 0; i < 2; i++) {
		kids[i] = fork();
		ck_assert_int_ge(kids[i], 0);
		if (kids[i] == 0) {
			char c;
			close(gate[1]);
			while (read(gate[0], &c, 1) < 0 && errno == EINTR)
				;
			_exit(child_work(i));
		}
	}
	close(gate[0]);
	close(gate[1]);
	for (int i = 0; i < 2; i++) {
		int status = 0;
		ck_assert_int_eq(waitpid(kids[i], &status, 0), kids[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d failed: %d", i,
			      status);
	}
	s = open_store();
	/* every queued task admitted exactly once: one Started event each */
	int running = 0;
	ck_assert_int_eq(store_list(s, MODEL_TASK, "default", check_once, &running), 0);
	ck_assert_int_eq(running, 300);
	ck_assert_int_eq(store_count_phase(s, MODEL_PHASE_QUEUED, NULL), 0);
	ck_assert_int_eq(store_count_phase(s, MODEL_PHASE_PENDING, NULL), 200);
	for (int i = 0; i < 300; i += 37) {
		char name[32];
		struct strv v = { 0 };
		snprintf(name, sizeof(name), "q%d", i);
		ck_assert_int_eq(store_events(s, "default", name, collect_events, &v), 0);
		ck_assert_uint_eq(v.n, 2); /* Created, Started: never twice */
		strv_free(&v);
	}
	store_close(s);
}
END_TEST

/* The dashboard opens stores beside the controller's in one process.
 * Opening one must not drop the locks of the other (POSIX locks go with
 * any close of the file in the process): another process closing its
 * connection would take itself for the last one and delete the WAL that
 * the first connection still writes into, losing those writes. */
START_TEST(second_store_in_process)
{
	/* Other processes are separate programs (sqlite3): a fork would
	 * inherit this process's SQLite state. */
	if (system("command -v sqlite3 >/dev/null 2>&1") != 0)
		return; /* setup.sh PKGS_TEST has it */
	struct store *a = open_store();
	add_task(a, "before", NULL);
	struct store *b = NULL;
	ck_assert_int_eq(store_open(dir, &b, err, sizeof(err)), 0);
	char *cmd = xasprintf("sqlite3 %s/paddock.db 'SELECT count(*) FROM objects' >/dev/null", dir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	add_task(a, "after", NULL);
	cmd = xasprintf("sqlite3 %s/paddock.db \"SELECT name FROM objects WHERE name = 'after'\"", dir);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	char line[64] = "";
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	pclose(p);
	free(cmd);
	ck_assert_msg(!strcmp(line, "after\n"), "another process does not see a write made after a second "
		      "store was opened in this process: \"%s\"", line);
	store_close(b);
	store_close(a);
}
END_TEST

/* A watcher (the controller) wakes on inotify events in the state dir.
 * The -wal write comes before the commit is visible, so a commit must
 * also raise an event once it is: STORE_WAKE_NAME, after which another
 * connection's data_version has moved.  The wal hook that writes it
 * replaces SQLite's automatic checkpoint, so the WAL must still be
 * checkpointed (it stays bounded over many commits). */
START_TEST(wake_after_commit)
{
	struct store *w = open_store(), *s = open_store();
	int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	ck_assert_int_ge(ino, 0);
	ck_assert_int_ge(inotify_add_watch(ino, dir, IN_MODIFY), 0);
	int64_t dv = store_data_version(w);
	add_task(s, "woken", NULL);
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool woke = false;
	ssize_t n;
	while ((n = read(ino, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const void *)p;
			p += sizeof(*e) + e->len;
			if (e->len && !strcmp(e->name, STORE_WAKE_NAME))
				woke = true;
		}
	(void)close(ino);
	ck_assert_msg(woke, "no event on %s after a commit", STORE_WAKE_NAME);
	ck_assert_msg(store_data_version(w) != dv, "the commit was not visible to another connection");
	char *wake = xasprintf("%s/%s", dir, STORE_WAKE_NAME);
	ck_assert_uint_eq(mode_of(wake), 0600);
	free(wake);
	for (int i = 0; i < 1500; i++) {
		char name[32];
		snprintf(name, sizeof(name), "w%d", i);
		add_task(s, name, NULL);
	}
	char *wal = xasprintf("%s/paddock.db-wal", dir);
	struct stat st;
	ck_assert_int_eq(stat(wal, &st), 0);
	ck_assert_msg(st.st_size < 8 * 1024 * 1024, "the WAL grew to %lld bytes over 1,500 commits: "
		      "no checkpoint", (long long)st.st_size);
	free(wal);
	store_close(s);
	store_close(w);
}
END_TEST

/* A controller and CLIs opening a fresh state dir at the same moment:
 * each must get the store (switching a new database to WAL needs it
 * exclusively; two openers used to wait on each other for the whole busy
 * timeout, and one failed). */
START_TEST(fresh_store_opened_at_once)
{
	char *sub = xasprintf("%s/fresh", dir);
	int go[2];
	ck_assert_int_eq(pipe(go), 0);
	enum { N = 8 };
	pid_t kids[N];
	for (int i = 0; i < N; i++) {
		kids[i] = fork();
		ck_assert_int_ge(kids[i], 0);
		if (kids[i] == 0) {
			char c, e[512];
			(void)close(go[1]);
			(void)!read(go[0], &c, 1); /* EOF: all start together */
			struct store *st = NULL;
			int rc = store_open(sub, &st, e, sizeof(e));
			if (rc < 0)
				fprintf(stderr, "opener %d: %s\n", i, e);
			store_close(st);
			_exit(rc < 0 ? 1 : 0);
		}
	}
	(void)close(go[0]);
	(void)close(go[1]);
	int failed = 0;
	for (int i = 0; i < N; i++) {
		int status = 0;
		ck_assert_int_eq(waitpid(kids[i], &status, 0), kids[i]);
		failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	ck_assert_msg(failed == 0, "%d of %d processes opening a fresh store at once failed", failed, N);
	free(sub);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, modes_and_migrations);
	tcase_add_test(tc, default_dir);
	tcase_add_test(tc, versions_and_intents);
	tcase_add_test(tc, apply_rules);
	tcase_add_test(tc, apply_unchanged);
	tcase_add_test(tc, fifo_queue);
	tcase_add_test(tc, events);
	tcase_add_test(tc, secrets_and_configmaps);
	tcase_add_test(tc, two_processes);
	tcase_add_test(tc, second_store_in_process);
	tcase_add_test(tc, fresh_store_opened_at_once);
	tcase_add_test(tc, wake_after_commit);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
