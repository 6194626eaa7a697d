"""What the three adapters share beyond the core: the validated policy, the
logger, and the step from "the app refused" to "here is the decision,
logged"."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authhygiene.core.credentials import RequestView
from authhygiene.core.decision import Decision, decide
from authhygiene.core.diagnose import AppAnswer, Declared
from authhygiene.core.policy import Policy
from authhygiene.logging import default_logger, emit, emit_misconfig

__all__ = ["Runtime"]


@dataclass(frozen=True, slots=True)
class Runtime:
    policy: Policy
    logger: Any

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Runtime:
        """Validate options once, at start-up. `logger` is ours; every other
        option belongs to the Policy."""
        rest = dict(options)
        logger = rest.pop("logger", None)
        return cls(Policy.from_options(rest), logger if logger is not None else default_logger())

    def handle(
        self, view: RequestView, answer: AppAnswer, declared: Declared | None = None
    ) -> Decision | None:
        decision = decide(self.policy, view, answer, declared=declared)
        if decision is not None:
            emit(self.logger, self.policy.log_level, decision.event, decision.log)
            if decision.misconfig:
                emit_misconfig(self.logger, decision.misconfig, decision.log)
        return decision
