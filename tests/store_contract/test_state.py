"""Contract: dead letters, adapter positions saved with their events, adapter health."""

from __future__ import annotations

from tests.helpers import ev
from tests.store_contract.harness import ManualClock, StoreFactory


async def test_dead_letters_keep_bounded_raw_input(store_factory: StoreFactory) -> None:
    store = await store_factory(clock=ManualClock(500.0))
    await store.dead_letter(origin="jsonl", location="f.jsonl:7", raw=b"x" * 100_000, error="bad")
    await store.dead_letters_add([("http", "POST /events", "{not json", "invalid JSON")])
    newest, oldest = await store.dead_letters()
    assert (oldest.origin, oldest.location, oldest.error, oldest.ts) == (
        "jsonl", "f.jsonl:7", "bad", 500.0,
    )  # fmt: skip
    assert len(oldest.raw) == 16_384
    assert (newest.origin, newest.raw) == ("http", "{not json")
    assert len(await store.dead_letters(limit=1)) == 1


async def test_adapter_state_is_saved_with_events_atomically(store_factory: StoreFactory) -> None:
    store = await store_factory()
    result = await store.append_with_state(
        [ev("log", agent="a", data={"text": "x"})],
        origin="tail",
        state={"offset": "42", "inode": "7"},
        rejected=[("f.jsonl:3", b"{oops", "invalid JSON")],
    )
    assert result.accepted == 1
    assert await store.get_states("tail") == {"offset": "42", "inode": "7"}
    [letter] = await store.dead_letters()
    assert (letter.origin, letter.location, letter.raw) == ("tail", "f.jsonl:3", "{oops")
    # A later position overwrites; other adapters' state is their own.
    await store.append_with_state([], origin="tail", state={"offset": "50"})
    assert await store.get_state("tail", "offset") == "50"
    assert await store.get_states("other") == {}


async def test_adapter_state_set_get_delete(store_factory: StoreFactory) -> None:
    store = await store_factory()
    assert await store.get_state("policy", "seq") is None
    await store.set_state("policy", "seq", "10")
    await store.set_state("policy", "seq", "11")
    await store.set_state("policy", "task:T1", "{}")
    assert await store.get_states("policy") == {"seq": "11", "task:T1": "{}"}
    await store.delete_state("policy", "task:T1")
    assert await store.get_states("policy") == {"seq": "11"}


async def test_adapter_health_keeps_the_last_error(store_factory: StoreFactory) -> None:
    store = await store_factory(clock=ManualClock(100.0))
    await store.set_health("tail", "jsonl", "crashed", restarts=1, last_error="disk gone")
    await store.set_health("tail", "jsonl", "running", detail="following f.jsonl", restarts=1)
    await store.set_health("api", "http", "starting")
    api, tail = await store.adapter_health()
    assert (tail.state, tail.detail, tail.restarts, tail.last_error) == (
        "running", "following f.jsonl", 1, "disk gone",
    )  # fmt: skip
    assert (api.name, api.type, api.updated_ts) == ("api", "http", 100.0)
