"""What the CLI's JSON and CSV outputs may contain: nothing a terminal acts on or hides.

``safe_json`` feeds every ``--json`` output, the jsonl audit export and the jsonl adapter's
decisions file; ``escape_controls`` the CSV export's text cells. Both keep every value
(escaped, not dropped), so a copy stays exact and verifiable.
"""

from __future__ import annotations

import json
import math
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from swarmdeck.store.text import escape_controls, safe_json

#: Characters a terminal acts on (C0, DEL, C1) or that hide or reorder text (Cf and friends).
HIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}

hostile_text = st.text(
    st.one_of(
        st.sampled_from("\x1b\x07\x7f\x85\x9b\x9d\u202e\u2066\u200b\ufeff\u2028\n\r\t]0;"),
        st.characters(codec="utf-8"),
    ),
    max_size=80,
)


def acted_on(text: str) -> list[str]:
    return [c for c in text if unicodedata.category(c) in HIDDEN_CATEGORIES]


@given(st.dictionaries(hostile_text, st.one_of(hostile_text, st.floats(), st.integers())))
def test_safe_json_is_printable_ascii_and_exact(value: dict[str, object]) -> None:
    out = safe_json(value, sort_keys=True)
    assert out.isascii() and not acted_on(out), out
    back = json.loads(out)  # strict: Infinity and NaN would be refused here ...
    for key, item in value.items():
        if isinstance(item, float) and not math.isfinite(item):
            assert back[key] is None  # ... so they become null
        else:
            assert back[key] == item


def test_safe_json_never_prints_infinity() -> None:
    out = safe_json({"cost_usd": float("inf"), "series": [1.5, float("nan"), -float("inf")]})
    assert out == '{"cost_usd": null, "series": [1.5, null, null]}'


@given(hostile_text)
def test_escape_controls_keeps_one_line_and_shows_what_it_escaped(text: str) -> None:
    out = escape_controls(text)
    assert not acted_on(out), out
    assert "\n" not in out and "\r" not in out
    if "\x1b" in text:
        assert "\\u001b" in out


def test_escape_controls_leaves_plain_text_alone() -> None:
    assert escape_controls("Deploy to prod — café ✓") == "Deploy to prod — café ✓"
    assert escape_controls(None) == ""
    assert escape_controls("E\x1b]0;pwned\x07") == "E\\u001b]0;pwned\\u0007"
