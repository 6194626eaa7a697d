"""A real JWKS server for the `RemoteKeys` tests, and the keys it serves.

A Starlette app under uvicorn on 127.0.0.1, on a port the OS picks, in a
thread. The test steers it: the JWK Set it serves (`rotate`), the
`Cache-Control` it sends, what it answers instead (an HTTP error, an HTML
page, too many bytes, a redirect, any raw body), holding every answer until
the test releases it (`hold`/`release`: deterministic, no timing), and
going away (`stop`). It counts the requests it received.

The keys are made with `cryptography` when first asked for, never stored.
Every wait is bounded; `stop` releases a held answer before it stops.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["JwksServer", "SigningKey", "signing_keys"]

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0
# A held answer is released after this long even if the test forgets to.
HOLD_TIMEOUT_S = 30.0
_POLL_S = 0.01


@dataclass(frozen=True)
class SigningKey:
    """An issuer's signing key: the private half signs tokens, the public
    JWK is what the JWKS server publishes."""

    kid: str
    alg: str
    private: Any
    jwk: Mapping[str, object]

    def sign(self, claims: Mapping[str, object]) -> str:
        return jwt.encode(dict(claims), self.private, algorithm=self.alg, headers={"kid": self.kid})


@functools.cache
def signing_keys() -> dict[str, SigningKey]:
    """Two RSA 2048 keys and one EC P-256 key, made once per test run."""
    made: dict[str, SigningKey] = {}
    for kid in ("rsa-1", "rsa-2"):
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
        made[kid] = SigningKey(kid, "RS256", private, {**jwk, "kid": kid, "use": "sig"})
    ec_private = ec.generate_private_key(ec.SECP256R1())
    ec_jwk = ECAlgorithm.to_jwk(ec_private.public_key(), as_dict=True)
    made["ec-1"] = SigningKey("ec-1", "ES256", ec_private, {**ec_jwk, "kid": "ec-1", "use": "sig"})
    return made


class JwksServer:
    """The issuer's JWKS endpoint, steered by the test (see the module)."""

    def __init__(self) -> None:
        self.jwks: Mapping[str, object] = {"keys": []}
        self.cache_control: str | None = "max-age=300"
        self.headers: dict[str, str] = {}
        # What answers instead of the JWK Set (None: the set).
        self.answer: Callable[[Request], Response | None] | None = None
        self.requests = 0
        self.last_headers: dict[str, str] = {}
        self._arrived = threading.Condition()
        self._gate = threading.Event()
        self._gate.set()
        config = uvicorn.Config(
            Starlette(routes=[Route("/{path:path}", self._endpoint)]),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="jwks-server", daemon=True)
        self.port = 0

    # --- steering -------------------------------------------------------------

    def url(self, path: str = "/.well-known/jwks.json") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def rotate(self, *keys: SigningKey, extra: tuple[Mapping[str, object], ...] = ()) -> None:
        """Serve these keys (and these raw JWKs), and no others."""
        self.jwks = {"keys": [dict(key.jwk) for key in keys] + [dict(jwk) for jwk in extra]}

    def fail(self, status: int) -> None:
        self.answer = lambda _: Response("upstream trouble", status_code=status)

    def html(self) -> None:
        self.answer = lambda _: Response(
            "<!doctype html><title>Sign in</title><p>Please sign in</p>", media_type="text/html"
        )

    def raw(self, body: bytes, media_type: str = "application/json") -> None:
        self.answer = lambda _: Response(body, media_type=media_type)

    def oversize(self, size: int) -> None:
        """A valid JWK Set padded past `size` bytes."""
        padding = "x" * size
        self.answer = lambda _: JSONResponse({**self.jwks, "padding": padding})

    def redirect(self, path: str, location: str) -> None:
        """Requests for `path` are sent to `location`; others get the set."""

        def answer(request: Request) -> Response | None:
            if request.url.path == path:
                return RedirectResponse(location, status_code=302)
            return None

        self.answer = answer

    def drip(self, every: float, count: int = 100) -> None:
        """Answer a byte at a time, `every` seconds apart (real time: what
        the fetch's overall deadline is for)."""

        async def body() -> AsyncIterator[bytes]:
            for _ in range(count):
                yield b" "
                await asyncio.sleep(every)

        self.answer = lambda _: StreamingResponse(body(), media_type="application/json")

    def heal(self) -> None:
        self.answer = None

    def hold(self) -> None:
        """Keep every answer waiting until `release`."""
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> None:
        with self._arrived:
            if not self._arrived.wait_for(lambda: self.requests >= count, timeout):
                raise AssertionError(f"the JWKS server saw {self.requests} requests, not {count}")

    # --- the app ---------------------------------------------------------------

    def _endpoint(self, request: Request) -> Response:
        # A sync endpoint: Starlette runs it in its thread pool, so a held
        # answer blocks neither the loop nor the counting of other requests.
        with self._arrived:
            self.requests += 1
            self.last_headers = dict(request.headers)
            self._arrived.notify_all()
        self._gate.wait(HOLD_TIMEOUT_S)
        answer = self.answer
        response = answer(request) if answer is not None else None
        if response is None:
            response = JSONResponse(self.jwks)
        if self.cache_control is not None:
            response.headers["Cache-Control"] = self.cache_control
        response.headers.update(self.headers)
        return response

    # --- life -------------------------------------------------------------------

    def start(self) -> JwksServer:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the JWKS server did not start")
            time.sleep(_POLL_S)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Go away: held answers are released, the port is closed."""
        self.release()
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT_S)
        if self._thread.is_alive():
            raise RuntimeError("the JWKS server did not stop")
