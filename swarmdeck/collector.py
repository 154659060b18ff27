"""The collector: adapters in, decisions out, background services; one per database.

Exactly one collector may run against a database file. The guarantee is an OS
file lock (``flock``) on ``<db>.lock``: the kernel releases it when the process
dies, however it dies, so there is no stale lease to expire and no second
collector double-delivering decisions. ``swarmdeck`` starts a collector in its
own process when it can take the lock (the embedded default); ``swarmdeck serve``
runs one headless; every other process just reads and decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from swarmdeck.adapters.hooks.server import HookServer
from swarmdeck.adapters.registry import AdapterLoadError, AdapterNotFound, load_adapter
from swarmdeck.adapters.supervisor import IngestFilter, Instance, Supervisor
from swarmdeck.adapters.vendor_stamp import stamp_vendor
from swarmdeck.adapters.waiters import WaiterSweep
from swarmdeck.anchor import build_anchor_service
from swarmdeck.config import ConfigError, Settings
from swarmdeck.guardrails import build_ingest_filter
from swarmdeck.notify import build_notify_services
from swarmdeck.policy import build_policy_service
from swarmdeck.store.db import Store

log = logging.getLogger("swarmdeck.collector")


class CollectorBusy(RuntimeError):
    """Another process already runs the collector for this database."""


class Service(Protocol):
    """A background service the collector runs until cancelled (the policy engine)."""

    async def run(self) -> None: ...


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


def lock_holder(db: Path) -> int | None:
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
    policy = build_policy_service(settings, store, clock, config_path=config_path)
    if policy is not None:
        services.append(policy)
    services.append(
        HookServer(
            store,
            settings,
            filters=filters or [],
            policy=policy.check_escalation if policy is not None else None,
            clock=clock,
        )
    )
    services.append(WaiterSweep(store))  # withdraws what killed hooks and servers left open
    anchor = build_anchor_service(settings, store)
    if anchor is not None:
        services.append(anchor)
    return services + build_notify_services(settings, store, clock)


class Collector:
    """Owns one database's adapters, outbox delivery and background services."""

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
                store = await Store.open(self.settings.db, clock=self.clock)
            filters = build_filters(self.settings, store)
            services = build_services(self.settings, store, self.clock, self.config_path, filters)
            filters.append(stamp_vendor({i.name: i.cls.type_name for i in instances}))
            c = self.settings.collector
            self.supervisor = Supervisor(
                store,
                instances,
                filters=filters,
                clock=self.clock,
                restart_backoff_max=c.restart_backoff_max,
                delivery_backoff_max=c.delivery_backoff_max,
                delivery_max_attempts=c.delivery_max_attempts,
            )
            log.info("collector for %s: adapters %s", self.settings.db, [i.name for i in instances])
            async with asyncio.TaskGroup() as group:
                group.create_task(self.supervisor.run(), name="supervisor")
                for service in services:
                    group.create_task(self._keep_running(service.run), name=repr(service))
                if c.retention_days:
                    days = c.retention_days
                    group.create_task(self._keep_running(lambda: self._retention(store, days)))
                self.started.set()
        finally:
            if own_store and store is not None:
                await store.close()
            self.release()

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
