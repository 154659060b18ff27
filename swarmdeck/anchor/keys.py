"""The Ed25519 key that signs checkpoints: outside the database, 0600, made on first use.

A checkpoint signed with a key stored *in* the database proves nothing against whoever
can rewrite the database. The key lives in its own file (by default
``audit-signing.key`` in the data directory), created with mode 0600 in a 0700
directory; its public half is what an auditor keeps elsewhere (``swarmdeck audit
public-key``) and verifies with. Ed25519 from ``cryptography``: small keys, small
deterministic signatures, nothing to tune.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from swarmdeck.config import ConfigError, Settings, default_data_dir

log = logging.getLogger("swarmdeck.anchor")

KEY_NAME = "audit-signing.key"


def key_path(settings: Settings) -> Path:
    return settings.audit.signing_key or default_data_dir() / KEY_NAME


def key_id(public: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: the first 16 hex digits of its SHA-256."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def verify_signature(public: Ed25519PublicKey, signature: bytes, payload: bytes) -> bool:
    try:
        public.verify(signature, payload)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True, slots=True)
class SigningKey:
    private: Ed25519PrivateKey
    path: Path

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def id(self) -> str:
        return key_id(self.public)

    def sign(self, payload: bytes) -> bytes:
        return self.private.sign(payload)


def _read_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: not an Ed25519 key")
    return key


def load_or_create(path: Path) -> SigningKey:
    """The signing key at ``path``, generated (0600) when there is none yet.

    An existing key readable by others is tightened to 0600 (and said so).

    Raises:
        ConfigError: the file is not an Ed25519 private key. OSError: cannot be written.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return SigningKey(_read_private(path), path)  # another process made it first
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        log.info("audit: created signing key %s (id %s)", path, key_id(key.public_key()))
        return SigningKey(key, path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("audit: signing key %s was mode %o; tightened to 0600", path, mode)
        with contextlib.suppress(OSError):
            path.chmod(0o600)
    return SigningKey(_read_private(path), path)


def load_public(path: Path) -> Ed25519PublicKey:
    """A public key from a PEM file: an exported public key, or the signing key itself.

    Raises:
        ConfigError: unreadable or not an Ed25519 key.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    if b"PRIVATE KEY" in data:
        return _read_private(path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise ConfigError(f"{path}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path}: not an Ed25519 key")
    return key
