"""The outbox: decisions waiting to reach the agent, with attempts, backoff and outcome.

:meth:`DecideMixin.decide` writes one outbox row per decision, addressed to the
adapter instance the escalation came from. The delivery loop claims the rows that
are due (:meth:`OutboxMixin.due_deliveries`), asks that adapter to deliver, and
acknowledges (:meth:`delivery_succeeded`) or backs off (:meth:`delivery_failed`
with the next attempt's time, or None to give up). The outcome is audited, so the
chain says what came of each decision, not only that it was made.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from swarmdeck.store.audit_log import AuditMixin
from swarmdeck.store.models import Decision, Delivery, DeliveryState, OutboxEntry
from swarmdeck.store.reads import ReadsMixin

#: Delivery states a reader may see on a decided escalation.
DELIVERY_STATES: tuple[DeliveryState, ...] = ("pending", "retrying", "delivered", "failed")


class OutboxMixin(AuditMixin, ReadsMixin):
    """Delivery of decisions back to their adapters."""

    async def due_deliveries(
        self, adapters: Iterable[str] | None = None, limit: int = 100
    ) -> list[Delivery]:
        """Outbox rows whose next attempt is due, oldest first, optionally for some adapters."""
        params: list[Any] = [self.clock()]
        where = "o.state IN ('pending', 'retrying') AND o.next_attempt <= ?"
        if adapters is not None:
            names = list(adapters)
            if not names:
                return []
            where += f" AND o.adapter IN ({','.join('?' * len(names))})"
            params.extend(names)
        found = await self._fetchall(
            f"SELECT o.id, o.adapter, o.attempts, d.id, d.escalation, d.action, d.reason, "
            f"d.target, d.answer, d.actor, d.ts "
            f"FROM outbox o JOIN decisions d ON d.id = o.decision "
            f"WHERE {where} ORDER BY o.next_attempt LIMIT ?",
            (*params, limit),
        )
        deliveries = []
        for r in found:
            esc = await self.escalation(r[4])
            decision = Decision(r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10])
            deliveries.append(Delivery(r[0], r[1], r[2], decision, esc))
        return deliveries

    async def outbox_entry(self, decision_id: int) -> OutboxEntry | None:
        """The outbox row that carries a decision (None: no such decision)."""
        row = await self._fetchone(
            "SELECT id, adapter, state, attempts FROM outbox WHERE decision = ?", (decision_id,)
        )
        return None if row is None else OutboxEntry(*row)

    async def delivery_succeeded(self, outbox_id: int) -> None:
        await self._delivery_update(outbox_id, "delivered", None, None)

    async def delivery_failed(self, outbox_id: int, error: str, retry_at: float | None) -> None:
        """Record a failed attempt; ``retry_at=None`` gives up (state ``failed``)."""
        await self._delivery_update(
            outbox_id, "retrying" if retry_at is not None else "failed", error, retry_at
        )

    async def _delivery_update(
        self, outbox_id: int, state: DeliveryState, error: str | None, retry_at: float | None
    ) -> None:
        now = self.clock()
        async with self._write() as db:
            rev = await self._bump_rev()
            await db.execute(
                "UPDATE outbox SET state = ?, attempts = attempts + 1, last_error = ?, "
                "next_attempt = COALESCE(?, next_attempt), "
                "delivered_ts = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_ts END "
                "WHERE id = ?",
                (state, error, retry_at, state, now, outbox_id),
            )
            await db.execute(
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
