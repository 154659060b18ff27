"""The gitleaks rule set as data: loading, RE2 translation, gitleaks' semantics, config."""

from __future__ import annotations

import logging
import re

import pytest

from swarmdeck.config import ConfigError
from swarmdeck.guardrails import GuardrailConfig, load_guardrails
from swarmdeck.guardrails.ingest import scanner_for
from swarmdeck.guardrails.rulesets import (
    GITLEAKS_TOML,
    SUPERSEDED,
    RuleSet,
    SetRule,
    default_rule_set,
    load_gitleaks,
    parse_gitleaks,
    translate_re2,
)

STRIPE = "sk_" + "live_" + "51HqLyjWDarjtT1zdp7dcXyZa"


def test_every_vendored_rule_is_used_or_skipped_for_a_stated_reason() -> None:
    rules = load_gitleaks(compile=True)  # translates and compiles every regex now
    assert len(rules.rules) >= 200
    reasons = set(rules.skipped.values())
    assert all(
        r.startswith(("superseded by", "scoped to file paths", "no regex")) for r in reasons
    ), reasons  # no rule fails translation
    assert set(SUPERSEDED) <= set(rules.skipped)
    assert GITLEAKS_TOML.with_name("LICENSE.gitleaks").read_text().startswith("MIT License")


@pytest.mark.parametrize(
    ("re2", "python"),
    [
        (r"a(?i)b|c", r"a(?i:b)|(?i:c)"),
        (r"\b(p8e-(?i)[a-z0-9]{4})(?:x|$)", r"\b(p8e-(?i:[a-z0-9]{4}))(?:x|$)"),
        (r"(?i)abc(?-i:X)", r"(?i)abc(?-i:X)"),
        (r"\b(pat[[:alnum:]]{14})\b", r"\b(pat[a-zA-Z0-9]{14})\b"),
        (r"x(?:\n|\z)", r"x(?:\n|\Z)"),
        (r"[]a]", r"[\]a]"),
    ],
)
def test_translate_re2(re2: str, python: str) -> None:
    assert translate_re2(re2) == python
    re.compile(python)


def test_translation_keeps_meaning_of_a_mid_pattern_flag() -> None:
    rx = re.compile(translate_re2(r"\b(LTAI(?i)[a-z0-9]{4})\b"), re.ASCII)
    assert rx.search("LTAIAbCd") and not rx.search("ltaiabcd")


def test_providers_the_builtins_never_had() -> None:
    rules = default_rule_set()
    cases = {
        "stripe-access-token": f"STRIPE_SECRET_KEY={STRIPE}\n",
        "sendgrid-api-token": "SG."
        + "aB3dE5gH7jK9mN1pQ3sT5v"
        + "."
        + "wX7zA9cE1gI3kM5oQ7sU9wY1aC3eG5iK7mO9qS1uW3y",
        "shopify-access-token": "shpat_" + "a1b2c3d4e5f60718293a4b5c6d7e8f90",
    }
    for rule_id, text in cases.items():
        hits = rules.hits(text)
        assert [h.detector for h in hits] == [rule_id], (rule_id, hits)


def test_gitleaks_allowlists_and_entropy_apply() -> None:
    rules = default_rule_set()
    assert rules.hits("AKIAIOSFODNN7EXAMPLE") == []  # the rule's own allowlist: .+EXAMPLE$
    assert [h.detector for h in rules.hits("AKIA2E3F4G5H6I7J3K4L")] == ["aws-access-token"]
    assert rules.hits("sk_live_aaaaaaaaaaaaaaaa\n") == []  # below the rule's entropy


def test_keywords_gate_the_rules_and_overlapping_keywords_all_count() -> None:
    rules = default_rule_set()
    assert rules.candidates("running pytest tests/unit -q") == []
    ids = {r.id for r in rules.candidates(f"x={STRIPE}".lower())}
    assert "stripe-access-token" in ids


def test_parse_rejects_a_document_without_rules() -> None:
    with pytest.raises(ValueError, match="no \\[\\[rules\\]\\]"):
        parse_gitleaks({"title": "x"})


def test_a_rule_that_cannot_be_translated_is_logged_and_never_stops_ingest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = SetRule("broken", "", r"[[:nope:]]x", ["x"], 0.0, [])
    rules = RuleSet("t", [broken])
    with caplog.at_level(logging.WARNING, "swarmdeck.guardrails"):
        assert rules.hits("x x x") == []
        assert rules.hits("x") == []
    assert "rule broken cannot be used" in caplog.text
    skipped = parse_gitleaks(
        {"rules": [{"id": "b", "regex": "[[:nope:]]", "keywords": ["b"]}]}, compile=True
    )
    assert skipped.rules == [] and "not usable" in skipped.skipped["b"]


def test_config_turns_the_set_off_or_disables_one_rule() -> None:
    text = f"STRIPE_SECRET_KEY={STRIPE}\n"
    assert scanner_for(GuardrailConfig()).scan(text)
    assert scanner_for(GuardrailConfig(rule_set="none")).scan(text) == []
    off = load_guardrails({"disable": ["stripe-access-token"]})
    assert scanner_for(off).scan(text) == []
    with pytest.raises(ConfigError, match="unknown detector 'stripe'"):
        load_guardrails({"disable": ["stripe"]})


def test_a_builtin_wins_on_the_same_span() -> None:
    token = "ghp_" + "R8fXq2LmZ0aB3cD4eF5gH6iJ7kL8mN9oP0qR"
    assert [h.detector for h in scanner_for(GuardrailConfig()).scan(f"push {token}")] == [
        "github-token"
    ]
