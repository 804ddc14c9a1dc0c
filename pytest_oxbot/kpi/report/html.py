"""A self-contained HTML page: the verdicts, the table, and the plots a reviewer needs (see `plots.py`).

Sections: values against targets (KPIs without one: against their baseline), baseline-against-current
distributions of the noisy (wall-clock) KPIs, failing ones first, and each KPI's trend over runs: from
the history store (`trends`: (test id, KPI) -> [(label, value)], oldest first) or, without it, from the
archived baselines plus this run. Everything is embedded, so the file can be uploaded as a CI artifact
and opened anywhere; it names paths only as the caller gives them (relative ones, see `display_path`).
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Mapping, Sequence

from pytest_oxbot.kpi.baseline import Baseline
from pytest_oxbot.kpi.catalogue import spec_for
from pytest_oxbot.kpi.gate import VERDICT_ORDER, KpiResult
from pytest_oxbot.kpi.report import plots
from pytest_oxbot.kpi.report.table import HEADERS, rows, summary_line

MAX_PLOTS = 30
Trends = Mapping[tuple[str, str], Sequence[tuple[str, float]]]

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
tr.fail td,tr.regressed td,tr.missing td{background:#fde2e2}
tr.unstable td{background:#fff4d6}tr.improved td{background:#e3f6e3}
.plots{display:flex;flex-wrap:wrap;gap:16px}.plots figure{margin:0}
figcaption{font-size:12px;color:#555;max-width:560px}
"""


def render(
    results: Sequence[KpiResult],
    *,
    header: str = "",
    history: Sequence[tuple[str, Baseline]] = (),
    trends: Trends | None = None,
    baseline: Baseline | None = None,
) -> str:
    """The page; `baseline` (the one compared against) supplies the samples of the distributions."""
    judged = [r for r in results if r.judged and r.value is not None]
    table_rows = "".join(
        f'<tr class="{html.escape(r[-1].lower())}">'
        + "".join(f"<td>{html.escape(c)}</td>" for c in r)
        + "</tr>"
        for r in rows(results)
    )
    reasons = "".join(
        f'<li class="{html.escape(r.verdict)}"><code>{html.escape(r.test_id)}</code>: '
        f"{html.escape(r.reason)}</li>"
        for r in _ranked(results)
        if r.reason
    )
    if trends is None:
        trends = trends_from_baselines(history, judged)
    sections = [
        ("Values against targets and baselines", _value_plots(judged)),
        ("Noisy KPIs: baseline against this run", _distribution_plots(judged, baseline)),
        ("Trends over runs", _trend_plots(judged, trends)),
    ]
    plot_html = "".join(
        f"<section><h2>{title}</h2><div class='plots'>{''.join(figs)}</div></section>"
        for title, figs in sections
        if figs
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>pytest-oxbot KPI report</title>"
        f"<style>{_STYLE}</style></head><body><h1>pytest-oxbot KPI report</h1>"
        f"<p class='summary'>{html.escape(summary_line(results))}</p>"
        f"<p><small>{html.escape(header)}</small></p><ul class='reasons'>{reasons}</ul>"
        f"<table class='results'><tr>{''.join(f'<th>{h}</th>' for h in HEADERS)}</tr>{table_rows}</table>"
        f"{plot_html}</body></html>\n"
    )


def _ranked(results: Sequence[KpiResult]) -> list[KpiResult]:
    order = {v: i for i, v in enumerate(VERDICT_ORDER)}
    return sorted(results, key=lambda r: (order.get(r.verdict, len(order)), r.test_id, r.name))


def _by_name(results: Sequence[KpiResult]) -> dict[str, list[KpiResult]]:
    grouped: dict[str, list[KpiResult]] = defaultdict(list)
    for r in _ranked(results):
        grouped[r.name].append(r)
    return dict(sorted(grouped.items()))


def _value_plots(results: Sequence[KpiResult]) -> list[str]:
    out = []
    for name, items in _by_name(results).items():
        with_target = [r for r in items if r.target is not None]
        without = [r for r in items if r.target is None]
        if with_target:
            out.append(plots.target_plot(name, with_target))
        if without:
            out.append(plots.baseline_plot(name, without))
    return out[:MAX_PLOTS]


def _noisy(name: str, unit: str) -> bool:
    try:
        return spec_for(name).noisy or unit == "s"
    except ValueError:
        return unit == "s"


def _distribution_plots(results: Sequence[KpiResult], baseline: Baseline | None) -> list[str]:
    out: list[str] = []
    for r in _ranked(results):
        if len(out) >= MAX_PLOTS:
            break
        before = baseline.entries(r.test_id).get(r.name) if baseline else None
        if before is None or len(before.samples) < 2 or len(r.samples) < 2 or not _noisy(r.name, r.unit):
            continue
        out.append(plots.distribution_plot(r, before.samples))
    return out


def _trend_plots(results: Sequence[KpiResult], trends: Trends) -> list[str]:
    out = []
    for name, items in _by_name(results).items():
        lines = [
            (r.test_id, trends[(r.test_id, name)])
            for r in items
            if len(trends.get((r.test_id, name), ())) > 1
        ]
        if lines:
            out.append(plots.trend_plot(name, items[0].unit, lines))
    return out[:MAX_PLOTS]


def trends_from_baselines(history: Sequence[tuple[str, Baseline]], results: Sequence[KpiResult]) -> Trends:
    """Trends from archived baselines (timestamp, baseline), oldest first, ending with this run ("now")."""
    if not history:
        return {}
    trends: dict[tuple[str, str], list[tuple[str, float]]] = {}
    for r in results:
        points = [
            (f"{stamp[4:8]} {stamp[9:13]}", b.entries(r.test_id)[r.name].value)
            for stamp, b in history
            if r.name in b.entries(r.test_id)
        ]
        if points and r.value is not None:
            trends[(r.test_id, r.name)] = [*points, ("now", r.value)]
    return trends
