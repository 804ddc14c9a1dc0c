"""The gate as a user meets it: pytester runs of small suites (in process; only the kpi plugin loaded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.kpi.pytester_args import ONLY_KPI

INI = """
[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
"""

# A bot's prompt builder: every extra symbol section adds tokens (one token per word here).
SUITE = """
import pytest

SECTIONS = {sections}

def build_prompt(sections):
    return " ".join(["word"] * (500 * sections))

def test_decision_prompt(oxbot_kpi):
    oxbot_kpi.record("prompt_tokens", len(build_prompt(SECTIONS).split()))

def test_cost(oxbot_kpi):
    oxbot_kpi.record("cost_per_decision", 0.0002)

def test_unrelated():
    assert build_prompt(1)
"""


def write_suite(pytester: pytest.Pytester, sections: int, extra_ini: str = "") -> None:
    pytester.makepyprojecttoml(INI + extra_ini)
    pytester.makepyfile(test_bot=SUITE.format(sections=sections))


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(*ONLY_KPI, *args)


def test_growing_prompt_fails_that_test_with_its_reason(pytester: pytest.Pytester) -> None:
    write_suite(pytester, sections=6)  # 3000 tokens > 2500
    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # The test body passed; its KPI verdict fails its teardown (judged after every fixture finished).
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_decision_prompt _*",
            "KPI gate: prompt_tokens 3000 > target 2500 tokens",
            "*- Captured oxbot KPIs teardown -*",
            "*test_bot.py::test_decision_prompt*prompt_tokens*3000 tokens*FAIL",
            "ERROR test_bot.py::test_decision_prompt - Failed: KPI gate: prompt_tokens 300*",
        ]
    )
    result.stdout.fnmatch_lines(["*= oxbot KPI gate =*", "2 KPIs: 1 fail, 1 ok"])
    result.stdout.no_fnmatch_line("*ERROR*test_cost*")


def test_same_suite_within_targets_passes(pytester: pytest.Pytester) -> None:
    write_suite(pytester, sections=4)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_bot.py::test_decision_prompt*prompt_tokens*2000 tokens*<= 2500*ok"])


def test_targets_from_marker_pyproject_ini_and_command_line(pytester: pytest.Pytester) -> None:
    write_suite(
        pytester,
        sections=4,
        extra_ini='oxbot_targets = ["cost_per_decision=$0.0001"]\n'
        "[tool.pytest_oxbot.targets]\nprompt_tokens = 1500\n",
    )
    result = run(pytester, "--oxbot-json=r.json")
    result.assert_outcomes(passed=3, errors=2)
    data = json.loads((pytester.path / "r.json").read_text())
    assert data["targets_source"] == "defaults + pyproject.toml + ini oxbot_targets"
    result = run(
        pytester, "--oxbot-target", "prompt_tokens=2000", "--oxbot-target", "cost_per_decision=0.001"
    )
    result.assert_outcomes(passed=3)
    pytester.makepyfile(
        test_marked="""
        import pytest
        @pytest.mark.oxbot_kpi(prompt_tokens=100)
        def test_tight(oxbot_kpi):
            oxbot_kpi.record("prompt_tokens", 150)
    """
    )
    result = run(pytester, "test_marked.py", "--oxbot-target", "prompt_tokens=9000")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*prompt_tokens 150 > target 100 tokens*"])


def test_regression_against_saved_baseline(pytester: pytest.Pytester) -> None:
    write_suite(pytester, sections=4)
    saved = run(pytester, "--oxbot-save-baseline")
    assert saved.ret == 0
    baseline = pytester.path / ".oxbot" / "baseline.json"
    data = json.loads(baseline.read_text())
    assert data["tests"]["test_bot.py::test_decision_prompt"]["prompt_tokens"]["value"] == 2000
    assert data["environment"]["python"]
    assert run(pytester, "--oxbot-compare").ret == 0

    write_suite(pytester, sections=5)  # 2500: within target, but +25 % against the baseline
    result = run(pytester, "--oxbot-compare")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*prompt_tokens 2500 tokens regressed +25.0% vs baseline 2000 tokens*"])

    updated = run(pytester, f"--oxbot-compare={baseline}", "--oxbot-update-baseline")
    assert updated.ret == 0
    updated.stdout.fnmatch_lines(["*REGRESSED*", f"baseline saved: {baseline}*"])
    assert run(pytester, "--oxbot-compare").ret == 0


def test_report_only_reports_without_failing(pytester: pytest.Pytester) -> None:
    write_suite(pytester, sections=6)
    result = run(pytester, "--oxbot-report-only")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*prompt_tokens*3000 tokens*FAIL", "2 KPIs: 1 fail, 1 ok (report only)"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--oxbot-target", "prompt_tokenz=1"), "*--oxbot-target: unknown KPI 'prompt_tokenz'*"),
        (("--oxbot-target", "llm_response_time=12MB"), "*llm_response_time: unit 'MB' does not fit*"),
        (("--oxbot-target", "prompt_tokens"), "*expected NAME=VALUE*"),
        (("--oxbot-compare=missing.json",), "*baseline missing.json does not exist*"),
    ],
)
def test_bad_options_are_usage_errors(pytester: pytest.Pytester, args: tuple[str, ...], message: str) -> None:
    write_suite(pytester, sections=1)
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: pytest-oxbot: {message}"])


def test_bad_pyproject_target_is_a_usage_error(pytester: pytest.Pytester) -> None:
    write_suite(pytester, sections=1, extra_ini="[tool.pytest_oxbot.targets]\nprompt_tokens = [1]\n")
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*tool.pytest_oxbot?.targets: target for prompt_tokens must be a number*"])


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ('prompt_tokens="2s"', "targets: target for prompt_tokens: unit 's' does not fit*"),
        ("2500", "takes keyword targets*"),
        ('gate="no"', "gate must be True or False*"),
        ("prompt_tokenz=1", "targets: unknown KPI 'prompt_tokenz'*"),
    ],
)
def test_bad_marker_is_a_usage_error_naming_test_and_marker(
    pytester: pytest.Pytester, marker: str, message: str
) -> None:
    """Checked once, at collection, like every option: nothing runs, exit code 4, the test is named."""
    pytester.makepyprojecttoml(INI)
    pytester.makepyfile(
        test_marked=f"""
        import pytest
        @pytest.mark.oxbot_kpi({marker})
        def test_wrong():
            pass
        def test_fine():
            pass
    """
    )
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: pytest-oxbot: test_marked.py::test_wrong: @pytest.mark.oxbot_kpi: {message}"]
    )
    result.stdout.no_fnmatch_line("*passed*")


def test_corrupt_baseline_is_a_usage_error(pytester: pytest.Pytester) -> None:
    write_suite(pytester, sections=1)
    (pytester.path / "base.json").write_text('{"format": "pytest-oxbot-baseline/1", "tests": {"t": 1}')
    result = run(pytester, "--oxbot-compare=base.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: pytest-oxbot: baseline base.json is corrupt: not JSON*"])


def test_baseline_from_another_environment_warns(pytester: pytest.Pytester) -> None:
    write_suite(pytester, sections=1)
    assert run(pytester, "--oxbot-save-baseline=base.json").ret == 0
    path = pytester.path / "base.json"
    data = json.loads(path.read_text())
    data["environment"]["cpu_count"] = "64"
    path.write_text(json.dumps(data))
    result = run(pytester, "--oxbot-compare=base.json")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*OxbotEnvironmentWarning*another environment (cpu_count: 64 -> *"])


def test_component_kpis_gate_only_judged_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(INI)
    conftest = """
        import pytest
        from pytest_oxbot.testing import report_kpi

        @pytest.fixture
        def cache(request):
            yield "cache"
            report_kpi(request, "cache_hit_rate", 0.5, source="cache")  # as a component does, at teardown
    """
    pytester.makeconftest(conftest)
    pytester.makepyfile(test_unit="def test_deliberate_miss(cache):\n    pass\n")
    bench = pytester.mkdir("benchmarks")
    (bench / "test_cycle.py").write_text("def test_cycle(cache):\n    pass\n")
    result = run(pytester, "--oxbot-json=report.json")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["KPI gate: cache_hit_rate 0.5 < target 0.85", "*- Captured oxbot KPIs teardown -*"]
    )
    # The unjudged value is named, with how to judge it.
    result.stdout.fnmatch_lines(
        [
            "recorded but not judged (to judge a test: use the oxbot_kpi fixture, mark the test "
            "@pytest.mark.oxbot_kpi, or put it under [tool.pytest_oxbot] performance_paths):",
            "  cache_hit_rate: 1 test(s), e.g. test_unit.py::test_deliberate_miss",
        ]
    )
    result.stdout.fnmatch_lines(["ERROR benchmarks/test_cycle.py::test_cycle*"])
    data = json.loads((pytester.path / "report.json").read_text())
    verdicts = {(r["test_id"], r["verdict"]) for r in data["results"]}
    assert verdicts == {
        ("benchmarks/test_cycle.py::test_cycle", "fail"),
        ("test_unit.py::test_deliberate_miss", "recorded"),
    }


def test_benchmark_flag_runs_the_performance_paths(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        INI.replace('asyncio_mode = "auto"', 'asyncio_mode = "auto"\ntestpaths = ["tests"]')
    )
    pytester.mkdir("tests").joinpath("test_fast.py").write_text("def test_unit():\n    pass\n")
    pytester.mkdir("benchmarks").joinpath("test_perf.py").write_text(
        "def test_perf(oxbot_kpi):\n    oxbot_kpi.record('prompt_tokens', 100)\n"
    )
    plain = run(pytester)
    plain.assert_outcomes(passed=1)
    plain.stdout.no_fnmatch_line("*test_perf*")
    gated = run(pytester, "--benchmark", "-v")
    gated.assert_outcomes(passed=1)
    gated.stdout.fnmatch_lines(["benchmarks/test_perf.py::test_perf PASSED*", "*prompt_tokens*100 tokens*ok"])


def test_pytest_benchmark_stats_and_async_timing_are_read(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # else pytest-benchmark disables itself
    pytester.makepyprojecttoml(INI)
    pytester.makepyfile("""
        import asyncio

        def test_sync(benchmark, oxbot_kpi):
            benchmark(sum, range(10))

        async def test_async(oxbot_kpi):
            async def step():
                await asyncio.sleep(0)
            await oxbot_kpi.benchmark_async(step, name="step_time", rounds=6)
            async with oxbot_kpi.measure_async("cycle_time"):
                await step()
            with oxbot_kpi.track_memory():
                bytearray(1 << 20)
    """)
    result = run(pytester, "--oxbot-json=r.json", "--benchmark-max-time=0.01")
    result.assert_outcomes(passed=2)
    data = json.loads((pytester.path / "r.json").read_text())
    by_name = {r["name"]: r for r in data["results"]}
    assert set(by_name) == {"benchmark_time", "step_time", "cycle_time", "memory_usage_mb"}
    assert by_name["benchmark_time"]["source"] == "pytest-benchmark"
    assert len(by_name["benchmark_time"]["samples"]) >= 5
    assert len(by_name["step_time"]["samples"]) == 6


def test_reports_and_step_summary(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    write_suite(pytester, sections=6)
    summary = pytester.path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = run(pytester, "--oxbot-markdown=out/pr.md", "--oxbot-html=out/report.html")
    result.stdout.fnmatch_lines(
        ["markdown report: out/pr.md", "*appended to $GITHUB_STEP_SUMMARY", "html report: *"]
    )
    markdown = (pytester.path / "out" / "pr.md").read_text()
    assert "prompt_tokens 3000 > target 2500 tokens" in markdown
    assert summary.read_text() == markdown
    page = (pytester.path / "out" / "report.html").read_text()
    assert page.count("<svg") >= 2


def test_one_header_line_states_the_configuration(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OXBOT_REDIS_URL", "redis://user:secret@127.0.0.1:6390/0")
    monkeypatch.delenv("OXBOT_DATABASE_URL", raising=False)
    write_suite(pytester, sections=1)
    result = pytester.runpytest_inprocess(
        # In-process, pytest warns that the already imported plugin cannot be assertion-rewritten: a
        # warning about this test's harness, not a header line.
        "-p",
        "no:cacheprovider",
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        "--oxbot-target",
        "prompt_tokens=100",
        "--co",
    )
    oxbot_lines = [line for line in result.stdout.lines if "oxbot" in line.lower() and "plugins:" not in line]
    assert len(oxbot_lines) == 1, oxbot_lines
    assert oxbot_lines[0].startswith(
        "oxbot: targets from defaults + command line; no baseline comparison; "
        "redis=redis://user:***@127.0.0.1:6390/0, database=sqlite in tmp_path"
    ), oxbot_lines[0]
    assert "secret" not in result.stdout.str()


def test_full_plugin_entry_point(pytester: pytest.Pytester) -> None:
    """Through the installed `pytest11` entry point, with every component's plugin module loaded."""
    write_suite(pytester, sections=6)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=1)


def test_cli_compares_two_baselines(pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_oxbot.kpi.cli import main

    write_suite(pytester, sections=4)
    assert run(pytester, "--oxbot-save-baseline=old.json").ret == 0
    write_suite(pytester, sections=5)
    assert run(pytester, "--oxbot-save-baseline=new.json").ret == 0
    capsys.readouterr()
    old, new = str(pytester.path / "old.json"), str(pytester.path / "new.json")
    assert main(["compare", old, new]) == 1
    assert "REGRESSED" in capsys.readouterr().out
    assert main(["compare", old, old]) == 0
    assert main(["compare", old, str(Path(old).with_name("nope.json"))]) == 2


def test_gate_false_records_a_naive_measurement_without_judging(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(INI)
    bench = pytester.mkdir("benchmarks")
    (bench / "test_before_after.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.oxbot_kpi(gate=False)\n"
        "def test_naive(oxbot_kpi):\n    oxbot_kpi.record('prompt_tokens', 8000)\n\n"
        "def test_optimised(oxbot_kpi):\n    oxbot_kpi.record('prompt_tokens', 1200)\n"
    )
    result = run(pytester, "--oxbot-json=r.json")
    result.assert_outcomes(passed=2)
    data = json.loads((pytester.path / "r.json").read_text())
    verdicts = {r["test_id"].rsplit("::", 1)[1]: r["verdict"] for r in data["results"]}
    assert verdicts == {"test_naive": "recorded", "test_optimised": "ok"}


def test_noisy_kpi_too_wide_to_judge_is_unstable_not_failed(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(INI)
    suite = """
def test_fetch(oxbot_kpi):
    samples = [{scale} * s for s in (0.1, 1.0, 0.2, 2.0, 0.1, 1.5, 0.3, 1.8)]
    oxbot_kpi.record("fetch_latency", sum(samples) / len(samples), samples=samples)
"""
    pytester.makepyfile(test_noisy=suite.format(scale=1))
    assert run(pytester, "--oxbot-save-baseline").ret == 0
    pytester.makepyfile(test_noisy=suite.format(scale=2))
    result = run(pytester, "--oxbot-compare")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        ["unstable (not failed): test_noisy.py::test_fetch: fetch_latency 1.75 s too noisy*"]
    )


def test_bad_marker_under_xdist_fails_its_test_with_the_same_message(pytester: pytest.Pytester) -> None:
    """xdist collects in its workers, where a usage error would crash the controller."""
    pytest.importorskip("xdist")
    pytester.makepyprojecttoml(INI)
    pytester.makepyfile(
        test_marked="""
        import pytest
        @pytest.mark.oxbot_kpi(prompt_tokens="2s")
        def test_wrong():
            pass
        def test_fine():
            pass
    """
    )
    result = pytester.runpytest_subprocess(*ONLY_KPI, "-n", "2")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*pytest-oxbot: test_marked.py::test_wrong: @pytest.mark.oxbot_kpi: targets: *"]
    )
