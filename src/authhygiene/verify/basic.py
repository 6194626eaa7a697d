"""A Basic verifier (RFC 7617): the app's own check, or a table of
password hashes, behind one answer that says nothing of which part failed.

What is ours: the credentials are bounded before any base64 work, decoded
strictly (RFC 7617 §2: base64 of `user-id ":" password`, split at the first
colon, UTF-8 with an ISO-8859-1 fallback for clients that send bytes that
are not UTF-8, as werkzeug and DRF read them), and a wrong user and a wrong
password get the same rejection. The app's `check` never makes `verify`
raise, and the claims of a pair that verifies hold the user only.

With `users=` the table does the check itself, and does it so that an
unknown user costs what a known one does: passwords are held as scrypt
hashes with a salt of their own (`Basic.hash_password`, plain text is
refused), the user is found by comparing with every user (no early exit),
and an unknown user's password is hashed against a dummy of the same cost,
so the time taken says nothing of whether the user exists. Verifying never
raises.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import inspect
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from authhygiene._trouble import Trouble
from authhygiene.core.credentials import Credentials
from authhygiene.core.reasons import Problem, Reason
from authhygiene.verify.jwt import Rejected, Verified

__all__ = ["Basic"]

# The credentials as sent (base64): a pair longer than this is nobody's.
MAX_TOKEN_CHARS = 4096
# Every check compares with every user: a bound keeps it cheap.
MAX_USERS = 1000
MAX_USER_CHARS = 256
MAX_PASSWORD_CHARS = 1024

# scrypt's cost, as `hash_password` writes it by default: n=2**14, r=8, p=1,
# the scrypt paper's parameters for interactive logins (16 MiB and some
# 40 ms a check on a current CPU). OWASP's Password Storage Cheat Sheet asks
# for n=2**17 today (128 MiB a check): pass n= to hash_password for more.
# Below 2**14 only for tests.
DEFAULT_N = 2**14
DEFAULT_R = 8
DEFAULT_P = 1
_MIN_N = 2**10
_MAX_MEMORY = 2**28  # 256 MiB a check, 128 * n * r
_SALT_BYTES = 16
_KEY_BYTES = 32
_SCHEME = "scrypt"
# scrypt$n=16384,r=8,p=1$<salt, base64>$<derived key, base64>
_HASH_RE = re.compile(
    r"scrypt\$n=([0-9]{1,8}),r=([0-9]{1,3}),p=([0-9]{1,3})"
    r"\$([A-Za-z0-9+/]{22,88}={0,2})\$([A-Za-z0-9+/]{43}=)"
)
# RFC 7617 §2: the user-id and the password contain no control characters.
_CTL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _wrong() -> Rejected:
    # One answer for a wrong user and a wrong password alike.
    return Rejected(Reason.CREDENTIALS_INVALID, {"problem": Problem.WRONG_USER_OR_PASSWORD.value})


def _malformed(problem: Problem) -> Rejected:
    return Rejected(Reason.CREDENTIALS_MALFORMED, {"problem": problem.value})


# What a client is told to wait when the app's check failed.
_RETRY_AFTER_S = 5


@dataclass(frozen=True, slots=True)
class _Cost:
    n: int
    r: int
    p: int

    @property
    def maxmem(self) -> int:
        # What OpenSSL needs (128 * r * (n + p + 2) bytes), and some room.
        return 128 * self.r * (self.n + self.p + 2) + 2**20

    def text(self) -> str:
        return f"n={self.n},r={self.r},p={self.p}"


@dataclass(frozen=True, slots=True)
class _Hashed:
    cost: _Cost
    salt: bytes
    key: bytes = field(repr=False)


def _derive(password: str, salt: bytes, cost: _Cost) -> bytes:
    # surrogatepass: whatever text comes in, hashing never raises on it.
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=cost.n,
        r=cost.r,
        p=cost.p,
        maxmem=cost.maxmem,
        dklen=_KEY_BYTES,
    )


def _whole(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _cost(given_n: object, given_r: object, given_p: object) -> _Cost | None:
    """The cost when scrypt takes it and it is within our bounds, else None."""
    n, r, p = _whole(given_n), _whole(given_r), _whole(given_p)
    if n < _MIN_N or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16:
        return None
    if 128 * n * r > _MAX_MEMORY:
        return None
    return _Cost(n, r, p)


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _parsed(text: str) -> _Hashed | None:
    match = _HASH_RE.fullmatch(text)
    if match is None:
        return None
    cost = _cost(int(match[1]), int(match[2]), int(match[3]))
    salt, key = _b64(match[4]), _b64(match[5])
    if cost is None or salt is None or key is None or not 16 <= len(salt) <= 64:
        return None
    return _Hashed(cost, salt, key)


@dataclass(frozen=True, eq=False, slots=True)
class _Table:
    """The `users=` check: every user compared, one scrypt whatever the user."""

    users: tuple[tuple[bytes, _Hashed], ...]
    dummy: _Hashed

    def __call__(self, user: str, password: str) -> bool:
        wanted = hashlib.sha256(user.encode("utf-8", "surrogatepass")).digest()
        found = False
        record = self.dummy
        for digest, hashed in self.users:
            # No early exit, no skipped comparison: the time depends on the
            # number of users, not on which one (or none) matched.
            same = hmac.compare_digest(digest, wanted)
            found |= same
            record = hashed if same else record
        # The password work is done for an unknown user too, against a
        # dummy of the same cost that no password matches.
        matches = hmac.compare_digest(_derive(password, record.salt, record.cost), record.key)
        return found and matches


def _table(users: object) -> _Table:
    if not isinstance(users, Mapping):
        raise ValueError(
            "authhygiene: Basic users is a mapping of a user name to its password hash,"
            " e.g. {'alice': Basic.hash_password(...)}; got a"
            f" {type(users).__name__}."
        )
    if not users:
        raise ValueError(
            "authhygiene: Basic users is empty, so nobody would ever get in; give at least"
            " one user, e.g. users={'alice': os.environ['ALICE_PASSWORD_HASH']}."
        )
    if len(users) > MAX_USERS:
        raise ValueError(
            f"authhygiene: Basic takes at most {MAX_USERS} users (each check compares with"
            f" all of them); got {len(users)}. Use check= with a store of your own."
        )
    rows: list[tuple[bytes, _Hashed]] = []
    for position, (user, hashed) in enumerate(users.items(), start=1):
        name = _user(user, position)
        rows.append((hashlib.sha256(name.encode("utf-8")).digest(), _hashed(hashed, position)))
    costs = {hashed.cost for _, hashed in rows}
    if len(costs) > 1:
        shown = ", ".join(sorted(cost.text() for cost in costs))
        raise ValueError(
            f"authhygiene: Basic users hold hashes of different costs ({shown}): an unknown"
            " user could not cost what every known one does, and the time taken would say"
            " which users exist. Hash every password with the same n, r and p."
        )
    cost = rows[0][1].cost
    dummy = _Hashed(cost, secrets.token_bytes(_SALT_BYTES), secrets.token_bytes(_KEY_BYTES))
    return _Table(tuple(rows), dummy)


def _user(user: object, position: int) -> str:
    # User names are not echoed: a mapping written the wrong way round
    # ({hash: name}) or a password in the wrong place would be.
    if (
        not isinstance(user, str)
        or not 0 < len(user) <= MAX_USER_CHARS
        or ":" in user
        or _CTL_RE.search(user) is not None
    ):
        raise ValueError(
            f"authhygiene: Basic users entry {position}: a user name is text of 1 to"
            f" {MAX_USER_CHARS} characters without ':' or control characters (RFC 7617 §2)."
        )
    return user


def _hashed(hashed: object, position: int) -> _Hashed:
    parsed = _parsed(hashed) if isinstance(hashed, str) else None
    if parsed is not None:
        return parsed
    if isinstance(hashed, str) and hashed.startswith(_SCHEME + "$"):
        raise ValueError(
            f"authhygiene: Basic users entry {position}: the hash is not one"
            " Basic.hash_password writes (or its cost is outside n=2**10..2**20, r=1..32,"
            " p=1..16, 256 MiB); write it again with Basic.hash_password(password)."
        )
    raise ValueError(
        f"authhygiene: Basic users entry {position} is not a password hash: users= holds"
        " only hashes, never a password as plain text. Hash each password once with"
        " Basic.hash_password(password) and put the 'scrypt$...' text it returns in your"
        " configuration."
    )


def _text(raw: bytes) -> str:
    """RFC 7617 §2.1: UTF-8; a client that sends other bytes most likely
    sends ISO-8859-1 (the RFC's predecessor left it open), read as such."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _pair(token: str) -> tuple[str, str] | Rejected:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        # Bounded before any base64 work.
        return _malformed(Problem.OVERSIZED)
    raw = _b64(token)  # strict: no characters outside the alphabet, padding right
    if raw is None:
        return _malformed(Problem.BASIC_NOT_BASE64)
    user, colon, password = _text(raw).partition(":")
    if not colon:
        # RFC 7617 §2: user-pass = user-id ":" password; no colon, no pair.
        return _malformed(Problem.BASIC_NOT_BASE64)
    return user, password


def _name_of(check: Callable[..., object]) -> str:
    # A function's name, never its repr: a functools.partial shows its arguments.
    name = getattr(check, "__qualname__", None)
    return name if isinstance(name, str) else type(check).__name__


@dataclass(frozen=True, eq=False, repr=False)
class Basic:
    """Verify Basic credentials (RFC 7617), one of two ways.

    `check(user, password)`: the app's own function; only `True` lets the
    pair in (anything else, a user object included, is a refusal, so a
    check that forgets its `return` fails closed), and one that raises is a
    refusal too. It should take the same time for an unknown user as for a
    wrong password; that is the app's to ensure.

    `users`: a mapping of user name to password hash (`Basic.hash_password`,
    all of the same cost); the verifier checks them itself, in the same
    time for an unknown user and a wrong password. `Basic.from_users` says
    the same. A pair that verifies gives the claims `{"sub": <the user>}`."""

    # The scheme this verifier reads, for the challenges enforce mode sends.
    scheme: ClassVar[str] = "Basic"
    check: Callable[[str, str], bool] | None = None
    users: Mapping[str, str] | None = None
    _judge: Callable[[str, str], object] = field(init=False, compare=False)
    _trouble: Trouble = field(init=False, compare=False, default_factory=Trouble)

    def __post_init__(self) -> None:
        if (self.check is None) == (self.users is None):
            raise ValueError(
                "authhygiene: Basic takes one of check= (your function, check(user, password)"
                " -> bool) or users= (user names and Basic.hash_password hashes); got"
                f" {'both' if self.check is not None else 'neither'}."
            )
        if self.users is not None:
            table = _table(self.users)
            object.__setattr__(self, "users", MappingProxyType(dict(self.users)))
            object.__setattr__(self, "_judge", table)
            return
        if not callable(self.check) or isinstance(self.check, type):
            raise ValueError(
                "authhygiene: Basic check is a function check(user, password) -> bool; got a"
                f" {type(self.check).__name__}."
            )
        if inspect.iscoroutinefunction(self.check):
            raise ValueError(
                "authhygiene: Basic check is called synchronously (verify never awaits);"
                " give a plain function, e.g. one that looks the user up in a dict or a cache."
            )
        object.__setattr__(self, "_judge", self.check)

    @classmethod
    def from_users(cls, users: Mapping[str, str]) -> Basic:
        """`Basic(users=users)`: user names and their `hash_password` hashes."""
        return cls(users=users)

    @staticmethod
    def hash_password(
        password: str, *, n: int = DEFAULT_N, r: int = DEFAULT_R, p: int = DEFAULT_P
    ) -> str:
        """The hash to configure in `users=` instead of the password:
        `"scrypt$n=16384,r=8,p=1$<salt>$<key>"` with a random 16-byte salt.
        The default cost is n=2**14, r=8, p=1 (16 MiB, some 40 ms a check);
        OWASP asks for n=2**17 today, if the server has the memory."""
        cost = _cost(n, r, p)
        if cost is None:
            raise ValueError(
                "authhygiene: Basic.hash_password cost is n a power of two from 2**10 to"
                " 2**20, r from 1 to 32, p from 1 to 16, and 128*n*r at most 256 MiB;"
                f" the default is n=2**14, r={DEFAULT_R}, p={DEFAULT_P}."
            )
        if not isinstance(password, str) or not password:
            raise ValueError(
                "authhygiene: Basic.hash_password takes the password as non-empty text"
                f" (got {'an empty one' if password == '' else type(password).__name__})."
            )
        if len(password) > MAX_PASSWORD_CHARS or _CTL_RE.search(password) is not None:
            raise ValueError(
                f"authhygiene: Basic.hash_password: a password is at most {MAX_PASSWORD_CHARS}"
                " characters with no control characters (RFC 7617 §2: no client sends one)."
            )
        salt = secrets.token_bytes(_SALT_BYTES)
        key = _derive(password, salt, cost)
        encoded = (base64.b64encode(part).decode("ascii") for part in (salt, key))
        return "$".join((_SCHEME, cost.text(), *encoded))

    def __repr__(self) -> str:
        if isinstance(self._judge, _Table):
            users = len(self._judge.users)
            cost = self._judge.dummy.cost.text()
            return f"Basic(users=<{users} held as scrypt hashes, {cost}>)"
        return f"Basic(check={_name_of(self._judge)})"

    def credential(self, credentials: Credentials) -> str | None:
        """The base64 part of a Basic Authorization header (RFC 7617 §2)."""
        if credentials.scheme == "Basic" and credentials.source == "header":
            return credentials.token
        return None

    may_block: ClassVar[bool] = True  # see `needs_io`

    def use_logger(self, logger: Any) -> None:
        """Where the check's failures are logged (the middleware's logger)."""
        self._trouble.logger = logger

    def needs_io(self, credential: str, now: float | None = None) -> bool:
        """Always: a password hash costs tens of milliseconds by design, and
        the app's `check` may ask a database. The ASGI adapter verifies in a
        worker thread, never on the event loop."""
        return True

    def verify(self, credential: str, now: float | None = None) -> Verified | Rejected:
        """Verify the base64 `user:password` pair; never raises. `now` is
        unused (a password does not expire), there for the `Verifier`
        protocol."""
        try:
            return self._verify(credential)
        except Exception:  # a verifier never raises; the rejection says enough
            return _wrong()

    def _verify(self, credential: str) -> Verified | Rejected:
        pair = _pair(credential)
        if isinstance(pair, Rejected):
            return pair
        user, password = pair
        if _CTL_RE.search(user) is not None or _CTL_RE.search(password) is not None:
            # RFC 7617 §2: no client sends these; no check of the app's sees them.
            return _wrong()
        try:
            answer = self._judge(user, password)
        except Exception as error:
            # The app's check failing (its database down) says nothing of the
            # pair: a server fault, never the client's, and the operator hears of it.
            self._trouble.report("verifier_error", error, checked_by="Basic")
            return Rejected(Reason.VERIFIER_UNAVAILABLE, {"retry_after": _RETRY_AFTER_S})
        if inspect.iscoroutine(answer):
            answer.close()  # an async check slipped through (a callable object)
            return _wrong()
        return Verified({"sub": user}) if answer is True else _wrong()
