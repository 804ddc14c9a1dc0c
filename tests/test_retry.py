"""The one retry policy: which statuses retry, how Retry-After is read (strictly), and capped backoff."""

from __future__ import annotations

import random

import httpx
import pytest

from pytest_oxbot.errors import OxbotError
from pytest_oxbot.retry import RetryPolicy, is_retryable_status, parse_retry_after

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("status", "retry"),
    [
        (429, True),
        (500, True),
        (503, True),
        (400, False),
        (401, False),
        (404, False),
        (422, False),
        (200, False),
    ],
)
def test_retryable_statuses(status: int, retry: bool) -> None:
    assert is_retryable_status(status) is retry


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "Thu, 01 Jan 2026 00:00:30 GMT"}, 30.0),
        ({"retry-after": "Wed, 31 Dec 2025 23:00:00 GMT"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
        # Hostile values are malformed (as if absent), never "wait for ever" or "retry at once".
        ({"retry-after": "inf"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "1e9"}, None),
        ({"retry-after": "-5"}, None),
        ({"retry-after": "\u0661\u0662"}, None),
        ({"retry-after-ms": "nan", "retry-after": "3"}, 3.0),
        ({"retry-after": "Thu, 99 Foo 2026 99:99:99 GMT"}, None),
    ],
)
def test_retry_after_forms(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, NOW) == expected
    if all(v.isascii() for v in headers.values()):  # httpx's case-insensitive headers read the same
        assert parse_retry_after(httpx.Response(429, headers=headers).headers, NOW) == expected


def test_backoff_is_jittered_capped_and_never_below_retry_after() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    rng = random.Random(7)
    for attempt in range(1, 8):
        delay = policy.delay(attempt, None, rng)
        assert 0 <= delay <= min(4.0, 0.5 * 2 ** (attempt - 1))
    assert policy.delay(1, 12.0, rng) == 12.0
    assert policy.backoff(10_000, rng) <= 4.0  # no overflow on absurd attempt counts


def test_bad_policy_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(OxbotError, match="finite"):
        RetryPolicy(max_total=float("inf"))
    with pytest.raises(OxbotError, match="base_delay <= max_delay"):
        RetryPolicy(base_delay=5, max_delay=1)
