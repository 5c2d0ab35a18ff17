# SPDX-License-Identifier: MIT
"""bench/k8sclient.py - what the Kubernetes benches (bench/k8s.sh,
bench/kelos.sh) share: a client of a tests/k8s/env.sh control plane (its
admin certificate), a watch that reopens where it left off, and the
/proc readers for a process's memory and CPU.  Call init(CLUSTER_DIR)
first."""
import http.client, json, os, ssl, sys, time

HOST, PORT, _ctx = "127.0.0.1", 0, None

def init(cluster):
    """The API server of the control plane in directory `cluster`."""
    global PORT, _ctx
    ports = dict(l.strip().split("=", 1) for l in open(os.path.join(cluster, "ports.env")) if "=" in l)
    PORT = int(ports["APISERVER_PORT"])
    pki = os.path.join(cluster, "pki")
    _ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
    _ctx.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))

def conn(timeout=30):
    return http.client.HTTPSConnection(HOST, PORT, context=_ctx, timeout=timeout)

def proc_status(pid, key):
    """A /proc/PID/status figure in kB (VmRSS, VmHWM, RssAnon ...), 0 if gone."""
    try:
        for l in open("/proc/%s/status" % pid):
            if l.startswith(key + ":"):
                return int(l.split()[1])
    except OSError:
        pass
    return 0

def cpu_s(pid):
    """utime + stime of a process in seconds, 0.0 if gone."""
    try:
        f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0

def watch(path, on_event, ready):
    """Forever: watch `path`, on_event(type, object, monotonic time) for
    each event; `ready` (a threading.Event) set once the watch is open;
    reopened from the last resourceVersion (from now after an ERROR)."""
    rv = None
    while True:
        try:
            c = conn(timeout=None)
            q = "?watch=1&timeoutSeconds=3600" + ("&resourceVersion=" + rv if rv else "")
            c.request("GET", path + q)
            r = c.getresponse()
            if r.status != 200:
                raise OSError("watch %s: HTTP %d" % (path, r.status))
            ready.set()
            while True:
                line = r.readline()
                if not line:
                    break
                now = time.monotonic()
                ev = json.loads(line)
                if ev.get("type") == "ERROR":
                    rv = None
                    break
                obj = ev.get("object", {})
                rv = obj.get("metadata", {}).get("resourceVersion", rv)
                on_event(ev["type"], obj, now)
            c.close()
        except (OSError, http.client.HTTPException, ValueError) as e:
            print("# watch %s: %s; reopening" % (path, e), file=sys.stderr)
            time.sleep(0.5)

def post(c, path, body, name):
    """POST `body` (JSON text) to `path`, three tries; returns (the
    connection to reuse, monotonic time of the 201, or None)."""
    for attempt in range(3):
        try:
            c.request("POST", path, body, {"Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            t = time.monotonic()
            if r.status == 201:
                return c, t
            raise OSError("HTTP %d: %s" % (r.status, data[:300]))
        except (OSError, http.client.HTTPException) as e:
            print("# POST %s: %s (attempt %d)" % (name, e, attempt + 1), file=sys.stderr)
            c.close()
            c = conn()
            time.sleep(0.2)
    return c, None
