"""Settings of the test project.

The conftest passes these to `settings.configure()` for the in-process tests;
the real-server test points DJANGO_SETTINGS_MODULE here. The valid token and
the JWT key are made per process unless the environment gives them, so no
credential is written in the repository and a server subprocess can share
them with the test that started it.
"""

import os
import secrets

SECRET_KEY = "authhygiene-tests-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.django.project.urls"
WSGI_APPLICATION = "tests.django.project.wsgi.application"
# The app only registers the system checks; it has no models.
INSTALLED_APPS = ["authhygiene.django"]
# First in the list, so it sees every response last, as the README tells users.
MIDDLEWARE = [
    "authhygiene.django.AuthHygieneMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
AUTHHYGIENE = {"realm": "api"}
DATABASES: dict[str, dict[str, str]] = {}
TEMPLATES: list[dict[str, object]] = []
USE_TZ = True

# Read by the views: the one token `items` accepts, and the key `jwt_items` verifies with.
HYGIENE_TEST_TOKEN = os.environ.get("HYGIENE_TEST_TOKEN") or secrets.token_urlsafe(24)
HYGIENE_TEST_JWT_KEY = os.environ.get("HYGIENE_TEST_JWT_KEY") or secrets.token_hex(32)
