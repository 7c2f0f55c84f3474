"""``--help`` teaches: every ``python -m data_prep.*`` / ``python -m eval.*`` command ends its help with the
input it reads, an example of that input (at least two lines, as they look in the file), and the outputs
it writes (audio_thinker.cli.parser). One case per command; a command missing from the table fails too."""
from __future__ import annotations

import ast
import importlib
import re

import pytest

from tests.helpers.paths import REPO

# module: (a word of its input example that a reader must see, the outputs its help must name)
COMMANDS = {
    "data_prep.avqa":          ("multi_choice", ["train.jsonl", "rejects.jsonl", "summary.json", "audio/"]),
    "data_prep.benchmarks":    ("audio_id", [".missing.jsonl"]),
    "data_prep.cot":           ('"solution"', ["sft_cot.jsonl", "cot_rejects.jsonl", "cot_summary.json"]),
    "mini.judge":    ("<<data-NONCE>>", ["verdict-NONCE", "score-NONCE"]),
    "mini.task":     ('"solution"', ["train.jsonl", "sft.jsonl", "test-meta.json", "test.jsonl"]),
    "data_prep.preflight":     ('"audios"', ["error: FILE:LINE", "--clean-out"]),
    "data_prep.sft_targets":   ('"solution"', ["<answer>SOLUTION</answer>"]),
    "data_prep.synthetic":     ('"solution"', ["train.jsonl", "sft_answers.jsonl", "sft_cot.jsonl", "mmau-demo.json"]),
    "eval.compare":            ('"items"', ["delta", "--output"]),
    "eval.convert":            ('"output"', ["model_output", "answer_prediction", "response"]),
    "eval.export_mmau_test":   ('"output"', ["model_output", "model_prediction"]),
    "eval.infer":              ('"id"', ['output', "mode", "infer"]),
    "mini.claims":        ('"items"', ["claims.json", "figures/"]),
    "eval.mode_signal":        ('"advantages"', ["by_difficulty", "windows", "contrast_groups", "decision_push"]),
    "mini.trace_curves":  ('"completion"', ["trace_curves.json", "trace_curves.png"]),
    "eval.plot_training":      ("audio_thinker/think_ratio", ["PNG", "note:"]),
    "eval.report":             ("mmau.json", ["markdown"]),
    "eval.score":              ("model_output", ["95 % interval", "--out FILE"]),
    "eval.sweep":              ("checkpoint-", ["sweep.json", "sweep.csv", "sweep.png"]),
    "eval.think_analysis":     ('"items"', ["--plot", "Figure 2"]),
    "eval.think_propensity":   ('"id"', ["by_difficulty", "propensity", "items"]),
}


# Commands that read no input file of a user's, so there is no input example to show (each says why).
NO_INPUT = {
    "eval.simulate": "simulates a policy from its own arguments; prints the runs, --plot writes a PNG",
    "mini.build": "builds the mini backbone from the mini task it generates itself",
    "mini.precondition": "reads only a mini.task folder that the same project wrote",
    "mini.study": "reads only the study folder that mini/study.sh wrote; its subcommands list what they write",
    "mini.traces": "reads only a checkpoint and a mini.task folder that the same project wrote",
}


def command_modules() -> list[str]:
    """Every module of data_prep/, eval/ and mini/ that runs as a command (``if __name__ == "__main__"``)
    and reads a user's input."""
    found = []
    for package in ("data_prep", "eval", "mini"):
        for path in sorted((REPO / package).glob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            if any(isinstance(node, ast.If) and "__main__" in ast.unparse(node.test) for node in tree.body):
                found.append(f"{package}.{path.stem}")
    return [module for module in found if module not in NO_INPUT]


def help_text(module: str, capsys) -> str:
    with pytest.raises(SystemExit) as stop:
        importlib.import_module(module).main(["--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


def test_every_command_is_in_the_table():
    assert sorted(COMMANDS) == command_modules()


@pytest.mark.parametrize("module", sorted(COMMANDS))
def test_help_names_input_example_and_outputs(module, capsys):
    text = help_text(module, capsys)
    word, outputs = COMMANDS[module]
    match = re.search(r"^input: .+?^example:\n(?P<example>(?:  .*\n)+)^outputs: (?P<outputs>.+)", text, re.S | re.M)
    assert match, f"{module} --help has no input:/example:/outputs: block:\n{text[-1500:]}"
    assert len(match["example"].splitlines()) >= 2, match["example"]
    assert word in match["example"]
    assert [name for name in outputs if name not in match["outputs"]] == []


def test_avqa_help_shows_the_annotation_format(capsys):
    """The one home of the AVQA annotation format is data_prep/avqa_annotations.txt: --help prints all of it,
    and the docs page includes the same file."""
    text = help_text("data_prep.avqa", capsys)
    fmt = (REPO / "data_prep" / "avqa_annotations.txt").read_text(encoding="utf-8")
    for line in fmt.splitlines():
        assert line.strip() in text
    assert '--8<-- "data_prep/avqa_annotations.txt"' in (REPO / "docs" / "data-preparation.md").read_text()
