"""The `oxbot_monitor` fixture as a user meets it: their alert file, their component, the app over ASGI;
and `--benchmark` running a project's own performance suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_oxbot.monitor.config import write_default_config

USER_TEST = """
import pytest
from pytest_oxbot.cache import HierarchicalCache

async def test_my_alerts_raise_the_ttl(oxbot_monitor, oxbot_clock):
    assert oxbot_monitor.config.rule("cache_hit_rate_low").threshold == 0.9   # the user's file
    cache = HierarchicalCache.memory_only(clock=oxbot_clock)
    oxbot_monitor.reporter.watch_cache(cache)
    await oxbot_monitor.tick()
    for i in range(60):
        await cache.get(f"never-{i}")
    await oxbot_monitor.tick(advance=400)
    assert oxbot_monitor.active() == ["cache_hit_rate_low"]
    assert cache.l1_ttl == 60.0
    async with oxbot_monitor.http() as http:
        body = (await http.get("/performance/alerts")).json()
    assert [a["name"] for a in body["active"]] == ["cache_hit_rate_low"]
"""


def test_fixture_uses_the_users_alert_file(pytester: pytest.Pytester, tmp_path: Path) -> None:
    path = write_default_config(tmp_path / "alerts.yaml")
    text = (
        path.read_text()
        .replace("threshold: 0.7", "threshold: 0.9")
        .replace("clear_at: 0.75", "clear_at: 0.95")
    )
    text = text.replace("for_s: 60", "for_s: 0")
    path.write_text(text)
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nasyncio_mode = "auto"\n')
    pytester.makepyfile(test_user=USER_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--oxbot-monitor-config={path}")
    result.assert_outcomes(passed=1)


def test_a_missing_alert_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("--oxbot-monitor-config=/nope/alerts.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--oxbot-monitor-config /nope/alerts.yaml: no such file*"])


def test_benchmark_mode_runs_the_projects_performance_suite(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\naddopts = "-p no:randomly"\n'
        '[tool.pytest_oxbot]\nperformance_paths = ["perf"]\n'
    )
    (tmp_path / "perf").mkdir()
    (tmp_path / "perf" / "test_speed.py").write_text(
        "def test_tokens(oxbot_kpi):\n    oxbot_kpi.record('prompt_tokens', 1200)\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest_oxbot.monitor", "--benchmark"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "oxbot KPI gate" in result.stdout
    assert "prompt_tokens" in result.stdout
