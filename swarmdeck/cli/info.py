"""``swarmdeck schema``, ``adapters`` and ``config``: what is installed and how it is set."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import click

from swarmdeck.cli._common import CliError, common_options, emit_json, emit_table, get_obj, say
from swarmdeck.config import SERVICE_LEASES, Settings
from swarmdeck.store.models import AdapterHealth, Lease


@click.command()
def schema() -> None:
    """Print the JSON Schema of the event wire format."""
    from swarmdeck.store.events import event_json_schema

    click.echo(json.dumps(event_json_schema(), indent=2))


@click.command()
@common_options
@click.argument("type_name", required=False)
@click.option("--json", "as_json", is_flag=True)
def adapters(type_name: str | None, as_json: bool) -> None:
    """List adapter types and configured instances, or show one type's options.

    Listing imports no plugin code, so a broken plugin cannot break this command.
    """
    from swarmdeck.adapters.registry import (
        AdapterLoadError,
        AdapterNotFound,
        adapter_names,
        adapter_target,
    )

    if type_name:
        from swarmdeck.adapters.registry import load_adapter

        try:
            cls = load_adapter(type_name)
        except (AdapterNotFound, AdapterLoadError) as exc:
            raise CliError(str(exc)) from None
        options = cls.Options.model_json_schema()
        if as_json:
            emit_json(
                {
                    "type": type_name,
                    "description": cls.description,
                    "two_way": cls.two_way,
                    "options": options,
                }
            )
            return
        click.echo(f"{type_name}: {cls.description}")
        click.echo(f"two-way (decisions delivered back): {'yes' if cls.two_way else 'no'}")
        rows = []
        required = set(options.get("required", []))
        for key, spec in options.get("properties", {}).items():
            rows.append(
                (
                    key,
                    option_type(spec),
                    spec.get("default", ""),
                    "yes" if key in required else "",
                    spec.get("description", ""),
                )
            )
        emit_table(["option", "type", "default", "required", "description"], rows)
        return
    settings = get_obj().settings()
    instances: list[dict[str, Any]] = [
        {"name": a.name, "type": a.type, "enabled": a.enabled} for a in settings.adapters
    ]
    if settings.demo_enabled() and not any(i["name"] == "demo" for i in instances):
        instances.append({"name": "demo", "type": "demo", "enabled": True})
    types = [{"type": n, "target": adapter_target(n)} for n in adapter_names()]
    fleet = asyncio.run(_fleet(settings))
    now = time.time()
    for inst in instances:
        inst.update(_running(fleet, inst["name"], now))
    services = [
        {"name": name, **_running(fleet, name, now)}
        for name in SERVICE_LEASES
        if name in fleet.leases
    ]
    if as_json:
        emit_json({"types": types, "instances": instances, "services": services})
        return
    emit_table(["type", "provided by"], [(t["type"], t["target"]) for t in types])
    click.echo()
    emit_table(
        ["instance", "type", "enabled", "state", "led by", "lease"],
        [
            (
                i["name"],
                i["type"],
                "yes" if i["enabled"] else "no",
                i["state"] or "-",
                i["leader"] or "-",
                i["lease"],
            )
            for i in instances
        ],
    )
    if services:
        click.echo()
        emit_table(
            ["service", "led by", "lease"],
            [(s["name"], s["leader"] or "-", s["lease"]) for s in services],
        )
    if fleet.error:
        say(f"swarmdeck: {fleet.error}", err=True)


@dataclass(slots=True)
class _Fleet:
    """What the store says about who runs what (empty when it cannot be read)."""

    leases: dict[str, Lease] = field(default_factory=dict)
    health: dict[str, AdapterHealth] = field(default_factory=dict)
    error: str | None = None


async def _fleet(settings: Settings) -> _Fleet:
    from swarmdeck.store.db import Store
    from swarmdeck.store.errors import StoreError

    try:
        store = await Store.open(settings.db, create=False)
    except (StoreError, OSError) as exc:
        return _Fleet(error=f"no lease or health shown: {exc}")
    try:
        return _Fleet(
            {lease.name: lease for lease in await store.leases()},
            {h.name: h for h in await store.adapter_health()},
        )
    finally:
        await store.close()


def _running(fleet: _Fleet, name: str, now: float) -> dict[str, Any]:
    """State, leader and lease of one name, for the table and ``--json``."""
    lease = fleet.leases.get(name)
    health = fleet.health.get(name)
    out: dict[str, Any] = {
        "state": health.state if health is not None else None,
        "leader": None,
        "epoch": None,
        "lease": "-",
    }
    if lease is not None:
        left = lease.expires_ts - now
        out["epoch"] = lease.epoch
        if left > 0:
            out["leader"] = lease.holder
            out["lease"] = f"epoch {lease.epoch}, {left:.0f}s left"
        else:
            out["lease"] = f"free (last {lease.holder}, epoch {lease.epoch})"
    return out


def option_type(spec: dict[str, Any]) -> str:
    """An option's type as a person reads it: ``path | null``, ``list of string``, not the
    JSON Schema fragment (``adapters jsonl`` printed a raw Python list)."""
    if "anyOf" in spec:
        return " | ".join(dict.fromkeys(option_type(s) for s in spec["anyOf"]))
    if "enum" in spec:
        return " | ".join(json.dumps(v) for v in spec["enum"])
    kind = str(spec.get("format") or spec.get("type") or "any")
    kind = "secret" if kind == "password" else kind
    if kind == "array" and isinstance(spec.get("items"), dict):
        return f"list of {option_type(spec['items'])}"
    return kind


@click.command()
@common_options
@click.option("--json", "as_json", is_flag=True)
def config(as_json: bool) -> None:
    """Print the effective configuration (flags > env > file > defaults), secrets masked."""
    from swarmdeck.config import default_config_path, redacted

    obj = get_obj()
    data: dict[str, Any] = redacted(obj.settings())
    if as_json:
        emit_json(data)
        return
    click.echo(f"# config file: {obj.config or default_config_path()}")
    click.echo(json.dumps(data, indent=2, default=str))
