"""``swarmdeck hook claude-code``: Claude Code's hook command.

Claude Code runs it once per hook call with the event's JSON on stdin. It writes
the session's events into the store and, for a permission, blocks until a manager
decides (or the configured timeout passes), then prints Claude Code's JSON.

It never crashes with a traceback and never exits 1 when it means to deny (exit
codes other than 0 and 2 let the tool call through): every failure becomes the
configured default (deny unless configured otherwise), with the reason on stderr.

With ``--server URL`` (an agent on a host without a collector) it opens no store:
the payload goes to that collector's hook endpoint with the bearer token
(:mod:`swarmdeck.adapters.hooks.remote`), and any failure there is a deny.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import sys
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

import click

from swarmdeck.adapters.bridge import STORE_ERRORS, StoreBridge
from swarmdeck.adapters.hooks.claude_code import (
    Default,
    HookConfig,
    PayloadError,
    default_answer,
    fallback,
    handle,
    parse_payload,
    session_agent_name,
)
from swarmdeck.adapters.hooks.remote import Remote, check_server, fail_closed, forward
from swarmdeck.cli._common import common_options
from swarmdeck.cli._settings import settings_from
from swarmdeck.config import Settings
from swarmdeck.store.errors import StoreError
from swarmdeck.store.opening import display_location, open_store
from swarmdeck.tokens import TokenError, from_env, read_token

#: Origin of what the hook command writes (no collector adapter has this name, so
#: the hook acknowledges its decisions' outbox rows itself).
ORIGIN = "claude-code-hook"
#: Claude Code payloads are small; anything bigger is not one.
MAX_PAYLOAD = 4 * 1024 * 1024
#: Opening the store and writing the escalation must not hang the agent forever.
STORE_OPEN_TIMEOUT = 15.0


@click.group("hook")
def hook() -> None:
    """Hook commands that agent tools call (they read JSON on stdin)."""


@hook.command("claude-code")
@common_options
@click.option(
    "--timeout",
    type=float,
    default=None,
    help="Seconds to wait for a decision (default: hooks.timeout, 600).",
)
@click.option(
    "--server",
    "servers",
    multiple=True,
    metavar="URL",
    help="A collector's hook endpoint (http(s)://host:7342/hooks/claude-code) to hand the "
    "call to instead of a local store; repeat to try the next when one cannot be reached "
    "(default: hooks.servers). The token is $SWARMDECK_TOKEN or the token file.",
)
@click.pass_context
def claude_code(ctx: click.Context, timeout: float | None, servers: tuple[str, ...]) -> None:
    """Claude Code hook: reads the hook JSON on stdin, answers on stdout.

    Configure it with `swarmdeck install claude-code`.
    """
    raw = sys.stdin.buffer.read(MAX_PAYLOAD + 1)
    code, out, err = run_hook(ctx, raw, timeout, servers)
    if out:
        sys.stdout.write(out + "\n")
        sys.stdout.flush()
    if err:
        sys.stderr.write(err + "\n")
        sys.stderr.flush()
    # sys.exit, not ctx.exit: the group runs click with standalone_mode=False, where
    # ctx.exit's code would be returned instead of becoming the process's exit status.
    sys.exit(code)


def run_hook(
    ctx: click.Context | None, raw: bytes, timeout: float | None, servers: Sequence[str] = ()
) -> tuple[int, str, str]:
    """The whole hook call: (exit code, stdout, stderr). Never raises."""
    config = HookConfig()
    try:
        settings = settings_from(ctx)
        config = HookConfig(
            timeout=timeout if timeout is not None else settings.hooks.timeout,
            default=settings.hooks.default,
            pretool_matcher=settings.hooks.pretool_matcher,
            review_stop=settings.hooks.review_stop,
        )
        db = settings.db
        servers = list(servers) or list(settings.hooks.servers)
    except Exception as exc:  # invalid config: still answer, with the default
        default: Default = "deny" if servers else config.default
        answer = default_answer(default, f"cannot load settings ({_one_line(exc)})")
        return answer.exit_code, answer.stdout(), answer.stderr
    if servers:
        config.default = "deny"  # a hook handing off to a collector fails closed, always
    try:
        job = (
            _remote(raw, config, servers, settings) if servers else _run(raw, config, db, settings)
        )
        return asyncio.run(_guarded(job, config))
    except Exception as exc:  # a bug must still end in the default, never a traceback
        answer = default_answer(config.default, f"internal error ({_one_line(exc)})")
        return answer.exit_code, answer.stdout(), answer.stderr
    except KeyboardInterrupt:
        answer = default_answer(config.default, "interrupted")
        return answer.exit_code, answer.stdout(), answer.stderr


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


async def _guarded(
    job: Coroutine[Any, Any, tuple[int, str, str]], config: HookConfig
) -> tuple[int, str, str]:
    """``job``, stopped cleanly by SIGTERM/SIGINT/SIGHUP (Claude Code interrupted, or its
    own timeout): the waiting escalation is withdrawn instead of left open in the inbox."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, task.cancel)
    inner = asyncio.ensure_future(job)
    try:
        return await asyncio.shield(inner)
    except asyncio.CancelledError:
        inner.cancel()
        with contextlib.suppress(BaseException):
            await inner
        answer = default_answer(config.default, "stopped before a decision came")
        return answer.exit_code, answer.stdout(), answer.stderr


async def _run(
    raw: bytes, config: HookConfig, db: Path | str, settings: Settings
) -> tuple[int, str, str]:
    try:
        if len(raw) > MAX_PAYLOAD:
            raise PayloadError(f"hook payload larger than {MAX_PAYLOAD} bytes")
        payload = parse_payload(raw)
    except PayloadError as exc:
        answer = default_answer(config.default, str(exc))
        await _dead_letter(db, raw, str(exc))
        return answer.exit_code, answer.stdout(), answer.stderr

    try:
        store = await asyncio.wait_for(open_store(db), STORE_OPEN_TIMEOUT)
    except (StoreError, sqlite3.Error, OSError, TimeoutError) as exc:
        answer = fallback(payload, f"store unavailable ({_store_error(exc, db)})", config)
        return answer.exit_code, answer.stdout(), answer.stderr
    try:
        from swarmdeck.collector import build_filters

        # The same guardrails as the collector: a secret in a tool's input is masked
        # before it is stored, shown, or copied into the audit by a decision.
        bridge = StoreBridge(store, origin=ORIGIN, filters=build_filters(settings, store))
        name = await session_agent_name(store, payload.session_id, payload.cwd, time.time())
        answer = await handle(payload, bridge=bridge, session_agent=name, config=config)
    except STORE_ERRORS as exc:
        answer = fallback(payload, f"store unavailable ({_store_error(exc, db)})", config)
    finally:
        with contextlib.suppress(Exception):  # the answer is what matters now
            await store.close()
    return answer.exit_code, answer.stdout(), answer.stderr


async def _remote(
    raw: bytes, config: HookConfig, servers: Sequence[str], settings: Settings
) -> tuple[int, str, str]:
    """Hand the call to a collector (``--server``); every failure answers deny."""
    try:
        if len(raw) > MAX_PAYLOAD:
            raise PayloadError(f"hook payload larger than {MAX_PAYLOAD} bytes")
        payload = parse_payload(raw)
    except PayloadError as exc:
        answer = default_answer("deny", str(exc))
        return answer.exit_code, answer.stdout(), answer.stderr
    try:
        urls = [check_server(url) for url in servers]
        token = from_env() or read_token(settings.server.effective_token_file())
    except (ValueError, TokenError) as exc:
        answer = fail_closed(payload, _one_line(exc), config)
        return answer.exit_code, answer.stdout(), answer.stderr
    answer = await forward(raw, payload, Remote(urls, token, config.timeout), config)
    return answer.exit_code, answer.stdout(), answer.stderr


def _store_error(exc: BaseException, db: Path | str) -> str:
    if isinstance(exc, TimeoutError):
        return f"{display_location(db)} did not open within {STORE_OPEN_TIMEOUT:g}s"
    return _one_line(exc)


async def _dead_letter(db: Path | str, raw: bytes, error: str) -> None:
    """Keep a malformed payload for the dead-letter view, if the store is reachable."""
    try:
        store = await asyncio.wait_for(open_store(db), 5.0)
    except Exception:
        return
    try:
        await store.dead_letter(origin=ORIGIN, location="stdin", raw=raw, error=error)
    except Exception:  # noqa: S110 - best effort: the answer is already decided
        pass
    finally:
        await store.close()


if __name__ == "__main__":  # pragma: no cover - `python -m swarmdeck.cli.hook claude-code`
    hook()
