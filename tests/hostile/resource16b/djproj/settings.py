"""A Django project as deployed behind a TLS proxy, MCP view at /mcp/."""

import os

SECRET_KEY = "attack16b-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["api.example.com", "127.0.0.1"]
ROOT_URLCONF = "tests.hostile.resource16b.djproj.urls"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "authhygiene.django",
]
MIDDLEWARE = [
    "authhygiene.django.AuthHygieneMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = True
APPEND_SLASH = True
DATABASES: dict = {}
USE_TZ = True
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tests.hostile.resource16b.djproj.auth.BearerAuth"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
}
AUTHHYGIENE = {
    "realm": "mcp",
    "protected_resource": {
        "authorization_servers": ["https://auth.example.com"],
        "scopes_supported": ["mcp:tools"],
        "paths": {"/mcp": ["mcp:tools"]},
    },
    "profile": "mcp",
    "cors": {"allow_origins": ["https://app.example.com"]},
    "throttle": {"per_credential": "3/minute", "per_client": "100/minute"},
}
if os.environ.get("ATTACK16B_TRUSTED"):
    AUTHHYGIENE["trusted_proxies"] = ["127.0.0.1"]
GOOD = "django-good-token-0123456789abcdef"
