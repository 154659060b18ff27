"""Dead letters: input that could not be stored, kept bounded with where it came from and why.

A line that fails validation, or an escalation raise that clashes with a decided
one, is not dropped: the manager can see what an adapter sent and fix the sender.
The raw bytes are cut to :data:`DEAD_LETTER_RAW_LIMIT` so a runaway agent cannot
fill the disk through this door.
"""

from __future__ import annotations

from collections.abc import Iterable

from swarmdeck.store.base import StoreCore
from swarmdeck.store.models import DeadLetter

#: Dead letters keep at most this much of the offending input.
DEAD_LETTER_RAW_LIMIT = 16_384
#: Characters of the reason kept (it may quote the input).
DEAD_LETTER_ERROR_LIMIT = 2_000


def bindable_text(text: object) -> str:
    """Text every backend can store: a reason or location quoting bad input may hold
    lone surrogates (SQLite cannot bind them) or NUL (PostgreSQL refuses it in text)."""
    return str(text).encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


class DeadLettersMixin(StoreCore):
    """Keep and list rejected input."""

    async def dead_letter(
        self, *, origin: str, location: str, raw: bytes | str, error: str
    ) -> None:
        """Keep input that could not be parsed: bounded raw bytes, where it came from, why."""
        await self.dead_letters_add([(origin, location, raw, error)])

    async def dead_letters_add(self, items: Iterable[tuple[str, str, bytes | str, str]]) -> None:
        """Batch form of :meth:`dead_letter`: ``(origin, location, raw, error)`` tuples."""
        batch = list(items)  # the body may run twice: it must not consume an iterator
        await self._transact(lambda: self._dead_letters_in_tx(batch), bumps=False)

    async def _dead_letters_in_tx(self, items: Iterable[tuple[str, str, bytes | str, str]]) -> None:
        now = self.clock()
        rows = []
        for origin, location, raw, error in items:
            data = raw.encode("utf-8", "replace") if isinstance(raw, str) else bytes(raw)
            where, why = bindable_text(location), bindable_text(error)[:DEAD_LETTER_ERROR_LIMIT]
            rows.append((now, bindable_text(origin), where, data[:DEAD_LETTER_RAW_LIMIT], why))
        if rows:
            await self._exec_many(
                "INSERT INTO dead_letters(ts, origin, location, raw, error) VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The newest first; ``raw`` decoded as UTF-8 with replacement characters."""
        rows = await self._fetchall(
            "SELECT id, ts, origin, location, raw, error FROM dead_letters "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [
            DeadLetter(r[0], r[1], r[2], r[3], bytes(r[4]).decode("utf-8", "replace"), r[5])
            for r in rows
        ]
