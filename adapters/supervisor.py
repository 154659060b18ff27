"""Run adapter instances side by side; batch what they yield into the store; deliver decisions.

Three kinds of task, all inside one :meth:`Supervisor.run`:

- one *runner* per adapter instance, while this collector leads it
  (:mod:`~swarmdeck.adapters.leadership`): iterates ``adapter.events()`` into a
  bounded queue. A crash is logged, recorded as the instance's health (``crashed``,
  with the error) and followed by a restart after exponential backoff with jitter.
  One adapter failing never stops the others. When the lease is lost the runner is
  cancelled at once: another collector resumes from the saved positions.
- one *writer*: drains the queue into store transactions of up to ``batch_max``
  events or ``batch_window`` seconds, whichever comes first, applying the ingest
  filters (guardrails) and saving each adapter's position in the same transaction,
  fenced by the lease epoch the events were read under. If the store refuses a
  write (locked, disk full), the batch is kept and retried: the bounded queue then
  pushes back on the adapters instead of losing events. One event the store cannot
  take is split out of its batch into the dead letters (:mod:`store.isolate`); a
  batch that fails for no reason of the store's is given up after
  :data:`POISON_ATTEMPTS`. If it refuses because the
  lease is gone (:class:`LeaseLost`), the batch is dropped and the adapter stopped:
  its position did not move, so the new leader reads those events again.
- one *delivery loop*: claims the outbox rows due to the two-way adapters running
  here (a claim, so two collectors never deliver one decision) and calls
  ``deliver``; failures are retried with exponential backoff until
  ``delivery_max_attempts``, then marked failed (visible in the inbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from swarmdeck.adapters.base import (
    Adapter,
    AdapterContext,
    AdapterOptions,
    Batch,
    DeliveryError,
    Rejected,
)
from swarmdeck.adapters.leadership import Leadership, Term, TermEnded, collector_id
from swarmdeck.store.db import Store
from swarmdeck.store.errors import LeaseLost
from swarmdeck.store.events import Event
from swarmdeck.store.isolate import Isolated, append_isolating, is_transient
from swarmdeck.store.models import Delivery
from swarmdeck.store.text import clean_text

log = logging.getLogger("swarmdeck.supervisor")

#: Attempts at a batch that fails for a reason that is not the store's (and could not be
#: split out) before it is given up: a bug must never stop ingest for good.
POISON_ATTEMPTS = 3


class IngestFilter(Protocol):
    """Rewrites a batch before it is stored (masking) and may add events (guardrail hits).

    ``mask_raw`` cleans input that failed validation before it is kept as a dead
    letter: a secret in a malformed line must not survive there either.
    """

    async def __call__(self, events: list[Event], origin: str) -> list[Event]: ...

    def mask_raw(self, raw: bytes | str) -> bytes | str: ...


def mask_rejected(filters: Sequence[IngestFilter], raw: bytes | str) -> bytes | str:
    """Apply every filter's ``mask_raw`` to a dead letter's raw input."""
    for flt in filters:
        raw = flt.mask_raw(raw)
    return raw


@dataclass(slots=True)
class Instance:
    """A configured adapter instance: its name, its type and its validated options."""

    name: str
    cls: type[Adapter]
    options: AdapterOptions


@dataclass(slots=True)
class _Pending:
    """What the writer accumulates for one origin and term between two commits."""

    term: Term
    events: list[Event] = field(default_factory=list)
    position: dict[str, str] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random.

    The fixed half guarantees a real pause; the random half spreads a fleet of
    restarting adapters so they do not hammer an endpoint in lockstep.
    """
    ceiling = min(cap, base * 2.0 ** max(0, attempt - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


class Supervisor:
    """Runs adapters, the ingest writer and the delivery loop until cancelled."""

    def __init__(
        self,
        store: Store,
        instances: Sequence[Instance],
        *,
        filters: Sequence[IngestFilter] = (),
        clock: Callable[[], float] = time.time,
        batch_max: int = 1000,
        batch_window: float = 0.05,
        queue_size: int = 10_000,
        restart_backoff_base: float = 0.5,
        restart_backoff_max: float = 60.0,
        healthy_after: float = 60.0,
        delivery_interval: float = 0.2,
        delivery_timeout: float = 30.0,
        delivery_backoff_base: float = 1.0,
        delivery_backoff_max: float = 300.0,
        delivery_max_attempts: int = 12,
        listener_token: Callable[[], str] | None = None,
        rng: random.Random | None = None,
        leadership: Leadership | None = None,
        flush_timeout: float = 2.5,
    ) -> None:
        """Args:
        leadership: the collector's leases; by default the supervisor holds its own
            (under a fresh collector id) for its instances, and releases them when it stops.
        flush_timeout: seconds the shutdown writes (the last batch, the health) may take
            together before they are given up, so a locked store never keeps a collector
            running.
        """
        names = [i.name for i in instances]
        if len(set(names)) != len(names):
            raise ValueError(f"adapter instance names must be unique: {names}")
        self.store = store
        self._own_leadership = leadership is None
        self.leadership = leadership or Leadership(store, collector_id())
        for name in names:
            self.leadership.want(name)
        self.instances = list(instances)
        self.filters = list(filters)
        self.clock = clock
        self.batch_max = batch_max
        self.batch_window = batch_window
        self.restart_backoff_base = restart_backoff_base
        self.restart_backoff_max = restart_backoff_max
        self.healthy_after = healthy_after
        self.delivery_interval = delivery_interval
        self.delivery_timeout = delivery_timeout
        self.delivery_backoff_base = delivery_backoff_base
        self.delivery_backoff_max = delivery_backoff_max
        self.delivery_max_attempts = delivery_max_attempts
        #: The bearer token HTTP listeners require (given to every adapter's context).
        self.listener_token = listener_token
        self.flush_timeout = flush_timeout
        self.rng = rng or random.Random()
        #: Live adapter objects by instance name (replaced on restart).
        self.adapters: dict[str, Adapter] = {}
        #: Health state by instance name, mirrored into the store.
        self.states: dict[str, str] = {}
        self.restarts: dict[str, int] = {i.name: 0 for i in instances}
        self._queue: asyncio.Queue[tuple[str, Term, Event | Batch]] = asyncio.Queue(queue_size)
        self._committed = asyncio.Event()
        self._in_flight: dict[tuple[str, int], _Pending] | None = None
        #: Set (and replaced) each time the writer is done with a batch.
        self._batch_ended = asyncio.Event()
        #: Instances whose health this collector wrote (it led them at some point).
        self._led: set[str] = set()
        #: Events stored so far (all origins); handy for tests and the status line.
        self.stored = 0

    # ------------------------------------------------------------------ run

    async def run(self) -> None:
        """Run everything until cancelled; on cancellation, flush what was already read.

        Leases are released only after the flush (when the supervisor holds its own;
        otherwise the collector releases them after this returns), so the last batch
        still commits under its lease.
        """
        leases = (
            asyncio.create_task(self.leadership.run(), name="leases")
            if self._own_leadership
            else None
        )
        tasks = [
            asyncio.create_task(self._lead(inst), name=f"adapter:{inst.name}")
            for inst in self.instances
        ]
        writer = asyncio.create_task(self._writer(), name="ingest-writer")
        delivery = asyncio.create_task(self._delivery_loop(), name="delivery")
        try:
            await asyncio.gather(writer, delivery)
        finally:
            for task in (*tasks, delivery):
                task.cancel()
            await asyncio.gather(*tasks, delivery, return_exceptions=True)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            # One budget for every shutdown write: a locked store must not keep the
            # collector running (the leases' release has a budget of its own).
            deadline = asyncio.get_running_loop().time() + self.flush_timeout
            with contextlib.suppress(Exception):
                await self._flush_remaining(deadline)
            with contextlib.suppress(Exception):
                left = deadline - asyncio.get_running_loop().time()
                await asyncio.wait_for(self._all_stopped(), max(left, 0.1))
            if leases is not None:
                leases.cancel()
                await asyncio.gather(leases, return_exceptions=True)

    async def _all_stopped(self) -> None:
        for inst in self.instances:
            if inst.name in self._led and self.leadership.leads(inst.name):
                await self._set_health(inst, "stopped", "collector stopped")

    async def wait_committed(self) -> None:
        """Wait until the writer commits its next batch (tests use it instead of sleeping)."""
        self._committed.clear()
        await self._committed.wait()

    # ------------------------------------------------------------------ adapters

    async def _set_health(
        self, inst: Instance, state: str, detail: str, error: str | None = None
    ) -> None:
        """Record an instance's health; best effort, since it must never stop the adapter."""
        self.states[inst.name] = state
        try:
            await self.store.set_health(
                inst.name,
                inst.cls.type_name,
                state,
                detail=detail,
                restarts=self.restarts[inst.name],
                last_error=error,
            )
        except Exception as exc:
            log.warning("could not record health of %s (%s): %s", inst.name, state, exc)

    async def _lead(self, inst: Instance) -> None:
        """Run ``inst`` during each term this collector leads it; stop it when a term ends."""
        while True:
            term = await self.leadership.acquired(inst.name)
            self._led.add(inst.name)
            await self._quiesce(inst.name, term)
            runner = asyncio.create_task(self._run_adapter(inst, term), name=f"run:{inst.name}")
            ended = asyncio.create_task(term.ended.wait())
            try:
                await asyncio.wait({runner, ended}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not runner.done():
                    runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)
                if self.adapters.get(inst.name) is not None and not term.active:
                    self.adapters.pop(inst.name, None)
                    self.states[inst.name] = "standby"
            # The source ended (or the term did): hold on to the lease until the term
            # ends, so no other collector starts an exhausted source again.
            await ended

    async def _quiesce(self, name: str, term: Term) -> None:
        """Wait until the writer holds nothing of ``name`` read in an earlier term.

        The new term's adapter reads its saved position now: a batch of the old term
        committing after that read would be read again (each broken line dead-lettered
        twice). Such a batch is dropped at commit, since its term is over; this waits
        for that, usually a few milliseconds.
        """
        while any(
            origin == name and slot.term is not term
            for (origin, _), slot in (self._in_flight or {}).items()
        ):
            await self._batch_ended.wait()

    def commit_for(self, inst: Instance, term: Term) -> Callable[[Batch], Awaitable[Isolated]]:
        """A fenced, filtered commit of one batch for adapters that answer only once their
        input is stored (the push endpoint's counts are then true)."""

        async def commit(batch: Batch) -> Isolated:
            if not term.active:
                raise TermEnded(*term.lease)
            try:
                outcome = await self._store_isolating(
                    inst.name, batch.events, batch.position, batch.rejected, term.lease
                )
            except LeaseLost:
                self.leadership.drop(*term.lease)
                raise
            self._committed.set()
            return outcome

        return commit

    async def _run_adapter(self, inst: Instance, term: Term) -> None:
        attempt = 0
        while term.active:
            started = time.monotonic()

            async def report(state: str, detail: str, _inst: Instance = inst) -> None:
                if term.active:  # a deposed runner must not overwrite the new leader's
                    await self._set_health(_inst, state, detail)

            context = AdapterContext(
                name=inst.name,
                store=self.store,
                set_health=report,
                clock=self.clock,
                log=logging.getLogger(f"swarmdeck.adapter.{inst.name}"),
                listener_token=self.listener_token,
                commit=self.commit_for(inst, term),
            )
            try:
                adapter = inst.cls(inst.options, context)
                self.adapters[inst.name] = adapter
                await self._set_health(inst, "running", "")
                async for item in adapter.events():
                    await self._queue.put((inst.name, term, item))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.adapters.pop(inst.name, None)
                if time.monotonic() - started >= self.healthy_after:
                    attempt = 0  # it ran fine for a while: this is a fresh failure
                attempt += 1
                self.restarts[inst.name] += 1
                delay = backoff_delay(
                    attempt, self.restart_backoff_base, self.restart_backoff_max, self.rng
                )
                message = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "adapter %s crashed (%s); restarting in %.1fs",
                    inst.name,
                    clean_text(message, single_line=True, max_length=300),
                    delay,
                )
                await self._set_health(
                    inst, "crashed", f"restarting in {delay:.1f}s", error=message[:500]
                )
                await asyncio.sleep(delay)
                continue
            self.adapters.pop(inst.name, None)
            await self._set_health(inst, "stopped", "source ended")
            return

    # ------------------------------------------------------------------ ingest

    async def _writer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            origin, term, item = await self._queue.get()
            pending: dict[tuple[str, int], _Pending] = {}
            self._in_flight = pending  # from the first item on: taken off the queue
            count = self._add(pending, origin, term, item)
            deadline = loop.time() + self.batch_window
            while count < self.batch_max:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    origin, term, item = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
                count += self._add(pending, origin, term, item)
            await self._commit(pending)
            self._in_flight = None
            ended, self._batch_ended = self._batch_ended, asyncio.Event()
            ended.set()

    @staticmethod
    def _add(
        pending: dict[tuple[str, int], _Pending], origin: str, term: Term, item: Event | Batch
    ) -> int:
        slot = pending.setdefault((origin, id(term)), _Pending(term))
        if isinstance(item, Batch):
            slot.events.extend(item.events)
            slot.position.update(item.position)
            slot.rejected.extend(item.rejected)
            return max(1, len(item.events))
        slot.events.append(item)
        return 1

    async def _commit(self, pending: dict[tuple[str, int], _Pending]) -> None:
        """Store every origin's events; retry (never drop) while the store refuses, unless
        the term they were read in is over (then whoever leads next reads them again).

        A batch the store refuses for a reason of its own (an event it cannot take) is
        split so that one event goes to the dead letters and the rest lands
        (:mod:`store.isolate`); only the store's own trouble (locked, disk full) is
        retried for as long as it lasts. Anything else is a bug, and the batch is given
        up after :data:`POISON_ATTEMPTS`, so it can never stop ingest for good.
        """
        for (origin, _), slot in pending.items():
            attempt = 0
            epoch = slot.term.epoch
            while True:
                if not slot.term.active:
                    log.warning(
                        "dropping %d events of %s read in an ended term (epoch %d): its next "
                        "leader reads them again from the saved position",
                        len(slot.events),
                        origin,
                        epoch,
                    )
                    break
                try:
                    await self._store_slot(origin, slot)
                    break
                except asyncio.CancelledError:
                    raise
                except LeaseLost as exc:
                    log.warning("%s: %s", origin, exc)
                    self.leadership.end(slot.term, "a write was fenced off")
                    continue  # the term is over now: dropped above
                except Exception as exc:
                    attempt += 1
                    text = clean_text(str(exc) or type(exc).__name__, single_line=True)
                    text = text[:300]
                    if not is_transient(exc) and attempt >= POISON_ATTEMPTS:
                        log.error("dropped %d event(s) from %s: %s", len(slot.events), origin, text)
                        break
                    delay = backoff_delay(attempt, 0.1, 5.0, self.rng)
                    log.error("store write failed (%s); retrying in %.2fs", text, delay)
                    await asyncio.sleep(delay)
        self._committed.set()

    async def _store_slot(self, origin: str, slot: _Pending) -> None:
        """One origin's batch, fenced by its term."""
        lease = (origin, slot.term.epoch)
        await self._store_isolating(origin, slot.events, slot.position, slot.rejected, lease)

    async def _store_isolating(
        self,
        origin: str,
        events: list[Event],
        position: dict[str, str],
        rejected: list[Rejected],
        lease: tuple[str, int],
    ) -> Isolated:
        """Filter and store a batch through :func:`append_isolating` (one event the
        store cannot take goes to the dead letters with its reason; the rest lands):
        the writer's batches and ``context.commit`` alike."""

        async def prepare(events: list[Event]) -> list[Event]:
            # Fail closed: a filter that fails (say, its vault write met a locked
            # database) fails the part; storing it unmasked would leak exactly what the
            # guardrails exist to stop.
            for flt in self.filters:
                events = await flt(events, origin)
            return events

        outcome = await append_isolating(
            self.store,
            events,
            origin=origin,
            state=position,
            rejected=[(r.location, mask_rejected(self.filters, r.raw), r.error) for r in rejected],
            lease=lease,
            prepare=prepare,
            mask=lambda raw: mask_rejected(self.filters, raw),
        )
        self.stored += outcome.accepted
        self._log_poisoned(origin, events, outcome.poisoned)
        return outcome

    @staticmethod
    def _log_poisoned(
        origin: str, events: Sequence[Event], poisoned: list[tuple[int, str]]
    ) -> None:
        for index, reason in poisoned:
            event = events[index]
            log.warning(
                "event %s from %s went to the dead letters: %s",
                clean_text(f"{event.source}/{event.id}", single_line=True, max_length=200),
                origin,
                reason,
            )

    async def _flush_remaining(self, deadline: float) -> None:
        """On shutdown: commit the batch the writer was working on, then the queue.

        Events from serving adapters were already acknowledged to their HTTP clients;
        dropping the writer's batch would lose them (re-committing is idempotent). The
        flush is bounded: a store that cannot take it now (locked by another process,
        disk full) must not keep the collector from stopping; sources with a saved
        position (files, cursors) are read again from it on the next start.
        """
        pending: dict[tuple[str, int], _Pending] = self._in_flight or {}
        self._in_flight = None
        while not self._queue.empty():
            origin, term, item = self._queue.get_nowait()
            self._add(pending, origin, term, item)
        for (origin, _), slot in pending.items():
            if not slot.term.active:
                continue  # read in an ended term: its next leader reads it again
            try:
                left = deadline - asyncio.get_running_loop().time()
                await asyncio.wait_for(self._store_slot(origin, slot), max(left, 0.1))
            except Exception as exc:
                log.error(
                    "on shutdown, %d event(s) from %s were not stored: %s",
                    len(slot.events),
                    origin,
                    clean_text(str(exc) or type(exc).__name__, single_line=True, max_length=300),
                )

    # ------------------------------------------------------------------ delivery

    def _deliverers(self) -> list[str]:
        return [
            name
            for name, adapter in self.adapters.items()
            if adapter.two_way
            and self.states.get(name) in ("running", "degraded")
            and self.leadership.leads(name)
        ]

    async def _claim(self, names: list[str]) -> list[Delivery]:
        """Claim what is due to these adapters: another collector skips a claimed row, and
        a claim left by a collector that died lapses after ``delivery_timeout`` and more."""
        due: list[Delivery] = []
        for name in names:
            due += await self.store.claim_deliveries(
                name,
                self.leadership.holder,
                limit=100,
                claim_seconds=self.delivery_timeout + 5.0,
            )
        return due

    async def _delivery_loop(self) -> None:
        """Claim and deliver what is due; between rounds, wait for the store to change.

        A decision bumps the store's change counter, so the wait ends as soon as one is
        committed (PostgreSQL: its NOTIFY; SQLite: the counter read every 50 ms), from
        whichever host the manager decided on; ``delivery_interval`` bounds the wait so
        retries that come due are tried too.
        """
        failures = 0
        while True:
            try:
                names = self._deliverers()
                if names:
                    seen = await self.store.rev()  # read first: a later decision wakes us
                    due = await self._claim(names)
                    if due:
                        await asyncio.gather(*(self._deliver(d) for d in due))
                        failures = 0
                        continue  # more may be due right away
                    failures = 0
                    await self.store.wait_for_change(seen, self.delivery_interval)
                    continue
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # A store hiccup (locked, disk full) must not end the collector; the
                # outbox row stays due and is tried again.
                failures += 1
                delay = backoff_delay(failures, 0.5, 30.0, self.rng)
                log.error("delivery loop: %s; retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                continue
            await asyncio.sleep(self.delivery_interval)

    async def _deliver(self, delivery: Delivery) -> None:
        adapter = self.adapters.get(delivery.adapter)
        if adapter is None:
            return  # crashed since the query; picked up again after its restart
        try:
            await asyncio.wait_for(adapter.deliver(delivery), self.delivery_timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            retryable = exc.retryable if isinstance(exc, DeliveryError) else True
            if isinstance(exc, TimeoutError):
                message = f"no answer from {delivery.adapter} within {self.delivery_timeout:g}s"
            elif isinstance(exc, DeliveryError):
                message = str(exc)
            else:
                message = f"{type(exc).__name__}: {exc}"
            attempts = delivery.attempts + 1
            retry_at: float | None = None
            if retryable and attempts < self.delivery_max_attempts:
                retry_at = self.clock() + backoff_delay(
                    attempts, self.delivery_backoff_base, self.delivery_backoff_max, self.rng
                )
            log.warning(
                "delivery of decision %s to %s failed: %s",
                delivery.decision.id,
                delivery.adapter,
                clean_text(message, single_line=True, max_length=300),  # may quote a server
            )
            await self.store.delivery_failed(delivery.outbox_id, message[:500], retry_at)
            return
        await self.store.delivery_succeeded(delivery.outbox_id)
