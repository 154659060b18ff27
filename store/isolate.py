"""Store a batch even when one event in it cannot be stored: split it, dead-letter the one.

Validation bounds every field, so the store should never refuse a valid event. If
one slips through anyway (a value the bounds missed, a bug in a projection or an
ingest filter), retrying its whole batch forever would stop everything behind it:
every adapter's events, and with them every waiting hook. So a batch that fails
for a reason of its own is split in halves, each half stored on its own, down to
the single event that fails, which goes to the dead letters with the reason; the
rest lands.

Failures that are the store's state rather than the batch's (locked, read-only,
disk full, a server gone) are *not* split: every half would fail the same way.
They are raised to the caller, who retries the whole batch later, so nothing is
dropped while the disk is full. Neither is a fenced write (:class:`LeaseLost`):
the batch belongs to the collector that leads its origin now.

This sits on the store API (:meth:`Store.append_with_state`), so both backends
isolate the same way; each backend says which of its errors are its own trouble
by raising :class:`~swarmdeck.store.errors.StoreUnavailable` (or, for SQLite's
driver, the errors listed in :data:`TRANSIENT`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from swarmdeck.store.db import Store
from swarmdeck.store.errors import LeaseLost, StoreUnavailable
from swarmdeck.store.events import Event

#: ``(location, raw, error)`` of input that goes to the dead letters.
RejectedRow = tuple[str, bytes | str, str]

#: Errors that say "the store cannot take a write now", whatever the batch holds.
TRANSIENT: tuple[type[BaseException], ...] = (
    StoreUnavailable,
    sqlite3.OperationalError,
    OSError,
    MemoryError,
)


def is_transient(exc: BaseException) -> bool:
    """True for the store's own trouble; False for a batch that cannot be stored as it is.

    A bare ``sqlite3.DatabaseError`` (a corrupt file, not a database any more) is the
    store's trouble too: splitting cannot help, and nothing should be dead-lettered for it.
    """
    return isinstance(exc, TRANSIENT) or type(exc) is sqlite3.DatabaseError


@dataclass(slots=True)
class Isolated:
    """What storing a batch came to."""

    accepted: int = 0
    duplicates: int = 0
    #: ``(index in the batch, reason)`` of each event that went to the dead letters.
    poisoned: list[tuple[int, str]] = field(default_factory=list)


async def append_isolating(
    store: Store,
    events: Sequence[Event],
    *,
    origin: str,
    state: dict[str, str] | None = None,
    rejected: Sequence[RejectedRow] = (),
    lease: tuple[str, int] | None = None,
    prepare: Callable[[list[Event]], Awaitable[list[Event]]] | None = None,
    mask: Callable[[bytes | str], bytes | str] | None = None,
    locate: Callable[[int, Event], str] | None = None,
) -> Isolated:
    """Append ``events`` (with the adapter position ``state`` and the ``rejected`` input,
    fenced by ``lease``), splitting out any event the store or ``prepare`` cannot take.

    Args:
        prepare: run on every part before it is stored (the ingest filters: masking);
            a part whose filter fails is split like one the store refuses, so a secret
            is never stored unmasked.
        mask: applied to a poisoned event's JSON before it is kept as a dead letter.
        locate: the dead letter's location of the event at an index (default
            ``event <source>/<id>``).

    Raises:
        LeaseLost: ``lease`` changed holder; nothing of this part was written.
        Whatever :func:`is_transient` calls the store's own trouble; nothing was split then.
    """
    out = Isolated()

    async def store_part(
        start: int, part: Sequence[Event], part_state: dict[str, str], part_rej: list[RejectedRow]
    ) -> None:
        try:
            ready = list(part)
            if prepare is not None:
                ready = await prepare(ready)
            if ready or part_state or part_rej:
                result = await store.append_with_state(
                    ready, origin=origin, state=part_state, rejected=part_rej, lease=lease
                )
                out.accepted += result.accepted
                out.duplicates += result.duplicates
            return
        except LeaseLost:
            raise
        except Exception as exc:
            if is_transient(exc):
                raise
            failure = exc
        if len(part) > 1:
            mid = len(part) // 2
            # The position moves with the last part: if we stop in between, the first
            # part is read again and deduplicated, never skipped.
            await store_part(start, part[:mid], {}, part_rej)
            await store_part(start + mid, part[mid:], part_state, [])
            return
        reason = _reason(failure)
        letters = list(part_rej)
        if part:
            event = part[0]
            where = locate(start, event) if locate is not None else _where(event)
            letters.append((where, _masked_raw(event, mask), reason))
            out.poisoned.append((start, reason))
        try:
            await store.append_with_state(
                [], origin=origin, state=part_state, rejected=letters, lease=lease
            )
        except LeaseLost:
            raise
        except Exception as exc:
            if is_transient(exc):
                raise
            # Even the dead letters cannot be stored as they are: keep where and why.
            bare = [
                (loc, b"(input not kept: it could not be stored)", err) for loc, _, err in letters
            ]
            await store.append_with_state(
                [], origin=origin, state=part_state, rejected=bare, lease=lease
            )

    await store_part(0, events, dict(state or {}), list(rejected))
    return out


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:300]
    return f"the store could not take this event ({type(exc).__name__}: {text})"


def _where(event: Event) -> str:
    return f"event {event.source}/{event.id}"


def _masked_raw(event: Event, mask: Callable[[bytes | str], bytes | str] | None) -> bytes | str:
    """The event as JSON, masked like any dead letter; never unmasked, whatever fails."""
    try:
        raw: bytes | str = event.model_dump_json()
        return mask(raw) if mask is not None else raw
    except Exception:
        return b"(input not kept: it could not be serialised or masked)"
