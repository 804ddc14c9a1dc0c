"""The live monitor's errors: each names what was wrong and what to do about it."""

from __future__ import annotations

from pytest_oxbot.errors import MonitorError, SettingsError

__all__ = ["MonitorConfigError", "MonitorError", "MonitorStartError", "SnapshotError"]


class MonitorConfigError(MonitorError, SettingsError):
    """The alert configuration file (or a rule given in code) is invalid; the message names the field."""


class MonitorStartError(MonitorError):
    """The monitor refused to start (e.g. a non-loopback address without a token)."""


class SnapshotError(MonitorError, ValueError):
    """A process snapshot read from Redis is not what a reporter writes (wrong shape, too big, not JSON)."""
