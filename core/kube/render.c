/* SPDX-License-Identifier: MIT */
/*
 * kube/render.c - a run plan as a batch/v1 Job and a ConfigMap (see
 * kube/render.h for the layout and the choices).  Pure: JSON in, JSON
 * out.  Nothing a user wrote is ever interpolated into a shell script:
 * the two scripts below are constants and get their data as positional
 * arguments; every string is escaped for Kubernetes' $(VAR) expansion.
 */
#include "config.h"
#include "kube/render.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/conf.h"
#include "base/quantity.h"
#include "proxy/egress.h"
#include "proxy/sidecar.h"

#define KR_WORKSPACE "/workspace"
/* Shell: nofollow BASE REL fails (through the script's fail()) when a
 * component of BASE/REL is a symbolic link: never write through one. */
#define KR_NOFOLLOW \
	"nofollow() {\n" \
	"\t_p=$1 _ifs=$IFS; IFS=/\n" \
	"\tfor _c in $2; do\n" \
	"\t\t_p=$_p/$_c\n" \
	"\t\tif [ -L \"$_p\" ]; then IFS=$_ifs; fail \"$_p is a symbolic link: refusing to write through it\"; fi\n" \
	"\tdone\n" \
	"\tIFS=$_ifs\n" \
	"}\n"
#define KR_HOME "/home/agent"
#define KR_CONFIG_DIR "/paddock/config"
#define KR_SECRETS_DIR "/paddock/secrets"
#define KR_UID 1000
#define KR_NAME_MAX 52
#define KR_HASH_LEN 8
/* Linux refuses one argv string longer than this (MAX_ARG_STRLEN). */
#define KR_ARG_STRLEN_MAX (32 * 4096)
/* The API server's limit on a ConfigMap's data + binaryData. */
#define KR_CONFIGMAP_MAX ((size_t)1024 * 1024)

/*
 * The git init container.  $1 repository, $2 ref ("" = the default
 * branch), $3 depth ("" = full), $4 subpath ("" = all), $5 destination
 * below /workspace ("" = the workspace itself), $6 the Secret's name ("" =
 * none), $7 the SSH URL's host ("" = not SSH), $8 the known hosts file
 * (paddock.yaml's, from the ConfigMap; "" = none), $9 "1" for
 * git.trustOnFirstUse.  The Secret's keys arrive as PADDOCK_GIT_TOKEN,
 * PADDOCK_GIT_SSH_KEY and PADDOCK_GIT_KNOWN_HOSTS (env secretKeyRef,
 * optional).  Host keys are checked (StrictHostKeyChecking=yes) against the
 * Secret's known_hosts, else $8; accept-new only with $9; an SSH URL with
 * neither fails before ssh runs, as locally.  A token becomes
 * "Authorization: Basic base64(x-access-token:TOKEN)" for this repository
 * only, through GIT_CONFIG_COUNT/KEY/VALUE, exactly as core/local/git.c
 * does; the base64 has to be computed here (printf is a shell builtin, so
 * the token is never on any argv).  A key becomes a 0600 file in a
 * private temporary HOME, removed on exit.
 */
static const char GIT_SCRIPT[] =
	"set -euf\n"
	"repo=$1 ref=$2 depth=$3 subpath=$4 dest=$5 secret=$6 sshhost=$7 khfile=$8 tofu=$9\n"
	"ws=" KR_WORKSPACE "\n"
	"fail() { echo \"paddock: git: $repo: $*\" >&2; exit 1; }\n"
	KR_NOFOLLOW
	"command -v git >/dev/null 2>&1 || fail \"git is not installed in this image: set kubernetes.gitImage\"\n"
	"tmp=$(mktemp -d /tmp/paddock-git.XXXXXX)\n"
	"trap 'cd /; rm -rf \"$tmp\"' EXIT\n"
	"export HOME=\"$tmp\" LC_ALL=C GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0\n"
	"export GIT_ALLOW_PROTOCOL=file:git:http:https:ssh\n"
	"kh=$tmp/known_hosts strict=yes\n"
	"if [ -n \"${PADDOCK_GIT_KNOWN_HOSTS:-}\" ]; then\n"
	"\t(umask 077 && printf '%s\\n' \"$PADDOCK_GIT_KNOWN_HOSTS\" >\"$kh\")\n"
	"elif [ -n \"$khfile\" ]; then\n"
	"\t(umask 077 && cat \"$khfile\" >\"$kh\")\n"
	"elif [ -n \"$sshhost\" ] && [ -z \"$tofu\" ]; then\n"
	"\tfail \"cannot verify the SSH host key of $sshhost: no known hosts are configured. Add the output of ssh-keyscan (run over a network you trust) to git.knownHosts or git.knownHostsFile in paddock.yaml or as the key \\\"known_hosts\\\" of the repository's Secret, or set git.trustOnFirstUse: true in paddock.yaml to accept an unknown key unverified\"\n"
	"fi\n"
	"if [ -n \"$tofu\" ]; then strict=accept-new; fi\n"
	"sshopts=\"-o BatchMode=yes -o StrictHostKeyChecking=$strict -o UserKnownHostsFile=$kh -o GlobalKnownHostsFile=/dev/null\"\n"
	"export GIT_SSH_COMMAND=\"ssh $sshopts\"\n"
	"if [ -n \"$secret\" ]; then\n"
	"\tif [ -n \"${PADDOCK_GIT_TOKEN:-}\" ]; then\n"
	"\t\tauth=$(printf 'x-access-token:%s' \"$PADDOCK_GIT_TOKEN\" | base64 | tr -d '\\n')\n"
	"\t\texport GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=\"http.$repo.extraHeader\"\n"
	"\t\texport GIT_CONFIG_VALUE_0=\"Authorization: Basic $auth\"\n"
	"\t\tunset auth\n"
	"\telif [ -n \"${PADDOCK_GIT_SSH_KEY:-}\" ]; then\n"
	"\t\t(umask 077 && printf '%s\\n' \"$PADDOCK_GIT_SSH_KEY\" >\"$tmp/id\")\n"
	"\t\texport GIT_SSH_COMMAND=\"ssh -i $tmp/id -o IdentitiesOnly=yes $sshopts\"\n"
	"\telse\n"
	"\t\tfail \"Secret $secret has neither a \\\"token\\\" nor an \\\"ssh-privatekey\\\" key: add one of them\"\n"
	"\tfi\n"
	"fi\n"
	"unset PADDOCK_GIT_TOKEN PADDOCK_GIT_SSH_KEY PADDOCK_GIT_KNOWN_HOSTS\n"
	"git() { command git -c advice.detachedHead=false \"$@\"; }\n"
	"d=\n"
	"if [ -n \"$depth\" ]; then d=--depth=$depth; fi\n"
	"if [ -n \"$subpath\" ]; then\n"
	"\ttarget=$tmp/checkout\n"
	"elif [ -n \"$dest\" ]; then\n"
	"\tnofollow \"$ws\" \"$dest\"\n"
	"\ttarget=$ws/$dest\n"
	"else\n"
	"\ttarget=$ws\n"
	"fi\n"
	"mkdir -p \"$target\"\n"
	"cd \"$target\"\n"
	"sha=\n"
	"case $ref in\n"
	"''|*[!0-9a-f]*) ;;\n"
	"*) if [ ${#ref} -eq 40 ] || [ ${#ref} -eq 64 ]; then sha=1; fi ;;\n"
	"esac\n"
	"if [ -n \"$sha\" ]; then\n"
	"\tgit init -q .\n"
	"\tgit remote add origin -- \"$repo\"\n"
	"\tif git fetch -q $d origin \"$ref\"; then\n"
	"\t\tgit checkout -q --detach FETCH_HEAD\n"
	"\telse\n"
	"\t\techo \"paddock: git: $repo: fetching $ref by its SHA was refused: fetching all branches and tags\" >&2\n"
	"\t\tgit fetch -q --tags origin '+refs/heads/*:refs/remotes/origin/*'\n"
	"\t\tgit checkout -q --detach \"$ref\"\n"
	"\tfi\n"
	"elif [ -n \"$ref\" ]; then\n"
	"\tgit clone -q $d --branch \"$ref\" -- \"$repo\" .\n"
	"else\n"
	"\tgit clone -q $d -- \"$repo\" .\n"
	"fi\n"
	"[ -n \"$subpath\" ] || exit 0\n"
	"nofollow \"$target\" \"$subpath\"\n"
	"src=$target/$subpath\n"
	"[ -d \"$src\" ] || fail \"subpath $subpath is not a directory of the checkout\"\n"
	"if [ -z \"$dest\" ]; then\n"
	"\tcd \"$src\"\n"
	"\tset +f\n"
	"\tfor e in * .[!.]* ..?*; do\n"
	"\t\t[ -e \"$e\" ] || [ -L \"$e\" ] || continue\n"
	"\t\tif [ -e \"$ws/$e\" ] || [ -L \"$ws/$e\" ]; then\n"
	"\t\t\tfail \"cannot move $subpath/$e into the workspace: it exists\"\n"
	"\t\tfi\n"
	"\t\tmv \"$src/$e\" \"$ws/$e\"\n"
	"\tdone\n"
	"\tset -f\n"
	"else\n"
	"\tnofollow \"$ws\" \"$dest\"\n"
	"\tcase $dest in */*) mkdir -p \"$ws/${dest%/*}\" ;; esac\n"
	"\tif [ -e \"$ws/$dest\" ] || [ -L \"$ws/$dest\" ]; then\n"
	"\t\tfail \"cannot move subpath $subpath to $dest: it exists\"\n"
	"\tfi\n"
	"\tmv \"$src\" \"$ws/$dest\"\n"
	"fi\n";

/*
 * The materials init container: groups of five arguments KIND MODE SRC
 * ROOT REL.  KIND d: directory ROOT/REL with MODE; f: copy SRC (the
 * ConfigMap or Secret mount) to ROOT/REL with exactly MODE.  Parents are
 * created 0755; nothing is written through a symbolic link (a checkout
 * may hold one), as in the local backend.
 */
static const char MATERIALS_SCRIPT[] =
	"set -euf\n"
	"umask 022\n"
	"fail() { echo \"paddock: materials: $*\" >&2; exit 1; }\n"
	KR_NOFOLLOW
	"while [ $# -ge 5 ]; do\n"
	"\tkind=$1 mode=$2 src=$3 root=$4 rel=$5\n"
	"\tshift 5\n"
	"\tdst=$root/$rel\n"
	"\tnofollow \"$root\" \"$rel\"\n"
	"\tcase $kind in\n"
	"\td)\n"
	"\t\tmkdir -p \"$dst\"\n"
	"\t\tchmod \"$mode\" \"$dst\" ;;\n"
	"\tf)\n"
	"\t\tcase $rel in */*) mkdir -p \"${dst%/*}\" ;; esac\n"
	"\t\tif [ -e \"$dst\" ] && [ ! -f \"$dst\" ]; then fail \"$dst exists and is not a regular file\"; fi\n"
	"\t\tcp -f \"$src\" \"$dst\"\n"
	"\t\tchmod \"$mode\" \"$dst\" ;;\n"
	"\t*) fail \"bad item $kind\" ;;\n"
	"\tesac\n"
	"done\n"
	"[ $# -eq 0 ] || fail \"$# stray arguments\"\n";

/* ---- names ----------------------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

char *kube_job_name(const char *task_ns, const char *task_name, const char *uid)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	h = fnv1a(h, task_ns);
	h = fnv1a(h, "/");
	h = fnv1a(h, task_name);
	h = fnv1a(h, "/");
	h = fnv1a(h, uid);
	uint32_t folded = (uint32_t)(h ^ (h >> 32));

	/* The name part: lowercase DNS-1123 label characters only. */
	char prefix[KR_NAME_MAX - KR_HASH_LEN];
	size_t n = 0;
	for (const char *p = task_name ? task_name : ""; *p && n < sizeof(prefix) - 1; p++) {
		char c = *p;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '-';
		if (c == '-' && n == 0)
			continue;
		prefix[n++] = c;
	}
	while (n && prefix[n - 1] == '-')
		n--;
	prefix[n] = '\0';
	return xasprintf("%s-%08" PRIx32, n ? prefix : "task", folded);
}

/* ---- checks ---------------------------------------------------------- */

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A label value: empty, or <= 63 of [A-Za-z0-9._-] starting and ending alphanumeric. */
static bool label_value_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0)
		return true;
	if (n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

/* A Secret / ConfigMap key: [-._a-zA-Z0-9]+, <= 253, not "." or "..". */
static bool data_key_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

static int check_secret_ref(const char *what, const char *name, const char *key, char *err,
			    size_t errlen)
{
	if (!model_dns1123_subdomain(name))
		return errf(err, errlen, -EINVAL,
			    "%s: invalid Secret name \"%.64s\": use lowercase letters, digits, '-' and '.'",
			    what, name ? name : "");
	if (key && !data_key_ok(key))
		return errf(err, errlen, -EINVAL,
			    "%s: invalid key \"%.64s\" of Secret %s: use letters, digits, '-', '_' or '.'",
			    what, key, name);
	return 0;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	size_t len;
	unsigned min;
	unsigned cp;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, min = 0x80, cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, min = 0x800, cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, min = 0x10000, cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq(p + i, n - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

/*
 * A JSON string of s: invalid UTF-8 bytes become U+FFFD (the API server
 * would do so silently); with `literal`, every '$' is doubled so that
 * Kubernetes' $(VAR) expansion of command, args and env values leaves
 * the text exactly as given.
 */
static json_object *jtext(const char *s, bool literal)
{
	if (!s)
		s = "";
	size_t n = strlen(s);
	if (!literal && utf8_valid(s, n))
		return json_object_new_string_len(s, (int)n);
	struct buf b;
	buf_init(&b, 0);
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq(p + i, n - i);
		if (!k) {
			buf_puts(&b, "\xef\xbf\xbd");
			i++;
			continue;
		}
		if (literal && p[i] == '$')
			buf_puts(&b, "$");
		buf_append(&b, p + i, k);
		i += k;
	}
	json_object *o = json_object_new_string_len(b.data ? b.data : "", (int)b.len);
	buf_free(&b);
	return o;
}

static json_object *jstr(const char *s)
{
	return json_object_new_string(s ? s : "");
}

static void put(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

/* ---- pieces ---------------------------------------------------------- */

static json_object *base_labels(const struct model_task *t)
{
	json_object *l = json_object_new_object();
	put(l, KUBE_LABEL_MANAGED, jstr("paddock"));
	put(l, KUBE_LABEL_TASK, jstr(t->name));
	put(l, KUBE_LABEL_TASK_NS, jstr(t->ns));
	put(l, KUBE_LABEL_TASK_UID, jstr(t->uid));
	return l;
}

static json_object *metadata(const char *name, const struct kube_render_in *in)
{
	const struct model_task *t = in->t;
	json_object *md = json_object_new_object();
	put(md, "name", jstr(name));
	put(md, "namespace", jstr(in->run_ns));
	put(md, "labels", base_labels(t));
	json_object *ann = json_object_new_object();
	char *akey = t->agent_name ? xasprintf("%s/%s", t->agent_ns ? t->agent_ns : t->ns, t->agent_name)
				   : xstrdup("");
	put(ann, KUBE_ANNOTATION_AGENT, jstr(akey));
	free(akey);
	put(md, "annotations", ann);
	if (!strcmp(in->run_ns, t->ns)) {
		json_object *ref = json_object_new_object();
		put(ref, "apiVersion", jstr(MODEL_API_GROUP_VERSION));
		put(ref, "kind", jstr("Task"));
		put(ref, "name", jstr(t->name));
		put(ref, "uid", jstr(t->uid));
		put(ref, "controller", json_object_new_boolean(1));
		put(ref, "blockOwnerDeletion", json_object_new_boolean(1));
		json_object *refs = json_object_new_array();
		json_object_array_add(refs, ref);
		put(md, "ownerReferences", refs);
	}
	return md;
}

static json_object *container_security(void)
{
	json_object *sc = json_object_new_object();
	put(sc, "allowPrivilegeEscalation", json_object_new_boolean(0));
	put(sc, "privileged", json_object_new_boolean(0));
	put(sc, "readOnlyRootFilesystem", json_object_new_boolean(0));
	put(sc, "runAsNonRoot", json_object_new_boolean(1));
	json_object *caps = json_object_new_object();
	json_object *drop = json_object_new_array();
	json_object_array_add(drop, jstr("ALL"));
	put(caps, "drop", drop);
	put(sc, "capabilities", caps);
	return sc;
}

static json_object *pod_security(void)
{
	json_object *sc = json_object_new_object();
	put(sc, "runAsNonRoot", json_object_new_boolean(1));
	put(sc, "runAsUser", json_object_new_int(KR_UID));
	put(sc, "runAsGroup", json_object_new_int(KR_UID));
	put(sc, "fsGroup", json_object_new_int(KR_UID));
	json_object *sp = json_object_new_object();
	put(sp, "type", jstr("RuntimeDefault"));
	put(sc, "seccompProfile", sp);
	return sc;
}

static json_object *mount(const char *vol, const char *path, bool ro)
{
	json_object *m = json_object_new_object();
	put(m, "name", jstr(vol));
	put(m, "mountPath", jstr(path));
	if (ro)
		put(m, "readOnly", json_object_new_boolean(1));
	return m;
}

static json_object *env_value(const char *name, const char *value)
{
	json_object *e = json_object_new_object();
	put(e, "name", jstr(name));
	put(e, "value", jtext(value, true));
	return e;
}

static json_object *env_secret(const char *name, const char *secret, const char *key,
			       bool optional)
{
	json_object *ref = json_object_new_object();
	put(ref, "name", jstr(secret));
	put(ref, "key", jstr(key));
	if (optional)
		put(ref, "optional", json_object_new_boolean(1));
	json_object *from = json_object_new_object();
	put(from, "secretKeyRef", ref);
	json_object *e = json_object_new_object();
	put(e, "name", jstr(name));
	put(e, "valueFrom", from);
	return e;
}

/* A container running a fixed script: command [sh, -c, SCRIPT, NAME]. */
static json_object *script_container(const char *name, const char *image, const char *script,
				     const char *argv0)
{
	json_object *c = json_object_new_object();
	put(c, "name", jstr(name));
	put(c, "image", jstr(image));
	json_object *cmd = json_object_new_array();
	json_object_array_add(cmd, jstr("sh"));
	json_object_array_add(cmd, jstr("-c"));
	json_object_array_add(cmd, jtext(script, true));
	json_object_array_add(cmd, jstr(argv0));
	put(c, "command", cmd);
	put(c, "args", json_object_new_array());
	put(c, "securityContext", container_security());
	put(c, "volumeMounts", json_object_new_array());
	return c;
}

static void add_arg(json_object *c, const char *s)
{
	json_object_array_add(json_object_object_get(c, "args"), jtext(s, true));
}

static void add_mount(json_object *c, const char *vol, const char *path, bool ro)
{
	json_object_array_add(json_object_object_get(c, "volumeMounts"), mount(vol, path, ro));
}


/* spec.pod.resources {limits, requests} with every quantity as a string. */
static json_object *resources_copy(json_object *res)
{
	json_object *out = json_object_new_object();
	json_object_object_foreach(res, k, v) {
		if (!json_object_is_type(v, json_type_object))
			continue;
		json_object *m = json_object_new_object();
		json_object_object_foreach(v, rk, q) {
			char num[32];
			const char *s = NULL;
			if (json_object_is_type(q, json_type_int)) {
				snprintf(num, sizeof(num), "%" PRId64, json_object_get_int64(q));
				s = num;
			} else if (json_object_is_type(q, json_type_double)) {
				/* 0.1 from YAML, not 0.10000000000000001. */
				snprintf(num, sizeof(num), "%.15g", json_object_get_double(q));
				s = num;
			} else if (json_object_is_type(q, json_type_string)) {
				s = json_object_get_string(q);
			}
			if (s)
				put(m, rk, jstr(s));
		}
		put(out, k, m);
	}
	return out;
}

/* The run's effective cpu, memory and ephemeral-storage (lim, req; NULL:
 * leave them) over `res`, the copy of spec.pod.resources (owned, or NULL).
 * NULL when nothing is left. */
static json_object *resources_effective(json_object *res, const struct run_limits *lim,
					const struct run_limits *req)
{
	static const char *const parts[] = { "limits", "requests" };
	static const char *const names[] = { "cpu", "memory", "ephemeral-storage" };
	const struct run_limits *src[] = { lim, req };
	if (!lim && !req)
		return res;
	if (!res)
		res = json_object_new_object();
	for (size_t j = 0; j < ARRAY_SIZE(parts); j++) {
		if (!src[j])
			continue;
		json_object *m = NULL;
		if (!json_object_object_get_ex(res, parts[j], &m) ||
		    !json_object_is_type(m, json_type_object)) {
			m = json_object_new_object();
			put(res, parts[j], m);
		}
		const int64_t v[] = { src[j]->cpu_milli, src[j]->memory_bytes, src[j]->storage_bytes };
		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			char q[32];
			if (v[i] <= 0) {
				json_object_object_del(m, names[i]);
				continue;
			}
			quantity_format(v[i], i == 0 ? QUANTITY_CPU : QUANTITY_BYTES, q, sizeof(q));
			put(m, names[i], jstr(q));
		}
		if (json_object_object_length(m) == 0)
			json_object_object_del(res, parts[j]);
	}
	if (json_object_object_length(res) == 0) {
		json_object_put(res);
		return NULL;
	}
	return res;
}

/* Label keys of spec.pod.labels that Paddock or the Job controller own. */
static bool reserved_label(const char *k)
{
	return str_startswith(k, "paddock.dev/") || !strcmp(k, KUBE_LABEL_MANAGED) ||
	       str_startswith(k, "batch.kubernetes.io/") || !strcmp(k, "controller-uid") ||
	       !strcmp(k, "job-name");
}

static json_object *deep_copy(json_object *o)
{
	json_object *c = NULL;
	if (json_object_deep_copy(o, &c, NULL) < 0)
		return NULL;
	return c;
}

/* The Agent's spec.pod onto the pod spec (and labels onto the template). */
static int apply_pod(json_object *pod, json_object *spec, json_object *labels,
		     json_object **resources, char *err, size_t errlen)
{
	json_object *v = NULL;
	if (json_object_object_get_ex(pod, "labels", &v) && json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, k, lv) {
			const char *s = json_object_get_string(lv);
			if (reserved_label(k))
				continue;
			if (!json_object_is_type(lv, json_type_string) || !label_value_ok(s))
				return errf(err, errlen, -EINVAL,
					    "spec.pod.labels[\"%.64s\"]: invalid value \"%.64s\": use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
					    k, s ? s : "");
			put(labels, k, jstr(s));
		}
	}
	if (json_object_object_get_ex(pod, "runtimeClassName", &v) &&
	    json_object_is_type(v, json_type_string))
		put(spec, "runtimeClassName", jstr(json_object_get_string(v)));
	if (json_object_object_get_ex(pod, "nodeSelector", &v) &&
	    json_object_is_type(v, json_type_object) && json_object_object_length(v) > 0) {
		json_object *ns = json_object_new_object();
		json_object_object_foreach(v, k, sv) {
			put(ns, k, jstr(json_object_get_string(sv)));
		}
		put(spec, "nodeSelector", ns);
	}
	if (json_object_object_get_ex(pod, "tolerations", &v) &&
	    json_object_is_type(v, json_type_array) && json_object_array_length(v) > 0) {
		json_object *c = deep_copy(v);
		if (!c)
			return errf(err, errlen, -ENOMEM, "spec.pod.tolerations: cannot copy");
		put(spec, "tolerations", c);
	}
	if (json_object_object_get_ex(pod, "resources", &v) && json_object_is_type(v, json_type_object))
		*resources = resources_copy(v);
	return 0;
}


static int git_container(const struct kube_render_in *in, const struct plan_git *pg, size_t idx,
			 const char *image, json_object **out, char *err, size_t errlen)
{
	const char *at = plan_url_password_at(pg->repository);
	if (at) {
		const char *a = strstr(pg->repository, "://") + 3;
		return errf(err, errlen, -EINVAL,
			    "git: repository %.*s***%.200s: a password in the URL would be stored in the Job: put the token in a Secret (key \"token\") and reference it with secretRef",
			    (int)(a - pg->repository), pg->repository, at);
	}
	char *sub = NULL;
	if (pg->subpath) {
		char e2[256];
		int rc = plan_clean_path(pg->subpath, "subpath", &sub, e2, sizeof(e2));
		if (rc < 0)
			return errf(err, errlen, rc, "git: %s: %s", pg->repository, e2);
	}
	if (pg->secret_name) {
		int rc = check_secret_ref("git", pg->secret_name, NULL, err, errlen);
		if (rc < 0) {
			free(sub);
			return rc;
		}
	}
	char name[32], depth[32] = "";
	snprintf(name, sizeof(name), "git-%zu", idx);
	if (pg->depth > 0)
		snprintf(depth, sizeof(depth), "%d", pg->depth);
	json_object *c = script_container(name, image, GIT_SCRIPT, "paddock-git");
	add_arg(c, pg->repository);
	add_arg(c, pg->ref ? pg->ref : "");
	add_arg(c, depth);
	add_arg(c, sub ? sub : "");
	add_arg(c, pg->dest ? pg->dest : "");
	add_arg(c, pg->secret_name ? pg->secret_name : "");
	free(sub);
	char host[256];
	bool ssh = config_git_ssh_host(pg->repository, host, sizeof(host));
	bool kh = ssh && in->known_hosts && *in->known_hosts;
	add_arg(c, ssh ? host : "");
	add_arg(c, kh ? KR_CONFIG_DIR "/known_hosts" : "");
	add_arg(c, ssh && in->trust_on_first_use ? "1" : "");
	if (pg->secret_name) {
		json_object *env = json_object_new_array();
		json_object_array_add(env, env_secret("PADDOCK_GIT_TOKEN", pg->secret_name, "token", true));
		json_object_array_add(env, env_secret("PADDOCK_GIT_SSH_KEY", pg->secret_name,
						      "ssh-privatekey", true));
		if (ssh)
			json_object_array_add(env, env_secret("PADDOCK_GIT_KNOWN_HOSTS",
							      pg->secret_name, "known_hosts", true));
		put(c, "env", env);
	}
	add_mount(c, "workspace", KR_WORKSPACE, false);
	if (kh)
		add_mount(c, "config", KR_CONFIG_DIR, true);
	*out = c;
	return 0;
}

/* The ConfigMap's contents, with the raw byte total the API server counts. */
struct cm_data {
	json_object *data, *binary;
	size_t total;
};

static void cm_put(struct cm_data *cm, const char *key, const char *bytes, size_t len)
{
	cm->total += len;
	if (utf8_valid(bytes, len) && !memchr(bytes, '\0', len)) {
		put(cm->data, key, json_object_new_string_len(bytes, (int)len));
		return;
	}
	char *b64 = model_b64_encode(bytes, len);
	put(cm->binary, key, jstr(b64));
	free(b64);
}

static void materials_item(json_object *c, const char *kind, unsigned mode, const char *src,
			   int root, const char *rel)
{
	char m[16];
	snprintf(m, sizeof(m), "%04o", mode & 07777);
	add_arg(c, kind);
	add_arg(c, m);
	add_arg(c, src);
	add_arg(c, root == PADDOCK_ROOT_HOME ? KR_HOME : KR_WORKSPACE);
	add_arg(c, rel);
}

/* The materials init container, the ConfigMap's data and the projected
 * secret volume's sources (NULL when the plan has no secret file). */
/* Run the controller's copy of the driver's entrypoint (kube_render_in). */
static bool own_entrypoint(const struct kube_render_in *in)
{
	return in->entrypoint && in->lib && str_eq(in->plan->command, "/paddock_entrypoint.sh");
}

static int materials(const struct kube_render_in *in, const char *image, json_object **out,
		     struct cm_data *cm, json_object **secret_sources, char *err, size_t errlen)
{
	const struct run_plan *p = in->plan;
	json_object *c = script_container("materials", image, MATERIALS_SCRIPT, "paddock-materials");
	json_object *sources = NULL;
	int rc = 0;
	for (size_t i = 0; i < p->n_files; i++) {
		const struct plan_file *f = &p->files[i];
		char key[32], src[64];
		if (f->is_dir) {
			materials_item(c, "d", f->mode ? f->mode : 0755, "-", f->root, f->path);
			continue;
		}
		if (f->secret_name) {
			char what[300];
			snprintf(what, sizeof(what), "%s", f->origin ? f->origin : "plan");
			if ((rc = check_secret_ref(what, f->secret_name, f->secret_key, err, errlen)) < 0)
				goto out;
			snprintf(key, sizeof(key), "s%zu", i);
			snprintf(src, sizeof(src), KR_SECRETS_DIR "/%s", key);
			json_object *item = json_object_new_object();
			put(item, "key", jstr(f->secret_key));
			put(item, "path", jstr(key));
			json_object *items = json_object_new_array();
			json_object_array_add(items, item);
			json_object *sec = json_object_new_object();
			put(sec, "name", jstr(f->secret_name));
			put(sec, "items", items);
			json_object *source = json_object_new_object();
			put(source, "secret", sec);
			if (!sources)
				sources = json_object_new_array();
			json_object_array_add(sources, source);
			materials_item(c, "f", f->mode ? f->mode : 0600, src, f->root, f->path);
			continue;
		}
		snprintf(key, sizeof(key), "f%zu", i);
		snprintf(src, sizeof(src), KR_CONFIG_DIR "/%s", key);
		cm_put(cm, key, f->data ? f->data : "", f->data ? f->len : 0);
		materials_item(c, "f", f->mode, src, f->root, f->path);
	}
	if (own_entrypoint(in)) {
		cm_put(cm, "paddock_entrypoint.sh", in->entrypoint, strlen(in->entrypoint));
		cm_put(cm, "paddock_lib.sh", in->lib, strlen(in->lib));
	}
	if (in->task_md) {
		cm_put(cm, "task.md", in->task_md, strlen(in->task_md));
		materials_item(c, "f", 0644, KR_CONFIG_DIR "/task.md", PADDOCK_ROOT_WORKSPACE,
			       "task.md");
	}
	if (cm->total > KR_CONFIGMAP_MAX) {
		rc = errf(err, errlen, -E2BIG,
			  "the run's files and task.md are %zu bytes, over the %zu-byte limit of a Kubernetes ConfigMap: make the contexts smaller",
			  cm->total, KR_CONFIGMAP_MAX);
		goto out;
	}
	add_mount(c, "workspace", KR_WORKSPACE, false);
	add_mount(c, "home", KR_HOME, false);
	add_mount(c, "config", KR_CONFIG_DIR, true);
	if (sources)
		add_mount(c, "secrets", KR_SECRETS_DIR, true);
out:
	if (rc < 0) {
		json_object_put(c);
		json_object_put(sources);
		return rc;
	}
	*out = c;
	*secret_sources = sources;
	return 0;
}

static bool reserved_env(const char *name)
{
	return !strcmp(name, "HOME") || !strcmp(name, "PADDOCK_LIB") || !strcmp(name, "TMPDIR") ||
	       !strcmp(name, "PWD");
}

/* The workspace is an emptyDir: its top directory belongs to root (group
 * fsGroup), the repository in it to the run's uid 1000, and git then
 * refuses every command there ("detected dubious ownership").  Trust that
 * one directory through git's environment config, unless the Agent sets
 * GIT_CONFIG_COUNT itself. */
static void git_safe_workspace(const struct run_plan *p, json_object *env)
{
	for (size_t i = 0; i < p->n_env; i++)
		if (!strcmp(p->env[i].name, "GIT_CONFIG_COUNT"))
			return;
	json_object_array_add(env, env_value("GIT_CONFIG_COUNT", "1"));
	json_object_array_add(env, env_value("GIT_CONFIG_KEY_0", "safe.directory"));
	json_object_array_add(env, env_value("GIT_CONFIG_VALUE_0", KR_WORKSPACE));
}

static int agent_container(const struct kube_render_in *in, const char *image, json_object **out,
			   char *err, size_t errlen)
{
	const struct run_plan *p = in->plan;
	json_object *env = json_object_new_array();
	for (size_t i = 0; i < p->n_env; i++) {
		const struct plan_env *e = &p->env[i];
		if (reserved_env(e->name))
			continue;
		if (!e->secret_name) {
			json_object_array_add(env, env_value(e->name, e->value));
			continue;
		}
		char what[128];
		snprintf(what, sizeof(what), "env %s", e->name);
		int rc = check_secret_ref(what, e->secret_name, e->secret_key, err, errlen);
		if (rc < 0) {
			json_object_put(env);
			return rc;
		}
		json_object_array_add(env, env_secret(e->name, e->secret_name, e->secret_key, false));
	}
	json_object_array_add(env, env_value("HOME", KR_HOME));
	git_safe_workspace(p, env);
	bool own = own_entrypoint(in);
	if (own)
		json_object_array_add(env, env_value("PADDOCK_LIB", KR_CONFIG_DIR "/paddock_lib.sh"));

	json_object *c = json_object_new_object();
	put(c, "name", jstr("agent"));
	put(c, "image", jstr(image));
	json_object *cmd = json_object_new_array();
	if (own) {
		json_object_array_add(cmd, jstr("/bin/sh"));
		json_object_array_add(cmd, jstr(KR_CONFIG_DIR "/paddock_entrypoint.sh"));
	} else {
		json_object_array_add(cmd, jtext(p->command, true));
	}
	put(c, "command", cmd);
	json_object *args = json_object_new_array();
	for (size_t i = 0; i < p->args.n; i++)
		json_object_array_add(args, jtext(p->args.v[i], true));
	if (in->task_md)
		json_object_array_add(args, jtext(in->task_md, true));
	put(c, "args", args);
	put(c, "workingDir", jstr(KR_WORKSPACE));
	put(c, "env", env);
	json_object *mounts = json_object_new_array();
	json_object_array_add(mounts, mount("workspace", KR_WORKSPACE, false));
	json_object_array_add(mounts, mount("home", KR_HOME, false));
	if (own)
		json_object_array_add(mounts, mount("config", KR_CONFIG_DIR, true));
	put(c, "volumeMounts", mounts);
	put(c, "securityContext", container_security());
	*out = c;
	return 0;
}

/* ---- the egress sidecar ------------------------------------------------- */

#define KR_EGRESS_UID 65532
/* The agent's proxy variables (egress_agent_env): Paddock's, over any the
 * plan set. */
static void agent_proxy_env(json_object *agent)
{
	json_object *env = NULL;
	(void)json_object_object_get_ex(agent, "env", &env);
	json_object *keep = json_object_new_array();
	for (size_t i = 0; env && i < json_object_array_length(env); i++) {
		json_object *e = json_object_array_get_idx(env, i);
		json_object *n = NULL;
		if (json_object_object_get_ex(e, "name", &n) && egress_is_proxy_var(json_object_get_string(n)))
			continue;
		json_object_array_add(keep, json_object_get(e));
	}
	for (size_t i = 0; egress_agent_env[i]; i++) {
		const char *kv = egress_agent_env[i], *eq = strchr(kv, '=');
		char name[32];
		snprintf(name, sizeof(name), "%.*s", (int)(eq - kv), kv);
		json_object_array_add(keep, env_value(name, eq + 1));
	}
	put(agent, "env", keep);
}

static json_object *egress_resources(void)
{
	json_object *req = json_object_new_object(), *lim = json_object_new_object();
	put(req, "cpu", jstr("10m"));
	put(req, "memory", jstr("16Mi"));
	put(lim, "cpu", jstr("500m"));
	put(lim, "memory", jstr("128Mi"));
	json_object *r = json_object_new_object();
	put(r, "requests", req);
	put(r, "limits", lim);
	return r;
}

static int egress_sidecar(const struct kube_render_in *in, json_object **out, char *err,
			  size_t errlen)
{
	const struct plan_route *r = in->plan->route;
	json_object *c = json_object_new_object();
	put(c, "name", jstr(EGRESS_SIDECAR_NAME));
	put(c, "image", jstr(in->egress_image));
	put(c, "restartPolicy", jstr("Always"));
	json_object *cmd = json_object_new_array();
	json_object_array_add(cmd, jstr("paddock"));
	json_object_array_add(cmd, jstr(EGRESS_SIDECAR_ARG));
	put(c, "command", cmd);
	json_object *args = json_object_new_array();
	put(c, "args", args);
	for (size_t i = 0; in->egress_allow && in->egress_allow[i]; i++) {
		json_object_array_add(args, jstr("--allow"));
		json_object_array_add(args, jtext(in->egress_allow[i], true));
	}
	if (in->egress_loopback)
		json_object_array_add(args, jstr("--allow-loopback"));
	if (in->egress_private)
		json_object_array_add(args, jstr("--allow-private"));
	json_object *env = json_object_new_array();
	put(c, "env", env);
	if (r) {
		int rc = check_secret_ref("the credential route", r->secret_name, r->secret_key, err, errlen);
		if (rc < 0) {
			json_object_put(c);
			return rc;
		}
		const char *const kv[][2] = { { "--route-upstream", r->upstream },
					      { "--route-header", r->header },
					      { "--route-prefix", r->prefix },
					      { "--route-placeholder", in->plan->route_placeholder } };
		for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
			json_object_array_add(args, jstr(kv[i][0]));
			json_object_array_add(args, jtext(kv[i][1] ? kv[i][1] : "", true));
		}
		json_object_array_add(env, env_secret("PADDOCK_ROUTE_VALUE", r->secret_name, r->secret_key,
						      false));
	}
	json_object *sc = container_security();
	put(sc, "runAsUser", json_object_new_int(KR_EGRESS_UID));
	put(sc, "runAsGroup", json_object_new_int(KR_EGRESS_UID));
	put(c, "securityContext", sc);
	json_object *tcp = json_object_new_object();
	put(tcp, "port", json_object_new_int(EGRESS_PROXY_PORT));
	json_object *probe = json_object_new_object();
	put(probe, "tcpSocket", tcp);
	put(probe, "periodSeconds", json_object_new_int(1));
	put(probe, "failureThreshold", json_object_new_int(30));
	put(c, "startupProbe", probe);
	put(c, "resources", egress_resources());
	*out = c;
	return 0;
}

static json_object *volume_empty(const char *name)
{
	json_object *v = json_object_new_object();
	put(v, "name", jstr(name));
	put(v, "emptyDir", json_object_new_object());
	return v;
}

static int check_input(const struct kube_render_in *in, char *err, size_t errlen)
{
	if (!in || !in->t || !in->plan)
		return errf(err, errlen, -EINVAL, "kubernetes: a Task and a plan are required");
	const struct model_task *t = in->t;
	const struct run_plan *p = in->plan;
	if (p->rc < 0)
		return errf(err, errlen, p->rc, "%s", p->err);
	if (!model_dns1123_label(t->name))
		return errf(err, errlen, -EINVAL,
			    "metadata.name: invalid value \"%.64s\": a Task name must be a DNS-1123 label",
			    t->name ? t->name : "");
	if (!model_dns1123_label(t->ns))
		return errf(err, errlen, -EINVAL,
			    "metadata.namespace: invalid value \"%.64s\": use a DNS-1123 label",
			    t->ns ? t->ns : "");
	if (!t->uid || !*t->uid)
		return errf(err, errlen, -EINVAL,
			    "metadata.uid: the Task %s/%s has no uid: it must be read from the API server",
			    t->ns, t->name);
	if (!label_value_ok(t->uid))
		return errf(err, errlen, -EINVAL,
			    "metadata.uid: invalid value \"%.64s\": it must be usable as a label value",
			    t->uid);
	if (!model_dns1123_label(in->run_ns))
		return errf(err, errlen, -EINVAL,
			    "kubernetes: run namespace \"%.64s\" is not a DNS-1123 label",
			    in->run_ns ? in->run_ns : "");
	if (!p->command || !*p->command)
		return errf(err, errlen, -EINVAL, "plan: no command to run");
	if (in->task_md && strlen(in->task_md) >= KR_ARG_STRLEN_MAX)
		return errf(err, errlen, -E2BIG,
			    "task.md is %zu bytes, over the %d-byte limit of one program argument: shorten the prompt or move contexts to files (mountPath)",
			    strlen(in->task_md), KR_ARG_STRLEN_MAX - 1);
	return 0;
}

int kube_render(const struct kube_render_in *in, json_object **job, json_object **cm, char *err,
		size_t errlen)
{
	int rc = check_input(in, err, errlen);
	if (rc < 0)
		return rc;
	const struct model_task *t = in->t;
	const struct run_plan *p = in->plan;
	const char *image = p->image && *p->image ? p->image : in->default_image;
	if (!image || !*image)
		return errf(err, errlen, -EINVAL,
			    "spec.image: neither the Agent nor its driver names an image and kubernetes.defaultImage is not set: set spec.image on the Agent or kubernetes.defaultImage in paddock.yaml");
	const char *git_image = in->git_image && *in->git_image ? in->git_image : image;

	char *name = kube_job_name(t->ns, t->name, t->uid);
	json_object *j = NULL, *c = NULL, *init = json_object_new_array();
	json_object *pod_labels = base_labels(t);
	json_object *spec = json_object_new_object();
	json_object *resources = NULL, *agent = NULL, *mat = NULL, *sources = NULL;
	struct cm_data data = {json_object_new_object(), json_object_new_object(), 0};

	if (in->a && in->a->pod &&
	    (rc = apply_pod(in->a->pod, spec, pod_labels, &resources, err, errlen)) < 0)
		goto out;
	resources = resources_effective(resources, in->limits, in->requests);

	/* Git fetches, in the order the local backend runs them. */
	size_t *order = plan_git_order(p);
	for (size_t i = 0; i < p->n_gits; i++) {
		json_object *g = NULL;
		if ((rc = git_container(in, &p->gits[order[i]], i, git_image, &g, err, errlen)) < 0)
			break;
		json_object_array_add(init, g);
	}
	free(order);
	if (rc < 0)
		goto out;
	/* Public keys: the ConfigMap carries them to the git containers. */
	if (p->n_gits && in->known_hosts && *in->known_hosts)
		cm_put(&data, "known_hosts", in->known_hosts, strlen(in->known_hosts));
	if ((rc = materials(in, image, &mat, &data, &sources, err, errlen)) < 0)
		goto out;
	json_object_array_add(init, mat);
	mat = NULL;
	if ((rc = agent_container(in, image, &agent, err, errlen)) < 0)
		goto out;
	/* The same resources on every container: a namespace quota that
	 * demands limits applies to init containers too, and a pod's request
	 * is the larger of the init containers' and the containers' sum. */
	if (resources) {
		for (size_t i = 0; i < json_object_array_length(init); i++)
			put(json_object_array_get_idx(init, i), "resources", deep_copy(resources));
		put(agent, "resources", resources);
		resources = NULL;
	}
	/* Last of the init containers, with its own small resources: a
	 * sidecar's requests add to the agent's for the whole run. */
	if (in->egress_image && *in->egress_image) {
		json_object *eg = NULL;
		if ((rc = egress_sidecar(in, &eg, err, errlen)) < 0)
			goto out;
		json_object_array_add(init, eg);
		agent_proxy_env(agent);
	}

	put(spec, "restartPolicy", jstr("Never"));
	put(spec, "automountServiceAccountToken", json_object_new_boolean(0));
	put(spec, "enableServiceLinks", json_object_new_boolean(0));
	put(spec, "shareProcessNamespace", json_object_new_boolean(1));
	put(spec, "securityContext", pod_security());
	put(spec, "initContainers", init);
	init = NULL;
	json_object *containers = json_object_new_array();
	json_object_array_add(containers, agent);
	agent = NULL;
	put(spec, "containers", containers);

	json_object *vols = json_object_new_array();
	json_object_array_add(vols, volume_empty("workspace"));
	json_object_array_add(vols, volume_empty("home"));
	json_object *cmv = json_object_new_object();
	put(cmv, "name", jstr(name));
	put(cmv, "defaultMode", json_object_new_int(0444));
	json_object *v = json_object_new_object();
	put(v, "name", jstr("config"));
	put(v, "configMap", cmv);
	json_object_array_add(vols, v);
	if (sources) {
		/* Root-owned, group fsGroup: readable by the run's uid 1000 only
		 * through the group; the materials container copies each file
		 * into place owned by 1000 with its exact mode. */
		json_object *proj = json_object_new_object();
		put(proj, "defaultMode", json_object_new_int(0440));
		put(proj, "sources", sources);
		sources = NULL;
		v = json_object_new_object();
		put(v, "name", jstr("secrets"));
		put(v, "projected", proj);
		json_object_array_add(vols, v);
	}
	put(spec, "volumes", vols);

	json_object *tmeta = json_object_new_object();
	put(tmeta, "labels", pod_labels);
	pod_labels = NULL;
	json_object *tmpl = json_object_new_object();
	put(tmpl, "metadata", tmeta);
	put(tmpl, "spec", spec);
	spec = NULL;
	json_object *jspec = json_object_new_object();
	put(jspec, "backoffLimit", json_object_new_int(0));
	if (in->timeout_s > 0)
		put(jspec, "activeDeadlineSeconds", json_object_new_int64(in->timeout_s));
	put(jspec, "template", tmpl);

	j = json_object_new_object();
	put(j, "apiVersion", jstr("batch/v1"));
	put(j, "kind", jstr("Job"));
	put(j, "metadata", metadata(name, in));
	put(j, "spec", jspec);

	c = json_object_new_object();
	put(c, "apiVersion", jstr("v1"));
	put(c, "kind", jstr("ConfigMap"));
	put(c, "metadata", metadata(name, in));
	put(c, "immutable", json_object_new_boolean(1));
	if (json_object_object_length(data.data) > 0) {
		put(c, "data", data.data);
		data.data = NULL;
	}
	if (json_object_object_length(data.binary) > 0) {
		put(c, "binaryData", data.binary);
		data.binary = NULL;
	}
out:
	json_object_put(init);
	json_object_put(pod_labels);
	json_object_put(spec);
	json_object_put(resources);
	json_object_put(agent);
	json_object_put(mat);
	json_object_put(sources);
	json_object_put(data.data);
	json_object_put(data.binary);
	free(name);
	if (rc < 0) {
		json_object_put(j);
		json_object_put(c);
		return rc;
	}
	*job = j;
	*cm = c;
	return 0;
}

/* ---- the run's NetworkPolicy --------------------------------------------- */

static json_object *np_port(const char *proto, int port)
{
	json_object *o = json_object_new_object();
	put(o, "protocol", jstr(proto));
	put(o, "port", json_object_new_int(port));
	return o;
}

static json_object *np_labels(const char *k, const char *v)
{
	json_object *sel = json_object_new_object(), *ml = json_object_new_object();
	put(ml, k, jstr(v));
	put(sel, "matchLabels", ml);
	return sel;
}

static json_object *jget_ports(json_object *rule)
{
	json_object *v = NULL;
	return json_object_object_get_ex(rule, "ports", &v) ? v : NULL;
}

/* One egress rule: `to` the peer, on TCP `port` (0: 80 and 443). */
static json_object *np_rule(json_object *peer, int port)
{
	json_object *rule = json_object_new_object(), *to = json_object_new_array(),
		    *ports = json_object_new_array();
	json_object_array_add(to, peer);
	if (port)
		json_object_array_add(ports, np_port("TCP", port));
	else {
		json_object_array_add(ports, np_port("TCP", 80));
		json_object_array_add(ports, np_port("TCP", 443));
	}
	put(rule, "to", to);
	put(rule, "ports", ports);
	return rule;
}

int kube_render_netpol(const struct kube_render_in *in, const struct kube_np_dest *dests, size_t n,
		       json_object **np, char *err, size_t errlen)
{
	const struct model_task *t = in->t;
	if (!t || !t->uid || !*t->uid || !in->run_ns)
		return errf(err, errlen, -EINVAL, "NetworkPolicy: the Task has no uid");
	char *name = kube_job_name(t->ns, t->name, t->uid);
	json_object *o = json_object_new_object(), *spec = json_object_new_object();
	put(o, "apiVersion", jstr("networking.k8s.io/v1"));
	put(o, "kind", jstr("NetworkPolicy"));
	put(o, "metadata", metadata(name, in));
	free(name);
	put(spec, "podSelector", np_labels(KUBE_LABEL_TASK_UID, t->uid));
	json_object *types = json_object_new_array();
	json_object_array_add(types, jstr("Ingress"));
	json_object_array_add(types, jstr("Egress"));
	put(spec, "policyTypes", types);
	json_object *egress = json_object_new_array();
	/* DNS: the sidecar resolves names, and the git init containers too. */
	json_object *dns = np_labels(KUBE_NP_DNS_LABEL, KUBE_NP_DNS_VALUE);
	json_object *peer = json_object_new_object();
	put(peer, "namespaceSelector", np_labels("kubernetes.io/metadata.name", KUBE_NP_DNS_NAMESPACE));
	put(peer, "podSelector", dns);
	json_object *rule = np_rule(peer, 53);
	json_object_array_add(jget_ports(rule), np_port("UDP", 53));
	json_object_array_add(egress, rule);
	for (size_t i = 0; i < n; i++) {
		json_object *ip = json_object_new_object(), *blk = json_object_new_object();
		put(blk, "cidr", jstr(dests[i].cidr));
		put(ip, "ipBlock", blk);
		json_object_array_add(egress, np_rule(ip, dests[i].port));
	}
	put(spec, "egress", egress);
	put(spec, "ingress", json_object_new_array());
	put(o, "spec", spec);
	*np = o;
	return 0;
}

/* kube/render.h */
static json_object *member(json_object *o, const char *k)
{
	json_object *v = NULL;
	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

bool kube_pod_has_sidecar(json_object *pod)
{
	json_object *lists[2] = { member(member(pod, "spec"), "initContainers"),
				  member(member(pod, "status"), "initContainerStatuses") };
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		json_object *a = lists[l];
		size_t n = a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
		for (size_t i = 0; i < n; i++) {
			const char *name = json_object_get_string(member(json_object_array_get_idx(a, i), "name"));
			if (name && !strcmp(name, EGRESS_SIDECAR_NAME))
				return true;
		}
	}
	return false;
}
