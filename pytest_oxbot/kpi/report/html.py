"""A self-contained HTML page: the table plus inline-SVG plots (matplotlib, Agg backend).

Plots: each KPI's per-test values against their targets, each KPI's history over archived baselines
(plus this run), and the sample distributions of latencies. Everything is embedded, so the file can be
uploaded as a CI artifact and opened anywhere.
"""

from __future__ import annotations

import html
import io
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from pytest_oxbot.kpi.baseline import Baseline
from pytest_oxbot.kpi.gate import KpiResult
from pytest_oxbot.kpi.report.table import HEADERS, rows, summary_line

MAX_PLOTS = 30
MAX_LINES = 10

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
tr.fail td,tr.regressed td,tr.missing td{background:#fde2e2}
tr.unstable td{background:#fff4d6}tr.improved td{background:#e3f6e3}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots figure{margin:0}
"""


def render(
    results: Sequence[KpiResult],
    *,
    header: str = "",
    history: Sequence[tuple[str, Baseline]] = (),
) -> str:
    judged = [r for r in results if r.judged and r.value is not None]
    table_rows = "".join(
        f'<tr class="{html.escape(r[-1].lower())}">'
        + "".join(f"<td>{html.escape(c)}</td>" for c in r)
        + "</tr>"
        for r in rows(results)
    )
    reasons = "".join(
        f"<li><code>{html.escape(r.test_id)}</code>: {html.escape(r.reason)}</li>"
        for r in results
        if r.reason
    )
    sections = [
        ("Values against targets", _target_plots(judged)),
        ("History over saved baselines", _history_plots(judged, history)),
        ("Latency distributions", _distribution_plots(judged)),
    ]
    plots = "".join(
        f"<h2>{title}</h2><div class='plots'>{''.join(svgs)}</div>" for title, svgs in sections if svgs
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>pytest-oxbot KPI report</title>"
        f"<style>{_STYLE}</style></head><body><h1>pytest-oxbot KPI report</h1>"
        f"<p>{html.escape(summary_line(results))}</p><p><small>{html.escape(header)}</small></p>"
        f"<ul>{reasons}</ul><table><tr>{''.join(f'<th>{h}</th>' for h in HEADERS)}</tr>{table_rows}</table>"
        f"{plots}</body></html>\n"
    )


def _figure() -> tuple[Any, Any]:
    from pytest_oxbot.errors import require

    require("matplotlib", feature="the HTML report's plots (--oxbot-html)", extra="plots")
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 3.2), layout="constrained")
    return fig, fig.add_subplot()


def _svg(fig: Any, caption: str) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.find("<svg") :]
    return f"<figure>{svg}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _short(test_id: str) -> str:
    return test_id.rsplit("::", 1)[-1][:40]


def _by_name(results: Sequence[KpiResult]) -> dict[str, list[KpiResult]]:
    grouped: dict[str, list[KpiResult]] = defaultdict(list)
    for r in results:
        grouped[r.name].append(r)
    return dict(sorted(grouped.items()))


def _target_plots(results: Sequence[KpiResult]) -> list[str]:
    out = []
    for name, items in list(_by_name(results).items())[:MAX_PLOTS]:
        fig, ax = _figure()
        labels = [_short(r.test_id) for r in items]
        colors = ["#d9534f" if r.failing else "#5cb85c" for r in items]
        ax.barh(range(len(items)), [r.value or 0.0 for r in items], color=colors)
        for i, r in enumerate(items):
            if r.target is not None:
                ax.plot([r.target, r.target], [i - 0.4, i + 0.4], color="black", linewidth=2)
        ax.set_yticks(range(len(items)), labels, fontsize=7)
        ax.set_xlabel(f"{name} ({items[0].unit}); black line = target")
        out.append(_svg(fig, name))
    return out


def _history_plots(results: Sequence[KpiResult], history: Sequence[tuple[str, Baseline]]) -> list[str]:
    """One plot per KPI: each test's value over the archived baselines, then this run ("now")."""
    if not history:
        return []
    labels = [f"{stamp[:8]}\n{stamp[9:13]}" for stamp, _ in history] + ["now"]
    out = []
    for name, items in list(_by_name(results).items())[:MAX_PLOTS]:
        fig, ax = _figure()
        drawn = 0
        for r in items[:MAX_LINES]:
            points = [
                (i, b.entries(r.test_id)[name].value)
                for i, (_, b) in enumerate(history)
                if name in b.entries(r.test_id)
            ]
            if not points:
                continue
            if r.value is not None:
                points.append((len(history), r.value))
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=_short(r.test_id))
            drawn += 1
        if not drawn:
            continue
        targets = {r.target for r in items if r.target is not None}
        for target in targets:
            ax.axhline(target, color="black", linestyle="--", linewidth=1)
        ax.set_xticks(range(len(labels)), labels, fontsize=6)
        ax.set_ylabel(f"{name} ({items[0].unit})")
        ax.legend(fontsize=6)
        out.append(_svg(fig, f"{name}: history (dashed = target)"))
    return out


def _distribution_plots(results: Sequence[KpiResult]) -> list[str]:
    out: list[str] = []
    for name, items in _by_name([r for r in results if r.unit == "s" and len(r.samples) > 1]).items():
        if len(out) >= MAX_PLOTS:
            break
        fig, ax = _figure()
        ax.boxplot([list(r.samples) for r in items])
        ax.set_xticks(range(1, len(items) + 1), [_short(r.test_id) for r in items], fontsize=7, rotation=20)
        ax.set_ylabel(f"{name} per round (s)")
        out.append(_svg(fig, f"{name} samples"))
    return out
