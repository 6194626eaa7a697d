"""A burst of guesses sent at once cannot outrun the count: with a password
check that takes 0.2 s (bcrypt, a database), thirty concurrent guesses
for one user reach the app only as many times as the limit allows, the
rest wait for those to be answered and are refused 429, and the right
password hidden among them is not revealed beyond the budget. Through real
servers: FastAPI (HTTPBasic, a sync dependency in the thread pool) under
uvicorn, Flask under werkzeug's threaded server; memory storage and a
real redis-server."""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from flask import Flask, abort, request

from authhygiene import AuthHygiene, Throttle
from authhygiene.wsgi import AuthHygieneWSGI
from tests.redis_server import running_redis
from tests.test_examples import _uvicorn, _werkzeug

PASSWORD = "right-" + secrets.token_urlsafe(8)
CHECK_S = 0.2
LIMIT = 5
BURST = 30


class Checks:
    """Every password check the app ran: (user, right?)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[bool] = []

    def check(self, password: str) -> bool:
        time.sleep(CHECK_S)
        right = secrets.compare_digest(password, PASSWORD)
        with self.lock:
            self.seen.append(right)
        return right


def fastapi_app(checks: Checks, throttle: Throttle) -> Any:
    app = FastAPI()
    users = HTTPBasic()

    def user(credentials: HTTPBasicCredentials = Depends(users)) -> str:  # noqa: B008
        if not checks.check(credentials.password):
            raise HTTPException(401, "Incorrect password", {"WWW-Authenticate": "Basic"})
        return credentials.username

    @app.get("/me")
    def me(name: str = Depends(user)) -> dict[str, str]:
        return {"user": name}

    app.add_middleware(AuthHygiene, realm="api", schemes=["Basic"], throttle=throttle)
    return app


def flask_app(checks: Checks, throttle: Throttle) -> Any:
    app = Flask(__name__)

    @app.get("/me")
    def me() -> Any:
        auth = request.authorization
        if auth is None or not checks.check(auth.password or ""):
            abort(401)
        return {"user": auth.username}

    app.wsgi_app = AuthHygieneWSGI(  # type: ignore[method-assign]
        app.wsgi_app, realm="api", schemes=["Basic"], throttle=throttle
    )
    return app


def generator_app(checks: Checks, throttle: Throttle) -> Any:
    """A plain WSGI app that starts its response at the first iteration
    (PEP 3333 allows it): its status is known only then."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        header = environ.get("HTTP_AUTHORIZATION", "")
        password = base64.b64decode(header[6:]).decode().partition(":")[2] if header else ""
        if checks.check(password):
            start_response("200 OK", [("Content-Type", "application/json")])
            yield b'{"user": "alice"}'
        else:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="api"')])
            yield b"no"

    return AuthHygieneWSGI(app, realm="api", schemes=["Basic"], throttle=throttle)


SERVERS: dict[str, tuple[Callable[[Checks, Throttle], Any], Callable[[Any], Any]]] = {
    "fastapi-uvicorn": (fastapi_app, _uvicorn),
    "flask-werkzeug": (flask_app, _werkzeug),
    "wsgi-generator-werkzeug": (generator_app, _werkzeug),
}


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.needs("redis-server"))])
def storage(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "memory":
        yield "memory://"
        return
    with running_redis() as server:
        yield server.url


def _basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"alice:{password}".encode()).decode()


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_a_burst_of_guesses_reaches_the_app_only_as_often_as_the_limit(
    server: str, storage: str
) -> None:
    build, serve = SERVERS[server]
    checks = Checks()
    throttle = Throttle(
        per_credential=f"{LIMIT}/minute",
        per_client="1000/minute",
        storage=storage,
        key_prefix=f"burst-{secrets.token_hex(4)}",
    )
    passwords = [f"guess-{n}" for n in range(BURST - 1)] + [PASSWORD]
    server_context: AbstractContextManager[int] = serve(build(checks, throttle))
    with server_context as port, ThreadPoolExecutor(BURST) as pool:
        url = f"http://127.0.0.1:{port}/me"

        def send(password: str) -> int:
            with httpx.Client(timeout=30) as client:
                return client.get(url, headers={"Authorization": _basic(password)}).status_code

        statuses = list(pool.map(send, passwords))
    wrong = [right for right in checks.seen if not right]
    assert len(wrong) == LIMIT, (statuses, checks.seen)  # not one guess more
    assert statuses[:-1].count(401) == LIMIT
    assert statuses[:-1].count(429) == BURST - 1 - LIMIT
    # The right password reached the app only if it came within the budget.
    assert statuses[-1] == (200 if True in checks.seen else 429)


def test_more_waiters_than_the_queue_holds_are_refused_never_let_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the queue's bound (1024 in production, 4 here) a guess is
    refused 429 at once; none goes to the app without a slot."""
    from authhygiene.throttle import in_flight

    monkeypatch.setattr(in_flight, "_MAX_WAITERS", 4)
    checks = Checks()
    throttle = Throttle(per_credential=f"{LIMIT}/minute", per_client="1000/minute")
    passwords = [f"guess-{n}" for n in range(BURST - 1)] + [PASSWORD]
    with _uvicorn(fastapi_app(checks, throttle)) as port, ThreadPoolExecutor(BURST) as pool:
        url = f"http://127.0.0.1:{port}/me"

        def send(password: str) -> int:
            with httpx.Client(timeout=30) as client:
                return client.get(url, headers={"Authorization": _basic(password)}).status_code

        statuses = list(pool.map(send, passwords))
    assert len([right for right in checks.seen if not right]) == LIMIT
    assert statuses.count(429) == BURST - LIMIT - (1 if True in checks.seen else 0)


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_a_burst_in_waves_gets_no_fresh_budget_per_wave(server: str) -> None:
    """Two guesses one after the other, then the rest at once: the burst
    starts from what is left (three), not from a whole budget."""
    build, serve = SERVERS[server]
    checks = Checks()
    throttle = Throttle(per_credential=f"{LIMIT}/minute", per_client="1000/minute")
    with serve(build(checks, throttle)) as port, ThreadPoolExecutor(BURST) as pool:
        url = f"http://127.0.0.1:{port}/me"

        def send(password: str) -> int:
            with httpx.Client(timeout=30) as client:
                return client.get(url, headers={"Authorization": _basic(password)}).status_code

        first = [send("wave-1"), send("wave-2")]
        rest = list(pool.map(send, [f"wave-{n}" for n in range(3, BURST)]))
    assert first == [401, 401]
    assert len(checks.seen) == LIMIT
    assert rest.count(429) == len(rest) - (LIMIT - 2)
