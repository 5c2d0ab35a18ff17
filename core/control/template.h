/* SPDX-License-Identifier: MIT */
/*
 * template.h - the prompt template syntax that passes results of
 * dependencies into a Task's prompt (docs/templates.md):
 *
 *     {{ deps.NAME.results.KEY }}   status.results[KEY] of dependency NAME
 *     {{ "text" }}                  literal text, e.g. {{ "{{" }} for "{{"
 *
 * Whitespace inside the braces is optional.  Every "{{" opens a tag: a
 * malformed or unknown one is an error, never copied silently, and so is
 * a reference that cannot be resolved.  Pure string work: no I/O.
 */
#ifndef PADDOCK_TEMPLATE_H
#define PADDOCK_TEMPLATE_H

#include <stddef.h>

/*
 * Resolve deps.DEP.results.KEY.  On success set *value (borrowed, valid
 * until tmpl_render returns) and return 0.  Otherwise return -ENOENT when
 * DEP is not a known dependency, -ENODATA when DEP has no result KEY, and
 * write what exists into `avail` (e.g. "branch, commit", or the
 * dependency names) so the error can say it; "" means nothing exists.
 * Any other negative errno aborts with a generic message.
 */
typedef int (*tmpl_lookup_fn)(void *ctx, const char *dep, const char *key,
			      const char **value, char *avail, size_t availlen);

/*
 * Render `in` (NUL-terminated, borrowed) into *out (owned, NUL-terminated,
 * at most max_out bytes before the NUL; 0: 1 MiB).  Returns 0, or a
 * negative errno with a one-line message in err that names the reference
 * and its position, e.g.
 *   {{ deps.build.results.sha }} at line 3, column 7: task "build" has no
 *   result "sha" (results: branch, commit)
 * -EINVAL: syntax; -ENOENT/-ENODATA: unresolved; -E2BIG: output too big.
 * *out is untouched on failure.
 */
int tmpl_render(const char *in, tmpl_lookup_fn lookup, void *ctx, size_t max_out, char **out,
		char *err, size_t errlen);

/*
 * Called for each reference in order: dependency name and key (borrowed,
 * NUL-terminated, valid during the call) and the byte offset of its "{{".
 * Return 0 to continue or a negative errno to stop (returned as is).
 */
typedef int (*tmpl_ref_fn)(void *ctx, const char *dep, const char *key, size_t offset);

/* List the references of `in` without resolving them.  Returns 0, the
 * callback's error, or -EINVAL for a syntax error (message in err). */
int tmpl_refs(const char *in, tmpl_ref_fn cb, void *ctx, char *err, size_t errlen);

/*
 * Check that every reference names one of `deps` (n names: the Task's
 * spec.dependsOn).  Returns 0, -EINVAL for a syntax error, or -ENOENT:
 *   {{ deps.lint.results.x }} at line 1, column 1: task "lint" is not in
 *   dependsOn (build, test): add it to spec.dependsOn
 */
int tmpl_check_deps(const char *in, const char *const *deps, size_t n, char *err,
		    size_t errlen);

/*
 * A Spawner's template (docs/triggers.md): {{ event.PATH }} and
 * {{ schedule.PATH }} are resolved through fn(ctx, root, path, &value):
 * root "event" or "schedule", *value owned (NULL or "" for nothing),
 * 0 or a negative errno that aborts.  Values are written so that
 * tmpl_render() later reads them literally (every "{{" of a value becomes
 * {{ "{{" }}): an issue's text never becomes a tag.  deps references and
 * literal tags are copied as written, for the Task's own pass.  Errors
 * and *out as tmpl_render().
 */
typedef int (*tmpl_event_fn)(void *ctx, const char *root, const char *path, char **value);
int tmpl_render_event(const char *in, tmpl_event_fn fn, void *ctx, size_t max_out, char **out,
		      char *err, size_t errlen);

#endif
