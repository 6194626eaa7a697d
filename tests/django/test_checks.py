"""Django system checks (authhygiene.E001-E003) and the middleware's start-up refusal.

Why this file exists: a Django user learns about a bad `settings.AUTHHYGIENE`
from `manage.py check` (run by runserver, migrate and CI) before the first
request, and the middleware itself must refuse to start with
ImproperlyConfigured rather than serve with a half-understood policy. Both
must name the fix, and both must agree on what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from types import MappingProxyType
from typing import Any

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.test.utils import override_settings

from authhygiene.django import AuthHygieneMiddleware
from tests.django.conftest import MIDDLEWARE_PATH

_MISSING = object()


@contextmanager
def _settings(value: object) -> Iterator[None]:
    """AUTHHYGIENE = value for the block, or no AUTHHYGIENE at all for _MISSING."""
    if value is _MISSING:
        with override_settings():
            # Django's documented way to simulate an absent setting.
            del settings.AUTHHYGIENE
            yield
    else:
        with override_settings(AUTHHYGIENE=value):
            yield


def _check() -> str:
    """Run `manage.py check`; the output when it passes."""
    out = StringIO()
    call_command("check", stdout=out, stderr=StringIO())
    return out.getvalue()


def _our_messages() -> list[Any]:
    return [m for m in run_checks() if str(m.id or "").startswith("authhygiene.")]


def _get_response(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok")


# (AUTHHYGIENE, check id, words the check's text and the constructor's message must contain)
BAD_SETTINGS = [
    pytest.param(_MISSING, "authhygiene.E001", ['AUTHHYGIENE = {"realm": "api"}'], id="missing"),
    pytest.param("api", "authhygiene.E002", ["dict"], id="string-not-dict"),
    pytest.param(["realm", "api"], "authhygiene.E002", ["dict"], id="list-not-dict"),
    pytest.param(
        {"realm": "api", "explian": "full"},
        "authhygiene.E003",
        ["'explian'", "Did you mean 'explain'?"],
        id="typo-explian",
    ),
    pytest.param(
        {"explain": "full"}, "authhygiene.E003", ["'realm'", 'realm="api"'], id="no-realm"
    ),
    pytest.param(
        {"realm": "api", "explain": "verbose"},
        "authhygiene.E003",
        ["'verbose'", "'full', 'safe', 'minimal'"],
        id="bad-explain",
    ),
    pytest.param({"realm": ""}, "authhygiene.E003", ["realm", "non-empty"], id="empty-realm"),
    pytest.param(
        {"realm": "api", "schemes": []}, "authhygiene.E003", ["schemes is empty"], id="no-schemes"
    ),
]


@pytest.mark.parametrize(("value", "check_id", "words"), BAD_SETTINGS)
def test_check_command_reports_bad_settings(value: object, check_id: str, words: list[str]) -> None:
    with _settings(value):
        with pytest.raises(SystemCheckError) as raised:
            _check()
        messages = _our_messages()
    assert check_id in str(raised.value)
    (message,) = messages
    assert message.id == check_id
    shown = f"{message.msg} {message.hint or ''}"
    for word in words:
        assert word in shown


@pytest.mark.parametrize(("value", "check_id", "words"), BAD_SETTINGS)
def test_middleware_refuses_to_start_naming_the_fix(
    value: object, check_id: str, words: list[str]
) -> None:
    with _settings(value), pytest.raises(ImproperlyConfigured) as raised:
        AuthHygieneMiddleware(_get_response)
    for word in words:
        assert word in str(raised.value)


def test_django_loads_the_middleware_at_start_up() -> None:
    # The handler builds its middleware chain on the first request: the bad
    # option stops it there, not halfway through a response.
    with _settings({"realm": "api", "explian": "full"}), pytest.raises(ImproperlyConfigured):
        Client().get("/ok")


CLEAN_SETTINGS = [
    pytest.param({"realm": "api"}, id="realm-only"),
    pytest.param(
        {
            "realm": "orders api",
            "schemes": ["Bearer", "Basic"],
            "explain": "full",
            "compat_403": True,
            "report_only": False,
            "resource_metadata": "https://api.example.com/.well-known/oauth-protected-resource",
            "log_level": "info",
        },
        id="many-options",
    ),
]


@pytest.mark.parametrize("value", CLEAN_SETTINGS)
def test_clean_settings_pass_the_check(value: dict[str, Any]) -> None:
    with _settings(value):
        output = _check()
        assert _our_messages() == []
        AuthHygieneMiddleware(_get_response)
    assert "authhygiene" not in output


def test_missing_settings_are_fine_when_the_middleware_is_not_used() -> None:
    # The app may be installed for its checks before the middleware is added.
    with _settings(_MISSING):
        middleware = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH]
        with override_settings(MIDDLEWARE=middleware):
            _check()
            assert _our_messages() == []


# Whatever the check accepts, the middleware must start with, and the other
# way round: otherwise `manage.py check` is green and the server still fails.
AGREEMENT: list[Any] = [
    *[pytest.param(case.values[0], id=f"bad-{case.id}") for case in BAD_SETTINGS],
    *[pytest.param(case.values[0], id=f"clean-{case.id}") for case in CLEAN_SETTINGS],
    pytest.param(MappingProxyType({"realm": "api"}), id="read-only-mapping"),
]


@pytest.mark.parametrize("value", AGREEMENT)
def test_check_and_middleware_agree(value: object) -> None:
    with _settings(value):
        check_fails = bool(_our_messages())
        try:
            AuthHygieneMiddleware(_get_response)
        except ImproperlyConfigured:
            middleware_fails = True
        else:
            middleware_fails = False
    assert check_fails == middleware_fails
