"""``swarmdeck web``: the deck in a browser, behind the deck's token (loopback by default)."""

from __future__ import annotations

import asyncio

import click

from swarmdeck.cli._common import CliError, common_options, get_obj


@click.command()
@common_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=7346, show_default=True)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a non-loopback --host (anyone with the token could decide).",
)
@click.option(
    "--public-url",
    help="The URL browsers use when a proxy or tunnel is in front (https://deck.example).",
)
@click.option("--read-only", is_flag=True, default=None, help="Sessions may look, not decide.")
def web(
    host: str, port: int, allow_remote: bool, public_url: str | None, read_only: bool | None
) -> None:
    """Serve the deck in a browser: one app per browser session, the collector alongside.

    Prints the URL to open (it carries the token once; the browser keeps it in a
    cookie). The token is $SWARMDECK_TOKEN, or the one kept in the data directory.
    """
    obj = get_obj()
    obj.set_section("tui", {"read_only": read_only})
    settings = obj.settings()
    from swarmdeck.adapters._http_common import BindRefused
    from swarmdeck.web import serve_web

    try:
        asyncio.run(
            serve_web(
                settings,
                host=host,
                port=port,
                allow_remote=allow_remote,
                public_url=public_url,
                say=lambda line: click.echo(line, err=True),
            )
        )
    except BindRefused as exc:
        raise CliError(str(exc)) from None
    except ValueError as exc:
        raise CliError(f"token: {exc}") from None
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass  # Ctrl-C or SIGTERM: the server stopped its sessions and the collector
