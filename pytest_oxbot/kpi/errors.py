"""The gate's own errors: a misconfiguration must name what is wrong, never surface as a traceback."""

from __future__ import annotations

from pytest_oxbot.errors import KpiUsageError, OxbotError


class BaselineError(KpiUsageError):
    """A baseline file that is missing, unreadable or not a pytest-oxbot baseline."""


class InstrumentUnavailable(KpiUsageError):
    """This machine cannot count instructions (no valgrind, another OS or CPU); the message says why."""


class InstrumentError(KpiUsageError):
    """Counting instructions failed: the function is not importable by name, its arguments are not JSON, or
    the call raised in the child (its traceback is in the message)."""


class CommentError(OxbotError):
    """The forge refused the KPI comment or could not be reached; the message never holds the token."""
