"""What the sections share for one run: the event loop and the loggers.

Every authhygiene variant that may refuse a request logs through
`benchmarks.setup.json_logger` to a real file opened on `os.devnull` in
binary mode: the event is rendered and written by the kernel's write(2), as
in production, but nothing is kept. The stdlib-json logger gets a file of
its own, because its text wrapper closes the file it wraps when it goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from benchmarks.setup import failure_options, json_logger, stdlib_json_logger

__all__ = ["Context", "open_context"]


@dataclass(frozen=True, slots=True)
class Context:
    loop: asyncio.AbstractEventLoop
    logger: Any
    stdlib_logger: Any

    def options(self, **extra: Any) -> dict[str, Any]:
        """The suite's middleware options, logging to /dev/null."""
        return failure_options(self.logger, **extra)


@contextlib.contextmanager
def open_context() -> Iterator[Context]:
    with contextlib.ExitStack() as stack:
        loop = asyncio.new_event_loop()
        stack.callback(loop.close)
        sink = stack.enter_context(open(os.devnull, "wb"))
        stdlib_sink = stack.enter_context(open(os.devnull, "wb"))
        yield Context(loop, json_logger(sink), stdlib_json_logger(stdlib_sink))
