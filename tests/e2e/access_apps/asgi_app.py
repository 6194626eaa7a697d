"""FastAPI behind uvicorn: `HTTPBearer` refuses a token sent in the query
string, and uvicorn's access log prints the request line it came in."""

# No `from __future__ import annotations`: FastAPI reads the `Annotated`
# hints at definition time.
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from authhygiene import AuthHygiene
from authhygiene.logging import redact_server_logs
from tests.e2e.access_apps import redaction_requested

app = FastAPI()
security = HTTPBearer()


@app.get("/items")
def items(
    credentials: Annotated[HTTPAuthorizationCredentials, Depends(security)],
) -> dict[str, list[str]]:
    return {"items": []}


app.add_middleware(AuthHygiene, realm="api")

if redaction_requested():
    redact_server_logs()
