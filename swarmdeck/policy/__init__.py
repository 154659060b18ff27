"""The policy engine: escalation paths as configuration, deadlines, budgets, dry runs.

Entry point for the collector: :func:`build_policy_service`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from swarmdeck.policy.engine import PolicyService
from swarmdeck.policy.rules import PolicyConfig, Rule, load_policy, parse_step

if TYPE_CHECKING:
    from swarmdeck.config import Settings
    from swarmdeck.store.db import Store

__all__ = [
    "PolicyConfig",
    "PolicyService",
    "Rule",
    "build_policy_service",
    "current_admin",
    "load_policy",
    "parse_step",
]


def current_admin(settings: Settings) -> str:
    """Who is acting (``user@host``), via swarmdeck.actor when it exists."""
    try:
        from swarmdeck.actor import current_actor
    except ImportError:  # pragma: no cover - the lead's module not there yet
        import getpass
        import socket

        return settings.actor or f"{getpass.getuser()}@{socket.gethostname()}"
    return current_actor(settings)


def build_policy_service(
    settings: Settings,
    store: Store,
    clock: Callable[[], float] = time.time,
    *,
    config_path: Path | None = None,
) -> PolicyService:
    """The policy service for these settings (deadlines always; rules and budgets if any).

    Args:
        config_path: the config file the settings came from; when given, the service
            reloads its rules when the file changes (a rule saved from the TUI applies
            within seconds, audited as ``policy.rules_changed``).

    Raises:
        swarmdeck.config.ConfigError: invalid ``[policy]`` or ``[guardrails]`` (field named).
    """
    from swarmdeck.guardrails.config import load_guardrails

    config = load_policy(settings.policy)
    budgets = load_guardrails(settings.guardrails).budgets
    # The service runs even without rules or budgets: deadlines that agents set still
    # raise severity when they pass, and the first rule saved from the TUI applies
    # without a restart. Following the feed with nothing to match is cheap.
    service = PolicyService(
        config, store, clock, budgets=list(budgets), admin=current_admin(settings)
    )
    if config_path is not None:
        service.watch(config_path)
    return service
