"""The documentation site as a newcomer opens it: built by `mkdocs build
--strict` (as `make docs` does), served on 127.0.0.1, read in headless
Chromium. The home page leads to each framework's getting-started page, the
reason catalogue has an entry per reason, and the search finds a reason.

Screenshots of the pages go to the test's tmp_path, or to the directory
``AUTHHYGIENE_SCREENSHOTS`` names.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from authhygiene.core.reasons import REASONS

pytestmark = pytest.mark.needs("chromium")

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("FastAPI", "Starlette", "Flask", "Django")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    built = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(built)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=True,
        capture_output=True,
        timeout=300,
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(built)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def _shots(tmp_path: Path) -> Path:
    where = os.environ.get("AUTHHYGIENE_SCREENSHOTS")
    folder = Path(where) if where else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_home_page_leads_to_each_framework(site: str, page: Page, tmp_path: Path) -> None:
    page.goto(site + "/")
    assert page.title().startswith("authhygiene")
    assert page.locator("h1").first.inner_text().rstrip("¶") == "authhygiene"
    page.screenshot(path=str(_shots(tmp_path) / "home.png"))
    for framework in FRAMEWORKS:
        page.goto(site + "/")
        page.get_by_role("link", name=f"Getting started with {framework}").click()
        page.wait_for_load_state()
        heading = page.locator("h1").first.inner_text().rstrip("¶")
        assert heading == f"Getting started with {framework}"
        assert page.locator("code", has_text="127.0.0.1:8000/users/me").count() >= 1


def test_the_reason_catalogue_has_an_entry_per_reason(
    site: str, page: Page, tmp_path: Path
) -> None:
    page.goto(site + "/reference/reasons/")
    for reason in REASONS:
        entry = page.locator(f"[id='{reason.value.replace('_', '-')}']")
        assert entry.count() == 1, reason
    page.screenshot(path=str(_shots(tmp_path) / "reasons.png"))
    page.goto(site + "/reference/options/")
    assert page.locator("td code", has_text="realm").count() >= 1
    page.screenshot(path=str(_shots(tmp_path) / "options.png"))


def test_the_search_finds_a_reason(site: str, page: Page) -> None:
    """Material's search runs in a web worker that loads its index after the
    page: a query typed before it is ready is not run again, so the query is
    typed again until results show (bounded)."""
    page.goto(site + "/")
    page.locator("label.md-search__icon, .md-search__input").first.click()
    query = page.locator("input.md-search__input")
    results = page.locator(".md-search-result__item")
    for _ in range(10):
        query.fill("")
        query.press_sequentially("token_expired")
        try:
            results.first.wait_for(timeout=3_000)
            break
        except PlaywrightTimeoutError:
            continue
    assert results.count() >= 1
