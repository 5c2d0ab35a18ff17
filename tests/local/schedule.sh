#!/usr/bin/env bash
# Scheduled Spawners (docs/triggers.md#schedules) on the local backend,
# through the test clock ($PADDOCK_TEST_CLOCK, a test-hooks build): hours
# of schedule in seconds.
#   - every minute for 180 simulated minutes: 180 Tasks, one per minute,
#     each rendered with its start time; the controller SIGKILLed in the
#     middle makes none twice;
#   - Forbid: start times while a Task still runs are skipped; Replace
#     stops the running Task and makes the new one;
#   - a 30-minute outage: only the latest missed time runs (CronJob's
#     rule), the others are recorded as missed; past
#     startingDeadlineSeconds, none runs.
ISOLATION=none
. "$(dirname "$0")/lib.sh"
MINUTES=${MINUTES:-180}
pd version | grep -q "test hooks: compiled in" ||
	{ echo "SKIP: not a test build (configure --enable-test-hooks)"; exit 77; }
clock=$work/clock
export PADDOCK_TEST_CLOCK=$clock
t0=$(( ($(date +%s) / 60 + 1) * 60 ))    # the next whole minute
echo $((t0 - 30)) >"$clock"
log=$work/controller.log
start_controller() {
	"$PADDOCK_BIN" controller >>"$log" 2>&1 &
	cpid=$!
	cleanup_pids+=("$cpid")
}
stop_controller() { kill -9 "$cpid" 2>/dev/null || true; wait "$cpid" 2>/dev/null || true; }

cat >"$work/setup.yaml" <<EOT
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: cron}
spec: {type: exec, command: 'echo "\$1"'}
---
apiVersion: paddock.dev/v1alpha1
kind: Spawner
metadata: {name: minutely}
spec:
  taskTemplate:
    spec: {agentRef: {name: cron}, prompt: "run at {{ schedule.time }}", ttlSecondsAfterFinished: 3600}
  schedule: {cron: "* * * * *", timeZone: Europe/Berlin}
EOT
pd apply -f "$work/setup.yaml" >/dev/null
count() { pd get tasks -o json | python3 -c "import json,sys; print(sum(1 for t in json.load(sys.stdin)['items'] if t['metadata'].get('labels',{}).get('paddock.dev/spawner')=='$1'))"; }
# The phases of a Spawner's Tasks, sorted: "['Running', 'Stopped']".
phases() { pd get tasks -o json | python3 -c "import json,sys; print(sorted(t['status'].get('phase') for t in json.load(sys.stdin)['items'] if t['metadata'].get('labels',{}).get('paddock.dev/spawner')=='$1'))"; }
start_controller
# Each simulated minute: move the clock, wait for that minute's Task.
for i in $(seq 0 $((MINUTES - 1))); do
	echo $((t0 + i * 60 + 1)) >"$clock"
	if [ "$i" -eq $((MINUTES / 2)) ]; then
		stop_controller # a restart in the middle: nothing twice, nothing lost
		start_controller
	fi
	deadline=$((SECONDS + 30))
	# the controller's log says at once (the store is checked below)
	until [ "$(grep -c 'msg="schedule: start time" spawner=minutely .*outcome=accepted' "$log")" -ge $((i + 1)) ]; do
		[ $SECONDS -lt $deadline ] || fail "minute $i: $(count minutely) Tasks, want $((i + 1))"
		sleep 0.02
	done
done
sleep 0.5
n=$(count minutely)
[ "$n" -eq "$MINUTES" ] || fail "$MINUTES simulated minutes made $n Tasks"
pd get tasks -o json | python3 -c "
import json, sys
t0, n = $t0, $MINUTES
ts = sorted(t['spec']['prompt'] for t in json.load(sys.stdin)['items'] if t['metadata'].get('labels',{}).get('paddock.dev/spawner')=='minutely')
import datetime
want = sorted('run at ' + datetime.datetime.fromtimestamp(t0 + 60*i, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.000Z') for i in range(n))
assert ts == want, (ts[:3], want[:3])
"
pass "$MINUTES simulated minutes -> $MINUTES Tasks, one per start time (a SIGKILL in the middle)"

# ---- Forbid: a task that runs for 3 simulated minutes (until told)
now=$((t0 + MINUTES * 60))
cat >"$work/forbid.yaml" <<EOT
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: slow}
spec: {type: exec, command: 'while [ ! -e $work/release ]; do sleep 0.1; done; echo done'}
---
apiVersion: paddock.dev/v1alpha1
kind: Spawner
metadata: {name: forbid}
spec:
  taskTemplate: {spec: {agentRef: {name: slow}, prompt: "slow"}}
  schedule: {cron: "* * * * *", concurrencyPolicy: Forbid}
EOT
pd apply -f "$work/forbid.yaml" >/dev/null
for i in 1 2 3 4; do
	echo $((now + i * 60 + 1)) >"$clock"
	sleep 0.6
done
[ "$(count forbid)" -eq 1 ] || fail "Forbid: $(count forbid) Tasks while the first ran"
pd describe spawner forbid | grep -q "skipped .*concurrencyPolicy Forbid" || fail "Forbid: no skip recorded: $(pd describe spawner forbid)"
touch "$work/release"
deadline=$((SECONDS + 30))
until [ "$(phases forbid)" = "['Succeeded']" ]; do
	[ $SECONDS -lt $deadline ] || fail "Forbid: the slow task did not end"
	sleep 0.1
done
echo $((now + 5 * 60 + 1)) >"$clock"
deadline=$((SECONDS + 30))
until [ "$(count forbid)" -eq 2 ]; do
	[ $SECONDS -lt $deadline ] || fail "Forbid: no Task once the first ended"
	sleep 0.1
done
pass "Forbid skips start times while a Task runs, and runs the next one after"
pd delete spawner forbid >/dev/null

# ---- Replace: the running Task is stopped, the new one made
now=$((now + 6 * 60))
cat >"$work/replace.yaml" <<EOT
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: slower}
spec: {type: exec, command: 'while [ ! -e $work/release2 ]; do sleep 0.1; done; echo done'}
---
apiVersion: paddock.dev/v1alpha1
kind: Spawner
metadata: {name: replace}
spec:
  taskTemplate: {spec: {agentRef: {name: slower}, prompt: "slow"}}
  schedule: {cron: "* * * * *", concurrencyPolicy: Replace}
EOT
pd apply -f "$work/replace.yaml" >/dev/null
echo $((now + 1)) >"$clock"
deadline=$((SECONDS + 30))
until [ "$(phases replace)" = "['Running']" ]; do
	[ $SECONDS -lt $deadline ] || fail "Replace: the first Task never ran"
	sleep 0.1
done
echo $((now + 61)) >"$clock"
deadline=$((SECONDS + 30))
until [ "$(phases replace)" = "['Running', 'Stopped']" ]; do
	[ $SECONDS -lt $deadline ] || fail "Replace: $(pd get tasks -o wide | grep replace)"
	sleep 0.1
done
touch "$work/release2"
pass "Replace stops the running Task and runs the new start time"
pd delete spawner replace >/dev/null

# ---- a 30-minute outage: the latest missed start time only
now=$((now + 10 * 60))
echo $((now + 1)) >"$clock"
sleep 0.6
before=$(count minutely)
stop_controller
echo $((now + 30 * 60 + 1)) >"$clock"
start_controller
deadline=$((SECONDS + 30))
until [ "$(count minutely)" -eq $((before + 1)) ]; do
	[ $SECONDS -lt $deadline ] || fail "outage: $(count minutely) Tasks, want $((before + 1))"
	sleep 0.1
done
sleep 1
[ "$(count minutely)" -eq $((before + 1)) ] || fail "outage: caught up more than once"
pd describe spawner minutely | grep -q "29 earlier start times missed" || fail "outage: $(pd describe spawner minutely | tail -3)"
# With a deadline: a start time older than it runs nothing.  Hourly, so
# the latest start time can be 30 minutes old.
cat >"$work/hourly.yaml" <<EOT
apiVersion: paddock.dev/v1alpha1
kind: Spawner
metadata: {name: hourly}
spec:
  taskTemplate: {spec: {agentRef: {name: cron}, prompt: "hourly"}}
  schedule: {cron: "0 * * * *", startingDeadlineSeconds: 60}
EOT
pd apply -f "$work/hourly.yaml" >/dev/null
hour=$(( (now + 30 * 60) / 3600 * 3600 + 3600 ))
echo $((hour + 30 * 60 + 1)) >"$clock"
sleep 2
[ "$(count hourly)" -eq 0 ] || fail "deadline: a start time past startingDeadlineSeconds ran"
pd describe spawner hourly | grep -q "1801s late, over startingDeadlineSeconds" || fail "deadline: $(pd describe spawner hourly | tail -3)"
pass "a 30-minute outage runs the latest missed time once; past startingDeadlineSeconds none"
stop_controller
