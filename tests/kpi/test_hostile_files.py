"""Hostile gate inputs (issue 13, item 14): a baseline, JSON report or history line holding `NaN`,
`Infinity`, `1e400` or deep nesting is a usage error naming the file, never an "improved" verdict that lets
a regression pass and never an INTERNALERROR; and any JSON at all is a value or a usage error (fuzzed)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_oxbot._json import strict_loads
from pytest_oxbot.errors import KpiUsageError
from pytest_oxbot.kpi import baseline as baseline_io
from pytest_oxbot.kpi.errors import BaselineError
from pytest_oxbot.kpi.history.jsonl import JsonlStore
from pytest_oxbot.kpi.sources import load_source

NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"]


def _baseline_text(value: str, *, where: str = "value") -> str:
    entry = (
        {"value": "@", "unit": "tokens"}
        if where == "value"
        else {"value": 1000, "unit": "tokens", where: ["@"]}
    )
    text = json.dumps(
        {
            "format": "pytest-oxbot-baseline/2",
            "environment": {},
            "tests": {"test_bot.py::test_a": {"prompt_tokens": entry}},
        }
    )
    return text.replace('"@"', value)


@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize("where", ["value", "samples", "runs"])
def test_a_non_finite_baseline_number_is_a_corrupt_baseline(value: str, where: str) -> None:
    with pytest.raises(BaselineError, match=r"baseline b\.json is corrupt"):
        baseline_io.from_json(_baseline_text(value, where=where), "b.json")


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_deep_nesting_is_a_usage_error_not_a_recursion_error(tmp_path: Path, opening: str) -> None:
    path = tmp_path / "deep.json"
    path.write_text(opening * 100_000)
    with pytest.raises(BaselineError, match="nested too deeply"):
        baseline_io.load(path)
    with pytest.raises(KpiUsageError):
        load_source(path)


def test_a_history_line_with_nan_is_skipped_and_named(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    good = {
        "format": "pytest-oxbot-history/1",
        "commit": "a" * 40,
        "branch": "main",
        "timestamp": "2026-11-30T10:00:00Z",
        "environment": {},
        "tests": {"t::a": {"prompt_tokens": {"value": 10, "unit": "tokens", "verdict": "ok"}}},
    }
    bad = json.dumps(good).replace("10,", "NaN,")
    path.write_text(json.dumps(good) + "\n" + bad + "\n" + "[" * 50_000 + "\n")
    records, problems = JsonlStore(path, max_runs=10).read()
    assert len(records) == 1
    assert [p.split(": ", 1)[0] for p in problems] == [f"{path}:2", f"{path}:3"]
    assert "NaN" in problems[0]
    assert "nested too deeply" in problems[1]


def test_a_report_with_infinity_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(
        '{"format": "pytest-oxbot-report/1", "environment": {}, "results": '
        '[{"test_id": "t::a", "name": "prompt_tokens", "value": Infinity, "unit": "tokens"}]}'
    )
    with pytest.raises(KpiUsageError, match="is not a pytest-oxbot baseline, JSON report or history"):
        load_source(path)


def test_a_non_finite_kpi_value_is_refused_at_the_call(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from pytest_oxbot.errors import KpiUsageError

        @pytest.mark.parametrize("value", [float("nan"), float("inf")])
        def test_record(oxbot_kpi, value):
            with pytest.raises(KpiUsageError, match="must be finite"):
                oxbot_kpi.record("prompt_tokens", value)
            with pytest.raises(KpiUsageError, match="must be finite"):
                oxbot_kpi.record("llm_response_time", 0.5, samples=[0.4, value])
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


@pytest.mark.parametrize("value", ["NaN", "Infinity"])
def test_a_tampered_baseline_stops_the_run_with_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    """Before: NaN/Infinity as the baseline made a +20 % regression "improved" and the run green."""
    pytester.makepyfile("def test_a(oxbot_kpi):\n    oxbot_kpi.record('prompt_tokens', 1200)\n")
    (pytester.path / "b.json").write_text(
        _baseline_text(value).replace(
            "test_bot.py", "test_a_tampered_baseline_stops_the_run_with_a_usage_error.py"
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--oxbot-compare=b.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*baseline b.json is corrupt*"])
    assert "INTERNALERROR" not in result.stderr.str() + result.stdout.str()


# --------------------------------------------------------------------------------------------------- fuzz

_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
_json = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)
_shaped = st.fixed_dictionaries(
    {
        "format": st.sampled_from(
            ["pytest-oxbot-baseline/1", "pytest-oxbot-baseline/2", "pytest-oxbot-baseline/3"]
        ),
        "environment": _json,
        "tests": st.dictionaries(
            st.text(max_size=10),
            st.dictionaries(
                st.sampled_from(["prompt_tokens", "llm_response_time", "bogus"]), _json, max_size=3
            )
            | _json,
            max_size=3,
        ),
    }
)


def _dump(document: Any) -> str:
    return json.dumps(document, allow_nan=True)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_json, _shaped))
def test_any_json_is_a_baseline_or_a_baseline_error(document: Any) -> None:
    try:
        loaded = baseline_io.from_json(_dump(document), "fuzz.json")
    except BaselineError:
        return
    for kpis in loaded.tests.values():
        for entry in kpis.values():
            assert strict_loads(json.dumps(entry.value)) == entry.value  # finite: comparable


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.one_of(_json, _shaped))
def test_any_json_file_is_a_source_or_a_usage_error(tmp_path: Path, document: Any) -> None:
    path = tmp_path / "input.json"
    path.write_text(_dump(document))
    with contextlib.suppress(KpiUsageError):  # a usage error is fine; anything else fails the test
        load_source(path)
