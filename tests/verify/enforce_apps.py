"""What the served enforce-mode tests share: keys made at test time, tokens,
apps written the way their docs teach (FastAPI, Starlette, Flask) that read
the identity enforce mode hands them and count their own calls, and the
checks every refusal is held to.

Every app here logs into its own `CapturingLogger` (`log_limit=None`: one
`auth.failure` event per refusal, never folded into a summary), so a test
finds the one event of its request by the request id the body carries.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from flask import Flask
from flask import request as flask_request
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from structlog.testing import CapturingLogger

from authhygiene import CORS, Identity, Scopes
from authhygiene.core.requirements import compile_requirements
from authhygiene.identity import IDENTITY_KEY
from authhygiene.verify import JWT
from tests.e2e.servers import Reply, assert_absent, assert_problem, challenges, fetch

__all__ = [
    "AUDIENCE",
    "ISSUER",
    "KID",
    "OTHER_SECRET",
    "PAGE",
    "REFUSALS",
    "REQUIRE",
    "REVOKED",
    "RSA_PRIVATE",
    "RSA_PUBLIC_PEM",
    "SECRET",
    "Calls",
    "Refusal",
    "Served",
    "assert_refused",
    "bearer",
    "check_refusal",
    "cors",
    "enforce_options",
    "expired",
    "failure_events",
    "fastapi_app",
    "flask_app",
    "identity_json",
    "starlette_app",
    "token",
]

ISSUER = "https://issuer.example"
AUDIENCE = "https://api.example"
KID = "hs-1"
# HMAC secrets made per run (RFC 7518 §3.2: at least the hash's 32 bytes).
SECRET = secrets.token_bytes(32)
OTHER_SECRET = secrets.token_bytes(32)
RSA_PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PUBLIC_PEM = RSA_PRIVATE.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
PAGE = "https://page.example"
# Subjects the app itself refuses (a revocation list it keeps): enforce
# mode admits their tokens, the app answers 401.
REVOKED = frozenset({"user-revoked"})

REQUIRE: list[tuple[Any, str, Scopes | None]] = [
    ("GET", "/items/*", Scopes("items:read")),
    ("POST", "/items/*", Scopes("items:write", "items:read")),
    ("GET", "/reports", Scopes()),
    ("GET", "/me", Scopes()),
    ("*", "/health", None),
]


def verifier() -> JWT:
    return JWT(algorithms=["HS256"], keys={KID: SECRET}, issuer=ISSUER, audience=AUDIENCE)


def token(
    *, key: bytes = SECRET, kid: str | None = KID, scope: str | None = "items:read", **claims: Any
) -> str:
    """A fresh HS256 token (its own `jti`: never answered from the
    verifier's cache of tokens seen before). A claim given as None is left out."""
    now = int(time.time())
    body: dict[str, Any] = {
        "sub": "user-1",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
        "jti": secrets.token_hex(8),
        "scope": scope,
        **claims,
    }
    body = {name: value for name, value in body.items() if value is not None}
    return jwt.encode(body, key, algorithm="HS256", headers={"kid": kid} if kid else None)


def bearer(value: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {value}")]


class Calls:
    """How many times the app's own code ran, per route (thread-safe: the
    servers run handlers in worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def __getitem__(self, name: str) -> int:
        with self._lock:
            return self._counts[name]


def identity_json(identity: object) -> dict[str, Any]:
    """What a view shows of the identity it was handed."""
    assert isinstance(identity, Identity), type(identity)
    return {
        "subject": identity.subject,
        "display_name": identity.display_name,
        "authenticated": identity.is_authenticated,
        "scopes": list(identity.scopes),
        "scheme": identity.scheme,
        "iss": identity.claims.get("iss"),
    }


def enforce_options(log: CapturingLogger, **more: Any) -> dict[str, Any]:
    return {
        "realm": "api",
        "mode": "enforce",
        "verify": verifier(),
        "require": REQUIRE,
        "logger": log,
        "log_limit": None,
        **more,
    }


# --- the apps -------------------------------------------------------------------


def fastapi_app(calls: Calls) -> FastAPI:
    """Routes as FastAPI users write them once something in front of the app
    authenticates: `request.user`, `request.scope["user"]`, `request.auth`,
    and Starlette's own `@requires`."""
    app = FastAPI()

    # FastAPI answers HEAD only where a route names it.
    @app.api_route("/items/{item_id}", methods=["GET", "HEAD"])
    def read_item(item_id: str, request: Request) -> dict[str, Any]:
        calls.add("read_item")
        assert request.scope["user"] is request.user
        return {
            "item": item_id,
            **identity_json(request.user),
            "auth_scopes": list(request.auth.scopes),
        }

    @app.post("/items/{item_id}")
    def write_item(item_id: str, request: Request) -> dict[str, Any]:
        calls.add("write_item")
        return {"written": item_id, "subject": request.user.subject}

    # The rule asks for any verified token; the route asks for its own scope.
    @app.get("/reports")
    @requires("reports:read")
    async def reports(request: Request) -> dict[str, Any]:
        calls.add("reports")
        return {"reports": [], "subject": request.user.display_name}

    @app.get("/me")
    def me(request: Request) -> Response:
        calls.add("me")
        if request.user.subject in REVOKED:
            # The app's own check, after enforce mode admitted the token.
            return JSONResponse(
                {"detail": "Could not validate credentials"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return JSONResponse(identity_json(request.user))

    @app.get("/health")
    def health() -> dict[str, str]:
        calls.add("health")
        return {"status": "ok"}

    @app.get("/unruled")
    def unruled() -> dict[str, str]:
        calls.add("unruled")
        return {"no": "rule"}

    return app


def starlette_app(calls: Calls) -> Starlette:
    """A plain Starlette app: endpoints reading `request.user`."""

    async def me(request: StarletteRequest) -> Response:
        calls.add("me")
        return JSONResponse(identity_json(request.user))

    return Starlette(routes=[Route("/me", me)])


def flask_app(calls: Calls) -> Flask:
    """Flask views reading the identity from the WSGI environ."""
    app = Flask(__name__)

    @app.route("/items/<item_id>", methods=["GET", "POST"])
    def items(item_id: str) -> Any:
        calls.add("items")
        identity = flask_request.environ[IDENTITY_KEY]
        return {"item": item_id, **identity_json(identity)}

    @app.get("/me")
    def me() -> Any:
        calls.add("me")
        identity = flask_request.environ[IDENTITY_KEY]
        if identity.subject in REVOKED:
            return {"detail": "Token revoked"}, 401, {"WWW-Authenticate": "Bearer"}
        return identity_json(identity)

    @app.get("/reports")
    def reports() -> Any:
        calls.add("reports")
        return {"reports": []}

    @app.get("/health")
    def health() -> Any:
        calls.add("health")
        return {"status": "ok"}

    @app.get("/unruled")
    def unruled() -> Any:
        calls.add("unruled")
        return {"no": "rule"}

    return app


def cors() -> CORS:
    return CORS(allow_origins=[PAGE])


# --- checks -----------------------------------------------------------------------


def failure_events(
    log: CapturingLogger, request_id: str, event: str = "auth.failure"
) -> list[Mapping[str, Any]]:
    return [
        call.kwargs
        for call in log.calls
        if call.args and call.args[0] == event and call.kwargs.get("request_id") == request_id
    ]


def assert_refused(
    reply: Reply,
    *,
    status: int,
    reason: str,
    problem: str | None = None,
    error: str | None = None,
    scope: str | None = None,
    log: CapturingLogger | Callable[[str], list[Mapping[str, Any]]] | None = None,
    sent: tuple[str, ...] = (),
    challenge_scope: str | None = None,
) -> dict[str, Any]:
    """A refusal as enforce mode answers it: the problem body and failure
    headers (`assert_problem`), the `problem` member, the RFC 6750 `error`
    and `scope` of the challenge, one `auth.failure` event for it, and none
    of the credentials sent anywhere in what went back. `challenge_scope`:
    the challenge's `scope` where the body names none (a 401 on a route
    whose scopes are known asks for them)."""
    body = assert_problem(reply, status=status, reason=reason)
    assert body.get("problem") == problem
    parsed = challenges(reply)
    errors = [c.parameters.get("error") for c in parsed if "error" in c.parameters]
    assert errors == ([error] if error else [])
    scopes = [c.parameters.get("scope") for c in parsed if "scope" in c.parameters]
    expected = scope or challenge_scope
    assert scopes == ([expected] if expected else [])
    if scope is not None:
        assert body["required_scope"] == scope
    if log is not None:
        rid = body["request_id"]
        (event,) = failure_events(log, rid) if isinstance(log, CapturingLogger) else log(rid)
        assert (event["reason"], event["status"]) == (reason, status)
    assert_absent(sent, reply.wire_text)
    return body


# --- the refusal table both adapters are held to ------------------------------------


@dataclass
class Served:
    """An app under a server in this process: its calls and its log."""

    port: int
    calls: Calls
    log: CapturingLogger

    def app_calls(self) -> int:
        return self.calls.total()

    def events(self, request_id: str) -> list[Mapping[str, Any]]:
        return failure_events(self.log, request_id)


@dataclass(frozen=True)
class Refusal:
    method: str
    path: str
    headers: Callable[[], list[tuple[str, str]]]
    status: int
    reason: str
    problem: str | None = None
    error: str | None = None
    scope: str | None = None


def expired() -> list[tuple[str, str]]:
    return bearer(token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200))


_REFUSALS = [
    pytest.param(Refusal("GET", "/items/1", list, 401, "credentials_missing"), id="missing"),
    pytest.param(Refusal("HEAD", "/items/1", list, 401, "credentials_missing"), id="missing-head"),
    pytest.param(
        Refusal(
            "GET",
            "/items/1",
            lambda: [("Authorization", "Bearer")],
            400,
            "credentials_malformed",
            "empty_token",
            "invalid_request",
        ),
        id="malformed-empty",
    ),
    pytest.param(
        Refusal(
            "GET",
            "/items/1",
            lambda: [("Authorization", f"Bearer {token()} {token()}")],
            400,
            "credentials_malformed",
            "whitespace_in_token",
            "invalid_request",
        ),
        id="malformed-whitespace",
    ),
    pytest.param(
        Refusal(
            "GET",
            "/items/1",
            lambda: bearer(token()) + bearer(token()),
            400,
            "credentials_malformed",
            "multiple_authorization_headers",
            "invalid_request",
        ),
        id="two-authorization-headers",
    ),
    pytest.param(
        Refusal(
            "GET",
            "/items/1",
            lambda: [("Authorization", "Basic ZTJlOm5vdC1hLXNlY3JldA==")],
            401,
            "scheme_not_accepted",
        ),
        id="another-scheme",
    ),
    pytest.param(
        Refusal("GET", "/items/1", expired, 401, "token_expired", error="invalid_token"),
        id="expired",
    ),
    pytest.param(
        Refusal(
            "GET",
            "/items/1",
            lambda: bearer(token(nbf=int(time.time()) + 3600)),
            401,
            "token_not_yet_valid",
            error="invalid_token",
        ),
        id="not-yet-valid",
    ),
    pytest.param(
        Refusal(
            "GET",
            "/items/1",
            lambda: bearer(token(key=OTHER_SECRET)),
            401,
            "token_signature_invalid",
            error="invalid_token",
        ),
        id="bad-signature",
    ),
    pytest.param(
        Refusal(
            "GET",
            "/items/1",
            lambda: bearer(token(aud="https://other.example")),
            401,
            "token_audience_mismatch",
            error="invalid_token",
        ),
        id="audience",
    ),
    pytest.param(
        Refusal(
            "GET",
            "/items/1",
            lambda: bearer(token(iss="https://evil.example")),
            401,
            "token_issuer_mismatch",
            error="invalid_token",
        ),
        id="issuer",
    ),
    pytest.param(
        Refusal(
            "GET",
            "/items/1",
            lambda: bearer(token(kid="hs-9")),
            401,
            "token_key_unknown",
            error="invalid_token",
        ),
        id="unknown-kid",
    ),
    pytest.param(
        Refusal(
            "GET",
            "/items/1",
            lambda: bearer("opaque-token-not-a-jwt-0001"),
            401,
            "credentials_invalid",
            "not_a_jwt",
            "invalid_token",
        ),
        id="not-a-jwt",
    ),
    pytest.param(
        Refusal(
            "GET",
            "/items/1",
            lambda: bearer("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyLTEifQ."),
            401,
            "token_algorithm_rejected",
            error="invalid_token",
        ),
        id="alg-none",
    ),
    pytest.param(
        Refusal(
            "GET",
            "/items/1",
            lambda: bearer(token(padding="p" * 9000)),
            401,
            "token_too_large",
            error="invalid_token",
        ),
        id="too-large",
    ),
    pytest.param(
        Refusal(
            "GET",
            "/items/1",
            lambda: bearer(token(scope="items:write")),
            403,
            "insufficient_scope",
            error="insufficient_scope",
            scope="items:read",
        ),
        id="scope-lacking",
    ),
    pytest.param(
        Refusal(
            "HEAD",
            "/items/1",
            lambda: bearer(token(scope=None)),
            403,
            "insufficient_scope",
            error="insufficient_scope",
            scope="items:read",
        ),
        id="no-scope-claim-head",
    ),
    pytest.param(
        Refusal(
            "POST",
            "/items/1",
            lambda: bearer(token(scope="items:write")),
            403,
            "insufficient_scope",
            error="insufficient_scope",
            scope="items:write items:read",
        ),
        id="one-of-two-scopes",
    ),
    pytest.param(
        Refusal("GET", "/unruled", lambda: bearer(token()), 403, "forbidden", "no_rule_admits"),
        id="no-rule-admits",
    ),
    pytest.param(
        Refusal("GET", "/unruled", list, 401, "credentials_missing"), id="no-rule-no-token"
    ),
]


REFUSALS = {param.id: param for param in _REFUSALS}


def route_scope(method: str, path: str) -> str | None:
    """The scopes `REQUIRE` gives the route, as a challenge's `scope` names them."""
    rule = compile_requirements(REQUIRE).match(method, path)
    return str(rule.scopes) if rule is not None and rule.scopes else None


def check_refusal(served: Served, case: Refusal, extra: list[tuple[str, str]]) -> Reply:
    """Send `case` to `served`: refused as the table says, the app never run."""
    headers = case.headers()
    before = served.app_calls()
    reply = fetch(served.port, case.path, method=case.method, headers=headers + extra)
    sent = tuple(
        part for name, value in headers if name == "Authorization" for part in value.split()[1:]
    )
    if case.method == "HEAD":
        # No body to read the problem from: the status, the headers, the log.
        assert (reply.status, reply.body) == (case.status, b"")
        assert reply.get("content-type") == "application/problem+json"
        assert reply.get_all("cache-control") == ["no-store"]
        parsed = challenges(reply)
        assert [c.parameters.get("error") for c in parsed if "error" in c.parameters] == (
            [case.error] if case.error else []
        )
        (event,) = served.events(reply.get("x-request-id") or "")
        assert (event["reason"], event["status"]) == (case.reason, case.status)
        assert_absent(sent, reply.wire_text)
    else:
        assert_refused(
            reply,
            status=case.status,
            reason=case.reason,
            problem=case.problem,
            error=case.error,
            scope=case.scope,
            log=served.events,
            sent=sent,
            challenge_scope=route_scope(case.method, case.path) if case.status == 401 else None,
        )
    assert served.app_calls() == before  # the app never ran
    return reply
