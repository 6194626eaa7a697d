"""Django system checks for `settings.AUTHHYGIENE` (ids authhygiene.E001-E003,
W001-W003 for the arrangement with django-cors-headers)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from authhygiene._runtime import Runtime
from authhygiene.core.origin_patterns import matches_any_site
from authhygiene.core.policy import PolicyError

__all__ = ["MIDDLEWARE_PATH", "check_settings"]

MIDDLEWARE_PATH = "authhygiene.django.AuthHygieneMiddleware"
CORSHEADERS_PATH = "corsheaders.middleware.CorsMiddleware"


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
    errors.extend(_cors_arrangement(options))
    return errors


def _cors_arrangement(options: Mapping[str, Any]) -> list[CheckMessage]:
    """Two CORS layers disagree; one above us overwrites what we expose."""
    middleware = list(getattr(settings, "MIDDLEWARE", ()))
    if CORSHEADERS_PATH not in middleware or MIDDLEWARE_PATH not in middleware:
        return []
    if options.get("cors") is not None:
        return [
            Warning(
                "Both django-cors-headers and AUTHHYGIENE['cors'] are configured.",
                hint="Keep one CORS layer: remove CorsMiddleware from MIDDLEWARE, or drop"
                " 'cors' from AUTHHYGIENE (authhygiene then keeps django-cors-headers' headers).",
                id="authhygiene.W001",
            )
        ]
    found: list[CheckMessage] = []
    any_origin = getattr(settings, "CORS_ALLOW_ALL_ORIGINS", False) or getattr(
        settings, "CORS_ORIGIN_ALLOW_ALL", False
    )
    regexes = [str(p) for p in getattr(settings, "CORS_ALLOWED_ORIGIN_REGEXES", ())]
    any_origin = any_origin or matches_any_site(
        lambda origin: any(re.match(pattern, origin) for pattern in regexes)
    )
    if any_origin and getattr(settings, "CORS_ALLOW_CREDENTIALS", False):
        found.append(
            Warning(
                "django-cors-headers allows every origin with credentials: it reflects any"
                " site's Origin, so every site can read your users' authenticated responses.",
                hint="Replace CORS_ALLOW_ALL_ORIGINS (or a CORS_ALLOWED_ORIGIN_REGEXES entry that"
                " matches any site) with CORS_ALLOWED_ORIGINS listing the exact origins of your"
                " front ends.",
                id="authhygiene.W003",
            )
        )
    exposed = [str(name).lower() for name in getattr(settings, "CORS_EXPOSE_HEADERS", ())]
    above = middleware.index(CORSHEADERS_PATH) < middleware.index(MIDDLEWARE_PATH)
    if above and exposed and "www-authenticate" not in exposed:
        found.append(
            Warning(
                "django-cors-headers sits above authhygiene in MIDDLEWARE and replaces"
                " Access-Control-Expose-Headers with CORS_EXPOSE_HEADERS, so browser code"
                " cannot read the WWW-Authenticate of a 401.",
                hint="Put 'authhygiene.django.AuthHygieneMiddleware' above CorsMiddleware,"
                " or add 'www-authenticate' to CORS_EXPOSE_HEADERS.",
                id="authhygiene.W002",
            )
        )
    return found
