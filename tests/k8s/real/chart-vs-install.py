# SPDX-License-Identifier: MIT
"""The Helm chart and `paddock install --dry-run` must deploy the same
controller: same RBAC rules, same controller container (args, env,
securityContext, mounts, resources).  argv: helm chart-dir paddock."""
import subprocess
import sys

import yaml

helm, chart, paddock = sys.argv[1:4]


def docs(text):
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(text) if d}


h = docs(subprocess.run([helm, "template", "paddock", chart, "-n", "paddock-system"],
                        capture_output=True, text=True, check=True).stdout)
p = docs(subprocess.run([paddock, "install", "--dry-run", "--image", "ghcr.io/paddock/controller:0.1.0"],
                        capture_output=True, text=True, check=True).stdout)
errs = []
for k in [("ClusterRole", "paddock-controller"), ("Role", "paddock-leader-election")]:
    if k not in h or k not in p or h[k]["rules"] != p[k]["rules"]:
        errs.append("%s %s rules differ" % k)
dep = ("Deployment", "paddock-controller")
hc = h[dep]["spec"]["template"]["spec"]["containers"][0]
pc = p[dep]["spec"]["template"]["spec"]["containers"][0]
for f in ["image", "args", "securityContext", "volumeMounts", "env", "resources", "ports"]:
    if hc.get(f) != pc.get(f):
        errs.append("container %s differs: %r != %r" % (f, hc.get(f), pc.get(f)))
if h[dep]["spec"]["replicas"] != p[dep]["spec"]["replicas"]:
    errs.append("replicas differ")
if errs:
    print("  " + "; ".join(errs), file=sys.stderr)
    sys.exit(1)
