"""Real receivers on 127.0.0.1 for the notify tests: an HTTP server and an SMTP server.

The HTTP receiver answers apprise's JSON webhook (``json://``) and ntfy's publish
request (``ntfy://127.0.0.1:PORT/topic``: ``POST /`` with a JSON body and ``X-*``
headers) alike; it records every request and can be told to fail (``status``).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    port: int = 0
    status: int = 200
    requests: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    @property
    def base(self) -> str:
        return f"127.0.0.1:{self.port}"

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[Received]:
        """Block until ``count`` requests have arrived (bounded); return them all."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"expected {count} request(s) within {timeout}s, got {len(self.requests)}"
                )
            self.arrived.wait(min(left, 0.05))
            self.arrived.clear()
        return list(self.requests)

    async def await_requests(self, count: int = 1, timeout: float = 10.0) -> list[Received]:
        return await asyncio.to_thread(self.wait, count, timeout)


@contextmanager
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            receiver.requests.append(
                Received(self.path, dict(self.headers.items()), body, time.time())
            )
            receiver.arrived.set()
            self.send_response(receiver.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class MailSink:
    """An aiosmtpd handler keeping every message, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        self.raw.append(content)
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    @staticmethod
    def text_of(message: EmailMessage) -> str:
        """Subject and every text part, decoded (quoted-printable would hide a match)."""
        parts = [str(message["Subject"])]
        for part in message.walk():
            if part.get_content_maintype() == "text":
                parts.append(str(part.get_content()))
        return "\n".join(parts)
