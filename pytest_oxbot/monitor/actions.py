"""What an alert does to a running bot: small adapters over the components' public APIs.

An action is an *order* on a board (alert name -> action, params, sequence number) that the monitor
writes; each bot process's reporter reads the board and applies what changed to its own components.
A board rather than a stream of events: a bot that starts (or reconnects) while an emergency stop is
in force must stop too, and one that missed a message must still converge.

Two kinds of action:
- held actions (`switch_to_faster_model`, `emergency_stop`) are in force while their order is on the
  board and undone when it leaves (on clear when the rule says so, always on reset);
- one-shot actions (`increase_ttl`, `cleanup_cache`) run once per new sequence number; `increase_ttl`
  is undone only by a reset (reverting it on clear would bring back the hit rate that fired it).
"""

from __future__ import annotations

import json
import logging
import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_oxbot.monitor.config import STATE_ACTIONS
from pytest_oxbot.monitor.errors import SnapshotError

__all__ = ["ActionApplier", "ActionBoard", "ActionOrder", "AppliedAction", "BotTargets"]

log = logging.getLogger("pytest_oxbot.monitor")
_EPOCH, _FLUSH = "__epoch__", "__flush__"


@dataclass(frozen=True, slots=True)
class ActionOrder:
    """One alert's action as the monitor wants it applied."""

    alert: str
    action: str
    params: dict[str, Any]
    seq: int
    since: float
    cleared: bool = False  # the alert cleared but the held action stays until reset

    @property
    def held(self) -> bool:
        return self.action in STATE_ACTIONS


@dataclass
class ActionBoard:
    """The orders in force, the reset epoch and the cache-flush counter (JSON in one Redis hash)."""

    orders: dict[str, ActionOrder] = field(default_factory=dict)
    epoch: int = 0
    flush_seq: int = 0

    def to_hash(self) -> dict[str, str]:
        out = {name: json.dumps(asdict(o), separators=(",", ":")) for name, o in self.orders.items()}
        out[_EPOCH] = str(self.epoch)
        out[_FLUSH] = str(self.flush_seq)
        return out

    @classmethod
    def from_hash(cls, raw: Mapping[Any, Any]) -> ActionBoard:
        board = cls()
        for key, value in raw.items():
            name = key.decode() if isinstance(key, bytes) else str(key)
            text = value.decode() if isinstance(value, bytes) else str(value)
            try:
                if name == _EPOCH:
                    board.epoch = int(text)
                elif name == _FLUSH:
                    board.flush_seq = int(text)
                else:
                    data = json.loads(text)
                    board.orders[name] = ActionOrder(
                        alert=str(data["alert"]),
                        action=str(data["action"]),
                        params=dict(data.get("params") or {}),
                        seq=int(data["seq"]),
                        since=float(data["since"]),
                        cleared=bool(data.get("cleared", False)),
                    )
            except (ValueError, KeyError, TypeError) as exc:
                raise SnapshotError(f"action board field {name!r} is malformed: {exc!r}") from None
        return board


@dataclass(frozen=True, slots=True)
class AppliedAction:
    """What one process did about an order (shown on the dashboard, asserted in tests)."""

    t: float
    alert: str
    action: str
    detail: str
    ok: bool = True
    undo: bool = False


class BotTargets:
    """The components one reporter acts on; each method returns a one-line description."""

    def __init__(self) -> None:
        self.caches: dict[str, Any] = {}
        self.llm_clients: dict[str, Any] = {}
        self._ttl_origin: dict[str, tuple[float, float, float]] = {}

    def increase_ttl(self, params: Mapping[str, Any]) -> str:
        factor = float(params.get("factor", 2.0))
        caps = (
            float(params.get("l1_max_s", 300.0)),
            float(params.get("l2_max_s", 3600.0)),
            float(params.get("l3_max_s", math.inf)),
        )
        if not self.caches:
            raise LookupError("no cache is watched by this process")
        parts = []
        for name, cache in self.caches.items():
            old = (cache.l1_ttl, cache.l2_ttl, cache.l3_ttl)
            self._ttl_origin.setdefault(name, old)
            # Never lower a TTL (a cap below the configured value leaves it as it is); L3 only with a cap.
            new = tuple(
                max(cur, min(cur * factor, cap)) if (i < 2 or math.isfinite(cap)) else cur
                for i, (cur, cap) in enumerate(zip(old, caps, strict=True))
            )
            cache.l1_ttl, cache.l2_ttl, cache.l3_ttl = new
            parts.append(f"{name}: L1 {old[0]:g}->{new[0]:g} s, L2 {old[1]:g}->{new[1]:g} s")
        return "; ".join(parts)

    @property
    def ttl_changed(self) -> bool:
        return bool(self._ttl_origin)

    def restore_ttl(self) -> str:
        parts = []
        for name, (l1, l2, l3) in self._ttl_origin.items():
            cache = self.caches.get(name)
            if cache is not None:
                cache.l1_ttl, cache.l2_ttl, cache.l3_ttl = l1, l2, l3
                parts.append(f"{name}: TTLs back to L1 {l1:g} s, L2 {l2:g} s")
        self._ttl_origin.clear()
        return "; ".join(parts) or "TTLs unchanged"

    def cleanup_cache(self) -> str:
        parts = []
        for name, cache in self.caches.items():
            memory = cache.memory
            if memory is None:
                continue
            entries, size = len(memory), memory.nbytes
            memory.flush()  # an emptied L1 is within its entry and byte caps by construction
            parts.append(f"{name}: L1 cleared ({entries} entries, {size} bytes)")
        if not parts:
            raise LookupError("no watched cache has an L1")
        return "; ".join(parts)

    async def flush_caches(self) -> str:
        for cache in self.caches.values():
            await cache.clear()
        return f"flushed {', '.join(self.caches) or 'no cache'}"

    def switch_model(self, model: str | None) -> str:
        if not self.llm_clients:
            raise LookupError("no LLM client is watched by this process")
        for client in self.llm_clients.values():
            client.router.force_model(model)
        return f"LLM routed to {model}" if model else "LLM routing back to its normal rules"

    def emergency_stop(self, reason: str | None) -> str:
        if not self.llm_clients:
            raise LookupError("no LLM client is watched by this process")
        for name, client in self.llm_clients.items():
            budget = client.budget
            if not hasattr(budget, "emergency_stop"):
                raise LookupError(f"{name}'s budget ({type(budget).__name__}) has no emergency_stop()")
            if reason is None:
                budget.resume()
            else:
                budget.emergency_stop(reason)
        return f"LLM budget stopped: {reason}" if reason else "LLM budget resumed"


class ActionApplier:
    """The reporter's side of the board: applies new orders, undoes withdrawn ones, remembers what it did."""

    def __init__(self, targets: BotTargets, clock_time: Any, *, keep: int = 50) -> None:
        self.targets = targets
        self._time = clock_time
        self.epoch: int | None = None
        self.flush_seq: int | None = None
        self.applied: dict[str, ActionOrder] = {}
        self.log: deque[AppliedAction] = deque(maxlen=keep)

    async def sync(self, board: ActionBoard) -> list[AppliedAction]:
        done: list[AppliedAction] = []
        if self.epoch is not None and board.epoch != self.epoch:
            for order in list(self.applied.values()):
                done += self._undo(order, reset=True)
            self.applied.clear()
            if self.targets.ttl_changed:  # raised by an alert that has cleared since: a reset undoes it too
                done.append(self._run("monitor", "increase_ttl", self.targets.restore_ttl, undo=True))
        self.epoch = board.epoch
        if self.flush_seq is None:
            self.flush_seq = board.flush_seq  # never replay a flush issued before this process joined
        elif board.flush_seq > self.flush_seq:
            self.flush_seq = board.flush_seq
            done.append(await self._run_async("cache_flush", "flush", self.targets.flush_caches))
        for name, order in board.orders.items():
            mine = self.applied.get(name)
            if mine is not None and mine.seq >= order.seq and mine.action == order.action:
                continue
            if mine is not None and mine.action != order.action:
                done += self._undo(mine, reset=False)
            self.applied[name] = order
            if mine is not None and order.held and mine.held:
                continue  # a held action re-sent with a new seq is already in force
            done.append(self._apply(order))
        for name in [n for n in self.applied if n not in board.orders]:
            done += self._undo(self.applied.pop(name), reset=False)
        return done

    def _apply(self, order: ActionOrder) -> AppliedAction:
        t = self.targets
        params = order.params
        if order.action == "increase_ttl":
            return self._run(order.alert, order.action, lambda: t.increase_ttl(params))
        if order.action == "cleanup_cache":
            return self._run(order.alert, order.action, t.cleanup_cache)
        if order.action == "switch_to_faster_model":
            return self._run(order.alert, order.action, lambda: t.switch_model(str(params["model"])))
        if order.action == "emergency_stop":
            reason = str(params.get("reason") or f"alert {order.alert}")
            return self._run(order.alert, order.action, lambda: t.emergency_stop(reason))
        return self._record(order.alert, order.action, f"unknown action {order.action!r}", ok=False)

    def _undo(self, order: ActionOrder, *, reset: bool) -> list[AppliedAction]:
        t = self.targets
        if order.action == "switch_to_faster_model":
            return [self._run(order.alert, order.action, lambda: t.switch_model(None), undo=True)]
        if order.action == "emergency_stop":
            return [self._run(order.alert, order.action, lambda: t.emergency_stop(None), undo=True)]
        if order.action == "increase_ttl" and reset and t.ttl_changed:
            return [self._run(order.alert, order.action, t.restore_ttl, undo=True)]
        return []

    def _run(self, alert: str, action: str, fn: Any, *, undo: bool = False) -> AppliedAction:
        try:
            detail = str(fn())
        except Exception as exc:  # an action must never take the bot down
            return self._record(alert, action, f"failed: {type(exc).__name__}: {exc}", ok=False, undo=undo)
        return self._record(alert, action, detail, undo=undo)

    async def _run_async(self, alert: str, action: str, fn: Any) -> AppliedAction:
        try:
            detail = str(await fn())
        except Exception as exc:
            return self._record(alert, action, f"failed: {type(exc).__name__}: {exc}", ok=False)
        return self._record(alert, action, detail)

    def _record(
        self, alert: str, action: str, detail: str, *, ok: bool = True, undo: bool = False
    ) -> AppliedAction:
        entry = AppliedAction(self._time(), alert, action, detail, ok, undo)
        self.log.append(entry)
        verb = "undone" if undo else "applied"
        (log.info if ok else log.warning)("PERF_ALERT action %s %s %s: %s", action, verb, alert, detail)
        return entry

    def recent(self) -> Iterable[dict[str, Any]]:
        return (asdict(a) for a in self.log)
