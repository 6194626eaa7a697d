"""Flask checking a bearer token in its view and `abort(401)` when it is
wrong, behind authhygiene with a Throttle; served by gunicorn with two sync
workers (`tests.throttle.fleet_apps.wsgi_app:app`)."""

from __future__ import annotations

import os
import secrets
from typing import Any

from flask import Flask, abort, request

from authhygiene import AuthHygieneWSGI
from tests.throttle.fleet_apps import good_token, record_call, throttle, wsgi_with_pid

app = Flask(__name__)
# Every request that reaches the app is written down.
app.before_request(record_call)


@app.get("/me")
def me() -> Any:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(
        token.encode(), good_token().encode()
    ):
        abort(401, description="Invalid token")
    return {"user": "alice", "pid": os.getpid()}


app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, realm="api", throttle=throttle())  # type: ignore[method-assign]

# The test's instrument, outside the middleware: which worker answered.
app.wsgi_app = wsgi_with_pid(app.wsgi_app)  # type: ignore[method-assign]
