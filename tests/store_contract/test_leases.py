"""Contract: leases lead one holder at a time, with an epoch that fences writes."""

from __future__ import annotations

import asyncio

import pytest

from swarmdeck.store.errors import LeaseLost
from tests.helpers import ev
from tests.store_contract.harness import ManualClock, StoreFactory


async def test_a_lease_has_one_holder_until_it_expires(store_factory: StoreFactory) -> None:
    clock = ManualClock(1_000.0)
    a, b = await store_factory(clock=clock), await store_factory(clock=clock)
    assert await a.try_lead("jsonl-1", "host-a", ttl=10) == 1
    assert await b.try_lead("jsonl-1", "host-b", ttl=10) is None
    clock.now += 5
    assert await a.try_lead("jsonl-1", "host-a", ttl=10) == 1  # a heartbeat renews it
    clock.now += 9
    assert await b.try_lead("jsonl-1", "host-b", ttl=10) is None  # renewed at 1005: live
    clock.now += 2
    assert await b.try_lead("jsonl-1", "host-b", ttl=10) == 2  # expired: taken, next epoch
    assert await a.try_lead("jsonl-1", "host-a", ttl=10) is None
    [lease] = await a.leases()
    assert (lease.name, lease.holder, lease.epoch, lease.expires_ts) == (
        "jsonl-1", "host-b", 2, 1_026.0,
    )  # fmt: skip


async def test_release_hands_the_lease_over_at_once(store_factory: StoreFactory) -> None:
    clock = ManualClock(1_000.0)
    a, b = await store_factory(clock=clock), await store_factory(clock=clock)
    assert await a.try_lead("policy", "host-a", ttl=60) == 1
    await b.release_lead("policy", "host-b")  # not the holder: nothing happens
    assert await b.try_lead("policy", "host-b", ttl=60) is None
    await a.release_lead("policy", "host-a")
    assert await b.try_lead("policy", "host-b", ttl=60) == 2
    assert await a.try_lead("other", "host-a", ttl=60) == 1  # names are independent
    assert [(x.name, x.holder) for x in await a.leases()] == [
        ("other", "host-a"), ("policy", "host-b"),
    ]  # fmt: skip


async def test_one_of_many_racing_for_a_new_lease_leads(store_factory: StoreFactory) -> None:
    stores = [await store_factory() for _ in range(4)]
    epochs = await asyncio.gather(
        *(s.try_lead("mcp", f"host-{i}", ttl=30) for i, s in enumerate(stores))
    )
    assert sorted(epochs, key=lambda e: e is None) == [1, None, None, None]


async def test_a_fenced_append_commits_only_under_the_current_epoch(
    store_factory: StoreFactory,
) -> None:
    clock = ManualClock(1_000.0)
    a, b = await store_factory(clock=clock), await store_factory(clock=clock)
    epoch_a = await a.try_lead("tail", "host-a", ttl=10)
    assert epoch_a == 1
    await a.append_with_state(
        [ev("log", agent="x", data={"text": "1"})],
        origin="tail",
        state={"offset": "10"},
        lease=("tail", epoch_a),
    )
    clock.now += 11
    epoch_b = await b.try_lead("tail", "host-b", ttl=10)
    assert epoch_b == 2
    with pytest.raises(LeaseLost, match="held by host-b with epoch 2, not epoch 1"):
        await a.append_with_state(
            [ev("log", agent="x", data={"text": "2"})],
            origin="tail",
            state={"offset": "20"},
            rejected=[("f:3", b"{", "bad")],
            lease=("tail", epoch_a),
        )
    # Nothing of the refused batch was written: no event, no position, no dead letter.
    assert [e.data["text"] for e in await b.events_since(0)] == ["1"]
    assert await b.get_state("tail", "offset") == "10"
    assert await b.dead_letters() == []
    await b.append_with_state(
        [ev("log", agent="x", data={"text": "2"})],
        origin="tail",
        state={"offset": "20"},
        lease=("tail", epoch_b),
    )
    assert await a.get_state("tail", "offset") == "20"
    with pytest.raises(LeaseLost, match="does not exist"):
        await a.append_with_state([], origin="x", state={}, lease=("never", 1))


async def test_leases_do_not_move_rev(store_factory: StoreFactory) -> None:
    store = await store_factory()
    before = await store.rev()
    await store.try_lead("tail", "me", ttl=5)
    await store.release_lead("tail", "me")
    assert await store.rev() == before
