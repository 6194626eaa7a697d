"""What the three adapters share beyond the core: the validated policy, the
logger, and the step from "the app refused" to "here is the decision,
logged"."""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from authhygiene._guarded import Guarded
from authhygiene.core.cors import CorsLayer
from authhygiene.core.decision import Decision
from authhygiene.core.diagnose import AppAnswer, Declared
from authhygiene.core.events import Event
from authhygiene.core.fallback import INTERNAL_ERROR, LAST_RESORT, safe_refusal
from authhygiene.core.flood import FloodGate
from authhygiene.core.policy import Policy, PolicyError
from authhygiene.core.request import Request
from authhygiene.core.resource import WELL_KNOWN
from authhygiene.core.shape_cache import Decider
from authhygiene.core.verdict import Rejected, Verified
from authhygiene.logging import (
    default_logger,
    emit,
    emit_misconfig,
    flush_suppressed,
    wait_for_flush,
)
from authhygiene.metrics import FailureMetrics, failure_metrics

SUPPRESSED_EVENT = Event.FAILURE_SUPPRESSED.value
REPORT_ONLY_SUPPRESSED_EVENT = Event.REPORT_ONLY_SUPPRESSED.value

__all__ = ["Runtime", "flush_suppressed"]


def _check_logger(logger: Any, level: str) -> None:
    for method in {level, "warning"}:
        if not callable(getattr(logger, method, None)):
            raise PolicyError(
                f"authhygiene: logger={logger!r} has no callable .{method}(); pass a structlog"
                " logger such as structlog.get_logger('authhygiene')."
            )


class _Summaries:
    """Writes `auth.failure.suppressed` when a window closes, also when no
    further failure comes to trigger it: a storm that stops still gets its
    count logged, by a timer thread that exists only while counts wait."""

    def __init__(self, gate: FloodGate, logger: Any, level: str, *, report_only: bool) -> None:
        self.gate, self.logger, self.level = gate, logger, level
        # In report-only mode the events counted were `auth.report_only`.
        self.event = REPORT_ONLY_SUPPRESSED_EVENT if report_only else SUPPRESSED_EVENT
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._pid = 0

    def write(self, closed: list[Any]) -> None:
        for summary in closed:
            emit(self.logger, self.level, self.event, summary.fields())

    def schedule(self) -> None:
        with self._lock:
            if self._timer is not None and self._pid == os.getpid():
                return
            # A timer started before a fork does not run in the child.
            self._pid = os.getpid()
            self._timer = threading.Timer(self.gate.limit.window_s + 0.25, self._fire)
            self._timer.daemon = True
            self._timer.start()
            wait_for_flush(self)

    def _fire(self) -> None:
        with self._lock:
            self._timer = None
        # The log's stream may be gone (a server's redirected stdout closed
        # at shutdown); a timer thread has no one to raise to.
        with contextlib.suppress(ValueError, OSError):
            self.write(self.gate.flush(time.time()))
        if self.gate.pending():
            self.schedule()

    def flush(self) -> None:
        self.write(self.gate.flush(time.time(), everything=True))


def _at_exit() -> None:
    # At exit the log's stream may already be closed (a test runner's
    # capture, a server's redirected stdout): then there is nothing to do.
    with contextlib.suppress(ValueError, OSError):
        flush_suppressed()


atexit.register(_at_exit)


def _report_internal_error(logger: Any, error: str, status: int) -> None:
    """`auth.misconfig` kind `internal_error`, once per process."""
    # The logger is the app's: if even it fails, the refusal is still answered.
    with contextlib.suppress(Exception):
        emit_misconfig(logger, (INTERNAL_ERROR,), {"status": status, "error": error})


@dataclass(frozen=True, slots=True)
class Runtime:
    policy: Policy
    logger: Any
    # The adapters' CORS step when ``cors=`` is configured, else None.
    cors: CorsLayer | None = None
    metrics: FailureMetrics | None = None
    summaries: _Summaries | None = field(default=None, repr=False)
    decider: Decider | None = field(default=None, repr=False)
    # `throttle=`'s state in this process (`authhygiene.throttle.gate`).
    throttle: Any = field(default=None, repr=False)
    # The API-key headers the policy reads, as ASGI names and as environ
    # keys: where the throttle finds a request's key, read once here.
    key_headers: tuple[frozenset[bytes], tuple[str, ...]] = field(
        default=(frozenset(), ()), repr=False
    )

    def __post_init__(self) -> None:
        if self.decider is None:
            object.__setattr__(self, "decider", Decider(self.policy))

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Runtime:
        """Validate options once, at start-up. `logger` is ours; every other
        option belongs to the Policy."""
        rest = dict(options)
        logger = rest.pop("logger", None)
        try:
            policy = Policy.from_options(rest)
            if logger is not None:
                _check_logger(logger, policy.log_level)
            metrics = failure_metrics(policy.metrics)
        except PolicyError as exc:
            # Raised here, at construction. Starlette builds its middleware
            # lazily and uvicorn's `--lifespan auto` hides a start-up error, so
            # say it in the log too, where an operator looks first.
            default_logger().error(Event.MISCONFIG.value, kind="invalid_options", error=str(exc))
            raise
        cors = None
        if policy.cors is not None:
            also = (policy.request_id_header,) if policy.request_id_header else ()
            if policy.throttle is not None:
                # A 429's limit, for page code that backs off.
                also = (*also, "RateLimit", "RateLimit-Policy")
            # The metadata document (protected_resource=) carries its own CORS.
            passes = (WELL_KNOWN,) if policy.protected_resource is not None else ()
            cors = CorsLayer(policy.cors, policy.problem_type_base, also, passes)
        logger = logger if logger is not None else default_logger()
        guarded = tuple(Guarded(verifier) for verifier in policy.verifiers)
        for verifier in guarded:
            # A verifier's own trouble (the issuer's JWKS down, the app's
            # check raising) goes where the app's failures go.
            verifier.use_logger(logger)
        object.__setattr__(policy, "verifiers", guarded)
        if policy.misconfig:
            # Configuration that works but that some clients misread: said
            # once, at start-up, not at the first request.
            emit_misconfig(logger, policy.misconfig, {})
        summaries = (
            _Summaries(
                FloodGate(policy.log_limit),
                logger,
                policy.log_level,
                report_only=policy.report_only,
            )
            if policy.log_limit is not None
            else None
        )
        throttle = None
        if policy.throttle is not None:
            from authhygiene.throttle.gate import gate_for

            throttle = gate_for(policy.throttle, logger, metrics)
        names = dict.fromkeys((*policy.verifier_headers, *policy.api_key_headers))
        key_headers = (
            frozenset(name.lower().encode("latin-1") for name in names),
            tuple("HTTP_" + name.upper().replace("-", "_") for name in names),
        )
        return cls(
            policy, logger, cors, metrics, summaries, throttle=throttle, key_headers=key_headers
        )

    def decide(
        self,
        request: Request,
        answer: AppAnswer,
        declared: Declared | None = None,
        verdict: Verified | Rejected | None = None,
        *,
        record: bool = True,
    ) -> Decision | None:
        """The one entry point of the refusal path: the decision for the
        app's `answer` to `request` (None: not an auth failure, leave it),
        recorded (metrics, the flood gate, the log) unless `record` is False
        (the throttle may still turn it into a 429: it records the answer
        that leaves, once). Never raises."""
        assert self.decider is not None  # set in __post_init__
        try:
            decision = self.decider(request, answer, declared, verdict=verdict)
        except Exception as exc:  # never raise on the refusal path
            decision = self._failed(answer, declared, exc)
        if decision is not None and record:
            self.record(decision)
        return decision

    def record(self, decision: Decision) -> None:
        """Count and log the decision that leaves. Never raises."""
        try:
            self._record(decision)
        except Exception as exc:  # the app's logger or metrics: the answer still goes
            _report_internal_error(self.logger, type(exc).__name__, decision.status)

    def _failed(
        self, answer: AppAnswer, declared: Declared | None, exc: Exception
    ) -> Decision | None:
        """Explaining the refusal raised: answer it all the same, generically,
        and say so once, by the error's type alone (its text may hold the input)."""
        _report_internal_error(self.logger, type(exc).__name__, answer.status)
        try:
            return safe_refusal(self.policy, answer, declared)
        except Exception:
            return LAST_RESORT if not self.policy.report_only else None

    def _record(self, decision: Decision) -> None:
        log = decision.log
        reason, status = str(log["reason"]), log["status"]
        if self.metrics is not None:
            self.metrics.failure(reason, status, log.get("scheme"))
        write = True
        if self.summaries is not None:
            client, path = log.get("client"), log.get("path")
            fingerprint = log.get("credential_fingerprint")
            write, closed = self.summaries.gate.admit(
                reason,
                client if isinstance(client, str) else None,
                path if isinstance(path, str) else None,
                status,
                time.time(),
                fingerprint if isinstance(fingerprint, str) else None,
            )
            self.summaries.write(closed)
            if not write:
                if self.metrics is not None:
                    self.metrics.suppressed()
                self.summaries.schedule()
        if write:
            emit(self.logger, self.policy.log_level, decision.event, log)
        if decision.misconfig:
            emit_misconfig(self.logger, decision.misconfig, log)
