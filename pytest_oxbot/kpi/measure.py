"""Record KPIs from a test: explicit values, wall-clock timings, peak memory, async benchmarks, and the
deterministic counts (instructions under valgrind, Redis commands, SQL statements, PostgreSQL buffers).

The recorder only validates names and hands values to a sink (the plugin's per-test stash), so the same
object works outside pytest. Async benchmarks run on the caller's own event loop, which
pytest-benchmark cannot do.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, SupportsFloat

from pytest_oxbot.errors import KpiUsageError
from pytest_oxbot.kpi.catalogue import INSTRUCTIONS_SUFFIX, spec_for
from pytest_oxbot.kpi.errors import InstrumentUnavailable

# The instruments (subprocess + valgrind, SQLAlchemy events) are imported by the methods that use them.
if TYPE_CHECKING:
    from sqlalchemy import Executable
    from sqlalchemy.ext.asyncio import AsyncConnection

    from pytest_oxbot.kpi.instructions import InstructionCount
    from pytest_oxbot.kpi.redis_counts import RedisCount
    from pytest_oxbot.kpi.sql_counts import SqlCount


class Sink(Protocol):
    """Where recorded values go (the plugin binds it to the current test)."""

    def __call__(self, name: str, value: float, samples: Sequence[float], source: str) -> None: ...


class Timing:
    """The outcome of a `measure()` block, filled in when the block exits."""

    __slots__ = ("name", "seconds")

    def __init__(self, name: str, seconds: float = 0.0) -> None:
        self.name = name
        self.seconds = seconds

    def __repr__(self) -> str:
        return f"Timing({self.name!r}, seconds={self.seconds!r})"


class MemoryPeak:
    """The outcome of a `track_memory()` block: peak traced allocation in MiB."""

    __slots__ = ("megabytes", "name")

    def __init__(self, name: str, megabytes: float = 0.0) -> None:
        self.name = name
        self.megabytes = megabytes

    def __repr__(self) -> str:
        return f"MemoryPeak({self.name!r}, megabytes={self.megabytes!r})"


class BenchResult:
    """Per-round timings of `benchmark_async` (seconds)."""

    __slots__ = ("name", "samples")

    def __init__(self, name: str, samples: list[float] | None = None) -> None:
        self.name = name
        self.samples: list[float] = samples if samples is not None else []

    @property
    def mean(self) -> float:
        return sum(self.samples) / len(self.samples) if self.samples else 0.0

    def __repr__(self) -> str:
        return f"BenchResult({self.name!r}, {len(self.samples)} samples, mean={self.mean!r})"


class KpiRecorder:
    """The `oxbot_kpi` fixture's object: several KPIs per test, each checked against the catalogue."""

    def __init__(
        self,
        sink: Sink,
        timer: Callable[[], float] = time.perf_counter,
        unavailable: Callable[[InstrumentUnavailable], NoReturn] | None = None,
    ) -> None:
        self._sink = sink
        self._timer = timer
        self._unavailable = unavailable

    def record(
        self, name: str, value: SupportsFloat, *, samples: Sequence[float] = (), source: str = "explicit"
    ) -> None:
        """Record one KPI value (with the samples it was computed from, for noise-aware comparison)."""
        name = spec_for(name).name  # a guide alias is recorded under its catalogue name
        if isinstance(value, bool) or not isinstance(value, numbers.Real):  # numpy scalars welcome
            raise KpiUsageError(f"{name}: a KPI value must be a number, not {type(value).__name__}")
        measured = (float(value), *(float(s) for s in samples))
        if not all(math.isfinite(v) for v in measured):  # NaN compares as neither better nor worse
            raise KpiUsageError(f"{name}: a KPI value and its samples must be finite, got {float(value)!r}")
        self._sink(name, measured[0], measured[1:], source)

    @contextmanager
    def measure(self, name: str = "wall_time") -> Iterator[Timing]:
        """Time a synchronous block and record it as a wall-clock latency."""
        spec_for(name)
        timing = Timing(name)
        start = self._timer()
        try:
            yield timing
        finally:
            timing.seconds = self._timer() - start
        self.record(name, timing.seconds, source="measure")

    @asynccontextmanager
    async def measure_async(self, name: str = "wall_time") -> AsyncIterator[Timing]:
        """Time an `async with` block (awaits included) and record it."""
        with self.measure(name) as timing:
            yield timing

    @contextmanager
    def track_memory(self, name: str = "memory_usage_mb") -> Iterator[MemoryPeak]:
        """Record the peak of Python allocations made inside the block (tracemalloc), in MiB."""
        import tracemalloc

        spec_for(name)
        peak = MemoryPeak(name)
        started = not tracemalloc.is_tracing()
        if started:
            tracemalloc.start()
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        try:
            yield peak
        finally:
            _, top = tracemalloc.get_traced_memory()
            if started:
                tracemalloc.stop()
            peak.megabytes = max(0, top - before) / 2**20
        self.record(name, peak.megabytes, source="tracemalloc")

    async def benchmark_async(
        self,
        func: Callable[..., Awaitable[Any]],
        *args: Any,
        name: str = "wall_time",
        rounds: int = 20,
        warmup: int = 1,
        **kwargs: Any,
    ) -> BenchResult:
        """Await `func(*args, **kwargs)` `warmup + rounds` times on the running loop; record the mean."""
        spec_for(name)
        if rounds < 1 or warmup < 0:
            raise KpiUsageError(f"{name}: rounds must be >= 1 and warmup >= 0 (got {rounds}, {warmup})")
        for _ in range(warmup):
            await func(*args, **kwargs)
        result = BenchResult(name)
        for _ in range(rounds):
            start = self._timer()
            await func(*args, **kwargs)
            result.samples.append(self._timer() - start)
        self.record(name, result.mean, samples=result.samples, source="benchmark_async")
        return result

    def count_instructions(
        self,
        fn: Callable[..., Any],
        *args: Any,
        name: str | None = None,
        rounds: int = 3,
        warmup: int = 2,
        setup: Callable[..., Any] | None = None,
        env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> InstructionCount:
        """Count the instructions of `fn(*args, **kwargs)` (sync or async) under valgrind, in a child
        process; record them as `name` (default `<fn>_instructions`), unit instructions, deterministic.

        `fn` (and `setup`) must be importable by name and the arguments JSON values: see
        `pytest_oxbot.kpi.instructions`. Where valgrind cannot run, the plugin skips the test with the
        reason (a failure under OXBOT_REQUIRE_INSTRUMENTS=1); outside pytest, `InstrumentUnavailable`.
        """
        from pytest_oxbot.kpi import instructions

        kpi = name or f"{getattr(fn, '__name__', 'call')}{INSTRUCTIONS_SUFFIX}"
        if not kpi.endswith(INSTRUCTIONS_SUFFIX):
            raise KpiUsageError(f"{kpi}: an instruction count's name must end in {INSTRUCTIONS_SUFFIX!r}")
        spec_for(kpi)
        try:
            count = instructions.count_instructions(
                fn, *args, rounds=rounds, warmup=warmup, setup=setup, env=env, **kwargs
            )
        except InstrumentUnavailable as exc:
            if self._unavailable is None:
                raise
            self._unavailable(exc)
        self.record(kpi, count.per_call, source="valgrind")
        return count

    def require_instruments(self) -> None:
        """Skip the test (or fail it, under OXBOT_REQUIRE_INSTRUMENTS=1) where instructions cannot be
        counted, before any expensive set-up; outside pytest, raise `InstrumentUnavailable`."""
        from pytest_oxbot.kpi import instructions

        try:
            instructions.require_instrument()
        except InstrumentUnavailable as exc:
            if self._unavailable is None:
                raise
            self._unavailable(exc)

    @contextmanager
    def count_redis(self, client: Any, *, prefix: str = "") -> Iterator[RedisCount]:
        """Record `<prefix>redis_commands` and `<prefix>redis_round_trips` sent by `client` in the block."""
        from pytest_oxbot.kpi.redis_counts import count_redis

        commands, trips = f"{prefix}redis_commands", f"{prefix}redis_round_trips"
        spec_for(commands)
        with count_redis(client) as counts:
            yield counts
        self.record(commands, counts.commands, source="redis client")
        self.record(trips, counts.round_trips, source="redis client")

    @contextmanager
    def count_sql(self, engine: Any, *, name: str = "sql_statements") -> Iterator[SqlCount]:
        """Record the SQL statements executed on `engine` (sync or async) in the block as `name`."""
        from pytest_oxbot.kpi.sql_counts import count_sql

        spec_for(name)
        with count_sql(engine) as counts:
            yield counts
        self.record(name, counts.statements, source="sqlalchemy events")

    async def db_buffers(
        self, conn: AsyncConnection, *statements: Executable | str, name: str = "db_buffers"
    ) -> int:
        """Record the PostgreSQL shared buffers (hit + read) that executing `statements` touches."""
        from pytest_oxbot.kpi.sql_counts import explain_buffers

        spec_for(name)
        if not statements:
            raise KpiUsageError(f"{name}: give at least one statement to explain")
        total = 0
        for statement in statements:
            total += await explain_buffers(conn, statement)
        self.record(name, total, source="EXPLAIN (ANALYZE, BUFFERS)")
        return total
