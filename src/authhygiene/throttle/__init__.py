"""Failed-authentication throttling: `throttle=Throttle(...)`.

Failures authhygiene answers (401, and 400 for malformed credentials) are
counted per client address and per credential, in this process
("memory://") or for the fleet in Redis ("redis://..."); a key over its
limit is refused 429 `too_many_failures` before the app runs. Successes are
never counted and never cost a storage call.

- `config`: the `Throttle` options, checked at start-up;
- `limit_text`: "5/minute" read with the `limits` grammar;
- `window`: the sliding-window counter's arithmetic (`limits`' scripts);
- `memory`, `redis_store`: the two storages;
- `blocked`, `fleet`: what this process refuses, and how workers tell
  each other;
- `keys`: what failures are counted under (keyed hashes only);
- `gate`: the state of one middleware's throttle.
"""

from __future__ import annotations

from authhygiene.throttle.config import Throttle
from authhygiene.throttle.limit_text import Limit

__all__ = ["Limit", "Throttle"]
