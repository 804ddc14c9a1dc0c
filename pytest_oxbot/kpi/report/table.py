"""The one table every report shows: value, target, baseline, change, verdict per KPI."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from pytest_oxbot.kpi.gate import VERDICT_ORDER, KpiResult, fmt

HEADERS = ("test", "kpi", "value", "target", "baseline", "change", "verdict")


def row(result: KpiResult) -> tuple[str, ...]:
    unit = "" if result.unit in ("ratio", "") else f" {result.unit}"
    target = (
        "-" if result.target is None else f"{'<=' if result.better == 'lower' else '>='} {fmt(result.target)}"
    )
    change = "-" if result.change is None else f"{result.change:+.1%}"
    return (
        result.test_id,
        result.name,
        "-" if result.value is None else f"{fmt(result.value)}{unit}",
        target,
        fmt(result.baseline),
        change,
        result.verdict.upper() if result.failing else result.verdict,
    )


def rows(results: Sequence[KpiResult]) -> list[tuple[str, ...]]:
    return [row(r) for r in sorted(results, key=lambda r: (r.test_id, r.name))]


def counts(results: Sequence[KpiResult]) -> Counter[str]:
    return Counter(r.verdict for r in results)


def summary_line(results: Sequence[KpiResult]) -> str:
    """ "7 KPIs: 1 fail, 6 ok" in a fixed verdict order."""
    tally = counts(results)
    parts = [f"{tally[v]} {v}" for v in VERDICT_ORDER if tally[v]]
    noun = "KPI" if len(results) == 1 else "KPIs"
    return f"{len(results)} {noun}: {', '.join(parts) if parts else 'none'}"


def render_text(results: Sequence[KpiResult]) -> list[str]:
    """Fixed-width lines for the terminal."""
    table = [HEADERS, *rows(results)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADERS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines
