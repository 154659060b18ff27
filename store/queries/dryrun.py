"""What the policy dry run compares a rule set with: roles, and what became of escalations."""

from __future__ import annotations

from typing import NamedTuple

from swarmdeck.store.db import Store
from swarmdeck.store.events import Action
from swarmdeck.store.models import EscalationState


class EscalationOutcome(NamedTuple):
    state: EscalationState
    decided_by: str | None
    action: Action | None


async def agent_roles(store: Store) -> dict[str, str]:
    """Every known agent's current role."""
    return {str(n): str(r) for n, r in await store._fetchall("SELECT name, role FROM agents")}


async def agent_vendors(store: Store) -> dict[str, str]:
    """Every agent whose vendor is known, with it (``claude-code``, ``codex``, ...)."""
    found = await store._fetchall("SELECT name, vendor FROM agents WHERE vendor IS NOT NULL")
    return {str(n): str(v) for n, v in found}


async def escalation_outcome(store: Store, escalation_id: str) -> EscalationOutcome | None:
    """What became of one escalation (None: never stored, e.g. clashed on its id)."""
    row = await store._fetchone(
        "SELECT state, decided_by, action FROM escalations WHERE id = ?", (escalation_id,)
    )
    return None if row is None else EscalationOutcome(*row)
