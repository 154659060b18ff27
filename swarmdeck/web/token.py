"""The deck's bearer token: what a browser must present before it sees the deck.

``SWARMDECK_TOKEN`` when set, else a token generated on first use and kept 0600 in
the data directory (beside the database, file ``token``). This is the seam where the
shared listener guard's token (``swarmdeck token show|rotate``, ``server.token_file``)
plugs in: every listener of a deck presents the same token.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from swarmdeck.config import Settings

ENV = "SWARMDECK_TOKEN"
MIN_LENGTH = 16


def token_path(settings: Settings) -> Path:
    return settings.local_dir / "token"


def deck_token(settings: Settings) -> str:
    """The token (created on first use).

    Raises:
        ValueError: ``SWARMDECK_TOKEN`` or the file holds something too short to guess-proof.
        OSError: the file cannot be read or created.
    """
    given = os.environ.get(ENV, "").strip()
    if given:
        if len(given) < MIN_LENGTH:
            raise ValueError(f"{ENV} is shorter than {MIN_LENGTH} characters")
        return given
    path = token_path(settings)
    try:
        text = path.read_text("ascii").strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        token = secrets.token_urlsafe(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return deck_token(settings)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(token + "\n")
        return token
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        with contextlib.suppress(OSError):
            path.chmod(0o600)
    if len(text) < MIN_LENGTH:
        raise ValueError(f"{path} holds a token shorter than {MIN_LENGTH} characters")
    return text


def token_matches(presented: str | None, expected: str) -> bool:
    """Constant-time comparison (a timing side channel must not spell the token out)."""
    if not presented:
        return False
    return hmac.compare_digest(presented.encode("utf-8", "replace"), expected.encode("utf-8"))
