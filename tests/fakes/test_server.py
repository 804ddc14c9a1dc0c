"""The loopback server on its own: real sockets, HTTP/1.1 to the letter, failures surfaced, free ports."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import httpx
import pytest
import requests

from pytest_oxbot.fakes.server import LoopbackServer, ServerError


def echo(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "method": request.method,
            "path": request.url.path,
            "query": dict(request.url.params),
            "body": request.content.decode(),
            "thread": threading.current_thread().name,
        },
    )


def test_serves_on_127_0_0_1_with_a_free_port_per_instance() -> None:
    with LoopbackServer(echo, name="a") as a, LoopbackServer(echo, name="b") as b:
        assert a.url.startswith("http://127.0.0.1:")
        assert a.port != b.port
        for server in (a, b):
            body = requests.get(server.url + "/x?y=1", timeout=5).json()
            assert body["path"] == "/x"
            assert body["query"] == {"y": "1"}
            assert body["thread"] == f"{server.name}-server"  # answered on the server's own thread
        url = a.url
    assert not a.running
    with pytest.raises(requests.ConnectionError):  # stopped means the port is closed
        requests.get(url, timeout=2)


def test_keep_alive_serves_many_requests_on_one_connection() -> None:
    with LoopbackServer(echo) as server, requests.Session() as session:
        for i in range(20):
            assert session.post(server.url + "/n", data=str(i), timeout=5).json()["body"] == str(i)
        assert server.requests_served == 20


def test_chunked_request_bodies_are_decoded() -> None:
    def chunks() -> object:
        yield b'{"a": '
        yield b"1}"

    with LoopbackServer(echo) as server:
        answer = requests.post(server.url + "/c", data=chunks(), timeout=5)  # Transfer-Encoding: chunked
        assert answer.json()["body"] == '{"a": 1}'


async def test_an_async_handler_is_awaited_and_a_blocked_test_loop_does_not_block_the_server() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)
        return httpx.Response(201, text="done")

    with LoopbackServer(slow) as server:
        # a synchronous client inside an async test blocks this loop; the server has its own
        assert requests.get(server.url, timeout=5).status_code == 201  # noqa: ASYNC210 - the point


def test_a_handler_error_is_a_500_kept_for_the_test() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise LookupError("nothing recorded there")

    with LoopbackServer(broken) as server:
        answer = requests.get(server.url + "/boom", timeout=5)
        assert answer.status_code == 500
        assert "LookupError: nothing recorded there" in answer.json()["error"]["message"]
        assert server.errors == ["LookupError: nothing recorded there"]


def test_a_modelled_timeout_holds_the_connection_until_the_client_gives_up() -> None:
    def stalled(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("modelled", request=request)

    with LoopbackServer(stalled, hold_s=30) as server:
        started = time.monotonic()
        with pytest.raises(requests.ReadTimeout):
            requests.get(server.url, timeout=(2, 0.3))
        assert time.monotonic() - started < 10  # the client's own timeout ended it, not hold_s
        assert server.errors == []


def test_garbage_gets_a_400_not_a_crash() -> None:
    with LoopbackServer(echo) as server:
        with socket.create_connection(("127.0.0.1", server.port or 0), timeout=5) as sock:
            sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            reply = sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 400")
        assert requests.get(server.url, timeout=5).status_code == 200  # still serving


def test_url_before_start_is_a_clear_error_and_start_stop_are_idempotent() -> None:
    server = LoopbackServer(echo, name="idle")
    with pytest.raises(ServerError, match="not started"):
        _ = server.url
    first = server.start()
    assert server.start() == first
    server.stop()
    server.stop()
    assert not server.running


def test_head_oversized_headers_and_bodies_are_answered_by_the_rules() -> None:
    with LoopbackServer(echo) as server:
        head = requests.head(server.url + "/x", timeout=5)
        assert head.status_code == 200
        assert int(head.headers["content-length"]) > 0  # the GET's length, no body sent
        assert requests.get(server.url, headers={"X-Big": "a" * 70_000}, timeout=5).status_code == 431
        assert requests.post(server.url, data=b"x" * (17 * 1024 * 1024), timeout=30).status_code == 413
        assert requests.get(server.url + "/after", timeout=5).json()["path"] == "/after"
        assert server.errors == []
