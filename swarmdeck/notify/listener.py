"""The action page's own listener, run by the collector beside the notifier.

Loopback by default; a non-loopback ``host`` needs ``allow_remote`` (the usual way to
reach it from a phone is a tunnel or reverse proxy on ``public_url`` instead). The
ASGI app is wrapped by ``guard`` before it is served: the shared listener guard plugs
in there (``swarmdeck.collector`` passes it), with its bearer check exempted because
the signed link is the credential.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from swarmdeck.adapters._http_common import EmbeddedServer, check_bind
from swarmdeck.notify.page import ActionPage, allowed_origins_and_hosts
from swarmdeck.store.db import Store

log = logging.getLogger("swarmdeck.notify")

HEALTH_NAME = "notify:action-links"

Guard = Callable[[Any], Any]


def no_guard(app: Any) -> Any:
    return app


class ActionPageListener:
    """Serves an :class:`ActionPage` until cancelled; its health row says where."""

    def __init__(
        self,
        page: ActionPage,
        store: Store,
        *,
        host: str,
        port: int,
        allow_remote: bool,
        public_url: str | None,
        guard: Guard = no_guard,
    ) -> None:
        self.page = page
        self.store = store
        self.host = host
        self.port = port
        self.allow_remote = allow_remote
        self.public_url = public_url
        self.guard = guard
        self.server: EmbeddedServer | None = None
        self.ready = asyncio.Event()

    def bound_url(self) -> str | None:
        """``http://host:port`` once serving, else None."""
        if self.server is None or self.server.port is None or not self.ready.is_set():
            return None
        return self.server.url

    async def run(self) -> None:
        check_bind(self.host, self.allow_remote, "action_links")
        self.server = EmbeddedServer(self.guard(self.page.app), self.host, self.port)
        port = await self.server.start()
        origins, hosts = allowed_origins_and_hosts(self.public_url, self.host, port)
        self.page.origins, self.page.hosts = origins, hosts
        where = self.public_url or self.server.url
        await self._health("running", f"action page on {self.server.url} (links: {where})")
        self.ready.set()
        try:
            task = self.server.task
            assert task is not None
            await asyncio.shield(task)
        finally:
            await self.server.stop()
            with contextlib.suppress(Exception):
                await self._health("stopped", "collector stopped")

    async def _health(self, state: str, detail: str) -> None:
        try:
            await self.store.set_health(HEALTH_NAME, "notify", state, detail=detail)
        except Exception as exc:
            log.warning("could not record health of %s: %s", HEALTH_NAME, exc)
