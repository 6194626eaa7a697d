"""What the three adapters share beyond the core: the validated policy, the
logger, and the step from "the app refused" to "here is the decision,
logged"."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authhygiene.core.cors import CorsLayer
from authhygiene.core.credentials import RequestView
from authhygiene.core.decision import Decision, decide
from authhygiene.core.diagnose import AppAnswer, Declared
from authhygiene.core.policy import Policy, PolicyError
from authhygiene.logging import default_logger, emit, emit_misconfig

__all__ = ["Runtime"]


def _check_logger(logger: Any, level: str) -> None:
    for method in {level, "warning"}:
        if not callable(getattr(logger, method, None)):
            raise PolicyError(
                f"authhygiene: logger={logger!r} has no callable .{method}(); pass a structlog"
                " logger such as structlog.get_logger('authhygiene')."
            )


@dataclass(frozen=True, slots=True)
class Runtime:
    policy: Policy
    logger: Any
    # The adapters' CORS step when ``cors=`` is configured, else None.
    cors: CorsLayer | None = None

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
        except PolicyError as exc:
            # Raised here, at construction. Starlette builds its middleware
            # lazily and uvicorn's `--lifespan auto` hides a start-up error, so
            # say it in the log too, where an operator looks first.
            default_logger().error("auth.misconfig", kind="invalid_options", error=str(exc))
            raise
        cors = None
        if policy.cors is not None:
            cors = CorsLayer(
                policy.cors,
                policy.problem_type_base,
                (policy.request_id_header,) if policy.request_id_header else (),
            )
        return cls(policy, logger if logger is not None else default_logger(), cors)

    def handle(
        self, view: RequestView, answer: AppAnswer, declared: Declared | None = None
    ) -> Decision | None:
        decision = decide(self.policy, view, answer, declared=declared)
        if decision is not None:
            emit(self.logger, self.policy.log_level, decision.event, decision.log)
            if decision.misconfig:
                emit_misconfig(self.logger, decision.misconfig, decision.log)
        return decision
