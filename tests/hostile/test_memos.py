"""What the refusal path remembers between requests keeps nothing a client sent.

Between requests the path remembers texts found clean (`redact`'s), the
last refusal's sink results and refusals by shape (`shape_cache.Decider`,
whose entries hold what is sent anyway). An app may echo the request's
credential into its answer, in an escaped form the raw text does not show:
JSON's `\\/` and `\\u0041`, a quoted-pair in a challenge parameter, or
verbatim. After each such refusal, nothing remembered holds the credential
in any form (found in the repr of every memo)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from authhygiene import AuthHygiene
from authhygiene.core import redact
from authhygiene.core.shape_cache import Decider
from tests.asgi_call import asgi_call

KEY = "AKIAabc/def+ghi/JKLmno123"
LIVE = "sk_live_A1b2C3d4E5f6G7h8J9k0"
PASSWORD = 'pa"ss\\word-Zq9x'
BASIC = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
QUOTED = PASSWORD.replace("\\", "\\\\").replace('"', '\\"')

Headers = list[tuple[str, str]]
# (request headers, app headers, app body, the secret, the forms to look for)
CASES: dict[str, tuple[Headers, Headers, bytes, str]] = {
    "json-slash-escaped": (
        [("x-api-key", KEY)],
        [("content-type", "application/json")],
        json.dumps({"detail": "Invalid API key", "key": KEY}).replace("/", "\\/").encode(),
        KEY,
    ),
    "json-unicode-escaped": (
        [("x-api-key", LIVE)],
        [("content-type", "application/json")],
        (
            '{"detail":"Invalid API key","key":"' + "".join(f"\\u{ord(c):04x}" for c in LIVE) + '"}'
        ).encode(),
        LIVE,
    ),
    "challenge-quoted-pair": (
        [("authorization", f"Basic {BASIC}")],
        [("www-authenticate", f'Basic realm="api", error_description="bad password {QUOTED}"')],
        b"",
        PASSWORD,
    ),
    "message-verbatim": (
        [("x-api-key", LIVE)],
        [("content-type", "application/json")],
        json.dumps({"detail": f"API key {LIVE} is revoked"}).encode(),
        LIVE,
    ),
    "challenge-verbatim": (
        [("authorization", f"Bearer {LIVE}")],
        [("www-authenticate", f'Bearer realm="api", error_description="token {LIVE}"')],
        b"",
        LIVE,
    ),
}


def _forms(secret: str) -> list[str]:
    """The secret as a memo's repr could show it."""
    return [secret, repr(secret)[1:-1], secret.replace("/", "\\/"), secret.lower()]


def _decider(middleware: AuthHygiene) -> Decider:
    decider = middleware.runtime.decider
    assert decider is not None
    return decider


def _memos(middleware: AuthHygiene) -> dict[str, object]:
    entries = _decider(middleware)._entries
    return {
        "_CLEAN_TEXTS": redact._CLEAN_TEXTS,
        "_sink_memo": redact._sink_memo,
        "Decider": [
            (key, entry.refusal, entry.body and entry.body.pieces, entry.clean, entry.fields)
            for key, entry in entries.items()
        ],
        "Decider._seen": _decider(middleware)._seen,
    }


def _app(status: int, headers: Headers, body: bytes) -> Callable[..., object]:
    async def app(scope: object, receive: object, send: Callable[..., object]) -> None:
        await send(  # type: ignore[misc]
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode("latin-1")) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": body})  # type: ignore[misc]

    return app


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_memo_keeps_an_echoed_credential(name: str) -> None:
    request, headers, body, secret = CASES[name]
    middleware = AuthHygiene(_app(401, headers, body), realm="api", api_key_headers=["x-api-key"])
    for _ in range(3):  # the first refusal, the one that builds the memo, a memo hit
        exchange = asgi_call(
            middleware, headers=[(k.encode(), v.encode("latin-1")) for k, v in request]
        )
        assert exchange.status in (400, 401)
    assert _decider(middleware)._entries  # the memo was built and used
    held = {
        memo: form
        for memo, value in _memos(middleware).items()
        for form in _forms(secret)
        if form in repr(value)
    }
    assert held == {}
