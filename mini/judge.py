"""A deterministic judge for the mini task (docs/mini-experiment.md, "The task judge"), served behind the
same OpenAI-compatible interface as Qwen3-8B-Base, so that R_c (Eq. 6) and R_t (docs/rewards.md §5) of
the mini table go through the project's own judge client, prompts, parsing, concurrency and failure
handling unchanged.

    python -m mini.judge --port 18010 [--host 127.0.0.1] [--served-model-name judge]

It answers the two prompts of ``swift_plugins/judge/prompts.py``: the system message says which (it
asks for ``verdict-CODE`` or ``score-CODE``), the *last* user message opens with the request's data block
(``<<data-NONCE>>`` … ``<</data-NONCE>>``: Question, Reasoning and, for consistency, Final answer; then
the reply line), and it replies ``verdict-NONCE: 0|1`` or ``score-NONCE: x``. The worked examples before
it are ignored, as is everything outside that block.

It cannot hear. It judges the *structure and logic* of the reasoning against the task's grammar
(``mini.task``: one perception sentence per event, then one conclusion sentence), never whether
a stated perception is true of the audio:

- **consistency** (1 or 0): 1 iff the reasoning states every event the question implies exactly once
  (no event missing, none out of range, none given two different values), states exactly one conclusion,
  that conclusion names one option, the task's rule applied to the *stated* perceptions picks that same
  option, and the final answer is that option. Sentences outside the grammar (e.g. a fake verdict) do not
  change it: consistency is about whether the conclusion follows and is what was answered.
- **quality** (0.0 … 1.0 in steps of 0.1) = round(0.4·coverage + 0.4·follows + 0.2·clean, 1), where
  coverage is the share of the implied events stated with one value, follows is 1 when exactly one
  conclusion is stated and equals the rule applied to complete, non-contradictory perceptions, and clean is
  1 − 0.5 per fault (floor 0), a fault being a repeated sentence, an event stated with a second, different
  value, an event the question does not imply, a second conclusion, or a sentence outside the grammar.

A question that is not a mini-task question (the judge check's dog/cat/car example) gets 0 on both: the
judge can say nothing about reasoning outside its task.
"""
from __future__ import annotations

import ast
import json
import re
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from audio_thinker.cli import UsageError, parser as cli_parser, run as cli_run
from audio_thinker.matching import strict_match
from mini import task as mini_task

SERVED_NAME = "judge"  # the name recipes/judge.sh serves every backend under
_KIND = re.compile(r"(verdict|score)-CODE:")
_OPENING = re.compile(r"<<data-([0-9a-f]+)>>\n")


# --- the task, read from the question and the reasoning --------------------------------------------------

# A think trace is sentences of two shapes (mini.task.render_thought): one step per tone, then
# the conclusion. mini_task.parse_thought accepts only a trace that is exactly right; the judge must also
# read one that is not (a step missing, repeated or contradicted, a sentence of something else) to grade
# it, so it reads sentence by sentence. tests/mini/test_judge.py checks that the two readers
# agree on every trace render_thought writes.
_STEP_SENTENCE = re.compile(rf"^Tone (\d+): ({'|'.join(mini_task.LEVELS)})\.$")
_CONCLUSION_SENTENCE = re.compile(r"^So the answer is ([^.<>]+)\.$")
_SENTENCE_END = re.compile(r"(?<=\.)\s+")
_OPTIONS = re.compile(r" Please choose the answer from the following options: (\[.*\])\.$", re.DOTALL)


@dataclass(frozen=True)
class Task:
    """One question: its kind (tones, rule) and the options its user text lists, in order."""

    kind: mini_task.Kind
    choices: list[str]

    @property
    def events(self) -> int:
        return self.kind.tones


@dataclass(frozen=True)
class Sentences:
    """A reasoning split into sentences, by shape."""

    sentences: list[str]
    steps: list[tuple[int, str]]  # (tone number, level word)
    conclusions: list[str]
    other: list[str]


def parse_question(question: str) -> Task | None:
    """The task a user turn (audio_thinker.rows.build_user_text) asks; None for any other question."""
    kind = mini_task.kind_of_question(question)
    options = _OPTIONS.search(question)
    if kind is None or options is None:
        return None
    try:
        choices = ast.literal_eval(options.group(1))
    except (ValueError, SyntaxError):
        return None
    return Task(kind, [str(c) for c in choices]) if isinstance(choices, list) else None


def split_reasoning(reasoning: str) -> Sentences:
    sentences = [s for s in _SENTENCE_END.split(reasoning.strip()) if s]
    steps, conclusions, other = [], [], []
    for sentence in sentences:
        if step := _STEP_SENTENCE.match(sentence):
            steps.append((int(step.group(1)), step.group(2)))
        elif conclusion := _CONCLUSION_SENTENCE.match(sentence):
            conclusions.append(conclusion.group(1).strip())
        else:
            other.append(sentence)
    return Sentences(sentences, steps, conclusions, other)


# --- the decisions ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reading:
    """What the judge reads from one reasoning, against the question's task."""

    coverage: float  # share of the implied events stated with exactly one value
    rule_pick: int | None  # option the task's rule picks from the stated perceptions; None if it cannot apply
    conclusion_pick: int | None  # option the one stated conclusion names; None if not exactly one / no option
    faults: int  # repeated sentences, contradictions, out-of-range events, extra conclusions, foreign text

    @property
    def follows(self) -> bool:
        return self.rule_pick is not None and self.rule_pick == self.conclusion_pick


def picked_option(text: str | None, choices: Sequence[str]) -> int | None:
    """The one option ``text`` names under the training rule (audio_thinker.matching.strict_match)."""
    if not text:
        return None
    named = [i for i, choice in enumerate(choices) if strict_match(text, choice, choices).correct]
    return named[0] if len(named) == 1 else None


def read(question: str, reasoning: str) -> Reading | None:
    """The judge's reading of ``reasoning``; None when ``question`` is not a mini-task question."""
    task = parse_question(question)
    if task is None:
        return None
    trace = split_reasoning(reasoning)
    values: dict[int, str] = {}
    faults = len(trace.other)  # every sentence outside the grammar
    seen: set[str] = set()
    for sentence in trace.sentences:
        if sentence in seen:  # the same step stated twice
            faults += 1
        seen.add(sentence)
    conflicting: set[int] = set()
    out_of_range = False
    for index, value in trace.steps:
        if not 1 <= index <= task.events:
            faults += 1
            out_of_range = True
        elif index in values and values[index] != value:
            faults += 1
            conflicting.add(index)
        else:
            values.setdefault(index, value)
    for index in conflicting:
        values.pop(index, None)
    complete = len(values) == task.events and not conflicting and not out_of_range
    rule_pick = picked_option(task.kind.answer([values[i] for i in range(1, task.events + 1)]),
                              task.choices) if complete else None
    faults += max(0, len(trace.conclusions) - 1)
    conclusion_pick = picked_option(trace.conclusions[0], task.choices) if len(trace.conclusions) == 1 else None
    return Reading(len(values) / task.events, rule_pick, conclusion_pick, faults)


def consistency_verdict(question: str, reasoning: str, answer: str) -> int:
    """1 when the conclusion recomputed from the stated perceptions is the stated one and the final answer."""
    reading = read(question, reasoning)
    if reading is None or not reading.follows:
        return 0
    task = parse_question(question)
    return int(picked_option(answer, task.choices) == reading.conclusion_pick)


def quality_score(question: str, reasoning: str) -> float:
    """0.4·coverage + 0.4·follows + 0.2·clean, on the 0.1 grid (module docstring)."""
    reading = read(question, reasoning)
    if reading is None:
        return 0.0
    clean = max(0.0, 1.0 - 0.5 * reading.faults)
    return round(0.4 * reading.coverage + 0.4 * reading.follows + 0.2 * clean, 1)


# --- the protocol ---------------------------------------------------------------------------------------

class NotAJudgePrompt(ValueError):
    """A chat request that is not one of the project's two judge prompts."""


def _fields(block: str, names: Sequence[str]) -> dict[str, str]:
    """Split ``Question: …\\nReasoning: …[\\nFinal answer: …]`` (prompts._data_block). The reasoning is
    untrusted and may hold newlines and fake field names: the question ends at the first ``\\nReasoning: ``,
    the final answer starts at the last ``\\nFinal answer: ``."""
    if not block.startswith(names[0] + ": "):
        raise NotAJudgePrompt(f"data block does not start with {names[0]!r}")
    rest = block[len(names[0]) + 2:]
    out = {}
    for current, following in zip(names, names[1:]):
        marker = f"\n{following}: "
        cut = rest.find(marker) if current == names[0] else rest.rfind(marker)
        if cut < 0:
            raise NotAJudgePrompt(f"data block has no {following!r} field")
        out[current], rest = rest[:cut], rest[cut + len(marker):]
    out[names[-1]] = rest
    return out


def reply_to(messages: list[dict]) -> str:
    """The judge's one-line reply to a consistency or quality prompt."""
    if not messages or messages[0].get("role") != "system":
        raise NotAJudgePrompt("no system message")
    found = _KIND.search(str(messages[0].get("content", "")))
    if found is None:
        raise NotAJudgePrompt("the system message asks for neither verdict-CODE nor score-CODE")
    kind = found.group(1)
    last = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    content = str((last or {}).get("content", ""))
    opening = _OPENING.match(content)
    if opening is None:
        raise NotAJudgePrompt("the last user message does not open with a data block")
    nonce = opening.group(1)
    end = content.rfind(f"\n<</data-{nonce}>>")  # the last one: the reply line follows it, not the data
    if end < 0:
        raise NotAJudgePrompt("the last user message's data block is not closed")
    block = content[opening.end():end]
    if kind == "verdict":
        f = _fields(block, ("Question", "Reasoning", "Final answer"))
        return f"verdict-{nonce}: {consistency_verdict(f['Question'], f['Reasoning'], f['Final answer'])}"
    f = _fields(block, ("Question", "Reasoning"))
    return f"score-{nonce}: {quality_score(f['Question'], f['Reasoning']):.1f}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the client opens up to AUDIO_THINKER_JUDGE_CONCURRENCY connections at once


def make_server(host: str, port: int, served_name: str = SERVED_NAME) -> ThreadingHTTPServer:
    """An HTTP server answering ``GET /v1/models`` and ``POST /v1/chat/completions``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # one line per request would flood judge.log during training
            pass

        def _send(self, code: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, code: int, message: str) -> None:
            self._send(code, {"error": {"message": message, "code": code}})

        def do_GET(self):
            if self.path.rstrip("/") != "/v1/models":
                return self._error(404, f"no route {self.path}")
            self._send(200, {"object": "list", "data": [{"id": served_name, "object": "model",
                                                         "owned_by": "mini.judge"}]})

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._error(404, f"no route {self.path}")
            try:
                request = json.loads(raw or b"{}")
                if request.get("model") != served_name:
                    return self._error(404, f"model {request.get('model')!r} is not served (only {served_name!r})")
                content = reply_to(request.get("messages") or [])
            except (ValueError, AttributeError, TypeError) as err:  # bad JSON, not a judge prompt
                return self._error(400, str(err))
            self._send(200, {"id": "chatcmpl-mini-judge", "object": "chat.completion", "created": int(time.time()),
                             "model": served_name,
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": content}}],
                             "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}})

    return _Server((host, port), Handler)


def start_in_thread(host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A running server on a background thread (``server.server_address`` has the port; ``shutdown()``)."""
    server = make_server(host, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: Sequence[str] | None = None) -> int:
    cli = cli_parser("mini.judge", __doc__,
                     reads="OpenAI chat-completion requests (POST /v1/chat/completions) built by the project's judge\n"
                           "client from swift_plugins/judge/prompts.py; the last user message holds the data block",
                     example=("<<data-NONCE>>\nQuestion: Is the second tone higher or lower than the first?\n"
                              "Reasoning: Tone 1: low. Tone 2: shrill. So the answer is higher.\n"
                              "Final answer: higher\n<</data-NONCE>>"),
                     writes="chat-completion replies (verdict-NONCE: 0|1 or score-NONCE: x) on --host:--port until\n"
                            "stopped; GET /v1/models lists --served-model-name")
    cli.add_argument("--host", default="127.0.0.1", help="bind address")
    cli.add_argument("--port", type=int, required=True, help="port to serve on")
    cli.add_argument("--served-model-name", default=SERVED_NAME, help="the model id clients must ask for")
    args = cli.parse_args(argv)
    try:
        server = make_server(args.host, args.port, args.served_model_name)
    except OSError as err:
        raise UsageError(f"cannot listen on {args.host}:{args.port} ({err.strerror})", option="--port") from None
    print(f"mini task judge serving {args.served_model_name!r} on http://{args.host}:{args.port}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(cli_run(main))
