"""Flask apps written the way Flask-JWT-Extended's, Flask-HTTPAuth's and
werkzeug's docs teach; the caller adds `AuthHygieneWSGI` (the one line)."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Flask, abort, jsonify
from flask import request as flask_request
from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth
from flask_jwt_extended import JWTManager, get_jwt_identity, jwt_required
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from .tokens import AUDIENCE, BASIC_PASSWORD, BASIC_USER, ISSUER, OPAQUE_TOKEN, SIGNING_KEY


def jwt_extended_app() -> Flask:
    """Flask-JWT-Extended's "Basic Usage", with the audience and issuer
    this API's tokens carry."""
    app = Flask("stacks_jwt_extended")
    app.config["JWT_SECRET_KEY"] = SIGNING_KEY
    app.config["JWT_DECODE_AUDIENCE"] = AUDIENCE
    app.config["JWT_DECODE_ISSUER"] = ISSUER
    JWTManager(app)

    @app.get("/protected")
    @jwt_required()
    def protected() -> Any:
        return jsonify(logged_in_as=get_jwt_identity())

    @app.post("/signup")
    @jwt_required()
    def signup() -> Any:
        # webargs' (flask-smorest's) 422 for a body that fails its schema.
        return {
            "code": 422,
            "errors": {"json": {"email": ["Missing data for required field."]}},
        }, 422

    @app.post("/contact")
    def contact() -> Any:
        # A public form's own 422, to a request without credentials.
        return {"msg": "Not a valid email address."}, 422

    return app


def httpauth_app() -> Flask:
    """Flask-HTTPAuth's Basic and Token examples, with roles."""
    app = Flask("stacks_httpauth")
    basic = HTTPBasicAuth()
    token_auth = HTTPTokenAuth(scheme="Bearer")
    tokens = {OPAQUE_TOKEN: BASIC_USER}

    @basic.verify_password
    def verify_password(username: str, password: str) -> str | None:
        if secrets.compare_digest(username, BASIC_USER) and secrets.compare_digest(
            password, BASIC_PASSWORD
        ):
            return username
        return None

    @basic.get_user_roles
    def get_user_roles(user: str) -> list[str]:
        return ["user"]

    @token_auth.verify_token
    def verify_token(token: str) -> str | None:
        return tokens.get(token)

    @app.get("/basic")
    @basic.login_required
    def basic_route() -> Any:
        return {"user": basic.current_user()}

    @app.get("/admin")
    @basic.login_required(role="admin")
    def admin_route() -> Any:
        return {"admin": True}

    @app.get("/token")
    @token_auth.login_required
    def token_route() -> Any:
        return {"user": token_auth.current_user()}

    return app


def werkzeug_app() -> Flask:
    """Plain Flask: `abort(401)`, `abort(403)` and werkzeug's `Unauthorized`
    with a challenge of its own."""
    app = Flask("stacks_werkzeug")

    @app.get("/abort")
    def abort_route() -> Any:
        if "Authorization" not in flask_request.headers:
            abort(401)
        return {"ok": True}

    @app.get("/raise")
    def raise_route() -> Any:
        authorization = flask_request.headers.get("Authorization", "")
        if authorization != f"Bearer {OPAQUE_TOKEN}":
            raise Unauthorized(
                "The token is not valid.",
                www_authenticate=WWWAuthenticate("bearer", {"realm": "api"}),
            )
        return {"ok": True}

    @app.get("/admin")
    def admin_route() -> Any:
        authorization = flask_request.headers.get("Authorization", "")
        if authorization != f"Bearer {OPAQUE_TOKEN}":
            abort(401)
        abort(403)

    return app
