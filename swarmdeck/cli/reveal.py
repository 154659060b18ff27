"""``swarmdeck reveal ESCALATION``: show what a guardrail masked, and audit that you looked."""

from __future__ import annotations

import click

from swarmdeck.cli._common import (
    EXIT_FAILURE,
    CliError,
    common_options,
    emit_json,
    say,
    with_store,
)
from swarmdeck.config import Settings
from swarmdeck.store.db import Store
from swarmdeck.store.governance import reveal as reveal_originals


@click.command()
@common_options
@click.argument("escalation", required=False)
@click.option("--event", help="Reveal what was masked in one event, as SOURCE/ID.")
@click.option("--vault", "vault_id", help="Reveal one kept original by its vault id.")
@click.option("--reason", default="", help="Why (recorded in the audit chain).")
@click.option("--json", "as_json", is_flag=True)
@with_store
async def reveal(
    store: Store,
    settings: Settings,
    escalation: str | None,
    event: str | None,
    vault_id: str | None,
    reason: str,
    as_json: bool,
) -> None:
    """Print the originals behind a guardrail escalation's placeholders.

    Every reveal is an audit record (who, when, which placeholders; never the
    secret itself), so `swarmdeck audit export` shows who looked at what.
    """
    from swarmdeck.actor import current_actor

    if sum(x is not None for x in (escalation, event, vault_id)) != 1:
        raise CliError("name exactly one of ESCALATION, --event SOURCE/ID or --vault ID")
    ref = None
    if event is not None:
        source, sep, eid = event.partition("/")
        if not sep or not source or not eid:
            raise CliError(f"--event {event!r}: expected SOURCE/ID")
        ref = (source, eid)
    found = await reveal_originals(
        store,
        actor=current_actor(settings),
        reason=reason,
        escalation=escalation,
        event=ref,
        vault=vault_id,
    )
    if as_json:
        emit_json([r.to_dict() for r in found])
    else:
        for r in found:
            # The original is the point of this command; it is printed as-is on purpose,
            # but escape sequences an agent smuggled in are made visible, not executed.
            original = r.original.encode("unicode_escape").decode("ascii")
            say(f"{r.placeholder}  {r.location}  ({r.agent or '-'})")
            click.echo(f"  {original}")
    if not found:
        click.echo("nothing masked was kept for that", err=True)
        raise SystemExit(EXIT_FAILURE)
