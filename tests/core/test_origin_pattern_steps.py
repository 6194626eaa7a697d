"""The steps `allow_origin_regex` is judged by, each alone: what one item of
a pattern adds to its samples, how repeats and alternatives are sampled,
where the count is bounded, and which checks run in which order.

Why alone: `test_origin_patterns` shows what the judge refuses; these show
why, one step at a time, so that a change to one step fails here first and
names it. The nesting rows hold the property the walker's shape is for: a
pattern that compiled is never refused as too deep to judge.
"""

from __future__ import annotations

import re
from re import _parser  # type: ignore[attr-defined]
from typing import Any

import pytest

from authhygiene import CORS
from authhygiene.core import origin_patterns as op

HOST = r"https://a\.example\.com"


def parsed(pattern: str) -> Any:
    return _parser.parse(pattern, re.compile(pattern).flags)


def samples(pattern: str) -> list[tuple[str, str]]:
    return op._samples(parsed(pattern))


@pytest.mark.parametrize(
    ("step", "arg", "expected"),
    [
        pytest.param(op._literal, ord("a"), [("a", "a")], id="literal"),
        pytest.param(op._not_literal, ord("x"), [("a", "a")], id="not-literal"),
        pytest.param(op._not_literal, ord("a"), [("b", "b")], id="not-literal-a"),
        pytest.param(op._any, None, [(".", "x")], id="bare-dot-both-ways"),
    ],
)
def test_leaf_steps(step: Any, arg: object, expected: list[tuple[str, str]]) -> None:
    assert step(arg) == expected


@pytest.mark.parametrize(
    ("cls", "expected"),
    [
        pytest.param("[a-z0-9]", [("a", "a"), ("9", "9")], id="letter-and-digit"),
        pytest.param("[A-Z]", [("A", "A")], id="uppercase-only"),
        pytest.param(r"[^a-z]", [("9", "9"), ("-", "-")], id="negated"),
        pytest.param(r"\S", [("a", "a"), ("9", "9"), (".", ".")], id="not-space"),
        pytest.param(r"[\x00-\x7f]", [("a", "a"), ("9", "9")], id="ascii"),
        pytest.param(r"[^\x00-\x7f]", [], id="nothing-preferred"),
    ],
)
def test_class_samples(cls: str, expected: list[tuple[str, str]]) -> None:
    (item,) = parsed(cls)
    assert op._class_samples(item[1]) == expected


def test_bounded_refuses_past_the_limit() -> None:
    at_limit = [("", "")] * op._MAX_SAMPLES
    assert op._bounded(at_limit) is at_limit
    with pytest.raises(op._TooComplexError):
        op._bounded([*at_limit, ("", "")])


def test_extend_multiplies_in_order() -> None:
    acc = [("a", "a"), ("b", "b")]
    assert op._extend(acc, [("1", "1"), ("2", "2")]) == [
        ("a1", "a1"),
        ("a2", "a2"),
        ("b1", "b1"),
        ("b2", "b2"),
    ]


def test_times_writes_each_sample_over() -> None:
    assert op._times([("a", "a"), (".", "x")], 3) == [("aaa", "aaa"), ("...", "xxx")]
    assert op._times(op._ANYTHING, 0) == [("", ""), ("", "")]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        pytest.param(
            r"https://(www\.)?example\.com",
            ["https://example.com", "https://www.example.com"],
            id="optional-without-then-with",
        ),
        pytest.param(r"(app|admin)\.x", ["app.x", "admin.x"], id="alternatives-in-order"),
        pytest.param(r"[a-z0-9]{32}", ["a" * 32, "9" * 32], id="one-char-repeat-same-char"),
        pytest.param(r"a{1000}", ["a" * 64], id="capped-at-64"),
        pytest.param(r"a{0}b", ["b"], id="zero-copies"),
        pytest.param(r".*", ["", "", "a", "9"], id="repeated-dot-is-anything"),
        pytest.param(r"(?:ab){2}", ["abab"], id="body-written-out"),
        pytest.param(r"(?>ab)", ["ab"], id="atomic-group"),
        pytest.param(r"(a)?(?(1)b|c)", ["b", "ab"], id="conditional-yes-branch"),
        pytest.param(r"\bab(?=c)$", ["ab"], id="no-text-of-their-own"),
        pytest.param(r"(a)\1", ["a"], id="back-reference-left-out"),
    ],
)
def test_samples(pattern: str, expected: list[str]) -> None:
    assert [dotted for dotted, _ in samples(pattern)] == expected


def test_unescaped_dot_is_sampled_both_ways() -> None:
    assert samples(r"a.b") == [("a.b", "axb")]


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("|".join(f"h{i}" for i in range(op._MAX_SAMPLES + 1)), id="too-many"),
        # 2**13 shapes: `(a|b)` alone would be one class, sampled once.
        pytest.param(r"(ab|cd){13}", id="too-many-repeated"),
    ],
)
def test_what_cannot_be_judged(pattern: str) -> None:
    with pytest.raises(op._TooComplexError):
        samples(pattern)


def test_checks_run_in_order_and_credentials_add_to_the_end() -> None:
    always = (op._allows_nothing, op._matches_slowly)
    assert op._CHECKS[False] == always
    assert op._CHECKS[True] == (
        *always,
        op._admits_any_site,
        op._unescaped_dot,
        op._admits_other_sites,
    )


def judged(pattern: str) -> op._Judged:
    regex = re.compile(pattern)
    option = f"authhygiene: CORS allow_origin_regex={pattern!r}"
    return op._judged(option, regex, samples(pattern), ignore_case=False)


@pytest.mark.parametrize(
    ("check", "pattern", "fragment"),
    [
        pytest.param(op._allows_nothing, HOST + "/", "would allow nothing", id="allows-nothing"),
        pytest.param(
            op._admits_any_site, r"https?://.*", "'https://attacker.invalid'", id="any-site"
        ),
        pytest.param(
            op._unescaped_dot, r"https://a.example\.com", "'https://axexample.com'", id="dot"
        ),
        pytest.param(
            op._admits_other_sites,
            r"https://.*example\.com",
            "a host merely ending with 'example.com'",
            id="glued",
        ),
        pytest.param(op._admits_other_sites, HOST + ".*", "(your host going on)", id="lookalike"),
    ],
)
def test_each_check_alone(check: Any, pattern: str, fragment: str) -> None:
    assert fragment in check(judged(pattern))
    assert check(judged(HOST)) is None


def test_ignore_case_samples_are_lowercased() -> None:
    regex = re.compile(r"(?i)https://APP\.example\.com")
    found = op._judged("o", regex, [("https://APP.example.com", "x")], ignore_case=True)
    assert found.samples == (("https://app.example.com", "x"),)
    assert found.origins == ("https://app.example.com",)


@pytest.mark.parametrize(
    "pattern",
    [
        # The parser needs two frames per level here, and so does the walker:
        # three would not fit.
        pytest.param("(" * 300 + "a" + ")?" * 300 + HOST, id="repeated-groups-300"),
        # Here the parser needs one frame per level, and so does the walker:
        # two would not fit in the default recursion limit of 1000.
        pytest.param("(a)?" + "(?(1)" * 600 + HOST + ")" * 600, id="conditionals-600"),
    ],
)
def test_a_pattern_that_compiled_is_not_too_deep_to_judge(pattern: str) -> None:
    """Groups, repeats and conditionals recurse straight back into the
    walker, not through a step, so nesting that compiles is judged like any
    other pattern instead of being refused as too complex."""
    assert CORS(allow_origin_regex=pattern).allow_origin_regex == pattern
