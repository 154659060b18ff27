"""The bearer token in-process listeners require in tests, and clients that send it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from swarmdeck.testing.driving import LISTENER_TOKEN

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
