"""Plain Django views that answer the way Django apps commonly do.

The auth views check a bearer token by hand and refuse with
`HttpResponse(status=401)` / `JsonResponse(..., status=401)`, without a
WWW-Authenticate challenge and with the caching headers an app sets
everywhere: the middleware has to repair exactly these answers.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator, Iterator

import jwt
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseNotFound,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)

from authhygiene import AuthFailure, Reason

# Not UTF-8, with a NUL: a pass-through must keep bytes, not text.
OK_BODY = b"plain bytes \x00\xff\xfe end"
STREAM_CHUNKS = (b"first chunk\n", b"second chunk\n", b"third chunk\n")
NO_CREDENTIALS = "Authentication credentials were not provided."
INVALID_TOKEN = "Invalid token."
FORBIDDEN = "You do not have permission to perform this action."

# Every chunk the streaming views produce is noted here when it is produced,
# so a test can see whether the response was buffered before it read it.
stream_log: list[bytes] = []


def _bearer_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _valid(token: str) -> bool:
    return hmac.compare_digest(token.encode(), settings.HYGIENE_TEST_TOKEN.encode())


def _check(request: HttpRequest) -> HttpResponse | None:
    """None when the request may proceed, else the app's refusal."""
    token = _bearer_token(request)
    if token is None:
        return HttpResponse(NO_CREDENTIALS, status=401, content_type="text/plain")
    if not _valid(token):
        response = JsonResponse({"detail": INVALID_TOKEN}, status=401)
        # What an app's blanket caching policy and cookie code leave on every answer.
        response["Cache-Control"] = "public, max-age=600"
        response["Vary"] = "Accept-Encoding"
        response.set_cookie("last_attempt", "rejected")
        return response
    return None


def ok(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(OK_BODY, content_type="application/octet-stream")
    response["Cache-Control"] = "max-age=60"
    response["ETag"] = '"v1"'
    response["Vary"] = "Accept-Encoding"
    response["X-App"] = "kept"
    response.set_cookie("theme", "dark")
    return response


async def async_ok(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)
    return ok(request)


def _chunks() -> Iterator[bytes]:
    for chunk in STREAM_CHUNKS:
        stream_log.append(chunk)
        yield chunk


async def _async_chunks() -> AsyncIterator[bytes]:
    for chunk in STREAM_CHUNKS:
        await asyncio.sleep(0)
        stream_log.append(chunk)
        yield chunk


def stream(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(_chunks(), content_type="text/plain")


async def async_stream(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(_async_chunks(), content_type="text/plain")


def redirect(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect("/ok")


def missing(request: HttpRequest) -> HttpResponseNotFound:
    return HttpResponseNotFound(b"no such item", content_type="text/plain")


def bad_request(request: HttpRequest) -> HttpResponseBadRequest:
    return HttpResponseBadRequest(b"the 'name' field is required", content_type="text/plain")


def items(request: HttpRequest) -> HttpResponse:
    refusal = _check(request)
    if refusal is not None:
        return refusal
    return JsonResponse({"items": ["a", "b"]})


async def async_items(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)
    return items(request)


def jwt_items(request: HttpRequest) -> HttpResponse:
    """Verifies a JWT with pyjwt and reports pyjwt's message, as apps do."""
    token = _bearer_token(request)
    if token is None:
        return HttpResponse(NO_CREDENTIALS, status=401, content_type="text/plain")
    try:
        claims = jwt.decode(token, settings.HYGIENE_TEST_JWT_KEY, algorithms=["HS256"])
    except jwt.InvalidTokenError as exc:
        return JsonResponse({"detail": str(exc)}, status=401)
    return JsonResponse({"sub": claims.get("sub")})


def echo(request: HttpRequest) -> HttpResponse:
    """A careless app that repeats the rejected token in its message."""
    token = _bearer_token(request) or ""
    return JsonResponse({"detail": f"Token {token} is not recognised."}, status=401)


def write(request: HttpRequest) -> HttpResponse:
    refusal = _check(request)
    if refusal is not None:
        return refusal
    # The token is good but does not carry the scope this resource needs.
    raise AuthFailure(Reason.INSUFFICIENT_SCOPE, required_scope="items:write")


async def async_write(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)
    return write(request)


def forbidden(request: HttpRequest) -> HttpResponse:
    return HttpResponseForbidden(FORBIDDEN, content_type="text/plain")


def denied(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


def form(request: HttpRequest) -> HttpResponse:
    # CsrfViewMiddleware protects this POST like any other.
    return HttpResponse(b"saved", content_type="text/plain")


def boom(request: HttpRequest) -> HttpResponse:
    """A bug, not a refusal: Django answers its own 500."""
    raise RuntimeError("not an auth failure")
