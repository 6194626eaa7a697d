"""`authhygiene audit`: a server's refusals checked from the outside.

`probes` is the bounded battery of requests; `checks` the one table of
rules each answer is held to, shared by the command line and the test
helper. Work in progress (issue 17): the CLI, the in-process runner and
the PRM follow-up are not built yet.
"""

from authhygiene.audit.checks import CHECKS, Answer, Check, Finding, judge
from authhygiene.audit.probes import Probe, battery

__all__ = ["CHECKS", "Answer", "Check", "Finding", "Probe", "battery", "judge"]
