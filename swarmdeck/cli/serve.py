"""``swarmdeck serve``: the headless collector, so agents keep flowing while nobody watches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import click

from swarmdeck.cli._common import EXIT_FAILURE, CliError, common_options, get_obj


@click.command()
@common_options
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def serve(verbose: int) -> None:
    """Run the collector headless: adapters in, decisions out, policies.

    Exactly one collector runs per database; a second one exits with an error
    naming the process that holds the lock.
    """
    from swarmdeck.collector import Collector, CollectorBusy

    settings = get_obj().settings()
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    collector = Collector(settings, config_path=settings.config_path)
    if not collector.try_acquire():
        from swarmdeck.collector import lock_holder

        raise CliError(
            f"another collector (pid {lock_holder(settings.db)}) already runs for {settings.db}",
            EXIT_FAILURE,
        )

    async def run() -> None:
        task = asyncio.create_task(collector.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, task.cancel)
        started = asyncio.ensure_future(collector.started.wait())
        await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if not task.done():  # a collector that cannot start says only why (one line)
            click.echo(f"swarmdeck: collecting into {settings.db} (pid {_pid()})", err=True)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    try:
        asyncio.run(run())
    except CollectorBusy as exc:
        raise CliError(str(exc), EXIT_FAILURE) from None
    click.echo("swarmdeck: collector stopped", err=True)


def _pid() -> int:
    import os

    return os.getpid()
