"""audio_thinker/openai_client.py against real sockets on 127.0.0.1: the ways an HTTP/1.1 server may frame
its answer, a kept-alive connection the server closed meanwhile, and the cause each failure is counted as.
(The judge, its start-up check and the CoT generator run through it in tests/rewards, tests/recipes and
tests/data_prep, against the scripted and the live servers.)"""
import asyncio
import socket
import threading

import pytest

from audio_thinker.openai_client import Client, EndpointError

BODY = b'{"ok": true}'


def raw_server(answers):
    """A server that reads one request per connection turn and writes the next raw answer; a ``None`` answer
    closes the connection without a word. Returns (base URL, stop)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    queue = list(answers)

    def serve():
        while queue:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                while queue:
                    request = conn.recv(65536)
                    if not request:
                        break
                    answer = queue.pop(0)
                    if answer is None:
                        break
                    conn.sendall(answer)
                    if b"Connection: close" in answer or not (b"Content-Length" in answer or b"chunked" in answer):
                        break  # the body ends with the connection

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{sock.getsockname()[1]}/v1", sock.close


def ok(headers: str, body: bytes = BODY) -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{headers}\r\n".encode() + body


CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"ok\"\r\n7\r\n: true}\r\n0\r\n\r\n"

# raw answers of the server, in order, for two requests on one client; the trap each case sets
FRAMINGS = [
    [ok(f"Content-Length: {len(BODY)}\r\n")] * 2,                       # plain keep-alive, connection reused
    [CHUNKED, CHUNKED],                                                  # chunked body (no Content-Length)
    [ok("Connection: close\r\n"), ok("Connection: close\r\n")],          # body delimited by the close
]


@pytest.mark.parametrize("answers", FRAMINGS, ids=["content-length", "chunked", "close-delimited"])
def test_each_framing_gives_the_json_body(answers):
    url, stop = raw_server(answers)

    async def two():
        async with Client(url) as client:
            return [await client.post("chat/completions", {"q": 1}, 5), await client.get("models", 5)]

    try:
        assert asyncio.run(two()) == [{"ok": True}, {"ok": True}]
    finally:
        stop()


def test_a_kept_alive_connection_closed_by_the_server_is_replaced():
    """The server answers once with keep-alive, then drops that connection silently: the second request must
    go out on a fresh connection, not fail."""
    url, stop = raw_server([ok(f"Content-Length: {len(BODY)}\r\n"), None, ok(f"Content-Length: {len(BODY)}\r\n")])

    async def two():
        async with Client(url) as client:
            return [await client.get("models", 5), await client.get("models", 5)]

    try:
        assert asyncio.run(two()) == [{"ok": True}, {"ok": True}]
    finally:
        stop()


# server answer, cause counted, HTTP status kept, retried by the policy
FAILURES = [
    (b"HTTP/1.1 503 Busy\r\nContent-Length: 2\r\n\r\n{}", "http", 503, True),
    (b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}", "http", 404, False),   # refused as such
    (ok("Content-Length: 9\r\n", b"<html>hi!"), "unparsable", None, True),            # 200 but not JSON
    (b"garbage\r\n\r\n", "http", None, True),                                        # not HTTP at all
]


@pytest.mark.parametrize("answer, cause, status, retryable", FAILURES)
def test_failures_carry_their_cause(answer, cause, status, retryable):
    url, stop = raw_server([answer])

    async def one():
        async with Client(url) as client:
            await client.get("models", 5)

    try:
        with pytest.raises(EndpointError) as failed:
            asyncio.run(one())
    finally:
        stop()
    assert (failed.value.cause, failed.value.status, failed.value.retryable) == (cause, status, retryable)
