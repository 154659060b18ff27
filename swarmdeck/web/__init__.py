"""The deck in a browser (``swarmdeck web``): textual-serve behind the deck's token.

:func:`serve_web` binds (loopback unless ``allow_remote``), prints the URL to open,
runs the collector when no other process does, and serves until cancelled. The
guard and the page are in :mod:`swarmdeck.web.server`, the token in
:mod:`swarmdeck.web.token`. Nothing here imports Textual: each browser session is a
``swarmdeck`` process of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from swarmdeck.adapters._http_common import check_bind
from swarmdeck.collector import Collector, lock_holder
from swarmdeck.config import Settings
from swarmdeck.web.server import DeckServer, app_command, start
from swarmdeck.web.token import deck_token

__all__ = ["DeckServer", "serve_web"]

log = logging.getLogger("swarmdeck.web")


async def serve_web(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 7346,
    allow_remote: bool = False,
    public_url: str | None = None,
    say: Callable[[str], None] = print,
) -> None:
    """Serve the deck until cancelled.

    Raises:
        swarmdeck.adapters._http_common.BindRefused: a non-loopback host without
            ``allow_remote``.
        OSError: the address cannot be bound.
        ValueError: the token is unusable.
    """
    check_bind(host, allow_remote, "swarmdeck web (use --allow-remote)")
    token = deck_token(settings)
    config = settings.config_path
    command = app_command(
        settings.db,
        config if config is not None and config.exists() else None,
        settings.tui.read_only,
    )
    server = DeckServer(command, token=token, host=host, port=port, public_url=public_url)
    runner, bound = await start(server)
    shown_host = f"[{host}]" if ":" in host else host
    base = (public_url or f"http://{shown_host}:{bound}").rstrip("/")
    say(f"swarmdeck web: open {base}/?token={token}")
    # SIGTERM ends the server like Ctrl-C: sessions are told to quit, not orphaned.
    with contextlib.suppress(NotImplementedError, RuntimeError):
        current = asyncio.current_task()
        if current is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, current.cancel)
    collector = Collector(settings, config_path=settings.config_path)
    task: asyncio.Task[None] | None = None
    if collector.try_acquire():
        task = asyncio.create_task(collector.run(), name="collector")
    else:
        say(f"swarmdeck web: the collector runs in pid {lock_holder(settings.db)}")
    try:
        if task is not None:
            await task
        else:
            await asyncio.Event().wait()
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        collector.release()
        await runner.cleanup()
