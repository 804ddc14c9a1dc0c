"""Request-weight budget: slow down *before* Binance's limit, back off after a failure.

Binance counts request weight per IP per minute and reports it in `X-MBX-USED-WEIGHT-1m`. A client that
only reacts to 429 soon meets 418 (an IP ban), so the budget makes callers wait for the next minute once
the used weight (seen plus reserved by requests in flight) would pass `slow_down_at` of the limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["WeightBudget", "klines_weight", "ticker_24hr_weight"]


def ticker_24hr_weight(symbol_count: int) -> int:
    """Weight of `GET /api/v3/ticker/24hr` (Binance spot docs): 2 for 1-20 symbols, 40 to 100, else 80."""
    if 1 <= symbol_count <= 20:
        return 2
    if 21 <= symbol_count <= 100:
        return 40
    return 80


def klines_weight() -> int:
    """Weight of `GET /api/v3/klines` (Binance spot docs): 2 whatever the limit."""
    return 2


@dataclass
class WeightBudget:
    """The used weight of the current minute as the exchange reports it, plus what we have in flight."""

    limit: int = 6000
    slow_down_at: float = 0.8
    used: int = 0
    minute: int = -1
    paused_until: float = 0.0
    banned_until: float = 0.0

    def _roll(self, now: float) -> None:
        minute = math.floor(now / 60)
        if minute != self.minute:
            self.minute = minute
            self.used = 0

    def delay_before(self, weight: int, now: float) -> float:
        """Seconds to wait before sending a request of `weight` (0 when it fits under the threshold)."""
        self._roll(now)
        wait = max(0.0, self.paused_until - now)
        if self.used + weight > self.limit * self.slow_down_at:
            wait = max(wait, (self.minute + 1) * 60 - now)
        return wait

    def reserve(self, weight: int, now: float) -> None:
        """Count a request about to be sent, so concurrent requests see it before its answer does."""
        self._roll(now)
        self.used += weight

    def observe(self, used_weight: int, now: float) -> None:
        """Record the exchange's `X-MBX-USED-WEIGHT-1m` (authoritative, but never below our reservations)."""
        self._roll(now)
        self.used = max(self.used, used_weight)
