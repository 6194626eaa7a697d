"""The reason table is complete and consistent with RFC 6750 and RFC 9457."""

from __future__ import annotations

import pytest

from authhygiene.core.reasons import REASONS, Reason

RFC6750_ERRORS = {"invalid_request", "invalid_token", "insufficient_scope"}
RFC9470_ERRORS = {"insufficient_user_authentication"}


def test_every_reason_has_a_row() -> None:
    assert set(REASONS) == set(Reason)


@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_row(reason: Reason) -> None:
    info = REASONS[reason]
    assert info.status in (400, 401, 403, 429, 503)
    assert info.error is None or info.error in RFC6750_ERRORS | RFC9470_ERRORS
    # R8, R10: the error code and the status agree.
    if info.error == "invalid_request":
        assert info.status == 400
    if info.error == "insufficient_scope":
        assert info.status == 403
    if info.error == "invalid_token":
        assert info.status == 401
    assert info.title.isascii()
    assert info.title[0].isupper()
    assert not info.title.endswith(".")
    assert info.hint.endswith(".")
    info.hint.format(scheme="Bearer", accepted="Bearer", required="")
