"""The one retry policy and retry loop for calls to OpenAI-compatible servers: the LLM judge
(``swift_plugins.judge``) and the caption and rationale models of the CoT data (``data_prep.cot``). Both talk
to their servers through the ``openai`` SDK with its own retries off (``max_retries=0``), so this loop is the
only one.

Worth another attempt: a timeout, a connection error, HTTP 429 (rate limit) and 5xx (the server's trouble),
and a reply that is empty or out of format (sampling may do better next time). Not worth one: any other
4xx, a request the server refuses as such (bad model name, prompt longer than the context), which fails the
same way every time and would only spend the retry budget, inside a training step for the judge.
Attempts wait 0.25 s, 0.5 s, 1 s, ... up to 4 s, jittered by ±50 % so that many clients that failed together
do not retry together.
"""
from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

BACKOFF_BASE_S = 0.25
BACKOFF_CAP_S = 4.0


def retryable_status(status: int) -> bool:
    """Whether an HTTP error status is worth another attempt (429 and 5xx)."""
    return status == 429 or status >= 500


def backoff_s(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (1 for the first retry)."""
    delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
    return delay * (0.5 + random.random())


class AttemptFailed(Exception):
    """An attempt that gave no usable answer; ``status`` is the HTTP error status when the server sent one.
    Worth another attempt unless the server will refuse the same request again (``retryable_status``)."""

    def __init__(self, message: str, status: int | None = None, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = (status is None or retryable_status(status)) if retryable is None else retryable


class RetryNow(Exception):
    """Raised by an attempt to ask again at once (no backoff): the request itself changed."""


async def with_retries(attempt: Callable[[int], Awaitable[T]], retries: int) -> T:
    """``attempt(n)`` for n = 0, 1, … until it returns, at most ``1 + retries`` times.

    An :class:`AttemptFailed` the server may not repeat is tried again after the jittered backoff; one it
    will repeat (``retryable`` false) is raised at once. :class:`RetryNow` asks again without waiting.
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
        except AttemptFailed as err:
            last = err
            if not err.retryable:
                break
    assert last is not None
    raise last
