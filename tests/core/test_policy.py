"""Options are validated once, at construction, with messages that say what to change."""

from __future__ import annotations

from typing import Any

import pytest

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


def test_policy_is_frozen() -> None:
    policy = Policy.from_options({"realm": "api"})
    with pytest.raises(AttributeError):
        policy.realm = "other"  # type: ignore[misc]
