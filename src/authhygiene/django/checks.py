"""Django system checks for `settings.AUTHHYGIENE` (ids authhygiene.E001-E003)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from authhygiene._runtime import Runtime
from authhygiene.core.policy import PolicyError

__all__ = ["MIDDLEWARE_PATH", "check_settings"]

MIDDLEWARE_PATH = "authhygiene.django.AuthHygieneMiddleware"


@register(Tags.security)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    options = getattr(settings, "AUTHHYGIENE", None)
    in_middleware = MIDDLEWARE_PATH in getattr(settings, "MIDDLEWARE", ())
    if options is None:
        if in_middleware:
            errors.append(
                Error(
                    "settings.AUTHHYGIENE is missing.",
                    hint='Add AUTHHYGIENE = {"realm": "api"} (the realm names the protection'
                    " space in every WWW-Authenticate challenge).",
                    id="authhygiene.E001",
                )
            )
        return errors
    if not isinstance(options, Mapping):
        errors.append(
            Error(
                "settings.AUTHHYGIENE must be a dict of middleware options.",
                hint='For example AUTHHYGIENE = {"realm": "api", "schemes": ["Bearer"]}.',
                id="authhygiene.E002",
            )
        )
        return errors
    try:
        Runtime.from_options(options)
    except PolicyError as exc:
        errors.append(Error(str(exc), id="authhygiene.E003"))
    return errors
