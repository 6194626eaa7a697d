"""enforce + verify= + profile + throttle + cors together, FastAPI and Flask."""

from __future__ import annotations

import sys
from typing import Any

from authhygiene import CORS, AuthHygiene, AuthHygieneWSGI, ProtectedResource, Scopes, Throttle
from authhygiene.verify import JWT
from tests.stacks.tokens import AUDIENCE, ISSUER, SIGNING_KEY

AS = "https://auth.example"


def options(**extra: Any) -> dict[str, Any]:
    return {
        "realm": "mcp",
        "mode": "enforce",
        "profile": "mcp",
        "verify": JWT(algorithms=["HS256"], keys=SIGNING_KEY, issuer=ISSUER, audience=AUDIENCE),
        "require": [("*", "/mcp*", Scopes("mcp:tools"))],
        "protected_resource": ProtectedResource(
            authorization_servers=[AS],
            scopes_supported=["mcp:tools"],
            paths={"/mcp": ["mcp:tools"]},
        ),
        "throttle": Throttle(per_client="3/minute", per_credential="50/minute"),
        "cors": CORS(allow_origins=["https://app.example.com"]),
        **extra,
    }


def fastapi_app(calls: list[str], **extra: Any) -> Any:
    from fastapi import FastAPI

    api = FastAPI()

    @api.api_route("/mcp", methods=["GET", "POST"])
    def mcp() -> dict[str, bool]:
        calls.append("ran")
        return {"ok": True}

    return AuthHygiene(api, **options(**extra))


def flask_app() -> Any:
    from flask import Flask

    app = Flask(__name__)

    @app.route("/mcp", methods=["GET", "POST"])
    def mcp() -> Any:
        print("APP-RAN", file=sys.stdout, flush=True)
        return {"ok": True}

    app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, **options())  # type: ignore[method-assign]
    return app
