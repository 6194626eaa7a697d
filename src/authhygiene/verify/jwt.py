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
from typing import Any

import jwt
from jwt.algorithms import get_default_algorithms

from authhygiene.core.credentials import Credentials
from authhygiene.core.diagnose import time_reason
from authhygiene.core.jwt_peek import MAX_TOKEN_CHARS, JwtFacts, fact_text, read_token
from authhygiene.core.reasons import Problem, Reason
from authhygiene.core.verdict import Rejected as _Rejected
from authhygiene.core.verdict import Verified
from authhygiene.errors import AuthFailure
from authhygiene.verify.keys import KeySource, PreparedKey, StaticKeys, prepared_keys

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

    algorithms: Sequence[str]
    keys: Any
    issuer: str | Sequence[str] | None = None
    audience: str | Sequence[str] | None = None
    leeway: int = 60
    required_claims: Sequence[str] = ()
    token_type: str | None = None
    max_token_bytes: int = _MAX_TOKEN_BYTES
    max_age: int | None = None
    _source: KeySource = field(init=False, repr=False, compare=False, default=StaticKeys(()))

    def __post_init__(self) -> None:
        algorithms = _algorithms(self.algorithms)
        keys = StaticKeys(prepared_keys(self.keys, algorithms))
        if (
            isinstance(self.leeway, bool)
            or not isinstance(self.leeway, int)
            or not 0 <= self.leeway <= 3600
        ):
            raise ValueError(
                "authhygiene: JWT leeway is whole seconds from 0 to 3600;"
                f" got {_shown(self.leeway)}."
            )
        if (
            isinstance(self.max_token_bytes, bool)
            or not isinstance(self.max_token_bytes, int)
            or not 64 <= self.max_token_bytes <= MAX_TOKEN_CHARS
        ):
            raise ValueError(
                f"authhygiene: JWT max_token_bytes is a byte count between 64 and"
                f" {MAX_TOKEN_CHARS} (default {_MAX_TOKEN_BYTES});"
                f" got {_shown(self.max_token_bytes)}."
            )
        if self.max_age is not None and (
            isinstance(self.max_age, bool) or not isinstance(self.max_age, int) or self.max_age <= 0
        ):
            raise ValueError(
                "authhygiene: JWT max_age is whole seconds above 0, or None;"
                f" got {_shown(self.max_age)}."
            )
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
        set_(self, "_source", keys)

    def credential(self, credentials: Credentials) -> str | None:
        """The Bearer token of the Authorization header (RFC 6750 §2.1),
        the one credential this verifier reads."""
        if credentials.scheme == "Bearer" and credentials.source == "header":
            return credentials.token
        return None

    def verify(self, token: str, now: float | None = None) -> Verified | Rejected:
        """Verify `token`; never raises. `now` (seconds since the epoch) is
        only used for the facts of a time failure: pyjwt reads the clock."""
        moment = int(time.time() if now is None else now)
        try:
            return self._verify(token, moment)
        except Exception:  # whatever a library raises is a rejected token
            return Rejected(Reason.CREDENTIALS_INVALID, {"problem": Problem.NOT_A_JWT.value})

    def _verify(self, token: str, now: int) -> Verified | Rejected:
        size = len(token.encode("utf-8", "surrogatepass"))
        if size > self.max_token_bytes:
            # Before any base64 or JSON work (pyjwt has no size cap).
            return Rejected(
                Reason.TOKEN_TOO_LARGE,
                {"token_bytes": size, "max_token_bytes": self.max_token_bytes},
            )
        read = read_token(token)
        if read is None:
            return Rejected(Reason.CREDENTIALS_INVALID, {"problem": Problem.NOT_A_JWT.value})
        header, facts = read
        early = self._header_rejection(header)
        if early is not None:
            return early
        alg = str(header["alg"])
        candidates = self._source.candidates(alg, header.get("kid"), now)
        if isinstance(candidates, _Rejected):
            return Rejected(candidates.reason, candidates.facts)
        last: Rejected | None = None
        for key in candidates:
            outcome = self._decode(token, key, alg, facts, now)
            if not isinstance(outcome, Rejected) or outcome.reason is not _BAD_SIGNATURE:
                return outcome
            last = outcome  # another key of the same kind may have signed it
        return last or Rejected(Reason.TOKEN_SIGNATURE_INVALID)

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

    def _decode(
        self, token: str, key: PreparedKey, alg: str, facts: JwtFacts, now: int
    ) -> Verified | Rejected:
        try:
            claims = jwt.decode(
                token,
                key.keys[alg],
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={
                    "require": list(self.required_claims),
                    "verify_aud": self.audience is not None,
                    "verify_iss": self.issuer is not None,
                },
            )
        except jwt.ExpiredSignatureError:
            return _timed(Reason.TOKEN_EXPIRED, facts, now)
        except (jwt.ImmatureSignatureError, jwt.InvalidIssuedAtError):
            return _timed(Reason.TOKEN_NOT_YET_VALID, facts, now)
        except jwt.InvalidAudienceError:
            return Rejected(
                Reason.TOKEN_AUDIENCE_MISMATCH,
                {"expected_audience": _listed(self.audience), "token_audience": list(facts.aud)},
            )
        except jwt.InvalidIssuerError:
            return Rejected(
                Reason.TOKEN_ISSUER_MISMATCH,
                {"expected_issuer": _listed(self.issuer), "token_issuer": facts.iss},
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
                {"alg": facts.alg, "accepted_algorithms": list(self.algorithms)},
            )
        except jwt.DecodeError:
            return Rejected(Reason.CREDENTIALS_INVALID, {"problem": Problem.NOT_A_JWT.value})
        except jwt.PyJWTError:
            return Rejected(Reason.CREDENTIALS_INVALID)  # e.g. a kid that is no string
        return self._aged(claims, now)

    def _aged(self, claims: dict[str, Any], now: int) -> Verified | Rejected:
        if self.max_age is None:
            return Verified(claims)
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
        return Verified(claims)


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
