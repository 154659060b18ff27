"""What becomes of a message: a toast, folded and capped, or a line in the status bar.

At 45 columns one toast covered a third of the pane and six identical "finish the
decision in progress first" toasts stacked over the list being worked on. The rules:

- at most :data:`MAX_TOASTS` toasts at once; a new one retires the oldest;
- a message identical to one still shown replaces it with a count ("… (×3)");
- where a toast would cover the rows being acted on (a narrow or single-pane layout,
  or the workflow pane focused: toasts sit at its bottom right), the message goes to
  the status line instead, one at a time, folded the same way;
- every message is also kept in a short log (``:messages``), so nothing that flashed
  by is lost.

:class:`Folder` is pure bookkeeping (what to show, what to retire) with an injected
clock; the App turns its answers into Textual notifications or status text.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

#: Toasts on screen at once.
MAX_TOASTS = 2
#: Messages kept for ``:messages``.
LOG_SIZE = 200


@dataclass(slots=True)
class Shown:
    """A message on screen: its words, how often it was said, when it goes away."""

    text: str
    severity: str
    count: int
    until: float
    ident: str = ""
    """The toast's identity (Textual's), to retire it; "" on the status line."""

    @property
    def label(self) -> str:
        return self.text if self.count == 1 else f"{self.text} (×{self.count})"


@dataclass(frozen=True, slots=True)
class Decision:
    """What :meth:`Folder.add` decided: retire these toasts, show this."""

    retire: list[str]
    shown: Shown


@dataclass
class Folder:
    """Folds identical messages and caps how many are shown (toasts or the status line)."""

    limit: int = MAX_TOASTS
    shown: list[Shown] = field(default_factory=list)

    def add(self, text: str, severity: str, *, now: float, timeout: float) -> Decision:
        self.shown = [s for s in self.shown if s.until > now]
        retire: list[str] = []
        count = 1
        for s in list(self.shown):
            if s.text == text and s.severity == severity:
                count += s.count
                self.shown.remove(s)
                retire.append(s.ident)
        while len(self.shown) >= self.limit:
            retire.append(self.shown.pop(0).ident)
        shown = Shown(text, severity, count, now + timeout)
        self.shown.append(shown)
        return Decision([r for r in retire if r], shown)

    def current(self, now: float) -> Shown | None:
        """The newest message still showing (what a one-line status bar shows)."""
        self.shown = [s for s in self.shown if s.until > now]
        return self.shown[-1] if self.shown else None


@dataclass
class MessageLog:
    """The last :data:`LOG_SIZE` messages, oldest first: ``(time, severity, text)``."""

    entries: deque[tuple[float, str, str]] = field(default_factory=lambda: deque(maxlen=LOG_SIZE))

    def add(self, now: float, severity: str, text: str) -> None:
        self.entries.append((now, severity, text))
