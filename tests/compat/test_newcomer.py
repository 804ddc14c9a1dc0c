"""A newcomer's first runs: the README's asyncio set-up works in a fresh project, and a CLI that cannot
measure says why in one line, exits non-zero and never prints a zero as if it were a measurement."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_cycle_cli_with_an_unreachable_redis_is_one_line_and_non_zero() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.reference_bot",
            "--cycles",
            "1",
            "--redis-url",
            "redis://127.0.0.1:1/0",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""  # no figures at all, least of all cache_hit_rate 0.0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "Traceback" not in done.stderr
    assert "Redis redis://127.0.0.1:1/0 unreachable" in lines[0]
    assert "start it, or leave its URL out" in lines[0]


def test_a_missing_extra_names_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    from benchmarks.reference_bot.__main__ import main

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "asyncpg" else real(name, *a)
    )
    assert main(["--cycles", "1", "--database-url", "postgresql://postgres@127.0.0.1:1/test"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.count("\n") == 1
    assert "pip install 'pytest-oxbot[postgres]'" in out.err


README_ASYNCIO = """
[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
"""


def test_the_readme_asyncio_setup_runs_async_fixtures_and_tests_in_a_fresh_project(
    pytester: pytest.Pytester,
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert 'asyncio_mode = "auto"' in readme
    assert 'asyncio_default_fixture_loop_scope = "function"' in readme
    pytester.makepyprojecttoml(README_ASYNCIO)
    pytester.makepyfile(
        """
        async def test_market(oxbot_market):
            batch = await oxbot_market.fetch_market_data_batch(["BTC/USDT"])
            assert batch.ok

        async def test_llm(oxbot_llm):
            async with oxbot_llm.client() as client:
                await client.decide("BTC", ["BTC"], model="gpt-4o-mini")
        """
    )
    result = pytester.runpytest("-p", "no:randomly", "-W", "error::pytest.PytestDeprecationWarning")
    result.assert_outcomes(passed=2)
