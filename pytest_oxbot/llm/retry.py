"""When and how long to wait before retrying an LLM call (exponential backoff, full jitter, Retry-After).

Why these rules: 429 and 5xx are transient by definition and providers say how long to wait in
`Retry-After` (or OpenAI's `retry-after-ms`); ignoring it gets a client throttled harder. Other 4xx
(bad request, bad key, unknown model) never get better by retrying. The wait is bounded in count and in
total time, so a decision cycle cannot hang behind a provider outage.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from dataclasses import dataclass, field

import httpx

__all__ = ["RetryPolicy", "is_retryable_status", "retry_after_seconds"]


def is_retryable_status(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


def retry_after_seconds(response: httpx.Response, now: float) -> float | None:
    """The provider's requested wait, from `retry-after-ms` or `Retry-After` (seconds or HTTP date)."""
    ms = response.headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - now)


@dataclass
class RetryPolicy:
    """At most `max_attempts` tries within `max_total_s` (requests and waits together).

    Each wait is max(full-jitter exponential backoff, the provider's Retry-After).
    """

    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    max_total_s: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay_s < 0 or self.max_delay_s < 0 or self.max_total_s < 0:
            raise ValueError("retry policy needs max_attempts >= 1 and non-negative delays")

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Wait before attempt `attempt + 1` (attempt counts from 1)."""
        cap = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        backoff = self.rng.uniform(0, cap)
        return max(backoff, retry_after) if retry_after is not None else backoff
