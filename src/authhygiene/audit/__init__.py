"""`authhygiene audit`: a server's refusals checked from the outside.

`probes` is the bounded battery of requests; `checks` the one table of
rules each answer is held to, shared by the command line and the test
helper; `run` sends the battery over http.client; `report` writes it for
people and as JSON; `authhygiene audit` (cli.py) ties them together.

Work in progress (issue 17, branch `audit17`, not on main). Not built yet:
the in-process runner and pytest plugin (`assert_auth_hygiene(app)` with
pytester tests), the RFC 9728 follow-up (fetch `resource_metadata` and
check `resource`), redirects and slow-server cases, the human output with
a progress bar (rich is no dependency yet: a decision to take), the stock
apps on real servers (DRF session auth, Starlette AuthenticationMiddleware,
Flask-JWT-Extended), nginx `auth_basic` (Makefile), the tmux check of the
human output, the JSON schema, the README section and `make demo`.
"""

from authhygiene.audit.checks import CHECKS, Answer, Check, Finding, judge
from authhygiene.audit.probes import Probe, battery

__all__ = ["CHECKS", "Answer", "Check", "Finding", "Probe", "battery", "judge"]
