"""MetricsReporter: one per bot process; reads the components' own counters when asked for a snapshot.

Why pull: the cache's L1 hit is a dict lookup and three integer increments; adding a callback there
would cost more than the hit itself. The components already count what the monitor needs
(`HierarchicalCache.stats()`, `BatcherStats`, `MarketDataClient.calls`, the LLM client's ledger), so the
reporter reads them at sample time (every few seconds) and nothing is added to any hot path. What no
component counts is derived: the LLM latency histogram from the ledger's records (consumed
incrementally, each record once), prompt compression from the `CompressionResult`s the bot hands to
`observe_compression` (a few integer additions per prompt), SQL statements from SQLAlchemy events.

A snapshot is a small JSON document with cumulative counters (Prometheus style) and gauges; the
monitor turns counters into rates over its windows.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import re
import resource
import socket
import time
from bisect import bisect_left
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pytest_oxbot._tasks import honour_swallowed_cancel
from pytest_oxbot.clock import Clock, SystemClock
from pytest_oxbot.monitor.actions import ActionApplier, ActionBoard, AppliedAction, BotTargets
from pytest_oxbot.monitor.metrics import LATENCY_BUCKETS_S

__all__ = ["PROCESS_NAME", "SNAPSHOT_VERSION", "MemoryProbe", "MetricsReporter", "process_memory"]

log = logging.getLogger("pytest_oxbot.monitor")
SNAPSHOT_VERSION = 1
PROCESS_NAME = re.compile(r"[A-Za-z0-9_.:@/-]{1,120}")
MemoryProbe = Callable[[], tuple[int, int]]
"""Returns (resident bytes now, peak resident bytes)."""


def process_memory() -> tuple[int, int]:
    """(RSS, peak RSS) in bytes from /proc/self/status; getrusage's peak where /proc is missing."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    try:
        with open("/proc/self/status", "rb") as fh:
            text = fh.read().decode("ascii", "replace")
    except OSError:
        return peak, peak
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values.get("VmRSS", peak), values.get("VmHWM", peak)


class _ModelStats:
    __slots__ = (
        "buckets",
        "calls",
        "completion_tokens",
        "cost",
        "estimated",
        "hits",
        "lat_n",
        "lat_sum",
        "prompt_tokens",
        "requests",
    )

    def __init__(self) -> None:
        self.requests = self.hits = self.calls = self.estimated = 0
        self.prompt_tokens = self.completion_tokens = self.lat_n = 0
        self.cost = Decimal(0)
        self.lat_sum = 0.0
        self.buckets = [0] * (len(LATENCY_BUCKETS_S) + 1)  # per bucket (not cumulative); last is +Inf

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "hits": self.hits,
            "calls": self.calls,
            "estimated": self.estimated,
            "cost": str(self.cost),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "lat_sum": self.lat_sum,
            "lat_n": self.lat_n,
            "buckets": list(self.buckets),
        }


class _LlmWatch:
    """Consumes the client's ledger incrementally (each record once)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.ledger = client.ledger
        self.cursor = 0
        self.models: dict[str, _ModelStats] = {}
        self.cost_by_day: dict[int, Decimal] = {}  # UTC day number (epoch // 86400): no datetime per record

    def consume(self) -> None:
        ledger = self.client.ledger
        records = ledger.records
        if ledger is not self.ledger or len(records) < self.cursor:  # a new or truncated ledger
            self.ledger, self.cursor = ledger, 0
        for r in records[self.cursor :]:
            m = self.models.get(r.model)
            if m is None:
                m = self.models[r.model] = _ModelStats()
            m.cost += r.cost
            day = int(r.timestamp // 86_400)
            self.cost_by_day[day] = self.cost_by_day.get(day, Decimal(0)) + r.cost
            if r.estimated:  # a timed-out attempt charged at its reservation: money, not a request
                m.estimated += 1
                continue
            m.requests += 1
            if r.cache_hit:
                m.hits += 1
                continue
            m.calls += 1
            m.prompt_tokens += r.prompt_tokens
            m.completion_tokens += r.completion_tokens
            m.lat_sum += r.latency_s
            m.lat_n += 1
            m.buckets[bisect_left(LATENCY_BUCKETS_S, r.latency_s)] += 1
        self.cursor = len(records)

    def snapshot(self) -> dict[str, Any]:
        self.consume()
        client = self.client
        now = client.clock.time()
        today = int(now // 86_400)
        budget = client.budget
        limit = getattr(budget, "daily_limit", None)
        router = client.router
        return {
            "models": {name: m.as_dict() for name, m in self.models.items()},
            "day": dt.datetime.fromtimestamp(now, tz=dt.UTC).date().isoformat(),
            "cost_today": str(self.cost_by_day.get(today, Decimal(0))),
            "budget_limit": None if limit is None else str(limit),
            "stopped": getattr(budget, "stopped", None),
            "forced_model": getattr(router, "forced_model", None),
            "default_model": router.default_model,
        }


class _EngineWatch:
    """Statement count, errors and time from SQLAlchemy's cursor events; pool gauges read on demand."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.engine = engine
        self.statements = self.errors = 0
        self.time_s = 0.0
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._before)
        event.listen(sync, "after_cursor_execute", self._after)
        event.listen(sync, "handle_error", self._error)

    def _before(self, conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any) -> None:
        conn.info["oxbot_t0"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any) -> None:
        self.statements += 1
        t0 = conn.info.pop("oxbot_t0", None)
        if t0 is not None:
            self.time_s += time.perf_counter() - t0

    def _error(self, context: Any) -> None:
        self.errors += 1

    def detach(self) -> None:
        from sqlalchemy import event

        sync = self.engine.sync_engine
        for name, fn in (
            ("before_cursor_execute", self._before),
            ("after_cursor_execute", self._after),
            ("handle_error", self._error),
        ):
            with contextlib.suppress(Exception):
                event.remove(sync, name, fn)

    def snapshot(self) -> dict[str, Any]:
        pool = self.engine.sync_engine.pool
        checked_out = getattr(pool, "checkedout", None)
        size = getattr(pool, "size", None)
        return {
            "statements": self.statements,
            "errors": self.errors,
            "time_s": self.time_s,
            "checked_out": checked_out() if callable(checked_out) else None,
            "pool_size": size() if callable(size) else None,
        }


class MetricsReporter:
    """Watch a bot's components; `snapshot()` is the JSON the monitor aggregates.

    `process` names this process in labels (default `host:pid`; keep it stable and low-cardinality).
    Components are watched by name (`watch_cache(cache, "decisions")`); the same reporter applies the
    monitor's actions to them (see `actions.py`).
    """

    def __init__(
        self,
        process: str | None = None,
        *,
        clock: Clock | None = None,
        memory_probe: MemoryProbe | None = None,
    ) -> None:
        self.process = process or f"{socket.gethostname()}:{os.getpid()}"
        if not PROCESS_NAME.fullmatch(self.process):
            raise ValueError(
                f"process must be 1-120 of letters, digits and _.:@/- (a label value), got {self.process!r}"
            )
        self.clock: Clock = clock or SystemClock()
        self.started = self.clock.time()
        self.memory_probe: MemoryProbe = memory_probe or process_memory
        """What reads the process's memory; a test may swap in a modelled one."""
        self._caches: dict[str, Any] = {}
        self._llm: dict[str, _LlmWatch] = {}
        self._batchers: dict[str, Any] = {}
        self._markets: dict[str, Any] = {}
        self._engines: dict[str, _EngineWatch] = {}
        self.cycles = 0
        self.compressed_prompts = 0
        self.original_tokens = 0
        self.compressed_tokens = 0
        self.compression_time_s = 0.0
        self.targets = BotTargets()
        self.actions = ActionApplier(self.targets, self.clock.time)
        self._seq = 0

    # -- wiring ----------------------------------------------------------------------------------
    def _name(self, name: str, taken: dict[str, Any]) -> str:
        if not name or len(name) > 64 or any(c.isspace() for c in name):
            raise ValueError(f"component name must be a short word, got {name!r}")
        if name in taken:
            raise ValueError(f"a component named {name!r} is already watched")
        return name

    def watch_cache(self, cache: Any, name: str = "cache") -> MetricsReporter:
        self._caches[self._name(name, self._caches)] = cache
        self.targets.caches[name] = cache
        return self

    def watch_llm(self, client: Any, name: str = "llm") -> MetricsReporter:
        self._llm[self._name(name, self._llm)] = _LlmWatch(client)
        self.targets.llm_clients[name] = client
        return self

    def watch_batcher(self, batcher: Any, name: str) -> MetricsReporter:
        self._batchers[self._name(name, self._batchers)] = batcher
        return self

    def watch_market(self, client: Any, name: str = "market") -> MetricsReporter:
        """The market client's requests and weight, and its ticker batcher (as `<name>.tickers`)."""
        self._markets[self._name(name, self._markets)] = client
        batcher = getattr(client, "ticker_batcher", None)
        if batcher is not None:
            self.watch_batcher(batcher, f"{name}.tickers")
        return self

    def watch_engine(self, engine: Any, name: str = "db") -> MetricsReporter:
        """SQL statements and their time (two SQLAlchemy event callbacks per statement) and the pool."""
        self._engines[self._name(name, self._engines)] = _EngineWatch(engine)
        return self

    def close(self) -> None:
        for watch in self._engines.values():
            watch.detach()

    # -- what the bot tells us -------------------------------------------------------------------
    def observe_compression(self, result: Any) -> None:
        """Count one `CompressionResult` (the compressor is stateless: only the bot sees its results)."""
        self.compressed_prompts += 1
        self.original_tokens += result.original_tokens
        self.compressed_tokens += result.compressed_tokens
        self.compression_time_s += result.elapsed_s

    def record_cycle(self, count: int = 1) -> None:
        """One decision cycle done (the denominator of `api_calls_per_cycle`)."""
        self.cycles += count

    # -- the snapshot ----------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        self._seq += 1
        rss, peak = self.memory_probe()
        return {
            "v": SNAPSHOT_VERSION,
            "process": self.process,
            "pid": os.getpid(),
            "t": self.clock.time(),
            "started": self.started,
            "seq": self._seq,
            "caches": {n: _cache_snapshot(c) for n, c in self._caches.items()},
            "llm": {n: w.snapshot() for n, w in self._llm.items()},
            "batchers": {n: _batcher_snapshot(b) for n, b in self._batchers.items()},
            "markets": {n: _market_snapshot(m) for n, m in self._markets.items()},
            "db": {n: w.snapshot() for n, w in self._engines.items()},
            "compressor": {
                "prompts": self.compressed_prompts,
                "original_tokens": self.original_tokens,
                "compressed_tokens": self.compressed_tokens,
                "time_s": self.compression_time_s,
            },
            "cycles": self.cycles,
            "memory": {"rss_bytes": rss, "peak_rss_bytes": peak},
            "actions": list(self.actions.recent())[-20:],
        }

    def to_json(self) -> str:
        return json.dumps(self.snapshot(), separators=(",", ":"), allow_nan=False)

    async def apply(self, board: ActionBoard) -> list[AppliedAction]:
        """Bring this process's components in line with the monitor's action board."""
        return await self.actions.sync(board)

    async def publish_forever(self, link: Any, interval_s: float = 5.0) -> None:
        """Push a snapshot (and apply the board) every `interval_s` until cancelled; errors are logged."""
        while True:
            try:
                await link.publish(self)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("PERFORMANCE reporter %s could not publish: %s", self.process, type(exc).__name__)
            honour_swallowed_cancel()
            await asyncio.sleep(interval_s)


def _num(value: float) -> float | None:
    return value if value == value and value not in (float("inf"), float("-inf")) else None


def _cache_snapshot(cache: Any) -> dict[str, Any]:
    s = cache.stats()
    memory = cache.memory
    return {
        "lookups": s.lookups,
        "hits": s.hits,
        "loads": s.loads,
        "load_errors": s.load_errors,
        "coalesced": s.coalesced,
        "invalidations": s.invalidations_received,
        "l1_entries": s.l1_entries,
        "l1_bytes": s.l1_bytes,
        "l1_evictions": s.l1_evictions,
        "l1_max_entries": memory.max_entries if memory is not None else None,
        "l1_max_bytes": memory.max_bytes if memory is not None else None,
        "tiers": {
            name: {
                "hits": t.hits,
                "misses": t.misses,
                "errors": t.errors,
                "up": t.up,
                "lat_sum": t.latency_total_s,
                "lat_n": t.latency_count,
            }
            for name, t in s.tiers.items()
        },
        "ttl": {"l1": _num(cache.l1_ttl), "l2": _num(cache.l2_ttl), "l3": _num(cache.l3_ttl)},
    }


def _batcher_snapshot(batcher: Any) -> dict[str, Any]:
    s = batcher.stats
    return {
        "batches": s.batches,
        "items": s.items,
        "coalesced": s.coalesced,
        "failed_items": s.failed_items,
        "failed_batches": s.failed_batches,
        "cancelled_items": s.cancelled_items,
        "queue_wait_total": s.queue_wait_total,
        "queue_wait_max": s.queue_wait_max,
    }


def _market_snapshot(client: Any) -> dict[str, Any]:
    return {
        "requests": dict(client.calls),
        "used_weight": client.used_weight,
        "unknown_symbols": len(client.unknown_symbols),
    }
