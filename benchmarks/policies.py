"""The one CORS policy every CORS variant applies, authhygiene's or Starlette's.

Exact allowed origin(s), credentials, the same methods, requested headers
reflected, one exposed header of the app's, the same max-age: so that the
two layers do the same work and their costs can be compared.
"""

from __future__ import annotations

from typing import Any

from starlette.middleware.cors import CORSMiddleware

from authhygiene import CORS
from benchmarks.asgi_kit import ASGIApp
from benchmarks.workload import ORIGIN

__all__ = ["EXPOSED", "METHODS", "allowed_origins", "cors", "starlette_cors"]

METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
EXPOSED = ("X-Request-Id",)
MAX_AGE = 600


def allowed_origins(count: int) -> list[str]:
    """`count` exact origins, the request's last: a scan would pay for all of them."""
    others = [f"https://tenant-{i:04d}.example.org" for i in range(count - 1)]
    return [*others, ORIGIN]


def cors(origins: int = 1) -> CORS:
    """authhygiene as the app's CORS layer (``cors=``)."""
    return CORS(
        allow_origins=allowed_origins(origins),
        allow_credentials=True,
        allow_methods=METHODS,
        allow_headers=("*",),
        expose_headers=EXPOSED,
        max_age=MAX_AGE,
    )


def starlette_cors(app: ASGIApp) -> Any:
    """Starlette's `CORSMiddleware` with the same policy."""
    return CORSMiddleware(
        app,
        allow_origins=[ORIGIN],
        allow_credentials=True,
        allow_methods=list(METHODS),
        allow_headers=["*"],
        expose_headers=list(EXPOSED),
        max_age=MAX_AGE,
    )
