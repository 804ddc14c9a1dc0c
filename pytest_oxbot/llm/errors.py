"""The LLM client's errors: each says what happened and what to do, and none carries the API key."""

from __future__ import annotations

from decimal import Decimal

from pytest_oxbot.errors import LLMError

__all__ = [
    "BudgetError",
    "BudgetExceeded",
    "BudgetServerUnsafe",
    "BudgetUnavailable",
    "EmergencyStop",
    "LLMDeadlineExceeded",
    "LLMError",
    "LLMHTTPError",
    "LLMResponseError",
    "LLMRetriesExhausted",
    "NoModelFits",
]


class LLMHTTPError(LLMError):
    """The provider refused the request with a status that retrying cannot fix (4xx other than 429)."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(f"LLM provider answered HTTP {status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail


class LLMRetriesExhausted(LLMError):
    """429/5xx/timeouts went on past the retry policy's count or time bound."""

    def __init__(self, attempts: int, last_error: str) -> None:
        super().__init__(f"LLM call failed after {attempts} attempt(s); last error: {last_error}")
        self.attempts = attempts
        self.last_error = last_error


class LLMDeadlineExceeded(LLMRetriesExhausted):
    """The whole call (every attempt and wait) passed its total deadline (`RetryPolicy.max_total`)."""

    def __init__(self, attempts: int, deadline_s: float, in_flight: bool) -> None:
        where = "while waiting for the provider's answer" if in_flight else "between attempts"
        super().__init__(attempts, f"no complete answer within the {deadline_s:g} s deadline ({where})")
        self.deadline_s = deadline_s
        self.in_flight = in_flight


class LLMResponseError(LLMError):
    """A 200 answer whose body is not a chat completion (not JSON, no choices, no usage)."""


class BudgetError(LLMError):
    """The spend budget: a limit reached, its shared counter unusable, or its server unsafe."""


class BudgetUnavailable(BudgetError):
    """The shared budget counter cannot be reached or trusted, and the policy is to refuse: nothing sent."""


class BudgetServerUnsafe(BudgetError):
    """The budget's Redis may evict its counters (`maxmemory-policy allkeys-*`) and nobody opted in."""


class BudgetExceeded(BudgetError):
    """0xBot's emergency stop: this call could push spend past a limit, so it is not sent."""

    def __init__(self, scope: str, limit: Decimal, committed: Decimal, requested: Decimal) -> None:
        super().__init__(
            f"LLM budget exceeded ({scope} limit ${limit}): ${committed} already committed, this call "
            f"may cost up to ${requested}; refusing to send it (emergency stop)"
        )
        self.scope = scope
        self.limit = limit
        self.committed = committed
        self.requested = requested


class EmergencyStop(BudgetExceeded):
    """The budget was stopped (by an operator or the live monitor's `emergency_stop` action): no call
    is sent until it is resumed. A `BudgetExceeded`, so a bot's existing handling applies."""

    def __init__(self, reason: str, requested: Decimal) -> None:
        LLMError.__init__(
            self, f"LLM budget stopped ({reason}); refusing a call of up to ${requested} until resumed"
        )
        self.scope = "emergency-stop"
        self.limit = Decimal(0)
        self.committed = Decimal(0)
        self.requested = requested
        self.reason = reason


class NoModelFits(LLMError):
    """No configured model can take this prompt (context window) within the call's budget."""
