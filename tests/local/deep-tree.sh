#!/usr/bin/env bash
# Cleanup an agent cannot defeat: a run that leaves a 3,000-level
# directory tree in its workspace is removed completely by
# `paddock delete`, with the common limit of 1,024 open files (the old
# recursive rm_rf needed one fd per level: it printed "deleted" and
# removed nothing).
. "$(dirname "$0")/lib.sh"
cat >"$work/agents.yaml" <<'EOT'
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: deep}
spec:
  type: exec
  command: |
    bash -c 'for i in $(seq 3000); do mkdir d && cd d || exit 1; done; echo bottom > f'
EOT
pd apply -f "$work/agents.yaml" >/dev/null
pd run --agent deep --name deep -p "go" >"$work/run.out" 2>&1 ||
	fail "the task failed: $(cat "$work/run.out"; pd logs deep)"
run_dir=$(pd describe task deep | sed -n 's/^Run dir: *//p')
[ -n "$run_dir" ] && [ -d "$run_dir/workspace/d/d/d" ] || fail "no deep tree in '$run_dir'"
(ulimit -n 1024 && pd delete task deep) >"$work/delete.out" 2>&1 ||
	fail "delete failed: $(cat "$work/delete.out")"
grep -q "deleted" "$work/delete.out" || fail "delete said: $(cat "$work/delete.out")"
[ ! -e "$run_dir" ] || fail "$run_dir is still there after delete"
pass "a 3,000-level tree left by the agent goes with paddock delete (ulimit -n 1024)"
