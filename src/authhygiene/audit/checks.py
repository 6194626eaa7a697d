"""The one table of rules a server's answer to a probe is held to.

Each `Check` names its source (RFC-CHECKLIST.md's rows), whether it is
required (a failure makes the audit fail) or advised, which probes it
applies to, what it saw when it fails, how to fix it, and the authhygiene
option that makes it pass. `judge` runs the table on one answer. The
command line and the test helper both read this table, nothing else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from authhygiene.audit.probes import Expect, Probe
from authhygiene.core.challenge import Challenge, parse_challenges

__all__ = ["CHECKS", "Answer", "Check", "Finding", "judge", "sink"]

# What a failing check quotes of the answer, at most.
_SAW_CHARS = 200
_REFUSALS = frozenset({Expect.ANONYMOUS, Expect.OTHER_SCHEME, Expect.INVALID, Expect.EXPIRED})
_FAILURES = _REFUSALS | {Expect.MALFORMED, Expect.SCOPELESS, Expect.QUERY_TOKEN}


@dataclass(frozen=True, slots=True)
class Answer:
    """A server's answer to a probe: status, header fields (names as sent),
    and the body, bounded by whoever read it."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name]

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None

    def challenges(self) -> list[Challenge] | None:
        """The WWW-Authenticate challenges by our strict reader (RFC 9110
        §11.6.1), None when any field is not valid."""
        return parse_challenges(self.get_all("www-authenticate"))


@dataclass(frozen=True, slots=True)
class Finding:
    """One check of one probe's answer."""

    check: str
    probe: str
    passed: bool
    required: bool
    source: str
    saw: str
    fix: str
    option: str | None


# A judge returns None when the answer passes, else what it saw.
Judge = Callable[[Probe, Answer], "str | None"]


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    source: str
    required: bool
    applies: frozenset[Expect]
    judge: Judge
    fix: str
    option: str | None = None


# What a judge quotes is read this far at most; `sink` cuts it for display
# only after the secrets are out of it.
_WORK_CHARS = 4096
_REDACTED = "[redacted]"


def _short(text: str) -> str:
    return " ".join(text[:_WORK_CHARS].split())


def sink(text: str, secrets: tuple[str, ...]) -> str:
    """What is quoted of the server's answer, as printed: every secret the
    audit sent masked in any case, non-printable characters escaped (no
    terminal control reaches a screen), then cut to `_SAW_CHARS`, with the
    start of a secret the cut left masked too."""
    text = text[:_WORK_CHARS]
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            text = re.sub(re.escape(secret), _REDACTED, text, flags=re.IGNORECASE)
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    if len(text) <= _SAW_CHARS:
        return text
    text = text[: _SAW_CHARS - 1]
    lowered = text.lower()
    for secret in secrets:
        for size in range(min(len(secret), _SAW_CHARS) - 1, 3, -1):
            if lowered.endswith(secret[:size].lower()):
                text = text[:-size] + _REDACTED
                break
    return text + "…"


def _status(answer: Answer) -> str:
    return f"status {answer.status}"


# The statuses that refuse credentials: 422 too (Flask-JWT-Extended answers
# a malformed token so).
_REFUSING = frozenset({400, 401, 403, 422})


def _refused(answer: Answer) -> bool:
    return answer.status in _REFUSING


def _challenge_on_401(probe: Probe, answer: Answer) -> str | None:
    if answer.status != 401:
        return None
    if not answer.get_all("www-authenticate"):
        return "401 without WWW-Authenticate"
    if answer.challenges() == []:
        return "401 whose WWW-Authenticate holds no challenge"
    return None


def _challenge_syntax(probe: Probe, answer: Answer) -> str | None:
    values = answer.get_all("www-authenticate")
    if values and answer.challenges() is None:
        return _short("WWW-Authenticate: " + " | ".join(values))
    return None


def _bearer_has_params(probe: Probe, answer: Answer) -> str | None:
    for challenge in answer.challenges() or ():
        if challenge.scheme == "Bearer" and not challenge.params:
            return "WWW-Authenticate: Bearer (no auth-param, not even realm)"
    return None


def _basic_realm(probe: Probe, answer: Answer) -> str | None:
    for challenge in answer.challenges() or ():
        if challenge.scheme == "Basic" and challenge.param("realm") is None:
            return _short("WWW-Authenticate: " + challenge.render())
    return None


def _no_error_for_anonymous(probe: Probe, answer: Answer) -> str | None:
    for challenge in answer.challenges() or ():
        if challenge.param("error") is not None:
            return _short("WWW-Authenticate: " + challenge.render())
    return None


def _anonymous_is_401(probe: Probe, answer: Answer) -> str | None:
    if probe.method == "HEAD" and answer.status == 405:
        return None  # the route answers GET only: a question of routing, not of auth
    return None if answer.status == 401 else _status(answer)


def _malformed_is_400(probe: Probe, answer: Answer) -> str | None:
    if answer.status == 400:
        return None
    return _status(answer) + (" (accepted)" if answer.status < 400 else "")


def _refused_at_all(probe: Probe, answer: Answer) -> str | None:
    if answer.status >= 400:
        return None
    return _status(answer) + " (the request was let in)"


def _invalid_token(probe: Probe, answer: Answer) -> str | None:
    if answer.status != 401:
        return _status(answer)
    bearer = [c for c in answer.challenges() or () if c.scheme == "Bearer"]
    if bearer and all(c.param("error") != "invalid_token" for c in bearer):
        return _short("WWW-Authenticate: " + " | ".join(c.render() for c in bearer))
    return None


def _insufficient_scope(probe: Probe, answer: Answer) -> str | None:
    if answer.status != 403:
        return _status(answer)
    bearer = [c for c in answer.challenges() or () if c.scheme == "Bearer"]
    if not any(c.param("error") == "insufficient_scope" for c in bearer):
        return '403 without Bearer error="insufficient_scope"'
    return None


def _valid_passes(probe: Probe, answer: Answer) -> str | None:
    return _status(answer) if answer.status in (400, 401, 403) else None


def _directives(answer: Answer) -> set[str]:
    """The Cache-Control directive names, lower-cased (RFC 9111 §5.2)."""
    return {
        part.split("=", 1)[0].strip().lower()
        for value in answer.get_all("cache-control")
        for part in value.split(",")
        if part.strip()
    }


def _no_store(probe: Probe, answer: Answer) -> str | None:
    if not _refused(answer):
        return None
    cache = ", ".join(answer.get_all("cache-control"))
    directives = _directives(answer)
    if "no-store" not in directives or directives & {"public", "s-maxage"}:
        return f"Cache-Control: {cache or '(none)'}"
    return None


def _problem_json(probe: Probe, answer: Answer) -> str | None:
    if not _refused(answer) or probe.method == "HEAD":
        return None
    kind = (answer.get("content-type") or "").split(";")[0].strip().lower()
    if kind != "application/problem+json":
        return f"Content-Type: {kind or '(none)'}"
    try:
        body = json.loads(answer.body[:65536])
    except ValueError:
        return "the body is not JSON"
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    if "status" in body and body["status"] != answer.status:
        return f'"status": {body["status"]!r} in a {answer.status} answer'
    return None


def _listed(answer: Answer, name: str) -> set[str]:
    return {item.strip().lower() for value in answer.get_all(name) for item in value.split(",")}


def _preflight_ok(probe: Probe, answer: Answer) -> str | None:
    """A 2xx that lets the page send Authorization (Fetch: `*` in
    Access-Control-Allow-Headers never covers it; GET needs no listing)."""
    if not 200 <= answer.status < 300:
        return _status(answer)
    if probe.origin is not None and "authorization" not in _listed(
        answer, "access-control-allow-headers"
    ):
        return "Access-Control-Allow-Headers does not list Authorization"
    return None


def _cors_exact(probe: Probe, answer: Answer) -> str | None:
    """The page may read the answer (Fetch CORS check): its exact origin
    with `Access-Control-Allow-Credentials: true` (exactly), or `*` without
    credentials (a Bearer token the page sets itself is no credential mode)."""
    if probe.origin is None:
        return None
    allow = answer.get("access-control-allow-origin")
    credentials = answer.get("access-control-allow-credentials")
    if allow == "*" and credentials is None:
        return None
    if allow != probe.origin:
        return f"Access-Control-Allow-Origin: {allow or '(none)'}"
    if credentials != "true":
        return f"Access-Control-Allow-Credentials: {credentials or '(none)'} (Fetch wants true)"
    return None


def _cors_exposes_challenge(probe: Probe, answer: Answer) -> str | None:
    if probe.origin is None or answer.get("access-control-allow-origin") not in (
        probe.origin,
        "*",
    ):
        return None
    if not answer.get_all("www-authenticate"):
        return None
    exposed = {
        name.strip().lower()
        for value in answer.get_all("access-control-expose-headers")
        for name in value.split(",")
    }
    if "www-authenticate" not in exposed:
        return "WWW-Authenticate is not in Access-Control-Expose-Headers"
    return None


def _no_echo(probe: Probe, answer: Answer) -> str | None:
    text = "\n".join(f"{k}: {v}" for k, v in answer.headers).lower()
    body = answer.body[: 1 << 20].decode("utf-8", "replace").lower()
    for secret in probe.secrets:
        if len(secret) >= 8 and (secret.lower() in text or secret.lower() in body):
            where = "a header" if secret.lower() in text else "the body"
            return f"the credential the probe sent came back in {where}"
    return None


_ALL = frozenset(Expect)

CHECKS: tuple[Check, ...] = (
    Check(
        "challenge-on-401",
        "RFC 9110 §15.5.2",
        True,
        _ALL,
        _challenge_on_401,
        "Send WWW-Authenticate with every 401, e.g. 'Bearer realm=\"api\"'.",
    ),
    Check(
        "challenge-syntax",
        "RFC 9110 §11.6.1",
        True,
        _ALL,
        _challenge_syntax,
        "Write challenges as 'Scheme param=\"value\", ...': quoted realm, each param once.",
    ),
    Check(
        "bearer-has-param",
        "RFC 6750 §3",
        True,
        _ALL,
        _bearer_has_params,
        "Give the Bearer challenge at least realm: 'Bearer realm=\"api\"' (a bare 'Bearer'"
        " crashes npm's www-authenticate).",
    ),
    Check(
        "basic-realm",
        "RFC 7617 §2",
        True,
        _ALL,
        _basic_realm,
        'Give the Basic challenge a realm: \'Basic realm="api", charset="UTF-8"\'.',
    ),
    Check(
        "anonymous-is-401",
        "RFC 9110 §15.5.2 / §15.5.4",
        True,
        frozenset({Expect.ANONYMOUS, Expect.OTHER_SCHEME}),
        _anonymous_is_401,
        "Answer a request without (usable) credentials 401, not 403.",
    ),
    Check(
        "no-error-for-anonymous",
        "RFC 6750 §3.1",
        True,
        frozenset({Expect.ANONYMOUS, Expect.OTHER_SCHEME}),
        _no_error_for_anonymous,
        "Leave out error= when the request carried no credentials of the scheme.",
    ),
    Check(
        "malformed-is-400",
        "RFC 6750 §3.1",
        False,
        frozenset({Expect.MALFORMED}),
        _malformed_is_400,
        'Answer malformed credentials 400 error="invalid_request".',
    ),
    Check(
        "malformed-refused",
        "RFC 9110 §15.5.2",
        True,
        frozenset({Expect.MALFORMED, Expect.QUERY_TOKEN}),
        _refused_at_all,
        "Never let malformed credentials in.",
    ),
    Check(
        "invalid-token",
        "RFC 6750 §3.1",
        True,
        frozenset({Expect.INVALID, Expect.EXPIRED}),
        _invalid_token,
        'Answer a rejected token 401 with Bearer error="invalid_token".',
    ),
    Check(
        "insufficient-scope",
        "RFC 6750 §3.1",
        True,
        frozenset({Expect.SCOPELESS}),
        _insufficient_scope,
        'Answer a valid token without the scope 403 error="insufficient_scope" scope="...".',
        "verify=, require=",
    ),
    Check(
        "valid-token-passes",
        "the probe's own token",
        True,
        frozenset({Expect.VALID}),
        _valid_passes,
        "Check the token given with --token: the server refused it.",
    ),
    Check(
        "no-store",
        "RFC 9111 §3.5",
        True,
        _FAILURES,
        _no_store,
        "Send Cache-Control: no-store with every auth failure.",
    ),
    Check(
        "problem-json",
        "RFC 9457 §3",
        False,
        _FAILURES,
        _problem_json,
        "Explain the failure in an application/problem+json body.",
    ),
    Check(
        "preflight-not-refused",
        "Fetch (CORS-preflight fetch)",
        True,
        frozenset({Expect.PREFLIGHT}),
        _preflight_ok,
        "Answer CORS preflights before the auth layer, 204.",
        "cors=",
    ),
    Check(
        "cors-exact-origin",
        "Fetch (CORS check)",
        True,
        _FAILURES | {Expect.PREFLIGHT},
        _cors_exact,
        "Echo the allowed origin exactly with Access-Control-Allow-Credentials: true,"
        " on failures too.",
        "cors=",
    ),
    Check(
        "cors-exposes-challenge",
        "Fetch; RFC-CHECKLIST R21",
        True,
        _FAILURES,
        _cors_exposes_challenge,
        "List WWW-Authenticate in Access-Control-Expose-Headers so page code can read it.",
    ),
    Check(
        "no-credential-echoed",
        "RFC 9457 §5; OWASP",
        True,
        _ALL,
        _no_echo,
        "Never repeat the credential in an answer.",
    ),
)


def judge(probe: Probe, answer: Answer, secrets: tuple[str, ...] = ()) -> list[Finding]:
    """Every check that applies to `probe`, on its `answer`; what it saw
    quoted with `secrets` (every credential the audit sends) and the
    probe's own masked."""
    secrets = (*secrets, *probe.secrets)
    findings = []
    for check in CHECKS:
        if probe.expect not in check.applies:
            continue
        saw = check.judge(probe, answer)
        if saw:
            saw = sink(saw, secrets)
        findings.append(
            Finding(
                check.id,
                probe.name,
                saw is None,
                check.required,
                check.source,
                saw or "",
                check.fix,
                check.option,
            )
        )
    return findings
