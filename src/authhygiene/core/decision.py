"""The single place that decides what a failure response looks like.

Adapters call `decide` with what the request carried and what the app
answered; they write the returned `Decision` and emit its log event, nothing
more. `None` means "not an auth failure, send the app's answer unchanged".
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from authhygiene.core.challenge import (
    ECHO_MIN_PIECE,
    MAX_HEADER_CHARS,
    Challenge,
    app_schemes,
    echoes_secret,
    rendered_size,
    rfc6750_text,
    scope_value,
)
from authhygiene.core.clients import client_address
from authhygiene.core.cors import expose_on_failure, request_origin
from authhygiene.core.credentials import (
    TOKEN_SCHEMES,
    Credentials,
    RequestView,
    fingerprint,
    parse_credentials,
    registered_scheme,
)
from authhygiene.core.diagnose import AppAnswer, Declared, Failure, diagnose
from authhygiene.core.events import Event
from authhygiene.core.fragments import MIN_PIECE_RUN, mask_pieces
from authhygiene.core.policy import Policy
from authhygiene.core.problem import CONTENT_TYPE, FactWalk, detail, problem_body
from authhygiene.core.ratelimit import Quota, ratelimit_fields
from authhygiene.core.reasons import REASONS, Reason
from authhygiene.core.redact import (
    REDACTED,
    bounded,
    bounded_clean,
    credential_spans,
    holds_secret_form,
    redact_query,
    scrub,
    scrub_cached,
    short_secret_in,
)
from authhygiene.core.request import is_preflight
from authhygiene.core.requirements import Rule
from authhygiene.core.resource import place_of
from authhygiene.core.verdict import Rejected, Verified

__all__ = [
    "ANSWER_HEADERS_READ",
    "Decision",
    "Refusal",
    "assemble",
    "decide",
    "finished",
    "holds_secret",
    "incoming_request_id",
    "kept_name",
    "log_clean",
    "merge_vary",
    "passthrough",
    "refuse",
    "refused_id_is_secret",
    "request_id",
    "request_log_fields",
    "response_headers",
]


_CACHEABLE_RE = re.compile(r"\bpublic\b|\bs-maxage\b|\bmax-age\s*=\s*[1-9]", re.I)
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_HEX_ID_RE = re.compile(r"[0-9A-Fa-f\-]{1,128}")
_VARY_ADDED = ("Authorization", "Cookie", "Origin")
# Headers of the app's answer that the failure response replaces.
_REPLACED = frozenset(
    {
        "content-length",
        "content-type",
        "content-encoding",
        "transfer-encoding",
        # RFC 9111 §5.2.2.5 / R22: a failure is never stored, whatever the app said.
        "cache-control",
        "pragma",
        "expires",
        "surrogate-control",
        "cdn-cache-control",
        "etag",
        "last-modified",
        "www-authenticate",
        "vary",
    }
)


@dataclass(frozen=True, slots=True)
class Decision:
    """What to send instead of the app's answer, and what to log.

    In report-only mode `rewrite` is False: the adapter sends the app's
    answer as it was and only logs `event`.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    event: str
    log: Mapping[str, object]
    rewrite: bool = True
    misconfig: tuple[str, ...] = ()
    # `headers` encoded, when the refusal memo had them ready (for ASGI).
    raw_headers: list[tuple[bytes, bytes]] | None = None


# The app's response headers a refusal depends on. Every other header of the
# app's answer is only carried over (or dropped) as it is, so two answers that
# differ only there are refused alike (`authhygiene.core.shape_cache`).
ANSWER_HEADERS_READ = (
    "www-authenticate",
    "content-type",
    "content-encoding",
    "vary",
    "cache-control",
    "access-control-allow-origin",
    "access-control-allow-credentials",
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A failure response before the parts that belong to one request are
    filled in: its id, its own log fields (path, query, client, user agent,
    origin) and the app's pass-through headers. Everything here follows from
    the credentials, the app's answer and what it declared, so refusals of
    the same shape share one (`authhygiene.core.shape_cache`)."""

    status: int
    # Our headers before and after Content-Length, which follows the body.
    before_length: tuple[tuple[str, str], ...]
    after_length: tuple[tuple[str, str], ...]
    body: bytes
    # Log fields before and after the request's own (same order as written).
    log_head: Mapping[str, object]
    log_tail: Mapping[str, object]
    misconfig: tuple[str, ...]


def merge_vary(values: list[str], added: tuple[str, ...] = _VARY_ADDED) -> str:
    """Extend Vary, never overwrite it (RFC 9110 §12.5.5); `*` absorbs all."""
    seen: list[str] = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if item and item.lower() not in (s.lower() for s in seen):
                seen.append(item)
    if "*" in seen:
        return "*"
    for item in added:
        if item.lower() not in (s.lower() for s in seen):
            seen.append(item)
    return ", ".join(seen)


def request_id(
    policy: Policy,
    incoming: str | None,
    answer: AppAnswer,
    secrets: tuple[str, ...] = (),
    identity: str | None = None,
) -> tuple[str, str | None]:
    """The id the app already answered with (its own request-id middleware
    ties it to its logs), else the caller's (`incoming`, the request's
    request-id header), when well-formed; else a new one. The `instance`
    URI is given only for ids we minted."""
    if policy.request_id_header:
        for known in (*answer.get_all(policy.request_id_header), incoming):
            # A credential sent as a request id would be echoed and logged.
            # Hex ids (UUIDs, trace ids) hold none of a credential shape's words.
            if (
                known
                and _REQUEST_ID_RE.fullmatch(known)
                and (_HEX_ID_RE.fullmatch(known) or not credential_spans(known))
                and not holds_secret(known, secrets, identity)
            ):
                return known, None
    # A version-4 UUID, as `uuid.uuid4()` makes it at a fifth of the cost.
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    hex_id = raw.hex()
    return hex_id, (
        f"urn:uuid:{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"
    )


def holds_secret(request_id: str, secrets: tuple[str, ...], identity: str | None = None) -> bool:
    """Whether an id holds a secret of the request where a sink would mask
    it, or more: one of 4 to 7 characters as sent (3 standing alone, as the
    sinks find them); one of 8 or more, or a part of 8 or more of one, in
    one case and without ASCII separators (a hex token written as a UUID, a
    token cut by `;`); or a piece of 19 or more shared with one, in one case
    or without separators (`req-<the token's start>`), within the first
    64 KiB of the request's secrets, `identity` (the credential the request
    is known by) first and then the shortest. An id longer than any
    we take (`_ID_CHECK_CHARS`) is taken for secret material unread. The
    work is linear in that budget: set lookups, no search whose cost an
    input can choose."""
    if len(request_id) > _ID_CHECK_CHARS:
        return True
    rid = _folded(request_id)
    lowered_pieces = _pieces(request_id.lower())
    folded_pieces = _pieces(rid)
    left = _ID_WORK_CHARS
    # The credential first, then the shortest: a client's credential before
    # the filler of a cookie-heavy browser, within the budget.
    ordered = sorted(secrets, key=len)
    if identity is not None and identity in secrets:
        ordered.remove(identity)
        ordered.insert(0, identity)
    for secret in ordered:
        if left <= 0:
            break
        if len(secret) < _FOLDED_MIN_CHARS:
            if short_secret_in(secret, request_id) or (len(secret) >= 3 and rid == _folded(secret)):
                return True
            continue
        head = secret[:left]
        left -= len(head)
        folded = _folded(head)
        if len(folded) >= _FOLDED_MIN_CHARS and folded in rid:
            return True  # the whole secret, in any case, with any separators
        if len(rid) >= _FOLDED_MIN_CHARS and len(rid) < MIN_PIECE_RUN and rid in folded:
            return True  # a short id that is a part of it (a longer one is a piece)
        if _shares_piece(lowered_pieces, head.lower()) or _shares_piece(folded_pieces, folded):
            return True
    return False


# Longer than a request id we echo (`_REQUEST_ID_RE`), with room to spare.
_ID_CHECK_CHARS = 256
# How much of the request's secrets the comparisons read, in all.
_ID_WORK_CHARS = 64 * 1024
_FOLDED_MIN_CHARS = 8
# `core.fragments`' rule: windows of 12 taken every 8 characters of a secret;
# a run of 19 shared with it always holds one.
_PIECE_CHARS = 12
_PIECE_STRIDE = 8
# ASCII punctuation, space and controls: what an id format or a client puts
# between the characters of a secret.
_SEPARATOR_BYTES = bytes(code for code in range(128) if not chr(code).isalnum())
_SEPARATORS = dict.fromkeys(_SEPARATOR_BYTES)


def _folded(text: str) -> str:
    """Lower-cased, ASCII separators removed; as bytes (5-10x faster) for
    text a server gives (ISO-8859-1)."""
    lowered = text.lower()
    try:
        raw = lowered.encode("latin-1")
    except UnicodeEncodeError:
        return lowered.translate(_SEPARATORS)
    return raw.translate(None, _SEPARATOR_BYTES).decode("latin-1")


def _pieces(rid: str) -> frozenset[str]:
    """Every window of `_PIECE_CHARS` of an id (at most `_ID_CHECK_CHARS`)."""
    return frozenset(
        rid[start : start + _PIECE_CHARS] for start in range(len(rid) - _PIECE_CHARS + 1)
    )


def _shares_piece(pieces: frozenset[str], secret: str) -> bool:
    """Whether one of `secret`'s windows of 12, taken every 8 characters, is
    one of the id's `pieces`: so whenever the two share a run of 19."""
    if not pieces:
        return False
    for start in range(0, len(secret) - _PIECE_CHARS + 1, _PIECE_STRIDE):
        if secret[start : start + _PIECE_CHARS] in pieces:
            return True
    return False


def refused_id_is_secret(
    credentials: Credentials, incoming: str | None, request_id: str
) -> Credentials:
    """A request id not echoed because it holds a secret (the token written
    as a UUID, its start after a prefix) is secret material itself: an app
    that repeats it must not send the secret on either."""
    if (
        incoming
        and incoming != request_id
        and holds_secret(incoming, credentials.secrets, credentials.secret)
    ):
        return credentials.with_secrets(incoming)
    return credentials


def incoming_request_id(policy: Policy, view: RequestView) -> str | None:
    return view.get(policy.request_id_header) if policy.request_id_header else None


def _status(policy: Policy, failure: Failure, app_status: int) -> int:
    reason = failure.reason
    if (
        policy.compat_403
        and app_status == 403
        and reason in (Reason.CREDENTIALS_MISSING, Reason.SCHEME_NOT_ACCEPTED)
    ):
        return 403  # opt-in: clients written against FastAPI < 0.122 / DRF
    return REASONS[reason].status


# RFC 6750 §3 / RFC 9470 §3 parameters: they describe this refusal, so the
# decider sets them; an app's own values are dropped rather than trusted.
_ERROR_PARAMS = frozenset(
    {"error", "error_description", "error_uri", "scope", "acr_values", "max_age"}
)
# RFC 6750 §3: error_uri is an absolute URI of %x21 / %x23-5B / %x5D-7E.
_ABSOLUTE_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[\x21\x23-\x5b\x5d-\x7e]+")


# Schemes whose challenges carry auth-params only (RFC 6750 §3, RFC 9449
# §7.1, RFC 7617 §2, RFC 7616 §3.3): a token68 after one of them is no part
# of a challenge, only ever something the app echoed (its client's token).
_PARAMS_ONLY_SCHEMES = TOKEN_SCHEMES | {"Basic", "Digest"}


def _app_value(value: str, secrets: tuple[str, ...]) -> str:
    """A parameter value of the app's challenge (at most MAX_PARAM_CHARS: the
    reader bounds it), with the request's secrets and credential shapes
    masked; a value that is a piece of a secret is masked whole."""
    if len(value) >= ECHO_MIN_PIECE and any(value in secret for secret in secrets):
        return REDACTED
    # No entropy test: a Digest nonce or opaque is random by design.
    return mask_pieces(scrub(value, secrets, entropy=False), secrets, REDACTED)


def _app_challenge(
    challenge: Challenge, error: str | None, secrets: tuple[str, ...]
) -> Challenge | None:
    """The app's valid challenge, cleaned: no echoed secret in any part of it
    (a scheme that is one drops the challenge, a parameter name the
    parameter, a token68 the token68; values are masked) and, for
    bearer-token schemes, none of its error parameters except a well-formed
    error_uri that documents the very error we send."""
    # A scheme we know by name is never an echo (as in `parse_challenges`).
    if not registered_scheme(challenge.scheme) and echoes_secret(challenge.scheme, secrets):
        return None
    token68 = challenge.token68
    if token68 is not None and (
        challenge.scheme in _PARAMS_ONLY_SCHEMES or echoes_secret(token68, secrets, entropy=False)
    ):
        # "Bearer <token>" means "Bearer": the decider completes it.
        token68 = None
    params = []
    for key, value in challenge.params:
        if echoes_secret(key, secrets):
            continue
        if challenge.scheme in TOKEN_SCHEMES and key in _ERROR_PARAMS:
            if (
                key == "error_uri"
                and error is not None
                and challenge.param("error") == error
                and _ABSOLUTE_URI_RE.fullmatch(value)
                and scrub(value, secrets) == value
            ):
                params.append((key, value))
            continue
        params.append((key, _app_value(value, secrets)))
    return Challenge(challenge.scheme, tuple(params), token68)


def _challenges(
    policy: Policy,
    failure: Failure,
    status: int,
    error: str | None,
    credentials: Credentials,
    description: str | None,
    where: _Where | None = None,
) -> list[Challenge]:
    secrets = credentials.secrets
    app = [
        cleaned
        for challenge in failure.challenges or ()
        if (cleaned := _app_challenge(challenge, error, secrets)) is not None
    ]
    # RFC 9110 §15.5.2 / R1: every 401 carries a challenge. 400 and 403 carry
    # one only to convey an RFC 6750 error (R8, R10).
    if status != 401 and error is None:
        kept = _distinct(app) if status == 403 else []
        return kept if rendered_size(kept) <= MAX_HEADER_CHARS else []
    ours = [Challenge(scheme) for scheme in policy.schemes]
    refusal = _Refused(policy, failure, status, error, credentials, description, where)
    out = refusal.completed(app or ours)
    if app and (not out or rendered_size(out) > MAX_HEADER_CHARS):
        # None of the app's challenges conveys the error (a 400/403), or they
        # would make a header we would not read back ourselves: ours.
        out = refusal.completed(ours)
    if status == 401 and not out:
        out = [
            Challenge(scheme).with_params([("realm", policy.realm)]) for scheme in policy.schemes
        ]
    return out


def _distinct(challenges: list[Challenge]) -> list[Challenge]:
    out: list[Challenge] = []
    for challenge in challenges:
        if challenge not in out:
            out.append(challenge)
    return out


@dataclass(frozen=True, slots=True)
class _Where:
    """What a challenge says of the resource refused: the URL of its RFC
    9728 metadata, and the scopes a token for it needs (the route's
    `require=` scopes, else those `protected_resource` gives its path)."""

    metadata: str | None
    scopes: tuple[str, ...]


def _where(
    policy: Policy, view: RequestView, rule: Rule | None, secrets: tuple[str, ...]
) -> _Where | None:
    scopes = rule.scopes.names if rule is not None and rule.scopes is not None else ()
    metadata = policy.resource_metadata
    resource = policy.protected_resource
    if resource is not None:
        place = place_of(resource, policy.trusted_proxies, view)
        if place is not None:
            scopes = scopes or place.scopes
            # The host is the client's text: never a secret of its own echoed,
            # in any case (the host is lower-cased). Letters, digits, "-" and
            # "." only: no encoded form to look for.
            lowered = place.metadata.lower()
            if not any(len(secret) >= 4 and secret.lower() in lowered for secret in secrets):
                metadata = place.metadata
    if metadata is None and not scopes:
        return None
    return _Where(metadata, scopes)


@dataclass(frozen=True, slots=True)
class _Refused:
    """What completes a challenge for one refusal."""

    policy: Policy
    failure: Failure
    status: int
    error: str | None
    credentials: Credentials
    description: str | None
    where: _Where | None = None

    def completed(self, challenges: list[Challenge]) -> list[Challenge]:
        """The challenges with realm and, where one conveys it, the error.
        A 400 or 403 keeps only the bearer-token challenges that convey it."""
        out = []
        for challenge in challenges:
            if challenge.token68 is not None:
                if self.status == 401:
                    out.append(challenge)  # e.g. Negotiate's continuation
                continue
            if challenge.scheme in TOKEN_SCHEMES:
                extra = self._token_params(challenge.scheme)
                if extra is None:
                    continue
            elif self.status != 401:
                continue  # a 400/403 challenge exists only to carry the error
            elif challenge.scheme == "Basic":
                extra = [("realm", self.policy.realm), ("charset", "UTF-8")]  # RFC 7617 §2.1
            else:
                extra = [("realm", self.policy.realm)]
            out.append(challenge.with_params(extra))
        return _distinct(out)

    def _token_params(self, scheme: str) -> list[tuple[str, str]] | None:
        """A bearer-token challenge's parameters, the machine-read ones first
        and error_description last: clients that search the whole header
        for `scope=` must find ours before any text. None: no challenge."""
        credentials, status, error = self.credentials, self.status, self.error
        extra: list[tuple[str, str]] = [("realm", self.policy.realm)]
        # R7: no error unless the request carried a credential of this kind.
        carried = credentials.scheme == scheme or (
            credentials.source == "query" and scheme == "Bearer"
        )
        conveys = error is not None and (carried or status != 401)
        where = self.where
        scope = " ".join(where.scopes) if where is not None else ""
        if conveys:
            extra.append(("error", str(error)))
            facts = self.failure.facts
            if error == "insufficient_scope":
                # Every scope required (RFC 6750 §3.1; MCP clients re-authorize
                # with the union of theirs and these).
                scope = str(facts.get("required_scope") or scope)
            elif status != 401:
                scope = ""
            if error == "insufficient_user_authentication":
                extra.extend(_step_up_params(facts))
        elif status != 401:
            return None
        if scope:
            extra.append(("scope", scope_value(scope.split())))
        if where is not None and where.metadata and (status == 401 or scope):
            extra.append(("resource_metadata", where.metadata))  # RFC 9728 §5.1
        if conveys and self.description:
            extra.append(("error_description", self.description))
        return extra


def _step_up_params(facts: Mapping[str, object]) -> list[tuple[str, str]]:
    """RFC 9470 §3: `acr_values` (space-separated) and `max_age` (seconds)."""
    params = []
    acr = facts.get("acr_values")
    if isinstance(acr, list | tuple):
        acr = " ".join(str(value) for value in acr)
    if isinstance(acr, str) and acr.strip():
        params.append(("acr_values", scope_value(acr.split())))
    max_age = facts.get("max_age")
    if isinstance(max_age, int) and not isinstance(max_age, bool) and max_age >= 0:
        params.append(("max_age", str(max_age)))
    return params


# The log fields that belong to the one request, in the order written
# (between the refusal's head and tail fields).
REQUEST_LOG_FIELDS = ("path", "query", "client", "user_agent", "origin", "request_id")


def _present(fields: dict[str, object], omit: frozenset[str]) -> dict[str, object]:
    return {key: value for key, value in fields.items() if value is not None and key not in omit}


# A time as the diagnosis writes it (RFC 3339, UTC): ASCII digits only.
_TIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def _log_parts(
    policy: Policy,
    view: RequestView,
    failure: Failure,
    credentials: Credentials,
    status: int,
    app_status: int,
) -> tuple[dict[str, object], dict[str, object]]:
    """The log fields that follow from the refusal's shape: those written
    before the request's own fields, and those after."""
    secrets = credentials.secrets
    head: dict[str, object] = {"reason": failure.reason.value, "status": status}
    if app_status != status:
        head["app_status"] = app_status
    head["owasp_event"] = REASONS[failure.reason].log_event
    # A first word that names no scheme is a secret: "other", never the word.
    head["scheme"] = "other" if credentials.unnamed_scheme else credentials.scheme
    head["credential_source"] = credentials.source
    head["method"] = bounded(view.method, 16)
    tail: dict[str, object] = {
        "credential_fingerprint": (
            fingerprint(policy.fingerprint_key, credentials.secret) if credentials.secret else None
        ),
        "diagnosis": failure.source,
    }
    # The body's walk: bounded in depth, items and values, every text through
    # the sink, only numbers JSON (and the log's renderer) can say exactly.
    walk = FactWalk(secrets)
    for key, value in {**failure.facts, **failure.log_facts}.items():
        if key not in head and key not in tail and key not in REQUEST_LOG_FIELDS:
            if type(value) is str and _TIME_RE.fullmatch(value):
                tail[key] = value if not holds_secret_form(value, secrets) else REDACTED
            else:
                tail[key] = walk.value(value, 1)
    omit = policy.log_omit
    return _present(head, omit), _present(tail, omit)


# `redact_query` keeps whole pairs up to 2048 characters, then "...".
_QUERY_CHARS = 2056


def request_log_fields(
    policy: Policy,
    view: RequestView,
    request_id: str,
    clean: Callable[[str], str],
    secrets: Callable[[], tuple[str, ...]],
) -> dict[str, object]:
    """The log fields of this one request: where it went, from whom, and its
    id. `clean` scrubs what the client wrote of the request's secrets;
    `secrets` gives them, asked only when a bound cut a text (to mask a
    secret cut in two).

    Each text is bounded before `clean` sees it (a 64 KB user agent costs
    what a 1 KB one does, before the flood gate), then shortened to its
    display limit (`bounded_clean`)."""
    fields: dict[str, object] = {
        "path": bounded_clean(view.path, 512, clean, secrets),
        # A secret-named parameter is masked by name; a request secret under
        # another name ("?q=<the bearer token>") by `clean`.
        "query": bounded_clean(redact_query(view.query), _QUERY_CHARS, clean, secrets) or None,
        "client": bounded(client_address(policy.trusted_proxies, view) or "", 64) or None,
        "user_agent": bounded_clean(view.get("user-agent") or "", 256, clean, secrets) or None,
        "origin": bounded_clean(view.get("origin") or "", 256, clean, secrets) or None,
        "request_id": request_id,
    }
    return _present(fields, policy.log_omit)


def refuse(
    policy: Policy,
    view: RequestView,
    credentials: Credentials,
    answer: AppAnswer,
    *,
    declared: Declared | None,
    now: float,
    request_id: str,
    instance: str | None,
    verdict: Verified | Rejected | None = None,
) -> Refusal | None:
    """The refusal's shape: everything `decide` answers but the request's own parts."""
    rule = (
        policy.require.match(view.method, view.route if view.route is not None else view.path)
        if policy.require.given
        else None
    )
    failure = diagnose(
        policy=policy,
        credentials=credentials,
        answer=answer,
        declared=declared,
        now=now,
        required=rule.scopes if rule is not None else None,
        verdict=verdict,
    )
    if failure is None:
        return None
    status = _status(policy, failure, answer.status)
    error = REASONS[failure.reason].error
    if (
        error in ("invalid_token", "invalid_request")
        and credentials.scheme not in TOKEN_SCHEMES
        and credentials.source != "query"
        and (error == "invalid_token" or credentials.scheme is not None)
    ):
        # RFC 6750 codes describe bearer tokens, not Basic, DRF's "Token" or
        # API keys: no code in the body where no challenge can carry one.
        error = None
    secrets = credentials.secrets
    # "minimal" says no more in the challenge than in the body.
    text = detail(failure, secrets)
    description = rfc6750_text(text) if policy.explain != "minimal" else None
    if description and description != text:
        # Folded to ASCII after the body's text passed the sink (a lookalike
        # of a secret becomes the secret, a control character splitting one
        # goes): scanned once more, for the body and the challenge alike.
        description = scrub(description, secrets, entropy=False)
    body = problem_body(
        policy,
        failure,
        status=status,
        error=error,
        request_id=request_id,
        instance=instance,
        secrets=secrets,
        app_status=answer.status,
        text=text,
        description=description,
    )
    where = (
        _where(policy, view, rule, secrets)
        if policy.protected_resource is not None
        or policy.resource_metadata is not None
        or rule is not None
        else None
    )
    before = [
        ("www-authenticate", challenge.render())
        for challenge in _challenges(
            policy, failure, status, error, credentials, description, where
        )
    ]
    before.append(("content-type", CONTENT_TYPE))
    before.extend(_waiting_headers(failure))
    after = (
        ("cache-control", "no-store"),  # R22, R23
        ("pragma", "no-cache"),  # HTTP/1.0 caches
        ("vary", merge_vary(answer.get_all("vary"))),
    )
    head, tail = _log_parts(policy, view, failure, credentials, status, answer.status)
    # An AuthFailure the app raised is its own answer: nothing to report.
    misconfig = _misconfig(answer, failure, view) if declared is None else ()
    return Refusal(status, tuple(before), after, body, head, tail, misconfig)


_WAITED_ON = frozenset(
    {Reason.VERIFIER_UNAVAILABLE, Reason.TOO_MANY_FAILURES, Reason.THROTTLE_UNAVAILABLE}
)
_LIMITED_BY = frozenset({"client", "credential"})


def _seconds(value: object, ceiling: int) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return min(max(value, 1), ceiling)
    return None


def _waiting_headers(failure: Failure) -> list[tuple[str, str]]:
    """Retry-After (RFC 9110 §10.2.3; R23) for the answers that say "later";
    for too_many_failures also the limit that refused, as RateLimit-Policy
    and RateLimit (R29): the policy's name, its quota `q` in window `w`,
    `r` left of it (none) and `t` seconds to wait."""
    if failure.reason not in _WAITED_ON:
        return []
    facts = failure.facts
    retry = _seconds(facts.get("retry_after"), 86_400)
    if retry is None:
        return []
    headers = [("retry-after", str(retry))]
    by = facts.get("limited_by")
    quota = _seconds(facts.get("limit"), 1_000_000)
    window = _seconds(facts.get("window_seconds"), 7 * 86_400)
    if failure.reason is Reason.TOO_MANY_FAILURES and by in _LIMITED_BY and quota and window:
        headers += ratelimit_fields([Quota(f"failures-per-{by}", quota, window, 0, retry)])
    return headers


def passthrough(
    policy: Policy, answer: AppAnswer, secrets: tuple[str, ...] | None = None
) -> list[tuple[str, str]]:
    """The app's headers a failure response keeps, with `secrets` (the
    request's) masked in them when given: an app may echo what the client
    sent into a header of its own."""
    kept = [
        (key, value)
        for key, value in answer.headers
        if key not in _REPLACED and key != policy.request_id_header
    ]
    if secrets is not None:
        kept = [
            (key, kept_value(key, value, secrets)) for key, value in kept if kept_name(key, secrets)
        ]
    return kept


# The app's session state is its own: a Set-Cookie that sends the client's
# own cookie back (a refreshed session) must arrive intact, or the refusal
# would log the client out.
_KEPT_AS_IS = frozenset({"set-cookie"})
# Longer values are only searched for the request's secrets, not for shapes.
_KEPT_SCRUB_CHARS = 8192


_ESCAPE_RE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\(.)")


def _echoes_escaped(value: str, secrets: tuple[str, ...]) -> bool:
    """Whether `value`, with JSON `\\uXXXX` escapes and quoted-pairs undone,
    holds one of `secrets` (an app that echoes the token escaped)."""
    plain = _ESCAPE_RE.sub(lambda m: chr(int(m[1], 16)) if m[1] else m[2], value)
    return plain != value and (
        holds_secret_form(plain, secrets) or mask_pieces(plain, secrets, REDACTED) != plain
    )


def log_clean(text: str, secrets: tuple[str, ...]) -> str:
    """A request text (path, query, user agent, origin) for the log: the
    request's secrets and credential shapes masked (`scrub_cached`), and a
    run sharing 19 characters with a secret masked whole (`mask_pieces`)."""
    return mask_pieces(scrub_cached(text, secrets), secrets, REDACTED)


def kept_name(name: str, secrets: tuple[str, ...]) -> bool:
    """Whether an app header's name may leave: not one that holds a secret
    of the request (`X-<token>: 1`), in any case (servers lower-case names),
    nor one longer than any header name has reason to be."""
    if len(name) > _ID_CHECK_CHARS or holds_secret_form(name, secrets):
        return False
    lowered = _pieces(name.lower())
    left = _ID_WORK_CHARS
    for secret in sorted(secrets, key=len):
        if left <= 0:
            break
        head = secret[:left].lower()
        left -= len(head)
        if _shares_piece(lowered, head):
            return False
    return True


def kept_value(name: str, value: str, secrets: tuple[str, ...]) -> str:
    """An app header kept on a refusal, with the request's secrets masked,
    whole or in pieces (an app that echoes the first 4096 characters)."""
    if name in _KEPT_AS_IS:
        return value
    if "\\" in value and _echoes_escaped(value[:_KEPT_SCRUB_CHARS], secrets):
        return REDACTED  # `\u005a...` or a quoted-pair: the secret, escaped
    if len(value) <= _KEPT_SCRUB_CHARS:
        # Also by shape: the app may echo a credential the request carried
        # where we do not read one (`Authentication: Bearer ...`, a proxy's
        # JWT assertion header). Not by parameter name: `?code=` in the app's
        # own Location or `page_token=` in its Link are the app's to send.
        value = scrub(value, secrets, entropy=False, params=False)
    elif any(len(secret) >= 4 and secret in value for secret in secrets):
        for secret in secrets:
            if len(secret) >= 4:
                value = value.replace(secret, REDACTED)
    return mask_pieces(value, secrets, REDACTED)


def response_headers(
    policy: Policy,
    refusal: Refusal,
    app_headers: list[tuple[str, str]],
    *,
    origin: bool,
    content_length: str,
    request_id: str,
) -> list[tuple[str, str]]:
    """The failure response's header fields, the app's kept ones first."""
    headers = app_headers + list(refusal.before_length)
    headers.append(("content-length", content_length))
    headers += refusal.after_length
    if policy.request_id_header:
        headers.append((policy.request_id_header, request_id))
    if policy.cors is None and origin:
        # The app's CORS layer (or none) decides who reads this; we make sure
        # whoever may read it can read the challenge (R21). With ``cors=``
        # the adapter's CORS step does this for every response.
        headers = expose_on_failure(headers, _also_exposed(policy))
    return headers


def assemble(
    policy: Policy,
    refusal: Refusal,
    view: RequestView,
    answer: AppAnswer,
    request_id: str,
    body: bytes,
    request_fields: Mapping[str, object],
    secrets: tuple[str, ...] = (),
) -> Decision:
    """The decision for this request: the refusal with its own parts filled
    in. `secrets` (the request's) are masked in the app's kept headers."""
    headers = response_headers(
        policy,
        refusal,
        passthrough(policy, answer, secrets),
        origin=request_origin(view.get_all("origin")) is not None,
        content_length=str(len(body)),
        request_id=request_id,
    )
    log = {**refusal.log_head, **request_fields, **refusal.log_tail}
    return finished(policy, refusal, answer, headers, body, log)


def finished(
    policy: Policy,
    refusal: Refusal,
    answer: AppAnswer,
    headers: list[tuple[str, str]],
    body: bytes,
    log: dict[str, object],
    raw_headers: list[tuple[bytes, bytes]] | None = None,
) -> Decision:
    """The one place a refusal becomes a `Decision`, whichever way it was
    reached (`decide`'s rule or the refusal memo). In report-only mode the
    app's answer goes out as it was and the log says what would change.
    (`core.fallback` builds its own on purpose: it stands in when this path
    raised, and shares none of it.)"""
    if policy.report_only:
        return Decision(
            answer.status,
            answer.headers,
            b"",
            Event.REPORT_ONLY.value,
            {
                **log,
                "would_status": refusal.status,
                "status": answer.status,
                "would_change": _changes(answer, refusal.status, headers, body),
            },
            rewrite=False,
            misconfig=refusal.misconfig,
        )
    return Decision(
        refusal.status,
        tuple(headers),
        body,
        Event.THROTTLED.value if refusal.status == 429 else Event.FAILURE.value,
        log,
        misconfig=refusal.misconfig,
        raw_headers=raw_headers,
    )


def decide(
    policy: Policy,
    view: RequestView,
    answer: AppAnswer,
    *,
    declared: Declared | None = None,
    now: float | None = None,
    minted: tuple[str, str] | None = None,
    verdict: Verified | Rejected | None = None,
) -> Decision | None:
    """Decide the failure response for the app's `answer` to `view`.
    `minted`: the request id and `instance` already minted for it, when
    neither the app's answer nor the request gave one."""
    credentials = parse_credentials(
        view,
        api_key_headers=policy.api_key_headers,
        session_cookies=policy.session_cookies,
        app_schemes=app_schemes(answer.get_all("www-authenticate")),
        schemes=policy.schemes,
    )
    incoming = incoming_request_id(policy, view)
    # With the secrets at hand an id is refused more often, never taken more
    # often: one minted without them stands.
    rid, instance = minted or request_id(
        policy, incoming, answer, credentials.secrets, credentials.secret
    )
    credentials = refused_id_is_secret(credentials, incoming, rid)
    refusal = refuse(
        policy,
        view,
        credentials,
        answer,
        declared=declared,
        now=time.time() if now is None else now,
        request_id=rid,
        instance=instance,
        verdict=verdict,
    )
    if refusal is None:
        return None
    secrets = credentials.secrets
    fields = request_log_fields(
        policy, view, rid, lambda text: log_clean(text, secrets), lambda: secrets
    )
    return assemble(policy, refusal, view, answer, rid, refusal.body, fields, secrets)


def _changes(
    answer: AppAnswer, status: int, headers: list[tuple[str, str]], body: bytes
) -> list[str]:
    """What report-only mode would have changed on the wire."""
    changes = ["status"] if status != answer.status else []
    for name in ("www-authenticate", "content-type", "cache-control", "vary"):
        ours = [value for key, value in headers if key == name]
        if ours != answer.get_all(name):
            changes.append(name)
    if body != answer.body:
        changes.append("body")
    return changes


def _also_exposed(policy: Policy) -> tuple[str, ...]:
    return (policy.request_id_header,) if policy.request_id_header else ()


def _misconfig(answer: AppAnswer, failure: Failure, view: RequestView) -> tuple[str, ...]:
    """What is wrong with the app's own answer, for `auth.misconfig`."""
    kinds = []
    if is_preflight(view.method, view.get("access-control-request-method")):
        # R20: the app's auth ran on a preflight, which never carries
        # credentials; the browser will never send the real request.
        kinds.append("preflight_refused")
    if answer.get_all("access-control-allow-origin") == ["*"] and [
        value.strip().lower() for value in answer.get_all("access-control-allow-credentials")
    ] == ["true"]:
        kinds.append("cors_wildcard_with_credentials")  # R19
    if answer.get_all("www-authenticate") and failure.challenges is None:
        kinds.append("app_challenge_invalid")
    if answer.closed:
        return tuple(kinds)  # a close carries no header: nothing more to say of it
    if answer.status == 401 and not answer.get_all("www-authenticate"):
        kinds.append("401_without_challenge")
    if answer.status == 403 and failure.reason in (
        Reason.CREDENTIALS_MISSING,
        Reason.SCHEME_NOT_ACCEPTED,
    ):
        kinds.append("403_for_missing_credentials")
    if any(_CACHEABLE_RE.search(v) for v in answer.get_all("cache-control")):
        kinds.append("cacheable_failure")
    return tuple(kinds)
