"""Silent-audio and choice-order controls: the rows asked, the files converted, the figures scored."""
from __future__ import annotations

import copy
import json
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from audio_thinker import benchmark_declarations as benchmarks
from audio_thinker.cli import UsageError
from audio_thinker.rows import build_user_text
from eval import audio_control, choice_order, convert, infer
from eval.score import run
from eval.grading import join_predictions, score
from tests.helpers.paths import REPO, benchmark_file



def bench_row(i, choices=("Dog", "Cat", "Bird", "Car"), answer="Cat"):
    return {"id": f"q{i}", "messages": [{"role": "user", "content": build_user_text("What animal?", choices)}],
            "audios": [f"/a/{i}.wav"], "solution": answer, "choices": list(choices), "question": "What animal?"}


# --- choice order ---------------------------------------------------------------------------------------

def test_rotated_rows_ask_the_rotated_options_and_keep_the_gold():
    rows = choice_order.rotate_rows([bench_row(0), bench_row(1, ("yes", "no"), "no")], 4)
    assert [r["id"] for r in rows] == ["q0@rot0", "q0@rot1", "q0@rot2", "q0@rot3", "q1@rot0", "q1@rot1"]  # 2 options: 2 ways
    r1 = rows[1]
    assert r1["choices"] == ["Cat", "Bird", "Car", "Dog"] and r1["solution"] == "Cat"  # gold text unchanged
    assert r1["messages"][0]["content"] == build_user_text("What animal?", ["Cat", "Bird", "Car", "Dog"])
    assert (r1["source_id"], r1["rotation"], r1["rotations"]) == ("q0", 1, 4)
    assert rows[0]["messages"] == bench_row(0)["messages"]  # rotation 0 is the original question


def test_rows_that_cannot_be_rotated_are_refused_before_anything_runs():
    other = bench_row(0)
    other["messages"][0]["content"] = "<audio>Which one? A) Dog B) Cat"  # options not in our template
    with pytest.raises(UsageError, match="1 row.*q0"):
        choice_order.rotate_rows([bench_row(1), other], 2)
    with pytest.raises(UsageError, match="at least 1"):
        choice_order.rotate_rows([bench_row(1)], 0)


def rotated_predictions(meta, answer_for, k):
    """Rotated inference rows for MMAU items: answer_for(item choices as asked, gold) -> reply."""
    rows = []
    for item in meta:
        for r in choice_order.rotations_of(len(item["choices"]), k):
            asked = choice_order.rotate(item["choices"], r)
            rows.append({"id": f"{item['id']}@rot{r}", "source_id": item["id"], "rotation": r, "rotations": k,
                         "choices": asked, "output": f"<answer>{answer_for(asked, item['answer'])}</answer>"})
    return rows


def score_rotated(tmp_path, meta, answer_for, meta_path, k=4):
    rows = rotated_predictions(meta, answer_for, k)
    items = choice_order.rotated_items(benchmarks.MMAU, meta, rows)
    path = tmp_path / "rotated.json"
    path.write_text(json.dumps(items))
    return run("mmau", str(path), meta=meta_path)


def words(text):
    return set(re.findall(r"\b\w+\b", text.lower()))


def clean_items(meta):
    """Items where no wrong choice can pass the token rule for the gold (a handful of MMAU items can):
    here "right" means "named the gold text", which an independent count can check."""
    return [it for it in meta if len(set(it["choices"])) == len(it["choices"])
            and not any(words(it["answer"]) <= words(c) for c in it["choices"] if c != it["answer"])]


def test_a_model_that_always_picks_the_first_option_has_zero_circular_accuracy(load_meta, tmp_path):
    meta = clean_items(load_meta("mmau-test-mini-v0325.json"))
    meta_path = tmp_path / "meta.json"
    meta_path.write_text(json.dumps(meta))
    result = score_rotated(tmp_path, meta, lambda asked, gold: asked[0], str(meta_path))
    co = result["choice_order"]
    gold_first = sum(it["choices"][0] == it["answer"] for it in meta)
    assert len(meta) > 950 and result["total"]["n"] == len(meta)
    assert result["total"]["correct"] == gold_first  # rotation 0 is the ordinary result
    assert co["rotations"] == 4 and co["circular"]["correct"] == 0 and co["circular"]["n"] == len(meta)
    assert co["by_gold_position"]["A"]["accuracy"] == 100.0
    assert all(f["accuracy"] == 0.0 for p, f in co["by_gold_position"].items() if p != "A")
    n_asked = sum(min(4, len(it["choices"])) for it in meta)
    assert sum(f["n"] for f in co["by_gold_position"].values()) == n_asked
    assert co["circular"]["ci95"] is not None


def test_circular_accuracy_counts_an_item_only_when_right_under_every_rotation(load_meta, tmp_path):
    meta = clean_items(load_meta("mmau-test-mini-v0325.json"))[:200]
    # right unless the gold stands last; 3 rotations of 4 options leave one position unasked
    def answer(asked, gold):
        return gold if asked[-1] != gold else asked[0]
    result = score_rotated(tmp_path, copy.deepcopy(meta), answer, None, k=3)
    co = result["choice_order"]
    expected_circular = sum(all(choice_order.rotate(it["choices"], r)[-1] != it["answer"]
                                for r in range(min(3, len(it["choices"])))) for it in meta)
    assert 20 < expected_circular < 180  # a mix, not all or nothing
    assert co["circular"]["correct"] == expected_circular
    assert co["by_rotation"]["0"]["correct"] == result["total"]["correct"]


def test_convert_writes_one_item_per_rotation_with_rotated_options(load_meta, tmp_path):
    meta = load_meta("MMAR-meta.json")[:3]
    rows = [{"id": f"{it['id']}@rot{r}", "source_id": it["id"], "rotation": r, "rotations": 2,
             "output": f"reply {r}"} for it in meta[:2] for r in range(2)]
    preds, meta_path, out = tmp_path / "p.jsonl", tmp_path / "meta.json", tmp_path / "mmar_preds.json"
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    meta_path.write_text(json.dumps(meta))
    assert convert.main(["mmar", "--predictions", str(preds), "--meta", str(meta_path), "--out", str(out)]) == 0
    items = json.loads(out.read_text())
    assert [(it["id"], it["rotation"]) for it in items] == [(m["id"], r) for m in meta for r in range(2)]
    assert items[1]["choices"] == choice_order.rotate(meta[0]["choices"], 1) and items[1]["answer"] == meta[0]["answer"]
    assert items[1]["answer_prediction"] == "reply 1" and "answer_prediction" not in items[5]  # no row: missing


def test_air_items_rotate_their_lettered_fields():
    item = {"uniq_id": 1, "choice_a": "w", "choice_b": "x", "choice_c": "y", "answer_gt": "y"}
    rotated = choice_order.rotate_item(benchmarks.AIR, item, 2)
    assert (rotated["choice_a"], rotated["choice_b"], rotated["choice_c"]) == ("y", "w", "x")
    assert "choice_d" not in rotated and rotated["answer_gt"] == "y"


# --- silent audio ---------------------------------------------------------------------------------------

def tone(path, seconds, rate=22050, channels=1):
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.4 * np.sin(2 * np.pi * 330 * t)
    sf.write(path, np.stack([wave] * channels, axis=1) if channels > 1 else wave, rate)
    return path


def test_silent_copies_have_the_same_length_and_rate_and_no_sound(tmp_path):
    clip = tone(tmp_path / "a.wav", 1.37, rate=22050, channels=2)
    silent = audio_control.silent_copy(clip, tmp_path / "silence")
    data, rate = sf.read(silent)
    original, original_rate = sf.read(clip)
    assert rate == original_rate and data.shape == original.shape and not np.any(data)
    assert audio_control.silent_copy(clip, tmp_path / "silence") == silent  # cached


def test_the_silence_wrapper_replaces_every_clip_and_keeps_rows_with_bad_audio(tmp_path):
    good = tone(tmp_path / "good.wav", 0.5)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wav")
    rows = [dict(bench_row(0), audios=[str(good)]), dict(bench_row(1), audios=[str(bad)]),
            dict(bench_row(2), audios=[str(good)])]
    seen = []

    def generate(batch, system):
        seen.extend(batch)
        return [{"output": "<answer>Cat</answer>"} for _ in batch]

    out = tmp_path / "p.jsonl"
    infer.run(rows, out, audio_control.with_silence(generate, tmp_path / "silence"), None, batch_size=3)
    assert [r["id"] for r in seen] == ["q0", "q2"]  # the unreadable clip never reaches the model
    assert all(not np.any(sf.read(r["audios"][0])[0]) for r in seen)
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["audio_control"] for r in written] == ["silence"] * 3
    assert written[1]["output"] is None and "silence control" in written[1]["error"]
    assert written[0]["audios"] == [str(good)]  # the row records the clip it stands for


def mmau_items(meta, right):
    return [{**it, "model_output": it["answer"] if right(it) else next(c for c in it["choices"] if c != it["answer"])}
            for it in meta]


def test_silent_audio_figures_against_an_independent_count(load_meta, tmp_path):
    meta = load_meta("mmau-test-mini-v0325.json")
    with_audio = {it["id"] for it in meta[::2]} | {it["id"] for it in meta[:300]}
    without = {it["id"] for it in meta[::3]}
    preds, silent = tmp_path / "preds.json", tmp_path / "silent.json"
    preds.write_text(json.dumps(mmau_items(meta, lambda it: it["id"] in with_audio)))
    silent.write_text(json.dumps([dict(it, audio_control="silence")
                                  for it in mmau_items(meta, lambda it: it["id"] in without)]))
    meta_path = str(benchmark_file("mmau-test-mini-v0325.json"))
    result = run("mmau", str(preds), meta=meta_path, silent_input=str(silent))
    items = {it["id"]: it["correct"] for it in result["items"]}
    right = {i for i, ok in items.items() if ok}
    silent_scored = {it["id"]: it["correct"] for it in
                     score(benchmarks.MMAU, join_predictions(benchmarks.MMAU, json.loads(silent.read_text()))[0])["items"]}
    silent_right = {i for i, ok in silent_scored.items() if ok}
    c = result["audio_control"]
    assert c["without_audio"]["correct"] == len(silent_right) and c["n_paired"] == 1000
    assert c["correct_also_without_audio"]["count"] == len(right & silent_right)
    assert c["correct_also_without_audio"]["of_correct"] == len(right)
    needs = set(items) - silent_right
    assert c["needs_audio"]["n"] == len(needs) and c["needs_audio"]["correct"] == len(right & needs)
    assert c["needs_audio"]["ci95"][0] < c["needs_audio"]["accuracy"] < c["needs_audio"]["ci95"][1]


def test_a_silent_input_that_is_not_a_silent_run_is_refused(load_meta, tmp_path):
    meta = load_meta("mmau-test-mini-v0325.json")[:5]
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps(mmau_items(meta, lambda it: True)))
    proc = subprocess.run([sys.executable, "-m", "eval.score", "mmau", "--input", str(preds),
                           "--silent-input", str(preds)], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
    assert "--audio-control silence" in proc.stderr and "Traceback" not in proc.stderr


def test_a_control_run_is_not_resumed_into_another_runs_output(tmp_path):
    out = tmp_path / "p.jsonl"
    answer = lambda batch, system: [{"output": "<answer>Cat</answer>"} for _ in batch]  # noqa: E731
    rows = [bench_row(0), bench_row(1)]
    assert infer.run(rows[:1], out, answer, None, batch_size=1, meta={"audio_control": None}) == 1
    with pytest.raises(UsageError, match=r"audio_control: None there, 'silence' now\); write to another --out"):
        infer.run(rows, out, answer, None, batch_size=1, meta={"audio_control": "silence"})
    assert infer.run(rows, out, answer, None, batch_size=1, meta={"audio_control": None}) == 1  # same kind resumes
    assert infer.run(rows, tmp_path / "new.jsonl", answer, None, batch_size=1, meta={"audio_control": "silence"}) == 2
    with pytest.raises(UsageError, match="different audio controls"):
        audio_control.control_of([{"audio_control": "silence"}, {}])


def test_clips_of_the_same_length_share_one_silent_file(tmp_path):
    a, b = tone(tmp_path / "a.wav", 1.0), tone(tmp_path / "b.wav", 1.0)
    c = tone(tmp_path / "c.wav", 1.5)
    folder = tmp_path / "silence"
    assert audio_control.silent_copy(a, folder) == audio_control.silent_copy(b, folder)
    assert audio_control.silent_copy(c, folder) != audio_control.silent_copy(a, folder)
    assert len(list(folder.iterdir())) == 2


def test_an_unreadable_line_of_a_rotated_file_is_a_missing_reply_not_dropped(load_meta, tmp_path):
    meta = clean_items(load_meta("mmau-test-mini-v0325.json"))[:5]
    items = choice_order.rotated_items(benchmarks.MMAU, meta, rotated_predictions(meta, lambda a, g: g, 2))
    path = tmp_path / "rotated.jsonl"
    path.write_text("".join(json.dumps(it) + "\n" for it in items) + '{"id": "cut', encoding="utf-8")
    result = run("mmau", str(path))
    assert result["total"]["n"] == 6 and result["total"]["missing"] == 1 and result["total"]["correct"] == 5
    assert result["unreadable_lines"][0]["line"] == 11
    assert result["choice_order"]["circular"]["correct"] == 5
