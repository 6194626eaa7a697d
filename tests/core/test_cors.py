"""CORS, sans I/O: the policy is validated at construction, request input is
reflected only when it is one well-formed origin the policy allows, and the
headers we build never carry what the request smuggled in.

Rows cite the rules they hold (R19 exact origin with credentials, R20
preflights answered before auth, R21 failure headers exposed) and the Fetch
standard where the browser's behaviour is the reason."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import authhygiene
from authhygiene.core import cors as cors_module
from authhygiene.core.cors import (
    CORS,
    FAILURE_EXPOSED,
    CorsLayer,
    apply_cors,
    expose_on_failure,
    headers_from_layer,
    preflight_answer,
    request_origin,
)
from authhygiene.core.option_error import PolicyError as CorePolicyError
from authhygiene.core.policy import Policy, PolicyError

APP = "https://app.example.com"
LOCAL = "http://127.0.0.1:8001"
EVIL = "https://evil.example"
BASE = "tag:authhygiene,2026:problem:"
PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
# The origin grammar, written out again (Fetch §3.2.5, HTML "serialization of
# an origin"): lowercase scheme and host, an optional port, nothing else.
ORIGIN_GRAMMAR = re.compile(
    r"[a-z][a-z0-9+.\-]*://(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.\-]*[a-z0-9])?)(:[0-9]{1,5})?"
)


def values(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in headers if key == name]


def cors_names(headers: list[tuple[str, str]]) -> list[str]:
    return [key for key, _ in headers if key.startswith("access-control-")]


# ---------------------------------------------------------------------------
# Construction: refusals name the fix.

REFUSALS = [
    pytest.param(
        {"allow_origins": ["*"]},
        "or set allow_credentials=False",
        id="any-origin-with-credentials",
    ),
    pytest.param(
        {"allow_origins": [APP, "*"]},
        "List the exact origins of your front ends",
        id="any-origin-among-others",
    ),
    pytest.param({"allow_origins": ["null"]}, "Remove it", id="null"),
    pytest.param({"allow_origins": [" null "]}, "Remove it", id="null-padded"),
    pytest.param(
        {"allow_origins": ["https://*.example.com"]},
        "For subdomains use allow_origin_regex",
        id="wildcard-host",
    ),
    pytest.param(
        {"allow_origins": ["https://app.example.*"]},
        "allow_origins takes exact origins",
        id="wildcard-tld",
    ),
    pytest.param(
        {"allow_origins": ["https://user:pw@app.example.com"]},
        "must not contain user information",
        id="userinfo",
    ),
    pytest.param(
        {"allow_origins": ["https://user@app.example.com"]},
        "must not contain user information",
        id="username",
    ),
    pytest.param(
        {"allow_origins": ["https://app.example.com/app"]},
        "only scheme://host[:port], e.g. https://app.example.com",
        id="path",
    ),
    pytest.param(
        {"allow_origins": ["https://app.example.com:8443/app/"]},
        "e.g. https://app.example.com:8443",
        id="path-with-port",
    ),
    pytest.param(
        {"allow_origins": ["https://app.example.com?x=1"]},
        "has a path, query or fragment",
        id="query",
    ),
    pytest.param(
        {"allow_origins": ["https://app.example.com?"]},
        "has a path, query or fragment",
        id="empty-query",
    ),
    pytest.param(
        {"allow_origins": ["https://app.example.com#top"]},
        "has a path, query or fragment",
        id="fragment",
    ),
    pytest.param(
        {"allow_origins": ["app.example.com"]},
        "needs a scheme and a host, e.g. 'https://app.example.com'",
        id="no-scheme",
    ),
    pytest.param(
        {"allow_origins": ["//app.example.com"]},
        "needs a scheme and a host",
        id="scheme-relative",
    ),
    pytest.param({"allow_origins": ["https://"]}, "needs a scheme and a host", id="no-host"),
    pytest.param(
        {"allow_origins": ["https://app.example.com:70000"]},
        "is not a URL origin",
        id="port-out-of-range",
    ),
    pytest.param(
        {"allow_origins": ["https://app..example.com"]},
        "no empty label, no trailing dot",
        id="empty-label",
    ),
    pytest.param(
        {"allow_origins": ["https://" + "a" * 600 + ".com"]},
        "at most 512 characters",
        id="oversized",
    ),
    pytest.param(
        {"allow_origins": ["https://Bücher.example"]},
        "in its ASCII 'xn--' form",
        id="idn-given-as-unicode",
    ),
    pytest.param(
        {"allow_origins": ["https://a.example.com#"]},
        "has a path, query or fragment",
        id="empty-fragment",
    ),
    pytest.param(
        {"allow_origins": APP},
        "must be a list of strings, e.g. allow_origins=[...]",
        id="origins-as-string",
    ),
    pytest.param(
        {"allow_origins": APP.encode()},
        "must be a list of strings",
        id="origins-as-bytes",
    ),
    pytest.param({"allow_origins": [APP, 42]}, "give every entry as a string", id="origin-not-str"),
    pytest.param({}, "needs allow_origins (exact origins such as", id="nothing-allowed"),
    pytest.param({"allow_origins": []}, "or allow_origin_regex", id="empty-origins"),
    pytest.param({"allow_origin_regex": ""}, "non-empty string", id="regex-empty"),
    pytest.param({"allow_origin_regex": 42}, "non-empty string", id="regex-not-str"),
    pytest.param({"allow_origin_regex": "https://("}, "does not compile", id="regex-broken"),
    pytest.param(
        {"allow_origin_regex": ".*"},
        "matches 'https://attacker.invalid'",
        id="regex-anything",
    ),
    pytest.param(
        {"allow_origin_regex": r"https?://.*"},
        "Anchor every alternative to your own hosts",
        id="regex-any-host",
    ),
    pytest.param(
        # Unescaped dots: `.` also matches the `-` of evil-example.com.
        {"allow_origin_regex": r"https://[a-z0-9-]+.example.com"},
        "matches 'https://evil-example.com'",
        id="regex-unescaped-dots",
    ),
    pytest.param(
        {"allow_origin_regex": r"https://localhost.*"},
        "matches 'https://localhost.attacker.invalid' (your host going on)",
        id="regex-host-goes-on",
    ),
    pytest.param(
        {"allow_origin_regex": r"https://example\.com.*"},
        "end it at the host (or port)",
        id="regex-domain-goes-on",
    ),
    pytest.param(
        {"allow_origin_regex": r"https://app.example.com"},
        "has an unescaped '.'",
        id="regex-unescaped-dot",
    ),
    pytest.param(
        {"allow_origin_regex": r"https://APP\.example\.com", "allow_credentials": False},
        "write it in lowercase",
        id="regex-uppercase-never-matches",
    ),
    pytest.param(
        {"allow_origin_regex": r"https://app\.example\.com|http://localhost.*"},
        "matches 'http://localhost.attacker.invalid'",
        id="regex-second-alternative-goes-on",
    ),
    pytest.param(
        {"allow_origin_regex": r"(?:https://app\.example\.com|https://staging\.example\.com.*)"},
        "Anchor every alternative",
        id="regex-grouped-alternative-goes-on",
    ),
    pytest.param(
        {"allow_origin_regex": r"https://app\.example\.com|https://admin.example.com"},
        "has an unescaped '.'",
        id="regex-unescaped-dot-in-alternative",
    ),
    pytest.param(
        {"allow_origin_regex": r"https://app\.example\.com|https://ADMIN\.example\.com"},
        "write it in lowercase",
        id="regex-uppercase-alternative",
    ),
    pytest.param(
        {"allow_origin_regex": r"https://[a-z0-9-]+\.example\.com/"},
        "would allow nothing",
        id="regex-trailing-slash-never-matches",
    ),
    pytest.param(
        {"allow_origin_regex": r"https://app\.example\.com:443"},
        "without a path, a trailing slash or a default port",
        id="regex-default-port-never-matches",
    ),
    pytest.param(
        {"allow_origin_regex": r"https://.*example\.com"},
        "start subdomains after a dot",
        id="regex-suffix-without-dot",
    ),
    pytest.param(
        {"allow_origins": [APP], "allow_credentials": "yes"},
        "allow_credentials must be True or False",
        id="credentials-not-bool",
    ),
    pytest.param(
        {"allow_origins": [APP], "allow_credentials": 1},
        "True or False",
        id="credentials-int",
    ),
    pytest.param(
        {"allow_origins": [APP], "allow_methods": []},
        "name at least 'GET'",
        id="no-methods",
    ),
    pytest.param(
        {"allow_origins": [APP], "allow_methods": "GET"},
        "allow_methods=[...]",
        id="methods-as-string",
    ),
    pytest.param(
        {"allow_origins": [APP], "allow_methods": ["GE T"]},
        "allow_methods contains 'GE T', which is not an HTTP token; give bare names",
        id="method-not-token",
    ),
    pytest.param(
        {"allow_origins": [APP], "allow_headers": ["X Foo"]},
        "allow_headers contains 'X Foo', which is not an HTTP token",
        id="header-not-token",
    ),
    pytest.param(
        {"allow_origins": [APP], "allow_headers": "Authorization"},
        "allow_headers=[...]",
        id="headers-as-string",
    ),
    pytest.param(
        {"allow_origins": [APP], "expose_headers": ["X-A\r\nSet-Cookie: a=b"]},
        "which is not an HTTP token",
        id="expose-crlf",
    ),
    pytest.param(
        {"allow_origins": [APP], "expose_headers": ["*"]},
        "List the headers, e.g. expose_headers=['X-Request-Id']",
        id="expose-any-with-credentials",
    ),
    pytest.param({"allow_origins": [APP], "max_age": -1}, "from 0 to 86400", id="max-age-neg"),
    pytest.param({"allow_origins": [APP], "max_age": 86401}, "from 0 to 86400", id="max-age-big"),
    pytest.param({"allow_origins": [APP], "max_age": True}, "from 0 to 86400", id="max-age-bool"),
    pytest.param({"allow_origins": [APP], "max_age": "600"}, "from 0 to 86400", id="max-age-str"),
    pytest.param({"allow_origins": [APP], "max_age": 1.5}, "from 0 to 86400", id="max-age-float"),
]


@pytest.mark.parametrize(("options", "fragment"), REFUSALS)
def test_refusals_name_the_fix(options: dict[str, Any], fragment: str) -> None:
    """A policy that would let any site read credentialed responses, or that a
    browser would never match, does not start; the message says what to do."""
    with pytest.raises(PolicyError, match=r"^authhygiene: ") as raised:
        CORS(**options)
    assert fragment in str(raised.value)


def test_broad_regex_is_fine_without_credentials() -> None:
    """Only credentialed reads are at stake: without credentials a broad
    regex is a choice, and the origin is still sent back exactly."""
    cors = CORS(allow_origin_regex=r"https?://.*", allow_credentials=False)
    assert cors.allows("https://attacker.invalid")
    assert cors.allow_origin_value("https://attacker.invalid") == "https://attacker.invalid"


def test_null_is_refused_even_without_credentials() -> None:
    """`null` is not one origin but every sandboxed frame and file: page."""
    with pytest.raises(PolicyError, match="Remove it"):
        CORS(allow_origins=["null"], allow_credentials=False)


NORMALISED = [
    pytest.param("HTTPS://App.Example.com:443/", "https://app.example.com", id="case-port-slash"),
    pytest.param("http://localhost:80", "http://localhost", id="http-default-port"),
    pytest.param("http://localhost:8000", "http://localhost:8000", id="other-port-kept"),
    pytest.param("http://app.example.com:443", "http://app.example.com:443", id="443-on-http"),
    pytest.param("https://app.example.com:80", "https://app.example.com:80", id="80-on-https"),
    pytest.param("wss://socket.example.com:443", "wss://socket.example.com", id="wss-default"),
    pytest.param("https://app.example.com/", "https://app.example.com", id="trailing-slash"),
    pytest.param("https://app.example.com:", "https://app.example.com", id="empty-port"),
    pytest.param("  https://app.example.com\t", "https://app.example.com", id="whitespace"),
    pytest.param("http://127.0.0.1:8001", "http://127.0.0.1:8001", id="ipv4"),
    pytest.param("http://[::1]:8080", "http://[::1]:8080", id="ipv6-port"),
    pytest.param("http://[::1]:80", "http://[::1]", id="ipv6-default-port"),
    pytest.param("http://[FE80::1]", "http://[fe80::1]", id="ipv6-upper"),
    # IDNs are taken in the A-label form browsers send (UTS #46, which
    # Python's IDNA 2003 codec does not implement: a Unicode host is refused).
    pytest.param("https://xn--bcher-kva.example", "https://xn--bcher-kva.example", id="punycode"),
    pytest.param(
        "https://XN--STRAE-OQA.de:8443/", "https://xn--strae-oqa.de:8443", id="a-label-port"
    ),
    pytest.param("http://my_host.local", "http://my_host.local", id="underscore-host"),
    # WHATWG URL serialises IPv6 compressed: a browser sends [::1].
    pytest.param("http://[0:0:0:0:0:0:0:1]:8080", "http://[::1]:8080", id="ipv6-uncompressed"),
    pytest.param("http://[::FFFF:127.0.0.1]", "http://[::ffff:7f00:1]", id="ipv4-mapped"),
    pytest.param("http://[2001:db8:0:0:1:0:0:1]", "http://[2001:db8::1:0:0:1]", id="first-run"),
]


@pytest.mark.parametrize(("given_origin", "expected"), NORMALISED)
def test_origins_normalised_as_browsers_send_them(given_origin: str, expected: str) -> None:
    """An allow-list entry matches only the exact serialisation a browser
    sends in `Origin`, so the entry is stored in that form."""
    cors = CORS(allow_origins=[given_origin])
    assert cors.allow_origins == (expected,)
    assert cors.allows(expected)
    assert request_origin([expected]) == expected


@pytest.mark.parametrize(
    ("options", "attribute", "expected"),
    [
        pytest.param({}, "allow_methods", cors_module.DEFAULT_METHODS, id="default-methods"),
        pytest.param(
            {"allow_methods": ["get", "Post"]}, "allow_methods", ("GET", "POST"), id="methods-upper"
        ),
        pytest.param({"allow_methods": ["*"]}, "allow_methods", ("*",), id="methods-any"),
        pytest.param({}, "allow_headers", ("*",), id="default-headers-mirror"),
        pytest.param(
            {"allow_headers": ["Content-Type"]},
            "allow_headers",
            ("Authorization", "Content-Type"),
            id="authorization-added",
        ),
        pytest.param(
            {"allow_headers": ["content-type", "authorization", "Content-Type"]},
            "allow_headers",
            ("Authorization", "content-type"),
            id="headers-deduplicated",
        ),
        pytest.param({"allow_headers": []}, "allow_headers", ("Authorization",), id="headers-none"),
        pytest.param(
            {"expose_headers": ["X-Request-Id"]},
            "expose_headers",
            ("X-Request-Id",),
            id="expose",
        ),
        pytest.param({"max_age": 0}, "max_age", 0, id="max-age-0"),
        pytest.param({"max_age": 86400}, "max_age", 86400, id="max-age-day"),
        pytest.param(
            {"allow_origins": ["http://a.example", "HTTP://A.example/"]},
            "allow_origins",
            ("http://a.example", "http://a.example"),
            id="origins-all-normalised",
        ),
    ],
)
def test_other_options_normalised(options: dict[str, Any], attribute: str, expected: Any) -> None:
    """Fetch: a `*` in Allow-Headers never covers Authorization, so an explicit
    list always carries it; methods are compared upper-case by browsers."""
    cors = CORS(**{"allow_origins": [APP], **options})
    assert getattr(cors, attribute) == expected


ALLOWS = [
    pytest.param({"allow_origins": [APP]}, APP, True, id="exact"),
    pytest.param({"allow_origins": [APP]}, APP + ":443", False, id="default-port-spelled"),
    pytest.param({"allow_origins": [APP]}, "http://app.example.com", False, id="other-scheme"),
    pytest.param({"allow_origins": [APP]}, "https://app.example.com.evil", False, id="suffix"),
    pytest.param({"allow_origins": [APP]}, "https://sub.app.example.com", False, id="subdomain"),
    pytest.param(
        {"allow_origin_regex": r"https://[a-z0-9-]+\.example\.com"},
        "https://admin.example.com",
        True,
        id="regex-match",
    ),
    pytest.param(
        {"allow_origin_regex": r"https://[a-z0-9-]+\.example\.com"},
        "https://admin.example.com.evil.io",
        False,
        id="regex-is-fullmatch",
    ),
    pytest.param(
        {"allow_origins": ["*"], "allow_credentials": False}, EVIL, True, id="any-no-credentials"
    ),
]


@pytest.mark.parametrize(("options", "origin", "allowed"), ALLOWS)
def test_allows(options: dict[str, Any], origin: str, allowed: bool) -> None:
    """Exact string comparison or a full regex match; nothing in between."""
    assert CORS(**options).allows(origin) is allowed


@pytest.mark.parametrize(
    ("options", "origin", "expected"),
    [
        pytest.param({"allow_origins": [APP]}, APP, APP, id="exact-with-credentials"),
        pytest.param({"allow_origins": [APP], "allow_credentials": False}, APP, APP, id="exact"),
        pytest.param(
            {"allow_origins": ["*"], "allow_credentials": False}, EVIL, "*", id="any-is-star"
        ),
        pytest.param(
            {"allow_origins": ["*", APP], "allow_credentials": False}, APP, "*", id="any-and-app"
        ),
    ],
)
def test_allow_origin_value(options: dict[str, Any], origin: str, expected: str) -> None:
    """R19: `*` only when any origin may read and no credentials are involved."""
    assert CORS(**options).allow_origin_value(origin) == expected


# ---------------------------------------------------------------------------
# CORS.from_mapping and Policy.from_options(cors=...).

FROM_MAPPING_REFUSALS = [
    pytest.param(
        {"allow_origin": [APP]},
        "unknown CORS option 'allow_origin'. Did you mean 'allow_origins'?",
        id="typo",
    ),
    pytest.param(
        {"allow_origins": [APP], "max_ages": 5},
        "Did you mean 'max_age'?",
        id="typo-second-key",
    ),
    pytest.param(
        {"allow_origins": [APP], "colour": "red"},
        "Known options: allow_credentials, allow_headers",
        id="unknown-no-suggestion",
    ),
    pytest.param(
        {"allow_origins": [APP], "_origins": frozenset()},
        "unknown CORS option '_origins'",
        id="private-field",
    ),
    pytest.param(
        [APP],
        "cors must be authhygiene.CORS(...) or a dict of its options",
        id="list",
    ),
    pytest.param(APP, "e.g. {'allow_origins': ['https://app.example.com']}", id="string"),
    pytest.param(True, "or a dict of its options", id="bool"),
    pytest.param({"allow_origins": ["*"]}, "allow_credentials=False", id="validated"),
]


@pytest.mark.parametrize(("options", "fragment"), FROM_MAPPING_REFUSALS)
def test_from_mapping_refusals(options: Any, fragment: str) -> None:
    """Django settings are a dict: a typo there says which option was meant."""
    with pytest.raises(PolicyError, match=r"^authhygiene: ") as raised:
        CORS.from_mapping(options)
    assert fragment in str(raised.value)


def test_from_mapping_builds_and_passes_through() -> None:
    """A dict is validated like keyword arguments; a CORS is used as given."""
    built = CORS.from_mapping({"allow_origins": ["HTTPS://App.Example.com/"], "max_age": 60})
    assert built == CORS(allow_origins=[APP], max_age=60)
    assert built.allow_origins == (APP,)
    assert CORS.from_mapping(built) is built


@pytest.mark.parametrize(
    ("cors", "expected_origins"),
    [
        pytest.param({"allow_origins": [APP + "/"]}, (APP,), id="dict"),
        pytest.param(CORS(allow_origins=[LOCAL]), (LOCAL,), id="instance"),
        pytest.param(None, None, id="none"),
    ],
)
def test_policy_from_options(cors: Any, expected_origins: tuple[str, ...] | None) -> None:
    """`cors=` reaches Policy from keywords (ASGI/WSGI) and from Django's dict."""
    policy = Policy.from_options({"realm": "api", "cors": cors})
    if expected_origins is None:
        assert policy.cors is None
        return
    assert isinstance(policy.cors, CORS)
    assert policy.cors.allow_origins == expected_origins
    if isinstance(cors, CORS):
        assert policy.cors is cors


@pytest.mark.parametrize(
    ("cors", "fragment"),
    [
        pytest.param({"allow_origins": ["*"]}, "allow_credentials=False", id="unsafe"),
        pytest.param({"allow_origin": [APP]}, "Did you mean 'allow_origins'?", id="typo"),
        pytest.param([APP], "or a dict of its options", id="list"),
    ],
)
def test_policy_from_options_refuses_bad_cors(cors: Any, fragment: str) -> None:
    with pytest.raises(PolicyError) as raised:
        Policy.from_options({"realm": "api", "cors": cors})
    assert fragment in str(raised.value)


def test_one_policy_error_type() -> None:
    """`except authhygiene.PolicyError` (or ValueError) catches CORS refusals too."""
    assert authhygiene.PolicyError is PolicyError is CorePolicyError
    assert cors_module.PolicyError is PolicyError
    assert issubclass(PolicyError, ValueError)
    assert authhygiene.CORS is CORS
    with pytest.raises(ValueError, match="Remove it"):
        CORS(allow_origins=["null"])


# ---------------------------------------------------------------------------
# request_origin: only one well-formed serialisation is ever reflected.

HOSTILE_ORIGINS = [
    pytest.param([], id="absent"),
    pytest.param([APP, APP], id="several-same"),
    pytest.param([APP, EVIL], id="several"),
    pytest.param(["null"], id="null"),
    pytest.param([""], id="empty"),
    pytest.param(["*"], id="star"),
    pytest.param([APP + "\r\nSet-Cookie: a=b"], id="crlf"),
    pytest.param([APP + "\n"], id="trailing-lf"),
    pytest.param([APP + "\x00"], id="nul"),
    pytest.param(["https://bücher.example"], id="non-ascii"),
    pytest.param(["https://app.example.com\u2028"], id="unicode-line-separator"),
    pytest.param(["HTTPS://APP.EXAMPLE.COM"], id="uppercase"),
    pytest.param(["https://App.example.com"], id="mixed-case"),
    pytest.param(["https://" + "a" * 505], id="513-chars"),
    pytest.param([APP + "/"], id="trailing-slash"),
    pytest.param([APP + "/path"], id="path"),
    pytest.param([APP + "?q=1"], id="query"),
    pytest.param([" " + APP], id="leading-space"),
    pytest.param([APP + " "], id="trailing-space"),
    pytest.param(["https://app .example.com"], id="inner-space"),
    pytest.param([f"{APP}, {EVIL}"], id="comma-joined"),
    pytest.param([f"{APP},{EVIL}"], id="comma-joined-tight"),
    pytest.param(["app.example.com"], id="no-scheme"),
    pytest.param(["https://user@app.example.com"], id="userinfo"),
    pytest.param(["https://*.example.com"], id="wildcard"),
    pytest.param(['"https://app.example.com"'], id="quoted"),
    pytest.param(["https://app.example.com\\"], id="backslash"),
    pytest.param(["https://app.example.com:123456"], id="six-digit-port"),
    pytest.param(["https://-app.example.com"], id="leading-hyphen"),
]


@pytest.mark.parametrize("origin_values", HOSTILE_ORIGINS)
def test_request_origin_refuses(origin_values: list[str]) -> None:
    """Behaviour 4: several fields, `null`, oversized, non-ASCII, CR/LF,
    uppercase or anything but `scheme://host[:port]` is never reflected."""
    assert request_origin(origin_values) is None


GOOD_ORIGINS = [
    pytest.param(APP, id="https"),
    pytest.param(LOCAL, id="ipv4-port"),
    pytest.param("http://localhost:3000", id="localhost"),
    pytest.param("http://[::1]:8080", id="ipv6"),
    pytest.param("https://xn--bcher-kva.example", id="punycode"),
    pytest.param("chrome-extension://abcdefghijklmnop", id="extension"),
    pytest.param("https://" + "a" * 504, id="512-chars"),
    # Grammar only: a browser never spells the default port, so no allow-list
    # entry (normalised) matches this, but it is no danger to reflect.
    pytest.param(APP + ":443", id="default-port-spelled"),
]


@pytest.mark.parametrize("origin", GOOD_ORIGINS)
def test_request_origin_returns_good_ones_unchanged(origin: str) -> None:
    assert request_origin([origin]) == origin


# ---------------------------------------------------------------------------
# preflight_answer (R20): answered before the app's auth ever runs.

ALLOWED_PREFLIGHT = [
    ("access-control-allow-origin", APP),
    ("access-control-allow-credentials", "true"),
    ("access-control-allow-methods", "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"),
    ("access-control-allow-headers", "Authorization, content-type"),
    ("access-control-max-age", "600"),
    ("vary", PREFLIGHT_VARY),
]


def test_preflight_allowed_exact_answer() -> None:
    """204, no body, no Content-Length (RFC 9110 §8.6 for 204), the exact
    origin with credentials, and Vary for every request header it read."""
    status, headers, body = preflight_answer(
        CORS(allow_origins=[APP]), [APP], "PUT", "content-type", problem_type_base=BASE
    )
    assert (status, headers, body) == (204, ALLOWED_PREFLIGHT, b"")


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        pytest.param(None, "Authorization", id="none"),
        pytest.param("", "Authorization", id="empty"),
        pytest.param("authorization", "Authorization", id="authorization-only"),
        pytest.param("content-type", "Authorization, content-type", id="one"),
        pytest.param(
            "authorization, content-type", "Authorization, content-type", id="with-authorization"
        ),
        pytest.param("X-Foo, x-foo ,X-Bar", "Authorization, X-Foo, X-Bar", id="dedup-case"),
        pytest.param("a,,b, ", "Authorization, a, b", id="empty-items"),
        pytest.param("x-" + "a" * 2046, "Authorization, x-" + "a" * 2046, id="2048-chars"),
        pytest.param("x-" + "a" * 2047, "Authorization", id="2049-chars-dropped"),
        pytest.param("x-foo\r\nSet-Cookie: a=b", "Authorization", id="crlf"),
        pytest.param("x-foo, bad header", "Authorization", id="one-bad-drops-all"),
        pytest.param('x-"quoted"', "Authorization", id="quote"),
        pytest.param("x-a\\b", "Authorization", id="backslash"),
        pytest.param("x-ü", "Authorization", id="non-ascii"),
        pytest.param("x-a;b=c", "Authorization", id="semicolon"),
        pytest.param("x-a\x00", "Authorization", id="nul"),
    ],
)
def test_preflight_mirrors_requested_headers(requested: str | None, expected: str) -> None:
    """allow_headers '*' answers with the header names asked for, when all of
    them are tokens and the list is bounded; Authorization is always there."""
    _, headers, _ = preflight_answer(
        CORS(allow_origins=[APP]), [APP], "GET", requested, problem_type_base=BASE
    )
    assert values(headers, "access-control-allow-headers") == [expected]


@pytest.mark.parametrize(
    ("allow_headers", "requested", "expected"),
    [
        pytest.param(["Content-Type"], "x-other", "Authorization, Content-Type", id="list"),
        pytest.param(["X-A", "authorization"], None, "Authorization, X-A", id="dedup"),
        pytest.param([], "content-type", "Authorization", id="empty-list"),
    ],
)
def test_preflight_explicit_allow_headers(
    allow_headers: list[str], requested: str | None, expected: str
) -> None:
    """An explicit list is sent as configured, never mirrored, with Authorization."""
    cors = CORS(allow_origins=[APP], allow_headers=allow_headers)
    _, headers, _ = preflight_answer(cors, [APP], "GET", requested, problem_type_base=BASE)
    assert values(headers, "access-control-allow-headers") == [expected]


@pytest.mark.parametrize(
    ("allow_methods", "requested", "expected"),
    [
        pytest.param(["*"], "PROPFIND", ["PROPFIND"], id="star-mirrors"),
        pytest.param(["*"], " PATCH ", ["PATCH"], id="star-strips"),
        pytest.param(["*"], "GE T", [], id="star-not-token"),
        pytest.param(["*"], "GET\r\nX: y", [], id="star-crlf"),
        pytest.param(["*"], "", [], id="star-empty"),
        pytest.param(["*"], "GËT", [], id="star-non-ascii"),
        pytest.param(["get", "post"], "PROPFIND", ["GET, POST"], id="list-as-configured"),
        pytest.param(["GET"], "GET\r\nX: y", ["GET"], id="list-ignores-request"),
    ],
)
def test_preflight_methods(allow_methods: list[str], requested: str, expected: list[str]) -> None:
    """Fetch: `*` in Allow-Methods is literal with credentials, so '*' means
    "mirror the requested method", when it is a token."""
    cors = CORS(allow_origins=[APP], allow_methods=allow_methods)
    status, headers, _ = preflight_answer(cors, [APP], requested, None, problem_type_base=BASE)
    assert status == 204
    assert values(headers, "access-control-allow-methods") == expected


DISALLOWED_PREFLIGHT = [
    pytest.param([EVIL], id="other-origin"),
    pytest.param(["https://app.example.com.evil.io"], id="suffix"),
    pytest.param(["null"], id="null"),
    pytest.param([], id="no-origin"),
    pytest.param([APP, APP], id="several"),
    pytest.param(["HTTPS://APP.EXAMPLE.COM"], id="uppercase-of-allowed"),
    pytest.param([APP + "\r\nX-Evil: 1"], id="crlf-after-allowed"),
    pytest.param([APP + ":443"], id="default-port-spelled"),
    pytest.param(["https://" + "a" * 600], id="oversized"),
]


@pytest.mark.parametrize("origin_values", DISALLOWED_PREFLIGHT)
def test_preflight_disallowed(origin_values: list[str]) -> None:
    """A 403 problem the browser refuses (no CORS header at all) and a curl
    user can read; the refused origin is echoed nowhere."""
    status, headers, body = preflight_answer(
        CORS(allow_origins=[APP]), origin_values, "GET", "authorization", problem_type_base=BASE
    )
    assert status == 403
    assert cors_names(headers) == []
    assert headers == [
        ("content-type", "application/problem+json"),
        ("content-length", str(len(body))),
        ("cache-control", "no-store"),
        ("vary", PREFLIGHT_VARY),
    ]
    problem = json.loads(body)
    assert problem["reason"] == "origin_not_allowed"
    assert problem["status"] == 403
    assert problem["type"] == BASE + "origin-not-allowed"
    assert problem["hint"].startswith("Call the API from an origin its CORS policy allows")
    for origin in origin_values:
        assert origin not in body.decode()
        assert all(origin not in value for _, value in headers)


def test_preflight_any_origin_without_credentials() -> None:
    """R19: `*` is sent only when no credentials are involved, and then no ACAC."""
    cors = CORS(allow_origins=["*"], allow_credentials=False, max_age=0)
    status, headers, _ = preflight_answer(cors, [EVIL], "GET", None, problem_type_base=BASE)
    assert status == 204
    assert values(headers, "access-control-allow-origin") == ["*"]
    assert values(headers, "access-control-allow-credentials") == []
    assert values(headers, "access-control-max-age") == ["0"]


def test_preflight_regex_origin_gets_exact_origin() -> None:
    cors = CORS(allow_origin_regex=r"https://[a-z0-9-]+\.example\.com")
    status, headers, _ = preflight_answer(
        cors, ["https://admin.example.com"], "GET", None, problem_type_base=BASE
    )
    assert status == 204
    assert values(headers, "access-control-allow-origin") == ["https://admin.example.com"]
    assert values(headers, "access-control-allow-credentials") == ["true"]


def test_cors_layer_preflight_is_preflight_answer() -> None:
    cors = CORS(allow_origins=[APP])
    layer = CorsLayer(cors, BASE, ("x-request-id",))
    for origin in ([APP], [EVIL]):
        assert layer.preflight(origin, "PUT", "content-type") == preflight_answer(
            cors, origin, "PUT", "content-type", problem_type_base=BASE
        )


# ---------------------------------------------------------------------------
# apply_cors (R19, R21): every response, success or failure.

APPLY = [
    pytest.param(
        APP,
        [("content-type", "application/json")],
        False,
        [
            ("content-type", "application/json"),
            ("vary", "Origin"),
            ("access-control-allow-origin", APP),
            ("access-control-allow-credentials", "true"),
            ("access-control-expose-headers", "X-Trace, x-request-id"),
        ],
        id="allowed-success",
    ),
    pytest.param(
        APP,
        [("www-authenticate", 'Bearer realm="api"')],
        True,
        [
            ("www-authenticate", 'Bearer realm="api"'),
            ("vary", "Origin"),
            ("access-control-allow-origin", APP),
            ("access-control-allow-credentials", "true"),
            (
                "access-control-expose-headers",
                "X-Trace, WWW-Authenticate, Retry-After, x-request-id",
            ),
        ],
        id="allowed-failure",
    ),
    pytest.param(
        EVIL,
        [("access-control-allow-origin", EVIL), ("access-control-allow-credentials", "true")],
        True,
        [("vary", "Origin")],
        id="not-allowed-app-cors-dropped",
    ),
    pytest.param(None, [("x-a", "1")], True, [("x-a", "1"), ("vary", "Origin")], id="no-origin"),
    pytest.param(
        None,
        [("vary", "Accept-Encoding"), ("access-control-expose-headers", "X-App")],
        False,
        [("vary", "Accept-Encoding, Origin"), ("access-control-expose-headers", "X-App")],
        id="no-origin-app-expose-kept",
    ),
    pytest.param(
        APP,
        [("access-control-allow-origin", "*"), ("access-control-allow-credentials", "false")],
        True,
        [
            ("vary", "Origin"),
            ("access-control-allow-origin", APP),
            ("access-control-allow-credentials", "true"),
            (
                "access-control-expose-headers",
                "X-Trace, WWW-Authenticate, Retry-After, x-request-id",
            ),
        ],
        id="app-acao-acac-replaced",
    ),
    pytest.param(
        APP,
        [
            ("access-control-expose-headers", "X-App, www-authenticate"),
            ("access-control-expose-headers", "x-trace, X-Other"),
        ],
        True,
        [
            ("vary", "Origin"),
            ("access-control-allow-origin", APP),
            ("access-control-allow-credentials", "true"),
            (
                "access-control-expose-headers",
                "X-App, www-authenticate, x-trace, X-Other, Retry-After, x-request-id",
            ),
        ],
        id="app-expose-kept-extended-dedup",
    ),
    pytest.param(
        APP,
        [("vary", "Accept"), ("vary", "origin, Cookie")],
        False,
        [
            ("vary", "Accept, origin, Cookie"),
            ("access-control-allow-origin", APP),
            ("access-control-allow-credentials", "true"),
            ("access-control-expose-headers", "X-Trace, x-request-id"),
        ],
        id="vary-merged",
    ),
    pytest.param(
        APP,
        [("vary", "*")],
        False,
        [
            ("vary", "*"),
            ("access-control-allow-origin", APP),
            ("access-control-allow-credentials", "true"),
            ("access-control-expose-headers", "X-Trace, x-request-id"),
        ],
        id="vary-star-stays",
    ),
    pytest.param(
        APP,
        [("vary", "Accept, *")],
        False,
        [
            ("vary", "*"),
            ("access-control-allow-origin", APP),
            ("access-control-allow-credentials", "true"),
            ("access-control-expose-headers", "X-Trace, x-request-id"),
        ],
        id="vary-star-absorbs",
    ),
]


@pytest.mark.parametrize(("origin", "app_headers", "failure", "expected"), APPLY)
def test_apply_cors(
    origin: str | None,
    app_headers: list[tuple[str, str]],
    failure: bool,
    expected: list[tuple[str, str]],
) -> None:
    """We are the CORS layer: the app's ACAO/ACAC never survive; its exposed
    list does, extended (R21 on failures); Vary: Origin always (Fetch §3.2.5)."""
    cors = CORS(allow_origins=[APP], expose_headers=["X-Trace"])
    out = apply_cors(cors, origin, app_headers, failure=failure, also_exposed=("x-request-id",))
    assert out == expected
    # Idempotent: the adapters may run it on a response it already touched.
    again = apply_cors(cors, origin, out, failure=failure, also_exposed=("x-request-id",))
    assert again == out


@pytest.mark.parametrize("origin", [APP, EVIL, None])
@pytest.mark.parametrize("failure", [True, False], ids=["failure", "success"])
def test_apply_cors_idempotent(origin: str | None, failure: bool) -> None:
    cors = CORS(allow_origins=[APP])
    headers = [
        ("vary", "Accept"),
        ("access-control-expose-headers", "X-App"),
        ("access-control-allow-origin", "*"),
        ("x-a", "1"),
    ]
    once = apply_cors(cors, origin, headers, failure=failure)
    assert apply_cors(cors, origin, once, failure=failure) == once


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(
            {"allow_origins": [APP], "allow_credentials": False},
            [
                ("vary", "Origin"),
                ("access-control-allow-origin", APP),
                ("access-control-expose-headers", "WWW-Authenticate, Retry-After"),
            ],
            id="exact-no-credentials",
        ),
        pytest.param(
            {"allow_origins": ["*"], "allow_credentials": False},
            [
                ("vary", "Origin"),
                ("access-control-allow-origin", "*"),
                ("access-control-expose-headers", "WWW-Authenticate, Retry-After"),
            ],
            id="any-no-credentials",
        ),
    ],
)
def test_apply_cors_without_credentials(
    options: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert apply_cors(CORS(**options), APP, [], failure=True) == expected


@pytest.mark.parametrize(
    ("status", "exposed"),
    [
        pytest.param(200, "x-request-id", id="200"),
        pytest.param(399, "x-request-id", id="399"),
        pytest.param(400, "WWW-Authenticate, Retry-After, x-request-id", id="400"),
        pytest.param(401, "WWW-Authenticate, Retry-After, x-request-id", id="401"),
        pytest.param(500, "WWW-Authenticate, Retry-After, x-request-id", id="500"),
    ],
)
def test_cors_layer_failure_is_status_400_and_up(status: int, exposed: str) -> None:
    """Every status >= 400, 5xx included, exposes the failure headers."""
    layer = CorsLayer(CORS(allow_origins=[APP]), BASE, ("x-request-id",))
    headers = layer.headers(APP, [], status)
    assert values(headers, "access-control-expose-headers") == [exposed]
    assert values(headers, "access-control-allow-origin") == [APP]


# ---------------------------------------------------------------------------
# Without cors=: the app's CORS layer decides; we extend its exposed list.

EXPOSE = [
    pytest.param([], (), "WWW-Authenticate, Retry-After", id="nothing"),
    pytest.param(
        [], ("x-request-id",), "WWW-Authenticate, Retry-After, x-request-id", id="request-id"
    ),
    pytest.param(
        [("access-control-expose-headers", "X-Trace")],
        ("x-request-id",),
        "X-Trace, WWW-Authenticate, Retry-After, x-request-id",
        id="app-list-first",
    ),
    pytest.param(
        [("access-control-expose-headers", "www-authenticate, X-Trace")],
        (),
        "www-authenticate, X-Trace, Retry-After",
        id="dedup-case-insensitive",
    ),
    pytest.param(
        [
            ("access-control-expose-headers", "X-A"),
            ("access-control-expose-headers", "X-B, retry-after"),
        ],
        ("X-Request-Id",),
        "X-A, X-B, retry-after, WWW-Authenticate, X-Request-Id",
        id="several-app-fields",
    ),
]


@pytest.mark.parametrize(("app_headers", "also", "expected"), EXPOSE)
def test_expose_on_failure(
    app_headers: list[tuple[str, str]], also: tuple[str, ...], expected: str
) -> None:
    """R21: the challenge is readable by page code; the app's list is kept."""
    others = [
        ("access-control-allow-origin", APP),
        ("access-control-allow-credentials", "true"),
        ("vary", "Origin"),
    ]
    out = expose_on_failure([*others, *app_headers], also)
    assert out == [*others, ("access-control-expose-headers", expected)]
    assert expose_on_failure(out, also) == out
    exposed = {item.strip().lower() for item in expected.split(",")}
    assert {name.lower() for name in FAILURE_EXPOSED} <= exposed


# ---------------------------------------------------------------------------
# headers_from_layer: what the app's own CORS layer would have put on a failure.

PROBE = [
    pytest.param(
        [("access-control-allow-origin", APP)], [("access-control-allow-origin", APP)], id="exact"
    ),
    pytest.param(
        [("access-control-allow-origin", APP), ("access-control-allow-credentials", "true")],
        [("access-control-allow-origin", APP), ("access-control-allow-credentials", "true")],
        id="exact-with-credentials",
    ),
    pytest.param(
        [("access-control-allow-origin", f" {APP} ")],
        [("access-control-allow-origin", APP)],
        id="whitespace-trimmed",
    ),
    pytest.param(
        [("access-control-allow-origin", "*")], [("access-control-allow-origin", "*")], id="star"
    ),
    pytest.param(
        [("access-control-allow-origin", "*"), ("access-control-allow-credentials", "true")],
        [("access-control-allow-origin", "*"), ("access-control-allow-credentials", "true")],
        id="star-credentials-copied-as-said",
    ),
    pytest.param(
        [("access-control-allow-origin", APP), ("access-control-allow-credentials", "True")],
        [("access-control-allow-origin", APP)],
        id="credentials-not-exactly-true",
    ),
    pytest.param(
        [("access-control-allow-origin", APP), ("access-control-allow-credentials", "false")],
        [("access-control-allow-origin", APP)],
        id="credentials-false",
    ),
    pytest.param(
        [
            ("access-control-allow-origin", APP),
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-credentials", "true"),
        ],
        [("access-control-allow-origin", APP)],
        id="credentials-twice",
    ),
    pytest.param([("access-control-allow-origin", EVIL)], [], id="other-origin"),
    pytest.param([("access-control-allow-origin", APP.upper())], [], id="uppercase"),
    pytest.param([("access-control-allow-origin", APP + "/")], [], id="trailing-slash"),
    pytest.param(
        [("access-control-allow-origin", APP), ("access-control-allow-origin", APP)],
        [],
        id="several-values",
    ),
    pytest.param([("access-control-allow-origin", f"{APP}, {EVIL}")], [], id="comma-list"),
    pytest.param([("access-control-allow-origin", "null")], [], id="null"),
    pytest.param([("access-control-allow-credentials", "true")], [], id="credentials-only"),
    pytest.param([], [], id="nothing"),
    pytest.param(
        [
            ("access-control-allow-origin", APP),
            ("access-control-expose-headers", "X-Total, x-total"),
            ("access-control-expose-headers", "X-Page, bad header"),
        ],
        [
            ("access-control-allow-origin", APP),
            ("access-control-expose-headers", "X-Total, X-Page"),
        ],
        id="exposed-merged-tokens-only",
    ),
    pytest.param(
        [("access-control-allow-origin", EVIL), ("access-control-expose-headers", "X-Total")],
        [],
        id="exposed-not-for-another-origin",
    ),
]


@pytest.mark.parametrize(("answer", "expected"), PROBE)
def test_headers_from_layer(answer: list[tuple[str, str]], expected: list[tuple[str, str]]) -> None:
    """Copied only when the app's CORS layer named this exact origin (or `*`)."""
    assert headers_from_layer(APP, answer) == expected


# ---------------------------------------------------------------------------
# Properties with hostile input.

_NASTY = [*list('\r\n\x00\t"\\,;:/.[]*@?# aZz09-'), "\x7f", "\x80", "ÿ", "ü", "\u2028", "😀"]
hostile = (
    st.text(max_size=700)
    | st.text(alphabet=st.sampled_from(_NASTY), max_size=80)
    | st.builds(
        lambda origin, prefix, suffix: prefix + origin + suffix,
        st.sampled_from([APP, LOCAL, "https://admin.example.com", EVIL]),
        st.text(alphabet=st.sampled_from(_NASTY), max_size=4),
        st.text(alphabet=st.sampled_from(_NASTY), max_size=4),
    )
    | st.sampled_from([APP, LOCAL, "https://admin.example.com", EVIL, APP.upper(), "null"])
    | st.from_regex(ORIGIN_GRAMMAR, fullmatch=True)
    | st.builds(lambda n: "https://" + "a" * n, st.integers(490, 530))
)
CONFIGS = [
    pytest.param({"allow_origins": [APP, LOCAL]}, id="exact"),
    pytest.param(
        {"allow_origins": [APP], "allow_origin_regex": r"https://[a-z0-9-]+\.example\.com"},
        id="regex",
    ),
    pytest.param(
        {"allow_origins": ["*"], "allow_credentials": False, "allow_methods": ["*"]},
        id="any-no-credentials",
    ),
]


def _oracle_allows(options: dict[str, Any], origin: str) -> bool:
    """Who may read, computed without the module under test."""
    if "*" in options["allow_origins"]:
        return True
    if origin in options["allow_origins"]:
        return True
    regex = options.get("allow_origin_regex")
    return regex is not None and re.fullmatch(regex, origin) is not None


def _assert_safe(headers: list[tuple[str, str]]) -> None:
    for name, value in headers:
        for forbidden in ("\r", "\n", "\x00"):
            assert forbidden not in name
            assert forbidden not in value


def _assert_reflects_only_allowed(
    options: dict[str, Any], sent: list[str], headers: list[tuple[str, str]]
) -> None:
    acao = values(headers, "access-control-allow-origin")
    if not acao:
        return
    assert len(sent) == 1
    (value,) = acao
    assert value in (sent[0], "*")
    if value == "*":
        assert "*" in options["allow_origins"]
        assert options.get("allow_credentials") is False
        assert values(headers, "access-control-allow-credentials") == []
    else:
        assert ORIGIN_GRAMMAR.fullmatch(value)
        assert _oracle_allows(options, value)


@settings(max_examples=500, deadline=None)
@given(value=hostile)
def test_request_origin_property(value: str) -> None:
    """None, or the input itself and it is one origin serialisation."""
    origin = request_origin([value])
    if origin is not None:
        assert origin == value
        assert ORIGIN_GRAMMAR.fullmatch(origin)
        assert len(origin) <= 512
        assert origin.isascii()
        assert origin.isprintable()
        assert origin == origin.lower()
        _, _, authority = origin.partition("://")
        assert not any(ch in authority for ch in " \t\r\n\x00,\"'\\/?#@*")


@settings(max_examples=200, deadline=None)
@given(items=st.lists(hostile, min_size=2, max_size=4))
def test_request_origin_several_is_none(items: list[str]) -> None:
    assert request_origin(items) is None


_REFUSED_BODY = preflight_answer(
    CORS(allow_origins=[APP]), [EVIL], "GET", None, problem_type_base=BASE
)[2]


@pytest.mark.parametrize("options", CONFIGS)
@settings(max_examples=300, deadline=None)
@given(
    origins=st.lists(hostile, max_size=2),
    method=hostile,
    requested=st.none() | hostile,
)
def test_preflight_property(
    options: dict[str, Any], origins: list[str], method: str, requested: str | None
) -> None:
    """No CR/LF/NUL in what we send; the allow-origin is the sent origin (or
    `*` without credentials) and only for an origin the policy allows; a
    refusal is always the same bytes, so nothing of the request is echoed."""
    cors = CORS(**options)
    status, headers, body = preflight_answer(
        cors, origins, method, requested, problem_type_base=BASE
    )
    _assert_safe(headers)
    _assert_reflects_only_allowed(options, origins, headers)
    allowed = len(origins) == 1 and request_origin(origins) is not None
    allowed = allowed and _oracle_allows(options, origins[0])
    if allowed:
        assert (status, body) == (204, b"")
        assert values(headers, "access-control-allow-origin")
        for name in ("access-control-allow-methods", "access-control-allow-headers"):
            for value in values(headers, name):
                for item in value.split(", "):
                    assert re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", item)
    else:
        assert status == 403
        assert cors_names(headers) == []
        assert body == _REFUSED_BODY


app_headers = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "vary",
                "access-control-expose-headers",
                "access-control-allow-origin",
                "access-control-allow-credentials",
                "content-type",
            ]
        ),
        st.from_regex(r"[A-Za-z0-9*, -]{0,40}", fullmatch=True),
    ),
    max_size=6,
)


@pytest.mark.parametrize("options", CONFIGS)
@settings(max_examples=300, deadline=None)
@given(sent=hostile, headers=app_headers, failure=st.booleans())
def test_apply_cors_property(
    options: dict[str, Any], sent: str, headers: list[tuple[str, str]], failure: bool
) -> None:
    """As the adapters call it (origin through request_origin): no CR/LF, only
    an allowed origin reflected, exactly; idempotent; Vary names Origin."""
    cors = CORS(**options)
    out = apply_cors(cors, request_origin([sent]), headers, failure=failure)
    _assert_safe(out)
    _assert_reflects_only_allowed(options, [sent], out)
    assert len(values(out, "access-control-allow-origin")) <= 1
    assert len(values(out, "vary")) == 1
    (vary,) = values(out, "vary")
    assert vary == "*" or "origin" in vary.lower().replace(" ", "").split(",")
    assert apply_cors(cors, request_origin([sent]), out, failure=failure) == out


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"allow_origins": [APP, LOCAL]}, id="exact"),
        pytest.param({"allow_origins": ["*"], "allow_credentials": False}, id="any"),
    ],
)
@settings(max_examples=300, deadline=None)
@given(sent=hostile, failure=st.booleans())
def test_apply_cors_raw_origin_property(options: dict[str, Any], sent: str, failure: bool) -> None:
    """Even handed a raw value, an exact allow-list reflects only its own
    entries, and any-origin sends only `*`."""
    out = apply_cors(CORS(**options), sent, [], failure=failure)
    _assert_safe(out)
    acao = values(out, "access-control-allow-origin")
    if "*" in options["allow_origins"]:
        assert acao == ["*"]
    else:
        assert acao in ([], [sent])
        assert not acao or sent in options["allow_origins"]


_HEADER_NAMES = st.sampled_from(
    [
        "Content-Type",
        "content-length",
        "Vary",
        "vary",
        "Access-Control-Expose-Headers",
        "access-control-allow-origin",
        "Access-Control-Allow-Credentials",
        "X-Total",
    ]
)
_HEADER_VALUES = st.sampled_from(["", "*", "Origin", "accept, Origin", "X-Total", "true", "a"])


@settings(max_examples=300, deadline=None)
@given(
    headers=st.lists(st.tuples(_HEADER_NAMES, _HEADER_VALUES), max_size=6),
    origin=st.sampled_from([None, APP, "https://other.example.com"]),
    status=st.sampled_from([200, 304, 401, 500]),
    credentials=st.booleans(),
)
def test_layer_fast_path_equals_the_general_rule(
    headers: list[tuple[str, str]], origin: str | None, status: int, credentials: bool
) -> None:
    """`CorsLayer.headers` appends precomputed values when the app sent no
    header it must merge with; whatever the path, the result is
    `apply_cors`'s, up to the case of the app's own header names."""
    cors = CORS(
        allow_origins=[APP] if credentials else ["*"],
        allow_credentials=credentials,
        expose_headers=["X-Total"],
    )
    layer = cors_module.CorsLayer(cors, "tag:x:", ("x-request-id",))
    general = apply_cors(
        cors, origin, headers, failure=status >= 400, also_exposed=("x-request-id",)
    )
    assert layer.headers(origin, headers, status) == general


@pytest.mark.parametrize(
    "pattern",
    [
        r"https://[a-z0-9-]+\.example\.com",
        r"https://.*\.example\.com",
        r"https://.+\.example\.com",
        r"http://localhost(:\d+)?",
        r"http://(localhost|127\.0\.0\.1):\d{4}",
        r"https://(app|admin)\.example\.com",
        r"https://pr-\d+\.preview\.example\.com",
        r"https://app\.example\.com|https://admin\.example\.com",
        r"https://[A-Za-z0-9-]+\.example\.com",
        r"https://[\w-]+\.example\.com",
        r"https://a\.example\.com/?",
        r"http://127\.0\.0\.1:[0-9]+",
    ],
)
def test_anchored_patterns_are_accepted(pattern: str) -> None:
    """The checks refuse patterns that let other sites in, not the usual
    ways of listing one's own subdomains, ports and preview hosts."""
    assert CORS(allow_origin_regex=pattern).allow_origin_regex == pattern


_REGEX_PIECES = st.sampled_from(
    [
        "https://",
        "http://",
        "a",
        "example",
        r"\.",
        ".",
        ".*",
        ".+",
        "[a-z]",
        "[^/]",
        "[A-Z]",
        r"\d",
        r"\w",
        "(",
        ")",
        "(?:",
        "|",
        "?",
        "+",
        "*",
        "{2}",
        ":",
        "/",
        "-",
        "^",
        "$",
        "(?=a)",
        r"\1",
        "[0-9]+",
        "localhost",
        "com",
    ]
)


@settings(max_examples=400, deadline=None)
@given(pieces=st.lists(_REGEX_PIECES, max_size=12), credentials=st.booleans())
def test_any_pattern_is_judged_or_refused_never_crashes(
    pieces: list[str], credentials: bool
) -> None:
    """Whatever the pattern, construction either succeeds or raises
    PolicyError with a message: the pattern reading never crashes."""
    pattern = "".join(pieces)
    try:
        re.compile(pattern)
    except re.error:
        return
    if not pattern:
        return
    message = ""
    try:
        CORS(allow_origin_regex=pattern, allow_credentials=credentials)
    except PolicyError as exc:
        message = str(exc)
    assert not message or message.startswith("authhygiene: CORS")
