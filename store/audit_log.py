"""The ``audit`` table: append chained records, read them back, verify the chain.

The hashing itself is pure and lives in :mod:`swarmdeck.store.audit`; this module
is where the chain meets the database. A record is always appended inside the
transaction of the change it describes (a decision, a delivery outcome, a severity
change), so the audit never claims something that rolled back, nor misses
something that committed.
"""

from __future__ import annotations

import json
from typing import Any

from swarmdeck.store import audit as audit_chain
from swarmdeck.store import audit_check
from swarmdeck.store.base import StoreCore
from swarmdeck.store.models import AuditRecord, AuditVerdict

_AUDIT_COLUMNS = "seq, ts, actor, action, subject, detail, prev, hash"


class AuditMixin(StoreCore):
    """The tamper-evident audit trail."""

    async def _audit_insert(
        self, ts: float, actor: str, action: str, subject: str, detail: dict[str, Any]
    ) -> None:
        """Append one chained audit record; call inside :meth:`_transact`."""
        await self._serialise("audit")
        last = await self._fetchone("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        seq, prev = (int(last[0]) + 1, str(last[1])) if last else (1, audit_chain.GENESIS)
        body = audit_chain.dump_detail(detail)
        digest = audit_chain.record_hash(prev, seq, ts, actor, action, subject, body)
        await self._exec(
            f"INSERT INTO audit({_AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, ts, actor, action, subject, body, prev, digest),
        )
        # The count catches deletion of the newest records, which no link can.
        await self._exec(
            "INSERT INTO meta(key, value) VALUES ('audit_count', 1) "
            "ON CONFLICT(key) DO UPDATE SET value = meta.value + 1"
        )

    async def audit(self, actor: str, action: str, subject: str, detail: dict[str, Any]) -> None:
        """Append an audit record of its own (a reveal, a rule change, ...)."""
        now = self.clock()
        await self._transact(
            lambda: self._audit_insert(now, actor, action, subject, detail), bumps=False
        )

    async def audit_records(self, since: float | None = None) -> list[AuditRecord]:
        """The chain in order, optionally only records at or after ``since``."""
        rows = await self._fetchall(
            f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE ts >= ? ORDER BY seq",
            (since if since is not None else 0.0,),
        )
        return [
            AuditRecord(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in rows
        ]

    async def audit_verify(self) -> AuditVerdict:
        """Walk the chain; name every edited, deleted or reordered record."""
        rows = await self._fetchall(f"SELECT {_AUDIT_COLUMNS} FROM audit ORDER BY seq")
        count, problems = audit_chain.verify_rows(rows)
        expected = await self._fetchone("SELECT value FROM meta WHERE key = 'audit_count'")
        expected_count = int(expected[0]) if expected else 0
        if expected_count > count and not problems:
            problems.append(
                f"{expected_count - count} record(s) deleted from the end of the chain "
                f"(expected {expected_count}, found {count})"
            )
        # The rows beside the chain (decisions, outbox, escalations) must agree with it.
        problems.extend(await audit_check.crosscheck(self))
        return AuditVerdict(ok=not problems, records=count, problems=problems)
