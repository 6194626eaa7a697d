"""Settings of the enforce-mode project. The JWT key, the issuer and the
audience come from the environment the test starts the server with: no key
is written in the repository, and the test signs with the same one."""

import os

from authhygiene import CORS, Scopes
from authhygiene.verify import JWT

SECRET_KEY = "enforce-tests-throwaway-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.verify.enforce_django_app.urls"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "authhygiene.django",
]
# No database: nothing here reads one.
DATABASES: dict[str, dict[str, str]] = {}
# First, as the README tells users: it refuses before anything else runs.
MIDDLEWARE = [
    "authhygiene.django.AuthHygieneMiddleware",
    "django.middleware.common.CommonMiddleware",
]
PAGE = "https://page.example"
AUTHHYGIENE = {
    "realm": "api",
    "mode": "enforce",
    "verify": JWT(
        algorithms=["HS256"],
        keys={"hs-1": bytes.fromhex(os.environ["ENFORCE_JWT_KEY"])},
        issuer=os.environ["ENFORCE_ISSUER"],
        audience=os.environ["ENFORCE_AUDIENCE"],
    ),
    "require": [
        ("GET", "/items/*", Scopes("items:read")),
        ("POST", "/items/*", Scopes("items:write", "items:read")),
        ("GET", "/async-items/*", Scopes("items:read")),
        ("GET", "/drf/*", Scopes()),
        ("GET", "/me", Scopes()),
        ("GET", "/café/*", Scopes("orders:read")),
        ("*", "/health", None),
        ("GET", "/calls", None),
    ],
    "cors": CORS(allow_origins=[PAGE]),
    "log_limit": None,
}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tests.verify.enforce_django_app.drf_auth.IdentityAuthentication"
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
}
USE_TZ = True
