"""Signed action links: bound to one escalation and one route owner, expiring, single use.

A link token is ``<payload>.<signature>``, both base64url without padding. The payload
is compact JSON: escalation id (``e``), route (``r``), owner (``o``), expiry (``x``,
epoch seconds) and a random nonce (``n``); the signature is HMAC-SHA256 over the
payload bytes with a key kept in its own 0600 file, outside the database, so a copy of
the database (a backup, a bug report) cannot mint links. Verification checks the
signature in constant time first, then expiry. Single use is the store's business
(``store.notify.use_link`` records the nonce); the binding to a route owner is checked
by the page against the route as configured *now*, so changing a route's owner
revokes its outstanding links.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

KEY_BYTES = 32
#: Longest token accepted (a form field or URL segment is never trusted to be short).
MAX_TOKEN = 2048


class LinkRefused(Exception):
    """The link cannot be used; ``str()`` says why in words fit for the page."""


@dataclass(frozen=True, slots=True)
class LinkClaims:
    escalation: str
    route: str
    owner: str
    expires: float
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_key(path: Path) -> bytes:
    """The signing key at ``path``, created (0600, directory 0700) on first use.

    Raises:
        OSError: the file cannot be read or created.
        ValueError: the file exists but does not hold a key (refuse to sign with junk).
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_bytes(KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it meanwhile: use theirs
            return load_key(path)
        with os.fdopen(fd, "wb") as fh:
            fh.write(_b64(key).encode("ascii") + b"\n")
        return key
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        with contextlib.suppress(OSError):
            path.chmod(0o600)
    try:
        key = _unb64(raw.decode("ascii").strip())
    except (UnicodeDecodeError, binascii.Error, ValueError):
        raise ValueError(f"{path} does not hold an action-link key") from None
    if len(key) < 16:
        raise ValueError(f"{path} holds a key too short to sign action links")
    return key


class LinkSigner:
    """Mints and verifies link tokens with one key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def mint(self, escalation: str, route: str, owner: str, expires: float) -> str:
        claims = {
            "e": escalation,
            "r": route,
            "o": owner,
            "x": int(expires),
            "n": secrets.token_urlsafe(12),
        }
        payload = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode("utf-8")
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def verify(self, token: str, now: float) -> LinkClaims:
        """The claims of a genuine, unexpired token.

        Raises:
            LinkRefused: malformed, not signed by our key, or expired.
        """
        if not token or len(token) > MAX_TOKEN or token.count(".") != 1:
            raise LinkRefused("this link is not a swarmdeck action link")
        encoded, signature = token.split(".")
        try:
            payload = _unb64(encoded)
            given = _unb64(signature)
        except (binascii.Error, ValueError):
            raise LinkRefused("this link is not a swarmdeck action link") from None
        if not hmac.compare_digest(given, self._sign(payload)):
            raise LinkRefused("this link's signature is not valid (altered, or from another deck)")
        try:
            data = json.loads(payload)
            claims = LinkClaims(
                escalation=str(data["e"]),
                route=str(data["r"]),
                owner=str(data["o"]),
                expires=float(data["x"]),
                nonce=str(data["n"]),
            )
        except (ValueError, KeyError, TypeError):
            raise LinkRefused("this link is not a swarmdeck action link") from None
        if now >= claims.expires:
            raise LinkRefused("this link has expired; open the deck to decide")
        return claims
