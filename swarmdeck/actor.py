"""Who is deciding: ``user@host``, plus the SSH client address when there is one.

Every decision and reveal is attributed in the audit chain; on a shared box
reached over SSH, the client address tells two sessions of the same login apart.
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


def current_actor(settings: Settings | None = None) -> str:
    """The actor recorded on decisions made from this process."""
    if settings is not None and settings.actor:
        return settings.actor
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = os.environ.get("USER") or "unknown"
    actor = f"{user}@{socket.gethostname()}"
    client = ssh_client()
    return f"{actor} via ssh {client}" if client else actor
