"""The shipped contract (swarmdeck.testing) fails each kind of broken adapter, and says why.

A well-behaved adapter passes every check; each broken variant below breaks one
promise and must fail exactly the check for it, with a message that names the fix.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, cast

import pytest
from pydantic import ConfigDict

from swarmdeck.adapters.base import Adapter, AdapterOptions, Batch
from swarmdeck.store.events import Event, make_event
from swarmdeck.store.models import Delivery
from swarmdeck.testing import (
    AdapterCase,
    check_cancel,
    check_capabilities,
    check_deliver,
    check_delivery_errors,
    check_events,
    check_metadata,
    check_options,
    check_restart,
)

TS = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


class CountOptions(AdapterOptions):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    count: int = 3
    """How many events to emit."""


def log(n: int, source: str, id: str | None = None) -> Event:
    return make_event(
        "log", id=id or f"n{n}", source=source, ts=TS, agent="a", data={"text": f"{n}"}
    )


class Counter(Adapter):
    """Well behaved: numbered events, one batch each, resuming from the count it saved."""

    type_name: ClassVar[str] = "counter-not-installed"
    description: ClassVar[str] = "Counts to count"
    Options: ClassVar[type[AdapterOptions]] = CountOptions

    async def start(self) -> int:
        return int((await self.context.store.get_states(self.name)).get("done", "0"))

    def event(self, n: int) -> Event:
        return log(n, self.name)

    async def events(self) -> AsyncIterator[Event | Batch]:
        count = cast(CountOptions, self.options).count
        for n in range(await self.start(), count):
            yield Batch([self.event(n)], position={"done": str(n + 1)})
        await asyncio.Event().wait()  # idle until cancelled


class Asker(Counter):
    """Well behaved and two-way: raises one escalation, delivers each decision once."""

    two_way: ClassVar[bool] = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.seen: set[int] = set()
        self.applied = 0

    def event(self, n: int) -> Event:
        return make_event(
            "escalation.raised",
            id=f"q{n}",
            source=self.name,
            ts=TS,
            agent="a",
            data={"id": f"{self.name}-q{n}", "kind": "question", "title": "Which?"},
        )

    async def deliver(self, delivery: Delivery) -> None:
        if delivery.decision.id not in self.seen:
            self.seen.add(delivery.decision.id)
            self.applied += 1


# --------------------------------------------------------------------------- broken variants


class LooseOptions(Counter):
    class Options(CountOptions):
        model_config = ConfigDict(extra="ignore", use_attribute_docstrings=True)


class UndocumentedOptions(Counter):
    class Options(CountOptions):
        speed: int = 1


class TwoWayWithoutDeliver(Counter):
    two_way: ClassVar[bool] = True


class DeliverWithoutTwoWay(Counter):
    async def deliver(self, delivery: Delivery) -> None:
        pass


class YieldsDicts(Counter):
    async def events(self) -> AsyncIterator[Any]:
        yield {"kind": "log", "text": "not an Event"}


class ReusesIds(Counter):
    def event(self, n: int) -> Event:
        return log(n, self.name, id="always-the-same")

    async def events(self) -> AsyncIterator[Event | Batch]:
        yield Batch([self.event(0), self.event(1)])
        await asyncio.Event().wait()


class DeliverRaisesValueError(Asker):
    async def deliver(self, delivery: Delivery) -> None:
        raise ValueError("no such escalation")


class DeliversTwice(Asker):
    async def deliver(self, delivery: Delivery) -> None:
        self.applied += 1


class SwallowsCancel(Counter):
    async def events(self) -> AsyncIterator[Event | Batch]:
        try:
            async for item in super().events():
                yield item
        except asyncio.CancelledError:
            return


class LeaksTask(Counter):
    async def events(self) -> AsyncIterator[Event | Batch]:
        asyncio.create_task(asyncio.Event().wait())  # noqa: RUF006 - the leak under test
        async for item in super().events():
            yield item


class IgnoresPosition(Counter):
    async def start(self) -> int:
        return 0


def case(cls: type[Adapter]) -> AdapterCase:
    def applied(tmp: Path, adapter: Adapter) -> int:
        return cast(Asker, adapter).applied

    return AdapterCase(
        id=cls.__name__.lower(),
        adapter=cls,
        options=lambda tmp: {"count": 3},
        delivered_count=applied if cls.two_way else None,
        timeout=5.0,
    )


Check = Callable[[AdapterCase, Path], Awaitable[object] | None]


def _options(c: AdapterCase, tmp: Path) -> None:
    check_options(c, tmp)


def _metadata(c: AdapterCase, tmp: Path) -> None:
    check_metadata(c)


def _capabilities(c: AdapterCase, tmp: Path) -> None:
    check_capabilities(c)


CHECKS: dict[str, Check] = {
    "options": _options,
    "capabilities": _capabilities,
    "events": check_events,
    "deliver": check_deliver,
    "delivery_errors": check_delivery_errors,
    "cancel": check_cancel,
    "restart": check_restart,
}


async def run(check: Check, c: AdapterCase, tmp: Path) -> None:
    result = check(c, tmp)
    if result is not None:
        await result


@pytest.mark.parametrize("adapter", [Counter, Asker], ids=["one-way", "two-way"])
@pytest.mark.parametrize("check", list(CHECKS), ids=list(CHECKS))
async def test_a_well_behaved_adapter_passes(
    adapter: type[Adapter], check: str, tmp_path: Path
) -> None:
    if check == "deliver" and not adapter.two_way:
        with pytest.raises(pytest.skip.Exception, match="one-way"):
            await run(CHECKS[check], case(adapter), tmp_path)
        return
    await run(CHECKS[check], case(adapter), tmp_path)


@pytest.mark.parametrize(
    ("adapter", "check", "message"),
    [
        (LooseOptions, _options, "unknown option was accepted"),
        (UndocumentedOptions, _options, r"without a description: \['speed'\]"),
        (Counter, _metadata, "no entry point 'counter-not-installed'"),
        (TwoWayWithoutDeliver, _capabilities, "deliver\\(\\) is not implemented"),
        (DeliverWithoutTwoWay, _capabilities, "two_way is False"),
        (YieldsDicts, check_events, "yielded a dict"),
        (ReusesIds, check_events, "repeated a \\(source, id\\)"),
        (DeliverRaisesValueError, check_delivery_errors, "raised ValueError"),
        (DeliversTwice, check_deliver, "took effect 2 times"),
        (SwallowsCancel, check_cancel, "without raising CancelledError"),
        (LeaksTask, check_cancel, "tasks still running"),
        (IgnoresPosition, check_restart, "came again"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
async def test_a_broken_adapter_fails_its_check(
    adapter: type[Adapter], check: Check, message: str, tmp_path: Path
) -> None:
    with pytest.raises(AssertionError, match=message):
        await run(check, case(adapter), tmp_path)
