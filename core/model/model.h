/* SPDX-License-Identifier: MIT */
/*
 * model/model.h - the kinds Paddock reads: Task, Agent, Spawner and Budget
 * (apiVersion paddock.dev/v1alpha1), Secret and ConfigMap (apiVersion v1).
 *
 * model_validate() checks a parsed document (manifest.h) against the
 * schema and normalizes it in place: defaults are filled, Secret
 * stringData is folded into base64 data, input `status` is dropped.
 * Every error names the field path, the bad value (never a secret value)
 * and the fix.  The typed views borrow their strings from the document,
 * on which they hold a reference.  See docs/reference.md for the fields.
 */
#ifndef PADDOCK_MODEL_H
#define PADDOCK_MODEL_H

#include <json-c/json.h>
#include <paddock/plugin.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/run_limits.h"
#include "base/util.h"

#define MODEL_API_GROUP_VERSION "paddock.dev/v1alpha1"
#define MODEL_DEFAULT_NAMESPACE "default"
/* Annotation `paddock stop` sets to ask the controller to stop a Task. */
#define MODEL_ANNOTATION_STOP "paddock.dev/stop"
#define MODEL_DEFAULT_PROMPT_BYTES ((size_t)256 * 1024)

enum model_kind { MODEL_TASK = 0, MODEL_AGENT, MODEL_SECRET, MODEL_CONFIGMAP, MODEL_SPAWNER,
		  MODEL_BUDGET };
#define MODEL_N_KINDS 6

/* "Task", "Agent", "Secret", "ConfigMap", "Spawner", "Budget"; NULL for a bad value. */
const char *model_kind_name(enum model_kind k);
/* Case-sensitive, also accepts lowercase and plural ("tasks"); -1 if unknown. */
int model_kind_parse(const char *s);

/* Task phases (DESIGN §5). */
enum model_phase {
	MODEL_PHASE_PENDING = 0,
	MODEL_PHASE_WAITING,
	MODEL_PHASE_QUEUED,
	MODEL_PHASE_RUNNING,
	MODEL_PHASE_SUCCEEDED,
	MODEL_PHASE_FAILED,
	MODEL_PHASE_STOPPED,
};
const char *model_phase_name(enum model_phase p); /* NULL for a bad value */
int model_phase_parse(const char *s);             /* -1 if unknown */
bool model_phase_finished(enum model_phase p);    /* Succeeded, Failed, Stopped */

struct model_limits {
	size_t prompt_bytes; /* 0: MODEL_DEFAULT_PROMPT_BYTES */
};

/* Validate `doc` and normalize it in place.  On success *kind is set.
 * Defaults: metadata.namespace "default"; Task agentRef.namespace = the
 * Task's; credentials.secretRef.key "apiKey" (api-key) / "oauthToken"
 * (oauth); a Task with spec.type and no credentials gets {type: none}
 * (with agentRef the Agent's credentials apply, so none is filled).
 * Returns -EINVAL with "FIELD.PATH: problem: fix" in err. */
int model_validate(json_object *doc, const struct model_limits *lim, enum model_kind *kind,
		   char *err, size_t errlen);

/* An object read from the API server, as a validated document: a copy
 * with only the metadata a manifest may hold (name, namespace, labels,
 * annotations, uid, resourceVersion, generation, creationTimestamp; not
 * managedFields, ownerReferences, finalizers, ...), passed through
 * model_validate() - so the same checks and defaults as `paddock apply`.
 * Owned *out; on error err says what is wrong with the server's object. */
int model_from_server(json_object *obj, const struct model_limits *lim, enum model_kind *kind,
		      json_object **out, char *err, size_t errlen);

/* A Spawner (docs/triggers.md): Tasks made from events.  The labels
 * and annotation every Task it makes carries. */
#define MODEL_LABEL_SPAWNER "paddock.dev/spawner"
#define MODEL_ANNOTATION_EVENT "paddock.dev/event"
/* spec.webhook.maxBodyBytes: the default and the most (GitHub's own cap). */
#define MODEL_WEBHOOK_BODY_DEFAULT ((int64_t)1 << 20)
#define MODEL_WEBHOOK_BODY_MAX ((int64_t)25 << 20)

/* Name checks (Kubernetes rules). */
/* The agent key of a Task document: "NS/NAME" of its agentRef (NS: the
 * ref's, else the Task's), "" with spec.type.  Both backends count
 * capacity by it. */
void model_task_agent_key(json_object *task, char *key, size_t n);

/* spec.stop is true or annotation MODEL_ANNOTATION_STOP is "true". */
bool model_stop_requested(json_object *task);

bool model_dns1123_label(const char *s);     /* [a-z0-9]([-a-z0-9]*[a-z0-9])?, <= 63 */
bool model_dns1123_subdomain(const char *s); /* labels joined by '.', <= 253 */

/* Base64 (standard alphabet, padding required, no whitespace).  Owned
 * NUL-terminated *out of *len bytes (release with secure_free(out, len+1));
 * -EINVAL if malformed. */
int model_b64_decode(const char *in, size_t inlen, char **out, size_t *len);
char *model_b64_encode(const void *in, size_t len); /* owned */

/* A validated document's use of a deprecated field, as one line "FIELD
 * is deprecated: use ..." for a warning (static), or NULL.  Today: an
 * Agent's spec.pod.resources (use spec.resources). */
const char *model_deprecated(json_object *doc);

/* ---- typed views (of validated documents) -------------------------- */
/* All `const char *` members are borrowed from `obj` (NULL when unset). */

/* spec.resources, parsed (quantity.h): 0 for a field that is not set.
 * requests.pids is never set. */
struct model_resources {
	struct run_limits limits;
	struct run_limits requests;
};

struct model_task {
	const char *ns, *name, *uid;
	const char *type;                  /* spec.type, or NULL with agentRef */
	const char *agent_name, *agent_ns; /* spec.agentRef, or NULL */
	const char *prompt;
	const char *model, *effort;
	const char *cred_type;             /* NULL: unset (the Agent's, else none) */
	const char *cred_secret, *cred_key;
	const char *ws_repo, *ws_ref, *ws_secret;
	struct paddock_output_param *outputs; /* owned array, strings borrowed */
	size_t n_outputs;
	struct strv deps;                  /* spec.dependsOn, owned copies */
	long timeout_s;                    /* -1: unset */
	long ttl_s;                        /* -1: unset */
	json_object *contexts;             /* spec.contexts array, borrowed, or NULL */
	struct model_resources res;        /* spec.resources */
	json_object *status;               /* borrowed, or NULL */
	enum model_phase phase;            /* status.phase, Pending when unset */
	json_object *obj;                  /* owned reference to the document */
};

/* Build the view of a validated Task; takes a new reference on doc.
 * Owned *out; -EINVAL if doc is not a Task. */
int model_task_from_json(json_object *doc, struct model_task **out, char *err, size_t errlen);
void model_task_free(struct model_task *t); /* NULL-safe */

struct model_agent {
	const char *ns, *name, *uid;
	const char *type, *image, *model, *effort, *command;
	const char *cred_type, *cred_secret, *cred_key; /* cred_type NULL: unset */
	json_object *contexts;             /* borrowed, or NULL */
	long max_concurrent;               /* 0: unlimited */
	struct strv allowed_ns;            /* globs, owned copies; empty: own namespace */
	struct strv ro_paths;              /* sandbox.readOnlyPaths, owned copies */
	json_object *sandbox_env;          /* sandbox.env object, borrowed, or NULL */
	json_object *pod;                  /* spec.pod, borrowed, or NULL */
	const char *net_egress;            /* spec.network.egress: "none", "allowlist",
					    * "open", or NULL (paddock.yaml's) */
	struct strv net_allow;             /* spec.network.allow, owned copies */
	struct model_resources res;        /* spec.resources */
	struct model_resources pod_res;    /* spec.pod.resources cpu, memory, ephemeral-storage
					    * (deprecated; spec.resources wins field by field) */
	json_object *obj;                  /* owned reference */
};

/* spec.network.allow: at most this many entries, each at most this long
 * ("*." + a 253-character name + ":65535"). */
#define MODEL_NET_ALLOW_ITEMS 256
#define MODEL_NET_ALLOW_MAX 261

int model_agent_from_json(json_object *doc, struct model_agent **out, char *err, size_t errlen);
void model_agent_free(struct model_agent *a); /* NULL-safe */

/* May a Task in namespace `ns` use Agent `a`?  Its own namespace always;
 * others when they match one of spec.allowedNamespaces (fnmatch globs). */
bool model_agent_allows(const struct model_agent *a, const char *ns);

/* A scalar of the document by dotted path ("spec.command",
 * "spec.pod.runtimeClassName", "spec.contexts.0.name"), as a string
 * (numbers and booleans are rendered into an internal buffer of `obj`'s
 * lifetime).  Borrowed; NULL when absent or not a scalar.  Backs
 * paddock_task_view.agent_field and paddock_context_item.field. */
const char *model_field(json_object *obj, const char *path);
/* The value at a dotted path ("status.usage.costUSD", "items.0"), or NULL;
 * borrowed. */
json_object *model_path(json_object *obj, const char *path);

#endif
