"""`AuthFailure`: the exception an app raises to say exactly why it refuses.

It subclasses werkzeug's `HTTPException` so that Flask (and any werkzeug
app) renders it as a response of the right status instead of turning it
into a 500, and marks the WSGI environ so `AuthHygieneWSGI` knows the
response came from it. In Starlette/FastAPI it is not an HTTPException of
theirs, so it reaches `AuthHygiene` as an exception; in Django,
`AuthHygieneMiddleware.process_exception` receives it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException

from authhygiene.core.diagnose import Declared
from authhygiene.core.exchange import DeclaresFailure
from authhygiene.core.reasons import REASONS, Reason

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = ["ENVIRON_KEY", "AuthFailure"]

# Where a rendered AuthFailure leaves itself for the WSGI middleware.
ENVIRON_KEY = "authhygiene.failure"


class AuthFailure(HTTPException, DeclaresFailure):
    """Refuse the request for `reason`, with `facts` for the problem body.

    ``raise AuthFailure(Reason.INSUFFICIENT_SCOPE, required_scope="items:write")``

    `detail` replaces our explanation sentence; facts must be JSON values and
    must not contain secrets (they are sent to the client).
    """

    def __init__(self, reason: Reason | str, detail: str | None = None, **facts: Any) -> None:
        try:
            self.reason = Reason(reason)
        except ValueError:
            known = ", ".join(r.value for r in Reason)
            raise ValueError(
                f"unknown auth failure reason {reason!r}; use one of: {known}"
            ) from None
        self.detail = detail
        self.facts = facts
        self.code = REASONS[self.reason].status
        super().__init__(description=detail or REASONS[self.reason].title)

    def declared(self) -> Declared:
        """The core's view of this exception."""
        return Declared(self.reason, dict(self.facts), self.detail)

    def get_headers(
        self,
        environ: WSGIEnvironment | None = None,
        scope: dict[str, Any] | None = None,
    ) -> list[tuple[str, str]]:
        # werkzeug calls this while rendering the exception as a response
        # (Flask does so for any HTTPException raised in a view): leave a mark
        # for AuthHygieneWSGI, which then knows exactly why.
        if environ is not None:
            environ[ENVIRON_KEY] = self
            # Flask renders through werkzeug's run_wsgi_app, which copies the
            # environ; the request object it holds keeps the original one.
            request = environ.get("werkzeug.request")
            original = getattr(request, "environ", None)
            if isinstance(original, dict):
                original[ENVIRON_KEY] = self
        return super().get_headers(environ, scope)

    def __repr__(self) -> str:
        return f"AuthFailure({self.reason.value!r})"
