"""Who waits on an open escalation: a record per escalation, written with it.

A process that raises an escalation and blocks on its decision (a hook command, ``swarmdeck
mcp``, the collector's hook socket) may be killed without a word (SIGKILL, a crash, a
power cut): nothing withdraws its escalation then, and a manager would approve a request
that nobody will ever carry out. So the raise and a record of its waiter (an opaque text:
which process, on which host) commit in one transaction, and a sweep that finds the
waiter gone withdraws the escalation (``swarmdeck.adapters.waiters`` says what "gone"
means). Records live in ``adapter_state`` under :data:`NAMESPACE`, keyed by escalation id.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import NamedTuple

from swarmdeck.store.db import Store
from swarmdeck.store.events import Event
from swarmdeck.store.models import AppendResult

NAMESPACE = "waiters"


class Waiting(NamedTuple):
    """One waiter record and the state of its escalation (None: no such escalation)."""

    escalation: str
    waiter: str
    state: str | None
    source: str | None = None
    """The source that raised the escalation: only it may withdraw it."""


async def append_awaited(
    store: Store, events: Sequence[Event], *, origin: str, waiting: dict[str, str]
) -> AppendResult:
    """Append ``events`` and record ``waiting`` (escalation id -> waiter) atomically, so no
    escalation is ever stored without the process that waits on it."""

    async def body() -> AppendResult:
        result = await store._append_in_tx(events, origin)
        await store._set_states_in_tx(NAMESPACE, waiting)
        return result

    return await store._transact(body)


async def waiting(store: Store) -> list[Waiting]:
    """Every waiter record, with its escalation's state (one indexed read)."""
    rows = await store._fetchall(
        "SELECT s.key, s.value, e.state, e.source FROM adapter_state s "
        "LEFT JOIN escalations e ON e.id = s.key WHERE s.adapter = ? ORDER BY s.key",
        (NAMESPACE,),
    )
    return [
        Waiting(str(k), str(v), None if st is None else str(st), None if so is None else str(so))
        for k, v, st, so in rows
    ]


async def withdraw_and_forget(
    store: Store, withdrawals: Sequence[Event], forget: Collection[str], *, origin: str
) -> AppendResult:
    """Append the ``withdrawals`` and drop the records of ``forget`` in one transaction."""

    async def body() -> AppendResult:
        result = await store._append_in_tx(withdrawals, origin)
        await store._exec_many(
            "DELETE FROM adapter_state WHERE adapter = ? AND key = ?",
            [(NAMESPACE, key) for key in forget],
        )
        return result

    return await store._transact(body)
