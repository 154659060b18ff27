"""``swarmdeck audit verify|export|anchor|public-key``: the record of who decided what, and why.

``verify`` walks the hash chain, cross-checks decisions, the outbox and escalations
against it, and with ``--anchor FILE`` checks the signed checkpoints kept outside the
database. ``anchor`` appends one checkpoint; ``public-key`` exports what an auditor
verifies with. What each proves, and what nothing here can: docs/audit.md.
"""

from __future__ import annotations

import csv
import io
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from swarmdeck.cli._common import EXIT_FAILURE, CliError, common_options, emit_json, say, with_store
from swarmdeck.config import Settings
from swarmdeck.store.db import Store
from swarmdeck.store.events import parse_duration
from swarmdeck.store.text import escape_controls, safe_json


@click.group()
def audit() -> None:
    """Verify or export the audit chain."""


@audit.command()
@common_options
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--anchor",
    "anchor_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also check every signed checkpoint in this file against the database.",
)
@click.option(
    "--public-key",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Verify checkpoints with this exported public key (default: the local signing key).",
)
@with_store
async def verify(
    store: Store,
    settings: Settings,
    as_json: bool,
    anchor_file: Path | None,
    public_key: Path | None,
) -> None:
    """Walk the chain and cross-check decisions and outbox; exit 1 naming each problem."""
    verdict = await store.audit_verify()
    problems = list(verdict.problems)
    checkpoints = None
    if anchor_file is not None:
        from swarmdeck.anchor import key_path, load_public
        from swarmdeck.anchor import verify as verify_anchor

        if public_key is None and not key_path(settings).exists():
            raise CliError(
                f"no signing key at {key_path(settings)}: pass --public-key FILE "
                "(the key the checkpoints were signed with)"
            )
        public = load_public(public_key or key_path(settings))
        try:
            anchored = await verify_anchor(store, anchor_file, public)
        except OSError as exc:
            raise CliError(f"{anchor_file}: cannot read ({exc.strerror})") from None
        checkpoints = anchored.checkpoints
        problems += anchored.problems
    if as_json:
        out = {**verdict.to_dict(), "ok": not problems, "problems": problems}
        if checkpoints is not None:
            out["checkpoints"] = checkpoints
        emit_json(out)
    elif not problems:
        anchored_text = f"; {checkpoints} checkpoint(s) match" if checkpoints is not None else ""
        click.echo(
            f"audit chain intact: {verdict.records} records; decisions and outbox agree with "
            f"it{anchored_text}"
        )
    else:
        for problem in problems:
            say(f"TAMPERED: {problem}")
        click.echo(f"audit record broken: {len(problems)} problem(s) in {verdict.records} records")
    if problems:
        sys.exit(EXIT_FAILURE)


@audit.command()
@common_options
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Append the checkpoint to this file (default: audit.anchor_file).",
)
@with_store
async def anchor(store: Store, settings: Settings, out: Path | None) -> None:
    """Append a signed checkpoint of the chain head (length, head hash, time) to a file."""
    from swarmdeck.anchor import append, key_path, load_or_create, make_checkpoint

    path = out or settings.audit.anchor_file
    if path is None:
        raise CliError("no anchor file: pass --out FILE or set audit.anchor_file")
    key = load_or_create(key_path(settings))
    checkpoint = await make_checkpoint(store, key)
    try:
        append(path, checkpoint)
    except OSError as exc:
        raise CliError(f"{path}: cannot append ({exc.strerror})") from None
    click.echo(
        f"checkpoint: {checkpoint.length} records, head {checkpoint.head[:16]}…, "
        f"key {checkpoint.key}, appended to {path}"
    )


@audit.command("public-key")
@common_options
@click.option(
    "--out", type=click.Path(path_type=Path, dir_okay=False), help="Write it here, not stdout."
)
def public_key_(out: Path | None) -> None:
    """Print the public key checkpoints are verified with (the signing key is made if new)."""
    from swarmdeck.anchor import key_path, load_or_create
    from swarmdeck.anchor.keys import public_pem
    from swarmdeck.cli._common import get_obj

    key = load_or_create(key_path(get_obj().settings()))
    pem = public_pem(key.public)
    if out is None:
        click.echo(pem, nl=False)
    else:
        out.write_text(pem, encoding="ascii")
        click.echo(f"public key {key.id} written to {out}")


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
            output.write(safe_json(row, sort_keys=True) + "\n")
    else:
        # A CSV is read in terminals and spreadsheets: control, bidi and zero-width characters
        # are written as \uXXXX (JSON's escapes; the jsonl export keeps every value exact).
        writer = csv.writer(output)
        writer.writerow(["seq", "time", "actor", "action", "subject", "detail", "prev", "hash"])
        for r in records:
            writer.writerow(
                [
                    r.seq,
                    datetime.fromtimestamp(r.ts, UTC).isoformat(),
                    escape_controls(r.actor),
                    escape_controls(r.action),
                    escape_controls(r.subject),
                    safe_json(r.detail, sort_keys=True),
                    r.prev,
                    r.hash,
                ]
            )
