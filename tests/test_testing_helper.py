"""`authhygiene.testing.assert_no_secrets`: the check every test (ours and
our users') relies on to prove a credential never reached a log. It must
find a secret in every form it takes on its way there, look into everything
a test captures, and never repeat the secret in its own failure message: a
test report is a log too.

The secrets below are made up for these tests.
"""

from __future__ import annotations

import base64
import json
import logging
import string
import uuid
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import structlog
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from authhygiene.testing import assert_no_secrets, captured_texts

SECRET = "Zq7Lm2Pz9Rt4Wv8K"
ODD_SECRET = 'pa"ss\\wörd 42/+x'  # a quote, a backslash, non-ASCII, a space
JWT_HEADER = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
JWT_PAYLOAD = "eyJzdWIiOiJhbGljZSIsImV4cCI6MTc2NDAwMDAwMH0"
JWT_SIGNATURE = "dGVzdC1zaWduYXR1cmUtbm90LXJlYWw"
JWT = f"{JWT_HEADER}.{JWT_PAYLOAD}.{JWT_SIGNATURE}"


def failure(captured: object, secrets: Any = (), **options: Any) -> str:
    """The failure message, checked here once for every case: it never
    holds a secret it reports."""
    with pytest.raises(AssertionError) as excinfo:
        assert_no_secrets(captured, secrets, **options)
    message = str(excinfo.value)
    for secret in secrets:
        text = secret.decode("latin-1") if isinstance(secret, bytes) else secret
        shown = text in message  # not in an assert message: it is the secret
        assert not shown, "the failure message repeats the secret"
    return message


# --- the forms a secret takes ---------------------------------------------------

FORM_CASES = [
    pytest.param(SECRET, f"user logged in with {SECRET}", id="raw"),
    pytest.param(ODD_SECRET, f"next=/x?p={quote(ODD_SECRET, safe='')}", id="url-encoded"),
    pytest.param(ODD_SECRET, f"form: p={quote_plus(ODD_SECRET)}&u=a", id="form-encoded"),
    pytest.param(ODD_SECRET, json.dumps({"password": ODD_SECRET}), id="json-escaped"),
    pytest.param(
        ODD_SECRET, json.dumps({"password": ODD_SECRET}, ensure_ascii=False), id="json-utf8"
    ),
    pytest.param(SECRET, base64.b64encode(SECRET.encode()).decode(), id="base64"),
    pytest.param(JWT, f"token={JWT}", id="jwt"),
    pytest.param(JWT, f"claims {JWT_PAYLOAD} were logged", id="jwt-payload-alone"),
    pytest.param(JWT, f"bad signature {JWT_SIGNATURE}", id="jwt-signature-alone"),
    pytest.param(SECRET.encode(), f"bytes secret {SECRET}", id="bytes-secret"),
]


@pytest.mark.parametrize(("secret", "captured"), FORM_CASES)
def test_every_form_of_a_secret_is_found(secret: str | bytes, captured: str) -> None:
    message = failure(captured, [secret], shapes=False)

    assert "credentials reached captured output" in message
    assert "<HERE>" in message


def test_a_jwts_header_alone_is_not_a_leak() -> None:
    """Every HS256 token has the same header: it says nothing secret."""
    assert_no_secrets(f"alg header {JWT_HEADER}", [JWT], shapes=False)


# --- what it looks into -------------------------------------------------------------


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("tests.helper", logging.WARNING, __file__, 1, msg, args, None)


CONTAINER_CASES = [
    pytest.param(f"text {SECRET}", "captured", id="str"),
    pytest.param(f"bytes {SECRET}".encode(), "captured", id="bytes"),
    pytest.param({"event": "login", "token": SECRET}, "captured", id="event-dict"),
    pytest.param(
        [{"event": "a"}, {"event": "b", "nested": {"k": [SECRET]}}], "captured[1]", id="event-list"
    ),
    pytest.param(_record("user %s logged in", SECRET), "log record of 'tests.helper'", id="record"),
    pytest.param(
        _record("user %(name)s", {"name": SECRET}), "log record of 'tests.helper'", id="record-dict"
    ),
    pytest.param([["ok", ("fine", f"x{SECRET}y")]], "captured[0][1][1]", id="nested-lists"),
]


@pytest.mark.parametrize(("captured", "where"), CONTAINER_CASES)
def test_it_looks_into_what_tests_capture(captured: object, where: str) -> None:
    message = failure(captured, [SECRET], shapes=False)

    assert where in message


def test_it_looks_into_exception_text_of_records() -> None:
    try:
        raise ValueError(f"bad {SECRET}")
    except ValueError as error:
        record = logging.LogRecord(
            "tests.helper", logging.ERROR, __file__, 1, "failed", (), (ValueError, error, None)
        )

    failure([record], [SECRET], shapes=False)


def test_it_looks_into_structlog_capture_logs() -> None:
    capture = structlog.testing.LogCapture()
    logger = structlog.wrap_logger(None, processors=[capture])

    logger.info("login", user="alice", password=SECRET)

    failure(capture.entries, [SECRET], shapes=False)
    assert_no_secrets(capture.entries, ["unrelated-value-1"], shapes=False)


def test_it_looks_into_caplog(caplog: pytest.LogCaptureFixture) -> None:
    # A name never used before: pytest hooks loggers that exist when a test starts.
    logger = logging.getLogger(f"tests.helper.{uuid.uuid4().hex}")
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("user %s logged in", SECRET)

    message = failure(caplog, [SECRET], shapes=False)
    caplog.clear()  # what the test captured must not fail the per-test leak check

    assert "captured.text" in message or "captured.records[0]" in message


def test_it_looks_into_capsys(capsys: pytest.CaptureFixture[str]) -> None:
    print(f"out {SECRET}")
    captured = capsys.readouterr()

    message = failure(captured, [SECRET], shapes=False)

    assert "captured.out" in message
    assert "captured.err" not in message


def test_captured_texts_names_every_place() -> None:
    places = [where for where, _ in captured_texts(["a", [b"b", {"c": 1}]])]

    assert places[:2] == ["captured[0]", "captured[1][0]"]
    assert set(places[2:]) == {"captured[1][1]"}


# --- short secrets, shapes, and masked values --------------------------------------

SHORT_CASES = [
    pytest.param("ok pw1 here", True, id="alone"),
    pytest.param("password=pw1&next=/", True, id="in-a-query"),
    pytest.param("'pw1'", True, id="quoted"),
    pytest.param("upw1x", False, id="inside-a-word"),
    pytest.param("pw12", False, id="longer-run"),
]


@pytest.mark.parametrize(("captured", "found"), SHORT_CASES)
def test_short_secrets_only_where_they_stand_alone(captured: str, found: bool) -> None:
    if found:
        failure(captured, ["pw1"], shapes=False)
    else:
        assert_no_secrets(captured, ["pw1"], shapes=False)


SHAPE_CASES = [
    pytest.param("Authorization: Bearer abcDEF123456ghiJKL", id="header-line"),
    pytest.param("rejected Bearer abcDEF123456ghiJKL", id="bearer"),
    pytest.param(f"got {JWT}", id="jwt"),
    pytest.param("GET /items?access_token=opaqueTokenValue1 HTTP/1.1", id="query"),
    pytest.param("key ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", id="github"),
]


@pytest.mark.parametrize("captured", SHAPE_CASES)
def test_shapes_are_found_only_when_asked(captured: str) -> None:
    message = failure(captured, shapes=True)

    assert "credential-shaped value" in message
    assert_no_secrets(captured, shapes=False)


MASKED_CASES = [
    pytest.param("GET /items?access_token=[redacted]&page=2 HTTP/1.1", id="query"),
    pytest.param("Authorization: [redacted]", id="header-line"),
    pytest.param('{"password": "[redacted]", "authorization": "[redacted]"}', id="json"),
    pytest.param({"event": "login", "token": "[redacted]", "cookie": "[redacted]"}, id="event"),
    pytest.param("rejected Bearer [redacted]", id="bearer"),
    # A masked value that kept its scheme word is masked all the same.
    pytest.param("Authorization: Bearer [redacted]", id="header-line-keeping-scheme"),
    pytest.param("The token has expired; send a Bearer token", id="prose"),
]


@pytest.mark.parametrize("captured", MASKED_CASES)
def test_masked_values_pass(captured: object) -> None:
    assert_no_secrets(captured, ["[redacted]", SECRET], shapes=True)


# --- the failure message ------------------------------------------------------------

MESSAGE_CASES = [
    pytest.param(f"a={SECRET}", [SECRET], id="once"),
    pytest.param(f"a={SECRET} b={SECRET}", [SECRET], id="twice-close-together"),
    pytest.param(f"{SECRET}{SECRET}", [SECRET], id="twice-adjacent"),
    pytest.param("pw1 pw1", ["pw1"], id="short-twice"),
    pytest.param(f"first={SECRET}&second=Yx3Kp8Qr2Mn7Lw5T", [SECRET, "Yx3Kp8Qr2Mn7Lw5T"], id="two"),
]


@pytest.mark.parametrize(("captured", "secrets"), MESSAGE_CASES)
def test_the_failure_message_never_shows_a_secret(captured: str, secrets: list[str]) -> None:
    failure(captured, secrets, shapes=False)


def test_the_failure_message_never_shows_a_credential_shape() -> None:
    """Context around one finding must not show the next one."""
    first, second = "Ab3dE6gH", "Zy9xW8vU"
    captured = f"GET /cb?access_token={first}&refresh_token={second} HTTP/1.1"

    message = failure(captured, shapes=True)

    shown = sum(value in message for value in (first, second))
    assert shown == 0, "the failure message shows a credential"


# --- hostile input -------------------------------------------------------------------

_TOKEN = (
    st.text(string.ascii_letters + string.digits, min_size=12, max_size=40)
    .filter(lambda s: any(c.isdigit() for c in s))
    .filter(lambda s: any(c.isupper() for c in s))
)
_TEXT = st.text(st.characters(codec="utf-8", include_characters="\r\n\x00"), max_size=200)


@settings(max_examples=300, deadline=None)
@given(_TEXT, _TEXT, _TOKEN, st.sampled_from(["raw", "url", "json", "base64"]))
def test_an_inserted_secret_is_always_found_and_never_shown(
    before: str, after: str, secret: str, form: str
) -> None:
    encoded = {
        "raw": secret,
        "url": quote(secret, safe=""),
        "json": json.dumps(secret)[1:-1],
        "base64": base64.b64encode(secret.encode()).decode(),
    }[form]

    failure(before + encoded + after, [secret], shapes=False)


@settings(max_examples=300, deadline=None)
@given(_TEXT, _TOKEN)
def test_absent_secrets_pass_any_text(text: str, secret: str) -> None:
    assume(all(form not in text for form in (secret, base64.b64encode(secret.encode()).decode())))

    assert_no_secrets(text, [secret], shapes=False)
