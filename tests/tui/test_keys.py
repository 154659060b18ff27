"""Pilot tests: every decision key reaches the store, read-only refuses, races are explained."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from swarmdeck.store.db import Store
from swarmdeck.tui.app import SwarmdeckApp
from swarmdeck.tui.screens.details import DetailScreen
from swarmdeck.tui.screens.modals import ConfirmScreen, PickScreen, ReasonScreen
from tests.helpers.tui import AppFactory, frozen, make_settings


def messages(app: SwarmdeckApp) -> list[str]:
    """Everything said, as toasts or on the status line."""
    return [text for _ts, _severity, text in app.message_log.entries]


async def focus_inbox(app: SwarmdeckApp, pilot: object, row: str) -> None:
    inbox = app.inbox_list
    inbox.focus()
    inbox.move_to(app.models.inbox.index[row])


async def test_inbox_order_severity_then_age(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)):
        order = app.models.inbox.order
        assert order[:2] == ["esc-secret", "esc-deploy"]
        # Normal ones oldest first, then low, then the decided one last.
        assert order.index("esc-db") < order.index("esc-hostile") < order.index("esc-budget")
        assert order[-1] == "esc-old"


async def test_approve(app_factory: AppFactory, swarm_store: Store) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await focus_inbox(app, pilot, "esc-db")
        await pilot.press("a")
        await app.workers.wait_for_complete()
        e = await swarm_store.escalation("esc-db")
        assert (e.state, e.action, e.decided_by) == ("decided", "approve", "tester@deck")
        await pilot.pause()
        assert app.models.inbox.items["esc-db"].state == "decided"


async def test_approving_a_critical_item_takes_a_second_keystroke(
    app_factory: AppFactory, swarm_store: Store
) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await focus_inbox(app, pilot, "esc-secret")
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "critical" in app.screen.title_text
        assert (await swarm_store.escalation("esc-secret")).state == "open"
        await pilot.press("a")  # the same key again confirms
        await app.workers.wait_for_complete()
        e = await swarm_store.escalation("esc-secret")
        assert (e.state, e.action, e.decided_by) == ("decided", "approve", "tester@deck")
        await pilot.pause()
        assert app.models.inbox.items["esc-secret"].state == "decided"


async def test_a_decision_records_the_host_it_was_made_on(
    db_path: Path, swarm_store: Store
) -> None:
    app = SwarmdeckApp(
        swarm_store, make_settings(db_path), clock=frozen, actor="alice", host="laptop-7",
        themes_dir=None, ascii_only=False,
    )  # fmt: skip
    async with app.run_test(size=(120, 40)) as pilot:
        await focus_inbox(app, pilot, "esc-db")
        await pilot.press("a")
        await app.workers.wait_for_complete()
    [decision] = await swarm_store.decisions("esc-db")
    assert (decision.actor, decision.host) == ("alice", "laptop-7")


async def test_reject_requires_reason(app_factory: AppFactory, swarm_store: Store) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await focus_inbox(app, pilot, "esc-deploy")
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ReasonScreen)
        await pilot.press("enter")  # empty: refused, the dialog stays
        assert isinstance(app.screen, ReasonScreen)
        assert (await swarm_store.escalation("esc-deploy")).state == "open"
        await pilot.press(*"not on a friday")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        e = await swarm_store.escalation("esc-deploy")
        assert (e.state, e.action, e.reason) == ("decided", "reject", "not on a friday")


async def test_reroute_offers_a_role_only_when_another_agent_has_it(
    app_factory: AppFactory,
) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await focus_inbox(app, pilot, "esc-db")  # raised by coder-1: other coders exist
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, PickScreen)
        values = [value for value, _label in app.screen.choices]
        assert values[0] == "role:coder"
        assert {"coder-2", "coder-4"} <= set(values) and "coder-1" not in values


async def test_reject_cancel_changes_nothing(app_factory: AppFactory, swarm_store: Store) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await focus_inbox(app, pilot, "esc-deploy")
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        assert (await swarm_store.escalation("esc-deploy")).state == "open"


async def test_reroute_picks_a_target(app_factory: AppFactory, swarm_store: Store) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await focus_inbox(app, pilot, "esc-deploy")
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, PickScreen)
        values = [value for value, _label in app.screen.choices]
        # The agent's suggestions first, then its role and same-role peers; tester-1 is
        # the only tester, so "any tester" would land back on it: not offered.
        assert values[:2] == ["senior-coder", "reviewer-1"]
        assert "role:tester" not in values
        await pilot.press("enter")  # the first: senior-coder
        await pilot.pause()
        assert isinstance(app.screen, ReasonScreen)
        await pilot.press("enter")  # the prefilled reason
        await app.workers.wait_for_complete()
        e = await swarm_store.escalation("esc-deploy")
        assert (e.action, e.target, e.reason) == (
            "reroute",
            "senior-coder",
            "rerouted to senior-coder",
        )


async def test_retry(app_factory: AppFactory, swarm_store: Store) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await focus_inbox(app, pilot, "esc-db")
        await pilot.press("r")
        await app.workers.wait_for_complete()
        assert (await swarm_store.escalation("esc-db")).action == "retry"


async def test_bulk_confirmation_lists_each_item(
    app_factory: AppFactory, swarm_store: Store
) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await focus_inbox(app, pilot, "esc-db")
        await pilot.press("space", "space")  # marks esc-db and the next one
        marked = app.inbox_list.selected_keys()
        assert len(marked) == 2
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        plan = [line.plain for line in app.screen.lines]
        assert len(plan) == 2
        assert all(line.startswith("approve ") for line in plan)
        assert any("esc-db" in line for line in plan)
        await pilot.press("y")
        await app.workers.wait_for_complete()
        for key in marked:
            assert (await swarm_store.escalation(key)).action == "approve"
        assert not app.inbox_list.marked


async def test_bulk_cancel(app_factory: AppFactory, swarm_store: Store) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await focus_inbox(app, pilot, "esc-secret")
        await pilot.press("space", "space", "a")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await app.workers.wait_for_complete()
        assert (await swarm_store.escalation("esc-secret")).state == "open"
        assert (await swarm_store.escalation("esc-deploy")).state == "open"


async def test_read_only_hides_and_refuses(app_factory: AppFactory, swarm_store: Store) -> None:
    app = app_factory(read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await focus_inbox(app, pilot, "esc-secret")
        shown = {b.binding.id for b in app.screen.active_bindings.values() if b.enabled}
        assert "inbox.approve" not in shown and "inbox.reject" not in shown
        for key in ("a", "d", "o", "r", "m"):
            await pilot.press(key)
        await pilot.pause()
        assert (await swarm_store.escalation("esc-secret")).state == "open"
        assert any("read-only" in m for m in messages(app))
        # The palette offers no decisions either, and the API refuses.
        app.decisions.request("approve", ["esc-secret"])
        await app.workers.wait_for_complete()
        assert (await swarm_store.escalation("esc-secret")).state == "open"


async def test_race_loss_names_the_winner(db_path: Path, swarm_store: Store) -> None:
    from tests.helpers.tui import make_settings

    app = SwarmdeckApp(
        swarm_store, make_settings(db_path), clock=frozen, actor="tester@deck", poll_interval=3600
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await focus_inbox(app, pilot, "esc-db")
        other = await Store.open(db_path, clock=frozen)
        try:
            await other.decide("esc-db", "reject", actor="bob@other", reason="mine")
        finally:
            await other.close()
        await pilot.press("a")  # this TUI has not polled yet: it still shows the item open
        await app.workers.wait_for_complete()
        e = await swarm_store.escalation("esc-db")
        assert (e.action, e.decided_by) == ("reject", "bob@other")
        assert any("already decided by bob@other" in m for m in messages(app))


async def test_second_manager_sees_a_decision_within_a_second(
    app_factory: AppFactory, db_path: Path
) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        other = await Store.open(db_path, clock=frozen)
        try:
            await other.decide("esc-db", "approve", actor="bob@other")
        finally:
            await other.close()
        for _ in range(20):  # 20 x 50 ms
            if app.models.inbox.items["esc-db"].state == "decided":
                break
            await pilot.pause(0.05)
        e = app.models.inbox.items["esc-db"]
        assert (e.state, e.decided_by) == ("decided", "bob@other")


async def test_workflow_retry_on_failed_node(app_factory: AppFactory, swarm_store: Store) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        graph = app.graph
        assert graph.has_focus
        graph.cursor = "T-plan"
        await pilot.press("r")  # not failed: refused with a message
        await pilot.pause()
        assert any("only a failed node" in m for m in messages(app))
        graph.cursor = "T-ui"
        await pilot.press("r")
        await pilot.pause()
        decided = [e for e in await swarm_store.escalations(state="decided") if e.task == "T-ui"]
        assert [(e.action, e.decided_by) for e in decided] == [("retry", "tester@deck")]


async def test_graph_arrows_move_between_nodes(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        assert app.graph.cursor == "T-plan"
        await pilot.press("l")
        first = app.graph.cursor
        assert first in {"T-api", "T-ui", "T-docs"}
        await pilot.press("j")
        assert app.graph.cursor in {"T-api", "T-ui", "T-docs"} - {first}
        await pilot.press("h")
        assert app.graph.cursor == "T-plan"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.title_text == "Task T-plan"


async def test_keymap_remaps_by_id(app_factory: AppFactory, swarm_store: Store) -> None:
    app = app_factory(keymap={"inbox.approve": "y"})
    async with app.run_test(size=(120, 40)) as pilot:
        await focus_inbox(app, pilot, "esc-db")
        await pilot.press("a")
        await app.workers.wait_for_complete()
        assert (await swarm_store.escalation("esc-db")).state == "open"
        await pilot.press("y")
        await app.workers.wait_for_complete()
        assert (await swarm_store.escalation("esc-db")).action == "approve"


async def test_filter_and_sort(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("1", "slash", *"state:blocked", "enter")
        assert sorted(app.models.swarm.order) == ["coder-3", "tester-1"]
        await pilot.press("escape")
        assert len(app.models.swarm.order) == 12
        await pilot.press("slash", *"role:coder !state:working", "enter")
        assert app.models.swarm.order == ["coder-2", "coder-3", "coder-4"]
        await pilot.press("escape", "s")
        assert app.models.swarm.sort == "state"
        assert app.models.swarm.order[0] == "coder-2"  # failed first


async def test_command_mode(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("colon", *"workflow hot", "enter")
        await pilot.pause()
        assert app.models.workflow_name == "hotfix-7"
        assert app.graph.has_focus
        await pilot.press("w", *"rel", "enter")  # the picker: type part of a name
        await pilot.pause()
        assert app.models.workflow_name == "release-42"
        await pilot.press("colon", *"inbox", "enter")
        assert app.inbox_list.has_focus
        await pilot.press("colon", *"bogus", "enter")
        assert any("unknown command :bogus" in m for m in messages(app))
        await pilot.press("colon", *"quit", "enter")
        await pilot.pause()
    assert app.return_code == 0


async def test_tab_and_number_keys_move_between_panes(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.inbox_list.has_focus
        await pilot.press("tab")
        assert app.swarm_list.has_focus
        await pilot.press("tab")
        assert app.graph.has_focus
        await pilot.press("tab")
        assert app.inbox_list.has_focus
        await pilot.press("1")
        assert app.swarm_list.has_focus
        await pilot.press("j", "j", "G")
        assert app.swarm_list.cursor == 11
        await pilot.press("g")
        assert app.swarm_list.cursor == 0


async def test_details_show_agent_text_literally(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await focus_inbox(app, pilot, "esc-hostile")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = app.export_screenshot()
        assert "pwned[/]" in text  # the markup tag is shown, not applied
        assert "\x1b" not in text
        await pilot.press("escape")
        assert app.screen.__class__ is not DetailScreen  # (isinstance would narrow to Never)
        # Decisions from the details view.
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("a")
        await app.workers.wait_for_complete()
        assert app.models.inbox.items["esc-hostile"].state == "decided"


async def test_help_lists_every_binding(app_factory: AppFactory) -> None:
    from swarmdeck.tui.screens.help import help_view

    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        from rich.console import Console

        console = Console(width=120, record=True, file=io.StringIO())
        console.print(await help_view(app))
        text = console.export_text()
        for binding_id in (
            "inbox.approve",
            "inbox.reject",
            "inbox.reroute",
            "inbox.retry",
            "inbox.mark",
            "swarm.sort",
            "graph.retry",
            "app.command",
            "app.filter",
            "list.down",
        ):
            assert binding_id in text


async def test_attention_rings_and_toasts_on_new_critical(
    app_factory: AppFactory, swarm_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from swarmdeck.store.events import make_event
    from tests.tui.swarm_data import T0

    app = app_factory()
    rings: list[int] = []
    monkeypatch.setattr(app, "bell", lambda: rings.append(1))
    async with app.run_test(size=(120, 40)) as pilot:
        assert not rings  # existing escalations do not ring at start
        event = make_event(
            "escalation.raised", id="n1", source="demo", ts=T0, agent="coder-4",
            data={
                "id": "esc-new", "kind": "approval", "title": "rm -rf build/?",
                "severity": "critical",
            },
        )  # fmt: skip
        await swarm_store.append([event], origin="demo")
        await app.poll()
        await pilot.pause()
        assert rings == [1]
        assert any("rm -rf build/?" in m for m in messages(app))


async def test_metrics_command_opens_the_metrics_screen(app_factory: AppFactory) -> None:
    from swarmdeck.tui.screens.metrics import MetricsScreen

    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("colon", *"metrics", "enter")
        await pilot.pause()
        assert isinstance(app.screen, MetricsScreen)


async def test_palette_offers_inbox_commands(app_factory: AppFactory, swarm_store: Store) -> None:
    from textual.command import Hit

    from swarmdeck.tui.palette import SwarmdeckCommands

    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        provider = SwarmdeckCommands(app.screen)
        hits = [hit async for hit in provider.search("approve secret")]
        texts = [hit.text for hit in hits]
        assert "inbox: approve Secret in output of coder-3" in texts
        # Agent titles are shown literally, never parsed as markup.
        hostile = [hit async for hit in provider.search("approve pwned")]
        assert any(
            isinstance(hit, Hit) and "[bold red]pwned[/]" in str(hit.match_display)
            for hit in hostile
        )
        best = max(hits, key=lambda h: h.score)
        assert best.text == "inbox: approve Secret in output of coder-3"
        best.command()
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)  # critical: the palette asks too
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert (await swarm_store.escalation("esc-secret")).action == "approve"


async def test_reveal_a_masked_secret_from_details_is_audited(
    app_factory: AppFactory, swarm_store: Store
) -> None:
    """A guardrail hit stored through the real ingest filter; `v` in its details asks why,
    shows the original literally, and the audit names who looked, never the secret."""
    from swarmdeck.guardrails import GuardrailConfig, IngestFilter
    from swarmdeck.store.events import make_event

    secret = "AKIAIOSFODNN7EXAMPLE"
    hit = make_event(
        "log", id="leak-1", source="demo", agent="coder-3", task="T-17",
        data={"text": f"export AWS_KEY={secret} [bold]x[/]"},
    )  # fmt: skip
    stored = await IngestFilter(GuardrailConfig(), store=swarm_store)([hit], "demo")
    await swarm_store.append(stored, origin="demo")
    guardrail = next(e for e in stored if e.kind == "escalation.raised")
    esc_id = guardrail.data.id
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await app.models.poll()
        app.show_escalation(esc_id)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert secret not in app.export_screenshot()
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, ReasonScreen)
        await pilot.press(*"rotate it", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert secret in app.export_screenshot()
    [record] = [r for r in await swarm_store.audit_records() if r.action == "guardrail.reveal"]
    assert (record.actor, record.subject, record.detail["reason"]) == (
        "tester@deck",
        esc_id,
        "rotate it",
    )
    assert secret not in str(record.detail)


async def test_read_only_cannot_reveal(app_factory: AppFactory, swarm_store: Store) -> None:
    app = app_factory(read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.models.poll()
        app.show_escalation("esc-secret")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)  # no reason prompt, nothing revealed
    assert not [r for r in await swarm_store.audit_records() if r.action == "guardrail.reveal"]
