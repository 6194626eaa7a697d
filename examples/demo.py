"""See authhygiene at work on the FastAPI example, in a few seconds.

From the project root (`make demo` creates .venv; no need to activate it):

    .venv/bin/python examples/demo.py            # `make demo`: send requests, show the answers
    .venv/bin/python examples/demo.py --log my.jsonl      # ... and keep the JSON log there
    .venv/bin/python examples/demo.py --serve    # `make serve`: keep the API up on 127.0.0.1:8000
    .venv/bin/python examples/demo.py --serve --port 9000
    .venv/bin/python examples/demo.py --token "me items" [--expired]   # a demo token for curl

The demo starts examples/fastapi_app.py under uvicorn on 127.0.0.1 (a free
port, in this process), configures structlog the way a production service
would (JSON lines with an ISO timestamp), sends requests that fail in the
ways real clients fail, and prints for each one what was sent, what came
back, and the `auth.failure` log line the middleware wrote. Tokens are
shown as placeholders such as ``Bearer <expired demo JWT>``: even demo
credentials have no business in a terminal transcript. The JSON log goes
to a new directory under the system's temporary directory on every run
(or to ``--log PATH``), for `authhygiene logs` to read again; the demo
prints where.

Every command the demo prints for the reader works as printed from the
project root of a fresh clone after `make demo`, without activating the
virtualenv (hence ``.venv/bin/...``).
"""

import argparse
import contextlib
import copy
import http.client
import io
import json
import os
import shlex
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import structlog
import uvicorn
from fastapi_app import app, create_access_token

from authhygiene import AuthHygiene
from authhygiene.core.flood import LogLimit
from authhygiene.logging import flush_suppressed, redact

REALM_LINE = 'app.add_middleware(AuthHygiene, realm="example-api")'
# Response headers worth a look on an auth failure, in the order shown.
SHOWN_HEADERS = (
    "WWW-Authenticate",
    "Content-Type",
    "Cache-Control",
    "Pragma",
    "Vary",
    "X-Request-ID",
)
WIDTH = 78
# The example runs with the default log limit (at most `per_key` identical
# auth.failure lines per `window_s`); the retries below pass it.
LOG_LIMIT = LogLimit()
# A client stuck retrying an expired token: enough to pass the limit.
RETRIES = 60
# The commands the reader can run, as they work from the project root of a
# fresh clone after `make demo` (the venv need not be activated).
VENV_BIN = ".venv/bin"
SERVE = f"make serve   (or: {VENV_BIN}/python examples/demo.py --serve)"
AUDIT_YOURSELF = (
    f"{VENV_BIN}/authhygiene audit http://127.0.0.1:8000/users/me"
    f' --token "$({VENV_BIN}/python examples/demo.py --token me)"'
)


@dataclass(frozen=True)
class Case:
    title: str
    path: str
    authorization: str | None  # what is sent
    shown: str  # what is printed instead of the credential
    without: str  # what the app answers on its own, without the middleware


def _cases() -> list[Case]:
    scoped = create_access_token("alice", ["me"])
    full = create_access_token("alice", ["me", "items"])
    expired = create_access_token("alice", ["me", "items"], timedelta(minutes=-5))
    return [
        Case(
            "No credentials at all",
            "/users/me",
            None,
            "(no Authorization header)",
            "HTTPBearer answers 401 'Not authenticated' with a bare"
            " 'WWW-Authenticate: Bearer' (no realm).",
        ),
        Case(
            "Basic credentials sent to a Bearer API",
            "/users/me",
            "Basic ZGVtbzpkZW1v",
            "Authorization: Basic <demo:demo, base64>",
            "The same 401 'Not authenticated': nothing tells the client the scheme is wrong.",
        ),
        Case(
            "An empty 'Bearer ' header",
            "/users/me",
            "Bearer ",
            "Authorization: Bearer <nothing after it>",
            "401 'Not authenticated'; RFC 6750 §3.1 calls this a malformed request (400).",
        ),
        Case(
            "A valid token without the route's scope",
            "/users/me/items",
            f"Bearer {scoped}",
            'Authorization: Bearer <valid demo JWT, scope "me">',
            "The OAuth2-scopes tutorial answers 401 'Not enough permissions';"
            " RFC 6750 says 403 insufficient_scope.",
        ),
        Case(
            "An expired token",
            "/users/me",
            f"Bearer {expired}",
            "Authorization: Bearer <expired demo JWT>",
            "401 'Could not validate credentials': expired? forged? the client has to guess.",
        ),
        Case(
            "A token that is not a JWT at all",
            "/users/me",
            "Bearer not-a-jwt",
            "Authorization: Bearer <garbage, not a JWT>",
            "401 'Could not validate credentials'.",
        ),
        Case(
            "An admin route that answers 403 to anonymous requests",
            "/admin",
            None,
            "(no Authorization header)",
            "403 'Not authenticated': a 403 tells clients not to retry, and carries no challenge.",
        ),
        Case(
            "Success: a valid token with the scope",
            "/users/me/items",
            f"Bearer {full}",
            'Authorization: Bearer <valid demo JWT, scope "me items">',
            "200 with the items; authhygiene leaves this answer byte for byte as it was.",
        ),
    ]


def configure_logging(stream: io.TextIOBase | io.StringIO) -> None:
    """structlog as a production service would set it up: one JSON object a
    line, with authhygiene's `redact` last before the renderer so that no
    log line of the app's own can carry a credential either."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.WriteLoggerFactory(file=stream),
    )


class _Tee(io.StringIO):
    """The log as the demo shows it, and as a file `authhygiene logs` reads."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def write(self, text: str) -> int:
        self.file.write(text)
        self.file.flush()
        return super().write(text)

    def close(self) -> None:
        self.file.close()
        super().close()


def _send(
    port: int, path: str, authorization: str | None
) -> tuple[http.client.HTTPResponse, bytes]:
    headers = {"Authorization": authorization} if authorization else {}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response, response.read()
    finally:
        connection.close()


class ThreadedServer:
    """The example under uvicorn, in a thread, on a free port of 127.0.0.1."""

    def __init__(self, served: object = app) -> None:
        config = uvicorn.Config(
            served, host="127.0.0.1", port=0, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> int:
        self.thread.start()
        for _ in range(1000):  # at most ~10 s
            if self.server.started or not self.thread.is_alive():
                break
            time.sleep(0.01)
        if not self.server.started:
            raise SystemExit("demo: uvicorn did not start")
        port: int = self.server.servers[0].sockets[0].getsockname()[1]
        return port

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _heading(text: str, char: str = "─") -> str:
    return f"{char * 3} {text} ".ljust(WIDTH, char)


def _body_text(content_type: str, body: bytes) -> str:
    if "json" in content_type:
        try:
            return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    return body.decode("utf-8", "replace")


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def log_path_refused(path: str) -> str | None:
    """Why `--log PATH` cannot be the demo's log, or None: a directory, a
    directory that does not exist, something that is no regular file (a
    FIFO would hang the demo), or a file with anything in it (the demo
    writes its log anew and never truncates a file, not even its own)."""
    target = Path(path)
    if target.is_dir():
        return f"--log {path}: that is a directory; give the path of a file in it"
    if not target.parent.is_dir():
        return f"--log {path}: the directory {target.parent} does not exist"
    if target.exists() and not target.is_file():
        return f"--log {path}: that is no regular file; give the path of a new file"
    if target.exists() and target.stat().st_size:
        return f"--log {path}: that file exists and is not empty; give a new path or delete it"
    return None


def default_log_path() -> str:
    """A file in a new directory under the system's temporary directory:
    every run (and every test) has a log of its own."""
    return os.path.join(tempfile.mkdtemp(prefix="authhygiene-demo-"), "auth.jsonl")


def _show_case(port: int, number: int, total: int, case: Case) -> int:
    """Send one case and print the exchange; return the status."""
    print()
    print(_heading(f"{number}/{total}  {case.title}"))
    print()
    print(
        textwrap.fill(
            f"The app on its own: {case.without}",
            WIDTH,
            initial_indent="  ",
            subsequent_indent="  ",
        )
    )
    print()
    print(f"  > GET {case.path} HTTP/1.1")
    print(f"  > {case.shown}")
    response, body = _send(port, case.path, case.authorization)
    print()
    print(f"  < HTTP/1.1 {response.status} {response.reason}")
    for name in SHOWN_HEADERS:
        for value in response.headers.get_all(name) or ():
            print(f"  < {name}: {value}")
    print()
    print(_indent(_body_text(response.headers.get("Content-Type", ""), body)))
    return response.status


def _show_logged(new: str) -> None:
    print()
    if new.strip():
        print("  Logged by the middleware (structlog, JSON):")
        for line in new.splitlines():
            print(f"    {line}")
    else:
        print("  Logged by the middleware: nothing (success passes through untouched).")


def _events(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _flood_key(event: dict[str, object]) -> tuple[object, ...]:
    """What makes two auth.failure events identical for the log's limit."""
    return (event.get("event"), event.get("reason"), event.get("client"), event.get("path"))


def _wrapped(text: str) -> None:
    print(textwrap.fill(text, WIDTH, initial_indent="  ", subsequent_indent="  "))


def _show_retries(port: int, logs: _Tee, expired: Case, where: str) -> None:
    """The retried expired token, and the count of its log lines, so that
    the numbers printed add up: written here + written earlier = the limit,
    written here + counted = the retries."""
    _wrapped(
        f"The same expired token, {RETRIES} times in a row, as a stuck mobile client"
        f" sends it. The log writes at most {LOG_LIMIT.per_key} identical auth.failure"
        " lines (same reason, client and path) a minute and counts the rest into one"
        " auth.failure.suppressed line, written when the minute ends (here, on shutdown)."
    )
    before = len(logs.getvalue())
    statuses = {_send(port, "/users/me", expired.authorization)[0].status for _ in range(RETRIES)}
    new = [e for e in _events(logs.getvalue()[before:]) if e.get("event") == "auth.failure"]
    written = len(new)
    earlier = 0
    if new:
        key = _flood_key(new[0])
        earlier = sum(1 for e in _events(logs.getvalue()[:before]) if _flood_key(e) == key)
    print()
    print(f"  Answered {RETRIES} times with {', '.join(map(str, sorted(statuses)))}.")
    if earlier:
        _wrapped(
            f"auth.failure lines written here: {written}. With the {earlier} written in"
            f" {where} above (the same expired token on the same path), that makes the"
            f" {earlier + written} a minute the log writes."
        )
    else:
        _wrapped(f"auth.failure lines written here: {written}.")


def _show_suppressed(text: str) -> None:
    for line in text.splitlines():
        event = json.loads(line) if line.startswith("{") else {}
        if event.get("event") == "auth.failure.suppressed":
            _wrapped(
                f"The other {event.get('count')} were not written one by one: this line,"
                " written when the window closed, counts them."
            )
            print(f"    {line}")


def _show_summary(log_path: str, failed: int) -> int:
    """`authhygiene logs` on the demo's log, as the reader can run it again."""
    print()
    print(_heading("authhygiene logs: the summary an operator reads", "═"))
    print()
    _wrapped(
        f"The demo answered {failed + RETRIES} auth failures: {failed} in the cases above"
        f" and {RETRIES} retries. The summary of its log (read it again any time with the"
        " command below; the file stays until you delete it):"
    )
    print()
    print(f"  $ {VENV_BIN}/authhygiene logs {shlex.quote(log_path)}")
    print()
    summary = subprocess.run(
        [sys.executable, "-m", "authhygiene", "logs", log_path],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    print(_indent(summary.stdout.rstrip()))
    if summary.returncode not in (0, 1):
        print(summary.stderr, file=sys.stderr)
        return summary.returncode
    return 0


def run_demo(log_path: str) -> int:
    logs = _Tee(log_path)
    configure_logging(logs)
    cases = _cases()
    total = len(cases) + 1
    print(_heading("authhygiene demo", "═"))
    print()
    print("The FastAPI example (examples/fastapi_app.py) protects its routes the way")
    print("FastAPI's security tutorials teach: HTTPBearer, a get_current_user dependency")
    print("decoding a JWT, SecurityScopes. authhygiene is the one added line:")
    print()
    print(f"    {REALM_LINE}")
    print()
    failed = 0
    with ThreadedServer() as port:
        print(f"It is running under uvicorn at http://127.0.0.1:{port}; its JSON log goes to")
        print(f"{log_path}. Requests and answers:")
        for number, case in enumerate(cases, 1):
            before = len(logs.getvalue())
            failed += _show_case(port, number, total, case) >= 400
            _show_logged(logs.getvalue()[before:])
        print()
        print(_heading(f"{total}/{total}  A client retrying an expired token"))
        print()
        expired = next(i for i, c in enumerate(cases, 1) if c.title == "An expired token")
        _show_retries(port, logs, cases[expired - 1], f"{expired}/{total}")
        before = len(logs.getvalue())
    flush_suppressed()
    _show_suppressed(logs.getvalue()[before:])
    logs.close()
    summarised = _show_summary(log_path, failed)
    if summarised:
        return summarised
    audited = run_audits()
    if audited:
        return audited
    print()
    print(_heading("done", "═"))
    print()
    print("Every failure above got a correct status, a WWW-Authenticate challenge with a")
    print("quoted realm (RFC 6750 error codes only when a token was sent), a problem+json")
    print("body saying what was wrong and what to do, Cache-Control: no-store, and one")
    print("auth.failure log event with a fingerprint instead of the token.")
    print()
    print(f"Try it yourself:  {SERVE}")
    return 0


def _without_the_line() -> object:
    """The example as it was before the one added line: the same app, its
    middleware list without AuthHygiene (built afresh at its first call)."""
    bare = copy.copy(app)
    bare.user_middleware = [m for m in app.user_middleware if m.cls is not AuthHygiene]
    bare.middleware_stack = None
    return bare


def run_audits() -> int:
    """`authhygiene audit` of the example, without and with the one line."""
    print()
    print(_heading("authhygiene audit: before and after the one line", "═"))
    print()
    print("  The demo audits the example on free ports, without the line and with it:")
    token = create_access_token("alice", ["me"])
    for title, served in (("without the line", _without_the_line()), ("with it", app)):
        with ThreadedServer(served) as port:
            url = f"http://127.0.0.1:{port}/users/me"
            print()
            print(f"  $ {VENV_BIN}/authhygiene audit {url} --token <demo JWT>     ({title})")
            done = subprocess.run(
                [sys.executable, "-m", "authhygiene", "audit", url, "--token", token, "--json"],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        if done.returncode not in (0, 1):
            print(done.stderr, file=sys.stderr)
            return done.returncode
        report = json.loads(done.stdout)
        failed = sorted(
            {f["check"] for f in report["findings"] if f["required"] and not f["passed"]}
        )
        verdict = (
            "every required check passed" if report["passed"] else "failed: " + ", ".join(failed)
        )
        print(f"  exit {done.returncode}: {verdict}")
    print()
    print("  Those servers stopped with the demo. To audit the example yourself, run")
    print("  `make serve` in one terminal, then in another (from the project root):")
    print()
    print(f"    {AUDIT_YOURSELF}")
    return 0


def run_server(port: int) -> int:
    configure_logging(sys.stdout)  # type: ignore[arg-type]
    base = f"http://127.0.0.1:{port}"
    token = create_access_token("alice", ["me"])
    full = create_access_token("alice", ["me", "items"])
    expired = create_access_token("alice", ["me", "items"], timedelta(minutes=-5))
    print(_heading("authhygiene demo: the FastAPI example", "═"))
    print()
    print(f"Serving examples/fastapi_app.py at {base} until Ctrl-C.")
    print("The auth.failure log lines appear below as requests come in.")
    print()
    print("Demo tokens (signed with the examples' demo-only secret, valid 15 minutes):")
    print()
    print("    # scope: me")
    print(f"    export TOKEN={token}")
    print("    # scope: me items")
    print(f"    export FULL={full}")
    print("    # expired five minutes ago")
    print(f"    export EXPIRED={expired}")
    print()
    print("Then, in another terminal:")
    print()
    for command in (
        f"curl -i {base}/users/me",
        f"curl -i -H 'Authorization: Basic ZGVtbzpkZW1v' {base}/users/me",
        f"curl -i -H 'Authorization: Bearer' {base}/users/me",
        f"curl -i -H 'Authorization: Bearer not-a-jwt' {base}/users/me",
        f'curl -i -H "Authorization: Bearer $EXPIRED" {base}/users/me',
        f'curl -i -H "Authorization: Bearer $TOKEN" {base}/users/me/items',
        f'curl -i -H "Authorization: Bearer $TOKEN" {base}/billing',
        f"curl -i {base}/admin",
        f'curl -i -H "Authorization: Bearer $FULL" {base}/users/me/items',
    ):
        print(f"    {command}")
    print()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info", access_log=False)
    # uvicorn shuts down cleanly on Ctrl-C, then re-raises the signal it caught.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run()
    print("Stopped.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--serve", action="store_true", help="keep the example API running")
    parser.add_argument("--port", type=int, default=8000, help="port for --serve (8000)")
    parser.add_argument("--token", metavar="SCOPES", help="print a demo token with these scopes")
    parser.add_argument("--expired", action="store_true", help="with --token: already expired")
    parser.add_argument(
        "--log",
        metavar="PATH",
        help="where the demo writes its JSON log (default: a new directory in the temp dir)",
    )
    args = parser.parse_args(argv)
    if args.token is not None:
        lifetime = timedelta(minutes=-5) if args.expired else timedelta(minutes=15)
        print(create_access_token("alice", args.token.split(), lifetime))
        return 0
    if args.serve:
        return run_server(args.port)
    if args.log is not None and (refused := log_path_refused(args.log)) is not None:
        print(f"demo.py: {refused}", file=sys.stderr)
        return 2
    return run_demo(args.log or default_log_path())


if __name__ == "__main__":
    sys.exit(main())
