"""The ingest filter: mask secrets and personal data before anything is stored.

The supervisor (and ``swarmdeck ingest``) calls the filter on every batch before
``store.append``. Masking at the door means every reader (TUI, CLI, exports, a
second manager) sees only placeholders, with nothing to remember at display time.
For each event with a hit the filter:

1. replaces the hit in the event's text with ``[secret:<detector> <hint>]``;
2. keeps the original in the ``revealable`` vault (``store/governance.py``), so a
   manager can reveal it on demand (audited);
3. appends a ``guardrail`` escalation right after the event, naming the agent, the
   location (``task T-17 / log text``) and what was found (masked).

The same secret seen again from the same agent is masked and kept, but raises no
second escalation while this process runs (a leaking agent would flood the inbox).
Guardrail escalations have ``source = "swarmdeck"``: an adapter that receives a
decision on one should acknowledge it (there is nothing to deliver to the agent).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from swarmdeck.guardrails.config import GuardrailConfig
from swarmdeck.guardrails.detectors import Hit, Scanner, custom_detector
from swarmdeck.guardrails.rulesets import default_rule_set
from swarmdeck.store import events as ev
from swarmdeck.store.db import Store
from swarmdeck.store.events import Event, make_event
from swarmdeck.store.governance import Revealable, vault_id, vault_put, vault_put_sync

log = logging.getLogger("swarmdeck.guardrails")

#: ``source`` of events swarmdeck itself writes (same as store.actions.SYSTEM_SOURCE).
SYSTEM_SOURCE = "swarmdeck"

#: The text fields scanned per kind, with the words used in a location.
TEXT_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "agent.status": (("activity", "activity"),),
    "task.created": (("title", "title"),),
    "task.progress": (("note", "progress note"),),
    "task.completed": (("result", "result"),),
    "task.failed": (("error", "error"),),
    "escalation.raised": (("title", "escalation title"), ("body", "escalation body")),
    "escalation.withdrawn": (("reason", "withdrawal reason"),),
    "log": (("text", "log text"),),
}

_DEDUPE_LIMIT = 10_000


def location_of(event: Event, field_label: str) -> str:
    """Where a hit was, in words a manager reads: ``task T-17 / log text``."""
    if event.task:
        return f"task {event.task} / {field_label}"
    if event.workflow:
        return f"workflow {event.workflow} / {field_label}"
    return field_label


def scanner_for(config: GuardrailConfig) -> Scanner:
    extra = [custom_detector(p.name, p.regex, p.category, p.severity) for p in config.patterns]
    rule_set = default_rule_set() if config.rule_set == "gitleaks" else None
    return Scanner(
        rule_set=rule_set,
        secrets=config.secrets,
        personal_data=config.personal_data,
        disable=config.disable,
        entropy_min_length=config.entropy_min_length,
        entropy_threshold=config.entropy_threshold,
        extra=extra,
        allowlist=config.allowlist,
    )


class IngestFilter:
    """``await filter(events, origin) -> events``: masked, plus guardrail escalations.

    Args:
        config: the validated ``[guardrails]`` section.
        store: where the vault lives; when None, the database at ``db_path`` is written
            through a short-lived connection per batch with hits (hits are rare).
        clock: seconds since the epoch, for vault timestamps.
    """

    def __init__(
        self,
        config: GuardrailConfig,
        *,
        store: Store | None = None,
        db_path: Path | str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.scanner = scanner_for(config)
        self.store = store
        self.db_path = db_path
        self.clock = clock
        self._raised: OrderedDict[str, str] = OrderedDict()
        self.hits = 0

    def bind(self, store: Store) -> None:
        """Use this store for the vault (the collector's own connection)."""
        self.store = store

    def mask_raw(self, raw: bytes | str) -> bytes | str:
        """Mask input that failed validation before it is kept as a dead letter.

        Dead letters keep the raw input for debugging; a secret in a malformed line
        must not survive there either. Nothing goes to the vault (there is no event
        to reveal it from), and bytes that are not UTF-8 are masked where they decode.
        """
        if not self.config.enabled:
            return raw
        if isinstance(raw, bytes):
            text = raw.decode("utf-8", "replace")
            masked = self.scanner.mask(text)
            return raw if masked is text else masked.encode("utf-8")
        return self.scanner.mask(raw)

    def _scan_event(self, event: Event) -> tuple[Event, list[tuple[str, Hit, str]]] | None:
        """Masked copy of one event and its findings ``(field label, hit, original)``."""
        fields = TEXT_FIELDS.get(event.kind)
        if fields is None:
            return None
        data = event.data
        updates: dict[str, Any] = {}
        found: list[tuple[str, Hit, str]] = []
        scan = self.scanner.scan
        for name, label in fields:
            text = getattr(data, name, None)
            if not text:
                continue
            hits = scan(text)
            if hits:
                updates[name] = self.scanner.mask(text, hits)
                found.extend((label, h, text[h.start : h.end]) for h in hits)
        if not found:
            return None
        new_data = data.model_copy(update=updates)
        return event.model_copy(update={"data": new_data}), found

    async def __call__(self, events: list[Event], origin: str) -> list[Event]:
        if not self.config.enabled:
            return events
        out: list[Event] | None = None
        vault: list[Revealable] = []
        for i, event in enumerate(events):
            scanned = self._scan_event(event)
            if scanned is None:
                if out is not None:
                    out.append(event)
                continue
            if out is None:
                out = list(events[:i])
            masked, found = scanned
            self.hits += len(found)
            out.append(masked)
            escalation = self._escalation_for(masked, found)
            escalation_id = escalation.data.id if escalation is not None else None  # type: ignore[union-attr]
            if escalation is not None:
                out.append(escalation)
            now = self.clock()
            for label, hit, original in found:
                location = location_of(event, label)
                vault.append(
                    Revealable(
                        id=vault_id(event.source, event.id, f"{location}@{hit.start}", original),
                        ts=now,
                        source=event.source,
                        event_id=event.id,
                        escalation=escalation_id
                        or self._raised.get(self._fingerprint(event, original)),
                        agent=event.agent,
                        task=event.task,
                        location=location,
                        detector=hit.detector,
                        placeholder=hit.placeholder,
                        original=original,
                    )
                )
        if out is None:
            return events
        if vault:
            if self.store is not None:
                await vault_put(self.store, vault)
            elif self.db_path is not None:
                await asyncio.to_thread(vault_put_sync, self.db_path, vault)
            else:
                log.warning("guardrails: no store to keep %d masked original(s) in", len(vault))
        return out

    @staticmethod
    def _fingerprint(event: Event, original: str) -> str:
        raw = f"{event.agent or event.source}\x1f{original}".encode("utf-8", "replace")
        return hashlib.sha256(raw).hexdigest()

    def _escalation_for(self, event: Event, found: list[tuple[str, Hit, str]]) -> Event | None:
        """One guardrail escalation for an event's new findings (None if all seen before)."""
        fresh = []
        for label, hit, original in found:
            fp = self._fingerprint(event, original)
            if fp in self._raised:
                self._raised.move_to_end(fp)
                continue
            fresh.append((label, hit, fp))
        if not fresh:
            return None
        digest = hashlib.sha256(f"{event.source}\x1f{event.id}".encode()).hexdigest()[:20]
        escalation_id = f"guardrail-{digest}"
        for _label, _hit, fp in fresh:
            self._raised[fp] = escalation_id
            if len(self._raised) > _DEDUPE_LIMIT:
                self._raised.popitem(last=False)
        secret = any(h.category == "secret" for _l, h, _f in fresh)
        severities = [h.severity for _l, h, _f in fresh if h.severity]
        severity = max(
            severities
            or [self.config.secret_severity if secret else self.config.personal_severity],
            key=lambda s: ev.SEVERITY_RANK.get(s, 1),
        )
        first_label, first_hit, _ = fresh[0]
        where = location_of(event, first_label)
        what = "secret" if secret else "personal data"
        title = f"{what} in {where}: {first_hit.placeholder}"
        if len(fresh) > 1:
            title += f" (+{len(fresh) - 1} more)"
        lines = [
            f"Agent {event.agent or '(unknown)'} sent {what} (masked before it was stored).",
            "",
        ]
        lines += [f"- {location_of(event, label)}: {hit.placeholder}" for label, hit, _ in fresh]
        lines += [
            "",
            "Reveal the originals with `swarmdeck reveal " + escalation_id + "` (audited).",
        ]
        return make_event(
            "escalation.raised",
            id=escalation_id,
            ts=event.ts,
            source=SYSTEM_SOURCE,
            agent=event.agent,
            task=event.task,
            workflow=event.workflow,
            data={
                "id": escalation_id,
                "kind": "guardrail",
                "title": title[:500],
                "body": "\n".join(lines)[:60_000],
                "severity": severity,
                "options": ["approve", "reject"],
            },
        )
