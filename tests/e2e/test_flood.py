"""A bounded burst of thousands of failures through real servers: the log
stays small and every failure is still accounted for.

What must hold whatever the machine's speed: no key writes more than
`per_key` lines per window and the app no more than `total`; once the
windows close, each key's written lines plus the counts of its
`auth.failure.suppressed` summaries equal the requests it sent; and a run
spread over hundreds of addresses gets a bounded number of summary lines,
the quieter keys merged per reason. How many windows a burst spans depends
on how fast it ran, so the bounds are computed from the burst's own
duration (measured by the client, around all its requests); nothing here
asserts how long anything takes.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from authhygiene import LogLimit
from authhygiene.testing import assert_no_secrets

from .. import leaks
from .log_apps import BAD_TOKEN, JsonLines, environ, json_logger, parse_json_lines
from .log_apps.asgi_app import fastapi_app
from .log_apps.wsgi_app import PRESETS
from .servers import GunicornProcess, UvicornThread

ROOT = Path(__file__).resolve().parents[2]
LIMIT = LogLimit(per_key=20, total=200, window_s=2)
assert PRESETS["flood"]["log_limit"] == LIMIT
THREADS = 4
# The gate's timer fires window_s + 0.25 s after a suppression, and again
# while counts wait; a burst's last windows close within two of those.
_SUMMARY_WAIT_S = 2 * (LIMIT.window_s + 0.25) + 3
_SUMMARY_LINES = 20  # a sweep writes at most 19 keys' own lines + 1 per reason

Key = tuple[str, str | None, str | None]
Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Planned:
    path: str
    headers: Headers
    client: str = "127.0.0.1"


@dataclass
class Burst:
    """What the client sent, keyed as the gate keys it, and when."""

    sent: Counter[Key] = field(default_factory=Counter)
    started: float = 0.0
    ended: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def seconds(self) -> float:
        return self.ended - self.started


def burst(port: int, plan: Sequence[Planned]) -> Burst:
    """Send `plan` over THREADS keep-alive connections; key each request by
    the reason the server answered (reason, client, path)."""
    result = Burst()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def run(part: Sequence[Planned]) -> None:
        sent: Counter[Key] = Counter()
        statuses: Counter[int] = Counter()
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                for item in part:
                    reply = client.get(item.path, headers=dict(item.headers))
                    statuses[reply.status_code] += 1
                    sent[(reply.json()["reason"], item.client, item.path)] += 1
        except BaseException as exc:  # reported by the test, not lost in a thread
            errors.append(exc)
        with lock:
            result.sent.update(sent)
            result.statuses.update(statuses)

    threads = [
        threading.Thread(target=run, args=(plan[i::THREADS],), name=f"burst-{i}")
        for i in range(THREADS)
    ]
    result.started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    result.ended = time.time()
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, repr(errors[0])
    return result


def windows(seconds: float, window_s: int) -> int:
    """At most how many windows of at least `window_s` a span of `seconds`
    meets (a window closes no sooner than window_s after it opened)."""
    return int(seconds // window_s) + 1


def key_of(event: dict[str, Any]) -> Key:
    return (event["reason"], event.get("client"), event.get("path"))


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@dataclass
class Logged:
    written: Counter[Key]
    counted: Counter[Key]
    summaries: list[dict[str, Any]]
    # When each key's lines were written.
    times: dict[Key, list[float]]

    @classmethod
    def read(cls, lines: Sequence[str] | str) -> Logged:
        failures = parse_json_lines(lines, "auth.failure")
        summaries = parse_json_lines(lines, "auth.failure.suppressed")
        counted: Counter[Key] = Counter()
        for summary in summaries:
            counted[key_of(summary)] += summary["count"]
        times: dict[Key, list[float]] = {}
        for event in failures:
            times.setdefault(key_of(event), []).append(epoch(event["timestamp"]))
        return cls(Counter(key_of(e) for e in failures), counted, summaries, times)

    def balanced(self, sent: Counter[Key]) -> bool:
        return all(self.written[key] + self.counted[key] == n for key, n in sent.items())


def wait_for_summaries(read: Callable[[], Logged], sent: Counter[Key]) -> Logged:
    """Poll (bounded) until every failure is written or counted."""
    deadline = time.monotonic() + _SUMMARY_WAIT_S
    logged = read()
    while not logged.balanced(sent) and time.monotonic() < deadline:
        time.sleep(0.1)
        logged = read()
    return logged


def join_summary_timers() -> None:
    """The gate's timer thread ends once every count is written; wait for it
    (bounded), so no thread a test started outlives it."""
    for thread in threading.enumerate():
        function = getattr(thread, "function", None)
        if isinstance(thread, threading.Timer) and "_fire" in getattr(function, "__name__", ""):
            thread.join(LIMIT.window_s + 3)


def check_flood(burst_: Burst, logged: Logged, limit: LogLimit) -> None:
    """The bounds and the accounting every flood must satisfy."""
    spans = windows(burst_.seconds, limit.window_s)
    for key, sent in burst_.sent.items():
        assert logged.written[key] <= limit.per_key * spans, key
        assert logged.written[key] + logged.counted[key] == sent, key
        if sent > limit.per_key * spans:
            assert logged.counted[key] > 0, key
    assert sum(logged.written.values()) <= limit.total * spans
    assert set(logged.written) | set(logged.counted) <= set(burst_.sent)
    for summary in logged.summaries:
        assert summary["count"] >= 1
        assert summary["window_s"] == limit.window_s
        assert summary["status"] == 401
        assert summary["level"] == "warning"
        # The window a summary names wrote per_key lines of its key at most.
        # (Both servers here admit and log one request at a time, so a line
        # logged inside the window was admitted inside it.)
        start = epoch(summary["since"])
        inside = [
            t for t in logged.times.get(key_of(summary), []) if start <= t < start + limit.window_s
        ]
        assert len(inside) <= limit.per_key, summary


def two_paths_two_reasons(requests: int) -> list[Planned]:
    kinds = [
        Planned("/private/a", ()),
        Planned("/private/b", ()),
        Planned("/private/a", (("Authorization", f"Bearer {BAD_TOKEN}"),)),
        Planned("/private/b", (("Authorization", f"Bearer {BAD_TOKEN}"),)),
    ]
    return [kinds[i % len(kinds)] for i in range(requests)]


def test_uvicorn_burst() -> None:
    lines = JsonLines()
    app = fastapi_app(realm="api", logger=json_logger(lines), log_limit=LIMIT)
    plan = two_paths_two_reasons(3000)

    with UvicornThread(app) as server:
        sent = burst(server.port, plan)
        logged = wait_for_summaries(lambda: Logged.read(lines.lines()), sent.sent)
        join_summary_timers()

    assert sent.statuses == {401: 3000}
    assert len(sent.sent) == 4
    assert {key[0] for key in sent.sent} == {"credentials_missing", "credentials_invalid"}
    check_flood(sent, logged, LIMIT)
    assert_no_secrets(lines.lines(), leaks.sent())


def test_gunicorn_burst(tmp_path: Path) -> None:
    plan = two_paths_two_reasons(2000)

    with GunicornProcess(
        "tests.e2e.log_apps.wsgi_app:gunicorn_app('flood')",
        pythonpath=ROOT,
        workdir=tmp_path,
        name="flood",
    ) as server:
        sent = burst(server.port, plan)
        logged = wait_for_summaries(lambda: Logged.read(server.output()), sent.sent)
    after_exit = Logged.read(server.output())
    output = server.output()

    assert sent.statuses == {401: 2000}
    check_flood(sent, logged, LIMIT)
    # The worker's exit writes nothing twice: its windows were summarised.
    assert after_exit.written == logged.written
    assert after_exit.counted == logged.counted
    pids = {e["pid"] for e in parse_json_lines(output) if "pid" in e}
    assert len(pids) == 1  # one worker: the limits hold per process
    assert_no_secrets(output, leaks.sent())


def test_distributed_burst_under_gunicorn(tmp_path: Path) -> None:
    """500 addresses behind a trusted proxy: the total caps the lines, and
    the summaries of 500 keys come as a bounded number of lines, the quieter
    keys merged into one line per reason that says how many keys it holds."""
    limit = PRESETS["distributed"]["log_limit"]
    clients = [f"198.18.{i // 250}.{i % 250 + 1}" for i in range(500)]
    plan = [
        Planned(
            "/private/login",
            (("X-Forwarded-For", client),)
            + ((("Authorization", f"Bearer {BAD_TOKEN}"),) if index % 2 else ()),
            client,
        )
        for _ in range(3)
        for index, client in enumerate(clients)
    ]

    with GunicornProcess(
        "tests.e2e.log_apps.wsgi_app:gunicorn_app('distributed')",
        pythonpath=ROOT,
        workdir=tmp_path,
        name="distributed",
    ) as server:
        sent = burst(server.port, plan)
    stopped = time.time()  # the worker's exit wrote the last summaries
    output = server.output()
    logged = Logged.read(output)

    assert sent.statuses == {401: 1500}
    assert len(sent.sent) == 500
    spans = windows(sent.seconds, limit.window_s)
    assert sum(logged.written.values()) <= limit.total * spans
    assert all(n <= limit.per_key * spans for n in logged.written.values())
    reasons = {key[0] for key in sent.sent}
    for reason in reasons:
        requests = sum(n for key, n in sent.sent.items() if key[0] == reason)
        written = sum(n for key, n in logged.written.items() if key[0] == reason)
        counted = sum(s["count"] for s in logged.summaries if s["reason"] == reason)
        assert written + counted == requests, reason
    # Sweeps: a roll-over per window of the burst, a timer per window until
    # the stop, and the exit.
    sweeps = (
        int(sent.seconds // limit.window_s)
        + int((stopped - sent.started) // (limit.window_s + 0.25))
        + 1
    )
    assert len(logged.summaries) <= (_SUMMARY_LINES - 1 + len(reasons)) * sweeps
    merged = [s for s in logged.summaries if "keys" in s]
    assert merged
    assert all("client" not in s and "path" not in s and s["keys"] > 1 for s in merged)
    suppressed_keys = {key for key, n in sent.sent.items() if logged.written[key] < n}
    assert sum(s.get("keys", 1) for s in logged.summaries) >= len(suppressed_keys)
    assert_no_secrets(output, leaks.sent())


def test_django_limit_from_settings(tmp_path: Path) -> None:
    """Django takes the limit as a dict in settings.AUTHHYGIENE."""
    limit = {"per_key": 3, "total": 10, "window_s": 1}
    with (
        environ(
            LOG_APPS_OPTIONS=json.dumps({"log_limit": limit}),
            DJANGO_SETTINGS_MODULE="tests.e2e.log_apps.django_settings",
        ),
        GunicornProcess(
            "tests.e2e.log_apps.django_urls:application()",
            pythonpath=ROOT,
            workdir=tmp_path,
            name="django-flood",
        ) as server,
    ):
        sent = burst(server.port, [Planned("/private/x", ())] * 40)
        logged = wait_for_summaries(lambda: Logged.read(server.output()), sent.sent)
    output = server.output()

    assert sent.sent == {("credentials_missing", "127.0.0.1", "/private/x"): 40}
    check_flood(sent, logged, LogLimit(**limit))
    assert_no_secrets(output, leaks.sent())
