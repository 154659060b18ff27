"""Raise an escalation and wait for its decision: once, for every integration.

A *bridge* takes events to the store and brings a decision back:

* :class:`StoreBridge` (standalone processes: the hook command, ``swarmdeck mcp``
  over stdio) appends straight to the store and polls it until the escalation is
  decided or withdrawn or the timeout passes: ``PRAGMA data_version`` every 50 ms
  (a cheap "another connection committed" signal) and ``store.escalation(id)``
  when it moved, or every 200 ms regardless. It acknowledges the decision's
  outbox row itself, because no collector adapter owns its origin.
* :class:`FutureBridge` (the ``claude-code`` and ``mcp`` adapters inside the
  collector) hands events to the adapter's ``events()`` stream and waits on an
  in-process future keyed by escalation id, which ``deliver()`` resolves.

On timeout both withdraw the escalation (``escalation.withdrawn`` with the reason
"timed out after Ns; answered <default>"), and whatever else ends the wait (a cancelled
request, a closed connection, a signal) withdraws it too, with the reason its owner
gives (``why_gone``), so the inbox never keeps a request nobody waits for any more. A
:class:`StoreBridge` also records itself as the waiter of each escalation it writes
(:mod:`swarmdeck.adapters.waiters`), so one killed outright is withdrawn by a sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from swarmdeck.adapters.base import Batch, DeliveryError
from swarmdeck.adapters.supervisor import IngestFilter
from swarmdeck.adapters.waiters import sweep, this_process
from swarmdeck.store.db import Store
from swarmdeck.store.errors import NotFound, StoreError
from swarmdeck.store.events import EscalationRaised, Event, make_event
from swarmdeck.store.models import Decision, Delivery
from swarmdeck.store.opening import open_store
from swarmdeck.store.queries.by_origin import open_escalation_sources
from swarmdeck.store.queries.waiters import append_awaited

#: What a wait can end with, beyond the decision actions themselves.
TIMEOUT = "timeout"
WITHDRAWN = "withdrawn"
UNAVAILABLE = "unavailable"

#: Why an escalation is withdrawn when its waiter is cancelled and nobody said why.
GONE_REASON = "the agent stopped waiting (its request was cancelled)"
#: At most this long to withdraw on the way out: a process that is told to stop must stop.
WITHDRAW_BOUND = 5.0

#: Why a wait is ending, asked when it is cancelled (the owner knows: a signal, a closed
#: connection, the client's cancel); the withdrawal carries it.
WhyGone = Callable[[], str]

#: (elapsed seconds, seconds allowed) -> awaitable; called every ``progress_every`` seconds.
ProgressFn = Callable[[float, float], Awaitable[None]]

#: Errors that mean "the store cannot be reached" (open, locked too long, not a database).
STORE_ERRORS: tuple[type[BaseException], ...] = (StoreError, sqlite3.Error, OSError)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a wait ended.

    ``action`` is a decision action (approve, reject, reroute, retry, answer) or
    ``timeout`` / ``withdrawn`` / ``unavailable``; ``reason`` is always one line a
    human can read (the manager's reason, or why no decision came).
    """

    escalation: str
    action: str
    reason: str = ""
    target: str | None = None
    answer: str | None = None
    decided_by: str | None = None
    decision_id: int | None = None

    @property
    def decided(self) -> bool:
        return self.action not in (TIMEOUT, WITHDRAWN, UNAVAILABLE)

    @classmethod
    def from_decision(cls, decision: Decision) -> Outcome:
        return cls(
            escalation=decision.escalation,
            action=decision.action,
            reason=decision.reason or "",
            target=decision.target,
            answer=decision.answer,
            decided_by=decision.actor,
            decision_id=decision.id,
        )


def seconds(value: float) -> str:
    """``600`` -> ``"600s"``, ``0.5`` -> ``"0.5s"``: durations in reasons."""
    return f"{value:g}s"


def timeout_reason(timeout: float, default_label: str) -> str:
    return f"timed out after {seconds(timeout)}; answered {default_label}"


def withdrawn_event(source: str, escalation_id: str, reason: str) -> Event:
    return make_event(
        "escalation.withdrawn",
        id=f"{escalation_id}.withdrawn",
        source=source,
        data={"id": escalation_id, "reason": reason[:2000]},
    )


class Bridge(Protocol):
    """Where an integration's events go and its decisions come from."""

    source: str

    async def emit(self, events: Sequence[Event]) -> None:
        """Record events (agent status, logs) without waiting for anything."""

    async def escalate(
        self,
        events: Sequence[Event],
        escalation_id: str,
        *,
        within: float,
        default_label: str,
        progress: ProgressFn | None = None,
        progress_every: float = 5.0,
        why_gone: WhyGone | None = None,
    ) -> Outcome:
        """Record ``events`` (which include the ``escalation.raised``) and wait for a decision.

        Cancelled at any point once recording began, it withdraws the escalation with
        ``why_gone()`` as the reason before the cancellation goes on.
        """

    async def withdraw(self, escalation_id: str, reason: str) -> None:
        """Withdraw an escalation this bridge raised (a no-op once it is closed); bounded,
        and safe to call from a cancelled task."""


# ----------------------------------------------------------------------------- standalone


def _quiet(task: asyncio.Future[Any]) -> None:
    """Retrieve a background write's exception: a failed withdrawal is not a traceback."""
    if not task.cancelled():
        task.exception()


async def acknowledge(store: Store, decision_id: int) -> None:
    """Mark a decision delivered: this process carried it to the agent itself."""
    entry = await store.outbox_entry(decision_id)
    if entry is not None and entry.state != "delivered":
        await store.delivery_succeeded(entry.id)


class StoreBridge:
    """Standalone path: append to the store, poll it for the decision.

    Args:
        store: an open store.
        origin: the ``origin`` recorded with the events (e.g. ``claude-code-hook``);
            no collector adapter has that name, so the outbox row waits for us.
        source: the ``source`` of the events this process writes.
        poll: seconds between two looks at the escalation (a cheap indexed read).
        filters: the ingest filters (guardrails) every write passes through, exactly as
            in the collector: a secret in a tool call's input is masked before it is
            stored (and before a decision copies the title into the audit chain).
        waiter: what this process is (``swarmdeck hook claude-code``), recorded as the
            waiter of every escalation it raises, for the reason of a sweep's withdrawal.
    """

    def __init__(
        self,
        store: Store,
        *,
        origin: str,
        source: str | None = None,
        poll: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        filters: Sequence[IngestFilter] = (),
        waiter: str = "swarmdeck",
    ) -> None:
        self.store = store
        self.origin = origin
        self.source = source or origin
        self.poll = poll
        self._clock = clock
        self.filters = list(filters)
        self.waiter = this_process(waiter).to_json()
        self._withdrawals: set[asyncio.Future[Any]] = set()
        self._calls: set[asyncio.Future[Any]] = set()

    async def emit(self, events: Sequence[Event]) -> None:
        batch = list(events)
        for flt in self.filters:
            batch = await flt(batch, self.origin)
        raised = [e.data.id for e in batch if isinstance(e, EscalationRaised)]
        if raised:
            # The raise and its waiter commit together: a process killed right after
            # still leaves a record that a sweep recognises as gone.
            waiting = dict.fromkeys(raised, self.waiter)
            await append_awaited(self.store, batch, origin=self.origin, waiting=waiting)
        elif batch:
            await self.store.append(batch, origin=self.origin)

    async def withdraw(self, escalation_id: str, reason: str) -> None:
        """Withdraw now, within :data:`WITHDRAW_BOUND` seconds, even from a cancelled task.

        The write runs as its own task: a task cancelled by an anyio scope (an MCP
        request) is cancelled again at every await, so it cannot wait for the write
        itself; :meth:`settle` (before the store closes) waits for what is left.
        """
        event = withdrawn_event(self.source, escalation_id, reason)
        task: asyncio.Future[Any] = asyncio.ensure_future(
            self.store.append([event], origin=self.origin)
        )
        self._withdrawals.add(task)
        task.add_done_callback(self._withdrawals.discard)
        task.add_done_callback(_quiet)
        # The caller's own cancellation goes on (it re-raises); a failed write is logged
        # nowhere but leaves the escalation to the sweep.
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(task), WITHDRAW_BOUND)

    async def settle(self, within: float = WITHDRAW_BOUND) -> None:
        """Wait (at most ``within`` seconds) for calls still ending and the withdrawals
        they write: call before closing the store."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while pending := self._calls | self._withdrawals:
            left = deadline - loop.time()
            if left <= 0:
                return
            await asyncio.wait(pending, timeout=left)

    async def escalate(
        self,
        events: Sequence[Event],
        escalation_id: str,
        *,
        within: float,
        default_label: str,
        progress: ProgressFn | None = None,
        progress_every: float = 5.0,
        why_gone: WhyGone | None = None,
    ) -> Outcome:
        """Record, then poll until decided, withdrawn or timed out (then withdraw it).

        Cancelled (the hook process was told to stop, the MCP call was cancelled, its
        client went away), even while the raise is still being written, it withdraws
        the escalation before giving up, so the inbox keeps no dead request.
        """
        call = asyncio.current_task()
        if call is not None:
            self._calls.add(call)
        try:
            await self.emit(events)
            return await self._wait(
                escalation_id,
                within=within,
                default_label=default_label,
                progress=progress,
                progress_every=progress_every,
            )
        except asyncio.CancelledError:
            await self.withdraw(escalation_id, why_gone() if why_gone else GONE_REASON)
            raise
        finally:
            if call is not None:
                self._calls.discard(call)

    async def _wait(
        self,
        escalation_id: str,
        *,
        within: float,
        default_label: str,
        progress: ProgressFn | None,
        progress_every: float,
    ) -> Outcome:
        start = self._clock()
        deadline = start + within
        next_progress = start + progress_every
        next_look = start
        version = await self.store.data_version()
        while True:
            now = self._clock()
            if now >= next_look:
                outcome = await self._look(escalation_id)
                if outcome is not None:
                    return outcome
                next_look = now + self.poll
            if now >= deadline:
                break
            if progress is not None and now >= next_progress:
                next_progress += progress_every
                with contextlib.suppress(Exception):  # a gone client must not end the wait
                    await progress(now - start, within)
            await asyncio.sleep(max(0.0, min(self.poll / 4, deadline - now)))
            # PRAGMA data_version moves when another connection commits: look at once
            # then (a manager's decision), and otherwise every `poll` seconds anyway.
            current = await self.store.data_version()
            if current != version:
                version = current
                next_look = self._clock()
        reason = timeout_reason(within, default_label)
        await self.store.append(
            [withdrawn_event(self.source, escalation_id, reason)], origin=self.origin
        )
        # Someone may have decided between our last look and the withdrawal: the
        # withdrawal only applies to an open escalation, so their decision wins.
        outcome = await self._look(escalation_id)
        if outcome is not None and outcome.decided:
            return outcome
        return Outcome(escalation_id, TIMEOUT, reason)

    async def _look(self, escalation_id: str) -> Outcome | None:
        try:
            esc = await self.store.escalation(escalation_id)
        except NotFound:
            return Outcome(escalation_id, UNAVAILABLE, f"escalation {escalation_id} disappeared")
        if esc.state == "decided":
            decisions = await self.store.decisions(escalation_id, limit=1)
            if not decisions:  # pragma: no cover - decide() writes both in one transaction
                return None
            decision = decisions[0]
            await acknowledge(self.store, decision.id)
            return Outcome.from_decision(decision)
        if esc.state == "withdrawn":
            return Outcome(escalation_id, WITHDRAWN, esc.reason or "withdrawn")
        return None


# ----------------------------------------------------------------------------- in the collector


class FutureBridge:
    """In-collector path: events flow out of the adapter, decisions come in via ``deliver()``.

    The adapter's ``events()`` generator drains :attr:`queue`; its ``deliver()``
    calls :meth:`resolve`. A future is registered before the escalation is
    emitted, so a decision can never arrive before anyone listens for it.
    """

    def __init__(self, source: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self.queue: asyncio.Queue[Batch] = asyncio.Queue()
        self._pending: dict[str, asyncio.Future[Outcome]] = {}
        self._resolved: dict[str, int] = {}
        self._clock = clock
        #: Set by :meth:`close`: why every new wait ends at once.
        self.closing: str | None = None

    @property
    def waiting(self) -> int:
        return len(self._pending)

    async def emit(self, events: Sequence[Event]) -> None:
        if events:
            await self.queue.put(Batch(events=list(events)))

    async def escalate(
        self,
        events: Sequence[Event],
        escalation_id: str,
        *,
        within: float,
        default_label: str,
        progress: ProgressFn | None = None,
        progress_every: float = 5.0,
        why_gone: WhyGone | None = None,
    ) -> Outcome:
        if self.closing is not None:
            # Arrived while the listener shuts down: answered now, nothing raised, or it
            # would wait for a decision nobody can deliver any more (and be cut off).
            return Outcome(escalation_id, WITHDRAWN, self.closing)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending[escalation_id] = future
        try:
            await self.emit(events)
            start = self._clock()
            deadline = start + within
            while True:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    break
                step = min(remaining, progress_every) if progress is not None else remaining
                done, _ = await asyncio.wait({future}, timeout=step)
                if done:
                    return future.result()
                if progress is not None and self._clock() < deadline:
                    with contextlib.suppress(Exception):
                        await progress(self._clock() - start, within)
            if future.done():
                return future.result()
            reason = timeout_reason(within, default_label)
            await self.emit([withdrawn_event(self.source, escalation_id, reason)])
            return Outcome(escalation_id, TIMEOUT, reason)
        except asyncio.CancelledError:
            if not future.done():  # the agent went away (disconnected, cancelled the call)
                self._withdraw_now(escalation_id, why_gone() if why_gone else GONE_REASON)
            raise
        finally:
            self._pending.pop(escalation_id, None)
            if not future.done():
                future.cancel()

    def _withdraw_now(self, escalation_id: str, reason: str) -> None:
        event = withdrawn_event(self.source, escalation_id, reason)
        self.queue.put_nowait(Batch(events=[event]))

    async def withdraw(self, escalation_id: str, reason: str) -> None:
        self._withdraw_now(escalation_id, reason)

    def resolve(self, delivery: Delivery) -> None:
        """Hand a decision to whoever waits for it; a repeated delivery is a no-op.

        Raises:
            DeliveryError: nobody waits any more (timed out, the agent disconnected,
                the collector restarted); retrying cannot help.
        """
        decision = delivery.decision
        if self._resolved.get(decision.escalation) == decision.id:
            return  # delivered before (a re-delivery after a crash): nothing more to do
        future = self._pending.get(decision.escalation)
        if future is None or future.done():
            raise DeliveryError(
                f"the agent no longer waits for escalation {delivery.decision.escalation} "
                "(it timed out, disconnected or the collector restarted)",
                retryable=False,
            )
        future.set_result(Outcome.from_decision(decision))
        self._resolved[decision.escalation] = decision.id
        while len(self._resolved) > 10_000:
            self._resolved.pop(next(iter(self._resolved)))

    def withdraw_all(self, reason: str) -> list[str]:
        """Answer every waiter with ``withdrawn``; returns the escalations it ended (whose
        withdrawal the caller records: nobody waits on them any more)."""
        ended = []
        for escalation_id, future in list(self._pending.items()):
            if not future.done():
                future.set_result(Outcome(escalation_id, WITHDRAWN, reason))
                ended.append(escalation_id)
        return ended

    def close(self, reason: str) -> list[str]:
        """The listener stops: answer every waiter, and every later wait at once."""
        self.closing = reason
        return self.withdraw_all(reason)


async def withdraw_stale(store: Store, origin: str, source: str, reason: str) -> list[Event]:
    """Withdrawal events for escalations of ``origin`` still open from a previous run.

    An in-collector adapter calls this at start: whoever waited on them is gone
    (its HTTP request or MCP call ended with the old process). Each withdrawal comes
    from the source that raised its escalation (only that one may withdraw it);
    ``source`` names the withdrawals of those whose source is unknown.
    """
    now = datetime.now(UTC)
    return [
        make_event(
            "escalation.withdrawn",
            id=f"{escalation_id}.withdrawn",
            source=raised_by or source,
            ts=now,
            data={"id": escalation_id, "reason": reason},
        )
        for escalation_id, raised_by in await open_escalation_sources(store, origin)
    ]


class LazyStoreBridge:
    """A :class:`StoreBridge` that opens the store on first use, and again after a failure.

    Long-lived standalone servers (``swarmdeck mcp`` over stdio) use it so a store
    that is briefly unreachable yields an ``unavailable`` answer for that call
    instead of a server that never starts.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, origin: str, poll: float = 0.2,
        open_timeout: float = 15.0, filters: Sequence[IngestFilter] = (),
        waiter: str = "swarmdeck",
    ) -> None:  # fmt: skip
        self.path = path
        self.origin = origin
        self.source = origin
        self.poll = poll
        self.open_timeout = open_timeout
        self.filters = list(filters)
        self.waiter = waiter
        self._bridge: StoreBridge | None = None
        self._lock = asyncio.Lock()

    async def bridge(self) -> StoreBridge:
        """The store bridge; the first open also withdraws what killed waiters left open."""
        async with self._lock:
            if self._bridge is None:
                store = await asyncio.wait_for(open_store(self.path), self.open_timeout)
                with contextlib.suppress(*STORE_ERRORS):  # the sweep must not cost the call
                    await sweep(store)
                self._bridge = StoreBridge(
                    store, origin=self.origin, poll=self.poll, filters=self.filters,
                    waiter=self.waiter,
                )  # fmt: skip
            return self._bridge

    async def emit(self, events: Sequence[Event]) -> None:
        await (await self.bridge()).emit(events)

    async def escalate(
        self,
        events: Sequence[Event],
        escalation_id: str,
        *,
        within: float,
        default_label: str,
        progress: ProgressFn | None = None,
        progress_every: float = 5.0,
        why_gone: WhyGone | None = None,
    ) -> Outcome:
        bridge = await self.bridge()
        return await bridge.escalate(
            events,
            escalation_id,
            within=within,
            default_label=default_label,
            progress=progress,
            progress_every=progress_every,
            why_gone=why_gone,
        )

    async def withdraw(self, escalation_id: str, reason: str) -> None:
        if self._bridge is not None:
            await self._bridge.withdraw(escalation_id, reason)

    async def close(self) -> None:
        """Finish the withdrawals in flight (bounded), then close the store."""
        if self._bridge is not None:
            with contextlib.suppress(Exception):
                await self._bridge.settle()
            with contextlib.suppress(Exception):
                await self._bridge.store.close()
            self._bridge = None
