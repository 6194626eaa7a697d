"""What each route requires: `require=` as the middleware reads it.

A rule is `(method, path pattern, requirement)`: the requirement is
`Scopes(...)` (a verified credential carrying every scope named), `Scopes()`
(any verified credential) or `None` (public: no credential needed). The
first rule that matches a request decides, as routes do in every framework
we sit in front of; in enforce mode a request no rule matches is refused
(the secure default), unless a rule says it is public.

Patterns are paths where `*` stands for any run of characters, `/`
included: `/items/*` covers `/items/5` and `/items/5/parts`. Methods are
one name, a list of names, or `*`; a rule for GET covers HEAD too (a
server answers HEAD as GET without the body).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Requirements", "Rule", "Scopes", "compile_requirements", "glob_match"]

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
_SCOPE_RE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")
_METHOD_RE = re.compile(r"[A-Za-z]{1,16}|\*")
_MAX_RULES = 512
_MAX_PATTERN_CHARS = 512
_EXAMPLE = 'require=[("GET", "/items/*", Scopes("items:read")), ("*", "/health", None)]'


@dataclass(frozen=True, slots=True, init=False)
class Scopes:
    """The scopes a route requires, all of them (RFC 6750 §3: the
    `insufficient_scope` challenge lists every one). `Scopes()` requires a
    verified credential and no particular scope."""

    names: tuple[str, ...]

    def __init__(self, *names: str) -> None:
        for name in names:
            if not isinstance(name, str) or not _SCOPE_RE.fullmatch(name):
                raise ValueError(
                    "authhygiene: Scopes takes scope names as RFC 6749 §3.3 spells them"
                    " (printable ASCII without spaces, quotes or backslashes), e.g."
                    " Scopes('items:read', 'items:write')."
                )
        object.__setattr__(self, "names", tuple(dict.fromkeys(names)))

    def missing(self, held: Iterable[str]) -> tuple[str, ...]:
        """The required scopes `held` lacks."""
        have = set(held)
        return tuple(name for name in self.names if name not in have)

    def __str__(self) -> str:
        return " ".join(self.names)


@dataclass(frozen=True, slots=True)
class Rule:
    """One `(method, pattern, requirement)` of `require=`, compiled."""

    methods: frozenset[str] | None  # None: any method
    pattern: str
    scopes: Scopes | None  # None: public

    def matches(self, method: str, path: str) -> bool:
        methods = self.methods
        if (
            methods is not None
            and method not in methods
            and (method != "HEAD" or "GET" not in methods)  # a GET rule covers HEAD
        ):
            return False
        return glob_match(self.pattern, path)


@dataclass(frozen=True, slots=True)
class Requirements:
    """The rules in order; `given` is False when `require=` was not
    configured (then every route needs a verified credential in enforce
    mode, and explain mode knows no route's scopes)."""

    rules: tuple[Rule, ...] = ()
    given: bool = False

    def match(self, method: str, path: str) -> Rule | None:
        method = method.upper()
        for rule in self.rules:
            if rule.matches(method, path):
                return rule
        return None


def compile_requirements(value: object) -> Requirements:
    """`require=` checked and compiled once, at start-up."""
    if value is None:
        return Requirements()
    if isinstance(value, Requirements):
        return value
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ValueError(f"authhygiene: require is a list of rules, e.g. {_EXAMPLE}.")
    if len(value) > _MAX_RULES:
        raise ValueError(f"authhygiene: require holds at most {_MAX_RULES} rules.")
    return Requirements(tuple(_rule(index, item) for index, item in enumerate(value)), True)


def _rule(index: int, item: object) -> Rule:
    where = f"authhygiene: require[{index}]"
    if not isinstance(item, tuple | list) or len(item) != 3:
        raise ValueError(f"{where} is (method, path pattern, Scopes(...) or None); {_EXAMPLE}.")
    method, pattern, scopes = item
    if scopes is not None and not isinstance(scopes, Scopes):
        raise ValueError(
            f"{where}: the requirement is Scopes(...) (Scopes() for any verified credential)"
            " or None for a public route."
        )
    if (
        not isinstance(pattern, str)
        or not pattern.startswith("/")
        or len(pattern) > _MAX_PATTERN_CHARS
        or not pattern.isprintable()
    ):
        raise ValueError(
            f"{where}: the path pattern starts with '/' and uses '*' for any run of"
            " characters, e.g. '/items/*'."
        )
    return Rule(_methods(where, method), pattern, scopes)


def _methods(where: str, method: object) -> frozenset[str] | None:
    names = [method] if isinstance(method, str) else method
    if not isinstance(names, list | tuple | set | frozenset) or not names:
        raise ValueError(f"{where}: the method is a name such as 'GET', a list of them, or '*'.")
    upper: set[str] = set()
    for name in names:
        if not isinstance(name, str) or not _METHOD_RE.fullmatch(name):
            raise ValueError(f"{where}: the method is a name such as 'GET', a list, or '*'.")
        upper.add(name.upper())
    return None if "*" in upper else frozenset(upper)


def glob_match(pattern: str, text: str) -> bool:
    """Whether `text` matches `pattern`, `*` standing for any run of
    characters. Each star is matched where the next literal part first
    fits: linear in `text` per part, where a regex of `.*`s backtracks
    into polynomial time on a hostile path."""
    parts = pattern.split("*")
    if len(parts) == 1:
        return text == pattern
    first, last = parts[0], parts[-1]
    if len(text) < len(first) + len(last) or not (text.startswith(first) and text.endswith(last)):
        return False
    position, end = len(first), len(text) - len(last)
    for part in parts[1:-1]:
        found = text.find(part, position, end)
        if found < 0:
            return False
        position = found + len(part)
    return True
