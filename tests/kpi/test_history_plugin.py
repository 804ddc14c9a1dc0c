"""`--oxbot-history` in real pytest runs (git, xdist, retention), the `history` CLI, the general compare."""

from __future__ import annotations

import json
import random
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from pytest_oxbot.kpi.cli import main
from pytest_oxbot.kpi.history import KpiPoint, RunRecord, load_history
from pytest_oxbot.kpi.history.jsonl import JsonlStore

from .test_history_store import git
from .test_plugin import ONLY_KPI, run, write_suite

CI_VARIABLES = ("GITHUB_ACTIONS", "GITHUB_SHA", "GITLAB_CI", "CI_COMMIT_SHA", "CIRCLECI", "BUILDKITE")
CI_VARIABLES += ("TF_BUILD", "JENKINS_URL")
TOKENS = "def test_decision_prompt(oxbot_kpi):\n    oxbot_kpi.record('prompt_tokens', {tokens})\n"


@pytest.fixture
def repo(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pytester's directory as a git repository on branch `main`, outside any CI's variables."""
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    git(pytester.path, "init", "-q", "-b", "main")
    return pytester.path


def commit(path: Path, message: str) -> str:
    (path / "CHANGES").write_text(message)
    git(path, "add", "CHANGES")
    git(path, "commit", "-q", "-m", message)
    return git(path, "rev-parse", "HEAD")


def test_each_run_appends_one_record_with_its_commit_and_branch(
    pytester: pytest.Pytester, repo: Path
) -> None:
    first = commit(repo, "one")
    write_suite(pytester, sections=4)
    result = run(pytester, "--oxbot-history")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([f"history: run {first[:7]} on main appended to *history.jsonl"])
    git(repo, "checkout", "-q", "-b", "faster")
    second = commit(repo, "two")
    write_suite(pytester, sections=3)
    run(pytester, "--oxbot-history").assert_outcomes(passed=3)
    records = load_history(repo / ".oxbot" / "history.jsonl", strict=True)
    assert [(r.commit, r.branch) for r in records] == [(first, "main"), (second, "faster")]
    tokens = [r.tests["test_bot.py::test_decision_prompt"]["prompt_tokens"] for r in records]
    assert tokens == [KpiPoint(2000.0, "tokens", "ok"), KpiPoint(1500.0, "tokens", "ok")]
    assert records[0].environment["python"]
    assert "test_bot.py::test_unrelated" not in records[0].tests  # measured nothing


def test_under_xdist_one_record_per_session(pytester: pytest.Pytester, repo: Path) -> None:
    pytest.importorskip("xdist")
    sha = commit(repo, "one")
    write_suite(pytester, sections=4)
    args = (*ONLY_KPI, "-p", "xdist", "-n", "2", "--oxbot-history=runs.jsonl")
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=3)
    records = load_history(repo / "runs.jsonl", strict=True)
    assert len(records) == 1
    assert records[0].commit == sha
    assert sorted(records[0].tests) == ["test_bot.py::test_cost", "test_bot.py::test_decision_prompt"]


def test_retention_keeps_history_max_runs(pytester: pytest.Pytester, repo: Path) -> None:
    commit(repo, "one")
    write_suite(pytester, sections=4, extra_ini="[tool.pytest_oxbot]\nhistory_max_runs = 2\n")
    for _ in range(2):
        run(pytester, "--oxbot-history=h.jsonl").assert_outcomes(passed=3)
    result = run(pytester, "--oxbot-history=h.jsonl")
    result.stdout.fnmatch_lines(["*dropped 1 older run(s) (history_max_runs=2)"])
    assert len((repo / "h.jsonl").read_text().splitlines()) == 2


def test_sqlite_url_and_no_git(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(pytester.path.parent))  # no repository above
    write_suite(pytester, sections=4)
    url = f"sqlite:///{pytester.path / 'h.db'}"
    result = pytester.runpytest_subprocess(*ONLY_KPI, f"--oxbot-history={url}")
    result.stdout.fnmatch_lines([f"history: run ------- appended to {url}"])
    # Read with the standard library: pytester unloads at teardown the modules a test imported
    # (SQLAlchemy loaded twice in one process breaks), so this test leaves SQLAlchemy alone.
    with closing(sqlite3.connect(pytester.path / "h.db")) as db:
        rows = db.execute("SELECT commit_sha, branch, record FROM oxbot_history_runs").fetchall()
    assert len(rows) == 1
    assert rows[0][:2] == (None, None)
    record = RunRecord.from_dict(json.loads(rows[0][2]))
    assert record.tests["test_bot.py::test_cost"]["cost_per_decision"].value == 0.0002


def test_a_value_that_names_no_store_is_a_usage_error(pytester: pytest.Pytester) -> None:
    write_suite(pytester, sections=4)
    result = run(pytester, "--oxbot-history=mysql://u:pw@h/db")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*pytest-oxbot: --oxbot-history: history mysql://u:***@h/db: not a history store*"]
    )


def _synthetic_history(path: Path) -> list[RunRecord]:
    """20 runs: one KPI drifting +2 % per run, one stepping +10 % at run 11, one pure noise."""
    rng = random.Random(11)
    store = JsonlStore(path, max_runs=100)
    records = []
    for i in range(20):
        tests = {
            "b.py::test_cycle": {"cycle_time": KpiPoint(0.5 * 1.02**i * (1 + rng.gauss(0, 0.01)), "s", "ok")},
            "b.py::test_prompt": {
                "prompt_tokens": KpiPoint(2500.0 * (1.1 if i >= 10 else 1.0), "tokens", "ok")
            },
            "b.py::test_db": {"db_query_time": KpiPoint(0.002 * (1 + rng.gauss(0, 0.01)), "s", "ok")},
        }
        branch = "main" if i % 2 == 0 else "feature"
        record = RunRecord(
            f"{i:02d}" + "f" * 38, branch, f"2026-11-{i + 1:02d}T12:00:00Z", {"python": "3.11"}, tests
        )
        store.append(record)
        records.append(record)
    return records


def test_history_cli_shows_sparklines_and_flags_drift_and_change_point(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "h.jsonl"
    _synthetic_history(path)
    assert main(["history", "--history", str(path)]) == 0
    out = capsys.readouterr().out
    assert "b.py::test_cycle  cycle_time s  20 runs  ▁" in out
    assert out.count("█") >= 3  # a sparkline per series
    assert "DRIFT: +2.0% per run" in out
    assert "CHANGE POINT at run 11 (10fffff, 2026-11-11 12:00): 2500 -> 2750 tokens (+10.0%)" in out
    assert "10fffff  2026-11-11 12:00  main                  2750  <- change point" in out
    assert "b.py::test_db  db_query_time s  20 runs" in out
    assert "history: 3 series over 20 runs" in out
    assert "flagged 2 (1 change point(s), 1 drift(s))" in out
    assert main(["history", "--history", str(path), "--fail-on-change"]) == 1
    assert main(["history", "--history", str(path), "--kpi", "db_query_time", "--fail-on-change"]) == 0
    capsys.readouterr()


def test_history_cli_filters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "h.jsonl"
    _synthetic_history(path)
    main(["history", "--history", str(path), "--test", "prompt", "--branch", "main", "--rows", "3"])
    out = capsys.readouterr().out
    assert "b.py::test_prompt  prompt_tokens tokens  10 runs" in out
    assert "(7 older runs not shown" in out
    assert "cycle_time" not in out
    main(["history", "--history", str(path), "--since", "15ffff", "--kpi", "prompt_tokens"])
    assert "prompt_tokens tokens  5 runs" in capsys.readouterr().out
    main(["history", "--history", str(path), "--since", "2026-11-18", "--kpi", "prompt_tokens"])
    assert "prompt_tokens tokens  3 runs" in capsys.readouterr().out
    assert main(["history", "--history", str(path), "--since", "abcdef"]) == 2
    assert "neither a date (2026-11-30) nor a commit" in capsys.readouterr().err
    assert main(["history", "--history", str(tmp_path / "none.jsonl")]) == 2


def test_history_cli_reports_corrupt_lines_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "h.jsonl"
    _synthetic_history(path)
    with path.open("a") as fh:
        fh.write("{broken\n")
    assert main(["history", "--history", str(path)]) == 0
    assert f"warning: skipped {path}:21: not JSON" in capsys.readouterr().err
    path.write_text("<<<<<<< HEAD\n" + path.read_text())  # a conflict marker on top: still a history
    assert main(["compare", str(path), str(path), "--no-targets"]) == 0


def test_compare_reads_baselines_reports_and_history_alike(
    pytester: pytest.Pytester, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = commit(repo, "one")
    write_suite(pytester, sections=4)
    assert (
        run(
            pytester,
            "--oxbot-save-baseline=old.json",
            "--oxbot-json=old-report.json",
            "--oxbot-history=h.jsonl",
        ).ret
        == 0
    )
    commit(repo, "two")
    pytester.makepyfile(test_bot=TOKENS.format(tokens=2250))  # +12.5 %, under the 2500 target
    assert run(pytester, "--oxbot-json=new-report.json", "--oxbot-history=h.jsonl").ret == 0
    capsys.readouterr()
    old, history = str(repo / "old.json"), str(repo / "h.jsonl")
    old_report, new_report = str(repo / "old-report.json"), str(repo / "new-report.json")
    for before, after in [(old, new_report), (old_report, history), (old, history), (history, new_report)]:
        if before == history:
            assert main(["compare", before, after, "--record", first[:8]]) == 1, (before, after)
        else:
            assert main(["compare", before, after]) == 1, (before, after)
        out = capsys.readouterr().out
        assert "1 KPI: 1 regressed" in out
        assert "+12.5%" in out
    assert main(["compare", history, history, "--old-record", first, "--new-record", first]) == 0
    assert main(["compare", history, new_report]) == 0  # the last record is the same run as the report
    capsys.readouterr()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello world\n", "not JSON"),
        ('{"format": "something-else/1"}', "format 'something-else/1'"),
        ("[1, 2]", "format 'list'"),
        ('{"a": 1}\n{"b": 2}\n', "format None"),
    ],
)
def test_compare_rejects_anything_else_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_text(text)
    assert main(["compare", str(garbage), str(garbage)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"error: {garbage} is not a pytest-oxbot baseline, JSON report or history file (")
    assert message in err


def test_record_is_an_error_for_a_baseline_given_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "b.json"
    base.write_text(json.dumps({"format": "pytest-oxbot-baseline/2", "environment": {}, "tests": {}}))
    assert main(["compare", str(base), str(base), "--old-record", "abc"]) == 2
    assert "--record 'abc' applies to history files" in capsys.readouterr().err
    assert main(["compare", str(base), str(base), "--record", "abc"]) == 2
    assert "neither" in capsys.readouterr().err


def test_a_history_as_baseline_gives_wall_clock_kpis_their_runs(tmp_path: Path) -> None:
    from pytest_oxbot.kpi.sources import load_source

    path = tmp_path / "h.jsonl"
    records = _synthetic_history(path)
    source = load_source(path, record="07")
    assert source.kind == "history"
    assert source.label.startswith("history record 07fffff on feature (2026-11-08T12:00:00Z)")
    timing = source.baseline.entries("b.py::test_db")["db_query_time"]
    expected = [r.tests["b.py::test_db"]["db_query_time"].value for r in records[3:8]]
    assert list(timing.runs) == expected  # the last 5 runs up to the chosen record, oldest first
    assert timing.value == expected[-1]
    assert source.baseline.entries("b.py::test_prompt")["prompt_tokens"].runs == ()  # a count: exact
