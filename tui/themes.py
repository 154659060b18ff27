"""Themes as data: TOML files parsed by a pydantic model, turned into Textual themes.

Built-ins live in the ``themes`` package (dark, light, high contrast); users add
their own as ``<config dir>/themes/*.toml``. A broken file is reported once, in one
line naming the file and the field, and skipped; the default theme is used instead.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from textual.color import Color, ColorParseError
from textual.theme import Theme

DEFAULT_THEME = "swarmdeck-dark"

#: App variables every theme defines (a file may leave some out: defaults fill them).
VARIABLE_DEFAULTS: dict[str, str] = {
    "agent-idle": "#8a8a8a",
    "agent-working": "#5fd787",
    "agent-blocked": "#ffd75f",
    "agent-failed": "#ff5f5f",
    "agent-done": "#5fafff",
    "agent-offline": "#585858",
    "severity-low": "#8a8a8a",
    "severity-normal": "#87afd7",
    "severity-high": "#ffaf5f",
    "severity-critical": "#ff5f5f",
    "node-pending": "#8a8a8a",
    "node-running": "#5fd787",
    "node-blocked": "#ffd75f",
    "node-failed": "#ff5f5f",
    "node-done": "#5fafff",
    "gate": "#d787ff",
    "delivery-ok": "#5fd787",
    "delivery-retrying": "#ffd75f",
    "delivery-failed": "#ff5f5f",
    "mark": "#d787ff",
}


def _colour(value: str) -> str:
    try:
        Color.parse(value)
    except ColorParseError:
        raise ValueError(f"{value!r} is not a colour") from None
    return value


class ThemeFile(BaseModel):
    """The schema of a theme file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.-]+$")
    dark: bool = True
    primary: str
    secondary: str | None = None
    accent: str | None = None
    warning: str | None = None
    error: str | None = None
    success: str | None = None
    foreground: str | None = None
    background: str | None = None
    surface: str | None = None
    panel: str | None = None
    variables: dict[str, str] = Field(default_factory=dict)

    @field_validator(
        "primary",
        "secondary",
        "accent",
        "warning",
        "error",
        "success",
        "foreground",
        "background",
        "surface",
        "panel",
    )
    @classmethod
    def _check(cls, value: str | None) -> str | None:
        return None if value is None else _colour(value)

    @field_validator("variables")
    @classmethod
    def _check_vars(cls, value: dict[str, str]) -> dict[str, str]:
        for key, colour in value.items():
            try:
                _colour(colour)
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
        return value

    def to_theme(self) -> Theme:
        return Theme(
            name=self.name,
            primary=self.primary,
            secondary=self.secondary,
            accent=self.accent,
            warning=self.warning,
            error=self.error,
            success=self.success,
            foreground=self.foreground,
            background=self.background,
            surface=self.surface,
            panel=self.panel,
            dark=self.dark,
            variables={**VARIABLE_DEFAULTS, **self.variables},
        )


def parse_theme(text: str, origin: str) -> Theme:
    """Parse one theme file's text.

    Raises:
        ValueError: one line naming ``origin`` and what is wrong.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"theme {origin}: not valid TOML ({exc})") from None
    try:
        return ThemeFile.model_validate(data).to_theme()
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise ValueError(f"theme {origin}: {loc}: {err['msg']}") from None


@dataclass
class LoadedThemes:
    themes: dict[str, Theme] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def load_themes(user_dir: Path | None) -> LoadedThemes:
    """The built-in themes, then the user's (which may override a built-in by name)."""
    out = LoadedThemes()
    for entry in sorted(resources.files("themes").iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            try:
                theme = parse_theme(entry.read_text("utf-8"), entry.name)
            except ValueError as exc:  # a broken built-in is a bug, but never a crash
                out.errors.append(str(exc))
                continue
            out.themes[theme.name] = theme
    if user_dir is not None and user_dir.is_dir():
        for path in sorted(user_dir.glob("*.toml")):
            try:
                theme = parse_theme(path.read_text("utf-8"), str(path))
            except (OSError, UnicodeDecodeError) as exc:
                out.errors.append(f"theme {path}: cannot read ({exc})")
                continue
            except ValueError as exc:
                out.errors.append(str(exc))
                continue
            out.themes[theme.name] = theme
    return out
