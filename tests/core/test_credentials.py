"""The credential parser: what a request presented, read without trusting it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authhygiene.core.credentials import Misuse, RequestView, fingerprint, parse_credentials

TOKEN = "abc.def-ghi_jkl"


def view(*headers: tuple[str, str], query: str = "") -> RequestView:
    return RequestView("GET", "/items", query, tuple(headers))


@pytest.mark.parametrize(
    ("headers", "query", "scheme", "misuse", "presented"),
    [
        pytest.param((), "", None, (), False, id="nothing"),
        pytest.param((("authorization", f"Bearer {TOKEN}"),), "", "Bearer", (), True, id="bearer"),
        # RFC 9110 §11.1: scheme names are case-insensitive; we report the canonical case.
        pytest.param((("authorization", f"bEaReR {TOKEN}"),), "", "Bearer", (), True, id="case"),
        pytest.param((("authorization", "Basic dTpw"),), "", "Basic", (), True, id="basic"),
        pytest.param((("authorization", f"Token {TOKEN}"),), "", "Token", (), True, id="token"),
        pytest.param(
            (("authorization", "Bearer "),), "", "Bearer", (Misuse.EMPTY_TOKEN,), True, id="empty"
        ),
        pytest.param(
            (("authorization", "Bearer"),), "", "Bearer", (Misuse.EMPTY_TOKEN,), True, id="bare"
        ),
        pytest.param(
            (("authorization", f"Bearer Bearer {TOKEN}"),),
            "",
            "Bearer",
            (Misuse.DOUBLED_SCHEME,),
            True,
            id="doubled",
        ),
        pytest.param(
            (("authorization", f'Bearer "{TOKEN}"'),),
            "",
            "Bearer",
            (Misuse.QUOTED_TOKEN,),
            True,
            id="quoted",
        ),
        pytest.param(
            (("authorization", "Bearer abc def"),),
            "",
            "Bearer",
            (Misuse.WHITESPACE_IN_TOKEN,),
            True,
            id="space",
        ),
        pytest.param(
            (("authorization", "Bearer abc{def}"),),
            "",
            "Bearer",
            (Misuse.INVALID_CHARACTERS,),
            True,
            id="charset",
        ),
        pytest.param(
            (("authorization", f"Bearer {TOKEN}"), ("authorization", f"Bearer {TOKEN}")),
            "",
            "Bearer",
            (Misuse.MULTIPLE_AUTHORIZATION_HEADERS,),
            True,
            id="two-headers",
        ),
        # WSGI servers join repeated header lines with ", ".
        pytest.param(
            (("authorization", f"Bearer {TOKEN}, Bearer other"),),
            "",
            "Bearer",
            (Misuse.MULTIPLE_AUTHORIZATION_HEADERS, Misuse.WHITESPACE_IN_TOKEN),
            True,
            id="joined",
        ),
        pytest.param(
            (("authorization", f"Bearer {TOKEN}"),),
            f"access_token={TOKEN}",
            "Bearer",
            (Misuse.TOKEN_IN_HEADER_AND_QUERY,),
            True,
            id="header-and-query",
        ),
        pytest.param((), f"access_token={TOKEN}", None, (), True, id="query-only"),
        pytest.param((("x-api-key", "k"),), "", None, (), True, id="api-key"),
        pytest.param((("cookie", "theme=dark; sessionid=s"),), "", None, (), True, id="session"),
        pytest.param((("cookie", "theme=dark"),), "", None, (), False, id="other-cookie"),
        pytest.param(
            (("authorization", "Bearer " + "a" * 20000),),
            "",
            "Bearer",
            (Misuse.OVERSIZED,),
            True,
            id="oversized",
        ),
    ],
)
def test_parse(
    headers: tuple[tuple[str, str], ...],
    query: str,
    scheme: str | None,
    misuse: tuple[Misuse, ...],
    presented: bool,
) -> None:
    credentials = parse_credentials(view(*headers, query=query))
    assert credentials.scheme == scheme
    assert credentials.misuse == misuse
    assert credentials.presented is presented


def test_token_is_not_in_repr() -> None:
    credentials = parse_credentials(view(("authorization", f"Bearer {TOKEN}")))
    assert credentials.token == TOKEN
    assert TOKEN not in repr(credentials)


def test_fingerprint_is_keyed_and_stable() -> None:
    key = b"k" * 32
    assert fingerprint(key, TOKEN) == fingerprint(key, TOKEN)
    assert fingerprint(key, TOKEN) != fingerprint(b"j" * 32, TOKEN)
    assert TOKEN not in fingerprint(key, TOKEN)
    assert len(fingerprint(key, TOKEN)) == 16


hostile_text = st.text(
    alphabet=st.sampled_from([*list("Bearer Basic\r\n\t\x00\"'\\,;= aZ09.-_~+/"), "é", "\ud7ff"]),
    max_size=300,
) | st.text(max_size=100)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(hostile_text, max_size=3), query=hostile_text, cookie=hostile_text)
def test_parser_never_raises_on_hostile_input(values: list[str], query: str, cookie: str) -> None:
    headers = (*tuple(("authorization", value) for value in values), ("cookie", cookie))
    credentials = parse_credentials(view(*headers, query=query))
    # The scheme we report is always a token or '?' (it reaches logs).
    assert credentials.scheme is None or all(
        ch.isascii() and ch.isprintable() and ch not in " \r\n" for ch in credentials.scheme
    )


@settings(max_examples=20, deadline=None)
@given(size=st.integers(min_value=16 * 1024, max_value=64 * 1024))
def test_huge_header_is_bounded(size: int) -> None:
    credentials = parse_credentials(view(("authorization", "Bearer " + "x" * size)))
    assert Misuse.OVERSIZED in credentials.misuse
    assert credentials.token is None
