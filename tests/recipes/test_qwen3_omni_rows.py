"""The Qwen3-Omni rows (not in the paper; docs/backbones.md): DRY_RUN on an 8-GPU node prints each row's
commands and batch layout with the backbone's own settings; the Thinking model is refused for adaptive rows;
the paper's rows are untouched (tests/recipes/dry_runs.json)."""
from __future__ import annotations

import shlex
import subprocess

import pytest

from recipes import catalogue
from tests.helpers.paths import REPO
from tests.recipes.test_recipes_dry_run import JUDGE, PAPER_GRPO, options, swift_command

ROWS = {  # row: (system prompt, {reward: weight}) -- the three steps, transcribed
    "grpo-e": ("answer_only", {"choice_accuracy": 1, "answer_format": 1}),
    "model-g": ("adaptive_think", {"atar": 1, "adaptive_format": 0.5}),
    "model-h": ("adaptive_think", {"atar": 1, "think_consistency": 0.5, "adaptive_format": 0.5, "think_quality": 1}),
}
INSTRUCT, THINKING = "Qwen/Qwen3-Omni-30B-A3B-Instruct", "Qwen/Qwen3-Omni-30B-A3B-Thinking"


def row_dry_run(row: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / "recipes" / "row.sh"), row], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(REPO), "DRY_RUN": "1", **JUDGE, **env},
                          timeout=60)


@pytest.mark.parametrize("row", sorted(ROWS))
def test_dry_run_on_an_8_gpu_node_prints_commands_and_layout(row):
    prompt, rewards = ROWS[row]
    out = row_dry_run(row)
    assert out.returncode == 0, out.stderr
    assert f"[{row}] layout: 8 training processes; 16 completions per generation (2 prompts x 8)" in out.stderr
    lines = [shlex.split(line) for line in out.stdout.splitlines() if line.strip()]
    env, subcommand, opts = swift_command(lines)
    assert subcommand == "rlhf" and opts["--rlhf_type"] == ["grpo"]
    assert opts["--model"] == [INSTRUCT] and opts["--model_type"] == ["qwen3_omni_moe"]
    assert env["NPROC_PER_NODE"] == "8" and env["ENABLE_AUDIO_OUTPUT"] == "0"  # thinker only
    assert opts["--system"][0].endswith(f"/{prompt}.txt")
    assert all(opts[k] == [v] for k, v in PAPER_GRPO.items())  # the paper's GRPO settings, unchanged
    weights = dict(zip(opts["--reward_funcs"], map(float, opts["--reward_weights"])))
    assert weights == {"choice_accuracy": 0, "think_rate": 0, **rewards}
    # its rollout: one clip and no image or video, vLLM over 8 ranks (~63 GB of weights), a 16-group weight sync
    assert opts["--vllm_limit_mm_per_prompt"] == ['{"audio":1,"image":0,"video":0}']
    assert opts["--vllm_tensor_parallel_size"] == ["8"] and opts["--move_model_batches"] == ["16"]
    assert opts["--offload_optimizer"] == ["true"]
    assert opts["--ddp_timeout"] == ["3600"]  # a hung collective fails after an hour, not ms-swift's 208 days
    preflight = next(line for line in lines if "data_prep.preflight" in line)
    assert options(preflight)["--model"] == [INSTRUCT]  # the pre-flight applies this backbone's clip rules
    assert any("swift_plugins.judge.check" in " ".join(line) for line in lines) == (row == "model-h")


@pytest.mark.parametrize("profile, deepspeed, tensor_parallel, offload", [
    ("h100-80g", "zero3_offload", "8", "false"),   # the optimizer state lives in CPU memory
    ("h200-141g", "zero3", "4", "false"),          # everything stays on the card
])
def test_the_card_profiles_give_the_backbone_its_own_plan(profile, deepspeed, tensor_parallel, offload):
    out = row_dry_run("model-h", PROFILE=profile)
    _, _, opts = swift_command([shlex.split(line) for line in out.stdout.splitlines() if line.strip()])
    assert opts["--deepspeed"] == [deepspeed] and opts["--vllm_tensor_parallel_size"] == [tensor_parallel]
    assert opts["--offload_optimizer"] == [offload]


@pytest.mark.parametrize("row", ["model-g", "model-h"])
def test_the_thinking_model_is_refused_for_adaptive_rows(row):
    out = row_dry_run(row, MODEL=THINKING)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.splitlines() == [
        f"error: MODEL={THINKING} is a Thinking model, which starts every reply with <think>: row {row} trains "
        f"the decision whether to think (ATAR), so the policy must make it; use an Instruct model ({INSTRUCT})"]


def test_the_thinking_model_may_train_the_answer_only_row():
    assert row_dry_run("grpo-e", MODEL=THINKING).returncode == 0


def test_the_rows_have_a_table_of_their_own_after_the_paper_s():
    cat = catalogue.load()
    assert cat.table("qwen3").rows == ("qwen3-omni", "grpo-e", "model-g", "model-h")
    names = list(cat.rows)
    assert names.index("qwen3-omni") > max(names.index(r.name) for r in cat.rows.values() if r.backbone != "qwen3-omni")
    assert not any(r.paper for r in cat.rows.values() if r.backbone == "qwen3-omni")  # no paper numbers
    assert all("qwen3" not in r.tables for r in cat.rows.values() if r.backbone != "qwen3-omni")


def test_the_report_lists_them_after_the_paper_s_tables_and_says_why_no_paper_numbers(tmp_path):
    """A model-c run and a model-h run, each traced to its row from its own args.json: model-c sits in the
    paper's tables beside its paper line; model-h only in the Qwen3-Omni table, after them, with the sentence
    that says there is no paper number (and no empty paper cells)."""
    from eval import report
    from tests.recipes.test_catalogue import args_of, swept

    swept(tmp_path, "c", args_of("model-c", max_steps=4), {"checkpoint-4": 60.0})
    swept(tmp_path, "h", args_of("model-h", max_steps=4, ddp_timeout=3600), {"checkpoint-4": 70.0},
          model_type="qwen3_omni_moe")
    md = report.build_report(report.find_results([str(tmp_path / "eval")]))
    paper_part, qwen3 = md.split("### Qwen3-Omni rows (beyond the paper)")
    paper_tables = paper_part[paper_part.index("### Table 1"):]
    assert "**model-c** (ours" in paper_tables and "model-h" not in paper_tables
    assert md.index("### Table 2") < md.index("### Qwen3-Omni rows") < md.index("### Training")
    table = qwen3.split("###")[0]
    assert "**model-h** (ours" in table and "model-c" not in table and "paper:" not in table
    assert "No paper numbers: Audio-Thinker's paper trains Qwen2-Audio and Qwen2.5-Omni only" in table
