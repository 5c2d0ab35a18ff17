/* SPDX-License-Identifier: MIT */
/*
 * bench/egress_bench.c - what the egress proxy (core/proxy/egress.c)
 * costs a streamed response, against the same upstream reached directly,
 * all in one run:
 *
 *  - time to first byte: connect, send the request, first byte of the
 *    response (an event-stream whose first event is written at once),
 *    directly, through the proxy as plain HTTP, and through a CONNECT
 *    tunnel (its CONNECT round trip included: that is what an HTTPS
 *    client pays);
 *  - throughput of a bulk response (64 KiB writes) and of an event
 *    stream (many small writes, the shape of a model's answer);
 *  - the delay of each event of a paced stream (one every 200 us, each
 *    stamped when written) from its write upstream to its arrival: what
 *    a streamed answer's reader sees of the proxy.
 *
 * The upstream, the proxy and the client are threads of this process on
 * 127.0.0.1.  Runs are interleaved (direct, plain, CONNECT, direct, ...)
 * so that background load hits all three alike.  Bounded: at most
 * `requests` (default 300) first-byte runs and 5 of each
 * transfer (256 MiB by default), the best of each kept, and an alarm at 120 s.
 *
 *     egress_bench [requests [MiB]]
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proxy/egress.h"

#define SSE_EVENT 128 /* bytes per event of the event stream */
#define PACED_EVENTS 1000
#define PACED_GAP_NS 200000
#define PACED_LEN 24  /* "data: %016lld\n\n" */

static int up_lfd, up_port, px_port;
static size_t bulk_bytes = 256u << 20;
static size_t sse_events = 20000;

static double now_us(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
	fprintf(stderr, "egress_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int listen_local(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		die("listen");
	*port = ntohs(a.sin_port);
	return fd;
}

static int dial(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* ---- the upstream: one thread per connection ------------------------ */

static void *up_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char req[4096];
	size_t len = 0;
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (len + 1 < sizeof(req)) {
		ssize_t r = recv(fd, req + len, sizeof(req) - 1 - len, 0);
		if (r <= 0)
			goto out;
		len += (size_t)r;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	static const char sse_head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				       "Cache-Control: no-cache\r\nConnection: close\r\n\r\n";
	if (strncmp(req, "GET /first ", 11) == 0) {
		char first[sizeof(sse_head) + 32];
		snprintf(first, sizeof(first), "%sdata: {\"type\":\"ping\"}\n\n", sse_head);
		(void)send_all(fd, first, strlen(first));
	} else if (strncmp(req, "GET /bulk ", 10) == 0) {
		static char block[64 * 1024];
		char head[160];
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			 bulk_bytes);
		if (send_all(fd, head, strlen(head)) < 0)
			goto out;
		for (size_t left = bulk_bytes; left;) {
			size_t n = left < sizeof(block) ? left : sizeof(block);
			if (send_all(fd, block, n) < 0)
				goto out;
			left -= n;
		}
	} else if (strncmp(req, "GET /paced ", 11) == 0) {
		if (send_all(fd, sse_head, sizeof(sse_head) - 1) < 0)
			goto out;
		for (int i = 0; i < PACED_EVENTS; i++) {
			char ev[PACED_LEN + 1];
			snprintf(ev, sizeof(ev), "data: %016lld\n\n", (long long)now_us());
			if (send_all(fd, ev, PACED_LEN) < 0)
				goto out;
			struct timespec gap = { 0, PACED_GAP_NS };
			(void)nanosleep(&gap, NULL);
		}
	} else if (strncmp(req, "GET /sse ", 9) == 0) {
		char ev[SSE_EVENT];
		memset(ev, 'x', sizeof(ev));
		memcpy(ev, "data: {\"delta\":\"", 16);
		memcpy(ev + sizeof(ev) - 5, "\"}\n\n", 4);
		ev[sizeof(ev) - 1] = '\n';
		if (send_all(fd, sse_head, sizeof(sse_head) - 1) < 0)
			goto out;
		for (size_t i = 0; i < sse_events; i++)
			if (send_all(fd, ev, sizeof(ev)) < 0)
				goto out;
	}
out:
	(void)shutdown(fd, SHUT_WR);
	char sink[256];
	while (recv(fd, sink, sizeof(sink), 0) > 0)
		;
	(void)close(fd);
	return NULL;
}

static void *up_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(up_lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		pthread_t t;
		if (pthread_create(&t, NULL, up_conn, (void *)(intptr_t)fd) != 0) {
			(void)close(fd);
			continue;
		}
		(void)pthread_detach(t);
	}
}

/* ---- the client ------------------------------------------------------ */

enum path { DIRECT, PLAIN, TUNNEL, NPATHS };
/* Row names start with "direct" or "paddock": tests/run-all.sh shows those lines of the bench log. */
static const char *const path_name[NPATHS] = { "direct", "paddock egress, HTTP", "paddock egress, CONNECT" };

/* Open a connection and send GET `what` by `p`; the socket. */
static int request(enum path p, const char *what)
{
	char req[256];
	int fd;
	if (p == DIRECT) {
		fd = dial(up_port);
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", what, up_port);
	} else if (p == PLAIN) {
		fd = dial(px_port);
		snprintf(req, sizeof(req), "GET http://127.0.0.1:%d%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
			 up_port, what, up_port);
	} else {
		fd = dial(px_port);
		snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
			 up_port, up_port);
		if (send_all(fd, req, strlen(req)) < 0)
			die("send");
		/* The 200 is exactly this long; read it and nothing more. */
		static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
		char got[sizeof(ok)];
		size_t len = 0;
		while (len < sizeof(ok) - 1) {
			ssize_t r = recv(fd, got + len, sizeof(ok) - 1 - len, 0);
			if (r <= 0)
				die("CONNECT answer");
			len += (size_t)r;
		}
		if (memcmp(got, ok, sizeof(ok) - 1) != 0) {
			fprintf(stderr, "egress_bench: CONNECT refused\n");
			exit(1);
		}
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", what, up_port);
	}
	if (send_all(fd, req, strlen(req)) < 0)
		die("send");
	return fd;
}

/* Microseconds from before the connect to the first byte of the answer. */
static double ttfb(enum path p)
{
	double t0 = now_us();
	int fd = request(p, "/first");
	char b[512];
	ssize_t r = recv(fd, b, sizeof(b), 0);
	double t = now_us() - t0;
	if (r <= 0)
		die("first byte");
	while (recv(fd, b, sizeof(b), 0) > 0)
		;
	(void)close(fd);
	return t;
}

/* Bytes per second of the whole answer to `what` (until EOF); *bytes. */
static double transfer(enum path p, const char *what, size_t *bytes)
{
	static char b[256 * 1024];
	double t0 = now_us();
	int fd = request(p, what);
	size_t total = 0;
	ssize_t r;
	while ((r = recv(fd, b, sizeof(b), 0)) > 0)
		total += (size_t)r;
	double t = now_us() - t0;
	(void)close(fd);
	*bytes = total;
	return (double)total / (t / 1e6);
}

/* The paced stream: each event's delay (us) from its write to its
 * arrival, into d[PACED_EVENTS]; the number of events seen. */
static int paced(enum path p, double *d)
{
	static char b[64 * 1024];
	int fd = request(p, "/paced");
	size_t len = 0;
	bool in_body = false;
	int n = 0;
	ssize_t r;
	while (len < sizeof(b) && (r = recv(fd, b + len, sizeof(b) - len, 0)) > 0) {
		double t = now_us();
		size_t pos = 0;
		len += (size_t)r;
		if (!in_body) {
			char *e = memmem(b, len, "\r\n\r\n", 4);
			if (!e)
				continue;
			pos = (size_t)(e + 4 - b);
			in_body = true;
		}
		for (; len - pos >= PACED_LEN; pos += PACED_LEN)
			if (n < PACED_EVENTS)
				d[n++] = t - (double)strtoll(b + pos + 6, NULL, 10);
		memmove(b, b + pos, len - pos);
		len -= pos;
	}
	(void)close(fd);
	return n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double q)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	int i = (int)(q * (n - 1) + 0.5);
	return v[i];
}

static void on_event(void *ctx, const struct egress_event *ev)
{
	long *refused = ctx;
	if (!ev->allowed || ev->reason)
		(*refused)++;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 300;
	if (argc > 2)
		bulk_bytes = (size_t)atoi(argv[2]) << 20;
	if (n < 10 || n > 100000 || bulk_bytes < (1u << 20) || bulk_bytes > ((size_t)4096 << 20)) {
		fprintf(stderr, "usage: egress_bench [requests (10..100000) [MiB (1..4096)]]\n");
		return 2;
	}
	int reps = 5;
	(void)alarm(120);
	(void)signal(SIGPIPE, SIG_IGN);

	up_lfd = listen_local(&up_port);
	pthread_t up;
	if (pthread_create(&up, NULL, up_main, NULL) != 0)
		die("thread");
	(void)pthread_detach(up);

	struct egress_policy pol = { .mode = EGRESS_ALLOWLIST, .allow_loopback = true };
	char entry[64], err[256];
	snprintf(entry, sizeof(entry), "127.0.0.1:%d", up_port);
	if (egress_policy_add(&pol, entry, err, sizeof(err)) < 0) {
		fprintf(stderr, "egress_bench: %s\n", err);
		return 1;
	}
	long refused = 0;
	struct egress *eg = egress_start(&pol, listen_local(&px_port), on_event, &refused, err, sizeof(err));
	if (!eg) {
		fprintf(stderr, "egress_bench: %s\n", err);
		return 1;
	}

	/* Warm up every path (thread stacks, page cache, TCP). */
	for (int i = 0; i < 20; i++)
		for (int p = 0; p < NPATHS; p++)
			(void)ttfb((enum path)p);

	double *t[NPATHS];
	for (int p = 0; p < NPATHS; p++)
		t[p] = calloc((size_t)n, sizeof(double));
	for (int i = 0; i < n; i++)
		for (int p = 0; p < NPATHS; p++)
			t[p][i] = ttfb((enum path)p);

	double bulk[NPATHS] = { 0 }, sse[NPATHS] = { 0 };
	size_t got_bulk[NPATHS] = { 0 }, got_sse[NPATHS] = { 0 };
	for (int r = 0; r < reps; r++) {
		for (int p = 0; p < NPATHS; p++) {
			size_t b;
			double v = transfer((enum path)p, "/bulk", &b);
			if (v > bulk[p])
				bulk[p] = v; /* best of reps: the least disturbed run */
			got_bulk[p] = b;
			v = transfer((enum path)p, "/sse", &b);
			if (v > sse[p])
				sse[p] = v;
			got_sse[p] = b;
		}
	}
	/* The paced stream, once per path (about 0.3 s each). */
	double *ev[NPATHS], ev50[NPATHS], ev99[NPATHS];
	int nev[NPATHS];
	for (int p = 0; p < NPATHS; p++) {
		ev[p] = calloc(PACED_EVENTS, sizeof(double));
		nev[p] = paced((enum path)p, ev[p]);
		ev50[p] = nev[p] ? pct(ev[p], nev[p], 0.5) : 0;
		ev99[p] = nev[p] ? pct(ev[p], nev[p], 0.99) : 0;
		free(ev[p]);
	}
	egress_stop(eg);
	egress_policy_free(&pol);

	double med[NPATHS], p90[NPATHS];
	for (int p = 0; p < NPATHS; p++) {
		med[p] = pct(t[p], n, 0.5);
		p90[p] = pct(t[p], n, 0.9);
	}
	printf("egress proxy, one run on 127.0.0.1: %d first-byte runs per path; best of %d transfers of "
	       "%zu MiB (64 KiB writes) and of %zu events of %d bytes; %d paced events (one per %d us)\n",
	       n, reps, bulk_bytes >> 20, sse_events, SSE_EVENT, PACED_EVENTS, PACED_GAP_NS / 1000);
	printf("%-24s %10s %10s %10s %11s %6s %10s %6s %10s %10s\n", "path", "ttfb p50", "ttfb p90", "added p50",
	       "bulk MiB/s", "ratio", "events/s", "ratio", "delay p50", "delay p99");
	for (int p = 0; p < NPATHS; p++) {
		printf("%-24s %8.0fus %8.0fus %8.0fus %11.0f %6.2f %10.0f %6.2f %8.0fus %8.0fus\n", path_name[p], med[p],
		       p90[p], med[p] - med[DIRECT], bulk[p] / (1 << 20), bulk[p] / bulk[DIRECT], sse[p] / SSE_EVENT,
		       sse[p] / sse[DIRECT], ev50[p], ev99[p]);
		free(t[p]);
	}
	printf("egress ttfb added (plain HTTP): %.3f ms (aim < 1 ms); throughput ratio bulk %.2f, events %.2f "
	       "(aim >= 0.90); per-event delay added %.0f us (p50)\n",
	       (med[PLAIN] - med[DIRECT]) / 1000, bulk[PLAIN] / bulk[DIRECT], sse[PLAIN] / sse[DIRECT],
	       ev50[PLAIN] - ev50[DIRECT]);
	int bad = 0;
	for (int p = 0; p < NPATHS; p++)
		if (got_bulk[p] < bulk_bytes || got_sse[p] < sse_events * SSE_EVENT || nev[p] < PACED_EVENTS)
			bad = 1;
	if (bad || refused) {
		fprintf(stderr, "egress_bench: a transfer came back short or was refused (%ld)\n", refused);
		return 1;
	}
	return 0;
}
