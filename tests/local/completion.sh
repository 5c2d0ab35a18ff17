#!/usr/bin/env bash
# Shell completion (etc/bash-completion/paddock, installed by make
# install): sourced into bash and called as bash calls it (COMP_WORDS,
# COMP_CWORD), it offers
#   - every command of `paddock --help`, and nothing else;
#   - every option of every command, as the binary's getopt tables in
#     core/cli/*.c declare them (so a new option without completion fails
#     here), and the global ones;
#   - the kinds `get` knows, -o formats with jsonpath=;
#   - names from `paddock get KIND -o name`: tasks for logs/stop/describe,
#     agents after --agent and `describe agent`, TYPE/NAME (task/q1), in
#     the namespace given with -n.
. "$(dirname "$0")/lib.sh"
# shellcheck source=/dev/null
. "$TOP_SRCDIR/etc/bash-completion/paddock"
complete -p paddock >/dev/null || fail "the script registers no completion for paddock"

# comp WORD... : the candidates for the last WORD (the one being typed), sorted, one a line.
comp() {
	COMP_WORDS=("$PADDOCK_BIN" "$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="${COMP_WORDS[*]}"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_paddock
	[ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}" | sort
}
has() { # has WHAT CANDIDATES WORD...: each WORD among the candidates
	local what=$1 got=$2 w
	shift 2
	for w in "$@"; do
		grep -qxF -- "$w" <<<"$got" || fail "$what: \"$w\" not offered; got: $(echo $got)"
	done
}

# ---- commands: those of paddock --help, and only those
want=$(pd --help | sed -n '/^Commands:/,/^$/p' | awk 'NF && !/^Commands:/ {print $1}' | sort)
[ "$(echo "$want" | wc -l)" -ge 15 ] || fail "cannot read the commands of paddock --help: $want"
[ "$(comp "")" = "$want" ] || fail "commands: offered
$(comp "")
want
$want"
has "help COMMAND" "$(comp help "")" $want
pass "every command of paddock --help is completed, and nothing else"

# ---- options: every long option of the binary's getopt tables
python3 - "$TOP_SRCDIR/core/cli" >"$work/opts" <<'EOF'
import re, sys, glob, os
# The function each option table is in names its command; name_args
# parses delete's (and stop's, which takes -n and --help only); main's
# are the global options.
owner = {"name_args": "delete", "main": "-"}
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.c"))):
    src = open(f).read()
    for m in re.finditer(r"static const struct option opts\[\] = \{(.*?)\};", src, re.S):
        fn = re.findall(r"^(?:static )?int (\w+)\(", src[:m.start()], re.M)[-1]
        cmds = owner.get(fn) or re.sub(r"^cmd_|_fn$", "", fn)
        for o in re.findall(r'\{\s*"([a-z][a-z-]*)"', m.group(1)):
            for c in cmds.split():
                print(c, "--" + o)
            if fn == "name_args" and o in ("namespace", "help"):
                print("stop", "--" + o)
EOF
[ "$(wc -l <"$work/opts")" -ge 40 ] || fail "cannot read the option tables: $(cat "$work/opts")"
[ "$(awk '$1 == "get"' "$work/opts" | wc -l)" -ge 6 ] || fail "get's options not found: $(cat "$work/opts")"
n=0
while read -r c o; do
	if [ "$c" = - ]; then
		got=$(comp "--")
	else
		got=$(comp "$c" "--")
	fi
	has "paddock ${c#-} --<TAB>" "$got" "$o"
	n=$((n + 1))
done <"$work/opts"
for c in $want; do # every command has --help
	[ "$c" = help ] || has "$c --<TAB>" "$(comp "$c" --)" --help
done
has "get -<TAB>: the short flags" "$(comp get -)" -o -n -A -l -w
has "logs -<TAB>" "$(comp logs -)" -f -n --raw --tail --since --timestamps
has "run --<TAB>" "$(comp run --)" --detach --watch --workspace-repo
pass "all $n options of the binary's getopt tables are completed (and --help for every command)"

# ---- kinds and values
kinds=$(pd get --help | sed -n 's/^KIND: \([a-z, ]*\) (.*/\1/p' | tr -d ',' | sed 's/ or / /' | tr ' ' '\n' | sort)
[ -n "$kinds" ] || fail "cannot read get's kinds: $(pd get --help | head -5)"
[ "$(comp get "")" = "$kinds" ] || fail "get kinds: $(comp get "" | xargs), want $(echo $kinds)"
has "get -o <TAB>" "$(comp get tasks -o "")" wide yaml json name jsonpath=
[ "$(comp get tasks -o js)" = "$(printf 'json\njsonpath=')" ] || fail "get -o js: $(comp get tasks -o js)"
has "run --type" "$(comp run --type "")" exec claude-code codex gemini opencode
has "run --credentials" "$(comp run --credentials "")" api-key oauth none
has "describe <TAB>" "$(comp describe "")" task agent spawner budget
has "delete <TAB>" "$(comp delete "")" task agent spawner budget secret configmap
has "config <TAB>" "$(comp config "")" check
pass "kinds (those of get --help), -o formats with jsonpath=, drivers, credentials"

# ---- names, from paddock get KIND -o name
cat >"$work/objs.yaml" <<'EOT'
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: helper}
spec: {type: exec, command: "echo ok"}
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: other-agent, namespace: other}
spec: {type: exec, command: "echo ok"}
EOT
pd apply -f "$work/objs.yaml" >/dev/null
for t in fix-login fix-logout; do
	pd run --detach --agent helper -p hi --name "$t" >/dev/null 2>&1 || fail "submit $t"
done
pd run --detach --agent other-agent -p hi --name elsewhere -n other >/dev/null 2>&1 || fail "submit elsewhere"
[ "$(comp logs fix-l)" = "$(printf 'fix-login\nfix-logout')" ] || fail "logs fix-l: $(comp logs fix-l)"
[ "$(comp stop fix-logi)" = fix-login ] || fail "stop fix-logi: $(comp stop fix-logi)"
has "get tasks <TAB>" "$(comp get tasks "")" fix-login fix-logout
has "get task <TAB> (singular)" "$(comp get task "")" fix-login
[ "$(comp get task/fix-logo)" = task/fix-logout ] || fail "get task/fix-logo: $(comp get task/fix-logo)"
[ "$(comp describe agent/h)" = agent/helper ] || fail "describe agent/h: $(comp describe agent/h)"
[ "$(comp describe agent "")" = helper ] || fail "describe agent: $(comp describe agent "")"
[ "$(comp run --agent "")" = helper ] || fail "run --agent: $(comp run --agent "")"
[ "$(comp delete task fix-login "")" = "$(printf 'fix-login\nfix-logout')" ] || fail "delete task NAME...: $(comp delete task fix-login "")"
[ "$(comp logs -n other "")" = elsewhere ] || fail "logs -n other: $(comp logs -n other "")"
[ "$(comp logs --namespace=other "")" = elsewhere ] || fail "logs --namespace=other: $(comp logs --namespace=other "")"
[ "$(comp get agents -n other "")" = other-agent ] || fail "get agents -n other: $(comp get agents -n other "")"
# the --config given before the command is the one asked for names
cp "$PADDOCK_CONFIG" "$work/etc/other.yaml"
[ "$(PADDOCK_CONFIG=/nonexistent comp --config "$work/etc/other.yaml" logs fix-logi)" = fix-login ] ||
	fail "--config FILE logs: $(PADDOCK_CONFIG=/nonexistent comp --config "$work/etc/other.yaml" logs fix-logi)"
[ -z "$(comp logs -n "")" ] || fail "after -n: names offered as namespaces"
pass "names from paddock get: tasks, agents, TYPE/NAME, in the namespace of -n, with --config"
