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
  off before appending. Rows that failed (e.g. unreadable audio), in a batch
  of any size, are written with ``output: null`` and an ``error`` naming the
  clip: they score as *missing*, a re-run skips them, ``--retry-errors`` runs
  them again;
- inputs are checked before the model loads: the ``--system`` file, the
  benchmark file (the pre-flight check of ``audio_thinker.row_checks``: ids
  present and unique, columns, one clip per ``<audio>`` tag, every clip found;
  a row whose clip is missing, is a truncated WAV or is shorter than the
  encoder needs (0.2 s, ``audio_thinker.clips``) becomes an error row without
  reaching the model, whatever the batch size; a clip longer than the model's
  audio window is named in a warning), and ``--out``: a file
  that is not this command's output is never appended to or cut, and rows made
  with other settings (model, adapters, prompt, engine, generation settings;
  each row records them under ``infer``) are never mixed into one file;
- controls: ``--audio-control silence`` (each clip replaced by silence of the
  same length, written beside ``--out`` in ``<out>.silence/``) and
  ``--rotate-choices K`` (each item asked with its options rotated K ways,
  row ids ``<id>@rot<r>``); see ``eval/audio_control.py`` and
  ``eval/choice_order.py``;
- without ``--system``, a model whose ``args.json`` (``--adapters``, else ``--model``, or their run
  folder) records a training system prompt gets a warning: it is then evaluated without the prompt it
  learned with (``eval.sweep`` passes it from there);
- importing ``swift_plugins.compat`` (required: an import error stops the run) applies the Qwen2-Audio
  patch for ms-swift 4.6 + transformers 5.x before the model loads.
"""
from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from audio_thinker.cli import UsageError, parser as cli_parser, read_text, run as cli_run
from audio_thinker.rows import BENCHMARK_ROWS_EXAMPLE
from audio_thinker.jsonl import BadLine, cut_torn_tail, dumps, parse_jsonl, where, write_jsonl
from audio_thinker.clips import audio_window
from audio_thinker import model_source
from audio_thinker.row_checks import Limits, check_rows, wav_headers
from audio_thinker.tags import parse_completion

from .audio_control import AUDIO_CONTROLS, SILENCE, with_silence
from .choice_order import rotate_rows
from .run_args import training_system

# Settings that change what the model writes; rows made with different ones are never mixed in one --out.
SETTING_KEYS = ("model", "adapters", "system_file", "system_sha256", "engine", "model_type", "temperature",
                "max_new_tokens", "audio_control", "rotate_choices")


def read_out(out: Path) -> list[dict[str, Any]]:
    """Rows of an existing ``--out``, or a :class:`UsageError` when it is not this command's output
    (nothing in it is changed then). A last line without its newline is the row a killed run was
    writing, and is ignored (it is redone)."""
    if not out.exists():
        return []
    if out.is_dir():
        raise UsageError("is a directory, expected the output JSONL file", out)
    text = read_text(out)
    lines = text.split("\n")
    torn = lines[-1].strip()
    if torn and not torn.startswith("{"):  # a JSON list or other file on one line: not ours
        raise UsageError("not an eval.infer output (its last line is not a row); refusing to append to it", out, len(lines))
    bad: list[BadLine] = []
    rows = parse_jsonl(text, out, bad_lines=bad, torn_tail=True)
    if bad:
        raise UsageError(f"not an eval.infer output ({bad[0].reason}); refusing to append to it", out, bad[0].line)
    for index, row in enumerate(rows):
        if "id" not in row or "infer" not in row:
            raise UsageError("not an eval.infer output (a row without 'id' and 'infer'); refusing to append to it",
                             out, where(rows, index))
    return rows


def check_settings(out: Path, rows: list[dict[str, Any]], settings: dict[str, Any]) -> None:
    """Refuse to add rows made with ``settings`` to a file holding rows made with other ones."""
    for row in rows:
        before = row.get("infer") or {}
        differs = [k for k in SETTING_KEYS if before.get(k) != settings.get(k)]
        if differs:
            what = "; ".join(f"{k}: {before.get(k)!r} there, {settings.get(k)!r} now" for k in differs[:3])
            raise UsageError(f"holds rows made with other settings ({what}); write to another --out, "
                             "or delete this file to start over", out)


def load_done(out: Path, retry_errors: bool = False, settings: dict[str, Any] | None = None) -> set[str]:
    """Ids finished in a previous run (checked first, see :func:`read_out`); cuts off a row a killed run
    left half-written, and with ``retry_errors`` drops the error rows so that they are redone."""
    rows = read_out(out)
    if settings is not None:
        check_settings(out, rows, settings)
    cut_torn_tail(out)  # the row a killed run was writing: redone
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
            return [{"output": text, "finish_reason": reason} for text, reason in self._infer(requests)]
        except Exception as err:  # noqa: BLE001 - find the row that failed, keep the others
            if len(rows) == 1:  # that row is the one: an error row, so a resume moves past it
                return [error_result(err)]
        results = []
        for request in requests:
            try:
                text, reason = self._infer([request])[0]
                results.append({"output": text, "finish_reason": reason})
            except Exception as err:  # noqa: BLE001 - recorded, scored as missing
                results.append(error_result(err))
        return results


def error_result(err: BaseException) -> dict[str, Any]:
    """An item's result when inference failed; the message names the clip for audio that does not load
    (``swift_plugins.compat.audio_errors``)."""
    return {"output": None, "error": f"{type(err).__name__}: {' '.join(str(err).split())}"}


def run(rows: list[dict[str, Any]], out: Path, generate, system: str | None, batch_size: int,
        limit: int | None = None, retry_errors: bool = False, meta: dict[str, Any] | None = None,
        bad_audio: dict[str, str] | None = None, failed: list[str] | None = None) -> int:
    """Infer the rows not yet in ``out``; returns how many rows were written. ``bad_audio`` maps the id
    of a row whose clip failed the pre-flight check to the reason: it is written as an error row
    without reaching the model. ``failed`` collects ``"id: error"`` for every error row written."""
    ids = [str(r.get("id")) for r in rows]
    if any(i == "None" for i in ids):
        raise UsageError("every input row needs an 'id'")
    if len(set(ids)) != len(ids):
        raise UsageError("duplicate ids in the benchmark file")
    done = load_done(out, retry_errors, meta)
    todo = [r for r in rows if str(r["id"]) not in done]
    if limit is not None:
        todo = todo[:limit]
    bad_audio = bad_audio or {}
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0

    def results_of(batch):
        to_model = [r for r in batch if str(r["id"]) not in bad_audio]
        made = iter(generate(to_model, system) if to_model else [])
        return [{"output": None, "error": f"pre-flight: {bad_audio[str(r['id'])]}"} if str(r["id"]) in bad_audio
                else next(made) for r in batch]

    with out.open("a", encoding="utf-8") as f:
        for batch in batched(todo, batch_size):
            for row, result in zip(batch, results_of(batch)):
                text = result.get("output")
                record = {**row, **result, "id": row["id"],
                          "mode": parse_completion(text).mode.value if text is not None else None,
                          "infer": meta or {}}
                f.write(dumps(record) + "\n")
                if failed is not None and result.get("error"):
                    failed.append(f"{row['id']}: {result['error']}")
            f.flush()
            os.fsync(f.fileno())
            written += len(batch)
            print(f"{len(done) + written}/{len(rows)} done", file=sys.stderr, flush=True)
    return written


def check_benchmark(path: str, limits: Limits = Limits(too_long="warn")
                    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The benchmark rows and, by id, the clip problems of rows whose audio the model cannot hear (missing,
    a truncated WAV, shorter than ``limits.min_seconds``); any other problem (a bad line, no id, a repeated
    id, a missing column, tags and clips that do not pair) is a :class:`UsageError`. A clip longer than
    the window is a warning (evaluation keeps such items: the benchmarks are scored as published)."""
    # Each clip must exist and a WAV must be whole and long enough; a clip of another format that fails
    # is named by the engine (swift_plugins.compat.audio_errors), an error row in a batch of any size.
    report = check_rows(path, "eval", wav_headers, limits)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    rows = [row for _, _, row in report.rows]
    by_line = {line: row for line, _, row in report.rows}
    structural = [p for p in report.problems if not _is_audio_problem(p.what, by_line.get(p.line))]
    if structural:
        first = structural[0]
        more = (f" (and {len(structural) - 1} more; python -m data_prep.preflight {path} --kind eval lists them)"
                if len(structural) > 1 else "")
        raise UsageError(first.what + more, path, first.line)
    bad_audio = {}
    for problem in report.problems:
        key = str(by_line[problem.line]["id"])
        bad_audio[key] = f"{bad_audio[key]}; {problem.what}" if key in bad_audio else problem.what
        print(f"warning: {problem} (written as an error row)", file=sys.stderr)
    return rows, bad_audio


def _is_audio_problem(what: str, row: dict[str, Any] | None) -> bool:
    return row is not None and any(what.startswith(f"{a.strip()}: ") for a in row.get("audios") or []
                                   if isinstance(a, str))


def warn_untrained_system(rows: list[dict[str, Any]], folders: list[str]) -> None:
    """A warning when the model learned with a system prompt (its ``args.json``) that neither ``--system``
    nor the rows give: its scores would measure it under a prompt it was not trained with."""
    trained = training_system(folders)
    if trained is None or any(m.get("role") == "system" for r in rows for m in r.get("messages") or []
                              if isinstance(m, dict)):
        return
    print(f"warning: the model was trained with a system prompt ({trained[1]}) and none is given: it is "
          "evaluated without it; pass --system FILE with that prompt (eval.sweep does so from args.json)",
          file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = cli_parser("eval.infer", __doc__, example=BENCHMARK_ROWS_EXAMPLE,
                        reads="benchmark rows (--benchmark-file, JSONL in ms-swift's format, each with an id:\n"
                              "python -m data_prep.benchmarks writes them) and a checkpoint (--model, --adapters)",
                        writes="--out: prediction rows (JSONL, one per item): the input row plus output (the raw reply),\n"
                               "mode (think / no_think) and infer (the settings); a row that failed has output null and an\n"
                               "error. --audio-control silence also writes the silent clips to <out>.silence/")
    parser.add_argument("--model", required=True, help="base or merged checkpoint directory (or a hub id)")
    parser.add_argument("--adapters", action="append", default=[], help="LoRA adapter directory (repeatable)")
    parser.add_argument("--benchmark-file", required=True,
                        help="ms-swift JSONL rows with an 'id' (python -m data_prep.benchmarks writes them)")
    parser.add_argument("--out", required=True, help="output JSONL (appended to; re-runs resume)")
    parser.add_argument("--system", help="system prompt file, e.g. swift_plugins/prompts/adaptive_think.txt; "
                                         "default: the rows' own system message, if any")
    parser.add_argument("--batch-size", type=int, default=8, help="rows per engine call")
    parser.add_argument("--max-new-tokens", type=int, default=1024, help="reply budget in tokens")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    parser.add_argument("--engine", choices=("transformers", "vllm"), default="transformers",
                        help="ms-swift inference engine")
    parser.add_argument("--model-type", help="ms-swift model_type (qwen2_audio, qwen2_5_omni) when it cannot "
                                             "be inferred")
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
            raise UsageError("needs vllm installed (pip install '.[gpu]')", option="--engine vllm") from None
    if args.batch_size < 1:
        raise UsageError("must be at least 1", option="--batch-size")
    # Every input is checked here, before the model loads (minutes for a 7B model).
    system = read_text(args.system).strip() if args.system else None
    for adapter in args.adapters:
        if not Path(adapter).is_dir():
            raise UsageError("no such adapter directory", adapter)
    unloadable = model_source.problem(args.model)
    if unloadable:
        raise UsageError(f"{args.model}: {unloadable}", option="--model")
    window = audio_window(args.model) if Path(args.model).is_dir() else None
    limits = Limits(max_seconds=window[0] if window else None, too_long="warn",
                    window_from=str(window[1]) if window else "")
    rows, bad_audio = check_benchmark(args.benchmark_file, limits)
    if system is None:
        warn_untrained_system(rows, [*args.adapters, args.model])
    out = Path(args.out)
    done_rows = read_out(out)  # a file that is not this command's output is refused before anything reads it
    if args.rotate_choices is not None:
        rows = rotate_rows(rows, args.rotate_choices)  # ids become <id>@rot<r>
        bad_audio = {str(r["id"]): bad_audio[str(r["id"]).rsplit("@rot", 1)[0]] for r in rows
                     if str(r["id"]).rsplit("@rot", 1)[0] in bad_audio}
    meta = {"model": args.model, "adapters": args.adapters, "system_file": args.system,
            "system_sha256": hashlib.sha256(system.encode("utf-8")).hexdigest()[:16] if system else None,
            "engine": args.engine, "model_type": args.model_type, "temperature": args.temperature,
            "max_new_tokens": args.max_new_tokens, "audio_control": args.audio_control,
            "rotate_choices": args.rotate_choices}
    check_settings(out, done_rows, meta)
    runner = Runner(args.model, args.adapters, args.engine, args.batch_size, args.model_type,
                    args.max_new_tokens, args.temperature)
    generate = runner.generate
    if args.audio_control == SILENCE:
        generate = with_silence(generate, Path(args.out + ".silence"))
    failed: list[str] = []
    written = run(rows, out, generate, system, args.batch_size, args.limit,
                  args.retry_errors, meta, bad_audio, failed)
    print(f"wrote {written} row(s) to {args.out}", file=sys.stderr)
    if failed:
        print(f"warning: {len(failed)} of them failed and score as missing (first: {failed[0]}); "
              "--retry-errors redoes them", file=sys.stderr)
    if written and len(failed) == written:  # nothing was produced: a broken setup, not a few bad clips
        print(f"error: every row of this run failed (first: {failed[0]})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(cli_run(main))
