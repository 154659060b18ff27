"""Make untrusted agent text safe to show: no terminal escapes, no control characters.

Agents are not trusted: a log line may carry ``ESC ] 52`` (write the clipboard),
``ESC [ 2 J`` (clear the screen), OSC 8 hyperlinks, title changes, bidi overrides
that reorder what a manager reads, zero-width characters that hide text, plain
C0/C1 controls, or lines long enough to hurt. Everything shown to a person, by
the CLI or the TUI, passes through :func:`clean_text`; the TUI additionally never
parses agent text as Rich markup (``tui.safe_text.safe``).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any

#: Longest text kept for one field; the rest is cut with an ellipsis.
MAX_LEN = 4096

# ESC-introduced sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), DCS/SOS/PM/APC
# (ESC P/X/^/_ ... ST), and two-character escapes (ESC + one char). The 8-bit forms
# (\x9b CSI, \x9d OSC, ...) are matched too.
_ESCAPES = re.compile(
    r"""
    (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?            # CSI ... final byte
  | (?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])      # OSC, DCS, SOS, PM, APC ...
      .*?(?:\x07|\x1b\\|\x9c|$)                  # ... up to BEL or ST (or the end)
  | \x1b[ -/]*[0-~]?                             # other ESC sequences
    """,
    re.VERBOSE | re.DOTALL,
)

# Format (Cf) characters: zero-width spaces and joiners, bidi embeddings, overrides
# and isolates, the BOM, invisible operators. Removed so the screen shows what is there.
_CATEGORY_DROP = frozenset({"Cf", "Cs", "Co", "Cn"})


def _keep(ch: str) -> str:
    if ch == "\t":
        return "    "
    if ch in "\n\r\x0b\x0c\x85\u2028\u2029":
        return "\n"
    code = ord(ch)
    if code < 0x20 or 0x7F <= code < 0xA0:
        return ""
    if code < 0x7F:
        return ch
    category = unicodedata.category(ch)
    if category in _CATEGORY_DROP:
        return ""
    return ch


def clean_text(value: object, *, single_line: bool = False, max_length: int = MAX_LEN) -> str:
    """Return ``value`` as printable text with escapes and control characters removed.

    Args:
        value: anything; None becomes "".
        single_line: replace newlines with a visible "⏎" (table cells, titles).
        max_length: longest result kept (characters); longer text ends with "…".
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if len(text) > max_length * 4:
        text = text[: max_length * 4]
    if not text.isascii() or "\x1b" in text or not text.isprintable():
        text = _ESCAPES.sub("", text)
        text = "".join(_keep(ch) for ch in text)
    if single_line and "\n" in text:
        text = " ⏎ ".join(part for part in text.split("\n") if part.strip())
    if len(text) > max_length:
        text = text[: max_length - 1] + "…"
    return text


def escape_controls(value: object) -> str:
    """``value`` with every control, format and line-break character written as ``\\uXXXX``.

    For outputs whose content must survive (a CSV export) but whose reader may be a
    terminal: nothing is dropped, nothing is executed, and one record stays one line.
    """
    text = "" if value is None else value if isinstance(value, str) else str(value)
    if text.isascii() and text.isprintable():
        return text
    return "".join(_escaped(ch) for ch in text)


def _escaped(ch: str) -> str:
    code = ord(ch)
    if 0x20 <= code < 0x7F:
        return ch
    if code < 0x20 or 0x7F <= code < 0xA0 or ch in "\u2028\u2029":
        return f"\\u{code:04x}"
    if unicodedata.category(ch) in _CATEGORY_DROP:
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return ch


def safe_json(value: Any, **kwargs: Any) -> str:
    """JSON that is safe on a terminal and exact for any parser.

    Every non-ASCII character is escaped (``ensure_ascii``: C1 controls, bidi overrides
    and zero-width characters included), DEL too (``ensure_ascii`` leaves it), and a
    float that is not finite becomes ``null`` (``Infinity`` is not JSON, and a reader
    that meets it stops reading).
    """
    kwargs["ensure_ascii"] = True
    text = json.dumps(_finite(value), allow_nan=False, **kwargs)
    return text.replace("\x7f", "\\u007f")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
