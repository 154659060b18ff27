"""The notifier against real receivers on 127.0.0.1: JSON webhook, ntfy, SMTP.

Time-driven behaviour (``after``, digests, quiet hours, backoff) is driven with a
frozen clock and explicit ``step()`` calls; the one test about real latency uses the
real clock and a bounded wait (it asserts arrival, not a timing).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP

from swarmdeck.config import Settings
from swarmdeck.notify import Notifier, build_notify_services
from swarmdeck.store import notify as pushes
from swarmdeck.store.db import SqliteStore
from swarmdeck.store.events import make_event
from swarmdeck.store.governance import set_escalation
from tests.helpers import BASE, raise_escalation
from tests.notify.receivers import HttpReceiver, MailSink, http_receiver

T0 = BASE.timestamp()
AWS_KEY = "AKIA5XQJZK4ZMEGRTWPB"
CARD = "4539 5787 6362 1486"  # Luhn-valid test number
EMAIL = "alice.smith@corp-mail.io"
LEAKY_TITLE = f"deploy with {AWS_KEY} for {EMAIL}"
LEAKY_BODY = f"charge card {CARD} then mail {EMAIL}; key={AWS_KEY}"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver() as r:
        yield r


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def settings_for(db: Any, *routes: dict[str, Any], **extra: Any) -> Settings:
    return Settings.model_validate({"db": db, "notify": list(routes), **extra})


def notifier_of(settings: Settings, store: SqliteStore, clock: Clock) -> Notifier:
    found = [s for s in build_notify_services(settings, store, clock) if isinstance(s, Notifier)]
    assert len(found) == 1
    return found[0]


async def settle(notifier: Notifier, rounds: int = 1) -> None:
    for _ in range(rounds):
        await notifier.step()
        await notifier.wait_idle()


async def test_pushes_after_waiting_not_before(
    store: SqliteStore, receiver: HttpReceiver, clock: Clock
) -> None:
    s = settings_for(
        store.path, {"name": "hook", "url": f"json://{receiver.base}/in", "after": "2m"}
    )
    n = notifier_of(s, store, clock)
    await store.append([raise_escalation("E1", severity="high")], origin="test")
    clock.now = T0 + 119
    await settle(n)
    assert receiver.requests == []
    clock.now = T0 + 121
    await settle(n)
    (got,) = await receiver.await_requests(1)
    payload = got.json()
    assert got.path == "/in"
    assert payload["title"] == "swarmdeck: title of E1"
    assert "waiting 2m01s" in payload["message"]
    assert payload["type"] == "warning"


async def test_nothing_unmasked_leaves(
    store: SqliteStore, receiver: HttpReceiver, clock: Clock
) -> None:
    """The store holds the clear text (written past the ingest filter); no push carries it."""
    mail = MailSink()
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(lambda: SMTP(mail, hostname="deck.test"), "127.0.0.1", 0)
    smtp_port = smtp.sockets[0].getsockname()[1]
    s = settings_for(
        store.path,
        {"name": "hook", "url": f"json://{receiver.base}/in"},
        {"name": "phone", "url": f"ntfy://{receiver.base}/deck"},
        {
            "name": "mail",
            "url": f"mailto://127.0.0.1:{smtp_port}?from=deck@example.com&to=mgr@example.com",
        },
    )
    n = notifier_of(s, store, clock)
    await store.append(
        [raise_escalation("E1", severity="high", title=LEAKY_TITLE, body=LEAKY_BODY)],
        origin="test",
    )
    assert AWS_KEY in (await store.escalation("E1")).title  # clear in the store
    try:
        await settle(n)
        got = await receiver.await_requests(2)
        for _ in range(100):
            if mail.messages:
                break
            await asyncio.sleep(0.05)
    finally:
        smtp.close()
    texts = [r.body.decode() + repr(r.headers) for r in got]
    texts += [MailSink.text_of(m) for m in mail.messages] + [raw.decode() for raw in mail.raw]
    assert len(texts) == 4
    for text in texts:
        for secret in (AWS_KEY, CARD, CARD.replace(" ", ""), EMAIL):
            assert secret not in text
    ntfy = next(r for r in got if r.path == "/")
    assert "[secret:aws-access-key" in ntfy.json()["title"]
    assert "[pii:card-number" in ntfy.json()["message"]
    assert "[pii:email" in MailSink.text_of(mail.messages[0])


async def test_one_push_per_escalation_per_route_across_restart(
    store: SqliteStore, receiver: HttpReceiver, clock: Clock
) -> None:
    s = settings_for(
        store.path,
        {"name": "a", "url": f"json://{receiver.base}/a"},
        {"name": "b", "url": f"json://{receiver.base}/b"},
    )
    await store.append([raise_escalation("E1")], origin="test")
    await settle(notifier_of(s, store, clock), rounds=3)
    await receiver.await_requests(2)
    # A new collector (a new notifier on the same database) pushes nothing again.
    clock.now += 3600
    await settle(notifier_of(s, store, clock), rounds=3)
    assert sorted(r.path for r in receiver.requests) == ["/a", "/b"]
    assert {p.state for p in await pushes.pushes(store)} == {"sent"}


async def test_burst_is_folded_into_one_digest(
    store: SqliteStore, receiver: HttpReceiver, clock: Clock
) -> None:
    s = settings_for(store.path, {"name": "a", "url": f"json://{receiver.base}/a"})
    n = notifier_of(s, store, clock)
    await store.append([raise_escalation("E1", severity="high")], origin="test")
    await settle(n)
    await receiver.await_requests(1)
    clock.now += 2
    await store.append(
        [
            raise_escalation(f"E{i}", severity=sev)
            for i, sev in ((2, "critical"), (3, "high"), (4, "normal"))
        ],
        origin="test",
    )
    for _ in range(5):
        clock.now += 2
        await settle(n)
    assert len(receiver.requests) == 1  # held: within the 30 s digest window
    clock.now = T0 + 31
    await settle(n)
    _, digest = await receiver.await_requests(2)
    body = digest.json()
    assert body["title"] == "swarmdeck: 3 waiting for you (1 critical, 1 high, 1 normal)"
    for title in ("title of E2", "title of E3", "title of E4"):
        assert title in body["message"]
    assert "title of E1" not in body["message"]
    clock.now += 120
    await settle(n, rounds=2)
    assert len(receiver.requests) == 2


async def test_quiet_hours_hold_then_one_digest(
    store: SqliteStore, receiver: HttpReceiver, clock: Clock
) -> None:
    # BASE is 10:00 UTC: quiet from 09:00 to 11:00 UTC, critical still breaks through.
    s = settings_for(
        store.path,
        {
            "name": "a",
            "url": f"json://{receiver.base}/a",
            "quiet_hours": "09:00-11:00",
            "timezone": "UTC",
        },
    )
    n = notifier_of(s, store, clock)
    await store.append(
        [raise_escalation("E1", severity="high"), raise_escalation("E2")], origin="test"
    )
    await settle(n, rounds=2)
    assert receiver.requests == []
    health = {h.name: h for h in await store.adapter_health()}["notify:a"]
    assert health.state == "running" and "quiet hours until" in health.detail
    await store.append([raise_escalation("E3", severity="critical")], origin="test")
    await settle(n)
    (urgent,) = await receiver.await_requests(1)
    assert urgent.json()["title"] == "swarmdeck: title of E3"
    clock.now = datetime(2026, 11, 23, 11, 0, 1, tzinfo=UTC).timestamp()
    await settle(n)
    _, held = await receiver.await_requests(2)
    assert held.json()["title"].startswith("swarmdeck: 2 waiting for you")


async def test_decided_meanwhile_is_dropped(
    store: SqliteStore, receiver: HttpReceiver, clock: Clock
) -> None:
    s = settings_for(store.path, {"name": "a", "url": f"json://{receiver.base}/a", "after": "1m"})
    n = notifier_of(s, store, clock)
    await store.append([raise_escalation("E1")], origin="test")
    await store.decide("E1", "approve", actor="bob@host")
    clock.now += 120
    await settle(n, rounds=2)
    assert receiver.requests == []


async def test_failing_route_retries_with_backoff_and_shows_in_health(
    store: SqliteStore, receiver: HttpReceiver, clock: Clock
) -> None:
    s = settings_for(store.path, {"name": "a", "url": f"json://{receiver.base}/a"})
    n = notifier_of(s, store, clock)
    receiver.status = 500
    await store.append([raise_escalation("E1")], origin="test")
    await settle(n)
    await receiver.await_requests(1)
    health = {h.name: h for h in await store.adapter_health()}["notify:a"]
    assert health.state == "degraded" and health.type == "notify"
    assert "attempt 1 failed, retrying in" in health.detail
    assert receiver.base not in health.detail  # the URL is a secret
    await settle(n)  # within the backoff: no second attempt
    assert len(receiver.requests) == 1
    receiver.status = 200
    clock.now += 10
    await settle(n)
    assert len(await receiver.await_requests(2)) == 2
    health = {h.name: h for h in await store.adapter_health()}["notify:a"]
    assert health.state == "running"
    (push,) = await pushes.pushes(store, "a")
    assert (push.state, push.attempts) == ("sent", 2)


async def test_gives_up_after_max_attempts(
    store: SqliteStore, receiver: HttpReceiver, clock: Clock
) -> None:
    s = settings_for(store.path, {"name": "a", "url": f"json://{receiver.base}/a"})
    n = notifier_of(s, store, clock)
    n.max_attempts = 2
    receiver.status = 503
    await store.append([raise_escalation("E1")], origin="test")
    for _ in range(3):
        await settle(n)
        clock.now += 10
    assert len(receiver.requests) == 2
    health = {h.name: h for h in await store.adapter_health()}["notify:a"]
    assert health.state == "failed" and "gave up after 2 attempt(s)" in health.detail
    (push,) = await pushes.pushes(store, "a")
    assert push.state == "failed"


async def test_adapter_down_pushes_once_then_rearms(
    store: SqliteStore, receiver: HttpReceiver, clock: Clock
) -> None:
    s = settings_for(
        store.path,
        {"name": "a", "url": f"json://{receiver.base}/a", "on": ["adapter"], "digest_window": "0"},
    )
    n = notifier_of(s, store, clock)
    await store.set_health(
        "github",
        "http",
        "crashed",
        detail="restarting in 4s",
        last_error=f"401 for https://api.example/?token={AWS_KEY}",
    )
    await settle(n, rounds=3)
    (down,) = await receiver.await_requests(1)
    assert down.json()["title"] == "swarmdeck: http adapter github is crashed"
    assert AWS_KEY not in down.body.decode()
    await store.set_health("github", "http", "running")
    clock.now = time.time() + 61  # health rows carry the store's (real) clock
    await settle(n)
    await store.set_health("github", "http", "crashed", detail="restarting in 8s")
    await settle(n, rounds=2)
    assert len(await receiver.await_requests(2)) == 2


async def test_real_clock_arrives_soon_after_passing_after(
    db_path: Any, receiver: HttpReceiver
) -> None:
    """The done-when of the issue, as a bounded wait: it arrives, well within 10 s."""
    store = await SqliteStore.open(db_path)
    s = settings_for(db_path, {"name": "hook", "url": f"json://{receiver.base}/in", "after": "1s"})
    notifier = notifier_of(s, store, time.time)  # type: ignore[arg-type]
    task = asyncio.create_task(notifier.run())
    try:
        raised = time.time()
        await store.append(
            [
                make_event(
                    "escalation.raised",
                    id="live-1",
                    source="test",
                    ts=datetime.fromtimestamp(raised, UTC),
                    agent="codex-1",
                    data={"id": "live-1", "kind": "approval", "title": "ok?", "severity": "high"},
                )
            ],
            origin="test",
        )
        (got,) = await receiver.await_requests(1, timeout=10)
        assert got.at >= raised + 1.0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await store.close()


async def test_collector_runs_the_notifier(db_path: Any, receiver: HttpReceiver) -> None:
    from swarmdeck.collector import Collector

    s = Settings.model_validate(
        {
            "db": db_path,
            "demo": {"enabled": False},
            "notify": [{"name": "hook", "url": f"json://{receiver.base}/in"}],
        }
    )
    collector = Collector(s)
    task = asyncio.create_task(collector.run())
    try:
        await asyncio.wait_for(collector.started.wait(), 10)
        async with await SqliteStore.open(db_path) as other:
            await other.append([raise_escalation("C1", severity="high")], origin="test")
            (got,) = await receiver.await_requests(1, timeout=10)
            assert got.json()["title"] == "swarmdeck: title of C1"
            health = {h.name: h.state for h in await other.adapter_health()}
            assert health["notify:hook"] == "running"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_severity_raised_later_reaches_the_route(
    store: SqliteStore, receiver: HttpReceiver, clock: Clock
) -> None:
    s = settings_for(
        store.path, {"name": "a", "url": f"json://{receiver.base}/a", "min_severity": "high"}
    )
    n = notifier_of(s, store, clock)
    await store.append([raise_escalation("E1", severity="normal")], origin="test")
    await settle(n, rounds=2)
    assert receiver.requests == []
    # It becomes more urgent (a policy's deadline step; a re-raise by its source may no
    # longer change what the manager was shown).
    await set_escalation(store, "E1", actor="policy:x", action="policy.escalate", severity="high")
    await settle(n)
    (got,) = await receiver.await_requests(1)
    assert got.json()["title"] == "swarmdeck: title of E1"


async def test_migration_creates_the_notify_tables(store: SqliteStore) -> None:
    rows = await store._fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'notify_%'"
    )
    assert sorted(r[0] for r in rows) == ["notify_links", "notify_pushes"]
