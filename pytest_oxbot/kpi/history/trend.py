"""Change points and slow drifts in one KPI's values over runs, with the standard library only.

Values are compared on a log scale when all are positive (a step is then a ratio, the same for 2 ms and
2 s), else as they are. The run-to-run **spread** is a robust standard deviation of the noise taken from
consecutive differences (1.4826 x their median absolute deviation / sqrt 2): neither a level step (one
outlying difference) nor a steady drift (a shifted median difference) inflates it.

* **change point** (binary segmentation): the split that best fits two medians (least absolute
  deviations) is a change when the step between the medians is at least `min_effect` and at least
  `z_step` standard errors of that step (the median's error: 1.2533 x spread x sqrt(1/a + 1/b)); each
  side is searched again. Each side needs `min_segment` runs, so the latest run alone is never a change
  point: judging one new run is the gate's job (`--oxbot-compare`).
* **drift**: the Mann-Kendall test (tie-corrected) finds a monotone trend at |z| >= `z_trend`, and its
  Theil-Sen slope accumulated over the series must exceed `min_effect` and 3 spreads. A 2 %-per-run drift
  with +-1 % noise has no step past the spread but is flagged.

When both fire, the simpler explanation wins: the segment medians or the Theil-Sen line, whichever
leaves the smaller sum of absolute residuals. Limits: fewer than `min_runs` runs are not analysed; steps
closer than `min_segment` runs apart merge; a regime of alternating machines looks like noise.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from typing import NamedTuple

MAD_TO_SIGMA = 1.4826
MEDIAN_SE = math.sqrt(math.pi / 2)  # standard error of a median / of a mean, for gaussian noise


class ChangePoint(NamedTuple):
    at: int  # the first run (0-based) of the new level
    before: float  # median level before, in the KPI's unit
    after: float
    change: float  # relative: (after - before) / |before|
    score: float  # the step in standard errors


class Drift(NamedTuple):
    per_run: float  # relative change per run (Theil-Sen slope)
    total: float  # relative change from the first run to the last along the slope
    z: float  # Mann-Kendall z


class Trend(NamedTuple):
    runs: int
    spread: float  # relative run-to-run noise (one robust standard deviation)
    change_points: tuple[ChangePoint, ...] = ()
    drift: Drift | None = None

    @property
    def flagged(self) -> bool:
        return bool(self.change_points) or self.drift is not None


class TrendPolicy(NamedTuple):
    min_effect: float = 0.02
    z_step: float = 5.0
    z_trend: float = 3.0
    min_segment: int = 2
    min_runs: int = 6


def _mad(values: Sequence[float]) -> float:
    center = statistics.median(values)
    return statistics.median(abs(v - center) for v in values)


def _l1(values: Sequence[float]) -> float:
    center = statistics.median(values)
    return sum(abs(v - center) for v in values)


class _Scale:
    """Log scale for positive series (differences are ratios), else values over their typical size."""

    def __init__(self, values: Sequence[float]) -> None:
        self.log = all(v > 0 for v in values)
        self.size = statistics.median(abs(v) for v in values) or max(abs(v) for v in values) or 1.0

    def to(self, value: float) -> float:
        return math.log(value) if self.log else value / self.size

    def back(self, y: float) -> float:
        return math.exp(y) if self.log else y * self.size

    def relative(self, step: float, level: float = 1.0) -> float:
        """A difference on this scale as a relative change (level: the scaled starting point)."""
        if self.log:
            return math.expm1(step)
        return step / abs(level) if level else math.copysign(math.inf, step) if step else 0.0


def analyse(values: Sequence[float], policy: TrendPolicy | None = None) -> Trend:
    """The change points and the drift of `values` (oldest first)."""
    policy = policy or TrendPolicy()
    n = len(values)
    if n < 2:
        return Trend(n, 0.0)
    scale = _Scale(values)
    y = [scale.to(v) for v in values]
    diffs = [b - a for a, b in itertools.pairwise(y)]
    sigma = MAD_TO_SIGMA * _mad(diffs) / math.sqrt(2)
    spread = abs(scale.relative(sigma, 1.0 if scale.log else statistics.median(y) or 1.0))
    if n < policy.min_runs:
        return Trend(n, spread)
    points = sorted(_segment(y, 0, n, sigma, scale, policy))
    bounds = [0, *(p[0] for p in points), n]
    drift = _drift(y, sigma, scale, policy)
    if points and drift is not None:
        if _line_cost(y) < sum(_l1(y[a:b]) for a, b in itertools.pairwise(bounds)):
            points, bounds = [], [0, n]
        else:
            drift = None
    levels = [statistics.median(y[a:b]) for a, b in itertools.pairwise(bounds)]  # between neighbours
    changes = tuple(
        ChangePoint(at, scale.back(b), scale.back(a), scale.relative(a - b, b), score)
        for (at, *_, score), b, a in zip(points, levels, levels[1:], strict=False)
    )
    return Trend(n, spread, changes, drift)


def _segment(
    y: Sequence[float], lo: int, hi: int, sigma: float, scale: _Scale, policy: TrendPolicy
) -> list[tuple[int, float, float, float]]:
    """Change points in y[lo:hi] as (index, median before, median after, score), by binary segmentation."""
    m = policy.min_segment
    if hi - lo < 2 * m:
        return []
    split = min(range(lo + m, hi - m + 1), key=lambda k: _l1(y[lo:k]) + _l1(y[k:hi]))
    before, after = statistics.median(y[lo:split]), statistics.median(y[split:hi])
    step = after - before
    error = sigma * MEDIAN_SE * math.sqrt(1 / (split - lo) + 1 / (hi - split))
    score = abs(step) / error if error else (math.inf if step else 0.0)
    if score < policy.z_step or abs(scale.relative(step, before)) < policy.min_effect:
        return []
    left = _segment(y, lo, split, sigma, scale, policy)
    right = _segment(y, split, hi, sigma, scale, policy)
    return [*left, (split, before, after, score), *right]


def theil_sen(y: Sequence[float]) -> tuple[float, float]:
    """(slope, intercept): the median of pairwise slopes, and the median of y - slope x i."""
    slopes = [(y[j] - y[i]) / (j - i) for i in range(len(y)) for j in range(i + 1, len(y))]
    slope = statistics.median(slopes)
    return slope, statistics.median(v - slope * i for i, v in enumerate(y))


def mann_kendall_z(y: Sequence[float]) -> float:
    """Mann-Kendall trend statistic as a standard normal z (continuity- and tie-corrected)."""
    n = len(y)
    s = sum((y[j] > y[i]) - (y[j] < y[i]) for i in range(n) for j in range(i + 1, n))
    ties: dict[float, int] = {}
    for v in y:
        ties[v] = ties.get(v, 0) + 1
    var = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in ties.values())) / 18
    if var <= 0 or s == 0:
        return 0.0
    return (s - math.copysign(1, s)) / math.sqrt(var)


def _line_cost(y: Sequence[float]) -> float:
    slope, intercept = theil_sen(y)
    return sum(abs(v - (intercept + slope * i)) for i, v in enumerate(y))


def _drift(y: Sequence[float], sigma: float, scale: _Scale, policy: TrendPolicy) -> Drift | None:
    z = mann_kendall_z(y)
    if abs(z) < policy.z_trend:
        return None
    slope, intercept = theil_sen(y)
    along = slope * (len(y) - 1)
    if abs(along) <= 3 * sigma:
        return None
    total = scale.relative(along, intercept)
    if abs(total) < policy.min_effect:
        return None
    return Drift(scale.relative(slope, intercept), total, z)


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    """One character per value, from ▁ (the lowest) to █ (the highest)."""
    if not values:
        return ""
    low, high = min(values), max(values)
    if high == low:
        return SPARKS[len(SPARKS) // 2] * len(values)
    top = len(SPARKS) - 1
    return "".join(SPARKS[round((v - low) / (high - low) * top)] for v in values)
