"""The gate's own errors: a misconfiguration must name what is wrong, never surface as a traceback."""

from __future__ import annotations

from pytest_oxbot.errors import KpiUsageError


class BaselineError(KpiUsageError):
    """A baseline file that is missing, unreadable or not a pytest-oxbot baseline."""
