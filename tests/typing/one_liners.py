"""The README's one-liners, type-checked with mypy --strict (make typecheck).

Not collected by pytest: this file is only read by mypy, so that a change to
the public signatures that breaks a documented use fails the build.
"""

from __future__ import annotations

import logging

import structlog
from fastapi import FastAPI
from flask import Flask
from starlette.applications import Starlette
from starlette.middleware import Middleware

from authhygiene import CORS, AuthFailure, AuthHygiene, AuthHygieneWSGI, LogLimit, Reason
from authhygiene.logging import (
    RedactingFilter,
    Redactor,
    flush_suppressed,
    redact,
    redact_server_logs,
)
from authhygiene.testing import assert_no_secrets

fastapi_app = FastAPI()
fastapi_app.add_middleware(AuthHygiene, realm="api")

starlette_app = Starlette(middleware=[Middleware(AuthHygiene, realm="api")])
wrapped = AuthHygiene(starlette_app, realm="api", schemes=("Bearer", "DPoP"), explain="full")

flask_app = Flask(__name__)
# Flask's own docs assign middleware this way (ProxyFix); mypy calls it a
# method assignment, as it does for every WSGI middleware.
flask_app.wsgi_app = AuthHygieneWSGI(flask_app.wsgi_app, realm="api")  # type: ignore[method-assign]


def refuse() -> None:
    raise AuthFailure(Reason.INSUFFICIENT_SCOPE, required_scope="items:write")


# The README's "Browser apps" lines: authhygiene as the app's CORS layer.
browser_api = FastAPI()
browser_api.add_middleware(
    AuthHygiene, realm="api", cors=CORS(allow_origins=["https://app.example.com"])
)
browser_flask = Flask(__name__)
browser_flask.wsgi_app = AuthHygieneWSGI(  # type: ignore[method-assign]
    browser_flask.wsgi_app,
    realm="api",
    cors=CORS(
        allow_origins=("https://app.example.com",),
        allow_origin_regex=r"https://[a-z0-9-]+\.example\.com",
        expose_headers=["X-Request-Id"],
        max_age=600,
    ),
)

# The README's "Logs" lines: a production structlog chain with `redact`,
# the servers' access logs redacted, and the logging options.

structlog.configure(
    processors=[
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
        structlog.processors.JSONRenderer(),
    ]
)
redact_server_logs()
logging.getLogger("myapp").addFilter(RedactingFilter(redactor=Redactor(keys=frozenset({"pin"}))))
logged_api = FastAPI()
logged_api.add_middleware(
    AuthHygiene,
    realm="api",
    trusted_proxies=("10.0.0.0/8",),
    log_claims=("sub",),
    log_omit=("user_agent",),
    log_limit=LogLimit(per_key=20, total=1000, window_s=60),
    metrics=True,
)
flush_suppressed()
assert_no_secrets(["a captured line"], ["a-secret-value"])

# verify=: a verifier with the app's keys (README "Knowing instead of guessing").
from authhygiene.verify import JWT, Rejected, Verified  # noqa: E402

verified_app = FastAPI()
verified_app.add_middleware(
    AuthHygiene, realm="api", verify=JWT(algorithms=["HS256"], keys="k" * 32, issuer="https://i")
)
outcome: Verified | Rejected = JWT(algorithms=["HS256"], keys="k" * 32).verify("a.b.c")
if isinstance(outcome, Rejected):
    failure: AuthFailure = outcome.failure()
