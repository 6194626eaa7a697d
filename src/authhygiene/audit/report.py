"""An audit's report, for people (text) and for machines (JSON).

Only what the server answered is quoted, shortened and with the probe's own
credentials redacted (`checks.judge`); the tokens given on the command line
are never printed."""

from __future__ import annotations

import json
from typing import Any

from authhygiene.audit.run import Report

__all__ = ["as_json", "as_text"]


def as_json(report: Report) -> dict[str, Any]:
    return {
        "target": report.target,
        "passed": not report.failed,
        "failed": len(report.failed),
        "advised": len(report.advised),
        "statuses": report.statuses,
        "findings": [
            {
                "check": f.check,
                "probe": f.probe,
                "passed": f.passed,
                "required": f.required,
                "source": f.source,
                "saw": f.saw,
                "fix": f.fix,
                "option": f.option,
            }
            for f in report.findings
        ],
    }


def as_text(report: Report) -> str:
    lines = [f"authhygiene audit of {report.target}", ""]
    width = max((len(name) for name in report.statuses), default=10)
    for name, status in report.statuses.items():
        lines.append(f"  {name:<{width}}  {status}")
    lines.append("")
    checks: dict[str, list[Any]] = {}
    for finding in report.findings:
        checks.setdefault(finding.check, []).append(finding)
    failed_checks = advised_checks = 0
    for check, findings in checks.items():
        bad = [f for f in findings if not f.passed]
        mark = "PASS" if not bad else ("FAIL" if findings[0].required else "ADVICE")
        failed_checks += mark == "FAIL"
        advised_checks += mark == "ADVICE"
        lines.append(f"{mark:<6} {check}  ({findings[0].source})")
        # The probes that saw the same thing, on one line.
        by_saw: dict[str, list[str]] = {}
        for finding in bad:
            by_saw.setdefault(finding.saw, []).append(finding.probe)
        for saw, probes in by_saw.items():
            lines.append(f"         {', '.join(probes)}: {saw}")
        if bad:
            lines.append(f"         fix: {bad[0].fix}")
            lines.append(f"         authhygiene: {bad[0].option or 'the one line (AuthHygiene)'}")
    lines.append("")
    verdict = "passed" if not report.failed else f"{failed_checks} required checks failed"
    lines.append(f"{verdict}; {advised_checks} advised checks failed.")
    return "\n".join(lines)


def dumps(report: Report) -> str:
    return json.dumps(as_json(report), indent=2)
