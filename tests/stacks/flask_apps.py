"""Flask apps written the way Flask-JWT-Extended's, Flask-HTTPAuth's and
werkzeug's docs teach; the caller adds `AuthHygieneWSGI` (the one line)."""

from __future__ import annotations

import secrets
from typing import Any

import jwt
from flask import Flask, abort, jsonify
from flask import request as flask_request
from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth
from flask_jwt_extended import JWTManager, get_jwt_identity, jwt_required
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from .tokens import (
    AUDIENCE,
    BASIC_PASSWORD,
    BASIC_USER,
    ISSUER,
    OPAQUE_TOKEN,
    REVOKED_JTI,
    SIGNING_KEY,
)

# The users the apps know, and the tokens revoked on sign-out.
_USERS = frozenset({BASIC_USER})
_BLOCKLIST = frozenset({REVOKED_JTI})


def _decode(token: str) -> dict[str, Any]:
    return jwt.decode(token, SIGNING_KEY, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)


def jwt_extended_app() -> Flask:
    """Flask-JWT-Extended's "Basic Usage", with the audience and issuer
    this API's tokens carry, its "Blocklist and Token Revoking" and its
    "Automatic User Loading"."""
    app = Flask("stacks_jwt_extended")
    app.config["JWT_SECRET_KEY"] = SIGNING_KEY
    app.config["JWT_DECODE_AUDIENCE"] = AUDIENCE
    app.config["JWT_DECODE_ISSUER"] = ISSUER
    manager = JWTManager(app)

    @manager.token_in_blocklist_loader
    def revoked(jwt_header: dict[str, Any], jwt_payload: dict[str, Any]) -> bool:
        return jwt_payload["jti"] in _BLOCKLIST

    @manager.user_lookup_loader
    def user_lookup(jwt_header: dict[str, Any], jwt_data: dict[str, Any]) -> str | None:
        identity = jwt_data["sub"]
        return identity if identity in _USERS else None

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
    """Flask-HTTPAuth's Basic and Token examples, with roles; a second
    `HTTPTokenAuth` takes JWTs, their `scope` as the user's roles."""
    app = Flask("stacks_httpauth")
    basic = HTTPBasicAuth()
    token_auth = HTTPTokenAuth(scheme="Bearer")
    jwt_auth = HTTPTokenAuth(scheme="Bearer")
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

    @jwt_auth.verify_token
    def verify_jwt(token: str) -> dict[str, Any] | None:
        try:
            claims = _decode(token)
        except jwt.InvalidTokenError:
            return None
        return claims if claims.get("sub") in _USERS else None

    @jwt_auth.get_user_roles
    def jwt_roles(claims: dict[str, Any]) -> list[str]:
        return str(claims.get("scope", "")).split()

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

    @app.get("/jwt")
    @jwt_auth.login_required
    def jwt_route() -> Any:
        return {"user": jwt_auth.current_user()["sub"]}

    @app.get("/jwt/items")
    @jwt_auth.login_required(role="items")
    def jwt_items_route() -> Any:
        return ["an item"]

    return app


def werkzeug_app() -> Flask:
    """Plain Flask: `abort(401)`, `abort(403)` and werkzeug's `Unauthorized`
    with a challenge of its own; `/jwt` decodes a Bearer JWT with pyjwt and
    answers `abort(401)` to whatever fails."""
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

    @app.get("/jwt")
    def jwt_route() -> Any:
        scheme, _, token = flask_request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer":
            abort(401)
        try:
            claims = _decode(token)
        except jwt.InvalidTokenError:
            abort(401)
        if claims.get("sub") not in _USERS:
            abort(401)
        return {"user": claims["sub"]}

    return app
