"""Scoring and inference inputs that would give a wrong number or lose work: each is refused with one line
(file and line named, exit 2) or counted and reported; nothing already written is changed."""
from __future__ import annotations

import json

import pytest

from audio_thinker.cli import run as cli_run
from eval import convert, infer, score

# Twelve MMAU-format items (the reported case: 12 predictions, the last line cut).
CHOICES = ["Man", "Woman", "Child", "Robot"]
ITEMS = [{"id": f"q{i}", "question": "Who speaks?", "choices": CHOICES, "answer": CHOICES[i % 4],
          "task": "speech", "difficulty": "easy", "sub-category": "s", "category": "c"} for i in range(12)]


def jsonl(path, rows, tail=""):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail)
    return path


def main_of(module, argv, capsys):
    code = cli_run(module.main, [str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip().splitlines()


# --- eval.score -------------------------------------------------------------------------------------------

def test_a_cut_last_line_is_counted_as_missing_and_reported(tmp_path, capsys):
    preds = jsonl(tmp_path / "p.jsonl", [dict(it, model_output=it["answer"]) for it in ITEMS[:11]],
                  tail=json.dumps(dict(ITEMS[11], model_output="Man"))[:40])
    out = tmp_path / "r.json"
    code, _, err = main_of(score, ["mmau", "--input", preds, "--out", out], capsys)
    assert code == 0
    assert err[0] == f"warning: {preds}:12: not JSON (Expecting property name enclosed in double quotes at column 41); counted as missing"
    result = json.loads(out.read_text())
    assert {k: result["total"][k] for k in ("n", "correct", "missing")} == {"n": 12, "correct": 11, "missing": 1}
    assert result["unreadable_lines"] == [{"line": 12, "reason": "not JSON (Expecting property name enclosed in double quotes at column 41)"}]


def test_with_meta_a_cut_line_is_a_missing_item(tmp_path, capsys):
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps(ITEMS))
    preds = jsonl(tmp_path / "p.jsonl", [dict(it, model_output=it["answer"]) for it in ITEMS[:11]], tail="{\"id\": \"q1")
    result = score.run("mmau", str(preds), meta=str(meta))
    assert {k: result["total"][k] for k in ("n", "correct", "missing")} == {"n": 12, "correct": 11, "missing": 1}


@pytest.mark.parametrize("case, expected", [
    ("infer_output",  # eval.infer rows scored without eval.convert: the reply is under "output"
     "{p}: no row has 'model_output', the field mmau predictions are read from (rows have: answer, category, "
     "choices, difficulty, id, output, question, sub-category, task); convert eval.infer output with "
     "python -m eval.convert"),
    ("no_id", "{p}:4: not mmau metadata: no 'id' (it has: answer, category, choices, difficulty, "
              "model_output, question, sub-category, task); expected the benchmark's official metadata or "
              "eval.convert output"),
    ("duplicate_id", "{p}:14: id 'q1' appears twice (first on line 3)"),   # named by the line each starts on
    ("wrong_benchmark",  # MMAR predictions scored against MMAU metadata
     "{p}: none of its 12 ids is in --meta {m} (e.g. 'mmar-0'); scoring the wrong benchmark or the wrong "
     "metadata file?"),
    ("training_rows_as_meta",
     "{m}:1: not mmau metadata: no 'id', 'answer' (it has: audios, choices, messages, solution, "
     "source_id); expected the benchmark's official metadata or eval.convert output"),
])
def test_inputs_that_would_give_a_wrong_score_are_refused(tmp_path, capsys, case, expected):
    rows = [dict(it, model_output=it["answer"]) for it in ITEMS]
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps(ITEMS))
    use_meta = case in ("wrong_benchmark", "training_rows_as_meta")
    if case == "infer_output":
        rows = [dict(it, output=it["answer"]) for it in ITEMS]
    elif case == "no_id":
        rows[2].pop("id")
    elif case == "duplicate_id":
        rows.append(dict(rows[1]))
    elif case == "wrong_benchmark":
        rows = [dict(r, id=f"mmar-{i}") for i, r in enumerate(rows)]
    elif case == "training_rows_as_meta":
        meta.write_text("".join(json.dumps({"messages": [{"role": "user", "content": "<audio>q"}], "audios": ["a.wav"],
                                            "solution": "Man", "choices": CHOICES, "source_id": str(i)}) + "\n"
                                for i in range(16)))
    preds = tmp_path / "p.json"
    preds.write_text("[\n" + ",\n".join(map(json.dumps, rows)) + "\n]")   # item k on line k + 1
    argv = ["mmau", "--input", preds] + (["--meta", meta] if use_meta else [])
    code, out, err = main_of(score, argv, capsys)
    assert (code, out) == (2, "")
    assert err == ["error: " + expected.format(p=preds, m=meta)]


# --- eval.convert -----------------------------------------------------------------------------------------

def test_convert_reports_unknown_ids_and_refuses_when_none_match(tmp_path, capsys):
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps(ITEMS[:3]))
    rows = [{"id": i, "output": "<answer>Man</answer>"} for i in ("q0", "q1", "zz9", "zz8")]
    preds = jsonl(tmp_path / "p.jsonl", rows)
    out = tmp_path / "o.json"
    code, _, err = main_of(convert, ["mmau", "--predictions", preds, "--meta", meta, "--out", out], capsys)
    assert code == 0
    assert err[0] == f"warning: {preds}: 2 id(s) not in {meta}, not converted: zz9, zz8"
    assert [("model_output" in it) for it in json.loads(out.read_text())] == [True, True, False]
    jsonl(preds, rows[2:])
    code, _, err = main_of(convert, ["mmau", "--predictions", preds, "--meta", meta, "--out", out], capsys)
    assert code == 2 and err == [f"error: {preds}: none of its 2 ids is in --meta {meta} (e.g. 'zz9'); "
                                 "the wrong benchmark or metadata file?"]


# --- eval.infer: --out ------------------------------------------------------------------------------------

@pytest.fixture
def bench(tmp_path):
    import numpy as np
    import soundfile as sf

    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(4000, dtype="float32"), 16000)  # 0.25 s: over the 0.2 s the encoder needs
    return jsonl(tmp_path / "bench.jsonl", [{"id": f"q{i}", "messages": [{"role": "user", "content": "<audio>q"}],
                                             "audios": [str(wav)]} for i in range(3)])


def infer_argv(tmp_path, bench, out, *extra):
    # The model is a folder with an empty config: it passes the path check (eval.infer refuses a path that is no
    # checkpoint first) and could not load, so every refusal below must come before the model would load.
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text("{}")
    return ["--model", model, "--benchmark-file", bench, "--out", out, *extra]


def test_infer_never_appends_to_or_cuts_a_file_that_is_not_its_output(tmp_path, bench, capsys):
    out = tmp_path / "mmau-meta.json"
    original = json.dumps(ITEMS)  # a JSON list on one line, no newline: the old code cut it to nothing
    out.write_text(original)
    code, _, err = main_of(infer, infer_argv(tmp_path, bench, out), capsys)
    assert code == 2
    assert err == [f"error: {out}:1: not an eval.infer output (its last line is not a row); refusing to append to it"]
    assert out.read_text() == original


def test_infer_refuses_to_mix_settings_in_one_out(tmp_path, bench, capsys):
    out = tmp_path / "p.jsonl"
    done = {"id": "q0", "output": "<answer>x</answer>", "infer": {
        "model": str(tmp_path / "model"), "adapters": [], "system_file": None, "system_sha256": None,
        "engine": "transformers", "model_type": None, "temperature": 0.0, "max_new_tokens": 1024}}
    jsonl(out, [done])
    before = out.read_text()
    code, _, err = main_of(infer, infer_argv(tmp_path, bench, out, "--max-new-tokens", "64"), capsys)
    assert code == 2
    assert err == [f"error: {out}: holds rows made with other settings (max_new_tokens: 1024 there, 64 now); "
                   "write to another --out, or delete this file to start over"]
    assert out.read_text() == before


def test_infer_checks_the_benchmark_file_before_the_model(tmp_path, bench, capsys):
    rows = [json.loads(line) for line in bench.read_text().splitlines()]
    jsonl(bench, rows + [rows[0]])
    code, _, err = main_of(infer, infer_argv(tmp_path, bench, tmp_path / "p.jsonl"), capsys)
    assert code == 2 and err == [f"error: {bench}:4: id 'q0' repeats line 1"]


@pytest.mark.parametrize("trained_with, given, warned", [
    ("Think first.", None, True),                 # the trap: evaluated without the prompt it learned with
    ("Think first.", "--system", False),          # given: nothing to say
    (None, None, False),                          # a run without --system (or a base model)
])
def test_infer_warns_when_the_training_system_prompt_is_not_given(tmp_path, bench, capsys, trained_with, given,
                                                                  warned):
    model = tmp_path / "checkpoint-2"
    model.mkdir()
    (model / "args.json").write_text(json.dumps({"system": trained_with, "model": "base"}))
    (model / "config.json").write_text("{}")   # a checkpoint folder by its path; it never loads here
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Think first.")
    out = tmp_path / "not-ours.json"
    out.write_text("[]")  # refused after the input checks: the model never loads in this test
    argv = ["--model", model, "--benchmark-file", bench, "--out", out] + (["--system", prompt] if given else [])
    code, _, err = main_of(infer, argv, capsys)
    assert code == 2 and err[-1].startswith(f"error: {out}:1: not an eval.infer output")
    warning = (f"warning: the model was trained with a system prompt ({model / 'args.json'}) and none is given: "
               "it is evaluated without it; pass --system FILE with that prompt (eval.sweep does so from args.json)")
    assert err[:-1] == ([warning] if warned else [])


# --- eval.infer: a row that fails, with the real engine -----------------------------------------------------

@pytest.mark.slow
def test_a_failing_row_is_an_error_row_in_any_batch_size_and_a_resume_moves_past_it(tmp_path, tiny_checkpoints,
                                                                                    capsys):
    import numpy as np
    import soundfile as sf

    from audio_thinker.jsonl import read_jsonl

    good, gone, corrupt = tmp_path / "good.wav", tmp_path / "gone.wav", tmp_path / "corrupt.wav"
    t = np.arange(16000) / 16000
    sf.write(good, (0.3 * np.sin(2 * np.pi * 440 * t)).astype("float32"), 16000)
    corrupt.write_bytes(good.read_bytes()[:30])
    rows = [{"id": f"q{i}", "messages": [{"role": "user", "content": "<audio>What is it?"}], "audios": [str(a)]}
            for i, a in enumerate((good, gone, good))]
    bench = jsonl(tmp_path / "bench.jsonl", rows)
    out = tmp_path / "p.jsonl"
    argv = ["--model", tiny_checkpoints / "qwen2-audio", "--model-type", "qwen2_audio", "--benchmark-file", bench,
            "--out", out, "--batch-size", "1", "--max-new-tokens", "4"]
    # 1. the pre-flight check finds the missing clip: an error row, the model never sees it, the run finishes
    code, _, err = main_of(infer, argv, capsys)
    assert code == 0, err
    assert f"warning: {bench}:2: {gone}: no such file (written as an error row)" in err
    got = read_jsonl(out)
    assert [r["id"] for r in got] == ["q0", "q1", "q2"]
    assert got[1]["output"] is None and got[1]["error"] == f"pre-flight: {gone}: no such file"
    assert all(isinstance(got[i]["output"], str) for i in (0, 2))
    assert f"warning: 1 of them failed and score as missing (first: q1: pre-flight: {gone}: no such file); " \
           "--retry-errors redoes them" in err
    assert main_of(infer, argv, capsys)[2][-1] == f"wrote 0 row(s) to {out}"  # a resume moves past it

    # 2. a clip that breaks in the engine itself (after the check): in a batch of one the old code re-raised,
    # so every resume died at that row
    runner = infer.Runner(str(tiny_checkpoints / "qwen2-audio"), [], "transformers", 1, "qwen2_audio", 4, 0.0)
    broken = [dict(rows[0], id="b0", audios=[str(corrupt)]), dict(rows[0], id="b1")]
    out2 = tmp_path / "p2.jsonl"
    assert infer.run(broken, out2, runner.generate, None, batch_size=1) == 2
    first, second = read_jsonl(out2)
    assert first["output"] is None and first["error"].startswith(f"AudioLoadError: cannot load audio {corrupt}: ")
    assert isinstance(second["output"], str)
    assert infer.run(broken, out2, runner.generate, None, batch_size=1) == 0
