"""Compare a KPI with its baseline: exactly for stable KPIs, statistically for noisy ones.

Noisy KPIs regress only when the difference is significant (one-sided Mann-Whitney U, scipy) AND at
least `min_effect` in relative size; when either side's spread (IQR / median) is too wide, or there
are too few samples for the test to be meaningful, a large change is reported as "unstable" instead
of failing, so CI flakes do not block merges and real regressions still do.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pytest_oxbot.kpi.catalogue import KpiSpec

CompareVerdict = Literal["new", "same", "improved", "regressed", "unstable"]


@dataclass(frozen=True)
class ComparePolicy:
    """The noise-aware rule's knobs (pyproject `[tool.pytest_oxbot]`: min_effect, alpha, max_spread)."""

    min_effect: float = 0.10
    alpha: float = 0.05
    max_spread: float = 0.5
    min_samples: int = 5


@dataclass(frozen=True)
class Comparison:
    """How a value moved against its baseline; `change` is relative ((new - old) / old)."""

    verdict: CompareVerdict
    change: float | None = None
    p_value: float | None = None
    note: str = ""


def relative_change(new: float, old: float) -> float:
    """(new - old) / |old|, with 0 -> x handled as 0 (same) or +/-inf."""
    if old == 0:
        return 0.0 if new == 0 else (float("inf") if new > 0 else float("-inf"))
    return (new - old) / abs(old)


def spread(samples: Sequence[float]) -> float:
    """Robust relative spread: inter-quartile range over median (0 for fewer than 2 samples)."""
    if len(samples) < 2:
        return 0.0
    q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    median = statistics.median(samples)
    return (q3 - q1) / abs(median) if median else float("inf")


def compare(
    spec: KpiSpec,
    value: float,
    samples: Sequence[float],
    baseline_value: float | None,
    baseline_samples: Sequence[float] = (),
    policy: ComparePolicy | None = None,
) -> Comparison:
    """Judge `value` (and its samples) against the baseline in the KPI's better direction."""
    if baseline_value is None:
        return Comparison("new")
    policy = policy or ComparePolicy()
    change = relative_change(value, baseline_value)
    worse = change > 0 if spec.better == "lower" else change < 0
    if not spec.noisy:
        if abs(change) <= spec.tolerance:
            return Comparison("same", change)
        return Comparison("regressed" if worse else "improved", change)
    if abs(change) < policy.min_effect:
        return Comparison("same", change, note=f"change below the {policy.min_effect:.0%} minimum effect")
    if len(samples) < policy.min_samples or len(baseline_samples) < policy.min_samples:
        return Comparison(
            "unstable",
            change,
            note=f"fewer than {policy.min_samples} samples on a side: too few to test significance",
        )
    widest = max(spread(samples), spread(baseline_samples))
    if widest > policy.max_spread:
        return Comparison(
            "unstable", change, note=f"spread {widest:.0%} (IQR/median) exceeds {policy.max_spread:.0%}"
        )
    p_value = _mann_whitney_p(samples, baseline_samples, spec.better if worse else _flip(spec.better))
    if p_value >= policy.alpha:
        return Comparison("same", change, p_value, note=f"not significant (p={p_value:.3g})")
    return Comparison("regressed" if worse else "improved", change, p_value)


def _flip(better: str) -> str:
    return "higher" if better == "lower" else "lower"


def _mann_whitney_p(samples: Sequence[float], baseline: Sequence[float], better: str) -> float:
    """One-sided p-value that the current samples are worse than the baseline's."""
    from scipy.stats import mannwhitneyu  # imported lazily: scipy costs ~0.3 s to import

    alternative = "greater" if better == "lower" else "less"
    result = mannwhitneyu(list(samples), list(baseline), alternative=alternative)
    return float(result.pvalue)
