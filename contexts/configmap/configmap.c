/* SPDX-License-Identifier: MIT */
/*
 * configmap.c - the ConfigMap context source.  With configMap.key, that
 * key's value is one text (or the file at mountPath); without it, every
 * key becomes a text "<configmap>/<key>" (or a file mountPath/<key> in
 * the directory mountPath).  The object comes from host->object_get, so
 * from SQLite locally and the API server on Kubernetes.
 */
#include "../common/ctxutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ConfigMap keys as Kubernetes allows them: [-._a-zA-Z0-9]+, not "." or
 * "..", at most 253 bytes: so a key is always a safe file name. */
static bool cm_key_ok(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > 253 || strcmp(k, ".") == 0 || strcmp(k, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return false;
	}
	return true;
}

static int cm_validate(void *instance, const struct paddock_context_item *item, char *err,
		       size_t errlen)
{
	(void)instance;
	if (!item)
		return cu_errf(err, errlen, -EINVAL, "configmap context: no item");
	const char *fp = cu_fp(item);
	int rc = cu_check_item(item, "configMap", err, errlen);
	if (rc < 0)
		return rc;
	const char *name = cu_field(item, "configMap.name");
	if (!name)
		return cu_errf(err, errlen, -EINVAL,
			       "%s.configMap.name: required for type ConfigMap: name the ConfigMap", fp);
	if (!cu_object_name_ok(name))
		return cu_errf(err, errlen, -EINVAL,
			       "%s.configMap.name: \"%.100s\" is not a valid object name: use lower-case letters, digits, '-' and '.'",
			       fp, name);
	const char *key = cu_field(item, "configMap.key");
	if (key && !cm_key_ok(key))
		return cu_errf(err, errlen, -EINVAL,
			       "%s.configMap.key: \"%.100s\" is not a valid key: use letters, digits, '-', '_' and '.'",
			       fp, key);
	const char *opt = cu_field(item, "configMap.optional");
	bool b;
	if (opt && cu_parse_bool(opt, &b) < 0)
		return cu_errf(err, errlen, -EINVAL,
			       "%s.configMap.optional: \"%.20s\" is not a boolean: use true or false", fp,
			       opt);
	return 0;
}

static int cm_resolve(void *instance, const struct paddock_task_view *task,
		      const struct paddock_context_item *item,
		      const struct paddock_plan_builder *plan, char *err, size_t errlen)
{
	struct cu_instance *in = instance;
	const struct paddock_host *host = in->host;
	struct paddock_object *obj = NULL;
	char *path = NULL;
	(void)task;
	int rc = cm_validate(instance, item, err, errlen);
	if (rc < 0)
		return rc;
	const char *fp = cu_fp(item);
	const char *name = cu_field(item, "configMap.name");
	const char *key = cu_field(item, "configMap.key");
	bool optional = false;
	const char *opt = cu_field(item, "configMap.optional");
	if (opt)
		cu_parse_bool(opt, &optional);

	char herr[256] = "";
	rc = host->object_get(host->ctx, "ConfigMap", item->ns, name, &obj, herr, sizeof(herr));
	if (rc == -ENOENT) {
		if (optional) {
			host->log(host->ctx, PADDOCK_LOG_INFO,
				  "%s: optional ConfigMap %s/%s not found; skipped", fp,
				  item->ns ? item->ns : "", name);
			return 0;
		}
		return cu_errf(err, errlen, -ENOENT,
			       "%s.configMap.name: ConfigMap \"%s\" not found in namespace \"%s\": create it or set optional: true",
			       fp, name, item->ns ? item->ns : "");
	}
	if (rc < 0)
		return cu_errf(err, errlen, rc, "%s.configMap.name: %s", fp, herr);

	if (key) {
		const struct paddock_kv *kv = NULL;
		for (size_t i = 0; i < obj->n; i++)
			if (strcmp(obj->items[i].key, key) == 0)
				kv = &obj->items[i];
		if (!kv) {
			if (optional) {
				host->log(host->ctx, PADDOCK_LOG_INFO,
					  "%s: optional key %s of ConfigMap %s not found; skipped", fp, key,
					  name);
				rc = 0;
			} else {
				rc = cu_errf(err, errlen, -ENOENT,
					     "%s.configMap.key: ConfigMap \"%s\" has no key \"%s\": add it or set optional: true",
					     fp, name, key);
			}
			goto out;
		}
		rc = cu_emit(plan, item, cu_name(item, key), "ConfigMap", kv->value, kv->len, err,
			     errlen);
		goto out;
	}

	if (item->mount_path) {
		rc = plan->add_dir(plan->ctx, PADDOCK_ROOT_WORKSPACE, item->mount_path, 0755);
		if (rc < 0) {
			rc = cu_plan_failed(item, rc, "the directory at mountPath", err, errlen);
			goto out;
		}
	}
	for (size_t i = 0; i < obj->n; i++) {
		const struct paddock_kv *kv = &obj->items[i];
		if (!cm_key_ok(kv->key)) {
			rc = cu_errf(err, errlen, -EINVAL,
				     "%s: ConfigMap \"%s\" has key \"%.100s\" that is not a safe file name: rename it",
				     fp, name, kv->key);
			goto out;
		}
		if (item->mount_path) {
			free(path);
			size_t n = strlen(item->mount_path) + strlen(kv->key) + 2;
			path = malloc(n);
			if (!path) {
				rc = cu_errf(err, errlen, -ENOMEM, "%s: out of memory", fp);
				goto out;
			}
			snprintf(path, n, "%s/%s", item->mount_path, kv->key);
			rc = cu_add_file(plan, item, path, kv->value, kv->len, "a file of the ConfigMap",
					 err, errlen);
		} else {
			char tname[512];
			snprintf(tname, sizeof(tname), "%s/%s", cu_name(item, name), kv->key);
			rc = cu_add_text(plan, item, tname, "ConfigMap", kv->value, kv->len, err,
					 errlen);
		}
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	free(path);
	host->object_free(host->ctx, obj);
	return rc;
}

static const struct paddock_context_ops cm_ops = {
	.size = sizeof(struct paddock_context_ops),
	.type = "ConfigMap",
	.create = cu_create,
	.destroy = cu_destroy,
	.validate = cm_validate,
	.resolve = cm_resolve,
};

static const struct paddock_plugin cm_plugin = {
	PADDOCK_PLUGIN_HEADER(PADDOCK_KIND_CONTEXT),
	.name = "configmap",
	.version = "0.1.0",
	.description = "ConfigMap context: one key or all keys of a ConfigMap",
	.license = "MIT",
	.ops = &cm_ops,
	.ops_size = sizeof(struct paddock_context_ops),
};

PADDOCK_PLUGIN(cm_plugin)
