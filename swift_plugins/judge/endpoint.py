"""The judge's OpenAI-compatible server, through the ``openai`` SDK (``AsyncOpenAI``): proxies, TLS and the
HTTP protocol are the SDK's; the retries are the project's own (``audio_thinker/retry.py``: the SDK's
``max_retries`` is 0, so there is one retry loop), and so is the deadline of a request, which the caller
starts once the request holds its node slot (``node_slots.py``).

Every failure is one :class:`EndpointError` with its ``cause``, the judge's failure keys on the training log:
``timeout`` (no complete answer in time), ``http`` (an error status; a refused, reset or dropped
connection; an answer that is not HTTP) and ``unparsable`` (a 2xx body that is not JSON, or not the
OpenAI object asked for).
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import openai

from audio_thinker.endpoints import connection_error, tls_context
from audio_thinker.retry import AttemptFailed

T = TypeVar("T")
TIMEOUT, HTTP, UNPARSABLE = "timeout", "http", "unparsable"


class EndpointError(AttemptFailed):
    """A request that did not give a usable answer; ``cause`` is one of TIMEOUT, HTTP, UNPARSABLE."""

    def __init__(self, cause: str, message: str, status: int | None = None, detail: str = "",
                 retryable: bool | None = None) -> None:
        super().__init__(message, status, retryable)
        self.cause, self.detail = cause, detail


def open_client(base_url: str, api_key: str) -> openai.AsyncOpenAI:
    """A client of one base URL (``http://host:port/v1``) for one event loop; use ``async with``."""
    return openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0,
                              http_client=openai.DefaultAsyncHttpxClient(verify=tls_context()))


async def answer(request: Awaitable[T], timeout: float) -> T:
    """What the SDK's ``request`` returns within ``timeout`` seconds from now, or an :class:`EndpointError`."""
    try:
        return await asyncio.wait_for(request, timeout)
    except (asyncio.TimeoutError, openai.APITimeoutError):
        raise EndpointError(TIMEOUT, f"timeout after {timeout:g} s") from None
    except openai.APIStatusError as err:
        raise EndpointError(HTTP, f"http {err.status_code}", err.status_code, detail=err.response.text[:300]) \
            from None
    except openai.APIConnectionError as err:  # refused, reset, dropped mid-answer, not HTTP at all
        raise EndpointError(HTTP, connection_error(err)) from None
    except ValueError as err:  # a 2xx body that is not JSON (the SDK's json.JSONDecodeError)
        raise EndpointError(UNPARSABLE, f"unparsable body: {err}"[:300]) from None
