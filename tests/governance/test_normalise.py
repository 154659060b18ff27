"""Normalisation before detection: what a reader does not see is not part of the text."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmdeck.guardrails.normalise import normalise


def test_plain_ascii_is_returned_as_is() -> None:
    text = "running pytest tests/unit -q"
    normal, spans = normalise(text)
    assert normal is text and spans is None


def test_non_latin_prose_is_never_rewritten() -> None:
    text = "日志已写入 docs/说明.md, résumé ✅"
    normal, spans = normalise(text)
    assert normal is text and spans is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ab\u200bcd", "abcd"),  # zero-width space
        ("ab\u00adcd", "abcd"),  # soft hyphen
        ("ab\ufeffcd", "abcd"),  # BOM / zero-width no-break space
        ("ab\u2060cd", "abcd"),  # word joiner
        ("ab\u202ecd\u202c", "abcd"),  # bidi override and pop
        ("ab\u2066cd\u2069", "abcd"),  # bidi isolates
        ("ab\U000e0041cd", "abcd"),  # tag character
        ("ab\ufe0fcd", "abcd"),  # variation selector
        ("ab\x1b[0mcd", "abcd"),  # SGR reset
        ("ab\x1b[38;5;196mcd", "abcd"),  # 256-colour SGR
        ("ab\x1b]8;;https://x\x07cd", "abcd"),  # OSC 8 link opener
        ("ab\x1b]52;c;aGk=\x1b\\cd", "abcd"),  # OSC 52 ended by ST
        ("ab\x00\x08cd", "abcd"),  # C0 controls
        ("ab\x9b0mcd", "abcd"),  # 8-bit CSI
        ("ｓｋ＿ｌｉｖｅ", "sk_live"),  # fullwidth forms fold to ASCII
        ("x\ufb01y", "xfiy"),  # a ligature folds to two letters
        ("tab\tand\nnewline", "tab\tand\nnewline"),  # whitespace stays
    ],
)
def test_what_is_removed_or_folded(text: str, expected: str) -> None:
    assert normalise(text)[0] == expected


def test_spans_cover_the_whole_original_including_what_was_removed() -> None:
    text = "key=AKIA\u200b\u00adIOSF\x1b[0mODNN7\ufeffEXAMPLE!"
    normal, spans = normalise(text)
    assert normal == "key=AKIAIOSFODNN7EXAMPLE!"
    assert spans is not None
    start = normal.index("AKIA")
    end = start + len("AKIAIOSFODNN7EXAMPLE")
    o_start, o_end = spans.original(start, end)
    assert text[o_start:o_end] == "AKIA\u200b\u00adIOSF\x1b[0mODNN7\ufeffEXAMPLE"


def test_a_folded_character_maps_to_itself() -> None:
    text = "id ｓｋ＿ｌｉｖｅ end"
    normal, spans = normalise(text)
    assert spans is not None
    start = normal.index("sk_live")
    o_start, o_end = spans.original(start, start + len("sk_live"))
    assert text[o_start:o_end] == "ｓｋ＿ｌｉｖｅ"


def test_text_of_nothing_but_invisibles() -> None:
    normal, spans = normalise("\u200b\u200b")
    assert normal == ""
    assert spans is not None and spans.original(0, 0) == (2, 2)


@given(
    st.text(alphabet=st.sampled_from("aZ9_=\u200b\u00ad\ufeff\x1b[0m\u202eｓ日 \n"), max_size=40)
)
def test_spans_are_monotone_and_in_bounds(text: str) -> None:
    normal, spans = normalise(text)
    assert not any(unicodedata.category(c) == "Cf" for c in normal)
    if spans is None:
        assert normal == text
        return
    previous = 0
    for i in range(len(normal)):
        start, end = spans.original(i, i + 1)
        assert previous <= start < end <= len(text)
        previous = start
