"""Sending the battery to a server, and what comes of it.

One probe at a time, over `http.client` (no redirect followed: a refusal
that redirects is itself a finding), each with a timeout, each answer's
body read up to `MAX_BODY_BYTES`. A server that cannot be reached (refused,
unknown host, TLS failure, timed out) is `UnreachableError`, which the command
line turns into exit status 2.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit, urlunsplit

from authhygiene.audit.checks import Answer, Finding, judge
from authhygiene.audit.metadata import (
    judge_metadata,
    metadata_probe,
    origin_of,
    resource_metadata,
)
from authhygiene.audit.probes import Probe, battery

__all__ = ["MAX_BODY_BYTES", "Report", "Send", "UnreachableError", "audit_with", "run"]

MAX_BODY_BYTES = 64 * 1024


class UnreachableError(Exception):
    """The server could not be asked: the message says why, for people."""


@dataclass(frozen=True, slots=True)
class Report:
    """What an audit found: every finding of every probe, in order."""

    target: str
    findings: tuple[Finding, ...]
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.passed and f.required)

    @property
    def advised(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.passed and not f.required)


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not url.isascii()
        or any(not ch.isprintable() or ch.isspace() for ch in url)
    ):
        raise UnreachableError(f"{shown(url)!r} is not an http:// or https:// URL")
    try:
        port = parts.port
    except ValueError:
        raise UnreachableError(f"{url!r} has no valid port") from None
    if parts.scheme == "https":
        context = ssl.create_default_context()
        return http.client.HTTPSConnection(
            parts.hostname, port, timeout=timeout, context=context
        ), parts.path or "/"
    return http.client.HTTPConnection(parts.hostname, port, timeout=timeout), parts.path or "/"


def _send(url: str, probe: Probe, timeout: float) -> Answer:
    """One probe, within `timeout` in all: the socket's own timeout bounds
    each read, and a timer closes the connection when the whole exchange
    (a server trickling its headers or body) runs past it."""
    connection, _ = _connection(url, timeout)
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        with contextlib.suppress(Exception):
            if connection.sock is not None:
                connection.sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    try:
        connection.putrequest(probe.method, probe.target, skip_accept_encoding=True)
        for name, value in probe.headers:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        body = b"" if probe.method == "HEAD" else response.read(MAX_BODY_BYTES)
        if expired.is_set():
            raise TimeoutError
        return Answer(response.status, tuple(response.getheaders()), body)
    except ssl.SSLError as exc:
        if expired.is_set():
            raise UnreachableError(f"no whole answer within {timeout:g} s") from None
        raise UnreachableError(f"TLS failed: {exc.reason or exc}") from None
    except TimeoutError:
        raise UnreachableError(f"no whole answer within {timeout:g} s") from None
    except (ConnectionError, socket.gaierror, OSError, http.client.HTTPException) as exc:
        if expired.is_set():
            raise UnreachableError(f"no whole answer within {timeout:g} s") from None
        raise UnreachableError(f"cannot reach the server: {_bounded(exc)}") from None
    finally:
        timer.cancel()
        connection.close()


def _bounded(exc: BaseException) -> str:
    """An error's text as we print it: one line, printable, 200 characters
    at most (an HTTPException quotes the server's bad line)."""
    text = " ".join(str(exc).split())
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text[:200]


def shown(url: str) -> str:
    """`url` as printed: without user:password@ (a credential) or fragment."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, ""))


Send = Callable[[Probe], Answer]


def run(
    url: str,
    *,
    timeout: float = 5.0,
    progress: Callable[[int, int, Probe], None] | None = None,
    **options: str | None,
) -> Report:
    """Audit the protected resource at `url` (its path is the one probed),
    over the network."""
    _connection(url, timeout)  # a URL we cannot ask about fails first
    origin = origin_of(url)

    def send(probe: Probe) -> Answer:
        if probe.target.startswith(("http://", "https://")):
            target = urlsplit(probe.target)
            if origin_of(probe.target) != origin:
                raise UnreachableError("the metadata URL is on another server")
            path = target.path + (f"?{target.query}" if target.query else "")
            probe = replace(probe, target=path)
        return _send(url, probe, timeout)

    return audit_with(send, url, progress=progress, **options)


def audit_with(
    send: Send,
    url: str,
    *,
    progress: Callable[[int, int, Probe], None] | None = None,
    **options: str | None,
) -> Report:
    """Audit `url` with `send` (over the network, or in process): the
    battery, then the RFC 9728 follow-up where a challenge names metadata."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    probes = battery(path, **options)
    # Every credential the audit sends: masked in whatever is quoted.
    secrets = tuple(dict.fromkeys(secret for probe in probes for secret in probe.secrets))
    findings: list[Finding] = []
    statuses: dict[str, int] = {}
    metadata: str | None = None
    for index, probe in enumerate(probes):
        if progress is not None:
            progress(index, len(probes), probe)
        answer = send(probe)
        statuses[probe.name] = answer.status
        findings.extend(judge(probe, answer, secrets))
        if metadata is None:
            metadata = resource_metadata(answer)
    if metadata is not None:
        follow = metadata_probe(metadata)
        fetched = _or_unreachable(send, follow)
        statuses[follow.name] = fetched.status if fetched is not None else 0
        findings.extend(judge_metadata(follow, fetched, url, secrets))
    return Report(shown(url), tuple(findings), statuses)


def _or_unreachable(send: Send, probe: Probe) -> Answer | None:
    try:
        return send(probe)
    except UnreachableError:
        return None
