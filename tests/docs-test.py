#!/usr/bin/env python3
"""The docs test (issue 15): every shell command in README.md and docs/*.md
that starts with `paddock` runs against a scratch state (its own state
dir, config and HOME) and does not fail with a usage error (exit 2) or an
unknown option or command.  Usage synopses (NAME, FILE, [...], a|b) are
not commands.  Examples that need a cluster, a model key or a daemon are
skipped, each with its reason printed; a block can be skipped by hand with
<!-- docs-test: skip REASON --> on the line before it.  Then docs/cli.md's
help blocks are compared with each command's --help (docs-sync.py).

  docs-test.py PADDOCK_BIN TOP_SRCDIR TOP_BUILDDIR
"""
import glob, os, re, shlex, subprocess, sys, tempfile

binary, top, build = sys.argv[1:4]
docs = [os.path.join(top, 'README.md')] + sorted(glob.glob(os.path.join(top, 'docs', '*.md')))

work = tempfile.mkdtemp(prefix='paddock-docs.')
os.makedirs(os.path.join(work, 'etc'))
os.makedirs(os.path.join(work, 'home'))
cfg = os.path.join(work, 'etc', 'paddock.yaml')
with open(cfg, 'w') as f:
    f.write('isolation: bwrap\nlog: {level: warn}\ncontroller: {listen: "127.0.0.1:0"}\n'
            'drivers: {exec: {enabled: true}}\n'
            'contexts: {text: {enabled: true}, configmap: {enabled: true}}\n')
env = dict(os.environ, PADDOCK_STATE_DIR=os.path.join(work, 'state'), PADDOCK_CONFIG=cfg,
           PADDOCK_DATA_DIR=top, HOME=os.path.join(work, 'home'), XDG_CONFIG_HOME='',
           PADDOCK_PLUGIN_PATH=os.path.join(build, 'drivers', '.libs') + ':' +
           os.path.join(build, 'contexts', '.libs'))
for k in ('ANTHROPIC_API_KEY', 'CODEX_API_KEY', 'GEMINI_API_KEY', 'OPENCODE_API_KEY',
          'PADDOCK_API_KEY', 'PADDOCK_NAMESPACE', 'KUBECONFIG'):
    env.pop(k, None)

SYNOPSIS = re.compile(r'\b[A-Z][A-Z_]{2,}\b|\[|\]|\.\.\.|\(.*\|.*\)|\|\s*$')
AGENT_DRIVERS = ('claude-code', 'codex', 'gemini', 'opencode')


def commands(path):
    """(line number, command text, skip reason or None) for each paddock command."""
    lines = open(path).read().split('\n')
    in_code, help_block, fence_skip, pending_skip = False, False, None, None
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r'\s*<!-- docs-test: skip (.*?) -->', line)
        if m:
            pending_skip = m.group(1)
            i += 1
            continue
        if line.strip().startswith('```'):
            in_code = not in_code
            fence_skip = pending_skip if in_code else None
            pending_skip = None
            help_block = in_code and i + 1 < len(lines) and lines[i + 1].startswith('Usage:')
            i += 1
            continue
        indented = line.startswith('    ') and not in_code
        text = line.strip()
        # In a --help text, only the examples (indented) are commands.
        if help_block and not line.startswith('  '):
            text = ''
        if (in_code or indented) and re.match(r'(\$ )?paddock( |$)', text):
            n = i + 1
            while text.endswith('\\') and i + 1 < len(lines):
                i += 1
                text = text[:-1] + ' ' + lines[i].strip()
            text = re.sub(r'^\$ ', '', text)
            for part in re.split(r'\s{2,}(?=paddock )', text):
                yield n, part, fence_skip or pending_skip
            if not in_code:
                pending_skip = None
        i += 1


def why_skip(cmd):
    if '--kubeconfig' in cmd or ' --context ' in cmd:
        return 'needs a Kubernetes cluster'
    words = cmd.split()
    if 'controller' in words:
        return 'the controller daemon runs until SIGTERM'
    if len(words) > 1 and words[1] == 'install' and '--apply' in cmd:
        return 'applies to a cluster with kubectl'
    if ' -f ' in ' ' + cmd + ' ' and words[1] == 'logs' or '--follow' in cmd:
        return 'follows a task until it ends'
    if words[1] == 'init':
        return None
    for d in AGENT_DRIVERS:
        if re.search(r'--type[ =]' + d + r'\b', cmd) and '--credentials none' not in cmd:
            return 'needs a model API key for ' + d
    if '--type hello' in cmd:
        return 'needs the out-of-tree example driver installed'
    return None


failed, ran, skipped = [], 0, 0
for path in docs:
    rel = os.path.relpath(path, top)
    for n, text, fence_skip in commands(path):
        cmd = re.split(r'\s+#\s|\s\|\s|\s&&\s|;\s', text)[0].strip()
        if SYNOPSIS.search(cmd):
            continue  # a usage synopsis, not a command
        reason = fence_skip or why_skip(cmd)
        if reason:
            print('SKIP %s:%d: %s (%s)' % (rel, n, cmd, reason))
            skipped += 1
            continue
        try:
            argv = shlex.split(cmd)
        except ValueError as e:
            failed.append('%s:%d: %s: cannot be parsed as a shell command: %s' % (rel, n, cmd, e))
            continue
        argv[0] = binary
        try:
            r = subprocess.run(argv, cwd=top, env=env, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, errors="replace", timeout=60)
            rc, err = r.returncode, r.stderr
        except subprocess.TimeoutExpired:
            rc, err = 124, ''
        ran += 1
        bad = rc == 2 or re.search(r'unknown (option|command)|unexpected argument', err)
        if bad:
            failed.append('%s:%d: %s: exit %d: %s' % (rel, n, cmd, rc, err.strip().split('\n')[0]))
        else:
            print('ok   %s:%d: %s (exit %d)' % (rel, n, cmd, rc))

sync = subprocess.run([sys.executable, os.path.join(top, 'tests', 'docs-sync.py'), binary],
                      capture_output=True, text=True)
if sync.returncode != 0:
    failed += sync.stdout.strip().split('\n')
subprocess.run(['rm', '-rf', work])
for f in failed:
    print('FAIL ' + f)
print('docs-test: %d commands ran, %d skipped with a reason, %d failed' % (ran, skipped, len(failed)))
sys.exit(1 if failed else 0)
