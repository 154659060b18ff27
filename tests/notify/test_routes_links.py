"""Routes (filters, timing, quiet hours) and signed links, as pure functions."""

from __future__ import annotations

import os
import stat
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from swarmdeck.config import ConfigError, NotifyRoute, Settings
from swarmdeck.notify.links import LinkRefused, LinkSigner, load_key
from swarmdeck.notify.message import Button, Message
from swarmdeck.notify.routes import Route, format_span
from swarmdeck.notify.send import ntfy_actions, url_for_message
from swarmdeck.store.models import Escalation


def esc(**over: object) -> Escalation:
    fields: dict[str, object] = dict(
        id="E1",
        kind="approval",
        title="t",
        body="",
        severity="high",
        options=None,
        deadline=None,
        reroute_targets=None,
        agent="codex-1",
        task="T-1",
        workflow="release",
        source="s",
        origin="claude",
        state="open",
        raised_ts=1000.0,
        raised_seq=1,
        decided_ts=None,
        decided_by=None,
        action=None,
        reason=None,
        target=None,
        delivery=None,
        delivery_error=None,
        rev=1,
    )
    fields.update(over)
    return Escalation(**fields)  # type: ignore[arg-type]


def route(**over: object) -> Route:
    data: dict[str, object] = {"name": "r", "url": "json://127.0.0.1/x"}
    data.update(over)
    return Route.compile(NotifyRoute.model_validate(data))


def test_filters_severity_and_globs() -> None:
    r = route(min_severity="high", kind="approv*", agent=["codex-*"], vendor="claude*")
    assert r.wants(esc(), vendor="claude-code")
    assert not r.wants(esc(severity="normal"), vendor="claude-code")
    assert not r.wants(esc(kind="question"), vendor="claude-code")
    assert not r.wants(esc(agent="gemini-2"), vendor="claude-code")
    assert not r.wants(esc(), vendor="gemini")
    assert not r.wants(esc(), vendor=None)
    assert route(workflow="rel*").wants(esc(), None)
    assert not route(workflow="ops").wants(esc(workflow=None), None)


def test_due_after_deadline_and_budget() -> None:
    r = route(after="2m", deadline_warning="5m")
    assert r.due_at(esc()) == (1120.0, "waiting over 2m")
    # A deadline that comes sooner than `after` pulls the push forward.
    assert r.due_at(esc(deadline=1200.0)) == (900.0, "deadline")
    assert r.due_at(esc(kind="budget")) == (1120.0, "budget crossed")
    assert route(on=["adapter"]).due_at(esc()) is None
    assert route(on=["deadline"]).due_at(esc()) is None
    assert route(after="0").due_at(esc()) == (1000.0, "new")


def test_quiet_hours_cross_midnight_and_let_critical_through() -> None:
    tz = ZoneInfo("Europe/Paris")
    r = route(quiet_hours="22:00-07:00", timezone="Europe/Paris", quiet_severity="critical")
    night = datetime(2026, 12, 1, 23, 30, tzinfo=tz).timestamp()
    early = datetime(2026, 12, 2, 6, 59, tzinfo=tz).timestamp()
    day = datetime(2026, 12, 2, 12, 0, tzinfo=tz).timestamp()
    end = datetime(2026, 12, 2, 7, 0, tzinfo=tz).timestamp()
    assert r.quiet_until(night, "high") == end
    assert r.quiet_until(early, "normal") == end
    assert r.quiet_until(day, "high") is None
    assert r.quiet_until(night, "critical") is None


def test_bad_route_config_is_named() -> None:
    with pytest.raises(ConfigError, match=r"notify\[r\]\.timezone"):
        route(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="two notify routes"):
        Settings.model_validate(
            {"notify": [{"name": "a", "url": "json://x"}, {"name": "a", "url": "json://y"}]}
        )
    with pytest.raises(ValueError, match="after"):
        NotifyRoute.model_validate({"name": "a", "url": "json://x", "after": "soon"})


def test_url_is_secret_in_dumps() -> None:
    s = Settings.model_validate({"notify": [{"name": "a", "url": "ntfys://tk_secret@x/t"}]})
    assert "tk_secret" not in repr(s)
    assert "tk_secret" not in s.model_dump_json()


def test_format_span() -> None:
    assert [format_span(v) for v in (5, 60, 95, 7200, 7260, 200000)] == [
        "5s",
        "1m",
        "1m35s",
        "2h",
        "2h01m",
        "2d",
    ]


def test_links_sign_verify_expire_tamper(tmp_path: Path) -> None:
    signer = LinkSigner(load_key(tmp_path / "k"))
    token = signer.mint("E1", "phone", "alice@example.com", expires=2000.0)
    claims = signer.verify(token, now=1000.0)
    assert (claims.escalation, claims.route, claims.owner) == ("E1", "phone", "alice@example.com")
    with pytest.raises(LinkRefused, match="expired"):
        signer.verify(token, now=2000.0)
    payload, sig = token.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    with pytest.raises(LinkRefused, match="signature"):
        signer.verify(f"{payload}.{flipped}", now=1000.0)
    other = LinkSigner(load_key(tmp_path / "other"))
    with pytest.raises(LinkRefused, match="signature"):
        other.verify(token, now=1000.0)
    with pytest.raises(LinkRefused, match="not a swarmdeck"):
        signer.verify("garbage", now=1000.0)
    assert signer.mint("E1", "phone", "a", 2000.0) != signer.mint("E1", "phone", "a", 2000.0)


def test_link_key_is_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "action-links.key"
    key = load_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_key(path) == key
    os.chmod(path, 0o644)
    load_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("not a key\n")
    with pytest.raises(ValueError, match=r"action-link key|too short"):
        load_key(path)


def test_ntfy_url_carries_buttons_and_keeps_user_options() -> None:
    msg = Message(
        "t",
        "b",
        "critical",
        buttons=[
            Button("http", "Approve", "https://d/n/decide", body="token=a.b&action=approve"),
            Button("view", "Open / reject", "https://d/n/a.b"),
        ],
        click="https://d/n/a.b",
    )
    actions = ntfy_actions(msg.buttons)
    assert actions == (
        "http, Approve, https://d/n/decide, method=POST, "
        "headers.Content-Type=application/x-www-form-urlencoded, "
        "body='token=a.b&action=approve', clear=true; view, Open / reject, https://d/n/a.b"
    )
    url = url_for_message("ntfys://ntfy.example/topic?priority=low", msg)
    assert "priority=low" in url and "click=" in url and "actions=" in url
    assert url_for_message("json://h/p", msg) == "json://h/p"
