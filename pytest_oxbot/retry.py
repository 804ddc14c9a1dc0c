"""When and how long to wait before retrying an HTTP call: one policy and one `Retry-After` parser.

Why these rules: 429 and 5xx are transient, and servers say how long to wait in `Retry-After` (or
OpenAI's `retry-after-ms`); ignoring it gets a client throttled harder (Binance answers 418, a ban).
Other 4xx never get better by retrying. Waits are bounded in count, per wait and in total, so a decision
cycle cannot hang behind an outage or a hostile header (`Retry-After: 1e9`, `inf`, `nan`).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

from pytest_oxbot.errors import SettingsError

__all__ = ["RetryPolicy", "is_retryable_status", "parse_retry_after"]

_SECONDS = re.compile(r"\A[0-9]{1,12}(?:\.[0-9]{1,6})?\Z")  # ASCII digits only: no "١٢", no "1e9"


def is_retryable_status(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """The server's requested wait in seconds, or None when absent or malformed.

    Accepted: `retry-after-ms` (milliseconds) and `Retry-After` as delta-seconds or an HTTP date
    (RFC 9110). Anything else (negative, non-finite, exponent notation, other digits) is malformed,
    and a caller treats it as if the header were missing, never as "retry at once" or "wait for ever".
    """
    ms = headers.get("retry-after-ms")
    if ms is not None and _SECONDS.match(ms.strip()):
        return float(ms.strip()) / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if _SECONDS.match(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class RetryPolicy:
    """At most `max_attempts` tries within `max_total` seconds (requests and waits together).

    Each wait is the larger of a full-jitter exponential backoff (uniform in [0, min(max_delay,
    base_delay * 2^(n-1))], AWS's recommendation against synchronized retries) and the server's
    `Retry-After`. A `Retry-After` above `max_retry_after` is not slept through: the caller raises.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_total: float = 30.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        values = (self.base_delay, self.max_delay, self.max_total, self.max_retry_after)
        if self.max_attempts < 1 or any(not math.isfinite(v) or v < 0 for v in values):
            raise SettingsError(
                "RetryPolicy needs max_attempts >= 1 and finite, non-negative delays, got "
                f"{self.max_attempts}, {values}"
            )
        if self.max_delay < self.base_delay:
            raise SettingsError(
                f"RetryPolicy needs base_delay <= max_delay, got {self.base_delay} > {self.max_delay}"
            )

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """The jittered backoff after failed attempt `attempt` (counted from 1)."""
        cap = min(self.max_delay, self.base_delay * 2.0 ** min(attempt - 1, 64))
        return (rng or random).uniform(0, cap)

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random | None = None) -> float:
        """The wait before attempt `attempt + 1`: max(backoff, Retry-After)."""
        backoff = self.backoff(attempt, rng)
        return backoff if retry_after is None else max(backoff, retry_after)
