"""Django integration: `AuthHygieneMiddleware`, configured by `settings.AUTHHYGIENE`.

::

    MIDDLEWARE = ["authhygiene.django.AuthHygieneMiddleware", ...]
    AUTHHYGIENE = {"realm": "api"}

Add ``"authhygiene.django"`` to INSTALLED_APPS as well to have
``manage.py check`` report bad settings (ids ``authhygiene.E00x``); the
middleware itself refuses bad settings with ImproperlyConfigured when Django
loads it at start-up.
"""

from authhygiene.django.middleware import AuthHygieneMiddleware

__all__ = ["AuthHygieneMiddleware"]
