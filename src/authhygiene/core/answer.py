"""What the app answered, read as evidence.

Its status, headers and bounded body (`AppAnswer`); what it declared by
raising `AuthFailure` (`Declared`); its own words (`app_message`), its RFC
9457 problem members, and the text of an HTML page, for recognising it.
Everything here is untrusted and bounded before it is looked at.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from authhygiene.core.reasons import Reason
from authhygiene.core.redact import SINK_WORK_FACTOR

__all__ = [
    "MAX_DETAIL_CHARS",
    "MAX_WORDS_CHARS",
    "AppAnswer",
    "Declared",
    "app_message",
    "app_problem_members",
    "clean_text",
    "json_error",
    "page_text",
    "utf8",
]

MAX_DETAIL_CHARS = 200
# JSON members apps commonly put their message in, in order of preference.
MESSAGE_KEYS = ("detail", "message", "msg", "error_description", "error")


@dataclass(frozen=True, slots=True)
class AppAnswer:
    """What the app answered: status, lower-cased headers and a bounded body."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    # A WebSocket handshake the app closed before accepting: the close is
    # read as this status, and could carry no challenge of the app's own.
    closed: bool = False

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


@dataclass(frozen=True, slots=True)
class Declared:
    """The app's own explanation, from an `AuthFailure` it raised."""

    reason: Reason
    facts: Mapping[str, object] = field(default_factory=dict)
    detail: str | None = None
    source: str = "app:AuthFailure"


# What is kept of the app's words to look at: the sink (`problem.detail`)
# scrubs all of it before it shortens it to MAX_DETAIL_CHARS for display.
MAX_WORDS_CHARS = MAX_DETAIL_CHARS * SINK_WORK_FACTOR


def clean_text(text: str) -> str:
    """Printable text only, whitespace folded, bounded to a work cap. Not
    shortened for display here: cutting before the request's secrets are
    scrubbed would leave the start of one (`redact.clean_for_sink` does it)."""
    text = " ".join(text[:MAX_WORDS_CHARS].split())
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text


# How deep a message is looked for: `{"error": {"message": ...}}`, a list of
# such. An app's body nested deeper says nothing we would show.
_MESSAGE_DEPTH = 4


def _message_from_json(data: object, depth: int = _MESSAGE_DEPTH) -> str | None:
    if isinstance(data, str):
        return data
    if depth <= 0:
        return None
    if isinstance(data, Mapping):
        for key in MESSAGE_KEYS:
            found = _message_from_json(data.get(key), depth - 1)
            if found:
                return found
    if isinstance(data, list) and data:
        # FastAPI's validation errors and DRF's lists: the first entry's message.
        return _message_from_json(data[0], depth - 1)
    return None


# Bodies that only restate the status line say nothing the status does not,
# and would contradict a corrected status ("Forbidden" on a 401).
_STATUS_PHRASES = frozenset(
    {
        "unauthorized",
        "forbidden",
        "bad request",
        "401 unauthorized",
        "403 forbidden",
        "access denied",
        "permission denied",
        "not authorized",
    }
)


def app_message(answer: AppAnswer) -> str | None:
    """The app's own explanation: from JSON (detail/message/msg/...) or short
    plain text. HTML pages, long bodies and bare status phrases are not messages."""
    message = _app_message(answer)
    if message and message.lower().rstrip(".! ") in _STATUS_PHRASES:
        return None
    return message


def _app_message(answer: AppAnswer) -> str | None:
    if not answer.body:
        return None
    content_type = next(iter(answer.get_all("content-type")), "").lower()
    if any(answer.get_all("content-encoding")):
        return None
    try:
        text = answer.body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "json" in content_type or text.lstrip()[:1] in ("{", "["):
        try:
            message = _message_from_json(json.loads(text))
        except (ValueError, RecursionError):
            message = None
        return clean_text(message) if message else None
    if content_type.startswith("text/plain") or not content_type:
        stripped = text.strip()
        if stripped and len(stripped) <= MAX_DETAIL_CHARS and "<" not in stripped:
            return clean_text(stripped)
    return None


_MAX_APP_PROBLEM_MEMBERS = 32
MAX_MEMBER_NAME_CHARS = 64
MAX_MEMBER_NAME_WORK = MAX_MEMBER_NAME_CHARS * SINK_WORK_FACTOR


def app_problem_members(answer: AppAnswer) -> dict[str, object] | None:
    """The app's own problem details (RFC 9457 §3), when it sent them."""
    content_type = next(iter(answer.get_all("content-type")), "").lower()
    if not content_type.startswith("application/problem+json") or answer.get_all(
        "content-encoding"
    ):
        return None
    try:
        data = json.loads(answer.body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or len(data) > _MAX_APP_PROBLEM_MEMBERS:
        return None
    # Names are bounded to a work cap here and scrubbed, then shortened, at
    # the sink (`problem.problem_body`), where the request's secrets are known.
    return {str(key)[:MAX_MEMBER_NAME_WORK]: value for key, value in data.items()}


def json_error(answer: AppAnswer) -> str | None:
    try:
        data = json.loads(answer.body)
    except (ValueError, RecursionError):
        return None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return str(data["error"])
    return None


_TAG_RE = re.compile(r"<[^>]{0,512}>")
_PAGE_EXCERPT_BYTES = 4096


def page_text(answer: AppAnswer) -> str | None:
    """The visible text at the start of an HTML page, for recognising it
    (Django's CSRF page is HTML); never shown to anyone."""
    if not answer.body or "html" not in next(iter(answer.get_all("content-type")), ""):
        return None
    text = answer.body[:_PAGE_EXCERPT_BYTES].decode("utf-8", "replace")
    return " ".join(_TAG_RE.sub(" ", text).split())


def utf8(header_text: str) -> str:
    """Header values arrive latin-1 decoded; apps usually wrote UTF-8."""
    try:
        return header_text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return header_text
