"""The decider and CORS when the app has its own CORS layer (no ``cors=``).

Starlette's CORSMiddleware, flask-cors or django-cors-headers decide who may
read a response; the decider keeps what they said and only makes sure that
whoever may read a failure can read its challenge (R21). What is wrong with
the app's own CORS answer is reported in `Decision.misconfig` (R19, R20)."""

from __future__ import annotations

from typing import Any

import pytest

from authhygiene.core.credentials import RequestView
from authhygiene.core.decision import Decision, decide
from authhygiene.core.diagnose import AppAnswer, Declared
from authhygiene.core.policy import Policy
from authhygiene.core.reasons import Reason

NOW = 1_800_000_000
APP = "http://127.0.0.1:8001"
OTHER = "https://evil.example"
FAILURE_LIST = "WWW-Authenticate, Retry-After, x-request-id"

Headers = tuple[tuple[str, str], ...]


def bearer() -> tuple[str, str]:
    """A credential made up for the test; never in an assert message."""
    return ("authorization", "Bearer " + "t" * 12 + "-generated")


def run(
    headers: Headers = (),
    *,
    method: str = "GET",
    status: int = 401,
    app_headers: Headers = (),
    declared: Declared | None = None,
    **options: Any,
) -> Decision:
    policy = Policy.from_options({"realm": "api", **options})
    view = RequestView(method, "/items", "", headers, "127.0.0.1")
    decision = decide(policy, view, AppAnswer(status, app_headers), declared=declared, now=NOW)
    assert decision is not None
    return decision


def header(decision: Decision, name: str) -> list[str]:
    return [value for key, value in decision.headers if key == name]


EXPOSE = [
    pytest.param((("origin", APP),), (), {}, [FAILURE_LIST], id="origin-app-exposes-nothing"),
    pytest.param(
        (("origin", APP),),
        (("access-control-expose-headers", "X-Trace"),),
        {},
        [f"X-Trace, {FAILURE_LIST}"],
        id="app-list-kept-first",
    ),
    pytest.param(
        (("origin", APP),),
        (("access-control-expose-headers", "www-authenticate, X-Trace"),),
        {},
        ["www-authenticate, X-Trace, Retry-After, x-request-id"],
        id="dedup-case-insensitive",
    ),
    pytest.param(
        (("origin", APP),),
        (
            ("access-control-expose-headers", "X-A"),
            ("access-control-expose-headers", "X-B"),
        ),
        {},
        [f"X-A, X-B, {FAILURE_LIST}"],
        id="several-app-fields-merged",
    ),
    pytest.param(
        (("origin", APP),),
        (),
        {"request_id_header": None},
        ["WWW-Authenticate, Retry-After"],
        id="no-request-id-header",
    ),
    pytest.param(
        (("origin", APP),),
        (),
        {"request_id_header": "X-Correlation-Id"},
        ["WWW-Authenticate, Retry-After, x-correlation-id"],
        id="own-request-id-header",
    ),
    pytest.param(
        (("origin", APP), bearer()),
        (),
        {},
        [FAILURE_LIST],
        id="with-credentials",
    ),
    # No Origin: not a cross-origin read; the app's list is left as it was.
    pytest.param((), (), {}, [], id="no-origin"),
    pytest.param(
        (),
        (("access-control-expose-headers", "X-Trace"),),
        {},
        ["X-Trace"],
        id="no-origin-app-list-untouched",
    ),
    # An origin we would never reflect is no origin (behaviour 4).
    pytest.param((("origin", "null"),), (), {}, [], id="null-origin"),
    pytest.param((("origin", APP), ("origin", APP)), (), {}, [], id="several-origins"),
    pytest.param((("origin", APP.upper()),), (), {}, [], id="uppercase-origin"),
    pytest.param((("origin", APP + "\r\nx: y"),), (), {}, [], id="crlf-origin"),
    # With cors= the adapter's CORS step exposes on every response instead.
    pytest.param(
        (("origin", APP),),
        (("access-control-expose-headers", "X-Trace"),),
        {"cors": {"allow_origins": [APP]}},
        ["X-Trace"],
        id="cors-configured-left-to-adapter",
    ),
]


@pytest.mark.parametrize(("request_headers", "app_headers", "options", "expected"), EXPOSE)
def test_failure_exposes_challenge_to_allowed_readers(
    request_headers: Headers,
    app_headers: Headers,
    options: dict[str, Any],
    expected: list[str],
) -> None:
    """R21: WWW-Authenticate is not CORS-safelisted (Fetch §3.2.3), so page
    code reads the challenge only if it is exposed; the app's list stays."""
    decision = run(request_headers, app_headers=app_headers, **options)
    assert header(decision, "access-control-expose-headers") == expected
    assert header(decision, "www-authenticate")


@pytest.mark.parametrize(
    ("app_cors", "request_headers"),
    [
        pytest.param(
            (
                ("access-control-allow-origin", APP),
                ("access-control-allow-credentials", "true"),
            ),
            (("origin", APP),),
            id="exact-origin",
        ),
        pytest.param(
            (("access-control-allow-origin", "*"),),
            (("origin", APP),),
            id="star-without-credentials",
        ),
        pytest.param(
            (
                ("access-control-allow-origin", OTHER),
                ("access-control-allow-credentials", "true"),
            ),
            (("origin", APP),),
            id="other-origin-not-ours-to-fix",
        ),
        pytest.param(
            (("access-control-allow-origin", APP),),
            (),
            id="no-request-origin",
        ),
    ],
)
def test_app_cors_headers_kept(app_cors: Headers, request_headers: Headers) -> None:
    """Without ``cors=`` the app's CORS layer decides who may read: its
    allow-origin and credentials flag reach the browser exactly as it said."""
    decision = run(request_headers, app_headers=(*app_cors, ("vary", "Origin")))
    for name in ("access-control-allow-origin", "access-control-allow-credentials"):
        assert header(decision, name) == [value for key, value in app_cors if key == name]
    (vary,) = header(decision, "vary")
    assert [item.strip() for item in vary.split(",")].count("Origin") == 1


PREFLIGHT = (("origin", APP), ("access-control-request-method", "DELETE"))

MISCONFIG = [
    pytest.param("OPTIONS", PREFLIGHT, 401, (), "preflight_refused", True, id="preflight-401"),
    pytest.param(
        "OPTIONS",
        (*PREFLIGHT, ("access-control-request-headers", "authorization")),
        403,
        (),
        "preflight_refused",
        True,
        id="preflight-403",
    ),
    pytest.param(
        "OPTIONS",
        (("origin", APP),),
        401,
        (),
        "preflight_refused",
        False,
        id="plain-options-is-not-a-preflight",
    ),
    pytest.param(
        "GET", PREFLIGHT, 401, (), "preflight_refused", False, id="get-is-not-a-preflight"
    ),
    pytest.param(
        "GET",
        (("origin", APP),),
        401,
        (("access-control-allow-origin", "*"), ("access-control-allow-credentials", "true")),
        "cors_wildcard_with_credentials",
        True,
        id="wildcard-with-credentials",
    ),
    pytest.param(
        "GET",
        (("origin", APP),),
        401,
        (("access-control-allow-origin", "*"), ("access-control-allow-credentials", " TRUE ")),
        "cors_wildcard_with_credentials",
        True,
        id="wildcard-with-credentials-any-case",
    ),
    pytest.param(
        "GET",
        (),
        403,
        (("access-control-allow-origin", "*"), ("access-control-allow-credentials", "true")),
        "cors_wildcard_with_credentials",
        True,
        id="wildcard-with-credentials-no-origin",
    ),
    pytest.param(
        "GET",
        (("origin", APP),),
        401,
        (("access-control-allow-origin", "*"),),
        "cors_wildcard_with_credentials",
        False,
        id="wildcard-alone-is-fine",
    ),
    pytest.param(
        "GET",
        (("origin", APP),),
        401,
        (("access-control-allow-origin", APP), ("access-control-allow-credentials", "true")),
        "cors_wildcard_with_credentials",
        False,
        id="exact-with-credentials-is-fine",
    ),
    pytest.param(
        "GET",
        (("origin", APP),),
        401,
        (("access-control-allow-origin", "*"), ("access-control-allow-credentials", "false")),
        "cors_wildcard_with_credentials",
        False,
        id="wildcard-credentials-false",
    ),
]


@pytest.mark.parametrize(
    ("method", "request_headers", "status", "app_headers", "kind", "reported"), MISCONFIG
)
def test_cors_misconfig_reported(
    method: str,
    request_headers: Headers,
    status: int,
    app_headers: Headers,
    kind: str,
    reported: bool,
) -> None:
    """R20: a preflight never carries credentials, so the app's auth refusing
    it means the real request never leaves the browser. R19: `*` with
    credentials is refused by every browser (Fetch §3.2.5)."""
    decision = run(request_headers, method=method, status=status, app_headers=app_headers)
    assert (kind in decision.misconfig) is reported
    # The app's own CORS answer is reported, never rewritten here.
    for name in ("access-control-allow-origin", "access-control-allow-credentials"):
        assert header(decision, name) == [value for key, value in app_headers if key == name]


@pytest.mark.parametrize("report_only", [False, True], ids=["enforce", "report-only"])
def test_misconfig_reported_in_both_modes(report_only: bool) -> None:
    decision = run(PREFLIGHT, method="OPTIONS", report_only=report_only)
    assert "preflight_refused" in decision.misconfig
    assert decision.rewrite is not report_only


def test_app_raised_failure_is_not_misconfig() -> None:
    """An AuthFailure the app raised is its own answer: nothing to report."""
    decision = run(
        PREFLIGHT,
        method="OPTIONS",
        app_headers=(
            ("access-control-allow-origin", "*"),
            ("access-control-allow-credentials", "true"),
        ),
        declared=Declared(Reason.CREDENTIALS_MISSING),
    )
    assert decision.misconfig == ()
    assert header(decision, "access-control-expose-headers") == [FAILURE_LIST]
