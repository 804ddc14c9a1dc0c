"""The gate's own errors: a misconfiguration must name what is wrong, never surface as a traceback."""

from __future__ import annotations


class KpiUsageError(ValueError):
    """A bad KPI name, target, option or configuration; the plugin turns it into a pytest usage error."""


class BaselineError(KpiUsageError):
    """A baseline file that is missing, unreadable or not a pytest-oxbot baseline."""
