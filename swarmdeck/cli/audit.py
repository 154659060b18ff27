"""``swarmdeck audit verify|export``: the tamper-evident record of who decided what, and why."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import UTC, datetime

import click

from swarmdeck.cli._common import EXIT_FAILURE, CliError, common_options, emit_json, with_store
from swarmdeck.config import Settings
from swarmdeck.store.db import Store
from swarmdeck.store.events import parse_duration


@click.group()
def audit() -> None:
    """Verify or export the audit chain."""


@audit.command()
@common_options
@click.option("--json", "as_json", is_flag=True)
@with_store
async def verify(store: Store, settings: Settings, as_json: bool) -> None:
    """Walk the hash chain; exit 1 naming each edited, deleted or reordered record."""
    verdict = await store.audit_verify()
    if as_json:
        emit_json(verdict.to_dict())
    elif verdict.ok:
        click.echo(f"audit chain intact: {verdict.records} records")
    else:
        for problem in verdict.problems:
            click.echo(f"TAMPERED: {problem}")
        click.echo(
            f"audit chain broken: {len(verdict.problems)} problem(s) in {verdict.records} records"
        )
    if not verdict.ok:
        sys.exit(EXIT_FAILURE)


def parse_since(text: str | None, now: float) -> float | None:
    """``7d``/``24h`` (relative) or an ISO date/time (absolute) -> epoch seconds."""
    if not text:
        return None
    try:
        return now - parse_duration(text).total_seconds()
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"--since {text!r}: use a duration (7d, 24h) or an ISO date") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


@audit.command()
@common_options
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.option("--since", help="Only records since a duration ago (7d) or an ISO date.")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-")
@with_store
async def export(
    store: Store, settings: Settings, fmt: str, since: str | None, output: io.TextIOBase
) -> None:
    """Export audit records as JSON lines or CSV (hashes included, so a copy stays verifiable)."""
    import time

    records = await store.audit_records(since=parse_since(since, time.time()))
    if fmt == "jsonl":
        for r in records:
            row = r.to_dict()
            row["time"] = datetime.fromtimestamp(r.ts, UTC).isoformat()
            output.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    else:
        writer = csv.writer(output)
        writer.writerow(["seq", "time", "actor", "action", "subject", "detail", "prev", "hash"])
        for r in records:
            writer.writerow(
                [
                    r.seq,
                    datetime.fromtimestamp(r.ts, UTC).isoformat(),
                    r.actor,
                    r.action,
                    r.subject,
                    json.dumps(r.detail, ensure_ascii=False, sort_keys=True),
                    r.prev,
                    r.hash,
                ]
            )
