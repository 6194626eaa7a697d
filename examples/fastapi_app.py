"""A FastAPI API protected the way FastAPI's security tutorials teach, plus one line.

The app's own auth is ordinary FastAPI: an `HTTPBearer` dependency, a
`get_current_user` dependency that decodes an HS256 JWT with pyjwt, and the
"OAuth2 scopes" tutorial's `SecurityScopes` check answering 401 "Not enough
permissions". The only line authhygiene adds is marked below; everything the
app says about auth failures is left as it was, and the middleware makes
the answers correct and self-explaining.

Routes:
    GET /                 public
    GET /users/me         any valid token
    GET /users/me/items   a token with the "items" scope
    GET /admin            the common mistake: 403 when no credentials were sent
    GET /billing          raises authhygiene.AuthFailure (step-up to MFA)

Run it (from the repository root)::

    .venv/bin/uvicorn fastapi_app:app --app-dir examples --host 127.0.0.1 --port 8000
    # or: make serve   (this app, plus ready-made tokens and curl commands)

Probe it::

    curl -i http://127.0.0.1:8000/users/me
    curl -i -H 'Authorization: Basic ZGVtbzpkZW1v' http://127.0.0.1:8000/users/me
    curl -i -H 'Authorization: Bearer' http://127.0.0.1:8000/users/me
    curl -i -H 'Authorization: Bearer not-a-jwt' http://127.0.0.1:8000/users/me
    curl -i http://127.0.0.1:8000/admin
    TOKEN=$(.venv/bin/python examples/demo.py --token "me")
    curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/users/me/items
    curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/billing
    EXPIRED=$(.venv/bin/python examples/demo.py --token "me items" --expired)
    curl -i -H "Authorization: Bearer $EXPIRED" http://127.0.0.1:8000/users/me
    TOKEN=$(.venv/bin/python examples/demo.py --token "me items")
    curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/users/me/items
"""

import os
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from authhygiene import AuthFailure, AuthHygiene, Reason

# DEMO ONLY: a well-known secret so the examples, demo and tests can mint
# tokens. A real deployment reads a strong secret (or a JWKS) from its config.
SECRET_KEY = os.environ.get("EXAMPLE_JWT_SECRET", "demo-only-secret-not-for-production-use")
ALGORITHM = "HS256"

app = FastAPI(title="authhygiene example API")
app.add_middleware(AuthHygiene, realm="example-api")  # authhygiene: the one added line

bearer = HTTPBearer()
optional_bearer = HTTPBearer(auto_error=False)


def create_access_token(
    subject: str,
    scopes: list[str],
    expires_delta: timedelta = timedelta(minutes=15),
    **claims: Any,
) -> str:
    """Mint a demo token (the demo and tests use this; a real API gets tokens
    from its identity provider)."""
    now = datetime.now(UTC)
    payload = {
        "sub": subject,
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + expires_delta,
        **claims,
    }
    return jwt.encode(payload, SECRET_KEY, algorithm=ALGORITHM)


def decode_token(token: str, authenticate_value: str = "Bearer") -> dict[str, Any]:
    credentials_exception = HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Could not validate credentials",
        headers={"WWW-Authenticate": authenticate_value},
    )
    try:
        payload: dict[str, Any] = jwt.decode(token, SECRET_KEY, algorithms=[ALGORITHM])
    except jwt.InvalidTokenError:
        raise credentials_exception from None
    if not payload.get("sub"):
        raise credentials_exception
    return payload


async def get_current_user(
    security_scopes: SecurityScopes,
    credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
) -> dict[str, Any]:
    # The FastAPI "OAuth2 scopes" tutorial, with HTTPBearer instead of a password flow.
    if security_scopes.scopes:
        authenticate_value = f'Bearer scope="{security_scopes.scope_str}"'
    else:
        authenticate_value = "Bearer"
    payload = decode_token(credentials.credentials, authenticate_value)
    token_scopes = str(payload.get("scope", "")).split()
    for scope in security_scopes.scopes:
        if scope not in token_scopes:
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail="Not enough permissions",
                headers={"WWW-Authenticate": authenticate_value},
            )
    return {"username": payload["sub"], "scopes": token_scopes, "acr": payload.get("acr")}


CurrentUser = Annotated[dict[str, Any], Depends(get_current_user)]


@app.get("/")
async def index() -> dict[str, str]:
    return {"service": "example-api", "framework": "fastapi"}


@app.get("/users/me")
async def read_users_me(user: CurrentUser) -> dict[str, Any]:
    return {"username": user["username"], "scopes": user["scopes"]}


@app.get("/users/me/items")
async def read_own_items(
    user: Annotated[dict[str, Any], Security(get_current_user, scopes=["items"])],
) -> list[dict[str, str]]:
    return [{"item_id": "foo", "owner": user["username"]}]


@app.get("/admin")
async def read_admin_stats(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(optional_bearer)],
) -> dict[str, int]:
    # The common mistake (and FastAPI's own behaviour before 0.122): 403 to a
    # request that carried no credentials at all.
    if credentials is None:
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="Not authenticated")
    payload = decode_token(credentials.credentials)
    if "admin" not in str(payload.get("scope", "")).split():
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="Admins only")
    return {"users": 42}


@app.get("/billing")
async def read_billing(user: CurrentUser) -> dict[str, str]:
    # An app that knows exactly why it refuses says so; the middleware turns
    # it into the RFC 9470 step-up challenge.
    if user["acr"] != "mfa":
        raise AuthFailure(
            Reason.STEP_UP_REQUIRED,
            detail="Billing needs a sign-in with a second factor.",
            acr_values="mfa",
        )
    return {"plan": "pro"}
