#!/usr/bin/env bash
# Cleanup an agent cannot defeat: a run that leaves a 3,000-level
# directory tree in its workspace is removed completely by
# `paddock delete`, with the common limit of 1,024 open files (the old
# recursive rm_rf needed one fd per level: it printed "deleted" and
# removed nothing).  As root: a run dir that cannot be removed (a mount
# point inside) fails `paddock delete` with what is left, and the
# controller removes the orphaned run dir later.
. "$(dirname "$0")/lib.sh"
cat >"$work/agents.yaml" <<'EOT'
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: deep}
spec:
  type: exec
  command: |
    # 30 times 100 levels: few processes (a sandbox may be slow to fork)
    bash -c 'p=d; for i in $(seq 99); do p=$p/d; done
             for i in $(seq 30); do mkdir -p $p && cd $p || exit 1; done; echo bottom > f'
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: ok}
spec:
  type: exec
  command: "echo done > out.txt"
EOT
pd apply -f "$work/agents.yaml" >/dev/null
pd run --agent deep --name deep -p "go" >"$work/run.out" 2>&1 ||
	fail "the task failed: $(cat "$work/run.out"; pd logs deep)"
run_dir=$(pd describe task deep | sed -n 's/^Run dir: *//p')
[ -n "$run_dir" ] && [ -d "$run_dir/workspace/d/d/d" ] || fail "no deep tree in '$run_dir'"
depth=$(find "$run_dir/workspace" -name f -printf '%d\n')
[ "$depth" = 3001 ] || fail "the tree is not 3,000 levels deep: f at depth '$depth'"
(ulimit -n 1024 && pd delete task deep) >"$work/delete.out" 2>&1 ||
	fail "delete failed: $(cat "$work/delete.out")"
grep -q "deleted" "$work/delete.out" || fail "delete said: $(cat "$work/delete.out")"
[ ! -e "$run_dir" ] || fail "$run_dir is still there after delete"
pass "a 3,000-level tree left by the agent goes with paddock delete (ulimit -n 1024)"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: a mount point inside a run dir: needs root"
	exit 0
fi
pd run --agent ok --name stuck -p "go" >"$work/run.out" 2>&1 ||
	fail "the task failed: $(cat "$work/run.out"; pd logs stuck)"
run_dir=$(pd describe task stuck | sed -n 's/^Run dir: *//p')
mnt=$run_dir/workspace/mnt
mkdir -p "$work/src" "$mnt"
echo keep >"$work/src/keep"
mount --bind "$work/src" "$mnt" || { echo "SKIP: cannot bind-mount"; exit 0; }
trap 'umount "$mnt" 2>/dev/null || true; cleanup' EXIT
set +e
pd delete task stuck >"$work/delete.out" 2>&1
rc=$?
set -e
[ $rc -ne 0 ] || fail "delete with a mount point in the run dir succeeded: $(cat "$work/delete.out")"
grep -qF "could not remove 1 entry below $run_dir, first: workspace/mnt: a mount point" "$work/delete.out" ||
	fail "delete did not say what is left: $(cat "$work/delete.out")"
grep -q "paddock controller. retries" "$work/delete.out" || fail "no word of the retry: $(cat "$work/delete.out")"
[ "$(cat "$work/src/keep")" = keep ] || fail "the mount point was entered"
! pd get task stuck >/dev/null 2>&1 || fail "the task is still there"
pass "a run dir that cannot be removed fails paddock delete, saying what is left"

umount "$mnt"
"$PADDOCK_BIN" controller >>"$work/controller.log" 2>&1 &
cleanup_pids+=("$!")
for _ in $(seq 50); do [ -e "$run_dir" ] || break; sleep 0.2; done
[ ! -e "$run_dir" ] || fail "the controller left the orphaned $run_dir: $(cat "$work/controller.log")"
grep -q "orphaned run directory removed" "$work/controller.log" || fail "not logged: $(cat "$work/controller.log")"
pass "the controller removes the orphaned run dir"
