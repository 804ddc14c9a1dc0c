"""Retry policy: which statuses retry, how Retry-After is read, and that backoff grows but stays capped."""

from __future__ import annotations

import random

import httpx
import pytest

from pytest_oxbot.llm.retry import RetryPolicy, is_retryable_status, retry_after_seconds

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
    ],
)
def test_retry_after_forms(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(httpx.Response(429, headers=headers), NOW) == expected


def test_backoff_is_jittered_capped_and_never_below_retry_after() -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=4.0, rng=random.Random(7))
    for attempt in range(1, 8):
        delay = policy.delay(attempt, None)
        assert 0 <= delay <= min(4.0, 0.5 * 2 ** (attempt - 1))
    assert policy.delay(1, 12.0) == 12.0


def test_bad_policy_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
