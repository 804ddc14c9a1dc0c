"""Monitor: samples the fleet, evaluates the alerts, writes the action board and the history.

One `tick()` is one sample: read every process's snapshot (reporters in this process, and the fleet in
Redis), difference the counters over each alert's window, advance the alerts, publish the board, and
every `history_resolution_s` store the metrics. `run()` ticks every `sample_interval_s`; tests call
`tick()` themselves on a fake clock. The HTTP service (`app.py`) is a thin view over this object.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Sequence
from typing import Any

from pytest_oxbot._tasks import honour_swallowed_cancel
from pytest_oxbot.clock import Clock, SystemClock
from pytest_oxbot.monitor.actions import ActionBoard, ActionOrder, AppliedAction
from pytest_oxbot.monitor.aggregate import FlatPoint, WindowMetrics, derive, flatten, window_delta
from pytest_oxbot.monitor.alerts import AlertEvent, AlertState, evaluate
from pytest_oxbot.monitor.config import MonitorConfig
from pytest_oxbot.monitor.errors import MonitorConfigError
from pytest_oxbot.monitor.fleet import RedisFleet
from pytest_oxbot.monitor.history import FLEET, AlertRecord, HistoryStore
from pytest_oxbot.monitor.metrics import METRICS
from pytest_oxbot.monitor.reporter import MetricsReporter

__all__ = ["Monitor"]

log = logging.getLogger("pytest_oxbot.monitor")
_MAX_EVENTS = 500
_LOGGED = ("cache_hit_rate", "llm_response_time", "cost_per_decision_usd", "cost_today_usd", "memory_mb")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


class Monitor:
    """The live monitor over in-process reporters and/or a Redis fleet (all arguments explicit)."""

    def __init__(
        self,
        config: MonitorConfig,
        *,
        reporters: Sequence[MetricsReporter] = (),
        fleet: RedisFleet | None = None,
        history: HistoryStore | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.reporters = {r.process: r for r in reporters}
        if len(self.reporters) != len(reporters):
            raise ValueError("two reporters have the same process name")
        self.fleet = fleet
        self.history = history
        self.states = {rule.name: AlertState(rule) for rule in config.alerts}
        self.board = ActionBoard()
        self.snapshots: dict[str, dict[str, Any]] = {}
        self.current = WindowMetrics()
        self.per_process: dict[str, WindowMetrics] = {}
        self.events: deque[AlertRecord] = deque(maxlen=_MAX_EVENTS)
        self.started_at = self.clock.time()
        self.ticks = 0
        self.last_error: str | None = None
        self._points: deque[tuple[float, dict[str, FlatPoint]]] = deque()
        self._keep_s = max([r.window_s for r in config.alerts] + [config.history_resolution_s]) * 1.5
        self._last_history: float | None = None
        self._started = False
        self._lock = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> Monitor:
        """Check the rules against the local components, create the tables, pick up the board in force."""
        if self._started:
            return self
        self._check_actions()
        if self.history is not None:
            await self.history.create()
        if self.fleet is not None:
            board = await self.fleet.read_board()
            # Orders still in force from a previous monitor (an emergency stop must survive a restart).
            self.board = board
            for name, order in board.orders.items():
                state = self.states.get(name)
                if state is not None and not order.cleared:
                    state.active, state.since, state.seq = True, order.since, order.seq
        for reporter in self.reporters.values():
            await reporter.apply(self.board)
        self._started = True
        log.info(
            "PERFORMANCE monitor started: %d alert rule(s), %d local reporter(s), redis fleet: %s",
            len(self.states),
            len(self.reporters),
            self.fleet is not None,
        )
        return self

    async def aclose(self) -> None:
        if self.history is not None:
            await self.history.aclose()

    async def run(self) -> None:
        """Tick every `sample_interval_s` until cancelled; a failing tick is logged, not fatal."""
        await self.start()
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("PERFORMANCE monitor tick failed")
            honour_swallowed_cancel()  # a cancel swallowed during the tick: `run()` would never end
            await asyncio.sleep(self.config.sample_interval_s)

    def _check_actions(self) -> None:
        self._check_actions_for(self.config)

    def _check_actions_for(self, config: MonitorConfig) -> None:
        for rule in config.alerts:
            for reporter in self.reporters.values():
                for name, client in reporter.targets.llm_clients.items():
                    if rule.action == "switch_to_faster_model":
                        model = str(rule.params["model"])
                        try:
                            client.price_table.get(model)
                        except Exception as exc:
                            raise MonitorConfigError(
                                f"alert {rule.name}: faster model {model!r} is not usable by {name}: {exc}"
                            ) from None
                    if rule.action == "emergency_stop" and not hasattr(client.budget, "emergency_stop"):
                        raise MonitorConfigError(
                            f"alert {rule.name}: the budget of {name} ({type(client.budget).__name__}) "
                            "has no emergency_stop()"
                        )

    def reconfigure(self, config: MonitorConfig) -> None:
        """Swap in a new configuration (e.g. an edited alert file): unchanged rules keep their state; a rule
        that was removed or changed withdraws its order (a held action is undone at the next sample)."""
        self._check_actions_for(config)
        states = {}
        for rule in config.alerts:
            old = self.states.get(rule.name)
            states[rule.name] = old if old is not None and old.rule == rule else AlertState(rule)
        for name in list(self.board.orders):
            if states.get(name) is not self.states.get(name):
                del self.board.orders[name]
        self.config, self.states = config, states
        self._keep_s = max([r.window_s for r in config.alerts] + [config.history_resolution_s]) * 1.5
        log.info("PERFORMANCE monitor reconfigured: %s", ", ".join(states) or "no alert")

    # -- one sample --------------------------------------------------------------------------------
    async def tick(self) -> list[AlertEvent]:
        async with self._lock:
            return await self._tick()

    async def _tick(self) -> list[AlertEvent]:
        if not self._started:
            await self.start()
        now = self.clock.time()
        snaps: dict[str, dict[str, Any]] = {}
        if self.fleet is not None:
            try:
                snaps.update(await self.fleet.read())
                self.last_error = None
            except Exception as exc:  # Redis down: keep going on what this process sees
                self.last_error = f"fleet read failed: {type(exc).__name__}"
                log.warning("PERFORMANCE %s", self.last_error)
        for name, reporter in self.reporters.items():
            snaps[name] = reporter.snapshot()
        self.snapshots = snaps
        flats = {name: flatten(s, now) for name, s in snaps.items()}
        self._points.append((now, flats))
        while len(self._points) > 2 and self._points[1][0] < now - self._keep_s:
            self._points.popleft()
        self.ticks += 1

        events = []
        for state in self.states.values():
            metrics = self.window(state.rule.window_s)
            metric = state.rule.metric
            event = evaluate(state, metrics.values.get(metric), metrics.samples.get(metric, 0.0), now)
            if event is not None:
                events.append(event)
                await self._on_event(event)
        self.current = self.window(self.config.history_resolution_s)
        self.per_process = {name: self.window(self.config.history_resolution_s, only=name) for name in flats}
        await self._publish_board()
        if self._last_history is None or now - self._last_history >= self.config.history_resolution_s:
            self._last_history = now
            await self._write_history(now)
        return events

    def window(self, seconds: float, *, only: str | None = None) -> WindowMetrics:
        """Metrics over the last `seconds` (from the newest sample at least that old, else the oldest)."""
        if not self._points:
            return derive([], [], seconds)
        now, latest = self._points[-1]
        base_t, base = self._points[0]
        for t, flats in reversed(self._points):
            if t <= now - seconds:
                base_t, base = t, flats
                break
        names = [only] if only is not None else list(latest)
        deltas = []
        gauges = []
        for name in names:
            point = latest.get(name)
            if point is None:
                continue
            gauges.append(point.gauges)
            if base is latest:
                delta = window_delta(None, point, since=now - seconds)
            else:
                delta = window_delta(base.get(name), point, since=base_t)
            if delta is not None:
                deltas.append(delta)
        span = now - base_t if base is not latest else seconds
        return derive(deltas, gauges, span)

    async def _on_event(self, event: AlertEvent) -> None:
        rule = event.rule
        detail = f"{rule.describe()}: value {event.value:.6g}"
        if rule.action is not None:
            state = self.states[rule.name]
            if event.event in ("fired", "repeated"):
                self.board.orders[rule.name] = ActionOrder(
                    rule.name, rule.action, dict(rule.params), state.seq, event.t
                )
                detail += f"; action {rule.action}"
            elif event.event == "cleared":
                order = self.board.orders.get(rule.name)
                if order is not None and order.held and not rule.reverts_on_clear:
                    self.board.orders[rule.name] = ActionOrder(
                        order.alert, order.action, order.params, order.seq, order.since, cleared=True
                    )
                    detail += f"; {rule.action} stays in force until reset"
                elif order is not None:
                    del self.board.orders[rule.name]
                    if order.held:
                        detail += f"; {rule.action} undone"
        log.warning("PERF_ALERT %s %s (%s)", rule.name, event.event, detail)
        await self._record(
            AlertRecord(event.t, rule.name, event.event, event.value, rule.threshold, rule.action, detail)
        )

    async def _record(self, record: AlertRecord) -> None:
        self.events.append(record)
        if self.history is not None:
            try:
                await self.history.add_alert(record)
            except Exception as exc:
                log.warning("PERFORMANCE could not store an alert event: %s", type(exc).__name__)

    async def _publish_board(self) -> list[AppliedAction]:
        done: list[AppliedAction] = []
        if self.fleet is not None:
            try:
                await self.fleet.write_board(self.board)
            except Exception as exc:
                self.last_error = f"board write failed: {type(exc).__name__}"
                log.warning("PERFORMANCE %s", self.last_error)
        for reporter in self.reporters.values():
            done += await reporter.apply(self.board)
        return done

    async def _write_history(self, now: float) -> None:
        rows: list[tuple[str, str, float]] = []
        for metric, value in self.current.values.items():
            if value is not None and math.isfinite(value):
                rows.append((metric, FLEET, value))
        for process, wm in self.per_process.items():
            for metric, value in wm.values.items():
                if value is not None and math.isfinite(value):
                    rows.append((metric, process, value))
        log.info(
            "PERF_METRIC processes=%d %s",
            len(self.snapshots),
            " ".join(f"{m}={_fmt(self.current.values.get(m))}" for m in _LOGGED),
        )
        if self.history is None:
            return
        try:
            await self.history.write_points(now, rows, keep_after=now - self.config.history_hours * 3600)
        except Exception as exc:
            self.last_error = f"history write failed: {type(exc).__name__}"
            log.warning("PERFORMANCE %s", self.last_error)

    # -- operator actions -----------------------------------------------------------------------
    async def flush_caches(self) -> dict[str, Any]:
        """Flush every watched cache: here at once, in the other processes at their next publish."""
        async with self._lock:
            self.board.flush_seq += 1
            done = await self._publish_board()
            remote = [p for p in self.snapshots if p not in self.reporters]
            await self._record(
                AlertRecord(
                    self.clock.time(),
                    "cache_flush",
                    "operator",
                    None,
                    None,
                    "flush",
                    f"requested; {len(remote)} remote process(es)",
                )
            )
            log.warning("PERFORMANCE cache flush requested (board flush #%d)", self.board.flush_seq)
            return {
                "flush_seq": self.board.flush_seq,
                "local": [a.detail for a in done if a.action == "flush"],
                "remote_processes": remote,
            }

    async def reset(self, *, history: bool = False) -> dict[str, Any]:
        """Forget the windows and alert states; undo every action in force (emergency stop included)."""
        async with self._lock:
            withdrawn = sorted(self.board.orders)
            self.board.orders.clear()
            self.board.epoch += 1
            self.states = {rule.name: AlertState(rule) for rule in self.config.alerts}
            self._points.clear()
            self.current = WindowMetrics()
            self.per_process = {}
            done = await self._publish_board()
            if history and self.history is not None:
                await self.history.clear()
                self.events.clear()
            await self._record(
                AlertRecord(
                    self.clock.time(),
                    "monitor",
                    "reset",
                    None,
                    None,
                    None,
                    f"withdrawn: {', '.join(withdrawn) or 'nothing'}",
                )
            )
            log.warning("PERF_ALERT reset: withdrawn %s", withdrawn or "nothing")
            return {
                "epoch": self.board.epoch,
                "withdrawn": withdrawn,
                "local": [a.detail for a in done],
                "history_cleared": bool(history and self.history is not None),
            }

    # -- views -----------------------------------------------------------------------------------
    def metrics_view(self) -> dict[str, Any]:
        return {
            "t": self.clock.time(),
            "window_s": self.config.history_resolution_s,
            "fleet": dict(self.current.values),
            "samples": dict(self.current.samples),
            "processes": {p: dict(wm.values) for p, wm in self.per_process.items()},
            "units": {m: s.unit for m, s in METRICS.items()},
        }

    def alerts_view(self) -> dict[str, Any]:
        return {
            "active": [s.as_dict() for s in self.states.values() if s.active],
            "rules": [s.as_dict() for s in self.states.values()],
            "orders": {
                n: {
                    "action": o.action,
                    "params": o.params,
                    "seq": o.seq,
                    "since": o.since,
                    "cleared": o.cleared,
                }
                for n, o in self.board.orders.items()
            },
            "applied": {
                p: s.get("actions", [])
                for p, s in self.snapshots.items()
                if isinstance(s.get("actions"), list)
            },
        }

    def status_view(self) -> dict[str, Any]:
        now = self.clock.time()
        return {
            "started_at": self.started_at,
            "uptime_s": now - self.started_at,
            "ticks": self.ticks,
            "sample_interval_s": self.config.sample_interval_s,
            "history_hours": self.config.history_hours,
            "history_resolution_s": self.config.history_resolution_s,
            "sources": {"local_reporters": sorted(self.reporters), "redis_fleet": self.fleet is not None},
            "history": self.history is not None,
            "processes": [
                {
                    "process": name,
                    "pid": s.get("pid"),
                    "age_s": now - float(s.get("t", now)),
                    "seq": s.get("seq"),
                    "caches": sorted(s.get("caches", {})),
                    "llm": sorted(s.get("llm", {})),
                }
                for name, s in sorted(self.snapshots.items())
            ],
            "active_alerts": sorted(n for n, s in self.states.items() if s.active),
            "emergency_stop": any(o.action == "emergency_stop" for o in self.board.orders.values()),
            "last_error": self.last_error,
        }

    def health_view(self) -> tuple[int, dict[str, Any]]:
        status = self.status_view()
        if not self.snapshots:
            state, code = "no_data", 503
        elif status["emergency_stop"]:
            state, code = "stopped", 503
        elif status["active_alerts"] or self.last_error:
            state, code = "degraded", 200
        else:
            state, code = "ok", 200
        return code, {
            "status": state,
            "processes": len(self.snapshots),
            "active_alerts": status["active_alerts"],
            "last_error": self.last_error,
        }

    async def history_view(self, metric: str, hours: float, process: str = FLEET) -> dict[str, Any]:
        now = self.clock.time()
        points: list[tuple[float, float]] = []
        if self.history is not None:
            points = await self.history.series(metric, since=now - hours * 3600, process=process)
        return {
            "metric": metric,
            "unit": METRICS[metric].unit,
            "process": process,
            "hours": hours,
            "resolution_s": self.config.history_resolution_s,
            "points": [[t, v] for t, v in points],
        }

    async def alert_history(self, hours: float) -> list[dict[str, Any]]:
        since = self.clock.time() - hours * 3600
        if self.history is not None:
            return [r.as_dict() for r in await self.history.alert_history(since=since)]
        return [r.as_dict() for r in reversed(self.events) if r.t >= since]
