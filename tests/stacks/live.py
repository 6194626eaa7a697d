"""The stacks behind real servers, and one function that runs a case.

Every stack runs three times: `bare` (as its docs teach, no middleware: the
"before" column), `wrapped` (plus the one line) and `verified` (the one line
with `verify=` and `require=`, verified.py). ASGI stacks run under
uvicorn in a thread, Flask stacks under werkzeug's threaded server, DRF under
gunicorn in its own process (Django is configured differently in the pytest
process by tests/django). Servers start on first use and stop when the
`LiveStacks` context ends; in-process wrapped and verified variants log into a
`structlog.testing.LogCapture`, gunicorn's worker prints to a file.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from structlog.testing import LogCapture

from authhygiene import AuthHygiene, AuthHygieneWSGI
from tests.e2e.servers import GunicornProcess, Reply, UvicornThread, WerkzeugThread, fetch

from . import asgi_apps, flask_apps
from .cases import Case
from .tokens import minted, secrets_of
from .verified import verified_options

__all__ = ["Exchange", "LiveStacks", "run"]

VARIANTS = ("bare", "wrapped", "verified")
_EVENT_RE = re.compile(r"\b(auth\.[a-z_]+)\b")
_ROOT = Path(__file__).resolve().parents[2]  # what makes `tests.stacks` importable


def _options(stack: str, variant: str, logs: LogCapture) -> dict[str, Any]:
    options: dict[str, Any] = {
        "realm": "api",
        "logger": structlog.wrap_logger(None, processors=[logs]),
    }
    if stack == "starlette":
        # The docs' backend is a Basic API; the middleware is told so.
        options["schemes"] = ("Basic",)
    if variant == "verified":
        options.update(verified_options(stack))
    return options


@dataclass
class _Server:
    port: int
    logs: LogCapture | None = None
    process: GunicornProcess | None = None

    def log_text(self) -> str:
        parts = []
        if self.logs is not None:
            parts.append(repr(self.logs.entries))
        if self.process is not None:
            parts.append(self.process.output())
        return "\n".join(parts)

    def events(self) -> list[dict[str, Any]]:
        if self.logs is not None:
            return list(self.logs.entries)
        if self.process is None:
            return []
        # structlog's default console renderer: "<time> [warning  ] auth.failure  k=v ...",
        # perhaps with colour codes around the words.
        return [
            {"event": match.group(1)}
            for line in self.process.output().splitlines()
            if (match := _EVENT_RE.search(line))
        ]

    def clear(self) -> None:
        if self.logs is not None:
            self.logs.entries.clear()


class LiveStacks:
    """Starts each (stack, variant) on first use; stops all on exit."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._exits = contextlib.ExitStack()
        self._servers: dict[tuple[str, str], _Server] = {}

    def __enter__(self) -> LiveStacks:
        return self

    def __exit__(self, *exc: object) -> None:
        self._exits.close()

    def server(self, stack: str, variant: str) -> _Server:
        key = (stack, variant)
        if key not in self._servers:
            self._servers[key] = self._start(stack, variant)
        return self._servers[key]

    def _start(self, stack: str, variant: str) -> _Server:
        if stack == "drf":
            process = self._exits.enter_context(
                GunicornProcess(
                    f"tests.stacks.drf_wsgi:application({variant!r})",
                    pythonpath=_ROOT,
                    workdir=self._workdir,
                    name=f"drf-{variant}",
                )
            )
            return _Server(process.port, process=process)
        logs = None if variant == "bare" else LogCapture()
        app: Any
        asgi_factory = {
            "fastapi": asgi_apps.fastapi_app,
            "fastapi-outside": asgi_apps.fastapi_app,
            "starlette": asgi_apps.starlette_app,
            "starlette-jwt": asgi_apps.starlette_jwt_app,
        }.get(stack)
        if asgi_factory is not None:
            app = asgi_factory()
            if logs is not None:
                if stack == "fastapi-outside":
                    # "any ASGI app": outside FastAPI's ServerErrorMiddleware,
                    # which starts a 500 before the exception reaches us.
                    app = AuthHygiene(app, **_options(stack, variant, logs))
                else:
                    app.add_middleware(AuthHygiene, **_options(stack, variant, logs))
            server: Any = self._exits.enter_context(UvicornThread(app, lifespan="on"))
            return _Server(server.port, logs)
        factory = {
            "flask-jwt-extended": flask_apps.jwt_extended_app,
            "flask-httpauth": flask_apps.httpauth_app,
            "werkzeug": flask_apps.werkzeug_app,
        }[stack]
        app = factory()
        if logs is not None:
            app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, **_options(stack, variant, logs))
        server = self._exits.enter_context(WerkzeugThread(app))
        return _Server(server.port, logs)


@dataclass
class Exchange:
    """One case sent to one variant: the reply, what was logged while it was
    answered, and every credential that must not come back."""

    case: Case
    variant: str
    reply: Reply
    events: list[dict[str, Any]]
    log_text: str
    secrets: list[str]


def run(live: LiveStacks, case: Case, variant: str) -> Exchange:
    server = live.server(case.stack, variant)
    values = minted()
    path = case.path.format_map(values)
    headers = tuple((name, value.format_map(values)) for name, value in case.headers)
    server.clear()
    before = len(server.events())
    reply = fetch(server.port, path, method=case.method, headers=headers)
    return Exchange(
        case, variant, reply, server.events()[before:], server.log_text(), secrets_of(values)
    )


# --- what the table shows ---------------------------------------------------------

_SAYS_CHARS = 48


def _said(reply: Reply) -> str:
    """The stack's own words, short: JSON message, plain text, or "HTML page"."""
    content_type = (reply.get("content-type") or "").lower()
    text = reply.body.decode("utf-8", "replace").strip()
    if "html" in content_type and "<" in text:
        return "HTML page"
    if "json" in content_type:
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            for key in ("detail", "msg", "message", "error"):
                value = data.get(key)
                if isinstance(value, str):
                    text = value
                    break
                if isinstance(value, list) and value and isinstance(value[0], dict):
                    text = str(value[0].get("msg", text))
                    break
        elif isinstance(data, dict | list):
            text = json.dumps(data)
    text = " ".join(text.split())
    return text if len(text) <= _SAYS_CHARS else text[: _SAYS_CHARS - 1] + "…"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def before_cell(reply: Reply) -> str:
    parts = [str(reply.status)]
    challenge = reply.get("www-authenticate")
    if challenge:
        parts.append(f"`{challenge}`")
    said = _said(reply)
    if said:
        parts.append(f'"{said}"')
    return _cell(" · ".join(parts))


def now_cell(reply: Reply, bare: Reply) -> str:
    if reply.status >= 500:
        return f"{reply.status} · server error"
    content_type = reply.get("content-type") or ""
    if not content_type.startswith("application/problem+json"):
        same = reply.status == bare.status and reply.body == bare.body
        return f"{reply.status} · unchanged" if same else f"{reply.status} · changed"
    problem = reply.json()
    parts = [str(reply.status), f"`{problem.get('reason')}`"]
    if problem.get("error"):
        parts.append(f"`{problem['error']}`")
    return _cell(" · ".join(parts))


def verified_cell(reply: Reply, bare: Reply) -> str:
    """`now_cell`, and what the keys added that the reason alone does not
    say: the `problem` (`not_a_jwt`, `valid_token_refused`) or the scope."""
    cell = now_cell(reply, bare)
    if not (reply.get("content-type") or "").startswith("application/problem+json"):
        return cell
    problem = reply.json()
    if isinstance(problem.get("problem"), str):
        cell += _cell(f" · {problem['problem']}")
    if isinstance(problem.get("required_scope"), str):
        cell += _cell(f" · scope={problem['required_scope']}")
    return cell
