"""What one adapter instance (an ``origin``) left open: asked when it starts again.

Whoever waited on its escalations, and the agents it ran, are gone with the old
process; a restarting adapter withdraws or retires them.
"""

from __future__ import annotations

from typing import NamedTuple

from swarmdeck.store.db import Store


class UnfinishedTask(NamedTuple):
    id: str
    workflow: str | None


async def open_escalation_ids(store: Store, origin: str) -> list[str]:
    """Open escalations ingested through ``origin``, by id."""
    found = await store._fetchall(
        "SELECT id FROM escalations WHERE origin = ? AND state = 'open' ORDER BY id", (origin,)
    )
    return [str(r[0]) for r in found]


async def open_escalation_sources(store: Store, origin: str) -> list[tuple[str, str]]:
    """``(id, source)`` of the open escalations ingested through ``origin``, by id: a
    withdrawal must come from the source that raised each (:mod:`store.ownership`)."""
    found = await store._fetchall(
        "SELECT id, source FROM escalations WHERE origin = ? AND state = 'open' ORDER BY id",
        (origin,),
    )
    return [(str(r[0]), str(r[1])) for r in found]


async def unfinished_tasks(store: Store, origin: str) -> list[UnfinishedTask]:
    """Tasks of ``origin`` still ``pending`` or ``running``, by id."""
    found = await store._fetchall(
        "SELECT id, workflow FROM tasks WHERE origin = ? AND state IN ('pending', 'running') "
        "ORDER BY id",
        (origin,),
    )
    return [UnfinishedTask(str(r[0]), None if r[1] is None else str(r[1])) for r in found]


async def active_agent_names(store: Store, origin: str) -> list[str]:
    """Agents of ``origin`` not marked ``offline``, by name."""
    found = await store._fetchall(
        "SELECT name FROM agents WHERE origin = ? AND state != 'offline' ORDER BY name", (origin,)
    )
    return [str(r[0]) for r in found]
