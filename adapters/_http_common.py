"""What the adapters that *serve* HTTP share: guarded, loopback-first listening, in-process.

The ``claude-code`` (hook endpoint), ``mcp`` (streamable HTTP) and ``push`` adapters
run a small ASGI app inside the collector's event loop, behind the one
:class:`~swarmdeck.adapters.listener_guard.ListenerGuard` every listener has (Host,
Origin, bearer token, Content-Type, body size). Binding is done here, not by
uvicorn: a busy port becomes an ordinary exception (uvicorn would ``sys.exit``),
port 0 yields a known ephemeral port, and a non-loopback address is refused unless
``allow_remote`` is set, and always without a token, because these endpoints
approve agent actions. A wildcard address must name the hosts clients use.

At shutdown every request still waiting for a decision is answered (its default,
"the collector is stopping") before the socket closes, and its escalation is
withdrawn.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any, ClassVar

import uvicorn
from pydantic import ConfigDict, Field

from swarmdeck.adapters.base import Adapter, AdapterContext, AdapterOptions, Batch
from swarmdeck.adapters.bridge import FutureBridge, withdraw_stale, withdrawn_event
from swarmdeck.adapters.listener_guard import (
    MAX_BODY,
    Answer,
    GuardPolicy,
    ListenerGuard,
    Receive,
    Refusal,
    Refuse,
    Scope,
    Send,
    is_loopback,
    listener_hosts,
    plain_refusal,
    send_json,
)
from swarmdeck.store.events import Event
from swarmdeck.store.models import Delivery

__all__ = [
    "BindRefused",
    "EmbeddedServer",
    "LateApp",
    "ListenerOptions",
    "ServingAdapter",
    "check_bind",
    "check_listener",
    "guard_policy",
    "is_loopback",
]

#: Why waiting requests end when the collector stops.
STOPPING = "the collector is stopping"
#: Seconds a stopping listener keeps reading requests (answering each at once) before it
#: closes: connections the kernel accepted but uvicorn had not read yet would be reset.
SHUTDOWN_GRACE = 0.3
#: Seconds the withdrawals of the requests answered at shutdown may take to be stored
#: (the next start withdraws whatever is left open).
WITHDRAW_TIMEOUT = 2.0
#: Addresses that listen on every interface: such a listener must name its Host values.
WILDCARDS = ("0.0.0.0", "::", "")  # noqa: S104 - recognised here, to demand allowed_hosts


class BindRefused(ValueError):
    """The configured address is not loopback and remote access was not allowed, or a
    listener beyond loopback would run without a token, or on every address without
    naming its hosts."""


def check_bind(host: str, allow_remote: bool, what: str, *, require_token: bool = True) -> None:
    """Refuse a non-loopback address unless explicitly allowed, and never without a token.

    Raises:
        BindRefused: naming the option that allows it.
    """
    if is_loopback(host):
        return
    if not allow_remote:
        raise BindRefused(
            f"{what}: refusing to listen on {host!r}, which is reachable from other machines "
            "(anyone who can connect could approve or deny agent actions); use 127.0.0.1, "
            "or set allow_remote = true on this adapter if you really mean it"
        )
    if not require_token:
        raise BindRefused(
            f"{what}: refusing to listen on {host!r} without a token: "
            "require_token = false is allowed on loopback addresses only"
        )


class ListenerOptions(AdapterOptions):
    """Options every HTTP listener adapter has: where it listens, what its guard accepts."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    host: str = "127.0.0.1"
    """Address to listen on; anything but loopback needs ``allow_remote``."""
    port: int = Field(default=0, ge=0, le=65535)
    """Port to listen on (0 picks a free one, shown in the adapter's health)."""
    path: str = Field(default="/", pattern=r"^/")
    """URL path of the endpoint."""
    allow_remote: bool = False
    """Allow a non-loopback ``host``: anyone who can connect and has the token could act on
    agents (the token is then required)."""
    require_token: bool = True
    """Require ``Authorization: Bearer <token>`` (``swarmdeck token show``); false is allowed on
    loopback binds only."""
    allowed_hosts: list[str] = Field(default_factory=list, max_length=100)
    """More ``Host`` values to answer to, e.g. a reverse proxy's ``swarmdeck.example.org``
    (required when ``host`` is a wildcard such as ``0.0.0.0``)."""
    allowed_origins: list[str] = Field(default_factory=list, max_length=100)
    """Browser origins allowed to call (none by default: agent CLIs send no Origin)."""
    max_body_bytes: int = Field(default=MAX_BODY, ge=1024, le=64 * 1024 * 1024)
    """Largest request body accepted."""


#: Where a listener reads the bearer token (per request: a rotation applies at once).
TokenGetter = Callable[[], str] | None


def check_listener(opts: ListenerOptions, token: TokenGetter, what: str) -> None:
    """Everything that refuses a listener before it binds.

    Raises:
        BindRefused: beyond loopback without ``allow_remote`` or without a token; a
            token required but none given by the collector; a wildcard address
            without ``allowed_hosts`` (it would refuse every Host but its own address).
    """
    check_bind(opts.host, opts.allow_remote, what, require_token=opts.require_token)
    if opts.require_token and token is None:
        raise BindRefused(
            f"{what}: no listener token available; run it in the collector "
            "(swarmdeck serve), or set require_token = false on a loopback bind"
        )
    if opts.host.strip().strip("[]") in WILDCARDS and not opts.allowed_hosts:
        raise BindRefused(
            f"{what}: listening on every address ({opts.host}) needs allowed_hosts, the Host "
            "names clients use to reach it (any other Host is refused, against DNS rebinding)"
        )


def guard_policy(
    opts: ListenerOptions, port: int, token: TokenGetter, *, sniff: int = 0
) -> GuardPolicy:
    """What the guard of a listener bound on ``port`` accepts (see :func:`check_listener`).

    The token source is called once here, so that an unusable token file fails the start
    with its reason in the adapter's health, not each request.
    """
    source: Callable[[], str | None] = lambda: None  # noqa: E731 - loopback, by choice
    if opts.require_token and token is not None:
        token()
        source = token
    return GuardPolicy(
        hosts=listener_hosts(opts.host, port, opts.allowed_hosts),
        origins=frozenset(o.strip().lower() for o in opts.allowed_origins),
        token=source,
        max_body=opts.max_body_bytes,
        sniff=sniff,
    )


class LateApp:
    """The app uvicorn serves: the guard, set once the port is known (before a request is
    read, see :attr:`EmbeddedServer.on_bound`); lifespan and a refusal until then."""

    def __init__(self, refuse: Refuse = plain_refusal) -> None:
        self.app: ListenerGuard | None = None
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is not None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await send_json(send, self.refuse(Refusal(503, "the listener is starting")))
        elif scope["type"] == "lifespan":
            await lifespan(receive, send)


async def lifespan(receive: Receive, send: Send) -> None:
    """The ASGI lifespan protocol of an app that needs no start-up or shutdown work."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            with contextlib.suppress(Exception):
                await send({"type": "lifespan.shutdown.complete"})
            return


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
        #: Called with the bound port before uvicorn serves a request (a guard that
        #: needs the port is built there, so no request ever meets an unguarded app).
        self.on_bound: Callable[[int], None] | None = None

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
        if self.on_bound is not None:
            try:
                self.on_bound(self.port)
            except BaseException:
                sock.close()
                self._sock = None
                raise
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


class ServingAdapter(Adapter):
    """An adapter that serves an HTTP endpoint whose requests wait for a manager.

    Each request raises an escalation through the :class:`FutureBridge` and waits on
    a future; the supervisor's delivery loop calls :meth:`deliver`, which resolves it.
    Subclasses provide the ASGI app (:meth:`build_app`, called once the port is known),
    how a refusal of the guard is answered (:meth:`refuse`) and the wording of health.
    """

    two_way: ClassVar[bool] = True
    #: What the health line says is served, e.g. ``"MCP"``.
    serves: ClassVar[str]
    #: Why requests still waiting from a previous run ended (on their withdrawn escalations).
    restart_reason: ClassVar[str]
    #: Bytes of a refused request's body the guard reads for :meth:`refuse`.
    sniff_bytes: ClassVar[int] = 0

    opts: ListenerOptions

    def __init__(self, options: AdapterOptions, context: AdapterContext) -> None:
        super().__init__(options, context)
        self.bridge = FutureBridge(context.name)
        self.endpoint: EmbeddedServer | None = None

    @property
    def port(self) -> int | None:
        return self.endpoint.port if self.endpoint is not None else None

    @abc.abstractmethod
    def build_app(self) -> Any:
        """The ASGI app to serve (the guard is put in front of it here)."""

    def refuse(self, refusal: Refusal) -> Answer:
        """How a refused request is answered; by default its 4xx status, as JSON."""
        return plain_refusal(refusal)

    def _guard(self, port: int) -> ListenerGuard:
        policy = guard_policy(self.opts, port, self.context.listener_token, sniff=self.sniff_bytes)
        return ListenerGuard(self.build_app(), policy, self.refuse)

    async def events(self) -> AsyncIterator[Event | Batch]:
        opts = self.opts
        check_listener(opts, self.context.listener_token, f"adapter {self.name!r}")
        stale = await withdraw_stale(self.context.store, self.name, self.name, self.restart_reason)
        if stale:
            yield Batch(events=stale)
        late = LateApp(self.refuse)
        self.endpoint = EmbeddedServer(late, opts.host, opts.port)

        def bound(port: int) -> None:
            late.app = self._guard(port)

        self.endpoint.on_bound = bound
        try:
            await self.endpoint.start()
            await self.context.set_health(
                "running", f"serving {self.serves} on {self.endpoint.url}{opts.path}"
            )
            async for batch in drain(self.bridge, self.endpoint):
                yield batch
        finally:
            # Answer every waiting request first ("the collector is stopping"), and every
            # later one at once; requests that arrived but are not read yet get a moment
            # to be read (closing now would reset their connections unanswered); then the
            # server finishes sending the answers and the socket closes.
            ended = self.bridge.close(STOPPING)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(SHUTDOWN_GRACE)
            await self.endpoint.stop()
            await self._withdraw(ended)

    async def _withdraw(self, escalation_ids: list[str]) -> None:
        """Withdraw the escalations of the requests answered at shutdown: nobody waits on
        them any more (best effort and bounded: the next start withdraws what is left)."""
        if not escalation_ids:
            return
        events = [withdrawn_event(self.name, esc, STOPPING) for esc in escalation_ids]
        commit = self.context.commit
        with contextlib.suppress(Exception, asyncio.CancelledError):
            if commit is not None:
                await asyncio.wait_for(commit(Batch(events=events)), WITHDRAW_TIMEOUT)
            else:
                await asyncio.wait_for(
                    self.context.store.append(events, origin=self.name), WITHDRAW_TIMEOUT
                )

    async def deliver(self, delivery: Delivery) -> None:
        self.bridge.resolve(delivery)
