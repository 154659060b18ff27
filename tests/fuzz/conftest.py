"""The door fuzz suite's machinery: a loop that outlives examples, and the tally it reports.

Hypothesis runs its examples synchronously, one after the other; a door worth fuzzing is
a running thing (a collector, an MCP session). :class:`LoopThread` keeps one event loop
alive in a thread for a whole test, so the collector or the client session is started
once and every example talks to the same one, as an attacker would.

Every example records what came of it in the :class:`Tally`; the table printed at the end
of the run (``pytest tests/fuzz``) is the one the issue's closing note asks for: per door,
the cases tried, those refused cleanly (dead letter, deny, clean error, each with a
reason), those accepted (valid after all), and ``other``: a traceback, a hang, a blocked
neighbour or an allow. ``other`` must be zero; each test asserts it per example.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
from collections import defaultdict
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, settings

from swarmdeck.adapters.supervisor import Instance, Supervisor
from swarmdeck.store.db import Store
from tests.helpers.listeners import TOKEN

T = TypeVar("T")

#: One profile for every fuzz test: bounded (the whole of tests/fuzz runs in under a minute
#: on two shared cores), no deadline (a request may wait for a timeout), derandomized so CI
#: and a laptop try the same cases (``SWARMDECK_FUZZ_EXAMPLES=500`` for a longer, random
#: run), no shrinking marathons.
_EXAMPLES = int(os.environ.get("SWARMDECK_FUZZ_EXAMPLES", "0"))
settings.register_profile(
    "doors",
    max_examples=_EXAMPLES or 25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=not _EXAMPLES,
    print_blob=True,
    # No shrinking: an example waits seconds for its sentinel, so shrinking a failure took
    # over five minutes; the examples are small, and the failing one is printed as drawn.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
FUZZ = settings.get_profile("doors")

OUTCOMES = ("tried", "refused cleanly", "accepted", "other")


class Tally:
    """Counts per door and outcome, across the run."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))

    def record(self, door: str, outcome: str, n: int = 1) -> None:
        assert outcome in OUTCOMES[1:], outcome
        self.counts[door]["tried"] += n
        self.counts[door][outcome] += n

    def table(self) -> list[str]:
        width = max([len(d) for d in self.counts] + [4])
        head = f"{'door':<{width}}  " + "  ".join(f"{o:>15}" for o in OUTCOMES)
        rows = [head, "-" * len(head)]
        for door in sorted(self.counts):
            row = self.counts[door]
            rows.append(f"{door:<{width}}  " + "  ".join(f"{row[o]:>15}" for o in OUTCOMES))
        return rows


TALLY = Tally()
_serial = itertools.count(1)


def unique() -> int:
    """A number no other example of this run has: hypothesis repeats its integers."""
    return next(_serial)


@pytest.fixture(scope="session")
def tally() -> Tally:
    return TALLY


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TALLY.counts:
        terminalreporter.section("doors fuzzed: cases tried / refused cleanly / accepted / other")
        for line in TALLY.table():
            terminalreporter.write_line(line)


class LoopThread:
    """An asyncio loop in a daemon thread; :meth:`run` runs a coroutine there and waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def close(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(cancel_all(), timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


async def spawn(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """Start ``coro`` as a task of the loop it is awaited on (the loop thread's)."""
    return asyncio.ensure_future(coro)


class Collector:
    """A store and a running supervisor (with the tests' listener token) on the loop thread."""

    def __init__(self, runner: LoopThread, db: Path, *instances: Instance, **kw: Any) -> None:
        kw = {"batch_window": 0.01, "delivery_interval": 0.05, "restart_backoff_base": 0.05,
              "restart_backoff_max": 0.2, **kw}  # fmt: skip
        self.runner = runner
        self.store: Store = runner.run(Store.open(db))
        self.supervisor = Supervisor(self.store, instances, listener_token=lambda: TOKEN, **kw)
        self.running: asyncio.Task[None] = runner.run(spawn(self.supervisor.run()))

    def letters(self) -> list[Any]:
        return self.runner.run(self.store.dead_letters(limit=100_000))

    def landed(self, name: str, timeout: float = 20.0) -> bool:
        """Whether agent ``name`` got a row within ``timeout``: what came after landed."""

        async def wait() -> bool:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if any(a.name == name for a in await self.store.agents()):
                    return True
                await asyncio.sleep(0.02)
            return False

        return self.runner.run(wait(), timeout=timeout + 10)

    def port(self, name: str) -> int:
        """The port the listener adapter ``name`` bound, once it has."""

        async def bound() -> int:
            for _ in range(400):
                adapter: Any = self.supervisor.adapters.get(name)
                if adapter is not None and adapter.port:
                    return int(adapter.port)
                await asyncio.sleep(0.025)
            raise AssertionError(f"the {name} endpoint never started")

        return self.runner.run(bound())

    def close(self) -> None:
        async def stop() -> None:
            self.running.cancel()
            await asyncio.gather(self.running, return_exceptions=True)
            await self.store.close()

        self.runner.run(stop())


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    runner = LoopThread()
    try:
        yield runner
    finally:
        runner.close()
