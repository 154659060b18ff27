"""What an attacker sends: hostile text, numbers at and past every bound, deep nesting,
valid events with one field swapped for something nasty, and bytes that are not JSON."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

#: Text a terminal would act on or hide, and text that breaks naive code.
NASTY_TEXT = [
    "\x1b]52;c;cm0gLXJmIH4=\x07",  # OSC 52: write the clipboard
    "\x1b]0;pwned\x07",  # set the window title
    "\x1b[2J\x1b[H",  # clear the screen
    "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\",  # hyperlink
    "\x9b31m",  # 8-bit CSI
    "a\u202eevil\u202c",  # bidi override
    "pass\u200bword\ufeff",  # zero width, BOM
    "line\nforged: approved by boss@laptop",  # a newline that forges a line
    "\x00\x01\x07\x7f\x85",  # C0, DEL, C1
    "",  # empty
    " ",  # blank
    "a" * 201,  # one past the name limit
    "b" * 70_000,  # past the text limit
    "漢字🚀",  # plain non-ASCII, legitimately
    "[bold red]markup[/]",  # Rich markup that must stay literal
    "'; DROP TABLE escalations; --",  # SQL, which is always bound
    "../../../../etc/passwd",
]

#: Numbers at and past every bound (int64, floats, durations).
NASTY_NUMBERS: list[Any] = [
    0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**30,
    0.5, -0.0, 1e308, 1e-320, 100.0001, True, False,
]  # fmt: skip

#: Raw JSON number literals Python's json cannot produce but attackers can.
NASTY_LITERALS = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1" * 400, "0x10", "01"]

DURATIONS = ["15m", "0s", "366d", "367d", "99999999999999d", "9" * 400 + "d", "1e3s", "-5m", "x"]


def nested(depth: int, leaf: Any = 1) -> str:
    """JSON text nested ``depth`` deep (``json.dumps`` itself would recurse)."""
    return '{"a": ' * depth + json.dumps(leaf) + "}" * depth


def text() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(NASTY_TEXT), st.text(max_size=60))


def scalar() -> st.SearchStrategy[Any]:
    return st.one_of(
        text(),
        st.sampled_from(NASTY_NUMBERS),
        st.none(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(),
    )


def json_value() -> st.SearchStrategy[Any]:
    return st.recursive(
        scalar(),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(text(), inner, max_size=4)
        ),
        max_leaves=12,
    )


VALID_EVENTS: list[dict[str, Any]] = [
    {"kind": "agent.seen", "agent": "a", "data": {"name": "a", "role": "coder"}},
    {"kind": "agent.status", "agent": "a", "data": {"state": "blocked", "activity": "x"}},
    {"kind": "task.created", "task": "T", "data": {"title": "t", "depends_on": ["T0"]}},
    {"kind": "task.progress", "task": "T", "data": {"note": "n", "pct": 50}},
    {"kind": "task.failed", "task": "T", "data": {"error": "boom"}},
    {"kind": "escalation.raised", "agent": "a",
     "data": {"id": "E", "kind": "approval", "title": "t", "deadline": "15m",
              "options": ["a", "b"]}},
    {"kind": "escalation.withdrawn", "data": {"id": "E"}},
    {"kind": "usage", "agent": "a", "data": {"tokens_in": 1, "cost_usd": 0.5}},
    {"kind": "log", "agent": "a", "data": {"level": "info", "text": "hm"}},
    {"kind": "workflow.defined",
     "data": {"name": "w", "nodes": [{"id": "x"}, {"id": "y"}], "edges": [["x", "y"]]}},
]  # fmt: skip


@st.composite
def hostile_event(draw: st.DrawFn, source: str = "fuzz") -> dict[str, Any]:
    """A valid event with one field replaced, added or removed, at the envelope or in data."""
    base = json.loads(json.dumps(draw(st.sampled_from(VALID_EVENTS))))
    event: dict[str, Any] = {"v": 1, "id": draw(text()), "ts": "2026-11-23T10:00:00Z",
                             "source": source, **base}  # fmt: skip
    where = draw(st.sampled_from(["envelope", "data", "data", "deadline", "numbers", "id"]))
    key_pool = ["v", "id", "ts", "source", "kind", "agent", "task", "workflow", "data", "zz"]
    if where == "envelope":
        key = draw(st.sampled_from(key_pool))
        if draw(st.booleans()):
            event[key] = draw(json_value())
        else:
            event.pop(key, None)
    elif where == "data" and isinstance(event.get("data"), dict):
        data = event["data"]
        key = draw(st.sampled_from([*data, "extra", "id", "title", "state", "options"]))
        data[key] = draw(json_value())
    elif where == "deadline":
        event.update(kind="escalation.raised", data={
            "id": "E-d", "kind": "approval", "title": "t", "deadline": draw(st.one_of(
                st.sampled_from(DURATIONS), st.sampled_from(["9999-12-31T23:59:59Z",
                "0001-01-01T00:00:00Z", "2026-13-40T00:00:00Z"]))),
        })  # fmt: skip
        if draw(st.booleans()):
            event["ts"] = draw(st.sampled_from(["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"]))
    elif where == "numbers":
        event.update(kind="usage", agent="a", data={
            draw(st.sampled_from(["tokens_in", "tokens_out", "cost_usd"])):
                draw(st.sampled_from(NASTY_NUMBERS)),
        })  # fmt: skip
    else:
        event["id"] = draw(st.sampled_from(NASTY_TEXT))
    return event


@st.composite
def hostile_line(draw: st.DrawFn, source: str = "fuzz") -> bytes:
    """One input line: a hostile event, a literal JSON cannot express, deep nesting, junk."""
    kind = draw(st.sampled_from(["event", "event", "event", "literal", "deep", "junk"]))
    if kind == "event":
        return json.dumps(draw(hostile_event(source))).encode()
    if kind == "literal":
        base = json.dumps({"v": 1, "id": "lit", "ts": "2026-11-23T10:00:00Z", "source": source,
                           "kind": "usage", "agent": "a", "data": {"cost_usd": 0}})  # fmt: skip
        return base.replace('"cost_usd": 0', '"cost_usd": ' + draw(st.sampled_from(
            NASTY_LITERALS))).encode()  # fmt: skip
    if kind == "deep":
        return nested(draw(st.sampled_from([50, 199, 201, 2000, 20_000]))).encode()
    return draw(st.binary(max_size=200).filter(lambda b: b"\n" not in b and b"\r" not in b))
