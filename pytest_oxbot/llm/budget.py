"""Daily and per-call spend limits, enforced by reserving a call's worst-case cost before it is sent.

Why reserve-then-settle: checking "spent < limit" and then calling lets N concurrent calls all pass the
check and overspend N-fold. Instead each call atomically adds its maximum possible cost to the day's held
total *only if* spent + held stays within the limit, and after the answer replaces the reservation by the
real cost. In Redis the check-and-add is one Lua script, so calls from any number of processes can never
commit past the limit; once the settled spend has passed it, every further call is refused.

What the shared counter survives (docs/llm.md, "Budget guarantees", lists each case with its test):
- a process that crashes between reserve and settle: each reservation is a lease that expires
  (`lease_s`), so the crash cannot hold the day's budget;
- Redis unreachable: the policy is explicit: refuse (`BudgetUnavailable`, the default) or a local
  allowance (`fallback_limit`); settlements that could not be written are kept and written when Redis
  answers again, and the paid answer is never lost;
- a counter that vanished or went back (a Redis restarted without persistence, a key evicted, an old
  snapshot restored): detected with the epoch written beside the counter and the highest spend this
  process has seen; the budget then keeps a conservative local ledger until the day ends and never
  reports the reset figure as the day's spend;
- a server that may evict any key (`maxmemory-policy allkeys-*`): refused at start-up unless the
  operator opts in (`allow_evicting_server=True`); the budget's keys carry no TTL, so `volatile-*`
  policies never evict them.

Amounts are stored as integers of 1e-10 USD (rounded up), exact for every per-token price we ship and
safe in Lua's doubles up to $900k a day. Days are UTC days of the injected clock; a reservation settles
on the day it was made.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from pytest_oxbot.clock import Clock, SystemClock
from pytest_oxbot.errors import SettingsError
from pytest_oxbot.llm.errors import BudgetExceeded, BudgetServerUnsafe, BudgetUnavailable, EmergencyStop
from pytest_oxbot.pricing import to_units

if TYPE_CHECKING:
    from pytest_oxbot.settings import Settings

__all__ = [
    "UNIT",
    "Budget",
    "BudgetOvershoot",
    "InMemoryBudget",
    "RedisBudget",
    "Reservation",
    "ServerCheck",
    "UnlimitedBudget",
    "check_budget_server",
    "eviction_policy",
]

log = logging.getLogger(__name__)
UNIT = Decimal("1e-10")
_PRUNE_DAYS = range(3, 11)  # days older than this are deleted (once per day per process)

# Both scripts open the day the same way: create its hash on first use, refuse when the counter was reset
# under us (another epoch, or less spent than this process has already seen). ARGV 1-3 as below.
_OPEN_DAY = """
local key = KEYS[1]
local epoch = redis.call('HGET', key, 'epoch')
if not epoch then
  if ARGV[1] ~= '' then return {-1, 0, 0, ''} end
  redis.call('HSET', key, 'epoch', ARGV[2], 'spent', 0, 'held', 0, 'calls', 0)
  epoch = ARGV[2]
elseif ARGV[1] ~= '' and epoch ~= ARGV[1] then
  return {-1, 0, 0, epoch}
end
local spent = tonumber(redis.call('HGET', key, 'spent') or '0')
if spent < tonumber(ARGV[3]) then return {-1, spent, 0, epoch} end
"""

# KEYS[1] the day's hash: epoch, spent, held, calls, and one `l:<id>` = "<units>:<expiry ms>" per lease.
# ARGV: 1 expected epoch ('' = this process has not seen the day), 2 epoch to create, 3 highest spent
# seen, 4 reservation id, 5 units, 6 limit (-1 = none), 7 now (ms), 8 lease (ms), 9 units held outside.
# Returns {status, spent, held, epoch}: status 1 reserved, 0 refused, -1 the counter was reset.
_RESERVE = (
    _OPEN_DAY
    + """local now = tonumber(ARGV[7])
local held = tonumber(redis.call('HGET', key, 'held') or '0')
local fields = redis.call('HGETALL', key)
for i = 1, #fields, 2 do
  local f = fields[i]
  if string.sub(f, 1, 2) == 'l:' then
    local v = fields[i + 1]
    local sep = string.find(v, ':', 1, true)
    if tonumber(string.sub(v, sep + 1)) <= now then
      held = held - tonumber(string.sub(v, 1, sep - 1))
      redis.call('HDEL', key, f)
    end
  end
end
if held < 0 then held = 0 end
local units = tonumber(ARGV[5])
local limit = tonumber(ARGV[6])
if limit >= 0 and spent + held + units + tonumber(ARGV[9]) > limit then
  redis.call('HSET', key, 'held', held)
  return {0, spent, held, epoch}
end
local lease = string.format('%d', units) .. ':' .. string.format('%d', now + tonumber(ARGV[8]))
redis.call('HSET', key, 'held', held + units, 'l:' .. ARGV[4], lease)
return {1, spent, held + units, epoch}
"""
)

# KEYS[1] the day's hash. ARGV: 1 expected epoch, 2 epoch to create, 3 highest spent seen, 4 reservation
# id, 5 actual units. Releases the lease if it is still there (it may have expired) and adds the spend.
# Returns {status, spent, held, epoch}: status 1 settled, -1 the counter was reset (nothing written).
_SETTLE = (
    _OPEN_DAY
    + """local held = tonumber(redis.call('HGET', key, 'held') or '0')
local lease = redis.call('HGET', key, 'l:' .. ARGV[4])
if lease then
  held = held - tonumber(string.sub(lease, 1, string.find(lease, ':', 1, true) - 1))
  if held < 0 then held = 0 end
  redis.call('HSET', key, 'held', held)
  redis.call('HDEL', key, 'l:' .. ARGV[4])
end
spent = redis.call('HINCRBY', key, 'spent', ARGV[5])
redis.call('HINCRBY', key, 'calls', 1)
return {1, spent, held, epoch}
"""
)


@dataclass(frozen=True, slots=True)
class Reservation:
    """A slice of the day's budget held for one call until it is settled.

    `shared` is False for a reservation made on the local ledger (the shared counter was unreachable or
    reset); its settlement is written to the shared counter when that can be trusted again.
    """

    id: str
    day: str
    units: int
    shared: bool = True

    @property
    def amount(self) -> Decimal:
        return self.units * UNIT


@dataclass(frozen=True, slots=True)
class BudgetOvershoot:
    """A call whose bill did not fit its reservation, or whose provider claimed more than the call allows.

    `charged` is what the budget committed (the real cost within the call's contractual bounds),
    `claimed` what the provider's `usage` and model name would have cost, `reasons` says why they
    differ or why the reservation was short. Reported on the call's result, in `client.overshoots`,
    in the cost report and as a log warning; the day's limit still refuses every call once passed.
    """

    day: str
    model: str
    reserved: Decimal
    charged: Decimal
    claimed: Decimal
    reasons: tuple[str, ...]

    @property
    def excess(self) -> Decimal:
        """How far the committed bill went past the reservation (0 when only the claim was cut)."""
        return max(Decimal(0), self.charged - self.reserved)


class Budget(Protocol):
    """What the client needs: reserve the worst case, settle the real cost, read the day's spend."""

    async def reserve(self, amount: Decimal) -> Reservation: ...

    async def settle(self, reservation: Reservation, actual: Decimal) -> None: ...

    async def spent_today(self) -> Decimal: ...


def _utc_day(clock: Clock, offset_days: int = 0) -> str:
    day = dt.datetime.fromtimestamp(clock.time(), tz=dt.UTC).date() - dt.timedelta(days=offset_days)
    return day.isoformat()


class _Limits:
    def __init__(
        self, daily_limit: Decimal | None, per_call_limit: Decimal | None, clock: Clock | None
    ) -> None:
        for name, value in (("daily_limit", daily_limit), ("per_call_limit", per_call_limit)):
            if value is not None and not (isinstance(value, Decimal) and value.is_finite() and value >= 0):
                raise SettingsError(f"{name} must be a finite Decimal >= 0 or None, got {value!r}")
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


# -- the Redis server the budget runs on ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerCheck:
    """What the budget learnt about its Redis server at start-up (None: the server would not say)."""

    eviction_policy: str | None
    persistent: bool | None
    source: str

    @property
    def may_evict_budget_keys(self) -> bool:
        """`allkeys-*` evicts any key under memory pressure, the budget's counters included."""
        return self.eviction_policy is not None and self.eviction_policy.startswith("allkeys-")


async def eviction_policy(client: Any) -> tuple[str | None, str]:
    """The server's `maxmemory-policy` and where it was read: CONFIG GET, else INFO memory (managed
    Redis services often disable CONFIG), else (None, "unknown")."""
    from redis.exceptions import ResponseError

    try:
        policy = _config_value(await client.config_get("maxmemory-policy"), "maxmemory-policy")
        if policy is not None:
            return policy, "CONFIG GET"
    except ResponseError:
        pass
    try:
        policy = _config_value(await client.info("memory"), "maxmemory_policy")
        if policy is not None:
            return policy, "INFO memory"
    except ResponseError:
        pass
    return None, "unknown"


async def check_budget_server(client: Any) -> ServerCheck:
    """Eviction policy and persistence of the budget's server; Redis connection errors propagate."""
    from redis.exceptions import ResponseError

    policy, source = await eviction_policy(client)
    persistent: bool | None = None
    try:
        appendonly = _config_value(await client.config_get("appendonly"), "appendonly")
        save = _config_value(await client.config_get("save"), "save")
        if appendonly is not None or save is not None:
            persistent = appendonly == "yes" or bool(save and save.strip())
    except ResponseError:
        try:
            aof = _config_value(await client.info("persistence"), "aof_enabled")
            persistent = True if aof in ("1", 1) else None
        except ResponseError:
            persistent = None
    return ServerCheck(policy, persistent, source)


def _config_value(reply: Any, name: str) -> str | None:
    """A value from a CONFIG GET / INFO reply (a flat dict; a cluster client's per-node dicts too)."""
    if not isinstance(reply, dict):
        return None
    for key, value in reply.items():
        k = key.decode() if isinstance(key, bytes) else str(key)
        if k == name:
            return value.decode() if isinstance(value, bytes) else str(value)
        if isinstance(value, dict):  # RedisCluster: {node: {name: value}}
            found = _config_value(value, name)
            if found is not None:
                return found
    return None


# -- the shared budget ------------------------------------------------------------------------------------


@dataclass
class _LocalLedger:
    """The conservative ledger used while the shared counter cannot be trusted, for one day."""

    seed: int  # the highest spent + held this process saw in Redis that day (over-counts, never under)
    allowance: int  # what this process may commit on its own that day (-2: nothing, refuse)
    reason: str
    until_day_ends: bool
    active: bool = True
    held: int = 0
    spent: int = 0
    calls: int = 0

    @property
    def total(self) -> int:
        return self.seed + self.held + self.spent


@dataclass(frozen=True, slots=True)
class _PendingSettle:
    reservation: Reservation
    actual: int


@dataclass
class _DayView:
    epoch: str = ""
    spent: int = 0  # the highest settled spend seen (never goes down)
    total: int = 0  # the highest spent + held seen
    calls: int = 0
    pruned: bool = False
    pending: list[_PendingSettle] = field(default_factory=list)


class RedisBudget(_Limits):
    """A budget shared by every process that uses the same Redis server and key prefix.

    `redis`: a client from `pytest_oxbot.connections.make_redis_client` (or fakeredis with lupa).
    `lease_s`: how long a reservation holds its amount without being settled (a crashed process's
    reservations are released after it); keep it above the client's total deadline (30 s by default).
    `fallback_limit`: what this process may commit on its own ledger per day while the shared counter is
    unreachable or was reset; None (the default) refuses every call in that state (`BudgetUnavailable`).
    `allow_evicting_server`: run on an `allkeys-*` server anyway (the counters may then be evicted; a
    vanished counter is still detected and the local ledger takes over).
    """

    def __init__(
        self,
        redis: Any,
        daily_limit: Decimal | None,
        per_call_limit: Decimal | None = None,
        *,
        prefix: str = "oxbot:llm-budget",
        clock: Clock | None = None,
        lease_s: float = 300.0,
        fallback_limit: Decimal | None = None,
        allow_evicting_server: bool = False,
        check_server: bool = True,
    ) -> None:
        super().__init__(daily_limit, per_call_limit, clock)
        if not (isinstance(lease_s, int | float) and 0 < lease_s < 86_400):
            raise SettingsError(f"RedisBudget.lease_s must be within (0, 86400) seconds, got {lease_s!r}")
        if fallback_limit is not None and not (
            isinstance(fallback_limit, Decimal) and fallback_limit.is_finite() and fallback_limit >= 0
        ):
            raise SettingsError(
                f"RedisBudget.fallback_limit must be a finite Decimal >= 0, got {fallback_limit!r}"
            )
        self._redis = redis
        self._prefix = prefix
        self.lease_s = float(lease_s)
        self.fallback_limit = fallback_limit
        self.allow_evicting_server = allow_evicting_server
        self._check_wanted = check_server
        self.server: ServerCheck | None = None
        """What the start-up check found (eviction policy, persistence), once it has run."""
        self._days: dict[str, _DayView] = {}
        self._local: dict[str, _LocalLedger] = {}
        # EVALSHA with a transparent reload: the scripts are sent once per connection, not per call.
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)

    @classmethod
    def from_env(cls, settings: Settings | None = None, **kwargs: Any) -> RedisBudget:
        """The documented edge: the budget's own Redis (OXBOT_BUDGET_REDIS_URL, else OXBOT_REDIS_URL),
        the daily limit (LLM_DAILY_COST_LIMIT_USD) and the eviction opt-in (OXBOT_BUDGET_ALLOW_EVICTION);
        every keyword given explicitly wins."""
        from pytest_oxbot.connections import make_redis_client
        from pytest_oxbot.settings import Settings

        s = settings if settings is not None else Settings.from_env()
        if "redis" not in kwargs:
            url = s.budget_url()
            if url is None:
                raise SettingsError(
                    "RedisBudget.from_env needs OXBOT_BUDGET_REDIS_URL or OXBOT_REDIS_URL (or redis=...)"
                )
            kwargs["redis"] = make_redis_client(url)
        kwargs.setdefault("daily_limit", s.llm_daily_cost_limit_usd)
        kwargs.setdefault("allow_evicting_server", s.budget_allow_eviction)
        return cls(**kwargs)

    # -- public ---------------------------------------------------------------------------------------

    @property
    def degraded(self) -> str | None:
        """Why today's budget is on the local ledger (None while the shared counter is trusted)."""
        ledger = self._local.get(_utc_day(self.clock))
        return None if ledger is None or not ledger.active else ledger.reason

    @property
    def unsettled(self) -> int:
        """Settlements kept in this process until Redis answers again."""
        return sum(len(v.pending) for v in self._days.values())

    async def check_server(self) -> ServerCheck:
        """Read the server's eviction policy and persistence; refuse an `allkeys-*` server unless allowed."""
        check = await check_budget_server(self._redis)
        self.server = check
        if check.persistent is False:
            log.warning(
                "the budget's Redis has no persistence (appendonly no, no save points): a restart loses "
                "the day's spend for processes started after it; see docs/llm.md (Budget guarantees)"
            )
        if check.eviction_policy is None:
            log.warning("the budget's Redis did not say its maxmemory-policy (CONFIG and INFO refused)")
        return check

    async def reserve(self, amount: Decimal) -> Reservation:
        units = to_units(amount, UNIT)
        self._check_per_call(amount, units)
        day = _utc_day(self.clock)
        view = self._view(day)
        ledger = self._local.get(day)
        if ledger is not None and ledger.until_day_ends:
            return self._local_reserve(day, units, amount, ledger)
        rid = uuid.uuid4().hex
        try:
            await self._ensure_server_checked()
            await self._flush()
            await self._prune(day, view)
            outside = ledger.held if ledger is not None else 0  # local reservations still in flight
            status, spent, held, epoch = await self._reserve(
                keys=[self._key(day)],
                args=[
                    view.epoch,
                    uuid.uuid4().hex,
                    view.spent,
                    rid,
                    units,
                    self._daily_units(),
                    int(self.clock.time() * 1000),
                    int(self.lease_s * 1000),
                    outside,
                ],
            )
        except BudgetServerUnsafe:
            raise
        except Exception as exc:
            if not _is_unavailable(exc):
                raise
            return self._local_reserve(day, units, amount, self._outage(day, exc))
        status = int(status)
        if status < 0:
            return self._local_reserve(day, units, amount, self._reset(day, int(spent)))
        self._saw(view, _text(epoch), int(spent), int(spent) + int(held))
        if ledger is not None and not ledger.until_day_ends and ledger.held <= 0:
            ledger.active = False  # the outage is over and its spend was written: back to the shared counter
        if status == 0:
            raise BudgetExceeded(
                "daily", self.daily_limit or Decimal(0), (int(spent) + int(held)) * UNIT, amount
            )
        return Reservation(rid, day, units)

    async def settle(self, reservation: Reservation, actual: Decimal) -> None:
        """Commit the real cost; never raises for an unreachable Redis (the settlement is kept instead)."""
        units = to_units(actual, UNIT)
        day = reservation.day
        ledger = self._local.get(day)
        if ledger is not None and (ledger.until_day_ends or not reservation.shared):
            if not reservation.shared:
                ledger.held -= reservation.units
            ledger.spent += units
            ledger.calls += 1
            if ledger.until_day_ends:
                return
        pending = _PendingSettle(reservation, units)
        try:
            await self._flush()
            await self._write(pending)
        except Exception as exc:
            if not _is_unavailable(exc):
                raise
            self._view(day).pending.append(pending)
            self._outage(day, exc)
            log.warning("budget settlement kept in this process until Redis answers: %s", _describe(exc))

    async def spent_today(self) -> Decimal:
        """The day's settled spend; on the local ledger, the conservative local figure, never a reset one."""
        return (await self._read_today())[0] * UNIT

    async def committed_today(self) -> Decimal:
        """Settled spend plus amounts held by reservations in flight."""
        spent, held, _ = await self._read_today()
        return (spent + held) * UNIT

    async def calls_today(self) -> int:
        return (await self._read_today())[2]

    # -- internals ------------------------------------------------------------------------------------

    def _key(self, day: str) -> str:
        return f"{self._prefix}:{day}"

    def _view(self, day: str) -> _DayView:
        view = self._days.get(day)
        if view is None:
            view = self._days[day] = _DayView()
        return view

    @staticmethod
    def _saw(view: _DayView, epoch: str, spent: int, total: int) -> None:
        view.epoch = epoch
        view.spent = max(view.spent, spent)
        view.total = max(view.total, total)

    async def _ensure_server_checked(self) -> None:
        if not self._check_wanted:
            return
        if self.server is None:
            await self.check_server()
        assert self.server is not None
        if self.server.may_evict_budget_keys and not self.allow_evicting_server:
            raise BudgetServerUnsafe(
                f"the budget's Redis evicts any key under memory pressure (maxmemory-policy "
                f"{self.server.eviction_policy}, read by {self.server.source}): an evicted counter resets "
                "the day's spend. Give the budget its own server (OXBOT_BUDGET_REDIS_URL, with "
                "noeviction or volatile-*), or opt in with allow_evicting_server=True "
                "(OXBOT_BUDGET_ALLOW_EVICTION=1)"
            )

    async def _prune(self, day: str, view: _DayView) -> None:
        if view.pruned:
            return
        view.pruned = True
        for back in _PRUNE_DAYS:
            await self._redis.delete(self._key(_utc_day(self.clock, back)))

    def _outage(self, day: str, exc: BaseException) -> _LocalLedger:
        view = self._view(day)
        seed = view.total + sum(p.actual for p in view.pending)
        ledger = self._local.get(day)
        if ledger is None:
            ledger = self._local[day] = _LocalLedger(seed, self._allowance(), "", False)
        elif not ledger.until_day_ends:
            ledger.seed = max(ledger.seed, seed)
        if not ledger.active or not ledger.reason:
            ledger.active = True
            if not ledger.until_day_ends:
                ledger.reason = f"shared counter unreachable ({_describe(exc)})"
            log.warning("LLM budget: %s; local ledger from $%s", ledger.reason, ledger.seed * UNIT)
        return ledger

    def _reset(self, day: str, found_spent: int) -> _LocalLedger:
        view = self._view(day)
        seed = max(view.total, view.spent) + sum(p.actual for p in view.pending)
        view.pending.clear()
        ledger = self._local.get(day)
        if ledger is None:
            ledger = self._local[day] = _LocalLedger(seed, self._allowance(), "", False)
        if ledger.until_day_ends and ledger.active:
            return ledger
        ledger.seed = max(ledger.seed, seed)
        ledger.until_day_ends = ledger.active = True
        ledger.reason = (
            f"shared counter reset (it shows ${found_spent * UNIT} after ${view.spent * UNIT} was seen, or "
            "vanished): Redis restarted without persistence or evicted the key"
        )
        log.error(
            "LLM budget: %s; conservative local ledger from $%s until the day ends",
            ledger.reason,
            ledger.seed * UNIT,
        )
        return ledger

    def _allowance(self) -> int:
        return -2 if self.fallback_limit is None else to_units(self.fallback_limit, UNIT)

    def _local_reserve(self, day: str, units: int, amount: Decimal, ledger: _LocalLedger) -> Reservation:
        """Reserve on the local ledger: within this process's allowance and the day's limit from `seed`."""
        if ledger.allowance == -2:
            raise BudgetUnavailable(
                f"LLM budget: {ledger.reason}; policy: refuse (set RedisBudget(fallback_limit=...) to "
                "allow a local allowance); nothing sent"
            )
        if ledger.held + ledger.spent + units > ledger.allowance:
            raise BudgetExceeded(
                "local fallback", ledger.allowance * UNIT, (ledger.held + ledger.spent) * UNIT, amount
            )
        limit = self._daily_units()
        if limit >= 0 and ledger.total + units > limit:
            raise BudgetExceeded("daily (local ledger)", limit * UNIT, ledger.total * UNIT, amount)
        ledger.held += units
        return Reservation(uuid.uuid4().hex, day, units, shared=False)

    async def _write(self, pending: _PendingSettle) -> None:
        reservation = pending.reservation
        day = reservation.day
        view = self._view(day)
        status, spent, held, epoch = await self._settle(
            keys=[self._key(day)],
            args=[view.epoch, uuid.uuid4().hex, view.spent, reservation.id, pending.actual],
        )
        if int(status) < 0:
            ledger = self._reset(day, int(spent))
            ledger.spent += pending.actual
            return
        self._saw(view, _text(epoch), int(spent), int(spent) + int(held))

    async def _flush(self) -> None:
        """Write kept settlements (oldest first); stops at the first failure, keeping the rest."""
        for d, view in list(self._days.items()):
            while view.pending:
                item = view.pending.pop(0)
                ledger = self._local.get(d)
                if ledger is not None and ledger.until_day_ends:
                    continue  # counted in the local ledger's seed already
                try:
                    await self._write(item)
                except BaseException:
                    view.pending.insert(0, item)
                    raise

    async def _read_today(self) -> tuple[int, int, int]:
        day = _utc_day(self.clock)
        view = self._view(day)
        ledger = self._local.get(day)
        if ledger is not None and ledger.until_day_ends:
            return ledger.seed + ledger.spent, ledger.held, view.calls + ledger.calls
        try:
            await self._flush()
            raw = await self._redis.hmget(self._key(day), ["epoch", "spent", "held", "calls"])
        except Exception as exc:
            if not _is_unavailable(exc):
                raise
            local = self._outage(day, exc)
            unsettled = sum(p.actual for p in view.pending)
            return view.spent + unsettled + local.spent, local.held, view.calls + local.calls
        epoch, spent, held, calls = (_text(v) if v is not None else None for v in raw)
        if (view.epoch and epoch != view.epoch) or int(spent or 0) < view.spent:
            ledger = self._reset(day, int(spent or 0))
            return ledger.seed + ledger.spent, ledger.held, view.calls + ledger.calls
        if epoch:
            self._saw(view, epoch, int(spent or 0), int(spent or 0) + int(held or 0))
            view.calls = max(view.calls, int(calls or 0))
        if ledger is not None and ledger.held <= 0:
            ledger.active = False  # reachable again, and everything kept was written
        return int(spent or 0), int(held or 0), int(calls or 0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _is_unavailable(exc: BaseException) -> bool:
    """Redis unreachable, timing out, restarting, out of memory or read-only: the shared counter cannot be
    used right now (as opposed to a bug in this package, which is raised)."""
    from redis.exceptions import RedisError

    return isinstance(exc, RedisError | OSError | asyncio.TimeoutError)


def _describe(exc: BaseException) -> str:
    text = str(exc).split("\n", 1)[0][:120]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class UnlimitedBudget(InMemoryBudget):
    """No limit, but spend is still tallied (the default when LLM_DAILY_COST_LIMIT_USD is unset)."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        super().__init__(None, None, clock=clock)
