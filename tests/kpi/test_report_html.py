"""The HTML report's plots without a browser: which figures, tick labels people can read, trends."""

from __future__ import annotations

import itertools
import re

import pytest

from pytest_oxbot.kpi.baseline import Baseline, BaselineEntry
from pytest_oxbot.kpi.gate import Measurement, judge
from pytest_oxbot.kpi.report import html, plots

from .report_fixtures import rich_report

pytest.importorskip("matplotlib")


def _ticks(unit: str, values: list[float]) -> list[str]:
    """The tick labels matplotlib draws for ticks at `values` on an axis of `unit`."""
    fig, ax = plots.figure()
    ax.xaxis.set_major_formatter(plots.unit_formatter(unit))
    ax.set_xticks(values)
    ax.set_xlim(values[0], values[-1])
    fig.draw_without_rendering()
    return [t.get_text() for t in ax.get_xticklabels()]


def test_money_ticks_are_dollars_with_the_digits_that_matter() -> None:
    assert _ticks("USD", [0.0, 0.00004, 0.00008]) == ["$0.00000", "$0.00004", "$0.00008"]
    assert _ticks("USD", [0.000085, 0.000086, 0.000087]) == ["$0.000085", "$0.000086", "$0.000087"]
    assert _ticks("USD", [0.0, 50.0, 100.0]) == ["$0.00", "$50.00", "$100.00"]


def test_tiny_and_huge_values_get_si_prefixes() -> None:
    assert _ticks("s", [0.0005, 0.001, 0.0015]) == ["500 µs", "1 ms", "1.5 ms"]
    assert _ticks("instructions", [15_000_000.0, 16_000_000.0]) == ["15 M", "16 M"]
    for label in _ticks("s", [1e-6, 2e-6]) + _ticks("USD", [1e-7, 2e-7]):
        assert not re.search(r"\de[-+]?\d", label), label


def test_figures_by_kind() -> None:
    results, baseline, trends = rich_report()
    page = html.render(results, trends=trends, baseline=baseline)
    kinds = re.findall(r'<figure class="plot" data-kind="(\w+)">', page)
    assert sorted(kinds) == sorted(["target"] * 3 + ["baseline"] + ["distribution"] * 3 + ["trend"] * 2)
    # The regressed distribution is drawn first: the view needed when something regressed.
    first = page.index('data-kind="distribution"')
    assert "test_db_query_time[backend-0]: db_query_time samples, regressed" in page[first : first + 400_000]
    assert page.count("<text") > 50  # labels are text, not glyph paths
    assert "/tmp/" not in page


def test_no_distribution_without_baseline_samples() -> None:
    results, _, _ = rich_report()
    page = html.render(results)
    assert 'data-kind="distribution"' not in page
    assert 'data-kind="trend"' not in page


def test_trends_from_archived_baselines_end_with_this_run() -> None:
    results = judge("t.py::a", [Measurement("prompt_tokens", 2100)], targets={})
    history = [
        ("20260101T120000Z", Baseline({}, {"t.py::a": {"prompt_tokens": BaselineEntry(2000, "tokens")}})),
        ("20260102T120000Z", Baseline({}, {"t.py::a": {"prompt_tokens": BaselineEntry(2050, "tokens")}})),
    ]
    trends = html.trends_from_baselines(history, results)
    assert trends == {("t.py::a", "prompt_tokens"): [("0101 1200", 2000), ("0102 1200", 2050), ("now", 2100)]}
    assert html.render(results, history=history).count('data-kind="trend"') == 1


def test_trend_labels_are_spread_apart_in_order() -> None:
    placed = plots._spread_labels([0.5, 0.5, 0.52, 0.1], 0.1)
    assert placed[3] == 0.1
    ordered = sorted(placed[:3])
    assert all(b - a >= 0.1 - 1e-9 for a, b in itertools.pairwise(ordered))
    top = plots._spread_labels([0.95, 0.96, 0.97], 0.1)
    assert max(top) <= 1.0 + 1e-9
