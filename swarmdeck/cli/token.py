"""``swarmdeck token show|rotate``: the bearer token every HTTP listener requires.

``show`` is the one place the token is ever printed. ``rotate`` does not print
the new one (a terminal's scrollback is not a secret store): it says where it is
and that clients need it; running listeners take it at their next request.
"""

from __future__ import annotations

import click

from swarmdeck.cli._common import CliError, common_options, get_obj
from swarmdeck.tokens import ENV, TokenError, from_env, load_or_create, rotate


@click.group("token")
def token() -> None:
    """Show or rotate the listeners' bearer token (Authorization: Bearer <token>)."""


@token.command("show")
@common_options
def show() -> None:
    """Print the token (creating it on first use); $SWARMDECK_TOKEN wins when set."""
    path = get_obj().settings().server.effective_token_file()
    try:
        value = from_env() or load_or_create(path)
    except TokenError as exc:
        raise CliError(str(exc)) from None
    click.echo(value)


@token.command("rotate")
@common_options
def rotate_command() -> None:
    """Replace the token with a new one; clients then need the new one."""
    path = get_obj().settings().server.effective_token_file()
    try:
        rotate(path)
    except TokenError as exc:
        raise CliError(str(exc)) from None
    click.echo(f"swarmdeck: new token written to {path} (print it with `swarmdeck token show`)")
    if from_env() is not None:
        click.echo(
            f"swarmdeck: note: ${ENV} is set and overrides the file for processes that see it",
            err=True,
        )
    click.echo(
        "swarmdeck: running listeners use it from their next request; update the clients "
        f"(Claude Code's http hooks read ${ENV})",
        err=True,
    )
