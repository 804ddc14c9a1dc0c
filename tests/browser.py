"""Debian's chromium, driven headless by Playwright, for the tests that check a page as a person sees it.

Skipped where no browser (or Playwright) is installed, a failure when OXBOT_REQUIRE_BROWSER=1 (CI).
Screenshots go to $OXBOT_ARTIFACTS_DIR when set (CI keeps them), else to the test's tmp_path.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    """The chromium binary, or skip (fail under OXBOT_REQUIRE_BROWSER=1) saying what is missing."""
    path = os.environ.get("OXBOT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    problem = None
    if path is None:
        problem = "no chromium on PATH (apt-get install chromium)"
    else:
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            problem = "playwright is not installed (pip install 'pytest-oxbot[test]')"
    if problem is not None:
        if os.environ.get("OXBOT_REQUIRE_BROWSER", "").strip() in {"1", "true", "yes"}:
            pytest.fail(f"browser test: {problem} (and OXBOT_REQUIRE_BROWSER=1 demands it)", pytrace=False)
        pytest.skip(f"browser test: {problem}")
    assert path is not None
    return path


def artifacts_dir(tmp_path: Path) -> Path:
    """Where screenshots go: $OXBOT_ARTIFACTS_DIR (CI uploads it), else the test's own tmp_path."""
    directory = Path(os.environ.get("OXBOT_ARTIFACTS_DIR") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory
