"""The challenge writer and reader (RFC 9110 §11.6.1, RFC 6750 §3, RFC 7617 §2).

werkzeug's parser is the oracle for what we emit: whatever we write, a
mainstream parser must read back to the same scheme and parameters.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import WWWAuthenticate

from authhygiene.core.challenge import (
    MAX_CHALLENGES,
    Challenge,
    echoes_secret,
    parse_challenges,
    quote,
    rendered_size,
    rfc6750_text,
    scope_value,
)

# RFC 6750 §3: error_description / scope characters.
RFC6750_CHARS = {chr(c) for c in (0x20, 0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F))}


@pytest.mark.parametrize(
    ("challenge", "rendered"),
    [
        pytest.param(Challenge("Bearer"), "Bearer", id="bare"),
        # R3: realm is always a quoted-string.
        pytest.param(Challenge("Bearer", (("realm", "api"),)), 'Bearer realm="api"', id="realm"),
        pytest.param(
            Challenge("Basic", (("realm", "api"), ("charset", "UTF-8"))),
            'Basic realm="api", charset="UTF-8"',
            id="basic",
        ),
        pytest.param(
            Challenge("Bearer", (("realm", 'a"b\\c'),)),
            'Bearer realm="a\\"b\\\\c"',
            id="quoted-pair",
        ),
        pytest.param(
            Challenge("Bearer", (("realm", "a\r\nSet-Cookie: x=1\x00"),)),
            'Bearer realm="aSet-Cookie: x=1"',
            id="ctl-removed",
        ),
        pytest.param(Challenge("Negotiate", (), "abc=="), "Negotiate abc==", id="token68"),
    ],
)
def test_render(challenge: Challenge, rendered: str) -> None:
    assert challenge.render() == rendered


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("Bearer", [Challenge("Bearer")], id="bare"),
        pytest.param("bearer", [Challenge("Bearer")], id="case"),
        pytest.param(
            'Bearer realm="api", error="invalid_token"',
            [Challenge("Bearer", (("realm", "api"), ("error", "invalid_token")))],
            id="params",
        ),
        pytest.param(
            "Bearer realm=api",
            [Challenge("Bearer", (("realm", "api"),))],
            id="token-value",
        ),
        pytest.param(
            'Basic realm="a", Bearer realm="b" , error=x',
            [
                Challenge("Basic", (("realm", "a"),)),
                Challenge("Bearer", (("realm", "b"), ("error", "x"))),
            ],
            id="two-challenges",
        ),
        pytest.param("Negotiate abc==", [Challenge("Negotiate", (), "abc==")], id="token68"),
        pytest.param(
            'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
            [
                Challenge(
                    "Newauth", (("realm", "apps"), ("type", "1"), ("title", 'Login to "apps"'))
                ),
                Challenge("Basic", (("realm", "simple"),)),
            ],
            id="rfc9110-example",
        ),
    ],
)
def test_parse_valid(value: str, expected: list[Challenge]) -> None:
    assert parse_challenges([value]) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param('Bearer realm="api', id="unterminated"),
        pytest.param('Bearer realm="a\r\nb"', id="crlf"),
        pytest.param('Bearer realm="a\x00"', id="nul"),
        pytest.param('Bearer realm="a", realm="b"', id="duplicate"),
        pytest.param('Bearer realm=unquoted"x', id="junk"),
        pytest.param("=x", id="no-scheme"),
        pytest.param("Bearer realm x", id="no-comma"),
        pytest.param('Bearer realm="a" error="b"', id="params-without-comma"),
        pytest.param("Bearer " + "a=" * 5000, id="oversized"),
    ],
)
def test_parse_invalid(value: str) -> None:
    assert parse_challenges([value]) is None


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        pytest.param('say "hi"', "say 'hi'", id="quotes"),
        pytest.param("a\\b", "a/b", id="backslash"),
        pytest.param("line\r\nbreak\x00", "linebreak", id="ctl"),
        # Finding 17: letters are transliterated before anything is dropped.
        pytest.param("caf\u00e9", "cafe", id="non-ascii"),
        pytest.param("cl\u00e9 r\u00e9voqu\u00e9e", "cle revoquee", id="accents"),
        pytest.param(
            "Schl\u00fcssel ung\u00fcltig, Gr\u00fc\u00dfe",
            "Schlussel ungultig, Grusse",
            id="german",
        ),
        pytest.param(
            "\u00c5ngstr\u00f6m \u00f8l \u0153uvre \u0141\u00f3d\u017a",
            "Angstrom ol oeuvre Lodz",
            id="nordic-ligatures",
        ),
        pytest.param("e\u0301te\u0301", "ete", id="combining-marks"),
        pytest.param(
            "\u201cquoted\u201d \u2014 dash\u00a0nbsp", "'quoted' - dash nbsp", id="punctuation"
        ),
        pytest.param("\uff21\uff22\uff23 \ufb01le", "ABC file", id="compatibility"),
        pytest.param("\u30c8\u30fc\u30af\u30f3 token \U0001f600", "token", id="no-spelling"),
        pytest.param("x" * 500, "x" * 197 + "...", id="bounded"),
        pytest.param("\u00e9" * 5000, "e" * 197 + "...", id="bounded-before-folding"),
        # No `name=` fragment a naive parser could read as a parameter.
        pytest.param("needs scope=items:write", "needs scope: items:write", id="scope-equals"),
        pytest.param('scope="admin" error = x', "scope: 'admin' error: x", id="quoted-equals"),
        pytest.param("a == b", "a: b", id="double-equals"),
    ],
)
def test_rfc6750_text(text: str, folded: str) -> None:
    assert rfc6750_text(text) == folded


def test_scope_value() -> None:
    assert scope_value(["items:read", 'bad"one', "items:read", "x\\y"]) == "items:read badone xy"


def test_with_params_never_duplicates() -> None:
    challenge = Challenge("Bearer", (("realm", "app"),)).with_params(
        [("realm", "ours"), ("a", "b")]
    )
    assert challenge.params == (("realm", "app"), ("a", "b"))


hostile = st.text(max_size=2000) | st.text(
    alphabet=st.sampled_from([*list('\r\n\x00\t"\\,= ;aZ\x7f\x80ÿ'), "\u2028", "😀"]),
    max_size=200,
)


@settings(max_examples=400, deadline=None)
@given(realm=hostile, description=hostile, scope=st.lists(hostile, max_size=5))
def test_written_challenge_is_safe_and_reads_back(
    realm: str, description: str, scope: list[str]
) -> None:
    challenge = Challenge(
        "Bearer",
        (
            ("realm", realm),
            ("error", "invalid_token"),
            ("error_description", rfc6750_text(description)),
            ("scope", scope_value(scope) or "a"),
        ),
    )
    rendered = challenge.render()
    # Never a header-splitting or NUL character, always latin-1 encodable.
    assert not {"\r", "\n", "\x00"} & set(rendered)
    rendered.encode("latin-1")
    assert len(rendered) < 4 * 1024
    # RFC 6750 §3 charsets hold for what we generate.
    assert set(rfc6750_text(description)) <= RFC6750_CHARS
    assert set(scope_value(scope)) <= RFC6750_CHARS
    # Our own reader and werkzeug's read back the same thing.
    (ours,) = parse_challenges([rendered]) or [None]
    assert ours is not None
    oracle = WWWAuthenticate.from_header(rendered)
    assert oracle is not None
    assert oracle.type == "bearer"
    assert dict(oracle.parameters) == dict(ours.params)
    assert ours.param("error") == "invalid_token"


@settings(max_examples=400, deadline=None)
@given(values=st.lists(hostile, max_size=3))
def test_reader_never_raises(values: list[str]) -> None:
    result = parse_challenges(values)
    if result is not None:
        for challenge in result:
            # Anything we accept can be written back without CR/LF/NUL.
            assert not {"\r", "\n", "\x00"} & set(challenge.render())


@settings(max_examples=50, deadline=None)
@given(value=st.text(min_size=1, max_size=600))
def test_quote_is_always_a_quoted_string(value: str) -> None:
    quoted = quote(value)
    assert quoted.startswith('"')
    assert quoted.endswith('"')
    inner = quoted[1:-1]
    # every DQUOTE inside is escaped
    i = 0
    while i < len(inner):
        if inner[i] == "\\":
            i += 2
            continue
        assert inner[i] != '"'
        i += 1


@pytest.mark.parametrize("size", [16 * 1024, 64 * 1024])
def test_huge_values_are_bounded(size: int) -> None:
    value = 'a"\\\r\n' * (size // 5)
    rendered = Challenge(
        "Bearer", (("realm", value), ("error_description", rfc6750_text(value)))
    ).render()
    assert len(rendered) < 2 * 1024
    assert parse_challenges([f'Bearer realm="{"a" * size}"']) is None


# --- finding 10: what we read from an app, and what we write, is bounded ------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([",".join(["Bearer"] * 1100)], [Challenge("Bearer")], id="1100-in-one-field"),
        pytest.param(["Bearer"] * 900, [Challenge("Bearer")], id="900-fields"),
        pytest.param(
            ['Bearer realm="a", bearer realm="a"', 'BEARER realm="a"'],
            [Challenge("Bearer", (("realm", "a"),))],
            id="case-of-scheme",
        ),
        pytest.param(
            ['Bearer a="1", b="2", Bearer b="2", a="1"'],
            [Challenge("Bearer", (("a", "1"), ("b", "2")))],
            id="order-of-params",
        ),
        pytest.param(
            ['Bearer realm="a", Bearer realm="b"'],
            [Challenge("Bearer", (("realm", "a"),)), Challenge("Bearer", (("realm", "b"),))],
            id="different-params-kept",
        ),
        pytest.param(
            [", ".join(f"S{i}" for i in range(16))],
            [Challenge(f"S{i}") for i in range(16)],
            id="16-distinct",
        ),
        pytest.param([", ".join(f"S{i}" for i in range(17))], None, id="17-distinct"),
        pytest.param([", ".join(f'Bearer n="{i}"' for i in range(1100))], None, id="1100-distinct"),
        pytest.param([""] * 5000, None, id="5000-empty-fields"),
        pytest.param(["Bearer"] * 2000, None, id="2000-fields-over-8k"),
        pytest.param(
            ["B" * 4095, "C" * 4095], [Challenge("B" * 4095), Challenge("C" * 4095)], id="8k-joined"
        ),
        pytest.param(["B" * 4096, "C" * 4096], None, id="over-8k-joined"),
    ],
)
def test_reader_bounds_and_collapses(values: list[str], expected: list[Challenge] | None) -> None:
    assert parse_challenges(values) == expected


def test_rendered_size_counts_as_the_reader_does() -> None:
    challenges = [Challenge("B" * 4095), Challenge("C" * 4095)]
    assert rendered_size(challenges) == len(", ".join(c.render() for c in challenges)) == 8192
    assert parse_challenges([c.render() for c in challenges]) == challenges
    assert rendered_size([]) == 0


@settings(max_examples=300, deadline=None)
@given(values=st.lists(hostile, max_size=40))
def test_reader_output_is_bounded_and_distinct(values: list[str]) -> None:
    result = parse_challenges(values)
    if result is None:
        return
    assert len(result) <= MAX_CHALLENGES
    keys = [(c.scheme.lower(), tuple(sorted(c.params)), c.token68) for c in result]
    assert len(set(keys)) == len(keys)


# --- finding 3: a scheme the app wrote from its client's secret is no scheme ---

TOKEN = "AbCdEf0123456789XyZ-mixed"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlX2hlcmU"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(TOKEN, [], id="is-secret"),
        pytest.param(f'{TOKEN.lower()} realm="x"', [], id="lowercased"),
        pytest.param(f"x{TOKEN}y", [], id="holds-secret"),
        pytest.param(TOKEN[2:14], [], id="piece-of-secret"),
        pytest.param(f"{JWT}, Bearer", [Challenge("Bearer")], id="jwt-shape"),
        pytest.param(
            "Bearer, Newauth realm=x",
            [Challenge("Bearer"), Challenge("Newauth", (("realm", "x"),))],
            id="others-kept",
        ),
    ],
)
def test_reader_drops_echoed_schemes(value: str, expected: list[Challenge]) -> None:
    assert parse_challenges([value], (TOKEN,)) == expected


@pytest.mark.parametrize(
    ("word", "echoes"),
    [
        pytest.param(TOKEN, True, id="equal"),
        pytest.param(TOKEN.upper(), True, id="case"),
        pytest.param(f"ab{TOKEN}", True, id="holds"),
        pytest.param(TOKEN[5:13], True, id="piece-8"),
        pytest.param(TOKEN[5:12], False, id="piece-7"),
        pytest.param(JWT, True, id="credential-shape"),
        pytest.param("TlRMTVNTUAACAAAADAAMADAAAAA=", False, id="ntlm-blob"),
        pytest.param("Negotiate", False, id="scheme"),
    ],
)
def test_echoes_secret(word: str, echoes: bool) -> None:
    assert echoes_secret(word, (TOKEN,), entropy=False) is echoes
