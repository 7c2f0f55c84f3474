"""CoT data for the SFT+CoT rows (paper 5.1.1, appendix A.2).

    python -m data_prep.cot --input data/avqa/train.jsonl --out-dir data/avqa_cot \\
        --caption-base-url http://127.0.0.1:8000/v1 --caption-model Qwen2-Audio-7B-Instruct \\
        --llm-base-url http://127.0.0.1:8001/v1 --llm-model Qwen2.5-72B-Instruct \\
        [--concurrency 8] [--timeout 120] [--retries 3] [--limit N]

Two steps per row of ``data_prep.avqa``'s ``train.jsonl``:

1. caption: the audio model (``swift deploy`` / vLLM serving
   Qwen2-Audio-7B-Instruct) gets the WAV as ``{"type": "audio_url",
   "audio_url": {"url": "data:audio/wav;base64,…"}}`` plus ``CAPTION_PROMPT``
   (OpenAI's ``input_audio`` type gives HTTP 500 on swift deploy); one caption
   per audio file, shared by the questions on that clip;
2. rationale: the text LLM gets the appendix A.2 prompt verbatim
   (``data_prep.cot_prompt.COT_PROMPT``) filled with caption, question (the
   user text without ``<audio>``) and gold answer.

A reply is written only when it is exactly
``<think><planning>…</planning><caption>…</caption><reasoning>…</reasoning>
<summary>…</summary></think><answer>…</answer>`` (whitespace between tags
allowed, every section non-empty, no nested tags), its answer names the gold
choice (``audio_thinker.matching.match_choice``, the benchmarks' token-set rule:
the written ``<answer>`` is the gold text itself, so the strict training rule
holds by construction and a stricter check would only discard good rationales),
and its think part does not quote the prompt's given answer or description
(``LEAK_PHRASES``). The written assistant text is the canonical form of that
reply, with no whitespace between tags and the gold choice text inside
``<answer>``; it parses as think mode under ``audio_thinker.tags``.

Outputs in ``--out-dir``: ``sft_cot.jsonl`` (the input row with ``messages``
= user + assistant, plus ``caption``), ``cot_rejects.jsonl`` (``index``,
``source_id``, ``reason`` from ``REJECT_REASONS``, ``message``, ``reply``),
``cot_summary.json``; written + rejected == input. Every reply is cached on
disk under ``cache/`` (captions by audio file, rationales by item id); a
re-run, after a kill or not, sends only the requests whose reply is not cached
(endpoint failures are not cached, so they are retried) and rebuilds the
outputs in input order.

Calls run concurrently under one bounded semaphore per endpoint, each with a
timeout and up to ``--retries`` retries (with backoff) on timeouts, connection
errors, HTTP 429 and 5xx; other HTTP errors fail the item at once.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import openai
from tqdm import tqdm

from audio_thinker.cli import UsageError, parser as cli_parser, read_text, run as cli_run
from audio_thinker.rows import TRAINING_ROWS_EXAMPLE
from audio_thinker.jsonl import BadLine, atomic_write_text, read_jsonl, write_json, write_jsonl
from audio_thinker.matching import match_choice
from audio_thinker.endpoints import connection_error, reply_text, tls_context
from audio_thinker.retry import AttemptFailed, with_retries
from audio_thinker.rows import question_of
from data_prep.cot_prompt import CAPTION_PROMPT, build_rationale_prompt

REJECT_REASONS = ("bad_row", "missing_audio", "caption_failed", "rationale_failed",
                  "bad_format", "wrong_answer", "answer_leak")
SECTIONS = ("planning", "caption", "reasoning", "summary")
_COT = re.compile(
    r"\s*<think>\s*<planning>(?P<planning>.*?)</planning>\s*<caption>(?P<caption>.*?)</caption>"
    r"\s*<reasoning>(?P<reasoning>.*?)</reasoning>\s*<summary>(?P<summary>.*?)</summary>\s*</think>"
    r"\s*<answer>(?P<answer>.*?)</answer>\s*", re.DOTALL)
_ANY_TAG = re.compile(r"</?(?:think|answer|planning|caption|reasoning|summary|response)>")
# Phrases that show the rationale leaning on the prompt's given answer/description.
LEAK_PHRASES = ("answer you can refer to", "the given answer", "the provided answer", "answer provided",
                "original description", "the description says", "according to the description")


class CotReject(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason, self.message = reason, message


def canonical_cot(reply: str, gold: str, choices: list[str] | None) -> str:
    """Check a rationale reply and return the assistant text to train on, or
    raise CotReject(bad_format | wrong_answer | answer_leak)."""
    m = _COT.fullmatch(reply or "")
    if m is None:
        raise CotReject("bad_format", "reply is not <think><planning>…</planning><caption>…</caption>"
                                      "<reasoning>…</reasoning><summary>…</summary></think><answer>…</answer>")
    parts = {k: m.group(k).strip() for k in (*SECTIONS, "answer")}
    for name, text in parts.items():
        if not text:
            raise CotReject("bad_format", f"empty <{name}>")
        if _ANY_TAG.search(text):
            raise CotReject("bad_format", f"a tag nested inside <{name}>")
    if not match_choice(parts["answer"], gold, choices).correct:
        raise CotReject("wrong_answer", f"answer {parts['answer']!r} does not name the gold {gold!r}")
    think = " ".join(parts[s] for s in SECTIONS).lower()
    leaked = [p for p in LEAK_PHRASES if p in think]
    if leaked:
        raise CotReject("answer_leak", f"think part cites the prompt: {leaked[0]!r}")
    inner = "".join(f"<{s}>{parts[s]}</{s}>" for s in SECTIONS)
    return f"<think>{inner}</think><answer>{gold}</answer>"


# ----------------------------------------------------------------------------- endpoint calls
@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str
    api_key: str = "EMPTY"
    max_tokens: int = 1024
    temperature: float = 0.0


class EndpointError(Exception):
    """An endpoint gave no usable reply within the retries; the item is rejected, never cached."""


def open_client(endpoint: Endpoint) -> openai.AsyncOpenAI:
    """The ``openai`` SDK's client of one endpoint, its own retries off: ``chat`` retries (one retry loop)."""
    return openai.AsyncOpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=0,
                              http_client=openai.DefaultAsyncHttpxClient(verify=tls_context()))


async def chat(client: openai.AsyncOpenAI, endpoint: Endpoint, messages: list[dict], sem: asyncio.Semaphore,
               timeout: float, retries: int) -> str:
    """One chat completion under the semaphore, with a timeout and bounded retries (the retry loop and
    policy of ``audio_thinker/retry.py``); an empty reply is tried again too."""
    attempts = 0

    async def attempt(_: int) -> str:
        nonlocal attempts
        attempts += 1
        async with sem:
            try:
                completion = await asyncio.wait_for(client.chat.completions.create(
                    model=endpoint.model, messages=messages, max_tokens=endpoint.max_tokens,
                    temperature=endpoint.temperature), timeout)
            except asyncio.TimeoutError:
                raise AttemptFailed(f"timeout after {timeout:g} s") from None
            except openai.APIStatusError as err:  # 429 and 5xx are tried again, another 4xx is not
                raise AttemptFailed(f"http {err.status_code}: {err.response.text[:300]}", err.status_code) from None
            except openai.APIError as err:  # refused, reset, dropped: the transport's own words
                raise AttemptFailed(connection_error(err)) from None
            except ValueError as err:  # a 2xx body that is not JSON
                raise AttemptFailed(f"unparsable body: {err}"[:300]) from None
        text = reply_text(completion)
        if text is None:
            raise AttemptFailed(f"not a chat completion: {str(completion)[:200]}")
        if not text.strip():
            raise AttemptFailed("empty reply")
        return text

    try:
        return await with_retries(attempt, retries)
    except AttemptFailed as err:
        raise EndpointError(f"{err} (after {attempts} attempt(s))") from None


class Cache:
    """One JSON file per key under ``root``; written atomically."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / f"{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}.json"

    def get(self, key: str) -> str | None:
        path = self._path(key)
        if not path.exists():
            return None
        return json.loads(path.read_text(encoding="utf-8"))["reply"]

    def put(self, key: str, reply: str) -> None:
        atomic_write_text(self._path(key), json.dumps({"key": key, "reply": reply}, ensure_ascii=False))


def audio_message(wav: Path) -> list[dict]:
    data = base64.b64encode(Path(wav).read_bytes()).decode("ascii")
    return [{"role": "user", "content": [
        {"type": "audio_url", "audio_url": {"url": f"data:audio/wav;base64,{data}"}},
        {"type": "text", "text": CAPTION_PROMPT}]}]


@dataclass
class Settings:
    caption: Endpoint
    llm: Endpoint
    concurrency: int = 8
    timeout: float = 120.0
    retries: int = 3

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.retries < 0 or self.timeout <= 0:
            raise ValueError("concurrency >= 1, retries >= 0 and timeout > 0 are required")


async def _generate(rows: list[dict], out_dir: Path, settings: Settings, progress: bool) -> list[dict]:
    cap_cache, cot_cache = Cache(out_dir / "cache" / "captions"), Cache(out_dir / "cache" / "rationales")
    clients = {"caption": open_client(settings.caption), "llm": open_client(settings.llm)}
    sems = {"caption": asyncio.Semaphore(settings.concurrency), "llm": asyncio.Semaphore(settings.concurrency)}
    caption_tasks: dict[str, asyncio.Task] = {}

    async def caption_for(wav: Path) -> str:
        key = f"{settings.caption.model}|{CAPTION_PROMPT}|{wav.resolve()}"
        cached = cap_cache.get(key)
        if cached is not None:
            return cached
        reply = await chat(clients["caption"], settings.caption, audio_message(wav), sems["caption"],
                           settings.timeout, settings.retries)
        cap_cache.put(key, reply)
        return reply

    async def one(index: int, row: dict) -> dict:
        base = {"index": index, "source_id": row.get("source_id") if isinstance(row, dict) else None}
        try:
            gold, choices, wav = row["solution"], row.get("choices"), Path(row["audios"][0])
            question = question_of(row.get("messages"))
        except (KeyError, IndexError, TypeError, StopIteration, AttributeError) as exc:
            return {**base, "reason": "bad_row", "message": f"row lacks messages/audios/solution: {exc!r}"}
        if not wav.is_file():
            return {**base, "reason": "missing_audio", "message": f"no audio file {wav}"}
        akey = str(wav.resolve())
        if akey not in caption_tasks:
            caption_tasks[akey] = asyncio.ensure_future(caption_for(wav))
        try:
            caption = (await caption_tasks[akey]).strip()
        except EndpointError as exc:
            return {**base, "reason": "caption_failed", "message": str(exc)}
        prompt = build_rationale_prompt(caption, question, gold)
        key = f"{settings.llm.model}|{row.get('source_id')}|{hashlib.sha256(prompt.encode()).hexdigest()}"
        reply = cot_cache.get(key)
        if reply is None:
            try:
                reply = await chat(clients["llm"], settings.llm, [{"role": "user", "content": prompt}],
                                   sems["llm"], settings.timeout, settings.retries)
            except EndpointError as exc:
                return {**base, "reason": "rationale_failed", "message": str(exc)}
            cot_cache.put(key, reply)
        try:
            assistant = canonical_cot(reply, gold, choices)
        except CotReject as exc:
            return {**base, "reason": exc.reason, "message": exc.message, "reply": reply[:4000]}
        user = next(m for m in row["messages"] if m["role"] == "user")
        return {**base, "row": {**row, "messages": [user, {"role": "assistant", "content": assistant}],
                                "caption": caption}}

    async def tracked(index: int, row: dict, bar: tqdm) -> dict:
        try:
            return await one(index, row)
        finally:
            bar.update(1)

    try:
        with tqdm(total=len(rows), disable=not progress, desc="cot", unit="item") as bar:
            return list(await asyncio.gather(*(tracked(i, r, bar) for i, r in enumerate(rows))))
    finally:
        for client in clients.values():
            await client.close()


def run(input_path: Path, out_dir: Path, settings: Settings, limit: int | None = None,
        progress: bool = True) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bad: list[BadLine] = []
    rows = read_jsonl(input_path, bad_lines=bad)
    for line in reversed(bad):  # kept in place, so that reject indices are input positions
        rows.insert(line.index, {"_unparsable": f"line {line.line}: {line.reason}"})
    rows = rows[:limit] if limit else rows
    results = asyncio.run(_generate(rows, out_dir, settings, progress))
    kept = [r["row"] for r in results if "row" in r]
    rejects = [r for r in results if "row" not in r]
    if len(kept) + len(rejects) != len(rows):
        raise RuntimeError("accounting error: written + rejected != input")
    write_jsonl(out_dir / "sft_cot.jsonl", kept)
    write_jsonl(out_dir / "cot_rejects.jsonl", rejects)
    counts = Counter(r["reason"] for r in rejects)
    summary = {"input": len(rows), "written": len(kept),
               "rejected": {k: counts.get(k, 0) for k in REJECT_REASONS}, "rejected_total": len(rejects)}
    write_json(out_dir / "cot_summary.json", summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    p = cli_parser("data_prep.cot", __doc__, example=TRAINING_ROWS_EXAMPLE,
                   reads="training rows (--input, JSONL: data_prep.avqa's train.jsonl) and two OpenAI-compatible\n"
                         "endpoints: an audio model that captions each clip, a text LLM that writes the rationale",
                   writes="in --out-dir: sft_cot.jsonl (each row with user + assistant CoT turn and its caption),\n"
                          "cot_rejects.jsonl (index, source_id, reason, message, reply), cot_summary.json (written +\n"
                          "rejected = input) and cache/ (every reply, so a re-run resumes)")
    p.add_argument("--input", type=Path, required=True, help="train.jsonl from data_prep.avqa")
    p.add_argument("--out-dir", type=Path, required=True,
                   help="folder for sft_cot.jsonl, cot_rejects.jsonl, cot_summary.json and the reply cache")
    p.add_argument("--caption-base-url", required=True, help="OpenAI-compatible base URL (…/v1) of the audio model")
    p.add_argument("--caption-model", required=True, help="served name of the audio model")
    p.add_argument("--llm-base-url", required=True, help="OpenAI-compatible base URL (…/v1) of the text LLM")
    p.add_argument("--llm-model", required=True, help="served name of the text LLM")
    p.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY", "EMPTY"),
                   help="bearer token for both endpoints (default: $OPENAI_API_KEY or EMPTY)")
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight per endpoint")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    p.add_argument("--retries", type=int, default=3, help="retries on timeouts, connection errors, 429, 5xx")
    p.add_argument("--caption-max-tokens", type=int, default=512, help="reply budget of a caption")
    p.add_argument("--max-tokens", type=int, default=1024, help="reply budget of a rationale")
    p.add_argument("--temperature", type=float, default=0.0, help="sampling temperature of both endpoints")
    p.add_argument("--limit", type=int, default=None, help="only the first N rows")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    read_text(args.input)  # missing, a directory, not UTF-8: one line, before any request
    if args.out_dir.exists() and not args.out_dir.is_dir():
        raise UsageError("exists and is not a directory", option="--out-dir")
    for option, base_url in (("--caption-base-url", args.caption_base_url), ("--llm-base-url", args.llm_base_url)):
        url = urlparse(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise UsageError(f"not an http(s) base URL: {base_url!r} (e.g. http://127.0.0.1:8000/v1)", option=option)
    try:
        settings = Settings(
            caption=Endpoint(args.caption_base_url, args.caption_model, args.api_key, args.caption_max_tokens,
                             args.temperature),
            llm=Endpoint(args.llm_base_url, args.llm_model, args.api_key, args.max_tokens, args.temperature),
            concurrency=args.concurrency, timeout=args.timeout, retries=args.retries)
    except ValueError as exc:
        raise UsageError(str(exc), option="--concurrency / --retries / --timeout") from None
    summary = run(args.input, args.out_dir, settings, limit=args.limit, progress=not args.no_progress)
    print(json.dumps(summary))
    failed = summary["rejected"]["caption_failed"] + summary["rejected"]["rationale_failed"]
    if summary["written"] == 0 and failed:
        # Nothing to train on because the endpoints did not answer: not a success, whatever was cached.
        first = next((r["message"] for r in read_jsonl(args.out_dir / "cot_rejects.jsonl")
                      if r["reason"] in ("caption_failed", "rationale_failed")), "")
        print(f"error: nothing generated: {failed} of {summary['input']} item(s) failed at an endpoint "
              f"(first: {first}); are --caption-base-url {args.caption_base_url} and --llm-base-url "
              f"{args.llm_base_url} up? Re-run the same command to resume", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(cli_run(main))
