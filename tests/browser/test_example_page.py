"""`examples/browser_app.py`, run as its README says, clicked in Chromium.

Why: the README's "Browser apps" section quotes what the page reads; this
runs the example as a user would (its own process, its own page server and
uvicorn), presses its buttons, and checks the page shows what the README
says: the status, the challenge and the `reason` of each refusal.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

pytestmark = pytest.mark.needs("chromium")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
START_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def example() -> Iterator[str]:
    """The example's two servers; yields the page's URL, stops the process."""
    api, page = _free_port(), _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLES / "browser_app.py"),
            "--api-port",
            str(api),
            "--page-port",
            str(page),
        ],
        cwd=EXAMPLES,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (_listening(api) and _listening(page)):
            assert process.poll() is None, "the example exited"
            assert time.monotonic() < deadline, "the example did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{page}/"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.mark.parametrize(
    ("button", "status", "reason", "challenge"),
    [
        pytest.param("expired", 401, "token_expired", 'error="invalid_token"', id="expired"),
        pytest.param("none", 401, "credentials_missing", 'Bearer realm="example-api"', id="none"),
        pytest.param("valid", 200, None, None, id="valid"),
    ],
)
def test_example_page_reads_each_answer(
    browser: Browser,
    example: str,
    button: str,
    status: int,
    reason: str | None,
    challenge: str | None,
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(example, timeout=10_000)
        page.click(f"#{button}", timeout=10_000)
        page.wait_for_function(
            "document.getElementById('out').textContent.length > 0", timeout=10_000
        )
        shown = json.loads(page.text_content("#out") or "null")
    finally:
        context.close()
    assert shown["status"] == status
    assert shown.get("reason") == reason
    if challenge is None:
        assert shown["wwwAuthenticate"] is None
        assert shown["user"] == "alice"
    else:
        assert challenge in shown["wwwAuthenticate"]
        assert shown["hint"]
