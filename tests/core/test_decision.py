"""The decider, as a table: what the request carried + what the app answered
-> the status, challenge, body and log event that leave the server.

Each row cites the rule it holds (R numbers from RFC-CHECKLIST.md)."""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import WWWAuthenticate

from authhygiene.core.challenge import MAX_HEADER_CHARS, parse_challenges, rendered_size
from authhygiene.core.credentials import RequestView
from authhygiene.core.decision import Decision, decide, merge_vary
from authhygiene.core.diagnose import AppAnswer, Declared
from authhygiene.core.misconfig import MISCONFIG
from authhygiene.core.policy import Policy
from authhygiene.core.reasons import Reason

NOW = 1_800_000_000
SECRET = "s3cr3t-token-value"


def jwt_like(**claims: Any) -> str:
    def b64(data: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(claims)}.c2lnbmF0dXJl"


EXPIRED = jwt_like(exp=NOW - 95, sub="someone")
NOT_YET = jwt_like(nbf=NOW + 30)


def run(
    headers: tuple[tuple[str, str], ...] = (),
    *,
    status: int = 401,
    app_headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
    query: str = "",
    declared: Declared | None = None,
    **options: Any,
) -> Decision:
    policy = Policy.from_options({"realm": "api", **options})
    view = RequestView("GET", "/items", query, headers, "127.0.0.1")
    decision = decide(
        policy, view, AppAnswer(status, app_headers, body), declared=declared, now=NOW
    )
    assert decision is not None
    return decision


def header(decision: Decision, name: str) -> list[str]:
    return [value for key, value in decision.headers if key == name]


def body(decision: Decision) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(decision.body)
    return data


def challenge(decision: Decision) -> WWWAuthenticate:
    (value,) = header(decision, "www-authenticate")
    parsed = WWWAuthenticate.from_header(value)
    assert parsed is not None
    return parsed


BEARER = (("authorization", f"Bearer {SECRET}"),)

# (request headers, app status, app headers, app body, query) -> (status, reason, error param)
CASES = [
    # R7: no credentials -> 401, challenge without error.
    pytest.param((), 401, (), b"", "", 401, "credentials_missing", None, id="missing"),
    # R2: 403 to an anonymous request is really a 401.
    pytest.param((), 403, (), b"", "", 401, "credentials_missing", None, id="403-anonymous"),
    # R7: an unsupported scheme is "no credentials" to a Bearer API (its own
    # challenge says Bearer, as FastAPI's HTTPBearer does).
    pytest.param(
        (("authorization", "Basic dTpw"),),
        401,
        (("www-authenticate", "Bearer"),),
        b"",
        "",
        401,
        "scheme_not_accepted",
        None,
        id="basic-to-bearer",
    ),
    # A bare 403 to Basic credentials, and nothing says what the app takes:
    # it may well have read them (a Basic app's permission 403). Kept.
    pytest.param(
        (("authorization", "Basic dTpw"),),
        403,
        (),
        b"",
        "",
        403,
        "forbidden",
        None,
        id="basic-bare-403-unknown-schemes",
    ),
    # R9: a rejected token.
    pytest.param(BEARER, 401, (), b"", "", 401, "credentials_invalid", "invalid_token", id="bad"),
    # R8: malformed requests are 400 invalid_request.
    pytest.param(
        (("authorization", "Bearer "),),
        401,
        (),
        b"",
        "",
        400,
        "credentials_malformed",
        "invalid_request",
        id="empty-bearer",
    ),
    pytest.param(
        BEARER * 2,
        401,
        (),
        b"",
        "",
        400,
        "credentials_malformed",
        "invalid_request",
        id="two-headers",
    ),
    pytest.param(
        BEARER,
        401,
        (),
        b"",
        f"access_token={SECRET}",
        400,
        "credentials_malformed",
        "invalid_request",
        id="header-and-query",
    ),
    # R10: the app marks a scope failure.
    pytest.param(
        BEARER,
        401,
        (),
        b'{"detail":"Not enough permissions"}',
        "",
        403,
        "insufficient_scope",
        "insufficient_scope",
        id="fastapi-scopes-tutorial",
    ),
    pytest.param(
        BEARER,
        401,
        (("www-authenticate", 'Bearer error="insufficient_scope", scope="a b"'),),
        b"",
        "",
        403,
        "insufficient_scope",
        "insufficient_scope",
        id="app-challenge-scope",
    ),
    pytest.param(
        BEARER,
        403,
        (),
        b'{"error":"insufficient_scope"}',
        "",
        403,
        "insufficient_scope",
        "insufficient_scope",
        id="oauth-json-scope",
    ),
    # Good credentials, no permission: 403 stays, no challenge needed.
    pytest.param(BEARER, 403, (), b"Forbidden", "", 403, "forbidden", None, id="forbidden"),
    # Token claims read without trust explain the rejection.
    pytest.param(
        (("authorization", f"Bearer {EXPIRED}"),),
        401,
        (),
        b"",
        "",
        401,
        "token_expired",
        "invalid_token",
        id="expired",
    ),
    pytest.param(
        (("authorization", f"Bearer {NOT_YET}"),),
        401,
        (),
        b"",
        "",
        401,
        "token_not_yet_valid",
        "invalid_token",
        id="not-yet-valid",
    ),
    pytest.param(
        BEARER,
        401,
        (),
        b'{"msg":"Token has expired"}',
        "",
        401,
        "token_expired",
        "invalid_token",
        id="flask-jwt-extended-expired",
    ),
    # A session cookie is a credential: 403 stays 403.
    pytest.param(
        (("cookie", "sessionid=abc"),), 403, (), b"", "", 403, "forbidden", None, id="session-403"
    ),
]


@pytest.mark.parametrize(
    ("headers", "app_status", "app_headers", "app_body", "query", "status", "reason", "error"),
    CASES,
)
def test_decision_table(
    headers: tuple[tuple[str, str], ...],
    app_status: int,
    app_headers: tuple[tuple[str, str], ...],
    app_body: bytes,
    query: str,
    status: int,
    reason: str,
    error: str | None,
) -> None:
    decision = run(headers, status=app_status, app_headers=app_headers, body=app_body, query=query)
    problem = body(decision)
    assert decision.status == status
    assert problem["status"] == status  # R12
    assert problem["reason"] == reason
    challenges = header(decision, "www-authenticate")
    if status == 401:
        assert challenges, "R1: every 401 carries a challenge"
    for value in challenges:
        parsed = WWWAuthenticate.from_header(value)
        assert parsed is not None
        assert parsed.parameters.get("error") == error
        assert 'realm="api"' in value  # R3
    if error is not None and status != 401:
        assert challenges, "R8/R10: the RFC 6750 error is conveyed in a challenge"
    if error is None:
        assert "error_description" not in " ".join(challenges)  # R7
    # OAuth `error` only where RFC 6750 defines a code for this refusal.
    assert problem.get("error") == error
    assert ("error_description" in problem) is (error is not None)
    # R22: never cached; Vary extended.
    assert header(decision, "cache-control") == ["no-store"]
    assert header(decision, "pragma") == ["no-cache"]
    assert header(decision, "content-type") == ["application/problem+json"]
    assert SECRET not in decision.body.decode()
    assert SECRET not in repr(decision.headers)
    assert SECRET not in repr(decision.log)
    assert decision.event == "auth.failure"


def test_expired_token_facts() -> None:
    decision = run((("authorization", f"Bearer {EXPIRED}"),))
    problem = body(decision)
    assert problem["expired_at"] == "2027-01-15T07:58:25Z"
    assert problem["server_time"] == "2027-01-15T08:00:00Z"
    assert problem["expired_seconds_ago"] == 95
    assert problem["clock_skew_suspected"] is True  # within the 120 s window
    assert problem["detail"] == (
        "The token expired at 2027-01-15T07:58:25Z, 95 s before this request; if it was issued"
        " moments ago, this server's clock may be ahead of the issuer's."
    )
    assert "synchronise the clocks" in problem["hint"]
    # The subject is identity data: never in the body or the log.
    assert "someone" not in decision.body.decode()
    assert "someone" not in repr(decision.log)
    assert decision.log["exp_delta_s"] == -95
    assert EXPIRED not in repr(decision.log)


def test_insufficient_scope_challenge_carries_scope() -> None:
    decision = run(
        BEARER,
        status=403,
        declared=Declared(Reason.INSUFFICIENT_SCOPE, {"required_scope": "items:write"}),
    )
    parsed = challenge(decision)
    assert parsed.parameters["scope"] == "items:write"
    assert parsed.parameters["error"] == "insufficient_scope"
    assert body(decision)["required_scope"] == "items:write"


def test_app_challenge_kept_and_completed() -> None:
    decision = run(
        BEARER,
        app_headers=(("www-authenticate", 'bearer realm="app", foo=bar'),),
    )
    (value,) = header(decision, "www-authenticate")
    assert value == (
        'Bearer realm="app", foo="bar", error="invalid_token",'
        ' error_description="The credentials were rejected."'
    )


def test_invalid_app_challenge_is_replaced_and_reported() -> None:
    decision = run(BEARER, app_headers=(("www-authenticate", 'Bearer realm=unquoted"x'),))
    assert header(decision, "www-authenticate")[0].startswith('Bearer realm="api"')
    assert "app_challenge_invalid" in decision.misconfig


def test_basic_challenge_rfc7617() -> None:
    decision = run((("authorization", "Basic dTpw"),), schemes=("Basic",))
    # R5: realm and charset only; no RFC 6750 error for Basic.
    assert header(decision, "www-authenticate") == ['Basic realm="api", charset="UTF-8"']
    assert body(decision)["reason"] == "credentials_invalid"


def test_both_schemes_each_get_a_challenge() -> None:
    decision = run((), schemes=("Bearer", "Basic"))
    assert header(decision, "www-authenticate") == [
        'Bearer realm="api"',
        'Basic realm="api", charset="UTF-8"',
    ]


def test_resource_metadata_rfc9728() -> None:
    url = "https://api.example/.well-known/oauth-protected-resource"
    decision = run((), resource_metadata=url)
    assert challenge(decision).parameters["resource_metadata"] == url


def test_compat_403_keeps_status_but_fixes_the_rest() -> None:
    decision = run((), status=403, compat_403=True)
    assert decision.status == 403
    assert body(decision)["reason"] == "credentials_missing"
    assert header(decision, "cache-control") == ["no-store"]
    assert "403_for_missing_credentials" in decision.misconfig


def test_report_only_changes_nothing() -> None:
    app_headers = (("content-type", "text/plain"), ("cache-control", "public, max-age=60"))
    decision = run((), status=403, app_headers=app_headers, body=b"no", report_only=True)
    assert decision.rewrite is False
    assert decision.event == "auth.report_only"
    assert decision.status == 403
    assert decision.headers == app_headers
    assert decision.log["would_status"] == 401
    assert decision.log["would_change"] == [
        "status",
        "www-authenticate",
        "content-type",
        "cache-control",
        "vary",
        "body",
    ]


@pytest.mark.parametrize(
    ("app_headers", "app_body", "detail"),
    [
        pytest.param(
            (("content-type", "application/json"),), b'{"detail":"Bad key"}', "Bad key", id="detail"
        ),
        pytest.param((), b'{"message":"Nope"}', "Nope", id="message"),
        pytest.param((), b'{"msg":"Nope"}', "Nope", id="msg"),
        pytest.param((), b'{"error":"nope","error_description":"Why"}', "Why", id="oauth"),
        pytest.param(
            (("content-type", "text/plain"),), b"Invalid API key", "Invalid API key", id="text"
        ),
        pytest.param(
            (("content-type", "text/html"),),
            b"<h1>401</h1>",
            "The credentials were rejected.",
            id="html-ignored",
        ),
        pytest.param(
            (("content-type", "text/plain"),),
            f"token {SECRET} rejected".encode(),
            "token [redacted] rejected",
            id="token-scrubbed",
        ),
        pytest.param(
            (("content-type", "text/plain"),),
            b"x" * 5000,
            "The credentials were rejected.",
            id="long-text-ignored",
        ),
    ],
)
def test_app_message_survives_as_detail(
    app_headers: tuple[tuple[str, str], ...], app_body: bytes, detail: str
) -> None:
    assert body(run(BEARER, app_headers=app_headers, body=app_body))["detail"] == detail


def test_detail_adds_our_explanation_when_we_know_more() -> None:
    decision = run((), body=b'{"detail":"Not authenticated"}')
    assert body(decision)["detail"] == (
        "Not authenticated: this request carried no credentials; this API accepts Bearer."
    )


@pytest.mark.parametrize(
    ("explain", "present", "absent"),
    [
        pytest.param(
            "minimal",
            {"type", "title", "status", "reason", "request_id", "error"},
            {"detail", "hint", "expired_at", "diagnosis"},
            id="minimal",
        ),
        pytest.param(
            "safe", {"detail", "hint", "expired_at", "server_time"}, {"diagnosis"}, id="safe"
        ),
        pytest.param(
            "full", {"detail", "hint", "expired_at", "diagnosis", "token"}, set(), id="full"
        ),
    ],
)
def test_explain_levels(explain: str, present: set[str], absent: set[str]) -> None:
    decision = run((("authorization", f"Bearer {EXPIRED}"),), explain=explain)
    problem = body(decision)
    assert present <= set(problem)
    assert not absent & set(problem)
    has_description = "error_description" in challenge(decision).parameters
    assert has_description is (explain != "minimal")


def test_headers_replaced_kept_and_extended() -> None:
    decision = run(
        BEARER,
        app_headers=(
            ("cache-control", "public, max-age=600"),
            ("expires", "Thu, 01 Jan 2099 00:00:00 GMT"),
            ("vary", "Accept-Encoding"),
            ("set-cookie", "a=b"),
            ("x-custom", "kept"),
            ("content-length", "3"),
        ),
        body=b"bad",
    )
    assert header(decision, "cache-control") == ["no-store"]
    assert header(decision, "expires") == []
    assert header(decision, "vary") == ["Accept-Encoding, Authorization, Cookie, Origin"]
    assert header(decision, "set-cookie") == ["a=b"]
    assert header(decision, "x-custom") == ["kept"]
    assert header(decision, "content-length") == [str(len(decision.body))]
    assert "cacheable_failure" in decision.misconfig


@pytest.mark.parametrize(
    ("values", "merged"),
    [
        pytest.param([], "Authorization, Cookie, Origin", id="none"),
        pytest.param(["origin, accept"], "origin, accept, Authorization, Cookie", id="case"),
        pytest.param(["A", "B"], "A, B, Authorization, Cookie, Origin", id="two-fields"),
        pytest.param(["*"], "*", id="star"),
    ],
)
def test_merge_vary(values: list[str], merged: str) -> None:
    assert merge_vary(values) == merged


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        pytest.param("abc-123", True, id="well-formed"),
        pytest.param("a" * 129, False, id="too-long"),
        pytest.param("a\r\nb", False, id="crlf"),
        pytest.param("<script>", False, id="markup"),
    ],
)
def test_request_id(incoming: str, kept: bool) -> None:
    decision = run((("x-request-id", incoming),))
    problem = body(decision)
    assert (problem["request_id"] == incoming) is kept
    assert header(decision, "x-request-id") == [problem["request_id"]]
    if kept:
        assert "instance" not in problem
    else:
        assert uuid.UUID(problem["instance"].removeprefix("urn:uuid:")).hex == problem["request_id"]


OPAQUE = "0paqueT0kenValue42xQabcdefGHIJ"


@pytest.mark.parametrize(
    ("incoming", "echoed"),
    [
        pytest.param("req-7f3a9c21", True, id="own-id"),
        pytest.param(OPAQUE, False, id="the-token"),
        pytest.param(f"x-{OPAQUE[2:22]}-y", False, id="a-20-character-piece"),
        pytest.param(f"x-{OPAQUE[2:22].upper()}-y", False, id="a-piece-upper-cased"),
        pytest.param(
            "x-" + "-".join(OPAQUE[2:22][i : i + 4] for i in range(0, 20, 4)) + "-y",
            False,
            id="a-piece-cut-by-dashes",
        ),
        pytest.param(
            ";".join(OPAQUE[i : i + 5] for i in range(0, 30, 5)),
            False,
            id="the-token-cut-by-semicolons",
        ),
        pytest.param(OPAQUE[:10].upper(), False, id="its-start-upper-cased"),
        # Longer than any id we take: secret material unread, at no cost.
        pytest.param("r" * 300, False, id="past-256-characters"),
        # Found by attacking the rule: a piece upper-cased with the secret's
        # own separators kept, and a short secret inside a longer id.
        pytest.param(f"req-{OPAQUE[3:23].upper()}-{OPAQUE[:1]}", False, id="a-piece-in-capitals"),
        pytest.param(
            "req-x" + OPAQUE[5:25].upper().replace("E", "E:"), False, id="capitals-and-colons"
        ),
    ],
)
def test_a_request_id_holding_the_token_is_not_echoed(incoming: str, echoed: bool) -> None:
    """Not in the header, the body or the log, nor where the app repeats it
    in a header of its own (it is scrubbed there as a secret)."""
    decision = run(
        (("authorization", f"Bearer {OPAQUE}"), ("x-request-id", incoming)),
        app_headers=(("x-correlation-id", incoming),),
    )
    sent = repr(decision.headers) + decision.body.decode() + repr(dict(decision.log))
    assert (incoming in sent) is echoed


@pytest.mark.parametrize(
    ("credential", "incoming", "echoed"),
    [
        pytest.param(
            ("x-api-key", "ak_live_key_1234567890abcdef"),
            "req-_LIVE_KEY_123456789",
            False,
            id="key-piece-in-capitals",
        ),
        pytest.param(("x-api-key", "k7Zp9Q"), "trace-k7Zp9Q", False, id="six-character-key"),
        pytest.param(
            ("authorization", "Basic YWxpY2U6aHVudGVyMg=="),
            "req-hunter2-42",
            False,
            id="seven-character-password",
        ),
        pytest.param(
            ("x-api-key", "0f6c1d6e2a3b4c5d8e9f123456789abc"), "req-123", True, id="plain-id"
        ),
        pytest.param(
            ("x-api-key", "0f6c1d6e2a3b4c5d8e9f123456789abc"),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            True,
            id="trace-id",
        ),
        pytest.param(
            ("authorization", "Basic YWxpY2U6cGFzc3dvcmQ="),
            "01ARZ3NDEKTSV4RRFFQ69G5FAV",
            True,
            id="ulid",
        ),
        # A secret of separators only holds nothing an id could carry.
        pytest.param(
            ("authorization", "Basic " + base64.b64encode(b"alice:********").decode()),
            "3f2b8c1e-9a4d-4e6f-8b1a-2c3d4e5f6a7b",
            True,
            id="password-of-stars",
        ),
        pytest.param(
            ("cookie", "session=--------"),
            "3f2b8c1e-9a4d-4e6f-8b1a-2c3d4e5f6a7b",
            True,
            id="dashes-session",
        ),
    ],
)
def test_request_ids_against_other_credentials(
    credential: tuple[str, str], incoming: str, echoed: bool
) -> None:
    decision = run((credential, ("x-request-id", incoming)), api_key_headers=["x-api-key"])
    assert (header(decision, "x-request-id") == [incoming]) is echoed
    assert (dict(decision.log)["request_id"] == incoming) is echoed


def test_filler_credentials_do_not_hide_the_key_in_an_id() -> None:
    """A cookie-heavy request (110 cookies of 40 characters) still has its
    API key, written as a UUID, refused as a request id."""
    key = "4283fefc63f0cd0e873a0000c6d07ef7b77e90d3aa5c41e2b6f9d8c7e1a2b3c4"
    cookies = "; ".join(f"c{i}={f'x{i:02d}y' * 10}" for i in range(110))
    as_uuid = f"{key[:8]}-{key[8:12]}-{key[12:16]}-{key[16:20]}-{key[20:32]}"
    decision = run(
        (("x-api-key", key), ("cookie", cookies), ("x-request-id", as_uuid)),
        api_key_headers=["x-api-key"],
    )
    assert header(decision, "x-request-id") != [as_uuid]
    assert as_uuid not in repr(dict(decision.log))


# Found by attacking through real servers (round 4).
_COOKIE = "Zx8_Kq2-Wm5Rt7Yp3Lv9Nb4Hc6Jd1FgTe0Ua"


def test_a_header_name_holding_a_piece_of_a_secret_in_any_case_is_dropped() -> None:
    decision = run(
        (("cookie", f"sessionid={_COOKIE}"),),
        app_headers=((f"x-{_COOKIE[:30].lower()}", "1"), ("x-app", "kept")),
    )
    names = [name for name, _ in decision.headers]
    assert "x-app" in names
    assert not [name for name in names if _COOKIE[:30].lower() in name]


def test_a_piece_of_a_secret_in_the_query_or_user_agent_is_not_logged() -> None:
    piece = _COOKIE[3:25]
    decision = run(
        (("cookie", f"sessionid={_COOKIE}"), ("user-agent", f"x {piece}")),
        query=f"a=1&b={piece}",
    )
    logged = repr(dict(decision.log))
    assert piece not in logged


def test_the_credential_is_read_first_however_many_fillers() -> None:
    """70 secret-named headers of 1,000 characters do not push the bearer
    token out of the request-id check's budget."""
    token = "".join(f"{i:04d}Tk" for i in range(360))  # 2,160 characters
    fillers = tuple((f"x-f{i}-secret", f"{i:03d}" + "q" * 997) for i in range(70))
    piece = token[600:625]
    decision = run((("authorization", f"Bearer {token}"), *fillers, ("x-request-id", piece)))
    assert header(decision, "x-request-id") != [piece]
    assert piece not in repr(dict(decision.log))


def test_log_event_fields() -> None:
    decision = run(
        (*BEARER, ("user-agent", "curl/8"), ("origin", "https://app.example")),
        query=f"access_token={SECRET}&page=2",
        fingerprint_key=b"k" * 32,
    )
    log = dict(decision.log)
    assert log["reason"] == "credentials_malformed"
    assert log["status"] == 400
    assert log["app_status"] == 401
    assert log["query"] == "access_token=[redacted]&page=2"
    assert log["user_agent"] == "curl/8"
    assert log["origin"] == "https://app.example"
    assert log["client"] == "127.0.0.1"
    assert len(str(log["credential_fingerprint"])) == 16
    assert log["owasp_event"] == "authn_login_fail"
    assert SECRET not in repr(log)


@pytest.mark.parametrize(
    "authorization",
    [
        (("authorization", f"Bearer {EXPIRED}"),),
        # No token read (the first field is empty): the request is known by
        # its first secret, which a longer request id must not displace.
        (("authorization", "Bearer "), ("authorization", f"Bearer {EXPIRED}")),
    ],
    ids=["one-field", "empty-field-first"],
)
def test_a_request_id_holding_a_secret_keeps_the_fingerprint(
    authorization: tuple[tuple[str, str], ...],
) -> None:
    """A request id refused for holding a secret is masked as one, but the
    request is still identified by its credential, not by that id."""
    longer = jwt_like(exp=NOW - 95, sub="someone", iat=NOW - 600)
    plain = run(authorization, fingerprint_key=b"k" * 32)
    with_id = run((*authorization, ("x-request-id", longer)), fingerprint_key=b"k" * 32)
    assert with_id.log["credential_fingerprint"] == plain.log["credential_fingerprint"]
    assert longer not in repr(with_id.log)
    assert longer not in with_id.body.decode()


def test_csrf_failure_is_not_an_auth_failure() -> None:
    policy = Policy.from_options({"realm": "api"})
    view = RequestView("POST", "/form", "", ())
    answer = AppAnswer(403, (("content-type", "text/plain"),), b"CSRF verification failed.")
    assert decide(policy, view, answer, now=NOW) is None


def test_step_up_challenge_rfc9470() -> None:
    decision = run(
        BEARER,
        declared=Declared(Reason.STEP_UP_REQUIRED, {"acr_values": ["mfa", "phr"], "max_age": 300}),
    )
    parsed = challenge(decision)
    assert decision.status == 401
    assert parsed.parameters["error"] == "insufficient_user_authentication"
    assert parsed.parameters["acr_values"] == "mfa phr"
    assert parsed.parameters["max_age"] == "300"
    # The app said exactly why: its raise is not a misconfiguration.
    assert decision.misconfig == ()


def test_pyjwt_signature_message_is_recognised() -> None:
    decision = run(BEARER, body=b'{"detail":"Signature verification failed"}')
    assert body(decision)["reason"] == "token_signature_invalid"


@pytest.mark.parametrize("phrase", ["Forbidden", "403 Forbidden", "Unauthorized."])
def test_bare_status_phrase_is_not_a_message(phrase: str) -> None:
    decision = run(
        (), status=403, app_headers=(("content-type", "text/plain"),), body=phrase.encode()
    )
    assert body(decision)["detail"] == (
        "This request carried no credentials; this API accepts Bearer."
    )


@pytest.mark.parametrize(
    ("app_challenge", "sent", "reason", "accepted"),
    [
        # FastAPI HTTPBasic answers with a bare "Basic" challenge: the app knows
        # what it accepts better than the policy's default.
        pytest.param("Basic", (), "credentials_missing", ["Basic"], id="basic-app"),
        pytest.param(
            "Basic",
            (("authorization", "Basic dTpw"),),
            "credentials_invalid",
            None,
            id="basic-sent",
        ),
        # DRF TokenAuthentication's challenge names its own scheme word.
        pytest.param(
            "Token",
            (("authorization", "Token abcdef"),),
            "credentials_invalid",
            None,
            id="drf-token",
        ),
        pytest.param(
            "Token",
            (("authorization", "Basic dTpw"),),
            "scheme_not_accepted",
            ["Token"],
            id="drf-token-basic",
        ),
    ],
)
def test_app_challenge_names_the_accepted_schemes(
    app_challenge: str, sent: tuple[tuple[str, str], ...], reason: str, accepted: list[str] | None
) -> None:
    decision = run(sent, app_headers=(("www-authenticate", app_challenge),))
    problem = body(decision)
    assert problem["reason"] == reason
    assert problem.get("accepted_schemes") == accepted
    # No RFC 6750 code for non-bearer schemes.
    assert "error=" not in " ".join(header(decision, "www-authenticate"))


@pytest.mark.parametrize(
    ("app_challenge", "sent", "expected"),
    [
        # R7: the app's own error code is dropped when no credentials came.
        pytest.param(
            'Bearer realm="api", error="invalid_token", error_description="missing or invalid"',
            (),
            'Bearer realm="api"',
            id="no-credentials-no-error",
        ),
        pytest.param(
            'Bearer error="insufficient_scope", scope="a b"',
            (("authorization", "Basic dTpw"),),
            'Bearer realm="api"',
            id="other-scheme-no-error",
        ),
        # R6: RFC 6750 charsets hold even for what the app wrote; our words,
        # consistent with the body, replace the app's description.
        pytest.param(
            'Bearer realm="my api", error="invalid_token", error_description="The token \\"x\\" has'
            ' expired", error_uri="not a uri"',
            BEARER,
            'Bearer realm="my api", error="invalid_token",'
            " error_description=\"The token 'x' has expired\"",
            id="charset-and-uri",
        ),
        # RFC 7616 §3.3: algorithm and stale are never quoted.
        pytest.param(
            'Digest realm="x", algorithm=SHA-256, qop="auth", nonce="abc", stale=FALSE',
            (),
            'Digest realm="x", algorithm=SHA-256, qop="auth", nonce="abc", stale=FALSE',
            id="digest-tokens",
        ),
        # A secret the app echoed into its own challenge is never sent on.
        pytest.param(
            f'Bearer realm="api", note="token {SECRET} seen"',
            BEARER,
            'Bearer realm="api", note="token [redacted] seen", error="invalid_token",'
            ' error_description="The credentials were rejected."',
            id="scrubbed",
        ),
    ],
)
def test_app_challenge_is_cleaned(
    app_challenge: str, sent: tuple[tuple[str, str], ...], expected: str
) -> None:
    decision = run(sent, app_headers=(("www-authenticate", app_challenge),))
    assert header(decision, "www-authenticate") == [expected]


@pytest.mark.parametrize(
    ("headers", "app_body", "secret"),
    [
        pytest.param(
            (("x-api-key", "sk_live_SUPERSECRET123"),),
            b'{"detail":"Invalid API key: sk_live_SUPERSECRET123"}',
            "sk_live_SUPERSECRET123",
            id="api-key",
        ),
        pytest.param(
            (("cookie", "sessionid=abcdefgh12345678"),),
            b'{"detail":"session abcdefgh12345678 expired"}',
            "abcdefgh12345678",
            id="cookie",
        ),
        pytest.param(
            (("authorization", "Basic dXNlcjpodW50ZXIy"),),
            b'{"detail":"wrong password hunter2"}',
            "hunter2",
            id="basic-password",
        ),
    ],
)
def test_every_credential_is_scrubbed_and_fingerprinted(
    headers: tuple[tuple[str, str], ...], app_body: bytes, secret: str
) -> None:
    decision = run(headers, body=app_body, schemes=("Bearer", "Basic"))
    assert secret not in decision.body.decode()
    assert secret not in repr(decision.headers)
    assert secret not in repr(decision.log)
    assert "[redacted]" in body(decision)["detail"]
    assert len(str(decision.log["credential_fingerprint"])) == 16


@pytest.mark.parametrize(
    "message",
    [
        "CSRF token missing or incorrect.",
        "The CSRF token is missing.",
        "CSRF Failed: CSRF token missing.",
        "Cross-site request forgery detected",
    ],
)
def test_csrf_wordings_are_not_auth_failures(message: str) -> None:
    policy = Policy.from_options({"realm": "api"})
    answer = AppAnswer(
        403, (("content-type", "application/json"),), json.dumps({"detail": message}).encode()
    )
    assert decide(policy, RequestView("POST", "/f", "", ()), answer, now=NOW) is None


def test_token_only_in_query_is_not_read_by_the_app() -> None:
    decision = run((), query=f"access_token={SECRET}", body=b'{"detail":"Not authenticated"}')
    problem = body(decision)
    assert problem["reason"] == "credentials_missing"
    assert problem["problem"] == "token_in_query"
    assert header(decision, "www-authenticate") == ['Bearer realm="api"']  # R7
    assert SECRET not in decision.body.decode()


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        # Default schemes: the app's Basic-only challenge says what it takes.
        pytest.param({}, "scheme_not_accepted", id="default-schemes"),
        # Configured schemes are taken at their word.
        pytest.param({"schemes": ("Bearer", "Basic")}, "credentials_invalid", id="configured"),
    ],
)
def test_bearer_to_a_basic_app(options: dict[str, Any], reason: str) -> None:
    decision = run(BEARER, app_headers=(("www-authenticate", 'Basic realm="x"'),), **options)
    assert body(decision)["reason"] == reason


def test_scope_named_in_the_apps_message() -> None:
    decision = run(BEARER, status=403, body=b'{"message":"Missing scope items"}')
    assert body(decision)["required_scope"] == "items"
    assert challenge(decision).parameters["scope"] == "items"


def test_declared_scope_is_one_spelling_everywhere() -> None:
    decision = run(
        BEARER,
        declared=Declared(Reason.INSUFFICIENT_SCOPE, {"required_scope": 'a"b c\\d \r\nX: y'}),
    )
    assert body(decision)["required_scope"] == "ab cd X: y"
    assert challenge(decision).parameters["scope"] == "ab cd X: y"


def test_the_apps_own_request_id_wins() -> None:
    decision = run((("x-request-id", "from-client"),), app_headers=(("x-request-id", "app-42"),))
    assert body(decision)["request_id"] == "app-42"
    assert header(decision, "x-request-id") == ["app-42"]


@pytest.mark.parametrize(
    ("sent", "status", "app_body", "query", "reason", "out_status"),
    [
        # A 403 with words of its own: the app read the Basic credentials.
        pytest.param(
            (("authorization", "Basic Ym9iOnB3LWNvcnJlY3QtMQ=="),),
            403,
            b'{"detail":"Admins only"}',
            "",
            "forbidden",
            403,
            id="basic-403-admins-only",
        ),
        # A bare 403 to credentials of another scheme, and only the default
        # schemes: it may be a Basic app's permission refusal. Kept.
        pytest.param(
            (("authorization", "Basic dTpw"),),
            403,
            b"Forbidden",
            "",
            "forbidden",
            403,
            id="basic-bare-403",
        ),
        # A query token the app did read: its 403 and its "Invalid token" stand.
        pytest.param(
            (),
            403,
            b'{"detail":"You are not an administrator"}',
            f"access_token={SECRET}",
            "forbidden",
            403,
            id="query-token-403",
        ),
        pytest.param(
            (),
            401,
            b'{"detail":"Invalid token"}',
            f"access_token={SECRET}",
            "credentials_invalid",
            401,
            id="query-token-rejected",
        ),
        pytest.param(
            (),
            401,
            b'{"detail":"Not authenticated"}',
            f"access_token={SECRET}",
            "credentials_missing",
            401,
            id="query-token-unread",
        ),
    ],
)
def test_what_the_app_saw(
    sent: tuple[tuple[str, str], ...],
    status: int,
    app_body: bytes,
    query: str,
    reason: str,
    out_status: int,
) -> None:
    decision = run(sent, status=status, body=app_body, query=query)
    assert body(decision)["reason"] == reason
    assert decision.status == out_status


def test_list_scope_is_space_separated() -> None:
    decision = run(
        BEARER,
        declared=Declared(
            Reason.INSUFFICIENT_SCOPE, {"required_scope": ["items:read", "items:write"]}
        ),
    )
    assert body(decision)["required_scope"] == "items:read items:write"
    assert challenge(decision).parameters["scope"] == "items:read items:write"


def test_short_password_is_scrubbed() -> None:
    decision = run(
        (("authorization", "Basic YWxpY2U6cHcx"),),  # alice:pw1
        schemes=("Basic",),
        app_headers=(("www-authenticate", 'Basic realm="k", note="pw1"'),),
        body=b'{"detail":"bad credential pw1"}',
    )
    assert "pw1" not in decision.body.decode()
    assert "pw1" not in repr(decision.headers)


def test_the_apps_problem_details_are_kept() -> None:
    app_problem = {
        "type": "https://example.com/probs/out-of-credit",
        "title": "You do not have enough credit.",
        "detail": "Your current balance is 30, but that costs 50.",
        "instance": "/account/12345/msgs/abc",
        "balance": 30,
        "accounts": ["/account/12345", "/account/67890"],
    }
    decision = run(
        BEARER,
        status=403,
        app_headers=(("content-type", "application/problem+json"),),
        body=json.dumps(app_problem).encode(),
    )
    problem = body(decision)
    for member in ("type", "title", "instance", "detail", "balance", "accounts"):
        assert problem[member] == app_problem[member]
    assert problem["status"] == 403
    assert problem["reason"] == "forbidden"


def test_utf8_in_the_apps_challenge_description() -> None:
    value = 'Bearer error="invalid_token", error_description="Jeton expir\u00e9"'
    raw = value.encode("utf-8").decode("latin-1")  # as an ASGI/WSGI server hands it over
    decision = run(BEARER, app_headers=(("www-authenticate", raw),))
    assert body(decision)["detail"] == "Jeton expir\u00e9"


@pytest.mark.parametrize(
    ("cache_control", "flagged"),
    [
        pytest.param("public, max-age=600", True, id="public"),
        pytest.param("s-maxage=60", True, id="s-maxage"),
        pytest.param("max-age=0, must-revalidate", False, id="max-age-0"),
        pytest.param("no-cache", False, id="no-cache"),
    ],
)
def test_cacheable_failure_is_reported(cache_control: str, flagged: bool) -> None:
    decision = run(BEARER, app_headers=(("cache-control", cache_control),))
    assert ("cacheable_failure" in decision.misconfig) is flagged


# --- finding 3: nothing of the request's secrets in the app's challenge -------

MIXED = "AbCdEf0123456789XyZ-mixed"
MIXED_BEARER = (("authorization", f"Bearer {MIXED}"),)
OURS_401 = (
    'Bearer realm="api", error="invalid_token", error_description="The credentials were rejected."'
)


@pytest.mark.parametrize(
    ("app_challenge", "expected"),
    [
        # RFC 6750 §3: a Bearer challenge has no token68; one is an echo.
        pytest.param(f"Bearer {MIXED}", [OURS_401], id="bearer-token68"),
        pytest.param(f"bearer {MIXED}==", [OURS_401], id="bearer-token68-padded"),
        pytest.param(f"DPoP {MIXED}, Bearer", ['DPoP realm="api"', OURS_401], id="dpop-token68"),
        pytest.param(f"Basic {MIXED}", ['Basic realm="api", charset="UTF-8"'], id="basic-token68"),
        # Other schemes may carry a token68 (Negotiate, NTLM): not one that
        # is, holds or is a piece of the request's secret, or a credential.
        pytest.param(f"Negotiate {MIXED}", ['Negotiate realm="api"'], id="negotiate-secret"),
        pytest.param(f"Negotiate {MIXED[3:15]}", ['Negotiate realm="api"'], id="negotiate-piece"),
        pytest.param(f"Negotiate {EXPIRED}", ['Negotiate realm="api"'], id="negotiate-jwt"),
        pytest.param(
            "NTLM TlRMTVNTUAACAAAADAAMADAAAAA=",
            ["NTLM TlRMTVNTUAACAAAADAAMADAAAAA="],
            id="ntlm-kept",
        ),
        # A scheme that is the secret: the challenge goes, ours replaces it
        # (which error it carries is the diagnosis's, from the challenges it
        # reads: see test_challenge.py::test_reader_drops_echoed_schemes).
        pytest.param(MIXED, None, id="scheme-is-secret"),
        pytest.param(f"X{MIXED}", None, id="scheme-holds-secret"),
        pytest.param(f'{MIXED.lower()} realm="x"', None, id="scheme-lowercased"),
        # A parameter name that holds the secret (the reader lowercases names).
        pytest.param(
            f'Bearer realm="x", {MIXED}="1", a="b"',
            [
                'Bearer realm="x", a="b", error="invalid_token",'
                ' error_description="The credentials were rejected."'
            ],
            id="param-name",
        ),
        # Values: the secret, a piece of it, a credential shape.
        pytest.param(
            f'Bearer realm="x", hint="{MIXED[:12]}"',
            [
                'Bearer realm="x", hint="[redacted]", error="invalid_token",'
                ' error_description="The credentials were rejected."'
            ],
            id="value-piece",
        ),
        pytest.param(
            f"Bearer realm=x, hint={MIXED}",
            [
                'Bearer realm="x", hint="[redacted]", error="invalid_token",'
                ' error_description="The credentials were rejected."'
            ],
            id="value-token",
        ),
        pytest.param(
            f'Bearer error="invalid_token", error_uri="https://x.example/e?t={MIXED}"',
            [OURS_401],
            id="error-uri-with-secret",
        ),
    ],
)
def test_app_challenge_never_echoes_a_secret(
    app_challenge: str, expected: list[str] | None
) -> None:
    decision = run(MIXED_BEARER, app_headers=(("www-authenticate", app_challenge),))
    values = header(decision, "www-authenticate")
    if expected is None:
        assert [value.split(",")[0] for value in values] == ['Bearer realm="api"']
    else:
        assert values == expected
    for value in values:
        assert MIXED.lower() not in value.lower()
        assert MIXED[:12].lower() not in value.lower()
        assert WWWAuthenticate.from_header(value) is not None
    assert MIXED not in decision.body.decode()


# --- finding 10: the challenges we write are bounded and read back ------------


def test_thousand_repeated_challenges_become_one() -> None:
    decision = run(BEARER, app_headers=(("www-authenticate", ",".join(["Bearer"] * 1100)),))
    assert header(decision, "www-authenticate") == [
        'Bearer realm="api", error="invalid_token",'
        ' error_description="The credentials were rejected."'
    ]
    assert "app_challenge_invalid" not in decision.misconfig


def test_thousand_distinct_challenges_are_replaced() -> None:
    value = ", ".join(f'Bearer n="{i}"' for i in range(1100))[:8000].rsplit(",", 1)[0]
    decision = run(BEARER, app_headers=(("www-authenticate", value),))
    assert header(decision, "www-authenticate") == [OURS_401.replace(MIXED, SECRET)]
    assert "app_challenge_invalid" in decision.misconfig


def test_challenge_that_would_grow_past_the_bound_is_ours() -> None:
    params = ", ".join(f'p{i:02d}="{"x" * 488}"' for i in range(16))
    value = f"Bearer {params}"
    assert len(value) <= MAX_HEADER_CHARS
    url = "https://api.example/.well-known/oauth-protected-resource/" + "r" * 300
    decision = run(BEARER, app_headers=(("www-authenticate", value),), resource_metadata=url)
    (written,) = header(decision, "www-authenticate")
    assert written.startswith('Bearer realm="api", error="invalid_token"')
    assert parse_challenges([written]) is not None


hostile_text = st.text(max_size=600) | st.lists(
    st.sampled_from([*'\r\n\x00\t"\\,= ;aZ\x7f\x80\xff', "Bearer", "Basic", " realm=", MIXED]),
    max_size=120,
).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(hostile_text, max_size=4),
    status=st.sampled_from([400, 401, 403]),
    schemes=st.sampled_from([("Bearer",), ("Bearer", "Basic"), ("Basic", "DPoP", "Bearer")]),
    sent=st.sampled_from([MIXED_BEARER, (("authorization", f"Basic {MIXED}"),), ()]),
)
def test_any_app_challenge_gives_challenges_we_and_werkzeug_read(
    values: list[str], status: int, schemes: tuple[str, ...], sent: tuple[tuple[str, str], ...]
) -> None:
    app_headers = tuple(("www-authenticate", value) for value in values)
    policy = Policy.from_options({"realm": "api", "schemes": schemes})
    view = RequestView("GET", "/items", "", sent, "127.0.0.1")
    decision = decide(policy, view, AppAnswer(status, app_headers, b""), now=NOW)
    if decision is None:
        return
    written = header(decision, "www-authenticate")
    assert rendered_size(parse_challenges(written) or []) <= MAX_HEADER_CHARS
    assert len(", ".join(written)) <= MAX_HEADER_CHARS
    ours = parse_challenges(written)
    assert ours is not None
    assert len(ours) == len(written)
    for value, mine in zip(written, ours, strict=True):
        oracle = WWWAuthenticate.from_header(value)
        assert oracle is not None, value
        assert oracle.type == mine.scheme.lower()
        assert dict(oracle.parameters) == dict(mine.params)
        assert (oracle.token or None) == mine.token68
        if sent:
            # The request's credential never leaves; without one, an app's
            # own scheme word that happens to spell it is only a word.
            assert MIXED.lower() not in value.lower()
    if decision.status == 401:
        assert written


# --- finding 16: a 400 or 403 carries only the challenge that conveys its error


@pytest.mark.parametrize(
    ("sent", "status", "declared", "app_challenge", "expected"),
    [
        pytest.param(
            BEARER,
            403,
            Declared(Reason.INSUFFICIENT_SCOPE, {"required_scope": "items:write"}),
            None,
            [
                'Bearer realm="api", error="insufficient_scope", scope="items:write",'
                " error_description=\"This resource requires the scope 'items:write'.\""
            ],
            id="403-insufficient-scope",
        ),
        pytest.param(
            (("authorization", "Bearer "),),
            401,
            None,
            None,
            [
                'Bearer realm="api", error="invalid_request",'
                ' error_description="The Authorization header names a scheme but carries no'
                ' credential."'
            ],
            id="400-malformed",
        ),
        pytest.param(
            BEARER,
            403,
            Declared(Reason.INSUFFICIENT_SCOPE, {"required_scope": "a"}),
            'Basic realm="x", Negotiate abc==, Bearer',
            [
                'Bearer realm="api", error="insufficient_scope", scope="a",'
                " error_description=\"This resource requires the scope 'a'.\""
            ],
            id="403-app-challenges",
        ),
        pytest.param(
            BEARER,
            403,
            Declared(Reason.INSUFFICIENT_SCOPE, {"required_scope": "a"}),
            'Basic realm="x"',
            [
                'Bearer realm="api", error="insufficient_scope", scope="a",'
                " error_description=\"This resource requires the scope 'a'.\""
            ],
            id="403-app-basic-only",
        ),
        pytest.param(
            BEARER,
            401,
            None,
            None,
            [
                'Bearer realm="api", error="invalid_token",'
                ' error_description="The credentials were rejected."',
                'Basic realm="api", charset="UTF-8"',
            ],
            id="401-both",
        ),
    ],
)
def test_400_and_403_carry_only_the_error_challenge(
    sent: tuple[tuple[str, str], ...],
    status: int,
    declared: Declared | None,
    app_challenge: str | None,
    expected: list[str],
) -> None:
    app_headers = (("www-authenticate", app_challenge),) if app_challenge else ()
    decision = run(
        sent, status=status, declared=declared, app_headers=app_headers, schemes=("Bearer", "Basic")
    )
    assert header(decision, "www-authenticate") == expected


# --- finding 17: machine-read parameters before error_description --------------

# What the MCP python SDK does: search the whole header for the first scope=.
_NAIVE_SCOPE_RE = re.compile(r'scope="([^"]*)"|scope=([^\s,]+)')


@pytest.mark.parametrize(
    ("declared", "options", "machine"),
    [
        pytest.param(
            Declared(
                Reason.INSUFFICIENT_SCOPE,
                {"required_scope": "items:write"},
                'Ask for scope="admin" or scope=root',
            ),
            {},
            ("error", "scope"),
            id="scope",
        ),
        pytest.param(
            Declared(
                Reason.STEP_UP_REQUIRED,
                {"acr_values": ["mfa"], "max_age": 60},
                "Use acr_values=phr max_age=0 scope=admin",
            ),
            {"resource_metadata": "https://api.example/.well-known/oauth-protected-resource"},
            ("error", "acr_values", "max_age", "resource_metadata"),
            id="step-up",
        ),
        pytest.param(
            Declared(Reason.TOKEN_REVOKED, {}, "revoked; scope=admin was granted"),
            {"resource_metadata": "https://api.example/.well-known/oauth-protected-resource"},
            ("error", "resource_metadata"),
            id="revoked",
        ),
    ],
)
def test_machine_read_parameters_come_first(
    declared: Declared, options: dict[str, Any], machine: tuple[str, ...]
) -> None:
    decision = run(BEARER, status=403, declared=declared, **options)
    (value,) = header(decision, "www-authenticate")
    parsed = WWWAuthenticate.from_header(value)
    assert parsed is not None
    names = list(parsed.parameters)
    assert names[-1] == "error_description"
    for name in machine:
        assert name in names
        assert value.index(f"{name}=") < value.index("error_description=")
    # No `name=` inside the description for a naive parser to read.
    assert "=" not in parsed.parameters["error_description"]
    found = _NAIVE_SCOPE_RE.search(value)
    if "scope" in machine:
        assert found is not None
        assert (found.group(1) or found.group(2)) == parsed.parameters["scope"]
    else:
        assert found is None


def test_description_is_transliterated_in_header_and_body() -> None:
    decision = run(
        BEARER, declared=Declared(Reason.TOKEN_REVOKED, {}, "Cl\u00e9 r\u00e9voqu\u00e9e")
    )
    assert challenge(decision).parameters["error_description"] == "Cle revoquee"
    assert body(decision)["error_description"] == "Cle revoquee"
    assert body(decision)["detail"] == "Cl\u00e9 r\u00e9voqu\u00e9e"


@pytest.mark.parametrize(
    ("realm", "kinds"),
    [
        pytest.param("api", (), id="plain"),
        pytest.param("my api (v2): ops.example", (), id="punctuation"),
        pytest.param('my "api"', ("realm_quoted_pair",), id="quote"),
        pytest.param("corp\\api", ("realm_quoted_pair",), id="backslash"),
    ],
)
def test_realm_that_needs_a_quoted_pair_is_a_misconfig(realm: str, kinds: tuple[str, ...]) -> None:
    policy = Policy.from_options({"realm": realm})
    assert policy.misconfig == kinds
    assert all(kind in MISCONFIG and MISCONFIG[kind].fix for kind in kinds)
    # The realm is still sent as written, as a quoted-string both parsers read.
    decision = run((), realm=realm)
    assert challenge(decision).parameters["realm"] == realm
