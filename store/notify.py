"""Store-level bookkeeping of pushes: what each route was sent, and which action links were used.

A push is claimed before it is sent: one row per ``(route, subject)`` (``subject`` is
``escalation:<id>`` or ``adapter:<name>``), inserted with ``ON CONFLICT DO NOTHING``. The
primary key is what makes "at most one push per escalation per route" hold, across a
collector restart too: a second claim of the same subject inserts nothing.

A claimed row is ``pending`` until the notifier sends it (``sent``), gives up on it
(``failed``), or finds it moot (``dropped``: the escalation was decided meanwhile).
Bursts are folded by the notifier, which sends every due row of a route in one message
and marks them together.

``notify_links`` records the nonce of every action link that decided something: a
link is single use because its nonce can be inserted once.

Nothing here imports Textual or anything above the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from swarmdeck.store.db import Store
from swarmdeck.store.models import Row

#: States of a push row.
PUSH_STATES = ("pending", "sent", "failed", "dropped")


@dataclass(frozen=True, slots=True)
class Push(Row):
    """One claimed push of a route."""

    route: str
    subject: str
    """``escalation:<id>`` or ``adapter:<name>``."""
    reason: str
    """Why it was claimed, in words (``waited 2m``, ``deadline in 4m``, ``adapter down``)."""
    severity: str
    state: str
    attempts: int
    next_attempt: float
    created_ts: float
    sent_ts: float | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class Claim:
    """A push the notifier wants to make: claimed unless the route already has it."""

    subject: str
    reason: str
    severity: str


@dataclass(frozen=True, slots=True)
class LinkUse(Row):
    """Who used an action link's nonce, and when."""

    nonce: str
    escalation: str
    route: str
    actor: str
    used_ts: float


_PUSH_COLUMNS = (
    "route, subject, reason, severity, state, attempts, next_attempt, created_ts, sent_ts, "
    "last_error"
)


async def claim_pushes(store: Store, route: str, claims: Sequence[Claim], now: float) -> list[str]:
    """Claim pushes for ``route``; return the subjects claimed now (not claimed before)."""
    if not claims:
        return []
    subjects = [c.subject for c in claims]

    async def body() -> list[str]:
        await store._serialise(f"notify-claim:{route}")
        known = await _known_subjects(store, route, subjects)
        fresh = [c for c in claims if c.subject not in known]
        if fresh:
            await store._exec_many(
                "INSERT INTO notify_pushes(route, subject, reason, severity, next_attempt, "
                "created_ts) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(route, c.subject, c.reason, c.severity, now, now) for c in fresh],
            )
        return [c.subject for c in fresh]

    return await store._transact(body, bumps=False)


async def _known_subjects(store: Store, route: str, subjects: Sequence[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(subjects), 500):
        chunk = subjects[start : start + 500]
        rows = await store._fetchall(
            f"SELECT subject FROM notify_pushes WHERE route = ? "
            f"AND subject IN ({','.join('?' * len(chunk))})",
            (route, *chunk),
        )
        known.update(str(r[0]) for r in rows)
    return known


async def claimed_subjects(store: Store, route: str, subjects: Sequence[str]) -> set[str]:
    """Which of ``subjects`` the route has already claimed (in any state)."""
    return await _known_subjects(store, route, subjects)


async def due_pushes(store: Store, route: str, now: float) -> list[Push]:
    """The route's pending pushes whose next attempt is due, oldest first."""
    rows = await store._fetchall(
        f"SELECT {_PUSH_COLUMNS} FROM notify_pushes "
        "WHERE route = ? AND state = 'pending' AND next_attempt <= ? ORDER BY created_ts, subject",
        (route, now),
    )
    return [Push(*r) for r in rows]


async def pending_pushes(store: Store, route: str) -> list[Push]:
    """Every pending push of the route, due or held (quiet hours, digest window, retry)."""
    rows = await store._fetchall(
        f"SELECT {_PUSH_COLUMNS} FROM notify_pushes "
        "WHERE route = ? AND state = 'pending' ORDER BY created_ts, subject",
        (route,),
    )
    return [Push(*r) for r in rows]


async def pushes(store: Store, route: str | None = None, limit: int = 1000) -> list[Push]:
    """Push rows, newest first (for tests and ``swarmdeck notify ls --pushes``)."""
    where, params = ("WHERE route = ?", (route,)) if route is not None else ("", ())
    rows = await store._fetchall(
        f"SELECT {_PUSH_COLUMNS} FROM notify_pushes {where} "
        "ORDER BY created_ts DESC, subject LIMIT ?",
        (*params, limit),
    )
    return [Push(*r) for r in rows]


async def last_sent(store: Store, route: str) -> float | None:
    """When the route last sent anything (the start of its digest window)."""
    row = await store._fetchone(
        "SELECT MAX(sent_ts) FROM notify_pushes WHERE route = ? AND state = 'sent'", (route,)
    )
    return None if row is None or row[0] is None else float(row[0])


async def mark_sent(store: Store, route: str, subjects: Iterable[str], now: float) -> None:
    await _update(
        store,
        route,
        subjects,
        "state = 'sent', attempts = attempts + 1, sent_ts = ?, last_error = NULL",
        (now,),
    )


async def mark_failed(
    store: Store, route: str, subjects: Iterable[str], error: str, retry_at: float | None
) -> None:
    """Record a failed attempt: retried at ``retry_at``, or given up (``failed``) when None."""
    if retry_at is None:
        await _update(
            store,
            route,
            subjects,
            "state = 'failed', attempts = attempts + 1, last_error = ?",
            (error,),
        )
    else:
        await _update(
            store,
            route,
            subjects,
            "attempts = attempts + 1, last_error = ?, next_attempt = ?",
            (error, retry_at),
        )


async def mark_dropped(store: Store, route: str, subjects: Iterable[str], why: str) -> None:
    """No longer worth sending (decided meanwhile); kept so it is never claimed again."""
    await _update(store, route, subjects, "state = 'dropped', last_error = ?", (why,))


async def hold(store: Store, route: str, subjects: Iterable[str], until: float) -> None:
    """Delay pending pushes (quiet hours, the digest window) without counting an attempt."""
    await _update(store, route, subjects, "next_attempt = ?", (until,))


async def forget(store: Store, route: str, subjects: Iterable[str]) -> None:
    """Re-arm subjects that may push again (an adapter that recovered and went down anew)."""
    names = list(subjects)
    if not names:
        return
    await store._transact(
        lambda: store._exec_many(
            "DELETE FROM notify_pushes WHERE route = ? AND subject = ? AND state != 'pending'",
            [(route, s) for s in names],
        ),
        bumps=False,
    )


async def _update(
    store: Store, route: str, subjects: Iterable[str], assignments: str, values: tuple[object, ...]
) -> None:
    names = list(subjects)
    if not names:
        return
    await store._transact(
        lambda: store._exec_many(
            f"UPDATE notify_pushes SET {assignments} WHERE route = ? AND subject = ?",
            [(*values, route, s) for s in names],
        ),
        bumps=False,
    )


async def use_link(
    store: Store, nonce: str, escalation: str, route: str, actor: str, now: float
) -> LinkUse | None:
    """Spend an action link's nonce: None if it is fresh (now spent), else its earlier use."""
    spent = await store._transact(
        lambda: store._exec(
            "INSERT INTO notify_links(nonce, escalation, route, actor, used_ts) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (nonce, escalation, route, actor, now),
        ),
        bumps=False,
    )
    return None if spent == 1 else await link_use(store, nonce)


async def link_use(store: Store, nonce: str) -> LinkUse | None:
    """The earlier use of a nonce, if any."""
    row = await store._fetchone(
        "SELECT nonce, escalation, route, actor, used_ts FROM notify_links WHERE nonce = ?",
        (nonce,),
    )
    return None if row is None else LinkUse(*row)


async def release_link(store: Store, nonce: str) -> None:
    """Give a nonce back when nothing was decided with it (the decision was malformed)."""
    await store._transact(
        lambda: store._exec("DELETE FROM notify_links WHERE nonce = ?", (nonce,)), bumps=False
    )
