"""Deciding an escalation: a compare-and-set whose decision, outbox row and audit record
are one transaction.

``UPDATE ... WHERE state = 'open'`` is the compare-and-set: of two managers (two
processes, two connections) deciding at once, exactly one changes the row, and the
other is told who won and when (:class:`AlreadyDecided`). The winner's decision is
addressed to the adapter instance that ingested the escalation (its ``origin``),
which the outbox then delivers.
"""

from __future__ import annotations

from swarmdeck.store.audit_log import AuditMixin
from swarmdeck.store.errors import AlreadyDecided, InvalidDecision, NotFound
from swarmdeck.store.events import Action, as_action
from swarmdeck.store.models import Decision

#: The columns :class:`Decision` is built from, in its field order.
DECISION_COLUMNS = "id, escalation, action, reason, target, answer, actor, ts, host"


class DecideMixin(AuditMixin):
    """Decisions on escalations."""

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
        """Decide an open escalation: compare-and-set, first decision wins.

        The decision row, its outbox entry and its audit record are written in the
        same transaction, so a decision is either wholly recorded or not at all.

        Args:
            host: where the decision was made (the deciding manager's host), kept with it.

        Raises:
            InvalidDecision: unknown action, reject/reroute without a reason, reroute
                without a target, answer without text.
            NotFound: no such escalation.
            AlreadyDecided: someone decided first (``.by``, ``.at``), or it was withdrawn.
        """
        reason = (reason or "").strip() or None
        target = (target or "").strip() or None
        action = as_action(action)  # also checked at run time: JSON and plugins are untyped
        if action in ("reject", "reroute") and not reason:
            raise InvalidDecision(f"{action} needs a reason: the agent is told why")
        if action == "reroute" and not target:
            raise InvalidDecision("reroute needs a target agent or role")
        if action == "answer" and not (answer or "").strip():
            raise InvalidDecision("answer needs the answer text")

        async def body() -> Decision:
            # Locked (PostgreSQL: FOR UPDATE) so a loser waits for the winner to commit
            # and then reads who won, for the AlreadyDecided it raises.
            row = await self._fetchone(
                "SELECT state, decided_by, decided_ts, origin, kind, title, agent, task "
                f"FROM escalations WHERE id = ?{self._for_update}",
                (escalation,),
            )
            if row is None:
                raise NotFound(f"no escalation {escalation!r}")
            state, decided_by, decided_ts, origin, kind, title, agent, task = row
            now = self.clock()
            rev = await self._bump_rev()
            changed = await self._exec(
                "UPDATE escalations SET state = 'decided', decided_ts = ?, decided_by = ?, "
                "action = ?, reason = ?, target = ?, rev = ? WHERE id = ? AND state = 'open'",
                (now, actor, action, reason, target, rev, escalation),
            )
            if changed != 1:
                raise AlreadyDecided(escalation, state, decided_by, decided_ts)
            decision_row = await self._fetchone(
                "INSERT INTO decisions(escalation, action, reason, target, answer, actor, ts, "
                "host) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (escalation, action, reason, target, answer, actor, now, host),
            )
            assert decision_row is not None
            decision_id = int(decision_row[0])
            await self._exec(
                "INSERT INTO outbox(decision, escalation, adapter, next_attempt) "
                "VALUES (?, ?, ?, ?)",
                (decision_id, escalation, origin, now),
            )
            detail = {
                "action": action,
                "reason": reason,
                "target": target,
                "answer": answer,
                "kind": kind,
                "title": title,
                "agent": agent,
                "task": task,
                "deliver_to": origin,
            }
            if host is not None:
                detail["host"] = host
            await self._audit_insert(now, actor, f"decide.{action}", escalation, detail)
            return Decision(
                decision_id, escalation, action, reason, target, answer, actor, now, host
            )

        return await self._transact(body)

    async def decisions(self, escalation: str | None = None, limit: int = 1000) -> list[Decision]:
        """Decisions, newest first, of one escalation or of all."""
        where, params = ("WHERE escalation = ?", [escalation]) if escalation else ("", [])
        found = await self._fetchall(
            f"SELECT {DECISION_COLUMNS} FROM decisions {where} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [Decision(*r) for r in found]
