"""Approve from the phone: the signed-link flow end to end over HTTP.

A real ntfy-format receiver gets the push with its action buttons; the test then
does what the ntfy app (``http`` button) and a browser (the confirm page's forms)
do, against the action page served on 127.0.0.1 by its own listener.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import pytest

from swarmdeck.config import Settings
from swarmdeck.notify import ActionPageListener, Notifier, build_notify_services
from swarmdeck.store.db import SqliteStore
from tests.helpers import BASE, raise_escalation
from tests.notify.receivers import HttpReceiver, http_receiver

T0 = BASE.timestamp()
OWNER = "alice@example.com"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def parse_actions(header: str) -> list[dict[str, str]]:
    """ntfy's short action syntax, enough for what swarmdeck sends."""
    actions = []
    for part in header.split("; "):
        fields = re.findall(r"(?:[^,']|'[^']*')+", part)
        kind, label, url, *rest = (f.strip() for f in fields)
        action = {"action": kind, "label": label, "url": url}
        for item in rest:
            key, _, value = item.partition("=")
            action[key] = value.strip("'")
        actions.append(action)
    return actions


class Deck:
    def __init__(
        self, store: SqliteStore, receiver: HttpReceiver, clock: Clock, **links: Any
    ) -> None:
        self.store = store
        self.receiver = receiver
        self.clock = clock
        settings = Settings.model_validate(
            {
                "db": store.path,
                "notify": [
                    {"name": "phone", "url": f"ntfy://{receiver.base}/deck", "owner": OWNER},
                    {"name": "nobody", "url": f"json://{receiver.base}/x", "on": ["adapter"]},
                ],
                "action_links": {"enabled": True, "port": 0, "ttl": "1h", **links},
            }
        )
        services = build_notify_services(settings, store, clock)
        self.listener = next(s for s in services if isinstance(s, ActionPageListener))
        self.notifier = next(s for s in services if isinstance(s, Notifier))
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Deck:
        self.task = asyncio.create_task(self.listener.run())
        await asyncio.wait_for(self.listener.ready.wait(), 10)
        url = self.listener.bound_url()
        assert url is not None
        self.http = httpx.AsyncClient(base_url=url, timeout=10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    async def push(self, esc_id: str, **data: Any) -> dict[str, str]:
        """Raise an escalation and return the approve button of its push."""
        before = len(self.receiver.requests)
        await self.store.append([raise_escalation(esc_id, **data)], origin="test")
        self.clock.now += 60  # past any digest window
        await self.notifier.step()
        await self.notifier.wait_idle()
        got = await self.receiver.await_requests(before + 1)
        push = got[-1]
        actions = parse_actions(push.headers["X-Actions"])
        assert [a["label"] for a in actions] == ["Approve", "Open / reject"]
        assert push.headers["X-Click"] == actions[1]["url"]
        return {
            "approve_url": actions[0]["url"],
            "body": actions[0]["body"],
            "page": actions[1]["url"],
        }


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver() as r:
        yield r


@pytest.fixture
async def deck(store: SqliteStore, receiver: HttpReceiver) -> AsyncIterator[Deck]:
    async with Deck(store, receiver, Clock(T0)) as d:
        yield d


async def test_phone_button_decides_once(deck: Deck, store: SqliteStore) -> None:
    button = await deck.push("E1", severity="high")
    assert button["approve_url"].endswith("/n/decide")
    first = await deck.http.post(button["approve_url"], content=button["body"], headers=FORM)
    assert first.status_code == 200, first.text
    esc = await store.escalation("E1")
    assert (esc.state, esc.action, esc.decided_by) == (
        "decided",
        "approve",
        f"{OWNER} via notify:phone",
    )
    audit = [r for r in await store.audit_records() if r.subject == "E1"]
    assert [(r.action, r.actor) for r in audit] == [("decide.approve", f"{OWNER} via notify:phone")]
    # From where: the host of the collector that served the page (a phone has none to give).
    assert [d.host for d in await store.decisions("E1")] == [socket.gethostname()]
    again = await deck.http.post(button["approve_url"], content=button["body"], headers=FORM)
    assert again.status_code == 409
    assert "already used by" in again.text
    page = await deck.http.get(button["page"])
    assert page.status_code == 200
    assert f"Already decided by {OWNER} via notify:phone" in page.text
    assert "<form" not in page.text


async def test_get_never_decides_and_the_page_rejects_with_a_reason(
    deck: Deck, store: SqliteStore
) -> None:
    button = await deck.push("E1", body="please run rm -rf build/")
    page = await deck.http.get(button["page"])
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "please run rm -rf build/" in page.text
    assert (await store.escalation("E1")).state == "open"  # a link preview decides nothing
    token = parse_qs(button["body"])["token"][0]
    assert f"value='{token}'" in page.text  # the signed token is in the form (CSRF-safe)
    form = {"token": token, "escalation": "E1", "action": "reject", "reason": ""}
    no_reason = await deck.http.post("/n/decide", content=urlencode(form), headers=FORM)
    assert no_reason.status_code == 400
    form["reason"] = "not on a Friday"
    done = await deck.http.post("/n/decide", content=urlencode(form), headers=FORM)
    assert done.status_code == 200, done.text  # the malformed try did not spend the link
    esc = await store.escalation("E1")
    assert (esc.action, esc.reason) == ("reject", "not on a Friday")


async def test_refused_after_expiry(deck: Deck, store: SqliteStore) -> None:
    button = await deck.push("E1")
    deck.clock.now += 3601
    late = await deck.http.post(button["approve_url"], content=button["body"], headers=FORM)
    assert late.status_code == 403 and "expired" in late.text
    assert (await deck.http.get(button["page"])).status_code == 403
    assert (await store.escalation("E1")).state == "open"


async def test_refused_with_a_tampered_signature_or_payload(deck: Deck, store: SqliteStore) -> None:
    button = await deck.push("E1")
    form = parse_qs(button["body"])
    payload, signature = form["token"][0].split(".")
    for token in (
        f"{payload}.{signature[:-3]}AAA",
        f"{payload[:-2]}xx.{signature}",
        "forged",
    ):
        body = urlencode({"token": token, "escalation": "E1", "action": "approve"})
        refused = await deck.http.post("/n/decide", content=body, headers=FORM)
        assert refused.status_code == 403, token
    assert (await store.escalation("E1")).state == "open"


async def test_refused_for_another_escalation(deck: Deck, store: SqliteStore) -> None:
    first = await deck.push("E1")
    await deck.push("E2")
    token = parse_qs(first["body"])["token"][0]
    body = urlencode({"token": token, "escalation": "E2", "action": "approve"})
    refused = await deck.http.post("/n/decide", content=body, headers=FORM)
    assert refused.status_code == 403 and "another escalation" in refused.text
    assert (await store.escalation("E2")).state == "open"
    assert (await store.escalation("E1")).state == "open"


async def test_refused_after_someone_else_decided(deck: Deck, store: SqliteStore) -> None:
    button = await deck.push("E1")
    await store.decide("E1", "reject", actor="bob@host", reason="no")
    late = await deck.http.post(button["approve_url"], content=button["body"], headers=FORM)
    assert late.status_code == 409
    assert "already decided by bob@host" in late.text
    assert (await store.escalation("E1")).decided_by == "bob@host"


async def test_requests_a_browser_would_not_send_are_refused(deck: Deck) -> None:
    button = await deck.push("E1")
    as_json = await deck.http.post(
        "/n/decide", content=button["body"], headers={"Content-Type": "application/json"}
    )
    assert as_json.status_code == 415
    cross = await deck.http.post(
        "/n/decide", content=button["body"], headers={**FORM, "Origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    huge = await deck.http.post("/n/decide", content="x=" + "a" * 20000, headers=FORM)
    assert huge.status_code == 413
    rebound = await deck.http.get(button["page"], headers={"Host": "attacker.example"})
    assert rebound.status_code == 421
    # A GET of the decide endpoint is just an unknown link: GET never decides.
    assert (await deck.http.get("/n/decide")).status_code == 403


async def test_read_only_shows_and_never_decides(
    store: SqliteStore, receiver: HttpReceiver
) -> None:
    async with Deck(store, receiver, Clock(T0), read_only=True) as deck:
        button = await deck.push("E1")
        page = await deck.http.get(button["page"])
        assert "read-only" in page.text and "<form" not in page.text
        refused = await deck.http.post(button["approve_url"], content=button["body"], headers=FORM)
        assert refused.status_code == 403
        assert (await store.escalation("E1")).state == "open"


async def test_public_url_is_where_links_point(store: SqliteStore, receiver: HttpReceiver) -> None:
    async with Deck(store, receiver, Clock(T0), public_url="https://deck.example.ts.net") as d:
        button = await d.push("E1")
        assert button["page"].startswith("https://deck.example.ts.net/n/")
        assert button["approve_url"] == "https://deck.example.ts.net/n/decide"
        # Behind the proxy the browser's Host and Origin are the public ones.
        ok = await d.http.post(
            "/n/decide",
            content=button["body"],
            headers={
                **FORM,
                "Host": "deck.example.ts.net",
                "Origin": "https://deck.example.ts.net",
            },
        )
        assert ok.status_code == 200, ok.text
