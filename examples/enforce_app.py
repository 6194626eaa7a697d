"""A FastAPI API whose auth is authhygiene's enforce mode: no auth code at all.

The other examples keep the app's own auth and let the middleware explain
its refusals. Here the middleware is the gate: it verifies the bearer token
(an HS256 JWT here; a real deployment gives `jwks_url=` of its issuer)
before the app runs, refuses with the exact reason, and hands the app the
verified identity as Starlette's `request.user` and `request.auth`, so
Starlette's own `@requires` works on it.

Routes:
    GET /health           public (a `None` rule: nothing is verified)
    GET /me               any valid token
    GET /items            a token with the "items:read" scope
    POST /items           "items:read" and "items:write"
    GET /reports          Starlette's own @requires("reports") on our scopes
    anything else         refused: no rule admits it

Run it (from the repository root)::

    .venv/bin/uvicorn enforce_app:app --app-dir examples --host 127.0.0.1 --port 8000

Probe it::

    curl -i http://127.0.0.1:8000/items
    TOKEN=$(.venv/bin/python examples/demo.py --token "me")
    curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/me
    curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/items
    TOKEN=$(.venv/bin/python examples/demo.py --token "items:read")
    curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/items
"""

import os

from fastapi import FastAPI, Request
from starlette.authentication import requires

from authhygiene import AuthHygiene, Scopes
from authhygiene.verify import JWT

# DEMO ONLY: the examples' well-known secret, so the demo and tests can mint
# tokens. A real deployment verifies its issuer's keys: jwks_url=...
SECRET_KEY = os.environ.get("EXAMPLE_JWT_SECRET", "demo-only-secret-not-for-production-use")

app = FastAPI(title="authhygiene enforce-mode example")
app.add_middleware(
    AuthHygiene,
    realm="example-api",
    mode="enforce",
    verify=JWT(algorithms=["HS256"], keys=SECRET_KEY),
    require=[
        ("GET", "/health", None),
        ("GET", "/me", Scopes()),
        ("GET", "/items", Scopes("items:read")),
        ("POST", "/items", Scopes("items:read", "items:write")),
        ("GET", "/reports", Scopes()),
    ],
)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/me")
async def me(request: Request) -> dict[str, object]:
    # request.user is the verified identity (authhygiene.Identity).
    return {"user": request.user.display_name, "scopes": list(request.auth.scopes)}


@app.get("/items")
async def list_items(request: Request) -> dict[str, object]:
    return {"owner": request.user.display_name, "items": ["a", "b"]}


@app.post("/items")
async def add_item(request: Request) -> dict[str, object]:
    return {"owner": request.user.display_name, "added": True}


@app.get("/reports")
@requires("reports")  # Starlette's own check, reading the scopes we verified
async def reports(request: Request) -> dict[str, object]:
    return {"owner": request.user.display_name, "reports": []}
