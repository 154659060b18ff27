"""Pilot tests for the keys a manager lives by: answer, jump, decide from the Swarm and the
details, confirm what cannot be undone, the prompt's Tab, toasts, the workflow picker.

Each asserts what landed in the store (or that nothing did), not only what the screen
shows.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Input, Static

from swarmdeck.store.db import Store
from swarmdeck.store.events import make_event
from swarmdeck.tui.app import SwarmdeckApp
from swarmdeck.tui.screens.details import DetailScreen
from swarmdeck.tui.screens.modals import AnswerScreen, ConfirmScreen
from swarmdeck.tui.screens.workflow_picker import WorkflowPicker
from tests.helpers.tui import AppFactory, frozen


def said(app: SwarmdeckApp) -> list[str]:
    return [text for _ts, _severity, text in app.message_log.entries]


async def on_row(app: SwarmdeckApp, pilot: Pilot[Any], key: str) -> None:
    app.inbox_list.focus()
    app.inbox_list.move_to(app.models.inbox.index[key])
    await pilot.pause()


async def on_agent(app: SwarmdeckApp, pilot: Pilot[Any], name: str) -> None:
    app.swarm_list.focus()
    app.swarm_list.move_to(app.models.swarm.index[name])
    await pilot.pause()


async def raise_one(store: Store, app: SwarmdeckApp, eid: str, **data: Any) -> None:
    event = make_event(
        "escalation.raised",
        id=f"ev-{eid}",
        source="demo",
        agent=data.pop("agent", "coder-4"),
        ts=datetime.fromtimestamp(frozen(), UTC),
        data={"id": eid, **data},
    )
    await store.append([event], origin="demo")
    await app.poll()


def body_text(screen: DetailScreen) -> str:
    """What the details view shows, as plain text."""
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(screen.query_one("#detail-body", Static).content)
    return console.export_text()


async def decision(store: Store, eid: str) -> tuple[str | None, str | None]:
    [d] = await store.decisions(eid)
    return d.action, d.answer


# --------------------------------------------------------------------------- answer (14.1)


async def test_answer_picks_an_option_with_its_number(
    app_factory: AppFactory, store: Store
) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await on_row(app, pilot, "esc-db")
        await pilot.press("A")
        await pilot.pause()
        assert isinstance(app.screen, AnswerScreen)
        assert app.screen.options == ["Redis", "Memcached", "Postgres"]
        await pilot.press("2")
        await app.workers.wait_for_complete()
        assert await decision(store, "esc-db") == ("answer", "Memcached")
        assert (await store.escalation("esc-db")).state == "decided"
        assert any("answered 'Memcached'" in m for m in said(app))


async def test_answer_with_arrows_and_enter(app_factory: AppFactory, store: Store) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await on_row(app, pilot, "esc-db")
        await pilot.press("A", "j", "j", "enter")
        await app.workers.wait_for_complete()
        assert await decision(store, "esc-db") == ("answer", "Postgres")


async def test_answer_in_words_when_the_question_offers_no_options(
    app_factory: AppFactory, store: Store
) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await raise_one(store, app, "esc-free", kind="question", title="What should it be named?")
        await on_row(app, pilot, "esc-free")
        await pilot.press("A")
        await pilot.pause()
        assert isinstance(app.screen, AnswerScreen)
        await pilot.press("enter")  # empty: refused, the dialog stays
        assert isinstance(app.screen, AnswerScreen)
        await pilot.press(*"orders-v2", "enter")
        await app.workers.wait_for_complete()
        assert await decision(store, "esc-free") == ("answer", "orders-v2")


async def test_answer_cancel_and_answer_on_a_non_question(
    app_factory: AppFactory, store: Store
) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await on_row(app, pilot, "esc-db")
        await pilot.press("A", "escape")
        await app.workers.wait_for_complete()
        assert (await store.escalation("esc-db")).state == "open"
        await on_row(app, pilot, "esc-deploy")
        await pilot.press("A")
        await app.workers.wait_for_complete()
        assert not isinstance(app.screen, AnswerScreen)
        assert (await store.escalation("esc-deploy")).state == "open"
        assert any("is a approval, not a question" in m for m in said(app))


# --------------------------------------------------------------------------- Swarm, details (14.2)


async def test_decide_from_the_swarm_acts_on_the_agents_escalation(
    app_factory: AppFactory, store: Store
) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await on_agent(app, pilot, "coder-1")  # raised esc-db
        await pilot.press("A", "1")
        await app.workers.wait_for_complete()
        assert await decision(store, "esc-db") == ("answer", "Redis")
        await on_agent(app, pilot, "coder-9")  # raised esc-hostile
        await pilot.press("a")
        await app.workers.wait_for_complete()
        assert (await store.escalation("esc-hostile")).action == "approve"


async def test_a_decision_key_on_an_agent_with_nothing_open_says_why(
    app_factory: AppFactory, store: Store
) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        before = len(await store.decisions())
        await on_agent(app, pilot, "coder-4")
        await pilot.press("a")
        await app.workers.wait_for_complete()
        assert len(await store.decisions()) == before
        assert "nothing to decide: coder-4 (idle) has no open escalation" in said(app)


async def test_decide_from_agent_details(app_factory: AppFactory, store: Store) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await on_agent(app, pilot, "coder-4")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("a")  # nothing open: the view stays and says why
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        assert any("coder-4 (idle) has no open escalation" in m for m in said(app))
        await pilot.press("escape")
        await on_agent(app, pilot, "tester-1")  # raised esc-deploy (high)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await app.workers.wait_for_complete()
        e = await store.escalation("esc-deploy")
        assert (e.action, e.decided_by) == ("approve", "tester@deck")


async def test_details_update_when_another_manager_decides(
    app_factory: AppFactory, store: Store
) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await on_row(app, pilot, "esc-hostile")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        assert "reject by bob@other" not in body_text(screen)
        await store.decide("esc-hostile", "reject", actor="bob@other", reason="not this")
        for _ in range(60):  # the poll, then the once-a-second reload
            await pilot.pause(0.05)
            if screen.loads > 1:
                break
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "reject by bob@other" in body_text(screen)
        await pilot.press("a")  # and a key now says who decided
        await pilot.pause()
        assert any("already decided by bob@other" in m for m in said(app))
        assert (await store.escalation("esc-hostile")).action == "reject"


# --------------------------------------------------------------------------- jump (14.2)


async def test_n_jumps_to_the_next_waiting_item_across_panes(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        order = [k for k in app.models.inbox.order if app.models.inbox.items[k].state == "open"]
        await on_agent(app, pilot, "coder-4")  # from the Swarm pane
        await pilot.press("n")
        await pilot.pause()
        assert app.inbox_list.has_focus
        first = app.inbox_list.current
        assert first == order[1]  # the cursor started on the first: n goes past it
        e = app.models.inbox.items[first]
        assert app.swarm_list.current == e.agent  # the Swarm follows
        assert app.models.workflow_name == e.workflow == "release-42"
        assert app.graph.cursor == next(n.id for n in app.graph.real_nodes() if n.task == e.task)
        await pilot.press("n")
        assert app.inbox_list.current == order[2]
        await pilot.press("N", "N")
        assert app.inbox_list.current == order[0]
        await pilot.press("N")  # wraps
        assert app.inbox_list.current == order[-1]


async def test_n_names_a_filter_that_hides_everything_waiting(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("slash", *"nosuchthing", "enter", "n")
        await pilot.pause()
        assert any("5 waiting, hidden by the filter /nosuchthing" in m for m in said(app))


# --------------------------------------------------------------------------- confirm (14.6)


async def test_a_matching_pattern_asks_for_a_second_keystroke(
    app_factory: AppFactory, store: Store
) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await raise_one(store, app, "esc-rm", kind="approval", title="Run `rm -rf build/`?")
        await on_row(app, pilot, "esc-rm")
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "'rm -rf'" in app.screen.title_text
        await pilot.press("n")  # cancelled: nothing recorded
        await app.workers.wait_for_complete()
        assert (await store.escalation("esc-rm")).state == "open"
        await pilot.press("a", "enter")
        await app.workers.wait_for_complete()
        assert (await store.escalation("esc-rm")).action == "approve"


async def test_the_confirmation_is_configurable(app_factory: AppFactory, store: Store) -> None:
    app = app_factory(confirm_severities=[], confirm_patterns="")
    async with app.run_test(size=(120, 40)) as pilot:
        await on_row(app, pilot, "esc-secret")  # critical, but nobody asked for a confirmation
        await pilot.press("a")
        await app.workers.wait_for_complete()
        assert (await store.escalation("esc-secret")).action == "approve"


# --------------------------------------------------------------------------- the prompt (10.8)


async def test_tab_in_the_prompt_completes_and_letters_never_decide(
    app_factory: AppFactory, store: Store
) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        before = len(await store.decisions())
        await pilot.press("colon", *"wor", "tab")
        prompt = app.command_line.input
        assert prompt.has_focus and prompt.value == "workflow "
        await pilot.press("tab")  # two workflows: both listed, the line stays
        assert prompt.has_focus
        await pilot.press("tab")  # a second Tab cycles through them
        assert prompt.value in ("workflow release-42", "workflow hotfix-7")
        await pilot.press("backspace", "r", "a", "d", "o", "m")  # would be decision keys
        assert prompt.has_focus and app.command_line.is_open
        assert len(await store.decisions()) == before
        await pilot.press("escape", "colon", *"workflow hot", "tab", "enter")
        await pilot.pause()
        assert app.models.workflow_name == "hotfix-7"


async def test_filter_prompt_completes_fields_and_values(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("1", "slash", *"sta", "tab", *"bl", "tab")
        assert app.command_line.input.value == "state:blocked "
        assert sorted(app.models.swarm.order) == ["coder-3", "tester-1"]


async def test_focus_leaving_the_prompt_closes_it(app_factory: AppFactory, store: Store) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("colon", *"aud")
        assert app.command_line.is_open
        await pilot.click("#swarm-list")
        await pilot.pause()
        assert not app.command_line.is_open


async def test_decisions_are_refused_while_the_prompt_is_open(
    app_factory: AppFactory, store: Store
) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("colon")
        app.decisions.request("approve", ["esc-db"])  # e.g. the palette, or a stray message
        await app.workers.wait_for_complete()
        assert (await store.escalation("esc-db")).state == "open"
        assert any("the prompt is open" in m for m in said(app))


# --------------------------------------------------------------------------- toasts (14.5)


def toast_texts(app: SwarmdeckApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_identical_toasts_fold_and_at_most_two_show(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(6):
            app.say("finish the decision in progress first (esc cancels it)", severity="warning")
        await pilot.pause()
        assert toast_texts(app) == ["finish the decision in progress first (esc cancels it) (×6)"]
        app.say("one")
        app.say("two")
        await pilot.pause()
        assert toast_texts(app) == ["one", "two"]


async def test_narrow_screens_say_it_on_the_status_line(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(45, 40)) as pilot:
        for _ in range(3):
            app.say("finish the decision in progress first", severity="warning")
        await pilot.pause()
        assert toast_texts(app) == []  # nothing covers the list
        assert "finish the decision in progress first (×3)" in str(app.status_line.render())


# --------------------------------------------------------------------------- the picker (14.4)


async def test_w_opens_a_fuzzy_workflow_picker(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3", "w")
        await pilot.pause()
        assert isinstance(app.screen, WorkflowPicker)
        await pilot.press(*"hfx7")  # fuzzy: the letters in order
        await pilot.pause()
        shown = [app.screen.query_one("#workflows").get_option_at_index(0).id]  # type: ignore[attr-defined]
        assert shown == ["hotfix-7"]
        await pilot.press("enter")
        await pilot.pause()
        assert app.models.workflow_name == "hotfix-7"


async def test_workflow_command_lists_the_matches_of_a_partial_name(
    app_factory: AppFactory,
) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("colon", *"workflow e", "enter")  # both names have an "e"
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, WorkflowPicker)
        assert picker.query_one("#pick", Input).value == "e"
        await pilot.press("escape", "colon", *"workflow zzz", "enter")
        await pilot.pause()
        assert any("no workflow matches 'zzz'" in m for m in said(app))


# --------------------------------------------------------------------------- rows (14.4)


async def test_decided_rows_keep_their_title_at_every_width(
    app_factory: AppFactory, store: Store
) -> None:
    """ "✓ HIGH approved by root@vm ✓ delivered" lost what was approved."""
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await on_row(app, pilot, "esc-deploy")
        await pilot.press("a", "y")  # high: confirmed
        await app.workers.wait_for_complete()
        await app.poll()
        for width in (42, 57, 97):
            row = app.inbox_list.render_row("esc-deploy", width, frozen()).plain
            assert "Deploy release" in row, (width, row)
            assert "approved" in row, (width, row)
            assert len(row) == width


async def test_a_late_focus_event_does_not_close_a_prompt_just_opened(
    app_factory: AppFactory,
) -> None:
    """A fast "1/" over SSH: the Swarm's focus event arrives after the prompt took focus.
    Closing on it hid the prompt with focus still in it (found in tmux)."""
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        app.action_pane("swarm")  # its focus events are still queued…
        app.action_filter()  # …when the prompt opens
        await pilot.pause()
        assert app.command_line.is_open and app.command_line.input.has_focus
        await pilot.press(*"state:blocked", "enter")
        await pilot.pause()
        assert not app.command_line.bar.has_class("-visible")  # (a call: mypy re-reads it)
        assert app.swarm_list.has_focus
