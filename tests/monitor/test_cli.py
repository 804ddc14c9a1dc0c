"""`python -m pytest_oxbot.monitor`: help with defaults, one-line errors, --setup-alerts, --test, a server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pytest_oxbot.monitor.cli import main


def _run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_oxbot.monitor", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def test_help_names_every_option_and_its_default() -> None:
    out = _run("--help").stdout
    for option in (
        "--dashboard",
        "--port",
        "--host",
        "--setup-alerts",
        "--benchmark",
        "--test",
        "--config",
        "--redis-url",
        "--database-url",
        "--refresh",
    ):
        assert option in out
    assert "(default: 8080)" in out
    assert "(default: 127.0.0.1)" in out
    assert "oxbot-alerts.yaml" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([], "one of the arguments"),
        (["--dashboard", "--test"], "not allowed with"),
        (["--dashboard", "--port", "eighty"], "invalid int value"),
        (["--dashboard", "--port", "70000"], "not a port number"),
        (["--dashboard", "--host", "0.0.0.0"], "OXBOT_MONITOR_TOKEN"),
        (["--dashboard", "--config", "/nonexistent/alerts.yaml"], "cannot read"),
        (["--dashboard", "--redis-url", "http://x"], "not a Redis URL"),
        (["--dashboard", "--database-url", "mysql://x/y"], "--database-url"),
        (["--test", "--bogus"], "unrecognized arguments"),
    ],
)
def test_errors_are_one_line_and_non_zero(args: list[str], words: str, tmp_path: Path) -> None:
    result = _run(
        *args, cwd=tmp_path, env={"OXBOT_MONITOR_TOKEN": "", "OXBOT_REDIS_URL": "", "OXBOT_DATABASE_URL": ""}
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("usage")]
    assert len(lines) == 1, result.stderr
    assert words in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_setup_alerts_writes_a_loadable_file_and_never_clobbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--setup-alerts"]) == 0
    assert (tmp_path / "oxbot-alerts.yaml").is_file()
    assert "4 alerts" in capsys.readouterr().out
    assert main(["--setup-alerts"]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["--setup-alerts", "alerts.toml"]) == 0
    assert "cost_daily_limit" in (tmp_path / "alerts.toml").read_text()


def test_self_test_passes() -> None:
    result = _run("--test", timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    assert "checks passed" in result.stdout


def test_dashboard_serves_on_loopback_and_refuses_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"OXBOT_MONITOR_TOKEN": "", "OXBOT_REDIS_URL": "", "OXBOT_DATABASE_URL": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_oxbot.monitor", "--dashboard", "--port", str(port)],
        cwd=tmp_path,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/health/performance", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert r.status_code == 503
        assert r.json()["status"] == "no_data"
        assert httpx.post(f"http://127.0.0.1:{port}/performance/metrics/reset", timeout=5).status_code == 401
        taken = _run("--dashboard", "--port", str(port), cwd=tmp_path, env=env)
        assert taken.returncode == 2
        assert "cannot listen" in taken.stderr
    finally:
        proc.terminate()
        proc.wait(30)
    assert (tmp_path / "oxbot-monitor.sqlite3").exists()  # the default history store
