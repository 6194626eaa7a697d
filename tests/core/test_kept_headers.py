"""The app's own headers on a refusal leave without the request's secrets.

An app may echo what the client sent into a header of its own (`X-Debug:
Bearer <token>`); the refusal keeps the header and masks the secret, on the
general path and on the shape cache's quick lane alike. Its Set-Cookie is
its session state and stays as it is.
"""

from __future__ import annotations

from typing import Any

import pytest

from authhygiene.core.answer import AppAnswer
from authhygiene.core.credentials import RequestView
from authhygiene.core.decision import decide, kept_value
from authhygiene.core.policy import Policy
from authhygiene.core.redact import REDACTED
from authhygiene.core.shape_cache import Decider
from tests.asgi_call import asgi_call

TOKEN = "abcdefghijklmnop0123456789"
KEY = "k3y-0f-the-client-0123456789"


@pytest.mark.parametrize(
    ("name", "value", "secrets", "kept"),
    [
        pytest.param("x-debug", f"Bearer {TOKEN}", (TOKEN,), f"Bearer {REDACTED}", id="echo"),
        pytest.param("x-debug", f"saw {TOKEN} and {KEY}", (TOKEN, KEY), None, id="two"),
        pytest.param("link", "</docs>; rel=help", (TOKEN,), "</docs>; rel=help", id="clean"),
        pytest.param("x-debug", "a" * 9000 + TOKEN, (TOKEN,), "a" * 9000 + REDACTED, id="long"),
        pytest.param(
            "set-cookie",
            f"session={TOKEN}; Path=/",
            (TOKEN,),
            f"session={TOKEN}; Path=/",
            id="set-cookie-as-is",
        ),
        pytest.param("x-debug", "n=abc", ("abc",), f"n={REDACTED}", id="short-secret-alone"),
    ],
)
def test_kept_value(name: str, value: str, secrets: tuple[str, ...], kept: str | None) -> None:
    out = kept_value(name, value, secrets)
    if kept is not None:
        assert out == kept
    for secret in secrets:
        if name != "set-cookie" and len(secret) >= 4:
            assert secret not in out


def _view() -> RequestView:
    return RequestView(
        method="GET",
        path="/items",
        query="",
        headers=(("authorization", f"Bearer {TOKEN}"), ("x-api-key", KEY)),
        client="127.0.0.1",
    )


ANSWER = AppAnswer(
    401,
    (
        ("www-authenticate", "Bearer"),
        ("x-debug", f"Bearer {TOKEN}; key {KEY}"),
        ("set-cookie", "flash=; Path=/"),
    ),
    b"{}",
)


def test_general_path_and_shape_cache_mask_alike() -> None:
    policy = Policy(realm="api")
    general = decide(policy, _view(), ANSWER)
    decider = Decider(policy)
    cached = [decider(_view(), ANSWER) for _ in range(3)]
    for decision in (general, *cached):
        assert decision is not None
        debug = dict(decision.headers)["x-debug"]
        assert TOKEN not in debug
        assert KEY not in debug
        assert dict(decision.headers)["set-cookie"] == "flash=; Path=/"


def test_asgi_quick_lane_masks_too() -> None:
    """Repeats of one shape take the quick lane from the second request on."""
    from authhygiene import AuthHygiene

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        sent = dict(scope["headers"])
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [(b"x-debug", sent[b"authorization"]), (b"www-authenticate", b"Bearer")],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    middleware = AuthHygiene(app, realm="api", metrics=False)
    for _ in range(3):
        sent = asgi_call(middleware, headers=[(b"authorization", f"Bearer {TOKEN}".encode())])
        assert dict(sent.headers)["x-debug"] == f"Bearer {REDACTED}"


async def _refusing_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 401, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _wsgi_refusing_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("401 Unauthorized", [])
    return [b""]


@pytest.mark.parametrize("protocol", ["asgi", "wsgi"])
def test_quick_lane_never_echoes_a_query_secret_as_the_request_id(protocol: str) -> None:
    """The quick lane tells shapes apart by every query a secret may hide in
    (`?apikey=`, not only `?access_token=`): a request id equal to that key
    is replaced on every repeat, as on the general path."""
    from authhygiene import AuthHygiene, AuthHygieneWSGI

    key = "3f2a9c1e7b5d4a6f8e0c2b4d6f8a0c1e"
    ids: list[str] = []
    asgi = AuthHygiene(_refusing_app, realm="api", metrics=False)
    wsgi = AuthHygieneWSGI(_wsgi_refusing_app, realm="api", metrics=False)
    for _ in range(3):
        if protocol == "asgi":
            sent = asgi_call(
                asgi, query=f"apikey={key}".encode(), headers=[(b"x-request-id", key.encode())]
            )
            ids.append(dict(sent.headers)["x-request-id"])
        else:
            started: list[list[tuple[str, str]]] = []
            environ = {
                "REQUEST_METHOD": "GET",
                "PATH_INFO": "/items",
                "QUERY_STRING": f"apikey={key}",
                "HTTP_X_REQUEST_ID": key,
                "REMOTE_ADDR": "127.0.0.1",
            }
            wsgi(environ, lambda status, headers, exc_info=None, s=started: s.append(headers))
            ids.append(dict(started[0])["x-request-id"])
    assert len(ids) == 3
    assert key not in ids
