"""The package's shape: a framework-free core, the documented public names, typing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import authhygiene
from authhygiene import AuthFailure, Reason

FRAMEWORKS = ("starlette", "fastapi", "django", "flask", "werkzeug", "asgiref", "structlog", "jwt")


def test_core_imports_no_framework() -> None:
    # STYLE.md: core/ is sans-I/O; importing it must not pull in any framework.
    code = (
        "import sys, json, authhygiene.core; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(out.stdout))
    assert not loaded & set(FRAMEWORKS)


def test_public_names() -> None:
    assert set(authhygiene.__all__) == {
        "CORS",
        "REASONS",
        "AuthFailure",
        "AuthHygiene",
        "AuthHygieneWSGI",
        "Identity",
        "LogLimit",
        "Policy",
        "PolicyError",
        "ProtectedResource",
        "Reason",
        "Scopes",
        "Throttle",
        "require_scopes",
    }
    for name in authhygiene.__all__:
        assert getattr(authhygiene, name) is not None
    with pytest.raises(AttributeError):
        _ = authhygiene.Nope  # type: ignore[attr-defined]
    assert sorted(dir(authhygiene)) == sorted(authhygiene.__all__)


def test_py_typed_is_shipped() -> None:
    assert (Path(authhygiene.__file__).parent / "py.typed").exists()


def test_auth_failure() -> None:
    failure = AuthFailure("insufficient_scope", required_scope="items:write")
    assert failure.reason is Reason.INSUFFICIENT_SCOPE
    assert failure.code == 403
    declared = failure.declared()
    assert declared.facts == {"required_scope": "items:write"}
    assert repr(failure) == "AuthFailure('insufficient_scope')"
    with pytest.raises(ValueError, match="use one of: credentials_missing"):
        AuthFailure("no_such_reason")


def test_auth_failure_renders_without_the_middleware() -> None:
    # Without authhygiene installed, Flask/werkzeug still answer the right status.
    environ: dict[str, object] = {"REQUEST_METHOD": "GET"}
    response = AuthFailure(Reason.TOKEN_EXPIRED).get_response(environ)  # type: ignore[arg-type]
    assert response.status_code == 401
    assert environ["authhygiene.failure"] is not None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"reelm": "api"}, "Did you mean 'realm'", id="typo"),
        pytest.param({"realm": "api", "logger": "notalogger"}, "no callable .warning()", id="log"),
    ],
)
def test_bad_options_raise_and_are_logged(options: dict[str, object], message: str) -> None:
    from structlog.testing import capture_logs

    from authhygiene import AuthHygiene, AuthHygieneWSGI, PolicyError

    for adapter in (AuthHygiene, AuthHygieneWSGI):
        with capture_logs() as logs, pytest.raises(PolicyError, match=message):
            adapter(lambda *a: None, **options)  # type: ignore[arg-type]
        assert logs[0]["event"] == "auth.misconfig"
        assert logs[0]["kind"] == "invalid_options"
        assert message in logs[0]["error"]


def test_version_is_the_installed_one() -> None:
    """One place holds the version (`__version__`, read by hatch's build):
    the installed metadata and `authhygiene --version` say the same."""
    import importlib.metadata

    assert authhygiene.__version__ == importlib.metadata.version("authhygiene")
    shown = subprocess.run(
        [sys.executable, "-m", "authhygiene", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert shown.stdout.strip() == f"authhygiene {authhygiene.__version__}"
