"""Change points and slow drifts over runs: flagged when real, silent on noise (seeded synthetic series)."""

from __future__ import annotations

import itertools
import random

import pytest

from pytest_oxbot.kpi.history.trend import TrendPolicy, analyse, mann_kendall_z, sparkline, theil_sen


def _noise(seed: int, n: int = 20, sd: float = 0.01) -> list[float]:
    rng = random.Random(seed)
    return [1 + rng.gauss(0, sd) for _ in range(n)]


@pytest.mark.parametrize("seed", range(10))
def test_a_two_percent_per_run_drift_over_20_runs_is_flagged_although_no_single_step_is(seed: int) -> None:
    values = [0.250 * 1.02**i * e for i, e in enumerate(_noise(seed))]
    steps = [abs(b / a - 1) for a, b in itertools.pairwise(values)]
    assert max(steps) < 0.07  # no run-to-run step a gate with a 10 % minimum effect would fail
    trend = analyse(values)
    assert trend.flagged
    assert trend.drift is not None
    assert trend.drift.per_run == pytest.approx(0.02, abs=0.004)
    assert trend.drift.total > 0.35
    assert trend.change_points == ()  # a line explains it better than steps


@pytest.mark.parametrize("seed", range(50))
def test_pure_noise_flags_nothing(seed: int) -> None:
    trend = analyse([2712 * e for e in _noise(seed)])
    assert not trend.flagged, trend
    assert 0.003 < trend.spread < 0.03  # the spread estimate sees the +-1 % noise


@pytest.mark.parametrize("seed", range(10))
def test_a_single_ten_percent_step_after_ten_runs_is_located(seed: int) -> None:
    values = [0.004 * (1.10 if i >= 10 else 1.0) * e for i, e in enumerate(_noise(seed))]
    trend = analyse(values)
    assert [c.at for c in trend.change_points] == [10]
    change = trend.change_points[0]
    assert change.change == pytest.approx(0.10, abs=0.02)
    assert change.after > change.before
    assert trend.drift is None


def test_two_steps_are_both_found_and_an_improvement_is_negative() -> None:
    values = [(100.0 if i < 8 else 80.0 if i < 16 else 95.0) * e for i, e in enumerate(_noise(3, n=24))]
    found = analyse(values).change_points
    assert [c.at for c in found] == [8, 16]
    assert found[0].change == pytest.approx(-0.20, abs=0.02)


def test_deterministic_counts_step_without_noise() -> None:
    trend = analyse([2500.0] * 10 + [2750.0] * 10)
    assert [c.at for c in trend.change_points] == [10]
    assert trend.spread == 0
    assert not analyse([2500.0] * 10 + [2510.0] * 10).flagged  # 0.4 % is under the 2 % minimum effect
    assert analyse([2500.0] * 10 + [2510.0] * 10, TrendPolicy(min_effect=0.001)).flagged


def test_a_single_outlier_run_is_not_a_change_point() -> None:
    values = [100 * e for e in _noise(5)]
    values[12] *= 1.5
    assert analyse(values).change_points == ()


def test_the_latest_run_alone_is_never_a_change_point_and_short_series_are_not_analysed() -> None:
    assert analyse([1.0] * 19 + [2.0]).change_points == ()
    assert not analyse([1.0, 1.0, 2.0, 2.0, 2.0]).flagged  # fewer than min_runs
    assert analyse([]).runs == 0


def test_zero_and_negative_values_use_a_linear_scale() -> None:
    rng = random.Random(7)
    values = [(0.0 if i < 12 else 5.0) + rng.gauss(0, 0.1) for i in range(24)]  # a P&L around zero
    found = analyse(values).change_points
    assert [c.at for c in found] == [12]


def test_theil_sen_and_mann_kendall_on_known_series() -> None:
    assert theil_sen([1.0, 3.0, 5.0, 7.0]) == (2.0, 1.0)
    assert mann_kendall_z([1.0, 2.0, 3.0, 4.0, 5.0]) > 1.5
    assert mann_kendall_z([5.0, 4.0, 3.0, 2.0, 1.0]) < -1.5
    assert mann_kendall_z([1.0] * 6) == 0.0


def test_sparkline_spans_lowest_to_highest() -> None:
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert sparkline([3, 3, 3]) == "▅▅▅"
    assert sparkline([]) == ""
