"""Browser tests: Debian's Chromium driven by Python Playwright against a real uvicorn (`live_server`).

Playwright cannot download its own browsers here, so we launch /usr/bin/chromium (or CHROMIUM_PATH).
Without it the tests skip on a laptop and FAIL in CI (CI=true), like the other required services.
Every page is watched: console errors, uncaught exceptions and Content-Security-Policy violations
fail the test (`Watched.assert_clean`), so an inline script or style slipped into the app is caught.
"""
from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.support.services import in_ci

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORTS = {"mobile": {"width": 390, "height": 844}, "tablet": {"width": 820, "height": 1180},
             "small-laptop": {"width": 1280, "height": 720}, "laptop": {"width": 1366, "height": 768},
             "desktop": {"width": 1440, "height": 900}}

# Collected by an init script (runs before the app's scripts; not subject to the page's CSP).
_WATCH_SCRIPT = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sourceFile || '') + ':' + e.lineNumber);
});
"""


def require_chromium() -> str:
    if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if in_ci():
        pytest.fail(message + " (CI=true: browser tests are required)")
    pytest.skip(message)
    raise AssertionError("unreachable")


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    """One Chromium per test (async API: the sync one would own the thread's event loop, which the
    database fixtures need)."""
    executable = require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        await b.close()


@pytest.fixture
def settings(db_dsn, tmp_path):
    """The app for browser tests: dev mailbox in a temp dir, cheap password hashing, quick wallet loop."""
    return make_settings(db_dsn, data_dir=tmp_path, argon2_time_cost=1, argon2_memory_kib=1024,
                         argon2_parallelism=1, wallet_watch_interval_s=0.3, db_pool_max=6)


class Watched:
    """A page plus everything it reported that should never happen."""

    def __init__(self, page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("response", self._response)

    def _response(self, response) -> None:
        # The app's own files must always load (API refusals are 4xx on /api and are expected).
        path = response.url.split("://", 1)[-1].split("/", 1)[-1]
        if not path.startswith(("api/", "web/", "dev/")) and response.status >= 400:
            self.errors.append(f"HTTP {response.status} for {response.url}")

    def _console(self, msg) -> None:
        if msg.type == "error":
            text = msg.text
            # An API refusal the test provoked on purpose shows up as a failed resource load; those
            # are asserted through the UI instead. Everything else (CSP, script errors) is a failure.
            if "Failed to load resource" in text and "status of 4" in text:
                return
            self.errors.append(f"console: {text}")

    async def csp_violations(self) -> list[str]:
        try:
            return await self.page.evaluate("window.__cspViolations || []")
        except Exception:  # the page is navigating or closed: nothing more to read
            return []

    async def assert_clean(self) -> None:
        problems = self.errors + [f"CSP: {v}" for v in await self.csp_violations()]
        assert not problems, "the page reported problems:\n" + "\n".join(problems)


@pytest.fixture
async def new_page(browser, live_server):
    """Factory: a fresh browser context (its own cookies = its own user) and a watched page.

    At the end of the test every page must be clean (no console errors, no CSP violations)."""
    contexts = []
    watched: list[Watched] = []

    async def make(viewport: str = "desktop", **context_args) -> Watched:
        context_args.setdefault("reduced_motion", "reduce")
        context = await browser.new_context(base_url=live_server.url, viewport=VIEWPORTS[viewport],
                                            **context_args)
        await context.add_init_script(_WATCH_SCRIPT)
        context.set_default_timeout(15_000)
        contexts.append(context)
        w = Watched(await context.new_page())
        watched.append(w)
        return w

    yield make
    try:
        for w in watched:
            await w.assert_clean()
    finally:
        for c in contexts:
            await c.close()
