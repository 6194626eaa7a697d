"""Apps for the second attack on issue 16: an MCP-ish endpoint that, as
many do, also reads a token from the query string."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse

AS = "https://auth.example"
GOOD = "the-one-good-token-0123456789"


def query_reading_app(calls: list[str]) -> Any:
    app = FastAPI()

    @app.api_route("/mcp", methods=["GET", "POST"])
    def mcp(request: Request) -> Any:
        token = request.query_params.get("access_token") or request.headers.get(
            "authorization", ""
        ).removeprefix("Bearer ")
        calls.append("ran")
        if token != GOOD:
            return JSONResponse({"ok": False}, 401, headers={"WWW-Authenticate": "Bearer"})
        return {"ok": True}

    @app.websocket("/mcp/ws")
    async def ws(websocket: WebSocket) -> None:
        calls.append("ws-ran")
        token = websocket.query_params.get("access_token")
        if token != GOOD:
            await websocket.close(code=1008)
            return
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    return app
