"""`AuthHygieneMiddleware`: sync and async capable Django middleware.

It sits in MIDDLEWARE like any other, sees every response on its way out,
and rewrites the auth failures. An `AuthFailure` raised by a view (or a DRF
view, which re-raises what its exception handler does not know) arrives in
`process_exception`, is remembered on the request, and answered here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from authhygiene._described import WELL_KNOWN, described, profile_refused
from authhygiene._enforcement import (
    PREFLIGHT_HEADERS,
    Outcome,
    plan_blocks,
    planned,
    settled,
    verified_plan,
)
from authhygiene._runtime import Runtime
from authhygiene._throttling import (
    Caller,
    aadmit,
    admit,
    afinish,
    environ_caller,
    finish,
    leave,
)
from authhygiene.core.cors import request_origin
from authhygiene.core.credentials import RequestView
from authhygiene.core.decision import Decision
from authhygiene.core.diagnose import AppAnswer, Declared
from authhygiene.core.enforce import Plan
from authhygiene.core.exchange import (
    carries_credentials,
    declared_failure,
    is_preflight,
    raised_status,
    watched,
)
from authhygiene.core.misconfig import APP_BODY_ERROR
from authhygiene.core.policy import PolicyError
from authhygiene.core.verdict import Rejected, Verified, Verifier
from authhygiene.django import checks as _checks  # noqa: F401  (registers the checks)
from authhygiene.logging import emit_misconfig
from authhygiene.request_views import EnvironRequest, Plans, view_from_environ

__all__ = ["AuthHygieneMiddleware"]

_FAILURE_ATTR = "_authhygiene_failure"

GetResponse = Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]


def _runtime() -> Runtime:
    options = getattr(settings, "AUTHHYGIENE", None)
    if options is None:
        raise ImproperlyConfigured(
            'authhygiene: settings.AUTHHYGIENE is missing; add AUTHHYGIENE = {"realm": "api"}.'
        )
    if not isinstance(options, Mapping):
        raise ImproperlyConfigured("authhygiene: settings.AUTHHYGIENE must be a dict of options.")
    try:
        return Runtime.from_options(options)
    except PolicyError as exc:
        raise ImproperlyConfigured(str(exc)) from exc


class AuthHygieneMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self.runtime = _runtime()
        self.limit = self.runtime.policy.max_body_bytes
        self._plans = Plans(self.runtime.policy)
        self._enforce = self.runtime.policy.mode == "enforce"
        self._throttled = self.runtime.throttle is not None
        self._first = (
            self.runtime.cors is not None
            or self.runtime.policy.protected_resource is not None
            or self.runtime.policy.profile is not None
        )
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._async:
            return self.__acall__(request)
        first = self._answered_first(request) if self._first else None
        if first is not None:
            return first
        if self._throttled:
            return self._throttled_call(request)
        return self._call(request)

    def _throttled_call(self, request: HttpRequest) -> HttpResponseBase:
        """`throttle=`: a blocked client or credential is refused 429; any
        other request runs in its credential's slot, freed once the view
        has answered and a failure, if any, is counted."""
        refusal, ticket = admit(self.runtime, *self._who(request))
        if refusal is not None:
            return self._too_many(request, refusal)
        try:
            return self._call(request)
        finally:
            leave(self.runtime, ticket)

    def _who(self, request: HttpRequest) -> tuple[EnvironRequest, Callable[[], Caller | None]]:
        """The request as the core reads it, and who it comes from (read
        when the throttle asks)."""
        core_request = _request(request, self._plans)
        return core_request, lambda: environ_caller(self.runtime, request.META, core_request)

    def _too_many(self, request: HttpRequest, refusal: Decision) -> HttpResponseBase:
        head = request.method == "HEAD"
        return self._cors_headers(request, _response(refusal, None, self.runtime.logger, head=head))

    def _call(self, request: HttpRequest) -> HttpResponseBase:
        if self._enforce:
            plan = planned(self.runtime, _view(request, self._plans))
            decision = self._counted(request, self._refusal(request, plan, verified_plan(plan)))
            refused = self._admitted(request, decision)
            if refused is not None:
                return self._cors_headers(request, refused)
        response = self.get_response(request)
        assert isinstance(response, HttpResponseBase)
        answered = self._answered(request, response)
        if answered is None:
            return self._cors_headers(request, response)
        decision = self._counted(request, answered)
        return self._cors_headers(request, self._respond(request, response, decision))

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        first = self._answered_first(request) if self._first else None
        if first is not None:
            return first
        if not self._throttled:
            return await self._acall(request)
        refusal, ticket = await aadmit(self.runtime, *self._who(request))
        if refusal is not None:
            return self._too_many(request, refusal)
        try:
            return await self._acall(request)
        finally:
            leave(self.runtime, ticket)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        if self._enforce:
            plan = planned(self.runtime, _view(request, self._plans))
            judged = (
                await sync_to_async(verified_plan, thread_sensitive=False)(plan)
                if plan_blocks(plan)
                else verified_plan(plan)
            )
            outcome = self._refusal(request, plan, judged)
            refused = self._admitted(request, await self._acounted(request, outcome))
            if refused is not None:
                return self._cors_headers(request, refused)
        response = await self.get_response(request)  # type: ignore[misc]
        answered = self._answered(request, response)
        if answered is None:
            return self._cors_headers(request, response)
        decision = await self._acounted(request, answered)
        return self._cors_headers(request, self._respond(request, response, decision))

    def _counted(self, request: HttpRequest, outcome: Any) -> Any:
        """`throttle=`: count the failure in `outcome` (an enforce-mode
        Outcome or a Decision); the answer that leaves, recorded."""
        if not self._throttled:
            return outcome
        decision = outcome.decision if isinstance(outcome, Outcome) else outcome
        final = finish(self.runtime, *self._who(request), decision)
        return replace(outcome, decision=final) if isinstance(outcome, Outcome) else final

    async def _acounted(self, request: HttpRequest, outcome: Any) -> Any:
        """`_counted`, awaiting the storage."""
        if not self._throttled:
            return outcome
        decision = outcome.decision if isinstance(outcome, Outcome) else outcome
        final = await afinish(self.runtime, *self._who(request), decision)
        return replace(outcome, decision=final) if isinstance(outcome, Outcome) else final

    def _refusal(
        self,
        request: HttpRequest,
        plan: Plan,
        judged: tuple[Verifier | None, Verified | Rejected | None],
    ) -> Outcome:
        return settled(
            self.runtime, _request(request, self._plans), plan, *judged, record=not self._throttled
        )

    def _admitted(self, request: HttpRequest, outcome: Outcome) -> HttpResponse | None:
        """Enforce mode, before the view: the refusal (or the answer to a
        preflight), or None with the identity in `request.auth_identity`
        when one was verified."""
        if outcome.preflight:
            response = HttpResponse(status=204)
            del response["Content-Type"]  # RFC 9110 §15.3.5: no content, no type
            for name, value in PREFLIGHT_HEADERS:
                response[name] = value
            return response
        if outcome.decision is not None and outcome.decision.rewrite:
            return _response(
                outcome.decision, None, self.runtime.logger, head=request.method == "HEAD"
            )
        request.auth_identity = outcome.identity  # type: ignore[attr-defined]
        return None

    def _answered_first(self, request: HttpRequest) -> HttpResponseBase | None:
        """What is answered before the throttle and the view, in order: the
        metadata document (`protected_resource=`), a CORS preflight
        (`cors=`), `profile=`'s refusals."""
        found: HttpResponseBase | None = _described_response(self.runtime, request)
        if found is None:
            found = self._preflight(request)
        if found is None and self.runtime.policy.profile is not None:
            meta = request.META
            refusal = profile_refused(
                self.runtime,
                _request(request, self._plans),
                request.path,
                str(meta.get("QUERY_STRING", "")),
                "HTTP_ORIGIN" in meta,
            )
            if refusal is not None and refusal.rewrite:
                head = request.method == "HEAD"
                found = self._cors_headers(
                    request, _response(refusal, None, self.runtime.logger, head=head)
                )
        return found

    def _preflight(self, request: HttpRequest) -> HttpResponse | None:
        """R20: with ``cors`` configured, a preflight is answered here, before
        any middleware below this one or the view's auth sees it."""
        cors = self.runtime.cors
        meta = request.META
        if (
            cors is None
            or not isinstance(meta.get("HTTP_ORIGIN"), str)
            or not isinstance(meta.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"), str | None)
            or not is_preflight(request.method, meta.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"))
        ):
            return None
        status, headers, body = cors.preflight(
            [meta["HTTP_ORIGIN"]],
            meta["HTTP_ACCESS_CONTROL_REQUEST_METHOD"],
            meta.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"),
        )
        response = HttpResponse(body, status=status)
        if status == 204:
            del response["Content-Type"]  # RFC 9110 §15.3.5: no content, no type
        for name, value in headers:
            response[name] = value
        return response

    def _cors_headers(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        cors = self.runtime.cors
        if cors is None:
            return response
        origin = request.META.get("HTTP_ORIGIN")
        # A server gives str; anything else (a test client's bytes) is no origin.
        origin = origin if isinstance(origin, str) else None
        current = [(name.lower(), value) for name, value in response.items()]
        updated = cors.headers(
            request_origin([origin] if origin else []), current, response.status_code
        )
        for name, _ in current:
            if name not in {n for n, _ in updated}:
                del response[name]
        for name, value in updated:
            response[name] = value
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # The view's AuthFailure, or a library's auth exception it let escape
        # (pyjwt): answered as the refusal it is instead of Django's 500.
        declared = declared_failure(exception)
        if declared is None:
            return None
        status = raised_status(declared)
        if self.runtime.policy.report_only:
            # Change nothing: Django answers as it would without us; we only log.
            self.runtime.decide(
                _request(request, self._plans),
                AppAnswer(status),
                declared,
            )
            return None
        setattr(request, _FAILURE_ATTR, declared)
        return HttpResponse(status=status)

    def _answered(self, request: HttpRequest, response: HttpResponseBase) -> Decision | None:
        """The decision for the view's answer (None: not a failure of ours;
        unrecorded when the throttle counts it first)."""
        declared = getattr(request, _FAILURE_ATTR, None)
        status = response.status_code
        if declared is None and not watched(
            status,
            lambda: carries_credentials(
                "HTTP_AUTHORIZATION" in request.META, str(request.META.get("QUERY_STRING", ""))
            ),
        ):
            return None
        body = b""
        if isinstance(response, HttpResponse):
            body = response.content[: self.limit]
        answer = AppAnswer(
            response.status_code,
            tuple((name.lower(), value) for name, value in response.items()),
            body,
        )
        return self.runtime.decide(
            _request(request, self._plans),
            answer,
            declared if isinstance(declared, Declared) else None,
            record=not self._throttled,
        )

    def _respond(
        self, request: HttpRequest, response: HttpResponseBase, decision: Decision | None
    ) -> HttpResponseBase:
        if decision is None or not decision.rewrite:
            return response
        return _response(decision, response, self.runtime.logger, head=request.method == "HEAD")


def _request(request: HttpRequest, plans: Plans) -> EnvironRequest:
    """The request as the core reads it; the route is Django's own
    `path_info` (decoded already, without the script name), the scheme
    Django's own (`SECURE_PROXY_SSL_HEADER` honoured)."""
    return EnvironRequest(
        request.META,
        plans,
        route=request.path_info,
        scheme=_scheme(request),
        authority=_authority(request),
    )


def _scheme(request: HttpRequest) -> str | None:
    try:
        return request.scheme
    except Exception:  # a SECURE_PROXY_SSL_HEADER Django itself refuses
        return None


def _authority(request: HttpRequest) -> str:
    """The host as Django establishes it (`USE_X_FORWARDED_HOST`,
    `ALLOWED_HOSTS`): "" for a host Django refuses, which names no URL."""
    try:
        return request.get_host()
    except Exception:  # DisallowedHost: Django answers it 400 itself
        return ""


def _described_response(runtime: Runtime, request: HttpRequest) -> HttpResponse | None:
    """`protected_resource=`: the metadata document's answer, or None (a
    host Django refuses: it answers that request itself, 400)."""
    if runtime.policy.protected_resource is None or WELL_KNOWN not in request.path:
        return None
    authority = _authority(request)
    if not authority:
        return None
    view = replace(view_from_environ(request.META), scheme=_scheme(request), authority=authority)
    answer = described(runtime, view)
    if answer is None:
        return None
    response = HttpResponse(answer.body, status=answer.status)
    if answer.status == 204:
        del response["Content-Type"]
    for name, value in answer.headers:
        response[name] = value
    return response


def _view(request: HttpRequest, plans: Plans) -> RequestView:
    return _request(request, plans).decoded()


def _response(
    decision: Decision, original: HttpResponseBase | None, logger: Any, *, head: bool
) -> HttpResponse:
    # RFC 9110 §9.3.2: a HEAD answer has the GET's header fields (its
    # Content-Length among them) and no content; not every server drops it.
    response = HttpResponse(b"" if head else decision.body, status=decision.status)
    challenges = []
    for name, value in decision.headers:
        if name == "www-authenticate":
            challenges.append(value)
        else:
            response[name] = value
    if challenges:
        # Django keeps one value per header name; RFC 9110 §11.6.1 allows a
        # comma-separated list of challenges in one field.
        response["WWW-Authenticate"] = ", ".join(challenges)
    if original is None:
        return response  # enforce mode: refused before the view
    response.cookies = original.cookies
    # The view's response is replaced: close it (a streaming body's generator
    # runs its cleanup). Its close() raising is the app's bug, but the refusal
    # is complete and correct: it is answered, and the error logged once by
    # kind, instead of the 500 Django would make of it.
    try:
        original.close()
    except Exception:
        with contextlib.suppress(Exception):
            emit_misconfig(logger, (APP_BODY_ERROR,), {"status": original.status_code})
    return response
