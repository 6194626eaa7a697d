"""`AuthHygieneWSGI`: PEP 3333 middleware.

The success path costs one status check in the wrapped `start_response`;
the app's iterable is returned as it is, so the server streams it and
closes it. A watched status (401/403, or any response rendered from an
`AuthFailure`) is not forwarded: its body is read (bounded), the app's
iterable is closed exactly once, and the core's decision is sent instead.
If reading or closing that body raises, the refusal is still decided on
what was read and sent (never a 500 the bare app's status did not ask for).
An answer held but not rewritten is replayed as the bare app gave it: its
start, its chunks, an error its body raised where it raised it, and its
close() run by the server's (once). A HEAD is decided on what the app gave
for the HEAD, the app never runs twice for one request. Apps that call
`start_response` only on the first iteration are handled by a small
deferring iterable that keeps the same guarantees.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from http import HTTPStatus
from types import TracebackType
from typing import Any, Literal

from authhygiene._described import WELL_KNOWN, described, profile_refused
from authhygiene._enforcement import PREFLIGHT_HEADERS, planned, settled, verified_plan
from authhygiene._runtime import Runtime
from authhygiene._throttling import admit, environ_caller, finish, leave
from authhygiene.core.cors import CorsLayer, headers_from_layer, request_origin
from authhygiene.core.decision import Decision
from authhygiene.core.diagnose import AppAnswer, Declared
from authhygiene.core.exchange import (
    WATCHED_STATUSES,
    WATCHED_WITH_CREDENTIALS,
    carries_credentials,
    declared_failure,
    is_preflight,
    raised_status,
)
from authhygiene.core.misconfig import APP_BODY_ERROR
from authhygiene.core.origin_patterns import matches_any_site
from authhygiene.errors import ENVIRON_KEY, AuthFailure
from authhygiene.identity import IDENTITY_KEY
from authhygiene.logging import emit_misconfig
from authhygiene.request_views import EnvironRequest, Plans, view_from_environ

# The environ key marking a request the throttle has admitted.
_ADMITTED = "authhygiene.throttle.admitted"

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


def _listen_to_flask(app: object) -> object | None:
    """Flask turns an exception a view lets escape into its own 500 before
    we see it; its got_request_exception signal still names it. Connected
    only for `app.wsgi_app` of a Flask app, the documented one-liner.
    Returns the Flask app (None for any other WSGI app)."""
    owner: object = getattr(app, "__self__", None)
    if owner is None or not type(owner).__module__.startswith("flask"):
        return None
    try:
        from flask import got_request_exception
    except ImportError:  # pragma: no cover - a Flask app without flask
        return None
    got_request_exception.connect(_remember_exception, sender=owner, weak=False)
    return owner


# Where the body of a Flask refusal to a HEAD is left (bounded), for the
# diagnosis only: werkzeug drops it from the answer to a HEAD, so without it
# a HEAD would be explained with less than the GET the client may send next.
HEAD_BODY_KEY = "authhygiene.head_body"


def _head_body_keeper(environ: dict[str, Any], limit: int) -> Callable[..., None]:
    """A request_finished receiver for one HEAD request: the body of the
    refusal the view built, read before werkzeug drops it (RFC 9110 §9.3.2:
    HEAD gets the header fields a GET would). Connected around that request
    only, so other requests never pay for it; they see it while it is
    connected and are told apart by their environ."""

    def keep(sender: object, response: object = None, **extra: object) -> None:
        # The app's request must not fail for our sake, whatever the response is.
        with contextlib.suppress(Exception):
            from flask import request

            status = getattr(response, "status_code", 0)
            if request.environ is not environ or not isinstance(status, int) or status < 400:
                return
            if not getattr(response, "is_sequence", False) and not _watched(str(status), environ):
                # A stream (a generator, stream_with_context) is read only for
                # a refusal we decide, as much as a GET's would be: werkzeug
                # never sends it for a HEAD, so nothing else reads it, and it
                # still closes it.
                return
            chunks: list[bytes] = []
            try:
                size = 0
                for chunk in response.iter_encoded():  # type: ignore[attr-defined]
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > limit:
                        break
            finally:
                # What was read before a stream broke is still what the GET shows.
                environ[HEAD_BODY_KEY] = b"".join(chunks)[:limit]

    return keep


def _call_flask_head(
    owner: object,
    app: WSGIApp,
    environ: dict[str, Any],
    start_response: StartResponse,
    limit: int,
) -> Iterable[bytes]:
    from flask import request_finished

    with request_finished.connected_to(_head_body_keeper(environ, limit), sender=owner):
        return app(environ, start_response)


def _status_line(status: int) -> str:
    line = _STATUS_LINES.get(status)
    if line is None:
        try:
            line = f"{status} {HTTPStatus(status).phrase}"
        except ValueError:
            line = f"{status} Unknown"
    return line


_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


# What `next(iterator, _END)` gives at the end: an app may yield anything.
_END: Any = object()


def _cost(chunk: object) -> int:
    """What a chunk counts against the read bound: its length, at least 1
    (a run of empty chunks is bounded too); 1 for what has no length."""
    return (len(chunk) or 1) if isinstance(chunk, (bytes, bytearray, str)) else 1


def _close(iterable: object) -> None:
    close = getattr(iterable, "close", None)
    if close is not None:
        close()


def _note_app_error(runtime: Runtime, status: str) -> None:
    """The app's iterable raised on a refusal we answer: say so once, by kind
    alone (the error's text may hold the request). The logger is the app's:
    if even it fails, the refusal is still sent."""
    with contextlib.suppress(Exception):
        emit_misconfig(runtime.logger, (APP_BODY_ERROR,), {"status": int(status[:3])})


def _close_refused(runtime: Runtime, iterable: object, status: str) -> None:
    """Close the app's iterable of a refusal we answer ourselves. Its close()
    raising is the app's bug, but our answer is already complete and
    correct: it is sent and the error logged, instead of a 500 the server
    would make of it after (or instead of) the refusal."""
    try:
        _close(iterable)
    except Exception:
        _note_app_error(runtime, status)


def _write(
    environ: dict[str, Any],
    start_response: StartResponse,
    decision: Decision,
    exc_info: ExcInfo | None = None,
) -> list[bytes]:
    start_response(_status_line(decision.status), list(decision.headers), exc_info)
    if environ.get("REQUEST_METHOD") == "HEAD":
        return []
    return [decision.body]


class _Exchange:
    """A response the app started with a watched status: held, not forwarded."""

    __slots__ = (
        "body",
        "environ",
        "exc_info",
        "headers",
        "start_response",
        "status_line",
    )

    def __init__(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        status_line: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
    ) -> None:
        self.environ = environ
        self.start_response = start_response
        self.status_line = status_line
        self.headers = headers
        # PEP 3333: a second start_response (an error page replacing what the
        # app started) carries exc_info; the server needs it to accept ours.
        self.exc_info = exc_info
        self.body: list[bytes] = []

    def _read(
        self, result: Iterable[bytes], limit: int
    ) -> tuple[Iterator[bytes], Exception | None]:
        """Read the app's body up to just past `limit`: the rest of it (empty
        once read whole) and the exception reading raised (None if none did)."""
        size = sum(map(_cost, self.body))
        iterator: Iterator[bytes] = iter(())
        try:
            iterator = iter(result)
            while size <= limit:
                chunk = next(iterator, _END)
                if chunk is _END:
                    return iter(()), None
                self.body.append(chunk)
                size += _cost(chunk)
        except Exception as exc:
            return iter(()), exc
        except BaseException:
            with contextlib.suppress(Exception):
                _close(result)
            raise
        return iterator, None

    def finish(
        self,
        middleware: AuthHygieneWSGI,
        result: Iterable[bytes],
        broken: Exception | None = None,
    ) -> Iterable[bytes]:
        """Read the captured answer (bounded), and either start the response
        the core decides (the app's iterable closed once, here) or replay the
        app's answer as it was. `broken`: reading the body already raised
        this (before its first chunk)."""
        limit = middleware.limit
        if broken is None:
            rest, broken = self._read(result, limit)
        else:
            rest = iter(())
        # The app's answer as the server would have had it without us: the
        # chunks read, then the rest, or the error that broke reading.
        replay = _Chain(self.body, rest, result, broken)
        # Only bytes say anything (PEP 3333); a str chunk is the server's to
        # fail on if the app's answer goes out, never ours on a refusal.
        excerpt = b"".join([chunk for chunk in self.body if isinstance(chunk, bytes)])[:limit]
        if not excerpt and self.environ.get("REQUEST_METHOD") == "HEAD":
            # A HEAD is decided on the status and headers the app gave, and
            # the body Flask built for it (werkzeug drops it from the answer),
            # never by running the app again: it runs once per request.
            kept = self.environ.get(HEAD_BODY_KEY)
            excerpt = kept[:limit] if isinstance(kept, bytes) else b""
        try:
            answer = AppAnswer(
                int(self.status_line[:3]),
                tuple([(name.lower(), value) for name, value in self.headers]),
                excerpt,
            )
        except Exception:
            # A status or headers we cannot read: the server judges them.
            return self._as_it_was(replay)
        failure = self.environ.get(ENVIRON_KEY)
        declared = failure.declared() if isinstance(failure, AuthFailure) else None
        if declared is None and broken is not None:
            declared = declared_failure(broken)  # the body raised the app's own AuthFailure
        escaped = self.environ.get(EXCEPTION_KEY)
        if declared is None and isinstance(escaped, Exception):
            declared = declared_failure(escaped)
            if declared is None:
                # A 500 for an exception that is not an auth failure: as it was.
                return self._as_it_was(replay)
        decision = middleware.decide(self.environ, answer, declared)
        if decision is None or not decision.rewrite:
            return self._as_it_was(replay)  # not ours to change
        # Ours to answer, complete and correct whatever the app's body did
        # (raised, or raises in close()): the rest is not read.
        if broken is not None:
            _note_app_error(middleware.runtime, self.status_line)
        _close_refused(middleware.runtime, replay, self.status_line)
        return _write(self.environ, self.start_response, decision, self.exc_info)

    def _as_it_was(self, replay: _Chain) -> Iterable[bytes]:
        """The app's answer replayed, unchanged: its status, headers and
        exc_info; then its chunks, the rest streamed on, an error its body
        raised raised where the server would have met it; the app's close()
        run by the server's (exactly once, raising if it raises)."""
        try:
            self.start_response(self.status_line, self.headers, self.exc_info)
        except BaseException:
            # The server refused the app's own start: the error is the
            # app's to the server as without us, the iterable closed once.
            with contextlib.suppress(Exception):
                replay.close()
            raise
        return replay


class _Deferred:
    """For apps that call start_response on the first iteration (PEP 3333
    allows it): decide after the first chunk, and close the app's iterable
    exactly once whichever way it goes."""

    __slots__ = (
        "_closed",
        "_environ",
        "_iterator",
        "_middleware",
        "_result",
        "_sr",
        "_started",
        "on_close",
    )

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
        # Run once when closed (the throttle's slot, held until the decision).
        self.on_close: Callable[[], None] | None = None

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._iterator is None:
            try:
                source = iter(self._result)
                read = [next(source)]
            except StopIteration:
                source, read = iter(()), []
            except Exception as exc:
                return self._broken(exc)
            except BaseException:
                self.close()
                raise
            return next(self._begin(_Chain(read, source, self._result)))
        return next(self._iterator)

    def _begin(self, chained: _Chain, broken: Exception | None = None) -> Iterator[bytes]:
        # The chain first: if finish() raises, close() still closes the app's
        # iterable through it, and only once (finish() may have closed it).
        self._iterator = chained
        exchange = self._started()
        if isinstance(exchange, _Exchange):
            # finish() closes the app's iterable, or hands it on in the chain.
            self._iterator = iter(exchange.finish(self._middleware, chained, broken))
        elif broken is not None:
            self.close()
            raise broken
        return self._iterator

    def _broken(self, exc: Exception) -> bytes:
        """The app's iterable raised before its first chunk."""
        declared = declared_failure(exc)
        if declared is None:
            # A watched status the app started is still answered (finish()
            # decides that); anything else propagates as it would without us.
            return next(self._begin(_Chain([], iter(()), self._result), exc))
        self._iterator = iter(())
        _close_refused(self._middleware.runtime, self._result, str(raised_status(declared)))
        self._iterator = iter(self._middleware.raised(self._environ, self._sr, declared, exc))
        return next(self._iterator)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._iterator is None:
                _close(self._result)
            elif isinstance(self._iterator, _Chain):
                self._iterator.close()
        finally:
            if self.on_close is not None:
                self.on_close()


class _Chain:
    """Already-read chunks, then the rest of an iterator, or the error that
    stopped reading it (raised once, where the app raised it); close()
    closes the app's iterable once."""

    __slots__ = ("_broken", "_closed", "_first", "_owner", "_rest")

    def __init__(
        self,
        first: list[bytes],
        rest: Iterator[bytes],
        owner: object,
        broken: Exception | None = None,
    ) -> None:
        self._first = iter(first)
        self._rest = rest
        self._owner = owner
        self._broken = broken
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        chunk = next(self._first, _END)
        if chunk is not _END:
            return chunk
        broken = self._broken
        if broken is not None:
            self._broken = None
            raise broken
        return next(self._rest)

    def close(self) -> None:
        if not self._closed:  # PEP 3333: the app's close() runs once
            self._closed = True
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
        self._plans = Plans(self.runtime.policy)
        self._flask = _listen_to_flask(app)
        self._enforce = self.runtime.policy.mode == "enforce"
        self._throttled = self.runtime.throttle is not None
        self._describes = self.runtime.policy.protected_resource is not None
        self._profiled = self.runtime.policy.profile is not None
        # Whether anything may be answered before the app runs (the metadata
        # document among it: checked there, so that the path without any of
        # these options pays for one flag).
        self._before_app = self._enforce or self._throttled or self._profiled or self._describes

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not self._inspected:
            # At the first request, not here: flask-cors may be set up later.
            self._inspected = True
            misconfig = _flask_cors_misconfig(self.app, self._cors is not None)
            if misconfig:
                emit_misconfig(self.runtime.logger, misconfig, {})
        if self._cors is not None and _ADMITTED not in environ:  # once, not on re-entry
            # The metadata document first: open to any origin, its own CORS.
            if self._describes and (described := self._described(environ, start_response)):
                return described
            origins = _origins(environ)
            if origins and is_preflight(
                environ.get("REQUEST_METHOD"), environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
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
        if self._before_app:
            refused = self._guarded(environ, start_response)
            if refused is not None:
                return refused
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
                state = _Exchange(environ, start_response, status, headers, exc_info)
                return state.body.append  # PEP 3333 write(): collected like the iterable
            state = True
            return start_response(status, headers, exc_info)

        try:
            if self._flask is not None and environ.get("REQUEST_METHOD") == "HEAD":
                result = _call_flask_head(self._flask, self.app, environ, start, self.limit)
            else:
                result = self.app(environ, start)
        except Exception as exc:
            declared = declared_failure(exc)
            if declared is None:
                raise
            return self.raised(environ, start_response, declared, exc)
        if state is True:
            return result  # the success path: untouched, the server closes it
        if state is None:
            return _Deferred(self, environ, start_response, result, lambda: state)
        return state.finish(self, result)

    def _guarded(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes] | None:
        """The answer before the app runs (a throttled client, enforce
        mode's refusal), or None: the app's turn. With `throttle=`, the
        whole exchange, run inside the request's slot (re-entering
        `__call__`; the slot is freed once the app has answered and a
        failure, if any, is counted). The metadata document and `profile=`'s
        refusals come first, once."""
        if self._describes and _ADMITTED not in environ:
            described = self._described(environ, start_response)
            if described:
                return described
        if self._profiled and _ADMITTED not in environ:
            refusal = profile_refused(
                self.runtime,
                EnvironRequest(environ, self._plans),
                f"{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}",
                str(environ.get("QUERY_STRING", "")),
                "HTTP_ORIGIN" in environ,
            )
            if refusal is not None and refusal.rewrite:
                return _write(environ, start_response, refusal)
        if self._throttled and _ADMITTED not in environ:
            request = EnvironRequest(environ, self._plans)
            refusal, ticket = admit(
                self.runtime, request, lambda: environ_caller(self.runtime, environ, request)
            )
            if refusal is not None:
                return _write(environ, start_response, refusal)
            environ[_ADMITTED] = True
            if ticket is None:
                return self._refused(environ, start_response) if self._enforce else None
            held = False
            try:
                result = self(environ, start_response)
                if ticket is not None and isinstance(result, _Deferred):
                    # Decided at its first chunk: the slot is held until then.
                    result.on_close = lambda: leave(self.runtime, ticket)
                    held = True
                return result
            finally:
                if not held:
                    leave(self.runtime, ticket)
        return self._refused(environ, start_response) if self._enforce else None

    def _described(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> list[bytes] | None:
        """`protected_resource=`: the answer to a request for the metadata
        document, before the CORS step, the throttle and the app's auth."""
        path = f"{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}"
        if WELL_KNOWN not in path:
            return None
        answer = described(self.runtime, view_from_environ(environ))
        if answer is None:
            return None
        start_response(_status_line(answer.status), list(answer.headers))
        return [answer.body]

    def _refused(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> list[bytes] | None:
        """Enforce mode, before the app: the refusal sent, or None with the
        identity in `environ["authhygiene.identity"]` when one was verified."""
        request = EnvironRequest(environ, self._plans)
        plan = planned(self.runtime, request.decoded())
        by, verdict = verified_plan(plan)
        outcome = settled(self.runtime, request, plan, by, verdict, record=not self._throttled)
        if outcome.preflight:
            start_response("204 No Content", list(PREFLIGHT_HEADERS))
            return []
        decision = outcome.decision
        if decision is not None and self._throttled:
            decision = self._counted(environ, request, decision)
        if decision is not None and decision.rewrite:
            return _write(environ, start_response, decision)
        if outcome.identity is not None:
            environ[IDENTITY_KEY] = outcome.identity
        return None

    def raised(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        declared: Declared,
        exc: Exception,
    ) -> list[bytes]:
        app_cors: list[tuple[str, str]] = []
        origin = request_origin(_origins(environ))
        if origin is not None and self._cors is None:
            # An escaped exception (Flask in debug): flask-cors' own answer.
            app_cors = headers_from_layer(origin, environ.get(APP_CORS_KEY, ()))
        answer = AppAnswer(raised_status(declared), tuple(app_cors))
        decision = self.decide(environ, answer, declared)
        if decision is None or not decision.rewrite:
            raise exc  # report-only: change nothing
        return _write(environ, start_response, decision)

    def decide(
        self, environ: dict[str, Any], answer: AppAnswer, declared: Declared | None
    ) -> Decision | None:
        request = EnvironRequest(environ, self._plans)
        if not self._throttled:
            return self.runtime.decide(request, answer, declared)
        decision = self.runtime.decide(request, answer, declared, record=False)
        return self._counted(environ, request, decision)

    def _counted(
        self, environ: dict[str, Any], request: EnvironRequest, decision: Decision | None
    ) -> Decision | None:
        """`throttle=`: count the failure; the answer that leaves (recorded)."""
        return finish(
            self.runtime, request, lambda: environ_caller(self.runtime, environ, request), decision
        )
