"""Test helpers for apps that use authhygiene, and for authhygiene itself.

`assert_no_secrets(captured, secrets)` fails when a credential reached
captured output: a log line, a structlog event, a response body, a
snapshot. It looks for each given secret in the forms it takes on the way
(as sent, URL-encoded, JSON-escaped, base64-encoded) and, unless
`shapes=False`, for anything shaped like a credential (a JWT, `Bearer ...`,
a secret-named query parameter) that is not masked. Its failure message
says where, never what: a test report is a log too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from urllib.parse import quote, quote_plus

from authhygiene.core.redact import REDACTED, credential_spans

__all__ = ["assert_auth_hygiene", "assert_no_secrets", "captured_texts"]

_CONTEXT = 24


def captured_texts(captured: object) -> Iterator[tuple[str, str]]:
    """(where, text) for everything in `captured`: strings, bytes, structlog
    event dicts (`structlog.testing.capture_logs`), `logging.LogRecord`s,
    pytest's `caplog` and `capsys` results, and iterables of those."""
    yield from _texts(captured, "captured", 0)


def _texts(item: object, where: str, depth: int) -> Iterator[tuple[str, str]]:
    if depth > 6 or item is None:
        return
    if isinstance(item, str):
        yield where, item
    elif isinstance(item, bytes | bytearray):
        yield where, bytes(item).decode("latin-1")
    elif isinstance(item, logging.LogRecord):
        name = f"{where} (log record of {item.name!r})"
        yield name, _record_text(item)
    elif isinstance(item, Mapping):
        yield where, json.dumps(item, default=repr, ensure_ascii=False)
        yield where, repr(dict(item))
    elif hasattr(item, "records") and hasattr(item, "text"):  # pytest's caplog
        yield f"{where}.text", str(item.text)
        for index, record in enumerate(item.records):
            yield from _texts(record, f"{where}.records[{index}]", depth + 1)
    elif hasattr(item, "out") and hasattr(item, "err"):  # capsys.readouterr()
        yield f"{where}.out", str(item.out)
        yield f"{where}.err", str(item.err)
    elif isinstance(item, Iterable):
        for index, part in enumerate(item):
            yield from _texts(part, f"{where}[{index}]", depth + 1)
    else:
        yield where, repr(item)


def _record_text(record: logging.LogRecord) -> str:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        message = f"{record.msg!r} % {record.args!r}"
    parts = [message, record.exc_text or "", record.stack_info or ""]
    if record.exc_info and not record.exc_text:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


def _forms(secret: str) -> set[str]:
    """The ways a secret is written on its way to a log."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],  # orjson, ensure_ascii=False
    }
    forms.add(base64.b64encode(secret.encode("utf-8", "surrogateescape")).decode())
    if secret.count(".") == 2 and secret.startswith("eyJ"):
        # A JWT's claims and signature leak on their own too (a truncated
        # token); its header is the same for every token and is not secret.
        forms.update(part for part in secret.split(".")[1:] if len(part) >= 8)
    return {form for form in forms if form}


def _label(secret: str) -> str:
    digest = hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"a {len(secret)}-character secret (sha256 {digest}...)"


def _occurrences(text: str, forms: Iterable[str]) -> list[tuple[int, int]]:
    spans = []
    for form in forms:
        begin = _find(text, form)
        while begin >= 0:
            spans.append((begin, begin + len(form)))
            begin = _find(text, form, begin + 1)
    return spans


def _around(text: str, start: int, end: int, hidden: list[tuple[int, int]]) -> str:
    """The text around a finding, with the finding shown as <HERE> and every
    other secret or credential shape in reach (cut at the edge or not)
    shown as <SECRET>: the message must not leak what it reports."""
    low, high = max(0, start - _CONTEXT), min(len(text), end + _CONTEXT)
    spans = sorted([(start, end, "<HERE>"), *((a, b, "<SECRET>") for a, b in hidden)])
    out, position = [], low
    for a, b, label in spans:
        if b <= low or a >= high or b <= position:
            continue
        out.append(text[position : max(a, position)])
        out.append(label)
        position = max(position, b)
    out.append(text[position:high] if position < high else "")
    return repr("".join(out))


def assert_no_secrets(
    captured: object, secrets: Iterable[str | bytes] = (), *, shapes: bool = True
) -> None:
    """Fail if any of `secrets`, or (with `shapes`) anything shaped like an
    unmasked credential, appears in `captured`.

    Secrets shorter than 4 characters are looked for only where they stand
    alone, as a 3-letter password would otherwise be found inside words.
    """
    wanted = []
    for secret in secrets:
        text = secret.decode("latin-1") if isinstance(secret, bytes) else secret
        if text and text != REDACTED:
            wanted.append((text, _forms(text)))
    found: list[str] = []
    every_form = [form for _, forms in wanted for form in forms]
    for where, text in captured_texts(captured):
        hits = []
        for secret, forms in wanted:
            for form in sorted(forms, key=len, reverse=True):
                start = _find(text, form)
                if start >= 0:
                    hits.append((f"{_label(secret)} in {where}", start, start + len(form)))
                    break
        shaped = credential_spans(text) if shapes else []
        for start, end in shaped[:3]:
            hits.append(
                (f"a credential-shaped value ({end - start} characters) in {where}", start, end)
            )
        if hits:
            hidden = _occurrences(text, every_form) + shaped
            found.extend(f"{what}: {_around(text, a, b, hidden)}" for what, a, b in hits)
    if found:
        raise AssertionError(
            "credentials reached captured output (shown as <HERE>):\n  " + "\n  ".join(found[:20])
        )


def _find(text: str, form: str, begin: int = 0) -> int:
    if len(form) >= 4:
        return text.find(form, begin)
    start = text.find(form, begin)
    while start >= 0:
        before = text[start - 1] if start else " "
        after = text[start + len(form)] if start + len(form) < len(text) else " "
        if not (before.isalnum() or after.isalnum()):
            return start
        start = text.find(form, start + 1)
    return -1


def assert_auth_hygiene(
    app: object,
    path: str = "/",
    *,
    token: str | None = None,
    expired_token: str | None = None,
    scopeless_token: str | None = None,
    scope_path: str | None = None,
    origin: str | None = None,
    base_url: str = "http://testserver",
    timeout: float = 3.0,
) -> object:
    """`authhygiene audit` in your test suite: send the audit's battery to
    `app` (ASGI or WSGI, in this process) at the protected `path`, and fail
    with every required check it does not pass, what was seen and the fix.
    Returns the report (`authhygiene.audit.run.Report`)."""
    __tracebackhide__ = True  # pytest shows the caller's line, not ours
    from authhygiene._refused_options import watched
    from authhygiene.audit.inprocess import sender_for
    from authhygiene.audit.run import UnreachableError, audit_with

    try:
        with watched() as refused:
            report = audit_with(
                sender_for(app, base_url, timeout),
                base_url.rstrip("/") + path,
                token=token,
                expired_token=expired_token,
                scopeless_token=scopeless_token,
                scope_path=scope_path,
                origin=origin,
            )
    except UnreachableError as exc:  # an app that never answers (`timeout`, each exchange)
        raise AssertionError(f"auth hygiene could not be checked: {exc}") from None
    if refused:
        # The app's middleware was built with options it refused: that is
        # the one thing to fix, not the checks it made fail.
        raise AssertionError(
            f"authhygiene refused its options, so it is off in this app: {refused[-1]}"
        )
    if report.failed:
        lines = [f"{len(report.failed)} required auth-hygiene checks failed:"]
        for finding in report.failed:
            lines.append(
                f"  {finding.check} ({finding.source}) on {finding.probe}: {finding.saw}"
                f" -- fix: {finding.fix}"
            )
        raise AssertionError("\n".join(lines))
    return report
