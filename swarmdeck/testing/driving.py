"""Run an adapter against a real store, the way swarmdeck's supervisor does, for tests.

The supervisor (``swarmdeck.adapters.supervisor``) takes what ``events()`` yields and
commits it: a bare event on its own, a :class:`~swarmdeck.adapters.base.Batch` with its
``position`` in the same transaction (so a restart neither re-reads nor skips) and its
rejected input to the dead letters. :func:`drive` does the same on a store you give
it, until a condition you give it holds, so an adapter test can assert on what landed
in the store rather than on what the adapter said::

    async with await Store.open(tmp_path / "test.db") as store:
        adapter, health = build(MyAdapter, {"path": str(log)}, store, "mine")
        driven = await drive(adapter, store, until=lambda d: len(d.events) >= 3)
        assert not driven.timed_out and driven.duplicates == 0
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from swarmdeck.adapters.base import Adapter, AdapterContext, Batch, Rejected
from swarmdeck.store.db import Store
from swarmdeck.store.events import EscalationRaised, Event

#: The concrete event classes (``Event`` itself is an annotated union: no isinstance).
EVENT_CLASSES: tuple[type, ...] = typing.get_args(typing.get_args(Event)[0])
#: What ``events()`` may yield.
ITEM_CLASSES: tuple[type, ...] = (*EVENT_CLASSES, Batch)


@dataclass
class Health:
    """What an adapter reported through ``context.set_health``, in order."""

    reports: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, state: str, detail: str) -> None:
        self.reports.append((state, detail))


#: The bearer token HTTP listeners built by these helpers require (see ``swarmdeck.tokens``).
LISTENER_TOKEN = "test-listener-token-0123456789"  # noqa: S105 (a test fixture, not a secret)


def make_context(
    store: Store, name: str, *, clock: Callable[[], float] = time.time
) -> tuple[AdapterContext, Health]:
    """An :class:`AdapterContext` on a real store, with a health recorder.

    Its listeners require :data:`LISTENER_TOKEN`, as a collector's require its token file.
    """
    health = Health()
    context = AdapterContext(
        name=name,
        store=store,
        set_health=health,
        clock=clock,
        log=logging.getLogger(f"swarmdeck.adapter.{name}"),
        listener_token=lambda: LISTENER_TOKEN,
    )
    return context, health


def build(
    cls: type[Adapter], raw: dict[str, Any], store: Store, name: str
) -> tuple[Adapter, Health]:
    """Validate ``raw`` options as the config loader does and build an instance on ``store``.

    ``name`` is the instance name (``[[adapters]] name`` in the config): the ``origin``
    of everything it yields and the key its saved position is stored under.
    """
    context, health = make_context(store, name)
    return cls(cls.parse_options(raw), context), health


@dataclass
class Driven:
    """What :func:`drive` saw and stored."""

    items: int = 0
    """Objects ``events()`` yielded (events and batches)."""
    events: list[Event] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    accepted: int = 0
    """Events the store took as new."""
    duplicates: int = 0
    """Events the store already had (same ``source`` and ``id``): dropped as re-delivery."""
    position: dict[str, str] = field(default_factory=dict)
    """Every position key saved so far, with its latest value."""
    timed_out: bool = False


async def apply(store: Store, origin: str, item: Event | Batch, into: Driven) -> None:
    """Store one yielded item as the supervisor does, and count it in ``into``."""
    into.items += 1
    if isinstance(item, Batch):
        result = await store.append_with_state(item.events, origin=origin, state=item.position)
        into.events.extend(item.events)
        into.position.update(item.position)
        if item.rejected:
            into.rejected.extend(item.rejected)
            await store.dead_letters_add(
                [(origin, r.location, r.raw, r.error) for r in item.rejected]
            )
    else:
        result = await store.append([item], origin=origin)
        into.events.append(item)
    into.accepted += result.accepted
    into.duplicates += result.duplicates


async def drive(
    adapter: Adapter,
    store: Store,
    *,
    until: Callable[[Driven], bool],
    timeout: float = 10.0,  # noqa: ASYNC109 - the whole run's budget, stimulus included
    stimulate: Callable[[], Awaitable[None] | None] | None = None,
) -> Driven:
    """Run ``adapter.events()``, storing what it yields, until ``until(driven)`` or timeout.

    ``stimulate`` (if given) runs concurrently once the adapter has started, e.g. to
    post a request to a serving adapter. The generator is always closed before
    returning (its ``finally`` blocks run), as at a shutdown.

    Raises:
        AssertionError: ``events()`` yielded something that is neither an event nor a
            :class:`Batch`.
    """
    driven = Driven()
    agen = adapter.events()
    side: asyncio.Task[Any] | None = None
    try:
        async with asyncio.timeout(timeout):
            if stimulate is not None:
                side = asyncio.ensure_future(call(stimulate))
            async for item in agen:
                assert isinstance(item, ITEM_CLASSES), (
                    f"events() yielded a {type(item).__name__}; yield Event objects "
                    "(swarmdeck.store.events) or swarmdeck.adapters.base.Batch"
                )
                await apply(store, adapter.name, item, driven)
                if until(driven):
                    break
    except TimeoutError:
        driven.timed_out = True
    finally:
        await agen.aclose()  # type: ignore[attr-defined]
        if side is not None:
            side.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await side
    return driven


async def call(fn: Callable[[], Awaitable[None] | None]) -> None:
    """Call ``fn`` and await its result if it is awaitable (a plain or an async hook)."""
    result = fn()
    if inspect.isawaitable(result):
        await result


def has_escalation(driven: Driven) -> bool:
    """Whether an ``escalation.raised`` was among the events (a ``drive(until=...)``)."""
    return any(isinstance(e, EscalationRaised) for e in driven.events)
