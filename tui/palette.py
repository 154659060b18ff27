"""The command palette provider: the command table, then what the live state offers.

Every ``:`` command of :mod:`tui.commands` that runs without an argument is a hit
("swarm: focus a pane"), and so is each value a command takes that the deck knows of
(a workflow, a theme, a sort order); each runs the same handler as the ``:`` command,
and its help line is that command, so the palette teaches the prompt. Then one
decision per open escalation and verb, and the details of each escalation and agent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider
from textual.content import Content
from textual.markup import escape

from swarmdeck.tui.commands import COMMANDS, HandlerId
from swarmdeck.tui.decisions import DECISION_VERBS
from swarmdeck.tui.model import SORTS
from swarmdeck.tui.safe_text import clean

if TYPE_CHECKING:
    from swarmdeck.tui.app import SwarmdeckApp

#: Escalations and agents offered in the palette at most (palette finds, / filters).
MAX_ITEMS = 300

Entry = tuple[str, Callable[[], Any], str]


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

    @property
    def deck(self) -> SwarmdeckApp:
        """The app this provider serves (Textual types it as any App)."""
        return cast("SwarmdeckApp", self.app)

    def _bare(self) -> list[Entry]:
        """Each command that runs without an argument: what the palette opens on."""
        app = self.deck
        out: list[Entry] = []
        for c in COMMANDS:
            if not c.needs_arg:
                aliases = f"  (also {' '.join(f':{a}' for a in c.aliases)})" if c.aliases else ""
                run = partial(app.run_handler, c.handler, "")
                # The help line is the command it runs: bare, even where a value may follow.
                out.append((f"{c.name}: {c.description}", run, escape(f":{c.name}{aliases}")))
        return out

    def _with_values(self) -> list[Entry]:
        """Each command once per value it takes that the deck knows of."""
        app = self.deck
        out: list[Entry] = []
        for c in COMMANDS:
            for value in self._values(c.handler)[:MAX_ITEMS]:
                # Workflow names are agent text: cleaned, and escaped for the help's markup.
                shown = clean(value, max_len=100, single_line=True)
                run = partial(app.run_handler, c.handler, value)
                out.append((f"{c.name}: {shown}", run, escape(f":{c.name} {shown}")))
        return out

    def _values(self, handler: HandlerId) -> Sequence[str]:
        app = self.deck
        if handler == "show_workflow":
            return [w.name for w in app.models.workflows]
        if handler == "set_theme":
            return sorted(app.theme_names)
        if handler == "set_sort":
            return SORTS
        return ()

    def _commands(self) -> list[Entry]:
        app = self.deck
        out = self._bare() + self._with_values()
        open_items = [e for e in app.models.inbox.items.values() if e.state == "open"]
        for e in open_items[:MAX_ITEMS]:
            title = clean(e.title, max_len=80, single_line=True)
            # Ids are agent text too: cleaned of escapes, then escaped for the markup
            # the palette parses its help text with.
            shown_id = escape(clean(e.id, max_len=60, single_line=True))
            if not app.read_only:
                for verb in DECISION_VERBS:
                    if verb == "answer" and e.kind != "question":
                        continue  # only a question takes an answer
                    out.append(
                        (
                            f"inbox: {verb} {title}",
                            partial(app.decisions.request, verb, [e.id]),
                            shown_id,
                        )
                    )
            out.append((f"inbox: details {title}", partial(app.show_escalation, e.id), shown_id))
        for name in list(app.models.swarm.agents)[:MAX_ITEMS]:
            shown = clean(name, max_len=80, single_line=True)
            out.append((f"swarm: details {shown}", partial(app.show_agent, name), "Agent details"))
        return out

    async def discover(self) -> Hits:
        for text, callback, help_text in self._bare():
            yield DiscoveryHit(Content(text), callback, text=text, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, callback, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score, plain_highlight(matcher, text), callback, text=text, help=help_text
                )
