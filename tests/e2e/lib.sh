# tests/e2e/lib.sh - helpers shared by test-entrypoints.sh and
# test-paddock.sh (sourced; expects HERE, CLIS and WORK to be set).

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $*"; }
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}

# The cached agent CLIs (install-clis.sh); exits 77 (skip) when missing.
# $1 names the calling script in the message.
find_clis() {
	if ! BINS=$("$HERE/install-clis.sh" --print $CLIS 2>"$WORK/install.err"); then
		cat "$WORK/install.err" >&2
		echo "$1: SKIP: agent CLIs missing (run tests/e2e/install-clis.sh)" >&2
		exit 77
	fi
}
bin_of() { printf '%s\n' "$BINS" | awk -v n="$1" '$1 == n { print $2 }'; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

base_url_of() { # base_url_of CLI PORT: where each CLI expects the model API
	case $1 in
	claude-code | gemini) echo "http://127.0.0.1:$2" ;;
	codex | opencode) echo "http://127.0.0.1:$2/v1" ;;
	esac
}
model_of() {
	case $1 in
	claude-code) echo claude-sonnet-4-5 ;;
	codex) echo gpt-5.5 ;;
	gemini) echo gemini-2.5-pro ;;
	opencode) echo mock/mock-model ;; # a gateway: OpenAI-compatible chat completions
	esac
}

# The Secret e2e-key holding KEY and an Agent named after the CLI that
# uses it (api-key credentials), as YAML for paddock apply.
agent_objects() { # agent_objects CLI KEY
	cat <<EOT
apiVersion: v1
kind: Secret
metadata: {name: e2e-key}
stringData: {apiKey: "$2"}
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: $1}
spec:
  type: $1
  model: $(model_of "$1")
  credentials: {type: api-key, secretRef: {name: e2e-key}}
EOT
}
