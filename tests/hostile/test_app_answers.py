"""Hostile numbers in tokens and hostile app answers, through real servers.

Issue 12, findings 2, 5, 9, 11, 12 and "never raise": FastAPI's HTTPBearer
under uvicorn and a Flask app under werkzeug, bare and wrapped; raw ASGI and
WSGI apps that answer deep, non-finite and secret-echoing problem bodies.
Every wrapped answer is a well-formed 4xx the bare app would give, strict
JSON, and free of any piece of the credential (the autouse leak check
watches the logs as well).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import quote

import pytest
import structlog
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from flask import Flask
from flask import request as flask_request
from structlog.testing import LogCapture

from authhygiene import AuthHygiene, AuthHygieneWSGI
from authhygiene.core import decision as decision_module
from tests import leaks
from tests.e2e.servers import Reply, UvicornThread, WerkzeugThread, challenges, fetch

HEADER = "eyJhbGciOiJIUzI1NiJ9"


def _token(payload: str) -> str:
    body = base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode()
    return f"{HEADER}.{body}.c2ln"


# Finding 2 and its class: any number in any time claim.
HOSTILE_CLAIMS = [
    pytest.param('{"exp":1' + "0" * 309 + "}", id="exp-1e309"),
    pytest.param('{"nbf":1' + "0" * 309 + "}", id="nbf-1e309"),
    pytest.param('{"iat":1' + "0" * 309 + "}", id="iat-1e309"),
    pytest.param('{"exp":-1' + "0" * 309 + "}", id="exp-minus-1e309"),
    pytest.param('{"exp":1' + "0" * 5000 + "}", id="exp-5000-digits"),
    pytest.param('{"exp":1e999,"nbf":NaN,"iat":-Infinity}', id="non-finite"),
    pytest.param('{"exp":99999999999999,"iat":-5}', id="past-year-9999"),
    pytest.param('{"exp":true,"sub":' + "9" * 400 + "}", id="bool-and-long-int"),
]


def _capture() -> tuple[LogCapture, Any]:
    capture = LogCapture()
    return capture, structlog.wrap_logger(None, processors=[capture])


_SECURITY = HTTPBearer()


def _current(credentials: Annotated[HTTPAuthorizationCredentials, Depends(_SECURITY)]) -> str:
    # The README's app: HTTPBearer, and a token nobody accepts.
    raise HTTPException(401, "Invalid authentication credentials", {"WWW-Authenticate": "Bearer"})


def _fastapi() -> FastAPI:
    app = FastAPI()

    @app.get("/items")
    def items(user: Annotated[str, Depends(_current)]) -> dict[str, str]:
        return {"user": user}

    return app


def _flask() -> Flask:
    app = Flask(__name__)

    @app.get("/items")
    def items() -> Any:
        auth = flask_request.headers.get("Authorization", "")
        if not auth and not flask_request.args.get("access_token"):
            return {"detail": "Not authenticated"}, 401, {"WWW-Authenticate": "Bearer"}
        return {"detail": "Invalid token"}, 401, {"WWW-Authenticate": "Bearer"}

    return app


@pytest.fixture(scope="module")
def stacks() -> Iterator[dict[str, tuple[int, int, LogCapture]]]:
    """name -> (bare port, wrapped port, the wrapped app's log)."""
    fastapi_capture, fastapi_logger = _capture()
    flask_capture, flask_logger = _capture()
    flask_wrapped = _flask()
    flask_wrapped.wsgi_app = AuthHygieneWSGI(  # type: ignore[method-assign]
        flask_wrapped.wsgi_app, realm="api", logger=flask_logger
    )
    with (
        UvicornThread(_fastapi()) as fastapi_bare,
        UvicornThread(AuthHygiene(_fastapi(), realm="api", logger=fastapi_logger)) as fastapi,
        WerkzeugThread(_flask()) as flask_bare,
        WerkzeugThread(flask_wrapped) as flask,
    ):
        yield {
            "fastapi-uvicorn": (fastapi_bare.port, fastapi.port, fastapi_capture),
            "flask-werkzeug": (flask_bare.port, flask.port, flask_capture),
        }


def _assert_well_formed(reply: Reply, bare: Reply) -> dict[str, Any]:
    assert reply.status < 500
    if bare.status in (401, 403):
        assert reply.status in (400, 401, 403)
    if reply.status == 401:
        assert challenges(reply)
    assert reply.get("content-type") == "application/problem+json"
    assert reply.get("cache-control") == "no-store"
    for _, value in reply.headers:
        assert not set(value) & {"\r", "\n", "\0"}
    problem: dict[str, Any] = json.loads(reply.body, parse_constant=_not_json)
    assert problem["status"] == reply.status
    return problem


def _not_json(constant: str) -> Any:
    raise AssertionError(f"{constant} is not JSON")


@pytest.mark.parametrize("where", ["header", "query"])
@pytest.mark.parametrize("payload", HOSTILE_CLAIMS)
@pytest.mark.parametrize("stack", ["fastapi-uvicorn", "flask-werkzeug"])
def test_hostile_time_claims_never_give_a_500(
    stacks: dict[str, tuple[int, int, LogCapture]], stack: str, payload: str, where: str
) -> None:
    bare_port, port, capture = stacks[stack]
    token = _token(payload)
    leaks.remember(token)
    if where == "header":
        path, headers = "/items", [("Authorization", f"Bearer {token}")]
    else:
        path, headers = f"/items?access_token={quote(token)}", []
    bare = fetch(bare_port, path, headers=headers)
    reply = fetch(port, path, headers=headers)
    assert bare.status < 500
    problem = _assert_well_formed(reply, bare)
    if bare.status == 401:
        assert reply.status in (400, 401)
    assert token not in reply.wire_text
    # The token's time claims are no dates: nothing says when it expired.
    assert "expired_at" not in problem
    assert not [e for e in capture.entries if e.get("kind") == "internal_error"]


# --- the app's own answers: 5, 9, 11, 12 --------------------------------------

SECRET = "Zq8vN3xLp0Wm7TbK2sYc9RfH4dGj6AeU1oIiVnBwq7"
PAD = "The credentials presented to this service were rejected after review " * 2


def _answer(kind: str, token: str) -> tuple[str, bytes]:
    """What the hostile app answers for `kind`, echoing `token`."""
    problem = "application/problem+json"
    if kind == "cut-detail":
        return "application/json", json.dumps({"detail": PAD[:150] + " " + token}).encode()
    if kind == "cut-members":
        text = PAD[:200] + token
        members = {"type": "https://e.example/" + text, "title": text, "instance": "/" + text}
        return problem, json.dumps({**members, "note": text}).encode()
    if kind == "deep-objects":
        return problem, ('{"title":"No","x":' + '{"a":' * 600 + "1" + "}" * 600 + "}").encode()
    if kind == "deep-arrays":
        return problem, ('{"title":"No","x":' + "[" * 100_000).encode()
    if kind == "non-finite":
        return problem, b'{"title":"No","x":NaN,"y":1e999,"z":-Infinity,"n":[Infinity]}'
    if kind == "names":
        names = {token: 1, "api_key=" + token: 2, "k_" + token: 3, "x" * 300 + token: 4}
        return problem, json.dumps({"title": "No", **names, "nested": names}).encode()
    raise AssertionError(kind)


KINDS = ["cut-detail", "cut-members", "deep-objects", "deep-arrays", "non-finite", "names"]


def _token_of(headers: list[tuple[str, str]]) -> str:
    for name, value in headers:
        if name.lower() == "authorization":
            return value.partition(" ")[2]
    return ""


def _asgi_app() -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        content_type, body = _answer(scope["path"].strip("/"), _token_of(headers))
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"www-authenticate", b"Bearer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def _wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
    token = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")[2]
    content_type, body = _answer(str(environ["PATH_INFO"]).strip("/"), token)
    start_response(
        "401 Unauthorized", [("Content-Type", content_type), ("WWW-Authenticate", "Bearer")]
    )
    return [body]


@pytest.fixture(scope="module")
def echoing() -> Iterator[dict[str, tuple[int, int, LogCapture]]]:
    asgi_capture, asgi_logger = _capture()
    wsgi_capture, wsgi_logger = _capture()
    with (
        UvicornThread(_asgi_app()) as asgi_bare,
        UvicornThread(
            AuthHygiene(_asgi_app(), realm="api", explain="full", logger=asgi_logger)
        ) as asgi,
        WerkzeugThread(_wsgi_app) as wsgi_bare,
        WerkzeugThread(
            AuthHygieneWSGI(_wsgi_app, realm="api", explain="full", logger=wsgi_logger)
        ) as wsgi,
    ):
        yield {
            "asgi-uvicorn": (asgi_bare.port, asgi.port, asgi_capture),
            "wsgi-werkzeug": (wsgi_bare.port, wsgi.port, wsgi_capture),
        }


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stack", ["asgi-uvicorn", "wsgi-werkzeug"])
def test_hostile_app_answers(
    echoing: dict[str, tuple[int, int, LogCapture]], stack: str, kind: str
) -> None:
    bare_port, port, capture = echoing[stack]
    headers = [("Authorization", f"Bearer {SECRET}")]
    bare = fetch(bare_port, f"/{kind}", headers=headers)
    reply = fetch(port, f"/{kind}", headers=headers)
    assert bare.status == 401
    problem = _assert_well_formed(reply, bare)
    assert reply.status == 401
    assert _depth(problem) <= 10
    wire = reply.wire_text
    for start in range(len(SECRET) - 5):
        assert SECRET[start : start + 6] not in wire, "a piece of the credential leaked"
    for key in problem:
        assert len(key) <= 64
    if kind == "non-finite":
        assert problem["x"] is None
        assert problem["y"] is None
        assert problem["n"] == [None]
    assert not [e for e in capture.entries if e.get("kind") == "internal_error"]


# --- never raise: a diagnosis that fails still answers ----------------------------


def _boom(*args: object, **kwargs: object) -> Any:
    raise RuntimeError("diagnosis failed")


@pytest.mark.parametrize("stack", ["fastapi-uvicorn", "flask-werkzeug"])
def test_failing_diagnosis_still_answers_on_the_wire(
    stacks: dict[str, tuple[int, int, LogCapture]],
    monkeypatch: pytest.MonkeyPatch,
    stack: str,
) -> None:
    bare_port, port, capture = stacks[stack]
    monkeypatch.setattr(decision_module, "diagnose", _boom)
    # A shape not seen before, so that the diagnosis runs.
    token = "fresh-" + stack + "-" + "k9" * 12
    headers = [("Authorization", f"Bearer {token}")]
    bare = fetch(bare_port, "/items", headers=headers)
    reply = fetch(port, "/items", headers=headers)
    problem = _assert_well_formed(reply, bare)
    assert reply.status == bare.status == 401
    assert problem["reason"] == "credentials_invalid"
    assert token not in reply.wire_text
    internal = [e for e in capture.entries if e.get("kind") == "internal_error"]
    assert len(internal) == 1
    assert internal[0]["error"] == "RuntimeError"
    assert "diagnosis failed" not in repr(capture.entries)
