"""Enforce mode's core (`core.enforce`), sans-I/O: what a request needs,
then what happens given the verdict, with a real `JWT` verifier; and the
refusal each makes through the one refusal path (`core.decision.decide`)."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest

from authhygiene import Scopes
from authhygiene.core.credentials import RequestView
from authhygiene.core.decision import decide
from authhygiene.core.enforce import admission, plan
from authhygiene.core.policy import Policy
from authhygiene.verify import JWT, Verified

SECRET = "e" * 40
VERIFIER = JWT(algorithms=["HS256"], keys=SECRET, audience="api")
POLICY = Policy.from_options(
    {
        "realm": "api",
        "mode": "enforce",
        "verify": VERIFIER,
        "require": [
            ("GET", "/items/*", Scopes("items:read")),
            ("POST", "/items/*", Scopes("items:write", "items:read")),
            ("*", "/health", None),
        ],
    }
)


def token(**claims: Any) -> str:
    # A day: the table mints its tokens when collected, long before some run.
    body = {"sub": "ada", "aud": "api", "exp": int(time.time()) + 86_400, **claims}
    return jwt.encode(body, SECRET, algorithm="HS256")


def view(method: str, path: str, *headers: tuple[str, str]) -> RequestView:
    return RequestView(method, path, "", tuple(headers), "127.0.0.1")


def bearer(value: str) -> tuple[str, str]:
    return ("authorization", f"Bearer {value}")


EXPIRED = token(exp=int(time.time()) - 3600)


# request -> (status, reason, problem) of the refusal, or 200 (admitted) /
# "pass" (passed on with nothing verified), "public" (a public route: the
# credential verified, never refused) or "preflight" (answered here, 204).
ITEM = "/items/1"
PREFLIGHT = (("origin", "https://a.example"), ("access-control-request-method", "GET"))
READ = bearer(token(scope="items:read"))
TWO = (("authorization", "Bearer a"), ("authorization", "Bearer b"))
MALFORMED = "credentials_malformed"


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (view("GET", ITEM, READ), 200),
        (view("HEAD", ITEM, READ), 200),
        (view("GET", "/health"), "pass"),
        (view("GET", "/health", bearer("garbage")), "public"),  # never refused
        (view("GET", "/health", READ), "public"),
        (view("OPTIONS", ITEM, *PREFLIGHT), "preflight"),
        (view("OPTIONS", "/health", *PREFLIGHT), "pass"),  # a public route's: the app's CORS
        (view("GET", ITEM), (401, "credentials_missing", None)),
        (view("GET", ITEM, bearer(EXPIRED)), (401, "token_expired", None)),
        (view("GET", ITEM, bearer(token()[:-4] + "AAAA")), (401, "token_signature_invalid", None)),
        (view("GET", ITEM, bearer("garbage")), (401, "credentials_invalid", "not_a_jwt")),
        (view("GET", ITEM, bearer(token(aud="other"))), (401, "token_audience_mismatch", None)),
        (view("GET", ITEM, ("authorization", "Basic dTpw")), (401, "scheme_not_accepted", None)),
        (
            view("GET", ITEM, ("authorization", "Bearer")),
            (400, "credentials_malformed", "empty_token"),
        ),
        (view("GET", ITEM, *TWO), (400, MALFORMED, "multiple_authorization_headers")),
        (view("GET", ITEM, bearer(token(scope="other"))), (403, "insufficient_scope", None)),
        (view("POST", ITEM, READ), (403, "insufficient_scope", None)),
        (view("DELETE", ITEM, READ), (403, "forbidden", "no_rule_admits")),
        (view("DELETE", ITEM), (401, "credentials_missing", None)),  # authentication first
    ],
    ids=lambda value: value if isinstance(value, str | int) else None,
)
def test_each_request_is_admitted_passed_or_refused(
    request_: RequestView, expected: object
) -> None:
    planned = plan(POLICY, request_)
    verdict = None
    if planned.verifier is not None and planned.credential is not None:
        verdict = planned.verifier.verify(planned.credential)
    outcome = admission(POLICY, planned, verdict)

    if expected == "pass":
        assert planned.passed
        assert planned.verifier is None
        assert not outcome.refused
        return
    if expected in ("public", "preflight"):
        assert not planned.passed
        assert (planned.public, planned.preflight) == (
            expected == "public",
            expected == "preflight",
        )
        assert not outcome.refused
        if expected == "public" and isinstance(verdict, Verified):
            assert outcome.identity == verdict  # a valid credential still names the caller
        return
    if expected == 200:
        assert not outcome.refused
        assert isinstance(outcome.identity, Verified)
        assert outcome.identity.claims["sub"] == "ada"
        return
    assert outcome.answer is not None
    decision = decide(POLICY, request_, outcome.answer, declared=outcome.declared, verdict=verdict)
    assert decision is not None
    body = json.loads(decision.body)
    status, reason, problem = expected  # type: ignore[misc]
    assert (decision.status, body["reason"], body.get("problem")) == (status, reason, problem)
    headers = dict(decision.headers)
    assert headers["cache-control"] == "no-store"
    if status == 401:
        assert headers["www-authenticate"].startswith('Bearer realm="api"')


def test_insufficient_scope_names_every_required_scope() -> None:
    request_ = view("POST", "/items/1", bearer(token(scope="items:read")))
    planned = plan(POLICY, request_)
    assert planned.credential is not None
    verdict = VERIFIER.verify(planned.credential)
    outcome = admission(POLICY, planned, verdict)
    assert outcome.answer is not None

    decision = decide(POLICY, request_, outcome.answer, verdict=verdict)

    assert decision is not None
    challenge = dict(decision.headers)["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="items:write items:read"' in challenge
    assert json.loads(decision.body)["required_scope"] == "items:write items:read"


def test_without_require_every_route_needs_a_valid_credential() -> None:
    policy = Policy.from_options({"realm": "api", "mode": "enforce", "verify": VERIFIER})

    anywhere = plan(policy, view("GET", "/anything", bearer(token())))
    assert anywhere.credential is not None
    verdict = VERIFIER.verify(anywhere.credential)

    assert not admission(policy, anywhere, verdict).refused
    assert admission(policy, plan(policy, view("GET", "/anything")), None).refused


def test_verifier_unavailable_is_a_503_with_retry_after() -> None:
    from authhygiene.core.reasons import Reason
    from authhygiene.core.verdict import Rejected

    request_ = view("GET", "/items/1", bearer(token(scope="items:read")))
    planned = plan(POLICY, request_)
    verdict = Rejected(Reason.VERIFIER_UNAVAILABLE, {"retry_after": 17})
    outcome = admission(POLICY, planned, verdict)
    assert outcome.answer is not None

    decision = decide(POLICY, request_, outcome.answer, verdict=verdict)

    assert decision is not None
    headers = dict(decision.headers)
    assert decision.status == 503
    assert headers["retry-after"] == "17"
    assert "www-authenticate" not in headers
    assert json.loads(decision.body)["reason"] == "verifier_unavailable"


def test_logged_claims_come_from_the_verifier() -> None:
    # log_claims=("sub",): a valid token's sub is logged as verified; a forged
    # token names whom it likes, and the log must not repeat it as fact.
    policy = Policy.from_options({"realm": "api", "verify": VERIFIER, "log_claims": ("sub",)})
    forged = jwt.encode(
        {"sub": "admin", "aud": "api", "exp": int(time.time()) + 60}, "f" * 40, algorithm="HS256"
    )
    from authhygiene.core.answer import AppAnswer

    logged = {}
    for name, sent in (("valid", token()), ("forged", forged)):
        decision = decide(policy, view("GET", "/x", bearer(sent)), AppAnswer(401))
        assert decision is not None
        logged[name] = (decision.log["reason"], decision.log.get("sub"))

    assert logged == {
        "valid": ("credentials_invalid", "ada"),
        "forged": ("token_signature_invalid", None),
    }
