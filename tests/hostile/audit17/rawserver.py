"""A raw TCP server on 127.0.0.1 for hostile answers: every byte is ours."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

Handler = Callable[[socket.socket, bytes, dict], None]

OK_HEADERS = b"Cache-Control: no-store\r\nContent-Type: application/problem+json\r\n"


def read_request(conn: socket.socket) -> bytes:
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def good_answer(request: bytes, extra: bytes = b"", challenge: bytes | None = None) -> bytes:
    """What a correct Bearer server answers each probe (no token is valid)."""
    line = request.split(b"\r\n", 1)[0]
    auth = [h for h in request.split(b"\r\n") if h.lower().startswith(b"authorization:")]
    body = b'{"title":"Unauthorized","status":401}'
    if not auth or not auth[0].split(b":", 1)[1].strip().startswith(b"Bearer"):
        status, ch = b"401 Unauthorized", b'Bearer realm="api"'
        if b"access_token=" in line:
            status, ch = b"400 Bad Request", b'Bearer realm="api", error="invalid_request"'
            body = b'{"title":"Bad Request","status":400}'
    elif (
        len(auth) > 1
        or auth[0].strip().lower() in (b"authorization: bearer",)
        or b'"' in auth[0]
        or auth[0].count(b"Bearer") > 1
    ):
        status, ch = b"400 Bad Request", b'Bearer realm="api", error="invalid_request"'
        body = b'{"title":"Bad Request","status":400}'
    else:
        status, ch = b"401 Unauthorized", b'Bearer realm="api", error="invalid_token"'
    if challenge is not None:
        ch = challenge
    body_out = b"" if line.startswith(b"HEAD") else body
    return (
        b"HTTP/1.1 "
        + status
        + b"\r\n"
        + OK_HEADERS
        + b"WWW-Authenticate: "
        + ch
        + b"\r\n"
        + extra
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + body_out
    )


class RawServer:
    def __init__(
        self, handler: Handler, family: int = socket.AF_INET, host: str = "127.0.0.1"
    ) -> None:
        self.handler = handler
        self.state: dict = {"requests": []}
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RawServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                try:
                    request = read_request(conn)
                    self.state["requests"].append(request)
                    self.handler(conn, request, self.state)
                except OSError:
                    pass
