"""The issuer's JWK Set, fetched over HTTP (`RemoteKeys`), as a `KeySource`.

What a verifier needs from a remote key set is that a request never waits on
the issuer when it need not, and that a sick issuer never turns into a
traceback. So:

- The keys live in one immutable snapshot, replaced whole after a good
  fetch. A token whose kid the snapshot knows is answered from it without a
  lock, even while a refetch is in flight or hangs.
- One fetch at a time per `RemoteKeys` (single flight), in a daemon thread:
  callers that need its result wait for it, at most `timeout` plus a small
  margin; nothing else does. There is no lock shared between instances.
- A snapshot is fresh for the answer's `Cache-Control` lifetime (RFC 9111
  §5.2.2), bounded to [min_lifetime, max_lifetime]. Past it, the keys are
  still served while a refresh runs behind (stale-while-revalidate).
- A kid the keys do not carry refetches at most once per
  `unknown_kid_cooldown`: a client sending made-up kids cannot make us
  hammer the issuer. A failed attempt holds off the next one as long.
- Every failure of the issuer's server (refused, timeout, HTTP error, an
  HTML page, bad or hostile JSON, no usable key) is an `auth.misconfig`
  event, at most once a minute, and the keys at hand are served for up to
  `stale_for` seconds after the last good fetch. Without keys the answer is
  `verifier_unavailable` (503) with the seconds until the next attempt.

Every decision about time reads the `now` it is given (seconds since the
epoch), never the clock; only the network's own deadline is real time.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import math
import re
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from http.client import HTTPException, HTTPMessage, HTTPResponse
from importlib import metadata
from typing import IO, Any
from urllib.parse import SplitResult, urlsplit

from authhygiene.core.events import Event
from authhygiene.core.reasons import Reason
from authhygiene.core.verdict import Rejected
from authhygiene.logging import default_logger
from authhygiene.verify.keys import HMAC_ALGORITHMS, PreparedKey, pick, usable_keys

__all__ = ["RemoteKeys"]

# A snapshot holds at most this many keys; an issuer publishes a handful.
_MAX_KEYS = 64
# JWKs looked at to find them (skipped ones included): bounds the work a
# hostile set can ask for, whatever fits in max_bytes.
_MAX_EXAMINED = 4 * _MAX_KEYS
# Seconds between two `auth.misconfig` events of one instance.
_REPORT_EVERY = 60
# A caller waits for a fetch at most its timeout and this many seconds more.
_WAIT_MARGIN = 1.0
_MAX_REDIRECTS = 5
_READ_CHUNK = 64 * 1024
_MAX_URL_CHARS = 2048
_SHOWN_PATH_CHARS = 200
# An age or max-age past this many digits is "forever" (and never reaches int()).
_MAX_DIGITS = 12
_DIGITS_RE = re.compile(r"[0-9]+")
_MAX_MAX_BYTES = 16 * 1024 * 1024
_MONTH = 30 * 86_400
_EXAMPLE_URL = "'https://issuer.example/.well-known/jwks.json'"


def _user_agent() -> str:
    try:
        return f"authhygiene/{metadata.version('authhygiene')}"
    except metadata.PackageNotFoundError:  # run from a source tree
        return "authhygiene"


_USER_AGENT = _user_agent()


class _Trouble(StrEnum):
    """Why a fetch gave no keys: the `error` of the `auth.misconfig` event
    (an HTTP error is `http_<status>` instead)."""

    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    TLS = "tls"
    BAD_RESPONSE = "bad_response"
    REDIRECT_REFUSED = "redirect_refused"
    TOO_LARGE = "too_large"
    NOT_JSON = "not_json"
    INVALID_JSON = "invalid_json"
    TOO_DEEP = "too_deep"
    NOT_A_JWK_SET = "not_a_jwk_set"
    NO_USABLE_KEYS = "no_usable_keys"
    INTERNAL = "internal_error"


# What to check, per trouble: the event's `fix`.
_FIXES: dict[str, str] = {
    _Trouble.UNREACHABLE: "check jwks_url's host and port, DNS, and that this server may"
    " connect to it (firewall, proxy)",
    _Trouble.TIMEOUT: "the JWKS server did not answer within timeout=; check it, or raise"
    " timeout= if it is slow by nature",
    _Trouble.TLS: "the TLS handshake failed; check the JWKS server's certificate and this"
    " server's trust store",
    _Trouble.BAD_RESPONSE: "the JWKS server's answer is not valid HTTP; check jwks_url's port",
    _Trouble.REDIRECT_REFUSED: "jwks_url redirects to a URL that is not https://; configure"
    " the final https:// URL",
    _Trouble.TOO_LARGE: "the answer is larger than max_bytes=; check that jwks_url names the"
    " JWK Set, or raise max_bytes=",
    _Trouble.NOT_JSON: "jwks_url answers something other than JSON (a login or error page?);"
    " give the issuer's jwks_uri",
    _Trouble.INVALID_JSON: "the JWKS server sends broken JSON; check the server",
    _Trouble.TOO_DEEP: "the answer is JSON nested too deeply to be a JWK Set; check jwks_url",
    _Trouble.NOT_A_JWK_SET: "the JSON has no 'keys' list (RFC 7517 §5); jwks_url may name the"
    " OpenID configuration: give its jwks_uri instead",
    _Trouble.NO_USABLE_KEYS: "the JWK Set holds no public signing key for the configured"
    " algorithms; check the algorithms your issuer signs with",
    _Trouble.INTERNAL: "report it to authhygiene with the logged error; keys at hand are served",
}
_HTTP_FIX = "the JWKS server answered an HTTP error; check jwks_url's path (404) or the server"


@dataclass(frozen=True, slots=True)
class _Failure:
    """A fetch that gave no keys, and why (`_Trouble` or `http_<status>`)."""

    error: str


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """The keys of one good fetch; replaced whole, never changed."""

    keys: tuple[PreparedKey, ...]
    kids: frozenset[str]
    fetched_at: float
    fresh_until: float

    def usable(self, now: float, stale_for: int) -> bool:
        return now - self.fetched_at <= stale_for

    def knows(self, kid: object) -> bool:
        """Whether the token's kid is for these keys to judge (a set without
        kids, or a kid that is no string, is judged by trying the keys)."""
        return not isinstance(kid, str) or not self.kids or kid in self.kids


class _Why(Enum):
    """Why a fetch is wanted: the rate limits differ."""

    EXPIRED = "expired"  # keys that know the kid, past their lifetime
    KID = "kid"  # keys at hand, but not the token's kid
    KEYS = "keys"  # no keys at hand: never fetched, or past stale_for


@dataclass(eq=False, slots=True)
class _Flight:
    """One fetch in progress, in `thread`: `done` is set once its outcome
    is recorded (and logged). `joined` counts the callers that found it
    already in flight."""

    thread: threading.Thread | None = None
    done: threading.Event = field(default_factory=threading.Event)
    joined: int = 0

    def lost(self) -> bool:
        """A fetch whose thread is gone without landing: the process was
        forked while it ran (a preloading server), and the child has only
        the record of it."""
        thread = self.thread
        return thread is not None and not thread.is_alive() and not self.done.is_set()


@dataclass(frozen=True, slots=True)
class _Target:
    url: str
    shown: str  # scheme://host[:port]/path: no credentials, no query
    loopback_http: bool


@dataclass(frozen=True, slots=True)
class _Response:
    body: bytes
    content_type: str
    cache_control: str
    age: str


class RemoteKeys:
    """The issuer's JWK Set at `url`, fetched when first needed and kept
    fresh as the module's docstring describes; a `KeySource`.

    `algorithms` are the ones tokens may be signed with (public-key ones:
    a JWK Set never publishes an HMAC secret). `timeout` (seconds) bounds a
    fetch and the wait for it; `max_bytes` the answer read. A fetched set
    is fresh for its `Cache-Control: max-age` within [`min_lifetime`,
    `max_lifetime`] seconds; an unknown kid refetches at most once per
    `unknown_kid_cooldown` seconds, and so does a failed fetch; after a
    failure the keys at hand are served until `stale_for` seconds after the
    last good fetch. `candidates` never raises."""

    __slots__ = (
        "_algorithms",
        "_cooldown",
        "_failure",
        "_flight",
        "_kid_retry_at",
        "_lock",
        "_logger",
        "_max_bytes",
        "_max_lifetime",
        "_min_lifetime",
        "_opener",
        "_reported_at",
        "_retry_at",
        "_snapshot",
        "_stale_for",
        "_target",
        "_timeout",
    )

    def __init__(
        self,
        url: str,
        algorithms: Sequence[str],
        *,
        timeout: float = 5.0,
        max_bytes: int = 256 * 1024,
        min_lifetime: int = 300,
        max_lifetime: int = 86_400,
        unknown_kid_cooldown: int = 30,
        stale_for: int = 86_400,
    ) -> None:
        self._target = _checked_url(url)
        self._algorithms = _checked_algorithms(algorithms)
        self._timeout = _checked_timeout(timeout)
        self._max_bytes = _whole("max_bytes", max_bytes, 1024, _MAX_MAX_BYTES, "bytes")
        self._max_lifetime = _whole("max_lifetime", max_lifetime, 1, _MONTH)
        self._min_lifetime = _whole("min_lifetime", min_lifetime, 1, self._max_lifetime)
        self._cooldown = _whole("unknown_kid_cooldown", unknown_kid_cooldown, 1, 3600)
        self._stale_for = _whole("stale_for", stale_for, 0, _MONTH)
        self._opener = _opener(self._target.loopback_http)
        self._logger: Any = default_logger()
        self._lock = threading.Lock()
        # Read without the lock (one reference, replaced whole); written under it.
        self._snapshot: _Snapshot | None = None
        self._flight: _Flight | None = None
        self._failure: _Failure | None = None  # the last attempt's, if it failed
        self._retry_at = -math.inf  # no attempt before this, after a failure
        self._kid_retry_at = -math.inf  # no unknown-kid refetch before this
        self._reported_at = -math.inf

    def __repr__(self) -> str:
        return f"RemoteKeys({self._target.shown!r})"

    def use_logger(self, logger: Any) -> None:
        """Log `auth.misconfig` events to `logger` (the middleware's)."""
        self._logger = logger

    def candidates(
        self, alg: str, kid: object, now: float, *, wait: bool = True
    ) -> list[PreparedKey] | Rejected:
        """The keys that may have signed a token with `alg` and `kid` (see
        `keys.pick`). Only a token the keys at hand cannot judge (no keys, an
        unknown kid) waits for a fetch, and only when `wait` is True."""
        snapshot = self._snapshot
        if snapshot is not None and self._serves(snapshot, kid, now):
            if now >= snapshot.fresh_until:
                self._start(now, _Why.EXPIRED, block=False)  # served stale meanwhile
            return pick(snapshot.keys, alg, kid)
        why = self._why(snapshot, now)
        if why is _Why.KID and self._flight is not None:
            # Keys at hand and a fetch already under way: only the request
            # that started it waits. Tokens naming kids at random must not
            # each hold a worker thread while a slow issuer answers.
            return self._answer(alg, kid, now, undecided=True)
        flight = self._start(now, why, block=wait)
        undecided = False
        if wait and flight is not None:
            undecided = not flight.done.wait(self._timeout + _WAIT_MARGIN)
        return self._answer(alg, kid, now, undecided=undecided)

    def needs_fetch(self, kid: object, now: float) -> bool:
        """Whether `candidates(..., wait=True)` would wait on the network
        now: the keys at hand cannot judge the kid, and a fetch is in flight
        or may start."""
        snapshot = self._snapshot
        if snapshot is not None and self._serves(snapshot, kid, now):
            return False
        why = self._why(snapshot, now)
        if why is _Why.KID:
            return self._flight is None and self._may_attempt(now, why)
        return self._flight is not None or self._may_attempt(now, why)

    def _serves(self, snapshot: _Snapshot, kid: object, now: float) -> bool:
        return snapshot.usable(now, self._stale_for) and snapshot.knows(kid)

    def _why(self, snapshot: _Snapshot | None, now: float) -> _Why:
        if snapshot is not None and snapshot.usable(now, self._stale_for):
            return _Why.KID
        return _Why.KEYS

    def _may_attempt(self, now: float, why: _Why) -> bool:
        if now < self._retry_at:
            return False  # the last attempt failed: do not hammer a sick server
        return why is not _Why.KID or now >= self._kid_retry_at

    def _answer(
        self, alg: str, kid: object, now: float, *, undecided: bool
    ) -> list[PreparedKey] | Rejected:
        snapshot = self._snapshot
        # A kid the keys lack is unknown only if the issuer said so: after a
        # failed fetch (or one still running) the issuer may well have
        # rotated, and "try again later" is the honest answer.
        judged = self._failure is None and not undecided
        if (
            snapshot is not None
            and snapshot.usable(now, self._stale_for)
            and (judged or snapshot.knows(kid))
        ):
            return pick(snapshot.keys, alg, kid)
        return Rejected(Reason.VERIFIER_UNAVAILABLE, {"retry_after": self._retry_after(now)})

    def _retry_after(self, now: float) -> int:
        if self._retry_at <= now:
            return 1  # a fetch is in flight or may start now
        return max(1, math.ceil(self._retry_at - now))

    def _start(self, now: float, why: _Why, *, block: bool) -> _Flight | None:
        """The fetch in flight, joined, or a new one when the rate limits
        allow; None otherwise. With `block` False the lock is only tried."""
        if not self._lock.acquire(blocking=block):
            return None  # someone else is starting or landing a fetch right now
        try:
            if self._flight is not None and not self._flight.lost():
                self._flight.joined += 1
                return self._flight
            if not self._may_attempt(now, why):
                return None
            flight = _Flight()
            flight.thread = threading.Thread(
                target=self._fly, args=(flight, now), name="authhygiene-jwks", daemon=True
            )
            try:
                flight.thread.start()
            except RuntimeError:  # no thread to be had: try again later
                return None
            self._flight = flight
            if why is _Why.KID:
                self._kid_retry_at = now + self._cooldown
            return flight
        finally:
            self._lock.release()

    def _fly(self, flight: _Flight, now: float) -> None:
        outcome: _Snapshot | _Failure = _Failure(_Trouble.INTERNAL)
        try:
            outcome = self._fetch(now)
        except Exception:  # a bug here must neither strand the waiters nor stop all fetches
            outcome = _Failure(_Trouble.INTERNAL)
        finally:
            try:
                self._land(outcome, now)
            finally:
                with self._lock:
                    self._flight = None
                flight.done.set()

    def _fetch(self, now: float) -> _Snapshot | _Failure:
        response = _download(self._opener, self._target, self._timeout, self._max_bytes)
        if isinstance(response, _Failure):
            return response
        keys = _read_jwks(response.body, response.content_type, self._algorithms)
        if isinstance(keys, _Failure):
            return keys
        lifetime = _lifetime(
            response.cache_control, response.age, self._min_lifetime, self._max_lifetime
        )
        kids = frozenset(key.kid for key in keys if key.kid is not None)
        return _Snapshot(keys, kids, now, now + lifetime)

    def _land(self, outcome: _Snapshot | _Failure, now: float) -> None:
        """Record a fetch's outcome; report a failure, once a minute at most."""
        with self._lock:
            if isinstance(outcome, _Snapshot):
                self._snapshot, self._failure, self._retry_at = outcome, None, -math.inf
                return
            self._failure = outcome
            self._retry_at = now + self._cooldown
            if now - self._reported_at < _REPORT_EVERY:
                return
            self._reported_at = now
        self._report(outcome, now)

    def _report(self, failure: _Failure, now: float) -> None:
        snapshot = self._snapshot
        stale = snapshot is not None and snapshot.usable(now, self._stale_for)
        fields: dict[str, object] = {
            "kind": "jwks_unavailable",
            "jwks_url": self._target.shown,
            "error": str(failure.error),
            "serving": "stale" if stale else "none",
            "retry_after": self._cooldown,
            "fix": _FIXES.get(failure.error, _HTTP_FIX),
        }
        if stale and snapshot is not None:
            fields["stale_seconds"] = max(0, int(now - snapshot.fetched_at))
        # The logger is the app's: if even it fails, keys are still served.
        with contextlib.suppress(Exception):
            self._logger.warning(Event.MISCONFIG.value, **fields)


# --- the answer: pure functions ----------------------------------------------


def _read_jwks(
    body: bytes, content_type: str, algorithms: Sequence[str]
) -> tuple[PreparedKey, ...] | _Failure:
    """The usable keys of an answer's body (at most `_MAX_KEYS`), or why
    there are none. Never raises, whatever the body holds."""
    try:
        document = json.loads(body)
    except RecursionError:  # "[[[[..." deeper than the interpreter recurses
        return _Failure(_Trouble.TOO_DEEP)
    except ValueError:  # broken JSON, not UTF-8, an int past Python's digit limit
        return _Failure(
            _Trouble.INVALID_JSON if _says_json(content_type, body) else _Trouble.NOT_JSON
        )
    listed = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(listed, list):
        return _Failure(_Trouble.NOT_A_JWK_SET)
    found = usable_keys({"keys": listed[:_MAX_EXAMINED]}, algorithms)[:_MAX_KEYS]
    return found or _Failure(_Trouble.NO_USABLE_KEYS)


def _says_json(content_type: str, body: bytes) -> bool:
    """Whether an answer claims to be JSON (and so is broken JSON rather
    than, say, an HTML error page)."""
    media = content_type.partition(";")[0].strip().lower()
    claims = media == "application/json" or media.endswith("+json")
    return claims and not body.lstrip().startswith(b"<")


def _lifetime(cache_control: str, age: str, lowest: int, highest: int) -> int:
    """Seconds a fetched set stays fresh: RFC 9111 §5.2.2.10 `s-maxage`
    (we are a cache shared by every request), else §5.2.2.1 `max-age`, less
    the §5.1 `Age` a cache on the way added; `no-store`/`no-cache` or none
    of these mean `lowest`. Always within [lowest, highest]."""
    directives: dict[str, str] = {}
    for part in cache_control[:1024].split(",")[:32]:
        name, _, value = part.partition("=")
        # RFC 9111 §4.2.1: a duplicated directive is invalid; the first counts.
        directives.setdefault(name.strip().lower(), value.strip().strip('"'))
    if "no-store" in directives or "no-cache" in directives:
        return lowest
    given = _count(directives.get("s-maxage"))
    if given is None:
        given = _count(directives.get("max-age"))
    if given is None:
        return lowest
    given -= _count(age) or 0
    return min(max(given, lowest), highest)


def _count(text: str | None) -> int | None:
    """RFC 9111 §1.2.2 delta-seconds (or a Content-Length); a run of digits
    longer than any lifetime or size is taken as very large, never read."""
    if text is None:
        return None
    text = text.strip()
    if not _DIGITS_RE.fullmatch(text):
        return None
    return int(text) if len(text) <= _MAX_DIGITS else 10**_MAX_DIGITS


# --- the network ---------------------------------------------------------------


class _RedirectRefused(urllib.error.URLError):
    pass


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to where the configured URL itself could
    point: https://, or loopback http:// when that is what was configured.
    urllib alone would follow https:// to plain http://."""

    max_redirections = _MAX_REDIRECTS

    def __init__(self, loopback_http: bool) -> None:
        self.loopback_http = loopback_http

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        try:
            target = _checked_url(newurl)
        except ValueError:
            target = None
        if target is None or (target.loopback_http and not self.loopback_http):
            fp.close()
            raise _RedirectRefused("redirect refused")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(loopback_http: bool) -> urllib.request.OpenerDirector:
    handlers: list[urllib.request.BaseHandler] = [_CheckedRedirects(loopback_http)]
    if loopback_http:
        # A loopback URL is this machine: never through a proxy of the environment.
        handlers.append(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener(*handlers)


def _download(
    opener: urllib.request.OpenerDirector, target: _Target, timeout: float, max_bytes: int
) -> _Response | _Failure:
    """GET the set: at most `max_bytes` read (one more to see there is
    more), within about `timeout` seconds in all."""
    # S310: the scheme was checked when the URL was given (`_checked_url`),
    # and a redirect's by `_CheckedRedirects`.
    request = urllib.request.Request(  # noqa: S310
        target.url, headers={"Accept": "application/json", "User-Agent": _USER_AGENT}
    )
    deadline = time.monotonic() + timeout
    try:
        with opener.open(request, timeout=timeout) as response:
            headers = response.headers
            length = headers.get("Content-Length")
            body = _read_capped(response, length, max_bytes, deadline)
    except urllib.error.HTTPError as error:
        error.close()
        return _Failure(f"http_{error.code}" if 100 <= error.code <= 599 else _Trouble.BAD_RESPONSE)
    except (OSError, HTTPException, ValueError) as error:
        return _Failure(_trouble_of(error))
    if isinstance(body, _Failure):
        return body
    return _Response(
        body,
        str(headers.get("Content-Type", "")),
        ", ".join(str(value) for value in headers.get_all("Cache-Control") or ()),
        str(headers.get("Age", "")),
    )


def _read_capped(
    response: HTTPResponse, length: str | None, max_bytes: int, deadline: float
) -> bytes | _Failure:
    declared = _count(length)
    if declared is not None and declared > max_bytes:
        return _Failure(_Trouble.TOO_LARGE)  # said up front: nothing to read
    chunks: list[bytes] = []
    size = 0
    while size <= max_bytes:
        # read1: one receive at a time (each bounded by the socket's
        # timeout), so a server dripping bytes meets the deadline below;
        # read(n) would wait for all n.
        chunk = response.read1(min(_READ_CHUNK, max_bytes + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if time.monotonic() > deadline:
            return _Failure(_Trouble.TIMEOUT)  # a server dripping bytes
    return _Failure(_Trouble.TOO_LARGE)


def _trouble_of(error: BaseException) -> _Trouble:
    if isinstance(error, _RedirectRefused):
        return _Trouble.REDIRECT_REFUSED
    if isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException):
        error = error.reason
    if isinstance(error, TimeoutError):
        return _Trouble.TIMEOUT
    if isinstance(error, ssl.SSLError | ssl.CertificateError):
        return _Trouble.TLS
    if isinstance(error, HTTPException | ValueError):
        return _Trouble.BAD_RESPONSE
    return _Trouble.UNREACHABLE


# --- the configuration -----------------------------------------------------------


def _checked_url(url: object) -> _Target:
    """The URL to fetch, checked: https://, or http:// to a loopback host.
    Messages show at most scheme://host/path, never credentials or a query."""
    if not isinstance(url, str):
        raise ValueError(
            "authhygiene: jwks_url is the issuer's JWK Set URL (its jwks_uri) as text,"
            f" e.g. {_EXAMPLE_URL}; got a {type(url).__name__}."
        )
    if len(url) > _MAX_URL_CHARS or not url.isprintable() or any(c.isspace() for c in url):
        raise ValueError(
            "authhygiene: jwks_url holds spaces or control characters, or is over"
            f" {_MAX_URL_CHARS} characters; give the issuer's jwks_uri exactly,"
            f" e.g. {_EXAMPLE_URL}."
        )
    parts = _split(url)
    if parts is None or parts.scheme.lower() not in ("https", "http") or not parts.hostname:
        # Nothing of it is repeated: in "user:password@host" the password
        # would be the "path".
        raise ValueError(
            "authhygiene: jwks_url must be an absolute https:// URL, the issuer's jwks_uri,"
            f" e.g. {_EXAMPLE_URL}."
        )
    shown = _shown(parts)
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f"authhygiene: jwks_url {shown} carries credentials (user:password@); a JWK Set is"
            " public, give the URL without them."
        )
    loopback = _loopback(parts.hostname)
    if parts.scheme.lower() == "http" and not loopback:
        raise ValueError(
            f"authhygiene: jwks_url {shown} must use https://: keys fetched over plain http can"
            " be replaced by anyone on the way. http:// is accepted only for a loopback host"
            " (127.0.0.1, ::1, localhost), for local development."
        )
    return _Target(url, shown, loopback_http=parts.scheme.lower() == "http")


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises on a port that is no number or out of range
    except ValueError:
        return None
    return parts


def _shown(parts: SplitResult) -> str:
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    path = parts.path[:_SHOWN_PATH_CHARS]
    return f"{parts.scheme.lower()}://{host}{port}{path}"


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _checked_algorithms(algorithms: object) -> tuple[str, ...]:
    if (
        isinstance(algorithms, str | bytes)
        or not isinstance(algorithms, Sequence)
        or not algorithms
        or not all(isinstance(name, str) and name for name in algorithms)
    ):
        raise ValueError(
            "authhygiene: RemoteKeys needs algorithms, the ones your issuer signs with,"
            " as a list of names, e.g. ['RS256']."
        )
    names = tuple(algorithms)
    if any(name.lower() == "none" for name in names):
        raise ValueError(
            "authhygiene: algorithms may never hold 'none' (an unsigned token proves nothing)."
        )
    if all(name in HMAC_ALGORITHMS for name in names):
        raise ValueError(
            "authhygiene: a JWK Set (jwks_url) publishes public keys, never an HMAC secret;"
            " for HS256/384/512 give the secret as keys=, or list the public-key algorithms"
            " your issuer signs with (e.g. RS256, ES256)."
        )
    return names


def _checked_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 60:
        raise ValueError(
            "authhygiene: RemoteKeys timeout is seconds above 0 and at most 60 (default 5);"
            f" got {_shown_value(timeout)}."
        )
    return float(timeout)


def _whole(name: str, value: object, lowest: int, highest: int, unit: str = "seconds") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= highest:
        raise ValueError(
            f"authhygiene: RemoteKeys {name} is whole {unit} from {lowest} to {highest};"
            f" got {_shown_value(value)}."
        )
    return value


def _shown_value(value: object) -> str:
    """A number as it is, anything else by its type only (see `jwt._shown`)."""
    return repr(value) if type(value) in (int, float) else f"a {type(value).__name__}"
