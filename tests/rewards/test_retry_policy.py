"""One retry loop and policy (audio_thinker/retry.py) for the judge and the CoT data generator, both through
the openai SDK with its own retries off: they retry the same failures and give up on the same ones (real HTTP
servers on 127.0.0.1)."""
from __future__ import annotations

import asyncio

import pytest

from audio_thinker.retry import retryable_status
from data_prep import cot
from swift_plugins.judge.client import judge_many
from swift_plugins.judge.prompts import build_quality_prompt, parse_quality
from swift_plugins.judge.settings import JudgeSettings

RETRIES = 2


def judge_attempts(server) -> int:
    settings = JudgeSettings(url=server.base_url, model="scripted", timeout=5, max_retries=RETRIES)
    (judgment,) = asyncio.run(judge_many(settings, [build_quality_prompt("What is it?", "It barks.")],
                                         parse_quality))
    assert judgment.value is None
    return len(server.requests)


def cot_attempts(server) -> int:
    endpoint = cot.Endpoint(server.base_url, "scripted")

    async def ask():
        async with cot.open_client(endpoint) as client:
            await cot.chat(client, endpoint, [{"role": "user", "content": "hi"}], asyncio.Semaphore(1), 5, RETRIES)

    with pytest.raises(cot.EndpointError):
        asyncio.run(ask())
    return len(server.requests)


@pytest.mark.parametrize("status", [400, 404, 422, 429, 500, 503])
@pytest.mark.parametrize("attempts", [judge_attempts, cot_attempts], ids=["judge", "cot"])
def test_both_clients_retry_the_same_failures(scripted_server, status, attempts):
    expected = 1 + RETRIES if retryable_status(status) else 1  # a refused request is not asked again
    assert attempts(scripted_server(status=status)) == expected
