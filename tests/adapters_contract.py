"""The adapter contract, as reusable checks, plus helpers to drive an adapter in tests.

Adding an adapter to the contract suite is one entry in ``CASES`` of
``tests/test_adapter_contract.py``::

    AdapterCase(
        id="http",
        adapter=HttpAdapter,
        options=lambda tmp: {"url": ...},          # prepare input under tmp, return raw options
        stimulate=post_one_escalation,             # optional: make it emit once it runs
    )

Each check then runs against it: the options model forbids unknown keys; type_name and
description are set and the entry point loads the class; ``events()`` yields valid
``Event``/``Batch`` objects that a real :class:`store.db.Store` accepts; a two-way adapter
can ``deliver()`` a decision on an escalation it raised, twice, without raising (and, with
``delivered_count``, only once in effect); the adapter's task cancels cleanly without
leaking tasks or file descriptors.

The driving helpers (:func:`make_context`, :func:`drive`) are for adapter tests in general:
they apply what an adapter yields to a real store the way the supervisor does (events and
position in one ``append_with_state`` transaction, rejected input to the dead letters).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import time
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
import pytest

from swarmdeck.adapters.base import Adapter, AdapterContext, AdapterOptions, Batch, Rejected
from swarmdeck.adapters.registry import load_adapter
from swarmdeck.store.db import Store
from swarmdeck.store.events import EVENT_ADAPTER, EscalationRaised, Event, parse_event_json

Stimulus = Callable[[Path, Adapter], Awaitable[None] | None]

#: The concrete event classes (``Event`` itself is an annotated union: no isinstance).
EVENT_CLASSES: tuple[type, ...] = typing.get_args(typing.get_args(Event)[0])
ITEM_CLASSES: tuple[type, ...] = (*EVENT_CLASSES, Batch)


@dataclass(frozen=True)
class AdapterCase:
    """One adapter under the contract.

    Attributes:
        id: the pytest id.
        adapter: the adapter class.
        options: given a fresh temporary directory, prepare the adapter's input there
            (files, servers) and return its raw options.
        stimulate: optional; called once the adapter runs, to make it emit at least one
            event and, for a two-way adapter, one ``escalation.raised``.
        delivered_count: optional; how many times a decision took effect (e.g. lines in a
            decisions file), to prove that a repeated ``deliver()`` is idempotent.
        timeout: seconds to wait for events.
    """

    id: str
    adapter: type[Adapter]
    options: Callable[[Path], dict[str, Any]]
    stimulate: Stimulus | None = None
    delivered_count: Callable[[Path, Adapter], int] | None = None
    timeout: float = 10.0


# --------------------------------------------------------------------------- driving helpers


@dataclass
class Health:
    """What an adapter reported through ``set_health``, in order."""

    reports: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, state: str, detail: str) -> None:
        self.reports.append((state, detail))


def make_context(
    store: Store, name: str, *, clock: Callable[[], float] = time.time
) -> tuple[AdapterContext, Health]:
    """An :class:`AdapterContext` on a real store, with a health recorder."""
    health = Health()
    context = AdapterContext(
        name=name,
        store=store,
        set_health=health,
        clock=clock,
        log=logging.getLogger(f"swarmdeck.adapter.{name}"),
    )
    return context, health


def build(
    cls: type[Adapter], raw: dict[str, Any], store: Store, name: str
) -> tuple[Adapter, Health]:
    """Validate ``raw`` options and build an adapter instance on ``store``."""
    context, health = make_context(store, name)
    return cls(cls.parse_options(raw), context), health


@dataclass
class Driven:
    """What :func:`drive` saw and stored."""

    items: int = 0
    events: list[Event] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    accepted: int = 0
    duplicates: int = 0
    timed_out: bool = False


async def apply(store: Store, origin: str, item: Event | Batch, into: Driven) -> None:
    """Store one yielded item as the supervisor does."""
    into.items += 1
    if isinstance(item, Batch):
        result = await store.append_with_state(item.events, origin=origin, state=item.position)
        into.events.extend(item.events)
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
    timeout: float = 10.0,
    stimulate: Callable[[], Awaitable[None] | None] | None = None,
) -> Driven:
    """Run ``adapter.events()``, storing what it yields, until ``until(driven)`` or timeout.

    ``stimulate`` (if given) runs concurrently once the adapter has started. The
    generator is always closed before returning (its ``finally`` blocks run).
    """
    driven = Driven()
    agen = adapter.events()
    side: asyncio.Task[Any] | None = None
    try:
        async with asyncio.timeout(timeout):
            if stimulate is not None:
                side = asyncio.ensure_future(_call(stimulate))
            async for item in agen:
                assert isinstance(item, ITEM_CLASSES), f"events() yielded {type(item).__name__}"
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


async def _call(fn: Callable[[], Awaitable[None] | None]) -> None:
    result = fn()
    if inspect.isawaitable(result):
        await result


def has_escalation(driven: Driven) -> bool:
    return any(isinstance(e, EscalationRaised) for e in driven.events)


def _open_fds() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


# --------------------------------------------------------------------------- the checks


def check_options(case: AdapterCase, tmp: Path) -> None:
    """Options parse, and an unknown key is an error that names the key."""
    raw = case.options(tmp)
    parsed = case.adapter.parse_options(raw)
    assert isinstance(parsed, AdapterOptions)
    assert issubclass(case.adapter.Options, AdapterOptions)
    with pytest.raises(pydantic.ValidationError, match="no_such_option_xyz"):
        case.adapter.parse_options({**raw, "no_such_option_xyz": 1})


def check_metadata(case: AdapterCase) -> None:
    """type_name and description are set, and the entry point loads this very class."""
    cls = case.adapter
    assert isinstance(cls.type_name, str)
    assert cls.type_name
    assert isinstance(cls.description, str)
    assert cls.description.strip()
    assert load_adapter(cls.type_name) is cls
    if cls.two_way:
        assert cls.deliver is not Adapter.deliver, "two_way but deliver() not implemented"


async def check_events(case: AdapterCase, tmp: Path, store: Store) -> Driven:
    """events() yields valid events that the store accepts."""
    adapter, _ = build(case.adapter, case.options(tmp), store, f"{case.id}-contract")
    stim = _stimulus(case, tmp, adapter)
    driven = await drive(
        adapter,
        store,
        until=lambda d: bool(d.events) and (not case.adapter.two_way or has_escalation(d)),
        timeout=case.timeout,
        stimulate=stim,
    )
    assert driven.events, f"{case.id}: no event within {case.timeout}s"
    for event in driven.events:
        # Round-trip through the wire format: what an adapter yields is what a file could say.
        assert parse_event_json(event.model_dump_json()) == event
        EVENT_ADAPTER.validate_python(event.model_dump())
    assert driven.accepted >= 1
    return driven


async def check_deliver(case: AdapterCase, tmp: Path, store: Store) -> None:
    """A decision on an escalation the adapter raised is delivered, idempotently."""
    if not case.adapter.two_way:
        return
    name = f"{case.id}-contract"
    adapter, _ = build(case.adapter, case.options(tmp), store, name)
    driven = await drive(
        adapter,
        store,
        until=has_escalation,
        timeout=case.timeout,
        stimulate=_stimulus(case, tmp, adapter),
    )
    raised = [e for e in driven.events if isinstance(e, EscalationRaised)]
    assert raised, f"{case.id}: no escalation.raised within {case.timeout}s"
    esc_id = raised[0].data.id
    await store.decide(esc_id, "approve", actor="contract@test")
    due = [d for d in await store.due_deliveries(adapters=[name]) if d.escalation.id == esc_id]
    assert len(due) == 1, "the decision is not in the adapter's outbox"
    await adapter.deliver(due[0])
    await adapter.deliver(due[0])  # re-delivery after a crash must be harmless
    if case.delivered_count is not None:
        assert case.delivered_count(tmp, adapter) == 1


async def check_cancel(case: AdapterCase, tmp: Path, store: Store) -> None:
    """The adapter's task cancels cleanly: no leaked tasks, no leaked descriptors."""
    adapter, _ = build(case.adapter, case.options(tmp), store, f"{case.id}-cancel")
    await asyncio.sleep(0)
    before_tasks = set(asyncio.all_tasks())
    before_fds = _open_fds()
    first = asyncio.Event()

    async def run() -> None:
        async for item in adapter.events():
            assert isinstance(item, ITEM_CLASSES), f"events() yielded {type(item).__name__}"
            first.set()

    task = asyncio.create_task(run())
    stim = _stimulus(case, tmp, adapter)
    side = asyncio.ensure_future(_call(stim)) if stim is not None else None
    try:
        async with asyncio.timeout(case.timeout):
            await first.wait()
    finally:
        if side is not None:
            side.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await side
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled() or task.done()
    for _ in range(5):
        await asyncio.sleep(0)
    leaked = {t for t in asyncio.all_tasks() if t not in before_tasks and not t.done()}
    assert not leaked, f"tasks left running after cancel: {leaked}"
    after_fds = _open_fds()
    if before_fds is not None and after_fds is not None:
        assert after_fds <= before_fds, f"descriptors leaked: {before_fds} -> {after_fds}"


def _stimulus(
    case: AdapterCase, tmp: Path, adapter: Adapter
) -> Callable[[], Awaitable[None] | None] | None:
    stimulate = case.stimulate
    if stimulate is None:
        return None
    return lambda: stimulate(tmp, adapter)
