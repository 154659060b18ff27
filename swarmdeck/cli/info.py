"""``swarmdeck schema``, ``adapters`` and ``config``: what is installed and how it is set."""

from __future__ import annotations

import json
from typing import Any

import click

from swarmdeck.cli._common import CliError, common_options, emit_json, emit_table, get_obj


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
    instances = [{"name": a.name, "type": a.type, "enabled": a.enabled} for a in settings.adapters]
    if settings.demo_enabled() and not any(i["name"] == "demo" for i in instances):
        instances.append({"name": "demo", "type": "demo", "enabled": True})
    types = [{"type": n, "target": adapter_target(n)} for n in adapter_names()]
    if as_json:
        emit_json({"types": types, "instances": instances})
        return
    emit_table(["type", "provided by"], [(t["type"], t["target"]) for t in types])
    click.echo()
    emit_table(
        ["instance", "type", "enabled"],
        [(i["name"], i["type"], "yes" if i["enabled"] else "no") for i in instances],
    )


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
