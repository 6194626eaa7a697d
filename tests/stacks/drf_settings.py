"""Settings of the Django REST framework project the stack tests serve with
gunicorn (never loaded into the pytest process: tests/django configures
Django there). `drf_wsgi.application(variant)` sets STACKS_DRF_VARIANT before
Django reads this module: "bare" has no authhygiene, "wrapped" has the one
line, "verified" the one line with `verify=` and `require=` (verified.py)."""

import os

SECRET_KEY = "stacks-drf-throwaway-secret-key-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.stacks.drf_app"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
]
# No database: the authenticators below check fixed credentials, and the
# session backend keeps sessions in signed cookies.
DATABASES: dict[str, dict[str, str]] = {}
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
if os.environ.get("STACKS_DRF_VARIANT") in ("wrapped", "verified"):
    MIDDLEWARE = ["authhygiene.django.AuthHygieneMiddleware", *MIDDLEWARE]
    AUTHHYGIENE = {"realm": "api"}
if os.environ.get("STACKS_DRF_VARIANT") == "verified":
    from tests.stacks.verified import verified_options

    AUTHHYGIENE.update(verified_options("drf"))
USE_TZ = True
