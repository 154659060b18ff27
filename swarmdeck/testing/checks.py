"""The adapter contract, one check per promise an adapter makes to swarmdeck.

Each check takes an :class:`AdapterCase` (the adapter class and how to feed it) and,
where it runs the adapter, a fresh temporary directory; it opens its own SQLite store
there, so what is checked is what the real store accepts. A check passes silently,
fails with an ``AssertionError`` that says what to change, or skips (``pytest.skip``)
when the promise does not apply (a one-way adapter has nothing to deliver).

:class:`~swarmdeck.testing.suite.AdapterContract` runs them all as pytest tests; call
them yourself to parametrise over several adapters::

    @pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
    async def test_events(case: AdapterCase, tmp_path: Path) -> None:
        await check_events(case, tmp_path)
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pydantic
import pytest

from swarmdeck.adapters.base import Adapter, AdapterOptions, DeliveryError
from swarmdeck.adapters.registry import AdapterNotFound, load_adapter
from swarmdeck.store.db import Store
from swarmdeck.store.events import EscalationRaised, make_event, parse_event
from swarmdeck.testing.driving import (
    ITEM_CLASSES,
    Driven,
    build,
    call,
    drive,
    has_escalation,
)

Stimulus = Callable[[Path, Adapter], Awaitable[None] | None]

#: How long a restarted adapter without new input is watched for re-reads.
RESTART_WINDOW = 0.5
#: Items an adapter may yield without a position before the restart check concludes it
#: keeps none.
ITEMS_WITHOUT_POSITION = 50


@dataclass(frozen=True)
class AdapterCase:
    """One adapter under the contract.

    Attributes:
        id: a short name for test ids and instance names.
        adapter: the adapter class.
        options: given a fresh temporary directory, prepare the adapter's input there
            (files, servers) and return its raw options, as a config file would give them.
        stimulate: optional; called once the adapter runs, to make it emit at least one
            event and, for a two-way adapter, one ``escalation.raised``. Leave it out if
            the input ``options`` prepared is enough.
        delivered_count: optional; how many times a decision took effect on the agent's
            side (lines in a decisions file, keys a server applied), to prove that a
            repeated ``deliver()`` acts once. Without it, a repeat only has to not fail.
        add_input: optional; append more input under the directory while the adapter is
            stopped. With it, the restart check also proves the new input is not skipped.
        timeout: seconds to wait for events.
    """

    id: str
    adapter: type[Adapter]
    options: Callable[[Path], dict[str, Any]]
    stimulate: Stimulus | None = None
    delivered_count: Callable[[Path, Adapter], int] | None = None
    add_input: Callable[[Path], None] | None = None
    timeout: float = 10.0


# --------------------------------------------------------------------------- configuration


def check_options(case: AdapterCase, tmp: Path) -> None:
    """The options model is strict and documented.

    swarmdeck validates each ``[[adapters]]`` table of the config file with the
    adapter's ``Options`` model (a subclass of ``AdapterOptions``). A misspelt key must
    be an error that names it, not a setting silently ignored, so the model must keep
    ``extra="forbid"`` (inherited from ``AdapterOptions``; keep it if you set your own
    ``model_config``). Every field needs a description (a docstring under the field with
    ``use_attribute_docstrings=True``, or ``Field(description=...)``): it is what
    ``swarmdeck adapters`` and the docs show.
    """
    cls = case.adapter
    assert isinstance(cls.Options, type), f"{cls.__name__}.Options must be a class"
    assert issubclass(cls.Options, AdapterOptions), (
        f"{cls.__name__}.Options must subclass swarmdeck.adapters.base.AdapterOptions"
    )
    raw = case.options(tmp)
    parsed = cls.parse_options(raw)
    assert isinstance(parsed, cls.Options)
    refusal: pydantic.ValidationError | None = None
    try:
        cls.parse_options({**raw, "no_such_option_xyz": 1})
    except pydantic.ValidationError as exc:
        refusal = exc
    assert refusal is not None, (
        "an unknown option was accepted: keep extra='forbid' in the options model_config"
    )
    assert "no_such_option_xyz" in str(refusal), f"the error does not name the key: {refusal}"
    undocumented = [
        name for name, info in cls.Options.model_fields.items() if not (info.description or "")
    ]
    assert not undocumented, (
        f"options without a description: {undocumented}; add a docstring under each field "
        "(with model_config use_attribute_docstrings=True) or Field(description=...)"
    )


def check_metadata(case: AdapterCase) -> None:
    """The adapter names itself, and is installed under that name.

    ``type_name`` is what a config file's ``type = "..."`` says; ``description`` is one
    line for ``swarmdeck adapters``. swarmdeck finds adapters only through the
    ``swarmdeck.adapters`` entry-point group, so the package must declare
    ``<type_name> = "your_module:YourAdapter"`` there and be installed (``pip install -e
    .`` while developing). ``events()`` must be an ``async def`` generator: the
    supervisor iterates it and closes it at shutdown.
    """
    cls = case.adapter
    assert isinstance(getattr(cls, "type_name", None), str), f"{cls.__name__}.type_name is unset"
    assert cls.type_name, f"{cls.__name__}.type_name is empty"
    assert isinstance(cls.description, str), f"{cls.__name__}.description is not a string"
    assert cls.description.strip(), f"{cls.__name__}.description is empty"
    assert len(cls.description.strip().splitlines()) == 1, "description must be one line"
    try:
        registered = load_adapter(cls.type_name)
    except AdapterNotFound:
        raise AssertionError(
            f"no entry point {cls.type_name!r} in the 'swarmdeck.adapters' group: declare "
            f'[project.entry-points."swarmdeck.adapters"] {cls.type_name} = '
            f'"{cls.__module__}:{cls.__qualname__}" and reinstall the package'
        ) from None
    assert registered is cls, (
        f"entry point {cls.type_name!r} loads {registered.__module__}.{registered.__qualname__},"
        f" not {cls.__module__}.{cls.__qualname__}"
    )
    assert inspect.isasyncgenfunction(cls.events), "events() must be an async def generator"


def check_capabilities(case: AdapterCase) -> None:
    """The capability flag matches the methods.

    ``two_way = True`` promises that decisions on escalations this adapter raised can
    be sent back, so it must implement ``deliver()``. A one-way adapter must leave
    ``deliver()`` alone: the supervisor never calls it, and the inherited one refuses
    for good (``DeliveryError(retryable=False)``) if anything does.
    """
    cls = case.adapter
    overridden = cls.deliver is not Adapter.deliver
    if cls.two_way:
        assert overridden, f"{cls.__name__}.two_way is True but deliver() is not implemented"
    else:
        assert not overridden, (
            f"{cls.__name__} implements deliver() but two_way is False: the supervisor will "
            "never call it; set two_way = True"
        )


# --------------------------------------------------------------------------- ingest


async def check_events(case: AdapterCase, tmp: Path) -> Driven:
    """``events()`` yields valid events that the real store accepts and gives back.

    Yield ``Event`` objects (build them with ``swarmdeck.store.events.make_event`` or
    ``parse_event``, which validate) or ``Batch`` objects. Each event must survive the
    wire format and a round trip through a SQLite store unchanged, and its ``(source,
    id)`` must be its own: the store drops a repeated pair as a re-delivery, so two
    different events with one id would silently lose the second. Derive ids from the
    input (an offset, the source's own id) so that re-reading it is harmless.
    """
    async with await Store.open(tmp / "contract.db") as store:
        adapter, _ = build(case.adapter, case.options(tmp), store, _instance(case))
        driven = await drive(
            adapter,
            store,
            until=lambda d: bool(d.events) and (not case.adapter.two_way or has_escalation(d)),
            timeout=case.timeout,
            stimulate=_stimulus(case, tmp, adapter),
        )
        assert driven.events, f"{case.id}: no event within {case.timeout}s"
        for event in driven.events:
            assert parse_event(event.model_dump(mode="json")) == event, (
                f"{event.kind} {event.id!r} does not survive its own wire format"
            )
        assert driven.duplicates == 0, (
            f"{driven.duplicates} of {len(driven.events)} events repeated a (source, id) "
            "already yielded: the store dropped them; give every event an id of its own"
        )
        stored = {(e.source, e.id): e for e in await store.events_since(0, limit=100_000)}
        for event in driven.events:
            back = stored.get((event.source, event.id))
            assert back is not None, f"{event.kind} {event.id!r} was not stored"
            assert back.kind == event.kind
            assert (back.agent, back.task, back.workflow) == (
                event.agent,
                event.task,
                event.workflow,
            )
            assert abs(back.ts - event.ts.timestamp()) < 1e-3
            again = parse_event({**event.model_dump(mode="json"), "data": back.data})
            assert again == event, f"{event.kind} {event.id!r} changed in the store"
        return driven


# --------------------------------------------------------------------------- delivery


async def check_deliver(case: AdapterCase, tmp: Path) -> None:
    """A decision on an escalation the adapter raised is delivered, and a repeat is harmless.

    swarmdeck delivers each decision at least once: after a crash between delivering
    and recording the delivery, it delivers again. So ``deliver()`` must be idempotent;
    ``delivery.decision.id`` is a stable key for that (send it as an idempotency key,
    or remember it). With ``delivered_count`` the check proves it acted exactly once.
    """
    if not case.adapter.two_way:
        pytest.skip("a one-way adapter delivers nothing")
    name = _instance(case)
    async with await Store.open(tmp / "contract.db") as store:
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
        async with asyncio.timeout(case.timeout):
            await adapter.deliver(due[0])
            await adapter.deliver(due[0])  # re-delivery after a crash must be harmless
        if case.delivered_count is not None:
            count = case.delivered_count(tmp, adapter)
            assert count == 1, f"a decision delivered twice took effect {count} times"


async def check_delivery_errors(case: AdapterCase, tmp: Path) -> None:
    """A delivery that cannot succeed raises ``DeliveryError``, saying whether to retry.

    The supervisor shows a ``DeliveryError``'s message next to the decision in the
    inbox and, when ``retryable`` is true (the default: a timeout, a 503), tries again
    with backoff; ``retryable=False`` (the agent is gone, the request was refused as
    invalid) marks the delivery failed at once. Any other exception is treated as
    retryable with its raw text shown, so translate your errors. The check delivers a
    decision on an escalation an earlier run of this instance raised (its process has
    restarted since): succeeding and refusing are both fine; another exception, or
    hanging, is not. A one-way adapter must refuse for good.
    """
    name = _instance(case)
    async with await Store.open(tmp / "contract.db") as store:
        adapter, _ = build(case.adapter, case.options(tmp), store, name)
        await drive(
            adapter,
            store,
            until=lambda d: bool(d.events),
            timeout=case.timeout,
            stimulate=_stimulus(case, tmp, adapter),
        )
        esc_id = f"{name}-earlier-run-1"
        raised = make_event(
            "escalation.raised",
            id=esc_id,
            source=name,
            ts=datetime.now(UTC),
            agent="agent-of-an-earlier-run",
            data={"id": esc_id, "kind": "approval", "title": "Raised before a restart"},
        )
        await store.append([raised], origin=name)
        await store.decide(esc_id, "approve", actor="contract@test")
        due = next(
            d for d in await store.due_deliveries(adapters=[name]) if d.escalation.id == esc_id
        )
        refusal: DeliveryError | None = None
        try:
            async with asyncio.timeout(case.timeout):
                await adapter.deliver(due)
        except DeliveryError as exc:
            refusal = exc
        except TimeoutError:
            raise AssertionError(f"deliver() did not return within {case.timeout}s") from None
        except Exception as exc:
            raise AssertionError(
                f"deliver() raised {type(exc).__name__}: {exc}; raise "
                "swarmdeck.adapters.base.DeliveryError(message, retryable=...) instead"
            ) from exc
    if refusal is None:
        assert case.adapter.two_way, "a one-way adapter's deliver() must refuse"
        return
    assert isinstance(refusal.retryable, bool), "DeliveryError.retryable must be a bool"
    assert str(refusal).strip(), "a DeliveryError needs a message: the inbox shows it"
    if not case.adapter.two_way:
        assert refusal.retryable is False, "a one-way adapter must refuse for good"


# --------------------------------------------------------------------------- lifecycle


async def check_cancel(case: AdapterCase, tmp: Path) -> None:
    """Cancelling the adapter's task stops it cleanly, while starting and while running.

    At shutdown (and when the supervisor restarts a crashed adapter) the task running
    ``events()`` is cancelled. The ``CancelledError`` must propagate (never swallow it:
    the task would look finished, not stopped) and cleanup belongs in
    ``try``/``finally`` or ``async with``, so nothing outlives the adapter: no tasks
    still running, no open files or sockets.
    """
    async with await Store.open(tmp / "contract.db") as store:
        for phase in ("starting", "running"):
            adapter, _ = build(case.adapter, case.options(tmp), store, f"{case.id}-{phase}")
            await _cancel_and_check(case, tmp, adapter, phase)


async def _cancel_and_check(case: AdapterCase, tmp: Path, adapter: Adapter, phase: str) -> None:
    await asyncio.sleep(0)
    before_tasks = set(asyncio.all_tasks())
    before_fds = _open_fds()
    first = asyncio.Event()

    async def run() -> None:
        async for item in adapter.events():
            assert isinstance(item, ITEM_CLASSES), f"events() yielded {type(item).__name__}"
            first.set()

    task = asyncio.create_task(run())
    side: asyncio.Future[None] | None = None
    if phase == "running":
        stim = _stimulus(case, tmp, adapter)
        side = asyncio.ensure_future(call(stim)) if stim is not None else None
        try:
            async with asyncio.timeout(case.timeout):
                await first.wait()
        finally:
            if side is not None:
                side.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await side
    else:
        await asyncio.sleep(0)  # events() has begun and reached its first await
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled(), (
        f"cancelled while {phase}, events() ended without raising CancelledError: "
        "let it propagate (catch Exception, never BaseException)"
    )
    for _ in range(5):
        await asyncio.sleep(0)
    leaked = {t for t in asyncio.all_tasks() if t not in before_tasks and not t.done()}
    assert not leaked, f"tasks still running after a cancel while {phase}: {leaked}"
    after_fds = _open_fds()
    if before_fds is not None and after_fds is not None:
        assert after_fds <= before_fds, (
            f"file descriptors leaked by a cancel while {phase}: {before_fds} -> {after_fds}"
        )


async def check_restart(case: AdapterCase, tmp: Path) -> None:
    """A restarted adapter resumes from the position it saved: it neither re-reads nor skips.

    An adapter that reads a source with positions (file offsets, a cursor) puts its
    resume point in ``Batch.position``; the supervisor stores it in the same
    transaction as the batch's events, and a new instance reads it back with
    ``await context.store.get_states(context.name)``. The check stops the adapter after
    its first saved position, starts a new instance on the same store and requires
    that nothing already stored comes again; with ``add_input`` it also requires the
    input added meanwhile to arrive. Adapters that save no position are skipped: a
    restart re-reads their source, which stable event ids make harmless.
    """
    name = _instance(case)
    raw = case.options(tmp)
    async with await Store.open(tmp / "contract.db") as store:
        first, _ = build(case.adapter, raw, store, name)
        run1 = await drive(
            first,
            store,
            until=lambda d: bool(d.events and d.position) or d.items >= ITEMS_WITHOUT_POSITION,
            timeout=case.timeout,
            stimulate=_stimulus(case, tmp, first),
        )
        if not run1.position:
            pytest.skip(f"{case.id} saves no position: nothing to resume")
        saved = await store.get_states(name)
        assert run1.position.items() <= saved.items(), "the position was not stored"
        if case.add_input is not None:
            case.add_input(tmp)
        second, _ = build(case.adapter, raw, store, name)
        run2 = await drive(
            second,
            store,
            until=lambda d: bool(d.accepted or d.duplicates),
            timeout=case.timeout if case.add_input is not None else RESTART_WINDOW,
            stimulate=_stimulus(case, tmp, second),
        )
        assert run2.duplicates == 0, (
            f"after a restart, {run2.duplicates} events the first run stored came again: "
            "read the saved position with context.store.get_states(context.name)"
        )
        if case.add_input is not None:
            assert run2.accepted, "input added while the adapter was stopped never arrived"


# --------------------------------------------------------------------------- helpers


def _instance(case: AdapterCase) -> str:
    return f"{case.id}-contract"


def _stimulus(
    case: AdapterCase, tmp: Path, adapter: Adapter
) -> Callable[[], Awaitable[None] | None] | None:
    stimulate = case.stimulate
    if stimulate is None:
        return None
    return lambda: stimulate(tmp, adapter)


def _open_fds() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None  # not Linux: descriptors are not counted
