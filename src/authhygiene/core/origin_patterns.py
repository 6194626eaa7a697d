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
from collections.abc import Iterator
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


def _class_chars(items: Any) -> list[str]:
    """Up to two characters of a regex class: a letter and a digit when it
    has both, so that samples look like hosts and ports."""
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
                    return [c for c in "a9." if not any(lo <= ord(c) <= hi for lo, hi in negated)]
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
    return found


def _samples(parsed: Any) -> list[_Sample]:
    """Strings the pattern matches: every alternative, optional parts with
    and without, a letter and a digit from classes; bounded."""

    def extend(acc: list[_Sample], options: list[_Sample]) -> list[_Sample]:
        out = [(d + od, x + ox) for d, x in acc for od, ox in options]
        if len(out) > _MAX_SAMPLES:
            raise _TooComplexError
        return out

    def walk(items: Any, acc: list[_Sample]) -> list[_Sample]:
        for op, arg in items:
            name = str(op)
            if name == "LITERAL":
                acc = extend(acc, [(chr(arg), chr(arg))])
            elif name == "NOT_LITERAL":
                other = "b" if chr(arg) == "a" else "a"
                acc = extend(acc, [(other, other)])
            elif name == "ANY":
                acc = extend(acc, [(".", "x")])
            elif name == "IN":
                acc = extend(acc, [(c, c) for c in _class_chars(arg)])
            elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                low, high, sub = arg
                counts = sorted({min(low, 64), min(max(low, 1), high, 64)})
                options: list[_Sample] = []
                single = len(sub) == 1 and str(sub[0][0]) in ("ANY", "IN", "LITERAL")
                for count in counts:
                    if single:
                        # One character repeated: the same one each time
                        # (`[a-z0-9]{32}` is two samples, not 2**32), and a
                        # repeated bare `.` (".*") means "anything", not a dot.
                        chars = (
                            [("a", "a"), ("9", "9")]
                            if str(sub[0][0]) == "ANY"
                            else walk(sub, [("", "")])
                        )
                        options.extend((d * count, x * count) for d, x in chars)
                        continue
                    repeated = [("", "")]
                    for _ in range(count):
                        repeated = walk(sub, repeated)
                    options.extend(repeated)
                acc = extend(acc, options)
            elif name == "SUBPATTERN":
                acc = walk(arg[-1], acc)
            elif name == "ATOMIC_GROUP":
                acc = walk(arg, acc)
            elif name == "BRANCH":
                alternatives: list[_Sample] = []
                for alternative in arg[1]:
                    alternatives.extend(walk(alternative, acc))
                    if len(alternatives) > _MAX_SAMPLES:
                        raise _TooComplexError
                acc = alternatives
            elif name == "GROUPREF_EXISTS":
                acc = walk(arg[1], acc)
            elif name in ("AT", "ASSERT", "ASSERT_NOT", "GROUPREF"):
                continue  # no text of their own (a back-reference: left out)
            else:
                raise _TooComplexError
        return acc

    return walk(parsed, [("", "")])


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


def _slow(regex: re.Pattern[str], samples: list[_Sample]) -> str | None:
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


def check_pattern(pattern: str, regex: re.Pattern[str], *, credentials: bool) -> None:
    """Refuse an origin pattern that admits other sites, can never match,
    or can be made to match slowly; the message names an example and the fix."""
    option = f"authhygiene: CORS allow_origin_regex={pattern!r}"
    fix = (
        " Anchor every alternative to your own hosts: escape the dots, end it at the host"
        r" (or port), start subdomains after a dot, e.g. r'https://[a-z0-9-]+\.example\.com',"
        " or list exact origins in allow_origins."
    )
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
                " the pattern." + fix
            ) from None
        samples = []
    ignore_case = bool(regex.flags & re.IGNORECASE)
    if not ignore_case and _has_uppercase_literal(parsed):
        raise PolicyError(
            f"{option} has uppercase letters, but browsers send origins in lowercase, so those"
            " parts would never match; write it in lowercase."
        )
    if ignore_case:
        samples = [(d.lower(), x.lower()) for d, x in samples]
    matches_anything = matches_any_site(regex.fullmatch)
    origins = sorted({d for d, _ in samples if _is_origin(d) and regex.fullmatch(d)})
    if samples and not origins and not matches_anything:
        shown = samples[0][0]
        raise PolicyError(
            f"{option} matches only values like {shown!r}, which browsers never send in Origin"
            " (they send scheme://host[:port], lowercase, without a path, a trailing slash or a"
            " default port), so it would allow nothing; write the origin itself."
        )
    slow = _slow(regex, samples)
    if slow is not None:
        raise PolicyError(
            f"{option} takes more than {_SLOW_MS:.0f} ms to match {slow!r}: nested repeats"
            " backtrack exponentially, and anyone can send such an Origin. Write it without a"
            r" repeat inside a repeat, e.g. r'https://[a-z0-9-]+\.example\.com'."
        )
    if not credentials:
        return
    if matches_anything:
        attack = next(o for o in UNRELATED_ORIGINS if regex.fullmatch(o))
        raise PolicyError(
            f"{option} matches {attack!r}, so with allow_credentials=True any site could read"
            " your users' authenticated responses." + fix
        )
    for dotted, loose in samples:
        if loose != dotted and _is_origin(loose) and regex.fullmatch(loose):
            raise PolicyError(
                f"{option} has an unescaped '.', which matches any character ({loose!r}"
                r" matches); write '\.' for a dot, e.g. r'https://app\.example\.com'."
            )
    sites = {_site(_split(o)[1]) for o in origins if not _split(o)[1].startswith("[")}
    for origin in origins:
        host = _split(origin)[1]
        for site in sites:
            if host != site and host.endswith(site) and not host.endswith("." + site):
                raise PolicyError(
                    f"{option} matches {origin!r}, a host merely ending with {site!r}, not a"
                    f" subdomain of it: put '\\.' before the domain." + fix
                )
        for attack, what in [*_attacks(origin), *_insertions(origin)]:
            if _is_origin(attack) and regex.fullmatch(attack):
                raise PolicyError(
                    f"{option} matches {attack!r} ({what}), so with allow_credentials=True that"
                    " site could read your users' authenticated responses." + fix
                )


def matches_any_site(match: Any) -> bool:
    """Whether an origin test admits unrelated sites: for reading the app's
    own CORS layer's settings (a regex, a wildcard) the way we read ours."""
    return any(match(origin) for origin in UNRELATED_ORIGINS)
