"""The cache against a model (a dict with TTLs on the fake clock) across gets, sets, deletes, clock
advances and tier outages, on fakeredis+SQLite and on real Redis+PostgreSQL.

With every tier up, the cache must answer exactly like the model for keys last written or deleted
while every tier was up. Otherwise it may miss, but never return a value the model does not hold
(no stale value, no resurrected delete, no value past its TTL, no change of type).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from pytest_oxbot._plugin.backends import configured_database_url, configured_redis_url, unavailable
from pytest_oxbot.cache import FaultPolicy, HierarchicalCache
from pytest_oxbot.cache.faults import faulty
from pytest_oxbot.clock import FakeClock
from pytest_oxbot.connections import make_engine, make_redis_client

KEYS = st.sampled_from(["a", "b", "c"])
VALUES = (
    st.integers()
    | st.text(max_size=8)
    | st.decimals(allow_nan=False, allow_infinity=False, places=4)
    | st.binary(max_size=8)
    | st.datetimes(timezones=st.just(dt.UTC))
    | st.lists(st.integers(), max_size=3)
    | st.tuples(st.text(max_size=3), st.decimals(allow_nan=False, allow_infinity=False, places=2))
)
TTLS = st.none() | st.sampled_from([5.0, 45.0, 400.0, 1000.0])
L3_TTL = 86_400.0
MISSING = "<miss>"


class Backends:
    """Where the machine's caches live; each example gets fresh clients on its own event loop."""

    def __init__(self, redis_url: str | None, database_url: str) -> None:
        self.redis_url = redis_url
        self.database_url = database_url
        self.table = f"oxbot_cache_sm_{uuid.uuid4().hex[:10]}"

    def make(self, clock: FakeClock) -> HierarchicalCache:
        if self.redis_url:
            redis: Any = make_redis_client(self.redis_url)
        else:
            from fakeredis import FakeServer
            from fakeredis.aioredis import FakeRedis

            redis = FakeRedis(server=FakeServer())
        return HierarchicalCache(
            redis,
            make_engine(self.database_url),
            clock=clock,
            table=self.table,
            namespace=f"oxbot-test-sm-{uuid.uuid4().hex[:10]}",
            l1_max_entries=2,
            l3_ttl=L3_TTL,
            faults=FaultPolicy(retry_interval=0),
            owns_backends=True,
        )

    async def drop(self) -> None:
        engine = make_engine(self.database_url)
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{self.table}"')
        await engine.dispose()


class CacheModel(RuleBasedStateMachine):
    backends: ClassVar[Backends]

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock()
        self.cache = self.backends.make(self.clock)
        self.model: dict[str, tuple[Any, float]] = {}
        self.uncertain: set[str] = set()
        self.down = {"l2": False, "l3": False}

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        async def close() -> None:
            client = self.cache.redis
            if self.backends.redis_url and client is not None:
                keys = [k async for k in client.scan_iter(match=self.cache.prefix + "*")]
                if keys:
                    await client.unlink(*keys)
            await self.cache.aclose()

        try:
            self.run(close())
        finally:
            self.loop.close()

    # -- the model -----------------------------------------------------------------------------
    def expected(self, key: str) -> Any:
        value, deadline = self.model.get(key, (MISSING, 0.0))
        return value if deadline > self.clock.time() else MISSING

    def written(self, key: str, value: Any, ttl: float | None) -> None:
        self.model[key] = (value, self.clock.time() + min(L3_TTL, ttl or L3_TTL))
        self._certainty(key)

    def _certainty(self, key: str) -> None:
        if any(self.down.values()):
            self.uncertain.add(key)
        else:
            self.uncertain.discard(key)

    def check(self, key: str, got: Any) -> None:
        want = self.expected(key)
        if not any(self.down.values()) and key not in self.uncertain:
            assert repr(got) == repr(want), f"{key}: got {got!r}, model has {want!r}"
        else:
            assert got == MISSING or repr(got) == repr(want), f"{key}: got {got!r}, model has {want!r}"

    # -- rules -----------------------------------------------------------------------------------
    @rule(key=KEYS, value=VALUES, ttl=TTLS)
    def set(self, key: str, value: Any, ttl: float | None) -> None:
        self.run(self.cache.set(key, value, ttl=ttl))
        self.written(key, value, ttl)

    @rule(items=st.dictionaries(KEYS, VALUES, min_size=1, max_size=3), ttl=TTLS)
    def set_many(self, items: dict[str, Any], ttl: float | None) -> None:
        self.run(self.cache.set_many(items, ttl=ttl))
        for key, value in items.items():
            self.written(key, value, ttl)

    @rule(key=KEYS)
    def get(self, key: str) -> None:
        self.check(key, self.run(self.cache.get(key, MISSING)))

    @rule(keys=st.lists(KEYS, min_size=1, max_size=4, unique=True))
    def get_many(self, keys: list[str]) -> None:
        found = self.run(self.cache.get_many(keys))
        for key in keys:
            self.check(key, found.get(key, MISSING))

    @rule(key=KEYS, value=VALUES, ttl=TTLS)
    def get_or_compute(self, key: str, value: Any, ttl: float | None) -> None:
        calls = []

        async def load() -> Any:
            calls.append(1)
            return value

        got = self.run(self.cache.get_or_compute(key, load, ttl=ttl))
        if calls:
            self.check(key, MISSING)  # a load is only right when the cache could miss
            self.written(key, value, ttl)
        else:
            self.check(key, got)

    @rule(key=KEYS)
    def delete(self, key: str) -> None:
        self.run(self.cache.delete(key))
        self.model.pop(key, None)
        self._certainty(key)

    @rule()
    def clear(self) -> None:
        self.run(self.cache.clear())
        self.model.clear()
        self.uncertain = set() if not any(self.down.values()) else {"a", "b", "c"}

    @rule(seconds=st.sampled_from([1.0, 31.0, 301.0, 90_000.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(tier=st.sampled_from(["l2", "l3"]), key=KEYS, value=st.none() | VALUES, ttl=TTLS)
    def write_through_a_short_outage(self, tier: str, key: str, value: Any, ttl: float | None) -> None:
        """A tier misses one write (or delete when `value` is None) and comes back at once."""
        was_down = self.down[tier]
        if not was_down:
            self.toggle_outage(tier)
        if value is None:
            self.delete(key)
        else:
            self.set(key, value, ttl)
        if not was_down:
            self.toggle_outage(tier)

    @rule(tier=st.sampled_from(["l2", "l3"]))
    def toggle_outage(self, tier: str) -> None:
        wrapper = faulty(self.cache, tier)
        wrapper.down = not wrapper.down
        self.down[tier] = wrapper.down
        if wrapper.down:  # what a tier held may now be unreachable for a while
            self.uncertain.update(self.model)

    @invariant()
    def l1_within_caps(self) -> None:
        memory = self.cache.memory
        assert memory is not None
        assert len(memory) <= 2


def run_machine(backends: Backends, max_examples: int) -> None:
    machine = type("Machine", (CacheModel,), {"backends": backends})
    try:
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=max_examples,
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
                database=None,
            ),
        )
    finally:
        asyncio.run(backends.drop())


def test_matches_the_model_on_fakeredis_and_sqlite(tmp_path: Path) -> None:
    run_machine(Backends(None, f"sqlite+aiosqlite:///{tmp_path / 'sm.sqlite3'}"), max_examples=100)


def test_matches_the_model_on_real_redis_and_postgres(request: pytest.FixtureRequest) -> None:
    redis_url = configured_redis_url(request.config)
    database_url = configured_database_url(request.config)
    if not (redis_url and database_url):
        unavailable("real Redis and database", "both URLs are needed for this run of the model")
    run_machine(Backends(redis_url, database_url), max_examples=60)
