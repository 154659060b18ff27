"""The ``swarmdeck`` click group: the TUI by default, and scriptable subcommands.

Subcommands are imported lazily (``COMMANDS`` maps names to ``module:function``),
so ``swarmdeck ls`` never pays for importing Textual and a broken integration
cannot break the rest of the CLI.

Errors are one line on stderr, never a traceback (``SWARMDECK_DEBUG=1`` shows
it). Exit status: 0 success, 1 failure (e.g. ingest rejected lines), 2 bad usage
or configuration, 3 decision conflict (someone decided first).
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from swarmdeck.cli._common import EXIT_ERROR, CliError, Obj, common_options, fail

#: Lazily loaded subcommands: name -> "module:attribute".
COMMANDS: dict[str, str] = {
    "serve": "swarmdeck.cli.serve:serve",
    "ingest": "swarmdeck.cli.ingest:ingest",
    "ls": "swarmdeck.cli.ls:ls",
    "decide": "swarmdeck.cli.decide:decide",
    "audit": "swarmdeck.cli.audit:audit",
    "schema": "swarmdeck.cli.info:schema",
    "adapters": "swarmdeck.cli.info:adapters",
    "config": "swarmdeck.cli.info:config",
    "hook": "swarmdeck.cli.hook:hook",
    "install": "swarmdeck.cli.install:install",
    "mcp": "swarmdeck.cli.mcp:mcp",
    "policy": "swarmdeck.cli.policy:policy",
    "report": "swarmdeck.cli.report:report",
    "reveal": "swarmdeck.cli.reveal:reveal",
    "notify": "swarmdeck.cli.notify:notify",
    "web": "swarmdeck.cli.web:web",
    "db": "swarmdeck.cli.db:db",
    "token": "swarmdeck.cli.token:token",
}


#: What an observer (``swarmdeck --read-only ...``) may run: commands that neither
#: write to the store nor reveal a masked secret. Anything else, including a command
#: added later, is refused until it is listed here.
READ_ONLY_SAFE: frozenset[tuple[str, ...]] = frozenset(
    {
        ("ls",),
        ("schema",),
        ("adapters",),
        ("config",),
        ("report",),
        ("audit", "verify"),
        ("audit", "export"),
        ("policy", "check"),
        ("policy", "test"),
    }
)


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when used.

    It also enforces ``--read-only`` for subcommands: observer mode used to be
    accepted and ignored (``--read-only decide`` recorded an approval, ``--read-only
    reveal`` printed the secret); now anything outside :data:`READ_ONLY_SAFE` is
    refused with exit 2 before it runs.
    """

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if ctx.params.get("read_only") and name is not None and command is not None:
            path: tuple[str, ...] = (name,)
            asks_help = any(a in ("-h", "--help") for a in rest)
            if isinstance(command, click.Group):
                sub = next((a for a in rest if not a.startswith("-")), None)
                path = (name, sub) if sub else path
                asks_help = asks_help or sub is None
            if path not in READ_ONLY_SAFE and not asks_help:
                raise CliError(
                    f"--read-only: `swarmdeck {' '.join(path)}` writes or reveals, so an "
                    "observer may not run it (read-only: ls, report, audit verify|export, "
                    "policy check|test, adapters, config, schema)",
                    EXIT_ERROR,
                )
        return name, command, rest

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise click.ClickException(f"command {cmd_name!r} is unavailable: {exc}") from None
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command


@click.group(
    cls=LazyGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@common_options
@click.option(
    "--demo/--no-demo",
    default=None,
    help="Run the simulated swarm (default: when no adapter is configured).",
)
@click.option("--seed", type=int, help="Seed of the simulated swarm.")
@click.option("--agents", type=click.IntRange(1, 100_000), help="Agents in the simulated swarm.")
@click.option("--rate", type=click.FloatRange(min=0.01), help="Simulated agent updates per second.")
@click.option(
    "--read-only",
    is_flag=True,
    default=None,
    help="Observer mode: no decision keys; subcommands that write or reveal are refused.",
)
@click.option(
    "--pane",
    type=click.Choice(["all", "swarm", "inbox", "workflow"]),
    help="Show one pane alone.",
)
@click.option(
    "--theme", help="Theme name (swarmdeck-dark, swarmdeck-light, swarmdeck-contrast, ...)."
)
@click.option(
    "--ascii",
    "ascii_",
    is_flag=True,
    default=None,
    help="Draw with ASCII only (no box-drawing characters).",
)
@click.option(
    "--spawn-collector",
    is_flag=True,
    default=None,
    help="Run the collector as a separate `swarmdeck serve` process.",
)
@click.version_option(package_name="swarmdeck", prog_name="swarmdeck")
@click.pass_context
def cli(
    ctx: click.Context,
    demo: bool | None,
    seed: int | None,
    agents: int | None,
    rate: float | None,
    read_only: bool | None,
    pane: str | None,
    theme: str | None,
    ascii_: bool | None,
    spawn_collector: bool | None,
) -> None:
    """swarmdeck: the terminal command center for swarms of AI agents.

    Without a command, opens the TUI on the configured database (by default a
    simulated swarm in the platform data directory).
    """
    obj = ctx.ensure_object(Obj)
    demo_flags = {"enabled": demo, "seed": seed, "agents": agents, "rate": rate}
    tui_flags = {"read_only": read_only, "pane": pane, "theme": theme, "ascii": ascii_}
    obj.set_section("demo", demo_flags)
    obj.set_section("tui", tui_flags)
    obj.set_section("collector", {"spawn": spawn_collector})
    if ctx.invoked_subcommand is None:
        from swarmdeck.cli.deck import run_tui

        ctx.exit(run_tui(obj.settings()))


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI, turning every error into one line."""
    debug = bool(os.environ.get("SWARMDECK_DEBUG"))
    try:
        # Without standalone mode click *returns* the code of ctx.exit(n) instead of
        # raising it; a command's own return value is not an exit status.
        rc = cli.main(args=argv, prog_name="swarmdeck", standalone_mode=False, obj=Obj())
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("swarmdeck: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except CliError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # `swarmdeck ls | head`: the reader left; that is not an error.
        sys.stderr.close()
        sys.exit(0)
    except Exception as exc:
        if debug:
            raise
        message = _known_error(exc)
        fail(
            message
            or f"internal error: {type(exc).__name__}: {exc} "
            "(set SWARMDECK_DEBUG=1 for the traceback)",
            EXIT_ERROR,
        )
    sys.exit(rc if isinstance(rc, int) else 0)


def _known_error(exc: Exception) -> str | None:
    """One-line messages for the errors a user can cause and fix."""
    from swarmdeck.config import ConfigError
    from swarmdeck.store.errors import StoreError

    if isinstance(exc, ConfigError | StoreError):
        return str(exc)
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename or exc}"
    if isinstance(exc, FileNotFoundError):
        return f"no such file: {exc.filename or exc}"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
    return None
