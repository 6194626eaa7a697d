"""A piece of a secret that an app cut or split itself is masked at the sink."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authhygiene.core.decision import kept_value
from authhygiene.core.fragments import MIN_PIECE_RUN, mask_pieces
from authhygiene.core.redact import REDACTED, clean_for_sink

TOKEN = "Zk9qX2c1bW9rZXktdG9rZW4tMDEyMzQ1Njc4OWFiY2RlZg"
LONG = "".join(string.ascii_letters[i % 52] + str(i % 10) for i in range(4000))


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        pytest.param(f"token {TOKEN[:30]}...", f"token {REDACTED}", id="start-cut-by-the-app"),
        pytest.param(f"tail={TOKEN[-25:]}", REDACTED, id="end-in-a-field"),
        pytest.param(f"a {TOKEN[5:30]} b", f"a {REDACTED} b", id="middle"),
        pytest.param(f"x {LONG[:4096]}", f"x {REDACTED}", id="first-4096-of-a-long-one"),
        pytest.param(f"x {LONG[5000:5030]}", f"x {REDACTED}", id="deep-inside-a-long-one"),
        pytest.param(f"short {TOKEN[: MIN_PIECE_RUN - 2]}", None, id="too-short-to-tell"),
        pytest.param("nothing to see in this message at all", None, id="clean"),
        pytest.param(f"{REDACTED} and {REDACTED}", None, id="masks-stay"),
    ],
)
def test_mask_pieces(text: str, masked: str | None) -> None:
    assert mask_pieces(text, (TOKEN, LONG), REDACTED) == (text if masked is None else masked)


def test_short_secrets_are_left_to_the_whole_match() -> None:
    assert mask_pieces("pin 1234 and more text here", ("1234",), REDACTED) == (
        "pin 1234 and more text here"
    )


@given(
    secret=st.text(alphabet=string.ascii_letters + string.digits + "-._~+/", min_size=24),
    start=st.integers(min_value=0),
    length=st.integers(min_value=MIN_PIECE_RUN),
    before=st.text(max_size=40),
    after=st.text(max_size=40),
)
def test_any_run_of_19_is_found(
    secret: str, start: int, length: int, before: str, after: str
) -> None:
    start %= len(secret) - MIN_PIECE_RUN + 1
    piece = secret[start : start + length]
    if len(piece) < MIN_PIECE_RUN:
        return
    text = f"{before} {piece} {after}"
    out = mask_pieces(text, (secret,), REDACTED)
    assert piece not in out


def test_sinks_mask_pieces() -> None:
    message = f"Rejected {TOKEN[:32]}... (truncated)"
    assert TOKEN[:20] not in clean_for_sink(message, 200, (TOKEN,))
    assert TOKEN[:20] not in kept_value("x-debug", message, (TOKEN,))


def test_nothing_of_a_secret_outlives_the_call() -> None:
    """The index kept for the next string of the same refusal holds hashes,
    keyed by the tuple's id and hash: no secret text stays reachable."""
    from authhygiene.core import fragments

    mask_pieces(f"token {TOKEN[:30]}...", (TOKEN,), REDACTED)
    kept = fragments._last
    assert kept is not None
    assert not any(isinstance(part, str | tuple) for part in kept)
    assert all(isinstance(window, int) for window in kept[2])
