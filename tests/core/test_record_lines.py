"""One numbering of records across commands (docs/bad-input.md): a bad record of a JSON list is named by the
1-based line on which it starts in its file, ``FILE:LINE: what``, as a JSON Lines file's bad line is, and by
``LINE:COLUMN`` where that line starts other records too (a list written on one line)."""
from __future__ import annotations

import json

import pytest

from audio_thinker import jsonl
from audio_thinker.cli import UsageError, run as cli_run
from audio_thinker.jsonl import read_completion_tables, read_records
from data_prep import avqa, benchmarks as data_prep_benchmarks, sft_targets
from eval import convert, export_mmau_test, infer, score, think_propensity

ITEM = {"question": "What is heard?", "choices": ["dog", "cat"], "answer": "dog", "task": "sound",
        "difficulty": "easy", "audio_path": "a.wav"}


def items(*ids):
    return [dict(ITEM, id=i) if i is not None else dict(ITEM) for i in ids]


def pretty(path, records):
    """A JSON list as metadata is released: indented, each record over several lines."""
    path.write_text(json.dumps(records, indent=1))
    return path


def start_line(path, record_number):
    """The line record ``record_number`` (1-based) starts on, found in the text the test wrote."""
    lines = path.read_text().splitlines()
    starts = [i + 1 for i, line in enumerate(lines) if line == " {"]
    return starts[record_number - 1]


def test_read_records_gives_each_record_the_line_it_starts_on(tmp_path):
    listed = tmp_path / "list.json"
    listed.write_text('[\n  {"id": "a"},\n  {"id": "b",\n   "x": [1,\n 2]},\n\n  {"id": "c"}\n]\n')
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text('{"version": "1",\n "data": [\n  {"id": "a"},\n  {"id": "b"}],\n "note": "[{\\n"}\n')
    lines = tmp_path / "rows.jsonl"
    lines.write_text('{"id": "a"}\n\n{"id": "b"}\n')
    one_line = tmp_path / "one.json"
    one_line.write_text('[{"id": "a"}, {"id": "b"},\n {"id": "c"}]')
    assert read_records(listed).lines == [2, 3, 7]
    assert read_records(wrapped).lines == [3, 4]
    assert read_records(lines).lines == [1, 3]
    got = read_records(one_line)
    assert [jsonl.where(got, i) for i in range(3)] == ["1:2", "1:15", "2"]
    assert jsonl.where([{"id": "a"}], 0) is None                      # not read from a file: nothing to name


def test_a_non_object_in_a_json_list_is_named_by_its_line(tmp_path):
    path = tmp_path / "items.json"
    path.write_text('[\n {"id": "a"},\n 2\n]')
    with pytest.raises(UsageError) as err:
        read_records(path)
    assert str(err.value) == f"{path}:3: not a JSON object (a int)"


def test_completion_tables_keep_their_lines(tmp_path):
    path = tmp_path / "completions.jsonl"
    path.write_text('{"step": [1]}\n{"step": [2]}\n{"step": [2]}\n{"step": [3]}\n')   # the repeat is dropped
    assert read_completion_tables(path).lines == [1, 2, 4]


def error_of(module, argv, capsys):
    code = cli_run(module.main, [str(a) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    return err[-1]


def test_every_command_names_a_bad_metadata_record_by_its_line(tmp_path, capsys):
    meta = pretty(tmp_path / "meta.json", items("q0", "q1", None, "q3"))
    bad = start_line(meta, 3)
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps({"id": f"q{i}", "model_output": "dog", "output": "dog"}) + "\n"
                             for i in range(4)))
    no_id = f"error: {meta}:{bad}: not mmau metadata: no 'id' (it has: "
    assert error_of(score, ["mmau", "--input", preds, "--meta", meta], capsys).startswith(no_id)
    assert error_of(convert, ["mmau", "--predictions", preds, "--meta", meta, "--out", tmp_path / "o.json"],
                    capsys).startswith(no_id)
    assert error_of(export_mmau_test, ["--meta", meta, "--predictions", preds, "--out", tmp_path / "s.json"],
                    capsys) == f"error: {meta}:{bad}: has no 'id': not MMAU metadata"
    with pytest.raises(UsageError) as err:
        think_propensity.read_meta(str(meta), ["q0"])
    assert str(err.value) == f"{meta}:{bad}: has no 'id'"

    two_choices = items("q0", "q1", "q2", "q3")
    two_choices[1]["choices"], two_choices[3]["choices"] = ["dog"], ["dog"]
    pretty(meta, two_choices)
    assert error_of(data_prep_benchmarks, ["mmar", "--meta", meta, "--out", tmp_path / "o.jsonl"], capsys) == \
        f"error: {meta}:{start_line(meta, 2)}: not mmar metadata: 'q1': needs >= 2 string choices, got ['dog'] " \
        f"(2 invalid items; the others on line(s) {start_line(meta, 4)})"


def test_a_repeated_id_names_both_lines(tmp_path, capsys):
    preds = pretty(tmp_path / "p.json", [dict(r, model_output="dog") for r in items("q0", "q1", "q2", "q1")])
    assert error_of(score, ["mmau", "--input", preds], capsys) == \
        f"error: {preds}:{start_line(preds, 4)}: id 'q1' appears twice (first on line {start_line(preds, 2)})"


def test_a_list_on_one_line_adds_the_column(tmp_path, capsys):
    meta = tmp_path / "meta.json"
    text = json.dumps(items("q0", None))
    meta.write_text(text)
    column = text.index("}, {") + 3 + 1                          # 1-based column of the second record's "{"
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"id": "q0", "model_output": "dog"}) + "\n")
    assert error_of(score, ["mmau", "--input", preds, "--meta", meta], capsys).startswith(
        f"error: {meta}:1:{column}: not mmau metadata: no 'id'")


def test_sft_targets_names_the_row_by_its_line(tmp_path, capsys):
    rows = tmp_path / "train.json"
    rows.write_text('[\n {"messages": [], "solution": "a"},\n {"messages": [], "solution": ""},\n'
                    ' {"messages": "x", "solution": "a"}\n]')
    assert error_of(sft_targets, ["--input", rows, "--out", tmp_path / "o.jsonl"], capsys) == \
        f"error: {rows}:4: 'messages' is not a list"
    rows.write_text('[\n {"messages": [], "solution": "a"},\n {"messages": [], "solution": ""}\n]')
    assert cli_run(sft_targets.main, ["--input", str(rows), "--out", str(tmp_path / "o.jsonl")]) == 0
    assert capsys.readouterr().err == f"warning: {rows}:3: no solution; skipped\n"


def test_eval_infer_names_a_foreign_row_of_its_output_by_its_line_not_its_place(tmp_path):
    out = tmp_path / "preds.jsonl"
    out.write_text(json.dumps({"id": "a", "infer": {}}) + "\n\n" + json.dumps({"id": "b"}) + "\n")
    with pytest.raises(UsageError) as err:
        infer.read_out(out)
    assert str(err.value).startswith(f"{out}:3: not an eval.infer output")   # the second row, on line 3


def test_avqa_names_the_record_a_repeated_id_repeats_by_its_line(tmp_path):
    ann = tmp_path / "train_qa.json"
    record = {"question_text": "What is heard?", "multi_choice": ["a", "b"], "answer": 0}
    records = [dict(record, id=i, video_name=f"v{n}") for n, i in enumerate((6, 7, 7))]   # on lines 2, 3 and 4
    ann.write_text("[\n" + ",\n".join(map(json.dumps, records)) + "\n]")
    assert avqa.load_items([ann])[2]["reject"] == ("duplicate_id", "id 7 repeats the record at train_qa.json:3")
