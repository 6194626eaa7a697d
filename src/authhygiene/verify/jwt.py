"""A JWT verifier with the app's own keys: says exactly why a token fails.

pyjwt does the cryptography. What is ours: the configuration is checked when
it is built (an algorithm allow-list without `none`, keys of the kind each
algorithm needs, so an RSA public key is never an HMAC secret), every input
is bounded before any base64 or JSON work, and every way a token can fail,
every exception pyjwt can raise included, maps to one reason with the facts
that explain it (expected and got, both safe to show). Verifying never
raises.

The middleware takes one as `verify=` (explain mode: `core.diagnose`); the
app's own auth code may call `verify` and raise `Rejected.failure()`.
Static keys only, for now: PEM text, key objects, a JWK or a JWK Set, or a
mapping of `kid` to key.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, cast

import jwt
from jwt.algorithms import get_default_algorithms
from jwt.types import Options

from authhygiene.core.credentials import Credentials
from authhygiene.core.diagnose import time_reason
from authhygiene.core.jwt_peek import (
    MAX_TOKEN_CHARS,
    JwtFacts,
    fact_text,
    read_header,
    read_token,
)
from authhygiene.core.reasons import Problem, Reason
from authhygiene.core.verdict import Rejected as _Rejected
from authhygiene.core.verdict import Verified
from authhygiene.errors import AuthFailure
from authhygiene.verify.keys import (
    HMAC_ALGORITHMS,
    KeySource,
    PreparedKey,
    StaticKeys,
    prepared_keys,
)
from authhygiene.verify.token_cache import VerifiedCache

if TYPE_CHECKING:
    from jwt.types import Options  # pyjwt 2.10 and later; read by mypy only

__all__ = ["JWT", "Rejected", "Verified"]

_KNOWN = frozenset(get_default_algorithms()) - {"none"}
# The clock-skew window of a time failure's facts (the middleware's
# default `clock_skew_window`; under the middleware its own takes over).
_SKEW_WINDOW = 120
_MAX_TOKEN_BYTES = 8192
_EXAMPLES = {"algorithms": ["RS256"], "required_claims": ["exp"]}
_NAME_RE = re.compile(r"[A-Za-z0-9+_-]{1,16}")
# A media type as `typ` carries it (RFC 7515 §4.1.9): `at+jwt`, `application/at+jwt`.
_TYPE_RE = re.compile(r"[A-Za-z0-9.+_-]{1,64}(?:/[A-Za-z0-9.+_-]{1,64})?")
_BAD_SIGNATURE = Reason.TOKEN_SIGNATURE_INVALID
# The dataclass field's default, replaced in `__post_init__` by the instance's own.
_NO_CACHE = VerifiedCache(seconds=0, max_entries=1, max_bytes=0)


@dataclass(frozen=True, slots=True)
class Rejected(_Rejected):
    """A token that did not verify, and why (`core.verdict.Rejected`)."""

    def failure(self) -> AuthFailure:
        """The `AuthFailure` to raise in the app's own auth code (a FastAPI
        dependency, a Flask decorator): the middleware then answers with
        this reason and these facts instead of guessing from the app's words."""
        failure = AuthFailure(self.reason)
        failure.facts = dict(self.facts)
        return failure


@dataclass(frozen=True, eq=False)
class JWT:
    """Verify JWT access tokens with the app's own keys.

    `algorithms` is required and never holds `none`; each algorithm needs a
    key of its kind among `keys` (an HMAC secret of at least the hash's
    size for HS256/384/512, a public key for the others). `leeway` (seconds)
    absorbs clock skew for `exp`, `nbf` and `iat`; `max_age` (seconds since
    `iat`) refuses old tokens even before they expire."""

    # The scheme this verifier reads, for the challenges enforce mode sends.
    scheme: ClassVar[str] = "Bearer"
    algorithms: Sequence[str]
    keys: Any = field(default=None, repr=False)  # an HMAC secret must not reach a repr
    issuer: str | Sequence[str] | None = None
    audience: str | Sequence[str] | None = None
    leeway: int = 60
    required_claims: Sequence[str] = ()
    token_type: str | None = None
    max_token_bytes: int = _MAX_TOKEN_BYTES
    max_age: int | None = None
    jwks_url: str | None = field(default=None, repr=False)  # its query may hold a key
    cache_seconds: int = 300
    cache_entries: int = 10_000
    _source: KeySource = field(init=False, repr=False, compare=False, default=StaticKeys(()))
    _cache: VerifiedCache = field(init=False, repr=False, compare=False, default=_NO_CACHE)
    _heads: dict[str, tuple[str, object] | Rejected] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    # pyjwt's options, built once (pyjwt only reads them).
    _options: Options = field(init=False, repr=False, compare=False, default_factory=dict)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        algorithms = _algorithms(self.algorithms)
        source = _source(self.keys, self.jwks_url, algorithms)
        _whole("leeway", self.leeway, 0, 3600, "whole seconds from 0 to 3600")
        _whole(
            "max_token_bytes",
            self.max_token_bytes,
            64,
            MAX_TOKEN_CHARS,
            f"a byte count between 64 and {MAX_TOKEN_CHARS} (default {_MAX_TOKEN_BYTES})",
        )
        if self.max_age is not None:
            _whole("max_age", self.max_age, 1, 10**9, "whole seconds above 0, or None")
        _whole(
            "cache_seconds",
            self.cache_seconds,
            0,
            86_400,
            "whole seconds from 0 (no cache) to 86400",
        )
        _whole("cache_entries", self.cache_entries, 1, 10**6, "a count from 1 to 1000000")
        for name in ("issuer", "audience"):
            _names_or_none(name, getattr(self, name))
        if self.token_type is not None and not (
            isinstance(self.token_type, str) and _TYPE_RE.fullmatch(self.token_type)
        ):
            raise ValueError(
                "authhygiene: JWT token_type is the `typ` access tokens carry, e.g. 'at+jwt'"
                " (RFC 9068), or None."
            )
        set_ = object.__setattr__
        set_(self, "algorithms", algorithms)
        set_(self, "required_claims", _texts("required_claims", self.required_claims))
        set_(self, "_source", source)
        set_(
            self,
            "_options",
            cast(
                "Options",
                {
                    "require": list(self.required_claims),
                    "verify_aud": self.audience is not None,
                    "verify_iss": self.issuer is not None,
                },
            ),
        )
        set_(
            self,
            "_cache",
            VerifiedCache(
                seconds=self.cache_seconds,
                max_entries=self.cache_entries,
                # Each entry costs about its token's size: at most as many
                # bytes as a full cache of 2 KiB tokens would hold.
                max_bytes=self.cache_entries * 2048,
            ),
        )

    def credential(self, credentials: Credentials) -> str | None:
        """The Bearer token of the Authorization header (RFC 6750 §2.1),
        the one credential this verifier reads."""
        if credentials.scheme == "Bearer" and credentials.source == "header":
            return credentials.token
        return None

    def verify(self, token: str, now: float | None = None) -> Verified | Rejected:
        """Verify `token`; never raises. A token that verified before is
        answered from the cache until it may no longer be trusted
        (`token_cache`). `now` (seconds since the epoch) dates the cache and
        the facts of a time failure; pyjwt reads its own clock."""
        moment = time.time() if now is None else now
        cache = self._cache
        digest = None
        if len(token) <= self.max_token_bytes:  # never hash what is refused unread
            digest = cache.digest(token)
            hit = cache.get(digest, moment)
            if hit is not None:
                return hit
        try:
            outcome = self._verify(token, int(moment))
        except Exception:  # whatever a library raises is a rejected token
            return Rejected(Reason.CREDENTIALS_INVALID, {"problem": Problem.NOT_A_JWT.value})
        if digest is None or not isinstance(outcome, Verified):
            return outcome  # a failure is never kept: the next try verifies again
        return cache.put(digest, outcome, moment, len(token), self._not_after(outcome))

    def use_logger(self, logger: Any) -> None:
        """Where the key source's trouble is logged (the middleware hands
        its logger here at start-up)."""
        use_logger = getattr(self._source, "use_logger", None)
        if callable(use_logger):
            use_logger(logger)

    def needs_io(self, token: str, now: float | None = None) -> bool:
        """True when verifying `token` now would wait on the network (its
        keys are still to be fetched): the ASGI adapter then verifies in a
        worker thread, never on the event loop."""
        needs_fetch = getattr(self._source, "needs_fetch", None)
        if needs_fetch is None or len(token) > self.max_token_bytes:
            return False
        moment = time.time() if now is None else now
        if self._cache.get(self._cache.digest(token), moment):
            return False
        head = self._heads.get(token.partition(".")[0]) or self._judged_header(token)
        if isinstance(head, Rejected):
            return False  # refused by its header alone: no key needed
        return bool(needs_fetch(head[1], moment))

    @property
    def may_block(self) -> bool:
        """Whether verifying can ever wait on the network (`jwks_url=`)."""
        return hasattr(self._source, "needs_fetch")

    def _not_after(self, verified: Verified) -> float | None:
        if self.max_age is None:
            return None
        iat = _number(verified.claims.get("iat"))
        return None if iat is None else iat + self.max_age + self.leeway

    def _verify(self, token: str, now: int) -> Verified | Rejected:
        if len(token) > self.max_token_bytes or not token.isascii():
            size = len(token.encode("utf-8", "surrogatepass"))
            if size > self.max_token_bytes:
                # Before any base64 or JSON work (pyjwt has no size cap).
                return Rejected(
                    Reason.TOKEN_TOO_LARGE,
                    {"token_bytes": size, "max_token_bytes": self.max_token_bytes},
                )
        # The header alone: the payload is pyjwt's to read, and ours only
        # when a failure needs its facts (`_decode`).
        head = self._heads.get(token.partition(".")[0])
        if head is None:
            head = self._judged_header(token)
        if isinstance(head, Rejected):
            return head
        alg, kid = head
        candidates = self._source.candidates(alg, kid, now)
        if isinstance(candidates, _Rejected):
            return Rejected(candidates.reason, candidates.facts)
        last: Rejected | None = None
        for key in candidates:
            outcome = self._decode(token, key, alg, now)
            if not isinstance(outcome, Rejected) or outcome.reason is not _BAD_SIGNATURE:
                return outcome
            last = outcome  # another key of the same kind may have signed it
        return last or Rejected(Reason.TOKEN_SIGNATURE_INVALID)

    def _judged_header(self, token: str) -> tuple[str, object] | Rejected:
        """The token's `alg` and `kid`, or why its header alone refuses it;
        remembered by the header's text (an issuer's tokens share a handful
        of headers, and reading one costs more than an HMAC check). A
        header is no secret; the memo is bounded in count and size."""
        header = read_header(token)
        if header is None:
            return Rejected(Reason.CREDENTIALS_INVALID, {"problem": Problem.NOT_A_JWT.value})
        judged = self._header_rejection(header) or (str(header["alg"]), header.get("kid"))
        segment = token.partition(".")[0]
        if len(segment) <= _HEADER_CHARS_KEPT:
            heads = self._heads
            if len(heads) >= _HEADERS_KEPT:
                heads.clear()  # rare: a flood of distinct headers starts over
            heads[segment] = judged
        return judged

    def _header_rejection(self, header: Mapping[str, object]) -> Rejected | None:
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            return Rejected(
                Reason.TOKEN_ALGORITHM_REJECTED,
                {
                    "alg": fact_text(alg),
                    "accepted_algorithms": list(self.algorithms),
                },
            )
        crit = header.get("crit")
        if crit is not None:
            # RFC 7515 §4.1.11: we understand no extension, so any listed is
            # one we cannot honour.
            return Rejected(
                Reason.CREDENTIALS_INVALID, {"problem": Problem.CRIT_NOT_UNDERSTOOD.value}
            )
        if self.token_type is not None and not _same_type(header.get("typ"), self.token_type):
            typ = header.get("typ")
            return Rejected(
                Reason.TOKEN_TYPE_REJECTED,
                {
                    "typ": fact_text(typ),
                    "expected_typ": self.token_type,
                },
            )
        return None

    def _decode(self, token: str, key: PreparedKey, alg: str, now: int) -> Verified | Rejected:
        try:
            claims = jwt.decode(
                token,
                key.keys[alg],
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options=self._options,
            )
        except jwt.ExpiredSignatureError:
            return _timed(Reason.TOKEN_EXPIRED, _facts(token), now)
        except (jwt.ImmatureSignatureError, jwt.InvalidIssuedAtError):
            return _timed(Reason.TOKEN_NOT_YET_VALID, _facts(token), now)
        except jwt.InvalidAudienceError:
            return Rejected(
                Reason.TOKEN_AUDIENCE_MISMATCH,
                {
                    "expected_audience": _listed(self.audience),
                    "token_audience": list(_facts(token).aud),
                },
            )
        except jwt.InvalidIssuerError:
            return Rejected(
                Reason.TOKEN_ISSUER_MISMATCH,
                {"expected_issuer": _listed(self.issuer), "token_issuer": _facts(token).iss},
            )
        except jwt.MissingRequiredClaimError as missing:
            return Rejected(
                Reason.CREDENTIALS_INVALID,
                {"problem": Problem.CLAIM_MISSING.value, "missing_claim": fact_text(missing.claim)},
            )
        except jwt.InvalidSignatureError:
            return Rejected(Reason.TOKEN_SIGNATURE_INVALID)
        except jwt.InvalidAlgorithmError:
            return Rejected(
                Reason.TOKEN_ALGORITHM_REJECTED,
                {"alg": fact_text(alg), "accepted_algorithms": list(self.algorithms)},
            )
        except jwt.DecodeError:
            return Rejected(Reason.CREDENTIALS_INVALID, {"problem": Problem.NOT_A_JWT.value})
        except jwt.PyJWTError:
            return Rejected(Reason.CREDENTIALS_INVALID)  # e.g. a kid that is no string
        return self._aged(claims, now)

    def _aged(self, claims: dict[str, Any], now: int) -> Verified | Rejected:
        # Read-only, so no one handed a cached token's claims can change
        # them for the next (pyjwt's dict is fresh: no copy).
        if self.max_age is None:
            return Verified(MappingProxyType(claims))
        iat = _number(claims.get("iat"))  # pyjwt has checked it is a number
        if iat is None:
            return Rejected(
                Reason.CREDENTIALS_INVALID,
                {"problem": Problem.CLAIM_MISSING.value, "missing_claim": "iat"},
            )
        age = now - iat
        if age > self.max_age + self.leeway:
            return Rejected(
                Reason.TOKEN_EXPIRED,
                {"issued_seconds_ago": age, "max_age": self.max_age},
            )
        return Verified(MappingProxyType(claims))


def _source(keys: object, jwks_url: object, algorithms: tuple[str, ...]) -> KeySource:
    """Where the keys come from: given (`keys=`), or the issuer's JWK Set
    (`jwks_url=`), never both."""
    if (keys is None) == (jwks_url is None):
        raise ValueError(
            "authhygiene: JWT needs keys= (the HMAC secret, or the issuer's public keys as PEM"
            " or JWK) or jwks_url= (the issuer's JWK Set, e.g."
            " 'https://issuer.example/.well-known/jwks.json'), one of the two."
        )
    if jwks_url is not None:
        if not isinstance(jwks_url, str):
            raise ValueError(f"authhygiene: JWT jwks_url is a URL string; got {_shown(jwks_url)}.")
        if any(name in HMAC_ALGORITHMS for name in algorithms):
            raise ValueError(
                "authhygiene: JWT algorithms hold an HMAC algorithm, but a JWK Set serves public"
                " keys only; give the HMAC secret as keys=, or list the issuer's algorithms"
                " (e.g. ['RS256'])."
            )
        from authhygiene.verify.jwks import RemoteKeys

        return RemoteKeys(jwks_url, algorithms)
    return StaticKeys(prepared_keys(keys, algorithms))


def _whole(name: str, value: object, low: int, high: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"authhygiene: JWT {name} is {what}; got {_shown(value)}.")


# Judged headers kept per verifier (`JWT._judged_header`).
_HEADERS_KEPT = 256
_HEADER_CHARS_KEPT = 512


def _facts(token: str) -> JwtFacts:
    """The unverified token's facts, read only for a failure that names them."""
    read = read_token(token)
    return read[1] if read is not None else _NO_FACTS


_NO_FACTS = JwtFacts(None, None, None, None, None, None)


def _timed(reason: Reason, facts: JwtFacts, now: int) -> Rejected:
    """A time failure with the facts the unverified look gives (when, how
    far off, whether clock skew is likely): pyjwt's leeway is past."""
    timed = time_reason(facts, now, _SKEW_WINDOW)
    return Rejected(reason, timed[1] if timed is not None and timed[0] is reason else {})


def _same_type(typ: object, expected: str) -> bool:
    """RFC 7515 §4.1.9: `typ` compares case-insensitively, and the
    `application/` prefix may be left out (RFC 9068 §2.1: `at+jwt`)."""
    if not isinstance(typ, str):
        return False

    def bare(value: str) -> str:
        value = value.lower()
        return value.removeprefix("application/")

    return bare(typ) == bare(expected)


def _shown(value: object) -> str:
    """A value for an error message: a number as it is, anything else by its
    type only (a key passed in the wrong place must not reach a traceback)."""
    return repr(value) if type(value) in (int, float) else f"a {type(value).__name__}"


def _listed(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _texts(name: str, values: object) -> tuple[str, ...]:
    # The values are never echoed: a secret passed in the wrong place (pyjwt's
    # `decode(token, key, algorithms)` order) must not reach a traceback.
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise ValueError(
            f"authhygiene: JWT {name} is a list of names, e.g. {_EXAMPLES.get(name, [])!r}; got a"
            f" {type(values).__name__} (was a key given here? keys= takes keys)."
        )
    if not all(isinstance(value, str) and value for value in values):
        raise ValueError(f"authhygiene: JWT {name} holds non-empty names only.")
    return tuple(values)


def _names_or_none(name: str, value: object) -> None:
    if value is None or (isinstance(value, str) and value):
        return
    if (
        isinstance(value, Sequence)
        and not isinstance(value, str | bytes)
        and value
        and all(isinstance(item, str) and item for item in value)
    ):
        return
    raise ValueError(
        f"authhygiene: JWT {name} is a string, a list of strings, or None;"
        f" got a {type(value).__name__}."
    )


def _algorithms(algorithms: object) -> tuple[str, ...]:
    names = _texts("algorithms", algorithms)
    if not names:
        raise ValueError(
            "authhygiene: JWT needs algorithms, the ones your issuer signs with,"
            " e.g. algorithms=['RS256']."
        )
    if any(name.lower() == "none" for name in names):
        raise ValueError(
            "authhygiene: JWT algorithms may never hold 'none' (an unsigned token"
            " proves nothing); list the algorithms your issuer signs with."
        )
    unknown = [name for name in names if name not in _KNOWN]
    if unknown:
        # Only what looks like an algorithm's name is repeated (see `_texts`).
        shown = [name if _NAME_RE.fullmatch(name) else "<not a name>" for name in unknown]
        raise ValueError(
            f"authhygiene: JWT algorithms {shown!r} are not ones pyjwt verifies"
            f" (known: {sorted(_KNOWN)}; RS*, PS*, ES* and EdDSA need pyjwt[crypto])."
        )
    return names


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
