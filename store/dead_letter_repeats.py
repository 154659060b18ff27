"""Which rejected lines are already kept as dead letters.

Re-ingesting a file is safe for its events (they are idempotent on source and id),
but its rejected lines used to be kept again on every run, so a file ingested twice
showed each bad line twice. A dead letter is the same when it comes from the same
origin and place with the same bytes: :func:`already_kept` names those, and bulk
ingest keeps only the others.
"""

from __future__ import annotations

from collections.abc import Iterable

from swarmdeck.store.db import DEAD_LETTER_RAW_LIMIT, Store
from swarmdeck.store.dead_letters import bindable_text

#: Locations looked up per query (SQLite's default limit on parameters is far above).
_CHUNK = 500


def _stored_bytes(raw: bytes | str) -> bytes:
    """The bytes a dead letter keeps for ``raw`` (as :meth:`Store.dead_letters_add`)."""
    data = raw.encode("utf-8", "replace") if isinstance(raw, str) else bytes(raw)
    return data[:DEAD_LETTER_RAW_LIMIT]


async def already_kept(
    store: Store, items: Iterable[tuple[str, str, bytes | str, str]]
) -> set[tuple[str, str, bytes]]:
    """The ``(origin, location, raw bytes)`` of ``items`` already among the dead letters."""
    wanted: dict[str, set[str]] = {}
    for origin, location, _raw, _error in items:
        wanted.setdefault(bindable_text(origin), set()).add(bindable_text(location))
    found: set[tuple[str, str, bytes]] = set()
    for origin, locations in wanted.items():
        ordered = sorted(locations)
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = await store._fetchall(
                f"SELECT origin, location, raw FROM dead_letters "
                f"WHERE origin = ? AND location IN ({marks})",
                (origin, *chunk),
            )
            found.update((str(o), str(loc), bytes(r)) for o, loc, r in rows)
    return found


async def not_kept(
    store: Store, items: list[tuple[str, str, bytes | str, str]]
) -> list[tuple[str, str, bytes | str, str]]:
    """Those of ``items`` that are not dead letters yet (to keep in a transaction of one's own)."""
    known = await already_kept(store, items)
    return [
        i
        for i in items
        if (bindable_text(i[0]), bindable_text(i[1]), _stored_bytes(i[2])) not in known
    ]


async def keep_new(store: Store, items: list[tuple[str, str, bytes | str, str]]) -> int:
    """Keep those of ``items`` that are not dead letters yet; returns how many were new."""
    fresh = await not_kept(store, items)
    if fresh:
        await store.dead_letters_add(fresh)
    return len(fresh)
