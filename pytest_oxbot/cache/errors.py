"""What the cache raises on purpose; every class derives from `pytest_oxbot.errors.CacheError`."""

from __future__ import annotations

from pytest_oxbot.errors import CacheError

__all__ = ["CacheBackendError", "CacheError", "CacheUsageError", "CodecError"]


class CacheUsageError(CacheError, ValueError):
    """A bad argument to the cache (a TTL, a namespace, a bound); the message names it."""


class CacheBackendError(CacheError):
    """A tier failed and the cache was built with `FaultPolicy(strict=True)`."""


class CodecError(CacheError, ValueError):
    """A value cannot be encoded, or a payload cannot be decoded (the codec raises nothing else)."""
