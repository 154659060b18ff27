"""``swarmdeck hook <vendor>`` on its store path: no collector runs, so this process answers.

It writes the session's events into the store itself and, for a gate, first lets the
policy rules decide (a rule that auto-approves answers at once, collector or not), then
polls the store until a manager decides or the configured timeout passes.

It never crashes with a traceback and never lets a failure become the CLI's "go ahead":
every failure becomes the vendor's failure answer (:meth:`HookProtocol.failure`), with
the reason on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from swarmdeck.adapters.bridge import GONE_REASON, STORE_ERRORS
from swarmdeck.adapters.hooks import handoff
from swarmdeck.adapters.hooks.core import (
    HookAnswer,
    HookCall,
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
from swarmdeck.adapters.waiters import sweep
from swarmdeck.store.db import Store
from swarmdeck.store.errors import StoreError

if TYPE_CHECKING:
    from swarmdeck.adapters.supervisor import IngestFilter
    from swarmdeck.cli.hook_fast import HookArgs
    from swarmdeck.config import Settings

#: Opening the store and writing the escalation must not hang the agent forever.
STORE_OPEN_TIMEOUT = 15.0
#: Seconds between two looks at whether the CLI still reads our stdout.
STDOUT_WATCH_EVERY = 0.25


def run_hook(
    args: HookArgs, raw: bytes, *, call_id: str, interactive: bool | None
) -> tuple[int, str, str]:
    """The whole hook call: (exit code, stdout, stderr). Never raises."""
    from swarmdeck.config import load_settings

    protocol = protocol_for(args.vendor)
    context = HookContext(call_id=call_id, interactive=interactive)
    config = HookConfig()
    try:
        settings = load_settings(Path(args.config) if args.config else None, db=args.db)
        config = HookConfig.from_settings(settings.hooks, args.timeout)
        servers = list(args.servers) or list(settings.hooks.servers)
    except Exception as exc:  # invalid config: still answer, with the failure answer
        return _out(protocol.failure(None, raw, f"cannot load settings ({one_line(exc)})", config))
    try:
        if servers:
            return asyncio.run(_remote(protocol, raw, config, context, servers, settings))
        return asyncio.run(_guarded(protocol, raw, config, context, settings))
    except Exception as exc:  # a bug must still end in the failure answer, never a traceback
        return _out(protocol.failure(None, raw, f"internal error ({one_line(exc)})", config))
    except KeyboardInterrupt:
        return _out(protocol.failure(None, raw, "interrupted", config))


async def _remote(
    protocol: HookProtocol,
    raw: bytes,
    config: HookConfig,
    context: HookContext,
    servers: list[str],
    settings: Settings,
) -> tuple[int, str, str]:
    """Hand the call to a collector on another host (``--server``); every failure denies."""
    from swarmdeck.adapters.hooks.remote import Remote, check_server, fail_closed, forward
    from swarmdeck.tokens import TokenError, from_env, read_token

    closed = dataclasses.replace(config, default="deny")  # handing off always fails closed
    try:
        call = read_call(protocol, raw, closed, context)
    except PayloadError as exc:
        return _out(protocol.failure(None, raw, str(exc), closed))
    if protocol.vendor != "claude-code":
        reason = f"--server hands off Claude Code's hooks only, not {protocol.vendor}'s"
        return _out(protocol.failure(call, raw, reason, closed))
    try:
        urls = [check_server(url) for url in servers]
        token = from_env() or read_token(settings.server.effective_token_file())
    except (ValueError, TokenError) as exc:
        return _out(fail_closed(call, raw, one_line(exc), closed))
    return _out(await forward(raw, call, Remote(urls, token, closed.timeout), closed))


def _out(answer: HookAnswer) -> tuple[int, str, str]:
    return answer.exit_code, answer.stdout(), answer.stderr


async def _guarded(
    protocol: HookProtocol,
    raw: bytes,
    config: HookConfig,
    context: HookContext,
    settings: Settings,
) -> tuple[int, str, str]:
    """``_run``, stopped cleanly by SIGTERM/SIGINT/SIGHUP (the CLI interrupted, or its own
    timeout) or by the CLI going away (its end of our stdout closed: it was killed): the
    waiting escalation is withdrawn, with that reason, instead of left open in the inbox."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    why: list[str] = []

    def stop(reason: str) -> None:
        if not why:
            why.append(reason)
            task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        reason = f"the hook was stopped before a decision came ({sig.name})"
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop, reason)
    context = dataclasses.replace(context, why_gone=lambda: why[0] if why else GONE_REASON)
    inner = asyncio.ensure_future(_run(protocol, raw, config, context, settings))
    watcher = asyncio.ensure_future(_watch_stdout(stop))
    try:
        return await asyncio.shield(inner)
    except asyncio.CancelledError:
        inner.cancel()
        with contextlib.suppress(BaseException):
            await inner
        reason = why[0] if why else "stopped before a decision came"
        return _out(protocol.failure(None, raw, reason, config))
    finally:
        watcher.cancel()


async def _watch_stdout(stop: Callable[[str], None]) -> None:
    """Stop the call when nobody can read our answer any more (the CLI was killed)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    while True:
        await asyncio.sleep(STDOUT_WATCH_EVERY)
        try:
            if handoff.reader_gone(fd):
                stop(handoff.CLI_GONE)
                return
        except (OSError, ValueError):
            return


async def _run(
    protocol: HookProtocol,
    raw: bytes,
    config: HookConfig,
    context: HookContext,
    settings: Settings,
) -> tuple[int, str, str]:
    db = settings.db
    try:
        call = read_call(protocol, raw, config, context)
    except PayloadError as exc:
        await _dead_letter(protocol, settings, raw, str(exc))
        return _out(protocol.failure(None, raw, str(exc), config))
    try:
        store = await asyncio.wait_for(Store.open(db), STORE_OPEN_TIMEOUT)
    except (StoreError, sqlite3.Error, OSError, TimeoutError) as exc:
        return _out(_unavailable(protocol, call, raw, config, exc, settings))
    try:
        with contextlib.suppress(*STORE_ERRORS):  # no collector sweeps: the next hook does
            await sweep(store)
        answer = await answer_on_store(
            protocol, call, raw, store=store, config=config, context=context,
            filters=_filters(settings, store), policy=policy_check(settings, store),
            clock=time.time,
        )  # fmt: skip
    finally:
        with contextlib.suppress(Exception):  # the answer is what matters now
            await store.close()
    return _out(answer)


def _unavailable(
    protocol: HookProtocol,
    call: HookCall,
    raw: bytes,
    config: HookConfig,
    exc: BaseException,
    settings: Settings,
) -> HookAnswer:
    if isinstance(exc, TimeoutError):
        why = f"{settings.db} did not open within {STORE_OPEN_TIMEOUT:g}s"
    else:
        why = one_line(exc)
    return protocol.failure(call, raw, f"store unavailable ({why})", config)


def _filters(settings: Settings, store: Store) -> list[IngestFilter]:
    """The collector's guardrails: secrets in a tool's input are masked before storing."""
    from swarmdeck.guardrails import build_ingest_filter

    flt = build_ingest_filter(settings, store)
    return [flt] if flt is not None else []


def policy_check(settings: Settings, store: Store) -> PolicyCheck | None:
    """The rules of ``[policy]`` as a check the hook core runs on its own escalation.

    Adapters may not import the policy (the floors), so the shell wires it in. Without
    rules there is nothing to import; an invalid ``[policy]`` decides nothing (the
    collector refuses to start on it and says why), so a human decides.
    """
    if not (settings.policy or {}).get("rules"):
        return None
    from swarmdeck.config import ConfigError
    from swarmdeck.policy import PolicyService, current_admin, load_policy

    try:
        rules = load_policy(settings.policy)
    except ConfigError:
        return None
    return PolicyService(rules, store, admin=current_admin(settings)).check_escalation


async def _dead_letter(protocol: HookProtocol, settings: Settings, raw: bytes, error: str) -> None:
    """Keep a malformed payload for the dead-letter view, if the store is reachable."""
    try:
        store = await asyncio.wait_for(Store.open(settings.db), 5.0)
    except Exception:
        return
    try:
        await store.dead_letter(origin=protocol.origin, location="stdin", raw=raw, error=error)
    except Exception:  # noqa: S110 - best effort: the answer is already decided
        pass
    finally:
        await store.close()
