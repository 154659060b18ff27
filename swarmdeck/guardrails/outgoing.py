"""Text that leaves the machine: cleaned of terminal escapes, then masked.

Events are masked at ingest, so stored text should already carry placeholders. What
leaves the machine (a push to a phone, a chat channel, a mail box; the action page
a phone opens) is masked once more anyway, with the same detectors: text written
before a detector existed, text swarmdeck composes itself (an adapter's error, a
health line quoting a URL with a token), and a guardrails section turned off for
ingest all pass through here on their way out.
"""

from __future__ import annotations

from swarmdeck.guardrails.config import GuardrailConfig
from swarmdeck.guardrails.ingest import scanner_for
from swarmdeck.store.text import clean_text


class OutgoingMasker:
    """``masker.text(value)``: printable, escape-free and masked; safe to send anywhere."""

    def __init__(self, config: GuardrailConfig) -> None:
        self.scanner = scanner_for(config)

    def text(self, value: object, *, single_line: bool = False, max_length: int = 4096) -> str:
        """Clean (``store.text.clean_text``) and mask ``value``.

        Cleaning comes first so an escape sequence spliced into a secret cannot hide it
        from the detectors; the length cut comes last so a placeholder is never halved.
        """
        cleaned = clean_text(value, single_line=single_line, max_length=max_length * 4)
        masked = self.scanner.mask(cleaned)
        if len(masked) > max_length:
            masked = masked[: max_length - 1] + "…"
        return masked
