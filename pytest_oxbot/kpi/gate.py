"""Judge one test's KPIs: against its targets, then against the baseline; one readable reason each.

Results are plain data (`to_dict`/`from_dict`) so pytest-xdist workers can ship them to the controller
on their test reports and the controller's verdicts equal a serial run's.

Nothing is silently green: a KPI the baseline holds for a judged test that this run did not measure is a
`missing` result (failing, with the reason the caller knows), and a baseline test that did not run at
all is `not run` (see `not_run`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from pytest_oxbot.kpi.baseline import BaselineEntry
from pytest_oxbot.kpi.catalogue import spec_for
from pytest_oxbot.kpi.compare import ComparePolicy, Comparison, compare

Verdict = Literal["fail", "regressed", "missing", "unstable", "improved", "ok", "recorded", "not run"]
FAILING: frozenset[str] = frozenset({"fail", "regressed", "missing"})
VERDICT_ORDER: tuple[Verdict, ...] = (
    "fail",
    "regressed",
    "missing",
    "not run",
    "unstable",
    "improved",
    "ok",
    "recorded",
)


class Measurement(NamedTuple):
    """One value a test produced (the library twin of the plugin's `KpiValue`)."""

    name: str
    value: float
    samples: tuple[float, ...] = ()
    source: str = "explicit"
    host: str | None = None  # the environment key it was measured in (else judge()'s `host`)


class KpiResult(NamedTuple):
    """One KPI of one test with everything the reports show (`value` is None when not measured)."""

    test_id: str
    name: str
    unit: str
    value: float | None
    target: float | None
    better: str
    verdict: Verdict
    reason: str = ""
    baseline: float | None = None
    change: float | None = None
    p_value: float | None = None
    samples: tuple[float, ...] = ()
    source: str = "explicit"
    judged: bool = True
    runs: tuple[float, ...] = ()
    host: str | None = None  # the environment a wall-clock KPI was measured in (`environment_key`)

    @property
    def failing(self) -> bool:
        return self.verdict in FAILING

    @property
    def measured(self) -> bool:
        return self.value is not None

    def to_dict(self) -> dict[str, Any]:
        data = self._asdict()
        data["samples"] = list(self.samples)
        data["runs"] = list(self.runs)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KpiResult:
        fields = dict(data)
        fields["samples"] = tuple(fields.get("samples", ()))
        fields["runs"] = tuple(fields.get("runs", ()))
        return cls(**fields)


def fmt(value: float | None) -> str:
    """Short, exact-enough number for humans (2712, 0.000312, 0.0000865047, 0.85, 15,284,810): a cost per
    decision reads as money, never as `8.65047e-05`."""
    if value is None:
        return "-"
    if abs(value) >= 1e6:  # instruction counts: every digit, grouped
        return f"{value:,.0f}"
    short = f"{value:.6g}"
    if "e" in short and abs(value) >= 1e-12:  # 6 significant digits, written out
        return format(Decimal(short), "f")
    return short


def combine(measurements: Iterable[Measurement]) -> list[Measurement]:
    """One measurement per KPI name: repeated reports of a name pool their samples, value = mean."""
    grouped: dict[str, list[Measurement]] = {}
    for m in measurements:
        grouped.setdefault(m.name, []).append(m)
    combined = []
    for name, items in grouped.items():
        if len(items) == 1:
            combined.append(items[0])
            continue
        samples = tuple(s for m in items for s in (m.samples or (m.value,)))
        value = sum(m.value for m in items) / len(items)
        sources = "+".join(sorted({m.source for m in items}))
        combined.append(Measurement(name, value, samples, sources, items[-1].host))
    return combined


def _not_measured(name: str) -> str:
    return f"{name} not measured: the test ran but did not record it (a removed record() call or fixture?)"


def judge(
    test_id: str,
    measurements: Iterable[Measurement],
    *,
    targets: Mapping[str, float | None],
    baseline: Mapping[str, BaselineEntry] | None = None,
    policy: ComparePolicy | None = None,
    judged: bool = True,
    expect_baseline: bool = False,
    why_missing: Callable[[str], str] = _not_measured,
    busy: str = "",
    host: str | None = None,
) -> list[KpiResult]:
    """Verdicts for one test's KPIs; `targets` maps each KPI name to its effective target (or None).

    With `expect_baseline`, every KPI of `baseline` that no measurement covers is a `missing` result,
    its reason from `why_missing(name)` (a test of the baseline is expected to keep measuring, even if
    it no longer opts in to judging). `busy` (e.g. "cpu pressure 40%") turns a wall-clock regression
    into `unstable`: a loaded machine is not evidence against the code. `host` (`environment_key()`)
    limits a wall-clock KPI's judgement to the baseline runs of the same environment and is kept with it.
    """
    results = []
    for m in combine(measurements):
        spec = spec_for(m.name)
        target = targets.get(m.name, spec.target)
        entry = (baseline or {}).get(m.name)
        if not judged:
            results.append(
                _result(test_id, m, spec.unit, target, spec.better, "recorded", "", entry, None, False)
            )
            continue
        measured_in = m.host if m.host is not None else host
        comparison = compare(
            spec,
            m.value,
            m.samples,
            entry.value if entry else None,
            entry.samples if entry else (),
            policy,
            entry.runs if entry else (),
            host=measured_in,
            baseline_hosts=entry.hosts if entry else (),
        )
        if spec.noisy and busy and comparison.verdict == "regressed":
            comparison = Comparison(
                "unstable",
                comparison.change,
                comparison.p_value,
                f"machine busy: {busy}",
                comparison.reference,
            )
        unit = "" if spec.unit in ("ratio",) else f" {spec.unit}"
        if target is not None and not spec.within(m.value, target):
            reason = f"{m.name} {fmt(m.value)} {spec.comparator} target {fmt(target)}{unit}"
            verdict: Verdict = "fail"
        elif comparison.verdict == "regressed":
            reason = _moved(m, comparison, entry, unit, "regressed")
            verdict = "regressed"
        elif comparison.verdict == "unstable":
            reason = (
                f"{m.name} {fmt(m.value)}{unit} too noisy to judge against baseline "
                f"{fmt(_reference(comparison, entry))}{unit}: {comparison.note}"
            )
            verdict = "unstable"
        elif comparison.verdict == "improved":
            reason = _moved(m, comparison, entry, unit, "improved")
            verdict = "improved"
        else:
            reason = ""
            verdict = "ok"
        result = _result(test_id, m, spec.unit, target, spec.better, verdict, reason, entry, comparison, True)
        results.append(result._replace(host=measured_in) if spec.noisy else result)
    if expect_baseline and baseline:
        measured = {r.name for r in results}
        results += [
            missing(test_id, name, entry, why_missing(name))
            for name, entry in sorted(baseline.items())
            if name not in measured
        ]
    return results


def missing(test_id: str, name: str, entry: BaselineEntry, reason: str) -> KpiResult:
    """A baseline KPI this run did not measure: failing, never a silent pass."""
    spec = spec_for(name)
    return KpiResult(
        test_id, name, spec.unit, None, None, spec.better, "missing", reason, entry.value, runs=entry.runs
    )


def not_run(test_id: str, entries: Mapping[str, BaselineEntry], why: str) -> list[KpiResult]:
    """The KPIs of a baseline test that did not run in this session at all."""
    results = []
    for name, entry in sorted(entries.items()):
        try:
            spec = spec_for(name)
            unit, better = spec.unit, spec.better
        except ValueError:  # a KPI name this version no longer knows: still listed
            unit, better = entry.unit, "lower"
        results.append(KpiResult(test_id, name, unit, None, None, better, "not run", why, entry.value))
    return results


def _moved(m: Measurement, comparison: Comparison, entry: BaselineEntry | None, unit: str, word: str) -> str:
    change = comparison.change or 0.0
    old = fmt(_reference(comparison, entry))
    text = f"{m.name} {fmt(m.value)}{unit} {word} {change:+.1%} vs baseline {old}{unit}"
    if comparison.p_value is not None:
        text += f" (Mann-Whitney p={comparison.p_value:.3g})"
    elif comparison.note:
        text += f" ({comparison.note})"
    return text


def _reference(comparison: Comparison, entry: BaselineEntry | None) -> float | None:
    if comparison.reference is not None:
        return comparison.reference
    return entry.value if entry else None


def _result(
    test_id: str,
    m: Measurement,
    unit: str,
    target: float | None,
    better: str,
    verdict: Verdict,
    reason: str,
    entry: BaselineEntry | None,
    comparison: Comparison | None,
    judged: bool,
) -> KpiResult:
    return KpiResult(
        test_id=test_id,
        name=m.name,
        unit=unit,
        value=m.value,
        target=target,
        better=better,
        verdict=verdict,
        reason=reason,
        baseline=_reference(comparison, entry) if comparison else (entry.value if entry else None),
        change=comparison.change if comparison else None,
        p_value=comparison.p_value if comparison else None,
        samples=m.samples,
        source=m.source,
        judged=judged,
        runs=entry.runs if entry else (),
    )
