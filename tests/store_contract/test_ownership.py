"""Contract: only the source that raised an escalation withdraws it, and an open one is
never rewritten by a re-raise (issue 9, item 4); on every backend."""

from __future__ import annotations

from tests.helpers import ev, raise_escalation
from tests.helpers.events import BASE
from tests.store_contract.harness import StoreFactory


async def test_a_withdrawal_from_another_source_is_refused_to_the_dead_letters(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory()
    await store.append([raise_escalation("E-1")], origin="agent")
    forged = ev("escalation.withdrawn", source="intruder", data={"id": "E-1", "reason": "x"})
    await store.append([forged], origin="intruder")
    assert (await store.escalation("E-1")).state == "open"
    [letter] = await store.dead_letters()
    assert "only that source may withdraw it" in letter.error
    assert "'intruder'" in letter.error
    assert letter.location == f"event intruder/{forged.id}"
    # Its own source still may.
    await store.append([ev("escalation.withdrawn", data={"id": "E-1"})], origin="agent")
    assert (await store.escalation("E-1")).state == "withdrawn"
    # Withdrawing what is not open (or unknown) is harmless and says nothing.
    await store.append([ev("escalation.withdrawn", data={"id": "E-1"})], origin="agent")
    await store.append([ev("escalation.withdrawn", data={"id": "nope"})], origin="agent")
    assert len(await store.dead_letters()) == 1


async def test_an_identical_repeat_is_idempotent_and_a_changed_one_is_refused(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory()
    await store.append([raise_escalation("E-1", title="Read: README.md")], origin="agent")
    same = raise_escalation("E-1", title="Read: README.md")  # a repeat with a new event id
    await store.append([same], origin="agent")
    assert not await store.dead_letters()
    changed = raise_escalation("E-1", title="Bash: rm -rf /srv/prod", severity="critical")
    await store.append([changed], origin="agent")
    kept = await store.escalation("E-1")
    assert (kept.title, kept.severity, kept.state) == ("Read: README.md", "normal", "open")
    [letter] = await store.dead_letters()
    assert "different content" in letter.error
    assert "title" in letter.error and "severity" in letter.error
    assert "rm -rf /srv/prod" in letter.raw
    # The tool rules match on is part of the request too.
    await store.append(
        [raise_escalation("E-1", title="Read: README.md", tool="Bash")], origin="agent"
    )
    assert "tool changed" in (await store.dead_letters())[0].error


async def test_a_repeat_after_retention_is_compared_with_what_the_row_holds(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory()
    await store.append(
        [raise_escalation("E-1", title="Read: README.md", options=["yes", "no"])],
        origin="agent",
    )
    await store.append([ev("log", agent="a", data={"text": "later"}, offset=60)], origin="o")
    assert await store.prune_events(older_than=BASE.timestamp() + 30) == 1
    again = raise_escalation("E-1", title="Read: README.md", options=["yes", "no"])
    await store.append([again], origin="agent")
    assert not await store.dead_letters()
    await store.append([raise_escalation("E-1", title="Read: /etc/shadow")], origin="agent")
    [letter] = await store.dead_letters()
    assert "title" in letter.error and "options" in letter.error


async def test_a_re_raise_of_another_sources_open_escalation_is_refused(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory()
    await store.append([raise_escalation("E-1")], origin="agent")
    hijack = ev(
        "escalation.raised", source="other", data={"id": "E-1", "kind": "approval", "title": "x"}
    )
    await store.append([hijack], origin="other")
    assert (await store.escalation("E-1")).title == "title of E-1"
    [letter] = await store.dead_letters()
    assert "already in use by another source ('test')" in letter.error
