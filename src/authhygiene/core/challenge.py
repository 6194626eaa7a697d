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
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from authhygiene.core.credentials import TCHAR_RE, canonical_scheme, registered_scheme
from authhygiene.core.redact import scrub

__all__ = [
    "ECHO_MIN_PIECE",
    "Challenge",
    "echoes_secret",
    "parse_challenges",
    "quote",
    "rendered_size",
    "rfc6750_text",
    "scope_value",
]

MAX_PARAM_CHARS = 512
# Bounds on what we read from an app, and on what we write: the whole of its
# WWW-Authenticate fields (each field counts two characters more, the ", "
# that would join it to the next, so ten thousand empty fields are bounded
# too) and its distinct challenges, after duplicates are collapsed.
MAX_HEADER_CHARS = 8 * 1024
MAX_CHALLENGES = 16
_FIELD_COST = 2

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


# Letters NFKD does not decompose, and punctuation it leaves outside ASCII,
# spelled the way a reader of ASCII expects them.
_ASCII_SPELLING = str.maketrans(
    {
        "\u00df": "ss",
        "\u00e6": "ae",
        "\u00c6": "AE",
        "\u0153": "oe",
        "\u0152": "OE",
        "\u00f8": "o",
        "\u00d8": "O",
        "\u0111": "d",
        "\u0110": "D",
        "\u0142": "l",
        "\u0141": "L",
        "\u00fe": "th",
        "\u00de": "Th",
        "\u0131": "i",
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201c": "'",
        "\u201d": "'",
        "\u201e": "'",
        "\u00ab": "'",
        "\u00bb": "'",
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
    }
)
# `name=` in a description: parsers that search the whole header for
# `scope=` (the MCP python SDK does) would read a value from inside it.
_PARAM_LIKE_RE = re.compile(r"\s*=+\s*")


def _ascii_folded(text: str) -> str:
    """Non-ASCII letters spelled in ASCII where they have a spelling
    (`clé révoquée` -> `cle revoquee`): NFKD, combining marks dropped."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII_SPELLING))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def rfc6750_text(value: str, limit: int = 200) -> str:
    """Fold `value` into RFC 6750 §3's error_description charset: non-ASCII
    letters are transliterated, `"` and `\\` are not allowed at all (not even
    escaped), so they become `'` and `/`, `=` becomes `: ` (no `name=` inside a
    description for a naive parser to find); anything else outside %x20-7E
    is dropped."""
    folded = _ascii_folded(value[: limit * 4])[: limit * 4]
    folded = folded.replace('"', "'").replace("\\", "/")
    if "=" in folded:
        folded = _PARAM_LIKE_RE.sub(": ", folded)
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


# A secret this long or longer is looked for anywhere in a word of the app's
# challenge; a word this long or longer anywhere in a secret.
ECHO_MIN_SECRET = 4
ECHO_MIN_PIECE = 8


def echoes_secret(word: str, secrets: Iterable[str], *, entropy: bool = True) -> bool:
    """Whether a word of an app's challenge (a scheme, a parameter name, a
    token68) is, holds or is a piece of one of the request's secrets, or has
    a credential's shape. Case-insensitive: the reader lowercases names."""
    lowered = word.lower()
    kept = tuple(secret for secret in secrets if secret)
    for secret in kept:
        folded = secret.lower()
        if (
            lowered == folded
            or (len(folded) >= ECHO_MIN_SECRET and folded in lowered)
            or (len(lowered) >= ECHO_MIN_PIECE and lowered in folded)
        ):
            return True
    return scrub(word, kept, entropy=entropy) != word


# A scheme name as APIs coin them (`SharedKey`, `HMAC-SHA256`): a letter, then
# letters, digits, dots and dashes, with few digits. A credential echoed as a
# "scheme" (hex, base62, a JWT) has more digits or a credential's shape.
_SCHEME_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9.\-]{0,31}")
_SCHEME_NAME_DIGITS = 4


def app_schemes(values: Iterable[str]) -> tuple[str, ...]:
    """The schemes an app's own challenges name with parameters of their own
    (`SharedKey realm="storage"`): schemes that API takes, whether or not it
    told us (an Authorization value starting with one is no bare credential).
    A bare word, or one shaped like a credential, names none."""
    challenges = parse_challenges(values) or ()
    return tuple(
        challenge.scheme
        for challenge in challenges
        if challenge.params
        and _SCHEME_NAME_RE.fullmatch(challenge.scheme)
        and sum(ch.isdigit() for ch in challenge.scheme) <= _SCHEME_NAME_DIGITS
        and scrub(challenge.scheme) == challenge.scheme
    )


def parse_challenges(
    values: Iterable[str], secrets: tuple[str, ...] = ()
) -> list[Challenge] | None:
    """Parse one or more WWW-Authenticate field values.

    Returns None when any value is not valid per RFC 9110 §11.6.1 (bad syntax,
    control characters, a parameter given twice, or more than we are willing
    to read: `MAX_HEADER_CHARS` in all, `MAX_CHALLENGES` distinct ones): such
    a header is replaced as a whole. A challenge repeated with the same
    parameters is read once. A challenge whose scheme is one of `secrets`
    (the request's), holds one or has a credential's shape is an echo, not a
    scheme the API takes: it is left out. A missing `realm` is not invalid
    here; the decider adds the policy's realm.
    """
    result: list[Challenge] = []
    seen: set[tuple[str, tuple[tuple[str, str], ...], str | None]] = set()
    total = 0
    for value in values:
        # Bound before work: the size is known before a character is parsed.
        total += len(value) + _FIELD_COST
        if total > MAX_HEADER_CHARS + _FIELD_COST:
            return None
        try:
            challenges = _parse(value)
        except _InvalidError:
            return None
        for challenge in challenges:
            # A scheme we know by name is never an echo.
            if not registered_scheme(challenge.scheme) and echoes_secret(challenge.scheme, secrets):
                continue
            key = (challenge.scheme.lower(), tuple(sorted(challenge.params)), challenge.token68)
            if key in seen:
                continue  # "Bearer, Bearer, ..." says no more than "Bearer"
            if len(seen) >= MAX_CHALLENGES:
                return None
            seen.add(key)
            result.append(challenge)
    return result


def rendered_size(challenges: Iterable[Challenge]) -> int:
    """What `challenges` cost as header fields, counted as `parse_challenges`
    counts them: a list we write is one we would read back if it is at most
    `MAX_HEADER_CHARS` and holds at most `MAX_CHALLENGES`."""
    size = sum(len(challenge.render()) + _FIELD_COST for challenge in challenges)
    return max(0, size - _FIELD_COST)
