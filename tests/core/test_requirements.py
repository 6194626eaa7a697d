"""`require=` (`core.requirements`): rules checked at start-up, matched
first-to-last, patterns matched in linear time whatever the path."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authhygiene import AuthHygiene, Scopes
from authhygiene.core.policy import PolicyError
from authhygiene.core.requirements import compile_requirements, glob_match
from authhygiene.verify import JWT

RULES = compile_requirements(
    [
        ("GET", "/items/*", Scopes("items:read")),
        (["POST", "put"], "/items/*", Scopes("items:write", "items:read")),
        ("*", "/health", None),
        ("*", "/docs*", None),
        ("GET", "/me", Scopes()),
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/items/1", ("items:read",)),
        ("HEAD", "/items/1", ("items:read",)),  # a GET rule covers HEAD
        ("get", "/items/1/parts", ("items:read",)),  # `*` crosses `/`
        ("POST", "/items/1", ("items:write", "items:read")),
        ("PUT", "/items/1", ("items:write", "items:read")),
        ("DELETE", "/items/1", None),  # no rule
        ("GET", "/items", None),  # `/items/*` needs the slash
        ("OPTIONS", "/health", "public"),
        ("GET", "/docs/openapi.json", "public"),
        ("GET", "/me", ()),
        ("GET", "/me/", None),
    ],
)
def test_the_first_matching_rule_decides(method: str, path: str, expected: object) -> None:
    rule = RULES.match(method, path)

    if expected is None:
        assert rule is None
    elif expected == "public":
        assert rule is not None
        assert rule.scopes is None
    else:
        assert rule is not None
        assert rule.scopes is not None
        assert rule.scopes.names == expected


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("GET /items", "is a list of rules"),
        ([("GET", "/items")], "is (method, path pattern"),
        ([("GET", "items/*", None)], "starts with '/'"),
        ([("GET", "/items/*", "items:read")], "Scopes(...)"),
        ([("G E T", "/items/*", None)], "the method is a name"),
        ([([], "/items/*", None)], "the method is a name"),
        ([("GET", "/x\n", None)], "starts with '/'"),
        ([("GET", "/" + "a" * 600, None)], "starts with '/'"),
        ([("GET", "/x", None)] * 513, "at most 512 rules"),
    ],
)
def test_bad_rules_fail_at_start_up(value: object, says: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(says)):
        AuthHygiene(_app, realm="api", require=value, verify=_verifier())


@pytest.mark.parametrize("name", ["two words", 'q"uote', "back\\slash", "", "é"])
def test_scope_names_follow_rfc_6749(name: str) -> None:
    with pytest.raises(ValueError, match="RFC 6749"):
        Scopes(name)


def test_scopes_list_every_missing_one_once() -> None:
    required = Scopes("a", "b", "a", "c")

    assert required.names == ("a", "b", "c")
    assert required.missing(["b"]) == ("a", "c")
    assert str(required) == "a b c"


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"mode": "enforce"}, "mode='enforce' needs verify="),
        ({"require": [("GET", "/x", None)]}, "require= needs verify="),
        ({"mode": "strict"}, "mode is 'explain'"),
        ({"verify": []}, "one verifier or a list"),
        ({"verify": [object()]}, "takes a verifier"),
    ],
)
def test_enforce_options_fail_at_start_up(options: dict[str, Any], says: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(says)):
        AuthHygiene(_app, realm="api", **options)


def _verifier() -> JWT:
    return JWT(algorithms=["HS256"], keys="k" * 32)


def _reference(pattern: str, text: str) -> bool:
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), text, re.DOTALL) is not None


@settings(max_examples=400, deadline=None)
@given(
    pattern=st.text(alphabet="ab*/", max_size=12),
    text=st.text(alphabet="ab/", max_size=16),
)
def test_glob_match_agrees_with_the_regex_it_replaces(pattern: str, text: str) -> None:
    assert glob_match(pattern, text) is _reference(pattern, text)


def test_a_hostile_path_against_many_stars_is_linear() -> None:
    # `.*a.*a.*a...` backtracks polynomially in a regex engine; the literal
    # parts are found left to right here, once each.
    pattern = "/" + "*a" * 40 + "*b"
    path = "/" + "a" * 100_000

    assert glob_match(pattern, path) is False


async def _app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("never called: construction fails first")
