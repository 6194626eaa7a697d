"""authhygiene: one line in front of an ASGI or WSGI app makes every
authentication failure it answers correct, self-explaining, uncacheable and
logged without secrets.

- FastAPI / Starlette: ``app.add_middleware(AuthHygiene, realm="api")``
- any ASGI app: ``app = AuthHygiene(app, realm="api")``
- Flask / WSGI: ``app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, realm="api")``
- Django: ``"authhygiene.django.AuthHygieneMiddleware"`` in MIDDLEWARE
"""

from authhygiene.asgi import AuthHygiene
from authhygiene.core.policy import Policy, PolicyError
from authhygiene.core.reasons import REASONS, Reason
from authhygiene.errors import AuthFailure
from authhygiene.wsgi import AuthHygieneWSGI

__all__ = [
    "REASONS",
    "AuthFailure",
    "AuthHygiene",
    "AuthHygieneWSGI",
    "Policy",
    "PolicyError",
    "Reason",
]
