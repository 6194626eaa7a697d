"""Options are validated once, at construction, with messages that say what to change."""

from __future__ import annotations

from typing import Any

import pytest

from authhygiene.core.flood import LogLimit
from authhygiene.core.policy import Policy, PolicyError


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({}, "'realm' option is required", id="no-realm"),
        pytest.param({"realm": ""}, "non-empty", id="empty-realm"),
        pytest.param({"realm": "a\r\nb"}, "printable ASCII", id="ctl-realm"),
        pytest.param({"realm": "api", "explian": "full"}, "Did you mean 'explain'", id="typo"),
        pytest.param({"realm": "api", "explain": "all"}, "'full', 'safe', 'minimal'", id="explain"),
        pytest.param({"realm": "api", "schemes": ()}, "name at least one scheme", id="no-schemes"),
        pytest.param({"realm": "api", "schemes": ("Bearer", "bearer")}, "twice", id="dup-scheme"),
        pytest.param({"realm": "api", "schemes": ("Be arer",)}, "auth-scheme token", id="scheme"),
        pytest.param({"realm": "api", "report_only": "yes"}, "True or False", id="flag"),
        pytest.param(
            {"realm": "api", "problem_type_base": "about:blank"},
            "status phrase",
            id="about-blank",
        ),
        pytest.param(
            {"realm": "api", "problem_type_base": "docs/errors"}, "absolute URI", id="relative"
        ),
        pytest.param(
            {"realm": "api", "resource_metadata": "ftp://x/y"}, "https:// URL", id="rm-scheme"
        ),
        pytest.param(
            {"realm": "api", "schemes": ("Basic",), "resource_metadata": "https://x/.well-known"},
            "Bearer or DPoP",
            id="rm-without-bearer",
        ),
        pytest.param({"realm": "api", "max_body_bytes": 10}, "1024", id="body-limit"),
        pytest.param({"realm": "api", "log_level": "loud"}, "log_level", id="log-level"),
        pytest.param({"realm": "api", "fingerprint_key": "short"}, "16 bytes", id="key"),
        pytest.param({"realm": "api", "request_id_header": "X Request"}, "header name", id="rid"),
        pytest.param({"realm": "api", "session_cookies": "sessionid"}, "sequence", id="cookies"),
        pytest.param(
            {"realm": "api", "trusted_proxies": ["10.0.0.0/33"]}, "CIDR range", id="proxy-cidr"
        ),
        pytest.param({"realm": "api", "trusted_proxies": [10]}, "not a string", id="proxy-int"),
        pytest.param({"realm": "api", "trusted_proxies": 10}, "sequence", id="proxy-type"),
        pytest.param({"realm": "api", "log_claims": ["exp"]}, "already logged", id="claim-exp"),
        pytest.param({"realm": "api", "log_claims": ["path"]}, "already logged", id="claim-path"),
        pytest.param({"realm": "api", "log_claims": "sub"}, "sequence", id="claims-str"),
        pytest.param({"realm": "api", "log_omit": ["reason"]}, "cannot leave out", id="omit"),
        pytest.param({"realm": "api", "log_limit": 20}, "LogLimit(", id="limit-type"),
        pytest.param({"realm": "api", "log_limit": {"per_min": 2}}, "no field", id="limit-key"),
        pytest.param({"realm": "api", "log_limit": {"per_key": 0}}, "per_key=0", id="limit-0"),
        pytest.param(
            {"realm": "api", "log_limit": {"per_key": 50, "total": 10}},
            "above total",
            id="limit-order",
        ),
        pytest.param({"realm": "api", "metrics": "yes"}, "metrics must be", id="metrics"),
    ],
)
def test_bad_options_fail_with_a_fix(options: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match="authhygiene: ") as raised:
        Policy.from_options(options)
    assert message in str(raised.value)


def test_defaults_and_normalisation() -> None:
    policy = Policy.from_options(
        {"realm": "api", "schemes": ["bearer", "BASIC"], "request_id_header": "X-Request-ID"}
    )
    assert policy.schemes == ("Bearer", "Basic")
    assert policy.explain == "safe"
    assert policy.request_id_header == "x-request-id"
    assert policy.problem_type("token_expired") == "tag:authhygiene,2026:problem:token-expired"
    # A random per-process key by default; never shown in repr.
    assert len(policy.fingerprint_key) == 32
    assert "fingerprint_key" not in repr(policy)


def test_logging_options_are_normalised() -> None:
    policy = Policy.from_options(
        {
            "realm": "api",
            "trusted_proxies": "10.0.0.0/8, 127.0.0.1, unix",
            "log_claims": ["sub", "client_id"],
            "log_omit": ["client"],
            "log_limit": {"per_key": 5, "total": 50, "window_s": 10},
            "metrics": False,
        }
    )
    assert [str(n) for n in policy.trusted_proxies.networks] == ["10.0.0.0/8", "127.0.0.1/32"]
    assert policy.trusted_proxies.unix
    assert policy.log_claims == ("sub", "client_id")
    assert policy.log_omit == frozenset({"client"})
    assert policy.log_limit == LogLimit(per_key=5, total=50, window_s=10)
    assert Policy.from_options({"realm": "api", "log_limit": None}).log_limit is None
    assert Policy.from_options({"realm": "api"}).log_limit == LogLimit()


@pytest.mark.parametrize(
    ("environment", "outcome"),
    [
        pytest.param("0123456789abcdef0123", b"0123456789abcdef0123", id="shared-key"),
        pytest.param("short", PolicyError, id="too-short"),
        pytest.param("", 32, id="unset-random"),
    ],
)
def test_fingerprint_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, environment: str, outcome: object
) -> None:
    """Every worker of a deployment reads one key, so one token has one fingerprint."""
    monkeypatch.setenv("AUTHHYGIENE_FINGERPRINT_KEY", environment)
    if outcome is PolicyError:
        with pytest.raises(PolicyError, match="AUTHHYGIENE_FINGERPRINT_KEY"):
            Policy.from_options({"realm": "api"})
        return
    key = Policy.from_options({"realm": "api"}).fingerprint_key
    assert key == outcome if isinstance(outcome, bytes) else len(key) == outcome


def test_policy_is_frozen() -> None:
    policy = Policy.from_options({"realm": "api"})
    with pytest.raises(AttributeError):
        policy.realm = "other"  # type: ignore[misc]
