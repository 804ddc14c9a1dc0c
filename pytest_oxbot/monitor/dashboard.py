"""The dashboard: one self-contained page whose panels are SVG charts rendered here, in Python.

Why server-rendered SVG and not a charting library: the page must work offline (no CDN) and be tested
in a real browser. A vendored library (Chart.js is ~200 kB and draws on a canvas) would be code we ship
and must keep patched, and a canvas cannot be checked from the DOM. Line charts of a few hundred points
are ~100 lines of Python; the result is plain SVG elements a test can count, with no JavaScript beyond
a 15-line poller that swaps the panels every few seconds.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_oxbot.monitor.metrics import TIERS

__all__ = ["CHARTS", "DASHBOARD_JS", "chart_metrics", "line_chart", "page", "panels"]

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 460, 190, 52, 12, 28, 26

# (panel id, title, unit, [(metric, label)], y range floor/ceiling or None)
CHARTS: tuple[tuple[str, str, str, tuple[tuple[str, str], ...], tuple[float, float] | None], ...] = (
    (
        "hit-rate",
        "Cache hit rate per tier",
        "ratio",
        (("cache_hit_rate", "all"), *((f"cache_hit_rate.{t}", t.upper()) for t in TIERS)),
        (0.0, 1.0),
    ),
    (
        "llm-latency",
        "LLM latency percentiles",
        "s",
        (("llm_latency_p50", "p50"), ("llm_latency_p95", "p95"), ("llm_latency_p99", "p99")),
        None,
    ),
    ("cost-decision", "Cost per decision", "USD", (("cost_per_decision_usd", "per decision"),), None),
    (
        "cost-day",
        "Cost today vs budget",
        "USD",
        (("cost_today_usd", "spent today"), ("budget_daily_usd", "daily budget")),
        None,
    ),
    ("tokens", "Prompt tokens per LLM call", "tokens", (("tokens_per_call", "tokens/call"),), None),
    ("api-calls", "Exchange API calls per cycle", "calls", (("api_calls_per_cycle", "calls/cycle"),), None),
    ("memory", "Memory (largest process)", "MB", (("memory_mb", "RSS"),), None),
)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _nice(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def line_chart(
    chart_id: str,
    title: str,
    unit: str,
    series: Sequence[tuple[str, Sequence[tuple[float, float]]]],
    *,
    y_range: tuple[float, float] | None = None,
    now: float | None = None,
    span_s: float = 3600.0,
) -> str:
    """An SVG line chart; each series is a `<polyline class="series">` with `data-points` = its length."""
    now = time.time() if now is None else now
    x0 = now - span_s
    values = [v for _, pts in series for _, v in pts if math.isfinite(v)]
    lo, hi = y_range if y_range is not None else (0.0, max(values) * 1.15 if values else 1.0)
    if hi <= lo:
        hi = lo + 1.0
    iw, ih = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def sx(t: float) -> float:
        return PAD_L + max(0.0, min(1.0, (t - x0) / span_s)) * iw

    def sy(v: float) -> float:
        return PAD_T + ih - max(0.0, min(1.0, (v - lo) / (hi - lo))) * ih

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="chart-{_e(chart_id)}" '
        f'viewBox="0 0 {W} {H}" role="img" aria-label="{_e(title)}">',
        f'<text x="{PAD_L}" y="16" class="title">{_e(title)} ({_e(unit)})</text>',
        f'<rect x="{PAD_L}" y="{PAD_T}" width="{iw}" height="{ih}" class="plot"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        v = lo + (hi - lo) * frac
        y = sy(v)
        parts.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(
            f'<text x="{PAD_L - 4}" y="{y + 4:.1f}" class="axis" text-anchor="end">{_nice(v)}</text>'
        )
    parts.append(f'<text x="{PAD_L}" y="{H - 8}" class="axis">-{_nice(span_s / 60)} min</text>')
    parts.append(f'<text x="{W - PAD_R}" y="{H - 8}" class="axis" text-anchor="end">now</text>')
    legend_x = PAD_L + 8
    for i, (label, pts) in enumerate(series):
        finite = [(t, v) for t, v in pts if math.isfinite(v) and t >= x0]
        coords = " ".join(f"{sx(t):.1f},{sy(v):.1f}" for t, v in finite)
        last = f"{finite[-1][1]:.4g}" if finite else "no data"
        parts.append(
            f'<polyline class="series s{i}" data-series="{_e(label)}" data-points="{len(finite)}" '
            f'points="{coords}"/>'
        )
        if len(finite) == 1:  # one point draws no line: show it as a dot
            cx, cy = coords.split(",")
            parts.append(f'<circle class="dot s{i}" cx="{cx}" cy="{cy}" r="2.5"/>')
        text = f"{label}: {last}"
        parts.append(f'<text x="{legend_x}" y="{PAD_T + 12}" class="legend s{i}">{_e(text)}</text>')
        legend_x += max(70, int(len(text) * 5.6) + 14)
    parts.append("</svg>")
    return "".join(parts)


def _alerts_html(alerts: dict[str, Any], history: Sequence[dict[str, Any]]) -> str:
    active = alerts.get("active", [])
    rows = []
    for a in active:
        value = "-" if a.get("value") is None else f"{a['value']:.4g}"
        rows.append(
            f'<li class="alert active" data-alert="{_e(a["name"])}"><b>{_e(a["name"])}</b> '
            f"{_e(a['condition'])}: now {_e(value)}; action <code>{_e(a.get('action') or 'none')}</code></li>"
        )
    if not rows:
        rows.append('<li class="none">No active alert.</li>')
    applied = []
    for process, entries in sorted(alerts.get("applied", {}).items()):
        for entry in entries[-5:]:
            if isinstance(entry, dict):
                mark = "ok" if entry.get("ok") else "failed"
                applied.append(
                    f'<li class="applied {mark}">{_e(process)}: {_e(entry.get("action"))} '
                    f"{'undone' if entry.get('undo') else 'applied'} ({_e(entry.get('alert'))}): "
                    f"{_e(entry.get('detail'))}</li>"
                )
    events = [
        f'<li class="event {_e(h["event"])}">{_e(time.strftime("%H:%M:%S", time.gmtime(h["t"])))} '
        f"<b>{_e(h['alert'])}</b> {_e(h['event'])}: {_e(h.get('detail', ''))}</li>"
        for h in history[:20]
    ]
    return (
        '<section class="alerts" id="alerts"><h2>Alerts</h2>'
        f'<ul id="active-alerts">{"".join(rows)}</ul>'
        f'<h3>Actions on the bots</h3><ul id="applied-actions">{"".join(applied) or "<li>none</li>"}</ul>'
        f'<h3>History</h3><ul id="alert-history">{"".join(events) or "<li>none</li>"}</ul></section>'
    )


def panels(
    series: Mapping[str, Sequence[tuple[float, float]]],
    alerts: dict[str, Any],
    history: Sequence[dict[str, Any]],
    status: dict[str, Any],
    *,
    now: float,
    hours: float,
) -> str:
    """The live part of the page: status line, charts, alerts (swapped in by the page's poller)."""
    procs = status.get("processes", [])
    head = (
        f'<p class="status" id="status" data-processes="{len(procs)}">'
        f"{len(procs)} process(es): {_e(', '.join(p['process'] for p in procs) or 'none reporting')}"
        f" &middot; sample every {_e(status.get('sample_interval_s'))} s"
        f"{' &middot; EMERGENCY STOP in force' if status.get('emergency_stop') else ''}</p>"
    )
    charts = [
        line_chart(
            cid,
            title,
            unit,
            [(label, series.get(metric, [])) for metric, label in metrics],
            y_range=y_range,
            now=now,
            span_s=hours * 3600,
        )
        for cid, title, unit, metrics, y_range in CHARTS
    ]
    return head + '<div class="grid">' + "".join(charts) + "</div>" + _alerts_html(alerts, history)


def chart_metrics() -> list[str]:
    return [metric for _, _, _, metrics, _ in CHARTS for metric, _ in metrics]


DASHBOARD_JS = """\
(function () {
  var root = document.getElementById("panels");
  var state = document.getElementById("state");
  var every = parseInt(root.dataset.refreshMs, 10) || 5000;
  var url = root.dataset.source;
  function update() {
    fetch(url, {cache: "no-store"}).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.text();
    }).then(function (text) {
      root.innerHTML = text;
      state.textContent = "updated " + new Date().toLocaleTimeString();
      document.body.dataset.updates = String((parseInt(document.body.dataset.updates, 10) || 0) + 1);
    }).catch(function (e) { state.textContent = "not updated: " + e.message; });
  }
  update();
  setInterval(update, every);
})();
"""

_CSS = """
body{font:14px system-ui,sans-serif;margin:16px;background:#fafafa;color:#222}
h1{font-size:20px;margin:0 0 4px} .grid{display:flex;flex-wrap:wrap;gap:10px}
svg.chart{width:460px;height:190px;background:#fff;border:1px solid #ddd}
.title{font-weight:600;font-size:12px}.axis{font-size:10px;fill:#666}.plot{fill:none;stroke:#ccc}
.grid line,.grid{stroke:#eee}.legend{font-size:10px}
polyline.series{fill:none;stroke-width:1.8}.s0{stroke:#1f77b4;fill:#1f77b4}.s1{stroke:#d62728;fill:#d62728}
.s2{stroke:#2ca02c;fill:#2ca02c}.s3{stroke:#9467bd;fill:#9467bd}polyline.series{fill:none}
.alerts li.active{color:#b00020}.status{color:#444}#state{color:#888;font-size:12px}
"""


def page(*, refresh_ms: int, hours: float, base: str = "/performance") -> str:
    """The page shell; its panels come from `{base}/panels` (nothing loaded from another origin)."""
    source = f"{base}/panels?hours={hours:g}"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>pytest-oxbot performance</title>"
        f"<style>{_CSS}</style></head><body>"
        '<h1>pytest-oxbot: live performance</h1><div id="state">loading...</div>'
        f'<main id="panels" data-refresh-ms="{refresh_ms}" data-source="{_e(source)}"></main>'
        f'<script src="{base}/dashboard.js"></script></body></html>'
    )
