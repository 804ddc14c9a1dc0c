"""Wall-clock runs keep the environment they were measured in; a run is judged only against its own kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_oxbot.kpi import baseline as baseline_io
from pytest_oxbot.kpi.baseline import Baseline, BaselineEntry
from pytest_oxbot.kpi.catalogue import spec_for
from pytest_oxbot.kpi.compare import ComparePolicy, Comparison, compare
from pytest_oxbot.kpi.errors import BaselineError
from pytest_oxbot.kpi.fingerprint import cpu_model, differences, environment_fingerprint, environment_key
from pytest_oxbot.kpi.gate import Measurement, judge
from tests.kpi.pytester_args import ONLY_KPI

DB = spec_for("db_query_time")
POLICY = ComparePolicy(min_effect=0.25)
FAST, SLOW = "py3.11.2-x86_64-2cpu-aaaaaaaa", "py3.11.7-x86_64-2cpu-bbbbbbbb"
RUNS = (0.010, 0.0105, 0.0095)  # recorded under the fast interpreter build


def _compare(
    value: float, host: str | None, hosts: tuple[str, ...], runs: tuple[float, ...] = RUNS
) -> Comparison:
    return compare(DB, value, (), runs[-1], (), POLICY, runs, host=host, baseline_hosts=hosts)


def test_runs_of_another_environment_do_not_judge_this_one() -> None:
    """The case seen: the same code under a 1.4x slower Python build. Untagged, it regresses."""
    assert compare(DB, 0.014, (), RUNS[-1], (), POLICY, RUNS).verdict == "regressed"
    result = _compare(0.014, SLOW, (FAST,) * 3)
    assert result.verdict == "unstable"
    assert "0 of the baseline's 3 runs were recorded in this environment" in result.note


def test_slower_code_in_the_same_environment_still_regresses() -> None:
    result = _compare(0.015, FAST, (FAST,) * 3)
    assert result.verdict == "regressed"


def test_only_the_runs_of_this_environment_make_the_band() -> None:
    runs = (0.010, 0.0105, 0.0095, 0.020, 0.021)  # three fast-build runs, two slow-build ones
    hosts = (FAST, FAST, FAST, SLOW, SLOW)
    regressed = _compare(0.015, FAST, hosts, runs)  # judged on the three fast runs only: +50 %
    assert regressed.verdict == "regressed"
    assert regressed.reference == pytest.approx(0.010)
    assert "3 of the baseline's 5 runs are from this environment" in regressed.note
    two_slow = _compare(0.0205, SLOW, hosts, runs)  # two runs: too few for a verdict, but within effect
    assert two_slow.verdict == "same"
    assert _compare(0.040, SLOW, hosts, runs).verdict == "unstable"


def test_untagged_baselines_are_judged_as_before() -> None:
    assert _compare(0.015, SLOW, ()).verdict == "regressed"
    assert _compare(0.010, SLOW, ()).verdict == "same"


def test_deterministic_kpis_ignore_the_environment() -> None:
    tokens = spec_for("prompt_tokens")
    assert compare(tokens, 2000, (), 2000, host=SLOW, baseline_hosts=(FAST,)).verdict == "same"
    assert compare(tokens, 2001, (), 2000, host=SLOW, baseline_hosts=(FAST,)).verdict == "regressed"


def test_hosts_round_trip_and_bad_ones_are_refused() -> None:
    entry = BaselineEntry(0.0095, "s", runs=RUNS, hosts=(FAST,) * 3)
    text = baseline_io.to_json(Baseline({}, {"t": {"db_query_time": entry}}))
    assert f'"hosts": ["{FAST}", "{FAST}", "{FAST}"]' in text
    assert baseline_io.from_json(text).tests["t"]["db_query_time"].hosts == (FAST,) * 3
    for bad in ([FAST], [FAST, 1, FAST], [FAST, FAST, "x" * 500], {"a": 1}):
        data = json.loads(text)
        data["tests"]["t"]["db_query_time"]["hosts"] = bad
        with pytest.raises(BaselineError, match="hosts"):
            baseline_io.from_json(json.dumps(data), "b.json")


def test_merging_keeps_hosts_aligned_with_runs() -> None:
    old = Baseline({}, {"t": {"db_query_time": BaselineEntry(0.0095, "s", runs=RUNS, hosts=(FAST,) * 3)}})
    new = Baseline({}, {"t": {"db_query_time": BaselineEntry(0.02, "s", runs=(0.02,), hosts=(SLOW,))}})
    merged = old.merged(new, keep_runs=3).tests["t"]["db_query_time"]
    assert (merged.runs, merged.hosts) == ((0.0105, 0.0095, 0.02), (FAST, FAST, SLOW))

    untagged = Baseline({}, {"t": {"db_query_time": BaselineEntry(0.0095, "s", runs=RUNS)}})
    first = untagged.merged(new).tests["t"]["db_query_time"]
    assert (first.runs, first.hosts) == ((*RUNS, 0.02), ("", "", "", SLOW))  # older runs: unknown


def test_judge_keeps_the_environment_with_wall_clock_results_only() -> None:
    entries = {"db_query_time": BaselineEntry(0.0095, "s", runs=RUNS, hosts=(FAST,) * 3)}
    results = judge(
        "t",
        [Measurement("db_query_time", 0.014), Measurement("prompt_tokens", 100)],
        targets={},
        baseline=entries,
        policy=POLICY,
        host=SLOW,
    )
    by_name = {r.name: r for r in results}
    assert by_name["db_query_time"].verdict == "unstable"
    assert by_name["db_query_time"].host == SLOW
    assert by_name["prompt_tokens"].host is None


def test_environment_key_and_fingerprint_name_the_build_and_cpu(tmp_path: Path) -> None:
    env = environment_fingerprint()
    assert env["python_build"].startswith(env["python"])
    assert env["cpu_model"]
    assert environment_key(env) == environment_key()
    other = {**env, "python_build": "3.11.2 main Apr 28 2025 GCC 12.2.0"}
    assert environment_key(other) != environment_key(env)
    assert environment_key(other).startswith("py3.11.2-")
    assert environment_key({**env, "pytest_oxbot": "9.9"}) == environment_key(env)  # our version is no host
    assert differences(other, env) == [
        f"python_build: 3.11.2 main Apr 28 2025 GCC 12.2.0 -> {env['python_build']}"
    ]
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6338\n"
    )
    assert cpu_model(cpuinfo) == "Intel(R) Xeon(R) Gold 6338"
    assert cpu_model(tmp_path / "absent")  # falls back to platform.processor() or "unknown"


def test_cli_compare_reads_the_environment_of_a_json_report(tmp_path: Path) -> None:
    """`python -m pytest_oxbot.kpi compare OLD NEW`: the environment travels in JSON reports too."""
    from pytest_oxbot.kpi.cli import compare_files
    from pytest_oxbot.kpi.gate import KpiResult
    from pytest_oxbot.kpi.report import json_report

    old = tmp_path / "baseline.json"
    recorded = BaselineEntry(0.0095, "s", runs=RUNS, hosts=(FAST,) * 3)
    baseline_io.save(old, Baseline({}, {"t": {"db_query_time": recorded}}))
    verdicts = {}
    for host in (SLOW, FAST):
        result = KpiResult("t", "db_query_time", "s", 0.015, None, "lower", "ok", host=host)
        new = tmp_path / f"report-{host}.json"
        new.write_text(json_report.render([result], {}), encoding="utf-8")
        (judged,), _ = compare_files(old, new, POLICY)
        verdicts[host] = judged.verdict
    assert verdicts == {SLOW: "unstable", FAST: "regressed"}


SUITE = """
def test_query(oxbot_kpi):
    oxbot_kpi.record("db_query_time", {seconds})
"""
INI = """
[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"

[tool.pytest_oxbot]
min_effect = 0.25
max_cpu_pressure = 1.0
"""


def _run(pytester: pytest.Pytester, seconds: float, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_db=SUITE.format(seconds=seconds))
    return pytester.runpytest_inprocess(*ONLY_KPI, *args)


def test_runs_recorded_elsewhere_leave_a_wall_clock_kpi_unjudged_until_runs_exist_here(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyprojecttoml(INI)
    for seconds in RUNS:
        assert _run(pytester, seconds, "--oxbot-update-baseline").ret == 0
    path = pytester.path / ".oxbot" / "baseline.json"
    data = json.loads(path.read_text())
    entry = data["tests"]["test_db.py::test_query"]["db_query_time"]
    assert entry["runs"] == [0.01, 0.0105, 0.0095]
    assert entry["hosts"] == [environment_key()] * 3
    slower = _run(pytester, 0.015, "--oxbot-compare")  # 1.5x slower here: regressed
    assert slower.ret == pytest.ExitCode.TESTS_FAILED
    slower.stdout.fnmatch_lines(["*db_query_time 0.015 s regressed +50.0% vs baseline 0.01 s*"])

    entry["hosts"] = ["py3.11.2-x86_64-2cpu-aaaaaaaa"] * 3  # as if recorded under another Python build
    path.write_text(json.dumps(data))
    elsewhere = _run(pytester, 0.015, "--oxbot-compare")
    assert elsewhere.ret == 0
    elsewhere.stdout.fnmatch_lines(
        ["unstable (not failed): *db_query_time 0.015 s too noisy*0 of the baseline's 3 runs were recorded*"]
    )
