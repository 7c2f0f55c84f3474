"""Two CPU processes (gloo) through recipes/model-c.sh, evaluating after every step: the λ that ATAR
uses on each rank is the think ratio of the global batch; every logging step carries every dashboard key,
and its λ and per-mode figures are those of the completions scored for it (summed over both ranks);
evaluation's figures go to eval_ keys only, never into training's; the keys reach TensorBoard; the run
exits cleanly."""
import pytest

from audio_thinker.jsonl import read_completion_tables, read_jsonl
from swift_plugins.metrics_callback import TRAIN_KEYS
from tests.helpers.dashboard import assert_matches
from tests.helpers.paths import REPO
from tests.helpers.swift import recipe_env, run_logged

pytestmark = pytest.mark.slow


def test_lambda_and_dashboard_are_global_and_eval_kept_apart(tiny_qwen2_audio, audio_qa, tmp_path,
                                                             scripted_server):
    from tests.helpers.loopback_server import obedient_judge

    judge = scripted_server(reply=obedient_judge("1", "0.5"))
    val = tmp_path / "val.jsonl"  # one prompt: one evaluation batch of 4 completions, 2 per rank
    val.write_text(audio_qa.read_text().splitlines()[0] + "\n")
    # per-device batch 2 x 2 ranks = one prompt's 4 completions split across the ranks
    env = recipe_env(tiny_qwen2_audio, audio_qa, tmp_path / "runs", NPROC_PER_NODE=2, PER_DEVICE_BATCH=2,
                     MAX_STEPS=2, SAVE_STEPS=2, MASTER_PORT=29533, JUDGE_URL=judge.base_url, JUDGE_MODEL="scripted",
                     REPORT_TO="tensorboard", EXTRA_ARGS=f"--val_dataset {val} --eval_strategy steps --eval_steps 1 "
                                                         f"--per_device_eval_batch_size 2")
    log = run_logged(["bash", str(REPO / "recipes" / "model-c.sh")], tmp_path, env)
    assert "terminate called" not in log
    out = tmp_path / "runs" / "model-c"

    # per scoring call: 2 training + 2 evaluation calls on each rank, in the same order on both
    ranks = [read_jsonl(out / "audio_thinker" / f"batch_stats.rank{r}.jsonl") for r in (0, 1)]
    assert [c["mode"] for c in ranks[0]] == [c["mode"] for c in ranks[1]] == ["train", "eval"] * 2
    for r0, r1 in zip(*ranks):
        assert r0["global_step"] == r1["global_step"]
        think = r0["local_think"] + r1["local_think"]
        total = r0["local_total"] + r1["local_total"]
        assert total == 4
        # both ranks use the same λ, and it is the ratio over both ranks' completions
        assert r0["think_ratio"] == r1["think_ratio"] == pytest.approx(think / total)
        assert r0["gamma_think"] == r1["gamma_think"]
        assert r0["quality_batch_mean"] == r1["quality_batch_mean"]

    rows = read_jsonl(out / "logging.jsonl")
    logged = [row for row in rows if "reward" in row or "eval_reward" in row]
    assert ["reward" in row for row in logged] == [True, False] * 2
    # completions.jsonl: per step the training table then the evaluation table (gathered from both ranks),
    # as on the log (ms-swift's repeat of the last one at the end-of-training summary dropped by the reader)
    tables = read_completion_tables(out / "completions.jsonl")
    assert len(tables) == len(logged)
    for row, table, r0, r1 in zip(logged, tables, ranks[0], ranks[1]):
        prefix = "audio_thinker/" if "reward" in row else "eval_audio_thinker/"
        other = "eval_audio_thinker/" if "reward" in row else "audio_thinker/"
        for key in TRAIN_KEYS:
            assert prefix + key in row, key  # every key at every logging step (null allowed)
        assert not any(k.startswith(other) for k in row)
        assert len(table["completion"]) == 4
        # λ, per-mode accuracy and no-think answer length: those recomputed with the training rule from
        # exactly the completions scored for this row; evaluation never leaks into training, nor back
        assert_matches(row, table, prefix)
        # judged completions: every correct think-mode one, and the obedient judge finds all consistent
        assert row[prefix + "judge_consistency_failures"] == 0
        assert row[prefix + "judge_consistency_rate"] == (1.0 if row[prefix + "judge_consistency_calls"] else None)
        # the R_t mean over both ranks: 0.5 from the scripted judge whenever a think completion was judged
        assert row[prefix + "think_quality_mean"] == (0.5 if row[prefix + "judge_quality_calls"] else None)
        # token means over both ranks' token counts
        for mode in ("think", "no_think"):
            n = r0[f"{mode}_token_rows"] + r1[f"{mode}_token_rows"]
            expected = (r0[f"{mode}_tokens"] + r1[f"{mode}_tokens"]) / n if n else None
            assert row[prefix + f"{mode}_tokens"] == (pytest.approx(expected) if n else None)

    # the same keys reached TensorBoard (the callback runs before the report_to callbacks)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (events,) = {p.parent for p in out.rglob("events.out.tfevents.*")}
    tags = set(EventAccumulator(str(events)).Reload().Tags()["scalars"])
    for key in ("think_ratio", "no_think_answer_chars", "judge_failures_http"):
        assert f"train/audio_thinker/{key}" in tags and f"eval/audio_thinker/{key}" in tags, sorted(tags)
