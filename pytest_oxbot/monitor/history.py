"""The monitor's memory: downsampled metrics and the alert history in SQL, surviving a restart.

One row per (time bucket, metric, process) at `history_resolution_s` (60 s by default: 1,440 rows per
metric and process a day), rows older than the retention deleted as new ones come. SQLite by default,
PostgreSQL when configured; the engine comes from `pytest_oxbot.connections.make_engine`, so the pool
and SQLite settings are the toolkit's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, Text, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from pytest_oxbot.connections import make_engine

__all__ = ["FLEET", "AlertRecord", "HistoryStore"]

FLEET = "*"  # the `process` of fleet-wide rows


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One line of the alert history: fired, cleared, repeated, reset."""

    t: float
    alert: str
    event: str
    value: float | None
    threshold: float | None
    action: str | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "alert": self.alert,
            "event": self.event,
            "value": self.value,
            "threshold": self.threshold,
            "action": self.action,
            "detail": self.detail,
        }


class HistoryStore:
    """Metric points and alert events in two tables (`<prefix>_points`, `<prefix>_alerts`)."""

    def __init__(
        self, engine: AsyncEngine, *, table_prefix: str = "oxbot_monitor", owns_engine: bool = False
    ):
        if not table_prefix.replace("_", "").isalnum():
            raise ValueError(f"table_prefix must be letters, digits and '_', got {table_prefix!r}")
        self.engine = engine
        self._owns = owns_engine
        meta = MetaData()
        self.points = Table(
            f"{table_prefix}_points",
            meta,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("t", Float, nullable=False),
            Column("metric", String(64), nullable=False),
            Column("process", String(128), nullable=False),
            Column("value", Float, nullable=False),
            Index(f"ix_{table_prefix}_points_lookup", "metric", "process", "t"),
            Index(f"ix_{table_prefix}_points_t", "t"),
        )
        self.alerts = Table(
            f"{table_prefix}_alerts",
            meta,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("t", Float, nullable=False, index=True),
            Column("alert", String(64), nullable=False),
            Column("event", String(16), nullable=False),
            Column("value", Float, nullable=True),
            Column("threshold", Float, nullable=True),
            Column("action", String(64), nullable=True),
            Column("detail", Text, nullable=False, default=""),
        )
        self._meta = meta
        # One statement at a time: an in-memory SQLite shares one connection between all callers, and the
        # dashboard reads while the sampler writes. The monitor's few queries a minute never queue long.
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> HistoryStore:
        return cls(make_engine(url), owns_engine=True, **kwargs)

    async def create(self) -> None:
        async with self._lock, self.engine.begin() as conn:
            await conn.run_sync(self._meta.create_all)

    async def aclose(self) -> None:
        if self._owns:
            await self.engine.dispose()

    async def write_points(
        self, t: float, rows: Sequence[tuple[str, str, float]], *, keep_after: float
    ) -> None:
        """Store one bucket of (metric, process, value) rows and drop rows older than `keep_after`."""
        async with self._lock, self.engine.begin() as conn:
            if rows:
                await conn.execute(
                    insert(self.points),
                    [{"t": t, "metric": m, "process": p, "value": v} for m, p, v in rows],
                )
            await conn.execute(delete(self.points).where(self.points.c.t < keep_after))
            await conn.execute(delete(self.alerts).where(self.alerts.c.t < keep_after))

    async def series(
        self, metric: str, *, since: float, process: str = FLEET, max_points: int = 720
    ) -> list[tuple[float, float]]:
        """(t, value) oldest first; averaged into at most `max_points` buckets when there are more rows."""
        p = self.points
        query = (
            select(p.c.t, p.c.value)
            .where(p.c.metric == metric, p.c.process == process, p.c.t >= since)
            .order_by(p.c.t)
        )
        async with self._lock, self.engine.connect() as conn:
            rows = [(float(t), float(v)) for t, v in (await conn.execute(query)).all()]
        if len(rows) <= max_points:
            return rows
        step = len(rows) / max_points
        out = []
        for i in range(max_points):
            chunk = rows[int(i * step) : int((i + 1) * step)] or [rows[-1]]
            out.append((chunk[-1][0], sum(v for _, v in chunk) / len(chunk)))
        return out

    async def processes(self, *, since: float) -> list[str]:
        p = self.points
        query = select(p.c.process).where(p.c.t >= since).distinct()
        async with self._lock, self.engine.connect() as conn:
            return sorted(str(r[0]) for r in (await conn.execute(query)).all())

    async def add_alert(self, record: AlertRecord) -> None:
        async with self._lock, self.engine.begin() as conn:
            await conn.execute(insert(self.alerts), [record.as_dict()])

    async def alert_history(self, *, since: float, limit: int = 200) -> list[AlertRecord]:
        a = self.alerts
        query = select(a).where(a.c.t >= since).order_by(a.c.t.desc(), a.c.id.desc()).limit(limit)
        async with self._lock, self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            AlertRecord(
                t=float(r["t"]),
                alert=str(r["alert"]),
                event=str(r["event"]),
                value=r["value"],
                threshold=r["threshold"],
                action=r["action"],
                detail=str(r["detail"] or ""),
            )
            for r in rows
        ]

    async def clear(self) -> None:
        async with self._lock, self.engine.begin() as conn:
            await conn.execute(delete(self.points))
            await conn.execute(delete(self.alerts))
