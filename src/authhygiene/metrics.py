"""Prometheus counters for auth failures, with the `prometheus` extra.

`authhygiene_failures_total{reason,status,scheme}` counts every failure the
middleware answered (suppressed log lines included: metrics are how a flood
is seen). Labels stay low-cardinality: `reason` comes from the fixed
taxonomy, `status` from a handful of codes, and `scheme` from the known
scheme names, with anything a client made up counted as "other"; paths and
clients never become labels. `authhygiene_log_events_suppressed_total`
counts the `auth.failure` lines the flood gate held back, and
`authhygiene_throttle_events_total{event,limited_by}` what `throttle=` does
besides refusing: keys blocked, blocks shadow mode logged instead of
enforcing, failures its storage could not count.

Without prometheus-client installed nothing is imported: the module is only
loaded when the package is found. When it is, it is imported here, when this
module is (with the rest of the app's imports), never in a middleware's
constructor: Starlette builds its middleware at the first request, inside
the event loop, and importing prometheus-client reads /proc/self/stat.

The counters live in prometheus-client's default registry, once per process,
so every middleware instance (and its multiprocess mode under gunicorn, with
PROMETHEUS_MULTIPROC_DIR set) shares them.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from types import ModuleType
from typing import Any

from authhygiene.core.option_error import PolicyError

__all__ = ["FAILURES", "SUPPRESSED", "THROTTLE", "FailureMetrics", "failure_metrics"]

FAILURES = "authhygiene_failures"
SUPPRESSED = "authhygiene_log_events_suppressed"
THROTTLE = "authhygiene_throttle_events"
# The throttle counter's label values, all of them known in advance.
_THROTTLE_EVENTS = {
    "blocked": ("client", "credential"),
    "shadow": ("client", "credential"),
    "storage_error": ("none",),
}
# The scheme label's values: RFC 9110 registry names and common custom ones;
# anything else a client sends is "other", so it cannot grow the series.
_SCHEMES = frozenset(
    {"Bearer", "Basic", "DPoP", "Digest", "Negotiate", "Token", "JWT", "ApiKey", "HOBA", "Mutual"}
)


_CHILDREN_MAX = 1024


def _load_prometheus() -> ModuleType | None:
    """prometheus-client if it is installed and may be imported, else None."""
    try:
        spec = importlib.util.find_spec("prometheus_client")
    except (ImportError, ValueError):
        return None  # an import hook refusing it: not installed, as far as we may tell
    if spec is None:
        return None
    try:
        return importlib.import_module("prometheus_client")
    except ImportError:
        return None


# Once, at import: a failed import is not retried at every construction.
_prometheus = _load_prometheus()


class FailureMetrics:
    """The two counters, created once per process."""

    def __init__(self, prometheus: ModuleType) -> None:
        Counter = prometheus.Counter  # noqa: N806 - the library's class

        self._failures: Any = Counter(
            FAILURES,
            "Authentication failures answered by authhygiene.",
            ("reason", "status", "scheme"),
        )
        self._children: dict[tuple[str, object, object], Any] = {}
        self._suppressed: Any = Counter(
            SUPPRESSED,
            "auth.failure log events not written because identical failures came too fast.",
        )
        # `throttle=`: what the 429s (counted as failures above) do not show.
        throttle = Counter(
            THROTTLE,
            "Throttle events besides its 429s: keys blocked (by limit), blocks shadow mode"
            " logged instead of enforcing, failures the storage could not count.",
            ("event", "limited_by"),
        )
        self._throttle: dict[tuple[str, str], Any] = {
            (event, by): throttle.labels(event, by)
            for event, bys in _THROTTLE_EVENTS.items()
            for by in bys
        }

    def failure(self, reason: str, status: object, scheme: object) -> None:
        # `labels()` validates and locks on every call; the series are few
        # (reasons x statuses x known schemes), so each is looked up once,
        # by the values as given (an unknown scheme only once per value).
        key = (reason, status, scheme)
        child = self._children.get(key)
        if child is None:
            if scheme is None:
                label = "none"
            elif scheme in _SCHEMES:
                label = str(scheme)
            else:
                label = "other"
            child = self._failures.labels(reason, str(status), label)
            if len(self._children) < _CHILDREN_MAX:  # schemes are the client's to choose
                self._children[key] = child
        child.inc()

    def suppressed(self, count: int = 1) -> None:
        self._suppressed.inc(count)

    def throttle(self, event: str, limited_by: str = "none") -> None:
        child = self._throttle.get((event, limited_by))
        if child is not None:
            child.inc()


_shared: FailureMetrics | None = None
_shared_lock = threading.Lock()


def failure_metrics(option: bool | None) -> FailureMetrics | None:
    """The process's counters for the `metrics` option: None (on when
    prometheus-client is installed), True (required) or False (off)."""
    global _shared
    if option is False:
        return None
    prometheus = _prometheus
    if prometheus is None:
        if option:
            raise PolicyError(
                "authhygiene: metrics=True needs prometheus-client; install the extra with"
                " `pip install 'authhygiene[prometheus]'`, or pass metrics=None to count"
                " failures only when it is installed."
            )
        return None
    with _shared_lock:
        if _shared is None:
            _shared = FailureMetrics(prometheus)
        return _shared
