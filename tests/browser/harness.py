"""What the browser tests share: the browser's launch options, the script a
page runs to call the API, the expired token, and where things are served.

The front end is served on http://127.0.0.1:A (and a second, disallowed one
on http://127.0.0.1:C), the API on http://localhost:B: two origins on the
loopback interface, as a developer's front end and API are. Chromium
resolves `localhost` itself, to the loopback interface the servers bind.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from playwright.sync_api import BrowserContext, ConsoleMessage, Page

from ..e2e.servers import UvicornThread, WerkzeugThread
from .apps import SECRET

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000

# Runs in the page, from the page's origin. Bounded on the JS side (the
# AbortController also covers reading the body); a rejected fetch is reported
# as its message, which is all page code ever learns of a CORS failure.
CALL_API = """
async ({url, token, timeoutMs}) => {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const headers = token ? {Authorization: "Bearer " + token} : {};
    const r = await fetch(url, {credentials: "include", headers, signal: controller.signal});
    let reason = null;
    try {
      reason = (await r.json()).reason ?? null;
    } catch (e) {
      if (e.name === "AbortError") throw e;
    }
    return {status: r.status, wwwAuthenticate: r.headers.get("WWW-Authenticate"),
            reason, error: null};
  } catch (e) {
    return {status: null, wwwAuthenticate: null, reason: null, error: String(e)};
  } finally {
    clearTimeout(timer);
  }
}
"""


def expired_jwt(seconds_ago: int = 95) -> str:
    """An HS256 token signed with the apps' secret that expired `seconds_ago`."""
    now = int(time.time())
    return jwt.encode(
        {"sub": "browser-user", "iat": now - 3600, "exp": now - seconds_ago},
        SECRET,
        algorithm="HS256",
    )


@dataclass(frozen=True)
class Fronts:
    """The front end's two origins: one the API allows, one it does not."""

    allowed: str
    other: str


@dataclass
class Tab:
    """A page of one context, and the console messages Chromium wrote for it
    (CORS refusals are explained there, never to page code)."""

    page: Page
    console: list[str]

    @classmethod
    def open(cls, context: BrowserContext) -> Tab:
        """A new page in `context`, every wait on it bounded."""
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        tab = cls(context.new_page(), [])

        def remember(message: ConsoleMessage) -> None:
            tab.console.append(message.text)

        tab.page.on("console", remember)
        return tab

    def call(self, front: str, api: str, token: str | None) -> dict[str, Any]:
        """Open `front`, fetch `api` from it, return what page code could read."""
        self.page.goto(front + "/", timeout=TIMEOUT_MS)
        result: dict[str, Any] = self.page.evaluate(
            CALL_API, {"url": api, "token": token, "timeoutMs": TIMEOUT_MS - 1_000}
        )
        return result

    def cors_messages(self) -> list[str]:
        return [text for text in self.console if "CORS policy" in text]


def serve(app: Any, *, asgi: bool) -> AbstractContextManager[UvicornThread | WerkzeugThread]:
    """uvicorn for an ASGI app, werkzeug's server for a WSGI app, on 127.0.0.1."""
    return UvicornThread(app) if asgi else WerkzeugThread(app)


def api_url(server: UvicornThread | WerkzeugThread, host: str = "localhost") -> str:
    """The protected route. `localhost`: another origin and another site
    than the front end's; `127.0.0.1`: another origin (port) on the same
    site, where the browser sends SameSite=Lax cookies along."""
    return f"http://{host}:{server.port}/items"
