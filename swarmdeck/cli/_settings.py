"""Glue between the ``swarmdeck`` click group and the integration commands."""

from __future__ import annotations

from typing import Any

import click

from swarmdeck.config import Settings, load_settings


def settings_from(ctx: click.Context | None) -> Settings:
    """The effective settings: the group's (``ctx.obj``) when it has them, else loaded here.

    Raises:
        ConfigError: when they have to be loaded here and the configuration is invalid.
    """
    obj: Any = None
    while ctx is not None and obj is None:
        obj = ctx.obj
        ctx = ctx.parent
    if isinstance(obj, Settings):
        return obj
    found = getattr(obj, "settings", None)
    if callable(found) and not isinstance(found, Settings):
        found = found()
    if isinstance(found, Settings):
        return found
    if isinstance(obj, dict):
        candidate = obj.get("settings")
        if isinstance(candidate, Settings):
            return candidate
    return load_settings()
