"""``swarmdeck ingest [FILE|-]``: validate JSONL events and append them to the store."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import click

from swarmdeck.cli._common import EXIT_FAILURE, CliError, common_options, emit_json, get_obj
from swarmdeck.config import Settings
from swarmdeck.store.ingest import MAX_LINE_BYTES, IngestCounts, IngestInterrupted, ingest_lines
from swarmdeck.store.line_feed import LineSource, ThreadedLines
from swarmdeck.store.opening import open_store
from swarmdeck.store.text import clean_text


@click.command()
@common_options
@click.argument("source", default="-", metavar="[FILE|-]")
@click.option(
    "--origin", default="ingest", show_default=True, help="Origin recorded on the events."
)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.option("--progress", is_flag=True, help="Print each committed line range to stderr.")
def ingest(source: str, origin: str, as_json: bool, progress: bool) -> None:
    """Validate and append events (one JSON object per line) from FILE or stdin.

    Prints accepted, duplicate and rejected counts. Each rejected line goes to the
    dead letters with its line number and the reason. Exits 1 when any line was
    rejected. Re-ingesting the same file is safe: events are idempotent on
    (source, id).
    """
    settings = get_obj().settings()
    if source == "-":
        stream: BinaryIO = sys.stdin.buffer
        name = "stdin"
    else:
        path = Path(source)
        if path.is_dir():
            raise CliError(f"{source} is a directory; give a file or - for stdin")
        try:
            stream = path.open("rb")
        except FileNotFoundError:
            raise CliError(f"no such file: {source}") from None
        except PermissionError:
            raise CliError(f"permission denied: {source}") from None
        name = path.name
    try:
        counts = asyncio.run(_ingest(settings.db, stream, name, origin, progress, settings))
    except IngestInterrupted as exc:
        # Disk full, a file-size limit, a lock held too long: one line, and what is kept.
        raise CliError(f"ingest stopped: {exc}", EXIT_FAILURE) from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    if as_json:
        emit_json(dataclasses.asdict(counts))
    else:
        click.echo(
            f"accepted {counts.accepted}, duplicate {counts.duplicates}, rejected {counts.rejected}"
        )
        for line_no, error in counts.errors[:20]:
            # Error text quotes the input (an unknown key, say): clean it like agent text.
            click.echo(f"  line {line_no}: {clean_text(error, single_line=True)}", err=True)
        if counts.rejected > 20:
            click.echo(f"  ... and {counts.rejected - 20} more (see dead letters)", err=True)
    if counts.rejected:
        sys.exit(EXIT_FAILURE)


async def _ingest(
    db: Path | str, stream: BinaryIO, name: str, origin: str, progress: bool, settings: Settings
) -> IngestCounts:
    from swarmdeck.collector import build_filters

    def report(first: int, last: int) -> None:
        if progress:
            click.echo(f"committed lines {first}-{last}", err=True)

    async with await open_store(db) as store:
        lines: Iterable[bytes] | LineSource = stream
        with contextlib.suppress(OSError, ValueError):  # no descriptor (a test's BytesIO)
            # Read in a thread of its own: waiting for a pipe's next line must never block
            # the writer in the middle of a transaction (the database stays write-locked).
            lines = ThreadedLines(stream.fileno(), max_line=MAX_LINE_BYTES)
        return await ingest_lines(
            store,
            lines,
            origin=origin,
            location=name,
            filters=build_filters(settings, store),
            on_commit=report,
        )
