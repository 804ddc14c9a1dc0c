"""Gate tests: no writes into a real GitHub job summary; the plots' libraries loaded once (see below)."""

from __future__ import annotations

import contextlib

import pytest


@pytest.fixture(autouse=True)
def _no_github_step_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


# In-process pytester runs unload the modules they imported; numpy (under matplotlib) cannot be imported
# twice in one process, so the HTML report's libraries are loaded once, before any such run.
with contextlib.suppress(ImportError):
    import matplotlib.figure  # noqa: F401
