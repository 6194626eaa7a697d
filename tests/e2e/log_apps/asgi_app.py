"""FastAPI refusing the way its docs teach: HTTPException(401) with a bare
Bearer challenge, from a dependency."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request

from authhygiene import AuthHygiene

from . import VALID_TOKEN

__all__ = ["fastapi_app"]


def _token(request: Request) -> str:
    authorization = request.headers.get("authorization")
    if not authorization:
        raise HTTPException(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})
    if authorization != f"Bearer {VALID_TOKEN}":
        raise HTTPException(
            401, "Invalid authentication credentials", headers={"WWW-Authenticate": "Bearer"}
        )
    return VALID_TOKEN


def fastapi_app(*, metrics_endpoint: bool = False, **options: Any) -> FastAPI:
    """`/private` and `/private/{name}` need a token; `/metrics` serves
    prometheus-client's default registry when asked for. With no options,
    no middleware."""
    app = FastAPI()

    @app.get("/private")
    def private(token: str = Depends(_token)) -> dict[str, bool]:
        return {"ok": True}

    @app.get("/private/{name}")
    def named(name: str, token: str = Depends(_token)) -> dict[str, str]:
        return {"name": name}

    @app.get("/public")
    def public() -> dict[str, bool]:
        return {"ok": True}

    if metrics_endpoint:
        import prometheus_client

        app.mount("/metrics", prometheus_client.make_asgi_app())
    if options:
        app.add_middleware(AuthHygiene, **options)
    return app
