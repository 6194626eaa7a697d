"""One `auth.failure` line per failure, with exactly the fields an operator
groups and searches by, through the servers people deploy.

The log is what someone reads at 3 a.m. to learn why a client is locked
out, and what a SIEM parses: its keys must not drift between stacks, an
incoming request id must tie the line to the caller's own logs (and a
hostile one must not get into either), the same credential must be
recognisable across lines without being in them, and the options that
shape the line (trusted proxies, extra claims, omitted fields, level) must
do exactly what they say. Each stack logs JSON lines through structlog:
FastAPI under uvicorn and Flask under werkzeug into a list via `logger=`,
Django under gunicorn through structlog's default logger on stdout.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from authhygiene.testing import assert_no_secrets

from .. import leaks
from .log_apps import (
    BAD_TOKEN,
    BASIC_CREDENTIAL,
    JWT_KEY,
    VALID_TOKEN,
    JsonLines,
    environ,
    json_logger,
    parse_json_lines,
)
from .log_apps.asgi_app import fastapi_app
from .log_apps.wsgi_app import flask_app
from .servers import GunicornProcess, Reply, UvicornThread, WerkzeugThread, fetch

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("uvicorn-fastapi", "werkzeug-flask", "gunicorn-django")
SECRETS = (VALID_TOKEN, BAD_TOKEN, BASIC_CREDENTIAL)
_WAIT_BOUND_S = 10.0
ISO_UTC_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
FINGERPRINT_RE = re.compile(r"[0-9a-f]{16}")
MINTED_ID_RE = re.compile(r"[0-9a-f]{32}")

Headers = tuple[tuple[str, str], ...]


def bearer(token: str) -> Headers:
    return (("Authorization", f"Bearer {token}"),)


def expired_jwt(**claims: Any) -> str:
    """A JWT that expired 95 s ago (inside the default 120 s skew window)."""
    payload = {
        "sub": "log-user-7",
        "iss": "https://issuer.example",
        "aud": "orders-api",
        "exp": int(time.time()) - 95,
        **claims,
    }
    return jwt.encode(payload, JWT_KEY, algorithm="HS256", headers={"kid": "key-2026"})


# --- the stacks -----------------------------------------------------------------------


class Served:
    """One stack with one set of options, behind a real server."""

    def __init__(self, port: int, lines: JsonLines | None, process: GunicornProcess | None):
        self.port = port
        self._lines = lines
        self._process = process
        self._seen = 0

    def _all_lines(self) -> list[str]:
        if self._lines is not None:
            return self._lines.lines()
        assert self._process is not None
        return self._process.stdout_path.read_text("utf-8", "replace").splitlines()

    def mark(self) -> None:
        """Forget what earlier tests logged."""
        self._seen = len(self._all_lines())

    def text(self) -> str:
        return "\n".join(self._all_lines()[self._seen :])

    def events(self, name: str = "auth.failure", *, at_least: int = 1) -> list[dict[str, Any]]:
        """The events logged since `mark`, waiting (bounded) for a server
        subprocess to have printed `at_least` of them."""
        deadline = time.monotonic() + _WAIT_BOUND_S
        while True:
            found = parse_json_lines(self._all_lines()[self._seen :], name)
            if len(found) >= at_least or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def fetch(self, path: str, headers: Headers = ()) -> Reply:
        return fetch(self.port, path, headers=headers)

    def failure(
        self, path: str = "/private", headers: Headers = ()
    ) -> tuple[Reply, dict[str, Any]]:
        """One failing request and the one event it logged."""
        self.mark()
        reply = self.fetch(path, headers)
        events = self.events(at_least=1)
        assert len(events) == 1, [e.get("reason") for e in events]
        check_clean(self, events)
        return reply, events[0]


def check_clean(served: Served, events: list[dict[str, Any]]) -> None:
    """No credential the test sent, nor anything shaped like one, in what
    was logged; the server's whole output too when it is a subprocess."""
    assert_no_secrets(events, (*SECRETS, *leaks.sent()))
    assert_no_secrets(served.text(), (*SECRETS, *leaks.sent()))


class Servers:
    """Starts each (stack, options) once per module; all stop at its end."""

    def __init__(self, exits: contextlib.ExitStack, workdir: Path) -> None:
        self._exits = exits
        self._workdir = workdir
        self._started: dict[str, Served] = {}

    def get(self, stack: str, **options: Any) -> Served:
        key = f"{stack} {json.dumps(options, sort_keys=True)}"
        if key not in self._started:
            self._started[key] = self._start(stack, options, len(self._started))
        served = self._started[key]
        served.mark()
        return served

    def _start(self, stack: str, options: dict[str, Any], number: int) -> Served:
        if stack == "gunicorn-django":
            with environ(
                LOG_APPS_OPTIONS=json.dumps(options),
                DJANGO_SETTINGS_MODULE="tests.e2e.log_apps.django_settings",
            ):
                process = self._exits.enter_context(
                    GunicornProcess(
                        "tests.e2e.log_apps.django_urls:application()",
                        pythonpath=ROOT,
                        workdir=self._workdir,
                        name=f"django-{number}",
                    )
                )
            return Served(process.port, None, process)
        lines = JsonLines()
        settings = {"realm": "api", **options, "logger": json_logger(lines)}
        server: UvicornThread | WerkzeugThread
        if stack == "uvicorn-fastapi":
            server = UvicornThread(fastapi_app(**settings))
            # uvicorn itself believes X-Forwarded-For from 127.0.0.1 by default
            # (--proxy-headers, --forwarded-allow-ips): off, so the client we
            # see is the socket's and `trusted_proxies` alone decides.
            server.server.config.proxy_headers = False
        else:
            server = WerkzeugThread(flask_app(**settings))
        self._exits.enter_context(server)
        return Served(server.port, lines, None)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with contextlib.ExitStack() as exits:
        yield Servers(exits, tmp_path_factory.mktemp("log-servers"))


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- what a line holds ----------------------------------------------------------------

# Every auth.failure line (our processors add level, timestamp and pid).
BASE_KEYS = frozenset(
    {
        "event",
        "level",
        "timestamp",
        "pid",
        "reason",
        "status",
        "owasp_event",
        "method",
        "path",
        "client",
        "request_id",
        "diagnosis",
    }
)
CREDENTIAL_KEYS = frozenset({"scheme", "credential_source", "credential_fingerprint"})
JWT_KEYS = frozenset({"alg", "kid", "iss", "aud", "exp", "exp_delta_s"})
EXPIRY_KEYS = frozenset(
    {"expired_at", "server_time", "expired_seconds_ago", "clock_skew_suspected"}
)


@pytest.mark.parametrize(
    ("headers", "reason", "keys"),
    [
        pytest.param((), "credentials_missing", BASE_KEYS | {"accepted_schemes"}, id="missing"),
        pytest.param(
            (("Authorization", f"Basic {BASIC_CREDENTIAL}"),),
            "scheme_not_accepted",
            BASE_KEYS | CREDENTIAL_KEYS | {"accepted_schemes"},
            id="basic-to-bearer-api",
        ),
        pytest.param(
            bearer(BAD_TOKEN), "credentials_invalid", BASE_KEYS | CREDENTIAL_KEYS, id="bad-token"
        ),
        pytest.param(
            "expired-jwt",
            "token_expired",
            BASE_KEYS | CREDENTIAL_KEYS | JWT_KEYS | EXPIRY_KEYS,
            id="expired-jwt",
        ),
    ],
)
def test_one_event_with_exactly_these_keys(
    servers: Servers, stack: str, headers: Headers | str, reason: str, keys: frozenset[str]
) -> None:
    served = servers.get(stack)
    sent = bearer(expired_jwt()) if headers == "expired-jwt" else headers
    assert not isinstance(sent, str)

    reply, event = served.failure("/private", sent)

    assert reply.status == 401
    assert reply.json()["reason"] == reason
    assert set(event) == keys
    assert event["event"] == "auth.failure"
    assert event["level"] == "warning"
    assert ISO_UTC_RE.fullmatch(event["timestamp"])
    assert (event["reason"], event["status"], event["method"], event["path"]) == (
        reason,
        401,
        "GET",
        "/private",
    )
    assert event["client"] == "127.0.0.1"
    assert event["request_id"] == reply.json()["request_id"] == reply.get("x-request-id")
    if "credential_fingerprint" in keys:
        assert FINGERPRINT_RE.fullmatch(event["credential_fingerprint"])
    if reason == "token_expired":
        assert (event["alg"], event["kid"], event["iss"], event["aud"]) == (
            "HS256",
            "key-2026",
            "https://issuer.example",
            "orders-api",
        )
        assert event["scheme"] == "Bearer"
        assert event["credential_source"] == "header"
        assert event["exp_delta_s"] <= -95
        assert event["expired_seconds_ago"] == -event["exp_delta_s"]
        assert event["clock_skew_suspected"] is True
        assert event["exp"] == event["expired_at"]
        assert ISO_UTC_RE.fullmatch(event["server_time"])
    if reason == "scheme_not_accepted":
        assert event["scheme"] == "Basic"


@pytest.mark.parametrize(
    "incoming",
    [
        pytest.param("req-42", id="simple"),
        pytest.param("a.b:c_d-1", id="punctuation"),
        pytest.param("7" * 128, id="longest"),
    ],
)
def test_a_well_formed_request_id_is_kept(servers: Servers, stack: str, incoming: str) -> None:
    served = servers.get(stack)

    reply, event = served.failure(headers=(("X-Request-ID", incoming),))

    assert event["request_id"] == incoming
    assert reply.get_all("x-request-id") == [incoming]
    assert reply.json()["request_id"] == incoming


@pytest.mark.parametrize(
    "incoming",
    [
        pytest.param("a b", id="space"),
        pytest.param("x" * 300, id="300-chars"),
        pytest.param("<script>alert(1)</script>", id="markup"),
        pytest.param("caf\xe9", id="latin-1"),
        pytest.param("a\tb", id="tab"),
        pytest.param('x"}, "reason": "ok', id="json-breakout"),
    ],
)
def test_a_malformed_request_id_is_replaced(servers: Servers, stack: str, incoming: str) -> None:
    """The id is echoed in a header and written into every log line about
    this request: a client-chosen value must be one that cannot break either."""
    served = servers.get(stack)

    reply, event = served.failure(headers=(("X-Request-ID", incoming),))

    minted = event["request_id"]
    assert MINTED_ID_RE.fullmatch(minted)
    assert reply.get_all("x-request-id") == [minted]
    assert reply.json()["request_id"] == minted
    assert incoming not in served.text()


KEY_A = "log-apps-fingerprint-key-a-0001"
KEY_B = "log-apps-fingerprint-key-b-0002"


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        pytest.param((KEY_A, BAD_TOKEN), (KEY_A, BAD_TOKEN), True, id="same-token-same-key"),
        pytest.param((KEY_A, BAD_TOKEN), (KEY_A, VALID_TOKEN + "x"), False, id="other-token"),
        pytest.param((KEY_A, BAD_TOKEN), (KEY_B, BAD_TOKEN), False, id="other-key"),
        pytest.param((None, BAD_TOKEN), (None, BAD_TOKEN), True, id="random-key-one-process"),
    ],
)
def test_credential_fingerprint(
    servers: Servers,
    stack: str,
    first: tuple[str | None, str],
    second: tuple[str | None, str],
    same: bool,
) -> None:
    """One credential is one fingerprint wherever the key is shared (say,
    across workers), so an operator can follow it without ever seeing it."""
    prints = []
    for key, token in (first, second):
        options = {} if key is None else {"fingerprint_key": key}
        _, event = servers.get(stack, **options).failure(headers=bearer(token))
        prints.append(event["credential_fingerprint"])

    assert all(FINGERPRINT_RE.fullmatch(p) for p in prints)
    assert (prints[0] == prints[1]) is same


def test_random_fingerprint_keys_differ(servers: Servers) -> None:
    """Without fingerprint_key each process draws its own: two servers never
    agree, so an attacker with the log of one cannot test guesses on another."""
    _, one = servers.get("uvicorn-fastapi").failure(headers=bearer(BAD_TOKEN))
    _, two = servers.get("gunicorn-django").failure(headers=bearer(BAD_TOKEN))

    assert one["credential_fingerprint"] != two["credential_fingerprint"]


@pytest.mark.parametrize(
    ("query", "logged"),
    [
        pytest.param("page=2&sort=asc", "page=2&sort=asc", id="plain"),
        pytest.param(
            "password=hunter2-not-a-secret&page=2", "password=[redacted]&page=2", id="password"
        ),
        pytest.param(
            "api_key=log-apps-api-key-0001&client_secret=log-apps-client-secret-1&x=1",
            "api_key=[redacted]&client_secret=[redacted]&x=1",
            id="keys",
        ),
    ],
)
def test_query_secret_values_are_redacted(
    servers: Servers, stack: str, query: str, logged: str
) -> None:
    leaks.remember("hunter2-not-a-secret", "log-apps-client-secret-1")
    served = servers.get(stack)

    _, event = served.failure(f"/private?{query}")

    assert event["query"] == logged


def test_a_token_in_the_query_is_redacted(servers: Servers, stack: str) -> None:
    served = servers.get(stack)

    _, event = served.failure(f"/private?access_token={BAD_TOKEN}&page=2")

    assert event["query"] == "access_token=[redacted]&page=2"
    assert event["credential_source"] == "query"


def test_user_agent_is_bounded(servers: Servers, stack: str) -> None:
    agent = "Mozilla/5.0 " + "A" * 4988
    served = servers.get(stack)

    _, event = served.failure(headers=(("User-Agent", agent),))

    assert event["user_agent"].startswith("Mozilla/5.0 AAAA")
    assert len(event["user_agent"]) <= 256 + len("...")


@pytest.mark.parametrize(
    ("options", "forwarded", "client"),
    [
        pytest.param({}, "203.0.113.9", "127.0.0.1", id="untrusted-by-default"),
        pytest.param(
            {"trusted_proxies": ["127.0.0.1"]}, "203.0.113.9", "203.0.113.9", id="trusted"
        ),
        pytest.param(
            {"trusted_proxies": ["127.0.0.1"]},
            "6.6.6.6, 203.0.113.9",
            "203.0.113.9",
            id="spoofed-hop-ignored",
        ),
        pytest.param(
            {"trusted_proxies": ["10.0.0.0/8"]}, "203.0.113.9", "127.0.0.1", id="peer-not-trusted"
        ),
    ],
)
def test_trusted_proxies_name_the_client(
    servers: Servers, stack: str, options: dict[str, Any], forwarded: str, client: str
) -> None:
    served = servers.get(stack, **options)

    _, event = served.failure(headers=(("X-Forwarded-For", forwarded),))

    assert event["client"] == client


def test_a_forwarded_zone_id_does_not_reach_the_log(servers: Servers, stack: str) -> None:
    """Behind a trusted proxy, the client's own text after an IPv6 "%" (a
    zone id) never becomes the logged client."""
    served = servers.get(stack, trusted_proxies=["127.0.0.1"])

    _, event = served.failure(headers=(("X-Forwarded-For", "fe80::1%admin-from-10.0.0.1"),))

    assert "admin" not in event["client"]
    assert event["client"] in ("fe80::1", "unknown")


def test_log_claims_go_to_the_log_only(servers: Servers, stack: str) -> None:
    """`sub` tells the operator whose token expired; the client, even with
    explain="full", learns nothing about identities from the body."""
    served = servers.get(stack, log_claims=["sub"], explain="full")

    reply, event = served.failure(headers=bearer(expired_jwt()))

    assert event["reason"] == "token_expired"
    assert event["sub"] == "log-user-7"
    token = reply.json()["token"]
    assert token["alg"] == "HS256"
    assert "sub" not in token
    assert b"log-user-7" not in reply.body


def test_log_omit_drops_fields(servers: Servers, stack: str) -> None:
    served = servers.get(stack, log_omit=["client", "user_agent"])

    _, event = served.failure(headers=(("User-Agent", "curl/8.5.0"),))

    assert "client" not in event
    assert "user_agent" not in event
    assert event["reason"] == "credentials_missing"


def test_user_agent_is_logged_unless_omitted(servers: Servers, stack: str) -> None:
    _, event = servers.get(stack).failure(headers=(("User-Agent", "curl/8.5.0"),))

    assert event["user_agent"] == "curl/8.5.0"


def test_log_level(servers: Servers, stack: str) -> None:
    served = servers.get(stack, log_level="info")

    _, event = served.failure()

    assert event["level"] == "info"
