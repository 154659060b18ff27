"""The wire format: strict, precise errors, and never a crash on junk."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmdeck.store.events import (
    KINDS,
    EventError,
    event_json_schema,
    parse_duration,
    parse_event,
    parse_event_json,
)

ENVELOPE = {"v": 1, "id": "e1", "ts": "2026-11-23T10:00:00Z", "source": "s"}

VALID: dict[str, dict[str, object]] = {
    "agent.seen": {"agent": "a", "data": {"name": "a", "role": "coder", "model": "m"}},
    "agent.status": {"agent": "a", "data": {"state": "blocked", "activity": "waiting"}},
    "task.created": {"task": "T", "data": {"title": "t", "depends_on": ["T0"]}},
    "task.started": {"task": "T", "agent": "a"},
    "task.progress": {"task": "T", "data": {"note": "n", "pct": 50}},
    "task.completed": {"task": "T", "data": {"result": "ok"}},
    "task.failed": {"task": "T", "data": {"error": "boom", "retryable": False}},
    "task.handoff": {"task": "T", "agent": "a", "data": {"to_agent": "b"}},
    "workflow.defined": {
        "data": {
            "name": "w",
            "nodes": [{"id": "x"}, {"id": "y", "gate": True}],
            "edges": [["x", "y"]],
        }
    },
    "escalation.raised": {
        "data": {"id": "E", "kind": "question", "title": "?", "options": ["a", "b"]}
    },
    "escalation.withdrawn": {"data": {"id": "E"}},
    "usage": {"agent": "a", "data": {"tokens_in": 1, "tokens_out": 2, "cost_usd": 0.5}},
    "log": {"agent": "a", "data": {"level": "warning", "text": "hm"}},
}


def test_every_kind_has_a_valid_example() -> None:
    assert set(VALID) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_valid_events_parse_from_json_and_python(kind: str) -> None:
    obj = {**ENVELOPE, "kind": kind, **VALID[kind]}
    from_json = parse_event_json(json.dumps(obj))
    from_python = parse_event(obj)
    assert from_json == from_python
    assert from_json.kind == kind
    assert from_json.ts == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "task.exploded"}, "kind: unknown kind 'task.exploded'"),
        ({"kind": None}, "kind"),
        ({"extra": 1}, "extra: Extra inputs are not permitted"),
        ({"ts": "yesterday"}, "ts: Input should be a valid datetime"),
        ({"v": 2}, "v: Input should be 1"),
        ({"id": ""}, "id: String should have at least 1 character"),
        (
            {"data": {"id": "E", "kind": "approval", "title": "t", "severity": "huge"}},
            "data.severity: Input should be 'low', 'normal', 'high' or 'critical'",
        ),
        ({"data": {"id": "E", "kind": "vote", "title": "t"}}, "data.kind: Input should be"),
        ({"data": {"id": "E", "kind": "approval"}}, "data.title: Field required"),
        ({"data": "nope"}, "data: expected a JSON object"),
    ],
)
def test_bad_fields_are_named_precisely(change: dict[str, object], message: str) -> None:
    obj = {
        **ENVELOPE,
        "kind": "escalation.raised",
        "data": {"id": "E", "kind": "approval", "title": "t"},
    }
    obj.update(change)
    obj = {k: v for k, v in obj.items() if v is not None}
    with pytest.raises(EventError) as err:
        parse_event_json(json.dumps(obj))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_kinds_require_their_subject() -> None:
    with pytest.raises(EventError, match="agent: Field required"):
        parse_event({**ENVELOPE, "kind": "agent.status", "data": {"state": "idle"}})
    with pytest.raises(EventError, match="task: Field required"):
        parse_event({**ENVELOPE, "kind": "task.started"})


def test_not_json_and_not_an_object() -> None:
    with pytest.raises(EventError, match="not valid JSON"):
        parse_event_json(b'{"id": ')
    with pytest.raises(EventError, match="event: Input should be an object"):
        parse_event_json(b"[1, 2]")


def test_workflow_edges_must_name_declared_nodes() -> None:
    obj = {
        **ENVELOPE,
        "kind": "workflow.defined",
        "data": {"name": "w", "nodes": [{"id": "x"}], "edges": [["x", "ghost"]]},
    }
    with pytest.raises(EventError, match="unknown node 'ghost'"):
        parse_event(obj)


def test_relative_deadline_counts_from_the_event_time() -> None:
    obj = {
        **ENVELOPE,
        "kind": "escalation.raised",
        "data": {"id": "E", "kind": "approval", "title": "t", "deadline": "15m"},
    }
    event = parse_event_json(json.dumps(obj))
    assert event.data.deadline == datetime(2026, 11, 23, 10, 15, tzinfo=UTC)  # type: ignore[union-attr]


def test_naive_timestamps_are_utc() -> None:
    event = parse_event(
        {**ENVELOPE, "ts": "2026-11-23T10:00:00", "kind": "log", "data": {"text": "x"}}
    )
    assert event.ts.tzinfo is not None
    assert event.ts.utcoffset() == timedelta(0)


def test_durations() -> None:
    assert parse_duration("30s") == timedelta(seconds=30)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    assert parse_duration("7d") == timedelta(days=7)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


def test_schema_covers_every_kind() -> None:
    schema = json.dumps(event_json_schema())
    for kind in KINDS:
        assert f'"{kind}"' in schema
    assert "2020-12" in event_json_schema()["$schema"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    try:
        parse_event_json(raw)
    except EventError as exc:
        assert str(exc)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(KINDS), data=json_values)
def test_arbitrary_data_is_validated_or_rejected_cleanly(kind: str, data: object) -> None:
    obj = {**ENVELOPE, "kind": kind, "agent": "a", "task": "t", "data": data}
    try:
        event = parse_event_json(json.dumps(obj))
    except EventError as exc:
        assert str(exc)
    else:
        assert event.kind == kind
