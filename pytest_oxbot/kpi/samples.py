"""Samples as a baseline keeps them: capped, summarised, identical values stored once with a count.

A wall-clock KPI can bring hundreds of samples per run (one test brought 650, all the same modelled
latency); committed verbatim they bury the baseline's diff. The file keeps a summary (n, min, median,
max, MAD of every sample) and at most `cap` weighted values: the distinct values when there are few, else
one value per equal-count rank bin (the bin's median, weighted by its size), i.e. the distribution's
quantiles. Expanding the weighted values gives back `n` samples with the same shape, so the gate's
sample-based rules (spread, sample count, Mann-Whitney) still apply; compacting an expansion again gives
the same values (saving a loaded baseline leaves its text unchanged).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import NamedTuple

DEFAULT_CAP = 50
DIGITS = 6  # significant digits a sample keeps in the file


class SampleSummary(NamedTuple):
    """Order statistics of all the samples, before any were dropped (MAD: median absolute deviation)."""

    n: int
    min: float
    median: float
    max: float
    mad: float


def rounded(value: float, digits: int = DIGITS) -> float:
    """`value` with `digits` significant digits (non-finite values unchanged)."""
    return float(f"{value:.{digits}g}") if math.isfinite(value) else value


def summarise(samples: Sequence[float]) -> SampleSummary:
    """n, min, median, max and MAD of `samples` (which must not be empty), rounded as the file keeps them."""
    median = statistics.median(samples)
    mad = statistics.median(abs(s - median) for s in samples)
    return SampleSummary(len(samples), *(rounded(v) for v in (min(samples), median, max(samples), mad)))


def compact(samples: Iterable[float], cap: int = DEFAULT_CAP) -> list[tuple[float, int]]:
    """At most `cap` (value, count) pairs, ascending, whose counts add up to the number of samples."""
    if cap < 1:
        raise ValueError(f"cap must be at least 1, not {cap}")
    ordered = sorted(rounded(s) for s in samples)
    distinct = sorted(Counter(ordered).items())
    if len(distinct) <= cap:
        return distinct
    n = len(ordered)
    pairs: list[tuple[float, int]] = []
    for i in range(cap):
        low, high = i * n // cap, (i + 1) * n // cap
        if high == low:
            continue
        value = ordered[(low + high - 1) // 2]
        if pairs and pairs[-1][0] == value:
            pairs[-1] = (value, pairs[-1][1] + high - low)
        else:
            pairs.append((value, high - low))
    return pairs


def expand(pairs: Iterable[tuple[float, int]]) -> tuple[float, ...]:
    """The samples the weighted values stand for, ascending."""
    return tuple(value for value, count in pairs for _ in range(count))
