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
event loop each time, so the ``openai`` SDK client (``endpoint.py``) is opened
and closed inside each ``judge_many`` call rather than kept across loops.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import openai

from audio_thinker.endpoints import reply_text
from audio_thinker.retry import RetryNow, with_retries
from swift_plugins.judge.endpoint import HTTP, TIMEOUT, UNPARSABLE, EndpointError, answer, open_client
from swift_plugins.judge.node_slots import NodeSlots, node_slots
from swift_plugins.judge.prompts import JudgePrompt
from swift_plugins.judge.settings import JudgeSettings

logger = logging.getLogger("audio_thinker")

Parser = Callable[[str | None, str], float | None]

_SEMAPHORES: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = weakref.WeakKeyDictionary()


# Why a judgment failed, as counted on the training log (audio_thinker/judge_failures_<cause>): no reply
# within AUDIO_THINKER_JUDGE_TIMEOUT; no usable HTTP response (an error status, a refused or dropped
# connection); a reply, but not a chat completion or not a verdict/score in format.
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


async def _judge_one(client: openai.AsyncOpenAI, settings: JudgeSettings, prompt: JudgePrompt, parse: Parser,
                     sem: asyncio.Semaphore, slots: NodeSlots | None) -> Judgment:
    asked = {"messages": prompt.messages, "reminded": False, "attempts": 0}

    async def attempt(_: int) -> float:
        asked["attempts"] += 1
        async with sem, (slots.slot() if slots else contextlib.nullcontext()):
            # The timeout starts once the node has a slot for the request (node_slots.py): it measures the
            # server's work, not the time spent behind the other ranks' requests.
            completion = await answer(client.chat.completions.create(
                model=settings.model, messages=asked["messages"], max_tokens=settings.max_tokens,
                temperature=0.0), settings.timeout)
        reply = reply_text(completion)
        if reply is None:  # not a chat completion at all: the server's fault, worth asking the same again
            raise EndpointError(UNPARSABLE, f"unparsable: not a chat completion: {str(completion)[:80]!r}")
        value = parse(reply, prompt.nonce)
        if value is not None:
            return value
        error = f"unparsable: {reply[:80]!r}"
        if asked["reminded"]:  # the judge ignored the reminder too; the same request would get the same reply
            raise EndpointError(UNPARSABLE, error, retryable=False)
        asked["messages"], asked["reminded"] = prompt.reminded(reply), True  # at temperature 0 only a
        raise RetryNow(error)                                                  # different request helps

    try:
        return Judgment(await with_retries(attempt, settings.max_retries), None, asked["attempts"])
    except asyncio.CancelledError:
        raise
    except RetryNow as err:  # the attempts ran out right after a reply out of format
        return Judgment(None, str(err), asked["attempts"], UNPARSABLE)
    except EndpointError as err:
        return Judgment(None, str(err), asked["attempts"], err.cause)
    except Exception as err:  # every failure mode must end in a fallback, never in a crash
        return Judgment(None, f"{type(err).__name__}: {err}"[:200], asked["attempts"], HTTP)


async def judge_many(settings: JudgeSettings, prompts: Sequence[JudgePrompt], parse: Parser) -> list[Judgment]:
    """Ask the judge every prompt concurrently (bounded); one Judgment per prompt, in order."""
    if not prompts:
        return []
    sem = _semaphore(settings.concurrency)
    slots = node_slots(settings.url, settings.node_concurrency) if settings.node_concurrency else None
    async with open_client(settings.url, settings.api_key) as client:
        return list(await asyncio.gather(*(_judge_one(client, settings, p, parse, sem, slots) for p in prompts)))
