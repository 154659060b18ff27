"""Text as a detector must read it: invisible characters and escapes out, look-alikes folded.

A key split by U+200B (zero-width space), U+00AD (soft hyphen), U+FEFF (BOM), a bidi
control or an ANSI reset (``ESC[0m``) shows whole on a terminal but is no longer one
match for a detector's regex. :func:`normalise` removes what a reader does not see
(format characters, controls, terminal escape sequences, variation selectors) and folds
compatibility forms to ASCII with NFKC where the result *is* ASCII (fullwidth
``ｓｋ＿ｌｉｖｅ`` -> ``sk_live``, ligatures, superscript digits); anything else is kept,
so non-Latin text is never rewritten.

It also returns a :class:`Spans` map back to the original, because masking happens in
the original text: the whole original span of a hit, invisible characters included,
is replaced, so nothing of the key is left in clear in what is stored and shown.

Almost every event is plain printable ASCII: one regex search answers "nothing to do"
and the text is returned as is (``spans`` None).
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

#: Anything outside printable ASCII (plus tab, newline, carriage return) may need work.
_SUSPECT = re.compile(r"[^\t\n\r\x20-\x7e]")

#: Terminal escape sequences: CSI (``ESC[0m``), OSC (``ESC]...BEL``/ST), DCS/SOS/PM/APC
#: strings, and two-character escapes. An unterminated string runs to the end.
_ESCAPE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|[ -/]*[0-~]?)"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
)

#: Blocks holding compatibility characters whose NFKC form is ASCII (fullwidth forms,
#: ligatures, super/subscripts, letterlike and enclosed alphanumerics, math letters).
_FOLD_BLOCKS = (
    (0x00A0, 0x00FF), (0x02B0, 0x02FF), (0x2000, 0x218F), (0x2460, 0x24FF),
    (0x3000, 0x3000), (0xFB00, 0xFB4F), (0xFE30, 0xFE6F), (0xFF00, 0xFFEF),
    (0x1D400, 0x1D7FF), (0x1F100, 0x1F1FF),
)  # fmt: skip

#: Invisible characters outside category Cf: variation selectors, the combining grapheme
#: joiner, Hangul fillers, and the Mongolian free variation selectors.
_INVISIBLE_EXTRA = (
    "\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\ufe00-\ufe0f\uffa0\U000e0100-\U000e01ef"
)


#: Planes that hold format characters (Cf): the BMP, plane 1 (Egyptian and musical format
#: controls, shorthand format controls) and plane 14 (tag characters).
_CF_PLANES = ((0x80, 0x1FFFF), (0xE0000, 0xE0FFF))


def _ranges(codes: Iterable[int], gap: int = 1) -> str:
    """Code points (ascending) as the body of a character class, runs as ranges.

    ``re`` tests a character against a BMP class in constant time but walks a list of
    ranges for characters beyond it, so a class that must be fast keeps few astral
    ranges: ``gap`` > 1 merges runs closer than that (a superset, for a quick test).
    """
    runs: list[list[int]] = []
    for code in codes:
        if runs and code - runs[-1][1] <= gap:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in runs
    )


def _fold_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for lo, hi in _FOLD_BLOCKS:
        for code in range(lo, hi + 1):
            ch = chr(code)
            folded = unicodedata.normalize("NFKC", ch)
            if folded != ch and folded.isascii() and folded.isprintable():
                table[ch] = folded
    return table


@functools.cache
def _tables() -> tuple[re.Pattern[str], re.Pattern[str], dict[str, str]]:
    """A quick test (may there be anything to change?), the pattern of every character or
    sequence to change, and the fold table.

    Built on first use (a few milliseconds), not at import: the hook process that never
    sees a non-ASCII character never pays for it.
    """
    fold = _fold_table()
    invisible = {
        code
        for lo, hi in _CF_PLANES
        for code in range(lo, hi + 1)
        if unicodedata.category(chr(code)) in ("Cf", "Cc")
    }
    changed = sorted(invisible | {ord(c) for c in fold})
    bmp = _ranges(c for c in changed if c <= 0xFFFF)
    astral = _ranges((c for c in changed if c > 0xFFFF), gap=4096)
    quick = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f{bmp}{_INVISIBLE_EXTRA}]|[{astral}]")
    drop = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f" + _ranges(sorted(invisible)) + _INVISIBLE_EXTRA
    folds = _ranges(sorted(ord(c) for c in fold))
    return quick, re.compile(f"{_ESCAPE.pattern}|[{drop}]+|[{folds}]"), fold


@dataclass(frozen=True, slots=True)
class Spans:
    """Maps positions in the normalised text back to the original.

    ``starts[k]`` is where run ``k`` begins in the normalised text and ``origins[k]``
    where it comes from; a run is copied text (positions advance together) or one
    folded character (every position maps to that one original character).
    """

    starts: tuple[int, ...]
    origins: tuple[int, ...]
    folded: frozenset[int]
    """Indexes of runs that are a single folded character."""

    def _at(self, pos: int) -> int:
        k = bisect.bisect_right(self.starts, pos) - 1
        if k in self.folded:
            return self.origins[k]
        return self.origins[k] + (pos - self.starts[k])

    def original(self, start: int, end: int) -> tuple[int, int]:
        """The original span of normalised ``[start, end)``, everything between included."""
        if end <= start:
            at = self._at(start)
            return at, at
        return self._at(start), self._at(end - 1) + 1


def normalise(text: str) -> tuple[str, Spans | None]:
    """The text a detector should read, and the map back (None when nothing changed)."""
    if _SUSPECT.search(text) is None:
        return text, None
    anything, pattern, fold = _tables()
    if anything.search(text) is None:
        return text, None  # non-ASCII text with nothing to change (most non-English prose)
    out: list[str] = []
    starts: list[int] = []
    origins: list[int] = []
    folded: set[int] = set()
    length = 0
    pos = 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            starts.append(length)
            origins.append(pos)
            out.append(text[pos : m.start()])
            length += m.start() - pos
        replacement = fold.get(m.group())
        if replacement is not None:
            folded.add(len(starts))
            starts.append(length)
            origins.append(m.start())
            out.append(replacement)
            length += len(replacement)
        pos = m.end()
    if pos < len(text):
        starts.append(length)
        origins.append(pos)
        out.append(text[pos:])
    if not starts:
        starts.append(0)
        origins.append(len(text))
    return "".join(out), Spans(tuple(starts), tuple(origins), frozenset(folded))
