"""Several hosts on one Linux machine: network namespaces joined by a private bridge.

A test that needs a real fleet (a database on one host, collectors on two others, an
agent and managers elsewhere) runs each part in its own network namespace::

    from swarmdeck.testing.netns import Fleet, NetnsUnavailable

    with Fleet(["pg", "c1", "c2", "agent"]) as fleet:
        fleet.spawn("c1", ["swarmdeck", "serve", ...])
        fleet.host("c1").address          # "10.213.41.2"

Each role gets a namespace with its loopback up and one veth whose other end sits on
a bridge inside a *hub* namespace of the fleet's own; the addresses
(``10.213.<subnet>.<n>/24``) exist only inside those namespaces, and no namespace has
a route anywhere else. Nothing is configured in the machine's own namespace, so the
fleet's traffic never leaves it: a process inside reaches the other namespaces and
its own loopback, nothing more. The file system is shared, so a SQLite file, a unix
socket or a JSONL file is visible to every "host".

Setting it up needs root (``ip netns add``). :func:`check_available` says why it
cannot when it cannot (not root, no ``ip``, a container that forbids it), so a test
can skip with that reason (and fail instead under ``CI=true``). Everything is torn
down on exit: processes spawned through the fleet are killed, namespaces deleted
(which deletes their veths); namespaces left by a fleet whose process died are
removed by the next one (they carry its pid in their names).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from swarmdeck.testing.postgres import PostgresServer, start

#: Every namespace a fleet creates is named ``<PREFIX><pid>-<id>-<role>``.
PREFIX = "sdk-"
#: The private range the fleets use (inside their namespaces only).
NETWORK = "10.213"
#: Seconds any one ``ip`` command may take.
IP_TIMEOUT = 20.0


class NetnsUnavailable(RuntimeError):
    """Network namespaces cannot be set up here; ``str()`` says why."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    ip = shutil.which("ip")
    if ip is None:
        raise NetnsUnavailable("the `ip` command (iproute2) is not installed")
    return subprocess.run(  # noqa: S603 - iproute2 with arguments we build
        [ip, *args], capture_output=True, text=True, timeout=IP_TIMEOUT, check=check
    )


def check_available() -> None:
    """Raise :class:`NetnsUnavailable` unless namespaces, veths and bridges can be made."""
    if os.name != "posix" or not os.path.exists("/proc/self/ns/net"):
        raise NetnsUnavailable("network namespaces need Linux")
    if os.geteuid() != 0:
        raise NetnsUnavailable("network namespaces need root (ip netns add)")
    probe = f"{PREFIX}{os.getpid()}-probe"
    try:
        made = _ip("netns", "add", probe, check=False)
        if made.returncode != 0:
            raise NetnsUnavailable(f"`ip netns add` failed: {made.stderr.strip()[:200]}")
        bridge = _ip("-n", probe, "link", "add", "br0", "type", "bridge", check=False)
        if bridge.returncode != 0:
            raise NetnsUnavailable(f"cannot create a bridge: {bridge.stderr.strip()[:200]}")
        veth = _ip(
            "-n", probe, "link", "add", "va", "type", "veth", "peer", "name", "vb", check=False
        )
        if veth.returncode != 0:
            raise NetnsUnavailable(f"cannot create a veth pair: {veth.stderr.strip()[:200]}")
    finally:
        _ip("netns", "del", probe, check=False)


def remove_stale() -> list[str]:
    """Delete namespaces left by fleets whose process is gone; the names deleted."""
    listing = _ip("netns", "list", check=False).stdout
    removed = []
    for line in listing.splitlines():
        name = line.split()[0] if line.split() else ""
        if not name.startswith(PREFIX):
            continue
        pid = name[len(PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            _ip("netns", "del", name, check=False)
            removed.append(name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True, slots=True)
class Host:
    """One role of the fleet: its namespace and its address there."""

    role: str
    netns: str
    address: str

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside this host's namespace, under the role as its host name.

        The host name comes from a UTS namespace of its own (``unshare --uts``), so what
        a process records as its host (a decision's, a collector id's) tells the fleet's
        hosts apart. Each step execs the next: the pid is ``argv``'s.
        """
        if not argv:
            return ["ip", "netns", "exec", self.netns]
        return ["ip", "netns", "exec", self.netns, "unshare", "--uts", "--",
                "sh", "-c", 'hostname "$0" && exec "$@"', self.role, *argv]  # fmt: skip


class Fleet:
    """Namespaces for ``roles`` on a private bridge; a context manager.

    Args:
        roles: short names (letters, digits, ``-``), one namespace each, numbered from
            ``.1`` in role order.
        subnet: the third octet of ``10.213.x.0/24`` (random by default; namespaces of
            different fleets never see each other anyway).

    Raises:
        NetnsUnavailable: on entry, when namespaces cannot be made here.
    """

    def __init__(self, roles: Sequence[str], *, subnet: int | None = None) -> None:
        if len(set(roles)) != len(roles) or not roles or len(roles) > 200:
            raise ValueError(f"roles must be 1 to 200 distinct names: {roles}")
        for role in roles:
            if not role.replace("-", "").isalnum() or len(role) > 12:
                raise ValueError(f"role {role!r}: letters, digits and '-', at most 12")
        self.roles = list(roles)
        self.subnet = subnet if subnet is not None else 1 + secrets.randbelow(250)
        tag = f"{PREFIX}{os.getpid()}-{secrets.token_hex(2)}"
        self.hub = f"{tag}-hub"
        self.hosts = {
            role: Host(role, f"{tag}-{role}", f"{NETWORK}.{self.subnet}.{n}")
            for n, role in enumerate(self.roles, start=1)
        }
        self.spawned: list[subprocess.Popen[Any]] = []
        self._made: list[str] = []

    def host(self, role: str) -> Host:
        return self.hosts[role]

    def address(self, role: str) -> str:
        return self.hosts[role].address

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Fleet:
        check_available()
        remove_stale()
        try:
            self._setup()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.teardown()

    def _add_netns(self, name: str) -> None:
        _ip("netns", "add", name)
        self._made.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    def _setup(self) -> None:
        self._add_netns(self.hub)
        _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.hub, "link", "set", "br0", "up")
        for n, role in enumerate(self.roles, start=1):
            host = self.hosts[role]
            self._add_netns(host.netns)
            # Both ends are made inside namespaces: nothing ever appears in the machine's own.
            _ip("-n", self.hub, "link", "add", f"h{n}", "type", "veth",
                "peer", "name", "eth0", "netns", host.netns)  # fmt: skip
            _ip("-n", self.hub, "link", "set", f"h{n}", "master", "br0", "up")
            _ip("-n", host.netns, "addr", "add", f"{host.address}/24", "dev", "eth0")
            _ip("-n", host.netns, "link", "set", "eth0", "up")

    def teardown(self) -> None:
        """Kill what was spawned here, then delete every namespace (and so the veths)."""
        for proc in self.spawned:
            self.kill(proc)
        for name in reversed(self._made):
            with contextlib.suppress(NetnsUnavailable, subprocess.SubprocessError, OSError):
                # A process spawned outside the fleet would keep it alive: end those too.
                pids = _ip("netns", "pids", name, check=False).stdout.split()
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError, ValueError):
                        os.kill(int(pid), signal.SIGKILL)
                _ip("netns", "del", name, check=False)
        self._made.clear()

    # ------------------------------------------------------------------ processes

    def spawn(
        self,
        role: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        **popen: Any,
    ) -> subprocess.Popen[Any]:
        """Start ``argv`` on ``role``'s host (killed at teardown if still running).

        ``ip netns exec`` execs the command itself, so the process's pid is the
        command's: :meth:`kill` (SIGKILL) ends exactly it.
        """
        proc: subprocess.Popen[Any] = subprocess.Popen(  # noqa: S603 - the test's own commands
            self.hosts[role].wrap(argv), env=dict(env) if env is not None else None, **popen
        )
        self.spawned.append(proc)
        return proc

    def run(
        self,
        role: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
        **kwargs: Any,
    ) -> subprocess.CompletedProcess[Any]:
        """Run ``argv`` on ``role``'s host to its end (output captured as text)."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(  # noqa: S603 - the test's own commands
            self.hosts[role].wrap(argv),
            env=dict(env) if env is not None else None,
            timeout=timeout,
            check=False,
            **kwargs,
        )

    @staticmethod
    def kill(proc: subprocess.Popen[Any], sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` (SIGKILL: the host "dies") and reap the process."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)


# ----------------------------------------------------------------------------- a database host


def postgres_in(
    fleet: Fleet, role: str, port: int = 5432, *, durable: bool = False
) -> PostgresServer:
    """A throwaway PostgreSQL server on ``role``'s host, reachable by the whole fleet.

    It listens on the host's address only (and on a unix socket in its directory, which
    :func:`local_url` gives to the test process itself, outside the namespaces); the
    fleet's addresses may connect without a password, like the loopback. ``durable``
    as in :func:`swarmdeck.testing.postgres.start` (benchmarks that measure commits).
    """
    host = fleet.host(role)
    server = start(host.address, port, durable=durable, wrap=host.wrap([]))
    try:
        hba = server.root / "data" / "pg_hba.conf"
        with hba.open("a", encoding="utf-8") as fh:
            fh.write(f"host all all {NETWORK}.{fleet.subnet}.0/24 trust\n")
        subprocess.run(  # noqa: S603 - the server's own pg_ctl, fixed arguments
            [*server.run_as, str(server.bindir / "pg_ctl"), "-D", str(server.root / "data"),
             "reload"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
    except BaseException:
        server.stop()
        raise
    return server


def fleet_url(server: PostgresServer, dbname: str = "postgres") -> str:
    """The database's URL for processes inside the fleet (over the bridge)."""
    return server.url_for(dbname)


def local_url(server: PostgresServer, dbname: str = "postgres") -> str:
    """The database's URL for the test process outside the fleet (its unix socket):
    the machine's own namespace never sends anything to the fleet's addresses."""
    return f"postgresql://{server.user}@/{dbname}?host={server.root}&port={server.port}"
