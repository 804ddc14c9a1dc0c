"""Catalogue names and target parsing: a typo or a wrong unit must be an error that names it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_oxbot.errors import KpiUsageError
from pytest_oxbot.kpi.catalogue import CATALOGUE, spec_for
from pytest_oxbot.kpi.units import parse_quantity


def test_catalogue_holds_the_design_targets() -> None:
    expected = {
        "cache_hit_rate": ("ratio", "higher", 0.85),
        "llm_response_time": ("s", "lower", 0.6),
        "cost_per_decision": ("USD", "lower", 0.0003),
        "prompt_tokens": ("tokens", "lower", 2500),
        "api_calls_per_cycle": ("calls", "lower", 1),
        "db_query_time": ("s", "lower", 0.05),
        "memory_usage_mb": ("MB", "lower", 512),
    }
    assert {n: (s.unit, s.better, s.target) for n, s in CATALOGUE.items()} == expected
    assert CATALOGUE["db_query_time"].noisy
    assert not CATALOGUE["prompt_tokens"].noisy


def test_free_form_latencies_are_noisy_seconds_without_target() -> None:
    spec = spec_for("decision_cycle_time")
    assert (spec.unit, spec.better, spec.target, spec.noisy) == ("s", "lower", None, True)
    assert spec_for("ticker_latency").unit == "s"


@pytest.mark.parametrize("name", ["prompt_tokenz", "throughput", "Decision_time", "x-time", ""])
def test_unknown_kpi_is_named(name: str) -> None:
    with pytest.raises(KpiUsageError, match="unknown KPI"):
        spec_for(name)


def test_direction() -> None:
    assert spec_for("prompt_tokens").within(2500, 2500)
    assert not spec_for("prompt_tokens").within(2501, 2500)
    assert spec_for("cache_hit_rate").within(0.9, 0.85)
    assert not spec_for("cache_hit_rate").within(0.8, 0.85)


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("prompt_tokens", 2500, 2500.0),
        ("prompt_tokens", "2500 tokens", 2500.0),
        ("llm_response_time", "600ms", 0.6),
        ("llm_response_time", "0.6s", 0.6),
        ("llm_response_time", 0.6, 0.6),
        ("cost_per_decision", "$0.0003", 0.0003),
        ("cost_per_decision", "0.0003 USD", 0.0003),
        ("cache_hit_rate", "85%", 0.85),
        ("memory_usage_mb", "1GB", 1024.0),
        ("decision_time", "250us", 0.00025),
    ],
)
def test_targets_with_units(name: str, raw: object, expected: float) -> None:
    assert parse_quantity(spec_for(name), raw) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("llm_response_time", "512MB", "unit 'MB' does not fit a KPI measured in s"),
        ("prompt_tokens", "3s", "unit 's' does not fit"),
        ("prompt_tokens", True, "must be a number"),
        ("prompt_tokens", [2500], "must be a number"),
        ("prompt_tokens", "lots", "cannot read"),
        ("prompt_tokens", -1, "non-negative"),
        ("cache_hit_rate", 85, "ratio"),
    ],
)
def test_bad_targets_name_the_kpi(name: str, raw: object, message: str) -> None:
    with pytest.raises(KpiUsageError, match=message) as info:
        parse_quantity(spec_for(name), raw)
    assert name in str(info.value)


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_plain_numbers_round_trip_through_strings(value: float) -> None:
    spec = spec_for("prompt_tokens")
    assert parse_quantity(spec, repr(value)) == value


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (8.65047e-05, "0.0000865047"),  # a cost per decision reads as money, not 8.65047e-05
        (9e-05, "0.00009"),
        (-3.2e-07, "-0.00000032"),
        (0.000312, "0.000312"),
        (0.85, "0.85"),
        (2712.0, "2712"),
        (15_284_810.0, "15,284,810"),
        (None, "-"),
    ],
)
def test_gate_numbers_are_written_out(value: float | None, shown: str) -> None:
    from pytest_oxbot.kpi.gate import fmt

    assert fmt(value) == shown


@given(
    st.floats(min_value=1e-12, max_value=1e6, allow_nan=False) | st.floats(min_value=-1e6, max_value=-1e-12)
)
def test_gate_numbers_keep_six_significant_digits(value: float) -> None:
    from pytest_oxbot.kpi.gate import fmt

    shown = fmt(value)
    assert "e" not in shown
    assert float(shown.replace(",", "")) == pytest.approx(value, rel=5e-6)
