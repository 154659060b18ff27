"""``swarmdeck report [--since 24h] [--json]``: outcome velocity, the numbers of ``:metrics``."""

from __future__ import annotations

import time

import click

from swarmdeck.cli._common import CliError, common_options, emit_json, emit_table, with_store
from swarmdeck.cli.audit import parse_since
from swarmdeck.config import Settings
from swarmdeck.metrics import velocity
from swarmdeck.store.db import Store


@click.command()
@common_options
@click.option("--since", default="24h", show_default=True, help="Period: 24h, 7d or an ISO date.")
@click.option(
    "--buckets", type=click.IntRange(1, 200), default=12, show_default=True,
    help="Sparkline points over the period.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="One JSON object (with the series).")
@with_store
async def report(store: Store, settings: Settings, since: str, buckets: int, as_json: bool) -> None:
    """Completed tasks per hour, human wait, auto-resolution, retries and cost per task."""
    now = time.time()
    start = parse_since(since, now)
    if start is None or start >= now:
        raise CliError(f"--since {since!r}: the period must end now and start before it")
    v = await velocity(store, since=start, until=now, buckets=buckets)
    if as_json:
        emit_json(v.to_dict())
        return
    click.echo(f"outcome velocity over the last {v.hours:.1f}h ({buckets} buckets)")
    emit_table(["metric", "value", "trend"], v.rows())
