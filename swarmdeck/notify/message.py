"""What a push says: one escalation, one adapter down, or a digest of several.

Pure functions from store rows to a :class:`Message`. Every piece of text that came
from an agent, an adapter or the configuration goes through the outgoing masker
(terminal escapes removed, secrets and personal data masked), and so does the
composed title and body as a whole. Our own links are the one exception: they are
put in after masking, because a signed token is exactly the kind of long random
string the entropy detector exists to hide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from swarmdeck.guardrails import OutgoingMasker
from swarmdeck.notify.routes import format_span
from swarmdeck.store.events import SEVERITY_RANK
from swarmdeck.store.models import AdapterHealth, Escalation

#: Items listed one by one in a digest; the rest are counted.
DIGEST_ITEMS = 20
BODY_EXCERPT = 600
TITLE_MAX = 150


@dataclass(frozen=True, slots=True)
class EscalationLinks:
    """Where a push's action links lead, for one escalation."""

    page: str
    """GET: the escalation with approve and reject-with-a-reason forms (never decides)."""
    decide: str
    """POST: where the page's forms and ntfy's ``http`` button send a decision."""
    approve_body: str
    """The form body (``application/x-www-form-urlencoded``) that approves."""


@dataclass(frozen=True, slots=True)
class Button:
    """An ntfy action button (other channels get the page link in the body instead)."""

    action: Literal["view", "http"]
    label: str
    url: str
    body: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str
    severity: str
    buttons: list[Button] = field(default_factory=list)
    click: str | None = None
    """What tapping the notification opens (ntfy)."""


@dataclass(frozen=True, slots=True)
class EscalationItem:
    escalation: Escalation
    reason: str
    links: EscalationLinks | None = None


@dataclass(frozen=True, slots=True)
class AdapterItem:
    health: AdapterHealth


Item = EscalationItem | AdapterItem


def _marker(i: int) -> str:
    return f"⟦link-{i}⟧"


class Composer:
    """Builds masked messages; ``now`` makes "waiting 3m" and "deadline in 2m" exact."""

    def __init__(self, masker: OutgoingMasker) -> None:
        self.masker = masker

    def _line(self, value: object, max_length: int = 300) -> str:
        return self.masker.text(value, single_line=True, max_length=max_length)

    def compose(self, items: list[Item], now: float) -> Message:
        """One message for the items: a single push, or a digest when there are several."""
        if not items:
            raise ValueError("nothing to compose")
        links: list[str] = []
        if len(items) == 1:
            title, body, severity = self._single(items[0], now, links)
        else:
            title, body, severity = self._digest(items, now, links)
        # The whole composition is masked once more (what an adapter said in a health
        # line, a title cut in the middle of a key), then our links are put back.
        title = self._line(title, TITLE_MAX)
        body = self.masker.text(body, max_length=8000)
        for i, url in enumerate(links):
            body = body.replace(_marker(i), url)
        buttons, click = self._buttons(items)
        return Message(title=title, body=body, severity=severity, buttons=buttons, click=click)

    def _link(self, links: list[str], url: str) -> str:
        links.append(url)
        return _marker(len(links) - 1)

    def _single(self, item: Item, now: float, links: list[str]) -> tuple[str, str, str]:
        if isinstance(item, AdapterItem):
            h = item.health
            title = f"swarmdeck: {h.type} adapter {h.name} is {h.state}"
            lines = [f"{h.name} ({h.type}) is {h.state}: {self._line(h.detail)}"]
            if h.last_error:
                lines.append(f"last error: {self._line(h.last_error, 500)}")
            return title, "\n".join(lines), "high"
        esc = item.escalation
        title = f"swarmdeck: {self._line(esc.title, TITLE_MAX)}"
        lines = [self._context(esc), self._timing(esc, item.reason, now)]
        excerpt = self.masker.text(esc.body, max_length=BODY_EXCERPT).strip()
        if excerpt:
            lines += ["", excerpt]
        if item.links is not None:
            lines += ["", f"Approve, reject or open: {self._link(links, item.links.page)}"]
        return title, "\n".join(lines), esc.severity

    def _digest(self, items: list[Item], now: float, links: list[str]) -> tuple[str, str, str]:
        escalations = [i for i in items if isinstance(i, EscalationItem)]
        adapters = [i for i in items if isinstance(i, AdapterItem)]
        counts: dict[str, int] = {}
        for item in escalations:
            counts[item.escalation.severity] = counts.get(item.escalation.severity, 0) + 1
        parts = []
        if escalations:
            by = ", ".join(
                f"{n} {s}"
                for s, n in sorted(counts.items(), key=lambda kv: -SEVERITY_RANK.get(kv[0], 1))
            )
            parts.append(f"{len(escalations)} waiting for you ({by})")
        if adapters:
            parts.append(f"{len(adapters)} adapter{'s' if len(adapters) > 1 else ''} down")
        title = "swarmdeck: " + "; ".join(parts)
        lines = []
        for entry in items[:DIGEST_ITEMS]:
            if isinstance(entry, AdapterItem):
                h = entry.health
                lines.append(f"- adapter {h.name} ({h.type}) is {h.state}: {self._line(h.detail)}")
                continue
            esc = entry.escalation
            line = (
                f"- [{esc.severity}] {self._line(esc.title, 120)} "
                f"({self._context(esc)}; {self._timing(esc, entry.reason, now)})"
            )
            if entry.links is not None:
                line += f"\n  {self._link(links, entry.links.page)}"
            lines.append(line)
        if len(items) > DIGEST_ITEMS:
            lines.append(f"... and {len(items) - DIGEST_ITEMS} more: open the deck.")
        severity = max(
            (i.escalation.severity if isinstance(i, EscalationItem) else "high" for i in items),
            key=lambda s: SEVERITY_RANK.get(s, 1),
        )
        return title, "\n".join(lines), severity

    def _context(self, esc: Escalation) -> str:
        parts = [f"[{esc.severity}] {esc.kind}"]
        if esc.agent:
            parts.append(f"agent {self._line(esc.agent, 100)}")
        if esc.task:
            parts.append(f"task {self._line(esc.task, 100)}")
        if esc.workflow:
            parts.append(f"workflow {self._line(esc.workflow, 100)}")
        return " · ".join(parts)

    @staticmethod
    def _timing(esc: Escalation, reason: str, now: float) -> str:
        text = f"waiting {format_span(now - esc.raised_ts)}"
        if reason == "budget crossed":
            text = "budget crossed"
        if esc.deadline is not None:
            left = esc.deadline - now
            text += (
                f", deadline in {format_span(left)}"
                if left > 0
                else f", deadline passed {format_span(-left)} ago"
            )
        return text

    @staticmethod
    def _buttons(items: list[Item]) -> tuple[list[Button], str | None]:
        """ntfy buttons for a single escalation with links: approve (POST) and open."""
        if len(items) != 1 or not isinstance(items[0], EscalationItem):
            first = next(
                (i.links for i in items if isinstance(i, EscalationItem) and i.links), None
            )
            return [], first.page if first else None
        links = items[0].links
        if links is None:
            return [], None
        esc = items[0].escalation
        buttons = [Button("view", "Open / reject", links.page)]
        if esc.options is None or "approve" in esc.options:
            buttons.insert(0, Button("http", "Approve", links.decide, body=links.approve_body))
        return buttons, links.page
