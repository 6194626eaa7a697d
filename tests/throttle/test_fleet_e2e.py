"""`throttle=` across a real fleet: FastAPI under `uvicorn --workers 2` and
Flask under gunicorn with two sync workers, both counting in one real
redis-server, probed over the wire from several client addresses
(127.0.0.2, 127.0.0.3, ... on Linux loopback, through httpx's
`local_address`), one fresh connection per request so that both workers
answer.

What is checked, on both stacks:

- exactly the limit gets through: N failures of one credential (or of one
  address) reach the app, and then every worker refuses the key 429
  `too_many_failures` before the app, while a valid credential from
  another address still gets in (and per_client refuses even a valid
  credential from the address that failed; a 401 to no credentials counts
  by address unless `count_anonymous=False`);
- a block reaches the other worker within a second (observed: within a
  few ms, the other worker's first answer; printed);
- a short window expires and the key is admitted again;
- Redis killed: fail-open serves as usual, fail-closed answers the
  failures it cannot count 503 `throttle_unavailable`, never a 500; Redis
  restarted on its port: the listeners come back and counting resumes;
- shadow mode never refuses and logs `auth.throttle.shadow`;
- a worker started after a block (a replaced worker) refuses the key, and
  one started after Redis came back empty hashes keys as the others do.

The apps (tests/throttle/fleet_apps/) write the pid of every request that
reaches them to a file, and every response carries the pid of the worker
that answered (`X-Worker-Pid`). Every server runs in a session of its own
and is stopped by the test that started it; every wait is bounded; no
assertion depends on timing beyond generous bounds.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from authhygiene.throttle.redis_store import announcement_names
from tests import leaks
from tests.e2e.servers import Reply, assert_problem
from tests.redis_server import RedisServer, free_port
from tests.throttle.fleet_apps import CALLS_ENV, GOOD_ENV, PID_HEADER, THROTTLE_ENV

pytestmark = pytest.mark.needs("redis-server")

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2
_START_BOUND_S = 30.0
_STOP_BOUND_S = 10.0
_IO_TIMEOUT_S = 10.0
_POLL_S = 0.05
# Fresh connections until both workers have answered. The kernel hands each
# to either worker, but not evenly: 40 in a row to one worker were seen
# (uvicorn under coverage). After a few misses a short pause lets both
# workers wait in accept again.
_BOTH_WORKERS_TRIES = 400
_MISSES_BEFORE_PAUSE = 8
_PAUSE_S = 0.01
# The listener reconnects with a pause growing to 5 s; the breaker stops
# asking Redis for 1 s after it failed.
_RECONNECT_BOUND_S = 15.0
_BREAKER_S = 1.0
# A block must be heard by every worker within this (documented: "before
# the client's next try"; the brief's bound is one second).
_PROPAGATION_BOUND_S = 1.0


# --- the servers -------------------------------------------------------------------


def _uvicorn(port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "tests.throttle.fleet_apps.asgi_app:served",
        "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(WORKERS), "--log-level", "warning",
    ]  # fmt: skip


def _gunicorn(port: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn",
        "--workers", str(WORKERS), "--worker-class", "sync",
        "--bind", f"127.0.0.1:{port}",
        "--log-level", "warning", "--graceful-timeout", "5",
        # gunicorn 27's control socket is at one fixed path per user.
        "--no-control-socket",
        "tests.throttle.fleet_apps.wsgi_app:app",
    ]  # fmt: skip


STACKS: dict[str, Callable[[int], list[str]]] = {"uvicorn": _uvicorn, "gunicorn": _gunicorn}
STACK_IDS = list(STACKS)


@dataclass
class Answer:
    """One response: the e2e `Reply` (for `assert_problem`), and the pid of
    the worker that answered."""

    reply: Reply
    sent_at: float
    answered_at: float

    @property
    def status(self) -> int:
        return self.reply.status

    @property
    def pid(self) -> int:
        value = self.reply.get(PID_HEADER)
        assert value is not None, "every response carries the worker's pid"
        return int(value)

    def json(self) -> Any:
        return self.reply.json()


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


@dataclass
class Fleet:
    """One server with two workers, started in a session of its own (so
    that its workers can be told apart from anything else by their session
    id), its output in files, its throttle from `throttle_options`."""

    stack: str
    workdir: Path
    throttle_options: dict[str, Any]
    redis_server: RedisServer | None
    good: str = field(default_factory=lambda: "good-" + secrets.token_urlsafe(16))
    port: int = 0
    workers: set[int] = field(default_factory=set)
    # Every worker pid ever seen, to make sure each one is gone at the end.
    started: set[int] = field(default_factory=set)
    process: subprocess.Popen[bytes] | None = None
    _clients: dict[str, httpx.Client] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def calls_path(self) -> Path:
        return self.workdir / f"{self.stack}.calls"

    @property
    def prefix(self) -> str:
        return str(self.throttle_options.get("key_prefix", "authhygiene"))

    def __enter__(self) -> Fleet:
        self.port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
            THROTTLE_ENV: json.dumps(self.throttle_options),
            CALLS_ENV: str(self.calls_path),
            GOOD_ENV: self.good,
        }
        out_path, err_path = self._output_paths()
        with out_path.open("wb") as out, err_path.open("wb") as err:
            self.process = subprocess.Popen(
                STACKS[self.stack](self.port),
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__()
            raise
        # The readiness probes reached the app; the tests count from here.
        self.calls_path.write_bytes(b"")
        return self

    def _output_paths(self) -> tuple[Path, Path]:
        return self.workdir / f"{self.stack}.stdout", self.workdir / f"{self.stack}.stderr"

    def output(self) -> str:
        """Everything the server and its workers printed so far."""
        return "".join(path.read_text("utf-8", "replace") for path in self._output_paths())

    def _wait_ready(self) -> None:
        """Until both workers have answered (a success: never counted) and,
        with Redis, both listeners are subscribed to the fleet's channel."""
        assert self.process is not None
        deadline = time.monotonic() + _START_BOUND_S
        while len(self.workers) < WORKERS:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.stack} did not start:\n{self.output()}")
            try:
                answer = self.send("127.0.0.1", "good")
            except httpx.TransportError:
                time.sleep(_POLL_S)
                continue
            assert answer.status == 200, self.output()
            self.workers.add(answer.pid)
            self.started.add(answer.pid)
        if self.redis_server is not None:
            self.wait_subscribed(deadline)

    def replace_worker(self, pid: int) -> int:
        """Stop one worker by its pid (SIGTERM, as a deploy or gunicorn's
        max_requests would); the server starts another: its pid, once it
        answers and listens. Its readiness probes reach the app (calls)."""
        assert pid in self.workers
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + _START_BOUND_S
        while _alive(pid):
            assert time.monotonic() < deadline, f"worker {pid} did not stop"
            time.sleep(_POLL_S)
        self.workers.discard(pid)
        survivors = set(self.workers)
        self._wait_ready()
        (new,) = self.workers - survivors
        return new

    def subscribers(self) -> int:
        assert self.redis_server is not None
        client = redis.Redis(host="127.0.0.1", port=self.redis_server.port, socket_timeout=5)
        try:
            counts: list[tuple[bytes, int]] = client.pubsub_numsub(  # type: ignore[assignment]
                announcement_names(self.prefix)[0]
            )
        finally:
            client.close()
        return int(counts[0][1]) if counts else 0

    def wait_subscribed(self, deadline: float) -> None:
        while self.subscribers() < WORKERS:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.stack}'s listeners did not subscribe:\n{self.output()}")
            time.sleep(_POLL_S)

    def __exit__(self, *exc: object) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=_STOP_BOUND_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # its own session: only its own
                process.wait(timeout=_STOP_BOUND_S)
        self._reap_workers(process.pid)
        # What the server printed is a log: no credential sent may be in it.
        leaks.check(self.output(), what=f"{self.stack}'s output")

    def _reap_workers(self, session: int) -> None:
        """The workers are gone with their server; one left over is killed
        by its pid, once it is certain it is one of ours (our session)."""
        deadline = time.monotonic() + _STOP_BOUND_S
        for pid in self.started:
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(_POLL_S)
            with contextlib.suppress(OSError):
                if _alive(pid) and os.getsid(pid) == session:
                    os.kill(pid, signal.SIGKILL)

    # --- requests ----------------------------------------------------------------

    def token(self, name: str) -> str:
        """The bad bearer token called `name` in this test (made once)."""
        if name not in self._tokens:
            self._tokens[name] = f"{name}-" + secrets.token_urlsafe(16)
        return self._tokens[name]

    def headers(self, credential: str) -> list[tuple[str, str]]:
        """`good`, `good-spoofed` (with an X-Forwarded-For no proxy is
        trusted for), `missing`, `malformed` (two Authorization lines: a
        400), or the name of a bad token."""
        if credential == "missing":
            return []
        if credential == "good":
            return [("Authorization", f"Bearer {self.good}")]
        if credential == "good-spoofed":
            return [*self.headers("good"), ("X-Forwarded-For", "198.51.100.7")]
        if credential == "malformed":
            return [
                ("Authorization", f"Bearer {self.token('malformed-1')}"),
                ("Authorization", f"Bearer {self.token('malformed-2')}"),
            ]
        return [("Authorization", f"Bearer {self.token(credential)}")]

    def _client(self, source: str) -> httpx.Client:
        client = self._clients.get(source)
        if client is None:
            # No connection is kept: every request opens its own, and the
            # kernel hands it to either worker.
            transport = httpx.HTTPTransport(
                local_address=source, limits=httpx.Limits(max_keepalive_connections=0)
            )
            client = self._clients[source] = httpx.Client(
                transport=transport, timeout=_IO_TIMEOUT_S, headers={"Connection": "close"}
            )
        return client

    def send(self, source: str, credential: str) -> Answer:
        sent_at = time.monotonic()
        response = self._client(source).get(
            f"http://127.0.0.1:{self.port}/me", headers=self.headers(credential)
        )
        reply = Reply(response.status_code, list(response.headers.multi_items()), response.content)
        return Answer(reply, sent_at, time.monotonic())

    def calls(self) -> int:
        """How many requests reached the app since the fleet was ready."""
        return self.calls_path.read_bytes().count(b"\n")

    def from_every_worker(
        self, source: str, credential: str, check: Callable[[Answer], None]
    ) -> list[Answer]:
        """Send until both workers have answered, each answer checked."""
        answers: list[Answer] = []
        seen: set[int] = set()
        for _ in range(_BOTH_WORKERS_TRIES):
            answer = self.send(source, credential)
            check(answer)
            answers.append(answer)
            seen.add(answer.pid)
            if seen == self.workers:
                return answers
            if len(answers) >= _MISSES_BEFORE_PAUSE:
                time.sleep(_PAUSE_S)
        raise AssertionError(f"only workers {seen} of {self.workers} answered")


@pytest.fixture
def serve(tmp_path: Path) -> Callable[..., contextlib.AbstractContextManager[Fleet]]:
    """`serve(stack, redis_server, **throttle_options)`: a fleet with a
    `key_prefix` of this test's own, stopped when the `with` ends."""

    @contextlib.contextmanager
    def start(stack: str, redis_server: RedisServer | None, **options: Any) -> Iterator[Fleet]:
        options.setdefault("key_prefix", "fleet-" + secrets.token_hex(6))
        if redis_server is not None:
            options.setdefault("storage", redis_server.url)
        workdir = tmp_path / f"{stack}-{options['key_prefix']}"
        workdir.mkdir()
        with Fleet(stack, workdir, options, redis_server) as fleet:
            yield fleet

    return start


# --- checks ------------------------------------------------------------------------


def assert_failure(answer: Answer, status: int, reason: str) -> None:
    assert_problem(answer.reply, status=status, reason=reason)


def assert_too_many(answer: Answer, *, by: str, limit: int, window: int) -> dict[str, Any]:
    """The 429: problem+json with the limit that refused, Retry-After and
    the RateLimit fields."""
    problem = assert_problem(answer.reply, status=429, reason="too_many_failures")
    assert problem["limited_by"] == by
    assert problem["limit"] == limit
    assert problem["window_seconds"] == window
    retry_after = problem["retry_after"]
    # The sliding window forgets a failure within two windows.
    assert isinstance(retry_after, int)
    assert 1 <= retry_after <= 2 * window
    assert answer.reply.get("retry-after") == str(retry_after)
    policy = answer.reply.get("ratelimit-policy") or ""
    assert f'"failures-per-{by}";q={limit};w={window}' in policy
    assert f'"failures-per-{by}";r=0;t=' in (answer.reply.get("ratelimit") or "")
    return problem


def assert_success(answer: Answer) -> None:
    assert answer.status == 200
    assert answer.json() == {"user": "alice", "pid": answer.pid}


# --- 1 and 3: exactly the limit gets through; then every worker refuses -----------------

# (source address, credential, status, reason): the failures, sent in order,
# every one of them reaching the app.
Failure = tuple[str, str, int, str]
# (source address, credential, status, limited_by): then, each answered so
# by both workers; 429s before the app, 200s by the app.
Probe = tuple[str, str, int, str | None]

BLOCK_CASES = [
    pytest.param(
        {"per_client": "30/minute", "per_credential": "3/minute"},
        [
            ("127.0.0.2", "stolen", 401, "credentials_invalid"),
            ("127.0.0.3", "stolen", 401, "credentials_invalid"),
            ("127.0.0.4", "stolen", 401, "credentials_invalid"),
        ],
        [
            ("127.0.0.5", "stolen", 429, "credential"),  # from an address never seen
            ("127.0.0.2", "stolen", 429, "credential"),
            ("127.0.0.6", "good", 200, None),  # a valid credential still gets in
            ("127.0.0.2", "good", 200, None),  # even from an address that failed
        ],
        id="per-credential",
    ),
    pytest.param(
        {"per_client": "3/minute", "per_credential": "30/minute"},
        [
            # A 401 to no credentials counts by address (count_anonymous=True,
            # the default): it may be a guess in a header we do not know of.
            ("127.0.0.7", "missing", 401, "credentials_missing"),
            ("127.0.0.7", "guess-1", 401, "credentials_invalid"),
            ("127.0.0.7", "malformed", 400, "credentials_malformed"),
        ],
        [
            ("127.0.0.7", "good", 429, "client"),  # even the valid credential
            ("127.0.0.7", "good-spoofed", 429, "client"),  # no trusted_proxies: the peer
            ("127.0.0.7", "guess-2", 429, "client"),
            ("127.0.0.7", "missing", 429, "client"),
            ("127.0.0.8", "good", 200, None),  # another address gets in
        ],
        id="per-client",
    ),
    pytest.param(
        {"per_client": "3/minute", "per_credential": "30/minute", "count_anonymous": False},
        [
            # count_anonymous=False: no credentials, not counted.
            ("127.0.0.9", "missing", 401, "credentials_missing"),
            ("127.0.0.9", "missing", 401, "credentials_missing"),
            ("127.0.0.9", "missing", 401, "credentials_missing"),
            ("127.0.0.9", "guess-1", 401, "credentials_invalid"),
            ("127.0.0.9", "malformed", 400, "credentials_malformed"),
            ("127.0.0.9", "guess-2", 401, "credentials_invalid"),
        ],
        [
            ("127.0.0.9", "good", 429, "client"),
            ("127.0.0.9", "missing", 429, "client"),
            ("127.0.0.10", "good", 200, None),
        ],
        id="per-client-not-anonymous",
    ),
]


def _limits(options: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """{"client": (amount, window_s), ...} of "N/minute" options."""
    found = {}
    for by in ("client", "credential"):
        amount, _, unit = options[f"per_{by}"].partition("/")
        assert unit == "minute"
        found[by] = (int(amount), 60)
    return found


@pytest.mark.parametrize("stack", STACK_IDS)
@pytest.mark.parametrize(("options", "failures", "probes"), BLOCK_CASES)
def test_exactly_the_limit_reaches_the_app_then_every_worker_refuses(
    serve: Any,
    redis_server: RedisServer,
    stack: str,
    options: dict[str, Any],
    failures: Sequence[Failure],
    probes: Sequence[Probe],
) -> None:
    limits = _limits(options)
    with serve(stack, redis_server, **options) as fleet:
        for source, credential, status, reason in failures:
            assert_failure(fleet.send(source, credential), status, reason)
        assert fleet.calls() == len(failures)  # every failure reached the app

        successes = 0
        for source, credential, status, by in probes:
            if status == 200:
                answers = fleet.from_every_worker(source, credential, assert_success)
                successes += len(answers)
            else:
                assert by is not None
                amount, window = limits[by]

                def refused(
                    answer: Answer, by: str = by, amount: int = amount, window: int = window
                ) -> None:
                    assert_too_many(answer, by=by, limit=amount, window=window)

                answers = fleet.from_every_worker(source, credential, refused)
            assert {answer.pid for answer in answers} == fleet.workers
        # Not one refused request reached the app: only the limit's failures
        # and the successes did.
        assert fleet.calls() == len(failures) + successes


# --- 2: the block reaches the other worker --------------------------------------------

_PROPAGATION_SAMPLES = 5
_PROPAGATION_PROBES = 400


@pytest.mark.parametrize("stack", STACK_IDS)
def test_a_block_reaches_the_other_worker_within_a_second(
    serve: Any, redis_server: RedisServer, stack: str
) -> None:
    """An address blocked by per_client, probed with a valid credential
    (never counted, so a worker that has not heard of the block lets it in
    with a 200 and learns nothing from it): the first 429 from the worker
    that did not answer the filling failure is the moment it heard."""
    delays: list[float] = []
    let_in: list[int] = []
    with serve(stack, redis_server, per_client="2/minute", per_credential="30/minute") as fleet:
        for sample in range(_PROPAGATION_SAMPLES):
            source = f"127.0.1.{sample + 1}"
            assert_failure(fleet.send(source, f"try-{sample}-a"), 401, "credentials_invalid")
            filling = fleet.send(source, f"try-{sample}-b")
            assert_failure(filling, 401, "credentials_invalid")
            early = 0
            heard: Answer | None = None
            for _ in range(_PROPAGATION_PROBES):
                probe = fleet.send(source, "good")
                if probe.pid == filling.pid:
                    assert_too_many(probe, by="client", limit=2, window=60)
                elif probe.status == 200:  # the other worker has not heard yet
                    early += 1
                else:
                    assert_too_many(probe, by="client", limit=2, window=60)
                    heard = probe
                    break
                if probe.sent_at - filling.answered_at > 3 * _PROPAGATION_BOUND_S:
                    break
            assert heard is not None, "the other worker did not refuse the blocked address"
            delay = heard.answered_at - filling.answered_at
            assert delay <= _PROPAGATION_BOUND_S
            delays.append(delay)
            let_in.append(early)
    print(
        f"\n{stack}: the other worker refused the blocked address"
        f" {', '.join(f'{d * 1000:.1f}' for d in delays)} ms after the filling failure's"
        f" response (median {statistics.median(delays) * 1000:.1f} ms; an upper bound: the"
        f" first probe it answered); successes it let in before: {let_in}"
    )


# --- 4: the window expires -----------------------------------------------------------

_WINDOW_S = 2
# The sliding window counter weighs the previous window's failures by what
# is left of it: a full window forgets them between one and two windows
# after it was filled. Admission is asserted within two windows and a
# margin for the fleet; observed: at the announced Retry-After.
_ADMISSION_BOUND_S = 2 * _WINDOW_S + 2.0


@pytest.mark.parametrize("stack", STACK_IDS)
def test_the_window_expires_and_the_key_is_admitted_again(
    serve: Any, redis_server: RedisServer, stack: str
) -> None:
    limit = f"3/{_WINDOW_S} seconds"
    # by: (failures (source, credential), probe (source, credential), the
    # status of the probe once admitted)
    rows: dict[str, tuple[list[tuple[str, str]], tuple[str, str], int]] = {
        "credential": (
            [("127.0.2.1", "stolen"), ("127.0.2.2", "stolen"), ("127.0.2.3", "stolen")],
            ("127.0.2.4", "stolen"),
            401,  # admitted: the app answers it again
        ),
        "client": (
            [("127.0.3.1", "guess-1"), ("127.0.3.1", "guess-2"), ("127.0.3.1", "guess-3")],
            ("127.0.3.1", "good"),
            200,
        ),
    }
    with serve(stack, redis_server, per_client=limit, per_credential=limit) as fleet:
        filled_at = {}
        for by, (failures, _, _) in rows.items():
            for source, credential in failures:
                answer = fleet.send(source, credential)
                assert_failure(answer, 401, "credentials_invalid")
            filled_at[by] = answer.answered_at
        retry_after = {}
        for by, (_, (source, credential), _) in rows.items():
            refused = fleet.send(source, credential)
            retry_after[by] = assert_too_many(refused, by=by, limit=3, window=_WINDOW_S)[
                "retry_after"
            ]
        admitted_after: dict[str, float] = {}
        waiting = dict(rows)
        deadline = time.monotonic() + _ADMISSION_BOUND_S + 1.0
        while waiting and time.monotonic() < deadline:
            for by, (_, (source, credential), status) in list(waiting.items()):
                answer = fleet.send(source, credential)
                if answer.status == 429:
                    assert_too_many(answer, by=by, limit=3, window=_WINDOW_S)
                    continue
                if status == 200:
                    assert_success(answer)
                else:
                    assert_failure(answer, status, "credentials_invalid")
                admitted_after[by] = answer.answered_at - filled_at[by]
                del waiting[by]
            time.sleep(0.1)
        assert not waiting, f"still refused after {_ADMISSION_BOUND_S} s: {list(waiting)}"
        for by, seconds in admitted_after.items():
            assert seconds <= _ADMISSION_BOUND_S, by
    print(
        f"\n{stack}: admitted again after "
        + ", ".join(
            f"{by} {seconds:.2f} s (Retry-After said {retry_after[by]})"
            for by, seconds in admitted_after.items()
        )
        + f"; window {_WINDOW_S} s, bound {_ADMISSION_BOUND_S} s"
    )


# --- 5: Redis killed, then back ---------------------------------------------------------

# on_storage_error, then (credential, status, reason) while Redis is down;
# every kind is answered so by both workers, never a 500.
DOWN_CASES = [
    pytest.param(
        "open",
        [
            ("good", 200, None),
            ("stolen", 401, "credentials_invalid"),  # not counted, answered as usual
            ("missing", 401, "credentials_missing"),
        ],
        id="fail-open",
    ),
    pytest.param(
        "closed",
        [
            ("good", 200, None),  # successes never need Redis
            ("stolen", 503, "throttle_unavailable"),  # a failure it cannot count
            ("missing", 503, "throttle_unavailable"),  # counted by address: the same
        ],
        id="fail-closed",
    ),
]
_DOWN_LIMIT = 3


@pytest.mark.parametrize("stack", STACK_IDS)
@pytest.mark.parametrize(("on_storage_error", "while_down"), DOWN_CASES)
def test_redis_killed_then_restarted(
    serve: Any,
    redis_server: RedisServer,
    stack: str,
    on_storage_error: str,
    while_down: Sequence[tuple[str, int, str | None]],
) -> None:
    options = {
        "per_client": "100/minute",
        "per_credential": f"{_DOWN_LIMIT}/minute",
        "on_storage_error": on_storage_error,
    }
    with serve(stack, redis_server, **options) as fleet:
        counted = fleet.send("127.0.4.1", "stolen")
        assert_failure(counted, 401, "credentials_invalid")
        assert '"failures-per-credential";r=2;' in (counted.reply.get("ratelimit") or "")

        redis_server.kill()
        sources = iter(f"127.0.5.{n}" for n in range(1, 250))
        sent_while_down = 0
        for credential, status, reason in while_down:

            def answered(answer: Answer, status: int = status, reason: str | None = reason) -> None:
                assert answer.status != 500
                if reason is None:
                    assert_success(answer)
                else:
                    assert_failure(answer, status, reason)
                if reason == "throttle_unavailable":
                    assert answer.json()["retry_after"] >= 1
                    assert int(answer.reply.get("retry-after") or 0) >= 1

            answers = fleet.from_every_worker(next(sources), credential, answered)
            # More failures than the limit: none is refused 429.
            while credential == "stolen" and len(answers) <= _DOWN_LIMIT + 1:
                answers.append(fleet.send(next(sources), credential))
                answered(answers[-1])
            sent_while_down += len(answers)
        down_until = time.monotonic()
        assert fleet.calls() == 1 + sent_while_down  # Redis down: nothing refused before the app

        redis_server.start()  # the same port, empty: the counts went with it
        restarted = time.monotonic()
        fleet.wait_subscribed(restarted + _RECONNECT_BOUND_S)
        reconnected = time.monotonic() - restarted
        # The breaker asks Redis again 1 s after its last failure.
        time.sleep(max(0.0, _BREAKER_S + 0.2 - (time.monotonic() - down_until)))

        before = fleet.calls()
        for n in range(_DOWN_LIMIT):
            answer = fleet.send(f"127.0.6.{n + 1}", "stolen")
            assert_failure(answer, 401, "credentials_invalid")
            left = _DOWN_LIMIT - n - 1
            assert f'"failures-per-credential";r={left};' in (answer.reply.get("ratelimit") or "")

        def refused(answer: Answer) -> None:
            assert_too_many(answer, by="credential", limit=_DOWN_LIMIT, window=60)

        fleet.from_every_worker("127.0.6.9", "stolen", refused)
        assert fleet.calls() == before + _DOWN_LIMIT
    print(f"\n{stack}, fail-{on_storage_error}: listeners back {reconnected:.2f} s after Redis")


# --- 6: shadow mode ----------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACK_IDS)
def test_shadow_mode_never_refuses_and_says_what_it_would_have_done(
    serve: Any, redis_server: RedisServer, stack: str
) -> None:
    with serve(
        stack, redis_server, per_client="1000/minute", per_credential="2/minute", mode="shadow"
    ) as fleet:
        answers = [fleet.send(f"127.0.7.{n + 1}", "stolen") for n in range(3)]

        def answered_as_usual(answer: Answer) -> None:
            assert_failure(answer, 401, "credentials_invalid")

        for answer in answers:
            answered_as_usual(answer)
        # Over the limit, and still let through to the app by every worker.
        answers += fleet.from_every_worker("127.0.7.8", "stolen", answered_as_usual)
        assert fleet.calls() == len(answers)
        fleet.from_every_worker("127.0.7.9", "good", assert_success)
        deadline = time.monotonic() + _IO_TIMEOUT_S
        while "auth.throttle.shadow" not in fleet.output() and time.monotonic() < deadline:
            time.sleep(_POLL_S)
        output = fleet.output()
    shadow = [line for line in output.splitlines() if "auth.throttle.shadow" in line]
    assert shadow, "shadow mode logs what it would have refused"
    # Once per block and worker: not once per request.
    assert len(shadow) <= WORKERS
    assert all("limited_by=credential" in line and "would_status=429" in line for line in shadow)
    assert "auth.throttled" not in output


# --- a worker that starts after the block ------------------------------------------------


@pytest.mark.parametrize("stack", STACK_IDS)
def test_a_worker_started_after_a_block_refuses_the_key(
    serve: Any, redis_server: RedisServer, stack: str
) -> None:
    """A worker replaced after the key was blocked (a deploy, gunicorn's
    max_requests, uvicorn restarting a worker that died) missed the
    announcement: it reads the running blocks when it subscribes."""
    with serve(stack, redis_server, per_client="1000/minute", per_credential="3/minute") as fleet:
        for n in range(3):
            assert_failure(fleet.send(f"127.0.8.{n + 1}", "stolen"), 401, "credentials_invalid")
        new = fleet.replace_worker(min(fleet.workers))
        before = fleet.calls()

        def refused(answer: Answer) -> None:
            assert_too_many(answer, by="credential", limit=3, window=60)

        answers = fleet.from_every_worker("127.0.8.9", "stolen", refused)
        assert new in {answer.pid for answer in answers}
        assert fleet.calls() == before  # the new worker let none through


@pytest.mark.parametrize("stack", STACK_IDS)
def test_after_redis_restarts_empty_a_replaced_worker_counts_with_the_others(
    serve: Any, redis_server: RedisServer, stack: str
) -> None:
    """Redis restarted without its data loses the fleet's hash key too; a
    worker started afterwards must hash credentials as the others do, or
    each worker counts one credential under a key of its own and the limit
    is multiplied by the number of keys (6 of a 3/minute limit got through
    before the key was made again at reconnection)."""
    with serve(stack, redis_server, per_client="1000/minute", per_credential="3/minute") as fleet:
        redis_server.kill()
        redis_server.start()
        fleet.wait_subscribed(time.monotonic() + _RECONNECT_BOUND_S)
        fleet.replace_worker(min(fleet.workers))
        before = fleet.calls()
        for n in range(3):
            assert_failure(fleet.send(f"127.0.9.{n + 1}", "stolen"), 401, "credentials_invalid")

        def refused(answer: Answer) -> None:
            assert_too_many(answer, by="credential", limit=3, window=60)

        fleet.from_every_worker("127.0.9.9", "stolen", refused)
        assert fleet.calls() == before + 3
