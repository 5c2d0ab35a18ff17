/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "local/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "plugin/host.h"
#include "base/util.h"

#define BUSY_TIMEOUT_MS 5000
#define MAX_EVENTS_PER_OBJECT 1000
#define MAX_EVENT_MESSAGE 4096

/* Statements kept prepared for the connection's life, by the address of
 * their SQL text (every prep() caller passes a string literal): the
 * controller runs the same few dozen statements for every task, and
 * compiling each again cost more than running it. */
#define STMT_CACHE 48

struct stmt_slot {
	const char *sql;
	sqlite3_stmt *st;
	bool busy; /* handed out; a nested use of the same SQL gets its own */
};

struct store {
	sqlite3 *db;
	char *path;
	int wake_fd; /* STORE_WAKE_NAME, or -1 */
	struct stmt_slot stmts[STMT_CACHE];
};

/* One SQL script per schema version; index i upgrades version i to i+1.
 * Append only: never edit a step that has shipped. */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE objects ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT," /* creation order, never reused */
	"  kind TEXT NOT NULL,"
	"  ns TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  uid TEXT NOT NULL UNIQUE,"
	"  created_ms INTEGER NOT NULL,"
	"  updated_ms INTEGER NOT NULL,"
	"  generation INTEGER NOT NULL DEFAULT 1,"
	"  spec_json TEXT NOT NULL," /* the whole document except status */
	"  status_json TEXT,"
	"  phase TEXT,"
	"  agent_key TEXT NOT NULL DEFAULT '',"
	"  stop_requested INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE (kind, ns, name));"
	"CREATE INDEX objects_phase ON objects (kind, phase, seq);"
	"CREATE INDEX objects_phase_agent ON objects (kind, phase, agent_key, seq);"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  object_seq INTEGER NOT NULL REFERENCES objects (seq) ON DELETE CASCADE,"
	"  time_ms INTEGER NOT NULL,"
	"  type TEXT NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  message TEXT NOT NULL);"
	"CREATE INDEX events_object ON events (object_seq, id);",
	/* 1 -> 2: a resource version per object, from one counter bumped by
	 * every write: compare-and-swap status writes and the controller's
	 * watch (the tasks changed since the version it has seen). */
	"ALTER TABLE objects ADD COLUMN rv INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX objects_rv ON objects (kind, rv);"
	"CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"INSERT INTO counters (name, value) VALUES ('rv', 0);",
	/* 2 -> 3: what Spawners received (docs/triggers.md).  An event id
	 * accepted or filtered once is never taken again: the partial unique
	 * index is what makes intake exactly once. */
	"CREATE TABLE deliveries ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  ns TEXT NOT NULL,"
	"  spawner TEXT NOT NULL,"
	"  event_id TEXT,"
	"  event TEXT,"
	"  time_ms INTEGER NOT NULL,"
	"  outcome TEXT NOT NULL,"
	"  task TEXT,"
	"  detail TEXT);"
	"CREATE UNIQUE INDEX deliveries_once ON deliveries (ns, spawner, event_id)"
	"  WHERE outcome IN ('accepted', 'filtered');"
	"CREATE INDEX deliveries_spawner ON deliveries (ns, spawner, id);",
};

_Static_assert(ARRAY_SIZE(migrations) == STORE_SCHEMA_VERSION, "one migration per version");

/* ---- errors and small helpers -------------------------------------- */

static int db_err(struct store *s, int src, char *err, size_t errlen, const char *what)
{
	int code = src & 0xff;
	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		return errf(err, errlen, -EBUSY,
			    "store %s: %s: the database stayed locked by another paddock process for %d s; retry",
			    s->path, what, BUSY_TIMEOUT_MS / 1000);
	if (code == SQLITE_FULL)
		return errf(err, errlen, -ENOSPC, "store %s: %s: disk full", s->path, what);
	return errf(err, errlen, -EIO, "store %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static int exec(struct store *s, const char *sql, char *err, size_t errlen)
{
	int r = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	return r == SQLITE_OK ? 0 : db_err(s, r, err, errlen, sql);
}

/* A statement for `sql`, a string literal; give it back with unprep(). */
static int prep(struct store *s, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
	struct stmt_slot *free_slot = NULL;
	for (size_t i = 0; i < STMT_CACHE; i++) {
		struct stmt_slot *sl = &s->stmts[i];
		if (sl->sql == sql && !sl->busy) {
			sl->busy = true;
			*st = sl->st;
			return 0;
		}
		if (!sl->sql && !free_slot)
			free_slot = sl;
	}
	int r = sqlite3_prepare_v3(s->db, sql, -1, free_slot ? SQLITE_PREPARE_PERSISTENT : 0, st,
				   NULL);
	if (r != SQLITE_OK) {
		*st = NULL;
		return db_err(s, r, err, errlen, "prepare");
	}
	if (free_slot)
		*free_slot = (struct stmt_slot){ sql, *st, true };
	return 0;
}

/* Done with a statement from prep(): reset (ending its read, dropping
 * its row and bound values) and kept, or finalized if it is not cached. */
static void unprep(struct store *s, sqlite3_stmt *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < STMT_CACHE; i++) {
		struct stmt_slot *sl = &s->stmts[i];
		if (sl->st == st) {
			(void)sqlite3_reset(st);
			(void)sqlite3_clear_bindings(st);
			sl->busy = false;
			return;
		}
	}
	(void)sqlite3_finalize(st);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* Begin a write transaction unless one is open (store_tx); *own says
 * whether tx_end must finish it. */
static int tx_begin(struct store *s, bool *own, char *err, size_t errlen)
{
	if (!sqlite3_get_autocommit(s->db)) {
		*own = false;
		return 0;
	}
	*own = true;
	return exec(s, "BEGIN IMMEDIATE", err, errlen);
}

static int tx_end(struct store *s, bool own, int rc, char *err, size_t errlen)
{
	if (!own)
		return rc;
	if (rc >= 0) {
		int r = exec(s, "COMMIT", err, errlen);
		if (r == 0)
			return rc;
		rc = r;
	}
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int store_tx(struct store *s, store_tx_fn fn, void *ctx, char *err, size_t errlen)
{
	if (!sqlite3_get_autocommit(s->db))
		return errf(err, errlen, -EBUSY, "store: nested store_tx is not supported");
	bool own;
	int rc = tx_begin(s, &own, err, errlen);
	if (rc < 0)
		return rc;
	rc = fn(s, ctx, err, errlen);
	return tx_end(s, own, rc, err, errlen);
}

static json_object *parse_json_text(const char *t)
{
	return t ? json_tokener_parse(t) : NULL;
}

/* The stored form of a document (spec_json, status_json). */
static const char *json_text(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* The object of a row: spec_json in column `col` with status_json (column
 * col + 1) merged in as "status".  Owned; NULL when spec_json is not a
 * JSON object. */
/* The object from columns (spec_json, status_json, rv) starting at col:
 * metadata.resourceVersion is the row's rv. */
static json_object *col_doc(sqlite3_stmt *st, int col)
{
	json_object *doc = parse_json_text(col_text(st, col));
	json_object *status = parse_json_text(col_text(st, col + 1));
	if (!json_object_is_type(doc, json_type_object)) {
		json_object_put(doc);
		json_object_put(status);
		return NULL;
	}
	if (status)
		json_object_object_add(doc, "status", status);
	json_object *md = NULL;
	if (json_object_object_get_ex(doc, "metadata", &md) && json_object_is_type(md, json_type_object)) {
		char rv[24];
		snprintf(rv, sizeof(rv), "%lld", (long long)sqlite3_column_int64(st, col + 2));
		json_object_object_add(md, "resourceVersion", json_object_new_string(rv));
	}
	return doc;
}

/* The next resource version (inside a write transaction). */
static int next_rv(struct store *s, int64_t *rv, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = prep(s, "UPDATE counters SET value = value + 1 WHERE name = 'rv' RETURNING value", &st,
		      err, errlen);
	if (rc < 0)
		return rc;
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		*rv = sqlite3_column_int64(st, 0);
	else
		rc = db_err(s, r, err, errlen, "next resource version");
	unprep(s, st);
	return rc;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static json_object *jobj(json_object *o, const char *k)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_object))
		return NULL;
	return v;
}

/* Overwrite the string values of a json object's "data" (secret bytes)
 * before it is released: json-c does not zero what it frees. */
static void scrub_data(json_object *doc)
{
	json_object *data = jobj(doc, "data");
	if (!data)
		return;
	json_object_object_foreach(data, k, v) {
		(void)k;
		if (json_object_is_type(v, json_type_string))
			explicit_bzero((char *)json_object_get_string(v),
				       (size_t)json_object_get_string_len(v));
	}
}

/* ---- open ---------------------------------------------------------- */

const char *store_default_dir(void)
{
	static char buf[PATH_MAX];
	const char *e = getenv("PADDOCK_STATE_DIR");
	if (e && *e)
		return e;
	if (geteuid() == 0)
		return "/var/lib/paddock";
	e = getenv("XDG_STATE_HOME");
	if (e && e[0] == '/') {
		snprintf(buf, sizeof(buf), "%s/paddock", e);
		return buf;
	}
	const char *home = getenv("HOME");
	if (!home || home[0] != '/') {
		struct passwd *pw = getpwuid(geteuid());
		home = pw && pw->pw_dir ? pw->pw_dir : "/tmp";
	}
	snprintf(buf, sizeof(buf), "%s/.local/state/paddock", home);
	return buf;
}


/* SQLite calls this once a commit is visible and its write lock is let go
 * (WAL mode): the write to STORE_WAKE_NAME is the watchers' event (see
 * store.h).  A wal hook replaces the automatic checkpoint, so it does the
 * same here as SQLite's own (a passive checkpoint past 1,000 frames). */
#define WAL_CHECKPOINT_FRAMES 1000
static int wal_committed(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store *s = arg;
	/* The wake first: a checkpoint's fsyncs must not delay it.  Failed,
	 * there is no event: the watcher's timeout looks again. */
	ssize_t n = s->wake_fd >= 0 ? pwrite(s->wake_fd, "", 1, 0) : 0;
	(void)n;
	if (frames >= WAL_CHECKPOINT_FRAMES)
		(void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

/* The wake file beside the database (mode 0600, never a link); without
 * it, commits raise only the -wal write's event, as before. */
static void wake_open(struct store *s, const char *dir)
{
	char *p = xasprintf("%s/%s", dir, STORE_WAKE_NAME);
	s->wake_fd = open(p, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	free(p);
	sqlite3_wal_hook(s->db, wal_committed, s);
}

/* Make `path` private: ours and wider -> chmod; someone else's -> refuse. */
static int check_private(const char *path, int fd, const char *what, unsigned want, char *err,
			 size_t errlen)
{
	struct stat st;
	if ((fd >= 0 ? fstat(fd, &st) : lstat(path, &st)) < 0)
		return errno == ENOENT && fd < 0 ? 0
						 : errf(err, errlen, -errno, "%s %s: %s", what, path,
							strerror(errno));
	if (!(st.st_mode & 077))
		return 0;
	if (st.st_uid != geteuid())
		return errf(err, errlen, -EPERM,
			    "%s %s is owned by uid %u and accessible by group or others (mode %04o): use a directory of your own, or chown it to uid %u and chmod it %04o",
			    what, path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
			    (unsigned)geteuid(), want);
	if ((fd >= 0 ? fchmod(fd, want) : chmod(path, want)) < 0)
		return errf(err, errlen, -errno, "%s %s: chmod %04o: %s", what, path, want,
			    strerror(errno));
	return 0;
}

static int migrate(struct store *s, char *err, size_t errlen)
{
	for (;;) {
		int rc = exec(s, "BEGIN IMMEDIATE", err, errlen);
		if (rc < 0)
			return rc;
		int v = store_schema_version(s);
		if (v < 0) {
			rc = errf(err, errlen, v, "store %s: cannot read the schema version", s->path);
		} else if (v > STORE_SCHEMA_VERSION) {
			rc = errf(err, errlen, -EPROTO,
				  "store %s: schema version %d is newer than this paddock supports (%d): upgrade paddock or use another state directory",
				  s->path, v, STORE_SCHEMA_VERSION);
		} else if (v == STORE_SCHEMA_VERSION) {
			return tx_end(s, true, 0, err, errlen);
		} else {
			rc = exec(s, migrations[v], err, errlen);
			if (rc == 0) {
				char sql[64];
				snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
				rc = exec(s, sql, err, errlen);
			}
		}
		rc = tx_end(s, true, rc, err, errlen);
		if (rc < 0)
			return rc;
	}
}

int store_open(const char *dir, struct store **out, char *err, size_t errlen)
{
	struct store *s = NULL;
	int rc = 0;
	if (!dir || !*dir)
		return errf(err, errlen, -EINVAL, "store: empty state directory: set PADDOCK_STATE_DIR or state_dir");
	rc = mkdir_p(dir, 0700);
	if (rc < 0)
		return errf(err, errlen, rc, "state directory %s: cannot create it: %s", dir,
			    strerror(-rc));
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return errf(err, errlen, -ENOTDIR, "state directory %s: not a directory", dir);
	if ((rc = check_private(dir, -1, "state directory", 0700, err, errlen)) < 0)
		return rc;

	s = xcalloc(1, sizeof(*s));
	s->wake_fd = -1;
	s->path = xasprintf("%s/%s", dir, STORE_DB_NAME);
	/* Create the file ourselves so its mode never depends on the umask;
	 * SQLite gives -wal and -shm the mode of the database file.  An
	 * existing file is never opened here: closing a descriptor of it
	 * would drop the POSIX locks of every SQLite connection this process
	 * has on it (the controller's second connection, local/intake.c, the
	 * dashboard's), and
	 * another process could then take the WAL for unused and remove it. */
	int fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST) {
		rc = errf(err, errlen, -errno, "store %s: %s", s->path, strerror(errno));
		goto fail;
	}
	if ((fd >= 0 ? fstat(fd, &st) : lstat(s->path, &st)) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		rc = errf(err, errlen, -EINVAL, "store %s: not a regular file", s->path);
		goto fail;
	}
	rc = check_private(s->path, fd, "store", 0600, err, errlen);
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		goto fail;
	static const char *const sides[] = { "-wal", "-shm" };
	for (size_t i = 0; i < ARRAY_SIZE(sides); i++) {
		char *p = xasprintf("%s%s", s->path, sides[i]);
		rc = check_private(p, -1, "store", 0600, err, errlen);
		free(p);
		if (rc < 0)
			goto fail;
	}

	int r = sqlite3_open_v2(s->path, &s->db,
				SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX,
				NULL);
	if (r != SQLITE_OK) {
		rc = errf(err, errlen, -EIO, "store %s: %s", s->path,
			  s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(r));
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	/* WAL: readers never block the writer; synchronous=NORMAL is safe
	 * against process crashes (a power loss may drop the last commits). */
	/* Switching a new database to WAL needs it exclusively: two processes
	 * opening it at once (a controller and a CLI on a fresh state dir)
	 * would each hold a shared lock and wait for the other's for the
	 * whole busy timeout.  So no busy handler here: whoever is refused
	 * lets go of its lock (finalize) and tries again shortly. */
	sqlite3_busy_timeout(s->db, 0);
	bool wal = false;
	int64_t give_up = now_mono_ms() + BUSY_TIMEOUT_MS;
	for (unsigned n = 0;; n++) {
		sqlite3_stmt *st_mode = NULL;
		r = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st_mode, NULL);
		if (r == SQLITE_OK) {
			r = sqlite3_step(st_mode);
			wal = r == SQLITE_ROW && str_eq(col_text(st_mode, 0), "wal");
		}
		sqlite3_finalize(st_mode);
		if (wal || ((r & 0xff) != SQLITE_BUSY && (r & 0xff) != SQLITE_LOCKED) ||
		    now_mono_ms() >= give_up)
			break;
		struct timespec ts = { 0, (long)(5 + (getpid() + n * 7) % 20) * 1000000L };
		(void)nanosleep(&ts, NULL);
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	if (!wal) {
		rc = r == SQLITE_ROW ? errf(err, errlen, -EIO, "store %s: cannot enable WAL mode (is the directory on a network filesystem?)", s->path)
				     : db_err(s, r, err, errlen, "PRAGMA journal_mode");
		goto fail;
	}
	if ((rc = exec(s, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", err, errlen)) < 0)
		goto fail;
	wake_open(s, dir);
	if ((rc = migrate(s, err, errlen)) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	store_close(s);
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < STMT_CACHE; i++)
		(void)sqlite3_finalize(s->stmts[i].st);
	sqlite3_close_v2(s->db);
	if (s->wake_fd >= 0)
		(void)close(s->wake_fd);
	free(s->path);
	free(s);
}

/* The number a PRAGMA returns, or -EIO. */
static int64_t pragma_int(struct store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (prep(s, sql, &st, NULL, 0) < 0)
		return -EIO;
	int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -EIO;
	unprep(s, st);
	return v;
}

int store_schema_version(struct store *s)
{
	return (int)pragma_int(s, "PRAGMA user_version");
}

int64_t store_data_version(struct store *s)
{
	return pragma_int(s, "PRAGMA data_version");
}

int64_t store_own_changes(struct store *s)
{
	return sqlite3_total_changes64(s->db);
}

/* ---- objects ------------------------------------------------------- */

static void new_uid(char out[37])
{
	unsigned char b[16];
	size_t got = 0;
	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) { /* no entropy source: still unique enough with time+pid */
			int64_t t = now_wall_ms() ^ ((int64_t)getpid() << 40);
			memcpy(b, &t, sizeof(t));
			break;
		}
		got += (size_t)n;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

char *store_agent_key(json_object *task)
{
	char key[320];
	model_task_agent_key(task, key, sizeof(key));
	return xstrdup(key);
}

/* The document minus metadata, status and spec.stop: what "the spec"
 * means for the update rules (data for Secrets and ConfigMaps). */
static bool same_content(json_object *a, json_object *b)
{
	json_object *x = NULL, *y = NULL;
	json_object_deep_copy(a, &x, NULL);
	json_object_deep_copy(b, &y, NULL);
	json_object_object_del(x, "metadata");
	json_object_object_del(y, "metadata");
	json_object_object_del(x, "status");
	json_object_object_del(y, "status");
	if (jobj(x, "spec"))
		json_object_object_del(jobj(x, "spec"), "stop");
	if (jobj(y, "spec"))
		json_object_object_del(jobj(y, "spec"), "stop");
	bool eq = json_object_equal(x, y);
	json_object_put(x);
	json_object_put(y);
	return eq;
}

static bool phase_started(const char *phase)
{
	int p = model_phase_parse(phase);
	return p >= 0 && p != MODEL_PHASE_PENDING && p != MODEL_PHASE_WAITING &&
	       p != MODEL_PHASE_QUEUED;
}

static int insert_event(struct store *s, int64_t seq, const char *type, const char *reason,
			const char *message, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = prep(s,
		      "INSERT INTO events (object_seq, time_ms, type, reason, message) VALUES (?, ?, ?, ?, ?)",
		      &st, err, errlen);
	if (rc < 0)
		return rc;
	char *msg = xstrndup(message ? message : "", strnlen(message ? message : "", MAX_EVENT_MESSAGE));
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, now_wall_ms());
	bind_text(st, 3, type ? type : "Normal");
	bind_text(st, 4, reason ? reason : "");
	bind_text(st, 5, msg);
	int r = sqlite3_step(st);
	unprep(s, st);
	free(msg);
	if (r != SQLITE_DONE)
		return db_err(s, r, err, errlen, "insert event");
	/* keep the newest MAX_EVENTS_PER_OBJECT events */
	if ((rc = prep(s,
		       "DELETE FROM events WHERE object_seq = ?1 AND id <= (SELECT id FROM events WHERE object_seq = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
		       &st, err, errlen)) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int(st, 2, MAX_EVENTS_PER_OBJECT);
	r = sqlite3_step(st);
	unprep(s, st);
	return r == SQLITE_DONE ? 0 : db_err(s, r, err, errlen, "trim events");
}

struct row {
	int64_t seq;
	json_object *doc; /* spec_json with status merged, owned */
	char *phase;
};

/* Look up one object inside the current transaction (or autocommit).
 * -ENOENT when absent. */
static int load(struct store *s, const char *kind, const char *ns, const char *name,
		struct row *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = prep(s,
		      "SELECT seq, spec_json, status_json, rv, phase FROM objects WHERE kind = ? AND ns = ? AND name = ?",
		      &st, err, errlen);
	if (rc < 0)
		return rc;
	bind_text(st, 1, kind);
	bind_text(st, 2, ns);
	bind_text(st, 3, name);
	int r = sqlite3_step(st);
	if (r == SQLITE_DONE) {
		rc = -ENOENT;
	} else if (r != SQLITE_ROW) {
		rc = db_err(s, r, err, errlen, "select");
	} else {
		json_object *doc = col_doc(st, 1);
		if (!doc) {
			rc = errf(err, errlen, -EIO, "store %s: %s %s/%s: stored document is corrupt",
				  s->path, kind, ns, name);
		} else {
			out->seq = sqlite3_column_int64(st, 0);
			out->doc = doc;
			out->phase = xstrdup(col_text(st, 4));
		}
	}
	unprep(s, st);
	return rc;
}

static void row_free(struct row *r)
{
	json_object_put(r->doc);
	free(r->phase);
}

static int64_t last_created_ms(struct store *s)
{
	sqlite3_stmt *st = NULL;
	if (prep(s, "SELECT created_ms FROM objects ORDER BY seq DESC LIMIT 1", &st, NULL, 0) < 0)
		return 0;
	int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	unprep(s, st);
	return v;
}

/* Would writing `copy` (the new stored document) change nothing of old? */
static bool same_stored(json_object *old, json_object *copy)
{
	json_object *o = NULL;
	json_object_deep_copy(old, &o, NULL);
	json_object_object_del(o, "status");
	json_object_object_del(jobj(o, "metadata"), "resourceVersion");
	bool eq = json_object_equal(o, copy);
	scrub_data(o); /* a Secret's values */
	json_object_put(o);
	return eq;
}

static int apply_locked(struct store *s, json_object *doc, enum model_kind kind,
			enum store_applied *res, char *err, size_t errlen)
{
	const char *kname = model_kind_name(kind);
	json_object *md = jobj(doc, "metadata");
	const char *ns = jstr(md, "namespace"), *name = jstr(md, "name");
	if (!kname || !name || !str_eq(jstr(doc, "kind"), kname))
		return errf(err, errlen, -EINVAL, "store: apply: not a validated %s document",
			    kname ? kname : "?");
	if (!ns)
		ns = MODEL_DEFAULT_NAMESPACE;
	json_object *copy = NULL;
	json_object_deep_copy(doc, &copy, NULL);
	json_object_object_del(copy, "status");
	json_object *cmd = jobj(copy, "metadata");
	json_object_object_del(cmd, "resourceVersion");
	json_object_object_del(cmd, "deletionTimestamp"); /* only `paddock delete` sets it */
	json_object_object_add(cmd, "namespace", json_object_new_string(ns));

	struct row old = { 0 };
	int rc = load(s, kname, ns, name, &old, err, errlen);
	if (rc < 0 && rc != -ENOENT)
		goto out;
	bool exists = rc == 0;
	int64_t now = now_wall_ms();
	int64_t generation = 1;
	char uid[37];
	char ts[40];
	if (exists && jstr(jobj(old.doc, "metadata"), "deletionTimestamp")) {
		rc = errf(err, errlen, -EBUSY,
			  "%s \"%s/%s\" is being deleted: wait until it is gone, then apply it again", kname,
			  ns, name);
		goto out;
	}
	if (exists) {
		json_object *omd = jobj(old.doc, "metadata");
		json_object *g = NULL;
		json_object_object_get_ex(omd, "generation", &g);
		generation = json_object_get_int64(g);
		bool same = same_content(old.doc, copy);
		if (!same && kind == MODEL_TASK && phase_started(old.phase)) {
			rc = errf(err, errlen, -EPERM,
				  "task \"%s/%s\" is %s: its spec cannot change once started; only metadata.labels and metadata.annotations can (delete and re-create it to run again)",
				  ns, name, old.phase);
			goto out;
		}
		json_object *imm = NULL;
		if (!same && json_object_object_get_ex(old.doc, "immutable", &imm) &&
		    json_object_get_boolean(imm)) {
			rc = errf(err, errlen, -EPERM,
				  "%s \"%s/%s\" is immutable: delete and re-create it to change it",
				  kname, ns, name);
			goto out;
		}
		if (!same)
			generation++;
		/* keep annotations the core set (paddock.dev/...), e.g. a stop
		 * request, unless the new document sets them itself */
		json_object *oann = jobj(omd, "annotations");
		if (oann) {
			json_object *nann = jobj(cmd, "annotations");
			json_object_object_foreach(oann, ak, av) {
				if (!str_startswith(ak, "paddock.dev/") ||
				    json_object_object_get_ex(nann, ak, NULL))
					continue;
				if (!nann) {
					nann = json_object_new_object();
					json_object_object_add(cmd, "annotations", nann);
				}
				json_object_object_add(nann, ak, json_object_get(av));
			}
		}
		snprintf(uid, sizeof(uid), "%s", jstr(omd, "uid") ? jstr(omd, "uid") : "");
		snprintf(ts, sizeof(ts), "%s",
			 jstr(omd, "creationTimestamp") ? jstr(omd, "creationTimestamp") : "");
	} else {
		new_uid(uid);
		/* Strictly after the newest object's, whatever the clock does:
		 * creation order (seq) and creationTimestamp always agree, so
		 * FIFO by timestamp is FIFO by creation, with no ties. */
		int64_t last = last_created_ms(s);
		if (now <= last)
			now = last + 1;
		format_time_ms(now, ts, sizeof(ts)); /* ms: FIFO across agents compares these */
	}
	json_object_object_add(cmd, "uid", json_object_new_string(uid));
	json_object_object_add(cmd, "creationTimestamp", json_object_new_string(ts));
	json_object_object_add(cmd, "generation", json_object_new_int64(generation));
	if (exists && same_stored(old.doc, copy)) {
		/* nothing to write: no new resource version, nothing for a
		 * controller to reconcile */
		rc = 0;
		if (res)
			*res = STORE_APPLY_UNCHANGED;
		goto out;
	}

	char *akey = kind == MODEL_TASK ? store_agent_key(copy) : xstrdup("");
	const char *spec = json_text(copy);
	sqlite3_stmt *st = NULL;
	int64_t rv = 0;
	if ((rc = next_rv(s, &rv, err, errlen)) < 0)
		;
	else if (exists)
		rc = prep(s,
			  "UPDATE objects SET spec_json = ?, generation = ?, updated_ms = ?, agent_key = ?, stop_requested = ?, rv = ? WHERE seq = ?",
			  &st, err, errlen);
	else
		rc = prep(s,
			  "INSERT INTO objects (spec_json, generation, updated_ms, agent_key, stop_requested, rv, kind, ns, name, uid, created_ms, status_json, phase) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			  &st, err, errlen);
	if (rc == 0) {
		bind_text(st, 1, spec);
		sqlite3_bind_int64(st, 2, generation);
		sqlite3_bind_int64(st, 3, now);
		bind_text(st, 4, akey);
		sqlite3_bind_int(st, 5, model_stop_requested(copy));
		sqlite3_bind_int64(st, 6, rv);
		if (exists) {
			sqlite3_bind_int64(st, 7, old.seq);
		} else {
			bind_text(st, 7, kname);
			bind_text(st, 8, ns);
			bind_text(st, 9, name);
			bind_text(st, 10, uid);
			sqlite3_bind_int64(st, 11, now);
			bind_text(st, 12, kind == MODEL_TASK ? "{\"phase\":\"Pending\"}" : NULL);
			bind_text(st, 13, kind == MODEL_TASK ? "Pending" : NULL);
		}
		int r = sqlite3_step(st);
		if (r != SQLITE_DONE)
			rc = db_err(s, r, err, errlen, exists ? "update" : "insert");
		unprep(s, st);
	}
	if (rc == 0 && kind == MODEL_TASK && !exists)
		rc = insert_event(s, sqlite3_last_insert_rowid(s->db), "Normal", "Created",
				  "task created", err, errlen);
	free(akey);
	if (rc == 0 && res)
		*res = exists ? STORE_APPLY_CONFIGURED : STORE_APPLY_CREATED;
out:
	if (kind == MODEL_SECRET) {
		scrub_data(copy);
		scrub_data(old.doc);
	}
	json_object_put(copy);
	row_free(&old);
	return rc;
}

int store_apply_result(struct store *s, json_object *doc, enum model_kind kind,
		       enum store_applied *res, char *err, size_t errlen)
{
	bool own;
	int rc = tx_begin(s, &own, err, errlen);
	if (rc < 0)
		return rc;
	rc = apply_locked(s, doc, kind, res, err, errlen);
	return tx_end(s, own, rc, err, errlen);
}

int store_apply(struct store *s, json_object *doc, enum model_kind kind, bool *created,
		char *err, size_t errlen)
{
	enum store_applied res = STORE_APPLY_UNCHANGED;
	int rc = store_apply_result(s, doc, kind, &res, err, errlen);
	if (rc == 0 && created)
		*created = res == STORE_APPLY_CREATED;
	return rc;
}

int store_get(struct store *s, enum model_kind kind, const char *ns, const char *name,
	      json_object **out)
{
	const char *k = model_kind_name(kind);
	if (!k || !ns || !name)
		return -EINVAL;
	struct row r = { 0 };
	int rc = load(s, k, ns, name, &r, NULL, 0);
	if (rc < 0)
		return rc;
	*out = r.doc;
	r.doc = NULL;
	row_free(&r);
	return 0;
}

/* Run a SELECT of (spec_json, status_json) rows and call cb per object
 * after the statement is finished, so callbacks may write. */
static int walk(struct store *s, sqlite3_stmt *st, store_obj_cb cb, void *ctx)
{
	json_object **v = NULL;
	size_t n = 0, alloc = 0;
	int r, rc = 0;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		json_object *doc = col_doc(st, 0);
		if (!doc)
			continue;
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 16;
			v = xrealloc(v, alloc * sizeof(*v));
		}
		v[n++] = doc;
	}
	if (r != SQLITE_DONE)
		rc = db_err(s, r, NULL, 0, "select");
	unprep(s, st);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0)
			rc = cb(v[i], ctx);
		json_object_put(v[i]);
	}
	free(v);
	return rc;
}

int store_list(struct store *s, enum model_kind kind, const char *ns, store_obj_cb cb, void *ctx)
{
	const char *k = model_kind_name(kind);
	if (!k)
		return -EINVAL;
	sqlite3_stmt *st = NULL;
	int rc = prep(s,
		      ns ? "SELECT spec_json, status_json, rv FROM objects WHERE kind = ? AND ns = ? ORDER BY seq"
			 : "SELECT spec_json, status_json, rv FROM objects WHERE kind = ? ORDER BY seq",
		      &st, NULL, 0);
	if (rc < 0)
		return rc;
	bind_text(st, 1, k);
	if (ns)
		bind_text(st, 2, ns);
	return walk(s, st, cb, ctx);
}

int store_list_phase(struct store *s, enum model_phase phase, store_obj_cb cb, void *ctx)
{
	const char *p = model_phase_name(phase);
	if (!p)
		return -EINVAL;
	sqlite3_stmt *st = NULL;
	int rc = prep(s,
		      "SELECT spec_json, status_json, rv FROM objects WHERE kind = 'Task' AND phase = ? ORDER BY seq",
		      &st, NULL, 0);
	if (rc < 0)
		return rc;
	bind_text(st, 1, p);
	return walk(s, st, cb, ctx);
}

int store_delete(struct store *s, enum model_kind kind, const char *ns, const char *name,
		 char *err, size_t errlen)
{
	const char *k = model_kind_name(kind);
	if (!k)
		return errf(err, errlen, -EINVAL, "store: delete: bad kind");
	bool own;
	int rc = tx_begin(s, &own, err, errlen);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st = NULL;
	rc = prep(s, "DELETE FROM objects WHERE kind = ? AND ns = ? AND name = ?", &st, err, errlen);
	if (rc == 0) {
		bind_text(st, 1, k);
		bind_text(st, 2, ns);
		bind_text(st, 3, name);
		int r = sqlite3_step(st);
		if (r != SQLITE_DONE)
			rc = db_err(s, r, err, errlen, "delete");
		else if (sqlite3_changes(s->db) == 0)
			rc = errf(err, errlen, -ENOENT, "%s \"%s/%s\" not found", k, ns, name);
		unprep(s, st);
	}
	return tx_end(s, own, rc, err, errlen);
}

static int task_seq(struct store *s, const char *ns, const char *name, int64_t *seq, int64_t *rv,
		    char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = prep(s, "SELECT seq, rv FROM objects WHERE kind = 'Task' AND ns = ? AND name = ?", &st,
		      err, errlen);
	if (rc < 0)
		return rc;
	bind_text(st, 1, ns);
	bind_text(st, 2, name);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		*seq = sqlite3_column_int64(st, 0);
		if (rv)
			*rv = sqlite3_column_int64(st, 1);
	} else if (r == SQLITE_DONE) {
		rc = errf(err, errlen, -ENOENT, "task \"%s/%s\" not found", ns, name);
	}
	else
		rc = db_err(s, r, err, errlen, "select");
	unprep(s, st);
	return rc;
}

int store_set_status(struct store *s, const char *ns, const char *name, json_object *status,
		     const char *event_reason, const char *event_msg, char *err, size_t errlen)
{
	return store_set_status_if(s, ns, name, NULL, status, event_reason, event_msg, err, errlen);
}

int store_set_status_if(struct store *s, const char *ns, const char *name, const char *expect_rv,
			json_object *status, const char *event_reason, const char *event_msg, char *err,
			size_t errlen)
{
	const char *phase = jstr(status, "phase");
	int p = model_phase_parse(phase);
	if (p < 0)
		return errf(err, errlen, -EINVAL,
			    "status.phase: unsupported value \"%.32s\": use Pending, Waiting, Queued, Running, Succeeded, Failed or Stopped",
			    phase ? phase : "");
	bool own;
	int rc = tx_begin(s, &own, err, errlen);
	if (rc < 0)
		return rc;
	int64_t seq = 0, cur = 0, rv = 0;
	if ((rc = task_seq(s, ns, name, &seq, &cur, err, errlen)) < 0)
		goto out;
	if (expect_rv && strtoll(expect_rv, NULL, 10) != cur) {
		rc = errf(err, errlen, -ESTALE,
			  "task \"%s/%s\" changed since it was read (version %lld, now %lld): read it again",
			  ns, name, strtoll(expect_rv, NULL, 10), (long long)cur);
		goto out;
	}
	if ((rc = next_rv(s, &rv, err, errlen)) < 0)
		goto out;
	sqlite3_stmt *st = NULL;
	if ((rc = prep(s, "UPDATE objects SET status_json = ?, phase = ?, updated_ms = ?, rv = ? WHERE seq = ?",
		       &st, err, errlen)) < 0)
		goto out;
	bind_text(st, 1, json_text(status));
	bind_text(st, 2, phase);
	sqlite3_bind_int64(st, 3, now_wall_ms());
	sqlite3_bind_int64(st, 4, rv);
	sqlite3_bind_int64(st, 5, seq);
	int r = sqlite3_step(st);
	unprep(s, st);
	if (r != SQLITE_DONE) {
		rc = db_err(s, r, err, errlen, "update status");
		goto out;
	}
	if (event_reason || event_msg)
		rc = insert_event(s, seq, p == MODEL_PHASE_FAILED ? "Warning" : "Normal",
				  event_reason ? event_reason : phase, event_msg, err, errlen);
out:
	return tx_end(s, own, rc, err, errlen);
}

int store_add_event(struct store *s, const char *ns, const char *name, const char *type,
		    const char *reason, const char *message, char *err, size_t errlen)
{
	bool own;
	int rc = tx_begin(s, &own, err, errlen);
	if (rc < 0)
		return rc;
	int64_t seq = 0;
	rc = task_seq(s, ns, name, &seq, NULL, err, errlen);
	if (rc == 0)
		rc = insert_event(s, seq, type, reason, message, err, errlen);
	return tx_end(s, own, rc, err, errlen);
}

int store_events(struct store *s, const char *ns, const char *name, store_event_cb cb, void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc = prep(s,
		      "SELECT e.time_ms, e.type, e.reason, e.message FROM events e JOIN objects o ON o.seq = e.object_seq WHERE o.kind = 'Task' AND o.ns = ? AND o.name = ? ORDER BY e.id",
		      &st, NULL, 0);
	if (rc < 0)
		return rc;
	bind_text(st, 1, ns);
	bind_text(st, 2, name);
	int r = SQLITE_DONE;
	while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW)
		rc = cb(sqlite3_column_int64(st, 0), col_text(st, 1), col_text(st, 2),
			col_text(st, 3), ctx);
	if (rc == 0 && r != SQLITE_DONE)
		rc = db_err(s, r, NULL, 0, "select events");
	unprep(s, st);
	return rc;
}

int store_next_queued(struct store *s, const char *agent_key, json_object **task)
{
	sqlite3_stmt *st = NULL;
	int rc = prep(s,
		      agent_key ? "SELECT spec_json, status_json, rv FROM objects WHERE kind = 'Task' AND phase = 'Queued' AND agent_key = ? ORDER BY seq LIMIT 1"
				: "SELECT spec_json, status_json, rv FROM objects WHERE kind = 'Task' AND phase = 'Queued' ORDER BY seq LIMIT 1",
		      &st, NULL, 0);
	if (rc < 0)
		return rc;
	if (agent_key)
		bind_text(st, 1, agent_key);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		json_object *doc = col_doc(st, 0);
		if (doc)
			*task = doc;
		else
			rc = -EIO;
	} else {
		rc = r == SQLITE_DONE ? -ENOENT : db_err(s, r, NULL, 0, "select");
	}
	unprep(s, st);
	return rc;
}

long store_count_phase(struct store *s, enum model_phase phase, const char *agent_key)
{
	const char *p = model_phase_name(phase);
	if (!p)
		return -EINVAL;
	sqlite3_stmt *st = NULL;
	int rc = prep(s,
		      agent_key ? "SELECT count(*) FROM objects WHERE kind = 'Task' AND phase = ? AND agent_key = ?"
				: "SELECT count(*) FROM objects WHERE kind = 'Task' AND phase = ?",
		      &st, NULL, 0);
	if (rc < 0)
		return rc;
	bind_text(st, 1, p);
	if (agent_key)
		bind_text(st, 2, agent_key);
	int r = sqlite3_step(st);
	long n = r == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : db_err(s, r, NULL, 0, "count");
	unprep(s, st);
	return n;
}

/* Write back a loaded row's document (metadata changed; status is not
 * part of spec_json) with a new resource version. */
static int update_meta(struct store *s, struct row *r, char *err, size_t errlen)
{
	int64_t rv = 0;
	int rc = next_rv(s, &rv, err, errlen);
	if (rc < 0)
		return rc;
	json_object *md = jobj(r->doc, "metadata");
	json_object_object_del(md, "resourceVersion");
	sqlite3_stmt *st = NULL;
	if ((rc = prep(s, "UPDATE objects SET spec_json = ?, stop_requested = ?, updated_ms = ?, rv = ? WHERE seq = ?",
		       &st, err, errlen)) < 0)
		return rc;
	bind_text(st, 1, json_text(r->doc));
	sqlite3_bind_int(st, 2, model_stop_requested(r->doc));
	sqlite3_bind_int64(st, 3, now_wall_ms());
	sqlite3_bind_int64(st, 4, rv);
	sqlite3_bind_int64(st, 5, r->seq);
	int x = sqlite3_step(st);
	unprep(s, st);
	return x == SQLITE_DONE ? 0 : db_err(s, x, err, errlen, "update metadata");
}

int store_changed_tasks(struct store *s, int64_t after_rv, store_obj_cb cb, void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc = prep(s,
		      "SELECT spec_json, status_json, rv FROM objects WHERE kind = 'Task' AND rv > ? ORDER BY rv",
		      &st, NULL, 0);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, after_rv);
	return walk(s, st, cb, ctx);
}

int store_list_deleting(struct store *s, store_obj_cb cb, void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc = prep(s,
		      "SELECT spec_json, status_json, rv FROM objects WHERE kind = 'Task' AND json_extract(spec_json, '$.metadata.deletionTimestamp') IS NOT NULL ORDER BY seq",
		      &st, NULL, 0);
	if (rc < 0)
		return rc;
	return walk(s, st, cb, ctx);
}

int64_t store_rv(struct store *s)
{
	sqlite3_stmt *st = NULL;
	if (prep(s, "SELECT value FROM counters WHERE name = 'rv'", &st, NULL, 0) < 0)
		return -EIO;
	int r = sqlite3_step(st);
	int64_t v = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -EIO;
	unprep(s, st);
	return v;
}

int store_agent_keys(struct store *s, struct strv *keys, size_t max)
{
	sqlite3_stmt *st = NULL;
	int rc = prep(s, "SELECT ns, name FROM objects WHERE kind = 'Agent' ORDER BY seq LIMIT ?", &st,
		      NULL, 0);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		strv_push_owned(keys, xasprintf("%s/%s", col_text(st, 0), col_text(st, 1)));
	if (r != SQLITE_DONE)
		rc = db_err(s, r, NULL, 0, "select");
	unprep(s, st);
	return rc;
}

int store_queued_agents(struct store *s, struct strv *keys)
{
	sqlite3_stmt *st = NULL;
	int rc = prep(s, "SELECT DISTINCT agent_key FROM objects WHERE kind = 'Task' AND phase = 'Queued'",
		      &st, NULL, 0);
	if (rc < 0)
		return rc;
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		strv_push(keys, col_text(st, 0) ? col_text(st, 0) : "");
	if (r != SQLITE_DONE)
		rc = db_err(s, r, NULL, 0, "select");
	unprep(s, st);
	return rc;
}

/* Load an object, let `edit` change its metadata (it returns whether it
 * did), and write it back with a new resource version: one transaction. */
typedef bool (*meta_edit_fn)(json_object *md, const void *ctx);

static int edit_meta(struct store *s, enum model_kind kind, const char *ns, const char *name,
		     meta_edit_fn edit, const void *ctx, char *err, size_t errlen)
{
	const char *k = model_kind_name(kind);
	bool own;
	int rc = tx_begin(s, &own, err, errlen);
	if (rc < 0)
		return rc;
	struct row r = { 0 };
	if ((rc = load(s, k, ns, name, &r, err, errlen)) < 0) {
		if (rc == -ENOENT)
			errf(err, errlen, -ENOENT, "%s \"%s/%s\" not found", k, ns, name);
		goto out;
	}
	json_object_object_del(r.doc, "status");
	if (edit(jobj(r.doc, "metadata"), ctx))
		rc = update_meta(s, &r, err, errlen);
out:
	if (kind == MODEL_SECRET)
		scrub_data(r.doc);
	row_free(&r);
	return tx_end(s, own, rc, err, errlen);
}

static bool mark_deleted(json_object *md, const void *ctx)
{
	(void)ctx;
	if (!md || jstr(md, "deletionTimestamp"))
		return false;
	char ts[40];
	format_time_ms(now_wall_ms(), ts, sizeof(ts));
	json_object_object_add(md, "deletionTimestamp", json_object_new_string(ts));
	return true;
}

int store_mark_deleted(struct store *s, enum model_kind kind, const char *ns, const char *name,
		       char *err, size_t errlen)
{
	if (!model_kind_name(kind))
		return errf(err, errlen, -EINVAL, "store: mark deleted: bad kind");
	return edit_meta(s, kind, ns, name, mark_deleted, NULL, err, errlen);
}

struct annotation {
	const char *key, *value;
};

static bool set_annotation(json_object *md, const void *ctx)
{
	const struct annotation *a = ctx;
	if (!md)
		return false;
	json_object *ann = jobj(md, "annotations");
	if (!ann && a->value) {
		ann = json_object_new_object();
		json_object_object_add(md, "annotations", ann);
	}
	if (a->value)
		json_object_object_add(ann, a->key, json_object_new_string(a->value));
	else if (ann)
		json_object_object_del(ann, a->key);
	return true;
}

int store_set_annotation(struct store *s, enum model_kind kind, const char *ns, const char *name,
			 const char *key, const char *value, char *err, size_t errlen)
{
	if (!model_kind_name(kind) || !key || !*key)
		return errf(err, errlen, -EINVAL, "store: set annotation: bad arguments");
	const struct annotation a = { key, value };
	return edit_meta(s, kind, ns, name, set_annotation, &a, err, errlen);
}

/* ---- secrets and config maps --------------------------------------- */

int store_secret_get(struct store *s, const char *ns, const char *name, const char *key,
		     char **value, size_t *len, char *err, size_t errlen)
{
	struct row r = { 0 };
	int rc = load(s, "Secret", ns, name, &r, err, errlen);
	if (rc == -ENOENT)
		return errf(err, errlen, -ENOENT, "secret \"%s/%s\" not found", ns, name);
	if (rc < 0)
		return rc;
	json_object *v = NULL;
	json_object *data = jobj(r.doc, "data");
	if (!key || !json_object_object_get_ex(data, key, &v) ||
	    !json_object_is_type(v, json_type_string)) {
		rc = errf(err, errlen, -ENOENT, "secret \"%s/%s\" has no key \"%s\"", ns, name,
			  key ? key : "");
	} else {
		char *dec = NULL;
		size_t dlen = 0;
		rc = model_b64_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v),
				      &dec, &dlen);
		if (rc < 0) {
			rc = errf(err, errlen, -EIO, "secret \"%s/%s\" key \"%s\": stored value is not valid base64",
				  ns, name, key);
		} else {
			*value = dec;
			*len = dlen;
		}
	}
	scrub_data(r.doc);
	row_free(&r);
	return rc;
}

int store_configmap_get(struct store *s, const char *ns, const char *name,
			struct paddock_object **out, char *err, size_t errlen)
{
	struct row r = { 0 };
	int rc = load(s, "ConfigMap", ns, name, &r, err, errlen);
	if (rc == -ENOENT)
		return errf(err, errlen, -ENOENT, "configmap \"%s/%s\" not found", ns, name);
	if (rc < 0)
		return rc;
	struct paddock_object *o = host_object_new();
	json_object *data = jobj(r.doc, "data");
	if (data) {
		json_object_object_foreach(data, k, v) {
			if (json_object_is_type(v, json_type_string))
				host_object_add(o, k, json_object_get_string(v),
						(size_t)json_object_get_string_len(v));
		}
	}
	json_object *bin = jobj(r.doc, "binaryData");
	if (bin) {
		json_object_object_foreach(bin, k, v) {
			char *dec = NULL;
			size_t dlen = 0;
			if (json_object_is_type(v, json_type_string) &&
			    model_b64_decode(json_object_get_string(v),
					     (size_t)json_object_get_string_len(v), &dec, &dlen) == 0) {
				host_object_add(o, k, dec, dlen);
				free(dec);
			}
		}
	}
	row_free(&r);
	*out = o;
	return 0;
}

/* ---- deliveries to Spawners ------------------------------------------- */

/* Records of outcomes that protect nothing (duplicate, rejected) kept
 * per Spawner: the newest ones. */
#define DELIVERY_NOISE_KEEP 200

/* A statement on one Spawner's deliveries: ?1 ns, ?2 spawner bound. */
static int prep_spawner(struct store *s, const char *sql, const char *ns, const char *spawner,
			sqlite3_stmt **st)
{
	int rc = prep(s, sql, st, NULL, 0);
	if (rc == 0) {
		bind_text(*st, 1, ns);
		bind_text(*st, 2, spawner);
	}
	return rc;
}

int store_delivery_seen(struct store *s, const char *ns, const char *spawner, const char *id)
{
	sqlite3_stmt *st = NULL;
	int rc = prep_spawner(s,
			      "SELECT 1 FROM deliveries WHERE ns = ? AND spawner = ? AND event_id = ? AND outcome IN ('accepted', 'filtered')",
			      ns, spawner, &st);
	if (rc < 0)
		return rc;
	bind_text(st, 3, id);
	int r = sqlite3_step(st);
	rc = r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : db_err(s, r, NULL, 0, "select delivery");
	unprep(s, st);
	return rc;
}

int store_delivery_add(struct store *s, const struct store_delivery *d, char *err, size_t errlen)
{
	bool own;
	int rc = tx_begin(s, &own, err, errlen);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st = NULL;
	rc = prep(s,
		  "INSERT INTO deliveries (ns, spawner, event_id, event, time_ms, outcome, task, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		  &st, err, errlen);
	if (rc == 0) {
		bind_text(st, 1, d->ns);
		bind_text(st, 2, d->spawner);
		bind_text(st, 3, d->id);
		bind_text(st, 4, d->event);
		sqlite3_bind_int64(st, 5, d->time_ms ? d->time_ms : now_wall_ms());
		bind_text(st, 6, d->outcome);
		bind_text(st, 7, d->task);
		bind_text(st, 8, d->detail);
		int r = sqlite3_step(st);
		if ((r & 0xff) == SQLITE_CONSTRAINT)
			rc = errf(err, errlen, -EEXIST, "event %s was taken already", d->id ? d->id : "");
		else if (r != SQLITE_DONE)
			rc = db_err(s, r, err, errlen, "insert delivery");
		unprep(s, st);
	}
	if (rc == 0 && !str_eq(d->outcome, "accepted") && !str_eq(d->outcome, "filtered") &&
	    (rc = prep(s,
		       "DELETE FROM deliveries WHERE ns = ?1 AND spawner = ?2 AND outcome NOT IN ('accepted', 'filtered') AND id <= (SELECT id FROM deliveries WHERE ns = ?1 AND spawner = ?2 AND outcome NOT IN ('accepted', 'filtered') ORDER BY id DESC LIMIT 1 OFFSET ?3)",
		       &st, err, errlen)) == 0) {
		bind_text(st, 1, d->ns);
		bind_text(st, 2, d->spawner);
		sqlite3_bind_int(st, 3, DELIVERY_NOISE_KEEP);
		int r = sqlite3_step(st);
		if (r != SQLITE_DONE)
			rc = db_err(s, r, err, errlen, "prune deliveries");
		unprep(s, st);
	}
	return tx_end(s, own, rc, err, errlen);
}

int store_deliveries(struct store *s, const char *ns, const char *spawner, size_t last,
		     store_delivery_cb cb, void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc = prep_spawner(s,
			      "SELECT * FROM (SELECT id, event_id, event, time_ms, outcome, task, detail FROM deliveries WHERE ns = ? AND spawner = ? ORDER BY id DESC LIMIT ?) ORDER BY id",
			      ns, spawner, &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 3, (int64_t)last);
	int r = SQLITE_DONE;
	while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_delivery d = { .ns = ns, .spawner = spawner, .id = col_text(st, 1),
					    .event = col_text(st, 2), .time_ms = sqlite3_column_int64(st, 3),
					    .outcome = col_text(st, 4), .task = col_text(st, 5),
					    .detail = col_text(st, 6) };
		rc = cb(&d, ctx);
	}
	if (rc == 0 && r != SQLITE_DONE && r != SQLITE_ROW)
		rc = db_err(s, r, NULL, 0, "select deliveries");
	unprep(s, st);
	return rc;
}

long store_delivery_count(struct store *s, const char *ns, const char *spawner, const char *outcome)
{
	sqlite3_stmt *st = NULL;
	int rc = prep_spawner(s, "SELECT count(*) FROM deliveries WHERE ns = ? AND spawner = ? AND outcome = ?",
			      ns, spawner, &st);
	if (rc < 0)
		return rc;
	bind_text(st, 3, outcome);
	long n = sqlite3_step(st) == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : -EIO;
	unprep(s, st);
	return n;
}
