"""Cross-process L1 coherence over Redis pub/sub: one channel per namespace.

Every write, delete or flush is published in the same pipeline as the write itself, so when the writer's
call returns, every subscriber's socket already holds the message. A subscriber drops those keys from
its L1. While the subscription is not confirmed (starting, lost, reconnecting) the cache must not trust
L1: `live` is False, and every (re)connection starts from an empty L1, since messages may have been
missed in between.
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
        reconnect_delay: float = 0.05,
        max_reconnect_delay: float = 1.0,
    ) -> None:
        self.client = client
        self.channel = channel
        self.origin = origin
        self._on_keys = on_keys
        self._on_flush = on_flush
        self._on_state = on_state
        self._delay = reconnect_delay
        self._max_delay = max_reconnect_delay
        self.live = False
        self._task: asyncio.Task[None] | None = None
        self._attempted: asyncio.Event | None = None
        self._pings: dict[str, asyncio.Future[None]] = {}
        self._pubsub: Any = None

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
            self._pubsub = pubsub
            try:
                if isinstance(self.client, RedisCluster):
                    # A cluster pub/sub picks its node from the slot map, which a fresh client lacks.
                    await self.client.initialize()
                await pubsub.subscribe(self.channel)
                # redis-py would silently reconnect and resubscribe, hiding the messages lost meanwhile;
                # a broken subscription must surface here so L1 is dropped.
                if pubsub.connection is not None:
                    pubsub.connection.retry = Retry(NoBackoff(), 0)
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=False, timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self._set_live(True, force=True)  # every (re)subscription starts from an empty L1
                        delay = self._delay
                    elif message["type"] == "message":
                        self._handle(message["data"])
            except asyncio.CancelledError:
                self._set_live(False)
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                raise
            except Exception as exc:  # a lost connection, whatever the driver calls it
                log.warning(
                    "cache invalidation channel lost (%s); L1 is cleared and bypassed", type(exc).__name__
                )
                self._set_live(False)
                if self._attempted is not None:
                    self._attempted.set()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_delay)

    def _set_live(self, live: bool, *, force: bool = False) -> None:
        if live == self.live and not force:
            return
        self.live = live
        self._on_state(live)
        if live and self._attempted is not None:
            self._attempted.set()

    def _handle(self, data: bytes | str) -> None:
        try:
            body = json.loads(data)
        except ValueError:
            body = None
        if not isinstance(body, dict):  # a stray PUBLISH must not look like a lost connection
            log.warning("ignoring a malformed invalidation message on %s", self.channel)
            return
        if body.get("o") == self.origin:
            ping = body.get("p")
            if ping:
                fut = self._pings.pop(ping, None)
                if fut is not None and not fut.done():
                    fut.set_result(None)
            return
        if body.get("f"):
            self._on_flush()
        keys = body.get("k")
        if keys:
            self._on_keys([str(k) for k in keys])

    def register_ping(self, token: str) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pings[token] = fut
        return fut

    def forget_ping(self, token: str) -> None:
        self._pings.pop(token, None)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await task
        self.live = False
