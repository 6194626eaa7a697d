"""FastAPI with an `HTTPBearer` dependency that refuses a wrong token with
401, as FastAPI's docs teach, behind authhygiene with a Throttle; served by
`uvicorn tests.throttle.fleet_apps.asgi_app:served --workers 2`."""

# No `from __future__ import annotations`: FastAPI reads the `Annotated`
# hints at definition time.
import os
import secrets
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from authhygiene import AuthHygiene
from tests.throttle.fleet_apps import asgi_with_pid, good_token, record_call, throttle

# `record_call` first: every request that reaches the app is written down.
app = FastAPI(dependencies=[Depends(record_call)])
security = HTTPBearer()


def current_user(
    credentials: Annotated[HTTPAuthorizationCredentials, Depends(security)],
) -> str:
    if not secrets.compare_digest(credentials.credentials.encode(), good_token().encode()):
        raise HTTPException(401, "Invalid token", headers={"WWW-Authenticate": "Bearer"})
    return "alice"


@app.get("/me")
def me(user: Annotated[str, Depends(current_user)]) -> dict[str, object]:
    return {"user": user, "pid": os.getpid()}


app.add_middleware(AuthHygiene, realm="api", throttle=throttle())

# The test's instrument, outside the middleware: which worker answered.
served = asgi_with_pid(app)
