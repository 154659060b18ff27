"""``swarmdeck db init|copy``: prepare a team's database, move a history into it (and back).

``init URL`` creates swarmdeck's tables in a database that exists (``createdb``) and
says what it did; it is what the first open of any swarmdeck process does too, done on
purpose, by whoever owns the database. ``copy SRC DST`` copies a whole history from one
store to an empty other one (a SQLite file to PostgreSQL, or back), then checks the
copy: row counts per table, the change counter, and ``audit verify`` on the target.
"""

from __future__ import annotations

import asyncio

import click

from swarmdeck.cli._common import EXIT_FAILURE, CliError, common_options, say
from swarmdeck.store.errors import StoreError
from swarmdeck.store.opening import display_location, is_postgres_url, open_store
from swarmdeck.store.transfer import copy_store, verify_copy


@click.group()
def db() -> None:
    """Prepare a database, or copy a history between databases."""


@db.command()
@common_options
@click.argument("target", metavar="PATH|URL")
def init(target: str) -> None:
    """Create (or migrate) swarmdeck's tables at TARGET, a postgresql:// URL or a file."""
    click.echo(asyncio.run(_init(target)))


async def _init(target: str) -> str:
    where = display_location(target)
    try:
        if is_postgres_url(target):
            from swarmdeck.store.postgres.setup import prepare

            return await prepare(target)
        store = await open_store(target)
        await store.close()
    except StoreError as exc:
        raise CliError(str(exc)) from None
    return f"{where}: ready (SQLite, created or migrated on open)"


@db.command()
@common_options
@click.argument("source", metavar="SRC")
@click.argument("target", metavar="DST")
def copy(source: str, target: str) -> None:
    """Copy the whole history at SRC into the empty database DST, then verify the copy.

    Exit status 1 names what differs (row counts, rev, the audit chain)."""
    problems = asyncio.run(_copy(source, target))
    if problems:
        for problem in problems:
            say(f"MISMATCH {problem}", err=True)
        raise CliError(f"the copy at {display_location(target)} is not whole", EXIT_FAILURE)
    click.echo(f"copied {display_location(source)} -> {display_location(target)}: verified")


async def _copy(source: str, target: str) -> list[str]:
    try:
        src = await open_store(source, create=False)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    try:
        dst = await open_store(target)
    except StoreError as exc:
        await src.close()
        raise CliError(str(exc)) from None
    try:
        await copy_store(src, dst, progress=lambda table, rows: click.echo(f"  {table}: {rows}"))
        return await verify_copy(src, dst)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    finally:
        await src.close()
        await dst.close()
