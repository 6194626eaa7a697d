"""`examples/enforce_app.py` under uvicorn, probed as its docstring says:
enforce mode is the whole of its auth, and its routes read the identity."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from authhygiene.testing import assert_no_secrets
from tests.test_examples import EXAMPLES, ROOT, _load, _uvicorn


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    module = _load(EXAMPLES / "enforce_app.py", "authhygiene_example_enforce")
    with _uvicorn(module.app) as bound:
        yield bound


def demo_token(scopes: str, *, expired: bool = False) -> str:
    """A token as the docstring mints one: `.venv/bin/python examples/demo.py --token`."""
    command = [sys.executable, "examples/demo.py", "--token", scopes]
    if expired:
        command.append("--expired")
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def call(port: int, method: str, path: str, token: str | None) -> tuple[int, Any, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        return response.status, response.headers, json.loads(body) if body else None
    finally:
        connection.close()


# (method, path, scopes of the token or None, expired) -> (status, reason or a
# member of the app's own answer)
CASES = [
    ("GET", "/health", None, False, 200, {"status": "ok"}),
    ("GET", "/me", None, False, 401, "credentials_missing"),
    ("GET", "/me", "me", True, 401, "token_expired"),
    ("GET", "/me", "me", False, 200, {"user": "alice", "scopes": ["me"]}),
    ("GET", "/items", "me", False, 403, "insufficient_scope"),
    ("GET", "/items", "items:read", False, 200, {"owner": "alice", "items": ["a", "b"]}),
    ("POST", "/items", "items:read", False, 403, "insufficient_scope"),
    ("POST", "/items", "items:read items:write", False, 200, {"owner": "alice", "added": True}),
    ("GET", "/reports", "me", False, 403, None),  # Starlette's own @requires answers
    ("DELETE", "/items", "items:read", False, 403, "forbidden"),
    ("GET", "/nowhere", None, False, 401, "credentials_missing"),
]


@pytest.mark.parametrize(
    ("method", "path", "scopes", "expired", "status", "expected"),
    CASES,
    ids=[f"{c[0]} {c[1]} {c[2]}{' expired' if c[3] else ''}" for c in CASES],
)
def test_the_example_is_guarded_by_enforce_mode(
    port: int,
    method: str,
    path: str,
    scopes: str | None,
    expired: bool,
    status: int,
    expected: object,
) -> None:
    token = demo_token(scopes, expired=expired) if scopes is not None else None
    got, headers, body = call(port, method, path, token)

    assert got == status
    if isinstance(expected, dict):
        assert body == expected
        return
    assert headers["Cache-Control"] == "no-store"
    if expected is not None:
        assert body["reason"] == expected
    if status == 401:
        assert headers["WWW-Authenticate"].startswith('Bearer realm="example-api"')
    if token is not None:
        assert_no_secrets(
            json.dumps(body) + "\n" + "\n".join(f"{k}: {v}" for k, v in headers.items()), [token]
        )
