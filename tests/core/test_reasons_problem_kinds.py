"""The `problem` kinds: one enum, and the credentials' misuses among them."""

from __future__ import annotations

from authhygiene.core.credentials import Misuse
from authhygiene.core.reasons import Problem


def test_every_misuse_is_a_problem_kind() -> None:
    assert {m.value for m in Misuse} <= {p.value for p in Problem}
