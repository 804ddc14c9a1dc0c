"""Real servers tests start themselves on free loopback ports (no mocks).

- `RedisServer`: a throwaway `redis-server` (no persistence), restartable on its port, freezable.
- `DripServer`: an HTTP server that answers one byte every `interval` seconds, to test total deadlines.

A link to cut and restore is the library's own `pytest_oxbot.cache.faults.TcpProxy`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_redis_server() -> str:
    path = shutil.which("redis-server")
    if path is None:
        if os.environ.get("OXBOT_REQUIRE_REAL_BACKENDS", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail("redis-server is not installed and OXBOT_REQUIRE_REAL_BACKENDS=1")
        pytest.skip("redis-server is not installed")
    return path


class RedisServer:
    """A throwaway `redis-server` on 127.0.0.1:<free port>, without persistence: for the tests that
    freeze Redis (SIGSTOP), fill it past `maxmemory`, restart it empty, or rename its commands. The
    shared server is never touched. `args` are extra options; a `config` file is read first. Its log
    and files go to `folder` (a temporary one by default, removed by `stop()`)."""

    def __init__(
        self, *args: str, port: int | None = None, config: str | None = None, folder: Path | None = None
    ) -> None:
        self.binary = require_redis_server()
        self.port = port or free_port()
        self.args: Sequence[str] = args
        self.config = config
        self.folder = folder
        self.proc: subprocess.Popen[bytes] | None = None
        self._temporary: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> Path:
        return self._folder() / "server.log"

    def _folder(self) -> Path:
        if self.folder is not None:
            return self.folder
        if self._temporary is None:
            self._temporary = tempfile.TemporaryDirectory(prefix=f"oxbot-redis-{self.port}-")
        return Path(self._temporary.name)

    def start(self) -> RedisServer:
        folder = self._folder()
        folder.mkdir(parents=True, exist_ok=True)
        first = [self.config] if self.config else []
        cmd = [self.binary, *first, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--daemonize", "no", "--dir", str(folder), *self.args]  # fmt: skip
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = self.log.read_text(errors="replace")
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}:\n{log}")
            time.sleep(0.02)
        return self

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def freeze(self) -> None:
        """SIGSTOP: the server keeps its sockets open but answers nothing (a hung host, a paused VM)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Ends the server (thawed first: a test that failed while it was frozen leaves it so)."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.thaw()
                self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None
        if self._temporary is not None:
            self._temporary.cleanup()
            self._temporary = None

    def restart(self) -> None:
        """Stopped and started again on the same port: empty, as a restart without persistence is."""
        self.stop()
        self.start()


class DripServer:
    """HTTP/1.1 on 127.0.0.1: answers 200 with `length` bytes announced, sent one per `interval` seconds."""

    def __init__(self, *, interval: float = 0.5, length: int = 10_000, status: int = 200) -> None:
        self.interval = interval
        self.length = length
        self.status = status
        self.bytes_sent = 0
        self.requests = 0
        self.closed_early = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> DripServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)  # type: ignore[arg-type]
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            self.requests += 1
            writer.write(
                f"HTTP/1.1 {self.status} OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {self.length}\r\n\r\n".encode()
            )
            await writer.drain()
            for _ in range(self.length):
                await asyncio.sleep(self.interval)
                writer.write(b" ")
                await writer.drain()
                self.bytes_sent += 1
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            self.closed_early += 1
        except asyncio.CancelledError:  # the test is over: end quietly
            pass
        finally:
            writer.close()

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
