"""Baseline comparison: exact for stable KPIs, Mann-Whitney plus a minimum effect for noisy ones."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_oxbot.kpi.catalogue import spec_for
from pytest_oxbot.kpi.compare import ComparePolicy, compare, relative_change, spread

WITHIN = ComparePolicy(within_run=True)  # the within-run rule (opt-in): Mann-Whitney U on one run's samples


def _noisy(center: float, n: int = 30, jitter: float = 0.05, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [center * (1 + rng.uniform(-jitter, jitter)) for _ in range(n)]


def test_no_baseline_is_new() -> None:
    assert compare(spec_for("prompt_tokens"), 100, (), None).verdict == "new"


@pytest.mark.parametrize(
    ("new", "verdict"), [(2000, "same"), (2000.0000001, "same"), (2001, "regressed"), (1999, "improved")]
)
def test_deterministic_kpis_compare_exactly(new: float, verdict: str) -> None:
    assert compare(spec_for("prompt_tokens"), new, (), 2000).verdict == verdict


def test_higher_is_better_direction() -> None:
    assert compare(spec_for("cache_hit_rate"), 0.8, (), 0.9).verdict == "regressed"
    assert compare(spec_for("cache_hit_rate"), 0.95, (), 0.9).verdict == "improved"


def test_memory_has_a_small_tolerance() -> None:
    spec = spec_for("memory_usage_mb")
    assert compare(spec, 110, (), 100).verdict == "same"
    assert compare(spec, 120, (), 100).verdict == "regressed"


def test_noisy_significant_and_large_regresses() -> None:
    spec = spec_for("db_query_time")
    old, new = _noisy(0.010), _noisy(0.013, seed=2)
    result = compare(spec, sum(new) / len(new), new, sum(old) / len(old), old, WITHIN)
    assert result.verdict == "regressed"
    assert result.p_value is not None
    assert result.p_value < 0.05
    assert result.change == pytest.approx(0.3, abs=0.03)


def test_noisy_small_change_is_same_even_if_significant() -> None:
    spec = spec_for("db_query_time")
    old, new = _noisy(0.010, jitter=0.001), _noisy(0.0105, jitter=0.001, seed=2)
    assert compare(spec, 0.0105, new, 0.010, old, WITHIN).verdict == "same"


def test_noisy_large_but_not_significant_is_same() -> None:
    spec = spec_for("decision_time")
    old = [1.0, 1.3, 1.0, 1.3, 1.0, 1.3]
    new = [1.0, 1.3, 1.3, 1.3, 1.3, 1.3]
    result = compare(
        spec, 1.25, new, 1.15, old, ComparePolicy(min_effect=0.05, max_spread=1.0, within_run=True)
    )
    assert result.verdict == "same"
    assert result.p_value is not None
    assert result.p_value >= 0.05


def test_wide_spread_is_unstable_not_failed() -> None:
    spec = spec_for("decision_time")
    old = _noisy(1.0, jitter=0.9)
    new = _noisy(2.0, jitter=0.9, seed=3)
    result = compare(spec, 2.0, new, 1.0, old, WITHIN)
    assert result.verdict == "unstable"
    assert "spread" in result.note


def test_too_few_samples_is_unstable() -> None:
    result = compare(spec_for("db_query_time"), 0.02, (0.02,), 0.01, (0.01,), WITHIN)
    assert result.verdict == "unstable"
    assert "samples" in result.note


def test_noisy_improvement() -> None:
    old, new = _noisy(0.02), _noisy(0.01, seed=5)
    assert compare(spec_for("db_query_time"), 0.01, new, 0.02, old, WITHIN).verdict == "improved"


def test_relative_change_and_spread_edges() -> None:
    assert relative_change(0, 0) == 0
    assert relative_change(1, 0) == float("inf")
    assert spread([1.0]) == 0
    assert spread([1.0, 1.0, 1.0]) == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=1e-6, max_value=10), min_size=1, max_size=30))
def test_identical_runs_never_regress(samples: list[float]) -> None:
    mean = sum(samples) / len(samples)
    for name in ("db_query_time", "prompt_tokens", "cache_hit_rate"):
        assert compare(spec_for(name), mean, samples, mean, samples).verdict == "same"


def test_between_runs_rule_judges_against_the_spread_between_runs() -> None:
    spec = spec_for("db_query_time")
    runs = (0.010, 0.011, 0.0105, 0.0098, 0.0102)  # the baseline's last five runs: +-7 % around 0.0102
    policy = ComparePolicy(min_effect=0.25)
    same = compare(spec, 0.0112, (), 0.0102, (), policy, runs)
    assert same.verdict == "same"
    assert same.reference == 0.0102
    # +30 %: past the minimum effect and outside the runs' spread
    regressed = compare(spec, 0.01326, (), 0.0102, (), policy, runs)
    assert regressed.verdict == "regressed"
    assert "outside the spread between runs" in regressed.note
    # runs that themselves moved by +-60 %: the same +30 % is too noisy to judge
    wide = (0.006, 0.010, 0.016, 0.010, 0.010)
    unstable = compare(spec, 0.013, (), 0.010, (), policy, wide)
    assert unstable.verdict == "unstable"
    assert "inside the spread between runs" in unstable.note


def test_within_run_samples_are_not_consulted_once_runs_are_kept() -> None:
    """Within-run samples so tight that any shift is 'significant' no longer decide the verdict."""
    spec = spec_for("db_query_time")
    runs = (0.010, 0.013, 0.0115)
    tight_old, tight_new = _noisy(0.0115, jitter=0.001), _noisy(0.014, jitter=0.001, seed=2)
    result = compare(spec, 0.014, tight_new, 0.0115, tight_old, ComparePolicy(min_effect=0.25), runs)
    assert result.verdict == "same"  # +21.7 % < 25 %: what a Mann-Whitney test alone would have failed


def test_fewer_runs_than_min_runs_fall_back_to_the_within_run_rule_when_opted_in() -> None:
    spec = spec_for("db_query_time")
    old, new = _noisy(0.010), _noisy(0.013, seed=2)
    policy = ComparePolicy(min_effect=0.25, min_runs=3, within_run=True)
    result = compare(spec, 0.013, new, 0.010, old, policy, (0.010, 0.0101))
    assert result.verdict == "regressed"
    assert result.p_value is not None


def test_instruction_counts_use_the_instruction_tolerance() -> None:
    spec = spec_for("parse_instructions")
    assert (spec.unit, spec.noisy, spec.tolerance) == ("instructions", False, None)
    assert compare(spec, 1_009_000, (), 1_000_000).verdict == "same"
    assert compare(spec, 1_011_000, (), 1_000_000).verdict == "regressed"
    assert (
        compare(spec, 1_011_000, (), 1_000_000, policy=ComparePolicy(instruction_tolerance=0.02)).verdict
        == "same"
    )


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("redis_round_trips", "round trips"),
        ("cache_get_redis_commands", "commands"),
        ("sql_statements", "statements"),
        ("hot_db_buffers", "buffers"),
    ],
)
def test_io_counts_are_exact(name: str, unit: str) -> None:
    spec = spec_for(name)
    assert (spec.unit, spec.noisy) == (unit, False)
    assert compare(spec, 3, (), 3).verdict == "same"
    assert compare(spec, 4, (), 3).verdict == "regressed"


def test_one_run_baseline_is_unstable_not_failed_by_default() -> None:
    old, new = _noisy(0.010), _noisy(0.020, seed=2)
    result = compare(spec_for("db_query_time"), 0.020, new, 0.010, old, ComparePolicy(min_effect=0.25))
    assert result.verdict == "unstable"
    assert "the baseline holds 1 run(s) of it, 3 are needed" in result.note
    assert (
        compare(spec_for("db_query_time"), 0.011, new, 0.010, old, ComparePolicy(min_effect=0.25)).verdict
        == "same"
    )
