"""Several bot processes, one monitor: JSON snapshots and the action board in the Redis the bots share.

Each process writes its snapshot under `{prefix}:snap:<process>` with a TTL (a process that stops
disappears from the fleet by itself) and registers its name in a set; the monitor reads them all in one
MGET. The monitor writes the action board (a hash) that every reporter reads back in the same pipeline
as its write. Only JSON crosses Redis, never pickle (unpickling what another process wrote is code
execution), and a snapshot is size-checked and shape-checked before use. Keys share one hash tag so a
Redis Cluster keeps them in one slot. Clients come from `pytest_oxbot.connections`.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from pytest_oxbot.monitor.actions import ActionBoard, AppliedAction
from pytest_oxbot.monitor.errors import SnapshotError
from pytest_oxbot.monitor.reporter import PROCESS_NAME, SNAPSHOT_VERSION, MetricsReporter

__all__ = [
    "DEFAULT_PREFIX",
    "MAX_PROCESSES",
    "MAX_SNAPSHOT_BYTES",
    "RedisFleet",
    "RedisReporterLink",
    "parse_snapshot",
]

log = logging.getLogger("pytest_oxbot.monitor")
DEFAULT_PREFIX = "oxbot:monitor"
MAX_SNAPSHOT_BYTES = 256 * 1024
MAX_PROCESSES = 1000


class _Keys:
    def __init__(self, prefix: str) -> None:
        if not prefix or any(c.isspace() or c in "{}" for c in prefix):
            raise ValueError(f"prefix must be a word without spaces or braces, got {prefix!r}")
        tag = "{" + prefix + "}"
        self.procs = f"{tag}:procs"
        self.actions = f"{tag}:actions"
        self._snap = f"{tag}:snap:"

    def snap(self, process: str) -> str:
        return self._snap + process


def _decode(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_snapshot(raw: str | bytes, *, process: str | None = None) -> dict[str, Any]:
    """A reporter's snapshot from its JSON, or `SnapshotError` (too big, not JSON, wrong shape)."""
    if len(raw) > MAX_SNAPSHOT_BYTES:
        raise SnapshotError(f"snapshot of {len(raw)} bytes is over the {MAX_SNAPSHOT_BYTES}-byte limit")
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"snapshot is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("v") != SNAPSHOT_VERSION:
        raise SnapshotError(f"snapshot is not a version-{SNAPSHOT_VERSION} object")
    name = data.get("process")
    if not isinstance(name, str) or not PROCESS_NAME.fullmatch(name):
        raise SnapshotError(f"snapshot names an invalid process {str(name)[:40]!r}")
    if process is not None and name != process:
        raise SnapshotError(f"snapshot names process {name!r}, expected {process!r}")
    for key in ("t", "started"):
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise SnapshotError(f"snapshot field {key!r} must be a number")
    for key in ("caches", "llm", "batchers", "markets", "db", "compressor", "memory"):
        if not isinstance(data.get(key, {}), dict):
            raise SnapshotError(f"snapshot field {key!r} must be an object")
    return data


class RedisReporterLink:
    """The bot's side: `await link.publish(reporter)` writes its snapshot and applies the board."""

    def __init__(self, redis: Any, *, prefix: str = DEFAULT_PREFIX, ttl_s: float = 30.0) -> None:
        if not ttl_s > 0:
            raise ValueError("ttl_s must be > 0")
        self.redis = redis
        self.keys = _Keys(prefix)
        self.ttl_ms = max(1, int(ttl_s * 1000))

    async def publish(self, reporter: MetricsReporter) -> list[AppliedAction]:
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self.keys.snap(reporter.process), reporter.to_json(), px=self.ttl_ms)
        pipe.zadd(self.keys.procs, {reporter.process: reporter.clock.time()})
        pipe.hgetall(self.keys.actions)
        results = await pipe.execute()
        return await reporter.apply(ActionBoard.from_hash(results[-1] or {}))

    async def withdraw(self, reporter: MetricsReporter) -> None:
        """Leave the fleet at once (instead of when the snapshot's TTL runs out)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(self.keys.snap(reporter.process))
        pipe.zrem(self.keys.procs, reporter.process)
        await pipe.execute()


class RedisFleet:
    """The monitor's side: read every live process's snapshot; write the action board."""

    def __init__(self, redis: Any, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.redis = redis
        self.keys = _Keys(prefix)
        self.rejected = 0

    async def read(self) -> dict[str, dict[str, Any]]:
        names = [_decode(n) for n in await self.redis.zrange(self.keys.procs, 0, MAX_PROCESSES - 1)]
        if not names:
            return {}
        raws = await self.redis.mget([self.keys.snap(n) for n in names])
        out: dict[str, dict[str, Any]] = {}
        gone = []
        for name, raw in zip(names, raws, strict=True):
            if raw is None:
                gone.append(name)  # its TTL ran out: the process stopped reporting
                continue
            try:
                out[name] = parse_snapshot(raw, process=name)
            except SnapshotError as exc:
                self.rejected += 1
                log.warning("PERFORMANCE ignoring the snapshot of %r: %s", name[:120], exc)
        if gone:
            await self.redis.zrem(self.keys.procs, *gone)
        return out

    async def write_board(self, board: ActionBoard) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(self.keys.actions)
        pipe.hset(self.keys.actions, mapping=board.to_hash())
        await pipe.execute()

    async def read_board(self) -> ActionBoard:
        return ActionBoard.from_hash(await self.redis.hgetall(self.keys.actions) or {})

    async def clear(self) -> None:
        names = [_decode(n) for n in await self.redis.zrange(self.keys.procs, 0, -1)]
        keys = [self.keys.procs, self.keys.actions, *(self.keys.snap(n) for n in names)]
        await self.redis.delete(*keys)
