"""``swarmdeck web``: the same Textual app in a browser, served by textual-serve, behind the token.

textual-serve runs one app process per browser session (its ``command``, through a
shell, with the Textual web driver) and relays it over a websocket. It has no
authentication and builds absolute URLs from one configured host, so it is wrapped:

* an aiohttp middleware checks every request before anything is served: ``Host``
  must be one we listen as (DNS rebinding), the token must come as
  ``Authorization: Bearer``, as our cookie, or once as ``?token=`` on the page
  (which sets an ``HttpOnly``, ``SameSite=Strict`` cookie and redirects to a URL
  without it, so the token leaves the address bar and history); a websocket must
  also come from our own origin (cross-site websocket hijacking);
* the page is our own: URLs relative to the host the browser used, no third-party
  fonts, no framing.

The web process runs the collector too when no other process does, so browser
sessions are readers and deciders like any second TUI.
"""

from __future__ import annotations

import html
import logging
import shlex
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

from swarmdeck.web.token import token_matches

log = logging.getLogger("swarmdeck.web")

COOKIE = "swarmdeck_web"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def app_command(db: Path | str, config: Path | None, read_only: bool) -> str:
    """The shell command textual-serve runs per browser session: this swarmdeck's TUI."""
    parts = [sys.executable, "-m", "swarmdeck", "--db", str(db)]
    if config is not None:
        parts += ["--config", str(config)]
    if read_only:
        parts.append("--read-only")
    return shlex.join(parts)


def _refused(status: int, text: str) -> web.Response:
    body = (
        "<!doctype html><meta charset='utf-8'><title>swarmdeck web</title>"
        f"<p>{html.escape(text)}</p>"
    )
    return web.Response(text=body, status=status, content_type="text/html", headers=_HEADERS)


class DeckServer(Server):
    """textual-serve's server with our page, our checks and no banner.

    Args:
        command: what each browser session runs (see :func:`app_command`).
        token: the deck's bearer token.
        hosts: ``Host`` header values accepted (``127.0.0.1:7346``, the public host).
        origins: websocket ``Origin`` values accepted.
    """

    def __init__(
        self,
        command: str,
        *,
        token: str,
        host: str,
        port: int,
        public_url: str | None = None,
        title: str = "swarmdeck",
    ) -> None:
        super().__init__(command, host=host, port=port, title=title, public_url=public_url)
        self.token = token
        self.hosts: frozenset[str] = frozenset()
        self.origins: frozenset[str] = frozenset()
        self.listen_as(port)

    def listen_as(self, port: int) -> None:
        """Set the accepted hosts and origins for the bound ``port``."""
        self.port = port
        names = {self.host}
        if self.host in ("127.0.0.1", "localhost", "::1"):
            names |= {"127.0.0.1", "localhost", "[::1]"}
        hosts = {f"{n}:{port}" for n in names}
        origins = {f"http://{n}:{port}" for n in names}
        if self.public_url and urlsplit(self.public_url).netloc:
            parts = urlsplit(self.public_url)
            hosts.add(parts.netloc)
            origins.add(f"{parts.scheme}://{parts.netloc}")
        self.hosts = frozenset(h.lower() for h in hosts)
        self.origins = frozenset(o.lower() for o in origins)

    def initialize_logging(self) -> None:
        """The CLI configures logging; textual-serve's rich handler would duplicate it."""

    async def on_startup(self, app: web.Application) -> None:
        """No banner: ``swarmdeck web`` prints its own line."""

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.add_routes(
            [
                web.get("/", self._index, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", self.statics_path, name="static"),
            ]
        )
        app.on_startup.append(self.on_startup)
        app.on_shutdown.append(self.on_shutdown)
        return app

    async def make_app(self) -> web.Application:
        return await self._make_app()

    # ------------------------------------------------------------------ the guard

    def _presented(self, request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return request.cookies.get(COOKIE)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.host.lower() not in self.hosts:
            return _refused(421, "This deck does not answer to that host name.")
        query_token = request.query.get("token")
        if request.path == "/" and query_token is not None:
            if not token_matches(query_token, self.token):
                return _refused(401, "Wrong token: see `swarmdeck web` for the URL to open.")
            redirect = web.HTTPSeeOther("/", headers=_HEADERS)
            redirect.set_cookie(
                COOKIE,
                self.token,
                httponly=True,
                samesite="Strict",
                secure=request.secure,
                path="/",
            )
            return redirect
        if not token_matches(self._presented(request), self.token):
            return _refused(401, "This deck needs its token: open the URL `swarmdeck web` printed.")
        if request.path == "/ws":
            origin = request.headers.get("Origin", "").rstrip("/").lower()
            if origin not in self.origins:
                return _refused(403, "Cross-site websocket refused.")
        response = await handler(request)
        for key, value in _HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    # ------------------------------------------------------------------ the page

    async def _index(self, request: web.Request) -> web.Response:
        size = request.query.get("fontsize", "16")
        font_size = int(size) if size.isdigit() and 6 <= int(size) <= 64 else 16
        scheme = "wss" if request.secure else "ws"
        ws_url = f"{scheme}://{request.host}/ws"
        page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(self.title)}</title>
<link rel="stylesheet" href="/static/css/xterm.css">
<script src="/static/js/textual.js"></script>
<style>
html,body{{margin:0;height:100%;background:#0c181f}}
#terminal{{position:absolute;inset:0}}
.closed{{display:none;color:#eee;font:16px monospace;padding:2rem}}
body.-closed .closed{{display:block}}
</style></head>
<body>
<div class="closed">Session ended. Reload the page to start a new one.</div>
<div id="terminal" class="textual-terminal"
     data-session-websocket-url="{html.escape(ws_url, quote=True)}"
     data-font-size="{font_size}"></div>
</body></html>"""
        return web.Response(text=page, content_type="text/html", headers=_HEADERS)


async def start(server: DeckServer) -> tuple[web.AppRunner, int]:
    """Bind and serve; return the runner (``cleanup()`` stops it) and the bound port."""
    app = await server.make_app()
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, server.host, server.port)
    await site.start()
    sockets: list[Any] = []
    if site._server is not None:  # aiohttp keeps the asyncio server private
        sockets = list(getattr(site._server, "sockets", []) or [])
    port = int(sockets[0].getsockname()[1]) if sockets else server.port
    server.listen_as(port)
    return runner, port
