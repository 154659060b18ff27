"""Tail JSONL files of events; append decisions to a JSONL file beside them.

Input: one event per line, in the wire format of :mod:`store.events`, in one file
or in every ``*.jsonl`` file of a directory (new files are picked up as they
appear). Only complete lines are read: a last line without its newline waits for
it. A line that is not a valid event, or is longer than ``max_line_bytes``, goes
to the dead letters as ``<file>:<line number>`` with the reason; it never stops
the tail.

Position: for every file, the byte offset and line number after the last line
read, with the file's identity (device and inode), saved in the store in the same
transaction as the events (adapter state key ``file:<path>``), so a restart
neither re-reads nor skips. A file shorter than its saved offset was truncated:
it is read again from the start. A path whose inode changed was rotated (e.g. by
logrotate): the old file is read to its end through the descriptor still open,
then the new file from the start. Polling uses ``os.stat`` only: no inotify, and
an idle tail costs one ``stat`` per file per ``poll_interval``.

Limits: rotation while swarmdeck is not running is seen only as a new file (the
rest of the rotated file is read only if its new name is still a watched
``*.jsonl``); a file truncated and refilled beyond the old offset between two
polls looks like growth.

Decisions (output): each decision on an escalation raised from these files is
appended as one JSON line to ``decisions_file`` (default ``decisions.jsonl``
beside the input file, or inside the input directory, where it is never read as
input)::

    {"v": 1, "decision": 7, "escalation": "E-12", "action": "reject",
     "reason": "not on Friday", "target": null, "answer": null,
     "actor": "dana@laptop", "ts": "2026-11-24T01:02:03+00:00",
     "agent": "coder-2", "task": "T-17"}

Each line is written with one ``os.write`` on an ``O_APPEND`` descriptor, so a
reader never sees half a line; the file is created ``0600``; a decision is
written once even if delivered twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, cast

from pydantic import ConfigDict, Field

from swarmdeck.adapters.base import (
    Adapter,
    AdapterContext,
    AdapterOptions,
    Batch,
    DeliveryError,
    Rejected,
)
from swarmdeck.store.events import Event, EventError, parse_event_json
from swarmdeck.store.models import Delivery
from swarmdeck.store.text import safe_json

#: Prefix of the adapter-state keys holding file positions.
STATE_PREFIX = "file:"
#: Most events (plus rejected lines) in one yielded batch.
BATCH_LINES = 1000
#: Bytes of an offending line kept in the dead letters.
REJECT_RAW_LIMIT = 16_384
#: How much of the decisions file's end is scanned for already-written decisions.
DELIVERED_SCAN_BYTES = 4 * 1024 * 1024
#: Seconds a rotated or deleted file is still read through its open descriptor
#: (a writer may not have reopened its log yet).
RETIRE_GRACE = 5.0


class JsonlOptions(AdapterOptions):
    """Options of the JSONL tail."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    path: Path
    """A JSONL file, or a directory whose ``*.jsonl`` files are all tailed."""
    poll_interval: float = Field(default=0.2, gt=0, le=3600)
    """Seconds between checks for new lines, files and rotations."""
    decisions_file: Path | None = None
    """Where decisions are appended (default: ``decisions.jsonl`` beside the file or in the
    directory)."""
    max_line_bytes: int = Field(default=1_048_576, ge=64, le=256 * 1_048_576)
    """Longer lines are dead-lettered (and skipped), never buffered without bound."""


@dataclass(slots=True)
class _Tail:
    """One file being read."""

    path: str
    fd: int
    dev: int
    ino: int
    offset: int = 0
    """Bytes consumed: complete lines read, plus the skipped part of an oversize line."""
    line: int = 0
    """Complete lines consumed (the next line's number is ``line + 1``)."""
    skipping: bool = False
    """Inside an oversize line already dead-lettered: discard up to its newline."""
    retired_at: float | None = None
    """When the path stopped naming this file (rotation, deletion)."""
    size: int = -1
    """Size at the last ``stat``: an idle file (size == offset) is not even read."""

    def position(self) -> str:
        return json.dumps(
            {
                "dev": self.dev,
                "ino": self.ino,
                "offset": self.offset,
                "line": self.line,
                "skip": self.skipping,
            },
            separators=(",", ":"),
        )


@dataclass(slots=True)
class _Saved:
    dev: int
    ino: int
    offset: int
    line: int
    skipping: bool


def _parse_saved(value: str) -> _Saved | None:
    try:
        obj = json.loads(value)
        return _Saved(
            int(obj["dev"]),
            int(obj["ino"]),
            int(obj["offset"]),
            int(obj["line"]),
            bool(obj.get("skip", False)),
        )
    except (ValueError, KeyError, TypeError):
        return None


class JsonlAdapter(Adapter):
    """Tail a JSONL file (or a directory of them); write decisions to a JSONL file."""

    type_name: ClassVar[str] = "jsonl"
    description: ClassVar[str] = (
        "Tail JSONL event files (offsets persisted, rotation-safe); decisions to a JSONL file"
    )
    Options: ClassVar[type[AdapterOptions]] = JsonlOptions
    two_way: ClassVar[bool] = True

    def __init__(self, options: AdapterOptions, context: AdapterContext) -> None:
        super().__init__(options, context)
        self._tails: dict[str, _Tail] = {}
        self._retired: list[_Tail] = []
        self._saved: dict[str, _Saved] = {}
        self._delivered: set[tuple[int, str]] | None = None
        self._health: tuple[str, str] | None = None
        self._events_read = 0

    @property
    def opts(self) -> JsonlOptions:
        return cast(JsonlOptions, self.options)

    @property
    def input_path(self) -> Path:
        return self.opts.path.expanduser()

    @property
    def decisions_path(self) -> Path:
        """Where decisions go: the option, or ``decisions.jsonl`` beside the input."""
        if self.opts.decisions_file is not None:
            return self.opts.decisions_file.expanduser()
        path = self.input_path
        if path.is_dir():
            return path / "decisions.jsonl"
        if path.name == "decisions.jsonl":
            return path.with_name("decisions.out.jsonl")
        return path.with_name("decisions.jsonl")

    # ------------------------------------------------------------------ ingest

    async def events(self) -> AsyncIterator[Event | Batch]:
        states = await self.context.store.get_states(self.name)
        for key, value in states.items():
            if key.startswith(STATE_PREFIX):
                saved = _parse_saved(value)
                if saved is not None:
                    self._saved[key.removeprefix(STATE_PREFIX)] = saved
        try:
            while True:
                self._scan()
                more = True
                while more:
                    batch, more = self._read_batch()
                    if batch.events or batch.rejected or batch.position:
                        yield batch
                await self._report_health()
                await asyncio.sleep(self.opts.poll_interval)
        finally:
            for tail in [*self._tails.values(), *self._retired]:
                _close(tail.fd)
            self._tails.clear()
            self._retired.clear()

    def _watched(self) -> list[str]:
        """Paths to tail now: the file, or the directory's ``*.jsonl`` files (sorted)."""
        path = self.input_path
        try:
            if not path.is_dir():
                return [str(path)]
            decisions = os.path.abspath(self.decisions_path)
            return sorted(
                str(p)
                for p in path.glob("*.jsonl")
                if os.path.abspath(p) != decisions and p.is_file()
            )
        except OSError:
            return []

    def _scan(self) -> None:
        """Notice new, rotated, truncated and vanished files (``stat`` only)."""
        now = self.context.clock()
        present: set[str] = set()
        for path in self._watched():
            try:
                st = os.stat(path)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            present.add(path)
            tail = self._tails.get(path)
            if tail is not None and (tail.dev, tail.ino) != (st.st_dev, st.st_ino):
                # Rotated: the old file keeps being read through its descriptor for a while.
                self.context.log.info("%s: rotated; finishing the old file first", path)
                tail.retired_at = now
                self._retired.append(tail)
                del self._tails[path]
                tail = None
            if tail is None:
                self._open(path, st)
                continue
            tail.size = st.st_size
            if st.st_size < tail.offset:
                self.context.log.warning(
                    "%s: truncated (%d < %d bytes); reading from the start",
                    path,
                    st.st_size,
                    tail.offset,
                )
                tail.offset, tail.line, tail.skipping = 0, 0, False
        for path in [p for p in self._tails if p not in present]:
            # Deleted or moved away: read what is left through the descriptor, then let go.
            tail = self._tails.pop(path)
            tail.retired_at = now
            self._retired.append(tail)

    def _open(self, path: str, st: os.stat_result) -> None:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            self.context.log.warning("%s: cannot open: %s", path, exc.strerror)
            return
        fst = os.fstat(fd)  # the file we actually opened, even if the path moved meanwhile
        tail = _Tail(path, fd, fst.st_dev, fst.st_ino)
        saved = self._saved.pop(path, None)
        if saved is None or (saved.dev, saved.ino) != (tail.dev, tail.ino):
            # Renamed within a watched directory: keep its position under the new name.
            for other, candidate in list(self._saved.items()):
                if (candidate.dev, candidate.ino) == (tail.dev, tail.ino):
                    saved = self._saved.pop(other)
                    break
            else:
                if saved is not None:
                    self.context.log.info("%s: a different file than before; from the start", path)
                saved = None
        if saved is not None:
            if fst.st_size < saved.offset:
                self.context.log.warning("%s: truncated while stopped; from the start", path)
            else:
                tail.offset, tail.line, tail.skipping = saved.offset, saved.line, saved.skipping
        # The same file renamed (inside a watched directory) keeps its progress too.
        for other, live in list(self._tails.items()):
            if (live.dev, live.ino) == (tail.dev, tail.ino):
                tail.offset, tail.line, tail.skipping = live.offset, live.line, live.skipping
                _close(live.fd)
                del self._tails[other]
        for retired in [r for r in self._retired if (r.dev, r.ino) == (tail.dev, tail.ino)]:
            # A file that came back (renamed back into place) is read by its new tail.
            tail.offset, tail.line, tail.skipping = retired.offset, retired.line, retired.skipping
            _close(retired.fd)
            self._retired.remove(retired)
        self._tails[path] = tail

    def _read_batch(self) -> tuple[Batch, bool]:
        """Read up to :data:`BATCH_LINES` lines across files; say whether more are waiting."""
        batch = Batch()
        budget = BATCH_LINES
        more = False
        now = self.context.clock()
        for tail in list(self._retired):
            budget, pending = self._read(tail, batch, budget)
            more = more or pending
            if not pending and tail.retired_at is not None and now - tail.retired_at > RETIRE_GRACE:
                self._finish_retired(tail, batch)
        for tail in self._tails.values():
            if tail.size == tail.offset:
                continue  # idle: nothing new since the last stat
            before = (tail.offset, tail.line, tail.skipping)
            budget, pending = self._read(tail, batch, budget)
            more = more or pending
            if (tail.offset, tail.line, tail.skipping) != before:
                batch.position[STATE_PREFIX + tail.path] = tail.position()
        self._events_read += len(batch.events)
        return batch, more

    def _finish_retired(self, tail: _Tail, batch: Batch) -> None:
        try:
            leftover = os.fstat(tail.fd).st_size - tail.offset
        except OSError:
            leftover = 0
        if leftover > 0 and not tail.skipping:
            raw = os.pread(tail.fd, min(leftover, REJECT_RAW_LIMIT), tail.offset)
            batch.rejected.append(
                Rejected(
                    f"{tail.path}:{tail.line + 1}",
                    raw,
                    f"incomplete last line ({leftover} bytes, no newline) in a rotated "
                    "or deleted file",
                )
            )
        _close(tail.fd)
        self._retired.remove(tail)

    def _read(self, tail: _Tail, batch: Batch, budget: int) -> tuple[int, bool]:
        """Consume complete lines from ``tail``; return (remaining budget, more waiting)."""
        limit = self.opts.max_line_bytes
        chunk = max(4 * 1_048_576, limit + 2)
        while budget > 0:
            try:
                data = os.pread(tail.fd, chunk, tail.offset)
            except OSError as exc:
                self.context.log.warning("%s: read failed: %s", tail.path, exc.strerror)
                return budget, False
            if not data:
                return budget, False
            pos = 0
            size = len(data)
            while budget > 0:
                nl = data.find(b"\n", pos)
                if nl < 0:
                    break
                tail.line += 1
                if tail.skipping:
                    tail.skipping = False  # the end of a line rejected earlier
                else:
                    raw = data[pos:nl]
                    if raw.endswith(b"\r"):
                        raw = raw[:-1]
                    if raw.strip():
                        self._line(tail, raw, batch, limit)
                        budget -= 1
                pos = nl + 1
            rest = size - pos
            if budget <= 0:
                tail.offset += pos
                return budget, True
            if tail.skipping:
                # Still inside an oversize line: drop what was read of it.
                tail.offset += size
            elif rest > limit:
                # A line already longer than allowed and not finished: reject it now and
                # skip to its newline, rather than buffer it without bound.
                tail.offset += size
                tail.skipping = True
                batch.rejected.append(
                    Rejected(
                        f"{tail.path}:{tail.line + 1}",
                        data[pos : pos + REJECT_RAW_LIMIT],
                        f"line longer than max_line_bytes ({limit} bytes)",
                    )
                )
                budget -= 1
            else:
                tail.offset += pos
                if size < chunk:
                    return budget, False  # only a partial last line is left: wait for it
        return budget, True

    def _line(self, tail: _Tail, raw: bytes, batch: Batch, limit: int) -> None:
        where = f"{tail.path}:{tail.line}"
        if len(raw) > limit:
            batch.rejected.append(
                Rejected(
                    where,
                    raw[:REJECT_RAW_LIMIT],
                    f"line is {len(raw)} bytes, longer than max_line_bytes ({limit})",
                )
            )
            return
        try:
            batch.events.append(parse_event_json(raw))
        except EventError as exc:
            batch.rejected.append(Rejected(where, raw[:REJECT_RAW_LIMIT], str(exc)))

    async def _report_health(self) -> None:
        path = self.input_path
        if self._tails:
            n = len(self._tails)
            health = ("running", f"tailing {n} file{'s' if n != 1 else ''} under {path}")
        elif path.is_dir():
            health = ("running", f"waiting for *.jsonl files in {path}")
        else:
            health = ("degraded", f"waiting for {path} to appear")
        if health != self._health:
            self._health = health
            await self.context.set_health(*health)

    # ------------------------------------------------------------------ decisions

    def _load_delivered(self, path: Path) -> set[tuple[int, str]]:
        """Decisions already in the file (its last few MiB): the idempotency index."""
        delivered: set[tuple[int, str]] = set()
        try:
            with open(path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                start = max(0, size - DELIVERED_SCAN_BYTES)
                fh.seek(start)
                data = fh.read()
        except FileNotFoundError:
            return delivered
        except OSError as exc:
            raise DeliveryError(f"cannot read {path}: {exc.strerror}") from None
        lines = data.split(b"\n")
        if start > 0:
            lines = lines[1:]  # the first one is probably cut
        for line in lines:
            try:
                obj = json.loads(line)
                delivered.add((int(obj["decision"]), str(obj["escalation"])))
            except (ValueError, KeyError, TypeError):
                continue
        return delivered

    async def deliver(self, delivery: Delivery) -> None:
        decision = delivery.decision
        esc = delivery.escalation
        path = self.decisions_path
        if self._delivered is None:
            self._delivered = self._load_delivered(path)
        key = (int(decision.id), str(decision.escalation))
        if key in self._delivered:
            return
        record: dict[str, Any] = {
            "v": 1,
            "decision": decision.id,
            "escalation": decision.escalation,
            "action": decision.action,
            "reason": decision.reason,
            "target": decision.target,
            "answer": decision.answer,
            "actor": decision.actor,
            "ts": datetime.fromtimestamp(decision.ts, UTC).isoformat(),
            "agent": esc.agent,
            "task": esc.task,
        }
        # ASCII-escaped: people tail this file in terminals; the values stay exact JSON.
        data = (safe_json(record, separators=(",", ":")) + "\n").encode()
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as exc:
            raise DeliveryError(f"cannot open {path}: {exc.strerror}") from None
        try:
            written = os.write(fd, data)
        except OSError as exc:
            raise DeliveryError(f"cannot write {path}: {exc.strerror}") from None
        finally:
            os.close(fd)
        if written != len(data):
            raise DeliveryError(f"short write to {path} ({written} of {len(data)} bytes)")
        self._delivered.add(key)


def _close(fd: int) -> None:
    """Close a descriptor, ignoring errors (it may already be gone)."""
    with contextlib.suppress(OSError):
        os.close(fd)
