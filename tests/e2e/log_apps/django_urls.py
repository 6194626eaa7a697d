"""A Django view refusing the way Django apps commonly do: a bare
`HttpResponse(status=401)` without a challenge when nothing was sent, a JSON
401 with the scheme's challenge (as DRF's authentication classes answer)
when the token is wrong; and the WSGI factory gunicorn calls."""

from __future__ import annotations

import os
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from . import VALID_TOKEN, configure_stdout_json

__all__ = ["application", "urlpatterns"]


def private(request: HttpRequest, name: str = "") -> HttpResponse:
    authorization = request.headers.get("Authorization")
    if authorization is None:
        return HttpResponse("Authentication credentials were not provided.", status=401)
    if authorization != f"Bearer {VALID_TOKEN}":
        response = JsonResponse({"detail": "Invalid token."}, status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    return JsonResponse({"ok": True})


urlpatterns = [path("private", private), path("private/<str:name>", private)]


def application() -> Any:
    """What `gunicorn 'tests.e2e.log_apps.django_urls:application()'` serves."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.e2e.log_apps.django_settings")
    configure_stdout_json()
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()
