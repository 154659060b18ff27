"""A swarmdeck adapter in one file: each line appended to a text file becomes a log event.

Copy it to start your own: an options model, an ``events()`` generator, and a position
saved with the events so that a restart neither re-reads nor skips a line.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, cast

from pydantic import ConfigDict, Field

from swarmdeck.adapters.base import Adapter, AdapterOptions, Batch
from swarmdeck.store.events import Event, make_event

#: Longest log text the wire format takes; longer lines are cut.
MAX_TEXT = 65_536


class LinesOptions(AdapterOptions):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    path: Path
    """The text file to follow (it may not exist yet)."""
    agent: str = "lines"
    """The agent every line is attributed to."""
    poll_interval: float = Field(default=0.5, gt=0)
    """Seconds between looks at the file."""


def read_lines(path: Path, offset: int) -> list[tuple[int, str]]:
    """Complete lines after byte ``offset``, each with the offset just past it."""
    found: list[tuple[int, str]] = []
    if path.exists():
        with path.open("rb") as f:
            f.seek(offset)
            for raw in f:
                if not raw.endswith(b"\n"):
                    break  # still being written: read it next time
                offset += len(raw)
                found.append((offset, raw.decode(errors="replace").rstrip("\r\n")))
    return found


class LinesAdapter(Adapter):
    type_name: ClassVar[str] = "lines"
    description: ClassVar[str] = "Each line appended to a text file becomes a log event"
    Options: ClassVar[type[AdapterOptions]] = LinesOptions

    async def events(self) -> AsyncIterator[Event | Batch]:
        opts = cast(LinesOptions, self.options)
        saved = await self.context.store.get_states(self.name)  # where the last run got to
        offset = int(saved.get("offset", "0"))
        while True:
            lines = await asyncio.to_thread(read_lines, opts.path, offset)  # off the event loop
            if lines:
                offset = lines[-1][0]
                # The position is stored in the same transaction as the events.
                yield Batch([self.event(*line) for line in lines], {"offset": str(offset)})
            await asyncio.sleep(opts.poll_interval)

    def event(self, end: int, text: str) -> Event:
        """The id is where the line ends, so a line read twice is stored once."""
        opts = cast(LinesOptions, self.options)
        return make_event(
            "log",
            id=str(end),
            source=self.name,
            ts=datetime.fromtimestamp(self.context.clock(), UTC),
            agent=opts.agent,
            data={"text": text[:MAX_TEXT]},
        )
