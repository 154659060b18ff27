"""Leadership: every adapter instance, and every once-per-database service, runs on one collector.

Several collectors (one per host) may serve one database. Each *name* (an adapter
instance, or a service such as ``policy``) is led by whichever collector holds its
lease in the store (:meth:`Store.try_lead`): the leader renews it every ``renew``
seconds for ``ttl`` seconds; the others try the same call every round and get
None until the lease expires, then one of them gets it (with a higher epoch) and
starts the instance from the positions saved with its events. A leader that dies
stops renewing, so its names move within ``ttl + renew`` seconds (6 + 2 by
default, inside the 10 s promised).

A lease is only as good as its last renewal. A leader that cannot reach the store
does not know whether it still leads, so it counts a term as over ``ttl`` seconds
after the *start* of its last successful renewal (the store's expiry is at least
that late) and stops the instance then, before anyone else can take it. And the
store fences the writes themselves: events go in with ``lease=(name, epoch)``, and
a deposed leader's late write raises :class:`~swarmdeck.store.errors.LeaseLost`
instead of landing beside the new leader's (:meth:`Leadership.drop` ends the term
at once then).

On SQLite the collector's file lock already allows one collector per file; the
same leases run there too, and are simply never contested.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from swarmdeck.store.errors import LeaseLost
from swarmdeck.store.text import clean_text

log = logging.getLogger("swarmdeck.leadership")

#: Seconds a lease lasts without renewal.
TTL = 6.0
#: Seconds between two renewal rounds (a follower's takeover attempts too).
RENEW = 2.0
#: Seconds the releases at shutdown may take, together, before the leases are left to
#: expire (a store locked by another process must not keep a collector from stopping).
RELEASE_TIMEOUT = 2.0


def collector_id() -> str:
    """``host:pid:random``: who holds a lease, readable in ``swarmdeck adapters``.

    The random part tells a restarted collector (same host, recycled pid) from the
    one before it, whose leases must not be taken as its own.
    """
    host = clean_text(socket.gethostname() or "localhost", single_line=True, max_length=100)
    return f"{host}:{os.getpid()}:{secrets.token_hex(3)}"


class TermEnded(LeaseLost):
    """This collector's own term on a name is over (the store refused a write, renewals
    failed for a whole ttl, or the lease moved on): it writes nothing more under it."""

    def __init__(self, name: str, epoch: int) -> None:
        super().__init__(name, epoch, None, None)
        self.args = (f"this collector no longer leads {name!r} (its term at epoch {epoch} ended)",)

    def __str__(self) -> str:
        return str(self.args[0])


class LeaseStore(Protocol):
    """The store calls leadership needs."""

    async def try_lead(self, name: str, holder: str, ttl: float) -> int | None: ...

    async def release_lead(self, name: str, holder: str) -> None: ...


@dataclass(slots=True)
class Term:
    """One continuous period during which this collector leads ``name``."""

    name: str
    epoch: int
    valid_until: float
    """Monotonic time after which the term counts as over unless renewed."""
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def lease(self) -> tuple[str, int]:
        """What fenced writes pass to the store."""
        return (self.name, self.epoch)

    @property
    def active(self) -> bool:
        return not self.ended.is_set()


class Leadership:
    """Holds, renews and contests the leases of a set of names for one collector.

    Args:
        store: where leases live.
        holder: this collector's id (:func:`collector_id`).
        names: what to lead; more can be added with :meth:`want`.
        ttl: lease length in seconds.
        renew: seconds between rounds.
        monotonic: the clock for local expiry (injectable in tests).
    """

    def __init__(
        self,
        store: LeaseStore,
        holder: str,
        names: Iterable[str] = (),
        *,
        ttl: float = TTL,
        renew: float = RENEW,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if renew >= ttl:
            raise ValueError(f"renew ({renew}s) must be shorter than ttl ({ttl}s)")
        self.store = store
        self.holder = holder
        self.ttl = ttl
        self.renew = renew
        self.monotonic = monotonic
        self.names: list[str] = []
        self.terms: dict[str, Term] = {}
        self._gained: dict[str, asyncio.Event] = {}
        self._wake = asyncio.Event()
        self.rounds = 0
        for name in names:
            self.want(name)

    # ------------------------------------------------------------------ queries

    def want(self, name: str) -> None:
        """Contest ``name`` from the next round on."""
        if name not in self.names:
            self.names.append(name)
            self._gained.setdefault(name, asyncio.Event())
            self._wake.set()

    def term(self, name: str) -> Term | None:
        """The current term on ``name``, or None while another collector leads it."""
        term = self.terms.get(name)
        return term if term is not None and term.active else None

    def leads(self, name: str) -> bool:
        return self.term(name) is not None

    async def acquired(self, name: str) -> Term:
        """Wait until this collector leads ``name``; the term that began."""
        self.want(name)
        while True:
            term = self.term(name)
            if term is not None:
                return term
            event = self._gained[name]
            event.clear()
            await event.wait()

    def drop(self, name: str, epoch: int, why: str = "a write was fenced off") -> None:
        """End the term at ``epoch`` now (the store said it is no longer held)."""
        term = self.terms.get(name)
        if term is not None and term.epoch == epoch:
            self.end(term, why)

    def end(self, term: Term, why: str) -> None:
        """End ``term`` now, if it is not over yet."""
        if term.active:
            self._end(term, why)

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        """Renew and contest every round until cancelled; then release what is held."""
        watchdog = asyncio.create_task(self._expiry_watch(), name="lease-expiry")
        try:
            while True:
                self._wake.clear()  # a name wanted during the round wakes the next one
                await self.round()
                await self._sleep_until_next()
        finally:
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)
            await asyncio.shield(self.release_all())

    async def round(self) -> None:
        """One pass over every name at once: renew what is held, try what is not.

        Each call is bounded by ``renew`` seconds, so a round never outlasts the next.
        """
        self.rounds += 1
        await asyncio.gather(*(self._try(name) for name in list(self.names)))
        self.expire()

    async def _expiry_watch(self) -> None:
        """End each term the moment it runs out, even while a round hangs on the store."""
        while True:
            ends = [t.valid_until for t in self.terms.values() if t.active]
            step = min(ends) - self.monotonic() if ends else self.renew
            await asyncio.sleep(min(max(0.0, step), self.renew) + 0.001)
            self.expire()

    async def _try(self, name: str) -> None:
        started = self.monotonic()
        try:
            epoch = await asyncio.wait_for(
                self.store.try_lead(name, self.holder, self.ttl), self.renew
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Unknown whether the renewal landed: the term runs on until its local expiry.
            text = clean_text(str(exc) or type(exc).__name__, single_line=True)
            log.warning("lease on %s: %s", name, text)
            return
        term = self.terms.get(name)
        if epoch is None:
            if term is not None and term.active:
                self._end(term, "another collector holds the lease")
            return
        valid_until = started + self.ttl
        if term is not None and term.active and term.epoch == epoch:
            term.valid_until = valid_until
            return
        if term is not None and term.active:
            self._end(term, f"the lease moved on to epoch {epoch}")
        self.terms[name] = Term(name, epoch, valid_until)
        log.info("%s leads %s (epoch %d)", self.holder, name, epoch)
        self._gained[name].set()

    def expire(self) -> None:
        """End every term whose last renewal is too old to still count."""
        now = self.monotonic()
        for term in list(self.terms.values()):
            if term.active and now >= term.valid_until:
                self._end(term, f"no renewal for {self.ttl:g}s (store unreachable?)")

    def _end(self, term: Term, why: str) -> None:
        log.warning("%s no longer leads %s (epoch %d): %s", self.holder, term.name, term.epoch, why)
        term.ended.set()
        self._gained[term.name].clear()

    async def _sleep_until_next(self) -> None:
        """Sleep until the next round, waking early to expire a term or contest a new name."""
        deadline = self.monotonic() + self.renew
        while True:
            now = self.monotonic()
            if now >= deadline:
                return
            ends = [t.valid_until for t in self.terms.values() if t.active]
            step = min([deadline, *ends]) - now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, step) + 0.001)
            if self._wake.is_set():
                return
            self.expire()

    async def release_all(self) -> None:
        """Give up every lease held (shutdown): followers take over at their next round."""
        held = [t for t in self.terms.values() if t.active]
        for term in held:
            term.ended.set()
            self._gained[term.name].clear()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RELEASE_TIMEOUT
        for term in held:
            try:
                left = max(deadline - loop.time(), 0.05)
                await asyncio.wait_for(self.store.release_lead(term.name, self.holder), left)
            except Exception as exc:  # it expires on its own within ttl
                text = clean_text(str(exc) or type(exc).__name__, single_line=True)
                log.warning("could not release the lease on %s: %s", term.name, text)
