# SPDX-License-Identifier: MIT
# tests/storm_common.sh - sourced by tests/local/storm.sh and
# tests/k8s/storm.sh: the shell side of what the two storms share (the
# Python side is tests/storm_common.py, next to this file).  The script
# sets PADDOCK_BIN, out (its storm directory, holding storm.py), t0 (the
# storm's start, seconds since the epoch), DRAIN, and defines
# start_controller (starts one, its pid in cpid).
storm_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pdt() { timeout -k 5 75 "$PADDOCK_BIN" "$@"; } # no CLI call may hang the test
# The script's storm.py, which imports storm_common.
spy() { PYTHONPATH=$storm_lib${PYTHONPATH:+:$PYTHONPATH} PYTHONDONTWRITEBYTECODE=1 python3 "$out/storm.py" "$@"; }
proc_alive() { # PID: exists and is not a zombie
	local s
	s=$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$s" ] && [ "$s" != Z ]
}
rel() { python3 -c "import time; print('%.2f' % (time.time() - $t0))"; } # seconds since t0
# storm_drain [GET-TASKS-ARGS...]: waits up to DRAIN s for every storm-
# task to finish, restarting the controller if it exits (noted in
# controller-exits); leaves in left how many are not finished (? if
# unknown).
storm_drain() {
	local drain_end=$((SECONDS + DRAIN)) rc
	left=?
	while [ $SECONDS -lt $drain_end ]; do
		if ! proc_alive "$cpid"; then
			rc=0
			wait "$cpid" 2>/dev/null || rc=$?
			echo "controller $cpid exited with status $rc during the drain at t=$(rel)s" >>"$out/controller-exits"
			start_controller
		fi
		left=$(pdt get tasks "$@" -o json 2>/dev/null | spy pending storm-) || left=?
		[ "$left" != 0 ] || break
		sleep 1
	done
}
