"""Pieces of a secret: what an app that shortens, splits or wraps a token echoes.

`scrub` replaces every secret the request carried where it stands whole.
An app that echoes only part of one (the first 4096 characters of a long
token in a debug header, `token[:40] + "..."` in its message) leaves a
piece that no whole-secret search finds. Here every run of 19 or more
visible characters of an outgoing string is checked for a piece of 12
characters taken from a long secret; a run holding one is masked whole.

The check is an index, not a search: the hashes of windows of 12
characters taken every 8 characters of each secret (so a shared run of 12 + 8 - 1 = 19 characters
always contains one), looked up for each position of a candidate run. One
index is built per request's secrets, and only when a string to check has
a candidate run and a secret is long enough to be cut.
"""

from __future__ import annotations

import re

__all__ = ["MIN_PIECE_RUN", "mask_pieces"]

_PIECE = 12
_STRIDE = 8
# The shortest shared run always found; shorter secrets are matched whole.
MIN_PIECE_RUN = _PIECE + _STRIDE - 1
# The part of a secret indexed: an app echoes the start of what it was sent.
_INDEXED_CHARS = 64 * 1024
# Visible characters without space: what a token, and its echo, is made of
# (a password may hold letters beyond ASCII, `pässw0rd:...`).
_RUN_RE = re.compile(rf"[^\s\x00-\x1f\x7f]{{{MIN_PIECE_RUN},}}")

# The last request's secrets and their index: one refusal checks several
# strings against the same tuple. One entry, replaced whole (thread-safe).
# Nothing of a secret outlives its request here: the entry is keyed by the
# tuple's id and hash, not the tuple, and holds the windows' hashes, not
# the windows (a 12-character window is not recovered from a 64-bit hash).
_last: tuple[int, int, frozenset[int]] | None = None


def _index(secrets: tuple[str, ...]) -> frozenset[int]:
    global _last
    key = (id(secrets), hash(secrets))
    last = _last
    if last is not None and last[:2] == key:
        return last[2]
    windows: set[int] = set()
    for secret in secrets:
        # A token, not a URL: an app repeats its own origin and paths.
        if len(secret) >= MIN_PIECE_RUN and "://" not in secret:
            end = min(len(secret), _INDEXED_CHARS) - _PIECE + 1
            windows.update(hash(secret[start : start + _PIECE]) for start in range(0, end, _STRIDE))
    index = frozenset(windows)
    _last = (*key, index)
    return index


def mask_pieces(text: str, secrets: tuple[str, ...], mask: str) -> str:
    """`text` with every run of visible characters that shares 19 or more
    characters with one of `secrets` replaced by `mask`."""
    if len(text) < MIN_PIECE_RUN or not any(len(s) >= MIN_PIECE_RUN for s in secrets):
        return text
    runs = [m.span() for m in _RUN_RE.finditer(text) if m.group(0) != mask]
    if not runs:
        return text
    index = _index(secrets)
    pieces: list[str] = []
    done = 0
    for start, end in runs:
        for at in range(start, end - _PIECE + 1):
            if hash(text[at : at + _PIECE]) in index:
                pieces += (text[done:start], mask)
                done = end
                break
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)
