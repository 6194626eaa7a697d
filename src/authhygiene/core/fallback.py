"""The refusal written when explaining one failed: generic, and safe.

The refusal path never raises: if deciding a refusal does (a bug of ours,
an input nobody foresaw), the client still gets a well-formed refusal with
the policy's challenge, `application/problem+json` and `no-store`, and
nothing read from the request or the app's answer beyond its status and
its CORS answer, so nothing of either can leak through it.
"""

from __future__ import annotations

import json
import os
import re

from authhygiene.core.answer import AppAnswer, Declared
from authhygiene.core.challenge import Challenge
from authhygiene.core.decision import Decision
from authhygiene.core.events import Event
from authhygiene.core.policy import Policy
from authhygiene.core.problem import CONTENT_TYPE
from authhygiene.core.reasons import REASONS, Reason

__all__ = ["INTERNAL_ERROR", "LAST_RESORT", "safe_refusal"]

INTERNAL_ERROR = "internal_error"
# The headers every generic refusal carries (RFC 9111 §5.2.2.5: never stored).
_GENERIC_HEADERS = (
    ("content-type", CONTENT_TYPE),
    ("cache-control", "no-store"),
    ("pragma", "no-cache"),
    ("vary", "Authorization, Cookie, Origin"),
)
# The app's headers a generic refusal keeps: only CORS's answer, so that the
# browser that asked can read it. Any other header may echo the request.
_SAFE_APP_HEADERS = frozenset({"access-control-allow-origin", "access-control-allow-credentials"})
_SAFE_VALUE_RE = re.compile(r"[\x21-\x7e]{1,256}")


def _challenges(policy: Policy) -> list[tuple[str, str]]:
    out = []
    for scheme in policy.schemes:
        try:
            value = Challenge(scheme).with_params([("realm", policy.realm)]).render()
        except Exception:
            value = scheme
        out.append(("www-authenticate", value))
    return out


def _hint(policy: Policy, reason: Reason) -> str:
    try:
        return REASONS[reason].hint.format(
            scheme=policy.schemes[0], accepted=", ".join(policy.schemes), required=""
        )
    except Exception:
        return REASONS[Reason.CREDENTIALS_INVALID].hint


def safe_refusal(policy: Policy, answer: AppAnswer, declared: Declared | None) -> Decision | None:
    """The refusal written when explaining it failed: a generic reason, the
    policy's challenges, no-store, and nothing read from the request or the
    app's answer beyond its status and its CORS answer. None where the app's
    answer stands: report-only mode, and a 400/422 we could not read (the
    bare app's own answer)."""
    if policy.report_only:
        return None
    if declared is not None:
        reason = declared.reason  # the app (or its library) said it; its status holds
    elif answer.status == 403:
        reason = Reason.FORBIDDEN
    elif answer.status == 401:
        reason = Reason.CREDENTIALS_INVALID
    else:
        return None
    info = REASONS[reason]
    status = info.status
    rid = os.urandom(16).hex()
    body = json.dumps(
        {
            "type": policy.problem_type(reason.value),
            "title": info.title,
            "status": status,
            "detail": info.title + ".",
            "reason": reason.value,
            "hint": _hint(policy, reason),
            "request_id": rid,
        },
        separators=(",", ":"),
    ).encode()
    headers = [
        (name, value)
        for name, value in answer.headers
        if name in _SAFE_APP_HEADERS and _SAFE_VALUE_RE.fullmatch(value)
    ]
    if headers:
        exposed = "WWW-Authenticate" + (
            f", {policy.request_id_header}" if policy.request_id_header else ""
        )
        headers.append(("access-control-expose-headers", exposed))
    if status == 401:
        headers += _challenges(policy)
    headers += _GENERIC_HEADERS
    headers.append(("content-length", str(len(body))))
    if policy.request_id_header:
        headers.append((policy.request_id_header, rid))
    log: dict[str, object] = {"reason": reason.value, "status": status}
    if answer.status != status:
        log["app_status"] = answer.status
    log.update(diagnosis=INTERNAL_ERROR, request_id=rid)
    return Decision(status, tuple(headers), body, Event.FAILURE.value, log)


# If even the generic refusal cannot be built: a 401 that says nothing.
LAST_RESORT = Decision(
    401,
    (
        ("www-authenticate", "Bearer"),
        *_GENERIC_HEADERS,
        ("content-length", "2"),
    ),
    b"{}",
    Event.FAILURE.value,
    {"reason": Reason.CREDENTIALS_INVALID.value, "status": 401, "diagnosis": INTERNAL_ERROR},
)
