"""`--oxbot-export` as a user meets it (pytester runs) and `python -m pytest_oxbot.kpi export`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_oxbot.kpi import baseline as baseline_io
from pytest_oxbot.kpi.baseline import Baseline, BaselineEntry
from pytest_oxbot.kpi.cli import main
from tests.kpi.pytester_args import ONLY_KPI

INI = '[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n'
SUITE = """
import pytest

@pytest.mark.parametrize("symbols", [1, 2])
def test_prompt(oxbot_kpi, symbols):
    oxbot_kpi.record("prompt_tokens", 300 * symbols)

def test_hit_rate(oxbot_kpi):
    oxbot_kpi.record("cache_hit_rate", 0.9)

def test_timed(oxbot_kpi, benchmark):
    benchmark.pedantic(sum, args=(range(100),), rounds=7, iterations=1)
    oxbot_kpi.record("api_calls_per_cycle", 1)
"""
TESTS = {
    "test_bot.py::test_prompt[1]",
    "test_bot.py::test_prompt[2]",
    "test_bot.py::test_hit_rate",
    "test_bot.py::test_timed",
}


@pytest.fixture(autouse=True)
def _not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process runs are serial sessions: under xdist pytest-benchmark would disable itself."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


def _suite(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(INI)
    pytester.makepyfile(test_bot=SUITE)


def _no_local_paths(pytester: pytest.Pytester, *names: str) -> None:
    for name in names:
        text = (pytester.path / name).read_text()
        assert str(pytester.path) not in text
        assert str(Path.home()) not in text


def test_two_exports_write_two_files(pytester: pytest.Pytester) -> None:
    pytest.importorskip("prometheus_client")
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    _suite(pytester)
    result = pytester.runpytest_inprocess(
        *ONLY_KPI, "--oxbot-export=bmf:out/kpis.bmf.json", "--oxbot-export", "openmetrics:out/kpis.om"
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(["export bmf: out/kpis.bmf.json", "export openmetrics: out/kpis.om"])
    bmf = json.loads((pytester.path / "out/kpis.bmf.json").read_text())
    assert set(bmf) == TESTS
    assert bmf["test_bot.py::test_prompt[2]"]["prompt_tokens"] == {"value": 600}
    timed = bmf["test_bot.py::test_timed"]["benchmark_time"]  # pytest-benchmark's mean, +/- its stddev
    assert timed["lower_value"] <= timed["value"] <= timed["upper_value"]
    families = {
        f.name: f for f in text_string_to_metric_families((pytester.path / "out/kpis.om").read_text())
    }
    assert {s.labels["test"] for s in families["oxbot_kpi_value"].samples} == TESTS
    _no_local_paths(pytester, "out/kpis.bmf.json", "out/kpis.om")


def test_pytest_benchmark_export_merges_pytest_benchmarks_own_results(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    result = pytester.runpytest_inprocess(
        *ONLY_KPI,
        "--oxbot-export=pytest-benchmark:pb.json",
        "--oxbot-export=github-action-benchmark:gab.json",
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(["export github-action-benchmark: gab.json, gab-bigger.json"])
    document = json.loads((pytester.path / "pb.json").read_text())
    by_test = {b["fullname"]: b for b in document["benchmarks"]}
    assert set(by_test) == TESTS
    timed = by_test["test_bot.py::test_timed"]
    assert timed["stats"]["rounds"] == 7  # pytest-benchmark's own stats of the benchmark fixture
    assert timed["group"] is None
    assert set(timed["extra_info"]["oxbot_kpis"]) == {"benchmark_time", "api_calls_per_cycle"}
    assert timed["extra_info"]["oxbot_kpis"]["benchmark_time"]["value"] == pytest.approx(
        timed["stats"]["mean"]
    )
    other = by_test["test_bot.py::test_hit_rate"]
    assert other["group"] == "pytest-oxbot"
    assert other["stats"]["rounds"] == 0
    bigger = json.loads((pytester.path / "gab-bigger.json").read_text())
    assert [e["name"] for e in bigger] == ["test_bot.py::test_hit_rate - cache_hit_rate"]
    _no_local_paths(pytester, "pb.json", "gab.json", "gab-bigger.json")


@pytest.mark.parametrize(
    ("option", "problem"),
    [("--oxbot-export=csv:out.csv", "unknown export format 'csv'"), ("--oxbot-export=bmf", "names no file")],
)
def test_bad_export_option_is_a_usage_error(pytester: pytest.Pytester, option: str, problem: str) -> None:
    _suite(pytester)
    result = pytester.runpytest_inprocess(*ONLY_KPI, option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"ERROR: pytest-oxbot: --oxbot-export: *{problem}*"
            "bmf, github-action-benchmark, openmetrics, pytest-benchmark*"
        ]
    )
    assert not list(pytester.path.glob("out*"))


def test_under_xdist_the_controller_writes_every_workers_kpis(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    _suite(pytester)
    result = pytester.runpytest_subprocess(*ONLY_KPI, "-n", "2", "--oxbot-export=bmf:kpis.json")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["export bmf: kpis.json"])
    bmf = json.loads((pytester.path / "kpis.json").read_text())
    # pytest-benchmark disables itself under xdist (no benchmark_time); every other KPI reaches the file.
    assert set(bmf) == TESTS
    assert "benchmark_time" not in bmf["test_bot.py::test_timed"]


# --- the CLI -----------------------------------------------------------------------------------------------


def _baseline(tmp_path: Path) -> Path:
    path = tmp_path / "baseline.json"
    saved = Baseline(
        {"python": "3.11", "system": "Linux"},
        {
            "benchmarks/test_db.py::test_query[postgresql]": {
                "db_query_time": BaselineEntry(0.00096, "s", (0.0009, 0.001, 0.00098), (0.00093, 0.00096)),
                "hot_queries_sql_statements": BaselineEntry(2.0, "statements"),
            },
            "benchmarks/test_cache.py::test_hits": {"cache_hit_rate": BaselineEntry(0.9, "ratio")},
        },
    )
    baseline_io.save(path, saved, archive=False)
    return path


def test_cli_exports_a_baseline_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jsonschema import Draft7Validator

    out = tmp_path / "bencher.json"
    assert main(["export", "bmf", str(_baseline(tmp_path)), str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"export bmf: {out}"
    document = json.loads(out.read_text())
    schema = json.loads((Path(__file__).parent / "schemas" / "bencher-bmf.json").read_text())
    assert list(Draft7Validator(schema).iter_errors(document)) == []
    query = document["benchmarks/test_db.py::test_query[postgresql]"]
    assert query["hot_queries_sql_statements"] == {"value": 2.0}
    assert query["db_query_time"]["value"] == 0.00096
    assert document["benchmarks/test_cache.py::test_hits"]["cache_hit_rate"] == {"value": 0.9}


def test_cli_exports_the_plugins_json_report(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    assert pytester.runpytest_inprocess(*ONLY_KPI, "--oxbot-json=report.json").ret == 0
    report, out = pytester.path / "report.json", pytester.path / "gab.json"
    assert main(["export", "github-action-benchmark", str(report), str(out)]) == 0
    names = {e["name"] for e in json.loads(out.read_text())}
    assert "test_bot.py::test_prompt[1] - prompt_tokens" in names
    assert json.loads(out.with_name("gab-bigger.json").read_text())[0]["value"] == 0.9


def test_cli_refuses_a_file_it_cannot_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"benchmarks": []}')
    assert main(["export", "bmf", str(other), str(tmp_path / "x.json")]) == 2
    assert "is not a pytest-oxbot baseline" in capsys.readouterr().err
    assert main(["export", "csv", str(_baseline(tmp_path)), str(tmp_path / "x.csv")]) == 2
    assert "bmf, github-action-benchmark, openmetrics, pytest-benchmark" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
