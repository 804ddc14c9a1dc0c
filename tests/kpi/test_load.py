"""A busy machine makes a wall-clock regression `unstable`, never a deterministic one."""

from __future__ import annotations

from pathlib import Path

from pytest_oxbot.kpi.baseline import BaselineEntry
from pytest_oxbot.kpi.gate import Measurement, judge
from pytest_oxbot.kpi.load import busy, cpu_pressure


def _psi(tmp_path: Path, avg10: float) -> Path:
    path = tmp_path / "cpu"
    path.write_text(
        f"some avg10={avg10:.2f} avg60=1.00 avg300=1.00 total=1\n"
        "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
    )
    return path


def test_pressure_is_read_from_psi(tmp_path: Path) -> None:
    assert cpu_pressure(_psi(tmp_path, 63.5)) == 0.635
    assert cpu_pressure(tmp_path / "absent") is None
    assert busy(0.10, _psi(tmp_path, 5.0)) == ""
    assert "cpu pressure 64% > 10%" in busy(0.10, _psi(tmp_path, 63.5))


def test_busy_turns_only_wall_clock_regressions_into_unstable() -> None:
    baseline = {
        "db_query_time": BaselineEntry(0.010, "s", (), (0.010, 0.0101, 0.0099)),
        "prompt_tokens": BaselineEntry(100, "tokens"),
    }
    measured = [Measurement("db_query_time", 0.020), Measurement("prompt_tokens", 120)]
    results = {
        r.name: r for r in judge("t", measured, targets={}, baseline=baseline, busy="cpu pressure 80%")
    }
    assert results["db_query_time"].verdict == "unstable"
    assert "machine busy: cpu pressure 80%" in results["db_query_time"].reason
    assert results["prompt_tokens"].verdict == "regressed"
