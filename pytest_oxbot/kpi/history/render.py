"""The `history` command's text: per (test, KPI) a sparkline, a table of runs, and what was flagged."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from pytest_oxbot.kpi.catalogue import canonical_name
from pytest_oxbot.kpi.gate import fmt
from pytest_oxbot.kpi.history.record import HistoryError, RunRecord
from pytest_oxbot.kpi.history.trend import Trend, TrendPolicy, analyse, sparkline


class Query(NamedTuple):
    kpi: str | None = None
    test: str | None = None
    since: str | None = None
    branch: str | None = None


class Series(NamedTuple):
    test_id: str
    kpi: str
    unit: str
    runs: tuple[RunRecord, ...]
    values: tuple[float, ...]
    trend: Trend


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def select(records: Sequence[RunRecord], query: Query) -> list[RunRecord]:
    """Records on `branch` from `since` on: an ISO date/time, or a commit SHA (prefix) in the history."""
    chosen = list(records)
    if query.since:
        moment = _parse_time(query.since)
        if moment is not None:
            chosen = [r for r in chosen if (_parse_time(r.timestamp) or moment) >= moment]
        else:
            start = next(
                (i for i, r in enumerate(chosen) if r.commit and r.commit.startswith(query.since)), None
            )
            if start is None:
                raise HistoryError(
                    f"--since {query.since!r} is neither a date (2026-11-30) nor a commit in the history"
                )
            chosen = chosen[start:]
    if query.branch:
        chosen = [r for r in chosen if r.branch == query.branch]
    return chosen


def collect(records: Sequence[RunRecord], query: Query, policy: TrendPolicy) -> list[Series]:
    """One series per (test, KPI) that the query selects, each analysed."""
    kpi = canonical_name(query.kpi) if query.kpi else None
    keys: dict[tuple[str, str], str] = {}
    for record in records:
        for test_id, kpis in record.tests.items():
            if query.test and query.test not in test_id:
                continue
            for name, point in kpis.items():
                if kpi is None or name == kpi:
                    keys.setdefault((test_id, name), point.unit)
    found = []
    for (test_id, name), unit in sorted(keys.items()):
        runs = tuple(r for r in records if name in r.tests.get(test_id, {}))
        values = tuple(r.tests[test_id][name].value for r in runs)
        found.append(Series(test_id, name, unit, runs, values, analyse(values, policy)))
    return found


def _when(record: RunRecord) -> str:
    moment = _parse_time(record.timestamp)
    return moment.strftime("%Y-%m-%d %H:%M") if moment else record.timestamp[:16]


def render(series: Series, rows: int, policy: TrendPolicy) -> list[str]:
    unit = f" {series.unit}" if series.unit else ""
    trend = series.trend
    lines = [f"{series.test_id}  {series.kpi}{unit}  {trend.runs} runs  {sparkline(series.values)}"]
    marks = {c.at: "  <- change point" for c in trend.change_points}
    start = max(0, len(series.runs) - rows)
    if start:
        lines.append(f"  ({start} older runs not shown; --rows to show more)")
    lines.append(f"  {'run':>4}  {'commit':<7}  {'date':<16}  {'branch':<20}  value")
    for i in range(start, len(series.runs)):
        run = series.runs[i]
        branch = (run.branch or "-")[:20]
        value = fmt(series.values[i])
        lines.append(
            f"  {i + 1:>4}  {run.short_sha:<7}  {_when(run):<16}  {branch:<20}  {value}{marks.get(i, '')}"
        )
    for c in trend.change_points:
        run = series.runs[c.at]
        size = "no noise between runs" if math.isinf(c.score) else f"{c.score:.1f} standard errors"
        lines.append(
            f"  CHANGE POINT at run {c.at + 1} ({run.short_sha}, {_when(run)}): {fmt(c.before)} -> "
            f"{fmt(c.after)}{unit} ({c.change:+.1%}), {size}; run-to-run spread +-{trend.spread:.1%}"
        )
    if trend.drift is not None:
        d = trend.drift
        steps = "" if trend.change_points else ", no single step flagged"
        lines.append(
            f"  DRIFT: {d.per_run:+.1%} per run, {d.total:+.1%} over {trend.runs} runs (Theil-Sen slope, "
            f"Mann-Kendall z={d.z:.1f}; run-to-run spread +-{trend.spread:.1%}){steps}"
        )
    if not trend.flagged:
        why = "too few runs to analyse" if trend.runs < policy.min_runs else "no change point, no drift"
        lines.append(f"  {why} (run-to-run spread +-{trend.spread:.1%})")
    return lines


def summary(found: Sequence[Series], runs: int, where: str) -> str:
    changes = sum(len(s.trend.change_points) for s in found)
    drifts = sum(s.trend.drift is not None for s in found)
    flagged = sum(s.trend.flagged for s in found)
    return (
        f"history: {len(found)} series over {runs} runs in {where}; flagged {flagged} "
        f"({changes} change point(s), {drifts} drift(s))"
    )
