"""False verdicts of the check table, against the RFCs / Fetch."""

from __future__ import annotations

from authhygiene.audit.checks import Answer, judge
from authhygiene.audit.probes import battery
from authhygiene.audit.run import run
from tests.hostile.audit17.rawserver import RawServer, good_answer

ORIGIN = "https://app.example"


def _probe(name: str, **options):
    return next(p for p in battery("/me", origin=ORIGIN, **options) if p.name == name)


def _failed(probe, answer) -> set[str]:
    return {f.check for f in judge(probe, answer) if not f.passed and f.required}


BASE = (("Cache-Control", "no-store"), ("Content-Type", "application/problem+json"))


def test_a_401_with_an_empty_www_authenticate_fails() -> None:
    # RFC 9110 §15.5.2: a 401 MUST carry a WWW-Authenticate with at least one challenge.
    for value in ("", ", ,"):
        answer = Answer(401, (*BASE, ("WWW-Authenticate", value)), b"{}")
        assert _failed(_probe("anonymous"), answer), value


def test_wildcard_origin_without_credentials_is_correct_for_bearer_apis() -> None:
    # Fetch: a request carrying an Authorization header it set itself is not in
    # credentials mode "include"; `Access-Control-Allow-Origin: *` lets the page read
    # the answer (only Access-Control-Allow-Headers must name authorization explicitly).
    answer = Answer(
        401,
        (
            *BASE,
            ("WWW-Authenticate", 'Bearer realm="api", error="invalid_token"'),
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Expose-Headers", "WWW-Authenticate"),
        ),
        b"{}",
    )
    assert "cors-exact-origin" not in _failed(_probe("cross-origin-garbage-token"), answer)


def test_a_preflight_that_does_not_allow_the_authorization_header_fails() -> None:
    # Fetch CORS-preflight: Authorization must be listed in Access-Control-Allow-Headers
    # (not even `*` covers it), else the browser never sends the real request.
    answer = Answer(
        204, (("Access-Control-Allow-Origin", ORIGIN), ("Access-Control-Allow-Credentials", "true"))
    )
    assert _failed(_probe("preflight"), answer)


def test_allow_credentials_is_case_sensitive() -> None:
    # Fetch: the value must be the byte-exact `true`.
    answer = Answer(
        204,
        (
            ("Access-Control-Allow-Origin", ORIGIN),
            ("Access-Control-Allow-Credentials", "TRUE"),
            ("Access-Control-Allow-Methods", "GET"),
            ("Access-Control-Allow-Headers", "authorization"),
        ),
    )
    assert _failed(_probe("preflight"), answer)


def test_no_store_must_be_the_directive_not_a_substring() -> None:
    answer = Answer(
        401,
        (
            ("Cache-Control", "max-age=3600, x-no-store-later"),
            ("Content-Type", "application/problem+json"),
            ("WWW-Authenticate", 'Bearer realm="api"'),
        ),
        b"{}",
    )
    assert "no-store" in _failed(_probe("anonymous"), answer)


def test_no_check_claims_to_judge_a_head_body_it_cannot_see() -> None:
    """A HEAD answer's body is never read (http.client and werkzeug drop it,
    as servers do): a check of it could only ever pass. It is not offered."""
    from authhygiene.audit.checks import CHECKS

    assert "head-without-body" not in {check.id for check in CHECKS}


def test_metadata_on_the_same_host_spelled_in_another_case_is_fetched() -> None:
    def meta(conn, request, state):
        if b"/.well-known" in request.split(b"\r\n")[0]:
            body = (
                b'{"resource":"http://localhost:%d/me","authorization_servers":["https://as.example"]}'
                % state["port"]
            )
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d"
                b"\r\nConnection: close\r\n\r\n" % len(body) + body
            )
        else:
            md = b"http://localhost:%d/.well-known/oauth-protected-resource" % state["port"]
            ch = b'Bearer realm="api", resource_metadata="' + md + b'"'
            if b"Authorization: Bearer" in request and b"Bearer\r\n" not in request:
                ch += b', error="invalid_token"'
            conn.sendall(good_answer(request, challenge=ch))

    with RawServer(meta) as srv:
        srv.state["port"] = srv.port
        # RFC 3986 §3.2.2 / §6.2.2.1: the host is case-insensitive.
        report = run(f"http://LOCALHOST:{srv.port}/me", timeout=2)
    assert not [f for f in report.failed if f.check == "metadata-document"], report.failed
