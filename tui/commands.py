"""The command palette provider: "area: verb target" commands built from the live state."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider
from textual.content import Content
from textual.markup import escape

from swarmdeck.tui.safe_text import clean

if TYPE_CHECKING:
    from swarmdeck.tui.app import SwarmdeckApp

#: Escalations and agents offered in the palette at most (palette finds, / filters).
MAX_ITEMS = 300


def plain_highlight(matcher: Matcher, candidate: str) -> Content:
    """Like ``Matcher.highlight`` but never parses the candidate as markup (agent text)."""
    content = Content(candidate)
    score, offsets = matcher.fuzzy_search.match(matcher.query, candidate)
    if score:
        for offset in offsets:
            if not candidate[offset].isspace():
                content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class SwarmdeckCommands(Provider):
    """Commands for panes, workflows, themes, every open escalation and the agents."""

    def _commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        app: SwarmdeckApp = self.app  # type: ignore[assignment]
        out: list[tuple[str, Callable[[], Any], str]] = [
            ("swarm: show", partial(app.action_pane, "swarm"), "Focus the Swarm pane"),
            ("inbox: show", partial(app.action_pane, "inbox"), "Focus the Inbox pane"),
            ("workflow: show", partial(app.action_pane, "workflow"), "Focus the Workflow pane"),
            ("adapters: show health", app.action_adapters, "Adapter health and dead letters"),
            ("audit: show", app.action_audit, "The audit chain, verified"),
            ("metrics: show", app.action_metrics, "Outcome velocity"),
            ("help: keys", app.action_help, "Every key"),
        ]
        for w in app.models.workflows[:MAX_ITEMS]:
            name = clean(w.name, max_len=100, single_line=True)
            out.append(
                (f"workflow: {name}", partial(app.select_workflow, w.name), "Show this workflow")
            )
        for theme in sorted(app.theme_names):
            out.append((f"theme: {theme}", partial(setattr, app, "theme", theme), "Switch theme"))
        open_items = [e for e in app.models.inbox.items.values() if e.state == "open"]
        for e in open_items[:MAX_ITEMS]:
            title = clean(e.title, max_len=80, single_line=True)
            # Ids are agent text too: cleaned of escapes, then escaped for the markup
            # the palette parses its help text with.
            shown_id = escape(clean(e.id, max_len=60, single_line=True))
            if not app.read_only:
                for verb in ("approve", "reject", "reroute", "retry"):
                    out.append(
                        (
                            f"inbox: {verb} {title}",
                            partial(app.request_decision, verb, [e.id]),
                            shown_id,
                        )
                    )
            out.append((f"inbox: details {title}", partial(app.show_escalation, e.id), shown_id))
        for name in list(app.models.swarm.agents)[:MAX_ITEMS]:
            shown = clean(name, max_len=80, single_line=True)
            out.append((f"swarm: details {shown}", partial(app.show_agent, name), "Agent details"))
        return out

    async def discover(self) -> Hits:
        for text, callback, help_text in self._commands()[:7]:
            yield DiscoveryHit(Content(text), callback, text=text, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, callback, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score, plain_highlight(matcher, text), callback, text=text, help=help_text
                )
