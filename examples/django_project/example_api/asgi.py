"""ASGI entry point, from examples/django_project::

    ../../.venv/bin/uvicorn example_api.asgi:application --port 8000

AuthHygieneMiddleware is sync and async capable, so the same MIDDLEWARE line
serves both entry points.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_api.settings")

application = get_asgi_application()
