"""Faults the fakes can inject, one vocabulary for the fake exchange and the fake LLM provider.

A test says what the next request(s) should suffer (`fake.inject(Fault.RATE_LIMIT, times=2)`); the fake
takes the first matching pending fault per request. A fault that never fired is reported at teardown by
the fixtures (a test that injects one expects it to fire).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from pytest_oxbot.errors import FakeError

__all__ = ["Fault", "FaultQueue", "PendingFault"]


class Fault(StrEnum):
    """What a request should suffer; each fake accepts the kinds that make sense for its API."""

    RATE_LIMIT = "rate_limit"  # HTTP 429 with Retry-After
    BAN = "ban"  # HTTP 418 with Retry-After (Binance's IP ban)
    SERVER_ERROR = "server_error"  # HTTP 5xx
    TIMEOUT = "timeout"  # the transport times out
    MALFORMED = "malformed"  # HTTP 200 whose payload is cut mid-JSON
    INVALID_BODY = "invalid_body"  # HTTP 200 whose body is not JSON at all
    MISSING_SYMBOL = "missing_symbol"  # one symbol dropped from the answer
    UNKNOWN_SYMBOL = "unknown_symbol"  # the exchange delists a symbol (-1121)

    @classmethod
    def parse(cls, value: Fault | str, allowed: frozenset[Fault]) -> Fault:
        """`value` as a Fault this fake supports, else a `FakeError` listing what it supports."""
        aliases = {"429": cls.RATE_LIMIT, "500": cls.SERVER_ERROR, "malformed_json": cls.MALFORMED}
        try:
            fault = aliases.get(str(value)) or cls(value)
        except ValueError:
            fault = None
        if fault is None or fault not in allowed:
            raise FakeError(
                f"unknown fault {str(value)!r}; this fake supports {sorted(f.value for f in allowed)}"
            )
        return fault


@dataclass(slots=True)
class PendingFault:
    """A fault waiting for its next `times` requests (on `endpoint`, or any endpoint when None)."""

    kind: Fault
    times: int = 1
    endpoint: str | None = None
    retry_after: float | None = None
    status: int = 503
    symbol: str | None = None


class FaultQueue:
    """Injected faults in order; `take(endpoint)` consumes one request's worth of the first that matches."""

    def __init__(self) -> None:
        self._pending: deque[PendingFault] = deque()

    def add(self, fault: PendingFault) -> None:
        if fault.times < 1:
            raise FakeError(f"times must be >= 1, got {fault.times}")
        self._pending.append(fault)

    def take(self, endpoint: str | None = None) -> PendingFault | None:
        for fault in self._pending:
            if fault.endpoint is None or endpoint is None or fault.endpoint == endpoint:
                fault.times -= 1
                if fault.times == 0:
                    self._pending.remove(fault)
                return fault
        return None

    def pending(self) -> list[PendingFault]:
        return list(self._pending)

    def __len__(self) -> int:
        return len(self._pending)
