"""CoT generator: format checks as a table, then whole runs against real HTTP
servers on 127.0.0.1 — a scripted OpenAI-compatible server for exact replies
and faults, and the team's local judge model (a real LLM via swift deploy)."""
from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio_thinker.jsonl import read_jsonl
from audio_thinker.tags import parse_completion
from data_prep import cot
from data_prep.cot_prompt import COT_PROMPT, build_rationale_prompt
from tests.helpers.loopback_server import ScriptedServer
from tests.helpers.paths import REPO

SPEC = REPO / "docs" / "rewards.md"  # §9 quotes the appendix A.2 prompt
GOOD = ("<think><planning>Find the sound source.</planning><caption>An engine hums over water."
        "</caption><reasoning>A hum on water suggests a motor.</reasoning><summary>It is a motorboat."
        "</summary></think><answer>motorboat</answer>")
CHOICES = ["motorboat", "sailboat", "car"]


# ----------------------------------------------------------------------------- the prompt
def test_prompt_is_the_docs_transcription_byte_for_byte():
    lines = SPEC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("> We are developing a system"))
    block = []
    for line in lines[start:]:
        if not line.startswith(">"):
            break
        block.append(line[2:] if line.startswith("> ") else line[1:])
    assert COT_PROMPT == " ".join(block)


def test_prompt_slots_are_filled_once_and_nothing_else_changes():
    filled = build_rationale_prompt(" a hum *** answer here *** ", "Which boat?", "motorboat")
    assert filled.endswith("Here is the original description: a hum *** answer here ***. The question is: "
                           "Which boat?.  The answer you can refer to: motorboat.")
    assert filled.startswith(COT_PROMPT[: COT_PROMPT.index("***")])


# ----------------------------------------------------------------------------- format table
@pytest.mark.parametrize("reply,outcome", [
    (GOOD, "ok"),
    ("\n" + GOOD.replace("><", ">\n<") + "\n", "ok"),                              # newlines between tags
    (GOOD.replace("motorboat</answer>", "(A) Motorboat.</answer>"), "ok"),         # letter + case
    (GOOD.replace("<answer>motorboat", "<answer>sailboat"), "wrong_answer"),
    (GOOD.replace("<answer>motorboat", "<answer>motorboat or sailboat"), "wrong_answer"),  # two choices
    (GOOD.replace("<summary>", "<summary> ").replace("It is a motorboat.", ""), "bad_format"),  # empty
    (GOOD.replace("<planning>", "").replace("</planning>", ""), "bad_format"),     # step missing
    (GOOD.replace("<caption>", "<reasoning>x</reasoning><caption>"), "bad_format"),  # extra section
    (GOOD.replace("An engine", "<answer>An engine"), "bad_format"),                 # nested tag
    ("Sure! " + GOOD, "bad_format"),                                                # text outside
    (GOOD.replace("<answer>motorboat</answer>", "<response>motorboat</response>"), "bad_format"),
    ("<answer>motorboat</answer>", "bad_format"),                                   # no think at all
    (GOOD.replace("A hum on", "The answer you can refer to says a hum on"), "answer_leak"),
    (GOOD.replace("An engine", "The original description mentions an engine"), "answer_leak"),
    ("", "bad_format"),
])
def test_canonical_cot(reply, outcome):
    # shape is a str enum in audio_thinker.tags: compare by value, not by class
    if outcome == "ok":
        text = cot.canonical_cot(reply, "motorboat", CHOICES)
        parsed = parse_completion(text)
        assert parsed.shape == "think" and parsed.answer == "motorboat"  # what R_f will see
        assert "\n" not in text and text.endswith("<answer>motorboat</answer>")
    else:
        with pytest.raises(cot.CotReject) as err:
            cot.canonical_cot(reply, "motorboat", CHOICES)
        assert err.value.reason == outcome


# ----------------------------------------------------------------------------- scripted server
class CotScript:
    """Replies of a scripted OpenAI-compatible server (tests.helpers.loopback_server on 127.0.0.1).
    Caption requests (audio_url content) get a caption after checking that the data URL holds a
    WAV; rationale requests are answered by the tag found in the question text ``[tag]``: good,
    fmt, wrong, leak, slow (first call sleeps past the client timeout), flaky (two HTTP 500s,
    then good), dead (always 500), reject (HTTP 400)."""

    def __init__(self):
        self.calls: Counter = Counter()
        self._lock = threading.Lock()

    def __call__(self, messages: list[dict]):
        content = messages[-1]["content"]
        if isinstance(content, list):  # caption request
            url = next(p["audio_url"]["url"] for p in content if p["type"] == "audio_url")
            assert url.startswith("data:audio/wav;base64,")
            assert base64.b64decode(url.split(",", 1)[1])[:4] == b"RIFF"
            with self._lock:
                self.calls["caption"] += 1
            return "An engine hums over water."
        tag = re.search(r"\[(\w+)\]", content).group(1)
        with self._lock:
            self.calls[tag] += 1
            n = self.calls[tag]
        if tag == "slow" and n == 1:
            time.sleep(3)
        if tag == "flaky" and n <= 2 or tag == "dead":
            return 500, "boom"
        if tag == "reject":
            return 400, "bad request"
        gold = re.search(r"The answer you can refer to: (.*)\.$", content).group(1)
        text = GOOD.replace("motorboat</answer>", f"{gold}</answer>")
        if tag == "fmt":
            text = "The audio has an engine, so: " + gold
        elif tag == "wrong":
            text = GOOD.replace("motorboat</answer>", "car</answer>")
        elif tag == "leak":
            text = text.replace("A hum on", "The given answer says a hum on")
        return text


@pytest.fixture()
def server():
    script = CotScript()
    srv = ScriptedServer(reply=script).start()
    srv.calls = script.calls
    yield srv
    srv.stop()


def make_rows(tmp: Path, tags: list[str]) -> Path:
    wav = tmp / "clip.wav"
    sf.write(wav, (0.1 * np.sin(np.arange(16000) / 3)).astype(np.float32), 16000, subtype="PCM_16")
    rows = []
    for i, tag in enumerate(tags):
        q = f"[{tag}] What is heard in the audio?"
        rows.append({"messages": [{"role": "user", "content":
                                   f"<audio>{q} Please choose the answer from the following options: {CHOICES}."}],
                     "audios": [str(wav if tag != "noaudio" else tmp / "gone.wav")],
                     "solution": "motorboat", "choices": CHOICES, "source_id": i, "dataset": "avqa"})
    path = tmp / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{not json\n")
    return path


def settings_for(url: str, model: str = "scripted", **kw) -> cot.Settings:
    base = dict(concurrency=4, timeout=1.0, retries=2)
    base.update(kw)
    return cot.Settings(caption=cot.Endpoint(url, model), llm=cot.Endpoint(url, model), **base)


TAGS = ["good", "fmt", "wrong", "leak", "slow", "flaky", "dead", "reject", "noaudio", "good"]
EXPECTED = ["ok", "bad_format", "wrong_answer", "answer_leak", "ok", "ok", "rationale_failed",
            "rationale_failed", "missing_audio", "ok", "bad_row"]


def test_scripted_server_outcomes_faults_cache_and_resume(server, tmp_path):
    path = make_rows(tmp_path, TAGS)
    out = tmp_path / "out"
    summary = cot.run(path, out, settings_for(server.base_url), progress=False)
    kept, rejects = read_jsonl(out / "sft_cot.jsonl"), read_jsonl(out / "cot_rejects.jsonl")
    outcomes = {r["source_id"]: "ok" for r in kept}
    outcomes.update({r["index"]: r["reason"] for r in rejects})
    assert [outcomes[i] for i in range(len(EXPECTED))] == EXPECTED
    assert summary["input"] == 11 == summary["written"] + summary["rejected_total"]
    assert server.calls["caption"] == 1  # one caption per audio file, shared
    assert server.calls["slow"] == 2 and server.calls["flaky"] == 3  # timeout and 500s retried
    assert server.calls["dead"] == 3 and server.calls["reject"] == 1  # bounded; 400 not retried
    row = kept[0]
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
    assert row["messages"][0]["content"].startswith("<audio>[good]")
    assert parse_completion(row["messages"][1]["content"]).shape == "think"
    assert row["caption"] == "An engine hums over water." and row["audios"] == [str(tmp_path / "clip.wav")]
    bad = next(r for r in rejects if r["reason"] == "bad_format")
    assert bad["reply"].startswith("The audio has an engine") and bad["message"]

    # Re-run: every reply is cached, only the failed items are asked again.
    before = Counter(server.calls)
    again = cot.run(path, out, settings_for(server.base_url), progress=False)
    sent = server.calls - before
    assert set(sent) == {"dead", "reject"}
    assert again == summary
    assert read_jsonl(out / "sft_cot.jsonl") == kept


def test_cli_with_unreachable_endpoints_rejects_every_item_and_fails(tmp_path):
    path = make_rows(tmp_path, ["good", "good"])
    proc = subprocess.run([sys.executable, "-m", "data_prep.cot", "--input", str(path), "--out-dir",
                           str(tmp_path / "o"), "--caption-base-url", "http://127.0.0.1:9/v1",
                           "--caption-model", "m", "--llm-base-url", "http://127.0.0.1:9/v1", "--llm-model", "m",
                           "--retries", "1", "--timeout", "2", "--no-progress"],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    # Nothing could be generated because nothing answered (a refused port): a failure, not an empty success.
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["written"] == 0 and summary["rejected"]["caption_failed"] == 2
    assert summary["rejected"]["bad_row"] == 1
    (last,) = proc.stderr.strip().splitlines()[-1:]
    assert last.startswith("error: nothing generated: 2 of 3 item(s) failed at an endpoint (first: connection error")
    assert "--caption-base-url http://127.0.0.1:9/v1" in last and "Traceback" not in proc.stderr
    assert (tmp_path / "o" / "cot_rejects.jsonl").exists()  # the rejects are written, a re-run resumes


@pytest.mark.parametrize("option", ["--caption-base-url", "--llm-base-url"])
def test_a_base_url_that_is_not_http_is_one_line_before_any_request(tmp_path, capsys, option):
    """``localhost:8000/v1`` (no scheme) used to crash the hand-written client's constructor; through the SDK it
    would fail every item at an endpoint. Either way the user learns nothing: one line naming the option."""
    from audio_thinker.cli import run as cli_run

    urls = {"--caption-base-url": "http://127.0.0.1:9/v1", "--llm-base-url": "http://127.0.0.1:9/v1",
            option: "localhost:8000/v1"}
    argv = ["--input", str(make_rows(tmp_path, ["good"])), "--out-dir", str(tmp_path / "o"), "--caption-model", "m",
            "--llm-model", "m", *[a for item in urls.items() for a in item]]
    assert cli_run(cot.main, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and option in err[0] and "'localhost:8000/v1'" in err[0] and not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------- the local judge
@pytest.mark.judge
@pytest.mark.slow
def test_against_the_local_judge_model(request, tmp_path):
    """The team's local judge (SmolLM2-135M-Instruct behind swift deploy) stands
    in for both models. A 135M model does not follow the A.2 format: its
    replies must come back as rejects with a reason, and nothing malformed may
    be written; any reply that *is* written must be canonical."""
    try:
        judge = request.getfixturevalue("local_judge")
    except pytest.FixtureLookupError:
        pytest.skip("local_judge fixture not available")
    path = make_rows(tmp_path, ["good", "wrong", "fmt"])
    settings = cot.Settings(caption=cot.Endpoint(judge.base_url, judge.model, max_tokens=16),
                            llm=cot.Endpoint(judge.base_url, judge.model, max_tokens=24),
                            concurrency=2, timeout=120, retries=1)
    t0 = time.time()
    summary = cot.run(path, tmp_path / "out", settings, progress=False)
    print(f"judge run: {time.time() - t0:.1f} s, {summary}")
    assert summary["input"] == 4 == summary["written"] + summary["rejected_total"]
    rejects = read_jsonl(tmp_path / "out" / "cot_rejects.jsonl")
    for r in rejects:
        assert r["reason"] in cot.REJECT_REASONS and r["message"]
    # the unparsable input line is a bad_row; the three real rows reached the
    # judge (caption via audio_url on swift deploy, then the A.2 prompt), and a
    # 135M model's 24-token reply cannot be in the A.2 format
    assert summary["rejected"]["bad_row"] == 1
    replied = [r for r in rejects if r["reason"] in ("bad_format", "wrong_answer", "answer_leak")]
    assert len(replied) + summary["written"] == 3 and all(r["reply"] for r in replied)
    for row in read_jsonl(tmp_path / "out" / "sft_cot.jsonl"):
        assert parse_completion(row["messages"][1]["content"]).shape == "think"
    assert time.time() - t0 < 240
