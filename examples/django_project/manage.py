#!/usr/bin/env python
"""Django's command-line utility for the authhygiene example project.

Run it (from this directory, examples/django_project)::

    ../../.venv/bin/python manage.py runserver 127.0.0.1:8000
    # or, as in production: ../../.venv/bin/gunicorn example_api.wsgi -b 127.0.0.1:8000
    # or under ASGI:        ../../.venv/bin/uvicorn example_api.asgi:application --port 8000

The probes are in example_api/settings.py.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_api.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
