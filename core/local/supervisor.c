/* SPDX-License-Identifier: MIT */
/*
 * local/supervisor.c - what crosses the exec between local_start() and
 * the run's supervisor (`paddock __supervise RUN_DIR`, local/local.h):
 *
 *   - RUN_DIR/supervisor.json (0600): the spec the supervisor acts on and
 *     the command it runs (argv, bind sources), never a secret value;
 *   - a memfd on LOCAL_SUP_FD_ENV: the command's environment, secret
 *     values included, read once and emptied;
 *   - the sink: rebuilt in the supervisor from the driver's name, the
 *     config file and the plugin directories (local_spec.sink_rebuild),
 *     or proxied over LOCAL_SUP_FD_SINK to a sink process
 *     forked from the caller (local_sink_process(), below).
 *
 * Sink protocol on the socket, supervisor to sink process: per line a
 * uint32 length (<= LOCAL_LINE_MAX) and the bytes; at the end the uint32
 * SINK_FINISH and an int32 exit code, then the supervisor shuts its
 * writing side.  The sink process answers with finish()'s JSON (at most
 * SINK_REPLY_CAP bytes) and exits.  Both in host byte order.
 */
#include "config.h"
#include "local/local.h"

#include "base/conf.h"
#include "control/pipeline.h"
#include "plugin/loader.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define SUP_VERSION 1
#define SUP_FILE_CAP (64u << 20)  /* argv is bounded by ARG_MAX anyway */
#define ENV_CAP (64u << 20)
#define SINK_FINISH 0xffffffffu
#define SINK_REPLY_CAP (1024 * 1024) /* as run.c's RESULT_SINK_CAP */
#define SINK_SEND_TIMEOUT_S 10       /* a stuck sink process never stalls supervision */
#define SINK_REPLY_TIMEOUT_MS 30000
#define SINK_UID 65534               /* nobody */

/* What crosses the exec, as the supervisor rebuilds it. */
struct local_sup {
	struct local_spec spec;   /* points into the fields below */
	struct run_limits limits;
	struct local_sink sink;
	struct strv argv, srcs;   /* the command's argv; bind sources */
	char **envp;              /* owned: local_env_free */
	char *run_dir, *uid_slot_dir, *cgroup_root, *self_cgroup;
	void *sink_state;         /* the rebuilt or proxied sink */
	struct strv allow;        /* net.allow */
	char *events_path;        /* net.events_path */
	char *route[5];           /* net.route_*: upstream, header, prefix, placeholder, CA file */
	json_object *sink_doc;    /* supervisor.json's "sink", built late (sup_sink) */
};

/* ---- supervisor.json -------------------------------------------------- */

static void add_str(json_object *o, const char *key, const char *v)
{
	if (v)
		json_object_object_add(o, key, json_object_new_string(v));
}

static json_object *str_array(const char *const *v)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; v && v[i]; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

/* A path the caller may have given relative to its own directory, made
 * absolute: the supervisor reads it from the run directory. */
static void add_path(json_object *o, const char *key, const char *v)
{
	char abs[PATH_MAX];
	add_str(o, key, v && v[0] != '/' && realpath(v, abs) ? abs : v);
}

static json_object *path_array(const char *const *v)
{
	json_object *a = json_object_new_array();
	char abs[PATH_MAX];
	for (size_t i = 0; v && v[i]; i++)
		json_object_array_add(a, json_object_new_string(v[i][0] != '/' && realpath(v[i], abs) ? abs : v[i]));
	return a;
}

int local_sup_write(const struct local_spec *s, char *const *argv, char *const *srcs, bool proxy,
		    char *err, size_t errlen)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "version", json_object_new_int(SUP_VERSION));
	json_object_object_add(o, "isolation", json_object_new_boolean(s->isolation));
	json_object_object_add(o, "timeoutSeconds", json_object_new_int64(s->timeout_s));
	json_object_object_add(o, "logCap", json_object_new_int64((int64_t)s->log_cap));
	add_str(o, "uidSlotDir", s->uid_slot_dir);
	json_object_object_add(o, "uidBase", json_object_new_int64(s->uid_base));
	json_object_object_add(o, "uidCount", json_object_new_int64(s->uid_count));
	if (s->limits) {
		json_object *l = json_object_new_object();
		json_object_object_add(l, "cpuMilli", json_object_new_int64(s->limits->cpu_milli));
		json_object_object_add(l, "memoryBytes", json_object_new_int64(s->limits->memory_bytes));
		json_object_object_add(l, "storageBytes", json_object_new_int64(s->limits->storage_bytes));
		json_object_object_add(l, "pids", json_object_new_int64(s->limits->pids));
		json_object_object_add(o, "limits", l);
	}
	add_str(o, "cgroupRoot", s->cgroup_root);
	add_str(o, "selfCgroup", s->self_cgroup);
	if (s->net.mode != LOCAL_NET_HOST) {
		static const char *const modes[] = { "host", "none", "proxy" };
		json_object *n = json_object_new_object();
		add_str(n, "mode", modes[s->net.mode]);
		json_object_object_add(n, "allow", str_array(s->net.allow));
		json_object_object_add(n, "allowLoopback", json_object_new_boolean(s->net.allow_loopback));
		json_object_object_add(n, "allowPrivate", json_object_new_boolean(s->net.allow_private));
		add_str(n, "events", s->net.events_path);
		if (s->net.route_upstream) {
			json_object *r = json_object_new_object();
			add_str(r, "upstream", s->net.route_upstream);
			add_str(r, "header", s->net.route_header);
			add_str(r, "prefix", s->net.route_prefix);
			add_str(r, "placeholder", s->net.route_placeholder);
			add_str(r, "caFile", s->net.route_ca_file);
			json_object_object_add(n, "route", r);
		}
		json_object_object_add(o, "network", n);
	}
	json_object_object_add(o, "argv", str_array((const char *const *)argv));
	json_object_object_add(o, "bindSources", str_array((const char *const *)srcs));
	const struct local_sink_rebuild *k = s->sink_rebuild;
	if (k && k->driver) {
		json_object *so = json_object_new_object();
		add_str(so, "driver", k->driver);
		add_path(so, "config", k->config_path);
		if (k->plugin_dirs)
			json_object_object_add(so, "pluginDirs", path_array(k->plugin_dirs));
		add_path(so, "pluginFile", k->plugin_file);
		json_object_object_add(o, "sink", so);
	} else if (proxy) {
		json_object *so = json_object_new_object();
		json_object_object_add(so, "process", json_object_new_boolean(true));
		json_object_object_add(o, "sink", so);
	}
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	char *path = xasprintf("%s/" LOCAL_SUP_FILE, s->run_dir);
	int rc = write_file_atomic(path, text, strlen(text), 0600);
	if (rc < 0)
		errf(err, errlen, rc, "cannot write %s: %s", path, strerror(-rc));
	free(path);
	json_object_put(o);
	return rc;
}

static const char *jstring(json_object *o, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int64_t jint(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static char *jdup(json_object *o, const char *key)
{
	const char *v = jstring(o, key);
	return v ? xstrdup(v) : NULL;
}

static int jstrv(json_object *o, const char *key, struct strv *out)
{
	json_object *a;
	if (!json_object_object_get_ex(o, key, &a))
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return -EINVAL;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);
		if (!json_object_is_type(e, json_type_string))
			return -EINVAL;
		strv_push(out, json_object_get_string(e));
	}
	return 0;
}

/* The file, written by our own uid and by nobody else's hands. */
static int read_private(const char *path, char **out, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errf(err, errlen, -errno, "cannot open %s: %s", path, strerror(errno));
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0) {
		rc = errf(err, errlen, -errno, "cannot stat %s: %s", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
		rc = errf(err, errlen, -EPERM, "%s: not a 0600 file of uid %u", path,
			  (unsigned)geteuid());
	} else if ((uint64_t)st.st_size > SUP_FILE_CAP) {
		rc = errf(err, errlen, -E2BIG, "%s: too large", path);
	}
	if (rc < 0) {
		(void)close(fd);
		return rc;
	}
	char *data = xmalloc((size_t)st.st_size + 1);
	size_t len = 0;
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, data + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	(void)close(fd);
	data[len] = '\0';
	*out = data;
	return 0;
}

/* ---- the command's environment ---------------------------------------- */

static bool write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		c += w;
		n -= (size_t)w;
	}
	return true;
}

/* 0 at EOF after all n bytes, -1 otherwise (short read, error). */
static int read_all(int fd, void *p, size_t n)
{
	char *c = p;
	while (n) {
		ssize_t r = read(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

int local_sup_env_fd(char *const *envp, char *err, size_t errlen)
{
	int fd = memfd_create("paddock-run-env", MFD_CLOEXEC);
	if (fd < 0)
		return errf(err, errlen, -errno, "memfd_create: %s", strerror(errno));
	for (size_t i = 0; envp && envp[i]; i++) {
		if (!write_all(fd, envp[i], strlen(envp[i]) + 1)) {
			int e = errno ? errno : EIO;
			(void)close(fd);
			return errf(err, errlen, -e, "memfd: %s", strerror(e));
		}
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		int e = errno;
		(void)close(fd);
		return errf(err, errlen, -e, "memfd: %s", strerror(e));
	}
	return fd;
}

/* Read the environment off the memfd, then empty and close it: the
 * values live on only in the envp handed to the command. */
static int env_take(int fd, char ***out, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size > ENV_CAP) {
		(void)close(fd);
		return errf(err, errlen, -EINVAL, "the environment descriptor is not usable");
	}
	size_t len = (size_t)st.st_size;
	char *data = xmalloc(len + 1);
	int rc = len ? read_all(fd, data, len) : 0;
	(void)ftruncate(fd, 0);
	(void)close(fd);
	data[len] = '\0';
	if (rc < 0) {
		secure_free(data, len);
		return errf(err, errlen, -EIO, "cannot read the environment");
	}
	struct strv v = {0};
	for (size_t off = 0; off < len;) {
		size_t n = strnlen(data + off, len - off);
		if (n)
			strv_push(&v, data + off);
		off += n + 1;
	}
	secure_free(data, len);
	if (!v.v)
		strv_push(&v, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	*out = v.v;
	return 0;
}

/* ---- the sink, rebuilt in the supervisor ------------------------------ */

struct rebuilt {
	struct pd_config *cfg;
	struct plugin_set *ps;
	struct pipeline_sink sc;
	/* usage so far (ABI 1.1 parser_peek), for budgets: NULL without */
	void (*peek)(void *parser, struct paddock_run_result *so_far);
	const char *run_dir; /* borrowed from the supervisor */
	int64_t in, out;
	double cost;
};

/* Write run_dir/usage.json when the totals changed (atomically: the
 * controller reads it while we run). */
static void usage_update(struct rebuilt *r)
{
	struct paddock_run_result u = { .size = sizeof(u), .input_tokens = -1, .output_tokens = -1,
					.cost_usd = -1 };
	r->peek(r->sc.parser, &u);
	if (u.input_tokens == r->in && u.output_tokens == r->out && u.cost_usd == r->cost)
		return;
	r->in = u.input_tokens;
	r->out = u.output_tokens;
	r->cost = u.cost_usd;
	json_object *o = json_object_new_object();
	if (u.input_tokens >= 0)
		json_object_object_add(o, "inputTokens", json_object_new_int64(u.input_tokens));
	if (u.output_tokens >= 0)
		json_object_object_add(o, "outputTokens", json_object_new_int64(u.output_tokens));
	if (u.cost_usd >= 0)
		json_object_object_add(o, "costUSD", json_object_new_double(u.cost_usd));
	char *path = xasprintf("%s/" LOCAL_USAGE_FILE, r->run_dir);
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (write_file_atomic(path, text, strlen(text), 0600) < 0)
		log_warn("cannot write the usage so far", "path", path);
	free(path);
	json_object_put(o);
}

static void rebuilt_line(void *ctx, const char *line, size_t len)
{
	struct rebuilt *r = ctx;
	pipeline_sink_line(&r->sc, line, len);
	if (r->peek && r->sc.parser && r->run_dir)
		usage_update(r);
}

static void rebuilt_finish(void *ctx, int exit_code, struct buf *out)
{
	struct rebuilt *r = ctx;
	json_object *o = pipeline_sink_finish(&r->sc, exit_code);
	(void)buf_puts(out, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

/* The config the caller read, its plugin directories, and the driver
 * alone enabled: no other plugin is instantiated here. */
static int sink_rebuild(json_object *so, struct local_sup *u, char *err, size_t errlen)
{
	const char *driver = jstring(so, "driver"), *path = jstring(so, "config");
	if (!driver)
		return errf(err, errlen, -EINVAL, "sink: no driver");
	struct rebuilt *r = xcalloc(1, sizeof(*r));
	char e2[1024];
	int rc = 0;
	if (path) {
		if ((rc = config_load(path, &r->cfg, e2, sizeof(e2))) < 0) {
			free(r);
			return errf(err, errlen, rc, "driver %s's parser: %s", driver, e2);
		}
	} else {
		r->cfg = config_new_default();
	}
	json_object *dirs;
	if (json_object_object_get_ex(so, "pluginDirs", &dirs)) {
		strv_free(&r->cfg->plugin_dirs);
		if ((rc = jstrv(so, "pluginDirs", &r->cfg->plugin_dirs)) < 0) {
			config_free(r->cfg);
			free(r);
			return errf(err, errlen, rc, "sink: bad pluginDirs");
		}
	}
	for (size_t i = 0; i < r->cfg->n_plugins; i++) {
		struct pd_plugin_conf *pc = &r->cfg->plugins[i];
		if (pc->kind != PADDOCK_KIND_DRIVER || !str_eq(pc->name, driver))
			pc->enabled = false;
	}
	const char *file = jstring(so, "pluginFile");
	if ((rc = file ? plugins_load_file(r->cfg, file, &r->ps, e2, sizeof(e2))
		       : plugins_load(r->cfg, true, &r->ps, e2, sizeof(e2))) < 0) {
		config_free(r->cfg);
		free(r);
		return errf(err, errlen, rc, "driver %s's parser: %s", driver, e2);
	}
	if (!plugins_driver(r->ps, driver)) {
		plugins_free(r->ps);
		config_free(r->cfg);
		free(r);
		return errf(err, errlen, -ENOENT, "driver %s's parser: the driver is not enabled", driver);
	}
	pipeline_sink_init(&r->sc, r->cfg, r->ps, driver);
	r->peek = PLUGIN_DRIVER_OP(plugins_driver(r->ps, driver), parser_peek);
	r->run_dir = u->run_dir;
	r->in = r->out = -1;
	r->cost = -1;
	u->sink = (struct local_sink){.ctx = r, .line = rebuilt_line, .finish = rebuilt_finish};
	u->sink_state = r;
	return 0;
}

/* ---- the sink, proxied to the sink process ---------------------------- */

struct proxy {
	int fd;
	bool dead; /* the sink process is gone or stuck: results are lost */
};

static void proxy_line(void *ctx, const char *line, size_t len)
{
	struct proxy *x = ctx;
	uint32_t n = (uint32_t)len;
	if (!x->dead && !(write_all(x->fd, &n, sizeof(n)) && write_all(x->fd, line, len)))
		x->dead = true;
}

static void proxy_finish(void *ctx, int exit_code, struct buf *out)
{
	struct proxy *x = ctx;
	uint32_t n = SINK_FINISH;
	int32_t code = exit_code;
	if (x->dead || !write_all(x->fd, &n, sizeof(n)) || !write_all(x->fd, &code, sizeof(code)))
		return;
	(void)shutdown(x->fd, SHUT_WR);
	int64_t dl = now_mono_ms() + SINK_REPLY_TIMEOUT_MS;
	char chunk[16384];
	for (;;) {
		int64_t left = dl - now_mono_ms();
		struct pollfd pf = {.fd = x->fd, .events = POLLIN};
		if (left <= 0)
			break;
		int r = poll(&pf, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		ssize_t k = read(x->fd, chunk, sizeof(chunk));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || buf_append(out, chunk, (size_t)k) < 0)
			break;
	}
}

static int sink_proxy(struct local_sup *u, char *err, size_t errlen)
{
	int fd = LOCAL_SUP_FD_SINK;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return errf(err, errlen, -EBADF, "no sink socket on descriptor %d", fd);
	struct timeval tv = {SINK_SEND_TIMEOUT_S, 0};
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct proxy *x = xcalloc(1, sizeof(*x));
	x->fd = fd;
	u->sink = (struct local_sink){.ctx = x, .line = proxy_line, .finish = proxy_finish};
	u->sink_state = x;
	return 0;
}

/* ---- in the supervisor: everything in place ---------------------------- */

/* Read run_dir/supervisor.json and the memfd on LOCAL_SUP_FD_ENV (closed
 * here), and build the sink. */
static int sup_load(const char *run_dir, struct local_sup *u, char *err, size_t errlen)
{
	memset(u, 0, sizeof(*u));
	char *path = xasprintf("%s/" LOCAL_SUP_FILE, run_dir);
	char *data = NULL;
	int rc = read_private(path, &data, err, errlen);
	free(path);
	if (rc < 0)
		return rc;
	json_object *o = json_tokener_parse(data);
	free(data);
	if (!o || !json_object_is_type(o, json_type_object) || jint(o, "version") != SUP_VERSION) {
		json_object_put(o);
		return errf(err, errlen, -EINVAL, LOCAL_SUP_FILE " is not version %d: a paddock of another version wrote it",
			    SUP_VERSION);
	}
	u->run_dir = xstrdup(run_dir);
	u->uid_slot_dir = jdup(o, "uidSlotDir");
	u->cgroup_root = jdup(o, "cgroupRoot");
	u->self_cgroup = jdup(o, "selfCgroup");
	struct local_spec *s = &u->spec;
	s->run_dir = u->run_dir;
	json_object *v;
	s->isolation = json_object_object_get_ex(o, "isolation", &v) && json_object_get_boolean(v);
	s->timeout_s = (long)jint(o, "timeoutSeconds");
	s->log_cap = (size_t)jint(o, "logCap");
	s->uid_slot_dir = u->uid_slot_dir;
	s->uid_base = (long)jint(o, "uidBase");
	s->uid_count = (long)jint(o, "uidCount");
	s->cgroup_root = u->cgroup_root;
	s->self_cgroup = u->self_cgroup;
	if (json_object_object_get_ex(o, "limits", &v)) {
		u->limits.cpu_milli = jint(v, "cpuMilli");
		u->limits.memory_bytes = jint(v, "memoryBytes");
		u->limits.storage_bytes = jint(v, "storageBytes");
		u->limits.pids = jint(v, "pids");
		s->limits = &u->limits;
	}
	json_object *net = NULL;
	if (json_object_object_get_ex(o, "network", &net)) {
		const char *m = jstring(net, "mode");
		s->net.mode = str_eq(m, "proxy") ? LOCAL_NET_PROXY : str_eq(m, "none") ? LOCAL_NET_NONE
										 : LOCAL_NET_HOST;
		if (jstrv(net, "allow", &u->allow) < 0) {
			json_object_put(o);
			return errf(err, errlen, -EINVAL, LOCAL_SUP_FILE ": network.allow is not a list");
		}
		s->net.allow = (const char *const *)u->allow.v;
		s->net.allow_loopback = json_object_object_get_ex(net, "allowLoopback", &v) &&
					json_object_get_boolean(v);
		s->net.allow_private = json_object_object_get_ex(net, "allowPrivate", &v) &&
				       json_object_get_boolean(v);
		u->events_path = jdup(net, "events");
		s->net.events_path = u->events_path;
		json_object *r = NULL;
		if (json_object_object_get_ex(net, "route", &r)) {
			for (int i = 0; i < 5; i++)
				u->route[i] = jdup(r, (const char *[]){ "upstream", "header", "prefix",
									"placeholder", "caFile" }[i]);
			s->net.route_upstream = u->route[0];
			s->net.route_header = u->route[1];
			s->net.route_prefix = u->route[2];
			s->net.route_placeholder = u->route[3];
			s->net.route_ca_file = u->route[4];
		}
	}
	if (jstrv(o, "argv", &u->argv) < 0 || !u->argv.n || jstrv(o, "bindSources", &u->srcs) < 0) {
		json_object_put(o);
		return errf(err, errlen, -EINVAL, LOCAL_SUP_FILE ": no command");
	}
	rc = env_take(LOCAL_SUP_FD_ENV, &u->envp, err, errlen);
	json_object *so = NULL;
	if (rc == 0 && json_object_object_get_ex(o, "sink", &so))
		u->sink_doc = json_object_get(so);
	json_object_put(o);
	return rc;
}

/* The sink, once the command's process is forked (local_supervise's
 * `late`): loading the driver's parser overlaps its entering the cgroup. */
static int sup_sink(void *ctx, char *err, size_t errlen)
{
	struct local_sup *u = ctx;
	json_object *so = u->sink_doc, *v;
	if (!so)
		return 0;
	int rc;
	if (json_object_object_get_ex(so, "process", &v) && json_object_get_boolean(v))
		rc = sink_proxy(u, err, errlen);
	else
		rc = sink_rebuild(so, u, err, errlen);
	if (rc == 0)
		u->spec.sink = &u->sink;
	json_object_put(so);
	u->sink_doc = NULL;
	return rc;
}

/* ---- the sink process --------------------------------------------------- */

_Noreturn void local_sink_process(const struct local_sink *k, int fd)
{
	/* Nothing of the caller's handlers, mask or descriptors. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)signal(sig, SIG_DFL);
	(void)signal(SIGPIPE, SIG_IGN);
	sigset_t none;
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	int high = fcntl(fd, F_DUPFD_CLOEXEC, 16);
	int dn = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (high < 0 || dn < 0 || dup2(dn, 0) < 0 || dup2(dn, 1) < 0 || dup2(dn, 2) < 0 ||
	    dup2(high, 3) < 0)
		_exit(1);
	local_close_from(4);
	fd = 3;
	(void)prctl(PR_SET_NAME, "paddock-sink");
	/* As nobody, not dumpable: an exploited parser can neither open the
	 * state directory nor signal or trace anything of Paddock's, and no
	 * other process of uid 65534 can trace it or read its memory. */
	if (geteuid() == 0 && local_drop_to(SINK_UID) < 0)
		_exit(1);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0) < 0)
		_exit(1);
	struct rlimit rl = {0, 0};
	(void)setrlimit(RLIMIT_CORE, &rl);
	char *line = xmalloc(LOCAL_LINE_MAX);
	for (;;) {
		uint32_t n;
		if (read_all(fd, &n, sizeof(n)) < 0)
			_exit(0); /* the supervisor is gone */
		if (n == SINK_FINISH) {
			int32_t code;
			if (read_all(fd, &code, sizeof(code)) < 0)
				_exit(1);
			struct buf out;
			buf_init(&out, SINK_REPLY_CAP);
			if (k->finish)
				k->finish(k->ctx, code, &out);
			if (out.len)
				(void)write_all(fd, out.data, out.len);
			_exit(0);
		}
		if (n > LOCAL_LINE_MAX || read_all(fd, line, n) < 0)
			_exit(1);
		if (k->line)
			k->line(k->ctx, line, n);
	}
}

/* ---- the entry ------------------------------------------------------------ */

static bool self_supervises;

bool local_sup_self(void)
{
	return self_supervises;
}

static int supervisor_main(int argc, char **argv)
{
	struct stat st;
	if (argc != 3 || argv[2][0] != '/' || fstat(LOCAL_SUP_FD_STATUS, &st) < 0 ||
	    !S_ISFIFO(st.st_mode) || fstat(LOCAL_SUP_FD_ENV, &st) < 0) {
		(void)fprintf(stderr, "paddock: " LOCAL_SUPERVISE_ARG " is internal: the local backend starts it\n");
		return 2;
	}
	int sfd = LOCAL_SUP_FD_STATUS;
	/* None of ours may reach the command. */
	(void)fcntl(sfd, F_SETFD, FD_CLOEXEC);
	(void)fcntl(LOCAL_SUP_FD_SINK, F_SETFD, FD_CLOEXEC);
	(void)fcntl(LOCAL_SUP_FD_START, F_SETFD, FD_CLOEXEC); /* held until we exit */
	local_close_from(LOCAL_SUP_FD_START + 1);
	struct local_sup u;
	char err[768];
	int rc = sup_load(argv[2], &u, err, sizeof(err));
	if (rc < 0) {
		(void)dprintf(sfd, "%d %s", rc, err);
		_exit(1);
	}
	local_supervise(&u.spec, u.argv.v, u.srcs.v, u.envp, sfd, sup_sink, &u);
}

bool local_supervisor_dispatch(int argc, char **argv, int *rc)
{
	if (argc >= 2 && !strcmp(argv[1], LOCAL_SUPERVISE_ARG)) {
		*rc = supervisor_main(argc, argv);
		return true;
	}
	self_supervises = true;
	local_supervisor_pin(); /* the supervisor of this build, before any upgrade */
	return false;
}
