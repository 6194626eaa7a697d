"""Self-checks: a benchmark that would measure the wrong thing must stop.

Not `assert`: the checks must run under ``python -O`` too. Messages name
variants and statuses, never a header value (a credential could be one).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

from benchmarks.setup import json_logger

__all__ = ["SelfCheckError", "check", "check_events", "check_refusal", "events", "log_buffer"]


class SelfCheckError(RuntimeError):
    """A variant does not answer what it claims to; nothing was timed."""


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SelfCheckError(f"benchmark self-check failed: {what}")


def log_buffer() -> tuple[io.BytesIO, Any]:
    """A buffer and a logger like the timed ones writing JSON lines into it."""
    buffer = io.BytesIO()
    return buffer, json_logger(buffer)


def events(buffer: io.BytesIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def check_refusal(
    name: str,
    answer: tuple[int, Mapping[str, str], bytes],
    *,
    status: int,
    reason: str | None,
    origin: str | None,
    secrets: Iterable[str],
) -> dict[str, object]:
    """A refusal rewritten as promised: problem+json, a challenge on a 401,
    no-store, CORS for `origin`, and no credential echoed. What it said,
    for the JSON file."""
    code, headers, body = answer
    check(code == status, f"{name} answered {code}, expected {status}")
    check(
        headers.get("content-type", "").startswith("application/problem+json"),
        f"{name} was not rewritten to application/problem+json",
    )
    if status == 401:
        check("www-authenticate" in headers, f"{name} has no WWW-Authenticate challenge")
    check("no-store" in headers.get("cache-control", ""), f"{name} is not Cache-Control: no-store")
    if origin is not None:
        check(
            headers.get("access-control-allow-origin") == origin,
            f"{name} does not allow the request's origin",
        )
    for secret in secrets:
        check(secret not in body.decode("latin-1"), f"{name}'s body echoes the credential")
    problem = json.loads(body)
    if reason is not None:
        check(problem.get("reason") == reason, f"{name} gave another reason than {reason}")
    return {
        "status": code,
        "reason": problem.get("reason"),
        "www_authenticate": headers.get("www-authenticate"),
        "cache_control": headers.get("cache-control"),
        "access_control_allow_origin": headers.get("access-control-allow-origin"),
    }


def check_events(
    name: str, buffer: io.BytesIO, *, refused: int, secrets: Iterable[str]
) -> list[str | None]:
    """Exactly one `auth.failure` per refused request, no credential logged;
    the events' names, for the JSON file."""
    found = events(buffer)
    failures = sum(1 for e in found if e.get("event") == "auth.failure")
    check(
        failures == refused, f"{name} logged {failures} auth.failure events for {refused} refusals"
    )
    text = buffer.getvalue().decode("utf-8", "replace")
    for secret in secrets:
        check(secret not in text, f"{name} logged the credential")
    return [e.get("event") for e in found]
