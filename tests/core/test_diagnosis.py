"""Diagnosis of refusals the app did not explain (issue 3), as tables:
what the request carried, what the app answered -> reason, status, facts."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest

from authhygiene.core.credentials import RequestView
from authhygiene.core.decision import Decision, decide
from authhygiene.core.diagnose import AppAnswer, declared_from_exception
from authhygiene.core.policy import Policy
from authhygiene.core.reasons import Reason

NOW = 1_800_000_000


def b64(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def token(header: dict[str, Any] | None = None, **claims: Any) -> str:
    return f"{b64(header or {'alg': 'HS256', 'typ': 'JWT'})}.{b64(claims)}.c2lnbmF0dXJl"


def run(
    headers: tuple[tuple[str, str], ...] = (),
    *,
    status: int = 401,
    body: bytes = b"",
    content_type: str = "application/json",
    query: str = "",
    **options: Any,
) -> Decision | None:
    policy = Policy.from_options({"realm": "api", **options})
    view = RequestView("GET", "/items", query, headers, "127.0.0.1")
    answer = AppAnswer(status, (("content-type", content_type),), body)
    return decide(policy, view, answer, now=NOW)


def problem(decision: Decision | None) -> dict[str, Any]:
    assert decision is not None
    data: dict[str, Any] = json.loads(decision.body)
    return data


def bearer(value: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {value}"),)


@pytest.mark.parametrize(
    ("value", "options", "reason", "facts"),
    [
        pytest.param(
            token({"alg": "none"}, exp=NOW + 60),
            {},
            "token_algorithm_rejected",
            {"alg": "none"},
            id="alg-none",
        ),
        pytest.param(
            token({"alg": "HS256"}),
            {"algorithms": ("RS256",)},
            "token_algorithm_rejected",
            {"alg": "HS256", "accepted_algorithms": ["RS256"]},
            id="alg-outside-list",
        ),
        pytest.param(
            token(exp=NOW - 95),
            {},
            "token_expired",
            {"expired_seconds_ago": 95, "clock_skew_suspected": True},
            id="expired-recently",
        ),
        pytest.param(
            token(exp=NOW - 86400),
            {},
            "token_expired",
            {"expired_seconds_ago": 86400, "clock_skew_suspected": False},
            id="expired-long-ago",
        ),
        pytest.param(
            token(nbf=NOW + 30),
            {},
            "token_not_yet_valid",
            {"valid_in_seconds": 30, "clock_skew_suspected": True},
            id="nbf-ahead",
        ),
        pytest.param(
            token(iat=NOW + 45),
            {},
            "token_not_yet_valid",
            {"valid_in_seconds": 45, "issued_at": "2027-01-15T08:00:45Z"},
            id="iat-ahead",
        ),
        pytest.param(
            token(nbf=NOW + 30),
            {"clock_skew_window": 10},
            "token_not_yet_valid",
            {"clock_skew_suspected": False},
            id="narrow-window",
        ),
        pytest.param(
            "opaque-token-value",
            {"token_format": "jwt"},
            "credentials_invalid",
            {"problem": "not_a_jwt"},
            id="not-a-jwt",
        ),
        pytest.param("opaque-token-value", {}, "credentials_invalid", {}, id="opaque-ok"),
    ],
)
def test_what_the_token_shows(
    value: str, options: dict[str, Any], reason: str, facts: dict[str, Any]
) -> None:
    body = problem(run(bearer(value), **options))
    assert body["reason"] == reason
    assert body["status"] == 401
    assert body["error"] == "invalid_token"
    for key, expected in facts.items():
        assert body[key] == expected, key
    assert value not in json.dumps(body)


@pytest.mark.parametrize(
    ("headers", "query", "options", "reason", "facts"),
    [
        pytest.param(
            (),
            "token=abcdef123",
            {},
            "credentials_missing",
            {"problem": "token_in_query"},
            id="query-token",
        ),
        pytest.param(
            (),
            "api_key=abcdef123",
            {},
            "credentials_missing",
            {"problem": "token_in_query"},
            id="query-api-key",
        ),
        pytest.param(
            (("api-token", "k-123456789"),),
            "",
            {"api_key_headers": ("X-API-Key",)},
            "credentials_missing",
            {
                "problem": "api_key_in_wrong_header",
                "sent_header": "api-token",
                "expected_headers": ["x-api-key"],
            },
            id="api-key-wrong-header",
        ),
        pytest.param(
            (("api-token", "k-123456789"),),
            "",
            {},
            "credentials_missing",
            {},
            id="api-key-header-not-named",
        ),
        pytest.param(
            (("authorization", "JWT abc.def.ghi"),),
            "",
            {},
            "scheme_not_accepted",
            {"scheme": "JWT"},
            id="jwt-scheme",
        ),
        pytest.param(
            (("authorization", "token abcdef"),),
            "",
            {},
            "scheme_not_accepted",
            {"scheme": "Token"},
            id="token-scheme-lowercase",
        ),
    ],
)
def test_what_the_request_shows(
    headers: tuple[tuple[str, str], ...],
    query: str,
    options: dict[str, Any],
    reason: str,
    facts: dict[str, Any],
) -> None:
    body = problem(run(headers, query=query, body=b'{"detail":"Not authenticated"}', **options))
    assert body["reason"] == reason
    assert "error" not in body  # RFC 6750 §3.1: no code for these
    for key, expected in facts.items():
        assert body[key] == expected, key
    if "problem" not in facts:
        assert "problem" not in body or body["problem"] != "api_key_in_wrong_header"
    assert "k-123456789" not in json.dumps(body)


GOOD = bearer(token(exp=NOW + 600))

# Wordings of auth code we don't own -> (status out, reason). Each row cites its source.
RECOGNISED = [
    # FastAPI security classes, 401 since 0.122 and 403 before.
    pytest.param(
        (),
        403,
        {"detail": "Not authenticated"},
        "text",
        401,
        "credentials_missing",
        id="fastapi-old-403-missing",
    ),
    pytest.param(
        (("authorization", "Basic dTpw"),),
        403,
        {"detail": "Invalid authentication credentials"},
        "json",
        401,
        "scheme_not_accepted",
        id="fastapi-old-403-wrong-scheme",
    ),
    pytest.param(
        GOOD,
        403,
        {"detail": "Invalid authentication credentials"},
        "json",
        401,
        "credentials_invalid",
        id="fastapi-old-403-invalid",
    ),
    pytest.param(
        GOOD,
        401,
        {"detail": "Could not validate credentials"},
        "json",
        401,
        "credentials_invalid",
        id="fastapi-docs",
    ),
    # Django REST framework.
    pytest.param(
        (("cookie", "sessionid=abc123456"),),
        403,
        {"detail": "Authentication credentials were not provided."},
        "json",
        401,
        "credentials_missing",
        id="drf-session-coerced-403",
    ),
    pytest.param(
        GOOD,
        401,
        {"detail": "Invalid token."},
        "json",
        401,
        "credentials_invalid",
        id="drf-authentication-failed",
    ),
    pytest.param(
        GOOD,
        403,
        {"detail": "You do not have permission to perform this action."},
        "json",
        403,
        "forbidden",
        id="drf-permission-denied",
    ),
    # Flask-JWT-Extended.
    pytest.param(
        GOOD,
        422,
        {"msg": "Signature verification failed"},
        "json",
        401,
        "token_signature_invalid",
        id="fjwt-422-signature",
    ),
    pytest.param(
        GOOD,
        422,
        {"msg": "Not enough segments"},
        "json",
        401,
        "credentials_invalid",
        id="fjwt-422-segments",
    ),
    pytest.param(
        GOOD,
        422,
        {"msg": "Only non-refresh tokens are allowed"},
        "json",
        401,
        "credentials_invalid",
        id="fjwt-422-refresh",
    ),
    pytest.param(
        GOOD,
        401,
        {"msg": "Token has been revoked"},
        "json",
        401,
        "token_revoked",
        id="fjwt-revoked",
    ),
    pytest.param(
        GOOD,
        401,
        {"msg": "Fresh token required"},
        "json",
        401,
        "step_up_required",
        id="fjwt-fresh-required",
    ),
    pytest.param(
        bearer(token(exp=NOW - 3600)),
        401,
        {"msg": "Token has expired"},
        "json",
        401,
        "token_expired",
        id="fjwt-expired",
    ),
    # Starlette AuthenticationMiddleware's default on_error.
    pytest.param(
        (("authorization", "Basic dTpw"),),
        400,
        "Invalid basic auth credentials",
        "text",
        401,
        "credentials_invalid",
        id="starlette-400",
    ),
    *(
        pytest.param(
            (("authorization", "Bearer abc.def"),),
            400,
            text,
            "text",
            401,
            "credentials_invalid",
            id=f"starlette-400-{text}",
        )
        for text in (
            "Invalid bearer token",
            "Missing bearer token",
            "Invalid JWT",
            "Invalid authentication credentials.",
            "Bad authorization header",
            "Invalid API key",
        )
    ),
]


@pytest.mark.parametrize(("headers", "status", "body", "kind", "out", "reason"), RECOGNISED)
def test_recognisers(
    headers: tuple[tuple[str, str], ...],
    status: int,
    body: object,
    kind: str,
    out: int,
    reason: str,
) -> None:
    raw = json.dumps(body).encode() if kind == "json" else str(body).encode()
    content_type = "application/json" if kind == "json" else "text/plain; charset=utf-8"
    decision = run(headers, status=status, body=raw, content_type=content_type)
    assert decision is not None
    assert decision.status == out
    assert problem(decision)["reason"] == reason


# A 400/422 that is not about credentials passes through untouched.
NOT_OURS = [
    pytest.param(
        GOOD,
        422,
        {"detail": [{"type": "missing", "loc": ["body", "name"], "msg": "Field required"}]},
        "json",
        id="fastapi-validation-with-token",
    ),
    pytest.param(GOOD, 400, "Invalid JSON body", "text", id="plain-400-with-token"),
    pytest.param((), 400, "Invalid basic auth credentials", "text", id="400-without-credentials"),
    pytest.param(
        (), 422, {"msg": "Signature verification failed"}, "json", id="422-without-credentials"
    ),
    pytest.param(GOOD, 400, {"error": "Missing field: token"}, "json", id="json-400-field"),
    pytest.param(
        GOOD, 400, {"detail": "Verification token has expired"}, "json", id="other-token-expired"
    ),
    pytest.param(GOOD, 400, "Reset token has expired", "text", id="other-token-expired-text"),
    pytest.param(GOOD, 422, {"detail": "Missing claim number"}, "json", id="insurance-claim"),
    pytest.param(GOOD, 422, {"msg": "Missing claim number"}, "json", id="msg-shaped-claim"),
    pytest.param(
        GOOD, 400, "Invalid password: it must contain a digit", "text", id="password-policy"
    ),
    pytest.param(
        GOOD,
        400,
        {"error": "Signature verification failed for payload"},
        "json",
        id="webhook-signature",
    ),
    pytest.param(GOOD, 422, {"msg": "Token has expired"}, "json", id="fjwt-shape-but-valid-exp"),
    # A bare "token" or "signature" names no credential of the request: a card
    # token posted with a good access token, a reset link, a webhook.
    *(
        pytest.param(GOOD, 400, text, "text", id=f"bare-{text}")
        for text in (
            "Invalid token",
            "Invalid token.",
            "Expired token",
            "invalid signature",
            "Unknown token",
            "Malformed token",
        )
    ),
    pytest.param(GOOD, 400, {"detail": "Invalid token"}, "json", id="fastapi-invalid-token"),
]


@pytest.mark.parametrize(("headers", "status", "body", "kind"), NOT_OURS)
def test_unrelated_400_and_422_are_left_alone(
    headers: tuple[tuple[str, str], ...], status: int, body: object, kind: str
) -> None:
    from authhygiene.core.exchange import carries_credentials

    raw = json.dumps(body).encode() if kind == "json" else str(body).encode()
    content_type = "application/json" if kind == "json" else "text/plain"
    # The adapters never hand over a 400/422 from a request without credentials...
    authorization = any(name == "authorization" for name, _ in headers)
    if not carries_credentials(authorization, ""):
        return
    # ...and the core leaves the others alone.
    assert run(headers, status=status, body=raw, content_type=content_type) is None


@pytest.mark.parametrize(
    ("exception", "reason"),
    [
        pytest.param(
            jwt.ExpiredSignatureError("Signature has expired"), Reason.TOKEN_EXPIRED, id="expired"
        ),
        pytest.param(
            jwt.ImmatureSignatureError("The token is not yet valid (nbf)"),
            Reason.TOKEN_NOT_YET_VALID,
            id="immature",
        ),
        pytest.param(
            jwt.InvalidAudienceError("Audience doesn't match"),
            Reason.TOKEN_AUDIENCE_MISMATCH,
            id="audience",
        ),
        pytest.param(
            jwt.InvalidIssuerError("Invalid issuer"), Reason.TOKEN_ISSUER_MISMATCH, id="issuer"
        ),
        pytest.param(
            jwt.InvalidSignatureError("Signature verification failed"),
            Reason.TOKEN_SIGNATURE_INVALID,
            id="signature",
        ),
        pytest.param(
            jwt.InvalidAlgorithmError("The specified alg value is not allowed"),
            Reason.TOKEN_ALGORITHM_REJECTED,
            id="algorithm",
        ),
        pytest.param(
            jwt.MissingRequiredClaimError("exp"), Reason.CREDENTIALS_INVALID, id="missing-claim"
        ),
        pytest.param(
            jwt.DecodeError("Not enough segments"), Reason.CREDENTIALS_INVALID, id="decode"
        ),
        # Server faults: never a 401.
        pytest.param(jwt.PyJWKClientError("Fail to fetch data from the url"), None, id="jwks"),
        pytest.param(jwt.InvalidKeyError("bad key"), None, id="key"),
        pytest.param(ValueError("unrelated"), None, id="unrelated"),
    ],
)
def test_uncaught_exceptions(exception: Exception, reason: Reason | None) -> None:
    declared = declared_from_exception(exception)
    if reason is None:
        assert declared is None
    else:
        assert declared is not None
        assert declared.reason is reason
        assert declared.source.startswith("exception:jwt.exceptions.")


def test_algorithms_option_refuses_none() -> None:
    from authhygiene.core.policy import PolicyError

    with pytest.raises(PolicyError, match="RFC 8725"):
        Policy.from_options({"realm": "api", "algorithms": ("HS256", "none")})


@pytest.mark.parametrize(
    ("headers", "app_challenge", "options", "detail"),
    [
        pytest.param(
            (("api-key", "k-123456789"),),
            "APIKey",
            {},
            "This request carried an API key in the 'api-key' header, but not in a form this API"
            " reads.",
            id="api-key-header-not-read",
        ),
        pytest.param(
            (("authorization", "ApiKey k-123456789"),),
            "APIKey",
            {},
            "This request carried 'Authorization: ApiKey ...', but not in a form this API reads.",
            id="apikey-scheme-not-read",
        ),
    ],
)
def test_credentials_the_app_did_not_read(
    headers: tuple[tuple[str, str], ...], app_challenge: str, options: dict[str, Any], detail: str
) -> None:
    policy = Policy.from_options({"realm": "api", **options})
    answer = AppAnswer(
        401,
        (("content-type", "application/json"), ("www-authenticate", app_challenge)),
        b'{"detail":"Not authenticated"}',
    )
    decision = decide(policy, RequestView("GET", "/k", "", headers), answer, now=NOW)
    body = problem(decision)
    assert body["reason"] == "credentials_missing"
    assert body["problem"] == "credentials_not_read"
    assert body["detail"] == detail
    assert body["app_detail"] == "Not authenticated"  # "not provided" is not true here
    assert "k-123456789" not in json.dumps(body)


def test_contradicting_app_words_are_kept_beside_one_true_sentence() -> None:
    # DRF AuthenticationFailed raised for a request that carried nothing.
    body = problem(run((), body=b'{"detail":"Incorrect authentication credentials."}'))
    assert body["detail"] == "This request carried no credentials; this API accepts Bearer."
    # Flask-JWT-Extended's words about two headers: ours say exactly what was wrong.
    body = problem(
        run(
            (("authorization", "Bearer a.b.c"), ("authorization", "Bearer d.e.f")),
            body=b"{\"msg\":\"Missing 'Bearer' type in 'Authorization' header.\"}",
        )
    )
    assert body["detail"] == "The request carried more than one Authorization header."
    assert body["app_detail"] == "Missing 'Bearer' type in 'Authorization' header."


def test_recognised_algorithm_refusal_keeps_the_alg_fact() -> None:
    body = problem(
        run(
            bearer(token({"alg": "none"})),
            status=422,
            body=b'{"msg":"The specified alg value is not allowed"}',
            algorithms=("HS256",),
        )
    )
    assert body["reason"] == "token_algorithm_rejected"
    assert body["alg"] == "none"
    assert body["accepted_algorithms"] == ["HS256"]


def test_exception_text_gives_way_to_our_sentence() -> None:
    from authhygiene.core.diagnose import declared_from_exception

    policy = Policy.from_options({"realm": "api"})
    declared = declared_from_exception(
        jwt.ImmatureSignatureError("The token is not yet valid (nbf)")
    )
    decision = decide(
        policy,
        RequestView("GET", "/", "", bearer(token(nbf=NOW + 30))),
        AppAnswer(401),
        declared=declared,
        now=NOW,
    )
    body = problem(decision)
    assert body["detail"].startswith("The token is not valid for another 30 s")
    assert "wait until the token becomes valid" in body["hint"].lower()


def test_api_key_in_the_query_is_told_to_use_the_header() -> None:
    policy = Policy.from_options({"realm": "api"})
    answer = AppAnswer(
        401,
        (("content-type", "application/json"), ("www-authenticate", "APIKey")),
        b'{"detail":"Not authenticated"}',
    )
    decision = decide(policy, RequestView("GET", "/k", "api_key=k-123456789", ()), answer, now=NOW)
    body = problem(decision)
    assert body["problem"] == "token_in_query"
    assert "request header this API reads" in body["detail"]
    assert "X-API-Key" in body["hint"]


@pytest.mark.parametrize(
    ("headers", "status", "body", "reason", "out"),
    [
        # DRF [SessionAuthentication, TokenAuthentication]: its "Invalid token." 403
        # shows it read the Token: a 401 invalid, never "use Bearer".
        pytest.param(
            (("authorization", "Token badbadbad"),),
            403,
            b'{"detail":"Invalid token."}',
            "credentials_invalid",
            401,
            id="drf-token-read",
        ),
        # FastAPI < 0.122 HTTPBearer: these words only ever meant "another scheme".
        pytest.param(
            (("authorization", "Token badbadbad"),),
            403,
            b'{"detail":"Invalid authentication credentials"}',
            "scheme_not_accepted",
            401,
            id="fastapi-old-wrong-scheme",
        ),
        # RFC 7617 §2: Basic credentials must be base64 of user:password.
        pytest.param(
            (("authorization", "Basic !!!notb64"),),
            401,
            b'{"detail":"Not authenticated"}',
            "credentials_malformed",
            400,
            id="basic-not-base64",
        ),
        # Flask-JWT-Extended's default JWT cookie is a credential.
        pytest.param(
            (("cookie", "access_token_cookie=abc.def.ghi"),),
            401,
            b'{"msg":"Missing Authorization Header"}',
            "credentials_missing",
            401,
            id="fjwt-cookie",
        ),
    ],
)
def test_what_the_app_read(
    headers: tuple[tuple[str, str], ...], status: int, body: bytes, reason: str, out: int
) -> None:
    decision = run(headers, status=status, body=body)
    assert decision is not None
    assert decision.status == out
    data = problem(decision)
    assert data["reason"] == reason
    if reason == "credentials_missing":
        assert data["problem"] == "credentials_not_read"
        assert "carried a session cookie" in data["detail"]


# --- Issue 12, finding 1: a token without a scheme word is never named -------------

BARE_SECRETS = [
    pytest.param("0123456789abcdef0123456789abcdef", id="hex"),
    pytest.param("3f2b8c1e-9a4d-4e6f-b2c7-1d0e5a9f8b3c", id="uuid"),
    pytest.param("mysecretapikeyvalue", id="lowercase-key"),
    pytest.param("aZ3kQ9xW2pL7mN4vB8cT", id="base62"),
    pytest.param("sk_live_51HqLyjWDarjtT1zdp7dc", id="stripe"),
    pytest.param("ghp_16C7e42F292c6912E7710c838347Ae178B4a", id="github"),
    pytest.param("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", id="jwt"),
    pytest.param("Secr3t", id="short"),
]

# What the README's stacks answer to a request their auth did not read.
APP_BODIES = [
    pytest.param(401, b'{"detail":"Not authenticated"}', id="fastapi-401"),
    pytest.param(403, b'{"detail":"Not authenticated"}', id="fastapi-403"),
    pytest.param(401, b"Unauthorized Access", id="flask-httpauth"),
    pytest.param(401, b"", id="bare-401"),
]


def _everything(decision: Decision | None) -> str:
    assert decision is not None
    return json.dumps(
        [decision.status, list(decision.headers), decision.body.decode(), dict(decision.log)],
        default=str,
    )


@pytest.mark.parametrize(("status", "body"), APP_BODIES)
@pytest.mark.parametrize("secret", BARE_SECRETS)
def test_a_bare_token_is_malformed_and_never_named(secret: str, status: int, body: bytes) -> None:
    policy = Policy.from_options({"realm": "api"})
    view = RequestView(
        "GET", "/items", "", (("authorization", secret), ("x-request-id", secret)), "127.0.0.1"
    )
    answer = AppAnswer(status, (("content-type", "application/json"),), body)
    decision = decide(policy, view, answer, now=NOW)
    data = problem(decision)
    assert decision is not None
    assert decision.status == 400
    assert data["reason"] == "credentials_malformed"
    assert data["problem"] == "missing_scheme"
    assert data["error"] == "invalid_request"
    assert "scheme" not in data
    assert "has no scheme" in data["detail"]
    assert decision.log.get("scheme") is None
    assert decision.log["request_id"] != secret
    assert secret not in _everything(decision)


@pytest.mark.parametrize(("status", "body"), APP_BODIES)
@pytest.mark.parametrize("secret", BARE_SECRETS)
def test_an_unknown_first_word_is_another_scheme_never_named(
    secret: str, status: int, body: bytes
) -> None:
    decision = run((("authorization", f"{secret} rest-of-it"),), status=status, body=body)
    data = problem(decision)
    assert decision is not None
    assert data["reason"] == "scheme_not_accepted"
    assert "scheme" not in data
    assert "has no scheme this API knows" in data["detail"]
    assert data["accepted_schemes"] == ["Bearer"]
    assert decision.log["scheme"] == "other"
    text = _everything(decision)
    assert secret not in text
    assert "rest-of-it" not in text


@pytest.mark.parametrize(
    ("value", "options", "reason", "scheme"),
    [
        pytest.param(
            "MyScheme t0k3nvalue", {"schemes": ("MyScheme",)}, None, "MyScheme", id="conf"
        ),
        pytest.param(
            "myscheme t0k3nvalue", {"schemes": ("MyScheme",)}, None, "MyScheme", id="case"
        ),
        pytest.param("Basic dXNlcjpodW50ZXIy", {}, "scheme_not_accepted", "Basic", id="basic"),
        pytest.param("JWT t0k3nvalue", {}, "scheme_not_accepted", "JWT", id="jwt-word"),
    ],
)
def test_known_schemes_are_still_named(
    value: str, options: dict[str, Any], reason: str | None, scheme: str
) -> None:
    decision = run((("authorization", value),), body=b'{"detail":"Not authenticated"}', **options)
    data = problem(decision)
    assert decision is not None
    if reason is not None:
        assert data["reason"] == reason
        assert data["scheme"] == scheme
    assert decision.log["scheme"] == scheme
    assert "t0k3nvalue" not in _everything(decision)


# --- Issue 12, finding 4: secrets the parser used to miss ---------------------------

# (request headers, what the app echoes in its message, what must not leave)
ECHOED = [
    pytest.param(
        (("authorization", "Bearer first-tok-11111"), ("authorization", "Bearer second-tok-222")),
        "first-tok-11111 and second-tok-222",
        ["first-tok-11111", "second-tok-222"],
        id="two-authorization-fields",
    ),
    pytest.param(
        (("authorization", "Bearer first-tok-11111, Basic dXNlcjpodW50ZXIy"),),
        "hunter2 dXNlcjpodW50ZXIy",
        ["dXNlcjpodW50ZXIy", "hunter2"],
        id="joined-fields-basic-password",
    ),
    pytest.param(
        (("x-api-key", "key-one-111111"), ("x-auth-token", "key-two-222222")),
        "key-one-111111 and key-two-222222",
        ["key-one-111111", "key-two-222222"],
        id="two-api-key-headers",
    ),
    pytest.param(
        (("x-api-key", "key-one-111111"), ("x-api-key", "key-two-222222")),
        "key-one-111111 and key-two-222222",
        ["key-one-111111", "key-two-222222"],
        id="api-key-twice",
    ),
    pytest.param(
        (("cookie", "pad=" + "p" * 20_000 + "; sessionid=late-session-333"),),
        "late-session-333",
        ["late-session-333"],
        id="cookie-past-16k",
    ),
    pytest.param(
        (("authorization", "Bearer " + "q" * 20_000 + "tail-of-token"),),
        "q" * 20_000 + "tail-of-token",
        ["tail-of-token", "q" * 40],
        id="oversized-authorization",
    ),
    pytest.param(
        (("authorization", "Bearer " + "q" * 20_000 + "tail-of-token"),),
        "q" * 100,
        ["q" * 40],
        id="oversized-authorization-prefix",
    ),
]


@pytest.mark.parametrize(("headers", "echo", "hidden"), ECHOED)
def test_every_secret_is_scrubbed_from_the_apps_echo(
    headers: tuple[tuple[str, str], ...], echo: str, hidden: list[str]
) -> None:
    decision = run(headers, body=json.dumps({"detail": f"bad: {echo}"}).encode())
    text = _everything(decision)
    for secret in hidden:
        assert secret not in text
