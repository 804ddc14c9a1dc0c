"""Daily and per-call spend limits, enforced by reserving a call's worst-case cost before it is sent.

Why reserve-then-settle: checking "spent < limit" and then calling lets N concurrent calls all pass the
check and overspend N-fold. Instead each call atomically adds its maximum possible cost (prompt tokens
at the input rate + `max_tokens` at the output rate) to the day's committed total *only if* that keeps
the total within the limit, and after the answer replaces the reservation by the real cost. In Redis the
check-and-add is one Lua script, so calls from any number of processes can never overspend.

Amounts are stored as integers of 1e-10 USD (rounded up), exact for every per-token price we ship and
safe in Lua's doubles up to $900k a day. Days are UTC days of the injected clock; a reservation settles
on the day it was made.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from pytest_oxbot.clock import Clock, SystemClock
from pytest_oxbot.llm.errors import BudgetExceeded, EmergencyStop
from pytest_oxbot.pricing import to_units

__all__ = ["UNIT", "Budget", "InMemoryBudget", "RedisBudget", "Reservation", "UnlimitedBudget"]

UNIT = Decimal("1e-10")
_DAY_TTL_S = 3 * 86_400

# KEYS[1] committed units of the day; ARGV: amount, limit (-1 = none), ttl.
_RESERVE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
if limit >= 0 and current + amount > limit then
  return {0, current}
end
local new = redis.call('INCRBY', KEYS[1], amount)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return {1, new}
"""

# KEYS[1] committed, KEYS[2] settled spend, KEYS[3] settled call count; ARGV: reserved, actual, ttl.
_SETTLE = """
local delta = tonumber(ARGV[2]) - tonumber(ARGV[1])
local new = redis.call('INCRBY', KEYS[1], delta)
redis.call('INCRBY', KEYS[2], tonumber(ARGV[2]))
redis.call('INCR', KEYS[3])
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], tonumber(ARGV[3])) end
return new
"""


@dataclass(frozen=True, slots=True)
class Reservation:
    """A slice of the day's budget held for one call until it is settled."""

    id: str
    day: str
    units: int

    @property
    def amount(self) -> Decimal:
        return self.units * UNIT


class Budget(Protocol):
    """What the client needs: reserve the worst case, settle the real cost, read the day's spend."""

    async def reserve(self, amount: Decimal) -> Reservation: ...

    async def settle(self, reservation: Reservation, actual: Decimal) -> None: ...

    async def spent_today(self) -> Decimal: ...


def _utc_day(clock: Clock) -> str:
    return dt.datetime.fromtimestamp(clock.time(), tz=dt.UTC).date().isoformat()


class _Limits:
    def __init__(
        self, daily_limit: Decimal | None, per_call_limit: Decimal | None, clock: Clock | None
    ) -> None:
        for name, value in (("daily_limit", daily_limit), ("per_call_limit", per_call_limit)):
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        self.daily_limit = daily_limit
        self.per_call_limit = per_call_limit
        self.clock: Clock = clock or SystemClock()
        self._stopped: str | None = None

    @property
    def stopped(self) -> str | None:
        """Why every call is refused (None: not stopped)."""
        return self._stopped

    def emergency_stop(self, reason: str) -> None:
        """Refuse every reservation (raising `EmergencyStop`) until `resume()`; calls in flight settle."""
        self._stopped = reason or "emergency stop"

    def resume(self) -> None:
        self._stopped = None

    def _check_per_call(self, amount: Decimal, units: int) -> None:
        if self._stopped is not None:
            raise EmergencyStop(self._stopped, amount)
        if self.per_call_limit is not None and units > to_units(self.per_call_limit, UNIT):
            raise BudgetExceeded("per-call", self.per_call_limit, Decimal(0), amount)

    def _daily_units(self) -> int:
        return -1 if self.daily_limit is None else int(self.daily_limit / UNIT)


class InMemoryBudget(_Limits):
    """One process's budget (the check-and-add runs without an await, so it is atomic on the loop)."""

    def __init__(
        self,
        daily_limit: Decimal | None,
        per_call_limit: Decimal | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(daily_limit, per_call_limit, clock)
        self._committed: dict[str, int] = {}
        self._spent: dict[str, int] = {}

    async def reserve(self, amount: Decimal) -> Reservation:
        units = to_units(amount, UNIT)
        self._check_per_call(amount, units)
        day = _utc_day(self.clock)
        current = self._committed.get(day, 0)
        limit = self._daily_units()
        if limit >= 0 and current + units > limit:
            raise BudgetExceeded("daily", self.daily_limit or Decimal(0), current * UNIT, amount)
        self._committed[day] = current + units
        return Reservation(uuid.uuid4().hex, day, units)

    async def settle(self, reservation: Reservation, actual: Decimal) -> None:
        units = to_units(actual, UNIT)
        self._committed[reservation.day] = self._committed.get(reservation.day, 0) + units - reservation.units
        self._spent[reservation.day] = self._spent.get(reservation.day, 0) + units

    async def spent_today(self) -> Decimal:
        return self._spent.get(_utc_day(self.clock), 0) * UNIT

    async def committed_today(self) -> Decimal:
        return self._committed.get(_utc_day(self.clock), 0) * UNIT


class RedisBudget(_Limits):
    """A budget shared by every process that uses the same Redis and key prefix."""

    def __init__(
        self,
        redis: Any,
        daily_limit: Decimal | None,
        per_call_limit: Decimal | None = None,
        *,
        prefix: str = "oxbot:llm-budget",
        clock: Clock | None = None,
    ) -> None:
        super().__init__(daily_limit, per_call_limit, clock)
        self._redis = redis
        self._prefix = prefix
        # EVALSHA with a transparent reload: the scripts are sent once per connection, not per call.
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)

    def _key(self, day: str, what: str) -> str:
        return f"{self._prefix}:{day}:{what}"

    async def reserve(self, amount: Decimal) -> Reservation:
        units = to_units(amount, UNIT)
        self._check_per_call(amount, units)
        day = _utc_day(self.clock)
        ok, current = await self._reserve(
            keys=[self._key(day, "committed")], args=[units, self._daily_units(), _DAY_TTL_S]
        )
        if not int(ok):
            raise BudgetExceeded("daily", self.daily_limit or Decimal(0), int(current) * UNIT, amount)
        return Reservation(uuid.uuid4().hex, day, units)

    async def settle(self, reservation: Reservation, actual: Decimal) -> None:
        day = reservation.day
        keys = [self._key(day, "committed"), self._key(day, "spent"), self._key(day, "calls")]
        await self._settle(keys=keys, args=[reservation.units, to_units(actual, UNIT), _DAY_TTL_S])

    async def _read(self, what: str) -> Decimal:
        raw = await self._redis.get(self._key(_utc_day(self.clock), what))
        return int(raw or 0) * UNIT

    async def spent_today(self) -> Decimal:
        return await self._read("spent")

    async def committed_today(self) -> Decimal:
        return await self._read("committed")

    async def calls_today(self) -> int:
        raw = await self._redis.get(self._key(_utc_day(self.clock), "calls"))
        return int(raw or 0)


class UnlimitedBudget(InMemoryBudget):
    """No limit, but spend is still tallied (the default when LLM_DAILY_COST_LIMIT_USD is unset)."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        super().__init__(None, None, clock=clock)
