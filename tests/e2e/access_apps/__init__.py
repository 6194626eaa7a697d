"""Apps the access-log tests serve through real servers, one per framework.

Each module is written the way its framework's docs teach, with the
middleware's documented one-liner, and calls
`authhygiene.logging.redact_server_logs()` at import time (the documented
way to keep tokens out of a server's access log) when the test that starts
the server sets ``AUTHHYGIENE_E2E_REDACT=1``. Without it, the server prints
its request lines as it always does, query strings and headers included.
"""

from __future__ import annotations

import os

__all__ = ["REDACT_ENV", "redaction_requested"]

REDACT_ENV = "AUTHHYGIENE_E2E_REDACT"


def redaction_requested() -> bool:
    return os.environ.get(REDACT_ENV) == "1"
