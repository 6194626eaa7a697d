"""WSGI entry point, from examples/django_project::

    ../../.venv/bin/gunicorn example_api.wsgi -b 127.0.0.1:8000

Django's runserver uses it too (WSGI_APPLICATION in settings.py).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_api.settings")

application = get_wsgi_application()
