"""The one door agent-supplied text passes through on its way to the screen.

:func:`clean` (``store.text.clean_text``, shared with the CLI) turns untrusted text
into plain printable text; :func:`safe` wraps that in a ``rich.text.Text``, which is
never parsed as markup. Every widget that shows agent text uses one of the two.

Both keep agent text on **one line** unless asked otherwise (``single_line=False``,
for a body shown in its own section): a newline in an agent name once pushed an
inbox row's title off screen and forged an "approved by" line in a History, so a
row, a table cell or a history line can never be split by what an agent sent.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from swarmdeck.store.text import MAX_LEN, clean_text

__all__ = ["MAX_LEN", "clean", "safe"]


def clean(value: object, *, max_len: int = MAX_LEN, single_line: bool = True) -> str:
    """Printable text with escapes and control characters removed (see ``clean_text``)."""
    return clean_text(value, single_line=single_line, max_length=max_len)


def safe(
    value: object,
    style: str | Style = "",
    *,
    max_len: int = MAX_LEN,
    single_line: bool = True,
) -> Text:
    """Agent text as a ``rich.text.Text``: literal characters, never markup."""
    return Text(clean(value, max_len=max_len, single_line=single_line), style=style)
