"""The one door agent-supplied text passes through on its way to the screen.

Agent text is untrusted: it may carry Rich markup (``[bold red]x[/]``), ANSI escape
sequences (CSI colour codes, OSC 52 clipboard writes, OSC 8 hyperlinks, title
changes), C0/C1 control characters, bidi overrides that reorder what the manager
reads, zero-width characters that hide text, and lines long enough to hurt.

:func:`clean` turns it into plain printable text; :func:`safe` wraps that in a
``rich.text.Text`` (never parsed as markup). Every widget that shows agent text
uses one of the two.
"""

from __future__ import annotations

import re
import unicodedata

from rich.style import Style
from rich.text import Text

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


def clean(value: object, *, max_len: int = MAX_LEN, single_line: bool = False) -> str:
    """Return ``value`` as printable text with escapes and control characters removed.

    Args:
        value: anything; None becomes "".
        max_len: longest result kept (characters); longer text ends with "…".
        single_line: replace newlines with a visible "⏎" (for one-row fields).
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if len(text) > max_len * 4:
        text = text[: max_len * 4]
    if not text.isascii() or "\x1b" in text or not text.isprintable():
        text = _ESCAPES.sub("", text)
        text = "".join(_keep(ch) for ch in text)
    if single_line and "\n" in text:
        text = " ⏎ ".join(part for part in text.split("\n") if part.strip())
    if len(text) > max_len:
        text = text[: max_len - 1] + "…"
    return text


def safe(
    value: object,
    style: str | Style = "",
    *,
    max_len: int = MAX_LEN,
    single_line: bool = False,
) -> Text:
    """Agent text as a ``rich.text.Text``: literal characters, never markup."""
    return Text(clean(value, max_len=max_len, single_line=single_line), style=style)
