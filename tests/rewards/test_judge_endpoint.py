"""The judge's requests through the openai SDK (swift_plugins/judge/endpoint.py) against real sockets on
127.0.0.1: the ways an HTTP/1.1 server may frame its answer, a kept-alive connection the server dropped
meanwhile, and the cause each failure is counted as (the training log's judge_failures_<cause>) and whether
the retry policy asks again. The judge rewards, the start-up check and the CoT generator run through the
same SDK in tests/rewards, tests/recipes and tests/data_prep, against the scripted and the live servers."""
import asyncio
import json
import socket
import time

import pytest

from audio_thinker.endpoints import reply_text
from swift_plugins.judge.endpoint import EndpointError, answer, open_client
from tests.helpers.loopback_server import CLOSE, raw_server

COMPLETION = json.dumps({"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": [
    {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "verdict: 1"}}]}).encode()


def ok(headers: str, body: bytes = COMPLETION) -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{headers}\r\n".encode() + body


def chunked(body: bytes = COMPLETION) -> bytes:
    half = len(body) // 2
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:half], body[half:]))
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks \
        + b"0\r\n\r\n"


def ask(url: str, times: int = 1, pause: float = 0.0) -> list[str | None]:
    """``times`` chat completions on one client (one connection pool), ``pause`` seconds apart."""
    async def run():
        replies = []
        async with open_client(url, "x") as client:
            for n in range(times):
                if n:
                    await asyncio.sleep(pause)
                completion = await answer(client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=4), 5)
                replies.append(reply_text(completion))
        return replies
    return asyncio.run(run())


# raw answers of the server, in order, for two requests on one client
FRAMINGS = {
    "content-length": [ok(f"Content-Length: {len(COMPLETION)}\r\n")] * 2,   # keep-alive, connection reused
    "chunked": [chunked(), chunked()],                                       # no Content-Length
    "close-delimited": [ok("Connection: close\r\n")] * 2,                    # body delimited by the close
}


@pytest.mark.parametrize("answers", FRAMINGS.values(), ids=FRAMINGS.keys())
def test_each_framing_gives_the_reply(answers):
    url, stop = raw_server(answers)
    try:
        assert ask(url, times=2) == ["verdict: 1", "verdict: 1"]
    finally:
        stop()


def test_a_kept_alive_connection_the_server_dropped_is_replaced():
    """The server answers once with keep-alive, then closes that idle connection: the next request goes out
    on a fresh connection instead of failing (and spending one of the judgment's attempts)."""
    url, stop = raw_server([ok(f"Content-Length: {len(COMPLETION)}\r\n"), CLOSE,
                            ok(f"Content-Length: {len(COMPLETION)}\r\n")])
    try:
        assert ask(url, times=2, pause=0.2) == ["verdict: 1", "verdict: 1"]
    finally:
        stop()


# server answer, cause counted, HTTP status kept, asked again by the retry policy
FAILURES = [
    (b"HTTP/1.1 503 Busy\r\nContent-Length: 2\r\n\r\n{}", "http", 503, True),
    (b"HTTP/1.1 429 Slow down\r\nContent-Length: 2\r\n\r\n{}", "http", 429, True),
    (b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}", "http", 404, False),   # refused as such
    (ok("Content-Length: 9\r\n", b"<html>hi!"), "unparsable", None, True),            # 200 but not JSON
    (b"garbage\r\n\r\n", "http", None, True),                                        # not HTTP at all
    (None, "http", None, True),                                                      # closed, no answer
]


@pytest.mark.parametrize("server_answer, cause, status, retryable", FAILURES,
                         ids=["503", "429", "404", "not-json", "not-http", "dropped"])
def test_failures_carry_their_cause(server_answer, cause, status, retryable):
    url, stop = raw_server([server_answer])
    try:
        with pytest.raises(EndpointError) as failed:
            ask(url)
    finally:
        stop()
    assert (failed.value.cause, failed.value.status, failed.value.retryable) == (cause, status, retryable)


def test_the_deadline_is_the_callers_and_counts_as_a_timeout():
    """A server that never answers: the request ends at the caller's deadline (not the SDK's default of
    10 minutes), as a timeout."""
    silent = socket.socket()  # listens (the kernel accepts the connection), never reads nor answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    url, stop = f"http://127.0.0.1:{silent.getsockname()[1]}/v1", silent.close

    async def run():
        async with open_client(url, "x") as client:
            await answer(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}]),
                         0.5)

    start = time.monotonic()
    try:
        with pytest.raises(EndpointError) as failed:
            asyncio.run(run())
    finally:
        stop()
    assert failed.value.cause == "timeout" and time.monotonic() - start < 3


def test_a_body_of_another_shape_is_not_a_reply():
    """The SDK builds its objects without validating: JSON that is not a chat completion comes back as an
    object whose reply cannot be read, which the judge counts as unparsable."""
    for body in (b'{"choices": "x"}', b'{"choices": []}', b"[1, 2]"):
        url, stop = raw_server([ok(f"Content-Length: {len(body)}\r\n", body)])
        try:
            assert ask(url) == [None]
        finally:
            stop()
