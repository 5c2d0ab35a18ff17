/* SPDX-License-Identifier: MIT */
/*
 * fuzz_config.c - config_parse (paddock.yaml, libyaml) on arbitrary bytes.
 *
 * Invariants beyond the sanitizers: on failure *out is untouched and the
 * message is set; on success every plugin entry has a name, a known
 * kind, settings with key and value, and config_plugin() finds it.
 */
#include "config.h"

#include <errno.h>
#include <paddock/plugin.h>
#include <stdlib.h>
#include <string.h>

#include "base/conf.h"
#include "fuzz_common.h"
#include "base/util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup(LOG_ERR, LOG_FORMAT_KV);
	/* Fixed for the whole run: exercises the env override each time. */
	setenv("PADDOCK_PLUGIN_PATH", "/fuzz/a::/fuzz/b:", 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	char *buf = fuzz_dup(data, size);
	struct pd_config *c = (struct pd_config *)(uintptr_t)0x1;
	err[0] = '\0';
	int rc = config_parse("fuzz.yaml", buf, size, &c, err, sizeof(err));
	if (rc < 0) {
		FUZZ_CHECK(c == (struct pd_config *)(uintptr_t)0x1, "*out written on failure");
		FUZZ_CHECK(err[0] && memchr(err, '\0', sizeof(err)), "no message for rc %d", rc);
	} else {
		FUZZ_CHECK(c && c->backend && c->isolation, "config without backend/isolation");
		for (size_t i = 0; i < c->n_plugins; i++) {
			const struct pd_plugin_conf *p = &c->plugins[i];
			FUZZ_CHECK(p->name, "plugin %zu without a name", i);
			FUZZ_CHECK(p->kind == PADDOCK_KIND_DRIVER || p->kind == PADDOCK_KIND_CONTEXT,
				   "plugin %s: kind %d", p->name, p->kind);
			FUZZ_CHECK(config_plugin(c, p->name) != NULL, "plugin %s not found", p->name);
			for (size_t j = 0; j < p->n_settings; j++) {
				FUZZ_CHECK(p->settings[j].key && p->settings[j].value,
					   "plugin %s setting %zu incomplete", p->name, j);
				(void)config_plugin_setting(c, p->name, p->settings[j].key);
			}
		}
		(void)config_plugin_setting(c, "exec", "command");
		config_free(c);
	}
	free(buf);
	return 0;
}
