"""Contract: a batch the store refuses is split, the bad event dead-lettered with its
reason and the rest stored (issue 9, item 1); on every backend."""

from __future__ import annotations

from swarmdeck.store.events import AgentStatus, AgentStatusData, Event
from swarmdeck.store.isolate import append_isolating
from tests.helpers import ev
from tests.store_contract.harness import StoreFactory


def _unstorable(agent: str) -> Event:
    """An event validation never saw: a lone surrogate no backend can store."""
    return AgentStatus.model_construct(
        v=1, id=f"poison-{agent}", ts=ev("log", data={"text": "x"}).ts, source="p",
        agent=agent, task=None, workflow=None, kind="agent.status",
        data=AgentStatusData.model_construct(state="working", activity="\ud800"),
    )  # fmt: skip


async def test_one_bad_event_goes_to_the_dead_letters_and_the_rest_lands(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory()
    batch = [
        *(ev("agent.status", agent=f"a{i}", data={"state": "working"}) for i in range(5)),
        _unstorable("victim"),
        *(ev("agent.status", agent=f"b{i}", data={"state": "working"}) for i in range(4)),
    ]
    outcome = await append_isolating(
        store, batch, origin="o", state={"offset": "10"}, rejected=[("f:1", b"junk", "bad")]
    )
    assert outcome.accepted == 9
    assert [index for index, _ in outcome.poisoned] == [5]
    names = {a.name for a in await store.agents()}
    assert names == {f"a{i}" for i in range(5)} | {f"b{i}" for i in range(4)}
    letters = {d.location: d for d in await store.dead_letters()}
    assert set(letters) == {"f:1", "event p/poison-victim"}
    assert "UnicodeEncodeError" in letters["event p/poison-victim"].error
    assert await store.get_state("o", "offset") == "10"  # the position moved with the rest
    # Stored again (a restart re-reads it): nothing doubles.
    again = await append_isolating(store, batch[:5], origin="o")
    assert (again.accepted, again.duplicates) == (0, 5)


async def test_dead_letter_text_quoting_unstorable_input_is_kept(
    store_factory: StoreFactory,
) -> None:
    """A reason or location may quote input SQLite cannot bind (a lone surrogate) or
    PostgreSQL refuses in text (NUL): the letter is kept, with replacement characters."""
    store = await store_factory()
    await store.dead_letter(
        origin="o", location="file\udcff.jsonl:1", raw="x\ud800\x00y", error="bad \x00 \ud800"
    )
    [letter] = await store.dead_letters()
    assert letter.location.startswith("file") and letter.location.endswith(".jsonl:1")
    assert "\x00" not in letter.error and letter.error.startswith("bad ")
    assert letter.raw.startswith("x") and letter.raw.endswith("y")
