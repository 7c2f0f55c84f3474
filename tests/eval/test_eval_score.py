"""Scoring on the real metadata and one reply per line."""
from __future__ import annotations

import copy
import json
import random
import subprocess
import sys

import pytest

from audio_thinker import benchmark_declarations as benchmarks
from audio_thinker.cli import UsageError
from eval.score import run
from eval.grading import join_predictions, score, score_item

from tests.helpers.paths import REPO, benchmark_file

FILES = [("mmau", "mmau-test-mini-v0325.json"), ("mmau", "mmau-test-mini.json"), ("mmar", "MMAR-meta.json")]


def with_predictions(items, field, predict):
    out = copy.deepcopy(items)
    for item in out:
        value = predict(item)
        if value is not None:
            item[field] = value
    return out


def result_for(bench_name, items):
    bench = benchmarks.get(bench_name)
    return score(bench, join_predictions(bench, items)[0])


# --- whole files ----------------------------------------------------------

@pytest.mark.parametrize("bench_name,filename", FILES)
def test_perfect_predictions_score_100(load_meta, bench_name, filename):
    bench = benchmarks.get(bench_name)
    items = with_predictions(load_meta(filename), bench.prediction_field, lambda it: it["answer"])
    result = result_for(bench_name, items)
    assert result["total"] == {"accuracy": 100.0, "ci95": [99.6173, 100.0], "correct": 1000, "n": 1000,
                               "missing": 0, "unparsable": 0}  # Wilson at 1000/1000: not a zero-width interval
    for groups in result["breakdowns"].values():
        assert all(g["accuracy"] == 100.0 for g in groups.values())


@pytest.mark.parametrize("bench_name,filename,expected", [
    ("mmar", "MMAR-meta.json", 6),  # the 2025 file: 6 answers not among the choices (docs/benchmarks.md)
    ("mmau", "mmau-test-mini-v0325.json", 0),  # checked: none in either MMAU file
    ("mmau", "mmau-test-mini.json", 0),
])
def test_answers_not_among_choices_are_reported_not_dropped(load_meta, bench_name, filename, expected):
    bench = benchmarks.get(bench_name)
    meta = load_meta(filename)
    items = with_predictions(meta, bench.prediction_field, lambda it: it["answer"])
    result = result_for(bench_name, items)
    odd = [it["id"] for it in meta if it["answer"] not in it["choices"]]
    assert result["answer_not_in_choices"] == odd and len(odd) == expected
    assert result["total"]["n"] == 1000  # kept in the denominator


@pytest.mark.parametrize("bench_name,filename", FILES)
def test_missing_predictions_lower_the_score(load_meta, bench_name, filename):
    bench = benchmarks.get(bench_name)
    meta = load_meta(filename)
    blanks = {it["id"]: kind for it, kind in zip(meta[:150], ["absent", "", "   ", None, "\n"] * 30)}

    def predict(it):
        kind = blanks.get(it["id"], "answer")
        return None if kind in ("absent", None) else (it["answer"] if kind == "answer" else kind)

    items = with_predictions(meta, bench.prediction_field, predict)
    for it in items:  # None as an explicit JSON null, too
        if blanks.get(it["id"]) is None and it["id"] in blanks:
            it[bench.prediction_field] = None
    total = result_for(bench_name, items)["total"]
    assert total.pop("ci95")[1] < 100.0  # the interval is of the honest accuracy, too
    assert total == {"accuracy": 85.0, "correct": 850, "n": 1000, "missing": 150, "unparsable": 0}


def test_items_dropped_from_the_file_count_as_missing_with_meta(load_meta, tmp_path):
    meta_path = benchmark_file("MMAR-meta.json")
    meta = load_meta("MMAR-meta.json")
    kept = with_predictions(meta[100:], "answer_prediction", lambda it: it["answer"])
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps(kept))
    without_meta = run("mmar", str(preds))["total"]
    with_meta = run("mmar", str(preds), meta=str(meta_path))["total"]
    assert without_meta["accuracy"] == 100.0 and without_meta["n"] == 900  # the file alone cannot know
    assert with_meta.pop("ci95") and with_meta == {"accuracy": 90.0, "correct": 900, "n": 1000, "missing": 100,
                                                   "unparsable": 0}


def test_duplicate_ids_with_different_predictions_are_refused(load_meta):
    meta = load_meta("MMAR-meta.json")[:3]
    items = with_predictions(meta, "answer_prediction", lambda it: it["answer"])
    twin = dict(items[0], answer_prediction=next(c for c in items[0]["choices"] if c != items[0]["answer"]))
    with pytest.raises(UsageError, match="appears twice"):
        join_predictions(benchmarks.MMAR, items + [twin])


@pytest.mark.parametrize("filename,version", [
    ("mmau-test-mini-v0325.json", "v0325"),  # Tables 1-2
    ("mmau-test-mini.json", "v05.15.25"),  # Table 5
])
def test_mmau_version_is_detected_from_the_metadata(load_meta, tmp_path, filename, version):
    preds = tmp_path / "p.json"
    items = load_meta(filename)
    items[0]["model_output"] = ""  # the field is there (without it the file is refused), every reply empty
    preds.write_text(json.dumps(items))
    result = run("mmau", str(preds))
    assert result["version"] == version
    assert result["total"]["missing"] == 1000  # no reply at all: everything missing, accuracy 0
    assert result["total"]["accuracy"] == 0.0


def test_mmau_category_lists_are_joined(load_meta):
    items = load_meta("mmau-test-mini-v0325.json")
    assert any(isinstance(it["category"], list) for it in items)  # the quirk is real
    items = with_predictions(items, "model_output", lambda it: it["answer"])
    groups = result_for("mmau", items)["breakdowns"]["category"]
    assert set(groups) == {"Reasoning", "Information Extraction"}


# --- one reply per line -----------------------------------------------------

SPEAKER = {"id": "x", "choices": ["Man", "Woman", "Child", "Robot"], "answer": "Man",
           "task": "sound", "difficulty": "easy", "sub-category": "s", "category": "c"}
# Real MMAU item where "a" occurs in another choice ("A man and a child").
FAMILY = {"id": "fec8ab27", "choices": ["Woman and child", "Two men", "Two women", "A man and a child"],
          "answer": "Woman and child", "task": "sound", "difficulty": "easy", "sub-category": "s", "category": "c"}

#  item,   reply,                                                        correct, unparsable, mode
CASES = [
    (SPEAKER, "Man",                                                        True,  False, "no_think"),
    (SPEAKER, "man.",                                                       True,  False, "no_think"),   # case, punctuation
    (SPEAKER, "The speaker is a man.",                                      True,  False, "no_think"),   # official token rule
    (SPEAKER, "A",                                                          True,  False, "no_think"),   # bare option letter
    (SPEAKER, "(B)",                                                        False, False, "no_think"),   # letter of a wrong choice
    (SPEAKER, "<answer>A</answer>",                                         True,  False, "no_think"),   # letter inside the tag
    (FAMILY,  "(A) Woman and child",                                        True,  False, "no_think"),   # "(A) text": official loses it ("a" is in choice D)
    (FAMILY,  "A. Woman and child",                                         True,  False, "no_think"),   # "A. text" form
    (SPEAKER, "<think>It could be Woman, or a Child.</think><answer>Man</answer>", True, False, "think"),  # reasoning names other choices
    (SPEAKER, "<think>Sounds like a Man.</think>\n<answer>Woman</answer>", False, False, "think"),   # answer wins over reasoning
    (SPEAKER, "<think></think><answer>Man</answer>",                        True,  False, "no_think"),   # empty think is no-think
    (SPEAKER, "Man or Woman",                                               False, True,  "no_think"),   # names two choices
    (SPEAKER, "I cannot hear any audio.",                                   False, True,  "no_think"),   # names none
    (SPEAKER, "<answer>Man</answer><answer>Woman</answer>",                 False, True,  "no_think"),   # two answers: whole output scored
    (SPEAKER, "<think>It is a man</think>",                                 True,  False, "think"),      # no <answer>: whole output scored
]


@pytest.mark.parametrize("item,reply,correct,unparsable,mode", CASES)
def test_reply(item, reply, correct, unparsable, mode):
    s = score_item(benchmarks.MMAU, item, reply)
    assert (s.correct, s.unparsable, s.missing, s.mode) == (correct, unparsable, False, mode)


@pytest.mark.parametrize("reply", [None, "", "   ", "\n\t"])  # missing, not unparsable
def test_missing_reply(reply):
    s = score_item(benchmarks.MMAU, SPEAKER, reply)
    assert (s.correct, s.missing, s.unparsable, s.mode) == (False, True, False, None)


AIR_ITEM = {"uniq_id": 7, "task_name": "Sound_AQA", "dataset_name": "clotho", "answer_gt": "Dog barking",
            "choice_a": "Cat meowing", "choice_b": "Dog barking", "choice_c": "Rain", "choice_d": "Bird song"}

#  reply,                          correct, unparsable
AIR_CASES = [
    ("B",                            True,  False),
    ("B.",                           True,  False),
    ("(B)",                          True,  False),
    ("The answer is B.",             True,  False),  # official second-to-last rule
    ("Answer: B",                    True,  False),  # final standalone letter (ours)
    ("B) Dog barking",               True,  False),
    ("Dog barking",                  True,  False),  # choice text (official reads "D")
    ("<answer>B</answer>",           True,  False),
    ("A",                            False, False),
    ("Dogs are loud",                False, True),   # official would read "D"
    ("A dog, I think",               False, True),   # article, not a letter
    ("None",                         False, True),
]


@pytest.mark.parametrize("reply,correct,unparsable", AIR_CASES)
def test_air_reply(reply, correct, unparsable):
    s = score_item(benchmarks.AIR, AIR_ITEM, reply)
    assert (s.correct, s.unparsable) == (correct, unparsable)


def test_air_columns_and_avqa_flag():
    items = []
    for task, dataset in [("Sound_AQA", "avqa"), ("Sound_AQA", "clothoaqa"), ("Music_AQA", "music"),
                          ("Speaker_Emotion_Recontion", "iemocap")]:
        for i in range(4):
            items.append(dict(AIR_ITEM, uniq_id=f"{task}{dataset}{i}", task_name=task, dataset_name=dataset,
                              response="B" if i < (4 if dataset == "avqa" else 2) else "A"))
    result = result_for("air", items)
    assert result["paper_columns"]["SoundAQA"]["accuracy"] == 75.0
    assert result["paper_columns"]["MusicAQA"]["accuracy"] == 50.0
    assert result["paper_columns"]["SNV"]["n"] == 0
    assert result["paper_columns"]["Avg"]["accuracy"] == pytest.approx((75 + 50 + 50) / 3, abs=1e-3)  # over tasks
    flag = result["flagged_subsets"]["Sound_AQA_avqa"]
    assert flag["accuracy"] == 100.0 and flag["rest_of_task"]["accuracy"] == 50.0


# --- agreement with the official rule, restated here independently ------------------

def official_rule(answer, prediction, choices):
    """MMAU/MMAR evaluation.py as docs/benchmarks.md describes it: tokenize with \\b\\w+\\b on
    lower-cased text; correct when every answer token is in the prediction and
    no token that belongs only to other choices is."""
    import re

    def tok(text):
        return set(re.findall(r"\b\w+\b", text.lower()))

    pred, gold = tok(prediction), tok(answer)
    if not pred:
        return False
    others = set()
    for choice in choices:
        if tok(choice) != gold:
            others |= tok(choice) - gold
    return gold <= pred and not (pred & others)


def looks_like_letter(text):
    """Letter forms are where we intentionally differ ("B", "(A) text")."""
    import re
    return bool(re.match(r"^\s*(?:option\s*)?[\(\[]?[A-Za-z][\)\]]?\s*[.:)]?\s*$", text, re.I)
                or re.match(r"^\s*(?:\([A-Za-z]\)|\[[A-Za-z]\]|[A-Za-z][.):])\s+\S", text))


def random_reply(rng, item, vocabulary):
    choices = item["choices"]
    kind = rng.randrange(6)
    if kind == 0:
        return rng.choice(choices)  # a choice's text
    if kind == 1:
        return " ".join(rng.sample(choices, 2))  # a mix of two choices
    if kind == 2:
        return f"The answer is {rng.choice(choices).lower()}."
    if kind == 3:  # words drawn from the choices, shuffled
        words = " ".join(choices).split()
        return " ".join(rng.sample(words, min(len(words), rng.randint(1, 4))))
    if kind == 4:
        return " ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 6)))  # noise
    return rng.choice(choices) + rng.choice(["!!", " ...", "\n", " (final)", ", probably"])


@pytest.mark.parametrize("bench_name,filename", FILES)
def test_agrees_with_official_token_rule_on_untagged_replies(load_meta, bench_name, filename):
    bench = benchmarks.get(bench_name)
    meta = load_meta(filename)
    rng = random.Random(filename)
    vocabulary = ["sound", "music", "the", "a", "dog", "man", "12", "é", "yes", "no", "?!", "speech"]
    for trial in range(3):
        items = copy.deepcopy(meta)
        for it in items:
            reply = random_reply(rng, it, vocabulary)
            while looks_like_letter(reply):
                reply = random_reply(rng, it, vocabulary)
            it[bench.prediction_field] = reply
        expected = sum(official_rule(it["answer"], it[bench.prediction_field], it["choices"]) for it in items)
        result = result_for(bench_name, items)
        assert result["total"]["correct"] == expected, trial
        assert result["total"]["accuracy"] == pytest.approx(100 * expected / len(items))
        assert 0 < expected < len(items)  # the mix is neither all right nor all wrong


def test_cli_writes_the_result_json(load_meta, tmp_path):
    items = with_predictions(load_meta("mmau-test-mini-v0325.json"), "model_output", lambda it: it["answer"])
    preds, out = tmp_path / "p.json", tmp_path / "r.json"
    preds.write_text(json.dumps(items))
    proc = subprocess.run([sys.executable, "-m", "eval.score", "mmau", "--input", str(preds), "--output", str(out)],
                          cwd=REPO, capture_output=True, text=True, check=True)
    assert "total" in proc.stdout and "sub-category" in proc.stdout
    result = json.loads(out.read_text())
    assert set(result["total"]) == {"accuracy", "ci95", "correct", "n", "missing", "unparsable"}
    assert "95 % CI" in proc.stdout and "99.6–100.0" in proc.stdout  # the interval in the terminal table
    assert set(result["breakdowns"]) >= {"task", "difficulty", "sub-category"}
    assert result["version"] == "v0325"
    assert all(set(f) >= {"accuracy", "ci95", "correct", "n", "missing", "unparsable"}
               for groups in result["breakdowns"].values() for f in groups.values())
