"""``swarmdeck web`` in headless Chromium: the three panes render, a key press decides,
and without the token nothing is served.

The browser's own websocket traffic is what the test reads: a script installed
before the page's records every frame xterm.js is given, so "the panes render" means
the browser received the deck's screen and drew its first bytes (``-first-byte``).
A screenshot is kept in the test's directory for a person to look at.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from swarmdeck.store.db import Store
from tests.helpers import ev, raise_escalation
from tests.web.cdp import Browser, chromium_path

pytestmark = pytest.mark.slow

TOKEN = "test-token-5b1e0c7d9a3f4e21"

CAPTURE = r"""
(() => {
  const Native = window.WebSocket;
  const decoder = new TextDecoder();
  window.__deck = {text: "", frames: 0};
  function Capturing(url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    ws.addEventListener("message", (event) => {
      if (typeof event.data === "string") return;
      window.__deck.frames += 1;
      window.__deck.text += decoder.decode(new Uint8Array(event.data), {stream: true});
      const kept = window.__deck.text;
      if (kept.length > 4000000) window.__deck.text = kept.slice(-2000000);
    });
    return ws;
  }
  Capturing.prototype = Native.prototype;
  for (const k of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]) Capturing[k] = Native[k];
  window.WebSocket = Capturing;
})();
"""

_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]")


def screen_text(raw: str) -> str:
    return _ESCAPES.sub("", raw)


@dataclass
class Served:
    proc: subprocess.Popen[str]
    port: int
    db: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def seed(db: Path) -> None:
    async with await Store.open(db) as store:
        await store.append(
            [
                ev("agent.seen", agent="coder-1", data={"name": "coder-1", "role": "coder"}),
                raise_escalation("WEB-1", severity="high", title="Deploy from the browser?"),
            ],
            origin="test",
        )


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    db = tmp_path / "deck.db"
    await seed(db)
    config = tmp_path / "config.toml"
    config.write_text('actor = "web-tester@deck"\n[demo]\nenabled = false\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWARMDECK_")}
    env.update(SWARMDECK_TOKEN=TOKEN, TEXTUAL_ANIMATIONS="none")
    proc = subprocess.Popen(
        [sys.executable, "-m", "swarmdeck", "web", "--db", str(db), "--config", str(config),
         "--port", "0"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    assert proc.stderr is not None
    port = None
    deadline = time.monotonic() + 30
    while port is None and time.monotonic() < deadline:
        line = await asyncio.to_thread(proc.stderr.readline)
        match = re.search(r"open http://127\.0\.0\.1:(\d+)/\?token=", line)
        if match:
            port = int(match.group(1))
        elif not line and proc.poll() is not None:
            break
    assert port is not None, "swarmdeck web did not print its URL"
    try:
        yield Served(proc, port, db)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


async def test_refused_without_the_token(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as http:
        assert (await http.get("/")).status_code == 401
        assert (await http.get("/ws")).status_code == 401
        assert (await http.get("/static/js/textual.js")).status_code == 401
        assert (await http.get("/?token=wrong-token-0000000000")).status_code == 401
        cookie = {"Cookie": "swarmdeck_web=wrong-token-0000000000"}
        assert (await http.get("/", headers=cookie)).status_code == 401
        spoofed = await http.get("/", headers={"Host": "attacker.example", **_bearer()})
        assert spoofed.status_code == 421
        assert (await http.get("/", headers=_bearer())).status_code == 200
        entry = await http.get(f"/?token={TOKEN}")
        assert entry.status_code == 303 and entry.headers["location"] == "/"
        assert "HttpOnly" in entry.headers["set-cookie"]
        assert "SameSite=Strict" in entry.headers["set-cookie"]
        # A websocket from another site is refused even with the cookie.
        cross = await http.get(
            "/ws",
            headers={"Origin": "https://evil.example", "Cookie": f"swarmdeck_web={TOKEN}"},
        )
        assert cross.status_code == 403


def _bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def browser_profile(tmp_path: Path) -> Path:
    if chromium_path() is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium)")
    profile = tmp_path / "chromium"
    profile.mkdir()
    return profile


async def test_three_panes_render_and_a_key_decides(
    served: Served, browser_profile: Path, tmp_path: Path
) -> None:
    async with Browser(browser_profile) as browser:
        refused = await browser.new_page()
        await refused.send("Page.navigate", url=f"{served.url}/")
        text = await refused.wait_for("document.body && document.body.innerText")
        assert "needs its token" in text

        page = await browser.new_page()
        await page.send("Page.addScriptToEvaluateOnNewDocument", source=CAPTURE)
        await page.send("Page.navigate", url=f"{served.url}/?token={TOKEN}")
        await page.wait_for("location.search === '' && !!window.__deck")  # token left the URL
        await page.wait_for("document.body.classList.contains('-first-byte')")
        needed = ("[1] Swarm", "[2] Inbox 1 open", "[3] Workflow", "Deploy from the browser?")
        deadline = time.monotonic() + 60
        screen = ""
        while time.monotonic() < deadline:
            screen = screen_text(await page.evaluate("window.__deck.text"))
            if all(n in screen for n in needed):
                break
            await asyncio.sleep(0.2)
        await page.screenshot(tmp_path / "deck.png")
        missing = [n for n in needed if n not in screen]
        assert not missing, f"not drawn in the browser: {missing}"

        await page.evaluate("document.querySelector('.xterm-helper-textarea').focus()")
        await page.type("2")
        await asyncio.sleep(0.3)
        await page.type("a")
        await asyncio.sleep(0.3)
        await page.type("y")  # a high item asks for a second keystroke before it is approved
        async with await Store.open(served.db) as store:
            deadline = time.monotonic() + 30
            esc = await store.escalation("WEB-1")
            while esc.state == "open" and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                esc = await store.escalation("WEB-1")
            assert (esc.state, esc.action, esc.decided_by) == (
                "decided",
                "approve",
                "web-tester@deck",
            )
