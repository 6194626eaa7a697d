"""The WSGI adapter against hostile app answers, through real servers.

Findings 14 and 15 of issue 12, on werkzeug's threaded server and gunicorn
with ``--threads 8``, for a raw PEP 3333 app and a Flask app (see
`wsgi_apps`), each run bare and wrapped:

- 14: a 401 whose body raises (after its first chunk, before any chunk, in
  close()) is answered by the wrapped app as a well-formed 401 with
  problem+json and no-store, never a 500, and the app's iterable is closed
  exactly once; the bare app gets whatever the server makes of it.
- 15: a HEAD to a refusing route runs the app once (its counter says so)
  and is answered with the status, challenge and logged reason of the GET,
  a streamed Flask refusal (``stream_with_context``) included.

And the review of that fix: an answer we pass through (a 400 to a request
with a token, a CSRF 403) whose body or close() breaks is on the wire
exactly as the bare app's (minus Date); a refusal whose chunks are ``str``
is a well-formed 401/403, never a 500.

Requests go through a raw socket with ``Connection: close`` and are read to
EOF: by then the server has closed the app's iterable, so the counters the
app exposes at ``/count`` are final.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import LogCapture

from tests.e2e.servers import (
    GunicornProcess,
    Reply,
    WerkzeugThread,
    assert_absent,
    assert_problem,
    raw_exchange,
)
from tests.hostile import wsgi_apps

TOKEN = "hostile-wsgi-token-not-a-secret-0001"
AUTHORIZATION = f"Bearer {TOKEN}"
ROOT = Path(__file__).resolve().parents[2]
KINDS = ("raw", "flask")


def parse(raw: bytes) -> Reply:
    """One HTTP/1.1 response as received (the body as framed by
    Content-Length, or everything to EOF)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = [(k, v) for k, _, v in (line.partition(": ") for line in lines[1:])]
    reply = Reply(status, headers, body)
    if (reply.get("transfer-encoding") or "").lower() == "chunked":
        reply.body = _dechunk(body)
    return reply


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    for _ in range(10_000):  # bounded: the apps send a handful of chunks
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)


def request(method: str, path: str, *, authorization: str | None = AUTHORIZATION) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if authorization is not None:
        lines.append(f"Authorization: {authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass
class Served:
    """One app (raw or Flask) behind one server, bare and wrapped."""

    server: str
    kind: str
    ports: dict[str, int]
    logs: LogCapture | None  # in-process servers: the wrapped app's events
    output: Any = None  # gunicorn: everything the wrapped worker printed

    def exchange(self, variant: str, method: str, path: str, **kw: Any) -> bytes:
        return raw_exchange(self.ports[variant], request(method, path, **kw))

    def counts(self, variant: str = "wrapped") -> dict[str, int]:
        reply = parse(self.exchange(variant, "GET", "/count", authorization=None))
        assert reply.status == 200
        counts: dict[str, int] = json.loads(reply.body)
        return counts

    def reasons(self, method: str) -> list[str]:
        """The reasons logged in `auth.failure` events for `method`."""
        if self.logs is not None:
            return [
                str(entry["reason"])
                for entry in self.logs.entries
                if entry["event"] == "auth.failure" and entry.get("method") == method
            ]
        text = self.output()
        return re.findall(rf"auth\.failure\b[^\n]*method={method}\b[^\n]*reason=(\w+)", text)


@contextlib.contextmanager
def werkzeug(kind: str) -> Iterator[Served]:
    logs = LogCapture()
    bare, _ = wsgi_apps.build(kind, "bare")
    wrapped, _ = wsgi_apps.build(kind, "wrapped", structlog.wrap_logger(None, processors=[logs]))
    with WerkzeugThread(bare) as b, WerkzeugThread(wrapped) as w:
        yield Served("werkzeug", kind, {"bare": b.port, "wrapped": w.port}, logs)


@contextlib.contextmanager
def gunicorn(kind: str, workdir: Path) -> Iterator[Served]:
    with contextlib.ExitStack() as stack:
        processes = {
            variant: stack.enter_context(
                GunicornProcess(
                    f"tests.hostile.wsgi_apps:gunicorn_app({kind!r}, {variant!r})",
                    pythonpath=ROOT,
                    workdir=workdir,
                    name=f"hostile-wsgi-{kind}-{variant}",
                    extra_args=("--threads", "8"),
                )
            )
            for variant in ("bare", "wrapped")
        }
        yield Served(
            "gunicorn",
            kind,
            {variant: process.port for variant, process in processes.items()},
            None,
            processes["wrapped"].output,
        )


@pytest.fixture(
    scope="module",
    params=[(s, k) for s in ("werkzeug", "gunicorn") for k in KINDS],
    ids=lambda p: "-".join(p),
)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    server, kind = request.param
    if server == "werkzeug":
        with werkzeug(kind) as running:
            yield running
    else:
        with gunicorn(kind, tmp_path_factory.mktemp("gunicorn")) as running:
            yield running


# --- finding 14: a 401 whose body raises ----------------------------------------


@pytest.mark.parametrize("path", wsgi_apps.BREAKING)
def test_a_401_whose_body_breaks_is_answered_not_a_500(served: Served, path: str) -> None:
    before = served.counts().get(f"close {path}", 0)
    bare = served.exchange("bare", "GET", path)
    reply = parse(served.exchange("wrapped", "GET", path))
    problem = assert_problem(reply, status=401, reason="credentials_invalid")
    assert problem["status"] == 401
    assert reply.get("cache-control") == "no-store"
    assert int(reply.get("content-length") or -1) == len(reply.body)
    # The app's iterable: closed exactly once by the request we sent.
    assert served.counts().get(f"close {path}", 0) == before + 1
    assert_absent([TOKEN], reply.wire_text, bare.decode("latin-1"))


def test_what_the_bare_app_gets_is_no_well_formed_refusal(served: Served) -> None:
    # The reference: without us the server makes a 500 of a body that breaks
    # before its first chunk (the headers are not sent yet).
    reply = parse(served.exchange("bare", "GET", "/raise-before"))
    assert reply.status == 500


# --- finding 15: HEAD runs the app once ------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [AUTHORIZATION, None, "Basic aG9zdGlsZTpub3Qtc2VjcmV0"],
    ids=["bearer", "none", "basic"],
)
def test_head_runs_the_app_once_and_answers_like_get(
    served: Served, authorization: str | None
) -> None:
    before = served.counts()
    get = parse(served.exchange("wrapped", "GET", "/refuse", authorization=authorization))
    head = parse(served.exchange("wrapped", "HEAD", "/refuse", authorization=authorization))
    after = served.counts()
    assert after.get("refuse GET", 0) == before.get("refuse GET", 0) + 1
    assert after.get("refuse HEAD", 0) == before.get("refuse HEAD", 0) + 1
    assert head.body == b""
    assert head.status == get.status == 401
    assert head.get_all("www-authenticate") == get.get_all("www-authenticate")
    assert head.get("content-type") == get.get("content-type") == "application/problem+json"
    assert head.get("cache-control") == "no-store"
    assert served.reasons("HEAD")[-1:] == served.reasons("GET")[-1:] == [get.json()["reason"]]


def test_head_of_the_bare_app_runs_it_once_too(served: Served) -> None:
    before = served.counts("bare")
    head = parse(served.exchange("bare", "HEAD", "/refuse"))
    after = served.counts("bare")
    assert head.status == 401
    assert after.get("refuse HEAD", 0) == before.get("refuse HEAD", 0) + 1
    assert after.get("refuse GET", 0) == before.get("refuse GET", 0)


# --- answers we pass through: on the wire as the bare app gives them ---------


def without_date_line(raw: bytes) -> bytes:
    """The raw response minus its Date header line (the one part two identical
    answers sent in different seconds differ in)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"date:")]
    return b"\r\n".join(lines) + sep + body


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("path", wsgi_apps.PASS_THROUGH)
def test_an_answer_passed_through_is_on_the_wire_as_without_us(
    served: Served, path: str, method: str
) -> None:
    # A 400 to a request with a token, a CSRF 403: not rewritten, so a body
    # or close() that breaks does to the wrapped app what it does to the bare
    # one (a cut-off body, the server's own 500 before any chunk), never a
    # 500 of ours where the bare app's status went out.
    key = f"close {path}"
    before = {variant: served.counts(variant).get(key, 0) for variant in ("bare", "wrapped")}
    bare = served.exchange("bare", method, path)
    wrapped = served.exchange("wrapped", method, path)
    assert without_date_line(wrapped) == without_date_line(bare)
    bare_reply, wrapped_reply = parse(bare), parse(wrapped)
    assert wrapped_reply.status == bare_reply.status
    if not path.endswith("-before"):
        assert wrapped_reply.status in (400, 403)
    for variant in ("bare", "wrapped"):  # closed once, by the server
        assert served.counts(variant).get(key, 0) == before[variant] + 1


@pytest.mark.parametrize("path", [p for p in wsgi_apps.PASS_THROUGH if "/csrf-" in p])
def test_a_csrf_403_without_credentials_is_on_the_wire_as_without_us(
    served: Served, path: str
) -> None:
    bare = served.exchange("bare", "GET", path, authorization=None)
    wrapped = served.exchange("wrapped", "GET", path, authorization=None)
    assert without_date_line(wrapped) == without_date_line(bare)


# --- a refusal whose chunks are str: answered, never a 500 --------------------


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("path", wsgi_apps.STR_REFUSALS)
def test_a_refusal_with_str_chunks_is_a_well_formed_refusal(
    served: Served, path: str, method: str
) -> None:
    status = int(path[-3:])
    key = f"close {path}"
    before = served.counts().get(key, 0)
    reply = parse(served.exchange("wrapped", method, path))
    if method == "HEAD":
        assert reply.status == status
        assert reply.body == b""
        assert reply.get("content-type") == "application/problem+json"
        assert reply.get("cache-control") == "no-store"
    else:
        problem = assert_problem(
            reply, status=status, reason="credentials_invalid" if status == 401 else "forbidden"
        )
        assert problem["status"] == status
        assert int(reply.get("content-length") or -1) == len(reply.body)
    if status == 401:
        assert (reply.get("www-authenticate") or "").startswith("Bearer")
    assert served.counts().get(key, 0) == before + 1
    # The reference: the bare app's status goes out (the server then fails on
    # the str, or Flask encodes it); never a 500 of ours.
    assert parse(served.exchange("bare", method, path)).status == status


# --- a streamed refusal: HEAD explained like GET -----------------------------


def test_a_streamed_refusal_to_head_is_explained_like_get(served: Served) -> None:
    before = served.counts()
    get = parse(served.exchange("wrapped", "GET", "/stream/scope"))
    head = parse(served.exchange("wrapped", "HEAD", "/stream/scope"))
    after = served.counts()
    assert after.get("stream GET", 0) == before.get("stream GET", 0) + 1
    assert after.get("stream HEAD", 0) == before.get("stream HEAD", 0) + 1
    assert get.status == head.status == 403
    assert get.json()["reason"] == "insufficient_scope"
    assert head.body == b""
    assert head.get_all("www-authenticate") == get.get_all("www-authenticate")
    assert served.reasons("HEAD")[-1:] == served.reasons("GET")[-1:] == ["insufficient_scope"]
