"""Django REST framework views as its docs teach, served by gunicorn.

TokenAuthentication checks one fixed token instead of the authtoken table
(the subclass many DRF projects write); BasicAuthentication checks fixed
credentials. Imported by Django as the ROOT_URLCONF once drf_wsgi.py has
configured it.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.urls import path
from rest_framework import authentication, exceptions, serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .tokens import BASIC_PASSWORD, BASIC_USER, DRF_TOKEN


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
]
