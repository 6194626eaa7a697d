"""Views that check a bearer token by hand and answer with JsonResponse.

The usual shape of a small Django JSON API without DRF: a decorator reads
`Authorization: Bearer <jwt>`, decodes it with pyjwt and answers 401 JSON
(without a WWW-Authenticate challenge, as most hand-written views do); the
admin view raises PermissionDenied (403) for everyone, signed in or not.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

import jwt
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse

View = Callable[..., HttpResponse]


def _decode(request: HttpRequest) -> dict[str, Any] | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        claims: dict[str, Any] = jwt.decode(
            token.strip(), settings.JWT_SECRET, algorithms=["HS256"]
        )
    except jwt.InvalidTokenError:
        return None
    return claims if claims.get("sub") else None


def token_required(scope: str | None = None) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if "Authorization" not in request.headers:
                return JsonResponse(
                    {"detail": "Authentication credentials were not provided."}, status=401
                )
            scheme, _, token = request.headers["Authorization"].partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return JsonResponse({"detail": "Invalid token header."}, status=401)
            claims = _decode(request)
            if claims is None:
                return JsonResponse({"detail": "Token is invalid or expired."}, status=401)
            scopes = str(claims.get("scope", "")).split()
            if scope is not None and scope not in scopes:
                return JsonResponse(
                    {"error": "insufficient_scope", "detail": f"This view needs scope {scope}."},
                    status=403,
                )
            request.claims = claims  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def index(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"service": "example-api", "framework": "django"})


@token_required()
def users_me(request: HttpRequest) -> HttpResponse:
    claims = request.claims  # type: ignore[attr-defined]
    return JsonResponse({"username": claims["sub"], "scopes": claims.get("scope", "").split()})


@token_required(scope="items")
def users_me_items(request: HttpRequest) -> HttpResponse:
    owner = request.claims["sub"]  # type: ignore[attr-defined]
    return JsonResponse([{"item_id": "foo", "owner": owner}], safe=False)


def admin(request: HttpRequest) -> HttpResponse:
    # The common mistake: PermissionDenied (403) also for "not signed in".
    claims = _decode(request)
    if claims is None or "admin" not in str(claims.get("scope", "")).split():
        raise PermissionDenied
    return JsonResponse({"users": 42})
