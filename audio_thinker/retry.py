"""The one retry policy for calls to OpenAI-compatible servers: the LLM judge (``swift_plugins.judge.client``)
and the caption and rationale models of the CoT data (``data_prep.cot``).

Worth another attempt: a timeout, a connection error, HTTP 429 (rate limit) and 5xx (the server's trouble),
and a reply that is empty or out of format (sampling may do better next time). Not worth one: any other
4xx, a request the server refuses as such (bad model name, prompt longer than the context), which fails the
same way every time and would only spend the retry budget, inside a training step for the judge.
Attempts wait 0.25 s, 0.5 s, 1 s, ... up to 4 s, jittered by ±50 % so that many clients that failed together
do not retry together.
"""
from __future__ import annotations

import random

BACKOFF_BASE_S = 0.25
BACKOFF_CAP_S = 4.0


def retryable_status(status: int) -> bool:
    """Whether an HTTP error status is worth another attempt (429 and 5xx)."""
    return status == 429 or status >= 500


def backoff_s(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (1 for the first retry)."""
    delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
    return delay * (0.5 + random.random())
