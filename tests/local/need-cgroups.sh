# tests/local/need-cgroups.sh - sourced (before lib.sh) by the suites whose
# runs get cgroups: skips the suite (exit 77) unless the hierarchies a
# run's cgroup lives in let us create a child of our own cgroup (where the
# controller puts its runs), naming what is missing.
cg_unusable() {
	local c own d
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		own=$(sed -n 's/^0:://p' /proc/self/cgroup)
		d=/sys/fs/cgroup$own
		for c in memory pids cpu; do
			grep -qw "$c" /sys/fs/cgroup/cgroup.controllers ||
				{ echo "cgroup v2 without the $c controller"; return 0; }
		done
		mkdir "$d/paddock-probe-$$" 2>/dev/null && rmdir "$d/paddock-probe-$$" ||
			{ echo "cannot create a cgroup below $d"; return 0; }
		return 1
	fi
	for c in memory pids cpu cpuacct; do
		own=$(awk -F: -v c="$c" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' /proc/self/cgroup)
		d=/sys/fs/cgroup/$c${own%/}
		[ -n "$own" ] && [ -f "$d/cgroup.procs" ] || { echo "no cgroup v1 $c hierarchy at /sys/fs/cgroup/$c"; return 0; }
		mkdir "$d/paddock-probe-$$" 2>/dev/null && rmdir "$d/paddock-probe-$$" ||
			{ echo "cannot create a cgroup below $d"; return 0; }
	done
	return 1
}
if why=$(cg_unusable); then
	echo "SKIP: $(basename "$0"): cgroups are not writable here: $why"
	exit 77
fi
