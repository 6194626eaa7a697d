"""`AuthHygieneMiddleware` in a real Django project, through Django's test clients.

Why this file exists: the Django adapter is the only one that does not see
raw ASGI/WSGI messages; it sees Django response objects after Django's own
exception handling (PermissionDenied, CSRF, Http404) has run, on both the
sync and the async middleware paths. Every rule of the project's contract is
checked here as a Django user would meet it: an async view through
`AsyncClient`, a sync view through `Client`, plain `HttpResponse` /
`JsonResponse` refusals, `raise AuthFailure(...)` and `raise PermissionDenied`.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog
from asgiref.sync import iscoroutinefunction
from django.http import HttpResponseBase
from django.test import AsyncClient, Client
from django.test.utils import override_settings
from structlog.testing import CapturingLogger

from authhygiene import AuthFailure
from authhygiene.django import AuthHygieneMiddleware
from tests.django.conftest import (
    REALM,
    Secret,
    assert_not_leaked,
    bearer,
    challenge,
    events,
    fetch,
    without_middleware,
)
from tests.django.project import views

pytestmark = pytest.mark.usefixtures("hygiene")

PROBLEM_MEMBERS = {
    "type",
    "title",
    "status",
    "detail",
    "reason",
    "hint",
    "request_id",
    "error",
    "error_description",
}


def _problem(response: HttpResponseBase, body: bytes) -> dict[str, Any]:
    assert response["Content-Type"] == "application/problem+json"
    problem = json.loads(body)
    assert isinstance(problem, dict)
    return problem


def _snapshot(response: HttpResponseBase, body: bytes) -> tuple[object, ...]:
    """Everything a client can observe of a response."""
    return (
        response.status_code,
        sorted(response.items()),
        response.cookies.output(),
        response.streaming,
        body,
    )


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- 1. pass-through ---------------------------------------------------------------------------

PASS_THROUGH = [
    pytest.param("sync", "get", "/ok", 200, id="200-bytes-sync"),
    pytest.param("async", "get", "/async-ok", 200, id="200-bytes-async"),
    pytest.param("sync", "head", "/ok", 200, id="200-head-sync"),
    pytest.param("sync", "get", "/stream", 200, id="200-streaming-sync"),
    pytest.param("async", "get", "/async-stream", 200, id="200-streaming-async"),
    pytest.param("sync", "get", "/redirect", 302, id="302"),
    pytest.param("sync", "get", "/missing", 404, id="404-view"),
    pytest.param("sync", "get", "/no/such/url", 404, id="404-resolver"),
    pytest.param("sync", "get", "/bad-request", 400, id="400-app"),
]


@pytest.mark.parametrize(("kind", "method", "path", "status"), PASS_THROUGH)
def test_non_failures_pass_through_unchanged(
    kind: str, method: str, path: str, status: int, log: CapturingLogger
) -> None:
    # The reference is the same project without the middleware: the one rule
    # is that nothing a client can observe differs.
    with without_middleware():
        bare = _snapshot(*fetch(kind, path, method=method))
    response, body = fetch(kind, path, method=method)
    assert response.status_code == status
    assert _snapshot(response, body) == bare
    assert log.calls == []


def test_ok_body_is_the_views_bytes() -> None:
    response, body = fetch("sync", "/ok")
    assert body == views.OK_BODY
    assert response["Cache-Control"] == "max-age=60"  # a success keeps the app's caching
    assert response.cookies["theme"].value == "dark"


def test_sync_streaming_response_is_not_buffered() -> None:
    views.stream_log.clear()
    response = Client().get("/stream")
    assert response.streaming
    # Nothing has been produced yet: the middleware did not read the stream.
    assert views.stream_log == []
    received = []
    for chunk in response.streaming_content:
        # Each chunk arrives as the view produces it, not after the last one.
        assert views.stream_log == [*received, chunk]
        received.append(chunk)
    assert tuple(received) == views.STREAM_CHUNKS


def test_async_streaming_response_is_not_buffered() -> None:
    async def run() -> list[bytes]:
        views.stream_log.clear()
        response = await AsyncClient().get("/async-stream")
        assert response.streaming
        assert views.stream_log == []
        received = []
        async for chunk in response.streaming_content:
            assert views.stream_log == [*received, chunk]
            received.append(chunk)
        return received

    assert tuple(asyncio.run(run())) == views.STREAM_CHUNKS


@pytest.mark.parametrize(("kind", "is_async"), [("sync", False), ("async", True)])
def test_each_client_drives_its_own_middleware_path(kind: str, is_async: bool) -> None:
    # The tables above run both clients; this pins that they really take the
    # sync and the async path through the middleware, not one path twice.
    client = Client() if kind == "sync" else AsyncClient()
    if kind == "sync":
        client.get("/ok")
    else:
        asyncio.run(client.get("/async-ok"))
    # Django wraps each middleware with functools.wraps, so the outermost link
    # of the handler's chain leads to our instance.
    middleware = client.handler._middleware_chain.__wrapped__
    assert isinstance(middleware, AuthHygieneMiddleware)
    assert iscoroutinefunction(middleware) is is_async


# -- 2. challenges and RFC 6750 error codes ----------------------------------------------------

# (kind, path, credential, query token, expected status, expected RFC 6750 error)
# credential: None, "bad", "empty" (a bare "Bearer "), "good" (the token the view accepts).
CHALLENGES = [
    pytest.param("sync", "/api/items", None, False, 401, None, id="no-credentials-sync"),
    pytest.param("async", "/api/async-items", None, False, 401, None, id="no-credentials-async"),
    pytest.param("sync", "/api/items", "bad", False, 401, "invalid_token", id="bad-token-sync"),
    pytest.param(
        "async", "/api/async-items", "bad", False, 401, "invalid_token", id="bad-token-async"
    ),
    pytest.param(
        "sync", "/api/items", "empty", False, 400, "invalid_request", id="empty-bearer-sync"
    ),
    pytest.param(
        "async", "/api/async-items", "empty", False, 400, "invalid_request", id="empty-bearer-async"
    ),
    pytest.param(
        "sync", "/api/items", "bad", True, 400, "invalid_request", id="header-and-query-sync"
    ),
    pytest.param(
        "async",
        "/api/async-items",
        "bad",
        True,
        400,
        "invalid_request",
        id="header-and-query-async",
    ),
    pytest.param(
        "sync", "/api/write", "good", False, 403, "insufficient_scope", id="insufficient-scope-sync"
    ),
    pytest.param(
        "async",
        "/api/async-write",
        "good",
        False,
        403,
        "insufficient_scope",
        id="insufficient-scope-async",
    ),
]


def _request_parts(
    credential: str | None, query: bool, good_token: str, bad_token: str
) -> tuple[dict[str, str], dict[str, str] | None, str | None]:
    """Headers, query data, and the secret the request carries."""
    token = {None: None, "bad": bad_token, "good": good_token, "empty": None}[credential]
    if credential == "empty":
        headers = {"Authorization": "Bearer "}
    elif token is not None:
        headers = bearer(token)
    else:
        headers = {}
    data = {"access_token": token} if query and token else None
    return headers, data, token


@pytest.mark.parametrize(("kind", "path", "credential", "query", "status", "error"), CHALLENGES)
def test_failure_challenge_and_error_code(
    kind: str,
    path: str,
    credential: str | None,
    query: bool,
    status: int,
    error: str | None,
    good_token: str,
    bad_token: str,
    log: CapturingLogger,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers, data, token = _request_parts(credential, query, good_token, bad_token)
    response, body = fetch(kind, path, headers=headers, data=data)
    assert response.status_code == status
    raw = response["WWW-Authenticate"]
    # R3: realm is a quoted-string; werkzeug's parser would accept realm=api too.
    assert f'realm="{REALM}"' in raw
    parsed = challenge(response)
    assert parsed.type == "bearer"
    assert parsed.parameters["realm"] == REALM
    if error is None:
        # R7: no credentials -> a challenge without error or error_description.
        assert "error" not in parsed.parameters
        assert "error_description" not in parsed.parameters
    else:
        assert parsed.parameters["error"] == error
        assert parsed.parameters["error_description"]
    if error == "insufficient_scope":
        assert parsed.parameters["scope"] == "items:write"  # R10
    problem = _problem(response, body)
    assert problem["status"] == status
    assert problem.get("error") == error  # no OAuth code where RFC 6750 has none
    if token is not None:
        assert_not_leaked(token, body, raw, log.calls, caplog.text)


def test_several_schemes_are_joined_in_one_header(options: dict[str, Any]) -> None:
    # Django keeps one value per header name; RFC 9110 §11.6.1 allows a list.
    with override_settings(AUTHHYGIENE={**options, "schemes": ["Bearer", "Basic"]}):
        response, _ = fetch("sync", "/api/items")
    assert response.status_code == 401
    value = response["WWW-Authenticate"]
    assert value.startswith(f'Bearer realm="{REALM}"')
    assert f'Basic realm="{REALM}", charset="UTF-8"' in value
    assert value.count(f'realm="{REALM}"') == 2
    assert "error=" not in value


# -- 3. 403 to anonymous, compat_403, CSRF --------------------------------------------------------

ANONYMOUS_403 = [
    pytest.param("sync", "/api/forbidden", id="HttpResponseForbidden-sync"),
    pytest.param("sync", "/api/denied", id="PermissionDenied-sync"),
    pytest.param("async", "/api/forbidden", id="HttpResponseForbidden-async-client"),
    pytest.param("async", "/api/denied", id="PermissionDenied-async-client"),
]


@pytest.mark.parametrize(("kind", "path"), ANONYMOUS_403)
def test_403_to_anonymous_becomes_401(kind: str, path: str, log: CapturingLogger) -> None:
    response, body = fetch(kind, path)
    assert response.status_code == 401  # R2: nothing was presented, so authenticate
    parsed = challenge(response)
    assert parsed.parameters == {"realm": REALM}
    problem = _problem(response, body)
    assert problem["reason"] == "credentials_missing"
    assert problem["status"] == 401
    (event,) = events(log, "auth.failure")
    assert event["status"] == 401
    assert event["app_status"] == 403


@pytest.mark.parametrize(("kind", "path"), ANONYMOUS_403)
def test_compat_403_keeps_403(
    kind: str, path: str, options: dict[str, Any], log: CapturingLogger
) -> None:
    with override_settings(AUTHHYGIENE={**options, "compat_403": True}):
        response, body = fetch(kind, path)
    assert response.status_code == 403
    problem = _problem(response, body)
    assert problem["status"] == 403
    assert problem["reason"] == "credentials_missing"
    assert response["Cache-Control"] == "no-store"
    assert len(events(log, "auth.failure")) == 1


def test_403_with_a_good_token_stays_403(good_token: str, log: CapturingLogger) -> None:
    # R2: the credentials were understood and are not enough: 403 is right.
    response, body = fetch("sync", "/api/forbidden", headers=bearer(good_token))
    assert response.status_code == 403
    problem = _problem(response, body)
    assert problem["reason"] == "forbidden"
    assert problem["detail"] == views.FORBIDDEN
    assert_not_leaked(good_token, body, log.calls)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_csrf_failure_passes_through_unchanged(kind: str, log: CapturingLogger) -> None:
    # A CSRF refusal is not about authentication: turning it into a 401 would
    # send the client to log in again instead of fetching a CSRF token.
    post: dict[str, Any] = {"method": "post", "data": {"x": "1"}, "enforce_csrf_checks": True}
    with without_middleware():
        reference, reference_body = fetch(kind, "/api/form", **post)
    # The reference really is Django's CSRF failure page.
    assert reference.status_code == 403
    assert b"CSRF verification failed" in reference_body
    response, body = fetch(kind, "/api/form", **post)
    assert response.status_code == 403
    assert "WWW-Authenticate" not in response
    assert _snapshot(response, body) == _snapshot(reference, reference_body)
    assert events(log, "auth.failure") == []


def test_csrf_checked_post_with_token_passes(log: CapturingLogger) -> None:
    # The same view is reachable when Django's CSRF check passes.
    response, body = fetch("sync", "/api/form", method="post", data={"x": "1"})
    assert (response.status_code, body) == (200, b"saved")
    assert log.calls == []


# -- 4. problem body ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_problem_body_members(kind: str, bad_token: str, log: CapturingLogger) -> None:
    path = "/api/items" if kind == "sync" else "/api/async-items"
    response, body = fetch(kind, path, headers=bearer(bad_token))
    problem = _problem(response, body)
    assert set(problem) >= PROBLEM_MEMBERS
    assert problem["status"] == response.status_code == 401
    assert problem["reason"] == "credentials_invalid"
    assert problem["type"].endswith("credentials-invalid")
    assert problem["error"] == "invalid_token"
    assert int(response["Content-Length"]) == len(body)
    (event,) = events(log, "auth.failure")
    assert event["request_id"] == problem["request_id"]
    assert_not_leaked(bad_token, body, log.calls)


def test_request_id_is_taken_from_the_request() -> None:
    response, body = fetch("sync", "/api/items", headers={"X-Request-ID": "req-42"})
    assert _problem(response, body)["request_id"] == "req-42"
    assert response["X-Request-ID"] == "req-42"


# (path, credential, the app's words that must survive in detail)
APP_MESSAGES = [
    pytest.param("/api/items", "bad", views.INVALID_TOKEN, id="JsonResponse-detail"),
    pytest.param("/api/items", None, views.NO_CREDENTIALS, id="text-plain-401"),
    pytest.param("/api/forbidden", None, views.FORBIDDEN, id="text-plain-403-anonymous"),
    pytest.param("/api/jwt-items", "bad", "Not enough segments", id="pyjwt-message"),
]


@pytest.mark.parametrize(("path", "credential", "words"), APP_MESSAGES)
def test_app_message_survives_in_detail(
    path: str, credential: str | None, words: str, bad_token: str, log: CapturingLogger
) -> None:
    headers = bearer(bad_token) if credential else {}
    response, body = fetch("sync", path, headers=headers)
    problem = _problem(response, body)
    # The app's words lead `detail` when they agree with the diagnosis; when the
    # request says otherwise (a 403 to a request with no credentials) they are
    # kept beside it as `app_detail`, and `detail` stays one true sentence.
    assert words.rstrip(".") in problem["detail"] + problem.get("app_detail", "")
    assert_not_leaked(bad_token, body, log.calls)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_token_echoed_by_the_app_is_not_echoed(
    kind: str, bad_token: str, log: CapturingLogger, caplog: pytest.LogCaptureFixture
) -> None:
    # views.echo repeats the token in its message; the body must not.
    response, body = fetch(kind, "/api/echo", headers=bearer(bad_token))
    problem = _problem(response, body)
    assert "is not recognised" in problem["detail"]
    assert_not_leaked(bad_token, body, response.items(), log.calls, caplog.text)


def test_expired_jwt_is_explained(
    expired_jwt: tuple[Secret, int], log: CapturingLogger, caplog: pytest.LogCaptureFixture
) -> None:
    token, exp = expired_jwt
    response, body = fetch("sync", "/api/jwt-items", headers=bearer(token))
    assert response.status_code == 401
    assert challenge(response).parameters["error"] == "invalid_token"
    problem = _problem(response, body)
    assert problem["reason"] == "token_expired"
    assert problem["expired_at"] == _iso(exp)
    assert "server_time" in problem
    assert "Signature has expired" in problem["detail"]  # pyjwt's words, via the view
    assert _iso(exp) in problem["detail"]
    (event,) = events(log, "auth.failure")
    assert event["reason"] == "token_expired"
    assert_not_leaked(token, body, response.items(), log.calls, caplog.text)
    # No part of the JWT (header, claims, signature) is echoed either.
    for part in token.split("."):
        assert_not_leaked(part, body, log.calls)


# -- 5. caching, Vary, cookies -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_failure_is_uncacheable_and_keeps_vary_and_cookies(
    kind: str, bad_token: str, log: CapturingLogger
) -> None:
    path = "/api/items" if kind == "sync" else "/api/async-items"
    response, body = fetch(kind, path, headers=bearer(bad_token))
    assert response.status_code == 401
    # R22: the app's "public, max-age=600" is replaced, not merged.
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"
    vary = [item.strip() for item in response["Vary"].split(",")]
    assert vary[0] == "Accept-Encoding"  # extended, never overwritten
    assert {"Authorization", "Cookie", "Origin"} <= set(vary)
    assert response.cookies["last_attempt"].value == "rejected"
    assert_not_leaked(bad_token, body, log.calls)


# -- 6. logging ----------------------------------------------------------------------------------

# (kind, path, credential, query, reason)
LOGGED = [
    pytest.param("sync", "/api/items", None, False, "credentials_missing", id="missing-sync"),
    pytest.param(
        "async", "/api/async-items", None, False, "credentials_missing", id="missing-async"
    ),
    pytest.param("sync", "/api/items", "bad", False, "credentials_invalid", id="bad-sync"),
    pytest.param("async", "/api/async-items", "bad", False, "credentials_invalid", id="bad-async"),
    pytest.param("sync", "/api/items", "bad", True, "credentials_malformed", id="query-sync"),
    pytest.param("sync", "/api/write", "good", False, "insufficient_scope", id="scope-sync"),
    pytest.param(
        "async", "/api/async-write", "good", False, "insufficient_scope", id="scope-async"
    ),
    pytest.param("sync", "/api/denied", None, False, "credentials_missing", id="denied-sync"),
]


@pytest.mark.parametrize(("kind", "path", "credential", "query", "reason"), LOGGED)
def test_one_failure_event_without_the_credential(
    kind: str,
    path: str,
    credential: str | None,
    query: bool,
    reason: str,
    good_token: str,
    bad_token: str,
    log: CapturingLogger,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers, data, token = _request_parts(credential, query, good_token, bad_token)
    response, body = fetch(kind, path, headers=headers, data=data)
    (event,) = events(log, "auth.failure")
    assert event["reason"] == reason
    assert event["status"] == response.status_code
    assert event["path"] == path
    if token is not None:
        assert re.fullmatch(r"[0-9a-f]{16}", event["credential_fingerprint"])
        assert_not_leaked(token, body, log.calls, caplog.text)
    if query:
        # RFC 6750 §5.3 / R11: the parameter is named in the log, its value is not.
        assert event["query"].startswith("access_token=")


def test_success_logs_nothing(good_token: str, log: CapturingLogger) -> None:
    response, body = fetch("sync", "/api/items", headers=bearer(good_token))
    assert response.status_code == 200
    assert json.loads(body) == {"items": ["a", "b"]}
    assert log.calls == []


def test_default_logger_reaches_structlog_capture_logs(bad_token: str) -> None:
    # Without `logger`, the middleware logs through structlog.get_logger(), so
    # the app's structlog configuration (here: capture_logs) decides.
    with override_settings(AUTHHYGIENE={"realm": REALM}), structlog.testing.capture_logs() as logs:
        response, body = fetch("sync", "/api/items", headers=bearer(bad_token))
    failures = [entry for entry in logs if entry["event"] == "auth.failure"]
    assert len(failures) == 1
    assert failures[0]["log_level"] == "warning"
    assert failures[0]["status"] == response.status_code == 401
    assert_not_leaked(bad_token, body, logs)


# -- 7. report_only ------------------------------------------------------------------------------

REPORT_ONLY = [
    pytest.param("sync", "/api/items", None, 401, id="missing-sync"),
    pytest.param("async", "/api/async-items", None, 401, id="missing-async"),
    pytest.param("sync", "/api/items", "bad", 401, id="bad-token-sync"),
    pytest.param("sync", "/api/forbidden", None, 401, id="403-anonymous-sync"),
    pytest.param("sync", "/api/denied", None, 401, id="PermissionDenied-sync"),
]


@pytest.mark.parametrize(("kind", "path", "credential", "would_status"), REPORT_ONLY)
def test_report_only_changes_nothing_and_logs(
    kind: str,
    path: str,
    credential: str | None,
    would_status: int,
    options: dict[str, Any],
    bad_token: str,
    log: CapturingLogger,
) -> None:
    headers = bearer(bad_token) if credential else {}
    with without_middleware():
        bare = _snapshot(*fetch(kind, path, headers=headers))
    with override_settings(AUTHHYGIENE={**options, "report_only": True}):
        response, body = fetch(kind, path, headers=headers)
    assert _snapshot(response, body) == bare
    assert events(log, "auth.failure") == []
    (event,) = events(log, "auth.report_only")
    assert event["would_status"] == would_status
    assert event["status"] == bare[0]
    assert_not_leaked(bad_token, log.calls)


def test_report_only_with_auth_failure_logs(
    options: dict[str, Any], good_token: str, log: CapturingLogger
) -> None:
    # Report-only changes nothing: Django handles the AuthFailure as it would
    # without the middleware (an uncaught exception, which the test client
    # re-raises), and the decision is only logged.
    settings = {**options, "report_only": True}
    with override_settings(AUTHHYGIENE=settings), pytest.raises(AuthFailure):
        fetch("sync", "/api/write", headers=bearer(good_token))
    (event,) = events(log, "auth.report_only")
    assert event["reason"] == "insufficient_scope"
    assert event["would_status"] == 403
    assert_not_leaked(good_token, log.calls)


# --- HEAD runs the view once; a refusal whose body breaks is still answered -----
# (issue 12, findings 14 and 15, on Django: the view runs once per request and
# its replaced response is closed whatever its close does.)

COUNTED: list[str] = []
CLOSED: list[str] = []


def counted_refusal(request: Any) -> Any:
    from django.http import JsonResponse

    COUNTED.append(request.method)
    return JsonResponse({"detail": "Token has expired"}, status=401)


def breaking_stream(request: Any) -> Any:
    from django.http import StreamingHttpResponse

    class Chunks:
        def __iter__(self) -> Any:
            yield b'{"detail": "Invalid '
            raise RuntimeError("the stream broke")

        def close(self) -> None:
            CLOSED.append("stream")

    response = StreamingHttpResponse(Chunks(), status=401, content_type="application/json")
    # A close hook the app added: Django runs it when the response is closed.
    response._resource_closers.append(lambda: CLOSED.append("closer"))
    return response


def _urlpatterns() -> list[Any]:
    from django.urls import path

    return [path("refuse", counted_refusal), path("breaking", breaking_stream)]


urlpatterns = _urlpatterns()
HERE = override_settings(ROOT_URLCONF=__name__)


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("authorization", ["bearer", "none"])
def test_head_runs_the_view_once_and_answers_like_get(
    kind: str, authorization: str, bad_token: str, log: CapturingLogger
) -> None:
    headers = bearer(bad_token) if authorization == "bearer" else {}
    COUNTED.clear()
    with HERE:
        get, _ = fetch(kind, "/refuse", headers=headers)
        head, head_body = fetch(kind, "/refuse", method="head", headers=headers)
    assert COUNTED == ["GET", "HEAD"]
    assert head_body == b""
    assert head.status_code == get.status_code == 401
    assert head["WWW-Authenticate"] == get["WWW-Authenticate"]
    assert head["Content-Type"] == "application/problem+json"
    assert head["Content-Length"] == get["Content-Length"]  # RFC 9110 §9.3.2
    reasons = [(e["method"], e["reason"]) for e in events(log, "auth.failure")]
    assert reasons[0][1] == reasons[1][1]
    assert [method for method, _ in reasons] == ["GET", "HEAD"]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_streaming_refusal_that_breaks_is_answered_and_closed(
    kind: str, bad_token: str, log: CapturingLogger
) -> None:
    CLOSED.clear()
    with HERE:
        response, body = fetch(kind, "/breaking", headers=bearer(bad_token))
    assert response.status_code == 401
    problem = _problem(response, body)
    assert problem["status"] == 401
    assert response["Cache-Control"] == "no-store"
    assert sorted(CLOSED) == ["closer", "stream"]  # the replaced response was closed


def test_a_close_that_raises_is_logged_not_a_500(
    bad_token: str, log: CapturingLogger, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.http import HttpResponseBase as Base

    def close(self: Any) -> None:
        if self.status_code == 401 and not self.get("Content-Type", "").endswith("problem+json"):
            raise RuntimeError("close failed")

    monkeypatch.setattr(Base, "close", close)
    with HERE:
        response, body = fetch("sync", "/refuse", headers=bearer(bad_token))
    assert response.status_code == 401
    assert _problem(response, body)["reason"] == "token_expired"
    kinds = [e["kind"] for e in events(log, "auth.misconfig")]
    assert kinds.count("app_body_error") == 1


def test_real_server_head_runs_the_view_once(bad_token: str, log: CapturingLogger) -> None:
    from django.core.handlers.wsgi import WSGIHandler

    from tests.e2e.servers import WerkzeugThread, raw_exchange

    def exchange(port: int, method: str, path: str) -> tuple[int, str, bytes]:
        raw = raw_exchange(
            port,
            (
                f"{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {bad_token}\r\n\r\n"
            ).encode(),
        )
        head, _, body = raw.partition(b"\r\n\r\n")
        text = head.decode("latin-1")
        status = int(text.split(" ")[1])
        challenge = re.search(r"(?im)^www-authenticate: (.*)$", text)
        return status, challenge.group(1) if challenge else "", body

    COUNTED.clear()
    CLOSED.clear()
    with HERE, WerkzeugThread(WSGIHandler()) as server:
        get = exchange(server.port, "GET", "/refuse")
        head = exchange(server.port, "HEAD", "/refuse")
        broken = exchange(server.port, "GET", "/breaking")
    assert COUNTED == ["GET", "HEAD"]
    assert head[:2] == get[:2]
    assert get[0] == 401
    assert head[2] == b""
    assert broken[0] == 401
    assert json.loads(broken[2])["status"] == 401
    assert sorted(CLOSED) == ["closer", "stream"]
    reasons = [e["reason"] for e in events(log, "auth.failure")]
    assert reasons[0] == reasons[1] == "token_expired"
    assert_not_leaked(bad_token, log.calls)
