"""The rules of an exchange that every adapter applies, written once.

Which of the app's answers are held and handed to the core, what a raised
exception declares, the status of a raised failure, and what a CORS
preflight is. The adapters (ASGI, WSGI, Django) differ only in where they
read the inputs from.
"""

from __future__ import annotations

from collections.abc import Callable

from authhygiene.core.diagnose import Declared
from authhygiene.core.reasons import REASONS
from authhygiene.core.recognisers import declared_from_exception
from authhygiene.core.request import is_preflight

__all__ = [
    "WATCHED_STATUSES",
    "WATCHED_WITH_CREDENTIALS",
    "DeclaresFailure",
    "carries_credentials",
    "declared_failure",
    "is_preflight",
    "raised_status",
    "watched",
]

# Statuses whose response the adapters hold and hand to the core. Anything
# else passes through untouched and unbuffered.
WATCHED_STATUSES = frozenset({401, 403})
# Held only when the request carried credentials: Starlette's
# AuthenticationMiddleware answers bad credentials with 400, Flask-JWT-Extended
# with 422. A form error from a request without credentials is never touched.
WATCHED_WITH_CREDENTIALS = frozenset({400, 422})
# Where a token may hide in a query string, for that cheap test.
_QUERY_CREDENTIAL_MARKERS = ("access_token=", "token=", "api_key=")


def carries_credentials(authorization: bool, query: str) -> bool:
    """Cheap test an adapter runs only for a 400/422 response."""
    return authorization or any(marker in query for marker in _QUERY_CREDENTIAL_MARKERS)


def watched(status: int, credentials: Callable[[], bool]) -> bool:
    """Whether the app's 4xx answer is one to hold: a 401/403, or a 400/422
    to a request that `credentials()` says carried some (asked only then)."""
    return status in WATCHED_STATUSES or (status in WATCHED_WITH_CREDENTIALS and credentials())


class DeclaresFailure(Exception):  # noqa: N818 (a base of AuthFailure)
    """An exception that says which refusal it means: `authhygiene.AuthFailure`."""

    def declared(self) -> Declared:
        raise NotImplementedError


def declared_failure(exc: BaseException) -> Declared | None:
    """The refusal a raised exception means: the app's own `AuthFailure`,
    or a library's auth exception it let escape (pyjwt's), recognised by
    type; None for any other exception (it propagates)."""
    if isinstance(exc, DeclaresFailure):
        return exc.declared()
    return declared_from_exception(exc)


def raised_status(declared: Declared) -> int:
    """The status the app would have answered a raised failure with."""
    return REASONS[declared.reason].status
