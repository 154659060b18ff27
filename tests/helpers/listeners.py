"""The bearer token in-process listeners require in tests, and clients that send it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from swarmdeck.adapters.supervisor import Instance, Supervisor
from swarmdeck.store.db import Store
from swarmdeck.testing.driving import LISTENER_TOKEN
from tests.helpers.waiting import eventually

#: The bearer token the listeners of in-process tests require.
TOKEN = LISTENER_TOKEN
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def listener_token() -> str:
    """A token source for ``Supervisor(listener_token=...)`` in tests."""
    return TOKEN


@contextlib.asynccontextmanager
async def mcp_http(url: str, token: str = TOKEN) -> AsyncIterator[Any]:
    """The real MCP SDK client over streamable HTTP, sending the bearer token."""
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        yield client


@contextlib.asynccontextmanager
async def supervised(store: Store, *instances: Instance, **kw: Any) -> AsyncIterator[Supervisor]:
    """The real supervisor on ``store``, running ``instances``, with the tests' listener token."""
    kw.setdefault("delivery_interval", 0.05)
    kw.setdefault("batch_window", 0.02)
    kw.setdefault("restart_backoff_base", 0.05)
    sup = Supervisor(store, instances, listener_token=listener_token, **kw)
    task = asyncio.create_task(sup.run())
    try:
        yield sup
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def port_of(sup: Supervisor, name: str) -> int:
    """The port the listener adapter ``name`` of ``sup`` bound, once it has."""

    async def probe() -> int | None:
        adapter: Any = sup.adapters.get(name)
        return adapter.port if adapter is not None else None

    found: int = await eventually(probe)
    return found
