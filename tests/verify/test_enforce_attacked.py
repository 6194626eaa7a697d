"""What an attack on enforce mode and `verify=` found, each as the case that
now holds: websocket handshakes guarded (uvicorn), rules matched on the path
the app routes (not SCRIPT_NAME, not root_path), a preflight only with an
Origin, a string `exp` never cached past its time, an API key on a scoped
route refused as such, a verifier's own failure a 503, no secret in a repr."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import structlog.testing
from fastapi import Depends, FastAPI, Request, WebSocket
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from authhygiene import AuthHygiene, Scopes, require_scopes
from authhygiene._enforcement import verified_plan
from authhygiene.core.credentials import RequestView
from authhygiene.core.decision import decide
from authhygiene.core.enforce import admission, plan
from authhygiene.core.policy import Policy
from authhygiene.core.reasons import Reason
from authhygiene.core.verdict import Rejected, Verified
from authhygiene.request_views import view_from_environ, view_from_scope
from authhygiene.verify import JWT, APIKey, Basic
from tests.e2e.servers import UvicornThread

SECRET = "a" * 40
API_KEY = "k" * 24
JWT_VERIFIER = JWT(algorithms=["HS256"], keys=SECRET)
RULES = [("GET", "/items*", Scopes("items:read")), ("*", "/health*", None)]


def token(**claims: Any) -> str:
    # A day: tables of cases mint their tokens when collected, long before some run.
    body = {"sub": "ada", "scope": "items:read", "exp": int(time.time()) + 86_400, **claims}
    return jwt.encode(body, SECRET, algorithm="HS256")


def policy(**options: Any) -> Policy:
    return Policy.from_options(
        {"realm": "api", "mode": "enforce", "verify": JWT_VERIFIER, "require": RULES, **options}
    )


def outcome(policy_: Policy, view: RequestView) -> tuple[int, str | None]:
    """(200 admitted / 0 passed unverified / the refusal's status, its reason)."""
    planned = plan(policy_, view)
    if planned.passed:
        return 0, None
    by, verdict = verified_plan(planned)  # every verifier of the credential, in turn
    admitted = admission(policy_, planned, verdict, by)
    if admitted.answer is None:
        return 200, None
    decision = decide(policy_, view, admitted.answer, declared=admitted.declared, verdict=verdict)
    assert decision is not None
    return decision.status, json.loads(decision.body)["reason"]


# --- websocket handshakes, through uvicorn ----------------------------------


async def _echo_user(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(f"hello {websocket.user.display_name}")
    await websocket.close()


@pytest.fixture(scope="module")
def ws_port() -> Iterator[int]:
    app = Starlette(routes=[WebSocketRoute("/items/ws", _echo_user)])
    wrapped = AuthHygiene(app, realm="api", mode="enforce", verify=JWT_VERIFIER, require=RULES)
    with UvicornThread(wrapped, ws="wsproto", lifespan="off") as server:
        yield server.port


def handshake(port: int, extra: str = "") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        "GET /items/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"{extra}\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request.encode())
        data = b""
        for _ in range(50):  # bounded: a handshake answer and a frame or two
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
            if b"hello" in data or (b"\r\n\r\n" in data and data.endswith(b"}")):
                break
        return data


@pytest.mark.parametrize(
    ("extra", "status", "says"),
    [
        ("", b"401", b'"reason":"credentials_missing"'),
        ("Authorization: Bearer garbage\r\n", b"401", b'"reason":"credentials_invalid"'),
        (f"Authorization: Bearer {token(scope='other')}\r\n", b"403", b"insufficient_scope"),
        (f"Authorization: Bearer {token()}\r\n", b"101", b"hello ada"),
    ],
    ids=["anonymous", "garbage", "no-scope", "valid"],
)
def test_a_websocket_handshake_is_guarded_like_a_request(
    ws_port: int, extra: str, status: bytes, says: bytes
) -> None:
    answer = handshake(ws_port, extra)

    assert answer.split(b"\r\n", 1)[0].split(b" ")[1] == status
    assert says in answer


def test_without_the_http_response_extension_a_refused_handshake_is_closed() -> None:
    # The ASGI spec: a close before accept, which the server answers 403.
    app = Starlette(routes=[WebSocketRoute("/items/ws", _echo_user)])
    wrapped = AuthHygiene(app, realm="api", mode="enforce", verify=JWT_VERIFIER, require=RULES)
    scope = {"type": "websocket", "path": "/items/ws", "headers": [], "query_string": b""}
    sent: list[dict[str, Any]] = []
    inbox = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(wrapped(scope, receive, send))

    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "credentials_missing"}]


# --- the path a rule matches is the path the app routes ---------------------


@pytest.mark.parametrize(
    ("environ", "route"),
    [
        # gunicorn takes SCRIPT_NAME from a proxy's header: never a rule's path.
        ({"SCRIPT_NAME": "/health", "PATH_INFO": "/items/1"}, "/items/1"),
        ({"SCRIPT_NAME": "", "PATH_INFO": "/caf\xc3\xa9/1"}, "/café/1"),
        ({"SCRIPT_NAME": "", "PATH_INFO": "/items/1"}, None),  # the path itself
    ],
    ids=["script-name", "utf-8", "plain"],
)
def test_a_wsgi_rule_matches_path_info_as_the_app_routes_it(
    environ: dict[str, str], route: str | None
) -> None:
    view = view_from_environ({"REQUEST_METHOD": "GET", **environ})

    assert view.route == route
    assert outcome(policy(), view) == (401, "credentials_missing")


def test_script_name_cannot_choose_a_public_rule() -> None:
    environ = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/health", "PATH_INFO": "/items/1"}

    assert outcome(policy(), view_from_environ(environ)) == (401, "credentials_missing")


@pytest.mark.parametrize(
    ("path", "root_path", "expected"),
    [
        ("/api/health", "/api", (0, None)),  # the app's /health: public
        ("/api/items/1", "/api", (401, "credentials_missing")),
        ("/health", "", (0, None)),
    ],
)
def test_an_asgi_rule_matches_the_path_without_root_path(
    path: str, root_path: str, expected: tuple[int, str | None]
) -> None:
    scope = {"type": "http", "method": "GET", "path": path, "root_path": root_path, "headers": []}

    assert outcome(policy(), view_from_scope(scope)) == expected


@pytest.mark.parametrize(
    ("path", "headers", "expected"),
    [
        # Not a preflight (no Origin, or no method asked for): a request.
        ("/items/1", (("access-control-request-method", "DELETE"),), "refused"),
        ("/items/1", (("origin", "null"), ("access-control-request-method", " ")), "refused"),
        # A preflight: answered here (204, granting nothing); no view runs.
        (
            "/items/1",
            (("origin", "https://a.example"), ("access-control-request-method", "DELETE")),
            "answered",
        ),
        ("/items/1", (("origin", "null"), ("access-control-request-method", "GET")), "answered"),
        # On a public route it reaches the app's own CORS layer.
        (
            "/health",
            (("origin", "https://a.example"), ("access-control-request-method", "GET")),
            "passed",
        ),
    ],
    ids=["no-origin", "empty-method", "preflight", "origin-null", "public-route"],
)
def test_a_preflight_never_reaches_a_guarded_view(
    path: str, headers: tuple[tuple[str, str], ...], expected: str
) -> None:
    planned = plan(policy(), RequestView("OPTIONS", path, "", headers))

    found = "passed" if planned.passed else "answered" if planned.preflight else "refused"
    assert found == expected


# --- what a verifier says -----------------------------------------------------


def test_a_string_exp_is_never_kept_past_its_time() -> None:
    # pyjwt reads `"exp": "<digits>"` as a date; the cache must too.
    check = JWT(algorithms=["HS256"], keys=SECRET, leeway=0, cache_seconds=3600)
    now = time.time()
    sent = token(exp=str(int(now) + 5))
    assert isinstance(check.verify(sent, now), Verified)

    assert check._cache.get(check._cache.digest(sent), now + 10) is None


def test_an_api_key_on_a_scoped_route_is_forbidden_not_a_token_without_scope() -> None:
    keys = APIKey(keys={"billing": API_KEY})
    policy_ = Policy.from_options(
        {"realm": "api", "mode": "enforce", "verify": keys, "require": RULES}
    )
    view = RequestView("GET", "/items/1", "", (("x-api-key", API_KEY),))
    planned = plan(policy_, view)
    assert planned.credential is not None
    verdict = keys.verify(planned.credential)
    admitted = admission(policy_, planned, verdict)
    assert admitted.answer is not None

    decision = decide(policy_, view, admitted.answer, declared=admitted.declared, verdict=verdict)

    assert decision is not None
    body = json.loads(decision.body)
    assert (decision.status, body["reason"], body["problem"]) == (
        403,
        "forbidden",
        "scopes_not_carried",
    )
    assert all(name != "www-authenticate" for name, _ in decision.headers)


class _Broken:
    """A verifier of the app's own that raises (its database down)."""

    scheme = "Bearer"

    def credential(self, credentials: Any) -> str | None:
        return credentials.token

    def verify(self, credential: str, now: float | None = None) -> Verified | Rejected:
        raise ConnectionError("database down")


def test_a_verifier_that_raises_is_a_503_never_the_clients_fault() -> None:
    from authhygiene._guarded import Guarded

    with structlog.testing.capture_logs() as logs:
        verdict = Guarded(_Broken()).verify("some-token-value")  # type: ignore[arg-type]

    assert isinstance(verdict, Rejected)
    assert verdict.reason is Reason.VERIFIER_UNAVAILABLE
    assert [(log["kind"], log["error"]) for log in logs] == [("verifier_error", "ConnectionError")]


def test_a_percent_encoded_query_token_is_read_as_the_full_reading_does() -> None:
    view = RequestView("GET", "/items/1", "%74oken=x", (("authorization", f"Bearer {token()}"),))

    assert outcome(policy(), view) == (400, "credentials_malformed")


SECRET_SENT = (("authorization", "Bearer " + SECRET),)


@pytest.mark.parametrize(
    "make",
    [
        lambda: JWT(algorithms=["HS256"], keys=SECRET),
        lambda: plan(
            policy(), RequestView("GET", "/items/1", "", (("authorization", "Bearer " + SECRET),))
        ),
        lambda: Basic(check=lambda user, password: password == SECRET),
    ],
    ids=["jwt", "plan", "basic"],
)
def test_no_secret_in_a_repr(make: Any) -> None:
    assert SECRET not in repr(make())


def test_a_key_mapping_written_the_wrong_way_round_is_not_echoed() -> None:
    with pytest.raises(ValueError, match="HMAC secret") as raised:
        JWT(algorithms=["HS256"], keys={SECRET: "k1"})

    assert SECRET not in str(raised.value)


# --- found by the second attack, through real servers ------------------------


def _counting_flask() -> tuple[Any, list[str]]:
    from flask import Flask

    app, ran = Flask("enforce-preflight"), []

    # A view that acts on any method it is routed (as Django function views do).
    @app.route("/items/<item>", methods=["GET", "OPTIONS"], provide_automatic_options=False)
    def items(item: str) -> Any:
        ran.append(item)
        return {"item": item}

    @app.route("/health", methods=["GET", "OPTIONS"], provide_automatic_options=False)
    def health() -> Any:
        ran.append("health")
        return {"ok": True}

    return app, ran


def test_a_preflight_runs_no_guarded_view_under_werkzeug() -> None:
    from authhygiene import AuthHygieneWSGI
    from tests.e2e.servers import WerkzeugThread, fetch

    app, ran = _counting_flask()
    app.wsgi_app = AuthHygieneWSGI(  # type: ignore[method-assign]
        app.wsgi_app, realm="api", mode="enforce", verify=JWT_VERIFIER, require=RULES
    )
    asked = [("Origin", "https://evil.example"), ("Access-Control-Request-Method", "DELETE")]
    with WerkzeugThread(app) as server:
        guarded = fetch(server.port, "/items/1", method="OPTIONS", headers=asked)
        public = fetch(server.port, "/health", method="OPTIONS", headers=asked)

    assert (guarded.status, guarded.body) == (204, b"")
    assert guarded.get("access-control-allow-origin") is None  # grants nothing
    assert guarded.get("www-authenticate") is None  # never a 401
    assert public.status == 200
    assert ran == ["health"]


OTHER_SECRET = "b" * 40


@pytest.fixture(scope="module")
def two_issuers() -> Iterator[int]:

    app = FastAPI()

    @app.get("/health")
    async def health(request: Request) -> Any:
        user = request.user
        return {"user": user.display_name if user.is_authenticated else None}

    @app.get("/items/{item}")
    async def items(item: str, request: Request) -> Any:
        return {"user": request.user.display_name, "scopes": list(request.auth.scopes)}

    verify = [
        JWT(algorithms=["HS256"], keys=SECRET),
        JWT(algorithms=["HS256"], keys=OTHER_SECRET),
        APIKey(keys={"billing": API_KEY}),
    ]
    wrapped = AuthHygiene(app, realm="api", mode="enforce", verify=verify, require=RULES)
    with UvicornThread(wrapped, lifespan="off") as server:
        yield server.port


def _get(port: int, path: str, headers: list[tuple[str, str]]) -> tuple[int, Any]:
    from tests.e2e.servers import fetch

    reply = fetch(port, path, headers=headers)
    return reply.status, json.loads(reply.body)


def test_a_public_route_still_names_a_caller_with_a_valid_credential(two_issuers: int) -> None:
    bearer = [("Authorization", f"Bearer {token()}")]

    assert _get(two_issuers, "/health", bearer) == (200, {"user": "ada"})
    assert _get(two_issuers, "/health", [("Authorization", "Bearer garbage")]) == (
        200,
        {"user": None},
    )


def test_every_verifier_of_the_credential_is_tried(two_issuers: int) -> None:
    other = jwt.encode(
        {"sub": "bo", "scope": "items:read", "exp": int(time.time()) + 600},
        OTHER_SECRET,
        algorithm="HS256",
    )

    assert _get(two_issuers, "/items/1", [("Authorization", f"Bearer {other}")]) == (
        200,
        {"user": "bo", "scopes": ["items:read"]},
    )


@pytest.mark.parametrize("query", ["", "?%61=1", "?a=1"])
def test_one_precedence_whichever_reading_runs(two_issuers: int, query: str) -> None:
    # verify=[JWT, JWT, APIKey]: the first verifier reading a credential the
    # request carries names it; an unrelated `%` in the query changes nothing.
    headers = [("Authorization", f"Bearer {token()}"), ("X-API-Key", "wrong-key-" + "x" * 16)]

    assert _get(two_issuers, f"/items/1{query}", headers) == (
        200,
        {"user": "ada", "scopes": ["items:read"]},
    )


def test_require_scopes_on_a_websocket_closes_the_handshake() -> None:

    app = FastAPI()

    @app.websocket("/health/ws")
    async def ws(websocket: WebSocket, user: Any = Depends(require_scopes("items:read"))) -> None:  # noqa: B008
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    wrapped = AuthHygiene(app, realm="api", mode="enforce", verify=JWT_VERIFIER, require=RULES)
    with UvicornThread(wrapped, ws="wsproto", lifespan="off") as server:
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            "GET /health/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(request.encode())
            answer = b""
            for _ in range(50):  # bounded: headers, then the body
                chunk = sock.recv(4096)
                answer += chunk
                if not chunk or answer.endswith(b"}"):
                    break

    # The AuthFailure it raises before accept is answered as the refusal it
    # declares, never a 500 nor a bare 403.
    assert answer.split(b"\r\n", 1)[0].split(b" ")[1] == b"401"
    assert b'"reason":"credentials_missing"' in answer


# --- found by the third attack ------------------------------------------------


def test_report_only_leaves_a_preflight_to_the_apps_cors_layer() -> None:
    from starlette.middleware.cors import CORSMiddleware

    from tests.e2e.servers import fetch

    app = FastAPI()
    app.add_middleware(CORSMiddleware, allow_origins=["https://app.example"], allow_methods=["*"])
    app.add_middleware(
        AuthHygiene,
        realm="api",
        mode="enforce",
        verify=JWT_VERIFIER,
        require=RULES,
        report_only=True,
    )
    asked = [("Origin", "https://app.example"), ("Access-Control-Request-Method", "POST")]
    with UvicornThread(app, lifespan="off") as server:
        reply = fetch(server.port, "/items/1", method="OPTIONS", headers=asked)

    assert reply.status == 200
    assert reply.get("access-control-allow-origin") == "https://app.example"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        # Seconds from now, read when the test runs (not when it is collected).
        ({"exp": -600}, "token_expired"),
        ({"nbf": 600}, "token_not_yet_valid"),
    ],
    ids=["expired", "not-yet-valid"],
)
def test_the_verifier_that_checked_the_signature_says_why(
    claims: dict[str, Any], reason: str
) -> None:
    # Two issuers: a token of the second, refused for its time, is not "a bad
    # signature" (what the first issuer's key says of it).
    policy_ = Policy.from_options(
        {
            "realm": "api",
            "mode": "enforce",
            "verify": [JWT_VERIFIER, JWT(algorithms=["HS256"], keys=OTHER_SECRET, leeway=0)],
        }
    )
    now = int(time.time())
    dated = {name: now + offset for name, offset in claims.items()}
    sent = jwt.encode({"sub": "bo", **dated}, OTHER_SECRET, algorithm="HS256")
    view = RequestView("GET", "/items/1", "", (("authorization", f"Bearer {sent}"),))

    assert outcome(policy_, view)[1] == reason


def test_a_public_route_never_runs_a_password_check() -> None:
    checked: list[str] = []

    def check(user: str, password: str) -> bool:
        checked.append(user)
        return True

    policy_ = Policy.from_options(
        {"realm": "api", "mode": "enforce", "verify": Basic(check=check), "require": RULES}
    )
    basic = base64.b64encode(b"ada:pw").decode()
    view = RequestView("GET", "/health", "", (("authorization", f"Basic {basic}"),))

    assert plan(policy_, view).passed
    assert checked == []


def test_explain_mode_also_reports_the_verifier_that_checked_the_signature() -> None:
    from authhygiene.core.answer import AppAnswer

    policy_ = Policy.from_options(
        {"realm": "api", "verify": [JWT_VERIFIER, JWT(algorithms=["HS256"], keys=OTHER_SECRET)]}
    )
    sent = jwt.encode({"sub": "bo", "exp": int(time.time()) - 600}, OTHER_SECRET, algorithm="HS256")
    view = RequestView("GET", "/items/1", "", (("authorization", f"Bearer {sent}"),))
    decision = decide(policy_, view, AppAnswer(401))

    assert decision is not None
    assert json.loads(decision.body)["reason"] == "token_expired"


def test_explain_mode_reports_a_verifier_that_raises_and_keeps_the_apps_words() -> None:
    # The runtime guards every verifier: in explain mode a raising one is
    # logged (by its error's type) and the refusal explained without it.
    from authhygiene._runtime import Runtime
    from authhygiene.core.answer import AppAnswer
    from authhygiene.request_views import EnvironRequest, Plans

    log = structlog.testing.CapturingLogger()
    runtime = Runtime.from_options({"realm": "api", "verify": _Broken(), "logger": log})
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/x", "HTTP_AUTHORIZATION": "Bearer a.b.c"}
    decision = runtime.decide(EnvironRequest(environ, Plans(runtime.policy)), AppAnswer(401))

    assert decision is not None
    assert decision.status == 401  # the app's refusal, never turned into a 503
    raised = [c.kwargs for c in log.calls if c.kwargs.get("kind") == "verifier_error"]
    assert [m["error"] for m in raised] == ["ConnectionError"]


def test_an_identity_repr_is_bounded() -> None:
    from authhygiene import Identity

    shown = repr(Identity(Verified({"sub": "s" * 5000, "scope": " ".join(["x"] * 2000)}), "Bearer"))

    assert len(shown) < 300
