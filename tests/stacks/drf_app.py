"""Django REST framework views as its docs teach, served by gunicorn.

TokenAuthentication checks one fixed token instead of the authtoken table
(the subclass many DRF projects write); BasicAuthentication checks fixed
credentials; `JWTAuthentication` is the custom authentication DRF's docs
teach, decoding a Bearer JWT with pyjwt, and `HasItemsScope` the custom
permission that checks the token's `scope`. Imported by Django as the
ROOT_URLCONF once drf_wsgi.py has configured it.
"""

from __future__ import annotations

import secrets
from typing import Any

import jwt
from django.urls import path
from rest_framework import authentication, exceptions, serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .tokens import AUDIENCE, BASIC_PASSWORD, BASIC_USER, DRF_TOKEN, ISSUER, SIGNING_KEY

_USERS = frozenset({BASIC_USER})


class _User:
    """An authenticated user without a database row."""

    is_authenticated = True
    is_active = True

    def __init__(self, username: str) -> None:
        self.username = username


class FixedTokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, str]:
        if not secrets.compare_digest(key, DRF_TOKEN):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return _User(BASIC_USER), key


class FixedBasicAuthentication(authentication.BasicAuthentication):
    def authenticate_credentials(
        self, userid: str, password: str, request: Any = None
    ) -> tuple[Any, None]:
        if not (
            secrets.compare_digest(userid, BASIC_USER)
            and secrets.compare_digest(password, BASIC_PASSWORD)
        ):
            raise exceptions.AuthenticationFailed("Invalid username/password.")
        return _User(userid), None


class JWTAuthentication(authentication.BaseAuthentication):
    """DRF's "Custom authentication": a Bearer JWT, its claims as `request.auth`."""

    def authenticate(self, request: Request) -> tuple[Any, dict[str, Any]] | None:
        auth = authentication.get_authorization_header(request).split()
        if not auth or auth[0].lower() != b"bearer":
            return None
        if len(auth) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header.")
        try:
            claims = jwt.decode(
                auth[1].decode("ascii", "replace"),
                SIGNING_KEY,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
            )
        except jwt.InvalidTokenError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if claims.get("sub") not in _USERS:
            raise exceptions.AuthenticationFailed("User not found.")
        return _User(str(claims["sub"])), claims

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class HasItemsScope(BasePermission):
    """DRF's "Custom permissions": the token must grant `items`."""

    def has_permission(self, request: Request, view: Any) -> bool:
        claims = request.auth if isinstance(request.auth, dict) else {}
        return "items" in str(claims.get("scope", "")).split()


class JWTView(APIView):
    authentication_classes = (JWTAuthentication,)
    permission_classes = (IsAuthenticated,)

    def get(self, request: Request) -> Response:
        return Response({"user": request.user.username})


class JWTItemsView(APIView):
    authentication_classes = (JWTAuthentication,)
    permission_classes = (IsAuthenticated, HasItemsScope)

    def get(self, request: Request) -> Response:
        return Response(["an item"])


class TokenView(APIView):
    authentication_classes = (FixedTokenAuthentication,)
    permission_classes = (IsAuthenticated,)

    def get(self, request: Request) -> Response:
        return Response({"user": request.user.username})


class SessionView(APIView):
    # Session first: its authenticate_header() is None, so DRF answers
    # NotAuthenticated with 403 instead of 401.
    authentication_classes = (
        authentication.SessionAuthentication,
        FixedTokenAuthentication,
    )
    permission_classes = (IsAuthenticated,)

    def get(self, request: Request) -> Response:
        return Response({"user": request.user.username})


class BasicView(APIView):
    authentication_classes = (FixedBasicAuthentication,)
    permission_classes = (IsAuthenticated,)

    def get(self, request: Request) -> Response:
        return Response({"user": request.user.username})


@api_view(["GET"])
@authentication_classes([FixedTokenAuthentication])
@permission_classes([IsAuthenticated])
def denied(request: Request) -> Response:
    raise exceptions.PermissionDenied()


@api_view(["GET"])
@authentication_classes([FixedTokenAuthentication])
@permission_classes([])
def failed(request: Request) -> Response:
    # A view that checks something of its own about the token and refuses it.
    raise exceptions.AuthenticationFailed("Invalid token.")


class SignupSerializer(serializers.Serializer):  # type: ignore[type-arg]
    email = serializers.EmailField()


@api_view(["GET"])
@authentication_classes([FixedTokenAuthentication])
@permission_classes([IsAuthenticated])
def validate(request: Request) -> Response:
    serializer = SignupSerializer(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return Response(serializer.validated_data)


urlpatterns = [
    path("token", TokenView.as_view()),
    path("session", SessionView.as_view()),
    path("basic", BasicView.as_view()),
    path("denied", denied),
    path("failed", failed),
    path("validate", validate),
    path("jwt", JWTView.as_view()),
    path("jwt/items", JWTItemsView.as_view()),
]
