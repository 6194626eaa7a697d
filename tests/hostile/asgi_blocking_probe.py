"""Run by tests/hostile/test_asgi.py in a fresh process: apps wrapped with
AuthHygiene, built and served inside a running event loop under blockbuster,
which raises on any blocking call made there. Prints one JSON line."""

import asyncio
import json
import time

import httpx
import jwt
import uvicorn
from blockbuster import BlockingError, blockbuster_ctx
from fastapi import Depends, FastAPI, Request
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from authhygiene import CORS, AuthHygiene

KEY = "probe-key-0123456789-0123456789-0123"


def expired() -> str:
    return jwt.encode({"sub": "p", "exp": int(time.time()) - 60}, KEY, algorithm="HS256")


def fastapi_app(options):
    app = FastAPI()

    def user(request: Request) -> str:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        return jwt.decode(token, KEY, algorithms=["HS256"])["sub"]

    @app.get("/ok")
    def ok() -> dict:
        return {"ok": True}

    @app.get("/me")
    def me(sub: str = Depends(user)) -> dict:
        return {"sub": sub}

    app.add_middleware(
        CORSMiddleware, allow_origins=["https://app.example"], allow_credentials=True
    )
    app.add_middleware(AuthHygiene, realm="api", **options)
    return app


def starlette_app(options):
    async def ok(request):
        return PlainTextResponse("ok")

    async def refused(request):
        return PlainTextResponse("Login required", status_code=401)

    return Starlette(
        routes=[Route("/ok", ok), Route("/me", refused)],
        middleware=[Middleware(AuthHygiene, realm="api", **options)],
    )


OPTIONS = [{}, {"metrics": True}, {"cors": CORS(allow_origins=["https://app.example"])}]
REQUESTS = [
    ("GET", "/ok", {}),
    ("GET", "/me", {}),
    ("GET", "/me", {"Authorization": "Bearer EXPIRED", "Origin": "https://app.example"}),
    ("OPTIONS", "/me", {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}),
    ("GET", "/me", {"Authorization": "Bearer EXPIRED"}),
]


async def exchange(client, out, name):
    for method, path, headers in REQUESTS:
        headers = {k: v.replace("EXPIRED", expired()) for k, v in headers.items()}
        reply = await client.request(method, path, headers=headers)
        out.append([name, method, path, reply.status_code])


async def main():
    out = []
    errors = []
    with blockbuster_ctx():
        try:
            for index, options in enumerate(OPTIONS):
                for build in (fastapi_app, starlette_app):
                    # Built inside the running loop, as an app factory may be.
                    app = build(dict(options))
                    name = f"{build.__name__}-{index}"
                    transport = httpx.ASGITransport(app=app)
                    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as c:
                        await exchange(c, out, name + "-transport")
            # A real server in this loop: uvicorn serving a fresh app.
            config = uvicorn.Config(
                fastapi_app({}), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
            )
            server = uvicorn.Server(config)
            task = asyncio.create_task(server.serve())
            for _ in range(500):
                if server.started:
                    break
                await asyncio.sleep(0.01)
            port = server.servers[0].sockets[0].getsockname()[1]
            try:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
                    await exchange(c, out, "uvicorn")
            finally:
                server.should_exit = True
                await asyncio.wait_for(task, 10)
        except BlockingError as exc:
            errors.append(str(exc))
    print(json.dumps({"out": out, "errors": errors}))


asyncio.run(main())
