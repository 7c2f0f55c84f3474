"""Report, think analysis, test-split export and converter: the files users read or submit."""
from __future__ import annotations

import copy
import json

import pytest
import yaml

from audio_thinker import benchmark_declarations as benchmarks
from audio_thinker.cli import UsageError
from eval import convert, export_mmau_test, report, think_analysis
from eval.grading import join_predictions, score


def scored(bench_name, items, version=None):
    bench = benchmarks.get(bench_name)
    result = score(bench, join_predictions(bench, items)[0])
    return {**result, "version": version or benchmarks.detect_version(bench, items) or "unknown"}


def test_paper_numbers_cite_their_lines_and_match_the_paper_text():
    paper = yaml.safe_load(report.PAPER_NUMBERS.read_text())
    assert set(paper["tables"]) == {f"table{i}" for i in range(1, 7)}
    table1 = {r["name"]: r for r in paper["tables"]["table1"]["rows"]}
    assert table1["model-c"]["values"]["mmau_avg"] == 68.00 and table1["model-c"]["line"] == 107
    assert table1["model-f"]["values"]["air_avg"] == 67.1
    for table in paper["tables"].values():
        for row in table["rows"]:
            assert set(row["values"]) == set(table["columns"]) and isinstance(row["line"], int)


def test_report_puts_ours_beside_the_paper_with_the_difference(load_meta):
    mmau = load_meta("mmau-test-mini-v0325.json")
    for it in mmau:
        it["model_output"] = it["answer"] if it["task"] != "speech" else None  # speech all missing
    mmar = load_meta("MMAR-meta.json")
    for it in mmar:
        it["answer_prediction"] = it["answer"]
    results = [("model-c", scored("mmau", mmau)), ("model-c", scored("mmar", mmar))]
    md = report.build_report(results)
    table1 = md.split("### Table 1")[1].split("###")[0]
    rows = {line.split("|")[1].strip(): line for line in table1.splitlines() if line.startswith("| ")}
    ours = [c.strip() for c in rows["**model-c** (ours)"].split("|")[2:-1]]
    # MMAU Sound/Music/Speech/Avg with their 95 % intervals: missing count as wrong
    assert ours[:4] == ["100.00 (98.9–100.0)", "100.00 (98.9–100.0)", "0.00 (0.0–1.1)", "66.70 (63.7–69.6)"]
    assert "paper: model-c (l. 107)" in rows and "difference" in rows
    diff = [c.strip() for c in rows["difference"].split("|")[2:-1]]
    assert diff[0] == "23.12"  # 100 - 76.88
    assert "### Table 5" not in md  # v0325 results stay out of the v05.15.25 table
    assert "| model-c | mmau | v0325 | 66.70 | 63.7–69.6 | 1000 | 333 | 0 | 0 |" in md  # denominators
    # scored predictions with no eval.sweep trail (the demo's): no Training section of dashes
    assert "### Training" not in md


def test_think_analysis_rates_by_difficulty_and_plot(load_meta, tmp_path):
    items = load_meta("mmau-test-mini-v0325.json")
    for it in items:  # thinks on hard items only; always right
        think = "<think>long</think>" if it["difficulty"] == "hard" else ""
        it["model_output"] = f"{think}<answer>{it['answer']}</answer>"
    analysis = think_analysis.analyse(scored("mmau", items)["items"])
    rates = {g: f["no_think_rate"] for g, f in analysis["breakdowns"]["difficulty"].items()}
    assert list(rates) == ["easy", "medium", "hard"] and rates == {"easy": 100.0, "medium": 100.0, "hard": 0.0}
    assert analysis["breakdowns"]["difficulty"]["hard"]["think_accuracy"] == 100.0
    assert analysis["breakdowns"]["difficulty"]["hard"]["no_think_accuracy"] is None
    png = tmp_path / "fig.png"
    think_analysis.plot({"run": analysis}, str(png))
    import matplotlib.image as mpimg

    assert mpimg.imread(png).shape[0] > 200


def test_export_writes_the_named_choice_text_for_every_test_item(load_meta):
    meta = [dict(it, answer="") for it in load_meta("mmau-test-mini.json")[:4]]  # test split: answers withheld
    replies = {meta[0]["id"]: "<think>maybe " + meta[0]["choices"][1] + "</think><answer>(A) " + meta[0]["choices"][0]
               + "</answer>", meta[1]["id"]: "B", meta[2]["id"]: "no idea", meta[3]["id"]: None}
    with pytest.raises(UsageError, match="1 test item"):
        export_mmau_test.export(meta, replies)
    items, missing = export_mmau_test.export(meta, replies, allow_missing=True)
    assert [it["model_output"] for it in items] == [meta[0]["choices"][0], meta[1]["choices"][1], "no idea", ""]
    assert all(it["model_prediction"] == it["model_output"] for it in items) and missing == [meta[3]["id"]]


def test_convert_from_meta_leaves_unanswered_items_without_a_reply(load_meta):
    meta = load_meta("MMAR-meta.json")[:3]
    replies = convert.replies_by_id([{"id": meta[0]["id"], "output": "<answer>x</answer>"},
                                     {"id": meta[1]["id"], "output": None}])
    items = convert.from_meta(benchmarks.MMAR, copy.deepcopy(meta), replies)
    assert [("answer_prediction" in it) for it in items] == [True, False, False]
    assert items[0]["answer_prediction"] == "<answer>x</answer>"  # raw reply kept whole


def test_convert_from_air_rows_builds_the_official_fields():
    row = {"id": 12, "messages": [], "audios": ["/a.wav"], "solution": "Rain", "choices": ["Wind", "Rain"],
           "task_name": "Sound_AQA", "dataset_name": "clotho", "output": "B"}
    item = convert.from_rows(benchmarks.AIR, [row])[0]
    assert item.items() >= {"id": 12, "task_name": "Sound_AQA", "dataset_name": "clotho", "answer_gt": "Rain",
                    "uniq_id": 12, "choice_a": "Wind", "choice_b": "Rain", "response": "B"}.items()
    assert "messages" not in item and "output" not in item
    assert scored("air", [item])["total"]["correct"] == 1


def test_report_cli_finds_results_by_row_directory(tmp_path, load_meta):
    mmar = load_meta("MMAR-meta.json")
    for it in mmar:
        it["answer_prediction"] = it["choices"][0]
    (tmp_path / "grpo-a").mkdir()
    (tmp_path / "grpo-a" / "mmar.json").write_text(json.dumps(scored("mmar", mmar)))
    (tmp_path / "grpo-a" / "notes.json").write_text("{}")  # not a result: ignored
    out = tmp_path / "report.md"
    assert report.main(["--results", str(tmp_path), "--out", str(out)]) == 0
    assert "paper: grpo-a (l. 103)" in out.read_text()


def test_paper_numbers_equal_the_cells_of_the_cited_lines():
    from tests.helpers.paths import REPO

    paper_txt = REPO.parent / "shared" / "paper" / "audio-thinker-paper.txt"
    if not paper_txt.exists():
        pytest.skip("paper text not beside the checkout")
    lines = paper_txt.read_text(encoding="utf-8").split("\n")
    paper = yaml.safe_load(report.PAPER_NUMBERS.read_text())
    for table in paper["tables"].values():
        for row in table["rows"]:
            cells = [c.strip() for c in lines[row["line"] - 1].strip().strip("|").split("|")]
            assert cells[0] == row["name"]
            numbers = [float(c) for c in cells[1:] if c.replace(".", "", 1).isdigit()]
            assert [v for v in row["values"].values() if v is not None] == numbers, row["line"]


def test_think_analysis_names_inputs_by_row_not_by_file(tmp_path):
    """Legends name the row each result evaluates (its folder, for a result without eval.sweep's trail), never
    the file name "mmau"; two inputs of the same row also get their folders."""
    paths = []
    for folder in ("demo/eval/model-c", "demo/eval/sft-a", "other/model-c"):
        (tmp_path / folder).mkdir(parents=True)
        paths.append(str(tmp_path / folder / "mmau.json"))
    assert think_analysis.default_labels(paths[:2]) == ["model-c", "sft-a"]
    labels = think_analysis.default_labels([paths[0], paths[2]])
    assert labels == [f"model-c, {tmp_path / 'demo/eval/model-c'}", f"model-c, {tmp_path / 'other/model-c'}"]
