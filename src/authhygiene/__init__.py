"""authhygiene: one line in front of an ASGI or WSGI app makes every
authentication failure it answers correct, self-explaining, uncacheable and
logged without secrets.

- FastAPI / Starlette: ``app.add_middleware(AuthHygiene, realm="api")``
- any ASGI app: ``app = AuthHygiene(app, realm="api")``
- Flask / WSGI: ``app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, realm="api")``
- Django: ``"authhygiene.django.AuthHygieneMiddleware"`` in MIDDLEWARE

The entry points are imported on first use (PEP 562), so that importing
`authhygiene.core` alone pulls in no framework at all.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from authhygiene.asgi import AuthHygiene
    from authhygiene.core.cors import CORS
    from authhygiene.core.flood import LogLimit
    from authhygiene.core.policy import Policy, PolicyError
    from authhygiene.core.reasons import REASONS, Reason
    from authhygiene.core.requirements import Scopes
    from authhygiene.core.resource import ProtectedResource
    from authhygiene.errors import AuthFailure
    from authhygiene.identity import Identity, require_scopes
    from authhygiene.throttle import Throttle
    from authhygiene.wsgi import AuthHygieneWSGI

__version__ = "0.1.0.dev0"

__all__ = [
    "CORS",
    "REASONS",
    "AuthFailure",
    "AuthHygiene",
    "AuthHygieneWSGI",
    "Identity",
    "LogLimit",
    "Policy",
    "PolicyError",
    "ProtectedResource",
    "Reason",
    "Scopes",
    "Throttle",
    "require_scopes",
]

_WHERE = {
    "AuthHygiene": "authhygiene.asgi",
    "AuthHygieneWSGI": "authhygiene.wsgi",
    "CORS": "authhygiene.core.cors",
    "LogLimit": "authhygiene.core.flood",
    "AuthFailure": "authhygiene.errors",
    "Policy": "authhygiene.core.policy",
    "PolicyError": "authhygiene.core.policy",
    "ProtectedResource": "authhygiene.core.resource",
    "REASONS": "authhygiene.core.reasons",
    "Reason": "authhygiene.core.reasons",
    "Scopes": "authhygiene.core.requirements",
    "Throttle": "authhygiene.throttle",
    "Identity": "authhygiene.identity",
    "require_scopes": "authhygiene.identity",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'authhygiene' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
