/* SPDX-License-Identifier: MIT */
/*
 * text.c - the Text context source: `text:` inline in the manifest,
 * aggregated into task.md or written to mountPath.
 */
#include "../common/ctxutil.h"

#include <errno.h>
#include <string.h>

static int text_validate(void *instance, const struct paddock_context_item *item, char *err,
			 size_t errlen)
{
	(void)instance;
	if (!item)
		return cu_errf(err, errlen, -EINVAL, "text context: no item");
	int rc = cu_check_item(item, "text", err, errlen);
	if (rc == 0 && !cu_field(item, "text"))
		rc = cu_errf(err, errlen, -EINVAL,
			     "%s.text: required for type Text: give the text inline", cu_fp(item));
	return rc;
}

static int text_resolve(void *instance, const struct paddock_task_view *task,
			const struct paddock_context_item *item,
			const struct paddock_plan_builder *plan, char *err, size_t errlen)
{
	(void)task;
	int rc = text_validate(instance, item, err, errlen);
	if (rc < 0)
		return rc;
	const char *t = cu_field(item, "text");
	return cu_emit(plan, item, cu_name(item, "text"), "Text", t, strlen(t), err, errlen);
}

static const struct paddock_context_ops text_ops = {
	.size = sizeof(struct paddock_context_ops),
	.type = "Text",
	.create = cu_create,
	.destroy = cu_destroy,
	.validate = text_validate,
	.resolve = text_resolve,
};

static const struct paddock_plugin text_plugin = {
	PADDOCK_PLUGIN_HEADER(PADDOCK_KIND_CONTEXT),
	.name = "text",
	.version = "0.1.0",
	.description = "Text context: inline text into task.md or a file at mountPath",
	.license = "MIT",
	.ops = &text_ops,
	.ops_size = sizeof(struct paddock_context_ops),
};

PADDOCK_PLUGIN(text_plugin)
