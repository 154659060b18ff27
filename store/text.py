"""Make untrusted agent text safe to print: no terminal escapes, no control characters.

Agents are not trusted: a log line may carry ``ESC ] 52`` (write the clipboard),
``ESC [ 2 J`` (clear the screen), OSC 8 hyperlinks, bidi overrides that reorder
what a manager reads, or plain C0/C1 controls. Everything printed to a terminal
passes through :func:`clean_text` first; the TUI additionally never parses agent
text as Rich markup.
"""

from __future__ import annotations

import re

# ESC-introduced sequences: CSI (ESC [ ... final), OSC/DCS/SOS/PM/APC strings
# (terminated by BEL or ESC \), and two-character escapes. Also the 8-bit C1 forms.
_ESCAPES = re.compile(
    r"""
    (?: \x1b\[ | \x9b ) [0-?]* [ -/]* [@-~]                    # CSI
  | (?: \x1b[\]PX^_] | [\x90\x98\x9d\x9e\x9f] ) .*? (?: \x07 | \x1b\\ | \x9c | $ )  # OSC, DCS...
  | \x1b [ -/]* [0-~]                                          # other ESC sequences
  | \x1b                                                       # a lone ESC
    """,
    re.VERBOSE | re.DOTALL,
)
# Remaining C0 (but tab and newline), DEL, C1, and Unicode format characters that
# reorder or hide text (bidi embeddings/overrides/isolates, zero-width joiners are kept
# out of names but harmless in prose; we drop the reordering ones).
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def clean_text(text: str, *, single_line: bool = False, max_length: int | None = None) -> str:
    """Strip escape sequences and control characters from untrusted text.

    Args:
        single_line: also turn newlines and tabs into spaces (table cells, titles).
        max_length: cut to this many characters, marking the cut with an ellipsis.
    """
    if not text:
        return ""
    out = _ESCAPES.sub("", text)
    out = _CONTROLS.sub("", out)
    if single_line:
        out = out.replace("\t", " ").replace("\n", " ")
    if max_length is not None and len(out) > max_length:
        out = out[: max(0, max_length - 1)] + "…"
    return out
