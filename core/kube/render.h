/* SPDX-License-Identifier: MIT */
/*
 * kube/render.h - the Kubernetes backend's rendering of a run plan: one
 * batch/v1 Job plus one ConfigMap (task.md and the plan's plain files),
 * as JSON ready to POST.  Pure: no I/O, no clock.  The plan holds secret
 * references only, so the output does too: credentials become env
 * `valueFrom.secretKeyRef`, secret files items of a `projected` volume of
 * `secret` sources, git tokens env `secretKeyRef` of the init container
 * that fetches.  No secret value is ever in the Job or the ConfigMap.
 *
 * Layout inside the pod (mirrors the local sandbox, docs/sandbox.md):
 *   /workspace        emptyDir, the agent's cwd; git fetches land here
 *                     (init containers "git-N"), task.md is copied here
 *   /home/agent       emptyDir, $HOME; plan files with root HOME land here
 *   /paddock/config   the ConfigMap (task.md, files), read-only
 *   /paddock/secrets  secret files, read-only
 * Only the init containers mount the two /paddock directories; the
 * agent sees /workspace and /home/agent.
 *
 * Init containers, in order (each `sh -c FIXED_SCRIPT NAME ARGS...`: the
 * scripts are constants, every user-supplied string is a positional
 * argument, never interpolated into shell code):
 *   git-N      one per plan git fetch, the workspace checkout first (it
 *              needs an empty directory); image kubernetes.gitImage, else
 *              the run image.  Args: repository ref depth subpath dest
 *              secret ssh-host known-hosts-file tofu.  Same git semantics as core/local/git.c: clone
 *              --branch for a branch/tag, init + fetch SHA (falling back
 *              to all branches and tags) for a full SHA, --depth, subpath
 *              moved into place without replacing anything, no write
 *              through a symbolic link.  With a secretRef the Secret's
 *              "token" and "ssh-privatekey" keys arrive as env
 *              PADDOCK_GIT_TOKEN / PADDOCK_GIT_SSH_KEY (secretKeyRef,
 *              optional: the Secret holds one or the other, and a missing
 *              one gets the same message as locally), and for an SSH
 *              URL its "known_hosts" as PADDOCK_GIT_KNOWN_HOSTS.  SSH host
 *              keys: StrictHostKeyChecking=yes against the Secret's
 *              known_hosts, else paddock.yaml's (ConfigMap key
 *              "known_hosts", mounted at /paddock/config); accept-new only
 *              with git.trustOnFirstUse; neither: the container fails
 *              naming the settings, as locally.  A token becomes
 *              http.<repo>.extraHeader "Authorization: Basic
 *              base64(x-access-token:TOKEN)" through GIT_CONFIG_COUNT/
 *              KEY/VALUE in the script (base64 cannot be done with $(VAR)
 *              expansion; printf is a builtin, so never on an argv); a
 *              key a 0600 file in a private HOME under the container's
 *              /tmp.  An http(s) URL with a password is refused: it would
 *              be stored in the Job (local moves it into a header).
 *   materials  the run image: copies the ConfigMap's files and the secret
 *              files into place with cp + chmod (exact modes, owner 1000;
 *              a secret volume's own files are root-owned, so mounting
 *              them directly could not give mode 0600 to uid 1000, and
 *              would leave them read-only for CLIs that rewrite their
 *              config), creates plan directories, then task.md 0644.
 *              Parents 0755; secret files default to 0600, directories to
 *              0755, as locally; no write through a symbolic link.
 *
 * The Job:
 *   name       kube_job_name(); labels app.kubernetes.io/managed-by=paddock,
 *              paddock.dev/task, paddock.dev/task-namespace,
 *              paddock.dev/task-uid (+ the Agent's spec.pod.labels on the
 *              pod, except keys under paddock.dev/ and batch.kubernetes.io/,
 *              controller-uid and job-name, which are Paddock's or the Job
 *              controller's)
 *   owner      an ownerReference to the Task (controller, blockOwnerDeletion)
 *              when the run lives in the Task's namespace; otherwise
 *              labels only, and the controller deletes it with the Task
 *   spec       backoffLimit 0, activeDeadlineSeconds = timeout,
 *              ttlSecondsAfterFinished unset (the Task's TTL governs),
 *              restartPolicy Never, automountServiceAccountToken false,
 *              enableServiceLinks false, shareProcessNamespace true (the
 *              pause process is PID 1 and reaps; the entrypoint, which
 *              replaces the image's tini, is not PID 1, so SIGTERM is not
 *              ignored), securityContext restricted
 *              (runAsNonRoot, runAsUser/Group 1000, fsGroup 1000,
 *              seccompProfile RuntimeDefault; per container:
 *              allowPrivilegeEscalation false, privileged false,
 *              capabilities drop ALL, runAsNonRoot,
 *              readOnlyRootFilesystem false)
 *   pod        the Agent's spec.pod: labels, runtimeClassName,
 *              nodeSelector, tolerations
 *   resources  the run's effective limits and requests (in->limits,
 *              in->requests: pipeline_limits/pipeline_requests) as cpu,
 *              memory and ephemeral-storage quantities (quantity_format:
 *              "500m", "2", "256Mi"; pids is not a container resource and
 *              is left to the node's podPidsLimit), over the other keys of
 *              the Agent's deprecated spec.pod.resources (extended
 *              resources such as nvidia.com/gpu, copied as written); on the
 *              agent container and, so that a quota demanding limits
 *              admits the pod, on the init containers too.  Without
 *              in->limits/in->requests, spec.pod.resources as written.
 *   egress     with in->egress_image: init container "paddock-egress" after
 *              the others, restartPolicy Always (a native sidecar, started
 *              before the agent and stopped after it), `paddock __egress`
 *              with the run's allowlist and the plan's credential route
 *              (core/proxy/sidecar.c), the credential as env
 *              PADDOCK_ROUTE_VALUE (secretKeyRef) on it alone; its own uid
 *              65532 (the agent, uid 1000 in the same PID namespace,
 *              cannot read its memory or environment), restricted, a
 *              startup probe on its port, small fixed resources.  The agent
 *              gets HTTP(S)_PROXY/ALL_PROXY (both cases) and NO_PROXY, over
 *              any the plan sets.
 *   agent      container "agent": image, command [plan.command],
 *              args plan.args + [task.md], workingDir /workspace, env
 *              exactly the plan's (HOME, TMPDIR, PWD, PADDOCK_LIB from the
 *              plan are ignored, as locally) + HOME=/home/agent; PATH,
 *              TMPDIR and PADDOCK_LIB come from the image (the driver
 *              images set PADDOCK_LIB=/paddock_lib.sh and ship it there).
 *   Every string in command, args and env values has '$' doubled, so
 *   Kubernetes' $(VAR) expansion leaves it exactly as given; invalid
 *   UTF-8 in them becomes U+FFFD (the API server would do so silently).
 *   task.md of 128 KiB or more is refused, like the local backend does
 *   (one argv string).
 *
 * The ConfigMap: named like the Job, same labels and owner, immutable;
 * keys "task.md" and "fN" (N = index of the file in the plan); valid
 * UTF-8 without NUL goes to data, anything else to binaryData (exact
 * bytes).  Over 1 MiB of values (the API server's limit) is refused.
 */
#ifndef PADDOCK_KUBE_RENDER_H
#define PADDOCK_KUBE_RENDER_H

#include <json-c/json.h>

#include "base/run_limits.h"
#include "model/model.h"
#include "control/plan.h"

#define KUBE_LABEL_MANAGED "app.kubernetes.io/managed-by"
#define KUBE_LABEL_TASK "paddock.dev/task"
#define KUBE_LABEL_TASK_NS "paddock.dev/task-namespace"
#define KUBE_LABEL_TASK_UID "paddock.dev/task-uid"
/* On the Job: the agent key ("ns/name", "" for spec.type) whose slot the
 * run takes, so that a run still ending counts against its Agent. */
#define KUBE_ANNOTATION_AGENT "paddock.dev/agent"
#define KUBE_ANNOTATION_STOP "paddock.dev/stop"

struct kube_render_in {
	const struct model_task *t;   /* t->obj is the Task (uid, name, namespace) */
	const struct model_agent *a;  /* may be NULL */
	const struct run_plan *plan;  /* built by pipeline_plan() */
	const char *task_md;          /* plan_render_task_md() */
	const char *run_ns;           /* where the Job, ConfigMap and secrets live */
	long timeout_s;               /* activeDeadlineSeconds; <= 0: unset */
	const char *default_image;    /* when plan->image is NULL; NULL: error */
	const char *git_image;        /* for git init containers; NULL: the run image */
	/* SSH host keys for the git init containers: paddock.yaml's known
	 * hosts (config_git_known_hosts; public, so they travel in the
	 * ConfigMap as "known_hosts"; NULL: none) and git.trustOnFirstUse. */
	const char *known_hosts;
	bool trust_on_first_use;
	/* The driver's entrypoint script and paddock_lib.sh as this controller
	 * has them (contents), for a plan whose command is the image's
	 * /paddock_entrypoint.sh: they travel in the ConfigMap and the agent
	 * runs `/bin/sh /paddock/config/paddock_entrypoint.sh`, as the local
	 * backend binds its own copy - so any image with a shell works and the
	 * script always matches the controller.  NULL: the image's own. */
	const char *entrypoint;
	const char *lib;
	/* The run's effective resources (pipeline_limits, pipeline_requests;
	 * 0 fields: none).  NULL: the Agent's spec.pod.resources as written. */
	const struct run_limits *limits;
	const struct run_limits *requests;
	/* The egress sidecar (kubernetes.proxyImage), for a run whose egress
	 * is allowlist; NULL: none.  `egress_allow` (NULL-terminated) and the
	 * two address flags are its policy; the plan's credential route, if
	 * any, is served by it (the credential a secretKeyRef on the sidecar
	 * only). */
	const char *egress_image;
	const char *const *egress_allow;
	bool egress_loopback, egress_private;
};

/* One destination of a run's NetworkPolicy: an address the controller
 * resolved when it rendered the run, as a CIDR ("1.2.3.4/32",
 * "2001:db8::1/128"), and a TCP port (0: 80 and 443, an allow entry
 * without a port). */
struct kube_np_dest {
	char cidr[64];
	int port;
};

#define KUBE_NP_DNS_NAMESPACE "kube-system"
#define KUBE_NP_DNS_LABEL "k8s-app"
#define KUBE_NP_DNS_VALUE "kube-dns"

/* The run's networking.k8s.io/v1 NetworkPolicy (kubernetes.networkPolicy,
 * for a run whose egress is not open: kube/netpol.h): named like the Job, same labels,
 * annotations and owner (the Task, when the run lives in its namespace;
 * else the controller deletes it with the Job); selects the run's pod by
 * its paddock.dev/task-uid label; policyTypes Ingress and Egress with no
 * ingress rule (nothing may connect to the pod) and egress to kube-dns
 * (pods labelled k8s-app=kube-dns in kube-system, UDP and TCP 53) and to
 * each of `dests` (ipBlock, TCP port), nothing else.  Pure.  Owned *np. */
int kube_render_netpol(const struct kube_render_in *in, const struct kube_np_dest *dests, size_t n,
		       json_object **np, char *err, size_t errlen);

/* "NAME-HASH8" (lowercase, <= 52 chars so pod names stay valid), stable
 * for (task namespace, name, uid): NAME is the Task name mapped to
 * [a-z0-9-] and cut to 43 characters, HASH8 32 bits of FNV-1a over
 * "ns/name/uid" in hex.  A DNS-1123 label.  Owned. */
char *kube_job_name(const char *task_ns, const char *task_name, const char *uid);

/* Render.  Owned *job and *cm (the ConfigMap is named like the Job);
 * untouched on failure.  -EINVAL with err naming the problem (no image,
 * a Task without uid, an invalid Secret reference, a password in a git
 * URL), -E2BIG (task.md over one argument, ConfigMap over 1 MiB), or the
 * plan builder's first error. */
int kube_render(const struct kube_render_in *in, json_object **job, json_object **cm, char *err,
		size_t errlen);

/* Whether a pod (a Job's, listed or from a watch trimmed to its status)
 * runs the egress sidecar: only then is there its log to read (its init
 * containers, or their statuses, name it). */
bool kube_pod_has_sidecar(json_object *pod);

#endif
