"""The collector's end of the hook hand-off: answers thin hook clients over a Unix socket.

The collector already has the store open, the guardrails built and the policy rules
loaded; a hook client hands it the raw payload (:mod:`.handoff`) and gets the answer
the store path would have given: same protocol modules, same flow
(:func:`~swarmdeck.adapters.hooks.core.answer_on_store`), same failure answers.

It declines a call (the client then answers on the store path itself) when the call
would be answered differently here: the client names another config file, or the
variables that shape an answer (``SWARMDECK_HOOKS__*``, ``_GUARDRAILS``, ``_POLICY``,
``_ACTOR``) differ from the collector's (a test's ``SWARMDECK_HOOKS__TIMEOUT=1``, say).
Declining is always safe; guessing is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

from swarmdeck.adapters.hooks import handoff
from swarmdeck.adapters.hooks.core import (
    MAX_PAYLOAD,
    HookAnswer,
    HookConfig,
    HookContext,
    HookProtocol,
    PayloadError,
    PolicyCheck,
    answer_on_store,
    one_line,
    protocol_for,
    read_call,
)
from swarmdeck.adapters.supervisor import IngestFilter
from swarmdeck.config import ConfigError, Settings, default_config_path, load_settings
from swarmdeck.store.db import Store

log = logging.getLogger("swarmdeck.hooks")

#: A request line carries the payload (escaped): room for the largest one allowed.
LINE_LIMIT = 2 * MAX_PAYLOAD + 65536


class HookServer:
    """Serves ``swarmdeck hook <vendor>`` clients of one database; runs until cancelled.

    Args:
        store: the collector's store.
        settings: the collector's settings (its hooks section answers the calls).
        filters: the collector's ingest filters (guardrails).
        policy: applies the live rules to one escalation (the collector's policy service).
        clock: seconds since the epoch.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        filters: Sequence[IngestFilter] = (),
        policy: PolicyCheck | None = None,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.settings = settings
        self.filters = list(filters)
        self.policy = policy
        self.clock = clock
        self.path = Path(handoff.socket_path(settings.db))
        self.config_path = (settings.config_path or default_config_path()).resolve()
        self._hooks = settings.hooks
        self._mtime = _mtime(self.config_path)
        self._env = handoff.settings_env()
        self._waiting: set[asyncio.Future[HookAnswer]] = set()
        self.served = 0

    def __repr__(self) -> str:
        return f"HookServer({self.path})"

    async def run(self) -> None:
        _prepare(self.path)
        server = await asyncio.start_unix_server(self._serve, path=os.fspath(self.path),
                                                 limit=LINE_LIMIT)  # fmt: skip
        os.chmod(self.path, 0o600)
        log.info("hook socket listening on %s", self.path)
        try:
            async with server:
                await server.serve_forever()
        finally:
            # Stopping (the TUI closed): withdraw what we raised while the store is still
            # open; each client then falls back to its own store path with a fresh call.
            for work in list(self._waiting):
                work.cancel()
            if self._waiting:
                await asyncio.gather(*self._waiting, return_exceptions=True)
            with contextlib.suppress(OSError):
                self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            sock = writer.get_extra_info("socket")
            uid = handoff.peer_uid(sock) if sock is not None else None
            if uid is not None and uid != os.getuid():
                return  # only our own user's hooks (the 0600 socket says the same)
            line = await reader.readline()
            reply = await self._answer(line, reader)
            if reply is not None:
                writer.write(reply)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # the client is gone; nobody to answer
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, line: bytes, reader: asyncio.StreamReader) -> bytes | None:
        try:
            request = handoff.decode_request(line)
            protocol = protocol_for(request.vendor)
        except (ValueError, KeyError):
            return handoff.encode_fallback("the collector cannot read this hook request")
        declined = self._declines(request)
        if declined is not None:
            return handoff.encode_fallback(declined)
        config = self._config(request.timeout)
        if config is None:
            return handoff.encode_fallback("the collector's config file cannot be used")
        self.served += 1
        why: list[str] = []
        work = asyncio.ensure_future(self._run(protocol, request, config, why))
        self._waiting.add(work)
        work.add_done_callback(self._waiting.discard)
        gone = asyncio.ensure_future(_closed(reader))  # EOF: the CLI killed the hook
        try:
            await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not gone.done():
                gone.cancel()
        if work.cancelled():
            return None  # the collector is stopping: no answer, the client falls back
        if not work.done():
            said = gone.result() if gone.done() and not gone.cancelled() else None
            why.append(said or _HOOK_GONE)
            work.cancel()  # the bridge withdraws the escalation on the way out
            with contextlib.suppress(BaseException):
                await work
            return None
        answer = work.result()
        return handoff.encode_answer(answer.exit_code, answer.stdout(), answer.stderr)

    async def _run(
        self, protocol: HookProtocol, request: handoff.Request, config: HookConfig, why: list[str]
    ) -> HookAnswer:
        raw = request.payload
        context = HookContext(
            call_id=request.call_id, interactive=request.interactive,
            why_gone=lambda: why[0] if why else _STOPPING,
        )  # fmt: skip
        try:
            call = read_call(protocol, raw, config, context)
        except PayloadError as exc:
            with contextlib.suppress(Exception):  # best effort: the answer is decided
                await self.store.dead_letter(
                    origin=protocol.origin, location="hook socket", raw=raw, error=str(exc)
                )
            return protocol.failure(None, raw, str(exc), config)
        try:
            return await answer_on_store(
                protocol, call, raw, store=self.store, config=config, context=context,
                filters=self.filters, policy=self.policy, clock=self.clock,
                waiter="the collector's hook socket",
            )  # fmt: skip
        except Exception as exc:  # a bug must still end in the failure answer
            log.exception("hook socket: %s call failed", protocol.vendor)
            return protocol.failure(call, raw, f"internal error ({one_line(exc)})", config)

    def _declines(self, request: handoff.Request) -> str | None:
        if Path(request.config) != self.config_path:
            return f"the hook uses {request.config}, the collector {self.config_path}"
        if request.env != self._env:
            return "the hook's SWARMDECK_HOOKS/GUARDRAILS/POLICY/ACTOR differ from the collector's"
        return None

    def _config(self, timeout: float | None) -> HookConfig | None:
        """The ``[hooks]`` settings as the config file says now (re-read when it changed)."""
        mtime = _mtime(self.config_path)
        if mtime != self._mtime:
            try:
                self._hooks = load_settings(self.config_path).hooks
            except ConfigError as exc:
                log.warning("hook socket: %s", exc)
                return None
            self._mtime = mtime
        return HookConfig.from_settings(self._hooks, timeout)


#: Why a hook call's escalation is withdrawn when its client closes without a word.
_HOOK_GONE = "the hook process ended before a decision came (its CLI stopped waiting)"
#: ... and when the collector stops under it (the client then asks again on its own).
_STOPPING = "the collector stopped; the hook raises its request again on its own"


async def _closed(reader: asyncio.StreamReader) -> str | None:
    """Return when the client's end is closed: the reason it gave (a ``{"gone": ...}``
    line, :func:`.handoff.say_gone`), if any; other stray bytes are ignored."""
    said: str | None = None
    with contextlib.suppress(ConnectionError, ValueError, asyncio.LimitOverrunError):
        while line := await reader.readline():
            said = handoff.decode_gone(line) or said
    return said


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _prepare(path: Path) -> None:
    """A private directory for the socket, and no stale socket in the way.

    Only the collector holding the database's lock gets here, so a socket file left
    at ``path`` belongs to a collector that died: it is removed.
    """
    parent = path.parent
    if parent.name.startswith("swarmdeck-"):  # the runtime-dir fallback: ours alone
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = parent.stat()
        if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
            raise PermissionError(f"{parent} is not a private directory of this user")
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(path.lstat().st_mode):
            path.unlink()
