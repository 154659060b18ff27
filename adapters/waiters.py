"""Escalations whose waiting process is gone are withdrawn, whoever notices first.

Every process that waits on an escalation withdraws it on the way out, however it is
told to stop (a signal, a cancelled request, a closed connection). A process killed
outright (SIGKILL, OOM, a crash) cannot, so the raise carries a record of its waiter
(:mod:`swarmdeck.store.queries.waiters`): pid, the process' start time (a recycled pid
is another process) and host. :func:`sweep` withdraws the open escalations whose waiter
is gone, with the reason, so a manager's later decision on one is refused rather than
"recorded" for nobody. The collector sweeps every few seconds (:class:`WaiterSweep`);
the next hook command or ``swarmdeck mcp`` on the store path, and ``swarmdeck decide``,
sweep once when they start.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

from swarmdeck.store.db import Store
from swarmdeck.store.events import Event, make_event
from swarmdeck.store.queries.waiters import waiting, withdraw_and_forget

#: Origin of the withdrawals a sweep writes (each is written under the source that raised
#: its escalation: only that source may withdraw it, see ``swarmdeck.store.ownership``).
SOURCE = "swarmdeck-sweep"
#: Seconds between two sweeps of the collector.
SWEEP_EVERY = 5.0


@dataclass(frozen=True, slots=True)
class Waiter:
    """A waiting process, as recorded with its escalation."""

    pid: int
    started: str | None
    """The kernel's start time of the process (Linux: clock ticks since boot), or None."""
    host: str
    what: str
    """What the process is, for the withdrawal's reason (``swarmdeck hook claude-code``)."""
    pid_space: str | None = None
    """Its pid namespace (Linux: ``pid:[4026531836]``): a container sharing the database
    and the host name numbers its processes apart, so its pids are not judged here."""

    def to_json(self) -> str:
        return json.dumps(
            {"pid": self.pid, "started": self.started, "host": self.host, "what": self.what,
             "pid_space": self.pid_space}
        )  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> Waiter | None:
        try:
            data = json.loads(text)
            return cls(
                int(data["pid"]), data.get("started"), str(data["host"]), str(data["what"]),
                data.get("pid_space"),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError):
            return None


def _stat(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name, or None where there is none."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def start_time(pid: int) -> str | None:
    """When ``pid`` started (field 22 of ``/proc/<pid>/stat``); None without ``/proc``."""
    fields = _stat(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


def pid_space() -> str | None:
    """This process' pid namespace, where the system names one (Linux)."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def this_process(what: str) -> Waiter:
    pid = os.getpid()
    return Waiter(pid, start_time(pid), socket.gethostname(), what, pid_space())


def gone(waiter: Waiter, host: str, space: str | None = None) -> bool:
    """Whether ``waiter`` has certainly ended. A process on another host, or in another pid
    namespace (``space``: ours), is never judged."""
    if waiter.host != host or waiter.pid_space != space:
        return False
    try:
        os.kill(waiter.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists (another user's process: a recycled pid)
    if os.path.isdir("/proc"):
        fields = _stat(waiter.pid)
        if fields is None:
            return True
        if fields[0] in ("Z", "X"):
            return True  # killed, not yet reaped by its parent
        if waiter.started is not None and len(fields) > 19 and fields[19] != waiter.started:
            return True  # the pid was recycled: the waiter is gone
    return False


def gone_reason(waiter: Waiter) -> str:
    return (
        f"the waiting process ({waiter.what}, pid {waiter.pid}) ended without an answer "
        "(killed or crashed); nobody waits for this decision any more"
    )


def _withdrawal(escalation_id: str, source: str, reason: str, now: datetime) -> Event:
    return make_event(
        "escalation.withdrawn",
        id=f"{escalation_id}.withdrawn",
        source=source,
        ts=now,
        data={"id": escalation_id, "reason": reason},
    )


async def sweep(store: Store) -> list[str]:
    """Withdraw open escalations whose waiter is gone; forget records of closed ones.

    Returns:
        The ids of the escalations withdrawn. Writes nothing when there is nothing to do.
    """
    host, space = socket.gethostname(), pid_space()
    now = datetime.now(UTC)
    withdrawals: list[Event] = []
    withdrawn: list[str] = []
    forget: list[str] = []
    for row in await waiting(store):
        if row.state != "open":
            forget.append(row.escalation)  # decided, withdrawn, or never stored
            continue
        waiter = Waiter.from_json(row.waiter)
        if waiter is None:
            forget.append(row.escalation)  # unreadable: a human still sees it open
        elif gone(waiter, host, space):
            source = row.source or SOURCE
            withdrawals.append(_withdrawal(row.escalation, source, gone_reason(waiter), now))
            withdrawn.append(row.escalation)
            forget.append(row.escalation)
    if forget:
        await withdraw_and_forget(store, withdrawals, forget, origin=SOURCE)
    return withdrawn


class WaiterSweep:
    """The collector's sweep: every :data:`SWEEP_EVERY` seconds, until cancelled."""

    def __init__(self, store: Store, every: float = SWEEP_EVERY) -> None:
        self.store = store
        self.every = every

    def __repr__(self) -> str:
        return "WaiterSweep()"

    async def run(self) -> None:
        while True:
            await sweep(self.store)
            await asyncio.sleep(self.every)
