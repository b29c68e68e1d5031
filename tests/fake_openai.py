"""A loopback stand-in for an OpenAI-compatible chat completions server (no LLM, no network).

``FakeOpenAI(script)`` answers ``POST /v1/chat/completions`` with the next reply of its
script, in the API's own response shape, usage included; each reply is either text (the
assistant's answer) or a tool call ``("get_weather", {"city": "Paris"})``. It records every
request body it was sent, so a test can check what the model was asked.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeOpenAI"]


class FakeOpenAI:
    def __init__(self, script: list[str | tuple[str, dict[str, Any]]], *, model: str = "gpt-4o-mini") -> None:
        self.script = list(script)
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                reply = fake._reply(body)
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _reply(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.requests.append(body)
            n = len(self.requests)
            step = self.script.pop(0) if self.script else "(the script is over)"
        message: dict[str, Any] = {"role": "assistant", "content": None}
        finish = "stop"
        if isinstance(step, tuple):
            name, arguments = step
            message["tool_calls"] = [{"id": f"call_{n}", "type": "function",
                                      "function": {"name": name, "arguments": json.dumps(arguments)}}]
            finish = "tool_calls"
        else:
            message["content"] = step
        prompt = sum(len(json.dumps(m)) // 4 for m in body.get("messages", []))
        return {
            "id": f"chatcmpl-{n}", "object": "chat.completion", "created": 1764590000, "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": 7 + n, "total_tokens": prompt + 7 + n},
        }
