"""DRF's "Custom authentication" over enforce mode's identity: the class
users write to put DRF's permissions on top of it (in its own module: DRF
imports DEFAULT_AUTHENTICATION_CLASSES while `rest_framework.views` loads)."""

from __future__ import annotations

from rest_framework import authentication
from rest_framework.request import Request

from authhygiene import Identity


class IdentityAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Identity, tuple[str, ...]] | None:
        identity = getattr(request._request, "auth_identity", None)
        if identity is None:
            return None
        return identity, identity.scopes

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
