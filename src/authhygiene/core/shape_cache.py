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

from authhygiene.core.credentials import (
    Credentials,
    RequestView,
    credential_material,
    parse_credentials,
)
from authhygiene.core.decision import (
    ANSWER_HEADERS_READ,
    Decision,
    Refusal,
    decide,
    passthrough,
    refuse,
    request_id,
    request_log_fields,
    response_headers,
)
from authhygiene.core.diagnose import AppAnswer, Declared
from authhygiene.core.origins import request_origin
from authhygiene.core.policy import Policy
from authhygiene.core.redact import REDACTED, scrub_cached

__all__ = ["Decider"]

# Stand-ins for the request id and the `instance` URI while a refusal's body
# is built, found again in its bytes to leave slots there. Random per
# process, so no body can hold them by chance or by a client's design.
_ID_STAND_IN = f"authhygiene-request-id-{secrets.token_hex(12)}"
_INSTANCE_STAND_IN = f"urn:authhygiene:instance:{secrets.token_hex(12)}"
_ID_SLOT = 0
_INSTANCE_SLOT = 1

_READ = frozenset(ANSWER_HEADERS_READ)
DEFAULT_ENTRIES = 1024


def _template(body: bytes) -> tuple[bytes | int, ...]:
    """The body cut at the stand-ins: literal bytes and slot numbers."""
    out: list[bytes | int] = []
    for index, piece in enumerate(body.split(_ID_STAND_IN.encode())):
        if index:
            out.append(_ID_SLOT)
        for inner, part in enumerate(piece.split(_INSTANCE_STAND_IN.encode())):
            if inner:
                out.append(_INSTANCE_SLOT)
            if part:
                out.append(part)
    return tuple(out)


def _fill(template: tuple[bytes | int, ...], rid: bytes, instance: bytes) -> bytes:
    return b"".join(
        part if part.__class__ is bytes else (rid if part == _ID_SLOT else instance)
        for part in template
    )


class _Entry:
    """A refusal of one shape, valid for the second it was decided in.

    It also keeps what repeats from request to request of this shape: the
    texts (paths, user agents, origins) found free of its credentials'
    secrets -- every request of the shape carries the same secrets -- the
    log fields of a (path, query, client, user agent, origin) seen before,
    and the header list when the app's answer has no header of its own to
    keep. Only what is logged or sent verbatim anyway is kept, bounded."""

    __slots__ = ("body", "clean", "fields", "headers", "refusal", "second")

    def __init__(self, second: int, refusal: Refusal | None, body: tuple[bytes | int, ...]) -> None:
        self.second = second
        self.refusal = refusal
        self.body = body
        self.clean: dict[str, None] = {"": None}
        self.fields: dict[tuple[str, ...], dict[str, object]] = {}
        # By whether the request had an Origin: a header list with the
        # Content-Length and request id slots' positions.
        self.headers: dict[bool, tuple[list[tuple[str, str]], int, int]] = {}

    def remember(self, text: str) -> None:
        if len(text) <= _CLEAN_CHARS:
            if len(self.clean) >= _CLEAN_ENTRIES:
                self.clean.clear()
                self.clean[""] = None
            self.clean[text] = None

    def remember_fields(self, key: tuple[str, ...], fields: dict[str, object]) -> None:
        if len(self.fields) >= _CLEAN_ENTRIES:
            self.fields.clear()
        self.fields[key] = fields


_CLEAN_CHARS = 1024
_CLEAN_ENTRIES = 64


class Decider:
    """`decide`, remembering refusals by shape. Thread-safe: entries are
    replaced whole, and only eviction takes a lock."""

    def __init__(self, policy: Policy, *, entries: int = DEFAULT_ENTRIES) -> None:
        self.policy = policy
        self._entries: dict[bytes, _Entry] = {}
        self._size = entries
        self._key = os.urandom(32)
        self._lock = threading.Lock()

    def __call__(
        self,
        view: RequestView,
        answer: AppAnswer,
        declared: Declared | None = None,
        now: float | None = None,
    ) -> Decision | None:
        policy = self.policy
        now = time.time() if now is None else now
        if policy.report_only:
            return decide(policy, view, answer, declared=declared, now=now)
        rid, instance = request_id(policy, view, answer)
        key = self._digest(view, answer, declared, minted=instance is not None)
        if key is None:
            return decide(policy, view, answer, declared=declared, now=now)
        second = int(now)
        entry = self._entries.get(key)
        if entry is None or entry.second != second:
            refusal = refuse(
                policy,
                view,
                self._parse(view),
                answer,
                declared=declared,
                now=now,
                request_id=_ID_STAND_IN,
                instance=_INSTANCE_STAND_IN if instance is not None else None,
            )
            entry = _Entry(second, refusal, _template(refusal.body) if refusal else ())
            self._store(key, entry)
        refusal = entry.refusal
        if refusal is None:
            return None
        body = _fill(entry.body, rid.encode(), (instance or "").encode())
        app_headers = passthrough(policy, answer)
        origin = request_origin(view.get_all("origin")) is not None
        if app_headers:
            headers = response_headers(
                policy,
                refusal,
                app_headers,
                origin=origin,
                content_length=str(len(body)),
                request_id=rid,
            )
        else:
            template = entry.headers.get(origin)
            if template is None:
                template = entry.headers[origin] = self._headers(refusal, origin=origin)
            headers = template[0].copy()
            headers[template[1]] = ("content-length", str(len(body)))
            if template[2] >= 0:
                headers[template[2]] = (headers[template[2]][0], rid)
        log = {**refusal.log_head, **self._fields(entry, view, rid), **refusal.log_tail}
        return Decision(
            refusal.status, tuple(headers), body, "auth.failure", log, misconfig=refusal.misconfig
        )

    def _headers(self, refusal: Refusal, *, origin: bool) -> tuple[list[tuple[str, str]], int, int]:
        headers = response_headers(
            self.policy,
            refusal,
            [],
            origin=origin,
            content_length=_ID_STAND_IN,
            request_id=_INSTANCE_STAND_IN,
        )
        values = [value for _, value in headers]
        length = values.index(_ID_STAND_IN)
        rid = values.index(_INSTANCE_STAND_IN) if _INSTANCE_STAND_IN in values else -1
        return headers, length, rid

    def _fields(self, entry: _Entry, view: RequestView, rid: str) -> dict[str, object]:
        """The request's own log fields, from what this shape saw before
        where it can (behind trusted proxies the client is read from more
        than the socket: always computed)."""
        policy = self.policy
        user_agent = view.get("user-agent") or ""
        origin = view.get("origin") or ""
        key = (view.path, view.query, view.client or "", user_agent, origin)
        known = None if policy.trusted_proxies else entry.fields.get(key)
        if known is not None:
            return {**known, "request_id": rid}
        clean = entry.clean
        secrets: tuple[str, ...] | None = None
        found_clean = True

        def cleaned(text: str) -> str:
            nonlocal secrets, found_clean
            if text in clean:
                return text
            if secrets is None:
                secrets = self._parse(view).secrets
            out = scrub_cached(text, secrets)
            if out == text:
                entry.remember(text)
            else:
                found_clean = False
            return out

        fields = request_log_fields(policy, view, rid, cleaned)
        if found_clean and not policy.trusted_proxies and REDACTED not in str(fields.get("query")):
            entry.remember_fields(key, {k: v for k, v in fields.items() if k != "request_id"})
        return fields

    def _parse(self, view: RequestView) -> Credentials:
        policy = self.policy
        return parse_credentials(
            view, api_key_headers=policy.api_key_headers, session_cookies=policy.session_cookies
        )

    def _digest(
        self, view: RequestView, answer: AppAnswer, declared: Declared | None, *, minted: bool
    ) -> bytes | None:
        """Everything a refusal follows from, as 16 bytes that reveal none of
        it: what the credentials are read from, the method (and whether it is
        a preflight), the app's answer and what it declared, and whether the
        request id was minted (a minted one comes with an `instance` URI)."""
        method = view.method
        parts = credential_material(view, self.policy.api_key_headers)
        parts += (
            method,
            "preflight"
            if method == "OPTIONS" and view.get("access-control-request-method") is not None
            else "",
            "minted" if minted else "",
            str(answer.status),
        )
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
        digest = hashlib.blake2b(key=self._key, digest_size=16)
        joined = "\x00".join(parts)
        if joined.count("\x00") != len(parts) - 1:
            # A part holds the separator itself: lengths first, so no two
            # different lists of parts digest alike.
            digest.update(b"L" + repr([len(part) for part in parts]).encode())
        digest.update(b"P" + joined.encode("utf-8", "surrogatepass"))
        digest.update(answer.body)
        return digest.digest()

    def _store(self, key: bytes, entry: _Entry) -> None:
        with self._lock:
            entries = self._entries
            if key not in entries and len(entries) >= self._size:
                # The oldest shape goes first (dicts keep insertion order).
                del entries[next(iter(entries))]
            entries[key] = entry
