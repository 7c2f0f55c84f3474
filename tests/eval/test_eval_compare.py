"""eval.compare: paired counts and the exact test against an independent count and scipy; refusals."""
from __future__ import annotations

import json
import random
import re
import subprocess
import sys

import pytest
from scipy import stats as scipy_stats

from eval import compare
from eval.score import run
from tests.helpers.paths import REPO, benchmark_file


def tokens(text):
    return set(re.findall(r"\b\w+\b", text.lower()))


def wrong_choice(item):
    """A choice that cannot pass for the gold answer (its words do not cover the answer's), or None."""
    return next((c for c in item["choices"] if not tokens(item["answer"]) <= tokens(c)), None)


def write_predictions(tmp_path, name, meta, right_ids):
    """The metadata with a reply per item: the gold answer for ids in ``right_ids``, a wrong choice otherwise."""
    items = []
    for it in meta:
        wrong = wrong_choice(it)
        reply = it["answer"] if it["id"] in right_ids or wrong is None else wrong
        items.append({**it, "model_output": f"<answer>{reply}</answer>"})
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(items))
    return path


@pytest.fixture
def two_runs(load_meta, tmp_path):
    """Two runs on MMAU test-mini v0325 whose right answers are drawn independently (A 62 %, B 66 %)."""
    meta = load_meta("mmau-test-mini-v0325.json")
    rng = random.Random(7)
    always = {it["id"] for it in meta if wrong_choice(it) is None}  # no choice can be wrong: right in both
    right_a = {it["id"] for it in meta if rng.random() < 0.62} | always
    right_b = {it["id"] for it in meta if rng.random() < 0.66} | always
    meta_path = str(benchmark_file("mmau-test-mini-v0325.json"))
    results = []
    for name, right in (("a", right_a), ("b", right_b)):
        result = run("mmau", str(write_predictions(tmp_path, name, meta, right)), meta=meta_path)
        path = tmp_path / name / "mmau.json"
        path.parent.mkdir()
        path.write_text(json.dumps(result))
        results.append(path)
    return meta, right_a, right_b, results


def test_paired_counts_and_exact_p_equal_an_independent_count_and_scipy(two_runs):
    meta, right_a, right_b, (a_path, b_path) = two_runs
    comparison = compare.compare(compare.load_result(a_path), compare.load_result(b_path))
    for name, members in [("total", meta), *[(f"task={t}", [it for it in meta if it["task"] == t])
                                             for t in ("sound", "music", "speech")]]:
        ids = {it["id"] for it in members}
        only_a, only_b = len((right_a - right_b) & ids), len((right_b - right_a) & ids)
        fig = comparison["total"] if name == "total" else comparison["breakdowns"]["task"][name[5:]]
        assert (fig["n_paired"], fig["only_a"], fig["only_b"]) == (len(ids), only_a, only_b), name
        assert fig["delta"] == pytest.approx(100 * (len(right_b & ids) - len(right_a & ids)) / len(ids), abs=1e-4)
        assert fig["mcnemar_p"] == pytest.approx(scipy_stats.binomtest(only_b, only_a + only_b, 0.5).pvalue)
        assert fig["ci95"][0] <= fig["delta"] <= fig["ci95"][1]
    sound = comparison["paper_columns"]["Sound"]
    assert sound == comparison["breakdowns"]["task"]["sound"]  # the paper column is the task group
    assert comparison["paper_columns"]["Avg"] == comparison["total"]


def test_items_are_paired_by_id_not_by_position(two_runs):
    _, _, _, (a_path, b_path) = two_runs
    a, b = compare.load_result(a_path), compare.load_result(b_path)
    shuffled = dict(b, items=list(reversed(b["items"]))[:-10])  # other order, 10 items fewer
    comparison = compare.compare(a, shuffled)
    assert comparison["total"]["n_paired"] == 990 and comparison["unpaired_a"] == 10
    kept = {it["id"] for it in shuffled["items"]}
    expected = compare.paired_figures([(x, y) for x in a["items"] for y in b["items"]
                                       if x["id"] == y["id"] and x["id"] in kept])
    assert comparison["total"] == expected


def test_cli_prints_the_table_and_writes_json(two_runs, tmp_path):
    _, _, _, (a_path, b_path) = two_runs
    out = tmp_path / "cmp.json"
    proc = subprocess.run([sys.executable, "-m", "eval.compare", str(a_path), str(b_path), "--output", str(out)],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "McNemar p" in proc.stdout and "difficulty" in proc.stdout
    data = json.loads(out.read_text())
    assert set(data["total"]) == {"n_paired", "accuracy_a", "accuracy_b", "delta", "ci95", "mcnemar_p", "only_a",
                                  "only_b"}


def refuse(*paths):
    proc = subprocess.run([sys.executable, "-m", "eval.compare", *map(str, paths)], cwd=REPO, capture_output=True,
                          text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")  # one line
    return lines[0]


def test_results_of_different_versions_are_refused(two_runs, load_meta, tmp_path):
    meta, right_a, _, (a_path, _) = two_runs
    new_meta = load_meta("mmau-test-mini.json")  # v05.15.25: 894 shared ids, different gold for some
    new = run("mmau", str(write_predictions(tmp_path, "new", new_meta, right_a)),
              meta=str(benchmark_file("mmau-test-mini.json")))
    new_path = tmp_path / "new.result.json"
    new_path.write_text(json.dumps(new))
    assert "v0325" in refuse(a_path, new_path) and "same version" in refuse(a_path, new_path)


def test_other_benchmark_missing_items_and_other_gold_are_refused(two_runs, tmp_path):
    meta, right_a, _, (a_path, b_path) = two_runs
    b = json.loads(b_path.read_text())
    other = tmp_path / "other.json"
    other.write_text(json.dumps(dict(b, benchmark="mmar")))
    assert "same benchmark" in refuse(a_path, other)
    no_items = tmp_path / "no_items.json"
    no_items.write_text(json.dumps({k: v for k, v in b.items() if k != "items"}))
    assert "--no-items" in refuse(a_path, no_items)
    edited = tmp_path / "edited.json"  # same version label, but scored against other gold answers
    edited.write_text(json.dumps(dict(b, version="unknown", fingerprint="0" * 16)))
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps(dict(json.loads(a_path.read_text()), version="unknown")))
    assert "different items or gold" in refuse(unknown, edited)
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    assert "not JSON" in refuse(a_path, bad)


def test_report_of_two_result_files_shows_intervals_and_the_paired_step_beside_the_papers(two_runs, tmp_path):
    _, _, _, (a_path, b_path) = two_runs
    runs = tmp_path / "runs"
    for row, path in (("grpo-a", a_path), ("grpo-b", b_path)):  # Table 1: GRPO -> GRPO+CoT
        (runs / row).mkdir(parents=True)
        (runs / row / "mmau.json").write_text(path.read_text())
    out = tmp_path / "report.md"
    proc = subprocess.run([sys.executable, "-m", "eval.report", "--results", str(runs), "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    md = out.read_text()
    expected = compare.compare(compare.load_result(a_path), compare.load_result(b_path))["paper_columns"]["Avg"]
    lines = [line for line in md.splitlines() if line.startswith("| grpo-a → grpo-b (GRPO+CoT) | MMAU Avg |")]
    assert len(lines) == 1, md
    cells = [c.strip() for c in lines[0].split("|")[1:-1]]
    low, high = expected["ci95"]
    assert cells[2] == f"{expected['delta']:+.2f} [{low:+.2f}, {high:+.2f}]"
    assert cells[3] == compare.fmt_p(expected["mcnemar_p"]) and cells[4] == "1000"
    assert cells[5] == "+1.20"  # the paper: grpo-b 65.0 - grpo-a 63.8
    ours = next(line for line in md.split("### Table 1")[1].splitlines() if line.startswith("| **grpo-a** (ours)"))
    assert "(" in ours.split("|")[5] and "–" in ours.split("|")[5]  # MMAU Avg with its interval


def test_ablation_steps_pair_each_table1_row_with_the_row_it_adds_to():
    from eval.report_paired import ablation_steps
    from recipes import catalogue

    steps = [(a.name, b.name) for a, b in ablation_steps(catalogue.load())]
    base = "qwen2-audio"
    assert steps[:7] == [(base, "sft-a"),  # SFT vs the base model
                         ("sft-a", "sft-b"),  # + CoT
                         (base, "grpo-a"),  # GRPO starts from the base, not from sft-b
                         ("grpo-a", "grpo-b"), ("grpo-a", "model-a"),  # + CoT, + ATAR
                         ("model-a", "model-b"), ("model-b", "model-c")]  # + CR, + TR
    assert ("model-e", "model-f") in steps and ("model-c", "qwen2.5-omni") not in steps
    assert ("model-a", "model-a-thinkless") in steps   # a study variant against the row it varies
