"""Settings for the authhygiene Django example: a JSON API whose views check
bearer tokens by hand (no DRF), plus one line of authhygiene.

The one added line is the MIDDLEWARE entry; `AUTHHYGIENE` below is where its
documented options live (the realm is required).

Routes (example_api/urls.py, example_api/views.py):
    GET /                 public
    GET /users/me         any valid token (401 JsonResponse otherwise)
    GET /users/me/items   a token with the "items" scope (403 JSON otherwise)
    GET /admin            raises PermissionDenied (403) even for anonymous requests

Run it (from examples/django_project)::

    ../../.venv/bin/python manage.py runserver 127.0.0.1:8000
    ../../.venv/bin/gunicorn example_api.wsgi -b 127.0.0.1:8000          # as in production
    ../../.venv/bin/uvicorn example_api.asgi:application --port 8000     # under ASGI

Probe it (from the repository root)::

    curl -i http://127.0.0.1:8000/users/me
    curl -i -H 'Authorization: Basic ZGVtbzpkZW1v' http://127.0.0.1:8000/users/me
    curl -i -H 'Authorization: Bearer' http://127.0.0.1:8000/users/me
    curl -i -H 'Authorization: Bearer not-a-jwt' http://127.0.0.1:8000/users/me
    curl -i http://127.0.0.1:8000/admin
    TOKEN=$(.venv/bin/python examples/demo.py --token "me")
    curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/users/me/items
    EXPIRED=$(.venv/bin/python examples/demo.py --token "me items" --expired)
    curl -i -H "Authorization: Bearer $EXPIRED" http://127.0.0.1:8000/users/me
    TOKEN=$(.venv/bin/python examples/demo.py --token "me items")
    curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/users/me/items
"""

import os

# DEMO ONLY: well-known secrets so the examples, demo and tests work out of the
# box. A real deployment reads strong secrets from its environment.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-demo-only-not-for-production")
JWT_SECRET = os.environ.get("EXAMPLE_JWT_SECRET", "demo-only-secret-not-for-production-use")

DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

# Add "authhygiene.django" here too if you want `manage.py check` to validate AUTHHYGIENE.
INSTALLED_APPS: list[str] = []

MIDDLEWARE = [
    "authhygiene.django.AuthHygieneMiddleware",  # authhygiene: the one added line
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
AUTHHYGIENE = {"realm": "example-api"}  # the middleware's documented options

ROOT_URLCONF = "example_api.urls"
WSGI_APPLICATION = "example_api.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
