"""Judging an `allow_origin_regex` before it ever runs.

With credentials, an origin pattern is an access-control list: any site it
admits can read the app's users' authenticated responses. The usual ways a
pattern admits other sites are small slips (`http://localhost.*`, an
unescaped `.`, `.*example\\.com`, a domain left open at its end, a shared
hosting suffix such as `*.vercel.app`), and they are caught here by
example: the pattern's own matches are enumerated (every alternative,
optional parts with and without, bounded), each is mutated the way an
attacker would register a look-alike origin (another host, the same host
going on, the domain glued to a prefix, another top-level domain, an IP
address, a free label on a shared host), and any mutation the pattern
accepts refuses it, naming that origin. A pattern too complex to enumerate
is refused with credentials, since it cannot be judged. So is one whose
matching can take exponential time on a hostile `Origin` (measured).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from authhygiene.core.option_error import PolicyError
from authhygiene.core.origins import normalise_origin, request_origin

__all__ = ["UNRELATED_ORIGINS", "check_pattern", "matches_any_site"]

# Origins no sane allow-list admits: a pattern matching one admits anything.
UNRELATED_ORIGINS = (
    "https://attacker.invalid",
    "http://attacker.invalid:8080",
    "https://evil-example.com",
)
# Hosts where anyone can get a subdomain (the private part of the Public
# Suffix List, its most used entries for front ends).
SHARED_HOSTING = frozenset(
    {
        "vercel.app",
        "netlify.app",
        "herokuapp.com",
        "github.io",
        "gitlab.io",
        "pages.dev",
        "workers.dev",
        "web.app",
        "firebaseapp.com",
        "appspot.com",
        "azurewebsites.net",
        "azurestaticapps.net",
        "cloudfront.net",
        "amplifyapp.com",
        "onrender.com",
        "fly.dev",
        "railway.app",
        "up.railway.app",
        "ngrok-free.app",
        "ngrok.io",
        "ngrok.app",
        "trycloudflare.com",
        "loca.lt",
        "glitch.me",
        "surge.sh",
        "repl.co",
        "replit.dev",
        "deno.dev",
    }
)
# Second-level labels under which a country's domains are registered (co.uk).
_SECOND_LEVELS = frozenset({"co", "com", "org", "net", "gov", "ac", "edu", "ne", "or", "go"})
_MAX_SAMPLES = 4096
_SLOW_MS = 50.0
_SLOW_SIZES = (6, 8, 10, 12, 14, 16, 18, 20)
# Characters a sample takes from a class, most useful first: what hosts and
# ports are made of.
_PREFERRED = "a9-.:0_xbcdefghijklmnopqrstuvwyz12345678/"
_Sample = tuple[str, str]  # a bare `.` written as "." and as "x"


class _TooComplexError(Exception):
    pass


def _class_samples(items: Any) -> list[_Sample]:
    """Up to two characters of a regex class, as samples: a letter and a
    digit when it has both, so that samples look like hosts and ports."""
    negate = bool(items) and str(items[0][0]) == "NEGATE"
    covered: list[tuple[int, int]] = []
    for op, arg in items[1:] if negate else items:
        name = str(op)
        if name == "LITERAL":
            covered.append((arg, arg))
        elif name == "RANGE":
            covered.append((arg[0], arg[1]))
        elif name == "CATEGORY":
            category = str(arg)
            spans = {
                "CATEGORY_DIGIT": [(48, 57)],
                "CATEGORY_WORD": [(48, 57), (65, 90), (95, 95), (97, 122)],
                "CATEGORY_SPACE": [(9, 13), (32, 32)],
            }
            if category in spans:
                covered.extend(spans[category])
            elif category.startswith("CATEGORY_NOT_"):
                # \S, \D, \W: close enough to "anything but" for sampling.
                negated = spans.get("CATEGORY_" + category[len("CATEGORY_NOT_") :], [])
                if negate:
                    covered.extend(negated)
                else:
                    return [
                        (c, c) for c in "a9." if not any(lo <= ord(c) <= hi for lo, hi in negated)
                    ]
        else:
            raise _TooComplexError
    found: list[str] = []
    for char in _PREFERRED + "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        inside = any(lo <= ord(char) <= hi for lo, hi in covered)
        if inside != negate and (not found or char.isdigit() != found[0].isdigit()):
            found.append(char)
            if len(found) == 2:
                break
    if not found and covered and not negate:
        found.append(chr(covered[0][0]))
    return [(c, c) for c in found]


def _literal(code: int) -> list[_Sample]:
    """A character stands for itself."""
    return [(chr(code), chr(code))]


def _not_literal(code: int) -> list[_Sample]:
    """`[^a]`: a letter, so the sample still looks like a host, just not
    the excluded one."""
    other = "b" if chr(code) == "a" else "a"
    return [(other, other)]


def _any(_: object) -> list[_Sample]:
    """A bare `.` both ways: the dot the developer meant, and a letter, the
    look-alike it also admits, which the unescaped-dot check tries."""
    return [(".", "x")]


def _subpattern_body(arg: Any) -> Any:
    """A group matches what its body matches (the group number and flags
    change nothing a sample shows)."""
    return arg[-1]


def _atomic_body(arg: Any) -> Any:
    """An atomic group matches what its body matches; only backtracking
    differs, which no sample shows."""
    return arg


def _condition_yes(arg: Any) -> Any:
    """A conditional `(?(1)a|b)` is sampled by its yes-branch: the group it
    tests may have matched, so that text is admitted."""
    return arg[1]


# One item of a pattern, by opcode name: a character, which is what each
# sample takes next; a wrapper, walked through to its body; a repeat or an
# alternation (in `_walk`); or no text of its own (anchors, look-arounds,
# back-references: left out). Anything else cannot be judged.
_LEAVES: dict[str, Callable[[Any], list[_Sample]]] = {
    "LITERAL": _literal,
    "NOT_LITERAL": _not_literal,
    "ANY": _any,
    "IN": _class_samples,
}
_WRAPPERS: dict[str, Callable[[Any], Any]] = {
    "SUBPATTERN": _subpattern_body,
    "ATOMIC_GROUP": _atomic_body,
    "GROUPREF_EXISTS": _condition_yes,
}
_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})
_NO_TEXT = frozenset({"AT", "ASSERT", "ASSERT_NOT", "GROUPREF"})
# A repeated bare `.` (".*") means "anything", not a dot.
_ANYTHING: tuple[_Sample, ...] = (("a", "a"), ("9", "9"))


def _bounded(samples: list[_Sample]) -> list[_Sample]:
    """`samples`, unless there are more than `_MAX_SAMPLES`: every one is
    checked against several attacks, so past that the pattern is refused as
    too complex rather than judged slowly."""
    if len(samples) > _MAX_SAMPLES:
        raise _TooComplexError
    return samples


def _extend(acc: list[_Sample], options: list[_Sample]) -> list[_Sample]:
    """Every sample so far followed by every option: where the count
    multiplies, so where it is bounded."""
    return _bounded([(d + od, x + ox) for d, x in acc for od, ox in options])


def _times(samples: Sequence[_Sample], count: int) -> list[_Sample]:
    """Each sample written `count` times over."""
    return [(d * count, x * count) for d, x in samples]


def _walk(items: Any, acc: list[_Sample]) -> list[_Sample]:
    """`acc` continued by every way through `items`. Steps that only read
    an item are looked up in the tables above; groups, alternatives and
    repeats come straight back here, never through a step, so a nested
    pattern needs no more stack than the parser needed to read it: one
    that compiled is never refused here for its depth."""
    for op, arg in items:
        name = str(op)
        if name in _LEAVES:
            acc = _extend(acc, _LEAVES[name](arg))
        elif name in _WRAPPERS:
            acc = _walk(_WRAPPERS[name](arg), acc)
        elif name == "BRANCH":
            alternatives: list[_Sample] = []
            for alternative in arg[1]:
                alternatives.extend(_walk(alternative, acc))
                _bounded(alternatives)
            acc = alternatives
        elif name in _REPEATS:
            low, high, body = arg
            one_char = len(body) == 1 and str(body[0][0]) in ("ANY", "IN", "LITERAL")
            options: list[_Sample] = []
            # The fewest copies allowed, and one (or the nearest allowed),
            # both capped at 64: an optional part with and without it, and
            # `{1000}` stays small.
            for count in sorted({min(low, 64), min(max(low, 1), high, 64)}):
                if one_char:
                    # The same character each time: `[a-z0-9]{32}` is two
                    # samples, not 2**32.
                    chars = _ANYTHING if str(body[0][0]) == "ANY" else _walk(body, [("", "")])
                    options.extend(_times(chars, count))
                else:
                    # The body written out `count` times, walked as one sequence.
                    options.extend(_walk([*body] * count, [("", "")]))
            acc = _extend(acc, options)
        elif name not in _NO_TEXT:
            raise _TooComplexError
    return acc


def _samples(parsed: Any) -> list[_Sample]:
    """Strings the pattern matches: every alternative, optional parts with
    and without, a letter and a digit from classes; bounded."""
    return _walk(parsed, [("", "")])


def _site(host: str) -> str:
    """The registrable part of a host, by the usual shape: the last two
    labels, or three under a country's second level (`example.co.uk`)."""
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVELS:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _split(origin: str) -> tuple[str, str, str]:
    scheme, rest = origin.split("://", 1)
    if rest.startswith("["):
        host, _, port = rest[1:].partition("]")
        return scheme, "[" + host + "]", port.lstrip(":")
    host, _, port = rest.partition(":")
    return scheme, host, port


def _attacks(origin: str) -> Iterator[tuple[str, str]]:
    """Origins an attacker could own that look like `origin`, each with what
    it shows about the pattern."""
    scheme, host, port = _split(origin)
    tail = f":{port}" if port else ""
    yield f"{scheme}://attacker.invalid{tail}", "any host"
    yield f"{scheme}://203.0.113.5{tail}", "any IP address"
    if host.startswith("["):
        return
    yield f"{scheme}://{host}.attacker.invalid{tail}", "your host going on"
    yield f"{scheme}://{host}-attacker.invalid{tail}", "your host going on"
    yield f"{scheme}://{host}attacker{tail}", "your host going on"
    site = _site(host)
    if "." in site:
        for glue in ("attacker", "attacker-"):
            yield f"{scheme}://{glue}{site}{tail}", "a host merely ending with your domain"
        stem = host.rsplit(".", 1)[0]
        for tld in ("zz", "xyz", "invalid"):
            yield f"{scheme}://{stem}.{tld}{tail}", "your domain under another top-level domain"
    shared = next((s for s in SHARED_HOSTING if host.endswith("." + s)), None)
    if shared is not None:
        yield f"{scheme}://attacker.{shared}{tail}", f"anyone's site on {shared}"
        first, rest = host.split(".", 1)
        if rest == shared:
            # `myapp-.*\.vercel\.app`: anyone can name a project myapp-anything.
            yield f"{scheme}://{first}attacker.{shared}{tail}", f"anyone's site on {shared}"


def _insertions(origin: str) -> Iterator[tuple[str, str]]:
    """Attacker text put anywhere inside the host (`https://myapp.*\\.com`
    admits myapp.attacker.com), kept when it lands on another site, or on
    another name under a shared hosting suffix."""
    scheme, host, port = _split(origin)
    if host.startswith("["):
        return
    tail = f":{port}" if port else ""
    site = _site(host)
    shared = site in SHARED_HOSTING or any(host.endswith("." + s) for s in SHARED_HOSTING)
    for cut in range(min(len(host), 64) + 1):
        for text in ("attacker", "attacker."):
            candidate = host[:cut] + text + host[cut:]
            if _site(candidate) != site or (shared and candidate != host):
                yield f"{scheme}://{candidate}{tail}", "a name you do not own"


def _is_origin(text: str) -> bool:
    if request_origin([text]) != text:
        return False
    try:
        return normalise_origin(text) == text
    except PolicyError:
        return False


def _has_uppercase_literal(parsed: Any) -> bool:
    for op, arg in parsed:
        name = str(op)
        if name == "LITERAL" and chr(arg).isupper():
            return True
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            if _has_uppercase_literal(arg[2]):
                return True
        elif (name == "SUBPATTERN" and _has_uppercase_literal(arg[-1])) or (
            name == "BRANCH" and any(_has_uppercase_literal(a) for a in arg[1])
        ):
            return True
    return False


def _seconds(regex: re.Pattern[str], probe: str) -> float:
    started = time.perf_counter()
    regex.fullmatch(probe)
    return time.perf_counter() - started


def _slow(regex: re.Pattern[str], samples: Sequence[_Sample]) -> str | None:
    """A hostile Origin that makes matching slow (catastrophic backtracking),
    found by timing inputs shaped like the pattern's own matches. Only a
    match slower than `_SLOW_MS` three times running counts, so a busy
    machine never refuses a sane pattern: a linear pattern matches these
    few dozen characters in microseconds, an exponential one in seconds."""
    bases = {sample for sample, _ in samples if "://" in sample} or {"https://a"}
    heads: set[str] = set()
    for base in sorted(bases)[:64]:
        scheme, host, _ = _split(base)
        # The repeat may follow fixed text (`https://app-([a-z]+-?)*...`):
        # start the hostile run after every prefix of a match's host.
        heads.update(f"{scheme}://{host[:cut]}" for cut in range(min(len(host), 40) + 1))
    for size in _SLOW_SIZES:
        # Growing sizes, so an exponential pattern is caught at the first
        # size where it is slow, long before a probe could take minutes.
        for head in sorted(heads):
            for filler in ("a", "a-", "a.", "9"):
                probe = f"{head}{filler * size}!"
                if all(_seconds(regex, probe) * 1000 > _SLOW_MS for _ in range(3)):
                    return probe
    return None


_FIX = (
    " Anchor every alternative to your own hosts: escape the dots, end it at the host"
    r" (or port), start subdomains after a dot, e.g. r'https://[a-z0-9-]+\.example\.com',"
    " or list exact origins in allow_origins."
)


@dataclass(frozen=True)
class _Judged:
    """What the checks read, worked out once per pattern: its samples (in
    lowercase when it ignores case, as browsers send origins) and those of
    them that are origins a browser would send and the pattern admits."""

    option: str
    regex: re.Pattern[str]
    samples: tuple[_Sample, ...]
    origins: tuple[str, ...]
    matches_anything: bool


def _judged(
    option: str, regex: re.Pattern[str], samples: list[_Sample], *, ignore_case: bool
) -> _Judged:
    """The pattern's samples and admitted origins, for every check below."""
    if ignore_case:
        samples = [(d.lower(), x.lower()) for d, x in samples]
    matches_anything = matches_any_site(regex.fullmatch)
    origins = sorted({d for d, _ in samples if _is_origin(d) and regex.fullmatch(d)})
    return _Judged(option, regex, tuple(samples), tuple(origins), matches_anything)


def _allows_nothing(judged: _Judged) -> str | None:
    """A pattern none of whose matches is an origin (a path, a trailing
    slash, a default port) silently allows nothing: the developer would
    debug CORS instead of reading why."""
    if not judged.samples or judged.origins or judged.matches_anything:
        return None
    shown = judged.samples[0][0]
    return (
        f"{judged.option} matches only values like {shown!r}, which browsers never send in Origin"
        " (they send scheme://host[:port], lowercase, without a path, a trailing slash or a"
        " default port), so it would allow nothing; write the origin itself."
    )


def _matches_slowly(judged: _Judged) -> str | None:
    """Anyone can send the Origin that makes a backtracking pattern slow,
    credentials or not."""
    slow = _slow(judged.regex, judged.samples)
    if slow is None:
        return None
    return (
        f"{judged.option} takes more than {_SLOW_MS:.0f} ms to match {slow!r}: nested repeats"
        " backtrack exponentially, and anyone can send such an Origin. Write it without a"
        r" repeat inside a repeat, e.g. r'https://[a-z0-9-]+\.example\.com'."
    )


def _admits_any_site(judged: _Judged) -> str | None:
    """A pattern that admits an origin no allow-list would (`.*`) admits
    every site: named by the first such origin."""
    if not judged.matches_anything:
        return None
    attack = next(o for o in UNRELATED_ORIGINS if judged.regex.fullmatch(o))
    return (
        f"{judged.option} matches {attack!r}, so with allow_credentials=True any site could read"
        " your users' authenticated responses." + _FIX
    )


def _unescaped_dot(judged: _Judged) -> str | None:
    """A `.` meant as a dot also matches a letter, and `appxexample.com` is
    anyone's to register: found where the sample with a letter for the dot
    is an origin the pattern admits."""
    for dotted, loose in judged.samples:
        if loose != dotted and _is_origin(loose) and judged.regex.fullmatch(loose):
            return (
                f"{judged.option} has an unescaped '.', which matches any character ({loose!r}"
                r" matches); write '\.' for a dot, e.g. r'https://app\.example\.com'."
            )
    return None


def _glued_to_site(option: str, origin: str, sites: set[str]) -> str | None:
    """`evil-example.com` ends with `example.com` without being under it:
    a host the pattern admits that merely ends with one of its sites."""
    host = _split(origin)[1]
    for site in sites:
        if host != site and host.endswith(site) and not host.endswith("." + site):
            return (
                f"{option} matches {origin!r}, a host merely ending with {site!r}, not a"
                f" subdomain of it: put '\\.' before the domain." + _FIX
            )
    return None


def _admits_lookalike(judged: _Judged, origin: str) -> str | None:
    """The first look-alike of `origin` an attacker could own that the
    pattern also admits."""
    for attack, what in [*_attacks(origin), *_insertions(origin)]:
        if _is_origin(attack) and judged.regex.fullmatch(attack):
            return (
                f"{judged.option} matches {attack!r} ({what}), so with allow_credentials=True that"
                " site could read your users' authenticated responses." + _FIX
            )
    return None


def _admits_other_sites(judged: _Judged) -> str | None:
    """Each origin the pattern admits, checked for a look-alike it admits
    too: a host glued to one of its sites first, then attacker origins."""
    sites = {_site(_split(o)[1]) for o in judged.origins if not _split(o)[1].startswith("[")}
    for origin in judged.origins:
        refusal = _glued_to_site(judged.option, origin, sites) or _admits_lookalike(judged, origin)
        if refusal is not None:
            return refusal
    return None


# The checks in the order they run, each the reason for a refusal or None.
# Without credentials an over-broad pattern only lets other sites read what
# they could fetch anyway, so only the ones that break the app itself run.
_ALWAYS = (_allows_nothing, _matches_slowly)
_CHECKS: dict[bool, tuple[Callable[[_Judged], str | None], ...]] = {
    False: _ALWAYS,
    True: (*_ALWAYS, _admits_any_site, _unescaped_dot, _admits_other_sites),
}


def check_pattern(pattern: str, regex: re.Pattern[str], *, credentials: bool) -> None:
    """Refuse an origin pattern that admits other sites, can never match,
    or can be made to match slowly; the message names an example and the fix."""
    option = f"authhygiene: CORS allow_origin_regex={pattern!r}"
    # Parsing, walking and the uppercase check stay here, not in steps: each
    # recurses once per nesting level, and at the same depth as before a
    # nested pattern runs out of stack exactly where it did.
    parsed: Any = ()
    try:
        from re import _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(pattern, regex.flags)
        samples = _samples(parsed)
    except (_TooComplexError, RecursionError):
        if credentials:
            raise PolicyError(
                f"{option} is too complex to check (more than {_MAX_SAMPLES} shapes, or"
                " constructs such as look-behinds); with allow_credentials=True every origin it"
                " admits must be checkable. List exact origins in allow_origins, or simplify"
                " the pattern." + _FIX
            ) from None
        samples = []
    ignore_case = bool(regex.flags & re.IGNORECASE)
    if not ignore_case and _has_uppercase_literal(parsed):
        raise PolicyError(
            f"{option} has uppercase letters, but browsers send origins in lowercase, so those"
            " parts would never match; write it in lowercase."
        )
    judged = _judged(option, regex, samples, ignore_case=ignore_case)
    for check in _CHECKS[bool(credentials)]:
        refusal = check(judged)
        if refusal is not None:
            raise PolicyError(refusal)


def matches_any_site(match: Any) -> bool:
    """Whether an origin test admits unrelated sites: for reading the app's
    own CORS layer's settings (a regex, a wildcard) the way we read ours."""
    return any(match(origin) for origin in UNRELATED_ORIGINS)
