"""An unverified look at a JWT's header and time claims, with the standard library.

This never decides anything about identity: it only explains a rejection the
app has already made (an `exp` in the past explains a 401). pyjwt is kept for
verification; its `get_unverified_header` costs ~45 µs here because it
validates base64url character by character, and the failure path needs a
fraction of that, so we bound the input and decode it ourselves.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass

from authhygiene.core.redact import NOT_PRINTABLE_ASCII_RE

__all__ = [
    "MAX_NUMERIC_DATE",
    "MAX_TOKEN_CHARS",
    "MIN_NUMERIC_DATE",
    "JwtFacts",
    "fact_text",
    "peek",
    "read_header",
    "read_token",
]

MAX_TOKEN_CHARS = 16 * 1024
_SEGMENT_RE = re.compile(r"[A-Za-z0-9_-]*")
_TEXT_FACT_CHARS = 128
_MAX_AUDIENCES = 8


@dataclass(frozen=True, slots=True)
class JwtFacts:
    """Non-secret facts from an unverified JWT (RFC 7519 §4.1, RFC 7515 §4.1)."""

    alg: str | None
    kid: str | None
    iss: str | None
    exp: int | None
    nbf: int | None
    iat: int | None
    # RFC 7519 §4.1.3: one audience or several; each bounded like `iss`.
    aud: tuple[str, ...] = ()
    # The claims the operator asked to log (`log_claims`), text or numbers only.
    claims: tuple[tuple[str, str | int], ...] = ()


# RFC 7519 §2 NumericDate, kept to what a date can be: from the epoch to the
# last second of year 9999 (`time.gmtime` and RFC 3339 both end there).
MIN_NUMERIC_DATE = 0
MAX_NUMERIC_DATE = 253402300799
# Integer literals longer than this are not read as numbers at all: no claim
# we read needs more, and converting a long digit string costs quadratic
# time (and raises past Python's int-string limit).
_MAX_INT_DIGITS = 20


def _int(literal: str) -> int | None:
    return int(literal) if len(literal) <= _MAX_INT_DIGITS else None


def _float(literal: str) -> float | None:
    value = float(literal) if len(literal) <= 64 else math.inf
    return value if math.isfinite(value) else None  # 1e999 is not a date


def _constant(_literal: str) -> None:
    return None  # NaN, Infinity, -Infinity: not JSON (RFC 8259 §6)


# One decoder for every token: `json.loads` with hooks builds a new one per call.
_DECODER = json.JSONDecoder(parse_int=_int, parse_float=_float, parse_constant=_constant)


def _decode_segment(segment: str) -> object:
    # The caller bounds the token (MAX_TOKEN_CHARS) before any of this.
    if _SEGMENT_RE.fullmatch(segment) is None:
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    # What json.loads does with bytes, without building a decoder per call.
    return _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))


def fact_text(value: object) -> str | None:
    """A text from an untrusted token as a fact may hold it: printable ASCII
    only, bounded; None for anything else."""
    if not isinstance(value, str):
        return None
    # Only printable ASCII survives, bounded: these values reach logs.
    cleaned = NOT_PRINTABLE_ASCII_RE.sub("", value[:_TEXT_FACT_CHARS])
    return cleaned or None


def _time(value: object) -> int | None:
    # RFC 7519 §2 NumericDate; bool is an int subclass and is not a date.
    # Compared before any conversion: an int of any size compares exactly,
    # where math.isfinite or float() would raise OverflowError.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if not MIN_NUMERIC_DATE <= value <= MAX_NUMERIC_DATE:
        return None
    return int(value)


def _audience(value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(text for item in items[:_MAX_AUDIENCES] if (text := fact_text(item)) is not None)


def _claim(value: object) -> str | int | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    if isinstance(value, int):
        return value if abs(value) < 1 << 53 else None
    return fact_text(value)


def peek(token: str, claims: tuple[str, ...] = ()) -> JwtFacts | None:
    """Facts from a compact-serialised JWS, or None when `token` is not one.

    `claims` names further payload claims to read (the operator's
    `log_claims`, such as `sub`); only text and integers are kept."""
    read = read_token(token, claims)
    return read[1] if read is not None else None


def _object(segment: str) -> dict[str, object] | None:
    """One base64url segment read as a JSON object, or None."""
    try:
        value = _decode_segment(segment)
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError, OverflowError):
        return None
    return value if isinstance(value, dict) else None


def read_header(token: str) -> dict[str, object] | None:
    """A compact JWS's header alone (untrusted: a verifier judges it), or
    None when `token` is not one: what a verifier needs before the
    signature check, without reading the payload twice."""
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        return None
    return _object(token[: token.index(".")])


def read_token(
    token: str, claims: tuple[str, ...] = ()
) -> tuple[dict[str, object], JwtFacts] | None:
    """A compact JWS's header as it is (untrusted: a verifier judges it) and
    its facts (`peek`), or None when `token` is not one."""
    header = read_header(token)
    payload = _object(token.split(".")[1]) if header is not None else None
    if header is None or payload is None:
        return None
    return header, JwtFacts(
        alg=fact_text(header.get("alg")),
        kid=fact_text(header.get("kid")),
        iss=fact_text(payload.get("iss")),
        exp=_time(payload.get("exp")),
        nbf=_time(payload.get("nbf")),
        iat=_time(payload.get("iat")),
        aud=_audience(payload.get("aud")),
        claims=tuple(
            (name, value) for name in claims if (value := _claim(payload.get(name))) is not None
        ),
    )
