"""A throwaway `redis-server` per test, on a free loopback port: for the tests that freeze Redis
(SIGSTOP), fill it past `maxmemory`, or rename its commands. The shared server is never touched.

Skipped only when `redis-server` is not installed (like the cluster tests).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server")


@dataclass
class RedisServer:
    """One `redis-server` process this test started."""

    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def freeze(self) -> None:
        """SIGSTOP: the server keeps its sockets open but answers nothing (a hung host, a paused VM)."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


StartRedis = Callable[..., RedisServer]


@pytest.fixture
def start_redis(tmp_path: Path) -> Iterator[StartRedis]:
    """`start_redis("--maxmemory", "2mb", ...)`: a fresh server without persistence; killed at teardown."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not on PATH: no throwaway Redis can be started")
    started: list[RedisServer] = []

    def start(*args: str) -> RedisServer:
        assert REDIS_SERVER is not None
        port = free_port()
        folder = tmp_path / f"redis-{port}"
        folder.mkdir()
        log = folder / "server.log"
        command = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        command += ["no", "--daemonize", "no", "--dir", str(folder), *args]
        with log.open("wb") as out:
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        server = RedisServer(port, proc, log)
        started.append(server)
        deadline = time.monotonic() + 10
        while not server.answers():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.02)
        return server

    yield start
    for server in started:
        server.thaw()  # a test that failed while the server was frozen leaves it so
        server.proc.kill()
        server.proc.wait(timeout=10)
