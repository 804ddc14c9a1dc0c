"""The example CI configurations run as written: their YAML parses, and the commands they call succeed in a
scratch repository (a miniature bot with a committed baseline on `main`, a pull request branch, a bare
`origin`), with a fake GitHub / GitLab API on loopback for the KPI comment.

What cannot run here is checked by shape: the cache steps keep the directory the history is written to.
`pip install` is recorded (the package is already installed in this interpreter), not run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pytest_oxbot.kpi.comment import MARKER
from tests.kpi.forge import TOKEN, Forge, serve_forge

yaml = pytest.importorskip("yaml", reason="pyyaml (extra: monitor) parses the example CI files")

ROOT = Path(__file__).resolve().parents[1]
GITHUB_WORKFLOW = ROOT / ".github/workflows/oxbot.yml"
GITLAB_CI = ROOT / "examples/ci/gitlab-ci.yml"

PYPROJECT = """\
[project]
name = "minibot"
version = "0"

[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"

[tool.pytest_oxbot]
performance_paths = ["benchmarks"]
"""
UNIT_TEST = "def test_adds() -> None:\n    assert 1 + 1 == 2\n"
BENCHMARK = """\
def test_prompt(oxbot_kpi):
    oxbot_kpi.record("prompt_tokens", {tokens})
"""


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A bot repository: baseline committed on main, pushed to a bare origin; a pull request branch."""
    repo, origin = tmp_path / "minibot", tmp_path / "origin.git"
    repo.mkdir()
    (repo / "pyproject.toml").write_text(PYPROJECT)
    (repo / "tests").mkdir()
    (repo / "tests/test_unit.py").write_text(UNIT_TEST)
    (repo / "benchmarks").mkdir()
    (repo / "benchmarks/test_perf.py").write_text(BENCHMARK.format(tokens=1000))
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "ci@example.invalid")
    _git(repo, "config", "user.name", "ci")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--benchmark",
            "--oxbot-save-baseline",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=repo,
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert (repo / ".oxbot/baseline.json").exists()
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "baseline")
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    _git(repo, "remote", "add", "origin", str(origin))
    _git(repo, "push", "-q", "origin", "main")
    _git(repo, "checkout", "-q", "-b", "feature")
    (repo / "benchmarks/test_perf.py").write_text(BENCHMARK.format(tokens=990))
    _git(repo, "commit", "-q", "-am", "a shorter prompt")
    return repo


def _shell_env(repo: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """PATH: a recording `pip`, then this interpreter's scripts (pytest, python), then the system's."""
    shims = repo.parent / "shims"
    shims.mkdir(exist_ok=True)
    pip = shims / "pip"
    pip.write_text(f'#!/bin/sh\necho "$@" >> {repo.parent / "pip.log"}\n')
    pip.chmod(0o755)
    env = {
        "PATH": os.pathsep.join(
            [str(shims), str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]
        ),
        "HOME": str(repo.parent),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(extra)
    return env


def _run(script: str, repo: Path, env: Mapping[str, str]) -> str:
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=repo,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,  # a step that hangs fails this test with its command, instead of holding the suite
    )
    assert done.returncode == 0, f"{script}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done.stdout


# ---------------------------------------------------------------------------------------------------- GitHub

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _github_steps() -> list[dict[str, Any]]:
    workflow = yaml.safe_load(GITHUB_WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    steps: list[dict[str, Any]] = job["steps"]
    return steps


def _run_github_workflow(repo: Path, forge: Forge) -> dict[str, str]:
    """Every `run:` step in order, `${{ }}` expressions resolved as for a pull_request event; outputs."""
    outputs: dict[str, str] = {}
    context = {
        "github.base_ref": "main",
        "github.event.pull_request.number": "7",
        "github.token": TOKEN,
    }
    workflow = yaml.safe_load(GITHUB_WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    printed: dict[str, str] = {}
    for step in job["steps"]:
        if "run" not in step:
            continue
        output_file = repo.parent / "github_output"
        output_file.write_text("")

        def resolve(match: re.Match[str]) -> str:
            expr = match.group(1)
            if expr.startswith("steps."):
                _, step_id, _, key = expr.split(".")
                return outputs.get(f"{step_id}.{key}", "")
            assert expr in context, f"the test does not know the expression {expr!r}: add it"
            return context[expr]

        script = _EXPRESSION.sub(resolve, step["run"])
        step_env = {
            k: _EXPRESSION.sub(resolve, str(v))
            for k, v in {**job.get("env", {}), **step.get("env", {})}.items()
        }
        env = _shell_env(
            repo,
            {
                **step_env,
                "GITHUB_OUTPUT": str(output_file),
                "GITHUB_STEP_SUMMARY": str(repo.parent / "step_summary.md"),
                "GITHUB_API_URL": forge.url,
                "GITHUB_REPOSITORY": "acme/minibot",
                "GITHUB_REF": "refs/pull/7/merge",
            },
        )
        printed[step.get("name", step["run"])] = _run(script, repo, env)
        for line in output_file.read_text().splitlines():
            key, _, value = line.partition("=")
            outputs[f"{step.get('id')}.{key}"] = value
    return printed


def test_github_workflow_runs_against_a_scratch_repository(scratch: Path) -> None:
    steps = _github_steps()
    history = ".oxbot-history/history.jsonl"
    caches = [s for s in steps if str(s.get("uses", "")).startswith("actions/cache/")]
    assert {s["uses"].split("@")[0] for s in caches} == {"actions/cache/restore", "actions/cache/save"}
    assert all(history.startswith(s["with"]["path"]) for s in caches)
    assert caches[0]["with"]["key"] == caches[1]["with"]["key"], "restore and save use one key"
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert {"oxbot-kpi.html", "oxbot-kpi.md", history} <= set(upload["with"]["path"].split())

    with serve_forge() as forge:
        first = _run_github_workflow(scratch, forge)
        second = _run_github_workflow(scratch, forge)  # the next push: the cache kept .oxbot-history

    records = (scratch / history).read_text().splitlines()
    assert len(records) == 2, "one history record per run"
    assert all(json.loads(r)["branch"] == "feature" for r in records)
    ours = [c for c in forge.comments if MARKER in c["body"]]
    assert len(ours) == 1, "one comment per pull request, edited on the next push"
    assert "prompt_tokens" in ours[0]["body"]
    assert [m for m, _ in forge.calls].count("POST") == 1
    assert "PATCH" in [m for m, _ in forge.calls]
    assert "prompt_tokens" in second[next(k for k in second if k.startswith("KPI trends"))]
    assert any("created the KPI comment" in out for out in first.values())
    assert "-e .[test]" in (scratch.parent / "pip.log").read_text()
    for report in ("oxbot-kpi.md", "oxbot-kpi.html", "oxbot-kpi.json", "oxbot-kpi-gab.json"):
        assert (scratch / report).exists(), report
    markdown = (scratch / "oxbot-kpi.md").read_text()
    assert str(scratch.parent) not in markdown, "no absolute local paths"


# ---------------------------------------------------------------------------------------------------- GitLab


def _run_gitlab_job(repo: Path, forge: Forge, extra_env: Mapping[str, str]) -> dict[str, str]:
    config = yaml.safe_load(GITLAB_CI.read_text())
    job = config["oxbot-kpi"]
    env = _shell_env(
        repo,
        {
            **{k: str(v) for k, v in job["variables"].items()},
            "CI_API_V4_URL": f"{forge.url}/api/v4",
            "CI_PROJECT_ID": "acme/minibot",
            "CI_MERGE_REQUEST_IID": "12",
            "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
            "CI_COMMIT_REF_NAME": "feature",
            "CI_COMMIT_SHA": _git(repo, "rev-parse", "HEAD"),
            **extra_env,
        },
    )
    printed = {}
    for section in ("before_script", "script", "after_script"):
        printed[section] = "".join(_run(command, repo, env) for command in job[section])
    return printed


def test_gitlab_job_runs_against_a_scratch_repository(scratch: Path) -> None:
    job = yaml.safe_load(GITLAB_CI.read_text())["oxbot-kpi"]
    assert job["cache"]["paths"] == [".oxbot-history/"]
    assert job["cache"]["when"] == "always"
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["metrics"] == "metrics.txt"

    with serve_forge() as forge:
        _run_gitlab_job(scratch, forge, {"OXBOT_GITLAB_TOKEN": TOKEN})
        printed = _run_gitlab_job(scratch, forge, {"OXBOT_GITLAB_TOKEN": TOKEN})
        skipped = _run_gitlab_job(scratch, forge, {})  # no token: the note is skipped, the job passes

    assert "updated the KPI comment" in printed["after_script"]
    assert "KPI comment" not in skipped["after_script"]
    notes = [c for c in forge.comments if MARKER in c["body"]]
    assert len(notes) == 1
    assert "prompt_tokens" in notes[0]["body"]
    assert len((scratch / ".oxbot-history/history.jsonl").read_text().splitlines()) == 3
    for path in job["artifacts"]["paths"]:
        assert (scratch / path).exists(), path
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    families = list(text_string_to_metric_families((scratch / "metrics.txt").read_text()))
    assert any(s.labels.get("kpi") == "prompt_tokens" for f in families for s in f.samples)


def test_examples_only_call_commands_that_exist() -> None:
    """Every `python -m pytest_oxbot.kpi SUB` in the examples is a subcommand the CLI has."""
    from pytest_oxbot.kpi import cli

    text = GITHUB_WORKFLOW.read_text() + GITLAB_CI.read_text()
    used = set(re.findall(r"python -m pytest_oxbot\.kpi (\w+)", text))
    known = set(cli._parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert used
    assert used <= known
