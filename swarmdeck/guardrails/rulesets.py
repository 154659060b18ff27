"""A maintained provider rule set: gitleaks' rules, read as data, beside the built-in detectors.

A hand-kept list of providers falls behind (a Stripe live key passed unmasked), so the
~200 provider rules of gitleaks' default configuration (``rules/gitleaks.toml``, MIT,
vendored unchanged with its licence; see ``rules/SOURCE.md``) run after the built-in
detectors. Only the data is used: this module reads the TOML, translates each RE2
regex to Python's ``re`` and applies gitleaks' own semantics (keywords, secret group,
entropy, allowlists and stopwords).

Speed, because this runs on every ingested event: gitleaks only runs a rule when one of
its *keywords* occurs in the lowercased text. Here all keywords go into one Aho-Corasick
automaton (``pyahocorasick``), one pass per text; a rule's own regex is translated and
compiled on first use, so a short-lived hook process compiles only what its input needs.

Skipped rules (``RuleSet.skipped`` says why): rules scoped to file paths (an event has
no path), rules with no regex, and the two generic rules that the built-in detectors
replace with narrower ones tuned for agent output (``generic-api-key`` ->
``password-assignment`` and ``high-entropy``; ``jwt`` -> ``jwt``). Their keywords
("key", "token", "ey") occur in most log lines and would run a costly regex on each.
"""

from __future__ import annotations

import functools
import logging
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ahocorasick

from swarmdeck.guardrails.detectors import Hit, _tail, shannon

log = logging.getLogger("swarmdeck.guardrails")

#: The vendored gitleaks configuration.
GITLEAKS_TOML = Path(__file__).with_name("rules") / "gitleaks.toml"

#: gitleaks rules the built-in detectors replace, and by what.
SUPERSEDED = {
    "generic-api-key": "the built-in password-assignment and high-entropy detectors",
    "jwt": "the built-in jwt detector",
}

_POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "lower": "a-z",
    "upper": "A-Z",
    "xdigit": "0-9A-Fa-f",
    "word": r"\w",
    "space": r" \t\n\r\f\v",
    "punct": r"!-/:-@\[-`{-~",
}
_FLAG_GROUP = re.compile(r"\(\?([imsU-]+)\)")


def translate_re2(pattern: str) -> str:
    """An RE2 (Go) regex as a Python ``re`` pattern with the same meaning.

    RE2 allows a flag group such as ``(?i)`` mid-pattern, applying to the rest of the
    enclosing group (alternatives included); Python only allows it at the start. It
    becomes a scoped group closed where the enclosing group ends and re-opened after
    each ``|``. POSIX classes (``[[:alnum:]]``) are spelled out and ``\\z`` is ``\\Z``.

    Raises:
        ValueError: a construct with no Python equivalent (a negated POSIX class).
    """
    out: list[str] = []
    scopes: list[list[str]] = [[]]  # per open group: the flags of scopes opened in it
    in_class = False
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            out.append(r"\Z" if pattern[i + 1 : i + 2] == "z" else pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if pattern.startswith("[:", i):
                end = pattern.find(":]", i + 2)
                name = pattern[i + 2 : end] if end > 0 else ""
                if name not in _POSIX_CLASSES:
                    raise ValueError(f"unsupported POSIX class {name!r}")
                out.append(_POSIX_CLASSES[name])
                i = end + 2
                continue
            in_class = ch != "]"
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            if pattern[i : i + 1] == "^":
                out.append("^")
                i += 1
            if pattern[i : i + 1] == "]":
                out.append(r"\]")
                i += 1
            continue
        if ch == "(":
            flags = _FLAG_GROUP.match(pattern, i)
            if flags is not None:
                if i == 0 and "-" not in flags.group(1):
                    out.append(flags.group(0))  # a leading global flag means the same
                else:
                    out.append(f"(?{flags.group(1)}:")
                    scopes[-1].append(flags.group(1))
                i = flags.end()
                continue
            scopes.append([])
            out.append(ch)
        elif ch == ")":
            out.append(")" * len(scopes.pop()) + ")")
            if not scopes:
                raise ValueError("unbalanced ')'")
        elif ch == "|" and scopes[-1]:
            opened = scopes[-1]
            out.append(")" * len(opened) + "|" + "".join(f"(?{f}:" for f in opened))
        else:
            out.append(ch)
        i += 1
    out.append(")" * len(scopes.pop()))
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Allow:
    """One gitleaks allowlist of a rule (or the global one): what is not a secret."""

    target: str
    """``secret`` (the captured secret), ``match`` (the whole match) or ``line``."""
    regexes: tuple[re.Pattern[str], ...] = ()
    stopwords: tuple[str, ...] = ()

    def allows(self, secret: str, match: str, line: str) -> bool:
        subject = {"secret": secret, "match": match, "line": line}[self.target]
        if any(r.search(subject) for r in self.regexes):
            return True
        low = secret.lower()
        return any(word in low for word in self.stopwords)


class SetRule:
    """One provider rule; its RE2 regex is translated and compiled on first use."""

    __slots__ = ("_regex", "allows", "description", "entropy", "id", "keywords", "re2")

    def __init__(
        self,
        id: str,
        description: str,
        re2: str,
        keywords: Sequence[str],
        entropy: float,
        allows: Sequence[Allow],
    ) -> None:
        self.id = id
        self.description = description
        self.re2 = re2
        self.keywords = tuple(keywords)
        self.entropy = entropy
        self.allows = tuple(allows)
        self._regex: re.Pattern[str] | None = None

    @property
    def regex(self) -> re.Pattern[str]:
        """The compiled regex.

        Raises:
            ValueError, re.error: the RE2 pattern has no Python translation (the tests
                compile every vendored rule, so this only concerns a hand-edited file).
        """
        if self._regex is None:
            self._regex = re.compile(translate_re2(self.re2), re.ASCII)
        return self._regex

    def hits(self, text: str, global_allow: Allow | None) -> Iterable[Hit]:
        try:
            regex = self.regex
        except (ValueError, re.error) as exc:
            log.warning("guardrails: rule %s cannot be used: %s", self.id, exc)
            self.keywords = ()
            self._regex = re.compile(r"(?!)")  # never again: a broken rule must not stop ingest
            regex = self._regex
        for m in regex.finditer(text):
            group = next((g for g in range(1, (m.re.groups or 0) + 1) if m.group(g)), 0)
            secret = m.group(group)
            if not secret or (self.entropy and shannon(secret) <= self.entropy):
                continue
            start, end = m.span(group)
            line_start = text.rfind("\n", 0, start) + 1
            line_end = text.find("\n", end)
            line = text[line_start : line_end if line_end >= 0 else len(text)]
            allows = (*self.allows, global_allow) if global_allow else self.allows
            if any(a.allows(secret, m.group(0), line) for a in allows):
                continue
            yield Hit(start, end, self.id, "secret", _tail(secret))


class RuleSet:
    """Rules gated by their keywords; :meth:`hits` is what the scanner calls.

    Args:
        name: shown in logs and ``policy check``.
        rules: the usable rules.
        global_allow: the configuration's global allowlist.
        skipped: rule id -> why it is not used.
    """

    def __init__(
        self,
        name: str,
        rules: list[SetRule],
        global_allow: Allow | None = None,
        skipped: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.rules = rules
        self.global_allow = global_allow
        self.skipped = dict(skipped or {})
        self._by_keyword: dict[str, list[SetRule]] = {}
        for rule in rules:
            for keyword in rule.keywords:
                self._by_keyword.setdefault(keyword, []).append(rule)
        # One Aho-Corasick automaton over every keyword: every occurrence, overlapping
        # ones included, in one pass in C (gitleaks prefilters the same way).
        self._gate: Any = None
        if self._by_keyword:
            self._gate = ahocorasick.Automaton()
            for keyword in self._by_keyword:
                self._gate.add_word(keyword, keyword)
            self._gate.make_automaton()

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.rules]

    def without(self, names: Iterable[str]) -> RuleSet:
        """The same set minus some rules (``[guardrails] disable``)."""
        off = set(names)
        if not off & set(self.ids):
            return self
        kept = [r for r in self.rules if r.id not in off]
        return RuleSet(self.name, kept, self.global_allow, self.skipped)

    def candidates(self, lower: str) -> list[SetRule]:
        """The rules whose keywords occur in ``lower`` (the lowercased text)."""
        if self._gate is None:
            return []
        found = {keyword for _end, keyword in self._gate.iter(lower)}
        if not found:
            return []
        if len(found) == 1:
            return list(self._by_keyword[found.pop()])
        rules: dict[int, SetRule] = {}
        for keyword in found:
            rules.update((id(r), r) for r in self._by_keyword[keyword])
        return list(rules.values())

    def hits(self, text: str, lower: str | None = None) -> list[Hit]:
        """Findings of every triggered rule in ``text`` (they may overlap)."""
        rules = self.candidates(text.lower() if lower is None else lower)
        return [hit for rule in rules for hit in rule.hits(text, self.global_allow)]


def _allow(raw: dict[str, Any]) -> Allow | None:
    """One allowlist as data; None when it can never apply to an event (it needs a path)."""
    if raw.get("paths") and str(raw.get("condition", "OR")).upper() == "AND":
        return None
    if raw.get("commits") and str(raw.get("condition", "OR")).upper() == "AND":
        return None
    regexes = tuple(re.compile(translate_re2(r), re.ASCII) for r in raw.get("regexes", []))
    stopwords = tuple(str(w).lower() for w in raw.get("stopwords", []))
    if not regexes and not stopwords:
        return None
    return Allow(str(raw.get("regexTarget", "secret")), regexes, stopwords)


def parse_gitleaks(
    doc: dict[str, Any], name: str = "gitleaks", *, compile: bool = False
) -> RuleSet:
    """A rule set from a parsed gitleaks configuration (``tomllib`` output).

    Args:
        compile: translate and compile every rule's regex now, skipping (with the reason)
            those that fail; by default that happens on each rule's first use.

    Raises:
        ValueError: the document has no ``[[rules]]``.
    """
    raw_rules = doc.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise ValueError("not a gitleaks configuration: no [[rules]]")
    skipped: dict[str, str] = {}
    rules: list[SetRule] = []
    for raw in raw_rules:
        rule_id = str(raw.get("id", ""))
        if rule_id in SUPERSEDED:
            skipped[rule_id] = f"superseded by {SUPERSEDED[rule_id]}"
            continue
        if "regex" not in raw:
            skipped[rule_id] = "no regex (matches file paths only)"
            continue
        if "path" in raw:
            skipped[rule_id] = "scoped to file paths (an event has none)"
            continue
        keywords = [str(k).lower() for k in raw.get("keywords", [])]
        if not keywords:
            skipped[rule_id] = "no keywords (it would run on every text)"
            continue
        try:
            allows = [a for a in map(_allow, raw.get("allowlists", [])) if a is not None]
            rule = SetRule(rule_id, str(raw.get("description", "")), str(raw["regex"]),
                           keywords, float(raw.get("entropy", 0.0)), allows)  # fmt: skip
            if compile:
                rule.regex  # noqa: B018 (compiling is the point)
        except (ValueError, re.error) as exc:
            skipped[rule_id] = f"regex not usable in Python ({exc})"
            continue
        rules.append(rule)
    global_raw = doc.get("allowlist")
    global_allow = _allow(global_raw) if isinstance(global_raw, dict) else None
    return RuleSet(name, rules, global_allow, skipped)


def load_gitleaks(path: Path = GITLEAKS_TOML, *, compile: bool = False) -> RuleSet:
    """Read a gitleaks configuration file.

    Raises:
        OSError: unreadable. ValueError: not TOML, or no rules.
    """
    with path.open("rb") as fh:
        try:
            doc = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML ({exc})") from None
    return parse_gitleaks(doc, compile=compile)


@functools.cache
def default_rule_set() -> RuleSet:
    """The vendored gitleaks rules, parsed once per process."""
    return load_gitleaks()
