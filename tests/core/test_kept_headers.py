"""The app's own headers on a refusal leave without the request's secrets.

An app may echo what the client sent into a header of its own (`X-Debug:
Bearer <token>`); the refusal keeps the header and masks the secret, on the
general path and on the shape cache's quick lane alike. Its Set-Cookie is
its session state and stays as it is.
"""

from __future__ import annotations

import pytest

from authhygiene.core.answer import AppAnswer
from authhygiene.core.credentials import RequestView
from authhygiene.core.decision import decide, kept_value
from authhygiene.core.policy import Policy
from authhygiene.core.redact import REDACTED
from authhygiene.core.shape_cache import Decider

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
    import asyncio

    from authhygiene import AuthHygiene

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        sent = dict(scope["headers"])  # type: ignore[call-overload]
        await send(  # type: ignore[operator]
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [(b"x-debug", sent[b"authorization"]), (b"www-authenticate", b"Bearer")],
            }
        )
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    middleware = AuthHygiene(app, realm="api", metrics=False)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/items",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {TOKEN}".encode())],
        "client": ("127.0.0.1", 1),
    }

    async def run() -> list[bytes]:
        values = []
        for _ in range(3):
            messages: list[dict[str, object]] = []

            async def send(
                message: dict[str, object], messages: list[dict[str, object]] = messages
            ) -> None:
                messages.append(message)

            async def receive() -> dict[str, object]:
                return {"type": "http.request"}

            await middleware(dict(scope), receive, send)
            headers = dict(messages[0]["headers"])  # type: ignore[call-overload]
            values.append(headers[b"x-debug"])
        return values

    for value in asyncio.run(run()):
        assert TOKEN.encode() not in value
        assert value == f"Bearer {REDACTED}".encode()


@pytest.mark.parametrize("protocol", ["asgi", "wsgi"])
def test_quick_lane_never_echoes_a_query_secret_as_the_request_id(protocol: str) -> None:
    """The quick lane tells shapes apart by every query a secret may hide in
    (`?apikey=`, not only `?access_token=`): a request id equal to that key
    is replaced on every repeat, as on the general path."""
    import asyncio

    from authhygiene import AuthHygiene, AuthHygieneWSGI

    key = "3f2a9c1e7b5d4a6f8e0c2b4d6f8a0c1e"
    ids: list[str] = []
    if protocol == "asgi":

        async def app(scope: dict[str, object], receive: object, send: object) -> None:
            start = {"type": "http.response.start", "status": 401, "headers": []}
            await send(start)  # type: ignore[operator]
            await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

        middleware = AuthHygiene(app, realm="api", metrics=False)

        async def run() -> None:
            for _ in range(3):
                messages: list[dict[str, object]] = []

                async def send(
                    message: dict[str, object], messages: list[dict[str, object]] = messages
                ) -> None:
                    messages.append(message)

                async def receive() -> dict[str, object]:
                    return {"type": "http.request"}

                scope = {
                    "type": "http",
                    "method": "GET",
                    "path": "/items",
                    "query_string": f"apikey={key}".encode(),
                    "headers": [(b"x-request-id", key.encode())],
                    "client": ("127.0.0.1", 1),
                }
                await middleware(scope, receive, send)
                headers = dict(messages[0]["headers"])  # type: ignore[call-overload]
                ids.append(headers[b"x-request-id"].decode())

        asyncio.run(run())
    else:

        def wsgi_app(environ: dict[str, object], start_response: object) -> list[bytes]:
            start_response("401 Unauthorized", [])  # type: ignore[operator]
            return [b""]

        wsgi = AuthHygieneWSGI(wsgi_app, realm="api", metrics=False)
        for _ in range(3):
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
