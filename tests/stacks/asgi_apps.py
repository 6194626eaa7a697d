"""FastAPI and Starlette apps written the way their docs teach.

`fastapi_app` carries one route per FastAPI security class (HTTPBearer,
HTTPBasic, OAuth2PasswordBearer, APIKeyHeader), each with the dependency the
FastAPI tutorial writes ("Could not validate credentials", 401, `WWW-Authenticate:
Bearer`); the OAuth2-scopes tutorial's `SecurityScopes` check; an `HTTPBearer`
as it was before FastAPI 0.122 (403 "Not authenticated"); endpoints that let
pyjwt's exceptions escape; and the negatives (validation errors, a 400 from a
request without credentials). `starlette_app` is Starlette's authentication
docs: `AuthenticationMiddleware` with the Basic backend and `@requires`;
`starlette_jwt_app` the same with a Bearer JWT backend whose scopes
`@requires("items")` checks.
"""

# No `from __future__ import annotations`: FastAPI reads the hints at runtime.
import base64
import binascii
import secrets
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException, Request, Security
from fastapi.security import (
    APIKeyHeader,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
    OAuth2PasswordBearer,
    SecurityScopes,
)
from fastapi.security.utils import get_authorization_scheme_param
from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    SimpleUser,
    requires,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .tokens import API_KEY, AUDIENCE, BASIC_PASSWORD, BASIC_USER, ISSUER, SIGNING_KEY

# A public key in PEM form: pyjwt refuses it as an HMAC secret with
# InvalidKeyError, the server-side key mix-up the "bad key" route makes.
_PEM_PUBLIC_KEY = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
    "-----END PUBLIC KEY-----\n"
)
# Nothing listens on the discard port of the loopback address: the JWKS
# endpoint is down, pyjwt raises PyJWKClientConnectionError.
_JWKS_DOWN_URL = "http://127.0.0.1:9/.well-known/jwks.json"

# The users the apps know (the tutorials' fake_users_db).
_USERS = frozenset({BASIC_USER})

_CREDENTIALS_EXCEPTION = HTTPException(
    status_code=401,
    detail="Could not validate credentials",
    headers={"WWW-Authenticate": "Bearer"},
)


def _decode(token: str) -> dict[str, Any]:
    return jwt.decode(token, SIGNING_KEY, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)


class LegacyHTTPBearer(HTTPBearer):
    """`HTTPBearer.__call__` as FastAPI shipped it before 0.122: a 403 for
    missing credentials and for another scheme."""

    async def __call__(self, request: Request) -> HTTPAuthorizationCredentials | None:  # type: ignore[override]
        authorization = request.headers.get("Authorization")
        scheme, credentials = get_authorization_scheme_param(authorization)
        if not (authorization and scheme and credentials):
            raise HTTPException(status_code=403, detail="Not authenticated")
        if scheme.lower() != "bearer":
            raise HTTPException(status_code=403, detail="Invalid authentication credentials")
        return HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials)


def fastapi_app() -> FastAPI:
    app = FastAPI()
    bearer = HTTPBearer()
    legacy_bearer = LegacyHTTPBearer()
    basic = HTTPBasic()
    oauth2 = OAuth2PasswordBearer(tokenUrl="token")
    oauth2_scoped = OAuth2PasswordBearer(
        tokenUrl="token", scopes={"items": "Read items.", "profile": "Read your profile."}
    )
    api_key = APIKeyHeader(name="X-API-Key")

    def bearer_user(
        credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
    ) -> str:
        try:
            username = str(_decode(credentials.credentials)["sub"])
        except jwt.InvalidTokenError:
            raise _CREDENTIALS_EXCEPTION from None
        # The tutorial's get_user: a valid token of a user who is gone.
        if username not in _USERS:
            raise _CREDENTIALS_EXCEPTION
        return username

    def legacy_user(
        credentials: Annotated[HTTPAuthorizationCredentials, Depends(legacy_bearer)],
    ) -> str:
        try:
            return str(_decode(credentials.credentials)["sub"])
        except jwt.InvalidTokenError:
            raise _CREDENTIALS_EXCEPTION from None

    def oauth2_user(token: Annotated[str, Depends(oauth2)]) -> str:
        try:
            return str(_decode(token)["sub"])
        except jwt.InvalidTokenError:
            raise _CREDENTIALS_EXCEPTION from None

    def basic_user(credentials: Annotated[HTTPBasicCredentials, Depends(basic)]) -> str:
        # FastAPI's "HTTP Basic Auth" tutorial: compare_digest on bytes.
        good_user = secrets.compare_digest(credentials.username.encode(), BASIC_USER.encode())
        good_password = secrets.compare_digest(
            credentials.password.encode(), BASIC_PASSWORD.encode()
        )
        if not (good_user and good_password):
            raise HTTPException(
                status_code=401,
                detail="Incorrect username or password",
                headers={"WWW-Authenticate": "Basic"},
            )
        return credentials.username

    def key_user(key: Annotated[str, Depends(api_key)]) -> str:
        if not secrets.compare_digest(key.encode(), API_KEY.encode()):
            raise _CREDENTIALS_EXCEPTION
        return "key-holder"

    def scoped_user(
        security_scopes: SecurityScopes, token: Annotated[str, Depends(oauth2_scoped)]
    ) -> str:
        # FastAPI's "OAuth2 scopes" tutorial, get_current_user.
        authenticate_value = (
            f'Bearer scope="{security_scopes.scope_str}"' if security_scopes.scopes else "Bearer"
        )
        try:
            payload = _decode(token)
        except jwt.InvalidTokenError:
            raise HTTPException(
                status_code=401,
                detail="Could not validate credentials",
                headers={"WWW-Authenticate": authenticate_value},
            ) from None
        granted = str(payload.get("scope", "")).split()
        for scope in security_scopes.scopes:
            if scope not in granted:
                raise HTTPException(
                    status_code=401,
                    detail="Not enough permissions",
                    headers={"WWW-Authenticate": authenticate_value},
                )
        return str(payload["sub"])

    @app.get("/bearer")
    def bearer_route(user: Annotated[str, Depends(bearer_user)]) -> dict[str, str]:
        return {"user": user}

    @app.get("/bearer/validate")
    def bearer_validate(user: Annotated[str, Depends(bearer_user)], n: int) -> dict[str, int]:
        return {"n": n}

    @app.get("/legacy")
    def legacy_route(user: Annotated[str, Depends(legacy_user)]) -> dict[str, str]:
        return {"user": user}

    @app.get("/oauth2")
    def oauth2_route(user: Annotated[str, Depends(oauth2_user)]) -> dict[str, str]:
        return {"user": user}

    @app.get("/basic")
    def basic_route(user: Annotated[str, Depends(basic_user)]) -> dict[str, str]:
        return {"user": user}

    @app.get("/apikey")
    def key_route(user: Annotated[str, Depends(key_user)]) -> dict[str, str]:
        return {"user": user}

    @app.get("/items")
    def items_route(
        user: Annotated[str, Security(scoped_user, scopes=["items"])],
    ) -> list[str]:
        return ["an item"]

    @app.get("/uncaught")
    def uncaught(
        credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
    ) -> dict[str, str]:
        # No try/except: whatever pyjwt raises escapes the endpoint.
        payload = jwt.decode(
            credentials.credentials,
            SIGNING_KEY,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
        )
        return {"user": str(payload["sub"])}

    @app.get("/uncaught/jwks")
    def jwks_down(
        credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
    ) -> dict[str, str]:
        client = jwt.PyJWKClient(_JWKS_DOWN_URL, timeout=5)
        key = client.get_signing_key_from_jwt(credentials.credentials)
        payload = jwt.decode(credentials.credentials, key, algorithms=["RS256"])
        return {"user": str(payload["sub"])}

    @app.get("/uncaught/key")
    def wrong_key(
        credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
    ) -> dict[str, str]:
        payload = jwt.decode(credentials.credentials, _PEM_PUBLIC_KEY, algorithms=["HS256"])
        return {"user": str(payload["sub"])}

    @app.get("/validate")
    def validate(n: int) -> dict[str, int]:
        return {"n": n}

    @app.post("/signup")
    def signup(request: Request) -> dict[str, str]:
        # A 400 about the request's data, to a request without credentials.
        raise HTTPException(status_code=400, detail="Invalid value for field 'email'")

    return app


class BasicAuthBackend(AuthenticationBackend):
    """Starlette's authentication docs, with the password actually checked."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        if "Authorization" not in conn.headers:
            return None
        auth = conn.headers["Authorization"]
        try:
            scheme, credentials = auth.split()
            if scheme.lower() != "basic":
                return None
            decoded = base64.b64decode(credentials).decode("ascii")
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise AuthenticationError("Invalid basic auth credentials") from None
        username, _, password = decoded.partition(":")
        if not (
            secrets.compare_digest(username, BASIC_USER)
            and secrets.compare_digest(password, BASIC_PASSWORD)
        ):
            raise AuthenticationError("Invalid basic auth credentials")
        return AuthCredentials(["authenticated"]), SimpleUser(username)


def starlette_app() -> Starlette:
    @requires("authenticated")
    async def me(request: Request) -> Response:
        return JSONResponse({"user": request.user.display_name})

    @requires(["authenticated", "admin"])
    async def admin(request: Request) -> Response:
        return JSONResponse({"admin": True})

    async def form(request: Request) -> Response:
        # A plain-text 400 of the app's own, about the data, not the caller.
        return PlainTextResponse("Missing form field: name", status_code=400)

    return Starlette(
        routes=[Route("/me", me), Route("/admin", admin), Route("/form", form, methods=["GET"])],
        middleware=[Middleware(AuthenticationMiddleware, backend=BasicAuthBackend())],
    )


class JWTBackend(AuthenticationBackend):
    """The same `AuthenticationMiddleware` with a Bearer JWT backend, as apps
    write it from the docs' Basic one: the token's `scope` becomes the
    `AuthCredentials` scopes that `@requires` checks."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        if "Authorization" not in conn.headers:
            return None
        scheme, _, token = conn.headers["Authorization"].partition(" ")
        if scheme.lower() != "bearer":
            return None
        try:
            claims = _decode(token)
        except jwt.InvalidTokenError:
            raise AuthenticationError("Invalid bearer token") from None
        if claims.get("sub") not in _USERS:
            raise AuthenticationError("Invalid bearer token")
        scopes = str(claims.get("scope", "")).split()
        return AuthCredentials(["authenticated", *scopes]), SimpleUser(str(claims["sub"]))


def starlette_jwt_app() -> Starlette:
    @requires("authenticated")
    async def me(request: Request) -> Response:
        return JSONResponse({"user": request.user.display_name})

    @requires(["authenticated", "items"])
    async def items(request: Request) -> Response:
        return JSONResponse(["an item"])

    return Starlette(
        routes=[Route("/me", me), Route("/items", items)],
        middleware=[Middleware(AuthenticationMiddleware, backend=JWTBackend())],
    )
