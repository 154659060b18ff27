"""What every subcommand shares: ``--db``/``--config``, settings, the store, output helpers."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from swarmdeck.config import Settings, load_settings
from swarmdeck.store.opening import open_store
from swarmdeck.store.text import clean_text, safe_json

EXIT_FAILURE = 1
EXIT_ERROR = 2
EXIT_CONFLICT = 3

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class CliError(Exception):
    """A user-facing error: printed as one line, exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def finite_seconds(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """Callback of a seconds option: FloatRange lets NaN through (it compares false with
    every bound), and a wait of NaN or inf never ends: refuse both."""
    if value is not None and not 0 < value < float("inf"):
        raise click.BadParameter(f"{value!r} is not a number of seconds above 0")
    return value


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    click.echo(f"swarmdeck: error: {clean_text(message, single_line=True)}", err=True)
    sys.exit(code)


@dataclass
class Obj:
    """Context object: flags gathered from the group and the subcommand, settings on demand."""

    db: str | None = None
    config: Path | None = None
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    _settings: Settings | None = None

    def set_section(self, name: str, values: dict[str, Any]) -> None:
        given = {k: v for k, v in values.items() if v is not None}
        if given:
            self.sections.setdefault(name, {}).update(given)

    def settings(self) -> Settings:
        """Effective settings; flags override single keys of a section (deep merge)."""
        if self._settings is None:
            self._settings = load_settings(self.config, db=self.db, **self.sections)
        return self._settings


def _set_db(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        ctx.ensure_object(Obj).db = value
    return value


def _set_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
    if value is not None:
        ctx.ensure_object(Obj).config = value
    return value


def common_options(func: F) -> F:
    """``--db PATH`` and ``--config PATH``, accepted before or after the subcommand."""
    func = click.option(
        "--config",
        type=click.Path(path_type=Path, dir_okay=False),
        expose_value=False,
        callback=_set_config,
        is_eager=True,
        help="Config file (default: $SWARMDECK_CONFIG or the platform config dir).",
    )(func)
    func = click.option(
        "--db",
        metavar="PATH|URL",
        expose_value=False,
        callback=_set_db,
        is_eager=True,
        help="Database: a SQLite file (default: swarmdeck.db in the platform data dir) "
        "or a postgresql:// URL.",
    )(func)
    return func


def get_obj() -> Obj:
    return click.get_current_context().ensure_object(Obj)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def with_store(func: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """Run an ``async def cmd(store, settings, **kwargs)`` with an open store, closed after."""

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> T:
        settings = get_obj().settings()

        async def go() -> T:
            store = await open_store(settings.db)
            try:
                return await func(store, settings, **kwargs)
            finally:
                await store.close()

        return asyncio.run(go())

    return wrapper


def emit_json(rows: Sequence[dict[str, Any]] | dict[str, Any]) -> None:
    """JSON on stdout: every control, bidi and zero-width character escaped (see safe_json)."""
    click.echo(safe_json(rows, indent=None, default=str))


def say(text: str, *, err: bool = False) -> None:
    """One human-readable line that may quote agent text: cleaned, kept to one line.

    Agent names, task and escalation ids reach the terminal through here or through
    :func:`emit_table`; printed raw, an OSC 52 in a name wrote the clipboard in tmux.
    """
    click.echo(clean_text(text, single_line=True, max_length=2000), err=err)


def emit_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Plain aligned columns: greppable, no colours, untrusted text cleaned."""
    cells = [[clean_text("" if c is None else str(c), single_line=True) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = min(max(widths[i], len(cell)), 60)

    def line(values: Sequence[str]) -> str:
        out = []
        for i, value in enumerate(values):
            if len(value) > widths[i]:
                value = value[: widths[i] - 1] + "…"
            out.append(value.ljust(widths[i]))
        return "  ".join(out).rstrip()

    click.echo(line([h.upper() for h in headers]))
    for row in cells:
        click.echo(line(row))
