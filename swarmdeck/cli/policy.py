"""``swarmdeck policy check|test``: validate rules, and replay history against them (dry run)."""

from __future__ import annotations

import time
import tomllib
from pathlib import Path
from typing import Any

import click

from swarmdeck.cli._common import CliError, common_options, emit_json, get_obj, say, with_store
from swarmdeck.cli.audit import parse_since
from swarmdeck.config import ConfigError, Settings
from swarmdeck.policy.rules import PolicyConfig, load_policy
from swarmdeck.store.db import Store


def load_rules_file(path: Path) -> PolicyConfig:
    """A candidate rules file: ``[[policy.rules]]`` (a whole config file) or ``[[rules]]``.

    Raises:
        ConfigError: unreadable, not TOML, or an invalid rule (rule and field named).
    """
    try:
        with path.open("rb") as fh:
            doc: dict[str, Any] = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    section = doc.get("policy", doc)
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [policy] must be a table")
    try:
        return load_policy(section)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _config(settings: Settings, rules: Path | None) -> PolicyConfig:
    return load_rules_file(rules) if rules is not None else load_policy(settings.policy)


@click.group()
def policy() -> None:
    """Escalation paths: validate rules and dry-run them against stored history."""


@policy.command()
@common_options
@click.option(
    "--rules",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A candidate rules file instead of the configured rules.",
)
def check(rules: Path | None) -> None:
    """Validate the rules (and the guardrails section); exit 2 naming the rule and field."""
    settings = get_obj().settings()
    config = _config(settings, rules)
    if rules is None:
        from swarmdeck.guardrails.config import load_guardrails

        guard = load_guardrails(settings.guardrails)
        budgets = f", {len(guard.budgets)} budget(s)" if guard.budgets else ""
    else:
        budgets = ""
    if not config.rules:
        click.echo(f"no rules{budgets}: nothing is decided automatically")
        return
    click.echo(f"{len(config.rules)} rule(s) valid{budgets}:")
    for rule in config.rules:
        kinds = "/".join(rule.match.kinds())
        expiry = f"; on expiry {rule.on_expiry}" if rule.on_expiry else ""
        say(f"  {rule.name} ({kinds}): {' -> '.join(rule.path)}{expiry}")
    # Warnings, not errors: the rules are valid and stay in force; exit status stays 0.
    for rule in config.rules:
        for warning in rule.warnings():
            say(f"warning: {warning}", err=True)


@policy.command("test")
@common_options
@click.option(
    "--rules",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A candidate rules file instead of the configured rules.",
)
@click.option("--since", default="7d", show_default=True, help="Replay history this far back.")
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@with_store
async def test_(
    store: Store, settings: Settings, rules: Path | None, since: str, as_json: bool
) -> None:
    """Replay stored history against the rules and report what each would have decided.

    Nothing is written. Each rule is compared with what actually happened, e.g.
    "rule routine-reads would have auto-approved 37 of 40 requests; 3 were
    rejected by a human".
    """
    from swarmdeck.policy.dryrun import dry_run

    config = _config(settings, rules)
    if not config.rules:
        raise CliError("no rules to test (configure [[policy.rules]] or pass --rules FILE)")
    report = await dry_run(store, config, since=parse_since(since, time.time()))
    if as_json:
        emit_json(report.to_dict())
        return
    for line in report.lines():
        say(line)
