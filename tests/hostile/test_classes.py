"""Every class of hostile request from the review, through every stack, on
the wire: raw-socket requests to real servers, each app run bare and
wrapped, and four promises checked on every answer.

- No secret the request carried, nor a 12-character piece of one, is
  anywhere in the wrapped answer (status line, every header, body) or in the
  middleware's log events (server output included, for gunicorn).
- No 5xx the bare app does not give; a refusal stays a well-formed 4xx.
- HEAD gets the status and challenge a GET gets, and runs the app once.
- A refusal takes bounded time (a generous bound: a crafted input must not
  cost seconds).

The stacks: the README's FastAPI `HTTPBearer` app under uvicorn,
Flask-HTTPAuth under werkzeug's server, and two apps that echo what the
client sent into their 401 (a raw ASGI app under uvicorn, a raw WSGI app
under gunicorn with `--threads 8`), so every sink meets the secrets.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import string
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import LogCapture

from authhygiene.testing import assert_no_secrets
from tests.e2e.servers import GunicornProcess, UvicornThread, WerkzeugThread, fetch, raw_exchange
from tests.hostile import apps

# A refusal of any crafted request is answered well within this (a normal one
# takes about a millisecond; the review measured crafted ones at 50-220 ms).
REFUSAL_BOUND_S = 2.0
FRAGMENT = 12


def _alnum(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _huge_claim_jwt(claim: str) -> str:
    header = _b64url(b'{"alg":"HS256","typ":"JWT"}')
    payload = _b64url(
        b'{"%s":1' % claim.encode() + b"0" * 309 + b',"sub":"' + _alnum(12).encode() + b'"}'
    )
    return f"{header}.{payload}.{_b64url(secrets.token_bytes(32))}"


def _jwt() -> str:
    header = _b64url(b'{"alg":"HS256","typ":"JWT"}')
    payload = _b64url(json.dumps({"sub": _alnum(10), "exp": int(time.time()) - 60}).encode())
    return f"{header}.{payload}.{_b64url(secrets.token_bytes(32))}"


@dataclass(frozen=True)
class Probe:
    """One hostile request: its target, its header fields, and the secrets in it."""

    target: str
    headers: tuple[tuple[str, str], ...]
    secrets: tuple[str, ...]


def _schemeless(token: str, *, as_request_id: bool = False) -> Probe:
    headers = [("Authorization", token)]
    if as_request_id:
        headers.append(("X-Request-ID", token))
    return Probe("/items", tuple(headers), (token,))


SCHEMELESS_TOKENS: dict[str, Callable[[], str]] = {
    "hex": lambda: secrets.token_hex(16),
    "uuid": lambda: str(uuid.uuid4()),
    "lowercase-key": lambda: _alnum(32, string.ascii_lowercase),
    "base62": lambda: _alnum(40),
    "stripe": lambda: "sk_live_" + _alnum(24),
    "github": lambda: "ghp_" + _alnum(36),
    "jwt": _jwt,
    "dotted": lambda: _alnum(12) + "." + _alnum(20),
}


def _probes() -> dict[str, Callable[[], Probe]]:
    probes: dict[str, Callable[[], Probe]] = {}
    for name, make in SCHEMELESS_TOKENS.items():
        probes[f"schemeless-{name}"] = lambda make=make: _schemeless(make())  # type: ignore[misc]
        probes[f"schemeless-{name}-as-request-id"] = lambda make=make: _schemeless(  # type: ignore[misc]
            make(), as_request_id=True
        )
    for claim in ("exp", "nbf", "iat"):
        probes[f"huge-{claim}-header"] = lambda claim=claim: (  # type: ignore[misc]
            lambda token: Probe("/items", (("Authorization", f"Bearer {token}"),), (token,))
        )(_huge_claim_jwt(claim))
        probes[f"huge-{claim}-query"] = lambda claim=claim: (  # type: ignore[misc]
            lambda token: Probe(f"/items?access_token={token}", (), (token,))
        )(_huge_claim_jwt(claim))

    def two_authorization() -> Probe:
        one, two = _alnum(32), _alnum(32)
        return Probe(
            "/items",
            (("Authorization", f"Bearer {one}"), ("Authorization", f"Bearer {two}")),
            (one, two),
        )

    def two_key_headers() -> Probe:
        one, two = _alnum(32), _alnum(32)
        return Probe("/items", (("X-API-Key", one), ("X-Auth-Token", two)), (one, two))

    def same_key_header_twice() -> Probe:
        one, two = _alnum(32), _alnum(32)
        return Probe("/items", (("X-API-Key", one), ("X-API-Key", two)), (one, two))

    def long_cookie() -> Probe:
        session = _alnum(40)
        filler = "; ".join(f"c{index}={'v' * 40}" for index in range(400))
        return Probe("/items", (("Cookie", f"{filler}; session={session}"),), (session,))

    def long_authorization() -> Probe:
        token = _alnum(20 * 1024)
        return Probe("/items", (("Authorization", f"Bearer {token}"),), (token,))

    def token_in_query_and_detail() -> Probe:
        token = secrets.token_hex(32)
        return Probe(f"/items?q={token}", (("Authorization", f"Bearer {token}"),), (token,))

    def basic_password() -> Probe:
        password = _alnum(24)
        encoded = base64.b64encode(f"alice:{password}".encode()).decode()
        return Probe("/items", (("Authorization", f"Basic {encoded}"),), (password, encoded))

    def vendor_key_header() -> Probe:
        key = secrets.token_hex(16)
        return Probe("/items", (("Ocp-Apim-Subscription-Key", key),), (key,))

    def proxy_authorization() -> Probe:
        token = _alnum(32)
        return Probe("/items", (("Proxy-Authorization", f"Bearer {token}"),), (token,))

    def misspelled_authentication() -> Probe:
        token = _alnum(32)
        return Probe("/items", (("Authentication", f"Bearer {token}"),), (token,))

    def secret_query_names() -> Probe:
        key, code = secrets.token_hex(16), str(secrets.randbelow(10**8)).zfill(8)
        return Probe(f"/items?apikey={key}&passcode={code}", (), (key, code))

    def short_bare_token_as_request_id() -> Probe:
        word = _alnum(6, string.ascii_lowercase)
        return Probe("/items", (("Authorization", f"{word},"), ("X-Request-ID", word)), (word,))

    def joined_secret_query_names() -> Probe:
        one, two = secrets.token_hex(16), secrets.token_hex(16)
        ticket = "ST-" + _alnum(24)
        return Probe(
            f"/items?accesstoken={one}&apitoken={two}&ticket={ticket}", (), (one, two, ticket)
        )

    def request_id_upper_cased_key() -> Probe:
        key = secrets.token_hex(16)
        return Probe(
            "/items", (("X-API-Key", key), ("X-Request-ID", key.upper())), (key, key.upper())
        )

    def request_id_with_a_piece() -> Probe:
        token = _alnum(40)
        return Probe(
            "/items",
            (("Authorization", f"Bearer {token}"), ("X-Request-ID", f"req-{token[:20]}")),
            (token,),
        )

    def quoted_session_cookie() -> Probe:
        session = secrets.token_hex(8)
        return Probe("/items", (("Cookie", f'session="{session}"'),), (session,))

    def path_like_random_cookie() -> Probe:
        value = "/" + _alnum(28)
        return Probe("/items", (("Cookie", f"auth={value}"),), (value,))

    def identity_proxy_headers() -> Probe:
        one, two, three = (secrets.token_hex(16) for _ in range(3))
        return Probe(
            "/items",
            (
                ("X-Amzn-Oidc-Accesstoken", one),
                ("X-Goog-Iap-Jwt-Assertion", two),
                ("X-Hub-Signature-256", f"sha256={three}"),
            ),
            (one, two, three),
        )

    def basic_key_as_user() -> Probe:
        key = secrets.token_hex(16)
        encoded = base64.b64encode(f"{key}:".encode()).decode()
        return Probe(
            "/items", (("Authorization", f"Basic {encoded}"), ("X-Request-ID", key)), (key,)
        )

    def basic_latin1_password() -> Probe:
        password = "p\xe4ssw\xf6rd-tr\xe8s-" + _alnum(12)
        encoded = base64.b64encode(b"alice:" + password.encode("latin-1")).decode()
        return Probe("/items", (("Authorization", f"Basic {encoded}"),), (password, encoded))

    def basic_key_as_user_with_x() -> Probe:
        key = _alnum(20)
        encoded = base64.b64encode(f"{key}:X".encode()).decode()
        return Probe("/items", (("Authorization", f"Basic {encoded}"),), (key, encoded))

    def request_id_uuid_of_hex_token() -> Probe:
        token = secrets.token_hex(16)
        uuid_form = "-".join((token[:8], token[8:12], token[12:16], token[16:20], token[20:]))
        return Probe(
            "/items",
            (("Authorization", f"Bearer {token}"), ("X-Request-ID", uuid_form)),
            (token,),
        )

    probes.update(
        {
            "basic-key-as-user-with-x": basic_key_as_user_with_x,
            "request-id-uuid-of-hex-token": request_id_uuid_of_hex_token,
            "joined-secret-query-names": joined_secret_query_names,
            "request-id-upper-cased-key": request_id_upper_cased_key,
            "request-id-with-a-piece": request_id_with_a_piece,
            "quoted-session-cookie": quoted_session_cookie,
            "path-like-random-cookie": path_like_random_cookie,
            "identity-proxy-headers": identity_proxy_headers,
            "basic-key-as-user": basic_key_as_user,
            "basic-latin1-password": basic_latin1_password,
            "vendor-key-header": vendor_key_header,
            "proxy-authorization": proxy_authorization,
            "misspelled-authentication": misspelled_authentication,
            "secret-query-names": secret_query_names,
            "short-bare-token-as-request-id": short_bare_token_as_request_id,
            "two-authorization-fields": two_authorization,
            "two-key-headers": two_key_headers,
            "same-key-header-twice": same_key_header_twice,
            "cookie-past-16k": long_cookie,
            "authorization-past-16k": long_authorization,
            "token-also-in-query": token_in_query_and_detail,
            "basic-password": basic_password,
        }
    )
    return probes


PROBES = _probes()


@dataclass
class Served:
    """One app, bare and wrapped, behind one server."""

    bare: int
    wrapped: int
    logs: Callable[[], object]
    # How often the refusing route ran, where the app can tell.
    app_calls: Callable[[], int] | None
    # The refusing route, where the probes say /items.
    route: str = "/items"


def _count(port: int) -> int:
    return int(fetch(port, "/count").json()["count"])


@contextlib.contextmanager
def _in_process(
    make: Callable[[dict[str, Any] | None], tuple[Any, apps.Counter]],
    server: Callable[[Any], Any],
) -> Iterator[Served]:
    capture = LogCapture()
    options = {"realm": "api", "logger": structlog.wrap_logger(None, processors=[capture])}
    bare_app, _ = make(None)
    wrapped_app, calls = make(options)
    with server(bare_app) as bare, server(wrapped_app) as wrapped:
        yield Served(bare.port, wrapped.port, lambda: list(capture.entries), lambda: calls.value)


@contextlib.contextmanager
def _gunicorn_pair(spec: str, workdir: Path, name: str) -> Iterator[tuple[Any, Any]]:
    """`spec` (with `{!r}` for the variant) bare and wrapped, each under
    gunicorn's threaded worker (`--threads 8`)."""
    pythonpath = Path(__file__).resolve().parents[2]
    with contextlib.ExitStack() as stack:
        yield tuple(  # type: ignore[misc]
            stack.enter_context(
                GunicornProcess(
                    spec.format(variant),
                    pythonpath=pythonpath,
                    workdir=workdir,
                    name=f"{name}-{variant}",
                    extra_args=("--threads", "8"),
                )
            )
            for variant in ("bare", "wrapped")
        )


@contextlib.contextmanager
def _gunicorn(workdir: Path) -> Iterator[Served]:
    spec = "tests.hostile.apps:gunicorn_echo_wsgi({!r})"
    with _gunicorn_pair(spec, workdir, "hostile") as (bare, wrapped):
        yield Served(bare.port, wrapped.port, wrapped.output, lambda: _count(wrapped.port))


@contextlib.contextmanager
def _drf(workdir: Path) -> Iterator[Served]:
    """The stacks suite's DRF project (TokenAuthentication) under gunicorn."""
    spec = "tests.stacks.drf_wsgi:application({!r})"
    with _gunicorn_pair(spec, workdir, "hostile-drf") as (bare, wrapped):
        yield Served(bare.port, wrapped.port, wrapped.output, None, route="/token")


STACKS = (
    "fastapi-uvicorn",
    "flask-httpauth-werkzeug",
    "echo-asgi-uvicorn",
    "echo-wsgi-gunicorn",
    "drf-gunicorn",
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Served]]:
    def wsgi(app: Any) -> Any:
        return WerkzeugThread(app.wsgi_app if hasattr(app, "wsgi_app") else app)

    with contextlib.ExitStack() as stack:
        yield {
            "fastapi-uvicorn": stack.enter_context(_in_process(apps.fastapi_bearer, UvicornThread)),
            "flask-httpauth-werkzeug": stack.enter_context(_in_process(apps.flask_httpauth, wsgi)),
            "echo-asgi-uvicorn": stack.enter_context(_in_process(apps.echo_asgi, UvicornThread)),
            "echo-wsgi-gunicorn": stack.enter_context(
                _gunicorn(tmp_path_factory.mktemp("hostile"))
            ),
            "drf-gunicorn": stack.enter_context(_drf(tmp_path_factory.mktemp("hostile-drf"))),
        }


@dataclass
class Answer:
    status: int
    head: str
    body: bytes

    def header(self, name: str) -> list[str]:
        prefix = name.lower() + ":"
        return [
            line.split(":", 1)[1].strip()
            for line in self.head.split("\r\n")[1:]
            if line.lower().startswith(prefix)
        ]


def _exchange(port: int, method: str, probe: Probe) -> tuple[Answer, float]:
    lines = [f"{method} {probe.target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in probe.headers]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    started = time.monotonic()
    raw = raw_exchange(port, request)
    elapsed = time.monotonic() - started
    head, _, body = raw.partition(b"\r\n\r\n")
    text = head.decode("latin-1")
    status = int(text.split(" ", 2)[1])
    return Answer(status, text, body), elapsed


def _assert_no_fragment(texts: list[str], secret_values: tuple[str, ...]) -> None:
    """No run of FRAGMENT characters of a secret: a message cut inside a
    token leaks its first characters even though the whole token is gone."""
    for secret in secret_values:
        if len(secret) < FRAGMENT:
            continue
        step = max(1, len(secret) // 64)
        for start in range(0, len(secret) - FRAGMENT + 1, step):
            piece = secret[start : start + FRAGMENT]
            for text in texts:
                assert piece not in text, f"{FRAGMENT} characters of a secret at {start}"


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("probe_name", sorted(PROBES))
def test_hostile_request(served: dict[str, Served], stack: str, probe_name: str) -> None:
    app = served[stack]
    probe = PROBES[probe_name]()
    if app.route != "/items":
        probe = Probe(probe.target.replace("/items", app.route, 1), probe.headers, probe.secrets)
    bare, _ = _exchange(app.bare, "GET", probe)
    calls_before = app.app_calls() if app.app_calls else 0
    wrapped, elapsed = _exchange(app.wrapped, "GET", probe)

    # No 5xx the bare app does not give; a refusal stays a 4xx.
    if bare.status < 500:
        assert wrapped.status < 500, (bare.status, wrapped.status)
    if bare.status in (400, 401, 403):
        assert wrapped.status in (400, 401, 403), (bare.status, wrapped.status)
    if (wrapped.status in (400, 401, 403) and wrapped.status != bare.status) or wrapped.header(
        "content-type"
    ) == ["application/problem+json"]:
        problem = json.loads(wrapped.body)
        assert problem["status"] == wrapped.status
        assert wrapped.header("cache-control") == ["no-store"]
    assert elapsed < REFUSAL_BOUND_S

    # No secret, whole or in part, in the answer or the log.
    texts = [wrapped.head, wrapped.body.decode("latin-1")]
    assert_no_secrets(texts, probe.secrets, shapes=False)
    _assert_no_fragment(texts, probe.secrets)
    logged = app.logs()
    assert_no_secrets(logged, probe.secrets, shapes=False)
    _assert_no_fragment([repr(logged)], probe.secrets)

    # HEAD: the GET's status and challenge, and the app runs once.
    calls_after_get = app.app_calls() if app.app_calls else 0
    head, _ = _exchange(app.wrapped, "HEAD", probe)
    if app.app_calls and calls_after_get > calls_before:  # the server let it reach the app
        assert app.app_calls() == calls_after_get + 1
    assert head.status == wrapped.status
    assert head.header("www-authenticate") == wrapped.header("www-authenticate")
    if wrapped.header("content-type") == ["application/problem+json"]:
        assert head.body == b""  # (a server's own 431 page may come with HEAD too)
    assert_no_secrets([head.head], probe.secrets, shapes=False)
