"""The judge never crashes training: timeouts, HTTP 500s and garbage give the
docs/rewards.md §7 fallbacks and are counted (real HTTP servers on 127.0.0.1)."""
import time

import pytest

from swift_plugins import batch
from swift_plugins import rewards as plugin
from swift_plugins.judge.settings import JudgeConfigError, JudgeSettings
from tests.helpers.judge import use_judge
from tests.helpers.loopback_server import nonce_of, obedient_judge
from tests.helpers.reward_calls import call, rows_kwargs

# think+correct, think+correct, think+wrong, no-think+correct
COMPLETIONS = ["<think>It barks.</think><answer>Dog</answer>", "<think>Woof.</think><answer>Dog</answer>",
               "<think>Meow.</think><answer>Cat</answer>", "<answer>Dog</answer>"]


def score(completions=COMPLETIONS):
    kwargs = rows_kwargs(len(completions), step=10, max_steps=100)
    batch.STATE.flush()
    consistency = call(plugin.ThinkConsistency(), completions, **kwargs)
    quality = call(plugin.ThinkQuality(), completions, **kwargs)
    (stats,) = batch.STATE.flush()  # both rewards saw the same list object: one scoring call
    atar = call(plugin.AdaptiveThinkAccuracy(), completions, **kwargs)
    return consistency, quality, atar, stats


# server behaviour, what it does to a request
FAULTS = [
    (dict(latency=3.0), "hangs past the 1 s timeout"),
    (dict(status=500), "answers HTTP 500"),
    (dict(status=429), "rate-limits"),
    (dict(garbage=True), "answers a non-JSON body"),
    (dict(reply="I think the reasoning is fine, score: 1.0"), "answers out of format"),
    (dict(reply=""), "answers empty content"),
]


@pytest.mark.parametrize("behaviour, what", FAULTS, ids=[f[1] for f in FAULTS])
def test_failed_judgments_fall_back_and_are_counted(scripted_server, monkeypatch, behaviour, what):
    server = scripted_server(**behaviour)
    use_judge(monkeypatch, server.base_url, timeout=1, max_retries=1)
    consistency, quality, atar, stats = score()
    # A failed R_c is unknown, not 0: with no verdict anywhere in the batch it is 1, the no-think value, so
    # R_a·R_c = R_a for both judged think completions as for the correct no-think one (docs/rewards.md §7);
    # the wrong think completion is never judged and keeps R_c = 0.
    assert consistency == [atar[0], atar[1], 0.0, atar[3]]
    assert stats.consistency_fallback == 1.0
    # R_t: no successful score anywhere in the batch -> 0 for everyone.
    assert quality == [0.0, 0.0, 0.0, 0.0]
    assert stats.judge_calls == {"consistency": 2, "quality": 3}
    assert stats.judge_failures == {"consistency": 2, "quality": 3}
    # bounded retries: each judgment tried 1 + MAX_RETRIES times, never more
    assert len(server.requests) == 2 * (2 + 3)


def test_unreachable_judge_falls_back(monkeypatch):
    use_judge(monkeypatch, "http://127.0.0.1:9/v1", timeout=1, max_retries=1)  # discard port: connection refused
    consistency, quality, _, stats = score()
    assert quality == [0.0] * 4 and stats.judge_failures == {"consistency": 2, "quality": 3}


def test_transient_errors_are_retried(scripted_server, monkeypatch):
    server = scripted_server(reply=obedient_judge("1", "0.6"), fail_first=3)
    use_judge(monkeypatch, server.base_url, timeout=1, max_retries=2)
    consistency, quality, atar, stats = score()
    assert stats.judge_failures == {"consistency": 0, "quality": 0}
    assert consistency[:2] == atar[:2]            # verdict 1: R_a·R_c = R_a
    assert quality == pytest.approx([0.6, 0.6, 0.6, 0.6])


def test_partial_failure_uses_mean_of_successful_scores(scripted_server, monkeypatch):
    def reply(messages):
        nonce, text = nonce_of(messages), messages[-1]["content"]
        if "score-" not in messages[0]["content"]:
            return "garbage"
        return {"barks": f"score-{nonce}: 0.9", "Meow": f"score-{nonce}: 0.3"}.get(
            next((k for k in ("barks", "Meow") if k in text), ""), "garbage")
    server = scripted_server(reply=reply)
    use_judge(monkeypatch, server.base_url, timeout=1, max_retries=0)
    _, quality, _, stats = score()
    # judged 0.9 and 0.3 succeed; "Woof." fails -> mean 0.6; no-think -> mean 0.6
    assert quality == pytest.approx([0.9, 0.6, 0.3, 0.6])
    assert stats.judge_failures["quality"] == 1 and stats.quality_batch_mean == pytest.approx(0.6)


def test_timeouts_run_concurrently(scripted_server, monkeypatch):
    server = scripted_server(latency=5.0)
    use_judge(monkeypatch, server.base_url, timeout=1, max_retries=0)
    start = time.monotonic()
    score()
    assert time.monotonic() - start < 4.5  # 5 judgments each cut at 1 s, in parallel, not 5 s in series


# environment, the variable the message must name
BAD_SETTINGS = [
    ({}, "AUDIO_THINKER_JUDGE_URL"),                                                       # nothing set
    ({"AUDIO_THINKER_JUDGE_URL": "http://h:1/v1"}, "AUDIO_THINKER_JUDGE_MODEL"),            # model missing
    ({"AUDIO_THINKER_JUDGE_URL": "localhost:8000", "AUDIO_THINKER_JUDGE_MODEL": "m"}, "URL"),  # no scheme
    ({"AUDIO_THINKER_JUDGE_URL": "http://h/v1", "AUDIO_THINKER_JUDGE_MODEL": "m",
      "AUDIO_THINKER_JUDGE_TIMEOUT": "soon"}, "TIMEOUT"),                                   # not a number
    ({"AUDIO_THINKER_JUDGE_URL": "http://h/v1", "AUDIO_THINKER_JUDGE_MODEL": "m",
      "AUDIO_THINKER_JUDGE_CONCURRENCY": "0"}, "CONCURRENCY"),                              # out of range
    ({"AUDIO_THINKER_JUDGE_URL": "http://h/v1", "AUDIO_THINKER_JUDGE_MODEL": "m",
      "AUDIO_THINKER_JUDGE_BREAKER_FAILURE_RATE": "20"}, "BREAKER_FAILURE_RATE"),           # a percentage, not a share
]


@pytest.mark.parametrize("env, named", BAD_SETTINGS)
def test_bad_settings_fail_fast_with_the_variable_named(env, named):
    with pytest.raises(JudgeConfigError, match=named):
        JudgeSettings.from_env(env)


def test_judge_rewards_refuse_to_start_without_settings(monkeypatch):
    monkeypatch.delenv("AUDIO_THINKER_JUDGE_URL", raising=False)
    plugin.settings_from_env.cache_clear()
    with pytest.raises(JudgeConfigError):
        plugin.ThinkQuality()


def out_of_format_until_reminded(messages):
    """A judge that ignores the format on a first request, and follows it once reminded."""
    if messages[-1]["content"].startswith("That reply is not in the required format."):
        return obedient_judge("1", "0.6")(messages)
    return "The reasoning looks fine to me."


# judge, max retries, requests per judgment, judged in the end (the trap: an identical retry at temperature 0)
REMINDERS = [
    (out_of_format_until_reminded, 2, 2, True),   # the reminder gets the format
    (lambda m: "still no format", 2, 2, False),   # once reminded, never the same request a third time
    (lambda m: "still no format", 0, 1, False),   # no retries allowed: no reminder either
]


@pytest.mark.parametrize("judge, retries, requests, judged", REMINDERS)
def test_a_reply_out_of_format_is_asked_again_once_with_a_reminder(scripted_server, monkeypatch, judge, retries,
                                                                 requests, judged):
    server = scripted_server(reply=judge)
    use_judge(monkeypatch, server.base_url, timeout=2, max_retries=retries)
    _, _, _, stats = score(["<think>It barks.</think><answer>Dog</answer>"])
    asked = [r["messages"] for r in server.requests if "score-" in r["messages"][0]["content"]]  # R_t's
    assert len(asked) == requests
    assert (stats.quality_count == 1) is judged
    if requests == 2:  # the second request: the same conversation, its reply, then the reminder
        first, second = asked
        assert second[:len(first)] == first and second[-2]["role"] == "assistant"
