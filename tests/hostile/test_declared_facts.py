"""What an app declares (`AuthFailure(reason, **facts)`) or answers never
carries the request's credential out, whatever type a fact has, and a word
of ours is written as it is only when it is not one of the request's secrets.

Found by attacking the refusal path: a fact that was bytes, a dict or an
object holding the token reached the detail sentence, the challenge's
`error_description` and the log unmasked; a secret equal to a scheme name
or a problem kind was echoed because our own words skipped the sink."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
import structlog

from authhygiene import AuthFailure, AuthHygiene, Reason
from tests.asgi_call import asgi_call

TOKEN = "Zq7mK2pX9vfiL4nR8sT1wY"


class _TokenObject:
    """What an auth library may hand the app: an object whose text is the token."""

    def __str__(self) -> str:
        return TOKEN

    __repr__ = __str__


FACT_VALUES: dict[str, Callable[[], object]] = {
    "bytes": lambda: TOKEN.encode(),
    "object": _TokenObject,
    "dict": lambda: {"t": TOKEN},
    "list-in-dict": lambda: {"seen": [TOKEN]},
    "tuple": lambda: (TOKEN,),
    "set": lambda: {TOKEN},
}


def _logger(stream: io.StringIO) -> Any:
    return structlog.wrap_logger(
        structlog.PrintLogger(stream), processors=[structlog.processors.JSONRenderer()]
    )


def _raising(reason: Reason, **facts: object) -> Callable[..., Any]:
    async def app(scope: object, receive: object, send: object) -> None:
        raise AuthFailure(reason, **facts)

    return app


def _answering(headers: list[tuple[str, str]], body: bytes) -> Callable[..., Any]:
    async def app(scope: object, receive: object, send: Callable[..., Any]) -> None:
        raw = [(k.encode(), v.encode("latin-1")) for k, v in headers]
        await send({"type": "http.response.start", "status": 401, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    return app


def _refused(app: Callable[..., Any], request: list[tuple[str, str]], **options: Any) -> str:
    """Everything that left, headers, body and log, as one text."""
    log = io.StringIO()
    middleware = AuthHygiene(app, realm="api", logger=_logger(log), log_limit=None, **options)
    out = []
    for _ in range(3):  # the rule, the memo being built, a memo hit
        exchange = asgi_call(middleware, headers=[(k.encode(), v.encode()) for k, v in request])
        assert 400 <= exchange.status < 500
        out += [repr(exchange.headers), exchange.body.decode()]
    return "\n".join([*out, log.getvalue()])


@pytest.mark.parametrize("kind", sorted(FACT_VALUES))
@pytest.mark.parametrize(
    ("reason", "fact"),
    [
        (Reason.TOKEN_EXPIRED, "expired_at"),
        (Reason.TOKEN_NOT_YET_VALID, "not_before"),
        (Reason.INSUFFICIENT_SCOPE, "required_scope"),
        (Reason.TOKEN_ALGORITHM_REJECTED, "alg"),
        (Reason.CREDENTIALS_INVALID, "seen"),
    ],
)
def test_a_declared_fact_of_any_type_never_carries_the_token(
    reason: Reason, fact: str, kind: str
) -> None:
    sent = _refused(
        _raising(reason, **{fact: FACT_VALUES[kind]()}), [("authorization", f"Bearer {TOKEN}")]
    )
    assert TOKEN not in sent
    assert TOKEN.lower() not in sent.lower()


# A secret that is also a word of ours: a scheme name, a problem kind, a fact
# name, one of our RFC 3339 times. Echoed by the app, it is masked.
OWN_WORD_SECRETS = [
    pytest.param("Negotiate", id="scheme-name"),
    pytest.param("not_a_jwt", id="problem-kind"),
    pytest.param("required_scope", id="fact-name"),
    pytest.param("2024-01-01T00:00:00Z", id="time"),
]


@pytest.mark.parametrize("secret", OWN_WORD_SECRETS)
def test_an_echoed_secret_that_is_a_word_of_ours_is_masked(secret: str) -> None:
    body = json.dumps(
        {"type": "about:blank", "title": "x", "status": 401, "key": secret, "list": [secret]}
    ).encode()
    app = _answering([("content-type", "application/problem+json")], body)
    sent = _refused(app, [("x-api-key", secret)], api_key_headers=["x-api-key"])
    bodies = [json.loads(line) for line in sent.splitlines() if line.startswith('{"type"')]
    assert bodies
    for problem in bodies:
        assert problem.get("key") != secret
        assert secret not in problem.get("list", [])


@pytest.mark.parametrize("secret", OWN_WORD_SECRETS)
def test_a_declared_fact_equal_to_the_secret_is_masked_in_the_log(secret: str) -> None:
    app = _raising(Reason.TOKEN_EXPIRED, expired_at=secret, seen=secret)
    log = io.StringIO()
    middleware = AuthHygiene(
        app, realm="api", logger=_logger(log), log_limit=None, api_key_headers=["x-api-key"]
    )
    asgi_call(middleware, headers=[(b"x-api-key", secret.encode())])
    (event,) = [json.loads(line) for line in log.getvalue().splitlines() if "auth.failure" in line]
    assert event.get("seen") != secret
    assert event.get("expired_at") != secret


NON_ASCII = "pässwörd-Zq9x"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(NON_ASCII.encode(), id="utf-8-bytes"),
        pytest.param(bytearray(NON_ASCII.encode()), id="bytearray"),
        pytest.param({"k": NON_ASCII.encode()}, id="bytes-in-dict"),
        pytest.param({NON_ASCII}, id="set"),
    ],
)
def test_a_fact_is_never_escaped_past_the_sink(value: object) -> None:
    """Bytes and containers are decoded and walked, never repr()'d: an escaped
    secret (`p\\xc3\\xa4...`) is a form no sink looks for."""
    app = _raising(Reason.TOKEN_EXPIRED, expired_at=value, seen=value)
    sent = _refused(app, [("authorization", "Basic " + _basic("alice", NON_ASCII))])
    for form in (NON_ASCII, repr(NON_ASCII.encode())[2:-1], json.dumps(NON_ASCII)[1:-1]):
        assert form not in sent


def _basic(user: str, password: str) -> str:
    import base64

    return base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(10**5000, id="huge-int"),
        pytest.param(float("nan"), id="nan"),
        pytest.param([[[["abcdefgh"] * 32] * 32] * 32] * 32, id="wide-and-deep"),
        pytest.param(b"x" * 5_000_000, id="5-mb-bytes"),
    ],
)
def test_a_hostile_fact_is_bounded_and_never_raises(value: object) -> None:
    log = io.StringIO()
    app = _raising(Reason.INSUFFICIENT_SCOPE, seen=value)
    middleware = AuthHygiene(app, realm="api", logger=_logger(log), log_limit=None)
    exchange = asgi_call(middleware, headers=[(b"authorization", b"Bearer " + TOKEN.encode())])
    assert exchange.status == 403
    assert len(exchange.body) < 64 * 1024
    assert len(log.getvalue()) < 64 * 1024
