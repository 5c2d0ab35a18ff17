#!/usr/bin/env python3
"""docs/cli.md's help blocks against the binary: each "### paddock CMD ..."
heading followed by a ``` block holds `paddock CMD --help` verbatim.
  docs-sync.py PADDOCK_BIN [--write]   (exit 1 listing what differs)"""
import re, subprocess, sys, os

here = os.path.dirname(os.path.abspath(__file__))
doc = os.path.join(here, '..', 'docs', 'cli.md')
binary = sys.argv[1]
write = '--write' in sys.argv[2:]
lines = open(doc).read().split('\n')
out, bad, i = [], [], 0
while i < len(lines):
    out.append(lines[i])
    m = re.match(r'^### paddock ([a-z]+(?: [a-z]+)?)', lines[i])
    if m and i + 2 < len(lines) and lines[i + 1] == '' and lines[i + 2] == '```':
        words = m.group(1).split()
        if words[0] == 'config':
            words = words[:2]
        else:
            words = words[:1]
        j = i + 3
        while j < len(lines) and lines[j] != '```':
            j += 1
        have = '\n'.join(lines[i + 3:j])
        r = subprocess.run([binary] + words + ['--help'], capture_output=True, text=True)
        want = r.stdout.rstrip('\n')
        if r.returncode != 0 or not want:
            bad.append('paddock %s --help: exit %d' % (' '.join(words), r.returncode))
        elif have != want:
            bad.append('docs/cli.md "%s" differs from paddock %s --help' % (lines[i], ' '.join(words)))
        out += ['', '```'] + want.split('\n') + ['```']
        i = j + 1
        continue
    i += 1
if write:
    open(doc, 'w').write('\n'.join(out))
for b in bad:
    print(b)
sys.exit(1 if bad and not write else 0)
