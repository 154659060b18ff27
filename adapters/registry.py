"""Adapter discovery through the ``swarmdeck.adapters`` entry-point group.

Three flavours, as plugin users expect: list names (imports nothing, so a broken
plugin cannot break ``swarmdeck adapters``), load one by name (raises a clear
error), and load all (warns about the broken ones and carries on).
"""

from __future__ import annotations

import warnings
from importlib.metadata import EntryPoint, entry_points

from swarmdeck.adapters.base import Adapter

GROUP = "swarmdeck.adapters"


class AdapterNotFound(LookupError):
    """No adapter type of that name is installed."""


class AdapterLoadError(ImportError):
    """An adapter type is installed but could not be imported."""


def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep)
    return found


def adapter_names() -> list[str]:
    """Names of installed adapter types, sorted. Imports nothing."""
    return sorted(_entry_points())


def adapter_target(name: str) -> str:
    """``module:Class`` an adapter type points at (for listings)."""
    ep = _entry_points().get(name)
    if ep is None:
        raise AdapterNotFound(_not_found(name))
    return ep.value


def _not_found(name: str) -> str:
    known = ", ".join(adapter_names()) or "none"
    return f"unknown adapter type {name!r} (installed: {known})"


def load_adapter(name: str) -> type[Adapter]:
    """Import one adapter type by name.

    Raises:
        AdapterNotFound: no such type is installed.
        AdapterLoadError: it is installed but importing it failed, or it is not an Adapter.
    """
    ep = _entry_points().get(name)
    if ep is None:
        raise AdapterNotFound(_not_found(name))
    try:
        cls = ep.load()
    except Exception as exc:
        raise AdapterLoadError(f"adapter {name!r} ({ep.value}) failed to load: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise AdapterLoadError(f"adapter {name!r} ({ep.value}) is not an Adapter subclass")
    return cls


def load_all() -> dict[str, type[Adapter]]:
    """Import every installed adapter type; broken ones are skipped with a warning."""
    loaded: dict[str, type[Adapter]] = {}
    for name in adapter_names():
        try:
            loaded[name] = load_adapter(name)
        except AdapterLoadError as exc:
            warnings.warn(str(exc), RuntimeWarning, stacklevel=2)
    return loaded
