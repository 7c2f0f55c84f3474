"""Two CPU processes (gloo) through recipes/model-c.sh: the λ that ATAR uses on each rank is the
think ratio of the global batch, and the run exits cleanly."""
import pytest

from audio_thinker.jsonl import read_jsonl
from audio_thinker.tags import parse_completion
from tests.helpers.paths import REPO
from tests.helpers.swift import recipe_env, run_logged

pytestmark = pytest.mark.slow


def test_lambda_is_global_think_ratio_on_every_rank(tiny_qwen2_audio, audio_qa, tmp_path, scripted_server):
    from tests.helpers.loopback_server import obedient_judge

    judge = scripted_server(reply=obedient_judge("1", "0.5"))
    # per-device batch 2 x 2 ranks = one prompt's 4 completions split across the ranks
    env = recipe_env(tiny_qwen2_audio, audio_qa, tmp_path / "runs", NPROC_PER_NODE=2, PER_DEVICE_BATCH=2,
                     MAX_STEPS=3, SAVE_STEPS=3, MASTER_PORT=29533, JUDGE_URL=judge.base_url, JUDGE_MODEL="scripted")
    log = run_logged(["bash", str(REPO / "recipes" / "model-c.sh")], tmp_path, env)
    assert "terminate called" not in log
    out = tmp_path / "runs" / "model-c"

    ranks = [read_jsonl(out / "audio_thinker" / f"batch_stats.rank{r}.jsonl") for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) >= 3
    completions = read_jsonl(out / "completions.jsonl")
    by_step = {}
    for table in completions:
        for step, text in zip(table["step"], table["completion"]):
            by_step.setdefault(int(step), []).append(parse_completion(text).is_think)
    for r0, r1 in zip(*ranks):
        assert r0["global_step"] == r1["global_step"]
        think = r0["local_think"] + r1["local_think"]
        total = r0["local_total"] + r1["local_total"]
        assert total == 4
        # both ranks use the same λ, and it is the ratio over both ranks' completions
        assert r0["think_ratio"] == r1["think_ratio"] == pytest.approx(think / total)
        assert r0["gamma_think"] == r1["gamma_think"]
    # ... and it matches the think ratio of the gathered completions ms-swift logged for that step
    logged = {row["global_step"]: row["think_ratio"] for row in ranks[0]}
    for step, modes in by_step.items():
        if step - 1 in logged:
            assert logged[step - 1] == pytest.approx(sum(modes) / len(modes))
