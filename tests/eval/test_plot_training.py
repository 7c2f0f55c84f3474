"""eval.plot_training on logging.jsonl files shaped like ms-swift's (the real-run check is in
tests/integration/test_grpo_live.py, on the live GRPO run's own directory)."""
import json
import math
import subprocess
import sys

import pytest

from eval import plot_training

PNG = b"\x89PNG\r\n\x1a\n"


def row(step, total=4, **values):
    return {"loss": 0.0, "reward": 0.5, "global_step/max_steps": f"{step}/{total}", **values}


def write_log(path, rows, tail=""):
    path.mkdir(parents=True, exist_ok=True)
    (path / "logging.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + tail)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "eval.plot_training", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def test_curves_of_present_keys_with_notes_for_absent_ones(tmp_path):
    rows = [row(1, **{"rewards/AdaptiveFormat/mean": 0.2, "audio_thinker/think_ratio": 0.5,
                      "audio_thinker/think_accuracy": None, "audio_thinker/no_think_accuracy": 0.25,
                      "audio_thinker/judge_quality_failures": 1, "audio_thinker/judge_failures_timeout": 1}),
            row(2, **{"rewards/AdaptiveFormat/mean": 0.6, "audio_thinker/think_ratio": 0.75,
                      "audio_thinker/think_accuracy": 0.5, "audio_thinker/no_think_accuracy": 0.0,
                      "audio_thinker/judge_quality_failures": 0}),
            {"eval_loss": 1.0, "global_step/max_steps": "2/4"},  # evaluation row: not a training curve
            {"train_runtime": 3.0, "global_step/max_steps": "2/4"},  # end-of-run summary: no loss, no reward
            {"log_history": [], "global_step": 2}]
    write_log(tmp_path, rows)
    notes = []
    panels = plot_training.curves(plot_training.training_rows(tmp_path / "logging.jsonl", notes), notes)
    labels = {title: [label for label, _, _ in lines] for title, lines in panels.items()}
    assert labels["rewards"] == ["total reward", "AdaptiveFormat"]
    assert labels["think mode (Eq. 1–4)"] == ["λ think ratio"]
    assert labels["judge"] == ["judge_failures_timeout", "judge_quality_failures"]  # per cause, per kind
    (think,) = [ys for label, _, ys in panels["accuracy per mode"] if label == "think"]
    assert math.isnan(think[0]) and think[1] == 0.5  # a null is a gap, not a zero
    assert all(xs == [1, 2] for lines in panels.values() for _, xs, _ in lines)
    assert any("audio_thinker/gamma_think" in n for n in notes)
    assert any("audio_thinker/think_tokens" in n for n in notes)


def test_cli_writes_a_png_and_prints_notes_and_where(tmp_path):
    write_log(tmp_path / "out" / "v0-20261123", [row(1), row(2)], tail='{"loss": 0.1, "rew')  # torn tail
    done = cli(tmp_path / "out", "--out", tmp_path / "curves.png")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "curves.png").read_bytes()[:8] == PNG
    assert f"plot: {tmp_path / 'curves.png'}" in done.stdout
    assert "note: audio_thinker/think_ratio is not in this run's log" in done.stdout


@pytest.mark.parametrize("setup, message", [
    (lambda d: None, "no such run directory"),
    (lambda d: d.mkdir(), "no logging.jsonl here or in a subdirectory"),
    (lambda d: write_log(d, [{"global_step/max_steps": "1/2", "train_runtime": 1}]), "no training rows"),
])
def test_bad_run_directories_get_one_line(tmp_path, setup, message):
    run_dir = tmp_path / "run"
    setup(run_dir)
    done = cli(run_dir, "--out", tmp_path / "x.png")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr and "Traceback" not in done.stderr


def test_out_must_be_a_png(tmp_path):
    write_log(tmp_path, [row(1)])
    done = cli(tmp_path, "--out", tmp_path / "curves.pdf")
    assert done.returncode == 2 and done.stderr.strip() == "error: --out: must name a .png file"


def test_a_malformed_line_is_reported_and_the_rest_plotted(tmp_path):
    (tmp_path / "logging.jsonl").write_text(json.dumps(row(1)) + "\nnot json\n" + json.dumps(row(2)) + "\n")
    done = cli(tmp_path, "--out", tmp_path / "x.png")
    assert done.returncode == 0, done.stderr
    assert "skipped 1 malformed line(s), first at line 2" in done.stdout


def test_plotted_keys_are_the_callbacks_keys():
    """The figure draws every key the callback logs, read from swift_plugins.metrics_callback, not restated:
    a key renamed there is refused here at import instead of silently never drawn."""
    from swift_plugins.metrics_callback import PREFIX, TRAIN_KEYS
    drawn = {key for lines in plot_training.PANELS.values() for key, _ in lines if key.startswith(PREFIX)}
    assert drawn == {PREFIX + name for name in TRAIN_KEYS}
    with pytest.raises(KeyError, match="TRAIN_KEYS"):
        plot_training.logged("think_rate")  # a name the callback does not log


def test_panels_without_data_are_left_out_and_the_title_names_row_and_run(tmp_path):
    """A model-a run logs the judge's counters as 0 and its rates as null at every step: no judge panel, no
    empty curve; the figure is titled with the catalogue row its args.json names, and the run's folder."""
    from recipes import catalogue

    cat = catalogue.load()
    model_a = cat.rows["model-a"]
    judge = {f"audio_thinker/{k}": 0 for k in ("judge_consistency_calls", "judge_quality_calls",
                                                 "judge_consistency_failures", "judge_failures_timeout")}
    rows = [row(s, **{"audio_thinker/think_ratio": 0.5 / s, "audio_thinker/think_accuracy": 0.5,
                      "audio_thinker/no_think_accuracy": 0.25, "audio_thinker/judge_consistency_rate": None,
                      "audio_thinker/think_quality_mean": None, **judge}) for s in (1, 2)]
    run = tmp_path / "seed-1" / "model-a"
    write_log(run, rows)
    (run / "args.json").write_text(json.dumps({
        "rlhf_type": "grpo", "model_type": cat.backbones[model_a.backbone].model_type,
        "system": model_a.prompt_file().read_text(), "reward_funcs": [n for n, _ in model_a.rewards],
        "reward_weights": [w for _, w in model_a.rewards]}))
    notes = []
    panels = plot_training.curves(plot_training.training_rows(run / "logging.jsonl", notes), notes)
    assert "judge" not in panels and [label for label, _, _ in panels["accuracy per mode"]] == ["think", "no-think"]
    assert any("judge_consistency_calls is 0 at every step" in n for n in notes)
    assert any("judge_consistency_rate is null at every step" in n for n in notes)
    assert plot_training.run_name(run) == f"model-a, run {run}"
    (run / "args.json").write_text("{}")  # a run of one's own: its folder's name
    assert plot_training.run_name(run) == f"model-a, run {run}"
    other = tmp_path / "mine"
    write_log(other, rows)
    assert plot_training.run_name(other) == f"mine, run {other}"
    done = cli(run, "--out", tmp_path / "c.png")
    import matplotlib.image as mpimg

    assert done.returncode == 0, done.stderr
    assert mpimg.imread(tmp_path / "c.png").shape[0] == round(80 * (1.2 + 2.3 * len(panels)))
    assert "no data for the panel 'judge' in this run: left out" in done.stdout
