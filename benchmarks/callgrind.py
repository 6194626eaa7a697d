"""Refusal instructions (callgrind): what a refused request costs in CPU
instructions, counted by valgrind's callgrind, for ASGI and WSGI.

Wall-clock figures of the failure section move with the machine's phase;
an instruction count does not: the same code on the same input executes
the same instructions (``PYTHONHASHSEED=0``, tokens signed from a fixed key,
`benchmarks.refusal_apps`). So this section judges authhygiene against an
*anchor*: a hand-written, correct refusal middleware (challenge with realm
and error, a 9-member problem+json body from `json.dumps`, no-store, a
uuid4 request id, one structlog ``auth.failure`` event), in front of the
same app.

Method. Every variant runs in a process of its own under ``valgrind
--tool=callgrind --dump-before=getppid`` (`benchmarks.callgrind_child`): it
serves WARMUP requests, calls ``os.getppid()``, serves COUNT more, calls it
again, and callgrind's dump between the two calls holds the instructions of
exactly those COUNT requests, i.e. ``I(WARMUP + COUNT) - I(WARMUP)`` without
the start-up, the imports and the exit, in one process instead of two runs
of different lengths (which would pay valgrind's start-up, ~10 s, twice and
let a .pyc written between the two runs leak into the difference). Per
request: that count / COUNT. *Added* is a variant's figure minus the bare
app's: the loop, the copy of each scope or environ and the app itself cancel.

Variants (`refusal_apps`): ``bare`` (FastAPI's 401: ``WWW-Authenticate:
Bearer``, ``{"detail": ...}``), ``anchor``, ``same`` (authhygiene, the same
token every request), ``new`` (authhygiene, a new token every request);
every one of them makes the same WARMUP + COUNT distinct expired JWTs
before serving, so token generation cancels out. All log JSON through
`setup.json_logger` to a file on /dev/null. And the success path: a JSON
200 alone, behind the floor (a middleware that only wraps ``send`` /
``start_response``) and behind authhygiene.

Rows, ASGI and WSGI each:

- anchor: added k instructions per refusal (information);
- authhygiene, same token: added / the anchor's added, **≤ 1.25x**;
- authhygiene, new token every request: added / the anchor's, **≤ 3.0x**;
- success path: authhygiene's added / the floor's added, **≤ 1.5x**.

Children run in parallel, one per usable CPU, heaviest first. ``--quick``
(a smoke test) runs all variants of a protocol in one process, 20 + 100
requests each. Before anything is counted, every variant is built in this
process logging to a buffer and answers three requests: its status; the
anchor its challenge and a 9-member problem+json body; authhygiene
problem+json with a challenge and no-store; one ``auth.failure`` per refusal
where one is expected, none elsewhere; no token in a body or the log.
Without valgrind (`make bench` installs it) the section is skipped, and the
run says why.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import refusal_apps
from benchmarks._checks import check, check_events, check_refusal, events, log_buffer
from benchmarks.refusal_apps import PROTOCOLS, SUCCESS, VARIANTS
from benchmarks.rows import Row, Target, single_row

__all__ = [
    "FULL",
    "QUICK",
    "SECTION",
    "VALGRIND",
    "CallgrindError",
    "Preset",
    "ValgrindMissingError",
    "describe",
    "find_valgrind",
    "rows",
    "run_instructions",
    "self_checks",
]

SECTION = "refusal instructions (callgrind)"
# Debian's valgrind, which `make bench` installs when it is missing.
VALGRIND = "/usr/bin/valgrind"
TARGET_SAME = Target("<=", 1.25, "≤ 1.25x anchor")
TARGET_NEW = Target("<=", 3.0, "≤ 3.0x anchor")
TARGET_SUCCESS = Target("<=", 1.5, "≤ 1.5x floor")
REPO_ROOT = Path(__file__).resolve().parent.parent
_CHECKED = 3
# Heaviest first, so that the longest child does not start last.
_ORDER = ("new", "same", "anchor", "ok.authhygiene", "ok.floor", "bare", "ok.bare")
_LABEL = {"asgi": "ASGI", "wsgi": "WSGI"}
_JWT_RE = re.compile(r"eyJ[\w-]*(?:\.[\w-]*){0,2}")


@dataclass(frozen=True, slots=True)
class Preset:
    warmup: int
    count: int
    # One process per variant (a measurement) or per protocol (a smoke test).
    isolated: bool

    def __str__(self) -> str:
        per = "variant" if self.isolated else "protocol"
        return f"{self.warmup} + {self.count} requests, a process per {per}"


# Requests 201-1,200: the figure per request differs by less than 0.5% from
# requests 501-2,500's (checked for the new-token variant, the costliest),
# in half the time.
FULL = Preset(warmup=200, count=1000, isolated=True)
QUICK = Preset(warmup=20, count=100, isolated=False)


class ValgrindMissingError(RuntimeError):
    """No valgrind: the section is skipped (`make bench` installs it)."""


class CallgrindError(RuntimeError):
    """A child failed, or its dumps are not what the method expects."""


def find_valgrind() -> str:
    found = shutil.which("valgrind") or (VALGRIND if os.access(VALGRIND, os.X_OK) else None)
    if found is None:
        raise ValgrindMissingError(
            f"valgrind not found (not on PATH, not at {VALGRIND}); `make bench` installs it"
        )
    return found


# --- self-checks -------------------------------------------------------------


def _name(proto: str, variant: str) -> str:
    return f"cg.{proto}.{variant}"


def _check_variant(proto: str, variant: str) -> dict[str, object]:
    """Three requests through the variant, built as the child builds it but
    logging to a buffer: it answers what it claims to."""
    name = _name(proto, variant)
    buffer, logger = log_buffer()
    app = refusal_apps.build(proto, variant, logger)
    requests = refusal_apps.requests_for(proto, variant, _CHECKED)
    sent = [requests[0 if variant == "same" else i % len(requests)] for i in range(_CHECKED)]
    tokens = [refusal_apps.expired_token(i) for i in range(_CHECKED)]
    said: dict[str, object] = {}
    for request in sent:
        status, headers, body = refusal_apps.exchange(proto, app, request)
        text = body.decode("latin-1")
        check(not any(t in text for t in tokens), f"{name}'s body echoes the credential")
        if variant in SUCCESS:
            check(status == 200, f"{name} answered {status}, expected 200")
            check(body == refusal_apps.BODY_OK, f"{name} changed the app's body")
            said = {"status": status, "content_type": headers.get("content-type")}
        elif variant == "bare":
            check(status == 401, f"{name} answered {status}, expected 401")
            check(headers.get("www-authenticate") == "Bearer", f"{name} is not FastAPI's 401")
            check("detail" in json.loads(body), f"{name} has no detail member")
            said = {"status": status, "www_authenticate": headers["www-authenticate"]}
        elif variant == "anchor":
            check(status == 401, f"{name} answered {status}, expected 401")
            check(
                headers.get("www-authenticate") == refusal_apps.ANCHOR_CHALLENGE,
                f"{name} does not challenge with realm and error",
            )
            check(
                headers.get("content-type") == "application/problem+json",
                f"{name} is not application/problem+json",
            )
            check(headers.get("cache-control") == "no-store", f"{name} is not no-store")
            request_id = headers.get("x-request-id", "")
            check(uuid.UUID(request_id).version == 4, f"{name} has no uuid4 request id")
            problem = json.loads(body)
            check(
                len(problem) == refusal_apps.ANCHOR_MEMBERS and problem["status"] == 401,
                f"{name}'s body is not its 9-member problem",
            )
            said = {
                "status": status,
                "www_authenticate": headers["www-authenticate"],
                "problem_members": len(problem),
            }
        else:
            said = check_refusal(
                name, (status, headers, body), status=401, reason=None, origin=None, secrets=tokens
            )
    refused = 0 if variant in SUCCESS or variant == "bare" else _CHECKED
    if refused:
        said["log_events"] = check_events(name, buffer, refused=refused, secrets=tokens)
        if variant == "anchor":
            logged = events(buffer)[-1]
            check(
                {"reason", "status", "path", "request_id"} <= set(logged),
                f"{name}'s auth.failure lacks reason, status, path or request_id",
            )
    else:
        check(not events(buffer), f"{name} logged on a request it does not refuse")
    return said


def self_checks() -> dict[str, object]:
    """Every variant of both protocols answers what it claims to, or
    `SelfCheckError` (nothing is counted then)."""
    return {_name(p, v): _check_variant(p, v) for p in PROTOCOLS for v in VARIANTS}


# --- children ------------------------------------------------------------------


def _scrubbed(text: str) -> str:
    """A child's last words, without anything shaped like a JWT."""
    lines = [line for line in text.strip().splitlines() if not line.startswith("==")]
    return _JWT_RE.sub("[token]", lines[-1] if lines else "")[:300]


def _totals(path: Path) -> int:
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split(":", 1)[1].split()[0])
    raise CallgrindError(f"no totals in {path.name}")


@dataclass(frozen=True, slots=True)
class _Job:
    proto: str
    variants: tuple[str, ...]

    @property
    def name(self) -> str:
        """Unique and safe as a file name (its dumps are NAME.1, NAME.2, ...)."""
        return f"{self.proto}-{'+'.join(v.replace('.', '_') for v in self.variants)}"


def _env(pycache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    # Bytecode cached outside the work tree: every child after the first
    # loads .pyc instead of compiling under valgrind (a few seconds each).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def _child_args(job: _Job, preset: Preset) -> list[str]:
    return [
        sys.executable,
        "-m",
        "benchmarks.callgrind_child",
        job.proto,
        str(preset.warmup),
        str(preset.count),
        *job.variants,
    ]


def _run_job(
    valgrind: str, job: _Job, preset: Preset, workdir: Path, env: Mapping[str, str]
) -> dict[str, Any]:
    out = workdir / job.name
    started = time.monotonic()
    done = subprocess.run(
        [
            valgrind,
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            "--dump-before=getppid",
            "--dump-line=no",
            "--dump-instr=no",
            *_child_args(job, preset),
        ],
        cwd=REPO_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise CallgrindError(
            f"callgrind child {job.name} exited with {done.returncode}: {_scrubbed(done.stderr)}"
        )
    dumps = sorted(workdir.glob(f"{job.name}.*"), key=lambda p: int(p.suffix[1:]))
    expected = 2 * len(job.variants)
    if len(dumps) != expected or not out.exists():
        raise CallgrindError(
            f"callgrind child {job.name} left {len(dumps)} dumps, expected {expected}"
        )
    windows = {v: _totals(workdir / f"{job.name}.{2 * k + 2}") for k, v in enumerate(job.variants)}
    collected = re.search(r"Collected : (\d+)", done.stderr)
    return {
        "variants": list(job.variants),
        "window_instructions": windows,
        "collected_total": int(collected.group(1)) if collected else None,
        "elapsed_s": round(elapsed, 1),
    }


def _jobs(preset: Preset) -> list[_Job]:
    if not preset.isolated:
        return [_Job(p, tuple(_ORDER)) for p in PROTOCOLS]
    return [_Job(p, (v,)) for v in _ORDER for p in PROTOCOLS]


def run_instructions(
    preset: Preset,
    *,
    valgrind: str,
    jobs: int,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Count every variant; {"rows", "raw"}. `CallgrindError` when a child
    fails or its dumps are not as expected."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="authhygiene-callgrind-") as tmp:
        workdir = Path(tmp)
        env = _env(workdir / "pyc")
        # Once natively: fills the bytecode cache, and a child that cannot
        # run fails here in a second instead of under valgrind.
        for proto in PROTOCOLS:
            job = _Job(proto, VARIANTS)
            done = subprocess.run(
                [*_child_args(job, Preset(1, 1, False))],
                cwd=REPO_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if done.returncode != 0:
                raise CallgrindError(
                    f"child {proto} failed without valgrind ({done.returncode}): "
                    f"{_scrubbed(done.stderr)}"
                )
        results: dict[str, dict[str, Any]] = {}
        per_request: dict[str, float] = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {
                pool.submit(_run_job, valgrind, job, preset, workdir, env): job
                for job in _jobs(preset)
            }
            for future in concurrent.futures.as_completed(futures):
                job = futures[future]
                try:
                    result = results[job.name] = future.result()
                except BaseException:
                    for waiting in futures:
                        waiting.cancel()  # those not started yet
                    raise
                for variant, count in result["window_instructions"].items():
                    per_request[_name(job.proto, variant)] = count / preset.count
                progress(f"  callgrind {job.name}: {result['elapsed_s']:.0f} s")
    raw = {
        "preset": {"warmup": preset.warmup, "count": preset.count, "isolated": preset.isolated},
        "valgrind": valgrind,
        "jobs": jobs,
        "elapsed_s": round(time.monotonic() - started, 1),
        "children": results,
        "instructions_per_request": per_request,
    }
    return {"rows": rows(per_request, preset), "raw": raw}


# --- rows ----------------------------------------------------------------------


def _k(value: float) -> str:
    return f"{value / 1000:,.1f} k"


def rows(per_request: Mapping[str, float], preset: Preset) -> list[Row]:
    out: list[Row] = []
    window = f"requests {preset.warmup + 1}-{preset.warmup + preset.count}"
    for proto in PROTOCOLS:
        label = _LABEL[proto]

        def figure(variant: str, proto: str = proto) -> float:
            return per_request[_name(proto, variant)]

        def added(variant: str, baseline: str = "bare") -> float:
            return figure(variant) - figure(baseline)

        anchor = added("anchor")
        common = {"instructions_per_request": {v: figure(v) for v in VARIANTS}, "window": window}
        out.append(
            single_row(
                SECTION,
                f"{label}: anchor, added per refusal",
                subject=_name(proto, "anchor"),
                baseline=_name(proto, "bare"),
                metric="added instructions",
                unit="k instr",
                value=anchor / 1000,
                detail=f"bare 401 {_k(figure('bare'))}, anchor {_k(figure('anchor'))} "
                f"instructions per request ({window})",
                extra=common,
            )
        )
        for variant, case, target in (
            ("same", "authhygiene, same token", TARGET_SAME),
            ("new", "authhygiene, new token every request", TARGET_NEW),
        ):
            out.append(
                single_row(
                    SECTION,
                    f"{label}: {case}",
                    subject=_name(proto, variant),
                    baseline=_name(proto, "bare"),
                    metric="added instructions / anchor's",
                    unit="x",
                    value=added(variant) / anchor if anchor > 0 else None,
                    target=target,
                    detail=f"added {_k(added(variant))} vs anchor {_k(anchor)} instructions "
                    "per refusal",
                    extra={**common, "added": added(variant), "reference_added": anchor},
                )
            )
        floor = added("ok.floor", "ok.bare")
        mine = added("ok.authhygiene", "ok.bare")
        out.append(
            single_row(
                SECTION,
                f"{label}: success path, authhygiene",
                subject=_name(proto, "ok.authhygiene"),
                baseline=_name(proto, "ok.bare"),
                metric="added instructions / floor's",
                unit="x",
                value=mine / floor if floor > 0 else None,
                target=TARGET_SUCCESS,
                detail=f"added {_k(mine)} vs floor {_k(floor)} instructions per 200 "
                f"(bare 200: {_k(figure('ok.bare'))})",
                extra={**common, "added": mine, "reference_added": floor},
            )
        )
    return out


def describe(preset: Preset, jobs: int) -> str:
    return (
        f"refusal instructions: {len(_jobs(preset))} callgrind children, {jobs} at a time "
        f"({preset})"
    )
