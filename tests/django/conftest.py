"""Django for this directory only, plus the helpers its tests share.

pytest-django is not used: Django is configured lazily, by a session fixture
that only the tests in this directory request (autouse applies to this
directory alone), from the test project's settings module. Other test
directories in the same pytest process never import or configure Django
through us. Each test that needs other options wraps them in
`override_settings`, and builds its test client inside the override because
the middleware reads settings when the client's handler is first used.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from typing import Any

# isort files `django` with the first-party imports only because this directory
# is called tests/django and pyproject's ruff `src` includes "tests".
import django
import jwt
import pytest
from django.apps import apps
from django.conf import settings
from django.http import HttpResponseBase
from django.test import AsyncClient, Client
from django.test.utils import override_settings
from structlog.testing import CapturingLogger
from werkzeug.datastructures import WWWAuthenticate

from authhygiene.testing import assert_no_secrets
from tests.django.project import settings as project_settings

REALM = "api"
MIDDLEWARE_PATH = "authhygiene.django.AuthHygieneMiddleware"


def _project_values() -> dict[str, Any]:
    names = [name for name in dir(project_settings) if name.isupper()]
    return {name: getattr(project_settings, name) for name in names}


@pytest.fixture(scope="session", autouse=True)
def django_project() -> Iterator[None]:
    """Configure Django from tests/django/project/settings.py, once, on first use."""
    values = _project_values()
    if not settings.configured:
        settings.configure(**values)
        django.setup()
        yield
        return
    # Another part of the run configured Django first: lay the project's
    # settings over it for this session only, and give them back afterwards.
    if not apps.ready:
        django.setup()
    with override_settings(**values):
        yield


@pytest.fixture
def log() -> CapturingLogger:
    """A structlog-style logger that records every call (`.calls`)."""
    return CapturingLogger()


@pytest.fixture
def options(log: CapturingLogger) -> dict[str, Any]:
    """The project's AUTHHYGIENE with the capturing logger."""
    return {**project_settings.AUTHHYGIENE, "logger": log}


@pytest.fixture
def hygiene(options: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """AUTHHYGIENE = `options` for the whole test."""
    with override_settings(AUTHHYGIENE=options):
        yield options


class Secret(str):
    """A credential whose repr never shows it, so that pytest's failure report
    (which prints a test's arguments) cannot carry it into CI logs."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('***')"


@pytest.fixture
def sent_secrets() -> list[Secret]:
    """Every credential a test's fixtures handed out (see `credentials_never_logged`)."""
    return []


@pytest.fixture
def good_token(sent_secrets: list[Secret]) -> Secret:
    token = Secret(settings.HYGIENE_TEST_TOKEN)
    sent_secrets.append(token)
    return token


@pytest.fixture
def bad_token(sent_secrets: list[Secret]) -> Secret:
    # Random per test: an opaque string no view accepts.
    token = Secret(secrets.token_urlsafe(24))
    sent_secrets.append(token)
    return token


@pytest.fixture
def expired_jwt(sent_secrets: list[Secret]) -> tuple[Secret, int]:
    """A JWT signed with the project's key whose exp passed 95 s ago, and that exp."""
    exp = int(time.time()) - 95
    token = Secret(jwt.encode({"sub": "alice", "exp": exp}, settings.HYGIENE_TEST_JWT_KEY, "HS256"))
    sent_secrets.append(token)
    return token, exp


@pytest.fixture(autouse=True)
def credentials_never_logged(
    sent_secrets: list[Secret], log: CapturingLogger, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """A net under every test here: no credential it used reaches the
    middleware's logger or any stdlib log record (Django's own included).
    The tests also assert this themselves, next to what they send."""
    yield
    records = "\n".join(record.getMessage() for record in caplog.get_records("call"))
    for secret in sent_secrets:
        assert_not_leaked(secret, records, log.calls)


def without_middleware() -> override_settings:
    """The project as it is without authhygiene: the reference for pass-through."""
    return override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH])


def fetch(
    kind: str,
    path: str,
    *,
    method: str = "get",
    headers: dict[str, str] | None = None,
    data: Any = None,
    **client_options: Any,
) -> tuple[HttpResponseBase, bytes]:
    """One request through `Client` ("sync") or `AsyncClient` ("async"),
    built here so that it picks up the settings in force; returns the
    response and its whole body (a streaming body is read to the end)."""
    if kind == "sync":
        response = getattr(Client(**client_options), method)(path, data=data, headers=headers)
        if response.streaming:
            return response, b"".join(response.streaming_content)
        return response, response.content

    async def run() -> tuple[HttpResponseBase, bytes]:
        client = AsyncClient(**client_options)
        response = await getattr(client, method)(path, data=data, headers=headers)
        if response.streaming:
            return response, b"".join([chunk async for chunk in response.streaming_content])
        return response, response.content

    return asyncio.run(run())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def challenge(response: HttpResponseBase) -> WWWAuthenticate:
    """The single challenge of `response`, parsed by werkzeug as an oracle."""
    value = response.headers["WWW-Authenticate"]
    parsed = WWWAuthenticate.from_header(value)
    assert parsed is not None, f"unparseable WWW-Authenticate: {value!r}"
    return parsed


def events(log: CapturingLogger, name: str) -> list[dict[str, Any]]:
    """The fields of every event called `name`, in order."""
    return [dict(call.kwargs) for call in log.calls if call.args and call.args[0] == name]


def assert_not_leaked(secret: str, *texts: object) -> None:
    """`secret`, in any of its encodings, is in none of `texts` (responses
    may set cookies of their own, so shapes are not checked here; the
    per-test check in tests/conftest.py looks for them in every log)."""
    assert_no_secrets(list(texts), [secret], shapes=False)
