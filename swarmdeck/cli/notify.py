"""``swarmdeck notify ls|test``: the push routes, with their URLs masked; a sample push."""

from __future__ import annotations

import time
from typing import Any

import click

from swarmdeck.cli._common import (
    EXIT_FAILURE,
    CliError,
    common_options,
    emit_json,
    emit_table,
    with_store,
)
from swarmdeck.config import Settings
from swarmdeck.guardrails import build_outgoing_masker
from swarmdeck.notify.message import Message
from swarmdeck.notify.send import SendFailed, check_url, masked_url, send
from swarmdeck.store import notify as pushes
from swarmdeck.store.db import Store


@click.group()
def notify() -> None:
    """Pushes to the manager away from the terminal (``[[notify]]`` routes)."""


def _filters(route: Any) -> str:
    parts = [f"severity>={route.min_severity}"]
    for name in ("kind", "agent", "workflow", "vendor"):
        globs = getattr(route, name)
        if globs:
            parts.append(f"{name}={','.join(globs)}")
    return " ".join(parts)


@notify.command("ls")
@common_options
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@with_store
async def ls(store: Store, settings: Settings, as_json: bool) -> None:
    """List the routes: channel (URL masked), filters, timing, state of the last push."""
    health = {h.name: h for h in await store.adapter_health()}
    rows: list[dict[str, Any]] = []
    for route in settings.notify:
        url = route.url.get_secret_value()
        h = health.get(f"notify:{route.name}")
        sent = await pushes.last_sent(store, route.name)
        rows.append(
            {
                "name": route.name,
                "enabled": route.enabled,
                "url": masked_url(url),
                "understood": check_url(url),
                "filters": _filters(route),
                "on": list(route.on),
                "after": route.after,
                "quiet_hours": route.quiet_hours,
                "owner": route.owner,
                "state": h.state if h else None,
                "detail": h.detail if h else None,
                "last_sent": sent,
            }
        )
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("no [[notify]] routes configured (see the README: When you are away)")
        return
    emit_table(
        ("NAME", "URL", "FILTERS", "AFTER", "QUIET", "OWNER", "STATE"),
        [
            (
                r["name"] + ("" if r["enabled"] else " (off)"),
                r["url"] + ("" if r["understood"] else " (not understood by apprise)"),
                r["filters"],
                r["after"],
                r["quiet_hours"] or "-",
                r["owner"] or "-",
                (r["state"] or "-") + (f": {r['detail']}" if r["detail"] else ""),
            )
            for r in rows
        ],
    )


@notify.command("test")
@common_options
@click.argument("name")
@with_store
async def test(store: Store, settings: Settings, name: str) -> None:
    """Send a sample push through route NAME (exit 1 naming the error if it fails)."""
    route = next((r for r in settings.notify if r.name == name), None)
    if route is None:
        known = ", ".join(r.name for r in settings.notify) or "none configured"
        raise CliError(f"no notify route named {name!r} (routes: {known})")
    masker = build_outgoing_masker(settings)
    when = time.strftime("%H:%M:%S")
    message = Message(
        title=masker.text(f"swarmdeck: test push through {name}", single_line=True),
        body=masker.text(
            f"Route {name} works: this is what a push looks like ({when}).\n"
            "Escalations, deadlines, budgets and adapters down will arrive here."
        ),
        severity=route.min_severity,
    )
    try:
        await send(route.url.get_secret_value(), message)
    except SendFailed as exc:
        raise CliError(f"route {name}: {exc}", EXIT_FAILURE) from None
    click.echo(f"sent a test push through {name} ({masked_url(route.url.get_secret_value())})")
