"""The training-row schema (audio_thinker.rows): one builder for every data-prep command."""
from __future__ import annotations

from pathlib import Path

from audio_thinker.rows import question_of, training_row


def test_row_has_the_four_shared_columns_first_then_extras_in_order():
    row = training_row(" What is it? ", ["a boat", "a car"], "a car", Path("/x/1.wav"),
                       question="What is it?", source_id=7)
    assert list(row) == ["messages", "audios", "solution", "choices", "question", "source_id"]
    assert row["messages"] == [{"role": "user", "content":
                                "<audio>What is it? Please choose the answer from the following options: "
                                "['a boat', 'a car']."}]
    assert row["audios"] == ["/x/1.wav"] and row["question"] == "What is it?"


def test_question_of_reads_the_last_user_turn():
    assert question_of([{"role": "user", "content": "<audio>Q1"}, {"role": "assistant", "content": "A"},
                        {"role": "user", "content": "<audio> Q2 "}]) == "Q2"
    assert question_of([{"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": "Q"}]}]) == "Q"
    assert question_of(None) == "" and question_of([{"role": "system", "content": "S"}]) == ""
