"""The one-line error convention and the one JSONL policy (audio_thinker.cli, audio_thinker.jsonl)."""
from __future__ import annotations

import json

import pytest

from audio_thinker.cli import UsageError, read_text, run
from audio_thinker.jsonl import BadLine, Journal, read_journal, read_jsonl, read_records, write_jsonl


def test_usage_error_is_one_line_exit_2(capsys):
    def main(argv):
        raise UsageError("not a JSON object", "rows.jsonl", 3)

    assert run(main, []) == 2
    assert capsys.readouterr().err == "error: rows.jsonl:3: not a JSON object\n"


def test_usage_error_names_an_option():
    assert str(UsageError("expected a benchmark's metadata", "x.json", option="--meta")) == \
        "--meta:x.json: expected a benchmark's metadata"
    assert str(UsageError("no judge URL", option="--url")) == "--url: no judge URL"


@pytest.mark.parametrize("make, expected", [
    (lambda p: None, "no such file"),                                         # missing
    (lambda p: p.mkdir(), "is a directory"),                                  # a folder
    (lambda p: p.write_bytes(b'{"a": 1}\n\xff\xfe\n'), ":2: not UTF-8"),      # latin-1 bytes on line 2
])
def test_read_text_errors_name_the_file(tmp_path, make, expected):
    path = tmp_path / "rows.jsonl"
    make(path)
    with pytest.raises(UsageError) as err:
        read_text(path)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_bad_line_is_an_error_with_its_line_number(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"id": 1}\n[1, 2]\n{"id": 3}\n')
    with pytest.raises(UsageError, match=r"rows.jsonl:2: not a JSON object \(a list\)"):
        read_jsonl(path)


def test_bad_lines_collected_never_dropped(tmp_path):
    path = tmp_path / "preds.jsonl"
    path.write_text('{"id": 1}\n{"id": 2\n{"id": 3}\n{"id": 4')  # line 2 broken, line 4 torn
    bad: list[BadLine] = []
    assert [r["id"] for r in read_jsonl(path, bad_lines=bad)] == [1, 3]
    assert [b.line for b in bad] == [2, 4]
    assert [b.index for b in bad] == [1, 2]  # where each stood among the returned rows


def test_torn_tail_skipped_only_without_newline(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text('{"id": 1}\n{"id": 2')          # a killed writer's last row
    assert read_jsonl(path, torn_tail=True) == [{"id": 1}]
    path.write_text('{"id": 1}\n{"id": 2\n')        # terminated: not torn, a real bad line
    with pytest.raises(UsageError, match=":2:"):
        read_jsonl(path, torn_tail=True)


@pytest.mark.parametrize("text, ids", [
    ('[{"id": "a"}, {"id": "b"}]', ["a", "b"]),           # JSON list (MMAU/MMAR metadata)
    ('{"data": [{"id": "a"}]}', ["a"]),                     # one wrapped list
    ('{"id": "a"}\n{"id": "b"}\n', ["a", "b"]),             # JSON Lines
    ('{"id": "a"}', ["a"]),                                  # one row
])
def test_read_records_shapes(tmp_path, text, ids):
    path = tmp_path / "items.json"
    path.write_text(text)
    assert [r["id"] for r in read_records(path)] == ids


def test_read_records_refuses_non_objects_and_empty(tmp_path):
    path = tmp_path / "items.json"
    path.write_text("[1, 2]")
    with pytest.raises(UsageError, match=r"items.json:1:2: not a JSON object"):
        read_records(path)
    path.write_text("\n")
    with pytest.raises(UsageError, match="empty file"):
        read_records(path)


def test_write_then_read_round_trip(tmp_path):
    rows = [{"id": i, "text": "ü"} for i in range(3)]
    path = tmp_path / "sub" / "rows.jsonl"
    assert write_jsonl(path, rows) == 3
    assert read_jsonl(path) == rows


def test_predictions_may_have_a_torn_tail_metadata_may_not(tmp_path):
    path = tmp_path / "preds.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b", "out')   # eval.infer killed mid-row
    assert read_records(path, torn_tail=True) == [{"id": "a"}]
    with pytest.raises(UsageError, match=":2: not JSON"):
        read_records(path)


def test_non_objects_returned_when_the_caller_rejects_them_itself(tmp_path):
    path = tmp_path / "ann.json"
    path.write_text('[{"id": 1}, "stray"]')
    assert read_records(path, objects_only=False) == [{"id": 1}, "stray"]
    path.write_text('{"id": 1}\n[2]\n')
    assert read_records(path, objects_only=False) == [{"id": 1}, [2]]


def test_journal_cuts_a_torn_entry_and_appends_after_the_last_whole_one(tmp_path):
    path = tmp_path / "journal.jsonl"
    assert read_journal(path) == []                    # not there yet
    path.write_text('{"video": "a"}\n{"video": "b"')  # killed while writing b
    assert read_journal(path) == [{"video": "a"}]
    with Journal(path) as journal:
        journal.append({"video": "b"})
    assert path.read_text() == '{"video": "a"}\n{"video": "b"}\n'
    path.write_text('{"video": "a"}\n{"video"\n{"video": "c"}\n')  # damaged in the middle: not ours
    with pytest.raises(UsageError, match=":2: not JSON"):
        read_journal(path)


# --- completions.jsonl: ms-swift repeats its last table at the end-of-training summary ----------------------
def _table(step, completions, reward=0.0):
    return {"step": [str(step)] * len(completions), "completion": completions, "Format": [reward] * len(completions)}


@pytest.mark.parametrize("tables, kept", [
    ([_table(1, ["a"]), _table(2, ["b"]), _table(2, ["b"])], [0, 1]),              # the end-of-training repeat
    ([_table(1, ["a"]), _table(1, ["e"]), _table(1, ["a"])], [0, 1]),              # train, eval, repeat of train
    ([_table(1, ["a"]), _table(2, ["a"])], [0, 1]),                                # same text, another step: kept
    ([_table(1, ["a"], 0.0), _table(1, ["a"], 1.0)], [0, 1]),                      # same step, other rewards: kept
])
def test_completion_tables_drop_only_the_repeat(tmp_path, tables, kept):
    from audio_thinker.jsonl import read_completion_tables

    path = tmp_path / "completions.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in tables))
    assert read_completion_tables(path) == [tables[i] for i in kept]
