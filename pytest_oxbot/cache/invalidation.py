"""Cross-process L1 coherence over Redis pub/sub: one channel per namespace, with a liveness check.

Every write, delete or flush is published in the same pipeline as the write itself, so when the writer's
call returns, every subscriber's socket already holds the message. A subscriber drops those keys from
its L1. While the subscription is not confirmed (starting, lost, reconnecting) the cache must not trust
L1: `live` is False, and every (re)connection starts from an empty L1, since messages may have been
missed in between.

A connection can also go quiet without failing: a frozen server (SIGSTOP, a VM paused, a half-open TCP
link) delivers nothing and reports nothing. So the listener proves the channel alive: it sends a PING
on the subscribed connection every `heartbeat_interval` seconds, and when the answer has not come
back within `heartbeat_timeout` (or a subscription's confirmation within `subscribe_timeout`), it
treats the channel as lost. L1 is therefore trusted at most `heartbeat_interval + heartbeat_timeout`
seconds after the last moment the channel was known to deliver.

A message that is not one of ours (not JSON, not the expected shape) is counted and ignored: a stray
PUBLISH on the channel must not look like a lost connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.backoff import NoBackoff
from redis.retry import Retry

from .._tasks import stop
from .errors import CacheError

log = logging.getLogger(__name__)


def encode_message(
    origin: str, *, keys: list[str] | None = None, flush: bool = False, ping: str = ""
) -> bytes:
    body: dict[str, Any] = {"o": origin}
    if keys is not None:
        body["k"] = keys
    if flush:
        body["f"] = 1
    if ping:
        body["p"] = ping
    return json.dumps(body, separators=(",", ":")).encode()


class HeartbeatMissedError(CacheError, ConnectionError):
    """The invalidation channel did not answer its liveness check in time."""


class _Stray(Exception):
    """A message that is not one a cache published."""


def _decode(data: bytes | str) -> tuple[str, list[str], bool, str]:
    """(origin, keys, flush, ping) of one of our messages; `_Stray` for anything else."""
    try:
        body = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise _Stray from exc
    if not isinstance(body, dict):
        raise _Stray
    origin, keys, flush, ping = body.get("o"), body.get("k", []), body.get("f", 0), body.get("p", "")
    if not (
        isinstance(origin, str)
        and isinstance(keys, list)
        and all(isinstance(k, str) for k in keys)
        and flush in (0, 1)
        and isinstance(ping, str)
    ):
        raise _Stray
    return origin, keys, bool(flush), ping


class InvalidationListener:
    """Subscribes to `channel` in a background task on the running loop and reports what it hears."""

    def __init__(
        self,
        client: Redis | RedisCluster,
        channel: str,
        origin: str,
        *,
        on_keys: Callable[[list[str]], None],
        on_flush: Callable[[], None],
        on_state: Callable[[bool], None],
        heartbeat_interval: float = 1.0,
        heartbeat_timeout: float = 1.0,
        subscribe_timeout: float = 2.0,
        reconnect_delay: float = 0.05,
        max_reconnect_delay: float = 1.0,
    ) -> None:
        self.client = client
        self.channel = channel
        self.origin = origin
        self._on_keys = on_keys
        self._on_flush = on_flush
        self._on_state = on_state
        self._interval = heartbeat_interval
        self._timeout = heartbeat_timeout
        self._subscribe_timeout = subscribe_timeout
        self._delay = reconnect_delay
        self._max_delay = max_reconnect_delay
        self.live = False
        self.heartbeat_misses = 0
        self.stray_messages = 0
        self._task: asyncio.Task[None] | None = None
        self._attempted: asyncio.Event | None = None
        self._pings: dict[str, asyncio.Future[None]] = {}

    async def start(self, within: float) -> bool:
        """Start (or restart on a new event loop); a fresh start waits up to `within` s for its first try."""
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._task.get_loop() is loop:
            return self.live
        self._set_live(False)
        attempted = self._attempted = asyncio.Event()
        self._task = loop.create_task(self._run(), name=f"oxbot-invalidation:{self.channel}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(attempted.wait(), within)
        return self.live

    async def _run(self) -> None:
        delay = self._delay
        while True:
            pubsub = self.client.pubsub()
            try:
                if isinstance(self.client, RedisCluster):
                    # A cluster pub/sub picks its node from the slot map, which a fresh client lacks.
                    await self.client.initialize()
                await pubsub.subscribe(self.channel)
                # redis-py would silently reconnect and resubscribe, hiding the messages lost meanwhile;
                # a broken subscription must surface here so L1 is dropped.
                if pubsub.connection is not None:
                    pubsub.connection.retry = Retry(NoBackoff(), 0)
                await self._listen(pubsub)
            except asyncio.CancelledError:
                self._set_live(False)
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                raise
            except Exception as exc:  # a lost connection, whatever the driver calls it
                if isinstance(exc, HeartbeatMissedError):
                    self.heartbeat_misses += 1
                    log.warning("cache invalidation channel: %s; L1 is cleared and bypassed", exc)
                else:
                    log.warning(
                        "cache invalidation channel lost (%s); L1 is cleared and bypassed",
                        type(exc).__name__,
                    )
                self._set_live(False)
                if self._attempted is not None:
                    self._attempted.set()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_delay)
            else:
                delay = self._delay

    async def _listen(self, pubsub: Any) -> None:
        """Handle messages; every `heartbeat_interval` ask for a PONG, due within `heartbeat_timeout`.

        The subscription we just asked for is the first thing due back (within `subscribe_timeout`).
        """
        loop = asyncio.get_running_loop()
        due: float | None = loop.time() + self._subscribe_timeout  # when the awaited answer is late
        next_ping = 0.0
        while True:
            now = loop.time()
            if due is None:
                wait = next_ping - now
                if wait <= 0:
                    await pubsub.ping()
                    due = now + self._timeout
                    continue
            else:
                wait = due - now
                if wait <= 0:
                    raise HeartbeatMissedError(
                        "no answer to the heartbeat in time" if self.live else "no subscription in time"
                    )
            message = await pubsub.get_message(ignore_subscribe_messages=False, timeout=min(wait, 1.0))
            if message is None:
                continue
            kind = message["type"]
            if kind == "message":
                self._handle(message["data"])
            elif kind in ("pong", "subscribe"):
                due = None
                next_ping = loop.time() + self._interval
                if kind == "subscribe":
                    self._set_live(True, force=True)  # every (re)subscription starts from an empty L1

    def _set_live(self, live: bool, *, force: bool = False) -> None:
        if live == self.live and not force:
            return
        self.live = live
        self._on_state(live)
        if live and self._attempted is not None:
            self._attempted.set()

    def _handle(self, data: bytes | str) -> None:
        try:
            origin, keys, flush, ping = _decode(data)
        except _Stray:
            self.stray_messages += 1
            if self.stray_messages == 1:  # once: a neighbour could flood the log otherwise
                log.warning("ignoring a message on %s that no cache published", self.channel)
            return
        if origin == self.origin:
            if ping:
                fut = self._pings.pop(ping, None)
                if fut is not None and not fut.done():
                    fut.set_result(None)
            return
        if flush:
            self._on_flush()
        if keys:
            self._on_keys(keys)

    def register_ping(self, token: str) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pings[token] = fut
        return fut

    def forget_ping(self, token: str) -> None:
        self._pings.pop(token, None)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await stop([task])
        self.live = False
