"""The WSGI entry point gunicorn loads for the DRF stack:
`tests.stacks.drf_wsgi:application('bare')`, `...('wrapped')` or
`...('verified')`."""

from __future__ import annotations

import os
from typing import Any

from django.core.wsgi import get_wsgi_application


def application(variant: str) -> Any:
    # Set before Django first reads its settings, in this worker process only.
    os.environ["STACKS_DRF_VARIANT"] = variant
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.stacks.drf_settings"
    return get_wsgi_application()
