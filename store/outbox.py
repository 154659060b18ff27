"""The outbox: decisions waiting to reach the agent, with attempts, backoff and outcome.

:meth:`DecideMixin.decide` writes one outbox row per decision, addressed to the
adapter instance the escalation came from. The delivery loop claims the rows that
are due (:meth:`OutboxMixin.claim_deliveries`: once across collectors, with a
claimed-until time so a dead holder's rows come back), asks that adapter to deliver, and
acknowledges (:meth:`delivery_succeeded`) or backs off (:meth:`delivery_failed`
with the next attempt's time, or None to give up). The outcome is audited, so the
chain says what came of each decision, not only that it was made.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from swarmdeck.store.audit_log import AuditMixin
from swarmdeck.store.decide import DECISION_COLUMNS
from swarmdeck.store.models import Decision, Delivery, DeliveryState, OutboxEntry
from swarmdeck.store.reads import ReadsMixin

#: Delivery states a reader may see on a decided escalation.
DELIVERY_STATES: tuple[DeliveryState, ...] = ("pending", "retrying", "delivered", "failed")


_DECISION = ", ".join(f"d.{column}" for column in DECISION_COLUMNS.split(", "))
_DELIVERY_SELECT = (
    f"SELECT o.id, o.adapter, o.attempts, {_DECISION} FROM outbox o "
    "JOIN decisions d ON d.id = o.decision"
)
#: Due, and not claimed by a live claim of some collector.
_DUE = (
    "o.state IN ('pending', 'retrying') AND o.next_attempt <= ? "
    "AND (o.claimed_until IS NULL OR o.claimed_until <= ?)"
)


class OutboxMixin(AuditMixin, ReadsMixin):
    """Delivery of decisions back to their adapters."""

    async def due_deliveries(
        self, adapters: Iterable[str] | None = None, limit: int = 100
    ) -> list[Delivery]:
        """Outbox rows whose next attempt is due and that nobody has claimed, oldest first,
        optionally for some adapters."""
        now = self.clock()
        params: list[Any] = [now, now]
        where = _DUE
        if adapters is not None:
            names = list(adapters)
            if not names:
                return []
            where += f" AND o.adapter IN ({','.join('?' * len(names))})"
            params.extend(names)
        found = await self._fetchall(
            f"{_DELIVERY_SELECT} WHERE {where} ORDER BY o.next_attempt, o.id LIMIT ?",
            (*params, limit),
        )
        return await self._deliveries(found)

    async def claim_deliveries(
        self, adapter: str, holder: str, limit: int, claim_seconds: float
    ) -> list[Delivery]:
        """Claim up to ``limit`` due deliveries of ``adapter`` for ``holder``, oldest first.

        A claimed row is nobody else's for ``claim_seconds`` (PostgreSQL: the rows are
        picked ``FOR UPDATE SKIP LOCKED``, so two collectors claiming at once never get
        the same row); :meth:`delivery_succeeded` and :meth:`delivery_failed` release
        the claim. A holder that dies leaves its claim to expire, and then the row is
        due again: a decision is delivered once, or retried after a crash, never twice
        at the same time.
        """
        now = self.clock()
        skip = " FOR UPDATE OF o SKIP LOCKED" if self.dialect == "postgres" else ""

        async def body() -> list[tuple[Any, ...]]:
            found = await self._fetchall(
                f"{_DELIVERY_SELECT} WHERE {_DUE} AND o.adapter = ? "
                f"ORDER BY o.next_attempt, o.id LIMIT ?{skip}",
                (now, now, adapter, limit),
            )
            if found:
                await self._exec_many(
                    "UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id = ?",
                    [(holder, now + claim_seconds, r[0]) for r in found],
                )
            return found

        return await self._deliveries(await self._transact(body, bumps=False))

    async def _deliveries(self, found: list[tuple[Any, ...]]) -> list[Delivery]:
        deliveries = []
        for r in found:
            decision = Decision(*r[3:])
            esc = await self.escalation(decision.escalation)
            deliveries.append(Delivery(r[0], r[1], r[2], decision, esc))
        return deliveries

    async def outbox_entry(self, decision_id: int) -> OutboxEntry | None:
        """The outbox row that carries a decision (None: no such decision)."""
        row = await self._fetchone(
            "SELECT id, adapter, state, attempts FROM outbox WHERE decision = ?", (decision_id,)
        )
        return None if row is None else OutboxEntry(*row)

    async def delivery_succeeded(self, outbox_id: int) -> None:
        """Record the delivery (and release its claim)."""
        await self._delivery_update(outbox_id, "delivered", None, None)

    async def delivery_failed(self, outbox_id: int, error: str, retry_at: float | None) -> None:
        """Record a failed attempt (releasing its claim); ``retry_at=None`` gives up
        (state ``failed``)."""
        await self._delivery_update(
            outbox_id, "retrying" if retry_at is not None else "failed", error, retry_at
        )

    async def _delivery_update(
        self, outbox_id: int, state: DeliveryState, error: str | None, retry_at: float | None
    ) -> None:
        now = self.clock()

        async def body() -> None:
            rev = await self._bump_rev()
            await self._exec(
                "UPDATE outbox SET state = ?, attempts = attempts + 1, last_error = ?, "
                "next_attempt = COALESCE(?, next_attempt), "
                "delivered_ts = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_ts END, "
                "claimed_by = NULL, claimed_until = NULL "
                "WHERE id = ?",
                (state, error, retry_at, state, now, outbox_id),
            )
            await self._exec(
                "UPDATE escalations SET rev = ? "
                "WHERE id = (SELECT escalation FROM outbox WHERE id = ?)",
                (rev, outbox_id),
            )
            if state in ("delivered", "failed"):
                # The audit says what came of each decision, not only that it was made.
                row = await self._fetchone(
                    "SELECT o.escalation, o.adapter, o.attempts, d.id, d.action, d.actor "
                    "FROM outbox o JOIN decisions d ON d.id = o.decision WHERE o.id = ?",
                    (outbox_id,),
                )
                if row is not None:
                    escalation, adapter, attempts, decision, action, decided_by = row
                    await self._audit_insert(
                        now,
                        f"adapter:{adapter}",
                        f"decision.{state}",
                        escalation,
                        {
                            "decision": decision,
                            "action": action,
                            "decided_by": decided_by,
                            "attempts": attempts,
                            "error": error,
                        },
                    )

        await self._transact(body)
