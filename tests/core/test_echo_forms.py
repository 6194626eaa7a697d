"""A secret echoed in another form is still the secret: another case, percent-
encoded, inside the scope of the app's challenge, or with a lone surrogate
beside it in the app's JSON."""

from __future__ import annotations

import json

import pytest

from authhygiene.core.answer import AppAnswer
from authhygiene.core.credentials import RequestView
from authhygiene.core.decision import decide
from authhygiene.core.policy import Policy
from authhygiene.core.redact import REDACTED, clean_for_sink, scrub

HEX = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
SLASHED = "Zq8vK3mPx7LwR2tYb9NcH4jDf6GsE1aU/+="


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        pytest.param(f"Unknown key {HEX.upper()}", HEX, id="upper-cased"),
        pytest.param(f"key {HEX[:16].upper()}{HEX[16:]}", HEX, id="mixed-case"),
        pytest.param("t=Zq8vK3mPx7LwR2tYb9NcH4jDf6GsE1aU%2F%2B%3D", SLASHED, id="percent-encoded"),
        pytest.param(
            "t=Zq8vK3mPx7LwR2tYb9NcH4jDf6GsE1aU%2f%2b%3d", SLASHED, id="lower-hex-escapes"
        ),
    ],
)
def test_other_forms_are_scrubbed(text: str, secret: str) -> None:
    out = scrub(text, (secret,), entropy=False)
    assert REDACTED in out
    assert secret.lower() not in out.lower()


def _decide(challenge: str, body: bytes = b"") -> tuple[str, str]:
    view = RequestView("GET", "/items", "", (("authorization", f"Bearer {SLASHED[:32]}"),))
    decision = decide(
        Policy(realm="api"),
        view,
        AppAnswer(
            401, (("www-authenticate", challenge), ("content-type", "application/json")), body
        ),
    )
    assert decision is not None
    headers = "\n".join(f"{k}: {v}" for k, v in decision.headers)
    return headers, decision.body.decode()


@pytest.mark.parametrize(
    "scope", [SLASHED[:32], f"read {SLASHED[:32]}", f"{SLASHED[:32].lower()} write"]
)
def test_a_scope_echoing_the_token_is_dropped(scope: str) -> None:
    headers, body = _decide(f'Bearer error="insufficient_scope", scope="{scope}"')
    for text in (headers, body):
        assert SLASHED[:32].lower() not in text.lower()
    assert json.loads(body)["reason"] == "insufficient_scope"


def test_lone_surrogates_never_reach_the_body() -> None:
    app = b'{"type":"about:blank","title":"Bad \\ud800 token","x\\udfff":"\\ud83d"}'
    _, body = _decide("Bearer", app)
    body.encode("utf-8")  # strict: no lone surrogate survives
    assert "\\ud800" not in body
    assert "\\udfff" not in body


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        pytest.param("saw key 9f8e7d6c5b4a3928", "9f8e7d6c5b4a3928", id="as-sent"),
        pytest.param("saw key 9F8E7D6C5B4A3928", "9f8e7d6c5b4a3928", id="other-case"),
        pytest.param("pin abc here", "abc", id="short"),
        pytest.param("cut 9f8e7d6c5b4a", "9f8e7d6c5b4a3928", id="cut-at-the-end"),
    ],
)
def test_a_text_clean_for_one_request_is_checked_again_for_the_next(text: str, secret: str) -> None:
    """`clean_for_sink` remembers texts that left unchanged; a later request
    whose secret is in the same text still gets it masked."""
    assert clean_for_sink(text, 200, ("another-request-secret",)) == text
    out = clean_for_sink(text, 200, (secret,))
    assert REDACTED in out
    assert secret.lower() not in out.lower()


def test_a_log_text_clean_for_one_request_is_checked_again_in_any_case() -> None:
    from authhygiene.core.redact import scrub_cached

    path = "/keys/ABCDEF0123456789ABCD"
    assert scrub_cached(path, ()) == path
    assert scrub_cached(path, ("abcdef0123456789abcd",)) == f"/keys/{REDACTED}"


def test_our_own_sentence_passes_the_sink_too() -> None:
    """`detail` names facts the client wrote (a token's `alg`): a secret
    the request carried elsewhere is masked there as in every other member."""
    import base64

    key = "sk_live_abcdefghijklmnopqrstuvwx"

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    token = b64(json.dumps({"alg": key}).encode()) + "." + b64(b'{"sub":"x"}') + ".c2ln"
    view = RequestView(
        "GET", "/items", "", (("authorization", f"Bearer {token}"), ("x-api-key", key))
    )
    decision = decide(
        Policy(realm="api", algorithms=["RS256"]),
        view,
        AppAnswer(401, (("www-authenticate", "Bearer"),), b""),
    )
    assert decision is not None
    body = json.loads(decision.body)
    assert body["reason"] == "token_algorithm_rejected"
    assert key not in decision.body.decode()
    assert key not in repr(decision.headers)


@pytest.mark.parametrize(
    ("request_id", "echoed"),
    [
        pytest.param("9f86d081-884c-7d65-9a2f-eaa0c55ad015", False, id="the-token-as-a-uuid"),
        pytest.param("9F86D081884C7D659A2FEAA0C55AD015", False, id="the-token-upper-cased"),
        pytest.param("req-9f86d081884c7d659a2f", False, id="a-piece-of-it"),
        pytest.param("4bf92f3577b34da6a3ce929d0e0e4736", True, id="a-trace-id"),
        pytest.param("0af7651916cd43dd8448eb211c80319c", True, id="another-hex-id"),
    ],
)
def test_request_ids_holding_the_token_in_any_form(request_id: str, echoed: bool) -> None:
    from authhygiene.core.shape_cache import Decider

    token = "9f86d081884c7d659a2feaa0c55ad015"
    view = RequestView(
        "GET",
        "/items",
        "",
        (("authorization", f"Bearer {token}"), ("x-request-id", request_id)),
    )
    answer = AppAnswer(401, (("www-authenticate", "Bearer"),), b"")
    decider = Decider(Policy(realm="api"))
    for decision in (decide(Policy(realm="api"), view, answer), decider(view, answer)):
        assert decision is not None
        assert (dict(decision.headers)["x-request-id"] == request_id) is echoed
