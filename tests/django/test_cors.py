"""CORS in Django: ``AUTHHYGIENE["cors"]`` as the project's CORS layer, and
django-cors-headers as the project's own, through Django's sync and async
test clients.

Why: Django answers a preflight through the whole middleware chain and the
URL resolver (a view that only takes GET answers 405, an auth middleware
answers 401), so the preflight must be answered by our middleware before
any of that, and every response, Django's own 500 included, must carry the
CORS headers on its way out.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponseBase
from django.test.utils import override_settings
from structlog.testing import CapturingLogger

from authhygiene import CORS
from tests.django.conftest import MIDDLEWARE_PATH, Secret, bearer, fetch
from tests.django.project import settings as project_settings

PAGE = "http://page.example:8001"
OTHER = "http://other.example:8002"
KINDS = ["sync", "async"]


def exposed(response: HttpResponseBase) -> set[str]:
    value = response.headers.get("Access-Control-Expose-Headers", "")
    return {item.strip().lower() for item in value.split(",") if item.strip()}


def vary(response: HttpResponseBase) -> set[str]:
    return {item.strip().lower() for item in response.headers.get("Vary", "").split(",")}


@pytest.fixture
def ours(log: CapturingLogger) -> Any:
    options = {"realm": "api", "logger": log, "cors": {"allow_origins": [PAGE]}}
    with override_settings(AUTHHYGIENE=options):
        yield options


@pytest.fixture
def corsheaders(log: CapturingLogger) -> Any:
    """django-cors-headers as its README places it: high in MIDDLEWARE,
    below authhygiene (which then sees its headers on the way out)."""
    middleware = list(project_settings.MIDDLEWARE)
    middleware.insert(1, "corsheaders.middleware.CorsMiddleware")
    with override_settings(
        AUTHHYGIENE={"realm": "api", "logger": log},
        INSTALLED_APPS=[*project_settings.INSTALLED_APPS, "corsheaders"],
        MIDDLEWARE=middleware,
        CORS_ALLOWED_ORIGINS=[PAGE],
        CORS_ALLOW_CREDENTIALS=True,
        CORS_EXPOSE_HEADERS=["X-Total"],
    ):
        yield


@pytest.mark.usefixtures("ours")
@pytest.mark.parametrize("kind", KINDS)
def test_preflight_answered_before_django(kind: str) -> None:
    """`api/items` takes GET only and checks a token: without us Django's
    answer to the preflight would be that 401."""
    response, body = fetch(
        kind,
        "/api/items",
        method="options",
        headers={
            "Origin": PAGE,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 204
    assert body == b""
    assert "Content-Type" not in response.headers
    assert response.headers["Access-Control-Allow-Origin"] == PAGE
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed
    assert "origin" in vary(response)


@pytest.mark.usefixtures("ours")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("origin", [OTHER, "null", PAGE + "/", PAGE + "\r\nX: y"])
def test_preflight_from_a_bad_origin(kind: str, origin: str) -> None:
    response, body = fetch(
        kind,
        "/api/items",
        method="options",
        headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert b"origin_not_allowed" in body


@pytest.mark.usefixtures("ours")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("path", "token", "status"),
    [
        pytest.param("/ok", None, 200, id="success"),
        pytest.param("/api/items", None, 401, id="missing"),
        pytest.param("/api/items", "bad", 401, id="bad-token"),
        pytest.param("/api/write", "good", 403, id="raised-insufficient-scope"),
        pytest.param("/missing", None, 404, id="not-found"),
    ],
)
def test_every_response_to_an_allowed_origin(
    kind: str, path: str, token: str | None, status: int, good_token: Secret, bad_token: Secret
) -> None:
    headers = {"Origin": PAGE}
    if token:
        headers.update(bearer(good_token if token == "good" else bad_token))
    response, _ = fetch(kind, path, headers=headers)
    assert response.status_code == status
    assert response.headers["Access-Control-Allow-Origin"] == PAGE
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "origin" in vary(response)
    assert ("www-authenticate" in exposed(response)) is (status >= 400)


@pytest.mark.parametrize("kind", KINDS)
def test_django_500_carries_cors(kind: str, log: CapturingLogger) -> None:
    """Django's own 500 (an exception in a view) passes through us too."""
    options = {"realm": "api", "logger": log, "cors": CORS(allow_origins=[PAGE])}
    with override_settings(AUTHHYGIENE=options, DEBUG_PROPAGATE_EXCEPTIONS=False):
        response, _ = fetch(kind, "/boom", headers={"Origin": PAGE}, raise_request_exception=False)
    assert response.status_code == 500
    assert response.headers["Access-Control-Allow-Origin"] == PAGE


@pytest.mark.usefixtures("ours")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("headers", [{}, {"Origin": OTHER}])
def test_other_origins_get_vary_only(kind: str, headers: dict[str, str]) -> None:
    response, _ = fetch(kind, "/ok", headers=headers)
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "origin" in vary(response)


@pytest.mark.usefixtures("corsheaders")
@pytest.mark.parametrize("kind", KINDS)
def test_corsheaders_kept_and_challenge_exposed(kind: str, bad_token: Secret) -> None:
    headers = {"Origin": PAGE, **bearer(bad_token)}
    response, _ = fetch(kind, "/api/items", headers=headers)
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == PAGE
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert {"www-authenticate", "x-total"} <= exposed(response)


@pytest.mark.usefixtures("corsheaders")
@pytest.mark.parametrize("kind", KINDS)
def test_corsheaders_answers_its_preflight(kind: str) -> None:
    response, _ = fetch(
        kind,
        "/api/items",
        method="options",
        headers={"Origin": PAGE, "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == PAGE


@pytest.mark.parametrize(
    ("cors", "message"),
    [
        pytest.param({"allow_origins": ["*"]}, "allow_credentials", id="wildcard"),
        pytest.param({"allow_origin": [PAGE]}, "allow_origins", id="typo"),
        pytest.param(["https://a.example"], "dict of its options", id="list"),
    ],
)
def test_bad_cors_settings_fail_at_start_up(cors: Any, message: str) -> None:
    from django.test import Client

    with (
        override_settings(AUTHHYGIENE={"realm": "api", "cors": cors}),
        pytest.raises(ImproperlyConfigured, match=message),
    ):
        Client().get("/ok")


def test_middleware_path_is_the_documented_one() -> None:
    assert MIDDLEWARE_PATH in project_settings.MIDDLEWARE


@pytest.mark.parametrize(
    ("middleware", "cors", "exposed", "expected"),
    [
        pytest.param("below", {"allow_origins": [PAGE]}, [], ["authhygiene.W001"], id="two-layers"),
        pytest.param("above", None, ["X-Total"], ["authhygiene.W002"], id="above-overwrites"),
        pytest.param(
            "above", None, ["X-Total", "WWW-Authenticate"], [], id="above-lists-the-challenge"
        ),
        pytest.param("above", None, [], [], id="above-exposes-nothing"),
        pytest.param("below", None, ["X-Total"], [], id="below-is-merged"),
    ],
)
def test_checks_for_the_arrangement_with_corsheaders(
    middleware: str, cors: Any, exposed: list[str], expected: list[str]
) -> None:
    """W001/W002: two CORS layers, or django-cors-headers above us replacing
    the exposed list, are told at `manage.py check` time with the fix."""
    from django.core.checks import run_checks

    stack = list(project_settings.MIDDLEWARE)
    stack.insert(0 if middleware == "above" else 1, "corsheaders.middleware.CorsMiddleware")
    options: dict[str, Any] = {"realm": "api"}
    if cors is not None:
        options["cors"] = cors
    with override_settings(
        AUTHHYGIENE=options,
        MIDDLEWARE=stack,
        INSTALLED_APPS=[*project_settings.INSTALLED_APPS, "corsheaders"],
        CORS_EXPOSE_HEADERS=exposed,
    ):
        ids = [m.id for m in run_checks() if str(m.id).startswith("authhygiene.")]
    assert ids == expected


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param(
            {"CORS_ALLOW_ALL_ORIGINS": True, "CORS_ALLOW_CREDENTIALS": True},
            ["authhygiene.W003"],
            id="all-origins-with-credentials",
        ),
        pytest.param(
            {"CORS_ORIGIN_ALLOW_ALL": True, "CORS_ALLOW_CREDENTIALS": True},
            ["authhygiene.W003"],
            id="old-setting-name",
        ),
        pytest.param({"CORS_ALLOW_ALL_ORIGINS": True}, [], id="all-origins-no-credentials"),
        pytest.param(
            {"CORS_ALLOWED_ORIGIN_REGEXES": [r"^https?://.*$"], "CORS_ALLOW_CREDENTIALS": True},
            ["authhygiene.W003"],
            id="any-site-regex",
        ),
        pytest.param(
            {
                "CORS_ALLOWED_ORIGIN_REGEXES": [r"^https://\w+\.page\.example$"],
                "CORS_ALLOW_CREDENTIALS": True,
            },
            [],
            id="anchored-regex",
        ),
        pytest.param(
            {"CORS_ALLOWED_ORIGINS": [PAGE], "CORS_ALLOW_CREDENTIALS": True}, [], id="listed"
        ),
    ],
)
def test_check_for_corsheaders_allowing_every_origin(
    extra: dict[str, Any], expected: list[str]
) -> None:
    """W003: django-cors-headers then reflects any site's Origin with
    credentials; the browser lets every site read the API's answers."""
    from django.core.checks import run_checks

    stack = list(project_settings.MIDDLEWARE)
    stack.insert(1, "corsheaders.middleware.CorsMiddleware")
    with override_settings(
        AUTHHYGIENE={"realm": "api"},
        MIDDLEWARE=stack,
        INSTALLED_APPS=[*project_settings.INSTALLED_APPS, "corsheaders"],
        **extra,
    ):
        ids = [m.id for m in run_checks() if str(m.id).startswith("authhygiene.")]
    assert ids == expected


@pytest.mark.usefixtures("ours")
@pytest.mark.parametrize("method", ["get", "options"])
def test_an_origin_that_is_not_text_is_no_origin(method: str) -> None:
    """A server gives META values as str; a test client or a middleware
    above may put bytes there: no 500, and no CORS headers for it."""
    from django.test import Client

    response = getattr(Client(), method)(
        "/api/items", HTTP_ORIGIN=PAGE.encode(), HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    assert response.status_code in (401, 405)
    assert "Access-Control-Allow-Origin" not in response.headers
