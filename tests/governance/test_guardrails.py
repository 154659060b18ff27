# ruff: noqa: E501  (the corpus is real-world-shaped strings, long by nature)
"""Detectors against a corpus of true and false positives, property tests, the ingest filter."""

from __future__ import annotations

import asyncio
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarmdeck.config import ConfigError
from swarmdeck.guardrails import GuardrailConfig, IngestFilter, Scanner, load_guardrails
from swarmdeck.guardrails.detectors import PLACEHOLDER, card_ok, iban_ok
from swarmdeck.store.db import Store
from swarmdeck.store.governance import reveal, vault_find
from tests.helpers.clock import Clock, Script

SCANNER = Scanner()

# (text, detector expected, the secret that must disappear)
TRUE_POSITIVES = [
    ("creds AKIAIOSFODNN7EXAMPLE in env", "aws-access-key", "AKIAIOSFODNN7EXAMPLE"),
    ("temp ASIAY34FZKBOKMUTVV7A ok", "aws-access-key", "ASIAY34FZKBOKMUTVV7A"),
    (
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws-secret-key",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    (
        "maps AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
        "gcp-api-key",
        "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
    ),
    (
        "DefaultEndpointsProtocol=https;AccountName=x;AccountKey="
        + "a" * 20
        + "B" * 20
        + "9" * 20
        + "c/+d" * 6
        + "xy==;",
        "azure-storage-key",
        "a" * 20 + "B" * 20 + "9" * 20 + "c/+d" * 6 + "xy==",
    ),
    (
        "push with ghp_R8fXq2LmZ0aB3cD4eF5gH6iJ7kL8mN9oP0qR",
        "github-token",
        "ghp_R8fXq2LmZ0aB3cD4eF5gH6iJ7kL8mN9oP0qR",
    ),
    ("token glpat-Xy12Ab34Cd56Ef78Gh90 used", "gitlab-token", "glpat-Xy12Ab34Cd56Ef78Gh90"),
    (
        "slack xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp",
        "slack-token",
        "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp",
    ),
    (
        "OPENAI_API_KEY=sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34",
        "openai-key",
        "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34",
    ),
    (
        "key sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe-AAAA",
        "anthropic-key",
        "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe-AAAA",
    ),
    (
        "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "jwt",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
    ),
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7Y3x\nq9Zk\n-----END RSA PRIVATE KEY-----",
        "private-key",
        "MIIEowIBAAKCAQEA7Y3x",
    ),
    ("db password: 'Tr0ub4dor&3-horse'", "password-assignment", "Tr0ub4dor&3-horse"),
    (
        "generic Zk8Qw2Lm9Xv4Rt7Np3Hs6Jd1Fb5Gc0Ya8Ue2Wi",
        "high-entropy",
        "Zk8Qw2Lm9Xv4Rt7Np3Hs6Jd1Fb5Gc0Ya8Ue2Wi",
    ),
    ("mail alice.smith+ops@example.co.uk now", "email", "alice.smith+ops"),
    ("card 4111 1111 1111 1111 exp 12/29", "card-number", "4111 1111 1111 1111"),
    ("amex 378282246310005", "card-number", "378282246310005"),
    ("pay to DE89 3704 0044 0532 0130 00", "iban", "3704 0044 0532"),
    ("iban GB82WEST12345698765432", "iban", "GB82WEST12345698765432"),
    ("call +44 20 7946 0958 today", "phone", "7946 0958"),
    ("call (415) 555-0132", "phone", "555-0132"),
]

FALSE_POSITIVES = [
    "merged 3f5e1a2b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f into main",
    "short sha 3f5e1a2 and tag v1.2.3",
    "request 123e4567-e89b-12d3-a456-426614174000 finished",
    "digest sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "integrity sha512-7iaw3Ur350mqGo7jwQrpkj9hiYB3Lkc/iBml1JQODbJ6wYX4oOHV+E+IvIh/1nsUNzLDBMxfqa2Ob1f1ACio/w==",
    "editing /home/dev/projects/swarmdeck/store/governance_helpers_v2.py",
    "see src/components/InboxPane/RenderHelpers/VirtualRowCache.tsx",
    "ULID 01ARZ3NDEKTSV4RRFFQ69G5FAV created",
    "object id 507f1f77bcf86cd799439011 loaded",
    "stripe charge ch_3MmlLrLkdIwHu7ix0snN0B15 ok",
    "base64 dGhpcyBpcyBqdXN0IGEgdGVzdA== decoded",
    "at 2026-11-23 10:00:00 the build took 1234567 ms",
    "pid 4242, port 8080, version 10.2.33, 3 of 7 steps",
    "ratio 0.4111111111111111 converged",
    "timestamp 1732406400000 and invoice 4111-22",
    "git clone git@github.com:acme/swarmdeck.git",
    "tokens: 1532 in, 377 out, cost 0.0042",
    "the sk-learn model and the token count are fine",
    "password reset flow needs a test",
    "IBAN check for DE00 0000 0000 0000 0000 00 failed",
    "use the @property decorator and pkg@1.2.3",
    "card number 4111 1111 1111 1112 is invalid",
    "[secret:aws-access-key …MPLE] was masked earlier",
    "phone extension 555-0132 only",
    # Found by scanning half a million lines of installed packages:
    "private_key = CacheKey(method, params_key, self._arm('private'))",
    "password = enforce_bytes(proxy_auth[1], name='proxy_auth')",
    "interface NFCISO15693ReadMultipleBlocksConfiguration",
    "_UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~'",
    "encoded VGhlc2UgYXJlbid0IHRoZSBkcm9pZHMgeW91J3JlIGxvb2tpbmcgZm9y",
    "def sign(private_key: PKCS7PrivateKeyTypes, password: _PasswordType | None = None):",
    '_SK_START = b"-----BEGIN OPENSSH PRIVATE KEY-----"',
    "def load(self, private_key: ed25519.Ed25519PrivateKey, f_priv: _FragList):",
]


@pytest.mark.parametrize(("text", "detector", "secret"), TRUE_POSITIVES)
def test_true_positives_are_masked(text: str, detector: str, secret: str) -> None:
    hits = SCANNER.scan(text)
    assert detector in [h.detector for h in hits], hits
    masked = SCANNER.mask(text)
    assert secret not in masked
    assert f":{detector}" in masked


@pytest.mark.parametrize("text", FALSE_POSITIVES)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert SCANNER.scan(text) == []
    assert SCANNER.mask(text) is text


def test_hints_keep_little() -> None:
    assert SCANNER.mask("k AKIAIOSFODNN7EXAMPLE") == "k [secret:aws-access-key …MPLE]"
    assert SCANNER.mask("a bob@corp.example") == "a [pii:email …@corp.example]"
    assert SCANNER.mask("c 4111111111111111") == "c [pii:card-number …1111]"


def test_checksums() -> None:
    assert card_ok("4111111111111111")
    assert not card_ok("4111111111111112")
    assert iban_ok("DE89370400440532013000")
    assert not iban_ok("DE89370400440532013001")


def test_allowlist_and_extra_patterns() -> None:
    config = load_guardrails(
        {
            "allowlist": [r"AKIAIOSFODNN7EXAMPLE"],
            "patterns": [{"name": "ticket", "regex": r"\bSEC-\d{4}\b", "category": "pii"}],
            "disable": ["phone"],
        }
    )
    from swarmdeck.guardrails.ingest import scanner_for

    scanner = scanner_for(config)
    assert scanner.mask("doc AKIAIOSFODNN7EXAMPLE") == "doc AKIAIOSFODNN7EXAMPLE"
    assert scanner.mask("see SEC-1234 now") == "see [pii:ticket] now"
    assert scanner.scan("call +44 20 7946 0958") == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"patterns": [{"name": "bad", "regex": "(x"}]}, "guardrails.patterns[bad].regex: not a valid regular expression"),
        ({"budgets": [{"name": "daily"}]}, "guardrails.budgets[daily]: give max_tokens or max_cost_usd"),
        ({"budgets": [{"name": "d", "period": "soon", "max_tokens": 5}]}, "guardrails.budgets[d].period"),
        ({"disable": ["emails"]}, "guardrails.disable: unknown detector 'emails'"),
        ({"entropy": 3}, "guardrails.entropy: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_config_errors_name_the_field(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_guardrails(raw)
    assert message in str(info.value)


# ----------------------------------------------------------------------------- properties

_prose = st.text(
    alphabet=string.ascii_letters + string.digits + " .,:;-_/()'\"\n", min_size=0, max_size=120
)
# Secrets that identify themselves (no context needed around them).
_SELF_EVIDENT = {"aws-access-key", "gcp-api-key", "github-token", "gitlab-token", "slack-token",
                 "openai-key", "anthropic-key", "high-entropy", "card-number"}  # fmt: skip
_secret = st.sampled_from([s for _t, d, s in TRUE_POSITIVES if d in _SELF_EVIDENT])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_prose)
def test_masking_is_idempotent(text: str) -> None:
    once = SCANNER.mask(text)
    assert SCANNER.mask(once) == once


@settings(max_examples=300, deadline=None)
@given(_prose)
def test_no_hit_no_change(text: str) -> None:
    if not SCANNER.scan(text):
        assert SCANNER.mask(text) == text


@settings(max_examples=200, deadline=None)
@given(_prose, _secret, _prose)
def test_secret_always_removed(before: str, secret: str, after: str) -> None:
    text = f"{before} {secret} {after}"
    masked = SCANNER.mask(text)
    assert secret not in masked
    assert SCANNER.mask(masked) == masked
    assert PLACEHOLDER.search(masked)


# ----------------------------------------------------------------------------- ingest filter


async def test_ingest_masks_keeps_original_and_raises_escalation(
    clocked_store: Store, clocked_ev: Script, clock: Clock
) -> None:
    flt = IngestFilter(GuardrailConfig(), store=clocked_store, clock=clock)
    secret = "AKIAIOSFODNN7EXAMPLE"
    events = [
        clocked_ev(
            "agent.status", agent="coder-2", data={"state": "working", "activity": "editing"}
        ),
        clocked_ev("log", agent="coder-2", task="T-17", data={"text": f"export AWS_KEY={secret}"}),
        clocked_ev("log", agent="coder-2", task="T-17", data={"text": "all good"}),
    ]
    out = await flt(events, "demo")
    assert out[0] is events[0]
    assert out[-1] is events[2]
    assert [e.kind for e in out] == ["agent.status", "log", "escalation.raised", "log"]
    assert out[1].data.text == "export AWS_KEY=[secret:aws-access-key …MPLE]"  # type: ignore[union-attr]
    esc = out[2]
    assert esc.data.kind == "guardrail"  # type: ignore[union-attr]
    assert "task T-17 / log text" in esc.data.title  # type: ignore[union-attr]
    assert secret not in esc.model_dump_json()
    await clocked_store.append(out, origin="demo")
    # The database holds no copy of the secret outside the vault.
    rows = await clocked_store._fetchall("SELECT data FROM events")
    assert not any(secret in (r[0] or "") for r in rows)
    [raised] = await clocked_store.escalations(state="open")
    assert raised.agent == "coder-2"
    assert raised.task == "T-17"
    # Revealing is audited with who and what, never the secret itself.
    [kept] = await reveal(clocked_store, actor="ann@box", reason="rotate it", escalation=raised.id)
    assert kept.original == secret
    assert kept.location == "task T-17 / log text"
    [record] = [r for r in await clocked_store.audit_records() if r.action == "guardrail.reveal"]
    assert record.actor == "ann@box"
    assert record.subject == raised.id
    assert secret not in str(record.detail)
    assert (await clocked_store.audit_verify()).ok

    # The same secret again from the same agent: masked and kept, no second escalation.
    again = await flt(
        [clocked_ev("log", agent="coder-2", data={"text": f"still {secret}"})], "demo"
    )
    assert [e.kind for e in again] == ["log"]
    assert len(await vault_find(clocked_store, agent="coder-2")) == 2


async def test_ingest_redelivery_is_idempotent(
    clocked_store: Store, clocked_ev: Script, clock: Clock
) -> None:
    event = clocked_ev("log", agent="a", data={"text": "mail bob@corp.example"})
    for _ in range(2):
        flt = IngestFilter(
            GuardrailConfig(), store=clocked_store, clock=clock
        )  # a restarted collector
        await clocked_store.append(await flt([event], "demo"), origin="demo")
    assert len(await clocked_store.escalations()) == 1
    assert len(await vault_find(clocked_store)) == 1


async def test_disabled_filter_passes_through(clocked_ev: Script) -> None:
    flt = IngestFilter(GuardrailConfig(enabled=False))
    events = [clocked_ev("log", data={"text": "AKIAIOSFODNN7EXAMPLE"})]
    assert await flt(events, "demo") is events


_KINDS_FIELDS = [("log", "text"), ("task.failed", "error"), ("task.progress", "note"),
                 ("agent.status", "activity"), ("task.completed", "result")]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_KINDS_FIELDS), _prose, st.one_of(st.none(), _secret), _prose)
def test_filter_never_lets_a_secret_through(
    kind_field: tuple[str, str], before: str, secret: str | None, after: str
) -> None:
    kind, field = kind_field
    text = f"{before} {secret} {after}" if secret else before + after
    data: dict[str, object] = {field: text}
    if kind == "agent.status":
        data["state"] = "working"
    from swarmdeck.store.events import make_event

    event = make_event(kind, id="x", source="s", agent="a", task="T-1", data=data)
    out = asyncio.run(IngestFilter(GuardrailConfig())([event], "demo"))
    dumped = "".join(e.model_dump_json() for e in out)
    if secret:
        assert secret not in dumped
        assert [e.kind for e in out] == [kind, "escalation.raised"]
    elif not SCANNER.scan(text):
        assert out == [event]
        assert out[0] is event


def test_dead_letter_raw_input_can_be_masked() -> None:
    flt = IngestFilter(GuardrailConfig())
    raw = b'{"kind": "log", "data": {"text": "key AKIAIOSFODNN7EXAMPLE"'  # malformed JSON
    assert (
        flt.mask_raw(raw)
        == b'{"kind": "log", "data": {"text": "key [secret:aws-access-key \xe2\x80\xa6MPLE]"'
    )
    clean = b'{"kind": "nope"}'
    assert flt.mask_raw(clean) is clean
    assert flt.mask_raw("mail bob@corp.example") == "mail [pii:email …@corp.example]"
