"""Every requirement id (`R7`) a comment in src/ cites is defined in the
repository, in docs/reference/rfc-checklist.md: a reader can look up the rule."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_CITED_RE = re.compile(r"\bR(\d{1,3})\b")
_DEFINED_RE = re.compile(r"^\| R(\d{1,3}) \|", re.M)


def test_every_cited_requirement_id_is_defined() -> None:
    checklist = ROOT / "docs" / "reference" / "rfc-checklist.md"
    defined = set(_DEFINED_RE.findall(checklist.read_text()))
    cited = {
        (path.relative_to(ROOT).as_posix(), number)
        for path in (ROOT / "src").rglob("*.py")
        for number in _CITED_RE.findall(path.read_text())
    }
    assert cited, "no requirement id cited: the check would prove nothing"
    assert {(path, n) for path, n in cited if n not in defined} == set()
