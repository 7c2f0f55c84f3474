"""The experiment catalogue (recipes/catalogue.yaml): each row's facts in one place, checked on load, and
a row added to a copy reaches every consumer: the recipe, the table command, the judge detection, the
report (its order, its name, the paper's figures) and the paired ablation steps."""
from __future__ import annotations

import ast
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from eval import report
from eval.report_paired import ablation_steps
from recipes import catalogue
from tests.helpers.paths import REPO

CAT = catalogue.load()
VARIANTS = ["model-a-tok", "model-a-nostd", "model-a-tok-nostd", "model-a-nobal", "model-a-thinkless"]
CODE = ("recipes", "eval", "swift_plugins", "audio_thinker", "data_prep", "scripts")


def code_files():
    for folder in CODE:
        for path in sorted((REPO / folder).rglob("*")):
            if path.suffix in (".py", ".sh", ".yaml") and "__pycache__" not in path.parts:
                yield path


def test_the_shipped_catalogue_has_every_row_of_the_paper_in_order():
    """The paper's rows in its order, then the study's variants of model-a (none in a paper table), then the
    Qwen3-Omni rows (beyond the paper, a table of their own)."""
    assert list(CAT.rows) == ["qwen2-audio", "sft-a", "sft-b", "grpo-a", "grpo-b", "model-a", "model-b",
                              "model-c", "qwen2.5-omni", "sft-c", "sft-d", "grpo-c", "grpo-d", "model-d",
                              "model-e", "model-f", *VARIANTS, "qwen3-omni", "grpo-e", "model-g", "model-h"]
    assert all(CAT.row(v).parent == "model-a" and CAT.row(v).tables == ("study",) for v in VARIANTS)
    assert CAT.table("table2").rows == ("qwen2-audio", "model-c", "qwen2.5-omni", "model-f")
    assert CAT.table("all").rows == CAT.table("table1").rows
    assert [r.name for r in CAT.rows.values() if r.needs_judge] == ["model-b", "model-c", "model-e", "model-f",
                                                                     "model-h"]


def python_strings(path: Path) -> list[str]:
    """The string constants of a Python file's code (docstrings, which explain with examples, aside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docstrings]


def test_each_row_s_facts_are_in_the_catalogue_only():
    """What grep finds: a row's backbone, method, prompt, rewards and weights, tables and parent are written
    in recipes/catalogue.yaml and nowhere else in the code (tests and docs transcribe them to check)."""
    for path in code_files():
        if path.name == "catalogue.yaml":
            continue
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".sh":   # the recipes name their row; they set none of its facts
            assert not re.findall(r"\b(BACKBONE|METHOD|PROMPT|REWARDS|WEIGHTS|SFT_TARGET)=[\"'\w]", text), path
            assert not re.search(r"(sft-a|model-c)\W+(sft-b|qwen2.5-omni)", text), path  # a table's rows
        elif path.suffix == ".yaml":  # the paper's figures: no result -> paper row map, no ablation parents
            assert not re.search(r"^\s*(aliases|parent|rewards|backbone):", text, re.M), path
        else:   # naming a row to run it is fine; spelling its rewards or weights is a second home
            strings = python_strings(path)
            for row in CAT.rows.values():
                if len(row.rewards) > 1:
                    spelled = {" ".join(n for n, _ in row.rewards), " ".join(w for _, w in row.rewards)}
                    assert not [x for x in strings if x.strip() in spelled], (path, row.name)
    for row in CAT.rows.values():
        script = REPO / "recipes" / f"{row.name}.sh"
        if script.exists():
            assert re.findall(r"^([A-Z_]+)=(.*)$", script.read_text(), re.M) == [("ROW", row.name)], script


@pytest.mark.parametrize("change, message", [
    ({"backbone": "qwen3"}, "backbone 'qwen3' is not one of"),          # a typo in the backbone
    ({"method": "dpo"}, "method 'dpo' is not one of"),
    ({"prompt": "no_such_prompt"}, "prompt 'no_such_prompt' is not a file"),
    ({"rewards": {"atar": 1, "acuracy": 1}}, "rewards ['acuracy'] are not declared"),  # not in the registry
    ({"parent": "model-z"}, "parent 'model-z' is not a row above it"),  # a parent below or nowhere
    ({"tables": ["table9"]}, "tables ['table9'] are not in tables"),
    ({"reward": {"atar": 1}}, "unknown keys ['reward']"),                # a misspelt key is not ignored
    ({"swift_args": {"max_steps": 5}}, "swift_args ['max_steps'] are not options a row may set"),  # the launcher's
    ({"swift_args": {"--loss_type": "dapo"}}, "swift_args ['--loss_type'] are not options"),  # a name, no dashes
])
def test_a_bad_entry_is_refused_with_what_is_wrong(change, message):
    data = yaml.safe_load(catalogue.PATH.read_text())
    data["rows"]["model-a"].update(change)
    with pytest.raises(catalogue.CatalogueError, match=re.escape(message)):
        catalogue.parse(data)


def test_a_run_is_identified_by_its_own_settings():
    args = {"model_type": "qwen2_5_omni", "rlhf_type": "grpo",
            "system": (REPO / "swift_plugins/prompts/adaptive_think.txt").read_text(),
            "reward_funcs": ["atar", "think_consistency", "adaptive_format", "choice_accuracy", "think_rate"],
            "reward_weights": [1.0, 0.5, 0.5, 0.0, 0.0]}
    assert CAT.identify(args).name == "model-e"                        # monitors at weight 0 aside
    assert CAT.identify({**args, "model_type": "qwen2_audio"}).name == "model-b"   # the backbone tells
    assert CAT.identify({**args, "reward_weights": [1, 0.5, 1, 0, 0]}) is None     # another weight: no row
    sft = {"model_type": "qwen2_audio", "system": (REPO / "swift_plugins/prompts/always_think.txt").read_text()}
    assert CAT.identify(sft).name == "sft-b"


def test_a_variant_s_run_is_told_from_its_parent_s_by_its_swift_args():
    """model-a's variants share its prompt and rewards; the options in their args.json tell them apart (ms-swift
    writes every option there, defaults included)."""
    args = {"model_type": "qwen2_audio", "rlhf_type": "grpo",
            "system": (REPO / "swift_plugins/prompts/adaptive_think.txt").read_text(),
            "reward_funcs": ["atar", "adaptive_format", "choice_accuracy", "think_rate"],
            "reward_weights": [1.0, 0.5, 0.0, 0.0], "loss_type": "grpo", "scale_rewards": "group"}
    assert CAT.identify(args).name == "model-a"
    assert CAT.identify({**args, "loss_type": "dapo"}).name == "model-a-tok"
    assert CAT.identify({**args, "scale_rewards": "none"}).name == "model-a-nostd"
    assert CAT.identify({**args, "loss_type": "dapo", "scale_rewards": "none"}).name == "model-a-tok-nostd"
    assert CAT.identify({**args, "reward_funcs": ["atar_unbalanced", "adaptive_format", "choice_accuracy",
                                                  "think_rate"]}).name == "model-a-nobal"


def test_swift_args_reach_the_command_after_the_row_s_own_options_and_before_extra_args():
    """A YAML true is ms-swift's true; the user's EXTRA_ARGS come last, so they still win."""
    data = yaml.safe_load(catalogue.PATH.read_text())
    data["rows"]["model-a-tok"]["swift_args"] = {"loss_type": "dapo", "log_entropy": True}
    row = catalogue.parse(data).row("model-a-tok")
    assert row.swift_args == (("loss_type", "dapo"), ("log_entropy", "true"))
    env = {"DRY_RUN": "1", "MODEL": "/m", "DATA": "/d.jsonl", "PROFILE": "cpu", "EXTRA_ARGS": "--loss_type bnpo",
           "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "recipes.launch", "model-a-tok-nostd"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    words = shlex.split(out.stdout.splitlines()[-1])
    tail = words[words.index("--log_completions") + 2:]
    assert tail == ["--loss_type", "dapo", "--scale_rewards", "none", "--loss_type", "bnpo"]


# ---- a new row is one entry ----------------------------------------------------------------------------

NEW_ROW = """
  model-x:
    summary: ATAR + TR without CR (an ablation of our own)
    backbone: qwen2-audio
    method: grpo
    prompt: adaptive_think
    rewards: {atar: 1, adaptive_format: 0.5, think_quality: 1}
    parent: model-a
    tables: [table1, table2]
"""


@pytest.fixture
def with_new_row(tmp_path, monkeypatch):
    text = catalogue.PATH.read_text(encoding="utf-8")
    at = text.index("\n  qwen2.5-omni:\n    summary")  # after model-c, before the Omni rows
    copy = tmp_path / "catalogue.yaml"
    copy.write_text(text[:at] + NEW_ROW.rstrip("\n") + text[at:], encoding="utf-8")
    monkeypatch.setenv("AUDIO_THINKER_CATALOGUE", str(copy))
    return copy


def shell(argv, **env):
    full = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(REPO), "DRY_RUN": "1",
            "PYTHON": sys.executable, "AUDIO_THINKER_JUDGE_URL": "http://judge-node:8000/v1", **env}
    return subprocess.run(argv, capture_output=True, text=True, env=full, timeout=120, cwd=REPO)


def fake_result(bench: str, accuracy: float) -> dict:
    figure = {"accuracy": accuracy, "ci95": [accuracy - 5, accuracy + 5], "n": 100, "missing": 0,
              "unparsable": 0}
    return {"benchmark": bench, "version": "v0325" if bench == "mmau" else "unknown",
            "paper_columns": {c: figure for c in ("Sound", "Music", "Speech", "Avg")},
            "total": {**figure}, "answer_not_in_choices": []}


def swept(root: Path, out: str, run_args: dict | None, steps: dict[str, float], base_model=None,
          model_type="qwen2_audio") -> Path:
    """An eval.sweep output folder as eval.sweep leaves it (sweep.json, a result per step) for a run whose
    ms-swift args.json is ``run_args`` (None: the base model only)."""
    run = root / "runs" / out
    if run_args is not None:
        run.mkdir(parents=True)
        (run / "args.json").write_text(json.dumps({**run_args, "output_dir": str(run)}))
    folder = root / "eval" / out
    for step, accuracy in steps.items():
        (folder / step).mkdir(parents=True)
        (folder / step / "mmau.json").write_text(json.dumps(fake_result("mmau", accuracy)))
    (folder / "sweep.json").write_text(json.dumps({
        "run": str(run) if run_args is not None else None, "run_root": str(run) if run_args is not None else None,
        "base_model": base_model or str(run), "model_type": model_type, "rows": []}))
    return folder


def args_of(row: str, **extra) -> dict:
    r = CAT.row(row)
    rewards = [*r.rewards, ("choice_accuracy", "0"), ("think_rate", "0")] if r.method == "grpo" else []
    return {"model_type": CAT.backbones[r.backbone].model_type, "rlhf_type": "grpo" if rewards else None,
            "system": r.prompt_file().read_text(), "reward_funcs": [n for n, _ in rewards] or None,
            "reward_weights": [float(w) for _, w in rewards] or None, **extra}


def test_a_row_added_to_a_copy_reaches_every_consumer(with_new_row, tmp_path):
    cat = catalogue.load()
    row = cat.row("model-x")
    assert row.needs_judge                                               # the registry's judge detection
    # the recipe: its dry run trains exactly that row
    out = shell(["bash", "-c", f"ROW=model-x source {REPO}/recipes/_base.sh"],
                AUDIO_THINKER_CATALOGUE=str(with_new_row))
    assert out.returncode == 0, out.stderr
    swift = shlex.split(next(line for line in out.stdout.splitlines() if " swift " in line))
    funcs = swift[swift.index("--reward_funcs") + 1:swift.index("--reward_weights")]
    assert funcs == ["atar", "adaptive_format", "think_quality", "choice_accuracy", "think_rate"]
    assert "swift_plugins.judge.check" in out.stdout
    # the table command: a row of table2, trained and evaluated there, after model-c
    out = shell(["bash", str(REPO / "recipes/table.sh"), "table2"], OUTPUT_ROOT=str(tmp_path / "o"),
                AUDIO_THINKER_CATALOGUE=str(with_new_row))
    assert out.returncode == 0, out.stderr
    assert "rows qwen2-audio model-c model-x qwen2.5-omni model-f;" in out.stdout
    assert f"--output_dir {tmp_path}/o/model-x" in out.stdout and f"--run {tmp_path}/o/model-x" in out.stdout
    # the report: named from its run's args.json, in the catalogue's order, and a paired step model-a -> model-x
    swept(tmp_path, "a", args_of("model-a"), {"checkpoint-4": 60.0})
    swept(tmp_path, "x", args_of("model-c", reward_funcs=["atar", "adaptive_format", "think_quality"],
                                 reward_weights=[1, 0.5, 1], rlhf_type="grpo"), {"checkpoint-4": 70.0})
    results = report.find_results([str(tmp_path / "eval")])
    assert [label for label, _ in results] == ["model-a", "model-x"]
    assert ("model-a", "model-x") in [(a.name, b.name) for a, b in ablation_steps(cat)]


def test_the_report_names_sweep_folders_from_their_runs_and_keeps_runs_apart(tmp_path):
    """Sweep folders are named base, checkpoint-2, ...: the rows come from the runs (two runs that both have a
    checkpoint-4 stay two rows), listed in the paper's order, not alphabetically."""
    swept(tmp_path, "mine", args_of("model-c"), {"checkpoint-2": 50.0, "checkpoint-4": 60.0})
    swept(tmp_path, "other", args_of("grpo-a"), {"checkpoint-4": 40.0})
    swept(tmp_path, "qa-base", None, {"base": 30.0}, base_model="Qwen/Qwen2-Audio-7B-Instruct")
    results = report.find_results([str(tmp_path / "eval")])
    assert [label for label, _ in results] == ["qwen2-audio", "grpo-a", "model-c (checkpoint-2)",
                                               "model-c (checkpoint-4)"]
    md = report.build_report(results)
    assert "paper: grpo-a (l. 103)" in md and "paper: Qwen2-Audio-7B-Instruct (reproduce) (l. 100)" in md
    assert md.index("**qwen2-audio**") < md.index("**grpo-a**") < md.index("**model-c (checkpoint-2)**")
    swept(tmp_path, "again", args_of("model-c"), {"checkpoint-4": 61.0})   # a second model-c run
    labels = [label for label, _ in report.find_results([str(tmp_path / "eval")])]
    assert f"model-c (checkpoint-4 of {tmp_path}/runs/mine)" in labels
    assert f"model-c (checkpoint-4 of {tmp_path}/runs/again)" in labels and len(labels) == 5


def test_a_table_of_existing_rows_with_shared_overrides(tmp_path):
    """A table can be a set of existing rows with settings of its own (a miniature of the paper's): its rows
    train with them, the environment still wins, and the rows' own facts are untouched."""
    copy = tmp_path / "catalogue.yaml"
    copy.write_text(catalogue.PATH.read_text(encoding="utf-8") + (
        "  mini: {benchmarks: [mmau], rows: [sft-a, grpo-a],\n"
        "         overrides: {PROFILE: cpu, MODEL: /m/tiny, MAX_STEPS: '2', LR: 1e-4, MAX_COMPLETION_LENGTH: '24'}}\n"),
        encoding="utf-8")
    out = shell(["bash", str(REPO / "recipes/table.sh"), "mini"], OUTPUT_ROOT=str(tmp_path / "o"),
                AUDIO_THINKER_CATALOGUE=str(copy), MMAU_META="/b/mmau.json", LR="3e-5")
    assert out.returncode == 0, out.stderr
    assert "rows sft-a grpo-a;" in out.stdout
    swift = {shlex.split(line)[line.split().index("swift") + 1]: shlex.split(line)
             for line in out.stdout.splitlines() if " swift " in line}
    assert sorted(swift) == ["rlhf", "sft"]  # both rows' commands: sft-a's and grpo-a's
    for sub, argv in swift.items():
        opts = dict(zip(argv, argv[1:]))
        assert opts["--model"] == "/m/tiny" and opts["--max_steps"] == "2" and opts["--use_cpu"] == "true"
        assert opts["--learning_rate"] == "3e-5"                          # the environment wins
    assert dict(zip(swift["rlhf"], swift["rlhf"][1:]))["--max_completion_length"] == "24"
    assert dict(zip(swift["rlhf"], swift["rlhf"][1:]))["--reward_funcs"] == "choice_accuracy"  # grpo-a's own


def test_the_report_shows_every_row_s_steps_and_marks_an_unfinished_one(tmp_path):
    """A result of a run stopped at checkpoint-4 of 30 planned steps is shown, but marked unfinished with its
    steps; a run that reached its planned step is not marked."""
    for out, row, planned in (("stopped", "grpo-a", 30), ("done", "model-c", 4)):
        swept(tmp_path, out, args_of(row, max_steps=planned), {"checkpoint-4": 50.0})
        folder = tmp_path / "runs" / out / "checkpoint-4"
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"weights")
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": 4, "max_steps": planned}))
    md = report.build_report(report.find_results([str(tmp_path / "eval")]))
    assert "**grpo-a** (ours, unfinished: 4 of 30 steps)" in md and "**model-c** (ours)" in md
    training = md[md.index("### Training"):md.index("### Denominators")]
    assert "| grpo-a | 4 of 30 (unfinished) |" in training and "| model-c | 4 of 4 |" in training
    assert "- **grpo-a** (unfinished: 4 of 30 steps):" in md and "- **model-c**:" in md   # the summary


def test_the_option_guard_guards_a_variant_s_swift_args(tmp_path, monkeypatch):
    """A variant that chose an option the guard refuses is refused before anything runs, like any command."""
    from audio_thinker.cli import UsageError
    from recipes.launch import run

    data = yaml.safe_load(catalogue.PATH.read_text())
    data["rows"]["model-a-tok"]["swift_args"] = {"loss_type": "real"}
    copy = tmp_path / "catalogue.yaml"
    copy.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("AUDIO_THINKER_CATALOGUE", str(copy))
    env = {"DRY_RUN": "1", "MODEL": "/m", "DATA": "/d.jsonl", "PROFILE": "cpu"}
    with pytest.raises(UsageError, match=re.escape("--loss_type real is refused")):
        run.plan("model-a-tok", REPO, env)
    assert run.plan("model-a-nostd", REPO, env).option("--scale_rewards") == "none"   # warned at run time only
