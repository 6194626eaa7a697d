"""Refusals remembered by their shape, so a repeated one costs a lookup.

A client that fails once usually fails again the same way: a retry loop
with an expired token, a script without its API key, a browser tab whose
session ended, a scanner trying one stolen key. Each repetition is refused
from the same inputs -- the credentials, the app's answer, what the app
declared -- and differs only in what belongs to the one request: its id,
path, query, client, user agent and origin, and the app's pass-through
headers. `Decider` runs the general rule (`decide`'s `refuse`) once per
shape and second, and fills in the request's own parts on every request:
a refusal then costs a credential parse, a digest and a few joins instead
of the whole diagnosis.

The cache key is a keyed BLAKE2b digest of those inputs (the key is random
per process): neither a credential nor anything the app answered is kept.
The second is part of what an entry is valid for, because a token's times
("expired 5 s ago") are read against the clock. Report-only mode, whose log
lists what would change on the wire, always takes the general rule.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time

from authhygiene.core.challenge import app_schemes
from authhygiene.core.credentials import Credentials, RequestView, parse_credentials
from authhygiene.core.decision import (
    ANSWER_HEADERS_READ,
    Decision,
    Refusal,
    decide,
    finished,
    holds_secret,
    kept_name,
    kept_value,
    log_clean,
    passthrough,
    refuse,
    request_id,
    request_log_fields,
    response_headers,
)
from authhygiene.core.diagnose import AppAnswer, Declared
from authhygiene.core.origins import request_origin
from authhygiene.core.policy import Policy
from authhygiene.core.redact import REDACTED, remember
from authhygiene.core.request import Glance, Request
from authhygiene.core.resource import place_of
from authhygiene.core.verdict import Rejected, Verified

__all__ = ["Decider"]

# Stand-ins for the request id and the `instance` URI while a refusal's body
# is built, found again in its bytes to leave slots there. Random per
# process, so no body can hold them by chance or by a client's design.
_ID_STAND_IN = f"authhygiene-request-id-{secrets.token_hex(12)}"
_INSTANCE_STAND_IN = f"urn:authhygiene:instance:{secrets.token_hex(12)}"

_READ = frozenset(ANSWER_HEADERS_READ)
DEFAULT_ENTRIES = 512
# Declared facts, as text, past which a refusal is not remembered.
_DECLARED_CHARS = 4096
# Shapes noted as seen once, at most.
_SEEN_ENTRIES = 4096
# Stale entries dropped per store, at most.
_SWEEP = 8


class _Body:
    """A refusal's body cut at the stand-ins: its pieces, with the positions
    of the request id and `instance` slots."""

    __slots__ = ("id_at", "instance_at", "pieces")

    def __init__(self, body: bytes) -> None:
        pieces: list[bytes] = []
        id_at: list[int] = []
        instance_at: list[int] = []
        for index, piece in enumerate(body.split(_ID_STAND_IN.encode())):
            if index:
                id_at.append(len(pieces))
                pieces.append(b"")
            for inner, part in enumerate(piece.split(_INSTANCE_STAND_IN.encode())):
                if inner:
                    instance_at.append(len(pieces))
                    pieces.append(b"")
                pieces.append(part)
        self.pieces = pieces
        self.id_at = tuple(id_at)
        self.instance_at = tuple(instance_at)

    def fill(self, rid: str, instance: str | None) -> bytes:
        pieces = self.pieces.copy()
        if self.id_at:
            encoded = rid.encode()
            for index in self.id_at:
                pieces[index] = encoded
        if self.instance_at and instance is not None:
            encoded = instance.encode()
            for index in self.instance_at:
                pieces[index] = encoded
        return b"".join(pieces)


class _Entry:
    """A refusal of one shape, valid for the second it was decided in.

    It also keeps what repeats from request to request of this shape: the
    texts (paths, user agents, origins) found free of its credentials'
    secrets -- every request of the shape carries the same secrets -- the
    log fields of a (path, query, client, user agent, origin) seen before,
    and the header list when the app's answer has no header of its own to
    keep. Only what is logged or sent verbatim anyway is kept, bounded."""

    __slots__ = (
        "body",
        "clean",
        "fields",
        "headers",
        "refusal",
        "second",
    )

    def __init__(self, second: int, refusal: Refusal | None, body: _Body | None) -> None:
        self.second = second
        self.refusal = refusal
        self.body = body
        self.clean: dict[str, None] = {"": None}
        # Whole `auth.failure` field sets by the request's raw path, query,
        # client, user agent and origin (request id aside).
        self.fields: dict[tuple[object, ...], dict[str, object]] = {}
        # Header lists by the request's origin.
        self.headers: dict[str | None, _Headers] = {}

    def remember(self, text: str) -> None:
        if len(text) <= _CLEAN_CHARS:
            if len(self.clean) >= _CLEAN_ENTRIES:
                self.clean.clear()
                self.clean[""] = None
            self.clean[text] = None

    def remember_fields(self, key: tuple[object, ...], fields: dict[str, object]) -> None:
        if len(self.fields) >= _CLEAN_ENTRIES:
            self.fields.clear()
        self.fields[key] = fields


# Per entry: texts found clean, log field sets and header lists remembered
# (each cleared when full), and the longest text or key remembered.
_CLEAN_CHARS = 512
_CLEAN_ENTRIES = 16


class Decider:
    """The one entry point from a refused request to its `Decision`:
    `decide`'s rule, remembering refusals by shape. Thread-safe: entries are
    replaced whole, and only eviction takes a lock.

    It takes a `Request` (`core.request`): the adapter's lazy view of the
    exchange. The request is decoded only when its shape is new, or when it
    has none to remember (then the general rule, `decide`, tells it).
    """

    def __init__(self, policy: Policy, *, entries: int = DEFAULT_ENTRIES) -> None:
        self.policy = policy
        self._entries: dict[bytes, _Entry] = {}
        self._size = entries
        self._key = os.urandom(32)
        self._lock = threading.Lock()
        self._origins: dict[str, str | None] = {}
        # Shapes refused once, not yet remembered, by the second they were
        # last refused in (`_seen_before`).
        self._seen: dict[bytes, int] = {}

    def __call__(
        self,
        request: Request,
        answer: AppAnswer,
        declared: Declared | None = None,
        now: float | None = None,
        verdict: Verified | Rejected | None = None,
    ) -> Decision | None:
        policy = self.policy
        now = time.time() if now is None else now
        glance = None if policy.report_only else _glance(request, policy)
        minted = None
        if glance is not None:
            rid, instance = request_id(policy, glance.incoming_id, answer)
            remembered = self._remembered(
                glance, request, answer, declared, now, rid, instance, verdict
            )
            if not isinstance(remembered, _NoShape):
                return remembered
            if instance is not None:
                minted = (rid, instance)  # what `decide` would mint too
        # Report-only mode's log lists what would change: the general rule.
        return decide(
            policy,
            request.decoded(),
            answer,
            declared=declared,
            now=now,
            minted=minted,
            verdict=verdict,
        )

    def _remembered(
        self,
        glance: Glance,
        request: Request,
        answer: AppAnswer,
        declared: Declared | None,
        now: float,
        rid: str,
        instance: str | None,
        verdict: Verified | Rejected | None = None,
    ) -> Decision | _NoShape | None:
        """The refusal of `glance`'s shape, filled in with its own parts
        (`rid` and `instance` its request id); `NO_SHAPE` when the request
        has none to remember."""
        policy = self.policy
        key = self._digest(glance, answer, declared, instance is not None, request)
        if key is None:
            return NO_SHAPE
        if key not in self._entries and not self._seen_before(key, int(now)):
            # A shape seen once may never come again (a fleet's own tokens, a
            # scanner's new one each time): remembering it costs more than
            # the general rule does. It is remembered from its second time.
            return NO_SHAPE
        view = _Once(request, answer)
        entry = self._entry(key, view, answer, declared, now, instance, verdict)
        # An id echoed, or the client's id not taken: if it holds a secret,
        # the general rule tells it (it echoes another id, or scrubs that
        # one too: `refused_id_is_secret`).
        ids = [rid] if instance is None else []
        if glance.incoming_id not in (None, rid):
            ids.append(glance.incoming_id)
        if ids:
            credentials = self._credentials(view)
            if any(holds_secret(text, credentials.secrets, credentials.secret) for text in ids):
                return NO_SHAPE
        refusal = entry.refusal
        if refusal is None or entry.body is None:
            return None
        body = entry.body.fill(rid, instance)
        origin = self._origin(glance.origin)
        length = str(len(body))
        app_headers = self._kept(entry, view, passthrough(policy, answer))
        raw: list[tuple[bytes, bytes]] | None = None
        if app_headers:
            # The app's own headers (a Set-Cookie, an ETag) differ per request.
            headers = response_headers(
                policy,
                refusal,
                app_headers,
                origin=origin is not None,
                content_length=length,
                request_id=rid,
            )
        else:
            template = self._template(entry, refusal, origin)
            headers = template.headers.copy()
            headers[template.length_at] = ("content-length", length)
            raw = template.raw.copy()
            raw[template.length_at] = (b"content-length", length.encode())
            if template.id_at >= 0:
                headers[template.id_at] = (headers[template.id_at][0], rid)
                raw[template.id_at] = (raw[template.id_at][0], rid.encode())
        log = self._log(entry, refusal, glance.fields_key, view, rid)
        return finished(policy, refusal, answer, headers, body, log, raw)

    def _seen_before(self, key: bytes, second: int) -> bool:
        """Whether the shape `key` was refused in this second or the one
        before (and note it now): an entry is good for its second only, so
        only a shape that comes back that soon (a retry loop, a script) is
        worth one. Keys are keyed digests (nothing of a request), at most
        `_SEEN_ENTRIES` of them; a full table starts again."""
        seen = self._seen
        last = seen.get(key)
        if last is None and len(seen) >= _SEEN_ENTRIES:
            seen.clear()
        seen[key] = second
        return last is not None and second - last <= 1

    def _origin(self, text: str | None) -> str | None:
        if text is None:
            return None
        origins = self._origins
        known = origins.get(text, _MISS)  # one lookup: another thread may clear it
        if known is not _MISS:
            return known  # type: ignore[return-value]
        origin = request_origin([text])
        remember(origins, text, origin, len(text), entries=_CLEAN_ENTRIES)
        return origin

    def _entry(
        self,
        key: bytes,
        view: _Once,
        answer: AppAnswer,
        declared: Declared | None,
        now: float,
        instance: str | None,
        verdict: Verified | Rejected | None = None,
    ) -> _Entry:
        second = int(now)
        entry = self._entries.get(key)
        if entry is None or entry.second != second:
            refusal = refuse(
                self.policy,
                view(),
                self._credentials(view),
                answer,
                declared=declared,
                now=now,
                request_id=_ID_STAND_IN,
                instance=_INSTANCE_STAND_IN if instance is not None else None,
                verdict=verdict,
            )
            entry = _Entry(second, refusal, _Body(refusal.body) if refusal else None)
            self._store(key, entry)
        return entry

    def _template(self, entry: _Entry, refusal: Refusal, origin: str | None) -> _Headers:
        """The header list of a response of this shape to a request from
        `origin`, with slots for Content-Length and the request id."""
        template = entry.headers.get(origin)
        if template is None:
            headers = response_headers(
                self.policy,
                refusal,
                [],
                origin=origin is not None,
                content_length=_ID_STAND_IN,
                request_id=_INSTANCE_STAND_IN,
            )
            values = [value for _, value in headers]
            template = _Headers(
                headers,
                values.index(_ID_STAND_IN),
                values.index(_INSTANCE_STAND_IN) if _INSTANCE_STAND_IN in values else -1,
            )
            if len(entry.headers) >= _CLEAN_ENTRIES:
                entry.headers.clear()
            entry.headers[origin] = template
        return template

    def _log(
        self,
        entry: _Entry,
        refusal: Refusal,
        key: tuple[object, ...],
        view: _Once,
        rid: str,
    ) -> dict[str, object]:
        """The `auth.failure` fields: the shape's, and the request's own,
        from what this shape saw before where it can (behind trusted
        proxies the client is read from more than the socket: always
        computed)."""
        policy = self.policy
        known = None if policy.trusted_proxies else entry.fields.get(key)
        if known is not None:
            log = known.copy()
            log["request_id"] = rid
            return log
        request = view()
        clean = entry.clean
        secrets: tuple[str, ...] | None = None
        found_clean = True

        def cleaned(text: str) -> str:
            nonlocal secrets, found_clean
            if text in clean:
                return text
            if secrets is None:
                secrets = self._credentials(view).secrets
            out = log_clean(text, secrets)
            if out == text:
                entry.remember(text)
            else:
                found_clean = False
            return out

        fields = request_log_fields(
            policy, request, rid, cleaned, lambda: self._credentials(view).secrets
        )
        log = {**refusal.log_head, **fields, **refusal.log_tail}
        if (
            found_clean
            and not policy.trusted_proxies
            and REDACTED not in str(fields.get("query"))
            and len(repr(key)) <= _CLEAN_CHARS * 2
        ):
            # Only a request whose fields are logged verbatim anyway is remembered.
            entry.remember_fields(key, log)
        return log

    def _parse(self, view: RequestView, answer: AppAnswer) -> Credentials:
        policy = self.policy
        return parse_credentials(
            view,
            api_key_headers=policy.api_key_headers,
            session_cookies=policy.session_cookies,
            schemes=policy.schemes,
            app_schemes=app_schemes(answer.get_all("www-authenticate")),
        )

    def _kept(
        self, entry: _Entry, view: _Once, headers: list[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        """The app's kept headers with the shape's secrets masked; values
        found clean before (every request of the shape carries the same
        secrets) are taken as they are."""
        clean = entry.clean
        if all(name in clean and value in clean for name, value in headers):
            return headers
        secrets = self._credentials(view).secrets
        kept = []
        for name, value in headers:
            if name not in clean:
                if not kept_name(name, secrets):
                    continue
                entry.remember(name)
            if value not in clean:
                masked = kept_value(name, value, secrets)
                if masked == value:
                    entry.remember(value)
                value = masked
            kept.append((name, value))
        return kept

    def _credentials(self, view: _Once) -> Credentials:
        if view.credentials is None:
            view.credentials = self._parse(view(), view.answer)
        return view.credentials

    def _digest(
        self,
        glance: Glance,
        answer: AppAnswer,
        declared: Declared | None,
        minted: bool,
        request: Request,
    ) -> bytes | None:
        """Everything a refusal follows from, as 16 bytes that reveal none of
        it: what the credentials are read from, the method (and whether it is
        a preflight), the app's answer and what it declared, and whether the
        request id was minted (a minted one comes with an `instance` URI)."""
        parts: list[object] = [glance.material, glance.method, glance.preflight, minted]
        if self.policy.require.given:
            # What the route requires (`require=`) follows from the path: its
            # first two raw parts (ASGI's path and root_path, WSGI's
            # SCRIPT_NAME and PATH_INFO; a decoded view's path and query).
            parts.append(glance.fields_key[:2])
        resource = self.policy.protected_resource
        if resource is not None:
            # The challenge names the resource's metadata URL: its scheme and
            # host (the request's, or a trusted proxy's) and its path.
            place = place_of(resource, self.policy.trusted_proxies, request.decoded())
            parts.append((place.metadata, place.scopes) if place is not None else None)
        parts.append(answer.status)
        for name, value in answer.headers:
            if name in _READ:
                parts += (name, value)
        if declared is not None:
            try:
                parts.append(
                    repr(
                        (
                            declared.reason.value,
                            declared.source,
                            declared.detail,
                            tuple(declared.facts.items()),
                        )
                    )
                )
            except Exception:
                return None  # a fact that cannot say what it is: no shape
            if len(parts[-1]) > _DECLARED_CHARS:  # type: ignore[arg-type]
                return None  # facts too large to remember: the general rule
        # repr() of the list is unambiguous: no two different lists give one text.
        digest = hashlib.blake2b(
            repr(parts).encode("utf-8", "surrogatepass"), key=self._key, digest_size=16
        )
        digest.update(answer.body)
        return digest.digest()

    def _store(self, key: bytes, entry: _Entry) -> None:
        if self._size <= 0:
            return  # a Decider that remembers nothing
        with self._lock:
            entries = self._entries
            # Stored again, a shape moves to the end: the dict is in the order
            # of the seconds its entries were decided in, oldest first.
            entries.pop(key, None)
            # An entry is only good for its second: older ones at the front
            # go (a bounded number per store), and the oldest when full. What
            # a burst of shapes left behind is gone a second later.
            for _ in range(_SWEEP):
                oldest = next(iter(entries), None)
                if oldest is None or entries[oldest].second >= entry.second:
                    break
                del entries[oldest]
            if len(entries) >= self._size:
                del entries[next(iter(entries))]
            entries[key] = entry


class _Headers:
    """A header list with the positions of its Content-Length and request
    id values (-1: no request id header), and the same list encoded."""

    __slots__ = ("headers", "id_at", "length_at", "raw")

    def __init__(self, headers: list[tuple[str, str]], length_at: int, id_at: int) -> None:
        self.headers = headers
        self.length_at = length_at
        self.id_at = id_at
        self.raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]


class _Once:
    """The request decoded when first needed and then kept, with its parsed
    credentials: a new shape needs both twice."""

    __slots__ = ("answer", "credentials", "request", "view")

    def __init__(self, request: Request, answer: AppAnswer) -> None:
        self.request = request
        # The app's answer: the schemes its challenges name are known ones.
        self.answer = answer
        self.view: RequestView | None = None
        self.credentials: Credentials | None = None

    def __call__(self) -> RequestView:
        if self.view is None:
            self.view = self.request.decoded()
        return self.view


_MISS = object()


def _glance(request: Request, policy: Policy) -> Glance | None:
    """The request's glance, or None (the general rule then reads the decoded
    request) when it cannot give one whose log key can be remembered: a
    server that put odd types in its scope or environ."""
    try:
        glance = request.glance(policy)
        if glance is not None:
            hash(glance.fields_key)
    except Exception:
        return None
    return glance


class _NoShape:
    """The state "this request has no shape to remember": the general rule
    tells it."""

    __slots__ = ()


NO_SHAPE = _NoShape()
