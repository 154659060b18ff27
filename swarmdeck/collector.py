"""The collector: adapters in, decisions out, background services; one or many per database.

What runs where is decided by leases in the store (:mod:`~swarmdeck.adapters.leadership`):
each adapter instance runs on the one collector that leads it, and so does each
once-per-database service (the policy engine, the notifier with its action page,
the audit anchor, retention), so a fleet of collectors on many hosts (one
PostgreSQL database) runs each of them exactly once, and moves them when a host
dies.

On a SQLite file, a second guarantee stays: an OS file lock (``flock``) on
``<db>.lock`` allows one collector per file, since SQLite's single writer would
make a second one pointless. The kernel releases it when the process dies,
however it dies. ``swarmdeck`` starts a collector in its own process when it can
take the lock (the embedded default); ``swarmdeck serve`` runs one headless;
every other process just reads and decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from swarmdeck.adapters.hooks.server import HookServer
from swarmdeck.adapters.leadership import Leadership, collector_id
from swarmdeck.adapters.registry import AdapterLoadError, AdapterNotFound, load_adapter
from swarmdeck.adapters.supervisor import IngestFilter, Instance, Supervisor
from swarmdeck.adapters.vendor_stamp import stamp_vendor
from swarmdeck.adapters.waiters import WaiterSweep
from swarmdeck.anchor import build_anchor_service
from swarmdeck.config import ConfigError, Settings, default_data_dir
from swarmdeck.guardrails import build_ingest_filter
from swarmdeck.notify import build_notify_services
from swarmdeck.policy import build_policy_service
from swarmdeck.store.db import Store
from swarmdeck.store.identity import check_writable
from swarmdeck.store.opening import display_location, open_store
from swarmdeck.tokens import TokenSource

log = logging.getLogger("swarmdeck.collector")


class CollectorBusy(RuntimeError):
    """Another process already runs the collector for this database."""


class Service(Protocol):
    """A background service the collector runs until cancelled (the policy engine)."""

    async def run(self) -> None: ...


def lock_path(db: Path | str) -> Path:
    """``<db>.lock`` beside a SQLite file; for a database on a server, a lock in this
    host's data directory named after the database (one collector per host and database)."""
    if isinstance(db, Path):
        return db.with_name(db.name + ".lock")
    digest = hashlib.sha256(display_location(db).encode()).hexdigest()[:16]
    return default_data_dir() / f"collector-{digest}.lock"


def lock_holder(db: Path | str) -> int | None:
    """The pid of the process holding the collector lock of ``db``, or None if free."""
    path = lock_path(db)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            content = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            return int(content) if content.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _describe_options_error(name: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(options)"
        parts.append(f"adapters[{name}].{loc}: {err['msg']}")
    return "; ".join(parts)


def build_instances(settings: Settings) -> list[Instance]:
    """Load and validate every enabled adapter instance (plus the demo when it runs).

    Raises:
        ConfigError: unknown adapter type, broken plugin, or an invalid option (named).
    """
    instances: list[Instance] = []
    for entry in settings.adapters:
        if not entry.enabled:
            continue
        try:
            cls = load_adapter(entry.type)
        except (AdapterNotFound, AdapterLoadError) as exc:
            raise ConfigError(f"adapters[{entry.name}].type: {exc}") from None
        try:
            options = cls.parse_options(entry.options())
        except ValidationError as exc:
            raise ConfigError(_describe_options_error(entry.name, exc)) from None
        instances.append(Instance(entry.name, cls, options))
    if settings.demo_enabled() and not any(i.name == "demo" for i in instances):
        cls = load_adapter("demo")
        demo_options: dict[str, Any] = {
            "seed": settings.demo.seed,
            "agents": settings.demo.agents,
            "rate": settings.demo.rate,
        }
        options = cls.parse_options(
            {k: v for k, v in demo_options.items() if k in cls.Options.model_fields}
        )
        instances.append(Instance("demo", cls, options))
    return instances


def build_filters(settings: Settings, store: Store | None = None) -> list[IngestFilter]:
    """The ingest filters (guardrails) every batch passes through before it is stored.

    Given the store, the guardrails keep masked originals in it through the same
    connection (no second writer in this process).
    """
    flt = build_ingest_filter(settings, store)
    return [flt] if flt is not None else []


ServiceFactory = Callable[[], list[Service]]


def leased_services(
    settings: Settings,
    store: Store,
    clock: Callable[[], float],
    config_path: Path | None = None,
) -> list[tuple[str, ServiceFactory]]:
    """The background services by lease name, each built afresh for every term.

    A fresh build matters: a service keeps its position in memory (the policy
    engine's feed seq), and a collector that leads it again after another did must
    start from the position saved in the store, not from where it stopped.

    Raises:
        ConfigError: a rule, route or key is invalid (checked once, here).
    """

    def policy() -> list[Service]:
        service = build_policy_service(settings, store, clock, config_path=config_path)
        return [service] if service is not None else []

    def anchor() -> list[Service]:
        service = build_anchor_service(settings, store)
        return [service] if service is not None else []

    def notify() -> list[Service]:
        return list(build_notify_services(settings, store, clock))

    out: list[tuple[str, ServiceFactory]] = []
    for name, factory in (("policy", policy), ("anchor", anchor), ("notify", notify)):
        if factory():  # validates the configuration now; an empty list needs no lease
            out.append((name, factory))
    return out


def build_services(
    settings: Settings,
    store: Store,
    clock: Callable[[], float],
    config_path: Path | None = None,
    filters: list[IngestFilter] | None = None,
) -> list[Service]:
    """Background services: the policy engine (escalation paths, deadlines, budgets), the
    hook socket (``swarmdeck hook <vendor>`` hands its calls to the collector), the sweep
    of escalations whose waiting process was killed, the notifier
    with its action page (pushes to the manager away from the terminal) and, with
    ``audit.anchor_file`` set, the periodic signed checkpoint of the audit chain.

    With ``config_path``, rules are reloaded when the file changes; the hook socket asks
    the live rules first about each escalation it is about to wait on.
    """
    services: list[Service] = []
    for _name, factory in leased_services(settings, store, clock, config_path):
        services += factory()
    return services


class _Job:
    """A coroutine function as a :class:`Service` (retention)."""

    def __init__(self, job: Callable[[], Awaitable[None]]) -> None:
        self._job = job

    async def run(self) -> None:
        await self._job()


class Collector:
    """Runs the adapters and services it leads for one database, and delivers their decisions."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        config_path: Path | None = None,
    ) -> None:
        """Args:
        config_path: the file the settings came from (rules are reloaded when it changes).
        """
        self.settings = settings
        self.clock = clock
        self.config_path = config_path
        self.supervisor: Supervisor | None = None
        self._lock_fd: int | None = None
        self.started = asyncio.Event()
        #: This collector's id in the leases (``host:pid:random``).
        self.holder = collector_id()
        self.leadership: Leadership | None = None

    @property
    def lock_path(self) -> Path:
        return lock_path(self.settings.db)

    def try_acquire(self) -> bool:
        """Take the database's collector lock without waiting; False if someone holds it."""
        if self._lock_fd is not None:
            return True
        path = self.lock_path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        self._lock_fd = fd
        return True

    def release(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._lock_fd, 0)
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    async def run(self, store: Store | None = None) -> None:
        """Run until cancelled. Opens its own store unless one is given.

        Raises:
            CollectorBusy: another process holds the lock.
            ConfigError: an adapter, rule or guardrail is misconfigured.
        """
        if not self.try_acquire():
            holder = lock_holder(self.settings.db)
            raise CollectorBusy(
                f"another collector (pid {holder}) already runs for {self.settings.db}"
            )
        own_store = store is None
        try:
            instances = build_instances(self.settings)
            if store is None:
                store = await open_store(self.settings.db, clock=self.clock)
            # One clear line now (read-only file, full disk, a read-only role) instead of
            # a collector whose every write fails while it looks alive.
            await check_writable(store)
            filters = build_filters(self.settings, store)
            services = leased_services(self.settings, store, self.clock, self.config_path)
            # The hook socket is this host's (its agents' hooks reach the local collector),
            # so every collector serves one, under no lease; its policy check is a
            # stand-alone engine, the leased one may run on another host.
            checker = build_policy_service(
                self.settings, store, self.clock, config_path=self.config_path
            )
            hook_server = HookServer(
                store,
                self.settings,
                filters=list(filters),
                policy=checker.check_escalation if checker is not None else None,
                clock=self.clock,
            )
            filters.append(stamp_vendor({i.name: i.cls.type_name for i in instances}))
            c = self.settings.collector
            self.leadership = leadership = Leadership(
                store, self.holder, ttl=c.lease_ttl, renew=c.lease_renew
            )
            self.supervisor = Supervisor(
                store,
                instances,
                filters=filters,
                clock=self.clock,
                restart_backoff_max=c.restart_backoff_max,
                delivery_backoff_max=c.delivery_backoff_max,
                delivery_max_attempts=c.delivery_max_attempts,
                leadership=leadership,
                listener_token=TokenSource(self.settings.server.effective_token_file()),
            )
            log.info(
                "collector %s for %s: adapters %s",
                self.holder,
                display_location(self.settings.db),
                [i.name for i in instances],
            )
            for name, _factory in services:
                leadership.want(name)
            if c.retention_days:
                leadership.want("retention")
            # Leases outlive everything else: the supervisor's last flush still commits
            # under them, and only then are they released for the next collector.
            leases = asyncio.create_task(leadership.run(), name="leases")
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self.supervisor.run(), name="supervisor")
                    group.create_task(self._keep_running(hook_server.run), name="hook-socket")
                    # Withdraws what killed hooks and servers of this host left open.
                    group.create_task(
                        self._keep_running(WaiterSweep(store).run), name="waiter-sweep"
                    )
                    for name, factory in services:
                        group.create_task(self._leased(leadership, name, factory), name=name)
                    if c.retention_days:
                        days = c.retention_days
                        group.create_task(
                            self._leased(
                                leadership,
                                "retention",
                                lambda: [_Job(lambda: self._retention(store, days))],
                            ),
                            name="retention",
                        )
                    self.started.set()
            finally:
                leases.cancel()
                await asyncio.gather(leases, return_exceptions=True)
        finally:
            if own_store and store is not None:
                await store.close()
            self.release()

    async def _leased(self, leadership: Leadership, name: str, factory: ServiceFactory) -> None:
        """Run a service's fresh instances during each term this collector leads ``name``."""
        while True:
            term = await leadership.acquired(name)
            # Building can fail too (a key file gone since start): retried like a crash.
            job = asyncio.create_task(self._keep_running(lambda: self._term(factory)), name=name)
            try:
                await term.ended.wait()
            finally:
                job.cancel()
                await asyncio.gather(job, return_exceptions=True)

    async def _term(self, factory: ServiceFactory) -> None:
        """One term of a service: fresh instances, each restarted on its own if it crashes."""
        jobs = [
            asyncio.create_task(self._keep_running(service.run), name=repr(service))
            for service in factory()
        ]
        try:
            await asyncio.gather(*jobs)
        finally:
            for job in jobs:
                job.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)

    async def _keep_running(self, job: Callable[[], Awaitable[None]]) -> None:
        """Restart a crashed background service with backoff; it must never stop ingest."""
        attempt = 0
        while True:
            try:
                await job()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                attempt += 1
                delay = min(60.0, 0.5 * 2**attempt)
                log.exception("background service %r crashed; restarting in %.1fs", job, delay)
                await asyncio.sleep(delay)

    async def _retention(self, store: Store, days: float) -> None:
        while True:
            deleted = await store.prune_events(self.clock() - days * 86400)
            if deleted:
                log.info("retention: deleted %d events older than %g days", deleted, days)
            await asyncio.sleep(3600)
