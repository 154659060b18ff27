"""What the adapters that *serve* HTTP share: loopback-only binding and an embedded uvicorn.

The ``claude-code`` (hook endpoint) and ``mcp`` (streamable HTTP) adapters run a
small ASGI app inside the collector's event loop. Binding is done here, not by
uvicorn: a busy port becomes an ordinary exception (uvicorn would ``sys.exit``),
port 0 yields a known ephemeral port, and a non-loopback address is refused
unless ``allow_remote`` is set, because these endpoints approve agent actions.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Generator
from typing import Any, ClassVar, Protocol

import uvicorn

from swarmdeck.adapters.base import Adapter, AdapterContext, AdapterOptions, Batch
from swarmdeck.adapters.bridge import FutureBridge, withdraw_stale
from swarmdeck.store.events import Event
from swarmdeck.store.models import Delivery


class BindRefused(ValueError):
    """The configured address is not loopback and remote access was not allowed."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_remote: bool, what: str) -> None:
    """Refuse a non-loopback address unless explicitly allowed.

    Raises:
        BindRefused: naming the option that allows it.
    """
    if not allow_remote and not is_loopback(host):
        raise BindRefused(
            f"{what}: refusing to listen on {host!r}, which is reachable from other machines "
            "(anyone who can connect could approve or deny agent actions); use 127.0.0.1, "
            "or set allow_remote = true on this adapter if you really mean it"
        )


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: the collector owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class EmbeddedServer:
    """An ASGI app served by uvicorn on an already bound socket, inside the running loop."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    async def start(self, ready_timeout: float = 10.0) -> int:
        """Bind, start serving, and return the bound port once the app is up.

        Raises:
            OSError: the address cannot be bound (in use, not local).
            RuntimeError: the app failed to start (its lifespan raised).
        """
        family = socket.AF_INET6 if ":" in self.host.strip("[]") else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host.strip("[]"), self.requested_port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            lifespan="on",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="http-endpoint")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ready_timeout
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what serve() raised
                raise RuntimeError(f"HTTP endpoint on {self.url} stopped while starting")
            if loop.time() > deadline:
                raise RuntimeError(f"HTTP endpoint on {self.url} did not start in {ready_timeout}s")
            await asyncio.sleep(0.01)
        return self.port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"http://{host}:{self.port if self.port is not None else self.requested_port}"

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 5.0)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
                with contextlib.suppress(BaseException):
                    await self._task
            except Exception:  # noqa: S110 - it failed while stopping: nothing left to do
                pass
        if self._sock is not None:
            self._sock.close()
            self._sock = None


async def drain(bridge: FutureBridge, endpoint: EmbeddedServer) -> AsyncIterator[Batch]:
    """Yield what the endpoint's handlers emit; end (raise) if the server dies."""
    server_task = endpoint.task
    assert server_task is not None
    while True:
        getter = asyncio.create_task(bridge.queue.get())
        try:
            done, _ = await asyncio.wait({getter, server_task}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            getter.cancel()
            raise
        if getter in done:
            yield getter.result()
            continue
        getter.cancel()
        exc = server_task.exception() if not server_task.cancelled() else None
        raise RuntimeError(f"HTTP endpoint on {endpoint.url} stopped: {exc or 'no error given'}")


class _ServedOptions(Protocol):
    host: str
    port: int
    path: str
    allow_remote: bool


class ServingAdapter(Adapter):
    """An adapter that serves an HTTP endpoint whose requests wait for a manager.

    Each request raises an escalation through the :class:`FutureBridge` and waits on
    a future; the supervisor's delivery loop calls :meth:`deliver`, which resolves it.
    Subclasses provide the ASGI app (:meth:`build_app`) and the wording of health.
    """

    two_way: ClassVar[bool] = True
    #: What the health line says is served, e.g. ``"MCP"``.
    serves: ClassVar[str]
    #: Why requests still waiting from a previous run ended (on their withdrawn escalations).
    restart_reason: ClassVar[str]

    opts: _ServedOptions

    def __init__(self, options: AdapterOptions, context: AdapterContext) -> None:
        super().__init__(options, context)
        self.bridge = FutureBridge(context.name)
        self.endpoint: EmbeddedServer | None = None

    @property
    def port(self) -> int | None:
        return self.endpoint.port if self.endpoint is not None else None

    @abc.abstractmethod
    def build_app(self) -> Any:
        """The ASGI app to serve."""

    async def events(self) -> AsyncIterator[Event | Batch]:
        check_bind(self.opts.host, self.opts.allow_remote, f"adapter {self.name!r}")
        stale = await withdraw_stale(self.context.store, self.name, self.name, self.restart_reason)
        if stale:
            yield Batch(events=stale)
        self.endpoint = EmbeddedServer(self.build_app(), self.opts.host, self.opts.port)
        try:
            await self.endpoint.start()
            await self.context.set_health(
                "running", f"serving {self.serves} on {self.endpoint.url}{self.opts.path}"
            )
            async for batch in drain(self.bridge, self.endpoint):
                yield batch
        finally:
            self.bridge.withdraw_all("the collector is stopping")
            await self.endpoint.stop()

    async def deliver(self, delivery: Delivery) -> None:
        self.bridge.resolve(delivery)
