"""Settings of the Django site served by gunicorn in the log tests. The
middleware's options come from the environment (LOG_APPS_OPTIONS, JSON),
so one site serves every configuration a test asks for."""

import json
import os

SECRET_KEY = "log-apps-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.e2e.log_apps.django_urls"
INSTALLED_APPS = ["authhygiene.django"]
MIDDLEWARE = [
    "authhygiene.django.AuthHygieneMiddleware",
    "django.middleware.common.CommonMiddleware",
]
AUTHHYGIENE = {"realm": "api", **json.loads(os.environ.get("LOG_APPS_OPTIONS") or "{}")}
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
