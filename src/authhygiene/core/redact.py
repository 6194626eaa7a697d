"""Keep secrets out of text that leaves the server (bodies) or reaches a log.

Used on the app's own message before it becomes `detail`, and on every
request-derived string in the log event. The full structlog redaction
processor builds on these patterns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode

__all__ = [
    "NOT_PRINTABLE_ASCII_RE",
    "REDACTED",
    "SECRET_KEY_RE",
    "bounded",
    "redact_query",
    "scrub",
]

REDACTED = "[redacted]"
# Values that look like credentials wherever they appear.
_SECRET_TEXT_RE = re.compile(
    r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"  # JWT / JWS compact
    # A scheme word and a credential-looking run: 8+ characters of which a
    # later one is a digit, a symbol or a capital. Plain words ("Token
    # expired", "Missing bearer token") are an app's message, not a secret.
    r"|\b(?i:bearer|basic|dpop|token|apikey|digest)\s+"
    r"(?=[A-Za-z0-9\-._~+/]+?[0-9A-Z\-._~+/=])[A-Za-z0-9\-._~+/]{8,}=*",
)
# Names of query parameters, headers or keys whose values are secrets.
SECRET_KEY_RE = re.compile(
    r"token|secret|passw|pwd|api[-_]?key|apikey|auth|session|cookie|signature|sig$|^code$|key$",
    re.I,
)
_MAX_QUERY_CHARS = 2048
NOT_PRINTABLE_ASCII_RE = re.compile(r"[^\x20-\x7e]")


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace every known secret and every credential-looking value."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, REDACTED)
        elif secret:
            # A short secret (a 3-letter password) would match inside words;
            # it is replaced where it stands alone.
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", REDACTED, text)
    return _SECRET_TEXT_RE.sub(REDACTED, text)


def bounded(text: str, limit: int) -> str:
    """Printable ASCII only, at most `limit` characters: safe for a log line."""
    cleaned = NOT_PRINTABLE_ASCII_RE.sub("?", text[:limit])
    return cleaned + "..." if len(text) > limit else cleaned


def redact_query(query: str) -> str:
    """The query string with the values of secret-named parameters replaced
    (RFC 6750 §5.3: a token in the URL must not reach a log)."""
    if not query:
        return ""
    try:
        pairs = parse_qsl(query[:_MAX_QUERY_CHARS], keep_blank_values=True, max_num_fields=64)
    except ValueError:
        return REDACTED
    safe = [(key, REDACTED if SECRET_KEY_RE.search(key) else scrub(value)) for key, value in pairs]
    return bounded(urlencode(safe, safe="[]"), _MAX_QUERY_CHARS)
