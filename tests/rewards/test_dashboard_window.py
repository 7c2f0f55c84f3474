"""The dashboard figures of one logging window (single process): what each key means, null for a mode
with no completions, and evaluation-time calls kept out of training's window."""
import pytest
import torch

from swift_plugins import batch, metrics_callback
from swift_plugins import rewards as plugin
from tests.helpers.reward_calls import call, rows_kwargs

# think+correct (5 tokens), think+wrong (7), no-think+correct "Dog" (2), no-think+wrong "A cat barks" (4)
COMPLETIONS = ["<think>It barks.</think><answer>Dog</answer>", "<think>Meow.</think><answer>Cat</answer>",
               "<answer>Dog</answer>", "<answer>A cat barks</answer>"]
TOKENS = [[1] * 5, [1] * 7, [1] * 2, [1] * 4]


class Trainer:
    """What the plugin reads of ms-swift's trainer: its model's train/eval mode."""

    def __init__(self, model):
        self.model = model


def score(completions, trainer=None, **extra):
    batch.STATE.attach_trainer(trainer)
    kwargs = {**rows_kwargs(len(completions)), **extra}
    call(plugin.AdaptiveThinkAccuracy(), completions, **kwargs)
    call(plugin.ChoiceAccuracy(), completions, **kwargs)


@pytest.fixture(autouse=True)
def fresh_state():
    batch.STATE.flush()
    yield
    batch.STATE.attach_trainer(None)
    batch.STATE.flush()


def test_window_figures():
    score(COMPLETIONS, response_token_ids=TOKENS)
    score(COMPLETIONS[:1], response_token_ids=TOKENS[:1])  # a second call in the same window
    m = metrics_callback.window_metrics(batch.STATE.flush(batch.TRAIN))
    assert m["audio_thinker/think_ratio"] == pytest.approx(3 / 5)       # pooled over the window's completions
    assert m["audio_thinker/think_accuracy"] == pytest.approx(2 / 3)
    assert m["audio_thinker/no_think_accuracy"] == pytest.approx(1 / 2)
    assert m["audio_thinker/think_tokens"] == pytest.approx((5 + 7 + 5) / 3)
    assert m["audio_thinker/no_think_tokens"] == pytest.approx((2 + 4) / 2)
    assert m["audio_thinker/no_think_answer_chars"] == pytest.approx((3 + 11) / 2)
    # no judge reward ran: rates null, counts 0
    assert m["audio_thinker/judge_consistency_rate"] is None and m["audio_thinker/think_quality_mean"] is None
    assert m["audio_thinker/judge_failures_timeout"] == 0
    assert set(m) == {"audio_thinker/" + k for k in metrics_callback.TRAIN_KEYS}


def test_a_mode_without_completions_is_null_not_zero():
    score(COMPLETIONS[2:])  # no-think only, and no token ids passed
    m = metrics_callback.window_metrics(batch.STATE.flush(batch.TRAIN))
    assert m["audio_thinker/think_ratio"] == 0.0
    assert m["audio_thinker/think_accuracy"] is None and m["audio_thinker/think_tokens"] is None
    assert m["audio_thinker/no_think_tokens"] is None
    assert m["audio_thinker/no_think_accuracy"] == 0.5
    empty = metrics_callback.window_metrics([])
    assert all(v is None or v == 0 for v in empty.values())


def test_evaluation_calls_stay_out_of_the_training_window():
    trainer = Trainer(torch.nn.Linear(1, 1))
    trainer.model.train()
    score(COMPLETIONS[:2], trainer)    # training: think only
    trainer.model.eval()
    score(COMPLETIONS[2:], trainer)    # evaluation: no-think only
    evals = batch.STATE.flush(batch.EVAL)
    train = batch.STATE.flush(batch.TRAIN)
    assert [s.mode for s in train] == ["train"] and [s.mode for s in evals] == ["eval"]
    assert metrics_callback.window_metrics(train)["audio_thinker/think_ratio"] == 1.0
    assert metrics_callback.window_metrics(evals, prefix="eval_audio_thinker/")["eval_audio_thinker/think_ratio"] == 0


# (log line, the window it closes): only the logs every rank writes enter the callback's collective
LOG_KINDS = [
    ({"loss": 0.1, "learning_rate": 1e-6}, batch.TRAIN),     # a training logging step
    ({"eval_loss": 0.2, "eval_runtime": 1.0}, batch.EVAL),    # the evaluation loop
    ({"test_mmau": 0.5}, None),                               # --eval_use_evalscope: one rank may not write it
    ({"test_mmau": 0.5, "eval_reward": 0.1}, None),           # evalscope logs in eval mode: ms-swift adds eval_ keys
    ({"train_runtime": 3.0, "loss": 0.1}, None),              # the end-of-training summary
    ({"custom": 1.0}, None),                                  # another callback's own line
    (None, None),
]


@pytest.mark.parametrize("logs, kind", LOG_KINDS)
def test_which_logs_close_a_window(logs, kind):
    assert metrics_callback.log_kind(logs) == kind


def on_log(logs, trainer):
    """Through the callback ms-swift builds from --callbacks audio_thinker."""
    from swift.callbacks import callbacks_map

    metrics_callback.register_callback()
    callback = callbacks_map[metrics_callback.CALLBACK_NAME](None, trainer)
    callback.on_log(None, None, None, logs=logs)
    return logs


def test_an_evalscope_test_log_takes_no_training_window():
    """The callback used to take evalscope's test_* line for a training window: the window's figures went
    onto the test line, and the next training line had none."""
    trainer = Trainer(torch.nn.Linear(1, 1))
    score(COMPLETIONS, trainer)
    assert on_log({"test_mmau": 0.5}, trainer) == {"test_mmau": 0.5}
    train = on_log({"loss": 0.1}, trainer)
    assert train["audio_thinker/think_ratio"] == 0.5 and train["audio_thinker/think_accuracy"] == 0.5
