"""The challenges we write, on the wire (findings 3, 10, 16 and 17 of the
hostile-input review).

Two real stacks answer the same routes: a Flask app under werkzeug's
server (`AuthHygieneWSGI`) and a Starlette app under uvicorn
(`AuthHygiene`). Every answer is read back with werkzeug's
`WWWAuthenticate` parser and with ours, and searched for the credential
the request carried and any 12-character piece of it.

- 3: an app that echoes its client's token into its own challenge (as a
  token68, as the scheme, as a parameter name or value) sends none of it.
- 10: an app that repeats `Bearer` 1,100 times, or writes 1,100 distinct
  challenges, gets one bounded header we read back ourselves.
- 16: with `schemes=("Bearer", "Basic")`, a 400 or 403 carries only the
  Bearer challenge that conveys its error.
- 17: error, scope, acr_values, max_age and resource_metadata come before
  error_description; the description is ASCII by transliteration and holds
  no `name=`; a realm with a quote is reported once at start-up.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import structlog
from flask import Flask
from flask import request as flask_request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from structlog.testing import LogCapture
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from authhygiene import AuthFailure, AuthHygiene, AuthHygieneWSGI, Reason
from authhygiene.core.challenge import MAX_HEADER_CHARS, parse_challenges
from tests.e2e.servers import (
    Reply,
    UvicornThread,
    WerkzeugThread,
    assert_absent,
    fetch,
    raw_exchange,
)

FRAGMENT = 12
METADATA = "https://api.example/.well-known/oauth-protected-resource"
# What the MCP python SDK does: the first `scope=` anywhere in the header.
NAIVE_SCOPE_RE = re.compile(r'scope="([^"]*)"|scope=([^\s,]+)')
REVOKED_FR = "Cl\u00e9 r\u00e9voqu\u00e9e; the scope=admin grant is gone"
STEP_UP_TEXT = "Log in again with acr_values=phr max_age=0 scope=admin"

# What each route's app writes into WWW-Authenticate, from the client's token.
ECHOES: dict[str, str] = {
    "token68": "Bearer {token}",
    "token68-padded": "Bearer {token}==",
    "negotiate": "Negotiate {token}",
    "scheme": "{token}",
    "param-name": 'Bearer realm="app", {token}="1"',
    "param-value": 'Bearer realm="app", hint="{token}"',
    "param-piece": 'Bearer realm="app", hint="{piece}"',
    "many": ",".join(["Bearer"] * 1100),
    "many-distinct": ", ".join(f'Bearer n="{i}"' for i in range(1100))[:8000].rsplit(",", 1)[0],
}


def _token_of(authorization: str) -> str:
    return authorization.partition(" ")[2]


def _echo(route: str, token: str) -> str:
    return ECHOES[route].format(token=token, piece=token[3 : 3 + FRAGMENT])


def _failure(route: str) -> AuthFailure:
    if route == "scope":
        return AuthFailure(
            Reason.INSUFFICIENT_SCOPE,
            'This needs scope="admin", ask for scope=root',
            required_scope="items:write",
        )
    if route == "step-up":
        return AuthFailure(Reason.STEP_UP_REQUIRED, STEP_UP_TEXT, acr_values=["mfa"], max_age=60)
    return AuthFailure(Reason.TOKEN_REVOKED, REVOKED_FR)


def flask_app() -> Flask:
    app = Flask(__name__)

    @app.get("/echo/<route>")
    def echo(route: str) -> Any:
        token = _token_of(flask_request.headers.get("Authorization", ""))
        # As werkzeug's docs show it: the app builds its own challenge.
        raise Unauthorized(www_authenticate=[_echo(route, token)])  # type: ignore[list-item]

    @app.get("/declared/<route>")
    def declared(route: str) -> Any:
        raise _failure(route)

    @app.get("/plain")
    def plain() -> Any:
        return {"detail": "Not authenticated"}, 401

    return app


def starlette_app() -> Starlette:
    async def echo(request: Request) -> Response:
        token = _token_of(request.headers.get("authorization", ""))
        return Response(
            b'{"detail":"Unauthorized"}',
            401,
            headers={"WWW-Authenticate": _echo(request.path_params["route"], token)},
            media_type="application/json",
        )

    async def declared(request: Request) -> Response:
        raise _failure(request.path_params["route"])

    async def plain(request: Request) -> Response:
        return Response(b'{"detail":"Not authenticated"}', 401, media_type="application/json")

    return Starlette(
        routes=[
            Route("/echo/{route}", echo),
            Route("/declared/{route}", declared),
            Route("/plain", plain),
        ]
    )


@dataclass
class Served:
    port: int
    logs: LogCapture


def _options(logs: LogCapture, **extra: Any) -> dict[str, Any]:
    options = {
        "realm": "api",
        "schemes": ("Bearer", "Basic"),
        "resource_metadata": METADATA,
        "logger": structlog.wrap_logger(None, processors=[logs]),
        **extra,
    }
    # schemes=None: the default, which the app's own challenges override.
    return {key: value for key, value in options.items() if value is not None}


@contextlib.contextmanager
def _serve(stack: str, **extra: Any) -> Iterator[Served]:
    logs = LogCapture()
    if stack == "werkzeug":
        app = flask_app()
        app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, **_options(logs, **extra))  # type: ignore[method-assign]
        with WerkzeugThread(app) as server:
            yield Served(server.port, logs)
    else:
        with UvicornThread(AuthHygiene(starlette_app(), **_options(logs, **extra))) as server:
            yield Served(server.port, logs)


@pytest.fixture(scope="module", params=["werkzeug", "uvicorn"])
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    with _serve(request.param) as server:
        yield server


def _new_token() -> str:
    # Mixed case: the challenge reader lowercases names.
    return "Hx" + secrets.token_urlsafe(24).replace("-", "Q").replace("_", "z")


def _read_back(reply: Reply) -> list[WWWAuthenticate]:
    """Every challenge, parsed by werkzeug and by us alike, within the bound."""
    values = reply.get_all("www-authenticate")
    assert len(", ".join(values)) <= MAX_HEADER_CHARS
    ours = parse_challenges(values)
    assert ours is not None
    assert len(ours) == len(values)
    parsed = []
    for value, mine in zip(values, ours, strict=True):
        oracle = WWWAuthenticate.from_header(value)
        assert oracle is not None, value
        assert oracle.type == mine.scheme.lower()
        assert dict(oracle.parameters) == dict(mine.params)
        parsed.append(oracle)
    return parsed


def _assert_no_piece(token: str, *texts: str) -> None:
    lowered = [text.lower() for text in texts]
    for start in range(len(token) - FRAGMENT + 1):
        piece = token[start : start + FRAGMENT].lower()
        assert not any(piece in text for text in lowered), "a piece of the token was sent on"


# --- finding 3 ------------------------------------------------------------------


@pytest.mark.parametrize(
    "route",
    [
        "token68",
        "token68-padded",
        "negotiate",
        "scheme",
        "param-name",
        "param-value",
        "param-piece",
    ],
)
def test_echoed_token_is_never_sent_on(served: Served, route: str) -> None:
    token = _new_token()
    reply = fetch(served.port, f"/echo/{route}", headers=[("Authorization", f"Bearer {token}")])
    assert reply.status == 401
    parsed = _read_back(reply)
    assert parsed
    assert all(c.parameters.get("realm") for c in parsed)
    _assert_no_piece(token, reply.wire_text, repr(served.logs.entries))


def test_echoed_token_through_a_raw_socket(served: Served) -> None:
    token = _new_token()
    request = (
        f"GET /echo/token68 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    answer = raw_exchange(served.port, request).decode("latin-1")
    assert answer.startswith("HTTP/1.1 401")
    head = answer.split("\r\n\r\n", 1)[0]
    assert re.search(r'(?im)^www-authenticate: Bearer realm="api", error="invalid_token"', head)
    _assert_no_piece(token, answer)


# --- finding 10 -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "reported"), [("many", False), ("many-distinct", True)], ids=["repeated", "distinct"]
)
def test_thousand_challenges_give_one_bounded_header(
    served: Served, route: str, reported: bool
) -> None:
    served.logs.entries.clear()
    token = _new_token()
    request = (
        f"GET /echo/{route} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    answer = raw_exchange(served.port, request)
    head = answer.split(b"\r\n\r\n", 1)[0]
    assert len(head) < 2048  # the review saw a 124 KB head
    reply = fetch(served.port, f"/echo/{route}", headers=[("Authorization", f"Bearer {token}")])
    parsed = _read_back(reply)
    # Collapsed to the app's one Bearer, or (too many) replaced by ours.
    assert [c.type for c in parsed] == (["bearer", "basic"] if reported else ["bearer"])
    assert parsed[0].parameters["error"] == "invalid_token"
    kinds = [e.get("kind") for e in served.logs.entries if e["event"] == "auth.misconfig"]
    assert ("app_challenge_invalid" in kinds) is reported


# --- finding 16 -----------------------------------------------------------------


def test_403_insufficient_scope_carries_only_bearer(served: Served) -> None:
    token = _new_token()
    reply = fetch(served.port, "/declared/scope", headers=[("Authorization", f"Bearer {token}")])
    assert reply.status == 403
    (challenge,) = _read_back(reply)
    assert challenge.type == "bearer"
    assert challenge.parameters["error"] == "insufficient_scope"
    assert challenge.parameters["scope"] == "items:write"
    assert "Basic" not in " ".join(reply.get_all("www-authenticate"))


def test_400_malformed_carries_only_bearer(served: Served) -> None:
    reply = fetch(served.port, "/plain", headers=[("Authorization", "Bearer ")])
    assert reply.status == 400
    (challenge,) = _read_back(reply)
    assert challenge.type == "bearer"
    assert challenge.parameters["error"] == "invalid_request"


def test_401_still_offers_both_schemes(served: Served) -> None:
    reply = fetch(served.port, "/plain")
    assert reply.status == 401
    assert [c.type for c in _read_back(reply)] == ["bearer", "basic"]


# --- finding 17 -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "status", "machine"),
    [
        ("scope", 403, ("error", "scope")),
        ("step-up", 401, ("error", "acr_values", "max_age", "resource_metadata")),
        ("revoked", 401, ("error", "resource_metadata")),
    ],
)
def test_machine_read_parameters_before_the_description(
    served: Served, route: str, status: int, machine: tuple[str, ...]
) -> None:
    token = _new_token()
    reply = fetch(served.port, f"/declared/{route}", headers=[("Authorization", f"Bearer {token}")])
    assert reply.status == status
    values = reply.get_all("www-authenticate")
    parsed = _read_back(reply)
    # A 401 offers Basic too, after Bearer; a 403 only the Bearer challenge.
    assert [c.type for c in parsed] == (["bearer"] if status == 403 else ["bearer", "basic"])
    value, challenge = values[0], parsed[0]
    names = list(challenge.parameters)
    assert names[-1] == "error_description"
    for name in machine:
        assert value.index(f" {name}=") < value.index(" error_description=")
    description = challenge.parameters["error_description"]
    assert "=" not in description
    assert description.isascii()
    found = NAIVE_SCOPE_RE.search(value)
    if "scope" in machine:
        assert found is not None
        assert (found.group(1) or found.group(2)) == "items:write"
    else:
        assert found is None


def test_description_is_transliterated(served: Served) -> None:
    token = _new_token()
    reply = fetch(served.port, "/declared/revoked", headers=[("Authorization", f"Bearer {token}")])
    challenge = _read_back(reply)[0]
    assert challenge.parameters["error_description"].startswith("Cle revoquee; the scope: admin")
    assert reply.json()["detail"] == REVOKED_FR


@pytest.mark.parametrize("stack", ["werkzeug", "uvicorn"])
@pytest.mark.parametrize("realm", ['my "api"', "corp\\api"], ids=["quote", "backslash"])
def test_realm_with_quoted_pair_is_reported_once(stack: str, realm: str) -> None:
    with _serve(stack, realm=realm) as server:
        for _ in range(3):
            reply = fetch(server.port, "/plain")
            assert reply.status == 401
            assert [c.parameters["realm"] for c in _read_back(reply)] == [realm, realm]
        kinds = [e.get("kind") for e in server.logs.entries if e["event"] == "auth.misconfig"]
        assert kinds.count("realm_quoted_pair") == 1


@pytest.mark.parametrize("stack", ["werkzeug", "uvicorn"])
def test_plain_realm_is_not_reported(stack: str) -> None:
    with _serve(stack) as server:
        assert fetch(server.port, "/plain").status == 401
        kinds = [e.get("kind") for e in server.logs.entries if e["event"] == "auth.misconfig"]
        assert "realm_quoted_pair" not in kinds


@pytest.mark.parametrize("stack", ["werkzeug", "uvicorn"])
def test_short_hex_token_echoed_as_a_word_is_nowhere(stack: str) -> None:
    # 16 hex characters: no credential shape, no high-entropy run; only the
    # request's own secret says it is one. The scheme case needs the
    # diagnosis to read the app's challenges with the request's secrets
    # (`parse_challenges(values, credentials.secrets)`), or the token comes
    # back as an "accepted scheme" in the body and the log.
    with _serve(stack, schemes=None) as served:
        for route in ("scheme", "param-name", "negotiate", "token68"):
            token = secrets.token_hex(8)
            reply = fetch(
                served.port, f"/echo/{route}", headers=[("Authorization", f"Bearer {token}")]
            )
            assert reply.status == 401
            _read_back(reply)
            assert_absent([token], reply.wire_text.lower(), repr(served.logs.entries).lower())
