"""A throwaway PostgreSQL server for tests and benchmarks: ``initdb`` + ``pg_ctl`` in a temp dir.

For swarmdeck's own suite and for third parties testing against a real server: no Docker,
nothing left behind (:meth:`PostgresServer.stop` removes the directory)::

    from swarmdeck.testing.postgres import running

    with running() as server:
        url = server.create_database("mytest")

Debian's ``postgresql`` package puts the server's binaries in
``/usr/lib/postgresql/<major>/bin`` (not on ``PATH``) and creates a ``postgres`` user.
The server refuses to run as root, and CI runs as root, so when we are root the data
directory is handed to ``postgres`` and the server runs as that user (``runuser``).

Durability is off by default (``fsync``, ``synchronous_commit``, ``full_page_writes``):
a test server lives for one session. Benchmarks that measure commits pass
``durable=True``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swarmdeck.store.postgres import admin

#: What to run when no server is installed (Debian and Ubuntu).
INSTALL_HINT = "apt-get install postgresql (or set SWARMDECK_PG_BINDIR to its bin directory)"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_bindir() -> Path:
    """The newest installed server's bin directory (``initdb``, ``pg_ctl``, ``postgres``).

    ``$SWARMDECK_PG_BINDIR`` wins; then Debian's ``/usr/lib/postgresql/*/bin``; then
    ``initdb`` on ``PATH``.

    Raises:
        PostgresUnavailable: none found.
    """
    configured = os.environ.get("SWARMDECK_PG_BINDIR")
    if configured:
        return Path(configured)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major, reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise PostgresUnavailable(f"no PostgreSQL server found: {INSTALL_HINT}")


def _major(initdb: str) -> int:
    try:
        return int(Path(initdb).parts[-3])
    except (ValueError, IndexError):
        return 0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server; :attr:`url` connects as its superuser to database ``postgres``."""

    root: Path
    host: str
    port: int
    user: str
    bindir: Path
    run_as: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, dbname: str) -> str:
        """The URL of database ``dbname`` on this server."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def execute(self, statement: str, dbname: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement as the superuser (autocommit); the rows it returned."""
        return admin.run(self.url_for(dbname), statement)

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create database ``name`` (optionally a copy of ``template``); return its URL."""
        admin.create_database(self.url, name, template=template)
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name``, ending any connection still open to it."""
        admin.drop_database(self.url, name)

    def stop(self) -> None:
        """Stop the server at once and remove its directory."""
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(  # noqa: S603 - our own binaries, fixed arguments
                [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"),
                 "-m", "immediate", "stop"],
                capture_output=True, timeout=60,
            )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)


def start(
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    durable: bool = False,
    max_connections: int = 200,
    wrap: Sequence[str] = (),
) -> PostgresServer:
    """Start a fresh server listening on ``host:port`` (a free port when None).

    ``wrap`` prefixes the command that starts the server, e.g. ``ip netns exec NS`` to
    run it in a network namespace (:mod:`swarmdeck.testing.netns`), where ``host`` is
    an address of that namespace; give ``port`` then (a free port is looked up here).

    Raises:
        PostgresUnavailable: no server binaries (see :data:`INSTALL_HINT`).
        subprocess.CalledProcessError: ``initdb`` or ``pg_ctl`` failed (its stderr says why).
    """
    bindir = find_bindir()
    root = Path(tempfile.mkdtemp(prefix="swarmdeck-pg-"))
    run_as: list[str] = []
    try:
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(root, pw.pw_uid, pw.pw_gid)
            root.chmod(0o700)
            run_as = ["runuser", "-u", "postgres", "--"]
            user = "postgres"
        else:
            user = pwd.getpwuid(os.geteuid()).pw_name
        port = port or free_port(host)
        data = root / "data"
        subprocess.run(  # noqa: S603 - the installed server's binaries, fixed arguments
            [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", user, "-A", "trust",
             "-E", "UTF8", "--no-locale"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        flag = "on" if durable else "off"
        options = (
            f"-c listen_addresses={host} -p {port} -k {root} -c max_connections={max_connections}"
            f" -c fsync={flag} -c synchronous_commit={flag} -c full_page_writes={flag}"
            " -c shared_buffers=128MB"
        )
        subprocess.run(  # noqa: S603 - the installed server's binaries, fixed arguments
            [*wrap, *run_as, str(bindir / "pg_ctl"), "-D", str(data), "-o", options,
             "-l", str(root / "log"), "-w", "-t", "60", "start"],
            check=True, capture_output=True, timeout=90,
        )  # fmt: skip
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return PostgresServer(root=root, host=host, port=port, user=user, bindir=bindir, run_as=run_as)


@contextlib.contextmanager
def running(
    host: str = "127.0.0.1", port: int | None = None, *, durable: bool = False
) -> Iterator[PostgresServer]:
    """A server for the span of a ``with`` block."""
    server = start(host, port, durable=durable)
    try:
        yield server
    finally:
        server.stop()
