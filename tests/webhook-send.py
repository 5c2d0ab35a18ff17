#!/usr/bin/env python3
"""tests/webhook-send.py - deliver real GitHub webhook payloads (npm
@octokit/webhooks-examples) to a Spawner's hook, signed as GitHub signs
them (X-Hub-Signature-256: HMAC-SHA256 of the body with the secret).

  webhook-send.py EXAMPLES_DIR PORTFILE URLPATH SECRET EVENT ACTION ID [options]

PORTFILE: a controller log; the port is the last "port=N" in it (read
again on every try, so a restarted controller is found).  Prints the
HTTP status and the reply.  Options:
  --sig bad|none   a wrong signature, or none
  --ctype TYPE     Content-Type (default application/json)
  --pad N          add a field of N bytes to the body
  --set PATH=VALUE set a string field of the payload (issue.title=...)
  --setint PATH=N  set an integer field
  --comment TEXT   the comment body (issue_comment)
  --repeat N       send the same delivery N times (prints each status)
  --as hmac|bearer a generic source: X-Delivery-Id, and X-Signature-256 or
                   Authorization: Bearer SECRET
  --series N       send N deliveries ID-1..ID-N with issue.number 1..N,
                   each retried (connection refused, 5xx) until answered,
                   at most --tries times; PROGRESS file gets the count
"""
import argparse
import hashlib
import hmac
import http.client
import json
import os
import re
import socket
import sys
import time


def load_example(root, event, action):
    with open(os.path.join(root, "api.github.com", "index.json")) as f:
        index = json.load(f)
    for e in index:
        if e["name"] == event:
            for ex in e["examples"]:
                if ex.get("action") == action:
                    return ex
    sys.exit(f"no example of {event}.{action}")


def set_path(o, path, value):
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for k in keys[:-1]:
        o = o[k]
    o[keys[-1]] = value


def port_of(portfile):
    with open(portfile) as f:
        ports = re.findall(r"port=(\d+)", f.read())
    return int(ports[-1]) if ports else None


def send(port, path, body, headers):
    """One request; a server that answers before reading the whole body
    (413) closes while we send: its answer is read all the same."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        head += f"Content-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        try:
            s.sendall(head.encode() + body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = http.client.HTTPResponse(s)
        r.begin()
        return r.status, r.read().decode(errors="replace").strip()
    finally:
        s.close()


def main():
    ap = argparse.ArgumentParser()
    for a in ("root", "portfile", "path", "secret", "event", "action", "id"):
        ap.add_argument(a)
    ap.add_argument("--sig", choices=("good", "bad", "none"), default="good")
    ap.add_argument("--ctype", default="application/json")
    ap.add_argument("--pad", type=int, default=0)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--setint", action="append", default=[])
    ap.add_argument("--comment")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--series", type=int, default=0)
    ap.add_argument("--tries", type=int, default=400)
    ap.add_argument("--progress")
    ap.add_argument("--as", dest="style", choices=("github", "hmac", "bearer"), default="github",
                    help="github (default); a generic source signed (X-Signature-256) or with a bearer token")
    a = ap.parse_args()
    payload = load_example(a.root, a.event, a.action)
    for kv in a.set:
        k, v = kv.split("=", 1)
        set_path(payload, k, v)
    for kv in a.setint:
        k, v = kv.split("=", 1)
        set_path(payload, k, int(v))
    if a.comment is not None:
        payload["comment"]["body"] = a.comment
    if a.pad:
        payload["padding"] = "x" * a.pad

    def delivery(p, did):
        body = json.dumps(p).encode()
        if a.style == "github":
            h = {"Content-Type": a.ctype, "X-GitHub-Event": a.event, "X-GitHub-Delivery": did,
                 "User-Agent": "GitHub-Hookshot/test"}
        else:
            h = {"Content-Type": a.ctype, "X-Delivery-Id": did}
        if a.sig != "none" and a.style == "bearer":
            h["Authorization"] = "Bearer " + (a.secret if a.sig == "good" else a.secret + "x")
        elif a.sig != "none":
            mac = hmac.new(a.secret.encode(), body, hashlib.sha256).hexdigest()
            if a.sig == "bad":
                mac = mac[:-1] + ("0" if mac[-1] != "0" else "1")
            h["X-Hub-Signature-256" if a.style == "github" else "X-Signature-256"] = "sha256=" + mac
        return body, h

    if a.series:
        for i in range(1, a.series + 1):
            payload["issue"]["number"] = i
            payload["issue"]["title"] = f"event {i}"
            body, h = delivery(payload, f"{a.id}-{i}")
            for t in range(a.tries):
                try:
                    port = port_of(a.portfile)
                    st, txt = send(port, a.path, body, h) if port else (None, "")
                    if st is not None and st < 500:
                        break
                except OSError:
                    pass
                time.sleep(0.05)
            else:
                sys.exit(f"event {i}: no answer after {a.tries} tries")
            if st not in (200, 202):
                sys.exit(f"event {i}: {st} {txt}")
            if a.progress:
                with open(a.progress + ".tmp", "w") as f:
                    f.write(str(i))
                os.replace(a.progress + ".tmp", a.progress)
        print(f"{a.series} events delivered")
        return
    body, h = delivery(payload, a.id)
    for _ in range(a.repeat):
        st, txt = send(port_of(a.portfile), a.path, body, h)
        print(st, txt)


if __name__ == "__main__":
    main()
