"""A FastAPI API with HTTP Basic login (the classic password-guessing
target) and authhygiene's failed-authentication throttle.

The app's auth is FastAPI's own `HTTPBasic`, as its docs teach. One line
adds authhygiene, with `throttle=`: five wrong passwords for one user name
within a minute, or thirty failures from one address, and the next request
is refused 429 `too_many_failures` before the app runs, with `Retry-After`
and the IETF `RateLimit` fields. Successes are never counted.

Counts live in this process by default. Give every worker one Redis to
share them across the fleet::

    AUTHHYGIENE_THROTTLE_STORAGE=redis://127.0.0.1:6379/0

Run it (from the repository root)::

    .venv/bin/uvicorn throttle_app:app --app-dir examples --host 127.0.0.1 --port 8000

Probe it::

    for i in 1 2 3 4 5 6; do
      curl -s -o /dev/null -w '%{http_code}\\n' -u alice:guess$i http://127.0.0.1:8000/me
    done
    curl -i -u alice:wonderland http://127.0.0.1:8000/me     # 429: alice is throttled for now
    curl -i -u bob:builder http://127.0.0.1:8000/me          # 200: bob is not alice
"""

import os
import secrets

from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from authhygiene import AuthHygiene, Throttle

# DEMO ONLY: passwords in the source.
USERS = {"alice": "wonderland", "bob": "builder"}

app = FastAPI(title="authhygiene throttle example")
app.add_middleware(
    AuthHygiene,
    realm="example-api",
    schemes=["Basic"],
    throttle=Throttle(
        per_credential="5/minute",  # per user name, whatever password is tried
        per_client="30/minute",  # per address, whatever user name
        storage=os.environ.get("AUTHHYGIENE_THROTTLE_STORAGE", "memory://"),
    ),
)
security = HTTPBasic()


def user(credentials: HTTPBasicCredentials = Depends(security)) -> str:  # noqa: B008
    known = USERS.get(credentials.username, "")
    if not (known and secrets.compare_digest(credentials.password, known)):
        raise HTTPException(401, "Incorrect user name or password", {"WWW-Authenticate": "Basic"})
    return credentials.username


@app.get("/me")
def me(name: str = Depends(user)) -> dict[str, str]:
    return {"user": name}
