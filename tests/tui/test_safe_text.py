"""Hostile agent text: nothing an agent writes may style, move, copy or hide on the screen."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console

from swarmdeck.tui.notify import osc_sequences, tmux_passthrough
from swarmdeck.tui.safe_text import MAX_LEN, clean, safe

HOSTILE = {
    "markup": (
        "[bold red]x[/] [link=http://evil]y[/link]",
        "[bold red]x[/] [link=http://evil]y[/link]",
    ),
    "csi colour": ("\x1b[31mred\x1b[0m", "red"),
    "csi clear and move": ("a\x1b[2J\x1b[H\x1b[10;10Hb", "ab"),
    "osc 52 clipboard (BEL)": ("a\x1b]52;c;ZXZpbA==\x07b", "ab"),
    "osc 52 clipboard (ST)": ("a\x1b]52;c;ZXZpbA==\x1b\\b", "ab"),
    "osc 8 hyperlink": ("\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\", "click"),
    "osc title": ("\x1b]0;pwned\x07ok", "ok"),
    "dcs": ("\x1bPq#0;2;0;0;0\x1b\\ok", "ok"),
    "8-bit csi": ("a\x9b31mb", "ab"),
    "unterminated osc": ("ok\x1b]52;c;AAAA", "ok"),
    "c0 controls": ("a\x00b\x07c\x08d\x7fe", "abcde"),
    "c1 controls": ("a\x85b\x9cc", "a\nbc"),
    "bidi override": ("abc\u202edcba\u202c", "abcdcba"),
    "bidi isolates": ("\u2066x\u2069\u200fy", "xy"),
    "zero width": ("pa\u200bss\u200dword\ufeff", "password"),
    "tabs": ("a\tb", "a    b"),
}


@pytest.mark.parametrize(("raw", "expected"), HOSTILE.values(), ids=HOSTILE.keys())
def test_clean(raw: str, expected: str) -> None:
    assert clean(raw, single_line=False) == expected


def test_markup_is_literal_in_text() -> None:
    text = safe("[bold red]x[/]")
    assert text.plain == "[bold red]x[/]"
    assert not text.spans
    console = Console(width=40, color_system=None, file=io.StringIO(), record=True)
    console.print(text)
    assert console.export_text().strip() == "[bold red]x[/]"


def test_rendered_output_has_no_escape_but_ours() -> None:
    payload = "".join(raw for raw, _ in HOSTILE.values())
    console = Console(
        width=200, color_system=None, force_terminal=True, record=True, file=io.StringIO()
    )
    console.print(safe(payload))
    assert "\x1b" not in console.export_text()


def test_wide_unicode_kept_and_measured() -> None:
    text = clean("漢字 🚀 ok")
    assert text == "漢字 🚀 ok"
    assert cell_len(text) == 10


def test_long_lines_are_bounded() -> None:
    out = clean("x" * 1_000_000)
    assert len(out) == MAX_LEN and out.endswith("…")
    assert len(clean("y" * 500, max_len=100)) == 100


def test_single_line() -> None:
    assert clean("a\nb\r\nc", single_line=True) == "a ⏎ b ⏎ c"


def test_none_and_numbers() -> None:
    assert clean(None) == ""
    assert clean(42) == "42"


@given(st.text())
def test_never_an_escape_or_control(raw: str) -> None:
    out = clean(raw)
    assert "\x1b" not in out
    assert all(ch == "\n" or ord(ch) >= 0x20 for ch in out)
    assert not any(0x7F <= ord(ch) < 0xA0 for ch in out)
    assert not any(
        ch in out for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b"
    )


def test_desktop_notification_sequences() -> None:
    seq = osc_sequences("swarmdeck", "HIGH: coder-1: deploy;now\x07\x1b]52;c;AA\x07", env={})
    assert seq == (
        "\x1b]9;swarmdeck: HIGH: coder-1: deploy,now\x07"
        "\x1b]777;notify;swarmdeck;HIGH: coder-1: deploy,now\x07"
    )


def test_desktop_notification_through_tmux() -> None:
    seq = osc_sequences("t", "b", env={"TMUX": "/tmp/tmux-0/default,1,0"})
    assert seq.startswith("\x1bPtmux;\x1b\x1b]9;t: b\x07\x1b\\")
    assert tmux_passthrough("\x1b]9;x\x07") == "\x1bPtmux;\x1b\x1b]9;x\x07\x1b\\"
