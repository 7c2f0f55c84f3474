"""mini.claims: each claim of the mini table judged met / not met from results laid out as
mini/table.sh writes them (eval.score result JSONs with per-item rows, training logs)."""
import json
from pathlib import Path

import pytest

from mini import claims as mini_claims

N = 60  # items per difficulty
DIFF = ("easy", "medium", "hard")


def items(correct: dict[str, int], think: dict[str, int], tokens: tuple[int, int] = (30, 3)) -> list[dict]:
    """N items per difficulty: the first ``correct[d]`` right, the first ``think[d]`` in think mode (with
    ``tokens[0]`` reply tokens, else ``tokens[1]``)."""
    out = []
    for d in DIFF:
        for i in range(N):
            thinks = i < think[d]
            out.append({"id": f"{d}-{i}", "correct": i < correct[d], "missing": False, "unparsable": False,
                        "mode": "think" if thinks else "no_think", "groups": {"difficulty": d},
                        "reply_tokens": tokens[0] if thinks else tokens[1]})
    return out


def write(root: Path, where: str, its: list[dict]) -> None:
    path = root / where / "mmau.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"benchmark": "mmau", "version": "unknown", "total": {}, "items": its}))


def flat(n):
    return dict.fromkeys(DIFF, n)


BASE = items(flat(30), flat(0))
GOOD = {  # row -> (correct per difficulty, think per difficulty)
    "grpo-a": (flat(45), flat(0)),
    "grpo-b": (flat(50), flat(N)),
    "model-a": ({"easy": 50, "medium": 50, "hard": 49}, {"easy": 5, "medium": 30, "hard": 55}),
    "model-b": (flat(50), flat(30)),
    "model-c": (flat(51), flat(30)),
}


def table(tmp_path, rows=GOOD, seeds=("1", "2")) -> Path:
    for prompt in ("answer_only", "always_think", "adaptive_think"):
        write(tmp_path, f"base-{prompt}/mini/results/qwen2-audio", BASE)
    for seed in seeds:
        for row, (correct, think) in rows.items():
            if seed == seeds[0] or row in SEED_ROWS:
                write(tmp_path, f"seed-{seed}/mini/results/{row}", items(correct, think))
    return tmp_path


SEED_ROWS = ["grpo-b", "model-a"]  # run on every seed, as mini/table.sh plans them; the others on the first


def claims(root, seeds=("1", "2")):
    return mini_claims.evaluate(root, list(seeds), list(GOOD), seed_rows=SEED_ROWS)["claims"]


def with_row(row, correct, think):
    return {**GOOD, row: (correct, think)}


# rows (changed from GOOD) -> which claims hold
CASES = [
    (GOOD, {"a": True, "b": True, "c": True}),  # every claim holds
    (with_row("model-c", flat(31), flat(30)), {"a": False, "b": True, "c": True}),  # +1 over base: not significant
    (with_row("model-a", flat(50), flat(30)), {"a": True, "b": False, "c": True}),  # thinks as often on easy as on hard
    (with_row("model-a", {"easy": 50, "medium": 50, "hard": 40}, {"easy": 5, "medium": 30, "hard": 55}),
     {"a": True, "b": True, "c": False}),  # 3.3 points below always-think on average
    (with_row("model-a", flat(50), {"easy": 50, "medium": 50, "hard": N}),
     {"a": True, "b": False, "c": False}),  # thinks nearly always: < 30 % fewer tokens, no difficulty gap
]


@pytest.mark.parametrize("rows, verdicts", CASES)
def test_claims(tmp_path, rows, verdicts):
    got = claims(table(tmp_path, rows))
    assert {k: got[k]["met"] for k in verdicts} == verdicts


def test_figures_of_the_claims(tmp_path):
    got = claims(table(tmp_path))
    (b1, b2) = got["b"]["cases"]
    assert b1["hard"] == pytest.approx(55 / 60) and b1["easy"] == pytest.approx(5 / 60)
    assert b1["ci95"][0] < b1["difference"] < b1["ci95"][1]
    c = got["c"]["cases"][0]
    # grpo-b always thinks (30 tokens); model-a thinks on 90 of 180 items: saves half the tokens
    assert c["token_saving"] == pytest.approx(1 - (90 * 30 + 90 * 3) / (180 * 30))
    assert c["accuracy"]["delta"] == pytest.approx(-100 / 180, abs=1e-4)  # eval.compare rounds
    assert c["vs_answer_only"]["a"] == "grpo-a seed 1"  # seed 2 pairs with the only grpo-a run
    assert [(x["a"], x["b"]) for x in got["d"]["cases"]] == [("model-a seed 1", "model-b seed 1"),
                                                             ("model-b seed 1", "model-c seed 1")]
    assert got["a"]["rows_evaluated"] == 7


@pytest.mark.parametrize("missing", ["seed-1/mini/results/model-c",    # a row of the first seed only
                                     "seed-2/mini/results/model-a",    # a row every seed runs
                                     "base-answer_only/mini/results/qwen2-audio"])  # grpo-a's base
def test_a_missing_row_fails_claim_a_rather_than_passing_it(tmp_path, missing):
    root = table(tmp_path)
    assert claims(root)["a"]["met"]  # every planned run there: met
    (root / missing / "mmau.json").unlink()
    got = claims(root)["a"]
    named = {"seed-1/mini/results/model-c": "model-c seed 1", "seed-2/mini/results/model-a": "model-a seed 2",
             "base-answer_only/mini/results/qwen2-audio": "grpo-a seed 1"}[missing]
    assert got["met"] is False and got["missing"] == [named]
    assert got["rows_evaluated"] == 6 and got["rows_planned"] == 7  # what was evaluated is said
    assert not any(c["b"] == named for c in got["cases"])


def test_every_row_on_every_seed_is_expected_unless_told_otherwise(tmp_path):
    """Without ``seed_rows`` every row is planned on every seed: the three rows run on the first seed only
    are missing on the second."""
    got = mini_claims.evaluate(table(tmp_path), ["1", "2"], list(GOOD))["claims"]["a"]
    assert got["met"] is False and got["rows_planned"] == 10
    assert got["missing"] == ["grpo-a seed 2", "model-b seed 2", "model-c seed 2"]


def test_seed_rows_must_be_among_the_rows(tmp_path, capsys):
    from audio_thinker.cli import run as cli_run

    argv = ["--root", str(tmp_path), "--seeds", "1", "2", "--rows", "grpo-a", "grpo-b", "--seed-rows", "model-a",
            "--out", str(tmp_path / "report.md")]
    assert cli_run(mini_claims.main, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--seed-rows" in err[0] and "model-a" in err[0], err
    assert not (tmp_path / "report.md").exists()


def test_the_report_opens_with_what_the_miniature_is_and_five_lines_of_findings(tmp_path):
    doc = mini_claims.evaluate(table(tmp_path), ["1", "2"], list(GOOD), seed_rows=SEED_ROWS)
    head = mini_claims.render(doc, {}).split("\n## Accuracy")[0]
    assert head.startswith("# The mini table") and "not MMAU, no paper numbers" in head
    findings = [line for line in head.splitlines() if line.startswith("- ")]
    assert len(findings) == 5 and [f[:6] for f in findings[:4]] == ["- (a) ", "- (b) ", "- (c) ", "- (d) "]
    assert "(b) model-a thinks more on hard than on easy items (≥ 0.3, greedy): met; hard − easy seed 1 +0.83" in head
    assert "paper" not in head.replace("no paper numbers", "")
