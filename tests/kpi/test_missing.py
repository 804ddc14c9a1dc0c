"""Nothing silently green: a baseline KPI this run did not measure fails its test, with the reason.

One pytester run per way a KPI stops being measured: each pytest-benchmark option, pytest-codspeed,
pytest-xdist, and a removed `record(...)` call. Plus the baseline tests that did not run at all
(`not run`, and `--oxbot-strict`), and the plugins that drive the test protocol themselves
(pytest-rerunfailures, pytest-timeout).
"""

from __future__ import annotations

import json

import pytest

from tests.kpi.pytester_args import ONLY_KPI

# min_effect 9 (x10): the wall-clock benchmark_time must not be what fails here, only its absence.
PYPROJECT = """
[tool.pytest.ini_options]
asyncio_default_fixture_loop_scope = "function"

[tool.pytest_oxbot]
min_effect = 9
"""

SUITE = """
def test_sorting(benchmark, oxbot_kpi):
    benchmark(sorted, list(range(200)))

def test_tokens(oxbot_kpi):
    oxbot_kpi.record("prompt_tokens", 100)
"""


@pytest.fixture
def saved(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A suite with a baseline holding benchmark_time (test_sorting) and prompt_tokens (test_tokens)."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # else pytest-benchmark disables itself
    pytester.makepyprojecttoml(PYPROJECT)
    pytester.makepyfile(test_bot=SUITE)
    result = pytester.runpytest_inprocess(*ONLY_KPI, "--oxbot-save-baseline", "--benchmark-max-time=0.05")
    assert result.ret == 0
    saved = json.loads((pytester.path / ".oxbot" / "baseline.json").read_text())["tests"]
    assert set(saved["test_bot.py::test_sorting"]) == {"benchmark_time"}
    assert set(saved["test_bot.py::test_tokens"]) == {"prompt_tokens"}
    return pytester


def failed_with(result: pytest.RunResult, test: str, reason: str) -> None:
    """`test` (and only it) failed at teardown with the KPI gate's `reason` (fnmatch pattern)."""
    result.stdout.fnmatch_lines(
        [f"*_ ERROR at teardown of {test} _*", f"KPI gate: {reason}", "*- Captured oxbot KPIs teardown -*"]
    )
    result.stdout.fnmatch_lines([f"ERROR test_bot.py::{test} - Failed: KPI gate*"])


def compare(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(*ONLY_KPI, "--oxbot-compare", "--benchmark-max-time=0.05", *args)


def test_unchanged_suite_passes(saved: pytest.Pytester) -> None:
    result = compare(saved)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.assert_outcomes(passed=2)


def test_benchmark_disable_is_missing(saved: pytest.Pytester) -> None:
    result = compare(saved, "--benchmark-disable")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, errors=1)
    failed_with(
        result,
        "test_sorting",
        "benchmark_time not measured: pytest-benchmark is disabled (--benchmark-disable)",
    )
    result.stdout.fnmatch_lines(["*test_sorting*benchmark_time*-*MISSING"])


def test_benchmark_skip_is_missing(saved: pytest.Pytester) -> None:
    result = compare(saved, "--benchmark-skip")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, skipped=1, errors=1)
    failed_with(
        result,
        "test_sorting",
        "benchmark_time not measured: pytest-benchmark skipped the test (--benchmark-skip)",
    )


def test_benchmark_only_is_missing(saved: pytest.Pytester) -> None:
    result = compare(saved, "--benchmark-only")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, skipped=1, errors=1)
    failed_with(
        result,
        "test_tokens",
        "prompt_tokens not measured: pytest-benchmark skipped the test, which does not use the "
        "benchmark fixture (--benchmark-only)",
    )


def test_codspeed_is_missing(saved: pytest.Pytester) -> None:
    pytest.importorskip("pytest_codspeed")
    result = compare(saved, "--codspeed")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    failed_with(
        result,
        "test_sorting",
        "benchmark_time not measured: pytest-codspeed replaced pytest-benchmark's fixture (--codspeed)",
    )
    # pytest-codspeed deselects the tests that do not benchmark: listed, not silently passed.
    result.stdout.fnmatch_lines(["not run: 1 baseline test(s) did not run*", "  test_bot.py::test_tokens: *"])


def test_xdist_is_missing(saved: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    result = saved.runpytest_subprocess(*ONLY_KPI, "--oxbot-compare", "-n", "2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, errors=1)
    failed_with(
        result,
        "test_sorting",
        "benchmark_time not measured: pytest-benchmark disables itself under pytest-xdist (-n)",
    )


def test_removed_record_call_is_missing(saved: pytest.Pytester) -> None:
    saved.makepyfile(test_bot=SUITE.replace('oxbot_kpi.record("prompt_tokens", 100)', "pass"))
    result = compare(saved, "--oxbot-json=r.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, errors=1)
    failed_with(result, "test_tokens", "prompt_tokens not measured: the test ran but did not record it*")
    data = json.loads((saved.path / "r.json").read_text())
    (entry,) = [r for r in data["results"] if r["test_id"] == "test_bot.py::test_tokens"]
    assert (entry["verdict"], entry["value"], entry["baseline"]) == ("missing", None, 100)


def test_update_baseline_accepts_a_dropped_kpi(saved: pytest.Pytester) -> None:
    saved.makepyfile(test_bot=SUITE.replace('oxbot_kpi.record("prompt_tokens", 100)', "pass"))
    result = compare(saved, "--oxbot-update-baseline")
    assert result.ret == pytest.ExitCode.OK
    tests = json.loads((saved.path / ".oxbot" / "baseline.json").read_text())["tests"]
    assert "test_bot.py::test_tokens" not in tests
    assert set(tests) == {"test_bot.py::test_sorting"}


def test_tests_that_did_not_run_are_listed_and_strict_fails(saved: pytest.Pytester) -> None:
    relaxed = compare(saved, "-k", "tokens")
    assert relaxed.ret == pytest.ExitCode.OK
    relaxed.stdout.fnmatch_lines(
        [
            "not run: 1 baseline test(s) did not run, not failed; --oxbot-strict fails:",
            "  test_bot.py::test_sorting: not collected in this session*",
        ]
    )
    strict = compare(saved, "-k", "tokens", "--oxbot-strict", "--oxbot-markdown=pr.md")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    strict.stdout.fnmatch_lines(
        ["not run: 1 baseline test(s) did not run, failing the session (--oxbot-strict):"]
    )
    assert "**Baseline tests that did not run (1):**" in (saved.path / "pr.md").read_text()
    saved.makepyfile(
        test_bot="import pytest\n"
        + SUITE.replace("def test_sorting", "@pytest.mark.skip(reason='flaky box')\ndef test_sorting")
    )
    skipped = compare(saved, "--oxbot-strict")
    assert skipped.ret == pytest.ExitCode.TESTS_FAILED
    skipped.stdout.fnmatch_lines(["  test_bot.py::test_sorting: skipped: flaky box"])


def test_strict_needs_a_baseline(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(PYPROJECT)
    result = pytester.runpytest_inprocess(*ONLY_KPI, "--oxbot-strict")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: pytest-oxbot: --oxbot-strict: needs a baseline*"])


FLAKY = """
from pathlib import Path

def test_flaky_prompt(oxbot_kpi):
    runs = Path("runs.txt")
    attempt = len(runs.read_text()) if runs.exists() else 0
    runs.write_text("x" * (attempt + 1))
    oxbot_kpi.record("prompt_tokens", 3000 if attempt == 0 else 2000)   # over target only the first time

def test_always_over(oxbot_kpi):
    oxbot_kpi.record("prompt_tokens", 2600)

def test_fine(oxbot_kpi):
    oxbot_kpi.record("prompt_tokens", 100)
"""


def test_rerunfailures_reruns_a_failing_kpi_and_the_right_test_fails(pytester: pytest.Pytester) -> None:
    """pytest-rerunfailures drives the protocol; the gate only marks teardown reports, so they compose."""
    pytest.importorskip("pytest_rerunfailures")
    pytester.makepyprojecttoml(PYPROJECT)
    pytester.makepyfile(test_bot=FLAKY)
    result = pytester.runpytest_inprocess(*ONLY_KPI, "--reruns", "1", "--oxbot-json=r.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # Both first attempts' bodies passed too (their teardown failed, so they were rerun).
    outcomes = result.parseoutcomes()
    assert (outcomes["passed"], outcomes["errors"], outcomes["rerun"]) == (5, 1, 2)
    failed_with(result, "test_always_over", "prompt_tokens 2600 > target 2500*")
    result.stdout.no_fnmatch_line("ERROR test_bot.py::test_flaky_prompt*")
    # Each test's KPIs once, from its last attempt (a rerun starts from no recorded value).
    data = json.loads((pytester.path / "r.json").read_text())
    values = {(r["test_id"].rsplit("::", 1)[1], r["value"], r["verdict"]) for r in data["results"]}
    assert values == {
        ("test_flaky_prompt", 2000, "ok"),
        ("test_always_over", 2600, "fail"),
        ("test_fine", 100, "ok"),
    }
    result.stdout.fnmatch_lines(["3 KPIs: 1 fail, 2 ok"])


def test_pytest_timeout_composes(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_timeout")
    pytester.makepyprojecttoml(PYPROJECT)
    pytester.makepyfile(test_bot=FLAKY)
    for method in ("signal", "thread"):
        (pytester.path / "runs.txt").unlink(missing_ok=True)
        result = pytester.runpytest_inprocess(*ONLY_KPI, "--timeout=60", f"--timeout-method={method}")
        result.assert_outcomes(passed=3, errors=2)
        failed_with(result, "test_flaky_prompt", "prompt_tokens 3000*")
