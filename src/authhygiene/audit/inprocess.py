"""The battery sent to an app in this process, for the test helper: an
ASGI app through a minimal ASGI exchange (no server, no lifespan), a WSGI
app through werkzeug's test client. The answers are what a server would
put on the wire, so the one check table judges them the same way."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any
from urllib.parse import unquote, urlsplit

from werkzeug.test import Client

from authhygiene.audit.checks import Answer
from authhygiene.audit.metadata import origin_of
from authhygiene.audit.probes import Probe
from authhygiene.audit.run import MAX_BODY_BYTES, Send, UnreachableError

__all__ = ["is_asgi", "sender_for"]


def is_asgi(app: object) -> bool:
    """An ASGI app is awaited (`async def __call__` or an async function);
    a WSGI app is called."""
    call = app if inspect.isfunction(app) else getattr(app, "__call__", None)  # noqa: B004
    return inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(call)


# How long one in-process exchange may take, in all, by default (an app
# under test answers a refusal in milliseconds).
TIMEOUT_S = 3.0


class _CutError(Exception):
    """The app sent more body than is read: the exchange ends here."""


def sender_for(app: Any, base_url: str = "http://testserver", timeout: float = TIMEOUT_S) -> Send:
    send = _asgi_sender(app, base_url, timeout) if is_asgi(app) else _wsgi_sender(app, base_url)
    origin = origin_of(base_url)

    def same_server(probe: Probe) -> Answer:
        # The app under test answers for its own origin only: a metadata URL
        # on another host is not fetched (a finding), never asked of the app.
        if probe.target.startswith(("http://", "https://")) and origin_of(probe.target) != origin:
            raise UnreachableError("the metadata URL is on another server")
        return send(probe)

    return same_server


def _target(probe: Probe) -> tuple[str, str]:
    parts = urlsplit(probe.target)
    return parts.path or "/", parts.query


def _asgi_sender(app: Any, base_url: str, timeout: float) -> Send:
    base = urlsplit(base_url)
    host = base.netloc or "testserver"
    port = base.port or (443 if base.scheme == "https" else 80)

    async def exchange(probe: Probe) -> Answer:
        path, query = _target(probe)
        headers = [(b"host", host.encode())] + [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in probe.headers
        ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": probe.method,
            "scheme": base.scheme or "http",
            "path": unquote(path),
            "raw_path": path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": (base.hostname or "testserver", port),
            "extensions": {},
        }
        done = asyncio.Event()
        sent = {"request": False}
        start: dict[str, Any] = {}
        body: list[bytes] = []

        async def receive() -> dict[str, Any]:
            if not sent["request"]:
                sent["request"] = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.append(bytes(message.get("body", b""))[:MAX_BODY_BYTES])
                if not message.get("more_body", False):
                    done.set()
                elif sum(map(len, body)) >= MAX_BODY_BYTES:
                    raise _CutError  # an endless stream: what was read is the answer

        try:
            await asyncio.wait_for(app(scope, receive, send), timeout)
        except _CutError:
            pass
        except TimeoutError:
            if "status" not in start:
                raise UnreachableError(f"the app gave no answer within {timeout:g} s") from None
        done.set()
        headers_out = tuple(
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in start.get("headers", ())
        )
        # A server sends no body with a HEAD answer, whatever the app sent.
        data = b"" if probe.method == "HEAD" else b"".join(body)[:MAX_BODY_BYTES]
        return Answer(int(start.get("status", 500)), headers_out, data)

    def send(probe: Probe) -> Answer:
        return asyncio.run(exchange(probe))

    return send


def _wsgi_sender(app: Any, base_url: str) -> Send:
    client = Client(app)

    def send(probe: Probe) -> Answer:
        path, query = _target(probe)
        response = client.open(
            path,
            method=probe.method,
            query_string=query,
            headers=list(probe.headers),
            base_url=base_url,
            buffered=False,
        )
        try:
            chunks: list[bytes] = []
            size = 0
            if probe.method != "HEAD":
                # Read as a server streams it, up to the bound: an app that
                # yields forever is cut, never held whole in memory.
                for chunk in response.iter_encoded():
                    chunks.append(chunk[: MAX_BODY_BYTES - size])
                    size += len(chunk)
                    if size >= MAX_BODY_BYTES:
                        break
            data = b"".join(chunks)
            return Answer(response.status_code, tuple(response.headers.items()), data)
        finally:
            response.close()

    return send
