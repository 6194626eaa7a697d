"""Benchmarks for authhygiene, run with ``make bench`` (``python -m benchmarks``).

Every number is relative: each middleware is compared with a bare app and a
do-nothing middleware measured in the same process, in interleaved rounds, so
the ratios survive a slow or noisy machine. Absolute times are printed for
information only. See ``benchmarks/README.md``.
"""

__all__: list[str] = []
