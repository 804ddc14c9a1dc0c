"""History records and stores: what a run records, retention, corrupt lines, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_oxbot.connections import make_engine, probe_database, unique_schema_name
from pytest_oxbot.kpi.gate import KpiResult
from pytest_oxbot.kpi.history import (
    HistoryError,
    KpiPoint,
    RunRecord,
    VcsInfo,
    append_run,
    build_record,
    detect,
    load_history,
    open_store,
    series,
)
from pytest_oxbot.kpi.history.jsonl import JsonlStore
from pytest_oxbot.kpi.history.sql import SqlStore
from pytest_oxbot.kpi.history.vcs import from_ci, from_git

ENV = {"python": "3.11", "cpu_count": "2"}


def _record(i: int, value: float = 100.0, branch: str = "main") -> RunRecord:
    tests = {"t.py::test_a": {"prompt_tokens": KpiPoint(value, "tokens", "ok")}}
    return RunRecord(f"{i:040x}", branch, f"2026-11-{1 + i % 28:02d}T10:00:00Z", ENV, tests)


def _result(test_id: str, name: str, value: float | None, verdict: str = "ok") -> KpiResult:
    return KpiResult(test_id, name, "tokens", value, None, "lower", verdict)  # type: ignore[arg-type]


def git(cwd: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args]
    return subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_a_record_keeps_measured_kpis_with_unit_and_verdict_and_round_trips() -> None:
    results = [
        _result("t.py::test_a", "prompt_tokens", 2712.0, "regressed"),
        _result("t.py::test_a", "api_calls_per_cycle", None, "missing"),  # not measured: not recorded
    ]
    vcs = VcsInfo("a" * 40, "feature/x", "github", "42", "https://github.com/o/r/actions/runs/42")
    record = build_record(results, vcs, ENV, "2026-11-30T10:00:00Z")
    assert record.tests == {"t.py::test_a": {"prompt_tokens": KpiPoint(2712.0, "tokens", "regressed")}}
    assert record.short_sha == "aaaaaaa"
    assert RunRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record


def test_ci_variables_win_over_git_and_urls_are_redacted(tmp_path: Path) -> None:
    github = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SHA": "b" * 40,
        "GITHUB_REF_NAME": "17/merge",
        "GITHUB_HEAD_REF": "feature/faster-prompt",
        "GITHUB_RUN_ID": "99",
        "GITHUB_SERVER_URL": "https://x-access-token:ghs_secret@github.com",
        "GITHUB_REPOSITORY": "o/r",
    }
    info = detect(github, tmp_path)
    assert (info.commit, info.branch, info.ci_provider, info.ci_run_id) == (
        "b" * 40,
        "feature/faster-prompt",
        "github",
        "99",
    )
    assert info.ci_url is not None
    assert "ghs_secret" not in info.ci_url
    assert info.ci_url.endswith("/runs/99")
    push = {k: v for k, v in github.items() if k != "GITHUB_HEAD_REF"}
    assert from_ci(push).branch == "17/merge"
    gitlab = {
        "GITLAB_CI": "true",
        "CI_COMMIT_SHA": "c" * 40,
        "CI_COMMIT_REF_NAME": "main",
        "CI_PIPELINE_ID": "7",
    }
    assert from_ci(gitlab) == VcsInfo("c" * 40, "main", "gitlab", "7", None)
    assert from_ci({}) == VcsInfo()


def test_git_is_read_and_its_absence_tolerated(tmp_path: Path) -> None:
    assert from_git(tmp_path) == VcsInfo()  # not a repository
    assert from_git(tmp_path / "missing") == VcsInfo()
    git(tmp_path, "init", "-q", "-b", "trunk")
    (tmp_path / "f").write_text("x")
    git(tmp_path, "add", "f")
    git(tmp_path, "commit", "-q", "-m", "one")
    sha = git(tmp_path, "rev-parse", "HEAD")
    assert from_git(tmp_path) == VcsInfo(sha, "trunk")
    git(tmp_path, "checkout", "-q", "--detach")
    assert from_git(tmp_path) == VcsInfo(sha, None)
    partial = detect({"CI_COMMIT_SHA": "d" * 40}, tmp_path)  # the CI's commit, no branch from the CI
    assert (partial.commit, partial.branch) == ("d" * 40, None)


def test_jsonl_appends_one_line_per_run_and_trims_to_max_runs_atomically(tmp_path: Path) -> None:
    path = tmp_path / ".oxbot" / "history.jsonl"
    store = JsonlStore(path, max_runs=3)
    dropped = [store.append(_record(i, 100.0 + i)) for i in range(5)]
    assert dropped == [0, 0, 0, 1, 1]
    assert len(path.read_text().splitlines()) == 3
    assert [v for _, v in series(load_history(path), "t.py::test_a", "prompt_tokens")] == [
        102.0,
        103.0,
        104.0,
    ]
    assert series(load_history(path), "t.py::test_a", "prompt_tokens")[0][0] == f"{2:040x}"[:7]
    assert not list(tmp_path.glob(".oxbot/*.tmp"))


def test_corrupt_lines_are_named_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    store = JsonlStore(path, max_runs=10)
    store.append(_record(1))
    with path.open("a") as fh:
        fh.write("<<<<<<< HEAD\n")
        fh.write('{"format": "pytest-oxbot-history/1", "tests": {}}\n')
    store.append(_record(2))
    records, problems = store.read()
    assert [r.commit for r in records] == [f"{1:040x}", f"{2:040x}"]
    assert problems[0].startswith(f"{path}:2: not JSON")
    assert problems[1] == f"{path}:3: 'timestamp' must be a string"
    with pytest.raises(HistoryError, match=rf"{path.name}:2: not JSON .*\(and 1 more\)"):
        store.read(strict=True)
    with pytest.raises(HistoryError, match="does not exist"):
        JsonlStore(tmp_path / "none.jsonl", 5).read()


def test_store_selection_and_bad_values(tmp_path: Path) -> None:
    assert isinstance(open_store(tmp_path / "h.jsonl"), JsonlStore)
    assert isinstance(open_store("sqlite:///" + str(tmp_path / "h.db")), SqlStore)
    assert isinstance(open_store("postgresql+asyncpg://u@127.0.0.1/db"), SqlStore)
    with pytest.raises(HistoryError, match=r"mysql://u:\*\*\*@h/db: not a history store") as info:
        open_store("mysql://u:pw@h/db")
    assert "pw" not in str(info.value)
    with pytest.raises(HistoryError, match="max_runs must be at least 1"):
        open_store(tmp_path / "h.jsonl", 0)


def test_sqlite_store_appends_trims_and_reads_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'history.db'}"
    (tmp_path / "sub").mkdir()
    _exercise_sql(SqlStore(url, max_runs=3))
    with pytest.raises(HistoryError, match="holds no oxbot_history_runs table"):
        SqlStore(f"sqlite:///{tmp_path / 'empty.db'}", 3).read()


def _exercise_sql(store: SqlStore) -> None:
    assert [store.append(_record(i, 10.0 + i)) for i in range(5)] == [0, 0, 0, 1, 1]
    records, problems = store.read()
    assert problems == []
    assert [r.tests["t.py::test_a"]["prompt_tokens"].value for r in records] == [12.0, 13.0, 14.0]
    assert records[-1] == _record(4, 14.0)


async def _append_inside_a_loop(store: SqlStore) -> int:
    return store.append(_record(9))  # the synchronous API works from inside a running loop too


def test_sync_api_inside_a_running_loop(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'h.db'}", max_runs=5)
    assert asyncio.run(_append_inside_a_loop(store)) == 0
    assert len(store.read()[0]) == 1


@pytest.fixture
def postgres_schema(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(URL, fresh schema) on the configured PostgreSQL; skipped (failed when required) without one."""
    from pytest_oxbot._plugin.backends import configured_database_url, unavailable

    url = configured_database_url(request.config)
    if not url or not url.startswith(("postgresql", "postgres")):
        unavailable("PostgreSQL", "OXBOT_DATABASE_URL is not set to a PostgreSQL URL")
    problem = asyncio.run(probe_database(url))
    if problem is not None:
        unavailable("PostgreSQL", problem)
    schema = unique_schema_name("oxbot_hist")
    asyncio.run(_ddl(url, f'CREATE SCHEMA "{schema}"'))
    try:
        yield url, schema
    finally:
        asyncio.run(_ddl(url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


async def _ddl(url: str, statement: str) -> None:
    from sqlalchemy import text

    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def test_postgresql_store_appends_trims_and_reads_back(postgres_schema: tuple[str, str]) -> None:
    url, schema = postgres_schema
    _exercise_sql(SqlStore(url, max_runs=3, schema=schema))


def test_append_run_names_the_commit_and_the_store(tmp_path: Path) -> None:
    results = [_result("t.py::test_a", "prompt_tokens", 5.0)]
    env = {"GITHUB_SHA": "e" * 40, "GITHUB_REF_NAME": "main", "OXBOT_DATABASE_URL": "postgresql://u:pw@h/db"}
    line = append_run(tmp_path / "h.jsonl", results, env=env, cwd=tmp_path, environment=ENV, max_runs=5)
    assert line == f"history: run eeeeeee on main appended to {tmp_path / 'h.jsonl'}"
    text = (tmp_path / "h.jsonl").read_text()
    assert "pw" not in text  # the environment is never copied
    assert "OXBOT_DATABASE_URL" not in text


def test_history_cli_reads_an_sql_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_oxbot.kpi.cli import main

    url = f"sqlite:///{tmp_path / 'h.db'}"
    store = SqlStore(url, max_runs=50)
    for i in range(12):
        store.append(_record(i, 100.0 if i < 6 else 130.0))
    assert main(["history", "--history", url, "--fail-on-change"]) == 1
    out = capsys.readouterr().out
    assert "t.py::test_a  prompt_tokens tokens  12 runs  ▁▁▁▁▁▁██████" in out
    assert "CHANGE POINT at run 7" in out
    assert f"in {url}" in out


def test_history_max_runs_is_validated_in_pyproject() -> None:
    from pytest_oxbot.errors import KpiUsageError
    from pytest_oxbot.kpi.config import build_config

    assert build_config({}).history_max_runs == 200
    assert build_config({"history_max_runs": 7}).history_max_runs == 7
    with pytest.raises(KpiUsageError, match="history_max_runs must be an integer >= 1, not 0"):
        build_config({"history_max_runs": 0})
