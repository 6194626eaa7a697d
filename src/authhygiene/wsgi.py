"""`AuthHygieneWSGI`: PEP 3333 middleware.

The success path costs one status check in the wrapped `start_response`;
the app's iterable is returned as it is, so the server streams it and
closes it. A watched status (401/403, or any response rendered from an
`AuthFailure`) is not forwarded: its body is read (bounded), the app's
iterable is closed exactly once, and the core's decision is sent instead.
Apps that call `start_response` only on the first iteration are handled by
a small deferring iterable that keeps the same guarantees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from http import HTTPStatus
from types import TracebackType
from typing import Any, Literal

from authhygiene._runtime import Runtime
from authhygiene.core.cors import CorsLayer, headers_from_layer, request_origin
from authhygiene.core.credentials import RequestView, material_plan, query_material
from authhygiene.core.decision import (
    WATCHED_STATUSES,
    WATCHED_WITH_CREDENTIALS,
    Decision,
    carries_credentials,
)
from authhygiene.core.diagnose import AppAnswer, Declared, declared_from_exception
from authhygiene.core.origin_patterns import matches_any_site
from authhygiene.core.reasons import REASONS
from authhygiene.errors import ENVIRON_KEY, AuthFailure
from authhygiene.logging import emit_misconfig

__all__ = ["AuthHygieneWSGI", "view_from_environ"]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# Status-line prefixes of the statuses the core is asked about.
_WATCHED_CODES = frozenset(str(code) for code in WATCHED_STATUSES)
_WITH_CREDENTIALS_CODES = frozenset(str(code) for code in WATCHED_WITH_CREDENTIALS)
# Where the Flask signal below leaves an exception Flask turned into a 500.
EXCEPTION_KEY = "authhygiene.exception"


def _watched(status: str, environ: dict[str, Any]) -> bool:
    code = status[:3]
    if code in _WATCHED_CODES or ENVIRON_KEY in environ:
        return True
    if code in _WITH_CREDENTIALS_CODES:
        return carries_credentials(
            "HTTP_AUTHORIZATION" in environ, str(environ.get("QUERY_STRING", ""))
        )
    return code[0] == "5" and EXCEPTION_KEY in environ


def _declared(exc: Exception) -> Declared | None:
    return exc.declared() if isinstance(exc, AuthFailure) else declared_from_exception(exc)


# Where the same signal leaves the CORS headers flask-cors would have added:
# with exceptions propagating (debug), Flask never runs its after_request.
APP_CORS_KEY = "authhygiene.app_cors"


def _remember_exception(sender: object, exception: Exception, **extra: object) -> None:
    from flask import request

    request.environ[EXCEPTION_KEY] = exception
    if "Origin" in request.headers:
        headers = _flask_cors_headers(sender)
        if headers:
            request.environ[APP_CORS_KEY] = headers


def _flask_cors_headers(app: object) -> list[tuple[str, str]]:
    """The CORS headers flask-cors computes for this request, asked of its
    own after_request function on an empty response (inside the request
    context the signal runs in; nothing else of the app runs)."""
    for func in getattr(app, "after_request_funcs", {}).get(None, []):
        if getattr(func, "__name__", "") != "cors_after_request":
            continue
        try:
            response = func(app.response_class())  # type: ignore[attr-defined]
        except Exception:
            return []
        return [
            (name.lower(), value)
            for name, value in response.headers.items()
            if name.lower().startswith("access-control-")
        ]
    return []


def _listen_to_flask(app: object) -> None:
    """Flask turns an exception a view lets escape into its own 500 before
    we see it; its got_request_exception signal still names it. Connected
    only for `app.wsgi_app` of a Flask app, the documented one-liner."""
    owner = getattr(app, "__self__", None)
    if owner is None or not type(owner).__module__.startswith("flask"):
        return
    try:
        from flask import got_request_exception
    except ImportError:  # pragma: no cover - a Flask app without flask
        return
    got_request_exception.connect(_remember_exception, sender=owner, weak=False)


# Environ keys already turned into header names ("" for keys that are not
# headers): servers use the same few dozen keys on every request. Bounded.
_HEADER_NAMES: dict[str, str] = {}
_HEADER_NAMES_MAX = 1024


def _header_name(key: str) -> str:
    if key.startswith("HTTP_"):
        name = key[5:].replace("_", "-").lower()
    elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        name = key.replace("_", "-").lower()
    else:
        name = ""
    if len(_HEADER_NAMES) >= _HEADER_NAMES_MAX:
        _HEADER_NAMES.clear()
    _HEADER_NAMES[key] = name
    return name


def _header_name_of(key: str) -> str:
    name = _HEADER_NAMES.get(key)
    return _header_name(key) if name is None else name


class _Plan:
    """For environs with one set of keys: the header names and environ keys
    of the fields `parse_credentials` reads, and the request id's key."""

    __slots__ = ("keys", "names", "request_id_key")

    def __init__(
        self, names: tuple[str, ...], keys: tuple[str, ...], request_id_key: str | None
    ) -> None:
        self.names = names
        self.keys = keys
        self.request_id_key = request_id_key


_NO_PLAN = _Plan((), (), None)
_PLANS_MAX = 256


def view_from_environ(environ: Mapping[str, Any]) -> RequestView:
    """A RequestView from a WSGI environ (or Django's request.META)."""
    headers = []
    names = _HEADER_NAMES
    for key, value in environ.items():
        name = names.get(key)
        if name is None:
            name = _header_name(key)
        if name and isinstance(value, str):
            headers.append((name, value))
    return RequestView(
        method=str(environ.get("REQUEST_METHOD", "GET")),
        path=str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", "")),
        query=str(environ.get("QUERY_STRING", "")),
        headers=tuple(headers),
        client=environ.get("REMOTE_ADDR") or None,
    )


def _status_line(status: int) -> str:
    line = _STATUS_LINES.get(status)
    if line is None:
        try:
            line = f"{status} {HTTPStatus(status).phrase}"
        except ValueError:
            line = f"{status} Unknown"
    return line


_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


def _close(iterable: object) -> None:
    close = getattr(iterable, "close", None)
    if close is not None:
        close()


def _write(
    environ: dict[str, Any], start_response: StartResponse, decision: Decision
) -> list[bytes]:
    start_response(_status_line(decision.status), list(decision.headers))
    if environ.get("REQUEST_METHOD") == "HEAD":
        return []
    return [decision.body]


def _body_of_get(app: WSGIApp, environ: dict[str, Any], status_line: str, limit: int) -> bytes:
    """A HEAD answer has no body (werkzeug drops it), but the diagnosis reads
    the body, and RFC 9110 §9.3.2 wants HEAD to get the header fields a GET
    would. GET is safe, so ask the app for it; only when HEAD failed."""
    statuses: list[str] = []

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    chunks: list[bytes] = []
    try:
        result = app({**environ, "REQUEST_METHOD": "GET"}, start)
        try:
            size = 0
            for chunk in result:
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    break
        finally:
            _close(result)
    except Exception:
        return b""
    if statuses[-1:] != [status_line]:
        return b""  # not the same answer: do not explain HEAD by another one
    return b"".join(chunks)[:limit]


class _Exchange:
    """A response the app started with a watched status: held, not forwarded."""

    __slots__ = ("body", "environ", "headers", "plain_start", "start_response", "status_line")

    def __init__(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        status_line: str,
        headers: list[tuple[str, str]],
        plain_start: StartResponse,
    ) -> None:
        self.environ = environ
        self.start_response = start_response
        # The server's own, without our CORS step: for a decision that has it.
        self.plain_start = plain_start
        self.status_line = status_line
        self.headers = headers
        self.body: list[bytes] = []

    def finish(self, middleware: AuthHygieneWSGI, result: Iterable[bytes]) -> Iterable[bytes]:
        """Read the captured answer (bounded), close the app's iterable once,
        and start the response the core decides."""
        limit = middleware.limit
        size = sum(map(len, self.body))
        iterator = iter(result)
        try:
            while size <= limit:
                chunk = next(iterator, None)
                if chunk is None:
                    break
                self.body.append(chunk)
                size += len(chunk)
        except BaseException:
            _close(result)
            raise
        excerpt = b"".join(self.body)[:limit]
        if not excerpt and self.environ.get("REQUEST_METHOD") == "HEAD":
            excerpt = _body_of_get(middleware.app, self.environ, self.status_line, limit)
        answer = AppAnswer(
            int(self.status_line[:3]),
            tuple([(name.lower(), value) for name, value in self.headers]),
            excerpt,
        )
        failure = self.environ.get(ENVIRON_KEY)
        declared = failure.declared() if isinstance(failure, AuthFailure) else None
        escaped = self.environ.get(EXCEPTION_KEY)
        if declared is None and isinstance(escaped, Exception):
            declared = declared_from_exception(escaped)
            if declared is None:
                # A 500 for an exception that is not an auth failure: as it was.
                self.start_response(self.status_line, self.headers)
                return _Chain(self.body, iterator, result)
        decision = middleware.decide(self.environ, answer, declared)
        if decision is None or not decision.rewrite:
            # Not ours to change: the app's answer, whole, as it was.
            self.start_response(self.status_line, self.headers)
            if size > limit:
                return _Chain(self.body, iterator, result)  # too large to have read: stream on
            _close(result)
            return self.body
        # Ours to answer: the rest of the app's body (maybe endless) is not read.
        _close(result)
        start = self.plain_start if decision.cors_applied else self.start_response
        return _write(self.environ, start, decision)


class _Deferred:
    """For apps that call start_response on the first iteration (PEP 3333
    allows it): decide after the first chunk, and close the app's iterable
    exactly once whichever way it goes."""

    __slots__ = ("_closed", "_environ", "_iterator", "_middleware", "_result", "_sr", "_started")

    def __init__(
        self,
        middleware: AuthHygieneWSGI,
        environ: dict[str, Any],
        start_response: StartResponse,
        result: Iterable[bytes],
        started: Callable[[], _Exchange | bool | None],
    ) -> None:
        self._middleware = middleware
        self._environ = environ
        self._sr = start_response
        self._result = result
        self._started = started
        self._iterator: Iterator[bytes] | None = None
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._iterator is None:
            source = iter(self._result)
            try:
                read = [next(source)]
            except StopIteration:
                read = []
            except Exception as exc:
                declared = _declared(exc)
                if declared is None:
                    self.close()
                    raise
                _close(self._result)
                self._iterator = iter(
                    self._middleware.raised(self._environ, self._sr, declared, exc)
                )
                return next(self._iterator)
            except BaseException:
                self.close()
                raise
            chained = _Chain(read, source, self._result)
            exchange = self._started()
            if isinstance(exchange, _Exchange):
                # finish() closes the app's iterable, or hands it on in a _Chain.
                self._iterator = iter(exchange.finish(self._middleware, chained))
            else:
                self._iterator = chained
        return next(self._iterator)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._iterator is None:
            _close(self._result)
        elif isinstance(self._iterator, _Chain):
            self._iterator.close()


class _Chain:
    """Already-read chunks, then the rest of an iterator; close() closes the app's iterable."""

    __slots__ = ("_first", "_owner", "_rest")

    def __init__(self, first: list[bytes], rest: Iterator[bytes], owner: object) -> None:
        self._first = first
        self._rest = rest
        self._owner = owner

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._first:
            return self._first.pop(0)
        return next(self._rest)

    def close(self) -> None:
        _close(self._owner)


def _cors_start(
    layer: CorsLayer, origin: str | None, start_response: StartResponse
) -> StartResponse:
    """start_response with the CORS headers added to whatever starts."""

    def start(
        status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], object]:
        return start_response(status, layer.headers(origin, headers, int(status[:3])), exc_info)

    return start


def _origins(environ: Mapping[str, Any]) -> list[str]:
    # Servers join repeated fields with ", ", which no origin contains.
    origin = environ.get("HTTP_ORIGIN")
    return [origin] if isinstance(origin, str) else []


def _any_site_pattern(origins: Iterable[object]) -> bool:
    """flask-cors' origins: strings (`*` is any) and compiled patterns, tried
    with `match`; does one admit unrelated sites?"""
    for origin in origins:
        if origin == "*":
            return True
        match = getattr(origin, "match", None)
        if callable(match) and matches_any_site(match):
            return True
    return False


def _flask_cors_misconfig(app: object, configured: bool) -> tuple[str, ...]:
    """What is wrong with flask-cors beside us, read once, best-effort, from
    the after_request function it registers: configured together with
    ``cors=``, or set for every origin with credentials (its default origins
    with ``supports_credentials=True``), which reflects any origin, so every
    site can read the app's authenticated responses."""
    owner = getattr(app, "__self__", None)
    funcs = [
        func
        for func in getattr(owner, "after_request_funcs", {}).get(None, [])
        if getattr(func, "__name__", "") == "cors_after_request"
    ]
    if funcs and configured:
        return ("cors_configured_twice",)
    for func in funcs:
        if getattr(func, "__name__", "") != "cors_after_request":
            continue
        for cell in getattr(func, "__closure__", None) or ():
            try:
                resources = cell.cell_contents
            except ValueError:  # pragma: no cover - an empty cell
                continue
            if not isinstance(resources, list):
                continue
            for resource in resources:
                options = (
                    resource[1] if isinstance(resource, tuple) and len(resource) == 2 else None
                )
                if getattr(options, "supports_credentials", False) and (
                    getattr(options, "allow_all_origins", False)
                    or _any_site_pattern(getattr(options, "origins", None) or ())
                ):
                    return ("cors_any_origin_with_credentials",)
    return ()


class AuthHygieneWSGI:
    """Make every auth failure a WSGI app answers correct and self-explaining.

    ``app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, realm="api")`` in Flask, or
    around any PEP 3333 app. Options are those of `authhygiene.AuthHygiene`.
    """

    def __init__(self, app: WSGIApp, /, **options: Any) -> None:
        self.app = app
        self.runtime = Runtime.from_options(options)
        self.limit = self.runtime.policy.max_body_bytes
        self._cors = self.runtime.cors
        self._inspected = False
        self._plans: dict[frozenset[str], _Plan | None] = {}
        _listen_to_flask(app)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not self._inspected:
            # At the first request, not here: flask-cors may be set up later.
            self._inspected = True
            misconfig = _flask_cors_misconfig(self.app, self._cors is not None)
            if misconfig:
                emit_misconfig(self.runtime.logger, misconfig, {})
        plain_start = start_response
        if self._cors is not None:
            origins = _origins(environ)
            if (
                origins
                and environ.get("REQUEST_METHOD") == "OPTIONS"
                and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ
            ):
                # R20: answered here; the app's auth never sees a preflight.
                status, headers, body = self._cors.preflight(
                    origins,
                    str(environ["HTTP_ACCESS_CONTROL_REQUEST_METHOD"]),
                    environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"),
                )
                start_response(_status_line(status), headers)
                return [body]
            start_response = _cors_start(self._cors, self._cors.origin(origins), start_response)
        # None until the app starts its response, True once forwarded, else
        # the held exchange. One cell: the success path stays a closure call.
        state: _Exchange | Literal[True] | None = None

        def start(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            nonlocal state
            # A plain string comparison settles 1xx-3xx; only 4xx/5xx pay for
            # the lookups (every AuthFailure status is a 4xx).
            if status >= "4" and _watched(status, environ):
                state = _Exchange(environ, start_response, status, headers, plain_start)
                return state.body.append  # PEP 3333 write(): collected like the iterable
            state = True
            return start_response(status, headers, exc_info)

        try:
            result = self.app(environ, start)
        except Exception as exc:
            declared = _declared(exc)
            if declared is None:
                raise
            return self.raised(environ, start_response, declared, exc, plain_start)
        if state is True:
            return result  # the success path: untouched, the server closes it
        if state is None:
            return _Deferred(self, environ, start_response, result, lambda: state)
        return state.finish(self, result)

    def raised(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        declared: Declared,
        exc: Exception,
        plain_start: StartResponse | None = None,
    ) -> list[bytes]:
        app_cors: list[tuple[str, str]] = []
        origin = request_origin(_origins(environ))
        if origin is not None and self._cors is None:
            # An escaped exception (Flask in debug): flask-cors' own answer.
            app_cors = headers_from_layer(origin, environ.get(APP_CORS_KEY, ()))
        answer = AppAnswer(REASONS[declared.reason].status, tuple(app_cors))
        decision = self.decide(environ, answer, declared)
        if decision is None or not decision.rewrite:
            raise exc  # report-only: change nothing
        # With CORS already applied, the CORS-wrapped start_response (when
        # no plain one is given) applies it again, to the same headers.
        start = plain_start if plain_start is not None and decision.cors_applied else start_response
        return _write(environ, start, decision)

    def decide(
        self, environ: dict[str, Any], answer: AppAnswer, declared: Declared | None
    ) -> Decision | None:
        """The decision for a refused request: from a few environ lookups
        when a refusal of its shape was seen before (`Runtime.quick`),
        from the whole request otherwise."""
        plan = self._plans.get(frozenset(environ), _NO_PLAN)
        if plan is _NO_PLAN:
            plan = self._plan(environ)
        if plan is not None:
            query = environ.get("QUERY_STRING", "")
            method = environ.get("REQUEST_METHOD", "GET")
            origin = environ.get("HTTP_ORIGIN")
            user_agent = environ.get("HTTP_USER_AGENT")
            incoming = environ.get(plan.request_id_key) if plan.request_id_key else None
            decision = self.runtime.quick(
                "w"
                + repr(
                    (
                        plan.names,
                        [environ[key] for key in plan.keys],
                        query_material(query) if isinstance(query, str) else query,
                    )
                ),
                method,
                method == "OPTIONS" and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ,
                incoming if isinstance(incoming, str) else None,
                (
                    environ.get("SCRIPT_NAME", ""),
                    environ.get("PATH_INFO", ""),
                    query,
                    environ.get("REMOTE_ADDR"),
                    user_agent,
                    origin,
                ),
                origin if isinstance(origin, str) else None,
                lambda: view_from_environ(environ),
                answer,
                declared,
                encoded=False,
            )
            if decision is not False:
                return decision
        return self.runtime.handle(view_from_environ(environ), answer, declared)

    def _plan(self, environ: dict[str, Any]) -> _Plan | None:
        """Which environ keys carry what `parse_credentials` reads, for
        environs with these keys (clients send the same header set again)."""
        keys = [key for key in environ if _header_name_of(key)]
        names = [_header_name_of(key) for key in keys]
        picked = material_plan(names, self.runtime.policy.api_key_headers)
        plan = None
        if picked is not None and all(isinstance(environ[key], str) for key in keys):
            header = self.runtime.policy.request_id_header
            plan = _Plan(
                tuple(names[index] for index in picked),
                tuple(keys[index] for index in picked),
                # A configured name with "_" is never an environ key's header name.
                "HTTP_" + header.upper().replace("-", "_")
                if header and "_" not in header
                else None,
            )
        if len(self._plans) >= _PLANS_MAX:
            self._plans.clear()
        self._plans[frozenset(environ)] = plan
        return plan
