#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Judge Prism's log for tests/local/github.sh.

Every "Violation" Prism logged, and every request it refused, fails the
suite, with one exception counted exactly: GitHub answers 304 (a
conditional request), 403 and 429 (rate limits) on operations whose
description does not list those codes (they are documented in GitHub's
guides on conditional requests and rate limits, not per operation); Prism
logs each as "Unable to match the returned status code".  Their number must
equal the number of such answers in the scripted server's log: one more
is a real violation.

Usage: check-prism.py SPEC PRISM_LOG STATE_JSON
"""
import json
import re
import sys

spec = json.load(open(sys.argv[1]))
lines = open(sys.argv[2], encoding="utf-8", errors="replace").read().splitlines()
log = json.load(open(sys.argv[3]))["log"]

templates = []
for path, ops in spec["paths"].items():
    rx = "^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"
    templates.append((re.compile(rx), path.count("{"), ops))


def declared(method, path):
    best = None
    for rx, nvars, ops in templates:
        if rx.match(path) and method.lower() in ops:
            if best is None or nvars < best[0]:  # the most literal template
                best = (nvars, ops[method.lower()])
    return set(best[1]["responses"]) if best else None


expected = 0
unknown = []
for e in log:
    codes = declared(e["method"], e["path"])
    if codes is None:
        unknown.append(f"{e['method']} {e['path']}")
    elif str(e.get("status")) not in codes:
        if e.get("status") in (304, 403, 429):
            expected += 1
        else:
            unknown.append(f"{e['method']} {e['path']} answered {e.get('status')}, not in {sorted(codes)}")

status_lines = [l for l in lines if "Unable to match the returned status code" in l]
other = [l for l in lines if ("Violation" in l or "✖" in l)
         and "Unable to match the returned status code" not in l]
ok = True
if unknown:
    print("check-prism: requests to operations the description lacks or answers it does not allow:")
    print("\n".join("  " + u for u in unknown[:20]))
    ok = False
if other:
    print("check-prism: Prism reported:")
    print("\n".join("  " + l for l in other[:20]))
    ok = False
if len(status_lines) != expected:
    print(f"check-prism: {len(status_lines)} undeclared-status reports, expected {expected} "
          "(304/403/429 answers on operations not listing them)")
    ok = False
print(f"check-prism: {len(log)} requests through Prism, {expected} documented 304/403/429 answers "
      f"outside the description, {len(other)} other reports")
sys.exit(0 if ok else 1)
