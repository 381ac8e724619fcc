"""A small OpenAI-compatible chat-completions server on 127.0.0.1 for judge tests: it answers
with what a test's `reply` function says and records every request it gets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: reply(body, n) -> reply text, or (HTTP status, raw body text), or ("sleep", seconds);
#: n counts the requests seen so far for the same user message.
Reply = Callable[[dict, int], Any]


class FakeJudge:
    def __init__(self, reply: Reply, model: str = "judge-that-answered") -> None:
        self.reply = reply
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()
        judge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                content = body["messages"][0]["content"]
                with judge._lock:
                    n = judge._seen.get(content, 0)
                    judge._seen[content] = n + 1
                    judge.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                answer = judge.reply(body, n)
                if isinstance(answer, tuple) and answer[0] == "sleep":
                    time.sleep(answer[1])
                    answer = "0.0"
                status, text = answer if isinstance(answer, tuple) else (200, judge._ok(answer))
                data = text.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    def _ok(self, content: str) -> str:
        return json.dumps(
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "model": self.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
            }
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeJudge:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
