"""Issue 18b attack on the refused-options fix: options written to make the
middleware a gate, refused while FastAPI builds it lazily, must not make it
pass every request through (`_refused_options.guards`).

`guards()` recognises a gate only by the exact key (mode, require, throttle,
profile, cors), a difflib misspelling of one at cutoff 0.75 (case-sensitive),
or a str value exactly "enforce"/"mcp". Natural ways to write "enforce this"
miss all three, and the refused middleware then lets the protected route
answer 200 to a request with no credential.

Tests FAIL on the code as reviewed: evidence, not xfail."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI

from authhygiene import AuthHygiene, PolicyError
from authhygiene.verify import APIKey, Scopes

KEY = "k" * 40
VERIFY = APIKey(keys={"svc": KEY})

# (id, options): each is refused (PolicyError) by hand, and each was written
# to gate the app; the comment says what the author meant.
GATE_MISSES: list[tuple[str, dict[str, Any]]] = [
    # meant mode="enforce"
    ("enforce_true", {"verify": VERIFY, "enforce": True}),
    ("enforced_true", {"verify": VERIFY, "enforced": True}),
    ("enforce_mode_true", {"verify": VERIFY, "enforce_mode": True}),
    # Django-settings style upper-case keys: difflib is case-sensitive
    ("MODE_Enforce", {"verify": VERIFY, "MODE": "Enforce"}),
    ("MODE_ENFORCE", {"verify": VERIFY, "MODE": "ENFORCE"}),
    ("REQUIRE", {"verify": VERIFY, "REQUIRE": [("*", "/admin*", Scopes("admin"))]}),
    ("THROTTLE", {"THROTTLE": {"per_client": "5/minute"}}),
    # meant require= (which gates even in explain mode: 403 insufficient_scope)
    ("requirements", {"verify": VERIFY, "requirements": [("*", "/admin*", Scopes("admin"))]}),
    ("required_scopes", {"verify": VERIFY, "required_scopes": ["admin"]}),
    ("require_scopes", {"verify": VERIFY, "require_scopes": ["admin"]}),
    # meant throttle=
    ("rate_limit", {"rate_limit": "5/minute"}),
    ("ratelimit", {"ratelimit": "5/minute"}),
    # meant profile="mcp"
    ("mcp_true", {"verify": VERIFY, "mcp": True}),
    # meant mode="enforce", value not lower-case
    ("policy_ENFORCE", {"verify": VERIFY, "policy": "ENFORCE"}),
]


def _app(options: dict[str, Any]) -> FastAPI:
    app = FastAPI()

    @app.get("/admin")
    def admin() -> dict[str, str]:
        return {"secret": "only for key holders"}

    app.add_middleware(AuthHygiene, realm="api", **options)
    return app


def _get_without_credentials(app: Any) -> int:
    """An ASGI call with no lifespan (httpx's transport, a mount, --lifespan off)."""

    async def go() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return (await client.get("/admin")).status_code

    return asyncio.run(go())


@pytest.mark.parametrize(("name", "options"), GATE_MISSES, ids=[n for n, _ in GATE_MISSES])
def test_a_refused_gate_is_never_passed_through(name: str, options: dict[str, Any]) -> None:
    # By hand these options fail the start: the author never ran them open.
    async def bare(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("unreachable")

    with pytest.raises(PolicyError), structlog.testing.capture_logs():
        AuthHygiene(bare, realm="api", **options)
    # Built lazily, no lifespan: FAILS now, 200 with the protected body.
    with structlog.testing.capture_logs():
        status = _get_without_credentials(_app(options))
    assert status == 503, f"{name}: a refused gate let the request through ({status})"


# Held: what guards() does recognise (refused 503, not passed through).
GATES_SEEN: list[tuple[str, dict[str, Any]]] = [
    ("mode_Enforce", {"verify": VERIFY, "mode": "Enforce"}),
    ("Mode_enforce", {"verify": VERIFY, "Mode": "enforce"}),
    ("requires", {"verify": VERIFY, "requires": [("*", "/admin*", Scopes("admin"))]}),
    ("reqire", {"verify": VERIFY, "reqire": [("*", "/admin*", Scopes("admin"))]}),
    ("throtle", {"throtle": {"per_client": "5/minute"}}),
    ("mode_enforce_no_verify", {"mode": "enforce"}),
]


@pytest.mark.parametrize(("name", "options"), GATES_SEEN, ids=[n for n, _ in GATES_SEEN])
def test_recognised_gates_are_refused_503(name: str, options: dict[str, Any]) -> None:
    with structlog.testing.capture_logs():
        assert _get_without_credentials(_app(options)) == 503
