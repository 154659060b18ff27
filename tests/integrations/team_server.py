"""A stand-alone fake agent platform for the http adapter (run as a subprocess).

Serves ``GET /events?after=&limit=`` from a fixed list and applies ``POST /decisions``
once per ``Idempotency-Key``; ``GET /applied`` reports how many keys took effect.
Prints its port on the first line of stdout.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TS = "2026-11-24T01:00:00Z"
EVENTS: list[dict[str, Any]] = [
    {"id": "1", "ts": TS, "kind": "agent.seen", "agent": "ci-bot",
     "data": {"name": "ci-bot", "role": "ci"}},
    {"id": "2", "ts": TS, "kind": "escalation.raised", "agent": "ci-bot",
     "data": {"id": "team-E1", "kind": "approval", "title": "Deploy to prod?"}},
]  # fmt: skip
APPLIED: dict[str, Any] = {}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/applied":
            self._send(200, {"applied": len(APPLIED)})
            return
        query = parse_qs(parts.query)
        start = int(query.get("after", ["0"])[0])
        limit = int(query.get("limit", ["100"])[0])
        page = EVENTS[start : start + limit]
        self._send(200, {"events": page, "cursor": str(start + len(page))})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        key = self.headers.get("Idempotency-Key", "")
        with LOCK:
            APPLIED.setdefault(key, json.loads(body))
        self._send(200, {"ok": True})


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sys.stdout.write(f"{server.server_address[1]}\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
