# ruff: noqa: E501
"""The collector's entry points, built from a real config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmdeck.config import ConfigError, load_settings
from swarmdeck.guardrails import IngestFilter, build_ingest_filter
from swarmdeck.policy import PolicyService, build_policy_service
from swarmdeck.store.db import Store
from tests.helpers.clock import Clock


def _settings(tmp_path: Path, toml: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.toml"
    path.write_text(toml)
    return load_settings(path, db=tmp_path / "w.db")


async def test_no_rules_decide_nothing_but_deadlines_still_expire(
    tmp_path: Path, clocked_store: Store, clock: Clock
) -> None:
    """Without rules nothing is decided automatically, yet an agent's own deadline still
    raises severity when it passes (and the service is there to pick up a first rule)."""
    from datetime import UTC, datetime

    from swarmdeck.store.events import make_event

    settings = _settings(tmp_path, "")
    assert isinstance(build_ingest_filter(settings), IngestFilter)  # guardrails on by default
    service = build_policy_service(settings, clocked_store, clock)
    await service.start()
    raised = make_event(
        "escalation.raised", id="e1", source="agent", agent="coder-1",
        ts=datetime.fromtimestamp(clock(), UTC),
        data={"id": "E1", "kind": "approval", "title": "Push?", "severity": "normal",
              "deadline": "10m"},
    )  # fmt: skip
    await clocked_store.append([raised], origin="agents")
    await service.step()
    assert (await clocked_store.escalation("E1")).state == "open"  # no rule, no decision
    clock.now += 11 * 60
    assert await service.sweep_deadlines() == ["E1"]
    esc = await clocked_store.escalation("E1")
    assert (esc.state, esc.severity) == ("open", "high")
    assert await clocked_store.decisions() == []
    assert [r.action for r in await clocked_store.audit_records()] == [
        "escalation.deadline_expired"
    ]


async def test_rules_and_budgets_from_toml(
    tmp_path: Path, clocked_store: Store, clock: Clock
) -> None:
    settings = _settings(
        tmp_path,
        """
actor = "ann@box"
[[policy.rules]]
name = "flaky-tests"
match = { kind = "task.failed", role = "tester", error = "(?i)timeout|flaky" }
path = ["retry(max=2, backoff=30s)", "reroute(role=senior-coder)", "escalate(severity=high, deadline=15m)"]
[[policy.rules]]
name = "routine-reads"
match = { escalation_kind = "approval", title = "^(Read|Grep|Glob)" }
path = ["approve"]
[guardrails]
personal_data = false
[[guardrails.budgets]]
name = "daily"
max_tokens = 100000
""",
    )
    service = build_policy_service(
        settings, clocked_store, clock, config_path=tmp_path / "config.toml"
    )
    assert isinstance(service, PolicyService)
    assert service._watch == tmp_path / "config.toml"
    assert [r.name for r in service.config.rules] == ["flaky-tests", "routine-reads"]
    assert service.admin == "ann@box"
    await service.start()
    [changed] = [
        r for r in await clocked_store.audit_records() if r.action == "policy.rules_changed"
    ]
    assert changed.actor == "ann@box"
    flt = build_ingest_filter(settings)
    assert flt is not None
    assert flt.scanner.scan("mail bob@corp.example") == []  # personal data off


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[policy.rules]]\nname = "routine-reads"\nmatch = { escalation_kind = "approval" }\npath = ["approve", "retri"]\n',
         "policy.rules[routine-reads].path[1]: unknown step 'retri'"),
        ('[[policy.rules]]\nname = "x"\nmatch = { kind = "task.failed", colour = "red" }\npath = ["retry"]\n',
         "policy.rules[x].match.colour: Extra inputs are not permitted"),
        ('[guardrails]\nentropy_threshold = "high"\n', "guardrails.entropy_threshold"),
    ],
)  # fmt: skip
async def test_invalid_config_fails_at_start_naming_the_field(
    tmp_path: Path, clocked_store: Store, clock: Clock, toml: str, message: str
) -> None:
    settings = _settings(tmp_path, toml)
    # The policy service validates both sections (budgets live under [guardrails]).
    with pytest.raises(ConfigError) as info:
        build_policy_service(settings, clocked_store, clock)
    assert message in str(info.value)


def test_guardrails_can_be_turned_off(tmp_path: Path) -> None:
    assert build_ingest_filter(_settings(tmp_path, "[guardrails]\nenabled = false\n")) is None
