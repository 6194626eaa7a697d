"""The requests every in-process benchmark sends, independent of protocol.

A request is a frozen `Request`; `asgi_kit` turns it into a scope and
`wsgi_kit` into an environ, so the ASGI and WSGI figures measure the same
HTTP exchange. Headers are those of a real API call from a browser (9 of
them), with an `Authorization: Bearer <JWT>` signed by a throwaway per-run
key: the refused requests carry a JWT whose claims authhygiene reads, as it
does in production.

Every token made here is a credential for the purpose of the suite's rules:
none may reach stdout, the JSON file, the chart or an error message (the
smoke tests check that no ``eyJ`` -- the start of every JWT -- leaves).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, replace

import jwt

__all__ = [
    "BODY_401",
    "BODY_OK",
    "ORIGIN",
    "REQUEST_ID",
    "TOKEN",
    "Request",
    "cors_request",
    "padded",
    "plain_request",
    "preflight_request",
    "sized_token",
    "token_pool",
]

ORIGIN = "https://app.example.com"
REQUEST_ID = "0f6c1d6e-2a3b-4c5d-8e9f-123456789abc"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"

BODY_OK = json.dumps(
    {"items": [{"id": i, "name": f"item {i}", "price": 9.5 + i} for i in range(3)]}
).encode()
BODY_401 = b"Could not validate credentials"

_KEY = secrets.token_bytes(32)
_NOW = int(time.time())


def _jwt(**claims: object) -> str:
    base = {"sub": "bench-user", "iat": _NOW, "exp": _NOW + 3600, "scope": "items:read"}
    return jwt.encode({**base, **claims}, _KEY, algorithm="HS256")


# An unexpired JWT shaped like the ones real APIs receive (~200 characters).
TOKEN = _jwt()


def token_pool(size: int) -> tuple[str, ...]:
    """`size` distinct JWTs (distinct `jti` and `sub`): cycled through, they
    leave nothing for a per-credential cache to remember."""
    return tuple(_jwt(sub=f"user-{i:05d}", jti=f"{i:08x}") for i in range(size))


def sized_token(chars: int) -> str:
    """A JWT of about `chars` characters, grown the way real ones grow: a
    `groups` claim listing many group names (Azure AD, Keycloak)."""
    groups: list[str] = []
    token = _jwt(groups=groups)
    while len(token) < chars:
        # Each name adds ~24 characters once encoded: step close, then finish.
        missing = (chars - len(token)) * 3 // 4 // 18
        groups.extend(f"group-{len(groups) + i:05d}" for i in range(max(1, missing)))
        token = _jwt(groups=groups)
    return token


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request, as the server hands it to the app."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]


_COMMON: tuple[tuple[str, str], ...] = (
    ("host", "api.example.com"),
    ("user-agent", USER_AGENT),
    ("accept", "application/json"),
    ("accept-encoding", "gzip, deflate, br"),
    ("accept-language", "en-US,en;q=0.9"),
)


def _api_call(token: str, last: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return (
        *_COMMON,
        ("authorization", f"Bearer {token}"),
        ("x-request-id", REQUEST_ID),
        last,
        ("connection", "keep-alive"),
    )


def plain_request(token: str = TOKEN) -> Request:
    """A same-origin API call: no `Origin` (a referer instead), 9 headers."""
    headers = _api_call(token, ("referer", f"{ORIGIN}/items"))
    return Request("GET", "/items", "limit=20", headers)


def cors_request(token: str = TOKEN) -> Request:
    """A cross-origin API call from the page at `ORIGIN`, 9 headers."""
    return Request("GET", "/items", "limit=20", _api_call(token, ("origin", ORIGIN)))


def preflight_request() -> Request:
    """The browser's preflight before `cors_request`: no credentials (Fetch
    never sends them on a preflight), 9 headers."""
    headers = (
        ("host", "api.example.com"),
        ("user-agent", USER_AGENT),
        ("accept", "*/*"),
        ("accept-encoding", "gzip, deflate, br"),
        ("accept-language", "en-US,en;q=0.9"),
        ("origin", ORIGIN),
        ("access-control-request-method", "GET"),
        ("access-control-request-headers", "authorization,x-request-id"),
        ("connection", "keep-alive"),
    )
    return Request("OPTIONS", "/items", "limit=20", headers)


# What browsers, proxies and tracing add to a request, before filler headers.
_MORE_HEADERS: tuple[tuple[str, str], ...] = (
    ("sec-ch-ua", '"Chromium";v="126", "Not.A/Brand";v="24"'),
    ("sec-ch-ua-mobile", "?0"),
    ("sec-ch-ua-platform", '"Linux"'),
    ("sec-fetch-site", "same-site"),
    ("sec-fetch-mode", "cors"),
    ("sec-fetch-dest", "empty"),
    ("dnt", "1"),
    ("cache-control", "no-cache"),
    ("pragma", "no-cache"),
    ("x-forwarded-for", "203.0.113.7, 10.0.0.2"),
    ("x-forwarded-proto", "https"),
    ("x-real-ip", "203.0.113.7"),
    ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    ("tracestate", "rojo=00f067aa0ba902b7"),
    ("x-amzn-trace-id", "Root=1-67891233-abcdef012345678912345678"),
)


def padded(request: Request, count: int) -> Request:
    """`request` with headers added until it has `count` of them (no cookie
    and no key-like name, so no other credential is added)."""
    extra = [*_MORE_HEADERS]
    extra += [(f"x-filler-{i:03d}", f"value {i}") for i in range(max(0, count))]
    needed = count - len(request.headers)
    if needed < 0:
        raise ValueError(f"a request with {len(request.headers)} headers cannot have {count}")
    # Before `connection`, the way a browser orders them; the rest stays put.
    *head, last = request.headers
    return replace(request, headers=(*head, *extra[:needed], last))
