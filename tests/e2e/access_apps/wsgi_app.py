"""Flask, served by gunicorn (`tests.e2e.access_apps.wsgi_app:app`) or by
its own development server (`python -m tests.e2e.access_apps.wsgi_app PORT`):
both print every request line in their access log."""

from __future__ import annotations

import sys
from typing import Any

from flask import Flask, request

from authhygiene import AuthHygieneWSGI
from authhygiene.logging import redact_server_logs
from tests.e2e.access_apps import redaction_requested

app = Flask(__name__)


@app.get("/items")
def items() -> Any:
    # No token is valid here: every request is an auth failure.
    if request.headers.get("Authorization") is None:
        return {"detail": "Not authenticated"}, 401, {"WWW-Authenticate": "Bearer"}
    return {"detail": "Invalid token"}, 401, {"WWW-Authenticate": "Bearer"}


app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, realm="api")  # type: ignore[method-assign]

if redaction_requested():
    redact_server_logs()

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]), debug=False, use_reloader=False)
