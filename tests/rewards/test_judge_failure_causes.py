"""Judge failures are classified by cause (timeout, http, unparsable) and counted per scoring call, the
numbers behind the dashboard's audio_thinker/judge_failures_<cause> (real HTTP servers on 127.0.0.1)."""
import pytest

from swift_plugins import batch
from swift_plugins import rewards as plugin
from tests.helpers.judge import use_judge
from tests.helpers.reward_calls import call, rows_kwargs

COMPLETIONS = ["<think>It barks.</think><answer>Dog</answer>", "<think>Woof.</think><answer>Dog</answer>",
               "<think>Meow.</think><answer>Cat</answer>", "<answer>Dog</answer>"]

# server behaviour -> the cause every failed judgment must carry
CAUSES = [
    (dict(latency=3.0), "timeout"),
    (dict(status=500), "http"),
    (dict(status=429), "http"),
    (dict(garbage=True), "unparsable"),
    (dict(reply="score: high"), "unparsable"),
]


@pytest.mark.parametrize("behaviour, cause", CAUSES, ids=[f"{next(iter(b))}->{c}" for b, c in CAUSES])
def test_failures_are_counted_by_cause(scripted_server, monkeypatch, behaviour, cause):
    server = scripted_server(**behaviour)
    use_judge(monkeypatch, server.base_url, timeout=1, max_retries=0)
    kwargs = rows_kwargs(len(COMPLETIONS))
    batch.STATE.flush()
    call(plugin.ThinkConsistency(), COMPLETIONS, **kwargs)
    call(plugin.ThinkQuality(), COMPLETIONS, **kwargs)
    (stats,) = batch.STATE.flush()
    assert stats.judge_failure_causes == {cause: 2 + 3}  # 2 consistency + 3 quality judgments, all failed
    assert stats.consistency_judged == 0 and stats.quality_count == 0


def test_unreachable_judge_is_an_http_failure(monkeypatch):
    use_judge(monkeypatch, "http://127.0.0.1:9/v1", timeout=1, max_retries=0)  # discard port: refused
    kwargs = rows_kwargs(len(COMPLETIONS))
    batch.STATE.flush()
    call(plugin.ThinkQuality(), COMPLETIONS, **kwargs)
    (stats,) = batch.STATE.flush()
    assert stats.judge_failure_causes == {"http": 3}


def test_the_warning_names_the_step_as_logging_jsonl_does(monkeypatch, caplog):
    """During the reward call of a step the trainer's global_step still counts the steps finished (2); the
    row logging.jsonl writes for this step says "global_step/max_steps": "3/3" (ms-swift's patcher, after
    the step). The warning used to say "at step 2"."""
    use_judge(monkeypatch, "http://127.0.0.1:9/v1", timeout=1, max_retries=0)  # discard port: refused
    batch.STATE.flush()
    with caplog.at_level("WARNING", logger="audio_thinker"):
        call(plugin.ThinkQuality(), COMPLETIONS, **rows_kwargs(len(COMPLETIONS), step=2, max_steps=3))
    batch.STATE.flush()
    (message,) = [r.getMessage() for r in caplog.records if "judgments failed" in r.getMessage()]
    assert " at step 3/3 on rank 0;" in message
