"""Guardrails: secrets and personal data masked at ingest, budgets on usage.

Entry point for the collector: :func:`build_ingest_filter`. Budgets are watched by
the policy service (they need the change feed and the store), see
:mod:`swarmdeck.policy.budgets`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from swarmdeck.guardrails.config import GuardrailConfig, load_guardrails
from swarmdeck.guardrails.detectors import Hit, Scanner
from swarmdeck.guardrails.ingest import IngestFilter
from swarmdeck.guardrails.outgoing import OutgoingMasker

if TYPE_CHECKING:
    from swarmdeck.config import Settings
    from swarmdeck.store.db import Store

__all__ = [
    "GuardrailConfig",
    "Hit",
    "IngestFilter",
    "OutgoingMasker",
    "Scanner",
    "build_ingest_filter",
    "build_outgoing_masker",
    "load_guardrails",
]


def build_ingest_filter(settings: Settings, store: Store | None = None) -> IngestFilter | None:
    """The ingest filter for these settings, or None when guardrails are turned off.

    Detection is on by default (``[guardrails] enabled = false`` turns it off).

    Args:
        settings: validated settings; ``settings.guardrails`` is checked here.
        store: the collector's store, used for the vault of masked originals; without
            it the filter opens ``settings.db`` itself when it first needs to.

    Raises:
        swarmdeck.config.ConfigError: an invalid ``[guardrails]`` section (field named).
    """
    config = load_guardrails(settings.guardrails)
    if not config.enabled:
        return None
    return IngestFilter(config, store=store, db_path=settings.db)


def build_outgoing_masker(settings: Settings) -> OutgoingMasker:
    """The masker for text that leaves the machine (pushes, the action page).

    It masks even when ``[guardrails] enabled = false`` turns the ingest filter off:
    that switch is about what is stored, not about what may be sent away.

    Raises:
        swarmdeck.config.ConfigError: an invalid ``[guardrails]`` section (field named).
    """
    return OutgoingMasker(load_guardrails(settings.guardrails))
