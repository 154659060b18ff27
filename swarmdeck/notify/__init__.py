"""Reach the manager away from the terminal: pushes through apprise, signed action links.

The collector calls :func:`build_notify_services`: a :class:`~swarmdeck.notify.service.
Notifier` when routes are configured (``[[notify]]``), and the action page's listener
when ``[action_links] enabled = true``. Modules, one job each:

* ``routes``: a route compiled (which escalations, when, quiet hours);
* ``message``: what a push says (masked), single or digest;
* ``send``: apprise, with ntfy's action buttons;
* ``links``: signed, expiring, single-use action-link tokens;
* ``page`` and ``listener``: the page links open (GET shows, POST decides);
* ``service``: the loop that claims, folds, sends and retries.

The store keeps what was pushed and which link nonces were used
(``swarmdeck.store.notify``). Nothing here imports Textual.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from swarmdeck.config import ConfigError, Settings
from swarmdeck.guardrails import build_outgoing_masker
from swarmdeck.notify.links import LinkSigner, load_key
from swarmdeck.notify.listener import ActionPageListener, Guard, no_guard
from swarmdeck.notify.page import ActionPage
from swarmdeck.notify.routes import Route, compile_routes, seconds
from swarmdeck.notify.service import LinkMinter, Notifier
from swarmdeck.store.db import Store

__all__ = [
    "ActionPage",
    "ActionPageListener",
    "LinkMinter",
    "LinkSigner",
    "Notifier",
    "Route",
    "build_notify_services",
    "compile_routes",
    "key_path",
]


class Service(Protocol):
    async def run(self) -> None: ...


def key_path(settings: Settings) -> Path:
    """The action-link signing key: ``[action_links] key_file`` or beside the database."""
    configured = settings.action_links.key_file
    return configured.expanduser() if configured else settings.local_dir / "action-links.key"


def build_notify_services(
    settings: Settings,
    store: Store,
    clock: Callable[[], float],
    *,
    guard: Guard = no_guard,
) -> list[Service]:
    """The notifier and the action page for these settings (none when nothing is configured).

    Args:
        guard: wraps the action page's ASGI app (the shared listener guard).

    Raises:
        ConfigError: a bad route (time zone), an unreadable or invalid link key.
    """
    routes = compile_routes(settings.notify)
    links = settings.action_links
    if not routes and not links.enabled:
        return []
    masker = build_outgoing_masker(settings)
    services: list[Service] = []
    minter: LinkMinter | None = None
    if links.enabled:
        path = key_path(settings)
        try:
            signer = LinkSigner(load_key(path))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"action_links.key_file: {exc}") from None
        page = ActionPage(
            store,
            signer,
            routes,
            masker,
            clock=clock,
            read_only=links.read_only or settings.tui.read_only,
        )
        listener = ActionPageListener(
            page,
            store,
            host=links.host,
            port=links.port,
            allow_remote=links.allow_remote,
            public_url=links.public_url,
            guard=guard,
        )
        minter = LinkMinter(
            signer, seconds(links.ttl), base_url=links.public_url, bound_url=listener.bound_url
        )
        services.append(listener)
    if routes:
        services.append(Notifier(settings, store, routes, masker, clock=clock, minter=minter))
    return services
