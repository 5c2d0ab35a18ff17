/* SPDX-License-Identifier: MIT */
/*
 * tests/local/sup-rebuild.c - for supervisor.sh: one run through
 * local_start() with local_spec.sink_rebuild set, so that the exec'd
 * supervisor builds the exec driver's parser itself (no sink process),
 * the way the local backend does once it names its driver.
 *
 *   sup-rebuild RUN_DIR CONFIG SCRIPT PADDOCK_BIN
 *
 * Runs SCRIPT (isolation none) under a supervisor started from
 * PADDOCK_BIN (local_spec.supervisor_exe), the plugins of
 * $PADDOCK_PLUGIN_PATH, waits for the run to end and prints the parsed
 * result (result.json's "result") on stdout.  Exit 0 when it ran.
 */
#include "config.h"
#include "local/local.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
	if (argc != 5) {
		(void)fprintf(stderr, "usage: sup-rebuild RUN_DIR CONFIG SCRIPT PADDOCK_BIN\n");
		return 2;
	}
	struct run_plan plan;
	plan_init(&plan, "default", 0, 0);
	struct paddock_plan_builder b;
	plan_builder(&plan, &b);
	b.set_command(b.ctx, "/paddock_entrypoint.sh");
	struct strv dirs = {0};
	const char *pp = getenv("PADDOCK_PLUGIN_PATH");
	for (const char *p = pp ? pp : ""; *p;) {
		const char *e = strchr(p, ':');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n)
			strv_push_owned(&dirs, xstrndup(p, n));
		p += n + (e ? 1 : 0);
	}
	struct local_sink_rebuild rb = {"exec", argv[2], (const char *const *)dirs.v, NULL};
	struct local_spec s = {
		.run_dir = argv[1],
		.plan = &plan,
		.task_md = "Wait for the go file.\n",
		.entrypoint_path = argv[3],
		.isolation = false,
		.timeout_s = 120,
		.sink_rebuild = &rb,
		.supervisor_exe = argv[4],
	};
	char err[1024] = "";
	int rc = local_prepare(&s, err, sizeof(err));
	if (rc == 0)
		rc = local_start(&s, err, sizeof(err));
	if (rc < 0) {
		(void)fprintf(stderr, "sup-rebuild: %s\n", err);
		return 1;
	}
	struct local_obs o = {0};
	int64_t dl = now_mono_ms() + 150000;
	for (;;) {
		if (local_observe(argv[1], &o) < 0 || o.state == LOCAL_EXITED || o.state == LOCAL_LOST ||
		    now_mono_ms() > dl)
			break;
		local_obs_free(&o);
		struct timespec ts = {0, 50 * 1000 * 1000};
		(void)nanosleep(&ts, NULL);
	}
	rc = o.state == LOCAL_EXITED ? 0 : 1;
	(void)printf("%s\n", o.result_json ? o.result_json : "null");
	local_obs_free(&o);
	plan_free(&plan);
	strv_free(&dirs);
	return rc;
}
