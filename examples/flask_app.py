"""A Flask API with a hand-written `@login_required` bearer-token decorator, plus one line.

The app's own auth is the kind found in many Flask code bases: a decorator
that reads `Authorization: Bearer <jwt>`, decodes it with pyjwt and answers
`abort(401)` or `jsonify(message=...), 401`; a scope check answering a JSON
403; and an admin route that answers 403 to everyone it does not like,
including requests that carried no credentials at all (the common mistake).
The only line authhygiene adds is marked below.

Routes:
    GET /                 public
    GET /users/me         any valid token
    GET /users/me/items   a token with the "items" scope
    GET /admin            403 for anonymous requests (the common mistake)

Run it (from the repository root)::

    .venv/bin/flask --app examples/flask_app.py run --port 8000
    # or: .venv/bin/gunicorn --chdir examples flask_app:app -b 127.0.0.1:8000

Probe it::

    curl -i http://127.0.0.1:8000/users/me
    curl -i -H 'Authorization: Basic ZGVtbzpkZW1v' http://127.0.0.1:8000/users/me
    curl -i -H 'Authorization: Bearer' http://127.0.0.1:8000/users/me
    curl -i -H 'Authorization: Bearer not-a-jwt' http://127.0.0.1:8000/users/me
    curl -i http://127.0.0.1:8000/admin
    TOKEN=$(.venv/bin/python examples/demo.py --token "me")
    curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/users/me/items
    EXPIRED=$(.venv/bin/python examples/demo.py --token "me items" --expired)
    curl -i -H "Authorization: Bearer $EXPIRED" http://127.0.0.1:8000/users/me
    TOKEN=$(.venv/bin/python examples/demo.py --token "me items")
    curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/users/me/items
"""

import os
from collections.abc import Callable
from functools import wraps
from typing import Any

import jwt
from flask import Flask, abort, g, jsonify, request

from authhygiene import AuthHygieneWSGI

# DEMO ONLY: a well-known secret so the examples, demo and tests can mint
# tokens. A real deployment reads a strong secret (or a JWKS) from its config.
SECRET_KEY = os.environ.get("EXAMPLE_JWT_SECRET", "demo-only-secret-not-for-production-use")

app = Flask(__name__)
app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, realm="example-api")  # authhygiene: the one added line


def _claims() -> dict[str, Any] | None:
    """The verified claims of the request's bearer token, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        claims: dict[str, Any] = jwt.decode(token.strip(), SECRET_KEY, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        return None
    return claims


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization")
        if not header:
            abort(401)
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return jsonify(message="Expected 'Authorization: Bearer <token>'"), 401
        try:
            claims = jwt.decode(token.strip(), SECRET_KEY, algorithms=["HS256"])
        except jwt.ExpiredSignatureError:
            return jsonify(message="Token has expired"), 401
        except jwt.InvalidTokenError:
            return jsonify(message="Invalid token"), 401
        if not claims.get("sub"):
            return jsonify(message="Invalid token"), 401
        g.user = claims["sub"]
        g.scopes = str(claims.get("scope", "")).split()
        return view(*args, **kwargs)

    return wrapped


def scope_required(scope: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if scope not in g.scopes:
                return jsonify(error="insufficient_scope", message=f"Missing scope {scope}"), 403
            return view(*args, **kwargs)

        return wrapped

    return decorator


@app.get("/")
def index() -> Any:
    return jsonify(service="example-api", framework="flask")


@app.get("/users/me")
@login_required
def users_me() -> Any:
    return jsonify(username=g.user, scopes=g.scopes)


@app.get("/users/me/items")
@login_required
@scope_required("items")
def users_me_items() -> Any:
    return jsonify([{"item_id": "foo", "owner": g.user}])


@app.get("/admin")
def admin() -> Any:
    # The common mistake: one 403 for "not allowed", including "not signed in".
    claims = _claims()
    if claims is None or "admin" not in str(claims.get("scope", "")).split():
        abort(403)
    return jsonify(users=42)
