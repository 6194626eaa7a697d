"""Reading and writing `WWW-Authenticate` challenges.

The writer is ours because werkzeug's `WWWAuthenticate.to_header` leaves
`realm` unquoted (RFC 9110 §11.5 requires a quoted-string) and backslash-
escapes quotes inside `error_description` (RFC 6750 §3 forbids those
characters outright), and `quote_header_value` lets CR/LF through. Here every
value is quoted and escaped per RFC 9110 §5.6.4, RFC 6750 parameters are
held to their charsets, CR/LF/NUL cannot be written, and lengths are bounded.

Grammar (RFC 9110 §11.6.1, §11.2, §5.6.2, §5.6.4)::

    WWW-Authenticate = [ challenge *( OWS "," OWS challenge ) ]
    challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
    auth-param  = token BWS "=" BWS ( token / quoted-string )
    token68     = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
    qdtext      = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
    quoted-pair = "\\" ( HTAB / SP / VCHAR / obs-text )
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from authhygiene.core.credentials import TCHAR_RE, canonical_scheme

__all__ = [
    "Challenge",
    "parse_challenges",
    "quote",
    "rfc6750_text",
    "scope_value",
]

MAX_PARAM_CHARS = 512
MAX_HEADER_CHARS = 8 * 1024

_TOKEN68_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_OWS = " \t"
# Characters outside RFC 9110 §5.6.4 qdtext/quoted-pair content (CTLs, DEL,
# and anything beyond latin-1), and outside RFC 6750 §3's charsets
# (error_description: %x20-21 / %x23-5B / %x5D-7E; scope-token: without SP).
# RFC 6750 §3 allows each parameter at most once; the reader rejects
# duplicates of any name.
_NOT_QDTEXT_RE = re.compile(r"[^\t\x20-\x7e\x80-\xff]")
_NOT_RFC6750_RE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
_NOT_SCOPE_TOKEN_RE = re.compile(r"[^\x21\x23-\x5b\x5d-\x7e]")


# Parameters a scheme's own RFC says must be sent as tokens, never quoted
# (RFC 7616 §3.3: "algorithm" and "stale" MUST NOT be quoted; "charset" and
# "userhash" are defined as tokens there too).
_TOKEN_VALUED = {"Digest": frozenset({"algorithm", "stale", "charset", "userhash"})}


def quote(value: str) -> str:
    """RFC 9110 §5.6.4 quoted-string. Control characters are removed (they
    can never be sent), quotes and backslashes become quoted-pairs, and the
    value is bounded."""
    cleaned = _NOT_QDTEXT_RE.sub("", value[:MAX_PARAM_CHARS])
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rfc6750_text(value: str, limit: int = 200) -> str:
    """Fold `value` into RFC 6750 §3's error_description charset: `"` and `\\`
    are not allowed at all (not even escaped), so they become `'` and `/`;
    anything else outside %x20-7E is dropped."""
    folded = value[: limit * 4].replace('"', "'").replace("\\", "/")
    text = " ".join(_NOT_RFC6750_RE.sub("", folded).split())
    if len(text) > limit:
        text = text[: limit - 3].rstrip() + "..."
    return text


def scope_value(scopes: Iterable[str]) -> str:
    """RFC 6750 §3: space-delimited scope-tokens, each %x21 / %x23-5B / %x5D-7E."""
    tokens: list[str] = []
    for scope in scopes:
        token = _NOT_SCOPE_TOKEN_RE.sub("", scope[:MAX_PARAM_CHARS])
        if token and token not in tokens:
            tokens.append(token)
    return " ".join(tokens)[:MAX_PARAM_CHARS]


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge: a scheme and either auth-params or a token68."""

    scheme: str
    params: tuple[tuple[str, str], ...] = ()
    token68: str | None = None

    def param(self, name: str) -> str | None:
        for key, value in self.params:
            if key == name:
                return value
        return None

    def with_params(self, extra: Iterable[tuple[str, str]]) -> Challenge:
        """Add parameters the challenge does not have yet; never duplicate one (R6).
        A token68 challenge (e.g. Negotiate) cannot carry parameters."""
        if self.token68 is not None:
            return self
        params = list(self.params)
        names = {key for key, _ in params}
        for key, value in extra:
            if key not in names:
                params.append((key, value))
                names.add(key)
        return Challenge(self.scheme, tuple(params))

    def render(self) -> str:
        """The header value. Parameter values are quoted-strings (RFC 9110
        §11.5 requires it for `realm`, §11.2 allows it for every other
        parameter), except where a scheme's RFC requires a token."""
        if self.token68 is not None and not self.params:
            return f"{self.scheme} {self.token68}"
        if not self.params:
            return self.scheme
        unquoted = _TOKEN_VALUED.get(self.scheme, frozenset())
        rendered = ", ".join(
            f"{key}={value}"
            if key in unquoted and TCHAR_RE.fullmatch(value)
            else f"{key}={quote(value)}"
            for key, value in self.params
        )
        return f"{self.scheme} {rendered}"


class _InvalidError(ValueError):
    pass


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _read_token(text: str, pos: int) -> tuple[str, int]:
    match = TCHAR_RE.match(text, pos)
    if match is None:
        raise _InvalidError(pos)
    return match.group(), match.end()


def _read_quoted(text: str, pos: int) -> tuple[str, int]:
    out: list[str] = []
    pos += 1  # opening DQUOTE
    while pos < len(text):
        ch = text[pos]
        if ch == '"':
            return "".join(out), pos + 1
        if ch == "\\":
            pos += 1
            if pos >= len(text):
                break
            ch = text[pos]
        if ch != "\t" and (ch < " " or ch == "\x7f"):
            raise _InvalidError(pos)  # CTLs, CR/LF and NUL included, are never valid
        out.append(ch)
        pos += 1
    raise _InvalidError(pos)


def _parse(text: str) -> list[Challenge]:
    challenges: list[tuple[str, list[tuple[str, str]], str | None]] = []
    pos = 0
    while True:
        skipped = pos
        pos = _skip(text, pos, _OWS + ",")
        separated = "," in text[skipped:pos]
        if pos >= len(text):
            break
        name, pos = _read_token(text, pos)
        after = _skip(text, pos, _OWS)
        if challenges and after < len(text) and text[after] == "=":
            # auth-param of the current challenge
            _, params, token68 = challenges[-1]
            if token68 is not None:
                raise _InvalidError(after)
            pos = _skip(text, after + 1, _OWS)
            if pos < len(text) and text[pos] == '"':
                value, pos = _read_quoted(text, pos)
            else:
                value, pos = _read_token(text, pos)
            key = name.lower()
            if any(existing == key for existing, _ in params):
                raise _InvalidError(pos)  # RFC 6750 §3 / RFC 9110 §11.2: each name at most once
            if len(value) > MAX_PARAM_CHARS:
                raise _InvalidError(pos)
            params.append((key, value))
        else:
            if challenges and not separated:
                raise _InvalidError(pos)  # challenges are comma-separated
            challenges.append((name, [], None))
            if pos < len(text) and text[pos] == " ":
                start = _skip(text, pos, " ")
                match = _TOKEN68_RE.match(text, start)
                if match is not None:
                    end = _skip(text, match.end(), _OWS)
                    if end >= len(text) or text[end] == ",":
                        challenges[-1] = (name, [], match.group())
                        pos = end
                        continue
                pos = start
                continue  # the auth-params follow
        pos = _skip(text, pos, _OWS)
        if pos < len(text) and text[pos] != ",":
            raise _InvalidError(pos)
    return [
        Challenge(canonical_scheme(scheme), tuple(params), token68)
        for scheme, params, token68 in challenges
    ]


def parse_challenges(values: Iterable[str]) -> list[Challenge] | None:
    """Parse one or more WWW-Authenticate field values.

    Returns None when any value is not valid per RFC 9110 §11.6.1 (bad syntax,
    control characters, a parameter given twice, or more than we are willing
    to read): such a header is replaced as a whole. A missing `realm` is not
    invalid here; the decider adds the policy's realm.
    """
    result: list[Challenge] = []
    total = 0
    for value in values:
        total += len(value)
        if total > MAX_HEADER_CHARS:
            return None
        try:
            challenges = _parse(value)
        except _InvalidError:
            return None
        result.extend(challenges)
    return result
