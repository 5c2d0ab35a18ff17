#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A private git repository over smart HTTP, for tests only.

Serves the repositories under --root through the real `git http-backend`
(CGI) on 127.0.0.1, and only to requests carrying
`Authorization: Basic base64(<any user>:<token>)`, the token coming from
the environment variable GIT_TEST_TOKEN; everything else gets
401.  It writes its port to --port-file once listening and exits after
--lifetime seconds whatever happens, so a crashed test leaves nothing.
Each request is appended to --log (method, path, status, and whether
auth was present; never the header itself).
"""
import argparse
import base64
import http.server
import os
import subprocess
import sys
import threading

BACKEND = "/usr/lib/git-core/git-http-backend"


def make_handler(root, token, log):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, fmt, *args):  # keep stderr quiet
            pass

        def _authorized(self):
            h = self.headers.get("Authorization", "")
            if not h.startswith("Basic "):
                return False
            try:
                user_pass = base64.b64decode(h[6:], validate=True).decode()
            except Exception:
                return False
            _, _, pw = user_pass.partition(":")
            return pw == token

        def _record(self, status):
            if log:
                with open(log, "a") as f:
                    f.write("%s %s %d auth=%s\n" % (self.command, self.path, status,
                                                     "yes" if "Authorization" in self.headers else "no"))

        def _serve(self):
            if not self._authorized():
                self._record(401)
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="paddock-test"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path, _, query = self.path.partition("?")
            body = b""
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                body = b"".join(chunks)
            else:
                n = int(self.headers.get("Content-Length", "0") or "0")
                body = self.rfile.read(n) if n > 0 else b""
            env = {
                "PATH": "/usr/bin:/bin",
                "GIT_PROJECT_ROOT": root,
                "GIT_HTTP_EXPORT_ALL": "1",
                "GATEWAY_INTERFACE": "CGI/1.1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": "test",
                "REMOTE_ADDR": "127.0.0.1",
            }
            # Git-Protocol is not passed on: the server speaks protocol v0,
            # the strictest (no fetch of an unadvertised commit by SHA).
            if "Content-Encoding" in self.headers:
                env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
            p = subprocess.run([BACKEND], input=body, env=env, capture_output=True, timeout=60)
            head, _, payload = p.stdout.partition(b"\r\n\r\n")
            if not _:
                head, _, payload = p.stdout.partition(b"\n\n")
            status = 200
            headers = []
            for line in head.decode("latin-1").splitlines():
                k, _, v = line.partition(":")
                if k.lower() == "status":
                    status = int(v.strip().split()[0])
                elif k:
                    headers.append((k, v.strip()))
            self._record(status)
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _serve
        do_POST = _serve

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--lifetime", type=float, default=120)
    ap.add_argument("--log")
    a = ap.parse_args()
    token = os.environ.get("GIT_TEST_TOKEN")
    if not token:
        sys.exit("git-http-server: set GIT_TEST_TOKEN (not an argument: argv is public)")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(a.root, token, a.log))
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    t = threading.Timer(a.lifetime, lambda: os._exit(0))
    t.daemon = True
    t.start()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
