"""Keep the gate's own tests from writing into a real GitHub job summary when they run in Actions."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_github_step_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
