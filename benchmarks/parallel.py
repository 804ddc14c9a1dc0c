"""Valgrind children two at a time, for every benchmark that counts.

An instruction count does not depend on what runs beside it (benchmarks/test_gate.py counts the same
workload beside two CPU hogs: 0.03 % spread), so running the children of one benchmark side by side
changes no figure and, on this 2-core machine, halves the minutes under valgrind; beside CPU hogs it also
gives our children two of four runnable slots instead of one of three.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
WORKERS = 2


def each(fn: Callable[[T], R], items: Iterable[T], workers: int = WORKERS) -> list[R]:
    """`[fn(item) for item in items]`, `workers` at a time (threads waiting on child processes), in order."""
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))
