"""``swarmdeck decide ESCALATION approve|reject|reroute|retry|answer``."""

from __future__ import annotations

import contextlib

import click

from swarmdeck.actor import current_actor, current_host
from swarmdeck.adapters.bridge import STORE_ERRORS
from swarmdeck.adapters.waiters import sweep
from swarmdeck.cli._common import (
    EXIT_CONFLICT,
    EXIT_ERROR,
    EXIT_FAILURE,
    CliError,
    common_options,
    emit_json,
    say,
    with_store,
)
from swarmdeck.config import Settings
from swarmdeck.store.answers import check_answer
from swarmdeck.store.db import Store
from swarmdeck.store.errors import AlreadyDecided, InvalidDecision, NotFound
from swarmdeck.store.events import as_action


@click.command()
@common_options
@click.argument("escalation")
@click.argument("action", type=click.Choice(["approve", "reject", "reroute", "retry", "answer"]))
@click.option("--reason", help="Why (required for reject and reroute: the agent is told).")
@click.option("--to", "target", help="Reroute target: an agent name or a role.")
@click.option("--answer", help="The answer to a question.")
@click.option("--json", "as_json", is_flag=True, help="Print the recorded decision as JSON.")
@with_store
async def decide(
    store: Store,
    settings: Settings,
    escalation: str,
    action: str,
    reason: str | None,
    target: str | None,
    answer: str | None,
    as_json: bool,
) -> None:
    """Decide an open escalation. The first decision wins; a second one exits 3
    and names who decided and when. So does a decision on an escalation nobody waits
    for any more (withdrawn; or its waiting process is gone, found out first here). An
    answer must be one of the escalation's options when it lists any (exit 2 names them)."""
    with contextlib.suppress(*STORE_ERRORS):  # only ever refuses more, never less
        await sweep(store)
    try:
        if action == "answer":
            answer = check_answer(answer, (await store.escalation(escalation)).options)
        decision = await store.decide(
            escalation,
            as_action(action),
            actor=current_actor(settings),
            reason=reason,
            target=target,
            answer=answer,
            host=current_host(),
        )
    except AlreadyDecided as exc:
        raise CliError(str(exc), EXIT_CONFLICT) from None
    except NotFound as exc:
        raise CliError(str(exc), EXIT_FAILURE) from None
    except InvalidDecision as exc:
        raise CliError(str(exc), EXIT_ERROR) from None
    if as_json:
        emit_json(decision.to_dict())
    else:
        say(f"{action} recorded for {escalation} (decision {decision.id}, by {decision.actor})")
