"""`python -m authhygiene logs FILE`: the `authhygiene` command without its
console script (before the package is installed, or in a bare venv)."""

from __future__ import annotations

import sys

from authhygiene.cli import main

if __name__ == "__main__":
    sys.exit(main())
