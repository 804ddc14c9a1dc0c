"""The HTML report's figures (matplotlib, the `plots` extra), each returned as inline SVG.

Written for a reviewer: tick labels in the KPI's own unit (`$0.000087`, `870 µs`, `15.3 M`, never a
`1e-05` offset), few enough ticks that labels never collide, a KPI without a target drawn against its
baseline, wall-clock samples as baseline-against-current distributions, and trend lines told apart by
marker, line style and a label at their end. Text stays text in the SVG (selectable, and checkable in a
browser test).
"""

from __future__ import annotations

import html
import io
import itertools
import math
import random
from collections.abc import Sequence
from typing import Any

from pytest_oxbot.kpi.gate import KpiResult

MAX_ROWS = 12  # tests per bar/dot plot
MAX_LINES = 8  # tests per trend plot
MAX_POINTS = 300  # strip-plot points per side
MAX_X_LABELS = 6
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", ":", "-.")
FAILING, OK, BASELINE = "#c9302c", "#2f7d32", "#7a7a7a"


def _mpl() -> Any:
    from pytest_oxbot.errors import require

    require("matplotlib", feature="the HTML report's plots (--oxbot-html)", extra="plots")
    import matplotlib

    matplotlib.use("Agg", force=False)
    return matplotlib


def figure(rows: int = 0) -> tuple[Any, Any]:
    """A figure tall enough for `rows` labelled rows (0: the default height)."""
    _mpl()
    from matplotlib.figure import Figure

    height = max(2.6, 0.8 + 0.28 * rows) if rows else 3.0
    fig = Figure(figsize=(6.0, height), layout="constrained")
    return fig, fig.add_subplot()


def svg(fig: Any, caption: str, kind: str) -> str:
    """The figure as an inline `<figure>`: SVG with real `<text>`, no timestamp (stable output)."""
    from matplotlib import rc_context

    buffer = io.StringIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "oxbot"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.find("<svg") :]
    return (
        f'<figure class="plot" data-kind="{kind}">{text}'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def short(test_id: str, width: int = 34) -> str:
    """The test's function name with its parameters, shortened from the left."""
    name = test_id.rsplit("::", 1)[-1]
    return name if len(name) <= width else "…" + name[-(width - 1) :]


def _decimals(values: Sequence[float]) -> int:
    """Decimals that tell neighbouring ticks apart (and show a tiny value's first significant digits)."""
    finite = sorted({v for v in values if math.isfinite(v)})
    steps = [b - a for a, b in itertools.pairwise(finite) if b > a]
    smallest = min(steps) if steps else max((abs(v) for v in finite), default=1.0) or 1.0
    return max(0, -math.floor(math.log10(smallest) + 1e-9) + (0 if steps else 1))


def unit_formatter(unit: str) -> Any:
    """A tick formatter for `unit`: dollars with the decimals needed, SI prefixes, no offset text."""
    _mpl()
    from matplotlib import ticker

    if unit == "USD":

        class Dollars(ticker.Formatter):
            def format_ticks(self, values: Sequence[float]) -> list[str]:
                places = min(9, max(2, _decimals(values)))
                return [f"${v:,.{places}f}" for v in values]

            def __call__(self, x: float, pos: int | None = None) -> str:
                return self.format_ticks([x])[0]

        return Dollars()
    if unit == "ratio":
        return ticker.FuncFormatter(lambda x, _pos: f"{x:.3g}")
    # Seconds and counts: engineering notation (870 µs, 15.3 M) that stays short at any magnitude.
    return ticker.EngFormatter(unit="s" if unit == "s" else "", places=None, sep=" ")


def _axis(axis: Any, unit: str) -> None:
    from matplotlib import ticker

    axis.set_major_locator(ticker.MaxNLocator(nbins=5))
    axis.set_major_formatter(unit_formatter(unit))


def _label(unit: str) -> str:
    return "" if unit in ("", "ratio", "s", "USD") else f" ({unit})"


def target_plot(name: str, items: Sequence[KpiResult]) -> str:
    """Each test's value as a bar with its target as a black tick."""
    items = list(items)[:MAX_ROWS]
    fig, ax = figure(len(items))
    ax.barh(
        range(len(items)),
        [r.value or 0.0 for r in items],
        color=[FAILING if r.failing else OK for r in items],
        height=0.6,
    )
    for i, r in enumerate(items):
        if r.target is not None:
            ax.plot([r.target, r.target], [i - 0.4, i + 0.4], color="black", linewidth=2)
    ax.set_yticks(range(len(items)), [short(r.test_id) for r in items], fontsize=8)
    ax.invert_yaxis()
    _axis(ax.xaxis, items[0].unit)
    ax.set_xlabel(f"{name}{_label(items[0].unit)}; black tick = target", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    return svg(fig, f"{name} against its target", "target")


def baseline_plot(name: str, items: Sequence[KpiResult]) -> str:
    """A KPI without a target: each test's value (filled) against its baseline (hollow)."""
    items = list(items)[:MAX_ROWS]
    fig, ax = figure(len(items))
    for i, r in enumerate(items):
        color = FAILING if r.failing else OK
        if r.baseline is not None and r.value is not None:
            ax.plot([r.baseline, r.value], [i, i], color=color, linewidth=1.5, alpha=0.6)
        if r.baseline is not None:
            ax.plot([r.baseline], [i], "o", mfc="white", mec=BASELINE, mew=1.5, ms=7)
        if r.value is not None:
            ax.plot([r.value], [i], "o", color=color, ms=7)
    ax.set_yticks(range(len(items)), [short(r.test_id) for r in items], fontsize=8)
    ax.set_ylim(len(items) - 0.5, -0.5)
    ax.margins(x=0.15)
    _axis(ax.xaxis, items[0].unit)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel(f"{name}{_label(items[0].unit)}; hollow = baseline, filled = this run", fontsize=8)
    return svg(fig, f"{name} against its baseline (no target)", "baseline")


def _thin(values: Sequence[float], limit: int) -> list[float]:
    if len(values) <= limit:
        return list(values)
    ordered = sorted(values)
    return [ordered[i * len(ordered) // limit] for i in range(limit)]


def distribution_plot(result: KpiResult, baseline_samples: Sequence[float]) -> str:
    """Baseline against current samples of one noisy KPI: boxes, with every (or a thinned) sample."""
    fig, ax = figure()
    sides = [list(baseline_samples), list(result.samples)]
    colors = [BASELINE, FAILING if result.failing else OK]
    ax.boxplot(sides, positions=[1, 2], widths=0.45, showfliers=False, medianprops={"color": "black"})
    jitter = random.Random(0)
    for position, samples, color in zip((1, 2), sides, colors, strict=True):
        shown = _thin(samples, MAX_POINTS)
        xs = [position + jitter.uniform(-0.18, 0.18) for _ in shown]
        ax.plot(xs, shown, "o", color=color, alpha=0.35, ms=3, mew=0)
    labels = [f"baseline (n={len(sides[0])})", f"this run (n={len(sides[1])})"]
    ax.set_xticks([1, 2], labels, fontsize=8)
    _axis(ax.yaxis, result.unit)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title(f"{short(result.test_id, 48)}: {result.name}", fontsize=9)
    caption = f"{result.test_id}: {result.name} samples, {result.verdict}"
    return svg(fig, caption, "distribution")


def _spread_labels(positions: list[float], gap: float) -> list[float]:
    """Positions (axes fraction) moved apart to at least `gap`, order kept, inside [0, 1]."""
    order = sorted(range(len(positions)), key=lambda i: positions[i])
    placed = [0.0] * len(positions)
    last = -math.inf
    for i in order:
        placed[i] = max(positions[i], last + gap)
        last = placed[i]
    overflow = last - 1.0
    if overflow > 0:  # pushed out at the top: shift everything down, keeping the gaps
        for i in order:
            placed[i] -= overflow
    return placed


def trend_plot(name: str, unit: str, lines: Sequence[tuple[str, Sequence[tuple[str, float]]]]) -> str:
    """One KPI over runs, a line per test: marker, line style and a label at its end tell them apart."""
    lines = [(test_id, list(points)) for test_id, points in lines if points][:MAX_LINES]
    xs: dict[str, int] = {}
    for _, points in lines:
        for label, _value in points:
            xs.setdefault(label, len(xs))
    fig, ax = figure()
    fig.set_size_inches(7.2, 3.4)
    ends = []
    for i, (test_id, points) in enumerate(lines):
        (line,) = ax.plot(
            [xs[label] for label, _ in points],
            [value for _, value in points],
            marker=MARKERS[i % len(MARKERS)],
            linestyle=LINESTYLES[i % len(LINESTYLES)],
            ms=5,
            linewidth=1.4,
            label=short(test_id, 22),
        )
        ends.append((line, xs[points[-1][0]], points[-1][1], short(test_id, 22)))
    ax.margins(y=0.12)
    _axis(ax.yaxis, unit)
    ax.tick_params(labelsize=8)
    labels = list(xs)
    step = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    shown = list(range(0, len(labels), step))
    ax.set_xticks(shown, [labels[i][:12] for i in shown])
    ax.set_xlim(-0.3, max(len(labels) - 0.7, 0.7))
    ax.set_ylabel(f"{name}{_label(unit)}", fontsize=8)
    if ends:
        low, high = ax.get_ylim()
        fractions = [(value - low) / (high - low) if high > low else 0.5 for _, _, value, _ in ends]
        for (line, x, value, text), y in zip(ends, _spread_labels(fractions, 0.085), strict=True):
            ax.annotate(
                text,
                xy=(x, value),
                xycoords="data",
                xytext=(1.02, y),
                textcoords="axes fraction",
                fontsize=7,
                color=line.get_color(),
                va="center",
                arrowprops={"arrowstyle": "-", "color": line.get_color(), "lw": 0.6, "alpha": 0.6},
            )
    return svg(fig, f"{name} over runs", "trend")
