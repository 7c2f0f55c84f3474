"""Two CPU processes (gloo) through recipes/model-c.sh: the λ that ATAR uses on each rank is the
think ratio of the global batch, the logged λ and per-mode figures of every step are those of the
completions trained in that step (summed over both ranks), and the run exits cleanly."""
import pytest

from audio_thinker.jsonl import read_jsonl
from tests.helpers.dashboard import assert_matches
from tests.helpers.paths import REPO
from tests.helpers.swift import recipe_env, run_logged

pytestmark = pytest.mark.slow


def test_lambda_and_dashboard_are_global_on_every_rank(tiny_qwen2_audio, audio_qa, tmp_path, scripted_server):
    from tests.helpers.loopback_server import obedient_judge

    judge = scripted_server(reply=obedient_judge("1", "0.5"))
    # per-device batch 2 x 2 ranks = one prompt's 4 completions split across the ranks
    env = recipe_env(tiny_qwen2_audio, audio_qa, tmp_path / "runs", NPROC_PER_NODE=2, PER_DEVICE_BATCH=2,
                     MAX_STEPS=3, SAVE_STEPS=3, MASTER_PORT=29533, JUDGE_URL=judge.base_url, JUDGE_MODEL="scripted")
    log = run_logged(["bash", str(REPO / "recipes" / "model-c.sh")], tmp_path, env)
    assert "terminate called" not in log
    out = tmp_path / "runs" / "model-c"

    ranks = [read_jsonl(out / "audio_thinker" / f"batch_stats.rank{r}.jsonl") for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 3
    for r0, r1 in zip(*ranks):
        assert r0["global_step"] == r1["global_step"]
        think = r0["local_think"] + r1["local_think"]
        total = r0["local_total"] + r1["local_total"]
        assert total == 4
        # both ranks use the same λ, and it is the ratio over both ranks' completions
        assert r0["think_ratio"] == r1["think_ratio"] == pytest.approx(think / total)
        assert r0["gamma_think"] == r1["gamma_think"]
        assert r0["quality_batch_mean"] == r1["quality_batch_mean"]

    # every logging step: λ, per-mode accuracy and no-think answer length equal those recomputed from the
    # gathered completions ms-swift logged for that step (both ranks' halves), with the training rule
    rows = [row for row in read_jsonl(out / "logging.jsonl") if "reward" in row]
    tables = read_jsonl(out / "completions.jsonl")
    assert len(rows) == 3 and len(tables) >= 3
    for row, table in zip(rows, tables):
        assert len(table["completion"]) == 4
        assert_matches(row, table)
        # judged completions: every correct think-mode one, and the obedient judge finds all consistent
        assert row["audio_thinker/judge_consistency_failures"] == 0
        if row["audio_thinker/judge_consistency_calls"]:
            assert row["audio_thinker/judge_consistency_rate"] == 1.0
        else:
            assert row["audio_thinker/judge_consistency_rate"] is None
        # the R_t mean over both ranks: 0.5 from the scripted judge whenever a think completion was judged
        assert row["audio_thinker/think_quality_mean"] == (0.5 if row["audio_thinker/judge_quality_calls"] else None)
        # token means: both ranks' token counts, the same as in the per-rank files
    for step, row in enumerate(rows):
        calls = [ranks[0][step], ranks[1][step]]
        for mode in ("think", "no_think"):
            n = sum(c[f"{mode}_token_rows"] for c in calls)
            expected = sum(c[f"{mode}_tokens"] for c in calls) / n if n else None
            assert row[f"audio_thinker/{mode}_tokens"] == (pytest.approx(expected) if n else None)
