"""`authhygiene audit`: a server's refusals checked from the outside.

`probes` is the bounded battery of requests; `checks` the one table of
rules each answer is held to, shared by the command line and the test
helper; `metadata` the RFC 9728 follow-up; `run` sends the battery over
http.client, `inprocess` to an app in this process; `report` writes the
result for people and as JSON (`report.schema.json`). `authhygiene audit`
(cli.py), `authhygiene.testing.assert_auth_hygiene` and the `auth_hygiene`
pytest fixture (`authhygiene.pytest_plugin`) are the ways in.
"""

from authhygiene.audit.checks import CHECKS, Answer, Check, Finding, judge
from authhygiene.audit.probes import Probe, battery

__all__ = ["CHECKS", "Answer", "Check", "Finding", "Probe", "battery", "judge"]
