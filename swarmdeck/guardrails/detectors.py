"""Detectors for secrets and personal data, and the masking they drive.

Design for the ingest hot path: almost every event has no hit, so :meth:`Scanner.scan`
first runs one cheap *trigger* regex (literal prefixes such as ``AKIA``, ``@``, long
digit runs, long token runs); only text that trips it goes through the precise
detectors and their checks (Luhn, IBAN mod-97, Shannon entropy).

False positives cost trust, so every detector is narrow: hex strings (commit hashes,
SHA-256 digests) cannot reach the entropy threshold, UUIDs and paths are excluded
explicitly, and number-shaped personal data must pass its checksum.

A hit is replaced by a placeholder ``[secret:aws-access-key …7QX2]`` that keeps a
short hint which does not give the secret away (the last four characters of a long
key, the domain of an email, the last four digits of a card). Placeholders are
never detected again, so masking is idempotent.

Detectors read the *normalised* text (:mod:`swarmdeck.guardrails.normalise`: zero-width
and format characters, controls and terminal escapes out, fullwidth look-alikes folded),
and hits are mapped back to the original, so a key split by U+200B or ``ESC[0m`` is
found and its whole original span masked. After the built-in detectors, a maintained
provider rule set runs (:mod:`swarmdeck.guardrails.rulesets`, gitleaks' rules); on the
same span a built-in wins, so placeholders keep their familiar names.
"""

from __future__ import annotations

import base64
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from swarmdeck.guardrails.normalise import normalise

if TYPE_CHECKING:
    from swarmdeck.guardrails.rulesets import RuleSet

#: The shape of every placeholder this module writes.
PLACEHOLDER = re.compile(r"\[(?:secret|pii):[A-Za-z0-9_.-]{1,64}(?: [^\]\n]{0,48})?\]")


@dataclass(frozen=True, slots=True)
class Hit:
    """One finding in one text: where, what, and how it is shown once masked."""

    start: int
    end: int
    detector: str
    category: str
    """``secret`` or ``pii``."""
    hint: str
    severity: str | None = None

    @property
    def placeholder(self) -> str:
        return f"[{self.category}:{self.detector}{' ' + self.hint if self.hint else ''}]"


# ----------------------------------------------------------------------------- checks


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|35|6011|65|62)")


def card_ok(text: str) -> bool:
    digits = re.sub(r"[ -]", "", text)
    if not 13 <= len(digits) <= 19 or len(set(digits)) < 2:
        return False
    return bool(_CARD_PREFIX.match(digits)) and luhn_ok(digits)


#: IBAN lengths of common countries (others accepted within 15..34).
_IBAN_LENGTH = {
    "AT": 20, "BE": 16, "CH": 21, "CZ": 24, "DE": 22, "DK": 18, "ES": 24, "FI": 18,
    "FR": 27, "GB": 22, "IE": 22, "IT": 27, "LU": 20, "NL": 18, "NO": 15, "PL": 28,
    "PT": 25, "SE": 24,
}  # fmt: skip


def iban_ok(text: str) -> bool:
    iban = text.replace(" ", "").upper()
    if not 15 <= len(iban) <= 34:
        return False
    expected = _IBAN_LENGTH.get(iban[:2])
    if expected is not None and len(iban) != expected:
        return False
    moved = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def shannon(text: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(text)
    if n == 0:
        return 0.0
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_HEX = re.compile(r"[0-9a-fA-F]+")


def _classes(text: str) -> int:
    return (
        any(c.islower() for c in text)
        + any(c.isupper() for c in text)
        + any(c.isdigit() for c in text)
    )


_WORD = re.compile(r"[A-Z][a-z]{2,}")
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")


def _looks_made_up(token: str) -> bool:
    """A long mixed token that is not random: an identifier, an alphabet, encoded prose.

    ``NFCISO15693ReadMultipleBlocksConfiguration`` is mostly capitalised words;
    ``ABCDEFGHIJ...0123456789`` is a run; ``VGhlc2UgYXJlbid0...`` is base64 of a sentence.
    A random key has none of these.
    """
    if sum(len(w) for w in _WORD.findall(token)) * 2 >= len(token):
        return True
    run = longest = 1
    for a, b in itertools.pairwise(token):
        run = run + 1 if ord(b) == ord(a) + 1 else 1
        longest = max(longest, run)
    if longest >= 5:
        return True
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
        decoded = raw.decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return False
    letters = sum(c.isalpha() or c == " " for c in decoded)
    return " " in decoded and decoded.isprintable() and letters >= 0.8 * len(decoded)


def _tail(text: str, n: int = 4) -> str:
    """The last ``n`` characters, only when the secret is long enough to spare them."""
    return f"…{text[-n:]}" if len(text) >= 16 else ""


# ----------------------------------------------------------------------------- detectors


@dataclass(frozen=True, slots=True)
class Detector:
    name: str
    category: str
    regex: re.Pattern[str]
    hint: Callable[[str], str] = _tail
    check: Callable[[str], bool] | None = None
    group: int = 0
    """Which group is the secret (0: the whole match)."""
    severity: str | None = None


def _openai_ok(text: str) -> bool:
    body = text.split("-", 1)[1]
    return _classes(body) == 3


def _email_hint(text: str) -> str:
    return "…@" + text.rsplit("@", 1)[1]


def _email_ok(text: str) -> bool:
    local = text.rsplit("@", 1)[0].lower()
    return local not in ("git", "noreply", "no-reply")


def _digits_tail(text: str) -> str:
    digits = re.sub(r"\D", "", text)
    return f"…{digits[-4:]}"


def _phone_hint(text: str) -> str:
    digits = re.sub(r"\D", "", text)
    return f"…{digits[-2:]}"


def _phone_ok(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    return 8 <= len(digits) <= 15 and len(set(digits)) >= 3


def _iban_hint(text: str) -> str:
    compact = text.replace(" ", "")
    return f"{compact[:2]}…{compact[-3:]}"


def _key_hint(text: str) -> str:
    match = re.match(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY", text)
    kind = (match.group(1).strip() if match else "") or "PKCS8"
    return kind.replace(" ", "-")


def _key_ok(text: str) -> bool:
    """A key block has a body: a bare ``-----BEGIN ... PRIVATE KEY-----`` marker is code."""
    body = text.split("-----", 2)[-1]
    return len(re.findall(r"[A-Za-z0-9+/=]", body.split("-----END", 1)[0])) >= 16


def _assignment_ok(text: str) -> bool:
    if "(" in text or "[" in text:
        return False  # code (``password = read_secret(path)``), not a literal
    if sum(len(w) for w in _WORD.findall(text)) * 2 >= len(text) or _DOTTED.fullmatch(text):
        return False  # a type or a name (``private_key: rsa.RSAPrivateKey``), not a literal
    return (
        len(text) >= 12
        and _classes(text) >= 2
        and shannon(text) >= 3.0
        and not _UUID.fullmatch(text)
    )


def _b(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags)


_TOKEN_CHARS = "A-Za-z0-9_\\-"  # noqa: S105

SECRET_DETECTORS: tuple[Detector, ...] = (
    Detector(
        "private-key",
        "secret",
        _b(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
            r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)"
        ),
        hint=_key_hint,
        check=_key_ok,
    ),
    Detector(
        "aws-access-key",
        "secret",
        _b(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?![A-Z0-9])"),
    ),
    Detector(
        "aws-secret-key",
        "secret",
        _b(
            r"(?i)aws_?secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
        ),
        group=1,
    ),
    Detector(
        "gcp-api-key", "secret", _b(r"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])")
    ),
    Detector(
        "azure-storage-key",
        "secret",
        _b(r"(?i)AccountKey=([A-Za-z0-9+/]{86}==)"),
        group=1,
    ),
    Detector(
        "github-token",
        "secret",
        _b(
            r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{50,255})(?![A-Za-z0-9_])"
        ),
    ),
    Detector(
        "gitlab-token",
        "secret",
        _b(rf"(?<![{_TOKEN_CHARS}])glpat-[A-Za-z0-9_-]{{20,}}(?![{_TOKEN_CHARS}])"),
    ),
    Detector("slack-token", "secret", _b(r"(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,}")),
    Detector(
        "slack-webhook",
        "secret",
        _b(r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,}"),
    ),
    Detector(
        "anthropic-key",
        "secret",
        _b(rf"(?<![{_TOKEN_CHARS}])sk-ant-[A-Za-z0-9_-]{{20,}}(?![{_TOKEN_CHARS}])"),
    ),
    Detector(
        "openai-key",
        "secret",
        _b(
            rf"(?<![{_TOKEN_CHARS}])sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{{20,}}(?![{_TOKEN_CHARS}])"
        ),
        check=_openai_ok,
    ),
    Detector(
        "jwt",
        "secret",
        _b(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{10,}"),
    ),
    Detector(
        "password-assignment",
        "secret",
        _b(
            r"(?i)\b(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|"
            r"client[_-]?secret|private[_-]?key)[\"']?\s*[:=]\s*[\"']?([^\s\"'`,;]{12,200})"
        ),
        check=_assignment_ok,
        group=1,
    ),
)

PII_DETECTORS: tuple[Detector, ...] = (
    Detector(
        "email",
        "pii",
        _b(
            r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
            r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])"
        ),
        hint=_email_hint,
        check=_email_ok,
    ),
    Detector(
        "card-number",
        "pii",
        _b(
            r"(?<![\d.,-])(?:\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{5}|\d{13,19})"
            r"(?!\d|[.,-]\d)"
        ),
        hint=_digits_tail,
        check=card_ok,
    ),
    Detector(
        "iban",
        "pii",
        _b(
            r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?"
            r"(?![A-Za-z0-9])"
        ),
        hint=_iban_hint,
        check=iban_ok,
    ),
    Detector(
        "phone",
        "pii",
        _b(
            r"(?<![\w+.-])(?:\+[1-9]\d{0,2}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}"
            r"(?:[ .-]?\d{2,4}){1,4}"
            r"|\(\d{3}\) ?\d{3}[ .-]\d{4}|\d{3}[ .-]\d{3}[ .-]\d{4})(?![\w.-]*\d)"
        ),
        hint=_phone_hint,
        check=_phone_ok,
    ),
)

HIGH_ENTROPY = "high-entropy"

BUILTIN_NAMES: frozenset[str] = frozenset(
    [d.name for d in SECRET_DETECTORS] + [d.name for d in PII_DETECTORS] + [HIGH_ENTROPY]
)

#: Cheap gates in front of each built-in detector, so a text runs only the detectors it
#: could possibly hit: ``literal`` needles (case-sensitive, one combined regex for all),
#: ``lower`` needles (searched in the lowercased text, and only if it has ``:`` or ``=``),
#: ``at`` (the text has an ``@``) and ``digits`` (eight digits, separators allowed).
GATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "private-key": ("literal", ("PRIVATE KEY",)),
    "aws-access-key": ("literal", ("AKIA", "ASIA", "ABIA", "ACCA")),
    "aws-secret-key": ("lower", ("secret",)),
    "gcp-api-key": ("literal", ("AIza",)),
    "azure-storage-key": ("lower", ("accountkey",)),
    "github-token": ("literal", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    "gitlab-token": ("literal", ("glpat-",)),
    "slack-token": ("literal", ("xox",)),
    "slack-webhook": ("literal", ("hooks.slack.com",)),
    "anthropic-key": ("literal", ("sk-ant-",)),
    "openai-key": ("literal", ("sk-",)),
    "jwt": ("literal", ("eyJ",)),
    "password-assignment": ("lower", ("passw", "pwd", "secret", "key", "token")),
    "email": ("at", ()),
    "card-number": ("digits", ()),
    "iban": ("digits", ()),
    "phone": ("digits", ()),
}
_DIGITS = re.compile(r"\d(?:[ ().+-]{0,2}\d){7}")
_LONG_TOKEN = r"[A-Za-z0-9+/_-]{{{n},}}={{0,2}}"  # noqa: S105

#: Base64 integrity digests (``sha512-...``) are identifiers, not secrets.
DEFAULT_ALLOWLIST = (r"\bsha(?:1|256|384|512)-[A-Za-z0-9+/]+=*",)


class Scanner:
    """All enabled detectors, compiled once; :meth:`scan` and :meth:`mask` are the API."""

    def __init__(
        self,
        *,
        secrets: bool = True,
        personal_data: bool = True,
        disable: Iterable[str] = (),
        entropy_min_length: int = 32,
        entropy_threshold: float = 4.5,
        extra: Iterable[Detector] = (),
        allowlist: Iterable[str] = (),
        rule_set: RuleSet | None = None,
    ) -> None:
        off = set(disable)
        self.rule_set = rule_set.without(off) if rule_set is not None and secrets else None
        builtins: list[Detector] = []
        if secrets:
            builtins += [d for d in SECRET_DETECTORS if d.name not in off]
        if personal_data:
            builtins += [d for d in PII_DETECTORS if d.name not in off]
        self.entropy = secrets and HIGH_ENTROPY not in off
        self.entropy_min_length = entropy_min_length
        self.entropy_threshold = entropy_threshold
        self.extra = list(extra)
        self.detectors = builtins + self.extra
        self._long_token = re.compile(
            r"(?<![A-Za-z0-9+/_=-])" + _LONG_TOKEN.format(n=entropy_min_length)
        )
        self._by_needle: dict[str, list[Detector]] = {}
        self._lower: list[tuple[tuple[str, ...], Detector]] = []
        self._at: list[Detector] = []
        self._digits: list[Detector] = []
        for det in builtins:
            gate, needles = GATES[det.name]
            if gate == "literal":
                for needle in needles:
                    self._by_needle.setdefault(needle, []).append(det)
            elif gate == "lower":
                self._lower.append((needles, det))
            elif gate == "at":
                self._at.append(det)
            else:
                self._digits.append(det)
        self._needles = (
            re.compile(
                "|".join(re.escape(n) for n in sorted(self._by_needle, key=len, reverse=True))
            )
            if self._by_needle
            else None
        )
        self._allow = [re.compile(p) for p in (*DEFAULT_ALLOWLIST, *allowlist)]

    def _entropy_hits(self, text: str) -> Iterable[Hit]:
        for m in self._long_token.finditer(text):
            token = m.group(0).strip("=")
            if len(token) < self.entropy_min_length:
                continue
            if _HEX.fullmatch(token) or _UUID.search(token):
                continue  # commit hashes, digests, UUIDs
            if token.startswith("/") or (token.count("/") >= 3 and "+" not in token):
                continue  # paths
            if _classes(token) < 3 or sum(c.isdigit() for c in token) < 2:
                continue
            if shannon(token) < self.entropy_threshold or _looks_made_up(token):
                continue
            yield Hit(m.start(), m.start() + len(token), HIGH_ENTROPY, "secret", _tail(token))

    def _candidates(self, text: str, low: str | None) -> list[Detector]:
        """The detectors whose gate this text passes (usually none)."""
        run: list[Detector] = []
        if self._needles is not None:
            for needle in set(self._needles.findall(text)):
                run.extend(self._by_needle[needle])
        if self._lower and ("=" in text or ":" in text):
            low = text.lower() if low is None else low
            run.extend(det for needles, det in self._lower if any(n in low for n in needles))
        if self._at and "@" in text:
            run.extend(self._at)
        if self._digits and _DIGITS.search(text):
            run.extend(self._digits)
        run.extend(self.extra)
        return list(dict.fromkeys(run)) if len(run) > 1 else run

    def scan(self, text: str) -> list[Hit]:
        """Findings in ``text``, non-overlapping, in order of position.

        Spans are in ``text`` itself; detection ran on its normalised form, so a hit's
        span covers any invisible characters or escapes that were inside the secret.
        """
        if not text:
            return []
        normal, spans = normalise(text)
        hits = self._scan(normal)
        if spans is None or not hits:
            return hits
        mapped = []
        for hit in hits:
            start, end = spans.original(hit.start, hit.end)
            mapped.append(replace(hit, start=start, end=end))
        return mapped

    def _scan(self, text: str) -> list[Hit]:
        low = text.lower() if self.rule_set is not None else None
        found: list[Hit] = []
        for det in self._candidates(text, low):
            for m in det.regex.finditer(text):
                group = det.group if det.group <= (det.regex.groups or 0) else 0
                value = m.group(group)
                if not value or (det.check is not None and not det.check(value)):
                    continue
                start, end = m.span(group)
                found.append(Hit(start, end, det.name, det.category, det.hint(value), det.severity))
        if self.rule_set is not None:
            found.extend(self.rule_set.hits(text, low))
        if self.entropy:
            # Generic last: a specific detector's finding wins over an overlapping long token.
            for hit in self._entropy_hits(text):
                if not any(f.start < hit.end and hit.start < f.end for f in found):
                    found.append(hit)
        if not found:
            return []
        # Placeholders already in the text and allowlisted spans are never hits.
        shielded = [m.span() for m in PLACEHOLDER.finditer(text)]
        for allow in self._allow:
            shielded.extend(m.span() for m in allow.finditer(text))
        found.sort(key=lambda h: (h.start, -(h.end - h.start)))
        result: list[Hit] = []
        last_end = -1
        for hit in found:
            if hit.start < last_end:
                continue  # overlaps a longer or earlier hit
            if any(s < hit.end and hit.start < e for s, e in shielded):
                continue
            result.append(hit)
            last_end = hit.end
        return result

    def mask(self, text: str, hits: list[Hit] | None = None) -> str:
        """``text`` with every hit replaced by its placeholder (unchanged when no hit)."""
        hits = self.scan(text) if hits is None else hits
        if not hits:
            return text
        out: list[str] = []
        pos = 0
        for hit in hits:
            out.append(text[pos : hit.start])
            out.append(hit.placeholder)
            pos = hit.end
        out.append(text[pos:])
        return "".join(out)


def custom_detector(name: str, regex: str, category: str, severity: str | None) -> Detector:
    compiled = re.compile(regex)
    return Detector(name, category, compiled, group=1 if compiled.groups else 0, severity=severity)
