"""The project's WSGI module, where an app calls `redact_server_logs()`."""

from __future__ import annotations

from django.core.wsgi import get_wsgi_application

from authhygiene.logging import redact_server_logs
from tests.e2e.access_apps import redaction_requested

application = get_wsgi_application()

if redaction_requested():
    redact_server_logs()
