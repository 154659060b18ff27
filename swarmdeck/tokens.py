"""The bearer token every swarmdeck HTTP listener requires: made once, kept 0600, rotatable.

Anything that can reach a listener could otherwise approve or deny agent actions,
or raise escalations under any agent's name (a web page, through the browser of
whoever runs swarmdeck). The token is generated on first use
(``secrets.token_urlsafe``, 256 bits) into ``server.token_file`` (default: ``token``
in the data directory), created ``0600`` in a ``0700`` directory.
``SWARMDECK_TOKEN`` overrides the file (a deployment that injects its secrets).

``swarmdeck token show`` prints it; ``swarmdeck token rotate`` replaces it, and
running listeners pick the new one up at their next request
(:class:`TokenSource` re-reads the file when it changes). Nothing else prints or
logs it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

#: Environment variable that overrides the token file.
ENV = "SWARMDECK_TOKEN"
#: Shortest token accepted from the environment or a file (a guessable token is none).
MIN_LENGTH = 16


class TokenError(Exception):
    """The token cannot be read, created or is unusable; ``str()`` is one line."""


def _check(token: str, where: str) -> str:
    token = token.strip()
    if len(token) < MIN_LENGTH:
        raise TokenError(f"the token in {where} is shorter than {MIN_LENGTH} characters")
    if any(c.isspace() or not c.isprintable() for c in token):
        raise TokenError(f"the token in {where} holds spaces or control characters")
    return token


def read_token(path: Path) -> str | None:
    """The token in ``path``, or None when there is no file yet.

    Raises:
        TokenError: unreadable, too short, or readable by others (it is then tightened
            to 0600 if we own it, refused if we cannot).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TokenError(f"cannot read the token file {path}: {exc.strerror}") from None
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077:
            try:
                os.fchmod(fd, 0o600)
            except OSError:
                raise TokenError(
                    f"the token file {path} is readable by others (mode {mode:o}) and cannot "
                    "be tightened; run `swarmdeck token rotate`"
                ) from None
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    return _check(data.decode("utf-8", "replace"), str(path))


def _write(path: Path, token: str, *, replace: bool) -> bool:
    """Write a token file 0600 atomically; with ``replace=False`` only if none exists."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (token + "\n").encode("ascii"))
        os.fsync(fd)
        os.close(fd)
        fd = -1
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)  # fails if another process created it first: theirs wins
        except FileExistsError:
            return False
        return True
    finally:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def load_or_create(path: Path) -> str:
    """The token in ``path``, generated there first if there is none.

    Raises:
        TokenError: as :func:`read_token`, or the file cannot be created.
    """
    found = read_token(path)
    if found is not None:
        return found
    try:
        _write(path, new_token(), replace=False)
    except OSError as exc:
        raise TokenError(f"cannot create the token file {path}: {exc.strerror}") from None
    found = read_token(path)
    assert found is not None
    return found


def rotate(path: Path) -> None:
    """Replace the token in ``path`` with a new one (clients need the new one).

    Raises:
        TokenError: the file cannot be written.
    """
    try:
        _write(path, new_token(), replace=True)
    except OSError as exc:
        raise TokenError(f"cannot write the token file {path}: {exc.strerror}") from None


def from_env(env: Mapping[str, str] | None = None) -> str | None:
    """``SWARMDECK_TOKEN``, checked, or None when unset."""
    value = (os.environ if env is None else env).get(ENV)
    if value is None or not value.strip():
        return None
    return _check(value, f"${ENV}")


class TokenSource:
    """The current token for a listener: the environment's, else the file's.

    Cheap enough to call per request: the file is read again only when its
    modification time or size changed (``swarmdeck token rotate``).
    """

    def __init__(self, path: Path, env: Mapping[str, str] | None = None) -> None:
        self.path = path
        self._env = from_env(env)
        self._stamp: tuple[int, int, int] | None = None
        self._token: str | None = None

    def __call__(self) -> str:
        """The token to require.

        Raises:
            TokenError: no usable token (the listener then refuses every request).
        """
        if self._env is not None:
            return self._env
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp is None or stamp != self._stamp or self._token is None:
            self._token = load_or_create(self.path)
            st = os.stat(self.path)
            self._stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        return self._token
