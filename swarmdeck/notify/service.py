"""The notifier: watch the store, claim pushes per route, fold them, send them, retry.

It runs in the collector (one per database, so one notifier per database). Each tick
(250 ms) it:

1. re-reads open escalations and adapter health when the store's ``rev`` moved (a
   single integer poll otherwise);
2. per route, finds what is due now: an escalation that has waited ``after`` (or whose
   deadline is ``deadline_warning`` away, or a budget crossed), an adapter down; and
   *claims* it in the store (``store.notify``), which refuses a second claim of the
   same subject: at most one push per escalation per route, across restarts too;
3. per route, sends the due claims as one message: a single push, or a digest when
   several are due together. A route that pushed less than ``digest_window`` ago
   holds new claims until the window ends, so a burst becomes one digest; quiet hours
   hold everything below ``quiet_severity`` until they end. Claims whose escalation
   was decided meanwhile are dropped, not sent.

A send that fails is retried with exponential backoff (equal jitter, capped); the
route's row in the adapters/health view says ``degraded`` while retrying and
``failed`` when it gave up, and ``running`` again after the next success.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from swarmdeck.config import Settings
from swarmdeck.guardrails import OutgoingMasker
from swarmdeck.notify.links import LinkSigner
from swarmdeck.notify.message import (
    AdapterItem,
    Composer,
    EscalationItem,
    EscalationLinks,
    Item,
    Message,
)
from swarmdeck.notify.routes import Route, format_span
from swarmdeck.notify.send import BadRoute, SendFailed, send
from swarmdeck.store import notify as pushes
from swarmdeck.store.db import Store
from swarmdeck.store.errors import NotFound
from swarmdeck.store.models import AdapterHealth, Escalation
from swarmdeck.store.text import clean_text

log = logging.getLogger("swarmdeck.notify")

#: Adapter health states that count as "down".
DOWN_STATES = frozenset({"crashed", "degraded", "failed"})
#: An adapter that has run this long since it was down may push "down" again later.
REARM_AFTER = 60.0
HEALTH_TYPE = "notify"

Sender = Callable[[str, Message], Awaitable[None]]


class LinkMinter:
    """Makes the action links of one push (a fresh nonce per escalation per push).

    Args:
        base_url: where links point (``[action_links] public_url``); None: wherever the
            listener is bound, known once it is up (until then pushes carry no links).
    """

    def __init__(
        self,
        signer: LinkSigner,
        ttl: float,
        base_url: str | None = None,
        bound_url: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.signer = signer
        self.ttl = ttl
        self.base_url = base_url
        self.bound_url = bound_url

    def links(self, escalation: str, route: str, owner: str, now: float) -> EscalationLinks | None:
        base = self.base_url or self.bound_url()
        if base is None:
            return None
        base = base.rstrip("/")
        token = self.signer.mint(escalation, route, owner, now + self.ttl)
        return EscalationLinks(
            page=f"{base}/n/{token}",
            decide=f"{base}/n/decide",
            approve_body=urlencode({"token": token, "escalation": escalation, "action": "approve"}),
        )


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Equal-jitter exponential backoff: half fixed, half random, capped."""
    delay = min(cap, base * 2.0 ** max(0, attempt - 1))
    return delay / 2 + rng.uniform(0, delay / 2)


class Notifier:
    """Pushes to the configured routes until cancelled (see the module docstring).

    Args:
        routes: compiled enabled routes.
        masker: what every outgoing text passes through.
        minter: makes action links; None when ``[action_links]`` is off.
        sender: ``await sender(url, message)``, raising ``SendFailed`` (tests may wrap it).
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        routes: list[Route],
        masker: OutgoingMasker,
        *,
        clock: Callable[[], float],
        minter: LinkMinter | None = None,
        sender: Sender = send,
        tick: float = 0.25,
        max_attempts: int = 8,
        backoff_base: float = 2.0,
        backoff_max: float = 300.0,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.routes = routes
        self.composer = Composer(masker)
        self.clock = clock
        self.minter = minter
        self.sender = sender
        self.tick = tick
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.rng = rng or random.Random()
        self._rev = -1
        self._open: list[Escalation] = []
        self._health: list[AdapterHealth] = []
        self._claimed: dict[str, set[str]] = {r.name: set() for r in routes}
        self._gate: dict[str, float] = {}
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._health_shown: dict[str, tuple[str, str]] = {}
        self._vendor: dict[str, str | None] = {}
        #: Messages sent so far (tests and the benchmark read it).
        self.sent = 0

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        for route in self.routes:
            await self._show(route, "running", "ready")
        try:
            while True:
                await self.step()
                await asyncio.sleep(self.tick)
        finally:
            for task in self._inflight.values():
                task.cancel()
            await asyncio.gather(*self._inflight.values(), return_exceptions=True)
            for route in self.routes:
                with contextlib.suppress(Exception):
                    await self._show(route, "stopped", "collector stopped")

    async def step(self) -> None:
        """One round: refresh what changed, claim what is due, start due sends."""
        now = self.clock()
        rev = await self.store.rev()
        if rev != self._rev:
            self._rev = rev
            self._open = await self.store.escalations(state="open")
            self._health = await self.store.adapter_health()
        for route in self.routes:
            await self._claim(route, now)
            task = self._inflight.get(route.name)
            if task is not None and not task.done():
                continue
            if now < self._gate.get(route.name, 0.0):
                continue
            self._inflight[route.name] = asyncio.create_task(
                self._send_due(route), name=f"notify:{route.name}"
            )

    async def wait_idle(self) -> None:
        """Wait for the sends in flight (tests)."""
        await asyncio.gather(*self._inflight.values(), return_exceptions=True)

    # ------------------------------------------------------------------ claims

    async def _vendor_of(self, esc: Escalation) -> str | None:
        """The agent's vendor when the store knows it, else the type of its adapter."""
        if esc.id in self._vendor:
            return self._vendor[esc.id]
        vendor: str | None = None
        if esc.agent:
            with contextlib.suppress(NotFound):
                agent = await self.store.agent(esc.agent)
                vendor = getattr(agent, "vendor", None)  # agents gain ``vendor`` with hooks
        if vendor is None:
            vendor = next((h.type for h in self._health if h.name == esc.origin), None)
        self._vendor[esc.id] = vendor
        return vendor

    async def _claim(self, route: Route, now: float) -> None:
        claimed = self._claimed[route.name]
        claims: list[pushes.Claim] = []
        for esc in self._open:
            subject = f"escalation:{esc.id}"
            if subject in claimed:
                continue
            due = route.due_at(esc)
            if due is None or due[0] > now:
                continue
            vendor = await self._vendor_of(esc) if route.config.vendor else None
            if not route.wants(esc, vendor):
                continue  # asked again next time: a policy may raise its severity meanwhile
            claims.append(pushes.Claim(subject, due[1], esc.severity))
        if "adapter" in route.config.on:
            rearm = []
            for h in self._health:
                subject = f"adapter:{h.name}"
                if h.name == route.health_name:
                    continue
                if h.state in DOWN_STATES:
                    if subject not in claimed:
                        claims.append(pushes.Claim(subject, "adapter down", "high"))
                elif subject in claimed and now - h.updated_ts >= REARM_AFTER:
                    rearm.append(subject)
            if rearm:
                await pushes.forget(self.store, route.name, rearm)
                claimed.difference_update(rearm)
        if claims:
            await pushes.claim_pushes(self.store, route.name, claims, now)
            claimed.update(c.subject for c in claims)

    # ------------------------------------------------------------------ sending

    async def _items(self, route: Route, due: list[pushes.Push], now: float) -> list[Item]:
        """Resolve claims to items; drop the moot ones (decided, recovered) on the way."""
        items: list[Item] = []
        moot: list[str] = []
        for push in due:
            kind, _, key = push.subject.partition(":")
            if kind == "adapter":
                health = next((h for h in self._health if h.name == key), None)
                if health is None or health.state not in DOWN_STATES:
                    moot.append(push.subject)
                else:
                    items.append(AdapterItem(health))
                continue
            try:
                esc = await self.store.escalation(key)
            except NotFound:
                moot.append(push.subject)
                continue
            if esc.state != "open":
                moot.append(push.subject)
                continue
            links = None
            owner = route.config.owner
            if self.minter is not None and route.config.actions and owner:
                links = self.minter.links(esc.id, route.name, owner, now)
            items.append(EscalationItem(esc, push.reason, links))
        if moot:
            await pushes.mark_dropped(self.store, route.name, moot, "no longer waiting")
        return items

    async def _send_due(self, route: Route) -> None:
        try:
            await self._send_due_inner(route)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the loop must survive a store hiccup; next tick retries
            log.warning("notify route %s: %s", route.name, clean_text(exc, single_line=True))
            self._gate[route.name] = self.clock() + 1.0

    async def _send_due_inner(self, route: Route) -> None:
        now = self.clock()
        due = await pushes.due_pushes(self.store, route.name, now)
        if not due:
            return
        # Bursts: what comes within the digest window after a push waits for its end.
        last = await pushes.last_sent(self.store, route.name)
        if last is not None and now < last + route.digest_window:
            until = last + route.digest_window
            await pushes.hold(self.store, route.name, [p.subject for p in due], until)
            return
        held: list[tuple[pushes.Push, float]] = []
        ready: list[pushes.Push] = []
        for push in due:
            quiet_end = route.quiet_until(now, push.severity)
            if quiet_end is None:
                ready.append(push)
            else:
                held.append((push, quiet_end))
        for push, quiet_end in held:
            await pushes.hold(self.store, route.name, [push.subject], quiet_end)
        if held and not ready:
            await self._show(route, "running", f"quiet hours until {_clock(held[0][1])}")
        if not ready:
            return
        items = await self._items(route, ready, now)
        if not items:
            return
        subjects = [_subject(i) for i in items]
        message = self.composer.compose(items, now)
        try:
            await self.sender(route.config.url.get_secret_value(), message)
        except SendFailed as exc:
            await self._failed(route, ready, subjects, exc, now)
            return
        await pushes.mark_sent(self.store, route.name, subjects, self.clock())
        self.sent += 1
        what = "digest of " + str(len(items)) if len(items) > 1 else "push"
        await self._show(route, "running", f"last {what} at {_clock(now)}")

    async def _failed(
        self,
        route: Route,
        ready: list[pushes.Push],
        subjects: list[str],
        exc: SendFailed,
        now: float,
    ) -> None:
        attempts = max((p.attempts for p in ready if p.subject in subjects), default=0) + 1
        error = clean_text(exc, single_line=True, max_length=300)
        if isinstance(exc, BadRoute) or attempts >= self.max_attempts:
            await pushes.mark_failed(self.store, route.name, subjects, error, None)
            await self._show(route, "failed", f"gave up after {attempts} attempt(s): {error}")
            return
        delay = backoff(attempts, self.backoff_base, self.backoff_max, self.rng)
        self._gate[route.name] = now + delay
        await pushes.mark_failed(self.store, route.name, subjects, error, now + delay)
        await self._show(
            route,
            "degraded",
            f"attempt {attempts} failed, retrying in {format_span(delay)}: {error}",
        )

    async def _show(self, route: Route, state: str, detail: str) -> None:
        """The route's row in the adapters/health view (written only when it changes)."""
        if self._health_shown.get(route.name) == (state, detail):
            return
        self._health_shown[route.name] = (state, detail)
        try:
            await self.store.set_health(
                route.health_name,
                HEALTH_TYPE,
                state,
                detail=detail,
                last_error=detail if state in ("degraded", "failed") else None,
            )
        except Exception as exc:
            log.warning("could not record health of %s: %s", route.health_name, exc)


def _subject(item: Item) -> str:
    if isinstance(item, AdapterItem):
        return f"adapter:{item.health.name}"
    return f"escalation:{item.escalation.id}"


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))
