"""A FastAPI app that echoes the request's credential escaped: every octet
percent-encoded in lower case, JSON `\\u` escapes, quoted-pairs, in a header
name, as its challenge's scheme, or in 20-character chunks (found by an
attack through uvicorn)."""

from __future__ import annotations

import base64

from fastapi import FastAPI, HTTPException, Request


def _credential(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        return base64.b64decode(value).decode().partition(":")[2]
    return value


def every_octet(text: str) -> str:
    return "".join(f"%{octet:02x}" for octet in text.encode())


def chunks(text: str) -> str:
    return " ".join(text[i : i + 20] for i in range(0, len(text), 20))


app = FastAPI()


@app.get("/percent")
def percent(request: Request) -> None:
    detail = f"bad token {every_octet(_credential(request))}"
    raise HTTPException(401, detail, {"WWW-Authenticate": "Bearer"})


@app.get("/escaped-headers")
def escaped_headers(request: Request) -> None:
    token = _credential(request)
    raise HTTPException(
        401,
        "Invalid authentication credentials",
        {
            "WWW-Authenticate": "Bearer",
            "X-Debug": "".join(f"\\u{ord(c):04x}" for c in token),
            "X-Debug-2": "".join("\\" + c for c in token),
            "Location": "/login?t=" + every_octet(token),
        },
    )


@app.get("/header-name")
def header_name(request: Request) -> None:
    raise HTTPException(
        401, "nope", {"WWW-Authenticate": "Bearer", "X-" + _credential(request): "1"}
    )


@app.get("/scheme")
def scheme(request: Request) -> None:
    raise HTTPException(
        401, "nope", {"WWW-Authenticate": every_octet(_credential(request)) + ' realm="x"'}
    )


@app.get("/chunks")
def chunked(request: Request) -> None:
    raise HTTPException(401, chunks(_credential(request)), {"WWW-Authenticate": "Bearer"})
