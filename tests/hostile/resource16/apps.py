"""Apps written as users write them, for the attack on issue 16."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, HTTPException, WebSocket, WebSocketException
from fastapi.security import HTTPBearer
from flask import Flask

AS = "https://auth.example"
WELL_KNOWN = "/.well-known/oauth-protected-resource"
GOOD = "the-one-good-token"


def fastapi_app() -> Any:
    """An API with an MCP-ish endpoint behind a Bearer check, and the
    ordinary web routes every such app also has."""
    app = FastAPI()

    @app.api_route("/mcp", methods=["GET", "POST"])
    def mcp(credentials: Any = Depends(HTTPBearer())) -> dict[str, bool]:  # noqa: B008
        if credentials.credentials != GOOD:
            raise HTTPException(401, "bad token", headers={"WWW-Authenticate": "Bearer"})
        return {"ok": True}

    @app.get("/verify-email")
    def verify_email(token: str) -> dict[str, str]:  # the link in a sign-up mail
        return {"verified": "yes"}

    @app.post("/login")
    def login() -> dict[str, str]:  # the app's own login form posts here
        return {"logged_in": "yes"}

    @app.websocket("/chat")
    async def chat(websocket: WebSocket, room: str) -> None:
        await websocket.accept()
        await websocket.send_text(room)
        await websocket.close()

    @app.websocket("/full")
    async def full(websocket: WebSocket) -> None:
        raise WebSocketException(code=4429, reason="room full")

    return app


def flask_app() -> Any:
    app = Flask(__name__)

    @app.get("/mcp")
    def mcp() -> Any:
        return {"error": "unauthorized"}, 401, {"WWW-Authenticate": "Bearer"}

    return app
