"""The policy's probability of opening its reply in think mode, read exactly from its next-token distributions.

    python -m eval.think_propensity --model DIR [--model-type T] --benchmark-file ROWS.jsonl \\
        --meta META.json --system PROMPT.txt --out OUT.json [--samples K]

Greedy decoding reports a think rate of 0 for every item whose think probability is below one half, so a
policy moving from 0.05 to 0.45 looks unchanged. This command reports the probability itself (the
*think propensity*), per item and summarised overall, per ``difficulty`` and per MMAU ``category`` /
``sub-category`` (docs/evaluation.md, "Think propensity").

Decisions:
- the prompt is the one evaluation builds (``eval.infer.build_request_messages``: ``--system`` replaces the
  rows' system message, assistant turns are dropped; the audio is included), encoded by the model's own
  ms-swift template in inference mode, so the generation prompt is exactly the one the policy sees;
- think mode opens with ``<think>`` (audio_thinker/tags.py), after optional whitespace: the format allows
  surrounding whitespace. The propensity is the sum, over the openings ``<think>``, `` <think>``,
  ``\\n<think>`` and ``\\n\\n<think>``, of the probability of that opening's tokens as the tokenizer splits
  it, each computed by teacher forcing (one forward pass over prompt + opening, the sum of the opening
  tokens' log-probabilities). The openings are disjoint events (no one's tokens are a prefix of another's;
  a duplicate or a prefix is dropped), so their probabilities add. A reply spelling ``<think>`` in other
  tokens is not counted: for a model trained on the tokenizer's own split that mass is negligible, and
  ``--samples`` measures it (its check reads the decoded text);
- one unpadded forward pass per opening: padding would shift positions (left padding is what ms-swift's
  collator does in inference), so none is used and the figure is exact;
- summaries: the mean of the per-item probabilities with a 95 % Student-t interval (clipped to [0, 1]);
  with ``--samples K``, each summary also gets ``sampled_think_rate`` (K replies per item sampled at
  temperature 1 with no top-k / top-p / repetition penalty, only the first few tokens) and its 95 % Wilson
  interval ``sampled_ci``: the exact propensity should fall inside it;
- every input is checked before the model loads; bad input is one line (audio_thinker/cli.py).
"""
from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from audio_thinker.cli import UsageError, parser as cli_parser, read_text, run as cli_run
from audio_thinker.jsonl import atomic_write_text, read_records, where
from audio_thinker.rows import BENCHMARK_ROWS_EXAMPLE

from .infer import build_request_messages, check_benchmark
from .stats import wilson_interval

THINK_OPEN = "<think>"  # audio_thinker/tags.py: the tag that opens think mode
LEADING_WHITESPACE = ("", " ", "\n", "\n\n")  # what may precede it (tags.py allows surrounding whitespace)
SAMPLE_TOKENS = 8  # enough tokens for "<think>" split into characters after a newline
GROUP_FIELDS = {"by_difficulty": "difficulty", "by_category": "category", "by_sub_category": "sub-category"}


def openings(encode: Callable[[str], list[int]]) -> list[tuple[int, ...]]:
    """The token sequences of the think-mode openings, as ``encode`` (the tokenizer, no special tokens) splits
    them; a sequence equal to or extending another is dropped, so that the rest are disjoint events."""
    found: list[tuple[int, ...]] = []
    for text in (w + THINK_OPEN for w in LEADING_WHITESPACE):
        ids = tuple(encode(text))
        if ids and not any(ids[:len(other)] == other or other[:len(ids)] == ids for other in found):
            found.append(ids)
    return found


def t_interval(values: Sequence[float]) -> list[float] | None:
    """95 % Student-t interval of the mean, clipped to [0, 1]; None below two values."""
    n = len(values)
    if n < 2:
        return None
    from scipy.stats import t

    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return [round(max(0.0, mean - half), 6), round(min(1.0, mean + half), 6)]


def summarise(ids: Sequence[str], propensity: dict[str, float],
              sampled: dict[str, tuple[int, int]] | None = None) -> dict[str, Any]:
    """One summary entry: ``propensity`` (mean over items), ``ci``, ``n``; with samples, also
    ``sampled_think_rate`` and its Wilson interval ``sampled_ci`` over all samples of these items."""
    values = [propensity[i] for i in ids]
    entry: dict[str, Any] = {"propensity": round(sum(values) / len(values), 6) if values else None,
                             "ci": t_interval(values), "n": len(values)}
    if sampled is not None:
        think = sum(sampled[i][0] for i in ids)
        total = sum(sampled[i][1] for i in ids)
        entry["sampled_think_rate"] = round(think / total, 6) if total else None
        ci = wilson_interval(think, total)
        entry["sampled_ci"] = [round(x / 100, 6) for x in ci] if ci else None
    return entry


def report(propensity: dict[str, float], meta: dict[str, dict[str, Any]],
           sampled: dict[str, tuple[int, int]] | None = None) -> dict[str, Any]:
    """OUT.json: ``overall``, ``by_difficulty`` and, where the metadata has the field, ``by_category`` and
    ``by_sub_category`` (groups sorted by name), then ``items`` (id -> probability)."""
    ids = list(propensity)
    out: dict[str, Any] = {"overall": summarise(ids, propensity, sampled)}
    for key, field in GROUP_FIELDS.items():
        groups: dict[str, list[str]] = defaultdict(list)
        for i in ids:
            value = meta.get(i, {}).get(field)
            if value is not None:
                groups[str(value)].append(i)
        if groups or key == "by_difficulty":
            out[key] = {name: summarise(members, propensity, sampled) for name, members in sorted(groups.items())}
    out["items"] = {i: round(p, 8) for i, p in propensity.items()}
    if sampled is not None:
        out["sampled_items"] = {i: {"think": t, "samples": k} for i, (t, k) in sampled.items()}
    return out


def read_meta(path: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Metadata items by id (MMAU's format: a JSON list of objects with ``id``); every row id must be there."""
    items = read_records(path)
    by_id = {}
    for index, item in enumerate(items):
        if "id" not in item:
            raise UsageError("has no 'id'", path, where(items, index))
        by_id[str(item["id"])] = item
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise UsageError(f"has no item for {len(missing)} benchmark row(s) (first: {missing[0]!r}); "
                         "give the metadata of the same benchmark", path)
    return by_id


class Policy:
    """The checkpoint behind ms-swift's transformers engine: its template builds the prompt, its model scores
    openings (:meth:`think_probability`) and samples replies (:meth:`sample_openings`)."""

    def __init__(self, model: str, model_type: str | None = None, adapters: Sequence[str] = ()):
        import swift_plugins.compat  # noqa: F401  - the Qwen2-Audio fix; without it the model hears nothing
        from swift.infer_engine import TransformersEngine

        self.engine = TransformersEngine(model, adapters=list(adapters) or None, model_type=model_type,
                                         max_batch_size=1)
        self.template = self.engine.template
        self.model = self.engine.model
        self.tokenizer = self.engine.tokenizer
        self.openings = openings(lambda text: self.tokenizer.encode(text, add_special_tokens=False))

    def encode(self, row: dict[str, Any], system: str | None) -> dict[str, Any]:
        """The prompt as evaluation encodes it (generation prompt included), before collation."""
        from swift.infer_engine import InferRequest

        self.template.set_mode("transformers")
        request = InferRequest(messages=build_request_messages(row, system), audios=list(row.get("audios") or []))
        encoded = self.template.encode(request)
        encoded.pop("template_inputs", None)
        return encoded

    def forward_logprobs(self, encoded: dict[str, Any], tail: Sequence[int]):
        """Log-softmax of the logits over prompt + ``tail`` (one sequence, no padding), shape [len, vocab]."""
        import torch
        from swift.utils import to_device

        item = dict(encoded, input_ids=list(encoded["input_ids"]) + list(tail))
        for key in ("labels", "loss_scale"):
            item.pop(key, None)
        with torch.inference_mode():
            inputs = to_device(self.template.data_collator([item]), self.model.device)
            if self.engine.model_meta.is_multimodal:
                _, inputs = self.template.pre_forward_hook(self.model, None, inputs)
            logits = self.model(**inputs).logits[0]
        return torch.log_softmax(logits.float(), dim=-1)

    def think_probability(self, encoded: dict[str, Any]) -> float:
        """P(the reply opens in think mode): the sum over :attr:`openings` of exp(Σ log p(token | prefix))."""
        total = 0.0
        for tail in self.openings:
            logprobs = self.forward_logprobs(encoded, tail)
            start = logprobs.shape[0] - len(tail) - 1  # the logits at position j predict token j + 1
            total += math.exp(sum(float(logprobs[start + k, token]) for k, token in enumerate(tail)))
        return min(total, 1.0)

    def sample_openings(self, row: dict[str, Any], system: str | None, samples: int,
                        max_tokens: int = SAMPLE_TOKENS) -> int:
        """How many of ``samples`` replies, sampled at temperature 1 from the full distribution, open with
        ``<think>`` after optional whitespace (read from the decoded text, any tokenisation)."""
        from swift.infer_engine import InferRequest, RequestConfig

        # top_k as large as any vocabulary and top_p 1: no truncation (a None would fall back to the model's
        # generation_config, e.g. top_k 20 for Qwen2-Audio-Instruct)
        config = RequestConfig(max_tokens=max_tokens, temperature=1.0, top_k=2**30, top_p=1.0,
                               repetition_penalty=1.0, n=samples, return_details=True)
        request = InferRequest(messages=build_request_messages(row, system), audios=list(row.get("audios") or []))
        response = self.engine.infer([request], config, use_tqdm=False)[0]
        texts = [self.tokenizer.decode(choice.token_ids, skip_special_tokens=False) for choice in response.choices]
        return sum(text.lstrip().startswith(THINK_OPEN) for text in texts)


def measure(policy: Policy, rows: Sequence[dict[str, Any]], system: str | None, samples: int | None = None,
            seed: int = 0) -> tuple[dict[str, float], dict[str, tuple[int, int]] | None]:
    """Per item id: the think propensity and, with ``samples``, (think replies, replies)."""
    import torch

    torch.manual_seed(seed)
    propensity, sampled = {}, ({} if samples else None)
    for number, row in enumerate(rows, 1):
        key = str(row["id"])
        propensity[key] = policy.think_probability(policy.encode(row, system))
        if samples:
            sampled[key] = (policy.sample_openings(row, system, samples), samples)
        if number % 50 == 0 or number == len(rows):
            print(f"{number}/{len(rows)} items", file=sys.stderr, flush=True)
    return propensity, sampled


def main(argv: list[str] | None = None) -> int:
    parser = cli_parser(
        "eval.think_propensity", __doc__, example=BENCHMARK_ROWS_EXAMPLE,
        reads="benchmark rows (--benchmark-file, ms-swift JSONL with an id: python -m data_prep.benchmarks or\n"
              "python -m mini.task writes them), their metadata (--meta, MMAU's format: items with id and\n"
              "difficulty, category, sub-category) and the system prompt (--system)",
        writes="--out: JSON with overall, by_difficulty (and by_category, by_sub_category where the metadata has\n"
               "them), each entry {propensity, ci, n} (+ sampled_think_rate, sampled_ci with --samples), and\n"
               "items (id -> probability of opening in think mode)")
    parser.add_argument("--model", required=True, help="checkpoint directory (base or merged)")
    parser.add_argument("--adapters", action="append", default=[], help="LoRA adapter directory (repeatable)")
    parser.add_argument("--model-type", help="ms-swift model_type (qwen2_audio, qwen2_5_omni) when it cannot be "
                                             "inferred")
    parser.add_argument("--benchmark-file", required=True, help="ms-swift JSONL rows with an 'id'")
    parser.add_argument("--meta", required=True, help="metadata JSON of the same items (difficulty, category)")
    parser.add_argument("--system", required=True,
                        help="system prompt file, e.g. swift_plugins/prompts/adaptive_think.txt")
    parser.add_argument("--out", required=True, help="output JSON file")
    parser.add_argument("--samples", type=int, metavar="K",
                        help="cross-check: also sample K replies per item at temperature 1")
    parser.add_argument("--limit", type=int, help="only the first N rows")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --samples draws")
    args = parser.parse_args(argv)

    if args.samples is not None and args.samples < 1:
        raise UsageError("must be at least 1", option="--samples")
    if args.limit is not None and args.limit < 1:
        raise UsageError("must be at least 1", option="--limit")
    system = read_text(args.system).strip()
    if not system:
        raise UsageError("empty system prompt", args.system)
    for adapter in args.adapters:
        if not Path(adapter).is_dir():
            raise UsageError("no such adapter directory", adapter)
    if not Path(args.model).is_dir():
        raise UsageError("no such checkpoint directory", option="--model")
    rows, bad_audio = check_benchmark(args.benchmark_file)
    if bad_audio:
        first = next(iter(bad_audio.items()))
        raise UsageError(f"{len(bad_audio)} row(s) have audio the model cannot hear (first: {first[0]}: "
                         f"{first[1]}); fix or remove them", args.benchmark_file)
    rows = rows[:args.limit] if args.limit else rows
    if not rows:
        raise UsageError("no rows", args.benchmark_file)
    meta = read_meta(args.meta, [str(r["id"]) for r in rows])
    if Path(args.out).is_dir():
        raise UsageError("is a directory, expected the output JSON file", args.out)

    policy = Policy(args.model, args.model_type, args.adapters)
    propensity, sampled = measure(policy, rows, system, args.samples, args.seed)
    result = report(propensity, meta, sampled)
    result["settings"] = {"model": args.model, "adapters": args.adapters, "model_type": args.model_type,
                          "benchmark_file": args.benchmark_file, "system_file": args.system,
                          "openings": [list(o) for o in policy.openings], "samples": args.samples,
                          "sample_tokens": SAMPLE_TOKENS if args.samples else None, "seed": args.seed}
    atomic_write_text(args.out, json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    overall = result["overall"]
    print(f"think propensity {overall['propensity']:.4f} (95 % CI {overall['ci']}, n={overall['n']}) -> {args.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(cli_run(main))
