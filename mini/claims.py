"""The mini table's claims, judged from the rows' own results and training logs (docs/mini-experiment.md).

    python -m mini.claims --root output/mini --seeds 1 2 --rows grpo-a grpo-b model-a model-b model-c \\
        --seed-rows grpo-b model-a --out output/mini/report.md

ROOT is what ``mini/table.sh`` writes: ``base-<prompt>/`` (the warm start evaluated under one
prompt) and ``seed-<s>/`` (``recipes/table.sh`` output: ``<row>/logging.jsonl``,
``mini/results/<row>/mmau.json``). Paired comparisons are ``eval.compare``'s (bootstrap interval,
exact McNemar p); the ablation parent of each row is its catalogue ``parent``
(recipes/catalogue.yaml), the step ``eval.report`` pairs it with. Think rate and completion length per difficulty come from the
scored items (``eval.think_analysis``'s mode rule; tokens are ``eval/lengths.py`` words and marks).

Claims (each met / not met, with its interval, per seed):
  (a) every GRPO row beats base asked with the row's own prompt (paired delta > 0, McNemar p < 0.05); every
      planned run (each row on the first seed, ``--seed-rows`` on the others) counts: one without a result
      fails the claim and is named;
  (b) under ATAR (model-a) the think rate on hard items exceeds that on easy items by >= 0.3;
  (c) model-a is no more than 2 points below grpo-b (point estimate) with >= 30 % fewer completion tokens;
      its paired difference against grpo-a is reported;
  (d) the paired differences model-b - model-a and model-c - model-b, whichever their sign.
The step-time breakdown is read from the ``audio_thinker/time_*_s`` keys of each row's ``logging.jsonl``.
Writes the markdown report, ``claims.json`` and figures beside it.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from audio_thinker.cli import UsageError, parser as cli_parser, run as cli_run
from audio_thinker.jsonl import read_jsonl, write_json
from recipes import catalogue

from eval import plot_training, think_analysis
from eval.compare import compare, load_result
from eval.stats import Z95
from mini.task import DIFFICULTIES

BASE = "base"
TIME_KEYS = ("time_step_s", "time_generate_s", "time_rewards_s", "time_train_s")
# The rows the claims name, by what makes them that row in recipes/catalogue.yaml (prompt, rewards):
ROLES = {
    "answer_only": lambda r: r.prompt == "answer_only",                      # GRPO, answer-only (grpo-a)
    "always_think": lambda r: r.prompt == "always_think",                    # GRPO, always think (grpo-b)
    # + ATAR (model-a, or one of its study variants: the same rewards with other options, or γ ≡ 1)
    "atar": lambda r: _rewards(r) in ({"atar", "adaptive_format"}, {"atar_unbalanced", "adaptive_format"}),
    "atar_rc": lambda r: _rewards(r) == {"atar", "adaptive_format", "think_consistency"},  # + R_c (model-b)
    "atar_rc_rt": lambda r: _rewards(r) == {"atar", "adaptive_format", "think_consistency",
                                            "think_quality"},                # + R_t, Eq. 7 (model-c)
}


def _rewards(row) -> set[str]:
    return {name for name, _ in row.rewards}


def roles(rows: Sequence[str]) -> dict[str, str]:
    """Role -> the one row among ``rows`` that plays it (a role no row plays is left out)."""
    rows_of = catalogue.load().rows
    out = {}
    for role, plays in ROLES.items():
        found = [row for row in rows if rows_of[row].method == "grpo" and plays(rows_of[row])]
        if len(found) == 1:
            out[role] = found[0]
    return out


def parents(rows: Sequence[str]) -> dict[str, str]:
    """Each row's ablation parent (recipes/catalogue.yaml ``parent``; ``BASE`` for the base model)."""
    rows_of = catalogue.load().rows
    return {row: (rows_of[row].parent if rows_of[row].parent in rows else BASE) for row in rows}


# --- per-item figures -------------------------------------------------------------------------------

def by_difficulty(items: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Accuracy, think rate and mean reply tokens per difficulty and overall ("all")."""
    out = {}
    for group in (*DIFFICULTIES, "all"):
        sel = [it for it in items if group == "all" or it["groups"].get("difficulty") == group]
        answered = [it for it in sel if not it["missing"]]
        tokens = [it["reply_tokens"] for it in answered if it.get("reply_tokens") is not None]
        out[group] = {"n": len(sel), "accuracy": 100 * sum(it["correct"] for it in sel) / len(sel) if sel else None,
                      "answered": len(answered),
                      "think": sum(it["mode"] == "think" for it in answered),
                      "think_rate": (sum(it["mode"] == "think" for it in answered) / len(answered)) if answered else None,
                      "mean_tokens": sum(tokens) / len(tokens) if tokens else None}
    return out


def rate_difference(hi: dict[str, Any], lo: dict[str, Any]) -> tuple[float, list[float]] | None:
    """Think rate of ``hi`` minus that of ``lo`` (independent item sets) with a 95 % normal interval."""
    if not hi["answered"] or not lo["answered"]:
        return None
    p1, n1, p2, n2 = hi["think_rate"], hi["answered"], lo["think_rate"], lo["answered"]
    d = p1 - p2
    half = Z95 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return d, [d - half, d + half]


def token_saving(a_items, b_items, samples: int = 2000, seed: int = 0) -> tuple[float, list[float]] | None:
    """1 - mean tokens(A) / mean tokens(B) over the items both answered, with a paired bootstrap interval."""
    import numpy as np

    b_by_id = {it["id"]: it for it in b_items}
    pairs = [(it["reply_tokens"], b_by_id[it["id"]]["reply_tokens"]) for it in a_items
             if it["id"] in b_by_id and it.get("reply_tokens") is not None
             and b_by_id[it["id"]].get("reply_tokens") is not None]
    if not pairs:
        return None
    a, b = np.array(pairs, dtype=float).T
    if b.sum() == 0:
        return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(samples, len(a)))
    boot = 1 - a[idx].sum(axis=1) / np.maximum(b[idx].sum(axis=1), 1e-9)
    low, high = np.quantile(boot, [0.025, 0.975])
    return float(1 - a.sum() / b.sum()), [float(low), float(high)]


# --- logs -------------------------------------------------------------------------------------------

def step_times(run_dir: Path) -> dict[str, Any] | None:
    """Mean seconds per optimizer step of each stage over the run's training log (first step apart: it
    holds the one-off warm-up), and the step count."""
    log = run_dir / "logging.jsonl"
    if not log.exists():
        return None
    rows = [r for r in read_jsonl(log) if f"audio_thinker/{TIME_KEYS[0]}" in r]
    later = [r for r in rows[1:] if r.get(f"audio_thinker/{TIME_KEYS[0]}") is not None]
    if not later:
        return None
    out = {key: sum(r[f"audio_thinker/{key}"] for r in later) / len(later) for key in TIME_KEYS}
    out.update(steps=len(rows), first_step_s=rows[0].get(f"audio_thinker/{TIME_KEYS[0]}"))
    return out


def sampled_modes(run_dir: Path, train_rows: Path) -> list[tuple[int, str, bool]]:
    """(step, difficulty, thought) of every completion the run sampled in training (``completions.jsonl``,
    its ThinkRate column: the policy as it trained, temperature 1). A prompt's difficulty is that of the
    training row whose question it quotes (``train.jsonl``'s ``difficulty``)."""
    log = run_dir / "completions.jsonl"
    if not log.exists() or not train_rows.exists():
        return []
    by_question = {}
    for row in read_jsonl(train_rows):
        by_question.setdefault(row["messages"][-1]["content"].replace("<audio>", ""), row.get("difficulty"))
    out = []
    for t in read_jsonl(log):
        for step, prompt, think in zip(t.get("step") or [], t.get("prompt") or [], t.get("ThinkRate") or []):
            group = next((d for q, d in by_question.items() if q in prompt), None)
            if group is not None:
                out.append((int(step), group, float(think) > 0.5))
    return out


def training_think_rates(run_dir: Path, train_rows: Path, last: float = 0.2) -> dict[str, Any] | None:
    """Think rate per difficulty of the completions sampled in the last ``last`` share of the run's steps."""
    modes = sampled_modes(run_dir, train_rows)
    if not modes:
        return None
    steps = [s for s, _, _ in modes]
    first = min(steps) + (max(steps) - min(steps)) * (1 - last)
    counts: dict[str, list[int]] = {}
    for step, group, thought in modes:
        if step >= first:
            counts.setdefault(group, [0, 0])
            counts[group][0] += thought
            counts[group][1] += 1
    return {"from_step": first, "to_step": max(steps),
            **{d: {"think_rate": c[0] / c[1], "n": c[1]} for d, c in counts.items()}}


def plot_sampled_think_rates(runs: dict[str, list[tuple[int, str, bool]]], path: Path, window: int = 10) -> None:
    """Think rate per difficulty against the step, in windows of ``window`` steps, one panel per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(runs), figsize=(4.2 * len(runs), 3.4), squeeze=False, sharey=True)
    for ax, (label, modes) in zip(axes[0], runs.items()):
        last = max(s for s, _, _ in modes)
        for d in DIFFICULTIES:
            xs, ys = [], []
            for start in range(1, last + 1, window):
                sel = [t for s, g, t in modes if g == d and start <= s < start + window]
                if sel:
                    xs.append(start + window / 2 - 0.5)
                    ys.append(sum(sel) / len(sel))
            ax.plot(xs, ys, marker="o", markersize=3, label=d)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"think rate, sampled in training ({window}-step windows)")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --- the claims -------------------------------------------------------------------------------------

def _cmp(a: dict, b: dict, a_name: str, b_name: str) -> dict[str, Any]:
    total = compare(a, b, a_name, b_name)["total"]
    return {"a": a_name, "b": b_name, "n": total["n_paired"], "accuracy_a": total["accuracy_a"],
            "accuracy_b": total["accuracy_b"], "delta": total["delta"], "ci95": total["ci95"],
            "p": total["mcnemar_p"]}


def planned_runs(seeds: Sequence[str], rows: Sequence[str],
                 seed_rows: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(row, seed) of every run the table was asked for: each row on the first seed, and ``seed_rows``
    (every row when not given) on the later seeds, as ``mini/table.sh`` plans them (``MINI_SEED_ROWS``)."""
    later = rows if seed_rows is None else [row for row in rows if row in seed_rows]
    return [(row, seed) for i, seed in enumerate(seeds) for row in (rows if i == 0 else later)]


def evaluate(root: Path, seeds: Sequence[str], rows: Sequence[str], table: str = "mini",
             seed_rows: Sequence[str] | None = None) -> dict[str, Any]:
    """Every figure of the report, as one JSON-able document. ``seed_rows``: the rows run on every seed
    (the others on the first seed only); every row when not given."""
    prompt_of = {row: catalogue.load().row(row).prompt for row in rows}
    role = roles(rows)
    answer_only, always, atar = role.get("answer_only"), role.get("always_think"), role.get("atar")
    results, missing = {}, []
    for prompt in sorted(set(prompt_of.values())):
        path = root / f"base-{prompt}" / table / "results" / "qwen2-audio" / "mmau.json"
        if path.exists():
            results[(BASE, prompt)] = load_result(path)
        else:
            missing.append(str(path))
    for seed in seeds:
        for row in rows:
            path = root / f"seed-{seed}" / table / "results" / row / "mmau.json"
            if path.exists():
                results[(row, seed)] = load_result(path)
    name = lambda key: f"{key[0]}/{key[1]}" if key[0] == BASE else f"{key[0]} seed {key[1]}"  # noqa: E731
    doc: dict[str, Any] = {"figures": {name(k): by_difficulty(r["items"]) for k, r in results.items()},
                           "missing": missing, "claims": {}, "comparisons": [], "times": {}}
    got = lambda row, seed: results.get((row, seed))  # noqa: E731
    parent = parents(rows)

    done: dict[tuple, dict[str, Any]] = {}

    def paired(a_key, b_key) -> dict[str, Any] | None:
        """eval.compare of two runs (once per pair; listed in the report's comparison table)."""
        a, b = results.get(a_key), results.get(b_key)
        if a is None or b is None:
            return None
        if (a_key, b_key) not in done:
            done[(a_key, b_key)] = _cmp(a, b, name(a_key), name(b_key))
            doc["comparisons"].append(done[(a_key, b_key)])
        return done[(a_key, b_key)]

    # (a) every GRPO row beats base asked its way: every planned run must have a result to be compared, so
    # a run that never finished (or whose base was not evaluated) fails the claim and is named
    planned = planned_runs(seeds, rows, seed_rows)
    a_cases, not_compared = [], []
    for row, seed in planned:
        case = paired((BASE, prompt_of[row]), (row, seed))
        if case:
            a_cases.append(case)
        else:
            not_compared.append(name((row, seed)))
    doc["claims"]["a"] = {"cases": a_cases, "rows_evaluated": len(a_cases), "rows_planned": len(planned),
                          "missing": not_compared,
                          "met": bool(a_cases) and not not_compared
                          and all(c["delta"] > 0 and c["p"] < 0.05 for c in a_cases)}
    # ablation parents (for the table) and the pairs the claims name
    for seed in seeds:
        for row in rows:
            if got(row, seed) and parent.get(row, BASE) != BASE:
                paired((parent[row], seed), (row, seed))
    # (b) ATAR thinks more on hard than on easy items
    b_cases = []
    for seed in seeds:
        if got(atar, seed):
            f = by_difficulty(got(atar, seed)["items"])
            diff = rate_difference(f["hard"], f["easy"])
            if diff:
                b_cases.append({"seed": seed, "hard": f["hard"]["think_rate"], "easy": f["easy"]["think_rate"],
                                "difference": diff[0], "ci95": diff[1],
                                "training": training_think_rates(root / f"seed-{seed}" / atar,
                                                                 root / "task" / "train.jsonl")})
    doc["claims"]["b"] = {"cases": b_cases, "met": bool(b_cases) and all(c["difference"] >= 0.3 for c in b_cases)}
    # (c) ATAR vs always-think: accuracy within 2 points, >= 30 % fewer tokens; and vs answer-only
    c_cases = []
    for seed in seeds:
        a, b = got(always, seed), got(atar, seed)
        if a and b:
            acc = paired((always, seed), (atar, seed))
            saving = token_saving(b["items"], a["items"])
            c_cases.append({"seed": seed, "accuracy": acc, "token_saving": saving[0] if saving else None,
                            "token_saving_ci95": saving[1] if saving else None,
                            # answer-only may run on the first seed only: pair with it (same items)
                            "vs_answer_only": paired((answer_only, seed if got(answer_only, seed) else seeds[0]),
                                                     (atar, seed))})
    doc["claims"]["c"] = {"cases": c_cases, "met": bool(c_cases) and all(
        c["accuracy"]["delta"] >= -2 and c["token_saving"] is not None and c["token_saving"] >= 0.3 for c in c_cases)}
    # (d) what R_c and R_t add
    steps = [(atar, role.get("atar_rc")), (role.get("atar_rc"), role.get("atar_rc_rt"))]
    doc["claims"]["d"] = {"cases": [c for seed in seeds for a, b in steps if (c := paired((a, seed), (b, seed)))]}
    doc["roles"] = role
    # step times
    for seed in seeds:
        for row in rows:
            t = step_times(root / f"seed-{seed}" / row)
            if t:
                doc["times"][name((row, seed))] = t
    return doc


# --- the report -------------------------------------------------------------------------------------

def _pct(x) -> str:
    return "–" if x is None else f"{x:.1f}"


def _ci(ci) -> str:
    return "–" if not ci else f"[{ci[0]:+.1f}, {ci[1]:+.1f}]"


def _p(p) -> str:
    return "–" if p is None else (f"{p:.2g}" if p >= 1e-4 else "<1e-4")


def _verdict(met: bool) -> str:
    return "**met**" if met else "**not met**"


def _comparison_line(c: dict[str, Any]) -> str:
    return (f"| {c['a']} → {c['b']} | {c['n']} | {_pct(c['accuracy_a'])} | {_pct(c['accuracy_b'])} | "
            f"{c['delta']:+.1f} | {_ci(c['ci95'])} | {_p(c['p'])} |")


def summary(doc: dict[str, Any]) -> list[str]:
    """The report's opening: what the miniature is, and five lines of what it found (claims (a)-(d) and the
    best held-out accuracy)."""
    claims, atar = doc["claims"], doc["roles"].get("atar", "?")

    def verdict(key: str) -> str:
        return "met" if claims[key]["met"] else "not met"

    beat = sum(1 for c in claims["a"]["cases"] if c["delta"] > 0 and (c.get("p") if c.get("p") is not None else 1) < 0.05)
    b = "; ".join(f"seed {c['seed']} {c['difference']:+.2f} {_ci(c['ci95'])}" for c in claims["b"]["cases"]) or "no result"
    c_ = "; ".join(f"seed {c['seed']} {c['accuracy']['delta']:+.1f} points, tokens saved "
                   + ("–" if c["token_saving"] is None else f"{100 * c['token_saving']:.0f} %")
                   for c in claims["c"]["cases"]) or "no result"
    d = "; ".join(f"{c['b']} − {c['a']} {c['delta']:+.1f} points (p = {_p(c['p'])})"
                  for c in claims["d"]["cases"]) or "rows missing"
    scored = [(f["all"]["accuracy"], run) for run, f in doc["figures"].items() if f["all"]["accuracy"] is not None]
    best = max(scored) if scored else None
    return ["# The mini table (the miniature's tone task, held-out items: not MMAU, no paper numbers)", "",
            "## Summary", "",
            f"- (a) every GRPO run beats the warm start: {verdict('a')} ({beat} of {claims['a']['rows_planned']} "
            "planned runs significantly better)",
            f"- (b) {atar} thinks more on hard than on easy items (≥ 0.3, greedy): {verdict('b')}; hard − easy {b}",
            f"- (c) {atar} within 2 points of always-think with ≥ 30 % fewer tokens: {verdict('c')}; {c_}",
            f"- (d) what R_c and R_t add: {d}",
            f"- best held-out accuracy: {best[1]}, {best[0]:.1f} %" if best else "- no held-out result", ""]


def render(doc: dict[str, Any], figures: dict[str, str]) -> str:
    role = doc["roles"]
    atar, always, answer_only = role.get("atar", "?"), role.get("always_think", "?"), role.get("answer_only", "?")
    lines = [*summary(doc), "## Accuracy, think rate and completion length per difficulty (held-out items)", "",
             "| run | n | accuracy % (all) | easy | medium | hard | think rate easy / medium / hard | "
             "mean tokens easy / medium / hard |", "|---|---|---|---|---|---|---|---|"]
    for run, f in doc["figures"].items():
        rates = " / ".join("–" if f[d]["think_rate"] is None else f"{f[d]['think_rate']:.2f}" for d in DIFFICULTIES)
        toks = " / ".join(_pct(f[d]["mean_tokens"]) for d in DIFFICULTIES)
        lines.append(f"| {run} | {f['all']['n']} | {_pct(f['all']['accuracy'])} | "
                     + " | ".join(_pct(f[d]["accuracy"]) for d in DIFFICULTIES) + f" | {rates} | {toks} |")
    lines += ["", "## Paired comparisons (eval.compare: B − A in points, paired bootstrap 95 % CI, exact McNemar p)",
              "", "| A → B | n | A % | B % | Δ | 95 % CI | p |", "|---|---|---|---|---|---|---|"]
    lines += [_comparison_line(c) for c in doc["comparisons"]]
    claims = doc["claims"]
    lines += ["", "## Claims", "",
              f"**(a) every GRPO row beats base (asked with the row's prompt), paired, p < 0.05**: "
              f"{_verdict(claims['a']['met'])} ({len(claims['a']['cases'])} comparisons of "
              f"{claims['a']['rows_planned']} planned runs)", ""]
    if claims["a"]["missing"]:
        lines += ["- no result to compare (counted as not met): " + ", ".join(claims["a"]["missing"]), ""]
    lines += [f"- {c['b']} vs {c['a']}: {c['delta']:+.1f} points {_ci(c['ci95'])}, p = {_p(c['p'])}"
              for c in claims["a"]["cases"]]
    lines += ["", f"**(b) under ATAR, think rate hard − easy ≥ 0.3**: {_verdict(claims['b']['met'])}", ""]
    for c in claims["b"]["cases"]:
        lines.append(f"- {atar} seed {c['seed']}, held-out (greedy): hard {c['hard']:.2f}, easy {c['easy']:.2f}, "
                     f"difference {c['difference']:+.2f} (95 % CI [{c['ci95'][0]:+.2f}, {c['ci95'][1]:+.2f}])")
        t = c.get("training")
        if t and "hard" in t and "easy" in t:
            lines.append(f"  - sampled in training, steps {t['from_step']:.0f}–{t['to_step']}: hard "
                         f"{t['hard']['think_rate']:.2f} (n {t['hard']['n']}), easy {t['easy']['think_rate']:.2f} "
                         f"(n {t['easy']['n']}), difference {t['hard']['think_rate'] - t['easy']['think_rate']:+.2f}")
    lines += ["", f"**(c) ATAR within 2 points of always-think with ≥ 30 % fewer completion tokens**: "
              f"{_verdict(claims['c']['met'])}", ""]
    for c in claims["c"]["cases"]:
        acc, vs = c["accuracy"], c["vs_answer_only"]
        saving = "–" if c["token_saving"] is None else (
            f"{100 * c['token_saving']:.0f} % (95 % CI [{100 * c['token_saving_ci95'][0]:.0f}, "
            f"{100 * c['token_saving_ci95'][1]:.0f}])")
        lines.append(f"- seed {c['seed']}: {atar} − {always} {acc['delta']:+.1f} points {_ci(acc['ci95'])}, "
                     f"p = {_p(acc['p'])}; tokens saved {saving}; {atar} − {answer_only} "
                     + (f"{vs['delta']:+.1f} points {_ci(vs['ci95'])}, p = {_p(vs['p'])}" if vs else "–"))
    lines += ["", "**(d) what R_c and R_t add** (reported whichever their sign):", ""]
    lines += [f"- {c['b']} − {c['a']}: {c['delta']:+.1f} points {_ci(c['ci95'])}, p = {_p(c['p'])}"
              for c in claims["d"]["cases"]] or ["- (rows missing)"]
    lines += ["", "## Time per optimizer step (from each row's logging.jsonl, first step excluded)", "",
              f"| run | steps | step s | generation s | rewards (incl. judge) s | training s | step / {answer_only} |",
              "|---|---|---|---|---|---|---|"]
    for run, t in doc["times"].items():
        row, _, seed = run.partition(" seed ")
        ref = doc["times"].get(f"{answer_only} seed {seed}") or next(
            (t for r, t in doc["times"].items() if r.startswith(f"{answer_only} seed ")), None)
        ratio = f"{t['time_step_s'] / ref['time_step_s']:.2f}" if ref else "–"
        lines.append(f"| {run} | {t['steps']} | {t['time_step_s']:.2f} | {t['time_generate_s']:.2f} | "
                     f"{t['time_rewards_s']:.3f} | {t['time_train_s']:.2f} | {ratio} |")
    lines += ["", "## Figures", ""] + [f"![{title}]({path})" for title, path in figures.items()]
    if doc["missing"]:
        lines += ["", "Missing results: " + ", ".join(doc["missing"])]
    return "\n".join(lines) + "\n"


def plot_by_difficulty(doc: dict[str, Any], key: str, ylabel: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = list(doc["figures"])
    fig, ax = plt.subplots(figsize=(1.2 + 1.0 * len(runs), 3.8))
    width = 0.8 / 3
    for k, d in enumerate(DIFFICULTIES):
        ys = [doc["figures"][r][d][key] or 0 for r in runs]
        ax.bar([i + (k - 1) * width for i in range(len(runs))], ys, width, label=d)
    ax.set_xticks(range(len(runs)))
    ax.set_xticklabels(runs, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    cli = cli_parser("mini.claims", __doc__,
                     reads="mini/table.sh's output folder: base-<prompt>/ and seed-<s>/ as recipes/table.sh\n"
                           "writes them (mini/results/<row>/mmau.json with its \"items\", <row>/logging.jsonl)",
                     example=('ROOT/seed-1/mini/results/model-a/mmau.json  {"benchmark": "mmau", "total": {...},\n'
                              '  "items": [{"id": "mini-test-00000", "correct": true, "mode": "think", ...}]}\n'
                              'ROOT/seed-1/model-a/logging.jsonl  {"audio_thinker/time_step_s": 6.9, ...}'),
                     writes="the markdown report (--out), claims.json and figures/ (think rate and tokens by\n"
                            "difficulty, Figure 2, training curves) beside it")
    cli.add_argument("--root", type=Path, required=True, help="mini/table.sh's output folder")
    cli.add_argument("--table", default="mini", help="the table recipes/table.sh ran (its output folder's name)")
    cli.add_argument("--seeds", nargs="+", required=True)
    cli.add_argument("--rows", nargs="+", required=True)
    cli.add_argument("--seed-rows", nargs="+", default=None,
                     help="the rows run on every seed (the others on the first seed only); default: every row")
    cli.add_argument("--out", type=Path, required=True, help="markdown report to write")
    args = cli.parse_args(argv)
    unknown = [row for row in args.rows if row not in catalogue.load().rows]
    if unknown:
        raise UsageError(f"not rows of recipes/catalogue.yaml: {unknown}", option="--rows")
    if not args.root.is_dir():
        raise UsageError("no such folder", args.root)
    not_listed = sorted(set(args.seed_rows or []) - set(args.rows))
    if not_listed:
        raise UsageError(f"not among --rows: {not_listed}", option="--seed-rows")
    doc = evaluate(args.root, args.seeds, args.rows, args.table, args.seed_rows)
    out_dir = args.out.parent
    figs = out_dir / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    figures = {}
    plot_by_difficulty(doc, "think_rate", "think rate (held-out, greedy)", figs / "think_rate_by_difficulty.png")
    figures["think rate by difficulty"] = "figures/think_rate_by_difficulty.png"
    plot_by_difficulty(doc, "mean_tokens", "mean completion tokens", figs / "tokens_by_difficulty.png")
    figures["completion tokens by difficulty"] = "figures/tokens_by_difficulty.png"
    # Figure 2 as eval.think_analysis draws it (no-thinking rate), for the first seed's rows
    first = [(f"{row} seed {args.seeds[0]}", args.root / f"seed-{args.seeds[0]}" / args.table / "results" / row / "mmau.json")
             for row in args.rows]
    analyses = {label: think_analysis.analyse(think_analysis.load_items(str(p))) for label, p in first if p.exists()}
    if analyses:
        think_analysis.plot(analyses, str(figs / "figure2_no_think_rate.png"))
        figures["Figure 2 (eval.think_analysis)"] = "figures/figure2_no_think_rate.png"
    train_rows = args.root / "task" / "train.jsonl"
    sampled = {f"{row} seed {seed}": modes for seed in args.seeds for row in args.rows
               if row != doc["roles"].get("answer_only") and row != doc["roles"].get("always_think")
               and (modes := sampled_modes(args.root / f"seed-{seed}" / row, train_rows))}
    if sampled:
        plot_sampled_think_rates(sampled, figs / "think_rate_in_training.png")
        figures["think rate by difficulty, sampled in training"] = "figures/think_rate_in_training.png"
    for seed in args.seeds:
        for row in args.rows:
            run_dir = args.root / f"seed-{seed}" / row
            if (run_dir / "logging.jsonl").exists():
                png = figs / f"curves-{row}-seed{seed}.png"
                plot_training.main([str(run_dir), "--out", str(png)])
                figures[f"training curves {row} seed {seed}"] = f"figures/{png.name}"
    write_json(out_dir / "claims.json", doc)
    report = render(doc, figures)
    stages = args.root / "stages.log"  # mini/table.sh: each stage's start, elapsed time and load
    if stages.exists():
        report += "\n## The run (stages.log: UTC time, seconds since start, load average)\n\n```\n" + \
            stages.read_text() + "```\n"
    args.out.write_text(report)
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli_run(main))
