"""Flask refusing with `abort(401)` (werkzeug's HTML page, no challenge) or a
JSON 401 with a bare Bearer challenge, and the factories a gunicorn worker
calls to serve it with the middleware."""

from __future__ import annotations

from typing import Any

from flask import Flask, abort
from flask import request as flask_request

from authhygiene import AuthHygieneWSGI, LogLimit

from . import VALID_TOKEN, configure_stdout_json

__all__ = ["PRESETS", "flask_app", "gunicorn_app"]


def flask_app(**options: Any) -> Flask:
    """`/private` and `/private/<name>` need a token. With no options, no middleware."""
    app = Flask(__name__)

    def refused() -> Any:
        authorization = flask_request.headers.get("Authorization")
        if authorization is None:
            abort(401)
        if authorization != f"Bearer {VALID_TOKEN}":
            return {"detail": "Invalid token"}, 401, {"WWW-Authenticate": "Bearer"}
        return None

    @app.get("/private")
    def private() -> Any:
        return refused() or {"ok": True}

    @app.get("/private/<name>")
    def named(name: str) -> Any:
        return refused() or {"name": name}

    @app.get("/public")
    def public() -> Any:
        return {"ok": True}

    if options:
        app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, **options)  # type: ignore[method-assign]
    return app


PRESETS: dict[str, dict[str, Any]] = {
    "metrics": {"realm": "api"},
    # Short windows: the test waits for the timer's summaries.
    "flood": {"realm": "api", "log_limit": LogLimit(per_key=20, total=200, window_s=2)},
    # A window longer than the test: the summaries come at the worker's exit.
    "distributed": {
        "realm": "api",
        "trusted_proxies": ("127.0.0.1",),
        "log_limit": LogLimit(per_key=20, total=200, window_s=60),
    },
}


def gunicorn_app(preset: str) -> Any:
    """What `gunicorn 'tests.e2e.log_apps.wsgi_app:gunicorn_app("flood")'`
    serves: the Flask app with the preset's options, logging JSON lines to
    the worker's stdout; "metrics" also serves prometheus-client's registry
    at /metrics beside it."""
    configure_stdout_json()
    app = flask_app(**PRESETS[preset])
    if preset == "metrics":
        import prometheus_client
        from werkzeug.middleware.dispatcher import DispatcherMiddleware

        return DispatcherMiddleware(app.wsgi_app, {"/metrics": prometheus_client.make_wsgi_app()})
    return app
