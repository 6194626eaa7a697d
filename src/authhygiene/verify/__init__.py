"""Verifiers with the app's own keys: they know why a credential fails
instead of guessing from the app's words, and in enforce mode they decide.

- `JWT`: access tokens, with static keys or the issuer's JWK Set (`jwks_url=`).
- `APIKey`: keys sent in a header, held as digests.
- `Basic`: user and password (RFC 7617), the app's check or scrypt hashes.

`Scopes` names what a route requires (`require=`).
"""

from authhygiene.core.requirements import Scopes
from authhygiene.identity import Identity
from authhygiene.verify.apikey import APIKey
from authhygiene.verify.basic import Basic
from authhygiene.verify.jwt import JWT, Rejected, Verified

__all__ = ["JWT", "APIKey", "Basic", "Identity", "Rejected", "Scopes", "Verified"]
