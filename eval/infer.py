"""Run a checkpoint on a benchmark through ms-swift's Python inference API.

    python -m eval.infer --model PATH [--adapters PATH] --benchmark-file rows.jsonl \\
        --out preds.jsonl [--system swift_plugins/prompts/adaptive_think.txt] \\
        [--batch-size 8] [--max-new-tokens 1024] [--engine transformers|vllm]

Input: any ms-swift-format JSONL (``messages`` with ``<audio>`` in the user
text, ``audios``) whose rows have an ``id``; ``python -m data_prep.benchmarks``
writes such rows. Output: one JSONL row per item, the input row's fields plus
``output`` (the raw reply), ``mode`` (think / no_think) and ``infer`` (what
produced it).

Decisions:
- greedy decoding (temperature 0, repetition penalty 1.0), the advice of
  Qwen2.5-Omni's maintainers for evaluation; ``--temperature`` changes it;
- ``--system FILE`` replaces the rows' system message: evaluate with the same
  prompt family as training; assistant turns in the rows (SFT targets) are
  dropped so the model answers from scratch;
- resumable: ids already in ``--out`` are skipped; each row is appended,
  flushed and fsynced as soon as its batch is done, so a killed run loses at
  most one batch; a half-written last line (the kill landed mid-write) is cut
  off before appending. Rows that failed (e.g. unreadable audio) are written
  with ``output: null`` and an ``error``: they score as *missing*;
  ``--retry-errors`` runs them again;
- controls: ``--audio-control silence`` (each clip replaced by silence of the
  same length, written beside ``--out`` in ``<out>.silence/``) and
  ``--rotate-choices K`` (each item asked with its options rotated K ways,
  row ids ``<id>@rot<r>``); see ``eval/audio_control.py`` and
  ``eval/choice_order.py``;
- importing ``swift_plugins.compat`` (required: an import error stops the run) applies the Qwen2-Audio
  patch for ms-swift 4.6 + transformers 5.x before the model loads.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from audio_thinker.cli import UsageError
from audio_thinker.jsonl import dumps, read_journal, read_records, write_jsonl
from audio_thinker.tags import parse_completion

from .audio_control import AUDIO_CONTROLS, SILENCE, check_resume, with_silence
from .choice_order import rotate_rows


def load_done(out: Path, retry_errors: bool = False) -> set[str]:
    """Ids finished in a previous run; repairs a cut-off last line first."""
    rows = read_journal(out)  # a row cut short by a kill is cut off and redone
    if retry_errors and any(r.get("error") for r in rows):
        rows = [r for r in rows if not r.get("error")]
        write_jsonl(out, rows)
    return {str(r["id"]) for r in rows}


def build_request_messages(row: dict[str, Any], system: str | None) -> list[dict[str, Any]]:
    """The row's conversation up to the last user turn, with ``system`` set."""
    messages = [dict(m) for m in row["messages"]]
    while messages and messages[-1]["role"] == "assistant":
        messages.pop()  # an SFT target or a GRPO placeholder: the model must write it
    if system is not None:
        messages = [m for m in messages if m["role"] != "system"]
        messages.insert(0, {"role": "system", "content": system})
    return messages


def batched(rows: Sequence[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), max(size, 1)):
        yield list(rows[i:i + max(size, 1)])


class Runner:
    """Holds the engine; ``generate`` maps rows to raw replies (or errors)."""

    def __init__(self, model: str, adapters: list[str], engine: str, batch_size: int, model_type: str | None,
                 max_new_tokens: int, temperature: float):
        # The Qwen2-Audio fix (a no-op for other models). Never optional: without it ms-swift 4.6 on
        # transformers 5.x feeds Qwen2-Audio no audio and the scores measure a deaf model.
        import swift_plugins.compat  # noqa: F401
        from swift.infer_engine import RequestConfig

        self.batch_size = batch_size
        self.request_config = RequestConfig(max_tokens=max_new_tokens, temperature=temperature,
                                            repetition_penalty=1.0, seed=0)
        self.adapter_request = None
        if engine == "vllm":
            from swift.infer_engine import AdapterRequest, VllmEngine

            self.engine = VllmEngine(model, model_type=model_type, max_num_seqs=batch_size,
                                     enable_lora=bool(adapters), limit_mm_per_prompt={"audio": 1})
            if adapters:
                self.adapter_request = AdapterRequest("eval", adapters[0])
        else:
            from swift.infer_engine import TransformersEngine

            self.engine = TransformersEngine(model, adapters=adapters or None, model_type=model_type,
                                             max_batch_size=batch_size)

    def _infer(self, requests) -> list[tuple[str | None, str | None]]:
        kwargs = {"adapter_request": self.adapter_request} if self.adapter_request else {}
        responses = self.engine.infer(requests, self.request_config, use_tqdm=False, **kwargs)
        return [(r.choices[0].message.content, r.choices[0].finish_reason) for r in responses]

    def generate(self, rows: list[dict[str, Any]], system: str | None) -> list[dict[str, Any]]:
        from swift.infer_engine import InferRequest

        requests = [InferRequest(messages=build_request_messages(r, system), audios=list(r.get("audios") or []))
                    for r in rows]
        try:
            results = [{"output": text, "finish_reason": reason} for text, reason in self._infer(requests)]
        except Exception:  # noqa: BLE001 - find the row that failed, keep the others
            if len(rows) == 1:
                raise
            results = []
            for row, request in zip(rows, requests):
                try:
                    text, reason = self._infer([request])[0]
                    results.append({"output": text, "finish_reason": reason})
                except Exception as err:  # noqa: BLE001 - recorded, scored as missing
                    results.append({"output": None, "error": f"{type(err).__name__}: {err}"})
        return results


def run(rows: list[dict[str, Any]], out: Path, generate, system: str | None, batch_size: int,
        limit: int | None = None, retry_errors: bool = False, meta: dict[str, Any] | None = None) -> int:
    """Infer the rows not yet in ``out``; returns how many rows were written."""
    ids = [str(r.get("id")) for r in rows]
    if any(i == "None" for i in ids):
        raise ValueError("every input row needs an 'id'")
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate ids in the benchmark file")
    done = load_done(out, retry_errors)
    todo = [r for r in rows if str(r["id"]) not in done]
    if limit is not None:
        todo = todo[:limit]
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with out.open("a", encoding="utf-8") as f:
        for batch in batched(todo, batch_size):
            for row, result in zip(batch, generate(batch, system)):
                text = result.get("output")
                record = {**row, **result, "id": row["id"],
                          "mode": parse_completion(text).mode.value if text is not None else None,
                          "infer": meta or {}}
                f.write(dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
            written += len(batch)
            print(f"{len(done) + written}/{len(rows)} done", file=sys.stderr, flush=True)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.infer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="base or merged checkpoint directory")
    parser.add_argument("--adapters", action="append", default=[], help="LoRA adapter directory (repeatable)")
    parser.add_argument("--benchmark-file", required=True, help="ms-swift JSONL rows with an 'id'")
    parser.add_argument("--out", required=True, help="output JSONL (appended to; re-runs resume)")
    parser.add_argument("--system", help="system prompt file, e.g. swift_plugins/prompts/adaptive_think.txt")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=1024)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    parser.add_argument("--engine", choices=("transformers", "vllm"), default="transformers")
    parser.add_argument("--model-type", help="ms-swift model_type when it cannot be inferred")
    parser.add_argument("--limit", type=int, help="infer at most this many new items in this run")
    parser.add_argument("--retry-errors", action="store_true", help="redo rows that failed before")
    # Controls (eval/audio_control.py, eval/choice_order.py): write to their own --out.
    parser.add_argument("--audio-control", choices=AUDIO_CONTROLS,
                        help="silence: every clip replaced by digital silence of the same length")
    parser.add_argument("--rotate-choices", type=int, metavar="K",
                        help="ask each item K times, its options rotated by 0..K-1 places (gold unchanged)")
    args = parser.parse_args(argv)

    if args.engine == "vllm":
        try:
            import vllm  # noqa: F401
        except ImportError:
            parser.error("--engine vllm needs vllm installed (pip install '.[gpu]')")
    system = Path(args.system).read_text(encoding="utf-8").strip() if args.system else None
    rows = read_records(args.benchmark_file)
    try:
        check_resume(Path(args.out), args.audio_control)
        if args.rotate_choices is not None:
            rows = rotate_rows(rows, args.rotate_choices)
    except UsageError as err:
        parser.error(str(err))
    runner = Runner(args.model, args.adapters, args.engine, args.batch_size, args.model_type,
                    args.max_new_tokens, args.temperature)
    meta = {"model": args.model, "adapters": args.adapters, "system_file": args.system,
            "engine": args.engine, "temperature": args.temperature, "max_new_tokens": args.max_new_tokens}
    generate = runner.generate
    if args.audio_control == SILENCE:
        generate = with_silence(generate, Path(args.out + ".silence"))
    meta.update(audio_control=args.audio_control, rotate_choices=args.rotate_choices)
    written = run(rows, Path(args.out), generate, system, args.batch_size, args.limit,
                  args.retry_errors, meta)
    print(f"wrote {written} row(s) to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
