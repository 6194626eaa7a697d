"""Verifiers with the app's own keys (`JWT`): they know why a token fails
instead of guessing from the app's words. See `authhygiene.verify.jwt`."""

from authhygiene.verify.jwt import JWT, Rejected, Verified

__all__ = ["JWT", "Rejected", "Verified"]
