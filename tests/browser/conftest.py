"""A real browser calling a real API from a page of another origin.

CORS is enforced by browsers only: what a page can read from a 401 (its
status, `WWW-Authenticate`, the problem body), or whether the request is sent
at all after a preflight, is only known by asking one. Debian's Chromium is
driven through Playwright's sync API: one browser for the session, a fresh
context (cookies, preflight cache) per test, the two front-end servers for
the session, the API server per test.

The browser's fixtures are package-scoped, which is still one browser per
session (only this package uses it): Playwright's sync API keeps an asyncio
loop running in the main thread while it is started, and the tests after
this package call `asyncio.run()`, which refuses to run inside one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

# Rewrite the shared checks' asserts even when this package imports them
# before tests/e2e/conftest.py registers them.
pytest.register_assert_rewrite("tests.e2e.servers")

from ..e2e.servers import WerkzeugThread  # noqa: E402
from .apps import page_app  # noqa: E402
from .harness import CHROMIUM, CHROMIUM_ARGS, Fronts, Tab  # noqa: E402


@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium."
            " `make test` (or `make browser`) installs it with apt-get."
        )
    launched = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000
    )
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    context = browser.new_context()
    try:
        yield Tab.open(context)
    finally:
        context.close()


@pytest.fixture(scope="package")
def fronts() -> Iterator[Fronts]:
    with WerkzeugThread(page_app) as allowed, WerkzeugThread(page_app) as other:
        yield Fronts(f"http://127.0.0.1:{allowed.port}", f"http://127.0.0.1:{other.port}")
