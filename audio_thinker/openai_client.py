"""The one client for OpenAI-compatible endpoints: the LLM judge (``swift_plugins.judge``: rewards and the
start-up check) and the caption and rationale models of the CoT data (``data_prep.cot``).

Standard library only (``audio_thinker`` is the shared vocabulary of both packages): HTTP/1.1 over asyncio
streams, JSON in and out, keep-alive connections reused within one client, plain ``http`` or ``https``
(no proxy: the endpoints are the node's own servers or named hosts).
The protocol needed is small (``POST chat/completions``, ``GET models``), and a request costs less CPU
than through httpx or the openai SDK (``perf/bench_judge_concurrency.py``), which matters when eight
ranks send hundreds of judge requests per step from the training processes themselves.

Every failure is one :class:`EndpointError` with its ``cause``, the judge's failure keys: ``timeout`` (no
complete answer in time), ``http`` (an error status, a refused, reset or dropped connection) and
``unparsable`` (a 2xx body that is not JSON). :func:`with_retries` is the one retry loop, with the policy
of ``audio_thinker/retry.py``.
"""
from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlparse

from audio_thinker.retry import backoff_s, retryable_status

T = TypeVar("T")
TIMEOUT, HTTP, UNPARSABLE = "timeout", "http", "unparsable"


class EndpointError(Exception):
    """A request that did not give a usable answer; ``cause`` is one of TIMEOUT, HTTP, UNPARSABLE."""

    def __init__(self, cause: str, message: str, status: int | None = None, detail: str = "",
                 retryable: bool | None = None) -> None:
        super().__init__(message)
        self.cause, self.status, self.detail = cause, status, detail
        # Worth another attempt (audio_thinker/retry.py) unless the server will refuse the same request again.
        self.retryable = (status is None or retryable_status(status)) if retryable is None else retryable


class RetryNow(Exception):
    """Raised by an attempt to ask again at once (no backoff): the request itself changed."""


class Client:
    """Requests to one OpenAI-compatible base URL (``http://host:port/v1``); use ``async with``."""

    def __init__(self, base_url: str, api_key: str = "EMPTY") -> None:
        url = urlparse(base_url.rstrip("/"))
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host, self.tls = url.hostname, url.scheme == "https"
        self.port = url.port or (443 if self.tls else 80)
        self.prefix = url.path
        self.base_url = base_url.rstrip("/")
        self._headers = (f"Host: {url.netloc}\r\nAuthorization: Bearer {api_key}\r\n"
                         f"Accept: application/json\r\nUser-Agent: audio-thinker\r\n")
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()

    async def post(self, path: str, payload: dict, timeout: float) -> Any:
        """``POST base_url/path`` with a JSON body; the JSON reply."""
        return await self._timed("POST", path, json.dumps(payload).encode(), timeout)

    async def get(self, path: str, timeout: float) -> Any:
        """``GET base_url/path``; the JSON reply."""
        return await self._timed("GET", path, None, timeout)

    async def _timed(self, method: str, path: str, body: bytes | None, timeout: float) -> Any:
        try:
            status, raw = await asyncio.wait_for(self._exchange(method, path, body), timeout)
        except asyncio.TimeoutError:
            raise EndpointError(TIMEOUT, f"timeout after {timeout:g} s") from None
        except (OSError, asyncio.IncompleteReadError, ValueError) as err:  # refused, reset, dropped, garbled
            raise EndpointError(HTTP, _connection_error(err)) from None
        if status >= 400:
            raise EndpointError(HTTP, f"http {status}", status, detail=raw[:300].decode("utf-8", "replace"))
        try:
            return json.loads(raw)
        except ValueError:
            raise EndpointError(UNPARSABLE, f"unparsable body: {raw[:80]!r}") from None

    async def _exchange(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        head = f"{method} {self.prefix}/{path.lstrip('/')} HTTP/1.1\r\n{self._headers}"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        request = (head + "\r\n").encode("latin-1") + (body or b"")
        while True:
            reused = bool(self._idle)
            reader, writer = self._idle.pop() if reused else await asyncio.open_connection(
                self.host, self.port, ssl=ssl.create_default_context() if self.tls else None)
            try:
                writer.write(request)
                await writer.drain()
                status, headers = await _read_head(reader)
            except (OSError, asyncio.IncompleteReadError):
                writer.close()
                if reused:  # a kept-alive connection the server had closed meanwhile: a fresh one
                    continue
                raise
            except BaseException:  # cancelled (timeout) mid-request: the connection's state is unknown
                writer.close()
                raise
            try:
                raw, reusable = await _read_body(reader, headers)
            except BaseException:
                writer.close()
                raise
            if reusable:
                self._idle.append((reader, writer))
            else:
                writer.close()
            return status, raw


def _connection_error(err: BaseException) -> str:
    known = {ConnectionRefusedError: "refused", ConnectionResetError: "reset by the server",
             asyncio.IncompleteReadError: "dropped mid-answer"}
    text = next((t for kind, t in known.items() if isinstance(err, kind)), None)
    return f"connection error: {text or getattr(err, 'strerror', None) or err}"[:300]


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    line = await reader.readuntil(b"\r\n")
    parts = line.decode("latin-1").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"not an HTTP response: {line[:80]!r}")
    headers = {}
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> tuple[bytes, bool]:
    """The body and whether the connection may carry another request."""
    keep = headers.get("connection", "").lower() != "close"
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = []
        while (size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)) > 0:
            chunks.append(await reader.readexactly(size + 2))
        while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
            pass
        return b"".join(c[:-2] for c in chunks), keep
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"])), keep
    return await reader.read(), False  # delimited by the server closing the connection


async def with_retries(attempt: Callable[[int], Awaitable[T]], retries: int) -> T:
    """``attempt(n)`` for n = 0, 1, … until it returns, at most ``1 + retries`` times.

    An :class:`EndpointError` the server may not repeat (timeout, connection, 429, 5xx, a body that is not
    JSON) is tried again after the jittered backoff of ``audio_thinker/retry.py``; one it will repeat (any
    other 4xx) is raised at once. :class:`RetryNow` asks again without waiting (the request changed).
    The last error is raised when the attempts run out.
    """
    last: Exception | None = None
    for n in range(retries + 1):
        if n and not isinstance(last, RetryNow):
            await asyncio.sleep(backoff_s(n))
        try:
            return await attempt(n)
        except RetryNow as err:
            last = err
        except EndpointError as err:
            last = err
            if not err.retryable:
                break
    assert last is not None
    raise last
