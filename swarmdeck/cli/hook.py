"""``swarmdeck hook claude-code|codex|gemini``: the hook command coding agents' CLIs run.

The CLI runs it once per hook call with the event's JSON on stdin; it answers on stdout,
stderr and its exit code in that CLI's protocol. Usually the entry point takes the fast
path (:mod:`.hook_fast`) without ever reaching click; these click commands are what
``--help`` shows and what unusual argument orders reach. Both run the same code.
"""

from __future__ import annotations

import click

from swarmdeck.cli._common import Obj, common_options, finite_seconds
from swarmdeck.cli.hook_fast import HookArgs, run

_TIMEOUT_HELP = "Seconds to wait for a decision (default: hooks.timeout, 600)."


_SECONDS = click.FloatRange(min=0, min_open=True)


@click.group("hook")
def hook() -> None:
    """Hook commands that agent tools call (they read JSON on stdin)."""


def _run(
    ctx: click.Context, vendor: str, timeout: float | None, servers: tuple[str, ...] = ()
) -> None:
    obj = ctx.find_object(Obj)
    db = str(obj.db) if obj is not None and obj.db is not None else None
    config = str(obj.config) if obj is not None and obj.config is not None else None
    run(HookArgs(vendor, db=db, config=config, timeout=timeout, servers=servers))


@hook.command("claude-code")
@common_options
@click.option("--timeout", type=_SECONDS, callback=finite_seconds, help=_TIMEOUT_HELP)
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

    Configure it with `swarmdeck install claude-code`. With `--server`, an agent on a
    host without a collector hands its calls to one; any failure there is a deny.
    """
    _run(ctx, "claude-code", timeout, servers)


@hook.command("codex")
@common_options
@click.option("--timeout", type=_SECONDS, callback=finite_seconds, help=_TIMEOUT_HELP)
@click.pass_context
def codex(ctx: click.Context, timeout: float | None) -> None:
    """Codex CLI hook: PermissionRequest and PreToolUse wait for a manager; every failure
    answers an explicit deny (Codex lets a failed hook's call through).

    Configure it with `swarmdeck install codex`.
    """
    _run(ctx, "codex", timeout)


@hook.command("gemini")
@common_options
@click.option("--timeout", type=_SECONDS, callback=finite_seconds, help=_TIMEOUT_HELP)
@click.pass_context
def gemini(ctx: click.Context, timeout: float | None) -> None:
    """Gemini CLI hook: BeforeTool waits for a manager; every failure exits 2 with the
    reason (Gemini lets a tool run when its hook times out or exits 1).

    Configure it with `swarmdeck install gemini`.
    """
    _run(ctx, "gemini", timeout)
