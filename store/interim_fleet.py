"""INTERIM, to be dropped when branch pg-store is merged: the fleet calls, in memory.

Branch pg-store implements leases, claimed deliveries, fenced appends, decision hosts
and the change wait in both backends (SQL tables, ``SKIP LOCKED``, LISTEN/NOTIFY).
Until it lands here, this mixin gives the same signatures so the collector's lease
loop can be written and unit-tested against them: leases and claims live in a
registry per database file shared by every :class:`Store` of this process (two
collectors in one test process see the same leases), which is all SQLite needs,
since its file lock allows one collector per file anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from swarmdeck.store import events as ev
from swarmdeck.store.append import AppendMixin
from swarmdeck.store.decide import DecideMixin
from swarmdeck.store.errors import LeaseLost
from swarmdeck.store.events import Action
from swarmdeck.store.models import AppendResult, Decision, Delivery, Lease
from swarmdeck.store.outbox import OutboxMixin


@dataclass(slots=True)
class _Registry:
    leases: dict[str, Lease] = field(default_factory=dict)
    claims: dict[int, tuple[str, float]] = field(default_factory=dict)
    hosts: dict[int, str] = field(default_factory=dict)


_REGISTRIES: dict[str, _Registry] = {}


class InterimFleetMixin(AppendMixin, DecideMixin, OutboxMixin):
    """Leases, claims and fencing kept in process memory (see the module docstring)."""

    def _fleet(self) -> _Registry:
        return _REGISTRIES.setdefault(str(self.path.resolve()), _Registry())

    async def try_lead(self, name: str, holder: str, ttl: float) -> int | None:
        now = self.clock()
        reg = self._fleet()
        current = reg.leases.get(name)
        if current is not None and current.holder != holder and current.expires_ts > now:
            return None
        if current is not None and current.holder == holder and current.expires_ts > now:
            epoch = current.epoch
        else:
            epoch = (current.epoch if current is not None else 0) + 1
        reg.leases[name] = Lease(name, holder, epoch, now + ttl)
        return epoch

    async def release_lead(self, name: str, holder: str) -> None:
        reg = self._fleet()
        current = reg.leases.get(name)
        if current is not None and current.holder == holder:
            reg.leases[name] = Lease(name, holder, current.epoch, 0.0)

    async def leases(self) -> list[Lease]:
        return sorted(self._fleet().leases.values(), key=lambda lease: lease.name)

    def _holds(self, lease: tuple[str, int] | None) -> None:
        if lease is None:
            return
        name, epoch = lease
        current = self._fleet().leases.get(name)
        if current is None or current.epoch != epoch or current.expires_ts <= self.clock():
            raise LeaseLost(name, epoch)

    async def append_with_state(
        self,
        events: Sequence[ev.Event],
        *,
        origin: str,
        state: dict[str, str],
        rejected: Iterable[tuple[str, bytes | str, str]] = (),
        lease: tuple[str, int] | None = None,
    ) -> AppendResult:
        self._holds(lease)
        return await super().append_with_state(
            events, origin=origin, state=state, rejected=rejected
        )

    async def claim_deliveries(
        self, adapter: str, holder: str, limit: int = 100, claim_seconds: float = 60.0
    ) -> list[Delivery]:
        now = self.clock()
        reg = self._fleet()
        out: list[Delivery] = []
        for delivery in await self.due_deliveries(adapters=[adapter], limit=limit * 4):
            claim = reg.claims.get(delivery.outbox_id)
            if claim is not None and claim[0] != holder and claim[1] > now:
                continue
            reg.claims[delivery.outbox_id] = (holder, now + claim_seconds)
            out.append(delivery)
            if len(out) >= limit:
                break
        return out

    async def delivery_succeeded(self, outbox_id: int) -> None:
        self._fleet().claims.pop(outbox_id, None)
        await super().delivery_succeeded(outbox_id)

    async def delivery_failed(self, outbox_id: int, error: str, retry_at: float | None) -> None:
        self._fleet().claims.pop(outbox_id, None)
        await super().delivery_failed(outbox_id, error, retry_at)

    async def decide(
        self,
        escalation: str,
        action: Action,
        *,
        actor: str,
        reason: str | None = None,
        target: str | None = None,
        answer: str | None = None,
        host: str | None = None,
    ) -> Decision:
        decision = await super().decide(
            escalation, action, actor=actor, reason=reason, target=target, answer=answer
        )
        if host is not None:
            self._fleet().hosts[decision.id] = host
        return decision

    def decision_host(self, decision_id: int) -> str | None:
        """Interim only (pg-store has a ``host`` column on decisions)."""
        return self._fleet().hosts.get(decision_id)

    async def wait_for_change(self, since_rev: int, timeout: float) -> int:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            rev = await self.rev()
            if rev != since_rev or loop.time() >= deadline:
                return rev
            await asyncio.sleep(min(0.05, max(0.0, deadline - loop.time())))
