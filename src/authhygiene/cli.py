"""The `authhygiene` command.

``authhygiene logs [FILE|-] [--json] [--top N]`` summarises the events the
middleware logged (see `authhygiene.log_summary`), in any rendering structlog
writes: JSON lines, its default console lines (colours too), key=value or
logfmt, mixed or not: failures by reason and status, top clients, paths and
credential fingerprints, time buckets with spikes, how many look like clock
skew, and findings in plain English.
FILE may be gzip-compressed (recognised by its first bytes, so ``-`` works
for a compressed stream too); ``-`` or no FILE reads standard input.

Exit status, for scripts: 0 when the log was read, whether or not it held
failures (a clean log is not an error; ``--json`` says ``failures.total``);
2 for a usage error or a file that cannot be read (nothing is printed on
stdout), or a compressed stream that breaks off (the summary of what was read
is printed, the error goes to stderr); 1 when stdout closed early (``| head``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import zlib
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Protocol

from authhygiene import __version__
from authhygiene.log_summary import MAX_LINE_BYTES, render_text, safe, summarise, to_json

__all__ = ["LineStream", "bounded_lines", "main"]

EXIT_OK = 0
EXIT_BROKEN_PIPE = 1
EXIT_ERROR = 2

_GZIP_MAGIC = b"\x1f\x8b"
_PROG = "authhygiene"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_PROG, description="Tools for the authhygiene middleware."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    logs = commands.add_parser(
        "logs",
        help="summarise the auth failures in a structlog log",
        description="Summarise the auth.failure events in a structlog log, each line"
        " rendered as JSON (JSONRenderer), console (ConsoleRenderer, the default; colours"
        " are stripped), key=value (KeyValueRenderer) or logfmt (LogfmtRenderer), with"
        " or without a prefix: reasons and statuses, top clients, paths and credential"
        " fingerprints, time buckets with spikes, clock skew, and findings.",
    )
    logs.add_argument(
        "file", nargs="?", default="-", metavar="FILE", help="log file, .gz or not; - is stdin"
    )
    logs.add_argument("--json", action="store_true", help="print the summary as JSON")
    logs.add_argument("--top", type=_positive, default=10, metavar="N", help="rows per table")
    audit = commands.add_parser(
        "audit",
        help="check a server's auth refusals from the outside",
        description="Send a bounded battery of probes (at most 40 requests, one at a time) to a"
        " protected URL and check every refusal against the rules (RFC 9110, 6750, 7617,"
        " 9457, 9111, Fetch). Exit status: 0 passed, 1 a required check failed, 2 the"
        " server could not be reached.",
    )
    audit.add_argument(
        "url", metavar="URL", help="a protected resource, e.g. http://127.0.0.1:8000/me"
    )
    audit.add_argument("--token", help="a valid token (it must be let in)")
    audit.add_argument("--expired-token", help="an expired token")
    audit.add_argument(
        "--scopeless-token", help="a valid token without the scope --scope-path needs"
    )
    audit.add_argument("--scope-path", help="a path the scopeless token may not use")
    audit.add_argument("--origin", help="a page origin the API serves (CORS checks)")
    audit.add_argument("--timeout", type=float, default=5.0, help="seconds per request")
    audit.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


class LineStream(Protocol):
    """What `bounded_lines` reads: a binary file, stdin's buffer, a GzipFile."""

    def readline(self, size: int = -1, /) -> bytes: ...


def _open(name: str, closing: ExitStack) -> LineStream:
    """The file (or stdin) as bytes, decompressed when it starts like gzip
    (by its magic bytes, not its name: a compressed stdin works too)."""
    # stdin by its descriptor: a BufferedReader (peek) that closing leaves open.
    source = sys.stdin.fileno() if name == "-" else name
    raw = closing.enter_context(open(source, "rb", closefd=name != "-"))  # noqa: SIM115
    if raw.peek(2)[:2] == _GZIP_MAGIC:
        return closing.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
    return raw


def bounded_lines(stream: LineStream, limit: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """Each line of `stream`, never holding more than `limit` + 1 bytes of
    one: the rest of a longer line is read and dropped, and its first
    `limit` + 1 bytes are yielded so the summary counts it as too long."""
    while line := stream.readline(limit + 1):
        if len(line) > limit and not line.endswith(b"\n"):
            _skip_rest(stream, limit)
        yield line


def _skip_rest(stream: LineStream, limit: int) -> None:
    while rest := stream.readline(limit):
        if rest.endswith(b"\n"):
            return


@dataclass(slots=True)
class _Source:
    """The lines of one input; a read error ends them and is kept, so what
    was read before a truncated .gz still gets its summary."""

    stream: LineStream
    error: str | None = None

    def lines(self) -> Iterator[bytes]:
        try:
            yield from bounded_lines(self.stream)
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            self.error = str(exc) or type(exc).__name__


def _logs(args: argparse.Namespace) -> int:
    name: str = args.file
    shown = "stdin" if name == "-" else safe(name, 200)
    with ExitStack() as closing:
        try:
            source = _Source(_open(name, closing))
        except OSError as exc:
            _error(f"cannot read {shown}: {exc.strerror or exc}")
            return EXIT_ERROR
        summary = summarise(source.lines(), top=args.top)
    if args.json:
        _write(json.dumps(to_json(summary), indent=2) + "\n")
    else:
        _write(render_text(summary))
    if source.error is not None:
        _error(f"{shown}: reading stopped after {summary.lines:,} lines: {source.error}")
        return EXIT_ERROR
    return EXIT_OK


def _write(text: str) -> None:
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a StringIO put in place of stdout
        sys.stdout.write(text)
        return
    sys.stdout.flush()
    data = memoryview(text.encode(sys.stdout.encoding or "utf-8", "backslashreplace"))
    # When the reader of a pipe leaves mid-write, CPython's BufferedWriter
    # returns the short count instead of raising: write the rest, so the
    # next write raises BrokenPipeError rather than the output being cut
    # off with exit status 0.
    while data:
        data = data[buffer.write(data) :]
    buffer.flush()


def _error(message: str) -> None:
    # A file name is escaped, but an OS message may still hold what the
    # terminal's encoding cannot show.
    encoding = sys.stderr.encoding or "utf-8"
    line = f"{_PROG} logs: {message}\n".encode(encoding, "backslashreplace").decode(encoding)
    sys.stderr.write(line)


def _audit(args: argparse.Namespace) -> int:
    """`authhygiene audit`: 0 passed, 1 a required check failed, 2 unreachable."""
    # Imported here: `authhygiene logs` needs none of it.
    from authhygiene.audit.report import as_text, dumps
    from authhygiene.audit.run import UnreachableError, run, shown

    def progress(index: int, total: int, probe: object) -> None:
        if not args.json and sys.stderr.isatty():
            sys.stderr.write(f"\rprobing {index + 1}/{total}")
            sys.stderr.flush()

    try:
        report = run(
            args.url,
            timeout=args.timeout,
            progress=progress,
            token=args.token,
            expired_token=args.expired_token,
            scopeless_token=args.scopeless_token,
            scope_path=args.scope_path,
            origin=args.origin,
        )
    except UnreachableError as exc:
        print(f"authhygiene audit: {shown(args.url)}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ValueError as exc:  # an option no header can carry (the message never quotes it)
        print(f"authhygiene audit: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if not args.json and sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 20 + "\r")
    print(dumps(report) if args.json else as_text(report))
    return EXIT_OK if not report.failed else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with `argv` (default: the process's arguments) and
    return its exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "audit":
            return _audit(args)
        return _logs(args)
    except BrokenPipeError:
        # `authhygiene logs x | head`: the reader left. Point stdout at
        # /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
