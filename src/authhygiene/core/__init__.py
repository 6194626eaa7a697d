"""The sans-I/O core: pure functions and frozen values, no framework imports.

Adapters hand the core a lazy `Request` (`authhygiene.request_views`) and the
app's answer as an `AppAnswer`; the one entry point, `shape_cache.Decider`
(behind `_runtime.Runtime.decide`), turns them into a `Decision`, which the
adapter writes. Every rule lives here once (`exchange`: which answers are
held, what a raised exception declares), so all adapters share it and it is
tested as plain functions.
"""

from authhygiene.core.answer import AppAnswer, Declared
from authhygiene.core.challenge import Challenge, parse_challenges
from authhygiene.core.cors import CORS
from authhygiene.core.credentials import Credentials, Misuse, RequestView, parse_credentials
from authhygiene.core.decision import Decision, decide
from authhygiene.core.diagnose import Failure, diagnose
from authhygiene.core.exchange import (
    WATCHED_STATUSES,
    WATCHED_WITH_CREDENTIALS,
    carries_credentials,
)
from authhygiene.core.policy import Policy, PolicyError
from authhygiene.core.reasons import REASONS, Reason, ReasonInfo
from authhygiene.core.recognisers import (
    EXCEPTIONS,
    RECOGNISERS,
    Recogniser,
    declared_from_exception,
)

__all__ = [
    "CORS",
    "EXCEPTIONS",
    "REASONS",
    "RECOGNISERS",
    "WATCHED_STATUSES",
    "WATCHED_WITH_CREDENTIALS",
    "AppAnswer",
    "Challenge",
    "Credentials",
    "Decision",
    "Declared",
    "Failure",
    "Misuse",
    "Policy",
    "PolicyError",
    "Reason",
    "ReasonInfo",
    "Recogniser",
    "RequestView",
    "carries_credentials",
    "decide",
    "declared_from_exception",
    "diagnose",
    "parse_challenges",
    "parse_credentials",
]
