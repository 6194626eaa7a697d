from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication


class BearerAuth(BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.startswith("Bearer "):
            return None
        if header[7:] != settings.GOOD:
            raise exceptions.AuthenticationFailed("Invalid token.")
        return ("user", header[7:])

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
