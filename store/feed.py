"""The change feed over raw events, and their retention.

Events get a ``seq`` that only grows, so a follower (the policy engine, a dry run,
an export) keeps one integer of position and asks for what came after it. Seqs
may have gaps (a rolled-back batch, ``INSERT OR IGNORE`` of duplicates): a
follower must never assume ``seq + 1`` exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from swarmdeck.store import rows
from swarmdeck.store.base import StoreCore
from swarmdeck.store.models import StoredEvent


class FeedMixin(StoreCore):
    """Events in seq order, and the retention cut."""

    async def events_since(
        self,
        seq: int,
        limit: int = 1000,
        *,
        kinds: Sequence[str] | None = None,
        upto: int | None = None,
        since_ts: float | None = None,
    ) -> list[StoredEvent]:
        """The change feed: events after ``seq``, oldest first.

        Args:
            kinds: only events of these kinds (a follower that reads a few kinds skips
                the status and progress noise without decoding it).
            upto: only events at or below this seq (a position read before: see
                :meth:`last_seq`).
            since_ts: only events that happened at or after this time.
        """
        clauses = ["seq > ?"]
        params: list[Any] = [seq]
        if upto is not None:
            clauses.append("seq <= ?")
            params.append(upto)
        if since_ts is not None:
            clauses.append("ts >= ?")
            params.append(since_ts)
        if kinds is not None:
            if not kinds:
                return []
            clauses.append(f"kind IN ({','.join('?' * len(kinds))})")
            params.extend(kinds)
        found = await self._fetchall(
            f"SELECT {rows.EVENT_COLUMNS} FROM events WHERE {' AND '.join(clauses)} "
            "ORDER BY seq LIMIT ?",
            (*params, limit),
        )
        return [rows.stored_event(r) for r in found]

    async def recent_events(
        self, *, agent: str | None = None, task: str | None = None, limit: int = 50
    ) -> list[StoredEvent]:
        """The latest events of one agent or one task, newest first."""
        if agent is not None:
            where, params = "agent = ?", [agent]
        elif task is not None:
            where, params = "task = ?", [task]
        else:
            where, params = "TRUE", []
        found = await self._fetchall(
            f"SELECT {rows.EVENT_COLUMNS} FROM events WHERE {where} ORDER BY seq DESC LIMIT ?",
            (*params, limit),
        )
        return [rows.stored_event(r) for r in found]

    async def last_seq(self) -> int:
        """The newest committed event's seq (0 when there is none).

        Writers are serialised, so no event at or below it can still appear: a
        follower that read everything up to it may move its position there.
        """
        row = await self._fetchone("SELECT COALESCE(MAX(seq), 0) FROM events")
        return int(row[0]) if row else 0

    async def prune_events(self, older_than: float) -> int:
        """Retention: delete raw events older than a time; projections and audit stay.

        Events are (nearly) time-ordered by seq, so the cut is the newest event
        older than the limit; there is no ts index to keep ingest cheap. The newest
        event is always kept, so :meth:`last_seq` never moves back under a follower.
        """
        return await self._transact(
            lambda: self._exec(
                "DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events WHERE ts < ?) "
                "AND seq < (SELECT MAX(seq) FROM events)",
                (older_than,),
            ),
            bumps=False,
        )
