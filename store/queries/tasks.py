"""Questions about tasks: their open escalation, the latest human decision, ids by state."""

from __future__ import annotations

from typing import NamedTuple

from swarmdeck.store.db import Store
from swarmdeck.store.events import Action, Severity, as_severity


class HumanDecision(NamedTuple):
    """Who (not a policy) decided what."""

    actor: str
    action: Action


async def open_escalation_of_task(
    store: Store, task_id: str, *, newest: bool = False
) -> str | None:
    """The id of an open escalation raised about a task: the oldest (or ``newest``)."""
    order = "DESC" if newest else "ASC"
    row = await store._fetchone(
        "SELECT id FROM escalations WHERE task = ? AND state = 'open' "
        f"ORDER BY raised_seq {order} LIMIT 1",
        (task_id,),
    )
    return None if row is None else str(row[0])


async def open_escalation_severity_of_task(
    store: Store, task_id: str
) -> tuple[str, Severity] | None:
    """The ``(id, severity)`` of the open escalation a task action would decide, if any.

    The same choice as :func:`swarmdeck.store.actions.act_on_task` (oldest open first),
    so a policy can check the severity before it approves on the task's behalf.
    """
    row = await store._fetchone(
        "SELECT id, severity FROM escalations WHERE task = ? AND state = 'open' "
        "ORDER BY raised_seq LIMIT 1",
        (task_id,),
    )
    return None if row is None else (str(row[0]), as_severity(str(row[1])))


async def last_human_decision_on_task(
    store: Store, task_id: str, *, since: float
) -> HumanDecision | None:
    """The latest decision at or after ``since`` on any of the task's escalations whose
    actor is not a policy (``policy:*``): a manager acted while a policy waited."""
    row = await store._fetchone(
        "SELECT d.actor, d.action FROM decisions d JOIN escalations e "
        "ON e.id = d.escalation WHERE e.task = ? AND d.ts >= ? "
        "AND d.actor NOT LIKE 'policy:%' ORDER BY d.id DESC LIMIT 1",
        (task_id, since),
    )
    return None if row is None else HumanDecision(str(row[0]), row[1])


async def task_ids_in_state(store: Store, state: str) -> set[str]:
    """The ids of every task in one state (cheaper than :meth:`Store.tasks` when only the
    ids matter)."""
    return {
        str(r[0]) for r in await store._fetchall("SELECT id FROM tasks WHERE state = ?", (state,))
    }
