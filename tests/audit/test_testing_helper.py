"""`assert_auth_hygiene` and the `auth_hygiene` fixture: the audit's checks
in a team's own test suite, in process, for ASGI and WSGI apps."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, request
from structlog.testing import CapturingLogger

from authhygiene import CORS, AuthHygiene, AuthHygieneWSGI
from authhygiene.testing import assert_auth_hygiene
from tests.audit.test_checks import ORIGIN, TOKEN, bearer_app

pytest_plugins = ["pytester"]


def flask_app() -> Flask:
    app = Flask(__name__)

    @app.get("/me")
    def me() -> Any:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return {"error": "unauthorized"}, 401
        return {"ok": True}

    return app


def wrapped_flask() -> Flask:
    app = flask_app()
    app.wsgi_app = AuthHygieneWSGI(  # type: ignore[method-assign]
        app.wsgi_app, realm="api", cors=CORS(allow_origins=[ORIGIN]), logger=CapturingLogger()
    )
    return app


def wrapped_fastapi() -> Any:
    return AuthHygiene(
        bearer_app(), realm="api", cors=CORS(allow_origins=[ORIGIN]), logger=CapturingLogger()
    )


@pytest.mark.parametrize("make", [wrapped_fastapi, wrapped_flask], ids=["asgi", "wsgi"])
def test_an_app_behind_the_one_line_passes(make: Any) -> None:
    report: Any = assert_auth_hygiene(make(), "/me", token=TOKEN, origin=ORIGIN)
    assert report.statuses["anonymous"] == 401
    assert report.statuses["valid-token"] == 200


@pytest.mark.parametrize("make", [bearer_app, flask_app], ids=["asgi", "wsgi"])
def test_a_bare_app_fails_saying_what_and_how_to_fix(make: Any) -> None:
    with pytest.raises(AssertionError) as failed:
        assert_auth_hygiene(make(), "/me", token=TOKEN)
    text = str(failed.value)
    assert "required auth-hygiene checks failed" in text
    assert "no-store (RFC 9111 §3.5) on anonymous" in text
    assert "fix: Send Cache-Control: no-store with every auth failure." in text
    assert TOKEN not in text


@pytest.mark.parametrize(
    "options",
    [{"realm": "api", "relam": "typo"}, {"realm": "api", "mode": "enforce", "log_levle": "x"}],
    ids=["explaining", "guarding"],
)
def test_a_typo_in_the_apps_options_is_what_fails(options: dict[str, Any]) -> None:
    """Starlette builds add_middleware middleware at its first call, and the
    helper runs no lifespan: the refused option is named, not the 17 checks
    it makes fail."""
    from fastapi import FastAPI
    from structlog.testing import capture_logs

    app = FastAPI()

    @app.get("/me")
    def me() -> dict[str, bool]:
        return {"ok": True}

    app.add_middleware(AuthHygiene, **options)
    with capture_logs(), pytest.raises(AssertionError) as failed:
        assert_auth_hygiene(app, "/me", token=TOKEN)
    text = str(failed.value)
    assert text.startswith("authhygiene refused its options, so it is off in this app:")
    assert "Did you mean" in text
    assert "required auth-hygiene checks failed" not in text


def test_the_fixture_in_a_users_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from flask import Flask
        from authhygiene import AuthHygieneWSGI

        def make(wrapped):
            app = Flask(__name__)

            @app.get("/me")
            def me():
                return {"error": "unauthorized"}, 401

            if wrapped:
                app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, realm="api")
            return app

        def test_wrapped(auth_hygiene):
            auth_hygiene(make(True), "/me")

        def test_bare(auth_hygiene):
            auth_hygiene(make(False), "/me")
        """
    )
    result = pytester.runpytest("-p", "authhygiene.pytest_plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*required auth-hygiene checks failed*"])
