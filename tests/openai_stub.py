"""A small OpenAI-compatible HTTP server on loopback that returns scripted completions.

It stands in for a remote LLM (the one thing that cannot run here); the engine talks real HTTP to it.
`server.script(messages) -> str | int` decides each reply: a string is the completion, an int an HTTP error.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def _json(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in self.server.models]})
        else:
            self._json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.server.requests.append(body)
        self.server.last_headers = dict(self.headers)
        reply = self.server.script(body["messages"])
        if isinstance(reply, int):
            # like some real endpoints, the error body echoes the request headers (the API key among them)
            self._json(reply, {"error": {"message": f"scripted failure {reply}; headers: {dict(self.headers)}",
                                         "type": "server_error"}})
            return
        created = int(time.time())
        if not body.get("stream"):
            self._json(200, {"id": "cmpl-1", "object": "chat.completion", "created": created, "model": body["model"],
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                                          "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in re.findall(r"\S+\s*", reply):
            chunk = {"id": "cmpl-1", "object": "chat.completion.chunk", "created": created, "model": body["model"],
                     "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        end = {"id": "cmpl-1", "object": "chat.completion.chunk", "created": created, "model": body["model"],
               "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())


class ScriptedOpenAI:
    def __init__(self, models=("test-model",)):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.models = list(models)
        self.httpd.requests = []
        self.httpd.script = lambda messages: "NOT_IN_DOCUMENTS"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    @property
    def requests(self) -> list[dict]:
        return self.httpd.requests

    @property
    def last_headers(self) -> dict:
        return getattr(self.httpd, "last_headers", {})

    def script(self, fn) -> None:
        self.httpd.script = fn

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def source_number(messages, needle: str) -> int:
    """The [n] of the numbered source line containing `needle` in the prompt."""
    prompt = messages[-1]["content"]
    for line in prompt.splitlines():
        m = re.match(r"\[(\d+)\]", line)
        if m and needle in line:
            return int(m.group(1))
    raise AssertionError(f"no source line contains {needle!r}")
