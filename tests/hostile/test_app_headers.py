"""What an app sends on its own refusal stays its own, through a real server.

The sinks mask the request's secrets and credential shapes in the app's
headers and challenges; they must not mask what is the app's: its custom
scheme's challenge, a Digest nonce, its Location and Link parameters, its
CORS answer when the client's cookies hold `true` or a URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from authhygiene import AuthHygiene
from tests.e2e.servers import UvicornThread, fetch

DIGEST = (
    'Digest realm="api", qop="auth", nonce="MTcwMDAwMDAwMDpiMmQ2NzFmZTc4YTQ5ZTM0OTM2Y2Y0",'
    ' opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)
APP_HEADERS = {
    "/shared-key": [(b"www-authenticate", b'SharedKey realm="storage"')],
    "/digest": [(b"www-authenticate", DIGEST.encode())],
    "/cors": [
        (b"www-authenticate", b"Bearer"),
        (b"access-control-allow-origin", b"https://api.example.com"),
        (b"access-control-allow-credentials", b"true"),
        (b"content-language", b"en-US"),
    ],
    "/help": [
        (b"www-authenticate", b"Bearer"),
        (b"link", b'</docs/errors/name>; rel="help"'),
    ],
    "/links": [
        (b"www-authenticate", b"Bearer"),
        (b"location", b"/login?next=/x&code=abc"),
        (b"link", b'</items?page_token=p2>; rel="next"'),
    ],
}


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    headers = APP_HEADERS[scope["path"]]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with UvicornThread(AuthHygiene(_app, realm="api")) as server:
        yield server.port


@pytest.mark.parametrize(
    ("path", "headers", "kept"),
    [
        pytest.param(
            "/shared-key",
            (("Authorization", "SharedKey myaccount:c2lnbmF0dXJlLXZhbHVl"),),
            {"www-authenticate": 'SharedKey realm="storage"'},
            id="custom-scheme-the-app-names",
        ),
        pytest.param(
            "/digest",
            (
                (
                    "Authorization",
                    'Digest username="alice", realm="api", uri="/digest", algorithm=MD5,'
                    ' nonce="MTcwMDAwMDAwMDpiMmQ2NzFmZTc4YTQ5ZTM0OTM2Y2Y0", qop=auth,'
                    ' nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1"',
                ),
            ),
            {"www-authenticate": DIGEST},
            id="digest-nonce",
        ),
        pytest.param(
            "/cors",
            (
                ("Origin", "https://api.example.com"),
                ("Cookie", "consent=true; lang=en-US; return_to=https://api.example.com/v1/o/42"),
            ),
            {
                "access-control-allow-origin": "https://api.example.com",
                "access-control-allow-credentials": "true",
                "content-language": "en-US",
            },
            id="cors-with-preference-cookies",
        ),
        pytest.param(
            "/help?sort_key=name",
            (("Authorization", "Bearer Zq8RkT2mLp9sXv4nBw7cYd1f"),),
            {"link": '</docs/errors/name>; rel="help"'},
            id="a-short-value-under-a-key-name-is-no-secret",
        ),
        pytest.param(
            "/links",
            (("Authorization", "Bearer Zq8RkT2mLp9sXv4nBw7cYd1f"),),
            {"location": "/login?next=/x&code=abc", "link": '</items?page_token=p2>; rel="next"'},
            id="location-and-link",
        ),
    ],
)
def test_the_apps_own_headers_stay(
    port: int, path: str, headers: tuple[tuple[str, str], ...], kept: dict[str, str]
) -> None:
    reply = fetch(port, path, headers=headers)
    assert reply.status == 401
    for name, value in kept.items():
        assert reply.get(name) == value, name
