#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""model_server.py - ONE scripted model server for the agent CLI e2e tests.

Listens on 127.0.0.1 only and speaks just enough of four wire protocols:

  Anthropic Messages   HEAD / (preflight), POST /v1/messages[?beta=true] (SSE or JSON),
                       POST /v1/messages/count_tokens
  OpenAI Responses     POST /v1/responses (SSE)                      (codex)
  Gemini               POST /v1beta/models/<m>:streamGenerateContent?alt=sse,
                       POST /v1beta/models/<m>:generateContent, :countTokens
  Chat completions     POST /v1/chat/completions (SSE or JSON)       (opencode)
  Models list          GET /v1/models

Stateless script: if the request offers tools, a user turn contains
TOOLTEST and there is no tool result yet, the reply is ONE tool call that
writes FILE_CONTENT into the file named in the prompt after
"PADDOCK_TOOL_PATH=" (an absolute path in the workspace); otherwise the
reply is the text SCRIPTED_OK.

Modes: normal (default) or --fail-401 (or MODEL_SERVER_MODE=fail-401): every
model request gets HTTP 401 in the protocol's own error shape.

Each request is logged as one JSON line to --log FILE: method, path, the
NAMES of the auth headers present (never their values) and the sha256 of
each credential ("Bearer " stripped), whether tools were offered and what
was replied, "time" (when logged, ms) and "arrived" (when the request line
was read, us: the stamp bench/agent-start.sh measures a CLI's start to).

Usage: model_server.py [--port N] [--fail-401] [--log FILE] [--port-file FILE]
                       [--lifetime SECONDS] [--host ADDR (default 127.0.0.1)]
Prints "PORT <n>" on stdout once listening.  Exits after --lifetime seconds
(default 900) so a forgotten server cannot outlive a test run.
"""
import argparse
import hashlib
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FILE_CONTENT = "PADDOCK_E2E_FILE_OK\n"
TEXT = "SCRIPTED_OK"
MAX_BODY = 32 * 1024 * 1024
AUTH_HEADERS = ("authorization", "x-api-key", "x-goog-api-key", "api-key",
                "proxy-authorization", "cookie")
PATH_RE = re.compile(r"PADDOCK_TOOL_PATH=(/[^\s\"'\\<>]+)")

MODE = "normal"
LOG_LOCK = threading.Lock()
LOG_FILE = None
USAGE_IN, USAGE_OUT = 12, 7


def key_digest(value):
    """sha256 (hex) of an auth header's credential, "Bearer " stripped: lets
    a test check WHICH key arrived without the key being logged."""
    v = value.strip()
    if v.lower().startswith("bearer "):
        v = v[7:].strip()
    return hashlib.sha256(v.encode()).hexdigest()


def log_request(entry):
    if not LOG_FILE:
        return
    with LOG_LOCK:
        with open(LOG_FILE, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")


def text_of(content):
    """Concatenate the text of a message content (string or list of parts)."""
    if isinstance(content, str):
        return content
    out = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict):
                for k in ("text", "input_text"):
                    if isinstance(part.get(k), str):
                        out.append(part[k])
                if isinstance(part.get("content"), (str, list)):
                    out.append(text_of(part["content"]))
            elif isinstance(part, str):
                out.append(part)
    return "\n".join(out)


def analyse(api, body):
    """Return (offers_tools, user_text, has_tool_result, tool_names)."""
    tools, user, has_result = [], [], False
    if api == "anthropic":
        tools = [t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
        for m in body.get("messages") or []:
            c = m.get("content")
            if m.get("role") == "user":
                if isinstance(c, list) and any(isinstance(p, dict) and p.get("type") == "tool_result" for p in c):
                    has_result = True
                user.append(text_of(c))
    elif api == "responses":
        tools = [t.get("name") or t.get("type") for t in body.get("tools") or [] if isinstance(t, dict)]
        inp = body.get("input")
        if isinstance(inp, str):
            user.append(inp)
        for it in inp if isinstance(inp, list) else []:
            if not isinstance(it, dict):
                continue
            if it.get("type") in ("function_call_output", "custom_tool_call_output"):
                has_result = True
            if it.get("role") == "user":
                user.append(text_of(it.get("content")))
    elif api == "gemini":
        for t in body.get("tools") or []:
            for fd in (t or {}).get("functionDeclarations") or []:
                tools.append(fd.get("name"))
        for c in body.get("contents") or []:
            parts = c.get("parts") or []
            if any(isinstance(p, dict) and "functionResponse" in p for p in parts):
                has_result = True
            if c.get("role") == "user":
                user.append(text_of(parts))
    elif api == "chat":
        tools = [((t or {}).get("function") or {}).get("name") for t in body.get("tools") or []]
        for m in body.get("messages") or []:
            if m.get("role") == "tool":
                has_result = True
            if m.get("role") == "user":
                user.append(text_of(m.get("content")))
    return bool(tools), "\n".join(user), has_result, [t for t in tools if t]


def want_tool(api, body):
    offers, user, has_result, names = analyse(api, body)
    if not offers or "TOOLTEST" not in user or has_result:
        return None, names
    m = PATH_RE.search(user)
    path = m.group(1) if m else os.path.join(os.getcwd(), "out.txt")
    return path, names


def sse(events):
    out = []
    for name, data in events:
        if name:
            out.append("event: %s\n" % name)
        out.append("data: %s\n\n" % (data if isinstance(data, str) else json.dumps(data)))
    return "".join(out).encode()


# ---- Anthropic --------------------------------------------------------

def anthropic_reply(body, path):
    model = body.get("model", "mock")
    usage = {"input_tokens": USAGE_IN, "output_tokens": 1}
    if path:
        block = {"type": "tool_use", "id": "toolu_1", "name": "Write", "input": {}}
        delta = {"type": "input_json_delta",
                 "partial_json": json.dumps({"file_path": path, "content": FILE_CONTENT})}
        stop = "tool_use"
        full = dict(block, input={"file_path": path, "content": FILE_CONTENT})
    else:
        block = {"type": "text", "text": ""}
        delta = {"type": "text_delta", "text": TEXT}
        stop = "end_turn"
        full = {"type": "text", "text": TEXT}
    if not body.get("stream"):
        return "application/json", json.dumps({
            "id": "msg_1", "type": "message", "role": "assistant", "model": model,
            "content": [full], "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": USAGE_IN, "output_tokens": USAGE_OUT}}).encode()
    return "text/event-stream", sse([
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": usage}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                           "usage": {"output_tokens": USAGE_OUT}}),
        ("message_stop", {"type": "message_stop"}),
    ])


# ---- OpenAI Responses (codex) -----------------------------------------

def responses_reply(body, path, names):
    if path:
        if "apply_patch" in names:
            rel = os.path.basename(path)
            item = {"type": "custom_tool_call", "id": "ctc_1", "status": "completed", "call_id": "call_1",
                    "name": "apply_patch",
                    "input": "*** Begin Patch\n*** Add File: %s\n+%s*** End Patch\n" % (rel, FILE_CONTENT)}
        else:
            cmd = "printf '%s' > '%s'" % (FILE_CONTENT.replace("\n", "\\n"), path)
            name = "exec_command" if "exec_command" in names or not names else (
                "shell" if "shell" in names else names[0])
            args = {"cmd": cmd} if name == "exec_command" else {"command": ["sh", "-c", cmd]}
            item = {"type": "function_call", "id": "fc_1", "status": "completed", "call_id": "call_1",
                    "name": name, "arguments": json.dumps(args)}
    else:
        item = {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": TEXT, "annotations": []}]}
    resp = {"id": "resp_1", "object": "response", "created_at": int(time.time()),
            "status": "in_progress", "model": body.get("model", "mock"), "output": []}
    done = dict(resp, status="completed", output=[item], usage={
        "input_tokens": USAGE_IN, "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": USAGE_OUT, "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": USAGE_IN + USAGE_OUT})
    events = [("response.created", {"type": "response.created", "sequence_number": 0, "response": resp}),
              ("response.output_item.added", {"type": "response.output_item.added", "sequence_number": 1,
                                              "output_index": 0, "item": item})]
    if item["type"] == "message":
        events.append(("response.output_text.delta", {
            "type": "response.output_text.delta", "sequence_number": 2, "item_id": "msg_1",
            "output_index": 0, "content_index": 0, "delta": TEXT}))
    events += [("response.output_item.done", {"type": "response.output_item.done", "sequence_number": 3,
                                              "output_index": 0, "item": item}),
               ("response.completed", {"type": "response.completed", "sequence_number": 4, "response": done})]
    return "text/event-stream", sse(events)


# ---- Gemini -----------------------------------------------------------

def gemini_reply(body, path, stream):
    if path:
        part = {"functionCall": {"name": "write_file", "args": {"file_path": path, "content": FILE_CONTENT}}}
    else:
        gc = body.get("generationConfig") or {}
        if "json" in str(gc.get("responseMimeType", "")):
            # Side requests (model router, next-speaker check) want JSON.
            part = {"text": json.dumps({"complexity_reasoning": "simple task", "complexity_score": 1,
                                        "reasoning": "done", "next_speaker": "user"})}
        else:
            part = {"text": TEXT}
    doc = {"candidates": [{"content": {"parts": [part], "role": "model"}, "finishReason": "STOP", "index": 0}],
           "usageMetadata": {"promptTokenCount": USAGE_IN, "candidatesTokenCount": USAGE_OUT,
                             "totalTokenCount": USAGE_IN + USAGE_OUT},
           "modelVersion": "mock"}
    if stream:
        return "text/event-stream", sse([(None, doc)])
    return "application/json", json.dumps(doc).encode()


# ---- Chat completions (opencode) ---------------------------------------

def chat_reply(body, path, names):
    model = body.get("model", "mock")
    if path:
        name = "write" if "write" in names or not names else names[0]
        call = {"index": 0, "id": "call_1", "type": "function",
                "function": {"name": name, "arguments": json.dumps({"filePath": path, "content": FILE_CONTENT})}}
        delta = {"role": "assistant", "content": None, "tool_calls": [call]}
        finish = "tool_calls"
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
    else:
        delta = {"role": "assistant", "content": TEXT}
        finish = "stop"
        message = {"role": "assistant", "content": TEXT}
    usage = {"prompt_tokens": USAGE_IN, "completion_tokens": USAGE_OUT, "total_tokens": USAGE_IN + USAGE_OUT}
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    if not body.get("stream"):
        return "application/json", json.dumps({
            "id": "chatcmpl-1", "object": "chat.completion", "created": base["created"], "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage}).encode()
    return "text/event-stream", sse([
        (None, dict(base, choices=[{"index": 0, "delta": delta, "finish_reason": None}])),
        (None, dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": finish}])),
        (None, dict(base, choices=[], usage=usage)),
        (None, "[DONE]"),
    ])


ERR_401 = {
    "anthropic": {"type": "error", "error": {"type": "authentication_error", "message": "Invalid API key"}},
    "responses": {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                            "code": "invalid_api_key"}},
    "chat": {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                       "code": "invalid_api_key"}},
    "gemini": {"error": {"code": 401, "message": "API key not valid. Please pass a valid API key.",
                         "status": "UNAUTHENTICATED"}},
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "paddock-model-server/1"

    def log_message(self, fmt, *args):  # quiet: the JSON log is the record
        pass

    def parse_request(self):
        # Right after the request line was read, before the headers and
        # the body: when the request reached the server.
        self.arrived = time.time()
        return super().parse_request()

    def entry(self, **kw):
        e = {"method": self.command, "path": self.path,
             "auth_headers": sorted(h.lower() for h in self.headers.keys() if h.lower() in AUTH_HEADERS),
             "auth_sha256": sorted(key_digest(v) for h, v in self.headers.items() if h.lower() in AUTH_HEADERS),
             "time": round(time.time(), 3),
             "arrived": round(getattr(self, "arrived", time.time()), 6)}
        e.update(kw)
        log_request(e)

    def send(self, status, ctype, data):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        if ctype == "text/event-stream":
            self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self):
        self.entry(reply="preflight")
        self.send(200, "text/plain", b"")

    def do_GET(self):
        p = self.path.split("?", 1)[0]
        if p.endswith("/models"):
            self.entry(reply="models")
            data = {"object": "list", "data": [{"id": "mock-model", "object": "model", "owned_by": "mock"}],
                    "models": []}
            return self.send(200, "application/json", json.dumps(data).encode())
        self.entry(reply="404")
        self.send(404, "application/json", b'{"error":{"message":"not found"}}')

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_BODY:
            self.entry(reply="413")
            return self.send(413, "application/json", b'{"error":{"message":"too large"}}')
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        p = self.path.split("?", 1)[0]
        if p.endswith("/messages/count_tokens"):
            self.entry(api="anthropic", reply="count")
            return self.send(200, "application/json", json.dumps({"input_tokens": USAGE_IN}).encode())
        if p.endswith(":countTokens"):
            self.entry(api="gemini", reply="count")
            return self.send(200, "application/json", json.dumps({"totalTokens": USAGE_IN}).encode())
        if p.endswith("/messages"):
            api = "anthropic"
        elif p.endswith("/responses"):
            api = "responses"
        elif p.endswith("/chat/completions"):
            api = "chat"
        elif ":streamGenerateContent" in p or ":generateContent" in p:
            api = "gemini"
        else:
            self.entry(reply="404")
            return self.send(404, "application/json", b'{"error":{"message":"not found"}}')
        if MODE == "fail-401":
            self.entry(api=api, reply="401")
            return self.send(401, "application/json", json.dumps(ERR_401[api]).encode())
        path, names = want_tool(api, body)
        self.entry(api=api, tools=len(names), reply="tool" if path else "text")
        if api == "anthropic":
            ctype, data = anthropic_reply(body, path)
        elif api == "responses":
            ctype, data = responses_reply(body, path, names)
        elif api == "chat":
            ctype, data = chat_reply(body, path, names)
        else:
            ctype, data = gemini_reply(body, path, ":streamGenerateContent" in p)
        self.send(200, ctype, data)


def main():
    global MODE, LOG_FILE
    ap = argparse.ArgumentParser(description="scripted loopback model server")
    ap.add_argument("port", nargs="?", type=int, default=None)
    ap.add_argument("--port", dest="port_opt", type=int, default=None)
    ap.add_argument("--fail-401", action="store_true")
    ap.add_argument("--log", default=os.environ.get("MODEL_SERVER_LOG"))
    ap.add_argument("--port-file")
    ap.add_argument("--lifetime", type=float, default=900.0)
    # 127.0.0.1 unless told: 0.0.0.0 only where the loopback is private
    # (tests/k8s/real runs this in a pod of its own).
    ap.add_argument("--host", default="127.0.0.1")
    a = ap.parse_args()
    MODE = "fail-401" if a.fail_401 or os.environ.get("MODEL_SERVER_MODE") == "fail-401" else "normal"
    LOG_FILE = a.log
    port = a.port_opt if a.port_opt is not None else (a.port or 0)
    srv = ThreadingHTTPServer((a.host, port), Handler)
    srv.daemon_threads = True
    real = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % real)
        os.rename(tmp, a.port_file)
    print("PORT %d" % real, flush=True)
    t = threading.Timer(a.lifetime, srv.shutdown)
    t.daemon = True
    t.start()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    srv.server_close()


if __name__ == "__main__":
    sys.exit(main())
