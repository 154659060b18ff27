"""What the door tests share: a supervised collector in-process, real CLI processes, payloads.

Every test in this folder is the regression test of one numbered item of the "every door
fails closed" issue (its module docstring says which) and tries the door the way an
attacker would: over real HTTP, through real subprocesses, into a real store file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from swarmdeck.adapters.base import AdapterOptions
from swarmdeck.adapters.supervisor import Instance
from swarmdeck.store.db import Store
from swarmdeck.store.events import Event, make_event
from tests.helpers.events import as_stored_unchecked
from tests.helpers.listeners import AUTH as AUTH
from tests.helpers.listeners import port_of as port_of
from tests.helpers.listeners import supervised as supervised
from tests.helpers.waiting import eventually

SWARMDECK = Path(sys.executable).parent / "swarmdeck"
TS = "2026-11-23T10:00:00Z"


def event_line(**fields: Any) -> bytes:
    """One JSON line of the wire format (``source``/``ts``/``v`` filled in)."""
    base: dict[str, Any] = {"v": 1, "ts": TS, "source": "door-test"}
    return (json.dumps({**base, **fields}) + "\n").encode()


def good_line(n: int | str, agent: str = "after-the-bad-one") -> bytes:
    return event_line(id=f"good-{n}", kind="agent.status", agent=agent, data={"state": "working"})


async def landed(store: Store, agent: str, timeout: float = 15.0) -> None:
    """Wait until ``agent`` has a row: what came after the bad input was stored."""

    async def probe() -> bool:
        return any(a.name == agent for a in await store.agents())

    await eventually(probe, timeout=timeout)


def instance(name: str, cls: type[Any], **options: Any) -> Instance:
    opts: AdapterOptions = cls.parse_options(options)
    return Instance(name, cls, opts)


def cli(
    *args: str | Path,
    env: dict[str, str],
    stdin: bytes | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(SWARMDECK), *map(str, args)],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def one_line_error(proc: subprocess.CompletedProcess[bytes]) -> str:
    """The single stderr line of a clean failure (asserts there is exactly one)."""
    err = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err and "internal error" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make ``path`` unwritable even for root (``chattr +i``), or skip."""
    if os.geteuid() != 0:
        path.chmod(0o400)
        try:
            yield
        finally:
            path.chmod(0o600)
        return
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip("cannot make a file read-only for root here (chattr +i failed)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True, check=False)


#: Placeholder -> the text validation refuses, for :func:`unchecked` events.
_TAINT: dict[str, str] = {}


def unchecked(kind: str, **fields: Any) -> Event:
    """An event as an older swarmdeck (or any other writer of the database) may have stored
    it: names and ids holding characters validation now refuses at the door. What shows
    stored text must stay safe with it. Built valid with placeholders, which
    :func:`store_as_ingest` swaps for the real text after the ingest filters ran."""
    data = dict(fields.pop("data", None) or {})
    fields.setdefault("source", "door-test")
    fields.setdefault("ts", TS)

    def placeholder(value: Any) -> Any:
        if isinstance(value, str) and not value.isprintable():
            key = f"placeholder-{len(_TAINT)}"
            _TAINT[key] = value
            return key
        return value

    return make_event(
        kind,
        **{k: placeholder(v) for k, v in fields.items()},
        data={k: placeholder(v) for k, v in data.items()},
    )


def _tainted(event: Event) -> Event:
    def held_out(model: Any) -> dict[str, str]:
        return {k: _TAINT[v] for k, v in dict(model).items() if isinstance(v, str) and v in _TAINT}

    return as_stored_unchecked(event, data=held_out(event.data), **held_out(event))


def store_as_ingest(db: Path, events: list[Event]) -> None:
    """Store ``events`` as ``swarmdeck ingest`` would (the default guardrails first), then
    put back the text :func:`unchecked` held out, without validating anything again."""
    from swarmdeck.collector import build_filters
    from swarmdeck.config import load_settings
    from swarmdeck.store.db import SqliteStore

    async def run() -> None:
        store = await SqliteStore.open(db)
        try:
            kept = events
            for flt in build_filters(load_settings(db=db), store):
                kept = await flt(kept, "ingest")
            await store.append([_tainted(e) for e in kept], origin="ingest")
        finally:
            await store.close()

    asyncio.run(run())
