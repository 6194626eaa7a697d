"""Summarise an auth-failure log: why are we getting 401s?

`summarise` reads the events the middleware logged, rendered as structlog
renders them (JSON, its default console lines, key=value or logfmt; mixed
in one log too), among other events, banners and tracebacks, in one bounded
pass and counts what a person debugging a burst of refusals needs; its
`Summary` carries a few plain-English findings, each derived from a count in
the same summary. `render_text` prints it for a terminal, `to_json` for
scripts. `authhygiene logs` (`authhygiene.cli`) is the command around them.

One job per module:

- `reading`: untrusted values, bounded counting and `summarise`; what
  counts is in its docstring.
- `formats`: one line as an event dict, in whichever rendering structlog
  wrote it; how each is read is in its docstring.
- `prefixes`: the text a logging setup writes before the rendering, the
  only text a line may hold there.
- `pairs`: key=value pairs, each rendering read by its own quoting rules.
- `times`: `parse_time`, ISO 8601 or epoch numbers.
- `summary`: the frozen `Summary` and its rows.
- `findings`: the sentences, phrased from the reason and misconfiguration
  tables in `authhygiene.core`.
- `render`: the text, every value from the log escaped (`safe`).
- `as_json`: the JSON, its keys listed in its docstring.
- `phrasing`: how shares, counts and times are written.
"""

from __future__ import annotations

from authhygiene.log_summary.as_json import to_json
from authhygiene.log_summary.formats import Format
from authhygiene.log_summary.reading import MAX_LINE_BYTES, summarise
from authhygiene.log_summary.render import render_text, safe
from authhygiene.log_summary.summary import (
    Bucket,
    Misconfig,
    ReasonSkew,
    ReasonStatus,
    Summary,
    Tally,
    Timeline,
)
from authhygiene.log_summary.times import parse_time

__all__ = [
    "MAX_LINE_BYTES",
    "Bucket",
    "Format",
    "Misconfig",
    "ReasonSkew",
    "ReasonStatus",
    "Summary",
    "Tally",
    "Timeline",
    "parse_time",
    "render_text",
    "safe",
    "summarise",
    "to_json",
]
