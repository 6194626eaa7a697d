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


# --- Issue 12, finding 1: a word we cannot name as a scheme is a credential ---------

# Tokens of every class clients send, each without a scheme word.
BARE_TOKENS = [
    pytest.param("0123456789abcdef0123456789abcdef", id="hex"),
    pytest.param("3f2b8c1e-9a4d-4e6f-b2c7-1d0e5a9f8b3c", id="uuid"),
    pytest.param("mysecretapikeyvalue", id="lowercase-key"),
    pytest.param("aZ3kQ9xW2pL7mN4vB8cT", id="base62"),
    pytest.param("sk_live_51HqLyjWDarjtT1zdp7dc", id="stripe"),
    pytest.param("ghp_16C7e42F292c6912E7710c838347Ae178B4a", id="github"),
    pytest.param("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", id="jwt"),
    pytest.param("dXNlcjpodW50ZXIy", id="bare-basic"),
    pytest.param("x" * 41, id="longer-than-a-scheme"),
    pytest.param('"quoted-secret-value"', id="not-a-token"),
    pytest.param("Bearer\tsecret-after-tab", id="tab-not-space"),
    pytest.param("Bearer\x0bsecret-after-vt", id="vertical-tab"),
]


@pytest.mark.parametrize("secret", BARE_TOKENS)
def test_a_bare_token_is_a_secret_not_a_scheme(secret: str) -> None:
    credentials = parse_credentials(view(("authorization", f"  {secret} ")))
    assert credentials.scheme is None
    assert credentials.misuse == (Misuse.MISSING_SCHEME,)
    assert credentials.presented
    assert not credentials.unnamed_scheme
    assert secret in credentials.secrets
    assert secret not in repr(credentials)


@pytest.mark.parametrize("secret", BARE_TOKENS)
def test_an_unknown_first_word_is_never_the_scheme(secret: str) -> None:
    credentials = parse_credentials(view(("authorization", f"{secret} more-of-it")))
    assert credentials.scheme is None
    assert credentials.unnamed_scheme
    assert credentials.presented
    assert {secret, f"{secret} more-of-it", "more-of-it"} <= set(credentials.secrets)


@pytest.mark.parametrize(
    ("value", "schemes", "scheme"),
    [
        pytest.param("Bearer t0k3n", (), "Bearer", id="iana"),
        pytest.param("dpop t0k3n", (), "DPoP", id="iana-case"),
        pytest.param("SCRAM-SHA-256 data=abc", (), "SCRAM-SHA-256", id="iana-dashes"),
        pytest.param("PrivateToken token=abc", (), "PrivateToken", id="privatetoken"),
        pytest.param("GNAP t0k3n", (), "GNAP", id="gnap"),
        pytest.param("ntlm TlRMTVNTUAAB", (), "NTLM", id="ntlm"),
        pytest.param("AWS4-HMAC-SHA256 Credential=x", (), "AWS4-HMAC-SHA256", id="aws"),
        pytest.param("Token t0k3n", (), "Token", id="drf"),
        pytest.param("MyScheme t0k3n", ("MyScheme",), "MyScheme", id="configured"),
        pytest.param("myscheme t0k3n", ("MyScheme",), "MyScheme", id="configured-case"),
        pytest.param("MyScheme t0k3n", (), None, id="not-configured"),
    ],
)
def test_known_and_configured_schemes(
    value: str, schemes: tuple[str, ...], scheme: str | None
) -> None:
    credentials = parse_credentials(view(("authorization", value)), schemes=schemes)
    assert credentials.scheme == scheme
    assert credentials.unnamed_scheme is (scheme is None)
    assert value.split(" ", 1)[1] in credentials.secrets
    if scheme is not None:
        assert value.split(" ", 1)[0] not in credentials.secrets


# --- Issue 12, finding 4: every secret the request carried is collected ------------


@pytest.mark.parametrize(
    ("headers", "secrets"),
    [
        pytest.param(
            (("authorization", "Bearer first-token-1"), ("authorization", "Bearer second-tok-2")),
            {"first-token-1", "second-tok-2"},
            id="two-authorization-fields",
        ),
        pytest.param(
            (
                ("authorization", "Bearer first-token-1"),
                ("authorization", "Basic dXNlcjpodW50ZXIy"),
            ),
            {"first-token-1", "dXNlcjpodW50ZXIy", "hunter2"},
            id="second-field-basic-password",
        ),
        pytest.param(
            (("authorization", "Bearer first-token-1, Bearer second-tok-2"),),
            {"first-token-1", "second-tok-2"},
            id="joined-fields",
        ),
        pytest.param(
            (("authorization", "Bearer first-token-1"), ("authorization", "bare-secret-2")),
            {"first-token-1", "bare-secret-2"},
            id="second-field-bare",
        ),
        pytest.param(
            (("x-api-key", "api-key-one"), ("x-auth-token", "auth-token-two")),
            {"api-key-one", "auth-token-two"},
            id="two-api-key-headers",
        ),
        pytest.param(
            (("x-api-key", "api-key-one"), ("x-api-key", "api-key-two")),
            {"api-key-one", "api-key-two"},
            id="api-key-twice",
        ),
        pytest.param(
            (("api-token", "stray-one"), ("x-access-token", "stray-two")),
            {"stray-one", "stray-two"},
            id="two-key-like-headers",
        ),
        pytest.param(
            (("cookie", "pad=" + "p" * 20_000 + "; sessionid=session-at-the-end"),),
            {"session-at-the-end"},
            id="cookie-past-16k",
        ),
        pytest.param(
            (("cookie", "a=" + "p" * 17_000), ("cookie", "sessionid=in-second-field")),
            {"in-second-field"},
            id="cookie-second-field",
        ),
        pytest.param(
            (("cookie", "pad=" + "p" * 70_000 + "; late=beyond-the-cap"),),
            {"p" * 4 + "; late=beyond-the-cap"},
            id="cookie-past-the-cap-kept-whole",
        ),
        pytest.param(
            (("authorization", "Bearer " + "t" * 20_000 + "TAIL"),),
            {"Bearer " + "t" * 20_000 + "TAIL", "t" * 20_000 + "TAIL"},
            id="oversized-authorization",
        ),
        pytest.param(
            (("authorization", "u" * 20_000),),
            {"u" * 20_000},
            id="oversized-bare",
        ),
    ],
)
def test_every_secret_is_collected(headers: tuple[tuple[str, str], ...], secrets: set[str]) -> None:
    collected = parse_credentials(view(*headers)).secrets
    for secret in secrets:
        assert any(secret in kept for kept in collected), secret[:40]
    # Longest first: a secret inside another is never masked before it.
    assert list(collected) == sorted(collected, key=len, reverse=True)


def test_many_authorization_fields_are_kept_whole() -> None:
    headers = [("authorization", f"Bearer token-number-{i:04d}") for i in range(100)]
    secrets = parse_credentials(view(*headers)).secrets
    assert all(any(f"token-number-{i:04d}" in s for s in secrets) for i in range(100))


def test_secrets_are_bounded_in_number() -> None:
    cookie = "; ".join(f"c{i}=value-{i:06d}" for i in range(5000))
    secrets = parse_credentials(view(("cookie", cookie))).secrets
    assert len(secrets) <= 1024


# Every scheme name the parser may report without configuration.
KNOWN = frozenset(
    {
        *("Basic", "Bearer", "Concealed", "Digest", "DPoP", "GNAP", "HOBA", "Mutual"),
        *("Negotiate", "OAuth", "PrivateToken", "SCRAM-SHA-1", "SCRAM-SHA-256", "vapid"),
        *("Token", "JWT", "ApiKey", "Api-Key", "NTLM", "AWS4-HMAC-SHA256", "Hawk", "MAC"),
        *("SSWS", "Bot"),
    }
)
KNOWN_FOLDED = frozenset(name.lower() for name in KNOWN)

fields = st.lists(
    st.tuples(
        st.sampled_from(
            ["authorization", "x-api-key", "x-auth-token", "api-key", "token", "cookie"]
        ),
        st.one_of(
            st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80),
            st.builds(
                lambda scheme, rest: f"{scheme} {rest}",
                st.sampled_from([*sorted(KNOWN), "bearer", "Foo", "x"]),
                st.text(
                    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40
                ),
            ),
        ),
    ),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(headers=fields)
def test_every_field_value_is_covered(headers: list[tuple[str, str]]) -> None:
    """Property: each API-key-ish value, each Authorization value's text after
    its first word, and the whole value when that word is no scheme, is held
    by one of the secrets; a scheme reported is always a known name."""
    credentials = parse_credentials(view(*headers))
    secrets = credentials.secrets

    def covered(text: str) -> bool:
        # One or two characters are never a secret on their own (they stand
        # alone in too much text to be searched for).
        return len(text) < 3 or any(text in secret for secret in secrets)

    for name, value in headers:
        if name == "authorization":
            word, _, rest = value.strip(" \t").partition(" ")
            if word.lower() != "digest":  # its auth-params are the app's, but `response`
                assert covered(rest.strip(" \t"))
            if word.lower() not in KNOWN_FOLDED:
                assert covered(value.strip(" \t"))
                assert covered(word)
        elif name != "cookie":
            assert covered(value.strip(" \t"))
    assert credentials.scheme is None or credentials.scheme in KNOWN
