# SPDX-License-Identifier: MIT
"""A git server for tests/k8s/real, run in a pod: serves the bare
repository unpacked from /srv/repo.tar (git's "dumb" HTTP protocol, plain
files) at /repo.git/, only to requests whose Authorization is
Basic base64("x-access-token:" + $GIT_TOKEN); others get 401.  Logs one
line per request: path, status and whether a valid token came (never the
token)."""
import base64
import http.server
import os
import sys
import tarfile

ROOT = "/tmp/srv"
TOKEN = os.environ["GIT_TOKEN"]
WANT = "Basic " + base64.b64encode(("x-access-token:" + TOKEN).encode()).decode()


class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=ROOT, **k)

    def do_GET(self):
        ok = self.headers.get("Authorization") == WANT
        if not ok:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            print("GET %s 401 token=%s" % (self.path, "bad" if self.headers.get("Authorization") else "none"),
                  flush=True)
            return
        print("GET %s token=ok" % self.path, flush=True)
        super().do_GET()

    def log_message(self, *a):
        pass


os.makedirs(ROOT, exist_ok=True)
with tarfile.open("/srv/repo.tar") as t:
    t.extractall(ROOT)
port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
print("git server on %d" % port, flush=True)
http.server.ThreadingHTTPServer(("0.0.0.0", port), H).serve_forever()
