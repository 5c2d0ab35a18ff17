#!/usr/bin/env bash
# Git over SSH checks the server's host key (core/local/git.c), against a
# throwaway sshd on 127.0.0.1 with a host key of its own, serving a bare
# repository through git-shell:
#   (a) no known hosts and no trustOnFirstUse: the clone is refused before
#       ssh connects, and the message names the host and the settings;
#   (b) the host's key in git.knownHosts (and git.knownHostsFile): cloned;
#   (c) another key for the host in git.knownHosts (an on-path attacker's
#       view): refused with a host key error;
#   (d) git.trustOnFirstUse: true: cloned (unverified);
#   (e) a Secret's "known_hosts" key: used for its fetch, and over
#       paddock.yaml's (a wrong one fails even with the right one there);
# and `paddock describe` says how each task's host key is checked.
. "$(dirname "$0")/lib.sh"
SSHD=$(command -v sshd 2>/dev/null || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || { echo "SKIP: no sshd (install openssh-server)"; exit 77; }
for t in ssh ssh-keygen git git-shell python3; do
	command -v "$t" >/dev/null || { echo "SKIP: no $t"; exit 77; }
done

sshd_pid=
stop_sshd() {
	if [ -n "$sshd_pid" ]; then
		kill "$sshd_pid" 2>/dev/null || true
		timeout 10 tail --pid="$sshd_pid" -f /dev/null 2>/dev/null || kill -9 "$sshd_pid" 2>/dev/null || true
	fi
	sshd_pid=
	cleanup
}
trap stop_sshd EXIT

d=$work/sshd
mkdir -p "$d" "$work/srv"
chmod 0755 "$work" "$d" "$work/srv"
ssh-keygen -q -t ed25519 -N '' -C paddock-test-host -f "$d/host"
ssh-keygen -q -t ed25519 -N '' -C paddock-test-attacker -f "$d/attacker"
ssh-keygen -q -t ed25519 -N '' -C paddock-test-client -f "$d/client"
user=$(id -un)
printf 'restrict,command="git-shell -c \\"$SSH_ORIGINAL_COMMAND\\"" %s\n' "$(cat "$d/client.pub")" >"$d/authorized_keys"

# The repository.
repo=$work/srv/repo.git
git init -q --bare -b main "$repo"
git clone -q "$repo" "$work/src" 2>/dev/null
echo "hello over ssh" >"$work/src/README"
git -C "$work/src" add README
git -C "$work/src" -c user.name=t -c user.email=t@t commit -qm v1
git -C "$work/src" push -q origin HEAD:main 2>/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$d/sshd_config" <<EOT
Port $port
ListenAddress 127.0.0.1
HostKey $d/host
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
AllowUsers $user
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
LogLevel VERBOSE
EOT
# sshd as root wants /run/sshd (its privilege separation directory): in a
# mount namespace of its own, on a private /run, nothing is left on the host.
if [ "$(id -u)" = 0 ]; then
	unshare -m --propagation private true 2>/dev/null ||
		{ echo "SKIP: sshd as root needs a mount namespace (unshare -m) for /run/sshd"; exit 77; }
	unshare -m --propagation private sh -c \
		'mount -t tmpfs tmpfs /run && mkdir -m 0755 /run/sshd && exec "$0" -D -e -f "$1"' \
		"$SSHD" "$d/sshd_config" 2>"$d/sshd.log" &
else
	"$SSHD" -D -e -f "$d/sshd_config" 2>"$d/sshd.log" &
fi
sshd_pid=$!
for _ in $(seq 100); do
	grep -q 'Server listening' "$d/sshd.log" 2>/dev/null && break
	kill -0 "$sshd_pid" 2>/dev/null || break
	sleep 0.1
done
grep -q 'Server listening' "$d/sshd.log" ||
	{ echo "SKIP: sshd did not start: $(tail -3 "$d/sshd.log")"; exit 77; }

hostname="[127.0.0.1]:$port"
url="ssh://$user@127.0.0.1:$port$repo"
right="$hostname $(cut -d' ' -f1,2 "$d/host.pub")"
wrong="$hostname $(cut -d' ' -f1,2 "$d/attacker.pub")"
# The server itself works (the client key, git-shell) when its key is known.
echo "$right" >"$d/known_hosts"
GIT_SSH_COMMAND="ssh -i $d/client -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=$d/known_hosts -o StrictHostKeyChecking=yes" \
	git ls-remote "$url" >"$d/ls.out" 2>&1 ||
	{ echo "SKIP: the test sshd does not serve git: $(cat "$d/ls.out"; tail -5 "$d/sshd.log")"; exit 77; }

indent() { sed 's/^/    /' "$1"; }
cat >"$work/objects.yaml" <<EOT
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: reader}
spec:
  type: exec
  command: cat README
---
apiVersion: v1
kind: Secret
metadata: {name: git-ssh}
stringData:
  ssh-privatekey: |
$(indent "$d/client")
---
apiVersion: v1
kind: Secret
metadata: {name: git-ssh-kh}
stringData:
  known_hosts: "$right"
  ssh-privatekey: |
$(indent "$d/client")
---
apiVersion: v1
kind: Secret
metadata: {name: git-ssh-bad}
stringData:
  known_hosts: "$wrong"
  ssh-privatekey: |
$(indent "$d/client")
EOT
pd apply -f "$work/objects.yaml" >/dev/null
rm -f "$work/objects.yaml"

# git_conf YAML: paddock.yaml's git: section ("" for none).
git_conf() {
	sed -i '/^git:/d' "$PADDOCK_CONFIG"
	[ -z "$1" ] || echo "git: $1" >>"$PADDOCK_CONFIG"
}
# clone NAME SECRET: run a task cloning the repository; its exit status.
clone() {
	pd run --agent reader --name "$1" --workspace-repo "$url" --workspace-secret "$2" \
		-p go >"$work/$1.out" 2>&1
}
message() { pd get task "$1" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"].get("message",""))'; }
hostkeys() { pd describe task "$1" | sed -n 's/^Host keys: *//p'; }
connections() { grep -c 'Connection from' "$d/sshd.log" || true; }

# (a) nothing configured: refused before ssh runs, naming the fix.
git_conf ""
before=$(connections)
! clone none git-ssh || fail "(a) cloned with no known hosts and no trustOnFirstUse"
m=$(message none)
for want in "cannot verify the SSH host key of $hostname" git.knownHosts git.knownHostsFile \
	"git.trustOnFirstUse: true" "ssh-keyscan -p $port 127.0.0.1" "Secret git-ssh"; do
	grep -qF -- "$want" <<<"$m" || fail "(a) the message lacks \"$want\": $m"
done
[ "$(connections)" = "$before" ] || fail "(a) ssh connected although no host key could be checked"
[ "$(hostkeys none)" = "$hostname: none: the fetch fails (set git.knownHosts)" ] ||
	fail "(a) describe: $(hostkeys none)"
pass "(a) no known hosts: refused before connecting, the message names $hostname and the settings"

# (b) the right key, inline and from a file.
git_conf "{knownHosts: \"$right\"}"
clone known git-ssh || fail "(b) the clone failed: $(message known; tail -3 "$work/known.out")"
pd logs known | grep -q "hello over ssh" || fail "(b) README not in the workspace: $(pd logs known)"
[ "$(hostkeys known)" = "$hostname: known hosts from paddock.yaml" ] || fail "(b) describe: $(hostkeys known)"
run_dir=$(pd describe task known | sed -n 's/^Run dir: *//p')
[ -d "$run_dir" ] || fail "(b) no run dir $run_dir"
[ -z "$(find "$run_dir" -name known_hosts 2>/dev/null)" ] || fail "(b) a known_hosts file was left in $run_dir"
printf '# the test server\n%s\n' "$right" >"$work/etc/known_hosts"
git_conf "{knownHostsFile: $work/etc/known_hosts}"
clone known-file git-ssh || fail "(b) knownHostsFile: the clone failed: $(message known-file)"
pass "(b) git.knownHosts / git.knownHostsFile with the server's key: cloned, nothing left behind"

# (c) another key for the host: an on-path attacker, or a changed server.
git_conf "{knownHosts: \"$wrong\"}"
! clone attacker git-ssh || fail "(c) cloned although the host key does not match the known hosts"
m=$(message attacker)
grep -qF "Host key verification failed" <<<"$m" || fail "(c) no host key error: $m"
grep -qF "$hostname" <<<"$m" || fail "(c) the message does not name $hostname: $m"
pass "(c) a different key in git.knownHosts: refused (Host key verification failed)"

# (d) trust on first use, by explicit opt-in only.
git_conf "{trustOnFirstUse: true}"
clone tofu git-ssh || fail "(d) the clone failed: $(message tofu)"
pd logs tofu | grep -q "hello over ssh" || fail "(d) README not in the workspace"
[ "$(hostkeys tofu)" = "$hostname: trust on first use (unverified)" ] || fail "(d) describe: $(hostkeys tofu)"
pass "(d) git.trustOnFirstUse: true: cloned, described as unverified"

# (e) the Secret's known_hosts: used, and over paddock.yaml's.
git_conf ""
clone secret-kh git-ssh-kh || fail "(e) the clone with the Secret's known_hosts failed: $(message secret-kh)"
[ "$(hostkeys secret-kh)" = "$hostname: from Secret git-ssh-kh" ] || fail "(e) describe: $(hostkeys secret-kh)"
git_conf "{knownHosts: \"$right\"}"
! clone secret-bad git-ssh-bad || fail "(e) cloned although the Secret's known_hosts has another key"
grep -qF "Host key verification failed" <<<"$(message secret-bad)" || fail "(e) no host key error: $(message secret-bad)"
pass "(e) a Secret's known_hosts is used for its fetch, over paddock.yaml's"
