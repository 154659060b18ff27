"""``swarmdeck mcp``: the approval server over stdio, for any MCP client.

Register it in an MCP client, e.g. Claude Code::

    claude mcp add swarmdeck -- /path/to/swarmdeck mcp

Each tool call writes to the store directly and polls it for the manager's
decision, so no collector needs to run (the TUI alone is enough).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket

import click

from swarmdeck.cli._common import common_options, finite_seconds
from swarmdeck.cli._settings import settings_from

#: Origin of what ``swarmdeck mcp`` writes (not a collector adapter: it acknowledges itself).
ORIGIN = "mcp-stdio"


@click.command("mcp")
@common_options
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    callback=finite_seconds,
    help="Seconds request_approval waits for a decision (default: hooks.timeout, 600).",
)
@click.option(
    "--progress-every",
    type=click.FloatRange(min=0.1),
    callback=finite_seconds,
    default=5.0,
    show_default=True,
    help="Seconds between progress notifications while waiting.",
)
@click.pass_context
def mcp(ctx: click.Context, timeout: float | None, progress_every: float) -> None:
    """Serve swarmdeck's MCP tools (request_approval, report_status) over stdio."""
    from swarmdeck.adapters.bridge import LazyStoreBridge
    from swarmdeck.adapters.mcp_tools import build_server

    settings = settings_from(ctx)
    from swarmdeck.collector import build_filters

    # Guardrails as in the collector (the vault opens the database on its first hit).
    bridge = LazyStoreBridge(
        settings.db, origin=ORIGIN, filters=build_filters(settings), waiter="swarmdeck mcp"
    )
    stopped: list[str] = []
    server = build_server(
        bridge,
        timeout=timeout or settings.hooks.timeout,
        progress_every=progress_every,
        host=socket.gethostname() or None,
        stopping=lambda: stopped[0] if stopped else None,
    )

    async def run() -> None:
        # A signal (the client stopping us, a user's kill) ends the serving task; calls
        # still waiting are cancelled with it and withdraw their escalations, which
        # bridge.close() lets finish before the store closes.
        main = asyncio.current_task()
        assert main is not None
        loop = asyncio.get_running_loop()

        def stop(sig: signal.Signals) -> None:
            if not stopped:
                stopped.append(f"swarmdeck mcp was stopped before a decision came ({sig.name})")
                main.cancel()
                exits.append(asyncio.ensure_future(exit_once_withdrawn()))

        async def exit_once_withdrawn() -> None:
            # The SDK reads stdin in a thread that no cancellation interrupts: once the
            # waiting calls have withdrawn (close() waits for them, bounded), leave
            # without waiting for that thread.
            await bridge.close()
            os._exit(0)

        exits: list[asyncio.Future[None]] = []

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop, sig)
        try:
            await server.run_stdio_async()
        except asyncio.CancelledError:
            if not stopped:
                raise
        finally:
            await bridge.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
