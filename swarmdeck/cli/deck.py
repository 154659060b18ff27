"""``swarmdeck`` without a command: the command center, with a collector beside it.

The shell composes what the TUI may not import: it opens the store, builds a
:class:`CollectorLauncher` (the collector in this process, or ``swarmdeck serve`` spawned
when ``collector.spawn`` is set) and hands it to the App, which only starts it and reads
its status. Whatever happens, the collector is stopped and the store closed on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time

from swarmdeck.actor import current_actor, current_host
from swarmdeck.collector import Collector, lock_holder
from swarmdeck.config import Settings, default_config_dir
from swarmdeck.store.errors import StoreError
from swarmdeck.store.opening import open_store
from swarmdeck.tui.app import SwarmdeckApp
from swarmdeck.tui.safe_text import clean

#: How long the status of a collector in another process is trusted (one lock check each).
STATUS_TTL = 2.0


class CollectorLauncher:
    """Starts one database's collector for the TUI, says how it is, and stops it.

    In-process (the default) it takes the collector lock and runs the collector as a
    task on the App's loop; with ``spawn`` it starts ``swarmdeck serve`` in its own
    session. Either way nothing is started when another process already collects for
    the database: its pid is shown instead.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.spawn = settings.collector.spawn
        self.collector: Collector | None = None
        self.task: asyncio.Task[None] | None = None
        self.spawned: subprocess.Popen[bytes] | None = None
        self.own = False
        self._failure: str | None = None
        self._cached: tuple[float, str] = (-STATUS_TTL, "")

    def start(self) -> None:
        try:
            if self.spawn:
                self._spawn()
            else:
                self._run_here()
        except OSError as exc:  # no interpreter to spawn, lock file unwritable, ...
            self._failure = f"failed: {clean(str(exc), max_len=80)}"

    def _spawn(self) -> None:
        settings = self.settings
        if lock_holder(settings.db) is not None:
            return
        config = ["--config", str(settings.config_path)] if settings.config_path else []
        if settings.config_path is not None and not settings.config_path.exists():
            config = []  # the default location, not created yet
        # Our own interpreter and module; started once, never awaited (stop() ends it).
        self.spawned = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "swarmdeck.cli", "--db", str(settings.db), *config, "serve"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _run_here(self) -> None:
        collector = Collector(self.settings, config_path=self.settings.config_path)
        self.collector = collector
        if collector.try_acquire():
            self.own = True
            self.task = asyncio.get_running_loop().create_task(collector.run(), name="collector")
            self.task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._failure = f"failed: {clean(str(task.exception()), max_len=80)}"

    def status(self) -> str:
        if self._failure is not None:
            return self._failure
        if self.own:
            return "this process"
        now = time.monotonic()
        at, text = self._cached
        if now - at < STATUS_TTL:
            return text
        holder = lock_holder(self.settings.db)
        if holder is None:
            text = "no collector"
        elif holder > 0:
            mine = self.spawned is not None and self.spawned.pid == holder
            text = f"pid {holder}" + (" (spawned)" if mine else "")
        else:
            text = "another process"
        self._cached = (now, text)
        return text

    async def stop(self) -> None:
        """Cancel the in-process collector and release its lock; end a spawned one."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task
            self.task = None
        if self.collector is not None:
            self.collector.release()
            self.collector = None
        self.own = False
        if self.spawned is not None and self.spawned.poll() is None:
            self.spawned.terminate()


async def _amain(settings: Settings) -> int:
    store = await open_store(settings.db)
    launcher = CollectorLauncher(settings)
    try:
        app = SwarmdeckApp(
            store,
            settings,
            actor=current_actor(settings),
            host=current_host(),
            collector=launcher,
            themes_dir=default_config_dir() / "themes",
        )
        await app.run_async()
        return 0 if app.hung_up else (app.return_code or 0)
    finally:
        await launcher.stop()
        await store.close()


def run_tui(settings: Settings) -> int:
    """Run the command center until the manager quits or the terminal goes away."""
    try:
        return asyncio.run(_amain(settings))
    except KeyboardInterrupt:
        return 130
    except StoreError as exc:
        print(f"swarmdeck: {clean(exc)}", file=sys.stderr)
        return 1
