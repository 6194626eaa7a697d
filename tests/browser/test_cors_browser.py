"""What page code in Chromium can read of an auth failure from another origin.

A correct 401 helps no one if the browser hides it: a preflight refused by
the app's auth stops the real request, a failure without
`Access-Control-Allow-Origin` reaches the page as "TypeError: Failed to
fetch", and an unexposed `WWW-Authenticate` reads as null. Every case here
opens the front end on http://127.0.0.1:A in Chromium and calls the API on
http://localhost:B with `fetch(url, {credentials: "include", headers:
{Authorization: "Bearer <expired JWT>"}})`, then asserts exactly what the page
read (status, `WWW-Authenticate`, the body's `reason`, or the rejection) and
what reached the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser

from ..e2e.servers import assert_absent
from .apps import COOKIE, Hygiene, Record, Setup, build
from .harness import Fronts, Tab, api_url, expired_jwt, serve

pytestmark = pytest.mark.needs("chromium")

FAILED_TO_FETCH = "TypeError: Failed to fetch"


@dataclass(frozen=True)
class Seen:
    """What page code reads: a status with the challenge (or null) and the
    body's `reason` (or null); or a rejected fetch, and then what Chromium
    wrote in the console about why (page code never learns that)."""

    status: int | None
    challenge: bool = False
    reason: str | None = None
    blocked: str | None = None


EXPLAINED = Seen(401, challenge=True, reason="token_expired")
STATUS_ONLY = Seen(401)  # the challenge is not exposed, the body names no reason
SERVER_ERROR = Seen(500)
# Rejected: "TypeError: Failed to fetch", for one of three reasons.
PREFLIGHT_NOT_ALLOWED = Seen(
    None,
    blocked="Response to preflight request doesn't pass access control check:"
    " No 'Access-Control-Allow-Origin' header is present on the requested resource.",
)
PREFLIGHT_REFUSED = Seen(
    None,
    blocked="Response to preflight request doesn't pass access control check:"
    " It does not have HTTP ok status.",
)
RESPONSE_NOT_ALLOWED = Seen(
    None,
    blocked="has been blocked by CORS policy:"
    " No 'Access-Control-Allow-Origin' header is present on the requested resource.",
)


def check(tab: Tab, result: dict[str, Any], expected: Seen) -> None:
    """`result` (from the page) is `expected`; a rejection is a CORS refusal
    by Chromium's own account, not a network error."""
    if expected.blocked is not None:
        assert result == {
            "status": None,
            "wwwAuthenticate": None,
            "reason": None,
            "error": FAILED_TO_FETCH,
        }
        messages = tab.cors_messages()
        assert len(messages) == 1, tab.console
        assert expected.blocked in messages[0]
        return
    assert result["error"] is None
    assert result["status"] == expected.status
    assert result["reason"] == expected.reason
    challenge = result["wwwAuthenticate"]
    if expected.challenge:
        assert challenge is not None
        assert challenge.startswith("Bearer ")
        assert 'realm="api"' in challenge
        assert 'error="invalid_token"' in challenge
    else:
        assert challenge is None
    assert tab.cors_messages() == []


def check_logged(record: Record, token: str, *, reason: str = "token_expired") -> None:
    events = record.events("auth.failure")
    assert [e["reason"] for e in events] == [reason]
    assert_absent((token, *token.split(".")), repr(record.logs.entries))


def fastapi(auth: str, *, app_cors: bool = False, hygiene: Hygiene = "cors") -> Setup:
    return Setup("fastapi", auth, app_cors, hygiene)


def flask(auth: str, *, app_cors: bool = False, hygiene: Hygiene = "cors") -> Setup:
    return Setup("flask", auth, app_cors, hygiene)


# --- the page reads the refusal ------------------------------------------------

# setup: the app and where its CORS comes from
READABLE_CASES = [
    # 1. cors=, the app has no CORS layer: the preflight is answered before the app.
    pytest.param(fastapi("httpbearer"), id="fastapi-httpbearer-cors="),
    pytest.param(flask("before_request"), id="flask-before_request-cors="),
    pytest.param(fastapi("escape"), id="fastapi-escaped-jwt-error-cors="),
    # 2. the app's own CORS layer, the one line without cors=.
    pytest.param(
        fastapi("httpbearer", app_cors=True, hygiene="on"), id="fastapi-httpbearer-CORSMiddleware"
    ),
    pytest.param(flask("view", app_cors=True, hygiene="on"), id="flask-view-flask_cors"),
    pytest.param(
        fastapi("escape", app_cors=True, hygiene="on"),
        id="fastapi-escaped-jwt-error-CORSMiddleware",
    ),
    pytest.param(
        flask("escape", app_cors=True, hygiene="on"), id="flask-escaped-jwt-error-flask_cors"
    ),
    # 6. Flask views that raise instead of answering, with cors=.
    pytest.param(flask("authfailure"), id="flask-view-raises-AuthFailure-cors="),
    pytest.param(flask("escape"), id="flask-view-escaped-jwt-error-cors="),
]


@pytest.mark.parametrize("setup", READABLE_CASES)
def test_page_reads_the_refusal(tab: Tab, fronts: Fronts, setup: Setup) -> None:
    """The page reads 401, the `Bearer` challenge with `invalid_token` and
    `reason: token_expired`, however the app refused and whichever layer
    answers CORS; the app's auth saw only the real request."""
    app, record = build(setup, fronts.allowed)
    token = expired_jwt()
    with serve(app, asgi=setup.asgi) as server:
        result = tab.call(fronts.allowed, api_url(server), token)

    check(tab, result, EXPLAINED)
    assert record.wire == ["OPTIONS", "GET"]  # the browser did send a preflight
    assert record.auth == ["GET"]
    if setup.hygiene == "cors":
        # R20: answered in front of the app; not even its first layer saw it.
        assert record.app == ["GET"]
    check_logged(record, token)


# --- a disallowed origin reads nothing ------------------------------------------

DISALLOWED_CASES = [
    pytest.param(fastapi("httpbearer"), id="fastapi-cors="),
    pytest.param(flask("before_request"), id="flask-cors="),
    pytest.param(fastapi("httpbearer", app_cors=True, hygiene="on"), id="fastapi-CORSMiddleware"),
    pytest.param(flask("view", app_cors=True, hygiene="on"), id="flask-flask_cors"),
]


@pytest.mark.parametrize("setup", DISALLOWED_CASES)
def test_disallowed_origin_reads_nothing(tab: Tab, fronts: Fronts, setup: Setup) -> None:
    """A page from an origin not in the allow list gets a CORS failure: the
    preflight is refused and the credentialed request is never sent."""
    app, record = build(setup, fronts.allowed)
    with serve(app, asgi=setup.asgi) as server:
        result = tab.call(fronts.other, api_url(server), expired_jwt())

    check(tab, result, PREFLIGHT_NOT_ALLOWED)
    assert record.wire == ["OPTIONS"]
    assert record.auth == []
    if setup.hygiene == "cors":
        assert record.app == []


# --- a server error stays readable ----------------------------------------------


def test_unhandled_error_is_readable_with_cors_option(tab: Tab, fronts: Fronts) -> None:
    """Starlette's ServerErrorMiddleware renders the 500 of an unhandled
    exception outside every user middleware; with cors= that 500 still
    carries the CORS headers, so the page reads 500, not a CORS failure."""
    setup = fastapi("boom")
    app, record = build(setup, fronts.allowed)
    with serve(app, asgi=True) as server:
        result = tab.call(fronts.allowed, api_url(server), expired_jwt())

    check(tab, result, SERVER_ERROR)
    assert record.wire == ["OPTIONS", "GET"]
    assert record.events("auth.failure") == []


# --- before and after the one line ----------------------------------------------

# setup without the one line, the one line added, what the page read before and
# after, which methods reached the server before and after
BEFORE_AFTER_CASES = [
    pytest.param(
        fastapi("httpbearer", app_cors=True, hygiene="off"),
        "on",
        STATUS_ONLY,
        EXPLAINED,
        ["OPTIONS", "GET"],
        ["OPTIONS", "GET"],
        id="fastapi-httpbearer-CORSMiddleware",
    ),
    pytest.param(
        fastapi("escape", app_cors=True, hygiene="off"),
        "on",
        RESPONSE_NOT_ALLOWED,  # the 500 is rendered outside CORSMiddleware
        EXPLAINED,
        ["OPTIONS", "GET"],
        ["OPTIONS", "GET"],
        id="fastapi-escaped-jwt-error-CORSMiddleware",
    ),
    pytest.param(
        flask("before_request", app_cors=True, hygiene="off"),
        "cors",
        PREFLIGHT_REFUSED,  # the hook's 401 to the preflight: the GET is never sent
        EXPLAINED,
        ["OPTIONS"],
        ["OPTIONS", "GET"],
        id="flask-before_request-flask_cors",
    ),
    pytest.param(
        flask("view", app_cors=True, hygiene="off"),
        "on",
        STATUS_ONLY,
        EXPLAINED,
        ["OPTIONS", "GET"],
        ["OPTIONS", "GET"],
        id="flask-view-flask_cors",
    ),
    pytest.param(
        flask("escape", app_cors=True, hygiene="off"),
        "on",
        SERVER_ERROR,  # Flask's 500 goes through flask-cors's after_request
        EXPLAINED,
        ["OPTIONS", "GET"],
        ["OPTIONS", "GET"],
        id="flask-escaped-jwt-error-flask_cors",
    ),
]


@pytest.mark.parametrize(
    ("before", "line", "seen_before", "seen_after", "wire_before", "wire_after"),
    BEFORE_AFTER_CASES,
)
def test_the_one_line_makes_the_difference(
    browser: Browser,
    fronts: Fronts,
    before: Setup,
    line: Hygiene,
    seen_before: Seen,
    seen_after: Seen,
    wire_before: list[str],
    wire_after: list[str],
) -> None:
    """The same app with the same CORS layer, without and then with the one
    line, each called from the same front end in a fresh browser context:
    what the page can read, and whether the GET is sent at all, changes only
    through that line."""
    after = before.with_hygiene(line)
    token = expired_jwt()
    results = []
    for setup in (before, after):
        app, record = build(setup, fronts.allowed)
        context = browser.new_context()
        try:
            tab = Tab.open(context)
            with serve(app, asgi=setup.asgi) as server:
                result = tab.call(fronts.allowed, api_url(server), token)
            results.append((tab, result, record))
        finally:
            context.close()

    (tab_before, result_before, record_before), (tab_after, result_after, record_after) = results
    check(tab_before, result_before, seen_before)
    assert record_before.wire == wire_before
    check(tab_after, result_after, seen_after)
    assert record_after.wire == wire_after
    check_logged(record_after, token)


def test_refused_preflight_needs_the_cors_option(tab: Tab, fronts: Fronts) -> None:
    """Without cors= the app's CORS layer stays in charge, so a preflight its
    auth refuses stays refused (Chromium sends no GET); the middleware says
    so once in `auth.misconfig`, which is how the developer learns to pass
    cors= (the before/after row above shows that it then works)."""
    setup = flask("before_request", app_cors=True, hygiene="on")
    app, record = build(setup, fronts.allowed)
    with serve(app, asgi=False) as server:
        result = tab.call(fronts.allowed, api_url(server), expired_jwt())

    check(tab, result, PREFLIGHT_REFUSED)
    assert record.wire == ["OPTIONS"]
    assert record.auth == ["OPTIONS"]
    misconfig = record.events("auth.misconfig")
    assert [e.get("kind") for e in misconfig] == ["preflight_refused"]


# --- an expired token in a cookie -----------------------------------------------


def test_expired_cookie_with_credentials_include(tab: Tab, fronts: Fronts) -> None:
    """No Authorization header, only the browser's cookie for the API: a
    simple GET (no preflight) with credentials "include", and the page still
    reads why it failed. The API is on 127.0.0.1:B here, another origin but
    the same site as the front end, so the SameSite=Lax cookie is sent
    (Chromium did not send a SameSite=None; Secure cookie for localhost:B
    from a 127.0.0.1 page: a cross-site, third-party cookie)."""
    setup = flask("cookie")
    app, record = build(setup, fronts.allowed)
    token = expired_jwt()
    with serve(app, asgi=False) as server:
        tab.page.context.add_cookies(
            [
                {
                    "name": COOKIE,
                    "value": token,
                    "url": f"http://127.0.0.1:{server.port}/",
                    "httpOnly": True,
                    "sameSite": "Lax",
                }
            ]
        )
        result = tab.call(fronts.allowed, api_url(server, "127.0.0.1"), None)

    # No Bearer token was sent, so the challenge carries no RFC 6750 error
    # code (§3.1); the body still says why.
    assert result == {
        "status": 401,
        "wwwAuthenticate": 'Bearer realm="api"',
        "reason": "token_expired",
        "error": None,
    }
    assert tab.cors_messages() == []
    assert record.wire == ["GET"]
    assert record.auth == ["GET"]
    check_logged(record, token)
