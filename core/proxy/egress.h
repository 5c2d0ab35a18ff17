/* SPDX-License-Identifier: MIT */
/*
 * egress.h - the egress proxy every run's network goes through: a policy
 * (none, an allowlist of host patterns, or open), HTTPS by CONNECT (bytes
 * relayed both ways, no TLS interception) and plain HTTP in absolute form
 * (forwarded in origin form), both streamed as the bytes arrive.
 *
 * Names are resolved by the proxy and every address a name resolves to
 * goes through the URL contexts' address policy (http_addr_check(),
 * plugin/http.h) before anything connects: link-local and cloud metadata
 * addresses are always refused, loopback and private ranges only when the
 * policy allows them, so a DNS answer cannot lead past the allowlist.
 *
 * The proxy serves a listening socket it is given (created by the caller,
 * e.g. inside a run's network namespace) from its own threads, until
 * egress_stop().  Each refusal and each finished connection is reported
 * to the caller's event function.
 */
#ifndef PADDOCK_EGRESS_H
#define PADDOCK_EGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum egress_mode {
	EGRESS_NONE,      /* every connection refused */
	EGRESS_ALLOWLIST, /* only hosts matching a rule */
	EGRESS_OPEN,      /* any host (the address policy still applies) */
};

/* One allow entry.  "api.anthropic.com" (that host), "*.github.com"
 * (subdomains of github.com, not github.com itself), an IP literal
 * ("10.1.2.3", "[fd00::1]"); each with an optional ":PORT", without one
 * the rule covers ports 80 and 443. */
struct egress_rule {
	char *host;    /* lower case, no trailing dot; for a wildcard the
			* part after "*." ; IPv6 literals without brackets */
	bool wildcard;
	int port;      /* 1..65535, or 0 for 80 and 443 */
	char *text;    /* the entry as normalized, for messages and events */
};

struct egress_policy {
	enum egress_mode mode;
	struct egress_rule *rules;
	size_t nrules;
	bool allow_loopback;   /* 127.0.0.0/8, ::1 */
	bool allow_private;    /* RFC 1918, 100.64/10, fc00::/7, fec0::/10 */
	/* Limits; 0 takes the default. */
	int max_conns;          /* concurrent connections (64); more get 503 */
	int header_timeout_ms;  /* to receive a whole request head (10 s) */
	int connect_timeout_ms; /* to resolve and connect upstream (10 s) */
	int idle_timeout_ms;    /* a relay with no byte either way (10 min) */
};

#define EGRESS_MAX_HEAD (16 * 1024) /* a request head larger than this: 400 */

/* Where a run reaches the proxy, on its own 127.0.0.1 (the local run's
 * network namespace, or the pod's): the forward proxy, the credential
 * route. */
#define EGRESS_PROXY_PORT 3128
#define EGRESS_ROUTE_PORT 3129
#define EGRESS_ROUTE_ENDPOINT "http://127.0.0.1:3129"

/* What a run behind the proxy gets, "NAME=VALUE", NULL-terminated: both
 * spellings of HTTP_PROXY, HTTPS_PROXY and ALL_PROXY (curl and Python
 * read the lower case, Go and Node libraries mostly the upper case) on
 * EGRESS_PROXY_PORT, and NO_PROXY for loopback.  Paddock's alone: an
 * Agent's env cannot point the agent elsewhere (egress_is_proxy_var). */
extern const char *const egress_agent_env[];
/* Whether `name` (any case) is one of egress_agent_env's names. */
bool egress_is_proxy_var(const char *name);

/* "none", "allowlist" or "open" -> *mode; -EINVAL with a message
 * otherwise. */
int egress_mode_parse(const char *s, enum egress_mode *mode, char *err, size_t errlen);
const char *egress_mode_name(enum egress_mode mode);

/* Parse one allow entry and append it to pol->rules.  -EINVAL with a
 * message naming the entry and what is wrong with it ("allow entry
 * \"*github.com\": a wildcard is \"*.\" followed by a domain"); pol is
 * unchanged then. */
int egress_policy_add(struct egress_policy *pol, const char *entry, char *err, size_t errlen);

#define EGRESS_HOST_MAX 253

/* "http(s)://host[:port][/path]" as the credential route and the
 * NetworkPolicy read it: the host normalized as the policy's rules are
 * (lower case, IPv6 without brackets) into `host` (EGRESS_HOST_MAX + 1
 * bytes), the port (the scheme's default when none), whether TLS.
 * Returns the path part ("" when none), or NULL with *why ("is not
 * http(s)://", or what is wrong with the host); userinfo, and a
 * query or fragment right after the host, are refused. */
const char *egress_url_split(const char *url, char *host, int *port, bool *tls, const char **why);
/* Frees the rules (not pol itself) and leaves an empty NONE policy. */
void egress_policy_free(struct egress_policy *pol);

/* The name policy alone, before any resolution: whether `host` (a name
 * or IP literal, any case, IPv6 without brackets) and `port` pass the
 * mode and rules.  On true *rule (if not NULL) is the matching entry's
 * text (or "egress: open"); on false *why is the reason ("egress is
 * none", "not in the allowlist") and *rule "egress: none" or
 * "allowlist". */
bool egress_policy_allows(const struct egress_policy *pol, const char *host, int port,
			  const char **rule, const char **why);

/* What an event reports. */
enum egress_event_kind {
	EGRESS_EV_REQUEST,  /* one request that named a target, refused or done */
	EGRESS_EV_REJECTED, /* clients answered before naming a target: a
			     * malformed request or too large a head (400), no
			     * whole head in time (408), past the connection
			     * cap (503).  Rate-limited: the first of a status
			     * at once, then at most one per
			     * EGRESS_REJECT_EVERY_MS carrying the count since
			     * the last; egress_stop() reports what is left. */
};

#define EGRESS_REJECT_EVERY_MS 10000

/* What happened to one request (kind EGRESS_EV_REQUEST), or to `count`
 * clients answered 400, 408 or 503 before a target (EGRESS_EV_REJECTED:
 * host "" unless the request line was read, reason the last one's). */
struct egress_event {
	enum egress_event_kind kind;
	uint64_t count;      /* EGRESS_EV_REJECTED: clients answered `status`; else 1 */
	const char *host;    /* as requested, lower case (IPv6 without brackets) */
	int port;
	const char *method;  /* "CONNECT", "GET", ... */
	const char *rule;    /* what decided: the allow entry, "egress: open",
			      * "egress: none", "allowlist" */
	const char *addr;    /* the address connected to or refused, or NULL */
	const char *reason;  /* NULL when all went well; a refusal's reason
			      * ("not in the allowlist", "link-local/cloud
			      * metadata", ...) or an upstream failure's */
	bool allowed;        /* false: refused by the policy (answered 403) */
	int status;          /* what the client was answered: 200 for a
			      * CONNECT relayed, the upstream's status for
			      * plain HTTP (0 if none came), 403, 502, 504 */
	uint64_t bytes_up;   /* to the upstream (plain HTTP: the rewritten head included) */
	uint64_t bytes_down; /* from the upstream to the client */
	uint64_t ms;         /* from the head received to the close */
};

/* Called from the proxy's threads, one call at a time (never two at
 * once), and from egress_stop() for the rejections not yet reported;
 * must not call egress_stop().  The event and its strings are valid only
 * during the call.  Once per request, never per byte: a consumer may
 * count in it (proxy/traffic.h) without slowing the relay. */
typedef void (*egress_event_fn)(void *ctx, const struct egress_event *ev);

struct egress;

/* Serve `listen_fd` (a listening stream socket) with a copy of `pol`, in
 * background threads, until egress_stop().  On success the proxy owns
 * listen_fd (made non-blocking; egress_stop() closes it); on failure
 * (NULL, with a message) the caller still does.  The proxy's threads
 * block SIGPIPE.  `fn` may be NULL. */
struct egress *egress_start(const struct egress_policy *pol, int listen_fd, egress_event_fn fn,
			    void *ctx, char *err, size_t errlen);

/* A credential route (plugin ABI 1.1): a second listener where the agent
 * sends its model requests in origin form ("POST /v1/messages") with a
 * placeholder instead of its credential.  Each request goes to
 * `upstream` (its path prefixed with the upstream's) over TLS for
 * https://.  Where `header` is present it must hold exactly prefix +
 * placeholder, which is then replaced with prefix + the real value (a
 * request without the header goes as it is: no credential); one request per
 * connection ("Connection: close" both ways, "Expect" dropped).  The
 * upstream's addresses pass the policy's address check (loopback and
 * private ranges only where it allows them); its name needs no allow
 * entry.  A request whose header holds anything but the placeholder is
 * refused (403, an event with rule "credential route"). */
struct egress_route {
	const char *upstream;    /* "https://api.anthropic.com", "http://127.0.0.1:8080/v1" */
	const char *header;      /* "x-api-key", "Authorization" ... */
	const char *prefix;      /* "" or "Bearer "; NULL is "" */
	const char *placeholder; /* what the agent was given */
	const char *value;       /* the credential (copied; zeroed by egress_stop) */
	size_t value_len;
	const char *ca_file;     /* PEM bundle to verify the upstream with; NULL:
				  * the system's (SSL_CERT_FILE/SSL_CERT_DIR honoured) */
};

/* egress_start, plus `route` served on `route_fd` (both owned by the
 * proxy on success).  route NULL / route_fd -1: no route. */
struct egress *egress_start_routed(const struct egress_policy *pol, int listen_fd,
				   const struct egress_route *route, int route_fd,
				   egress_event_fn fn, void *ctx, char *err, size_t errlen);

/* Stop accepting, end every connection at once (every wait of the
 * proxy's threads also watches for the stop), join the threads, close
 * the sockets, free.  NULL-safe.  A name resolution still
 * running in the system resolver is left to finish on its own and frees
 * itself. */
void egress_stop(struct egress *eg);

/* Connections being served now (for tests and metrics). */
int egress_active(struct egress *eg);

#endif
