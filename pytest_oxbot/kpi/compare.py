"""Compare a KPI with its baseline: exactly for deterministic KPIs, noise-aware for wall-clock ones.

Deterministic KPIs (tokens, cost, counts, instructions) regress on any change beyond their tolerance.
Noisy KPIs (wall-clock times) are judged in one of two ways:

* **between runs** (the baseline holds `min_runs` or more runs of the KPI, each the value of one whole
  pytest run): the verdict is judged against how much the KPI moved *between* those runs, which is
  the noise that matters (another process, another moment of the machine). A change regresses when it
  is at least `min_effect` AND outside the band the baseline's own runs spread over; a change past
  `min_effect` but inside that band is `unstable` (reported, not failed).
* a baseline with fewer runs (older baselines hold one): a change past `min_effect` is `unstable`,
  "too few runs", and does not fail, unless the policy opts into the **within-run** rule
  (`within_run`): one-sided Mann-Whitney U on the samples (scipy, the `stats` extra) AND at least
  `min_effect`; a spread (IQR/median) wider than `max_spread` or too few samples makes a large change
  `unstable`. Samples within one run are correlated (same process, same moment: measured, the same query
  moved +66 % between two runs with within-run samples tight enough to call any shift significant), so
  that rule is off by default.

When the baseline's runs carry their environment (`hosts`), a wall-clock KPI is judged only against the
runs of this run's environment: another interpreter build or machine is not evidence against the code
(measured: the same code 1.4x slower under a pyenv-built CPython than under Debian's PGO build). A
machine-speed probe that scales runs was tried and dropped: on a shared 2-core VM, the speed of a fixed
workload in another process did not follow the measured code's (normalising by it widened the spread
between 5 s windows from 60 % to 106 %), and one taken in-process just before judging caught a momentary
state (0.54 vs 1.0 ms within seconds).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Literal, NamedTuple

from pytest_oxbot.kpi.catalogue import KpiSpec

CompareVerdict = Literal["new", "same", "improved", "regressed", "unstable"]


class ComparePolicy(NamedTuple):
    """The comparison's knobs (pyproject `[tool.pytest_oxbot]`)."""

    min_effect: float = 0.10
    alpha: float = 0.05
    max_spread: float = 0.5
    min_samples: int = 5
    instruction_tolerance: float = 0.01
    min_runs: int = 3
    within_run: bool = False
    # Instruction counts of the same code differ between CPU models (measured: +1.8 % on an AMD EPYC
    # against an Intel Xeon baseline, other counts within 0.7 %): the C library picks its string and
    # memory routines by CPU. A baseline from another CPU is judged with this tolerance instead.
    other_cpu_tolerance: float = 0.03

    def on_other_cpu(self) -> ComparePolicy:
        """The policy for a baseline recorded on another CPU: counts drift with the C library's routines."""
        return self._replace(instruction_tolerance=max(self.instruction_tolerance, self.other_cpu_tolerance))

    def tolerance(self, spec: KpiSpec) -> float:
        """The relative drift a deterministic KPI may show before it counts as a change."""
        return self.instruction_tolerance if spec.tolerance is None else spec.tolerance


class Comparison(NamedTuple):
    """How a value moved against its baseline; `change` is relative ((new - old) / old)."""

    verdict: CompareVerdict
    change: float | None = None
    p_value: float | None = None
    note: str = ""
    reference: float | None = None  # what `change` is relative to, when not the baseline's value


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


def run_band(runs: Sequence[float]) -> tuple[float, float]:
    """(center, band) of a baseline's runs: their median, and the largest relative distance of a run from it.

    With k runs, the chance that one more run of unchanged code lands outside the range of the first k
    is 2/(k+1); `min_effect` keeps that case from failing when the runs happen to be close together.
    """
    center = statistics.median(runs)
    if not center:
        return center, float("inf")
    return center, max(abs(r - center) for r in runs) / abs(center)


def compare(
    spec: KpiSpec,
    value: float,
    samples: Sequence[float],
    baseline_value: float | None,
    baseline_samples: Sequence[float] = (),
    policy: ComparePolicy | None = None,
    baseline_runs: Sequence[float] = (),
    *,
    host: str | None = None,
    baseline_hosts: Sequence[str] = (),
) -> Comparison:
    """Judge `value` (and its samples) against the baseline in the KPI's better direction.

    `host` is this run's environment key and `baseline_hosts` those of the baseline's runs
    (`fingerprint.environment_key`); with both, a wall-clock KPI is judged only against the runs of its own
    environment.
    """
    if baseline_value is None:
        return Comparison("new")
    policy = policy or ComparePolicy()
    if spec.noisy and host is not None and baseline_hosts:
        recorded = tuple(baseline_runs) or (baseline_value,)
        if len(baseline_hosts) == len(recorded):
            here = tuple(r for r, h in zip(recorded, baseline_hosts, strict=True) if h == host)
            if len(here) < len(recorded):
                return _same_environment_only(spec, value, here, len(recorded), host, policy)
    if not spec.noisy:
        change = relative_change(value, baseline_value)
        if abs(change) <= policy.tolerance(spec):
            return Comparison("same", change)
        worse = change > 0 if spec.better == "lower" else change < 0
        return Comparison("regressed" if worse else "improved", change)
    if len(baseline_runs) >= policy.min_runs:
        return _between_runs(spec, value, baseline_runs, policy)
    if policy.within_run:
        return _within_run(spec, value, samples, baseline_value, baseline_samples, policy)
    change = relative_change(value, baseline_value)
    if abs(change) < policy.min_effect:
        return Comparison("same", change, note=f"change below the {policy.min_effect:.0%} minimum effect")
    runs = len(baseline_runs) or 1
    return Comparison(
        "unstable",
        change,
        note=f"the baseline holds {runs} run(s) of it, {policy.min_runs} are needed to judge a wall-clock "
        "KPI between runs (add runs with --oxbot-update-baseline)",
    )


def _same_environment_only(
    spec: KpiSpec, value: float, runs: tuple[float, ...], recorded: int, host: str, policy: ComparePolicy
) -> Comparison:
    """Judge against the runs recorded in this environment, or say how many more are needed."""
    if len(runs) >= policy.min_runs:
        comparison = _between_runs(spec, value, runs, policy)
        note = f"{len(runs)} of the baseline's {recorded} runs are from this environment ({host})"
        return comparison._replace(note=f"{comparison.note}; {note}" if comparison.note else note)
    change = relative_change(value, statistics.median(runs)) if runs else None
    if change is not None and abs(change) < policy.min_effect:
        return Comparison("same", change, note=f"change below the {policy.min_effect:.0%} minimum effect")
    return Comparison(
        "unstable",
        change,
        note=f"{len(runs)} of the baseline's {recorded} runs were recorded in this environment ({host}), "
        f"{policy.min_runs} are needed to judge a wall-clock KPI here (add runs with --oxbot-update-baseline "
        "on this machine, or keep a history store of CI runs)",
        reference=statistics.median(runs) if runs else None,
    )


def _between_runs(spec: KpiSpec, value: float, runs: Sequence[float], policy: ComparePolicy) -> Comparison:
    center, band = run_band(runs)
    change = relative_change(value, center)
    worse = change > 0 if spec.better == "lower" else change < 0
    seen = f"the baseline's {len(runs)} runs spread +-{band:.0%} around {center:.4g}"
    if abs(change) < policy.min_effect:
        note = f"change below the {policy.min_effect:.0%} minimum effect"
        return Comparison("same", change, note=note, reference=center)
    if abs(change) <= band:
        return Comparison(
            "unstable", change, note=f"inside the spread between runs: {seen}", reference=center
        )
    verdict: CompareVerdict = "regressed" if worse else "improved"
    return Comparison(verdict, change, note=f"outside the spread between runs: {seen}", reference=center)


def _within_run(
    spec: KpiSpec,
    value: float,
    samples: Sequence[float],
    baseline_value: float,
    baseline_samples: Sequence[float],
    policy: ComparePolicy,
) -> Comparison:
    change = relative_change(value, baseline_value)
    worse = change > 0 if spec.better == "lower" else change < 0
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
    p_value = mann_whitney_p(samples, baseline_samples, spec.better if worse else _flip(spec.better))
    if p_value >= policy.alpha:
        return Comparison("same", change, p_value, note=f"not significant (p={p_value:.3g})")
    return Comparison("regressed" if worse else "improved", change, p_value)


def _flip(better: str) -> str:
    return "higher" if better == "lower" else "lower"


def mann_whitney_p(samples: Sequence[float], baseline: Sequence[float], better: str) -> float:
    """One-sided p-value that the current samples are worse than the baseline's (needs scipy)."""
    from pytest_oxbot.errors import require

    require("scipy", feature="the noise-aware comparison of wall-clock KPIs", extra="stats")
    from scipy.stats import mannwhitneyu

    alternative = "greater" if better == "lower" else "less"
    result = mannwhitneyu(list(samples), list(baseline), alternative=alternative)
    return float(result.pvalue)
