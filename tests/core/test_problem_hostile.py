"""The problem body and every sink it fills, against hostile app answers.

Findings of issue 12 held here as tables: the app's words cut before they
were scrubbed (5), deep app problems (9), NaN/Infinity (11), member names
(12), and "never raise": a diagnosis that fails still answers the refusal.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import LogCapture
from werkzeug.test import Client

from authhygiene import AuthHygiene, AuthHygieneWSGI
from authhygiene.core import decision as decision_module
from authhygiene.core.credentials import RequestView
from authhygiene.core.decision import Decision, decide
from authhygiene.core.diagnose import AppAnswer, Declared
from authhygiene.core.policy import Policy
from authhygiene.core.reasons import Reason
from authhygiene.core.recognisers import declared_from_exception
from authhygiene.core.redact import REDACTED, clean_for_sink
from authhygiene.core.shape_cache import Decider
from tests.asgi_call import asgi_call

# Each long enough that a cut at 150-256 characters would land inside it.
TOKENS = [
    pytest.param("0123456789abcdef" * 4, id="hex-64"),
    pytest.param("Zq8vN3xLp0Wm7TbK2sYc9RfH4dGj6AeU1oIiVnBw", id="base62-40"),
    pytest.param("sk_live_51HqLyjWDarjtT1zdp7dcXs", id="stripe-like"),
    pytest.param("correcthorsebatterystaplecorrecthorse", id="low-entropy"),
]
PAD = "The credentials presented to this service were rejected after review " * 2  # 142


def _policy(**options: Any) -> Policy:
    return Policy.from_options({"realm": "api", **options})


def _decide(
    token: str,
    *,
    status: int = 401,
    app_headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
    declared: Declared | None = None,
    **options: Any,
) -> Decision:
    view = RequestView("GET", "/items", "", (("authorization", f"Bearer {token}"),), "127.0.0.1")
    answer = AppAnswer(status, app_headers, body)
    decision = decide(_policy(**options), view, answer, declared=declared, now=1_800_000_000)
    assert decision is not None
    return decision


def _wire(decision: Decision) -> str:
    head = "\n".join(f"{k}: {v}" for k, v in decision.headers)
    return head + "\n\n" + decision.body.decode("latin-1")


def _no_piece_of(token: str, text: str, piece: int = 6) -> None:
    """No `piece` consecutive characters of the token anywhere in `text`."""
    for start in range(len(token) - piece + 1):
        assert token[start : start + piece] not in text, "a piece of the credential leaked"


def _strict_json(body: bytes) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(body, parse_constant=refuse)


# --- finding 5: bound, scrub, then cut -----------------------------------------


@pytest.mark.parametrize("token", TOKENS)
@pytest.mark.parametrize("pad", [0, 120, 150, 190, 197, 250, 700, 795], ids=lambda n: f"pad{n}")
@pytest.mark.parametrize("key", ["detail", "message", "error_description"])
def test_app_words_cut_after_scrubbing(token: str, pad: int, key: str) -> None:
    words = (PAD * 10)[:pad] + " " + token + " and more words after it"
    decision = _decide(
        token,
        app_headers=(("content-type", "application/json"),),
        body=json.dumps({key: words}).encode(),
        explain="full",
    )
    _no_piece_of(token, _wire(decision))
    _strict_json(decision.body)


@pytest.mark.parametrize("token", TOKENS)
@pytest.mark.parametrize("pad", [100, 200, 250, 1000], ids=lambda n: f"pad{n}")
def test_app_problem_members_cut_after_scrubbing(token: str, pad: int) -> None:
    text = (PAD * 10)[:pad] + token
    problem = {
        "type": "https://errors.example/" + text,
        "title": text,
        "instance": "/requests/" + text,
        "note": text,
        "nested": {"deeper": [text]},
    }
    decision = _decide(
        token,
        app_headers=(("content-type", "application/problem+json"),),
        body=json.dumps(problem).encode(),
        explain="full",
    )
    _no_piece_of(token, _wire(decision))


@pytest.mark.parametrize("token", TOKENS)
@pytest.mark.parametrize("pad", [100, 250, 1000], ids=lambda n: f"pad{n}")
def test_declared_words_and_facts_cut_after_scrubbing(token: str, pad: int) -> None:
    text = (PAD * 10)[:pad] + token
    declared = Declared(Reason.TOKEN_REVOKED, {"note": text, "why": [text]}, text)
    _no_piece_of(token, _wire(_decide(token, declared=declared, explain="full")))


class _FakeJwtError(Exception):
    pass


_FakeJwtError.__module__ = "jwt.exceptions"
_FakeJwtError.__qualname__ = "InvalidTokenError"


class _UnprintableError(_FakeJwtError):
    def __str__(self) -> str:
        raise RuntimeError("no text")


@pytest.mark.parametrize("token", TOKENS)
def test_exception_text_cut_after_scrubbing(token: str) -> None:
    declared = declared_from_exception(_FakeJwtError(PAD + token))
    assert declared is not None
    assert declared.detail is not None
    assert declared.detail.endswith(token)
    _no_piece_of(token, _wire(_decide(token, status=401, declared=declared, explain="full")))


def test_exception_whose_str_raises_declares_without_words() -> None:
    declared = declared_from_exception(_UnprintableError())
    assert declared is not None
    assert declared.detail is None


@pytest.mark.parametrize(
    ("text", "limit", "secrets", "expected"),
    [
        pytest.param("short", 10, (), "short", id="fits"),
        pytest.param("x" * 20, 10, (), "x" * 7 + "...", id="shortened"),
        pytest.param(
            "pw: hunter2-hunter2", 64, ("hunter2-hunter2",), "pw: " + REDACTED, id="whole"
        ),
        pytest.param("id " + "ABCDEFGH"[:6], 64, ("ABCDEFGHIJKL",), "id " + REDACTED, id="cut-6"),
        pytest.param("id ABCD", 64, ("ABCDEFGHIJKL",), "id " + REDACTED, id="cut-4"),
        pytest.param("id ABC", 64, ("ABCDEFGHIJKL",), "id ABC", id="cut-3-says-nothing"),
        pytest.param("x" * 6 + REDACTED + "tail", 10, (), "x" * 6 + "...", id="mask-not-split"),
        pytest.param(
            "x" * 30 + "QWERTYUIOPAS",
            10,
            ("QWERTYUIOPASDFGH",),
            "x" * 7 + "...",
            id="secret-straddles-work-cap",
        ),
    ],
)
def test_clean_for_sink(text: str, limit: int, secrets: tuple[str, ...], expected: str) -> None:
    assert clean_for_sink(text, limit, secrets) == expected


_SECRET_CHARS = "ABCDEFGHJK0123456789"


@settings(max_examples=400, deadline=None)
@given(
    before=st.text(alphabet=" xyz.,:", max_size=900),
    secret=st.text(alphabet=_SECRET_CHARS, min_size=8, max_size=80),
    after=st.text(alphabet=" xyz.,:", max_size=50),
    limit=st.integers(min_value=4, max_value=300),
    upstream_cut=st.integers(min_value=0, max_value=1100),
)
def test_no_four_characters_of_a_secret_survive(
    before: str, secret: str, after: str, limit: int, upstream_cut: int
) -> None:
    """Whatever the text, the display limit, and wherever something before
    the sink already cut it: no 4 characters of the secret leave."""
    text = (before + secret + after)[: upstream_cut or None]
    out = clean_for_sink(text, limit, (secret,))
    assert len(out) <= max(limit, 3)
    assert re.search(f"[{_SECRET_CHARS}]{{4,}}", out) is None


# --- finding 9 and 11: deep and non-finite app problems -------------------------


def _deep(levels: int, *, array: bool) -> str:
    return ("[" * levels + "1" + "]" * levels) if array else ('{"a":' * levels + "1" + "}" * levels)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param(
            "application/problem+json", '{"x":' + _deep(600, array=False) + "}", id="600-objects"
        ),
        pytest.param(
            "application/problem+json", '{"x":' + _deep(900, array=True) + "}", id="900-arrays"
        ),
        pytest.param("application/problem+json", "[" * 100_000, id="100k-open-arrays"),
        pytest.param("application/problem+json", '{"x":' + "[" * 100_000, id="100k-in-member"),
        pytest.param("application/json", '{"detail":' * 900 + '"x"' + "}" * 900, id="deep-detail"),
        pytest.param("application/json", "[" * 900 + '"x"' + "]" * 900, id="deep-message-list"),
        pytest.param("application/problem+json", '{"a":1' + ',"k":1' * 5000 + "}", id="wide"),
    ],
)
def test_deep_app_answers_are_bounded(content_type: str, body: str) -> None:
    decision = _decide(
        "tok-" + "a" * 20,
        app_headers=(("content-type", content_type),),
        body=body.encode(),
        explain="full",
    )
    problem = _strict_json(decision.body)
    assert _depth(problem) <= 10
    assert decision.body.count(b'"') < 4000


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        pytest.param("NaN", None, id="nan"),
        pytest.param("Infinity", None, id="infinity"),
        pytest.param("-Infinity", None, id="minus-infinity"),
        pytest.param("1e999", None, id="overflow"),
        pytest.param("[1e999, 2]", [None, 2], id="in-a-list"),
        pytest.param('{"y": NaN}', {"y": None}, id="in-an-object"),
        pytest.param("9007199254740993", None, id="past-2-53"),
        pytest.param("9007199254740991", 9007199254740991, id="at-2-53"),
        pytest.param("1.5", 1.5, id="finite"),
    ],
)
def test_non_finite_numbers_become_null(member: str, expected: object) -> None:
    body = f'{{"title": "No", "x": {member}}}'.encode()
    decision = _decide(
        "tok-" + "a" * 20, app_headers=(("content-type", "application/problem+json"),), body=body
    )
    assert _strict_json(decision.body)["x"] == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(float("nan"), id="nan"),
        pytest.param(float("inf"), id="inf"),
        pytest.param(10**5000, id="int-past-str-digits"),
        pytest.param({"deep": [[[[[[[[[[[[1]]]]]]]]]]]]}, id="deep"),
        pytest.param(object(), id="object"),
        pytest.param(_UnprintableError(), id="str-raises"),
        pytest.param({(1, 2): "tuple key"}, id="tuple-key"),
    ],
)
def test_declared_facts_of_any_kind(value: object) -> None:
    declared = Declared(Reason.FORBIDDEN, {"extra": value})
    decision = _decide("tok-" + "a" * 20, status=403, declared=declared, explain="full")
    _strict_json(decision.body)


# --- finding 12: member names ---------------------------------------------------


@pytest.mark.parametrize("token", TOKENS)
@pytest.mark.parametrize(
    "name",
    [
        pytest.param("{token}", id="bare"),
        pytest.param("key_{token}", id="inside"),
        pytest.param("api_key={token}", id="param"),
        pytest.param("x" * 100 + "{token}", id="past-name-limit"),
        pytest.param("x" * 250 + "{token}", id="straddles-work-cap"),
    ],
)
def test_member_names_are_scrubbed(token: str, name: str) -> None:
    problem = {"title": "No", name.format(token=token): 1, "ok": {name.format(token=token): 2}}
    decision = _decide(
        token,
        app_headers=(("content-type", "application/problem+json"),),
        body=json.dumps(problem).encode(),
    )
    _no_piece_of(token, _wire(decision))
    body = _strict_json(decision.body)
    assert all(len(key) <= 64 for key in body)
    assert body["ok"] == {} or all(len(key) <= 64 for key in body["ok"])


# --- never raise: a failing diagnosis still answers ---------------------------------

TOKEN = "never-raise-" + "q7" * 16


def _boom(*args: object, **kwargs: object) -> Any:
    raise RuntimeError(f"failed on {TOKEN}")  # its text must never be logged


def _asgi_call(app: Any, headers: list[tuple[bytes, bytes]]) -> tuple[int, list[Any], bytes]:
    sent = asgi_call(app, headers=headers)
    return sent.status, sent.raw_headers, sent.body


def _asgi_app(status: int) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"x-echo", TOKEN.encode()),
                    (b"access-control-allow-origin", b"https://app.example"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b'{"detail": "no"}'})

    return app


def _wsgi_app(status: int) -> Any:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response(
            f"{status} X",
            [
                ("Content-Type", "application/json"),
                ("X-Echo", TOKEN),
                ("Access-Control-Allow-Origin", "https://app.example"),
            ],
        )
        return [b'{"detail": "no"}']

    return app


def _check_generic(
    status: int, headers: list[tuple[str, str]], body: bytes, app_status: int
) -> None:
    assert status == app_status
    names = [name.lower() for name, _ in headers]
    values = {name.lower(): value for name, value in headers}
    assert values["content-type"] == "application/problem+json"
    assert values["cache-control"] == "no-store"
    assert "x-echo" not in names
    assert values["access-control-allow-origin"] == "https://app.example"
    assert ("www-authenticate" in names) == (status == 401)
    if status == 401:
        assert values["www-authenticate"] == 'Bearer realm="api"'
    problem = _strict_json(body)
    assert problem["reason"] == ("forbidden" if status == 403 else "credentials_invalid")
    assert problem["status"] == status
    assert TOKEN not in body.decode()


def _failing(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    if where == "diagnose":
        monkeypatch.setattr(decision_module, "diagnose", _boom)
    else:  # a later step, taken by the general path and the quick lane alike
        monkeypatch.setattr(Decider, "_log", _boom)


@pytest.mark.parametrize("where", ["diagnose", "log-fields"])
@pytest.mark.parametrize("app_status", [401, 403])
def test_asgi_answers_when_deciding_fails(
    monkeypatch: pytest.MonkeyPatch, where: str, app_status: int
) -> None:
    capture = LogCapture()
    wrapped = AuthHygiene(
        _asgi_app(app_status), realm="api", logger=structlog.wrap_logger(None, processors=[capture])
    )
    headers = [(b"authorization", f"Bearer {TOKEN}".encode()), (b"origin", b"https://app.example")]
    if where != "diagnose":
        _asgi_call(wrapped, headers)  # the shape is now known to the quick lane
    _failing(monkeypatch, where)
    for _ in range(3):
        status, raw, body = _asgi_call(wrapped, headers)
        decoded = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
        _check_generic(status, decoded, body, app_status)
    _check_logged_once(capture)


@pytest.mark.parametrize("where", ["diagnose", "log-fields"])
@pytest.mark.parametrize("app_status", [401, 403])
def test_wsgi_answers_when_deciding_fails(
    monkeypatch: pytest.MonkeyPatch, where: str, app_status: int
) -> None:
    capture = LogCapture()
    client = Client(
        AuthHygieneWSGI(
            _wsgi_app(app_status),
            realm="api",
            logger=structlog.wrap_logger(None, processors=[capture]),
        )
    )
    headers = {"Authorization": f"Bearer {TOKEN}", "Origin": "https://app.example"}
    if where != "diagnose":
        client.get("/items", headers=headers)  # the quick lane knows the shape
    _failing(monkeypatch, where)
    for _ in range(3):
        response = client.get("/items", headers=headers)
        _check_generic(
            response.status_code, list(response.headers.items()), response.data, app_status
        )
    _check_logged_once(capture)


def _check_logged_once(capture: LogCapture) -> None:
    internal = [e for e in capture.entries if e.get("kind") == "internal_error"]
    assert len(internal) == 1
    assert internal[0]["event"] == "auth.misconfig"
    assert internal[0]["error"] == "RuntimeError"
    assert TOKEN not in repr(capture.entries)
    assert "failed on" not in repr(capture.entries)


def test_report_only_changes_nothing_when_deciding_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    capture = LogCapture()
    client = Client(
        AuthHygieneWSGI(
            _wsgi_app(401),
            realm="api",
            logger=structlog.wrap_logger(None, processors=[capture]),
            report_only=True,
        )
    )
    monkeypatch.setattr(decision_module, "diagnose", _boom)
    response = client.get("/items", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 401
    assert response.data == b'{"detail": "no"}'


def test_an_unread_400_stays_the_apps_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decision_module, "diagnose", _boom)
    client = Client(
        AuthHygieneWSGI(
            _wsgi_app(400),
            realm="api",
            logger=structlog.wrap_logger(None, processors=[LogCapture()]),
        )
    )
    response = client.get("/items", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 400
