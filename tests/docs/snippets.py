"""The shell snippets of the README and the docs, as a reader finds them.

A fenced ``sh`` block preceded by an HTML comment (invisible on GitHub and on
the site) says how the snippet test treats it:

- ``<!-- runnable -->``: run it from the repository root; it must exit 0;
- ``<!-- runnable: expect TEXT -->``: also, its output must contain TEXT;
- ``<!-- runnable: background -->``: a server; started, waited for on the
  port its command names, and stopped once the file's later snippets ran;
- ``<!-- not run: WHY -->``: shown only (it installs, takes minutes, or
  needs your own app); on the newcomer's pages every sh block says one or
  the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ROOT", "Snippet", "markers_astray", "snippets", "unmarked"]

ROOT = Path(__file__).resolve().parents[2]

# A fenced block, read line by line: ``` or ~~~, an info string whose first
# word is sh, bash or shell (attributes after it, such as mkdocs' title=,
# allowed), closed by the same fence; the marker is the line just above.
_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<info>[^\n]*)$")
_SHELLS = frozenset({"sh", "bash", "shell"})
_MARKER = re.compile(r"^<!-- (?P<marker>runnable(?::[^\n]*?)?|not run:[^\n]*?) -->$")
_ANY_MARKER = re.compile(r"^[ \t]*<!--\s*(?:run|not\s*run)[^\n]*?-->", re.IGNORECASE | re.MULTILINE)
_WELL_FORMED = re.compile(
    r"<!-- (?:runnable|runnable: background|runnable: expect \S[^\n]*?|not run: \S[^\n]*?) -->"
    r"\n(?:`{3,}|~{3,})\s*(?:sh|bash|shell)\b"
)
_PORT = re.compile(r"(?:--port |127\.0\.0\.1:)(\d{2,5})\b")


@dataclass(frozen=True)
class Snippet:
    path: Path
    line: int
    marker: str | None
    body: str

    @property
    def runnable(self) -> bool:
        return self.marker is not None and self.marker.startswith("runnable")

    @property
    def background(self) -> bool:
        return self.marker == "runnable: background"

    @property
    def expect(self) -> str | None:
        if self.marker is not None and self.marker.startswith("runnable: expect "):
            return self.marker.removeprefix("runnable: expect ")
        return None

    @property
    def port(self) -> int | None:
        found = _PORT.search(self.body)
        return int(found.group(1)) if found else None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def snippets(path: Path) -> list[Snippet]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Snippet] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, words = opening["fence"], opening["info"].split()
        end = index + 1
        while end < len(lines) and not (
            lines[end].startswith(fence[0] * len(fence)) and not lines[end].strip(fence[0])
        ):
            end += 1
        if words and words[0] in _SHELLS:
            above = _MARKER.match(lines[index - 1]) if index else None
            marker = above["marker"] if above else None
            found.append(Snippet(path, index + 1, marker, "\n".join(lines[index + 1 : end])))
        index = end + 1
    return found


def unmarked(path: Path) -> list[Snippet]:
    return [snippet for snippet in snippets(path) if snippet.marker is None]


def markers_astray(path: Path) -> list[str]:
    """Markers that are not one of the forms above directly over a sh block."""
    text = path.read_text(encoding="utf-8")
    return [
        f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}: {match.group()}"
        for match in _ANY_MARKER.finditer(text)
        if _WELL_FORMED.match(text, match.start()) is None
    ]
