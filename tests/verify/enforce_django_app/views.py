"""Views of the enforce-mode project: plain Django views reading
`request.auth_identity`, an async one, and a DRF view authenticated by
`drf_auth.IdentityAuthentication` (settings.REST_FRAMEWORK)."""

from __future__ import annotations

import threading
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from authhygiene import Identity

REVOKED = frozenset({"user-revoked"})
_lock = threading.Lock()
_calls = [0]


def _called() -> None:
    with _lock:
        _calls[0] += 1


def _shown(identity: Identity) -> dict[str, Any]:
    return {
        "subject": identity.subject,
        "authenticated": identity.is_authenticated,
        "scopes": list(identity.scopes),
        "scheme": identity.scheme,
        "iss": identity.claims.get("iss"),
    }


def calls(request: HttpRequest) -> JsonResponse:
    """How many times the views below ran (this process has one worker)."""
    with _lock:
        return JsonResponse({"calls": _calls[0]})


def items(request: HttpRequest, item_id: str) -> JsonResponse:
    _called()
    return JsonResponse({"item": item_id, **_shown(request.auth_identity)})  # type: ignore[attr-defined]


async def async_items(request: HttpRequest, item_id: str) -> JsonResponse:
    _called()
    return JsonResponse({"item": item_id, **_shown(request.auth_identity)})  # type: ignore[attr-defined]


def me(request: HttpRequest) -> HttpResponse:
    _called()
    identity: Identity = request.auth_identity  # type: ignore[attr-defined]
    if identity.subject in REVOKED:
        # The app's own check, after enforce mode admitted the token.
        return JsonResponse({"detail": "Invalid token."}, status=401)
    return JsonResponse(_shown(identity))


def health(request: HttpRequest) -> JsonResponse:
    _called()
    return JsonResponse({"status": "ok", "identity": repr(request.auth_identity)})  # type: ignore[attr-defined]


def unruled(request: HttpRequest) -> JsonResponse:
    _called()
    return JsonResponse({"no": "rule"})


def order(request: HttpRequest, number: str) -> JsonResponse:
    _called()
    return JsonResponse({"order": number})


class HasReportsScope(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return "reports:read" in (request.auth or ())


class ReportsView(APIView):
    permission_classes = (HasReportsScope,)

    def get(self, request: Request) -> Response:
        _called()
        return Response({"reports": [], "user": request.user.subject})
