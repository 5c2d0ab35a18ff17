#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A stateful scripted GitHub REST API on 127.0.0.1 for tests/local/github.sh.

It serves the part of api.github.com the github source of Spawners uses
(issues, labels, comments, assignees), with the objects in the shapes
GitHub's OpenAPI description requires (Prism, in front, checks each
answer against it), ETags and 304s on lists, rate-limit headers, and
scripted refusals.  The test drives it through /_test/ (straight to this
server, never through Prism):

  POST /_test/issue     {repo, title, body, labels, user}  -> {number}
  POST /_test/comment   {repo, number, body, association, user}  a comment by someone
  POST /_test/label     {repo, number, label}  someone labels an issue
  POST /_test/ratelimit {remaining, reset_in}   answers say so until the reset
  POST /_test/refuse    {status: 403|429, retry_after}  the next request
  POST /_test/noetag    {}   the next list ignores If-None-Match (a retried poll)
  POST /_test/botmode   {login}  comments the tokens post from now on are by
                        login with author_association NONE (a GitHub App's
                        or bot's token)
  GET  /_test/state     issues and the request log

Each request is logged with the index of the token it carried ("who"),
so a test tells two controllers apart.

Usage: fake-github.py PORTFILE TOKEN...
"""
import hashlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

PORTFILE, TOKENS = sys.argv[1], sys.argv[2:]
lock = threading.Lock()
issues = {}  # repo -> {number: issue state}
log = []  # {t, method, path, status, inm}
state = {"remaining": 5000, "reset": int(time.time()) + 3600, "refuse": None, "noetag": False,
         "ids": 1000, "bot": None}
BASE = "https://api.github.com"


def next_id():
    state["ids"] += 1
    return state["ids"]


def user(login):
    q = quote(login)  # paddock-app[bot]: brackets are not allowed in a URI
    u = f"{BASE}/users/{q}"
    return {"login": login, "id": abs(hash(login)) % 100000 + 1, "node_id": "U_" + login,
            "avatar_url": f"https://avatars.githubusercontent.com/u/1", "gravatar_id": "",
            "url": u, "html_url": f"https://github.com/{q}", "followers_url": u + "/followers",
            "following_url": u + "/following{/other_user}", "gists_url": u + "/gists{/gist_id}",
            "starred_url": u + "/starred{/owner}{/repo}", "subscriptions_url": u + "/subscriptions",
            "organizations_url": u + "/orgs", "repos_url": u + "/repos", "events_url": u + "/events{/privacy}",
            "received_events_url": u + "/received_events", "type": "Bot" if login.endswith("[bot]") else "User",
            "site_admin": False}


def label(repo, name):
    return {"id": abs(hash(repo + name)) % 1000000 + 1, "node_id": "LA_" + name,
            "url": f"{BASE}/repos/{repo}/labels/{name}", "name": name, "description": None,
            "color": "ededed", "default": False}


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def issue_json(repo, i):
    u = f"{BASE}/repos/{repo}/issues/{i['number']}"
    return {"id": i["id"], "node_id": f"I_{i['id']}", "url": u, "repository_url": f"{BASE}/repos/{repo}",
            "labels_url": u + "/labels{/name}", "comments_url": u + "/comments", "events_url": u + "/events",
            "html_url": f"https://github.com/{repo}/issues/{i['number']}", "number": i["number"],
            "state": i["state"], "title": i["title"], "body": i["body"], "user": user(i["user"]),
            "labels": [label(repo, n) for n in i["labels"]],
            "assignee": user(i["assignees"][0]) if i["assignees"] else None,
            "assignees": [user(a) for a in i["assignees"]], "milestone": None, "locked": False,
            "comments": len(i["comments"]), "closed_at": None, "created_at": iso(i["created"]),
            "updated_at": iso(i["updated"]), "author_association": "OWNER"}


def comment_json(repo, num, c):
    return {"id": c["id"], "node_id": f"IC_{c['id']}", "url": f"{BASE}/repos/{repo}/issues/comments/{c['id']}",
            "html_url": f"https://github.com/{repo}/issues/{num}#issuecomment-{c['id']}", "body": c["body"],
            "user": user(c.get("user", "paddock-bot")), "created_at": iso(c["t"]), "updated_at": iso(c["t"]),
            "issue_url": f"{BASE}/repos/{repo}/issues/{num}", "author_association": c.get("association", "OWNER")}


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, obj=None, headers=None):
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(code)
        if obj is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(body)
        return code

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}") if n else {}

    def rate(self, cost=1):
        if time.time() >= state["reset"]:  # a new window
            state["remaining"], state["reset"] = 5000, int(time.time()) + 3600
        state["remaining"] = max(0, state["remaining"] - cost)
        return {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": str(state["remaining"]),
                "X-RateLimit-Reset": str(state["reset"]), "X-RateLimit-Used": "1",
                "X-RateLimit-Resource": "core"}

    def test_api(self, method, path):
        if method == "GET" and path == "/_test/state":
            return self.send(200, {"issues": {r: {str(n): i for n, i in v.items()} for r, v in issues.items()},
                                   "log": log, "reset": state["reset"]})
        b = self.body()
        if path == "/_test/issue":
            repo = b["repo"]
            n = len(issues.setdefault(repo, {})) + 1
            now = time.time()
            issues[repo][n] = {"number": n, "id": next_id(), "title": b.get("title", "t"), "body": b.get("body", ""),
                               "labels": list(b.get("labels", [])), "assignees": [], "state": "open",
                               "user": b.get("user", "alice"), "comments": [], "created": now, "updated": now}
            return self.send(201, {"number": n})
        if path == "/_test/comment":
            i = issues[b["repo"]][b["number"]]
            i["comments"].append({"id": next_id(), "body": b["body"], "t": time.time(),
                                  "association": b.get("association", "NONE"), "user": b.get("user", "mallory")})
            return self.send(201, {})
        if path == "/_test/label":
            issues[b["repo"]][b["number"]]["labels"].append(b["label"])
            return self.send(200, {})
        if path == "/_test/ratelimit":
            state["remaining"] = b["remaining"]  # answers say so until the reset
            state["reset"] = int(time.time() + b.get("reset_in", 3600))
            return self.send(200, {})
        if path == "/_test/refuse":
            state["refuse"] = b
            return self.send(200, {})
        if path == "/_test/noetag":
            state["noetag"] = True
            return self.send(200, {})
        if path == "/_test/botmode":
            state["bot"] = b["login"]
            return self.send(200, {})
        return self.send(404, {"message": "no such test call"})

    def handle_any(self, method):
        u = urlsplit(self.path)
        path, q = unquote(u.path), parse_qs(u.query)
        with lock:
            if path.startswith("/_test/"):
                return self.test_api(method, path)
            entry = {"t": time.time(), "method": method, "path": path, "query": u.query,
                     "inm": self.headers.get("If-None-Match")}
            log.append(entry)
            entry["status"] = self.route(method, path, q)

    def route(self, method, path, q):
        auth = self.headers.get("Authorization") or ""
        who = [i for i, t in enumerate(TOKENS) if auth == "Bearer " + t]
        log[-1]["who"] = who[0] if who else -1
        if not who:
            return self.send(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        if state["refuse"]:
            r, state["refuse"] = state["refuse"], None
            h = self.rate(0)
            if r.get("retry_after") is not None:
                h["Retry-After"] = str(r["retry_after"])
            return self.send(r["status"], {"message": "You have exceeded a secondary rate limit.",
                                           "documentation_url": "https://docs.github.com/rest"}, h)
        parts = path.strip("/").split("/")
        if len(parts) < 4 or parts[0] != "repos" or parts[3] != "issues":
            return self.send(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
        repo = parts[1] + "/" + parts[2]
        iss = issues.setdefault(repo, {})
        if len(parts) == 4 and method == "GET":
            want = [x for x in q.get("labels", [""])[0].split(",") if x]
            asg = q.get("assignee", [None])[0]
            out = [issue_json(repo, i) for n, i in sorted(iss.items())
                   if i["state"] == "open" and all(w in i["labels"] for w in want)
                   and (asg is None or (asg == "none" and not i["assignees"]) or (asg == "*" and i["assignees"])
                        or asg in i["assignees"])]
            etag = 'W/"' + hashlib.sha256(json.dumps(out, sort_keys=True).encode()).hexdigest()[:32] + '"'
            if self.headers.get("If-None-Match") == etag and not state["noetag"]:
                return self.send(304, None, dict(self.rate(0), ETag=etag))
            state["noetag"] = False
            return self.send(200, out, dict(self.rate(), ETag=etag))
        num = int(parts[4]) if len(parts) > 4 and parts[4].isdigit() else 0
        i = iss.get(num)
        if not i:
            return self.send(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
        tail = parts[5:]
        if not tail and method == "GET":
            return self.send(200, issue_json(repo, i), self.rate())
        if tail == ["comments"] and method == "GET":
            return self.send(200, [comment_json(repo, num, c) for c in i["comments"]], self.rate())
        if tail == ["comments"] and method == "POST":
            c = {"id": next_id(), "body": self.body()["body"], "t": time.time()}
            if state["bot"]:
                c.update(user=state["bot"], association="NONE")
            i["comments"].append(c)
            i["updated"] = time.time()
            return self.send(201, comment_json(repo, num, c),
                             dict(self.rate(), Location=f"{BASE}/repos/{repo}/issues/comments/{c['id']}"))
        if tail == ["labels"] and method == "POST":
            for n in self.body().get("labels", []):
                n = n if isinstance(n, str) else n["name"]
                if n not in i["labels"]:
                    i["labels"].append(n)
            i["updated"] = time.time()
            return self.send(200, [label(repo, n) for n in i["labels"]], self.rate())
        if len(tail) == 2 and tail[0] == "labels" and method == "DELETE":
            if tail[1] not in i["labels"]:
                return self.send(404, {"message": "Label does not exist",
                                       "documentation_url": "https://docs.github.com/rest"}, self.rate())
            i["labels"].remove(tail[1])
            i["updated"] = time.time()
            return self.send(200, [label(repo, n) for n in i["labels"]], self.rate())
        if tail == ["assignees"] and method == "POST":
            for a in self.body().get("assignees", []):
                a = a if isinstance(a, str) else a["login"]
                if a not in i["assignees"]:
                    i["assignees"].append(a)
            i["updated"] = time.time()
            return self.send(201, issue_json(repo, i), self.rate())
        return self.send(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
