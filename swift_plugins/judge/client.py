"""Asynchronous, bounded, failure-tolerant calls to an OpenAI-compatible judge.

- concurrency is bounded per process by one semaphore shared by every judge
  reward running in the same event loop (ms-swift gathers async rewards, so
  R_c and R_t share the bound instead of doubling it), and across the
  machine's processes by ``node_concurrency`` slots (``node_slots.py``);
- each attempt has a timeout, counted from when the request got its slot;
  timeouts, transport errors and HTTP 429/5xx are retried a bounded number of
  times with jittered backoff, another HTTP 4xx is not
  (``audio_thinker/retry.py``, the policy the CoT data client shares); a reply
  out of format is asked again once, with a reminder of the format (at
  temperature 0 the same request gets the same reply), never twice;
- nothing raises: a judgment that still fails returns ``value=None`` with the
  reason and its cause (``timeout``, ``http``, ``unparsable``: the dashboard's
  failure keys), and the reward applies the docs/rewards.md §7 fallback.

ms-swift runs async rewards with ``asyncio.run`` once per step, i.e. in a new
event loop each time, so the HTTP client is opened and closed inside each
``judge_many`` call rather than kept across loops.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from audio_thinker.retry import backoff_s, retryable_status
from swift_plugins.judge.node_slots import NodeSlots, node_slots
from swift_plugins.judge.prompts import JudgePrompt
from swift_plugins.judge.settings import JudgeSettings

logger = logging.getLogger("audio_thinker")

Parser = Callable[[str | None, str], float | None]

_SEMAPHORES: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = weakref.WeakKeyDictionary()


# Why a judgment failed, as counted on the training log (audio_thinker/judge_failures_<cause>):
TIMEOUT = "timeout"  # no reply within AUDIO_THINKER_JUDGE_TIMEOUT
HTTP = "http"  # no usable HTTP response: an error status, a refused or dropped connection
UNPARSABLE = "unparsable"  # a reply came, but not a chat completion or not a verdict/score in format
CAUSES = (TIMEOUT, HTTP, UNPARSABLE)


@dataclass(frozen=True)
class Judgment:
    value: float | None
    error: str | None = None  # why value is None: "timeout", "http 500", "unparsable: ..."
    attempts: int = 1
    cause: str | None = None  # one of CAUSES when value is None (the last attempt's)


def _semaphore(limit: int) -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    sem = _SEMAPHORES.get(loop)
    if sem is None:
        sem = _SEMAPHORES[loop] = asyncio.Semaphore(limit)
    return sem


def _reply_text(payload) -> str | None:
    """``choices[0].message.content`` of an OpenAI chat completion, None if the body is not one."""
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    return content if isinstance(content, str) else None


def _classify(err: BaseException) -> tuple[str, str]:
    """(cause, description) of a failed attempt."""
    import httpx

    if isinstance(err, (asyncio.TimeoutError, httpx.TimeoutException)):
        return TIMEOUT, "timeout"
    if isinstance(err, httpx.HTTPStatusError):
        return HTTP, f"http {err.response.status_code}"
    if isinstance(err, httpx.TransportError):
        return HTTP, "connection error"
    if isinstance(err, ValueError):  # a 2xx body that is not JSON (json.JSONDecodeError)
        return UNPARSABLE, f"unparsable body: {err}"[:200]
    # Anything else failed before a usable response existed: count it with the transport errors.
    return HTTP, f"{type(err).__name__}: {err}"[:200]


def _refused(err: BaseException) -> bool:
    """An HTTP error another attempt cannot fix (a 4xx other than 429)."""
    import httpx

    return isinstance(err, httpx.HTTPStatusError) and not retryable_status(err.response.status_code)


async def _judge_one(client, settings: JudgeSettings, prompt: JudgePrompt, parse: Parser,
                     sem: asyncio.Semaphore, slots: NodeSlots | None) -> Judgment:
    error, cause = "not attempted", HTTP
    attempts, messages, reminded = 0, prompt.messages, False
    for attempt in range(settings.max_retries + 1):
        if attempt and messages is prompt.messages:  # after a server-side failure; a reminder is asked at once
            await asyncio.sleep(backoff_s(attempt))
        attempts += 1
        try:
            async with sem, (slots.slot() if slots else contextlib.nullcontext()):
                # The timeout starts once the node has a slot for the request (node_slots.py): it measures
                # the server's work, not the time spent behind the other ranks' requests.
                response = await asyncio.wait_for(client.post("chat/completions", json={
                    "model": settings.model, "messages": messages,
                    "max_tokens": settings.max_tokens, "temperature": 0.0}), timeout=settings.timeout)
            response.raise_for_status()
            reply = _reply_text(response.json())
        except asyncio.CancelledError:
            raise
        except Exception as err:  # every failure mode must end in a fallback, never in a crash
            cause, error = _classify(err)
            if _refused(err):
                break
            continue
        value = parse(reply, prompt.nonce)
        if value is not None:
            return Judgment(value, None, attempts)
        cause, error = UNPARSABLE, f"unparsable: {str(reply)[:80]!r}"
        if reply is None:  # not a chat completion at all: the server's fault, worth asking the same again
            continue
        if reminded:  # the judge ignored the reminder too; the same request again would get the same reply
            break
        messages, reminded = prompt.reminded(reply), True  # at temperature 0 only a different request helps
    return Judgment(None, error, attempts, cause)


async def judge_many(settings: JudgeSettings, prompts: Sequence[JudgePrompt], parse: Parser) -> list[Judgment]:
    """Ask the judge every prompt concurrently (bounded); one Judgment per prompt, in order."""
    if not prompts:
        return []
    import httpx

    sem = _semaphore(settings.concurrency)
    slots = node_slots(settings.url, settings.node_concurrency) if settings.node_concurrency else None
    limits = httpx.Limits(max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency)
    async with httpx.AsyncClient(base_url=settings.url + "/", limits=limits, timeout=settings.timeout,
                                 headers={"Authorization": f"Bearer {settings.api_key}"}) as client:
        return list(await asyncio.gather(*(_judge_one(client, settings, p, parse, sem, slots) for p in prompts)))
