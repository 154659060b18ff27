"""Small clients the multi-host test runs *inside* its namespaces (one process each).

``python -m tests.fleet.fleet_tools push URL FILE``: POST a batch (the token from
``$SWARMDECK_TOKEN``); prints the status and the answer as one JSON line.

``python -m tests.fleet.fleet_tools watch DB ESCALATION``: a manager's view on another
host: waits on the store's change feed until the escalation is decided, then prints
when it saw it, beside who decided, when and from which host.

``python -m tests.fleet.fleet_tools mcp URL``: an MCP client over streamable HTTP with
the bearer token: lists the tools and reports a status.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _headers() -> dict[str, str]:
    return {
        "Authorization": f"Bearer {os.environ['SWARMDECK_TOKEN']}",
        "Content-Type": "application/json",
    }


def push(url: str, file: str) -> None:
    import httpx

    with httpx.Client(timeout=30, trust_env=False) as client:
        response = client.post(url, content=Path(file).read_bytes(), headers=_headers())
    print(json.dumps({"status": response.status_code, "body": response.json()}))


async def watch(db: str, escalation: str, timeout: float = 30.0) -> None:
    from swarmdeck.store.opening import open_store

    store = await open_store(db)
    try:
        print("watching", flush=True)
        rev = await store.rev()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            esc = await store.escalation(escalation)
            if esc.state == "decided":
                seen = time.time()
                [decision] = await store.decisions(escalation, limit=1)
                host = getattr(decision, "host", None)
                print(json.dumps({"seen": seen, "decided": decision.ts, "by": decision.actor,
                                  "host": host}))  # fmt: skip
                return
            rev = await store.wait_for_change(rev, 1.0)
        print(json.dumps({"error": "not decided in time"}))
    finally:
        await store.close()


async def mcp(url: str) -> None:
    import httpx2  # the MCP SDK's own HTTP client
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with (
        httpx2.AsyncClient(headers=_headers(), trust_env=False, timeout=30) as http,
        streamable_http_client(url, http_client=http) as (read, write, *_),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = sorted(t.name for t in (await session.list_tools()).tools)
        result = await session.call_tool(
            "report_status", {"state": "working", "activity": "across the bridge", "agent": "far"}
        )
        print(json.dumps({"tools": tools, "error": result.is_error}))


def main(argv: list[str]) -> Any:
    command, *args = argv
    if command == "push":
        return push(args[0], args[1])
    if command == "watch":
        return asyncio.run(watch(args[0], args[1]))
    if command == "mcp":
        return asyncio.run(mcp(args[0]))
    raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
