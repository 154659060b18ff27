""" "Decide and make a rule" from an inbox item, with the dry run shown before saving.

The manager has an open escalation in front of them and wants this kind of request
handled automatically from now on. The screen proposes a rule (match the escalation's
kind and the first word of its title; decide the way the manager chooses), and shows,
as the fields change, what that rule would have done over the last seven days
(the same report as ``swarmdeck policy test``). Saving:

1. decides this escalation with the chosen action (actor: the manager);
2. appends the rule to the config file as a ``[[policy.rules]]`` table (the file's
   other content and comments are kept; the whole policy is validated first and the
   file restored if the result does not parse);
3. records ``policy.rule_added`` in the audit chain.

A collector whose policy service watches this file (``PolicyService.watch``) applies
the rule at its next sweep, within seconds; otherwise it applies after the collector
restarts. Either way the changed rule set is audited as ``policy.rules_changed``.
"""

from __future__ import annotations

import json
import os
import re
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Select, Static

from swarmdeck.config import ConfigError, default_config_path
from swarmdeck.policy.dryrun import dry_run
from swarmdeck.policy.rules import PolicyConfig, load_policy
from swarmdeck.store.db import Store
from swarmdeck.store.errors import AlreadyDecided, InvalidDecision, NotFound
from swarmdeck.store.events import Action
from swarmdeck.store.models import Escalation
from swarmdeck.tui.safe_text import clean, safe

DRY_RUN_DAYS = 7

CSS = """
MakeRuleScreen { background: $surface; }
MakeRuleScreen > #rule-title { dock: top; height: 1; background: $panel; color: $text;
    text-style: bold; padding: 0 1; }
MakeRuleScreen VerticalScroll { padding: 0 1; }
MakeRuleScreen .row { height: 3; }
MakeRuleScreen .row > Label { width: 16; padding: 1 1 0 0; }
MakeRuleScreen .row > Input { width: 1fr; }
MakeRuleScreen .row > Select { width: 24; }
MakeRuleScreen #rule-escalation { margin-bottom: 1; }
MakeRuleScreen .heading { text-style: bold underline; margin-top: 1; }
MakeRuleScreen #rule-error { color: $error; height: auto; }
MakeRuleScreen #rule-buttons { height: 3; margin-top: 1; }
MakeRuleScreen #rule-buttons > Button { margin-right: 2; }
"""

ACTIONS = [("approve", "approve"), ("reject (with reason)", "reject")]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "rule"


def first_word(title: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9_.:-]+)", title)
    return match.group(1) if match else ""


def _q(value: str) -> str:
    """A TOML basic string (JSON's escaping is valid TOML)."""
    return json.dumps(value, ensure_ascii=False)


def rule_dict(
    name: str, escalation_kind: str, title_pattern: str, action: str, reason: str
) -> dict[str, Any]:
    match: dict[str, Any] = {"escalation_kind": escalation_kind}
    if title_pattern:
        match["title"] = title_pattern
    quoted = reason.replace('"', "'")
    step = f'reject(reason="{quoted}")' if action == "reject" else action
    return {"name": name, "match": match, "path": [step]}


def rule_toml(rule: dict[str, Any]) -> str:
    match = ", ".join(f"{k} = {_q(str(v))}" for k, v in rule["match"].items())
    path = ", ".join(_q(s) for s in rule["path"])
    return f"[[policy.rules]]\nname = {_q(rule['name'])}\nmatch = {{ {match} }}\npath = [{path}]\n"


def append_rule(path: Path, rule: dict[str, Any]) -> PolicyConfig:
    """Append ``rule`` to the config file at ``path`` after validating the whole policy.

    Raises:
        ConfigError: the file does not parse, the name is taken, or the result is invalid.
    """
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        doc = tomllib.loads(before)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    section = doc.get("policy", {})
    existing = list(section.get("rules", [])) if isinstance(section, dict) else []
    if any(isinstance(r, dict) and r.get("name") == rule["name"] for r in existing):
        raise ConfigError(f"{path}: a rule named {rule['name']!r} already exists")
    load_policy({**(section if isinstance(section, dict) else {}), "rules": [*existing, rule]})
    text = rule_toml(rule)
    sep = (
        "" if not before or before.endswith("\n\n") else ("\n" if before.endswith("\n") else "\n\n")
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    new = not path.exists()
    with path.open("a", encoding="utf-8") as fh:
        fh.write(sep + text)
    if new:
        os.chmod(path, 0o600)
    try:
        after = tomllib.loads(path.read_text(encoding="utf-8"))
        return load_policy(after.get("policy", {}))
    except (tomllib.TOMLDecodeError, ConfigError) as exc:
        path.write_text(before, encoding="utf-8")  # put the file back as it was
        raise ConfigError(f"{path}: the rule could not be added ({exc})") from None


class MakeRuleScreen(Screen[dict[str, Any] | None]):
    """Decide an escalation and turn the decision into a policy rule."""

    DEFAULT_CSS = CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="make_rule.cancel"),
    ]

    def __init__(
        self,
        store: Store,
        escalation: Escalation,
        *,
        config_path: Path | None = None,
        actor: str | None = None,
        clock: Callable[[], float] | None = None,
        host: str | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.escalation = escalation
        self.decision_host = host
        self._config_path = config_path
        self._actor = actor
        self._clock = clock
        self.report_lines: list[str] = []

    # ------------------------------------------------------------------ context from the app

    def clock(self) -> float:
        if self._clock is not None:
            return self._clock()
        app_clock = getattr(self.app, "clock", None)
        return float(app_clock()) if callable(app_clock) else time.time()

    @property
    def actor(self) -> str:
        return self._actor or str(getattr(self.app, "actor", None) or "unknown@localhost")

    @property
    def config_path(self) -> Path:
        return self._config_path or getattr(self.app, "config_path", None) or default_config_path()

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        e = self.escalation
        word = first_word(e.title)
        yield Static(Text("Decide and make a rule"), id="rule-title")
        with VerticalScroll():
            yield Static(
                Text.assemble(
                    (f"{e.kind} · {e.severity} · ", "dim"),
                    safe(e.agent or "-", max_len=60, single_line=True),
                    "\n",
                    safe(e.title, "bold", max_len=300, single_line=True),
                ),
                id="rule-escalation",
            )
            with Horizontal(classes="row"):
                yield Label("rule name")
                yield Input(value=slug(f"auto-{word or e.kind}"), id="rule-name")
            with Horizontal(classes="row"):
                yield Label("decide")
                yield Select(ACTIONS, value="approve", allow_blank=False, id="rule-action")
            with Horizontal(classes="row"):
                yield Label("reason")
                yield Input(
                    placeholder="required to reject: the agent is told why", id="rule-reason"
                )
            with Horizontal(classes="row"):
                yield Label("title regex")
                yield Input(value=f"^{re.escape(word)}\\b" if word else "", id="rule-pattern")
            yield Static("The rule", classes="heading")
            yield Static("", id="rule-preview")
            yield Static(f"What it would have done (last {DRY_RUN_DAYS} days)", classes="heading")
            yield Static(Text("replaying…", style="dim"), id="rule-dry-run")
            yield Static("", id="rule-error")
            with Horizontal(id="rule-buttons"):
                yield Button("Decide and save rule", variant="primary", id="rule-save")
                yield Button("Cancel", id="rule-cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#rule-name", Input).focus()
        self.refresh_rule()

    # ------------------------------------------------------------------ the candidate rule

    def candidate(self) -> dict[str, Any]:
        action = self.query_one("#rule-action", Select).value
        return rule_dict(
            self.query_one("#rule-name", Input).value.strip(),
            self.escalation.kind,
            self.query_one("#rule-pattern", Input).value,
            str(action) if isinstance(action, str) else "approve",
            self.query_one("#rule-reason", Input).value.strip(),
        )

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self) -> None:
        self.refresh_rule()

    def refresh_rule(self) -> None:
        rule = self.candidate()
        self.query_one("#rule-preview", Static).update(Text(rule_toml(rule), style="cyan"))
        try:
            config = load_policy({"rules": [rule]})
        except ConfigError as exc:
            self._error(str(exc))
            self.query_one("#rule-dry-run", Static).update(Text("(fix the rule first)", "dim"))
            return
        self._error("")
        self._dry_run(config)

    @work(exclusive=True, group="dry-run", exit_on_error=False)
    async def _dry_run(self, config: PolicyConfig) -> None:
        since = self.clock() - DRY_RUN_DAYS * 86400
        report = await dry_run(self.store, config, since=since)
        self.report_lines = [r.headline() for r in report.rules]
        self.query_one("#rule-dry-run", Static).update(
            Group(*(safe(line, max_len=400) for line in self.report_lines))
        )

    def _error(self, message: str) -> None:
        self.query_one("#rule-error", Static).update(safe(message, max_len=500, single_line=False))

    # ------------------------------------------------------------------ actions

    @on(Button.Pressed, "#rule-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#rule-save")
    def save_pressed(self) -> None:
        self._save_worker()

    @work(exclusive=True, group="save-rule", exit_on_error=False)
    async def _save_worker(self) -> None:
        await self.save()

    async def save(self) -> dict[str, Any] | None:
        """Decide, append the rule, audit; returns what was done (or None on an error)."""
        rule = self.candidate()
        action: Action = "reject" if rule["path"][0].startswith("reject") else "approve"
        reason = self.query_one("#rule-reason", Input).value.strip() or None
        try:
            load_policy({"rules": [rule]})
        except ConfigError as exc:
            self._error(str(exc))
            return None
        path = self.config_path
        try:
            append_rule(path, rule)
        except (ConfigError, OSError) as exc:
            self._error(str(exc))
            return None
        decided: str
        lost: str | None = None
        try:
            await self.store.decide(
                self.escalation.id, action, actor=self.actor, reason=reason, host=self.decision_host
            )
            decided = action
        except (AlreadyDecided, NotFound, InvalidDecision) as exc:
            decided = f"not decided: {exc}"
            lost = str(exc)
        await self.store.audit(
            self.actor,
            "policy.rule_added",
            rule["name"],
            {
                "rule": rule,
                "file": str(path),
                "from_escalation": self.escalation.id,
                "decision": decided,
                "dry_run": self.report_lines,
            },
        )
        result = {"rule": rule["name"], "path": str(path), "decision": decided}
        self.app.notify(
            clean(
                f"rule {rule['name']} saved to {path}; the collector applies it when it reloads",
                max_len=300,
            ),
            title="policy",
            markup=False,
        )
        if lost is not None:
            # The rule is saved either way; the decision on this item lost a race.
            self.app.notify(
                clean(f"Your {action} was not applied: {lost}", max_len=300),
                title="too late",
                severity="warning",
                markup=False,
                timeout=10,
            )
        self.dismiss(result)
        return result
