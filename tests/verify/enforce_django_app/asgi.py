"""ASGI entry point uvicorn loads."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.verify.enforce_django_app.settings")

application = get_asgi_application()
