"""Who is deciding, and from where: ``identity`` or ``user@host``, and the host apart.

Every decision and reveal is attributed in the audit chain; on a shared box
reached over SSH, the client address tells two sessions of the same login apart.
With managers on several hosts sharing one database, each decision also records
the host it was made on (:func:`current_host`), whatever the identity says.
"""

from __future__ import annotations

import getpass
import os
import socket

from swarmdeck.config import Settings


def ssh_client() -> str | None:
    """The SSH client's address from ``SSH_CLIENT`` / ``SSH_CONNECTION``, if any."""
    for var in ("SSH_CLIENT", "SSH_CONNECTION"):
        value = os.environ.get(var, "").split()
        if value:
            return value[0]
    return None


def current_host() -> str:
    """The host decisions made from this process are recorded with."""
    return (socket.gethostname() or "localhost")[:200]


def current_actor(settings: Settings | None = None) -> str:
    """The actor recorded on decisions made from this process: ``identity`` from the
    config (``alice``), else ``$USER@host`` (plus the SSH client)."""
    if settings is not None and (settings.identity or settings.actor):
        return str(settings.identity or settings.actor)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = os.environ.get("USER") or "unknown"
    actor = f"{user}@{socket.gethostname()}"
    client = ssh_client()
    return f"{actor} via ssh {client}" if client else actor
