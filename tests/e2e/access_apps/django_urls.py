"""One view refusing every request, the way a token-checking view does."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path


def items(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"detail": "Invalid token"}, status=401, headers={"WWW-Authenticate": "Bearer"}
    )


urlpatterns = [path("items", items)]
