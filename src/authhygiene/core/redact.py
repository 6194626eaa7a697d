"""Keep secrets out of text that leaves the server (bodies) or reaches a log.

`scrub` is used on the app's own message before it becomes `detail`, on
every request-derived string in the middleware's log event, and by the
public redaction processor and logging filter (`authhygiene.logging`) on
whatever an app logs. It recognises credentials by their shape, because a
log line carries no type: a JWT, a scheme word followed by a credential, a
header line naming a secret header, a secret-named query parameter, the
prefixes of well-known API keys, a PEM private key, and long runs of
high-entropy characters. Hex runs (request ids, hashes, fingerprints) are
deliberately left alone: they are what operators correlate by.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar
from urllib.parse import parse_qsl, quote, unquote, urlencode

from authhygiene.core.fragments import mask_pieces

__all__ = [
    "CACHE_ENTRIES",
    "CACHE_KEY_CHARS",
    "NOT_PRINTABLE_ASCII_RE",
    "REDACTED",
    "SECRET_HEADERS",
    "SECRET_NAME_RE",
    "SECRET_WORD_RE",
    "bounded",
    "bounded_clean",
    "clean_for_sink",
    "credential_spans",
    "high_entropy",
    "holds_secret_form",
    "redact_query",
    "remember",
    "scrub",
    "scrub_cached",
    "secret_name",
    "secret_param",
    "short_secret_in",
]

REDACTED = "[redacted]"

# Headers whose value is a credential, whatever it looks like (RFC 9110
# §11.6.2, §11.7.2; RFC 6265; RFC 9449 §4).
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "dpop",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "x-access-token",
        "x-csrf-token",
        "x-xsrf-token",
        "x-amz-security-token",
    }
)

_HEADER_LINE_NAMES = (
    r"proxy-authorization|authorization|set-cookie|cookie|dpop"
    r"|x-api-key|api-key|x-auth-token|x-access-token|x-amz-security-token"
)
# Values that look like credentials wherever they appear, one pattern per
# shape, each run only when the text holds one of its words (lower-cased):
# most log lines hold none, and a substring test costs far less than a
# regex. Each pattern keeps its harmless prefix in group `keep` and the
# rest is replaced. Runs are matched possessively or consumed whole, so
# hostile text (16 KB of "eyJeyJ...") is scanned in linear time.
_JWT_RE = re.compile(
    # JWT / JWS compact serialisation (RFC 7515 §7.1): a JSON header is
    # "eyJ". The whole run is consumed and judged by `_jwt`: a token cut
    # after its payload still carries claims, a header alone is no secret.
    r"eyJ[A-Za-z0-9_-]*+(?:\.[A-Za-z0-9_-]*+){0,2}"
)
# Every pattern below that can fail after a long run is written so that it
# cannot: the run is consumed whole (possessively) together with what
# follows it, and judged in Python. A name or scheme word repeated inside
# the run ("x-api-key: x-api-key: ... >", "bearer+bearer+..._") is then
# never a new start that rescans the rest, so the work stays linear.
_HEADER_LINE_RE = re.compile(
    rf"(?P<keep>\b(?i:{_HEADER_LINE_NAMES})[\"']?\s*:\s*[\"']?)"
    r"(?P<v>[^\r\n\"'<>]++)(?P<after>[<>]?)"
)
_HEADER_FIELD_RE = re.compile(
    rf"(?P<keep>\b(?i:{_HEADER_LINE_NAMES})[\"']?\s*=\s*[\"']?)"
    r"(?P<v>[^\s\"'<>]++)(?P<after>[<>]?)"
)
_SCHEME_RE = re.compile(
    r"\b(?i:bearer|basic|dpop|token|apikey|digest)(?:[ \t]|%20|\+)++(?!HTTP/\d)"
    # Fewer than 8 characters fail here, cheaply and unconsumed: the run
    # may itself be the next scheme word ("token Bearer abc...").
    r"(?P<v>[A-Za-z0-9\-._~+/]{8,}+=*+)(?P<after>[\w\-.~+/=]?)"
)
# What makes a run after a scheme word a credential rather than a word: a
# digit, a capital or a symbol, or 16+ letters (no word of prose is that long).
_SCHEME_MARK_RE = re.compile(r"[0-9A-Z\-._~+/=]")
_SCHEME_LETTERS_MIN = 16
_SHAPES: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = (
    (
        ("-----begin",),
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)"
        ),
    ),
    (("eyj",), _JWT_RE),
    (
        # A header line naming a secret header, in a dump or an error
        # message: the value up to the end of the line (or a quote closing a
        # repr). A placeholder ("Authorization: Bearer <token>") is none.
        ("authorization", "cookie", "dpop", "api-key", "-token"),
        _HEADER_LINE_RE,
    ),
    (
        # The same name as a field of a key=value log line ("cookie=...",
        # gunicorn's `authorization=%({authorization}i)s`): up to a space.
        ("authorization", "cookie", "dpop", "api-key", "-token"),
        _HEADER_FIELD_RE,
    ),
    (
        # A scheme word and a credential-looking run: 8+ characters of which
        # a later one is a digit, a symbol or a capital. Plain words ("Token
        # expired", "Missing bearer token") are an app's message, not a
        # secret, and neither is a `key=value` pair that follows the word in
        # a log line ("scheme=Bearer server_time=...").
        ("bearer", "basic", "dpop", "token", "apikey", "digest"),
        _SCHEME_RE,
    ),
    (
        # The password in a URL's userinfo ("postgres://app:s3cret@db/x").
        ("://",),
        re.compile(r"(?P<keep>://[^/\s:@\"'<>]{0,256}:)[^/\s@\"'<>]{1,256}(?=@)"),
    ),
    (
        # Well-known API key and token formats (Stripe, GitHub, GitLab,
        # Slack, AWS access key ids, Google API keys, OpenAI-style keys).
        (
            "_live_",
            "_test_",
            "ghp_",
            "gho_",
            "ghu_",
            "ghs_",
            "ghr_",
            "github_pat_",
            "glpat-",
            "xox",
            "akia",
            "asia",
            "aiza",
            "sk-",
        ),
        re.compile(
            r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}+"
            r"|\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}+|\bgithub_pat_[A-Za-z0-9_]{30,}+"
            r"|\bglpat-[A-Za-z0-9_\-]{20,}+"
            r"|\bxox[abposr]-[A-Za-z0-9-]{10,}+"
            r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
            r"|\bAIza[0-9A-Za-z_\-]{35}"
            r"|\bsk-[A-Za-z0-9_\-]{20,}+"
        ),
    ),
)
# Every name `secret_param` or `_member` takes for a secret contains one of
# these (lower-cased).
_PARAM_WORDS = (
    "token",
    "secret",
    "pass",
    "pw",
    "key",
    "auth",
    "session",
    "cookie",
    "sig",
    "code",
    "jwt",
    "credential",
    "bearer",
    "dpop",
    "otp",
    "csrf",
    "xsrf",
    "pin",
    "cvv",
    "cvc",
    "verifier",
    "ticket",
    "assertion",
    "hmac",
    "sessid",
    "pat",
    "sid",
)
# Any word of a shape, and any word of a secret name, as one search each
# (the same test as looking for each word in turn, run in C).
_SHAPE_WORD_RE = re.compile("|".join(re.escape(w) for words, _ in _SHAPES for w in words))
_PARAM_WORD_RE = re.compile("|".join(map(re.escape, _PARAM_WORDS)))
# A secret-named member in JSON or a repr that an app logs as text:
# `{"password": "..."}`, `{'access_token': '...'}`.
_MEMBER_RE = re.compile(
    r"(?P<keep>(?P<q>[\"'])(?P<name>[A-Za-z0-9_.\-]{1,64})(?P=q)\s*:\s*(?P<v>[\"']))"
    r"(?:(?!(?P=v))[^\\\r\n\x00]|\\.){1,4096}+(?=(?P=v))"
)
# A secret-named parameter inside a URL-encoded URL (`next=%2Fcb%3Ftoken%3D...`).
_ENCODED_PARAM_RE = re.compile(
    r"(?P<keep>(?:[?&;]|(?i:%3F|%26|%3B))(?P<name>[A-Za-z0-9_.\-]{1,64})(?i:%3D))"
    r"(?:(?!%26|%3B)[^&#;\s\"'<>])+"
)
# A secret-named parameter in a URL or form text: `?access_token=...`.
# Also a `name=value` field of a key=value log line ("user=bob token=...").
_QUERY_PARAM_RE = re.compile(
    r"(?P<keep>(?:^|[?&;\s,(])(?P<name>[^=&#?;\s\"'<>,(]{1,64})=)[^&#;\s\"'<>),]+"
)
# Candidate runs for the entropy test.
_RUN_RE = re.compile(r"(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/_\-]{24,}+={0,2}")
_HEX_RE = re.compile(r"[0-9a-fA-F\-]+")
# Names of fields (log keys, dict keys) whose values are secrets: the name
# ends in a secret noun. `token_format` or `credential_fingerprint` do not.
SECRET_NAME_RE = re.compile(
    r"(?:^|[_\-.\s])(?:authorization|auth|password|passwd|pass[_-]?phrase|pwd|pass|secret|token|jwt"
    r"|bearer|api[_-]?key|apikey|private[_-]?key|secret[_-]?key|signing[_-]?key|access[_-]?key"
    r"|client[_-]?secret|cookies?|set[_-]cookie|session(?:[_-]?id)?|sessionid|dpop|otp"
    r"|credentials?|csrf|xsrf|signature|sig"
    # One-time and personal codes, and keys named without a separator.
    r"|pin|pincode|passcode|totp|hotp|mfa[_-]?code|verification[_-]?code|cvv|cvc"
    r"|code[_-]?verifier|auth[_-]?key|subscription[_-]?key|licen[cs]e[_-]?key"
    # Nouns run together with what they name (`accesstoken`, `apitoken`,
    # `clientsecret`), CAS tickets, identity proxies' JWT assertions, and
    # webhook signatures with their algorithm (`x-hub-signature-256`).
    r"|[a-z0-9]*(?:token|secret|password|passwd)|ticket|(?:jwt[_-]?)?assertion"
    r"|signature[_-]v?\d+|[a-z]*sessid|[a-z]*session[_-]?id|session[_-]?key|hmac"
    r"|token[_-]?hash|verifier|[a-z]*access[_-]?key[_-]?id)$",
    re.I,
)
# Any word a credential's name or shape starts with: a log template without
# one cannot put a secret together from its arguments.
SECRET_WORD_RE = re.compile(
    r"token|secret|passw|pwd|key|auth|session|cookie|sig|code|jwt|credential|bearer|basic"
    r"|dpop|digest|ticket|assertion|hmac|sessid|verifier|pin|otp|cvv|cvc|pat|sid",
    re.I,
)
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SHORT_SECRET_PARAMS = frozenset(
    {"key", "code", "sig", "pw", "pass", "pin", "otp", "cvv", "pat", "sid"}
)
_LITERALS = frozenset({"true", "false", "none", "null", "-", ""})
_MAX_QUERY_CHARS = 2048
NOT_PRINTABLE_ASCII_RE = re.compile(r"[^\x20-\x7e]")


def high_entropy(run: str) -> bool:
    """Whether a 24+ character run holds a piece random enough to be a key
    or a token.

    Random base64/base62 of that length mixes upper case, lower case and
    digits, with capitals about as frequent as small letters and about 4
    bits of entropy per character; identifiers ("OAuth2PasswordRequestForm"),
    words and paths do not. Pure hex is exempt (ids, hashes), and a path is
    judged segment by segment."""
    return any(_random_piece(piece) for piece in run.split("/") if len(piece) >= 20)


def _random_piece(piece: str) -> bool:
    if _HEX_RE.fullmatch(piece):
        return False
    length = len(piece)
    upper = sum(c.isupper() for c in piece)
    lower = sum(c.islower() for c in piece)
    digits = sum(c.isdigit() for c in piece)
    if not digits or upper < 0.2 * length or lower < 0.2 * length:
        return False
    counts = Counter(piece)
    entropy = -sum(n / length * math.log2(n / length) for n in counts.values())
    return entropy >= (3.8 if length >= 32 else 3.6)


def _keep_prefix(match: re.Match[str]) -> str:
    keep = match.groupdict().get("keep")
    if keep and _nothing_to_hide(match.group(0)[len(keep) :]):
        return match.group(0)  # `cookie=-` (no cookie sent), `password=None`
    return (keep or "") + REDACTED


def _header_value(match: re.Match[str]) -> str:
    """A secret header's value in a dump or a `name=value` field. A value
    that a "<" or ">" follows is a placeholder ("Bearer <token>"), or a
    template's own placeholder hidden by `_scrub_template`: kept."""
    if match.group("after") or _nothing_to_hide(match.group("v")):
        return match.group(0)
    return match.group("keep") + REDACTED


def _scheme_value(match: re.Match[str]) -> str:
    """A scheme word and the 8+ character run after it: a credential when
    the run has a digit, a capital or a symbol in it, or 16+ letters, and
    nothing word-like is glued to its end. A scheme word inside a rejected
    run cannot start a credential: it would end at the same glued end."""
    run = match.group("v")
    if match.group("after") or (
        len(run) < _SCHEME_LETTERS_MIN and _SCHEME_MARK_RE.search(run) is None
    ):
        return match.group(0)
    return REDACTED


def _is_jwt(match: re.Match[str]) -> bool:
    start, run = match.start(), match.group(0)
    glued = start > 0 and (match.string[start - 1].isalnum() or match.string[start - 1] in "_-")
    return not glued and "." in run and len(run.split(".", 1)[0]) >= 7


def _jwt(match: re.Match[str]) -> str:
    return REDACTED if _is_jwt(match) else match.group(0)


# How a match of each shape is judged; `_keep_prefix` for the others.
_JUDGES = {
    _JWT_RE: _jwt,
    _HEADER_LINE_RE: _header_value,
    _HEADER_FIELD_RE: _header_value,
    _SCHEME_RE: _scheme_value,
}


# Each shape with its words as one search, and its judge.
_GATED_SHAPES = tuple(
    (re.compile("|".join(map(re.escape, words))), pattern, _JUDGES.get(pattern, _keep_prefix))
    for words, pattern in _SHAPES
)


def _shapes(text: str, lowered: str) -> str:
    # One search in C settles most texts: no shape can match without one
    # of its words, and most texts hold none of them.
    if _SHAPE_WORD_RE.search(lowered) is None:
        return text
    for gate, pattern, judge in _GATED_SHAPES:
        if gate.search(lowered) is not None:
            text = pattern.sub(judge, text)
    return text


def secret_param(name: str) -> bool:
    """Whether a query parameter of this name carries a secret: its last
    word is a secret noun (`access_token`, `X-Amz-Signature`, `apiKey`),
    or it is one of the short names APIs use (`key`, `code`, `sig`).
    `token_type=bearer` is not."""
    return name.lower() in _SHORT_SECRET_PARAMS or secret_name(name)


def secret_name(name: str) -> bool:
    """Whether values under this field, key or header name are secrets: a
    secret header, or a name ending in a secret noun, camelCase included
    (`accessToken`, `IdToken`, `userPassword`)."""
    return name.lower() in SECRET_HEADERS or bool(SECRET_NAME_RE.search(_CAMEL_RE.sub("_", name)))


def _nothing_to_hide(value: str) -> bool:
    """`password=None`, `allow_credentials=True`, `cookie=-` (gunicorn's
    absent header). Only what no secret can be: a number under a secret
    name is a PIN, an OTP or a numeric token (`password=1234`,
    `?access_token=98765432109876543210`), and a count has a name of its
    own (`token_count=3` is not a secret name, so it is never looked at)."""
    return value.rstrip(".,;:!?").lower() in _LITERALS  # the end of a sentence


def _param(match: re.Match[str]) -> str:
    value = match.group(0)[len(match.group("keep")) :]
    if secret_param(unquote(match.group("name"))) and not _nothing_to_hide(value):
        return match.group("keep") + REDACTED
    return match.group(0)


def _member(match: re.Match[str]) -> str:
    name = match.group("name")
    if _nothing_to_hide(match.group(0)[len(match.group("keep")) :]):
        return match.group(0)
    if secret_name(name):
        return match.group("keep") + REDACTED
    return match.group(0)


def _entropy(match: re.Match[str]) -> str:
    return REDACTED if high_entropy(match.group(0)) else match.group(0)


def _holds_any(text: str, words: tuple[str, ...]) -> bool:
    # A plain loop: any() over a generator costs 1.5x as much here.
    for word in words:  # noqa: SIM110
        if word in text:
            return True
    return False


# Secrets this long are also looked for in another case and percent-encoded.
_FOLDED_SECRET_CHARS = 8


# RFC 3986 §2.3: characters percent-encoding leaves as they are.
_UNRESERVED_RE = re.compile(r"[A-Za-z0-9\-._~]*")


def _other_forms(secret: str, text: str) -> tuple[str, ...]:
    """The lower-cased forms of a secret as `text` may echo it otherwise:
    its own (for a case-insensitive search) and, where they differ and
    `text` has a `%`, percent-encoded. None that `text` is too short to
    hold: the work is bounded by the text, however long the secret (a
    client may send a 700 KB Authorization)."""
    if len(secret) > len(text):
        return ()
    lowered = secret.lower()
    if "%" not in text:
        return (lowered,)
    forms = [lowered]
    if not _UNRESERVED_RE.fullmatch(secret):  # a JWT, a hex or base64url key: the same
        forms.append(quote(secret, safe="").lower())
    raw = secret.encode("utf-8", "surrogatepass")
    if 3 * len(raw) <= len(text):
        # Every octet encoded (`%5a%71...`), as some clients and apps write it.
        forms.append("".join(f"%{octet:02x}" for octet in raw))
    return tuple(forms)


def _standing_alone(secret: str) -> re.Pattern[str]:
    """A secret under 4 characters where no letter or digit touches it."""
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])")


def short_secret_in(secret: str, text: str) -> bool:
    """Whether `scrub` masks a secret under 8 characters in `text`: from 4
    characters anywhere, 3 only standing alone, shorter ones never."""
    if len(secret) >= 4:
        return secret in text
    return len(secret) == 3 and _standing_alone(secret).search(text) is not None


def scrub(
    text: str, secrets: Iterable[str] = (), *, entropy: bool = True, params: bool = True
) -> str:
    """Replace every known secret and every credential-looking value.

    `entropy=False` spares high-entropy runs that have no other mark of a
    credential: for values that are ids by nature (a request or trace id).
    `params=False` spares secret-named parameters and members (`code=...`,
    `page_token=...`): for an app's own URLs, whose parameters are its own."""
    folded: str | None = None
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, REDACTED)
            if len(secret) >= _FOLDED_SECRET_CHARS:
                # Echoed in another case (a hex key upper-cased) or
                # percent-encoded (`%2F` for `/`): the same secret.
                if folded is None:
                    folded = text.lower()
                for form in _other_forms(secret, text):
                    if form in folded:
                        text = re.sub(re.escape(form), REDACTED, text, flags=re.I)
                        folded = text.lower()
        elif secret:
            # A short secret (a 3-letter password) would match inside words;
            # it is replaced where it stands alone.
            text = _standing_alone(secret).sub(REDACTED, text)
    lowered = text.lower()
    # Substring tests first: most log lines hold none of the words a
    # credential shape starts with, and `in` costs far less than the regex.
    text = _shapes(text, lowered)
    if params and _PARAM_WORD_RE.search(lowered) is not None:
        if "=" in text:
            text = _QUERY_PARAM_RE.sub(_param, text)
        if ":" in text:
            text = _MEMBER_RE.sub(_member, text)
        if "%3d" in lowered:
            text = _ENCODED_PARAM_RE.sub(_param, text)
    return _RUN_RE.sub(_entropy, text) if entropy and len(text) >= 24 else text


def credential_spans(text: str, *, entropy: bool = False) -> list[tuple[int, int]]:
    """Where `text` holds something shaped like a credential that is not
    already masked: what a leak check looks for. The entropy test is off by
    default, as random ids are not leaks."""
    spans = []
    lowered = text.lower()
    for words, pattern in _SHAPES:
        # The gate `scrub` uses: a shape cannot match without one of its words.
        if not _holds_any(lowered, words):
            continue
        judge = _JUDGES.get(pattern, _keep_prefix)
        for match in pattern.finditer(text):
            if judge(match) == match.group(0):
                continue
            groups = match.groupdict()
            start = match.start() + len(groups.get("keep") or "")
            end = match.start("after") if "after" in groups else match.end()
            if REDACTED not in text[start:end]:
                spans.append((start, end))
    for pattern, judge in (
        (_QUERY_PARAM_RE, _param),
        (_MEMBER_RE, _member),
        (_ENCODED_PARAM_RE, _param),
    ):
        if not _holds_any(lowered, _PARAM_WORDS):
            break
        for match in pattern.finditer(text):
            start = match.start() + len(match.group("keep"))
            if text[start : match.end()] != REDACTED and judge(match) != match.group(0):
                spans.append((start, match.end()))
    if entropy:
        spans.extend(m.span() for m in _RUN_RE.finditer(text) if high_entropy(m.group(0)))
    return sorted(spans)


def bounded(text: str, limit: int) -> str:
    """Printable ASCII only, at most `limit` characters: safe for a log line."""
    cleaned = text[:limit]
    if not (cleaned.isascii() and cleaned.isprintable()):  # the same test, 10x cheaper
        cleaned = NOT_PRINTABLE_ASCII_RE.sub("?", cleaned)
    return cleaned + "..." if len(text) > limit else cleaned


def redact_query(query: str) -> str:
    """The query string with the values of secret-named parameters replaced
    (RFC 6750 §5.3: a token in the URL must not reach a log)."""
    if not query:
        return ""
    if len(query) < _MAX_QUERY_CHARS and _PLAIN_QUERY_RE.fullmatch(query):
        plain = _plain_query(query)
        if plain is not None:
            return plain
    try:
        pairs = parse_qsl(query[:_MAX_QUERY_CHARS], keep_blank_values=True, max_num_fields=64)
    except ValueError:
        return REDACTED
    if len(query) > _MAX_QUERY_CHARS and pairs and pairs[-1][1]:
        # The bound cut the last value: its start may be the start of a
        # secret that only the whole value shows to be one.
        pairs[-1] = (pairs[-1][0], REDACTED)
    out: list[str] = []
    size = 0
    for key, value in pairs:
        pair = urlencode([(key, REDACTED if secret_param(key) else scrub(value))], safe="[]")
        size += len(pair) + 1
        if size > _MAX_QUERY_CHARS:
            # Whole pairs only: never cut inside a value, after scrubbing.
            out.append("...")
            break
        out.append(pair)
    return bounded("&".join(out), _MAX_QUERY_CHARS + 4)


# `name=value` pairs of unreserved characters (RFC 3986 §2.3) only: what
# `parse_qsl` splits and `urlencode` writes back unchanged, in up to the 64
# fields `parse_qsl` takes here, and shorter than the bound past which the
# general way drops the last pair. Most queries are such ("limit=20&page=2").
_PLAIN_QUERY_RE = re.compile(r"[\w.~\-]+=[\w.~\-]*(?:&[\w.~\-]+=[\w.~\-]*){0,63}", re.A)


def _plain_query(query: str) -> str | None:
    """`redact_query`'s answer for a plain query with nothing to mask in it
    (`query` itself), or None: the general way tells."""
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if secret_param(name) or (value and scrub(value) != value):
            return None
    return query


def bounded_clean(
    text: str, limit: int, clean: Callable[[str], str], secrets: Callable[[], Iterable[str]]
) -> str:
    """A request text (path, user agent, origin, query) fit for a log field.

    Bound, then scrub: `clean` (which masks the request's secrets and every
    credential shape) sees at most `SINK_WORK_FACTOR` x `limit` characters,
    so a 64 KB header costs what a 1 KB one does. When that bound cut the
    text, a request secret cut in two at its end is masked (`secrets` is
    asked for them only then). The result is shortened to `limit`
    printable ASCII characters, never inside a mask."""
    window = text[: limit * SINK_WORK_FACTOR]
    cleaned = clean(window)
    if len(window) < len(text):
        cleaned = _mask_cut_secret(cleaned, tuple(secret for secret in secrets() if secret))
    if len(cleaned) <= limit:
        return bounded(cleaned, limit)
    return bounded(_shortened(cleaned, limit), limit) + "..."


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Every cache of request-derived text in the library is bounded in bytes as
# well as entries: a key of more than `max_chars` characters is never kept
# (a client may send any number of distinct 15 KB origins or header
# names), and a full cache is cleared, so a cache holds at most `entries`
# x `max_chars` characters of keys.
CACHE_KEY_CHARS = 256
CACHE_ENTRIES = 1024


def remember(
    cache: dict[K, V],
    key: K,
    value: V,
    size: int,
    *,
    max_chars: int = CACHE_KEY_CHARS,
    entries: int = CACHE_ENTRIES,
) -> None:
    """Keep `key -> value` in a cache bounded in bytes and entries; `size`
    is the key's length in characters (a tuple key's summed)."""
    if size > max_chars:
        return
    if len(cache) >= entries:
        cache.clear()
    cache[key] = value


# Texts found clean (no secret, no credential shape): the same user agent,
# path and origin come again and again, and so do the same facts and app
# messages at the body's sinks (`clean_for_sink`); `scrub` need not run
# twice on them, only a later request's own secrets are looked for. Only
# texts that are logged or sent verbatim anyway are kept, bounded in size
# and number (at most 1024 x 1024 characters).
_CACHED_CHARS = 1024
_CLEAN_TEXTS: dict[str, str] = {}


def scrub_cached(text: str, secrets: Iterable[str] = ()) -> str:
    """`scrub(text, secrets)`, remembering texts found clean. A remembered
    text is still checked for this request's own secrets: it was clean of
    another request's."""
    kept = secrets if isinstance(secrets, tuple) else tuple(secrets)
    if text in _CLEAN_TEXTS and not holds_secret_form(text, kept):
        return text
    cleaned = scrub(text, kept)
    if cleaned == text:
        remember(_CLEAN_TEXTS, text, text, len(text), max_chars=_CACHED_CHARS)
    return cleaned


_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# A sink looks at no more than this many times its display limit: enough
# that a secret near the display limit is seen whole by `scrub`.
SINK_WORK_FACTOR = 4
# A secret's start this long at the end of a bounded text is masked too.
_PARTIAL_SECRET_CHARS = 4


def _mask_cut_secret(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with a secret's start (4 or more characters) at its very end
    masked: a secret the bound cut in two no longer matches `replace`."""
    for secret in secrets:
        if len(secret) <= _PARTIAL_SECRET_CHARS:
            continue
        head = secret[:_PARTIAL_SECRET_CHARS]
        # Only starts that leave fewer than len(secret) characters after them.
        start = max(0, len(text) - len(secret) + 1)
        while (found := text.find(head, start)) != -1:
            if secret.startswith(text[found:]):
                text = text[:found] + REDACTED
                break
            start = found + 1
    return text


# The last refusal's sink results: one refusal writes the same texts (a
# scheme, a problem kind, the app's message) into its body, its challenge
# and its log, and each is cleaned once. One entry, replaced whole
# (thread-safe), keyed like `fragments`' index by the secrets tuple's id and
# hash. Only texts the sink left unchanged are kept (what is sent anyway):
# never a secret, nor a text that held one.
_SINK_MEMO_ENTRIES = 64
_sink_memo: tuple[int, int, dict[tuple[str, int], str]] = (0, 0, {})


def clean_for_sink(text: str, limit: int, secrets: Iterable[str] = ()) -> str:
    """A string from the app or the request, fit to leave in a body or a
    header: bounded to a work cap (`SINK_WORK_FACTOR` x `limit`), a secret
    cut by that bound masked, scrubbed of every secret the request carried
    and every credential shape, and only then shortened to `limit`
    characters for display. Cutting first would leave the start of a
    secret that only the whole text shows to be one."""
    global _sink_memo
    kept = secrets if isinstance(secrets, tuple) else tuple(secrets)
    text = text[: limit * SINK_WORK_FACTOR]
    memo = _sink_memo
    if memo[0] != id(kept) or memo[1] != hash(kept):
        memo = _sink_memo = (id(kept), hash(kept), {})
    found = memo[2].get((text, limit))
    if found is None:
        found = _clean_for_sink(text, limit, kept)
        # Only a text the sink left as it is: a key is then what is sent anyway.
        if found == text and len(memo[2]) < _SINK_MEMO_ENTRIES and len(text) <= _CACHED_CHARS:
            memo[2][text, limit] = found
    return found


def _clean_for_sink(text: str, limit: int, kept: tuple[str, ...]) -> str:
    if not text.isascii():
        # A lone surrogate (from the app's JSON "\ud800") is no character:
        # strict JSON parsers reject the body that carries one.
        text = _SURROGATE_RE.sub("\ufffd", text)
    if len(text) <= limit and text in _CLEAN_TEXTS and not holds_secret_form(text, kept):
        # Seen before with no credential shape, and none of this request's
        # secrets in it: only a cut or a piece of one can be left.
        return mask_pieces(_mask_cut_secret(text, kept), kept, REDACTED)
    cleaned = _mask_cut_secret(scrub(text, kept), kept)
    # A piece of a secret the app cut or split itself ("token[:40]...").
    cleaned = mask_pieces(cleaned, kept, REDACTED)
    if cleaned == text:
        remember(_CLEAN_TEXTS, text, text, len(text), max_chars=_CACHED_CHARS)
    if len(cleaned) <= limit:
        return cleaned
    return _shortened(cleaned, max(0, limit - 3)).rstrip() + "..."


def holds_secret_form(text: str, secrets: tuple[str, ...]) -> bool:
    """Whether `text` may hold one of `secrets` in a form `scrub` masks
    (as sent, in another case, percent-encoded); a secret of under four
    characters anywhere in it leaves the decision to `scrub`."""
    folded: str | None = None
    for secret in secrets:
        if len(secret) < _FOLDED_SECRET_CHARS:
            if secret and secret in text:
                return True
            continue
        forms = _other_forms(secret, text)
        if forms and folded is None:
            folded = text.lower()
        for form in forms:
            if folded is not None and form in folded:
                return True
    return False


def _shortened(text: str, cut: int) -> str:
    """`text[:cut]`, or shorter: never ending inside a mask ("[reda..."
    would read as the app's own text)."""
    mask = text.find(REDACTED, max(0, cut - len(REDACTED) + 1))
    if mask != -1 and mask < cut:
        cut = mask
    return text[:cut]
