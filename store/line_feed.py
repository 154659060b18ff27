"""Input lines for bulk ingest, read off the event loop's thread and bounded in size.

``swarmdeck ingest -`` used to iterate stdin in the event loop's thread. On a live
pipe that read blocks until the next line arrives, and it blocked the whole loop,
including the writer in the middle of a transaction: the database stayed
write-locked for every other process while ``ingest`` waited for input. It also
read a 200 MB line whole before noticing it was too long.

:class:`ThreadedLines` reads the descriptor in a daemon thread of its own (a
thread blocked in ``read`` can neither be cancelled nor keep the process from
exiting), splits complete lines there, and hands them over in chunks through a
bounded queue, so a fast producer waits for the store instead of filling memory.
A line longer than the limit is not kept: it arrives as an :class:`Oversize` with
its first bytes, for the dead letters. :meth:`ThreadedLines.next` returns ``[]``
when no input came for a while, which lets the caller commit what it has instead
of sitting on it while the pipe is quiet.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

#: Bytes of an oversize line kept for the dead letters.
OVERSIZE_HEAD = 16_384


@dataclass(frozen=True, slots=True)
class Oversize:
    """A line longer than the limit: its length so far and its first bytes."""

    size: int
    head: bytes


Line = bytes | Oversize


@runtime_checkable
class LineSource(Protocol):
    """Where bulk ingest takes its lines from."""

    async def next(self, idle: float) -> list[Line] | None:
        """The next lines; ``[]`` when none came within ``idle`` seconds; None at the end."""


class IterLines:
    """A plain iterable of lines (a list, an open file), read in the caller's thread.

    For input that never waits (files, test data); a pipe belongs in :class:`ThreadedLines`.
    """

    def __init__(self, lines: Iterable[bytes], *, chunk: int = 500) -> None:
        self._it: Iterator[bytes] = iter(lines)
        self._chunk = chunk
        self._done = False

    async def next(self, idle: float) -> list[Line] | None:
        if self._done:
            return None
        out: list[Line] = []
        for raw in self._it:
            out.append(raw)
            if len(out) >= self._chunk:
                return out
        self._done = True
        return out or None


class ThreadedLines:
    """Lines of a file descriptor, read by a daemon thread; see the module docstring."""

    def __init__(
        self, fd: int, *, max_line: int, read_size: int = 1 << 20, queued_chunks: int = 8
    ) -> None:
        self._fd = fd
        self._max_line = max_line
        self._read_size = read_size
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[list[Line] | BaseException | None] = asyncio.Queue()
        self._room = threading.Semaphore(queued_chunks)
        self._ended = False
        self._thread = threading.Thread(target=self._run, name="ingest-reader", daemon=True)
        self._thread.start()

    async def next(self, idle: float) -> list[Line] | None:
        if self._ended:
            return None
        try:
            item = await asyncio.wait_for(self._queue.get(), idle)
        except TimeoutError:
            return []
        self._room.release()
        if item is None:
            self._ended = True
            return None
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        return item

    # ------------------------------------------------------------------ the thread

    def _hand_over(self, item: list[Line] | BaseException | None) -> None:
        self._room.acquire()  # back-pressure: wait while the consumer is behind
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _run(self) -> None:
        try:
            self._read_all()
        except BaseException as exc:  # a read error ends the input with that error
            self._hand_over(exc)
            return
        self._hand_over(None)

    def _read_all(self) -> None:
        pending = bytearray()
        skipped = 0  # > 0 while inside an oversize line (bytes of it seen)
        head = b""
        while True:
            data = os.read(self._fd, self._read_size)
            if not data:
                break
            lines: list[Line] = []
            start = 0
            while True:
                nl = data.find(b"\n", start)
                if nl < 0:
                    break
                piece = data[start:nl]
                if skipped:
                    lines.append(Oversize(skipped + len(piece), head))
                    skipped, head = 0, b""
                elif len(pending) + len(piece) > self._max_line:
                    lines.append(
                        Oversize(len(pending) + len(piece), bytes(pending[:OVERSIZE_HEAD]))
                    )
                    pending.clear()
                else:
                    pending += piece
                    lines.append(bytes(pending))
                    pending.clear()
                start = nl + 1
            rest = data[start:]
            if skipped:
                skipped += len(rest)
            elif len(pending) + len(rest) > self._max_line:
                # Already too long and not finished: stop keeping it, count the rest.
                head = bytes((pending + rest)[:OVERSIZE_HEAD])
                skipped = len(pending) + len(rest)
                pending.clear()
            else:
                pending += rest
            if lines:
                self._hand_over(lines)
        if skipped:
            self._hand_over([Oversize(skipped, head)])
        elif pending:
            self._hand_over([bytes(pending)])  # a last line without its newline
