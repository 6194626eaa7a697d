"""A browser page on one origin calling a FastAPI API on another, with credentials.

    .venv/bin/python examples/browser_app.py        # page on :8001, API on :8000
    .venv/bin/python examples/browser_app.py --api-port 9000 --page-port 9001

Open the page (http://127.0.0.1:8001) and press the buttons: the page's own
script calls the API (http://localhost:8000, another origin) with
`credentials: "include"` and an `Authorization: Bearer` header, and shows
what browser code can read of the answer: the status, the
`WWW-Authenticate` challenge and the problem body's `reason` and `hint`.

The API is ordinary FastAPI (HTTPBearer plus pyjwt); the one authhygiene
line carries the CORS policy: preflights are answered before the app's auth
runs, and every answer to the page's origin, failures included, carries the
exact origin, credentials and the exposed challenge. With Starlette's
CORSMiddleware in its place instead, the expired token's answer is a 500
from Starlette's server-error layer (pyjwt's ExpiredSignatureError escapes
the dependency), which sits outside every middleware and carries no CORS
headers: the page only sees "TypeError: Failed to fetch".
"""

import argparse
import html
import json
import os
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated

import jwt
import uvicorn
from fastapi import Depends, FastAPI
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from authhygiene import CORS, AuthHygiene

# DEMO ONLY: a well-known secret so the page can be handed demo tokens.
SECRET_KEY = os.environ.get("EXAMPLE_JWT_SECRET", "demo-only-secret-not-for-production-use")


def create_app(page_origin: str) -> FastAPI:
    app = FastAPI(title="authhygiene browser example API")
    app.add_middleware(  # authhygiene: the one added line, with the page's origin
        AuthHygiene, realm="example-api", cors=CORS(allow_origins=[page_origin])
    )
    bearer = HTTPBearer()

    def current_user(credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> str:
        claims = jwt.decode(credentials.credentials, SECRET_KEY, algorithms=["HS256"])
        return str(claims["sub"])

    @app.get("/users/me")
    def me(user: Annotated[str, Depends(current_user)]) -> dict[str, str]:
        return {"user": user}

    return app


def demo_token(expires_in: timedelta) -> str:
    claims = {"sub": "alice", "exp": datetime.now(UTC) + expires_in}
    return jwt.encode(claims, SECRET_KEY, algorithm="HS256")


# The page's script: what browser code can read of a cross-origin answer.
SCRIPT = """
async function call(token) {
  const headers = token ? {Authorization: "Bearer " + token} : {};
  const out = document.getElementById("out");
  try {
    const r = await fetch(API + "/users/me", {credentials: "include", headers});
    const body = await r.json();
    out.textContent = JSON.stringify({
      status: r.status,
      wwwAuthenticate: r.headers.get("WWW-Authenticate"),
      reason: body.reason,
      hint: body.hint,
      user: body.user,
    }, null, 2);
  } catch (e) {
    out.textContent = String(e);  // a CORS failure: the page learns nothing else
  }
}
"""


def page_html(api: str, expired: str, valid: str) -> bytes:
    return f"""<!doctype html>
<meta charset="utf-8"><title>authhygiene: a browser app</title>
<h1>Calling {html.escape(api)} from this page</h1>
<button id="expired" onclick="call(EXPIRED)">expired token</button>
<button id="none" onclick="call(null)">no token</button>
<button id="valid" onclick="call(VALID)">valid token</button>
<pre id="out"></pre>
<script>
const API = {json.dumps(api)};
const EXPIRED = {json.dumps(expired)};
const VALID = {json.dumps(valid)};
{SCRIPT}
</script>
""".encode()


def page_server(port: int, body: bytes) -> ThreadingHTTPServer:
    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    return ThreadingHTTPServer(("127.0.0.1", port), Page)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--page-port", type=int, default=8001)
    args = parser.parse_args()
    page_origin = f"http://127.0.0.1:{args.page_port}"
    api = f"http://localhost:{args.api_port}"
    body = page_html(api, demo_token(timedelta(minutes=-5)), demo_token(timedelta(minutes=15)))
    pages = page_server(args.page_port, body)
    threading.Thread(target=pages.serve_forever, daemon=True).start()
    print(f"page: {page_origin}   API: {api} (another origin)   Ctrl-C stops both")
    try:
        uvicorn.run(create_app(page_origin), host="127.0.0.1", port=args.api_port)
    finally:
        pages.shutdown()
        pages.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
