"""eval.infer on a set holding 0.05 s clips: the same rows at batch sizes 1 and 2. Before, such an item was an
error row at --batch-size 1 and got an answer at --batch-size 2 beside a longer clip (transformers'
Qwen2-Audio takes a batch of one-token clips down another path; audio_thinker.clips)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from audio_thinker.cli import run as cli_run
from audio_thinker.jsonl import read_jsonl
from eval import infer

pytestmark = pytest.mark.slow


def tone(path, seconds, **kw):
    t = np.arange(int(16000 * seconds)) / 16000
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype("float32"), 16000, **kw)
    return str(path)


def test_a_clip_too_short_to_hear_gives_the_same_rows_at_batch_sizes_1_and_2(tmp_path, tiny_checkpoints, capsys):
    clips = [
        tone(tmp_path / "good.wav", 1.0),
        tone(tmp_path / "short.wav", 0.05),                  # WAV: the header check finds it, before the model
        tone(tmp_path / "good2.wav", 1.5),
        tone(tmp_path / "short.flac", 0.05, format="FLAC"),  # not a WAV: the engine's loader refuses it
    ]
    bench = tmp_path / "bench.jsonl"
    bench.write_text("".join(json.dumps({"id": f"q{i}", "messages": [{"role": "user", "content": "<audio>What is it?"}],
                                         "audios": [c]}) + "\n" for i, c in enumerate(clips)))
    rows = {}
    for size in (1, 2):
        out = tmp_path / f"p{size}.jsonl"
        code = cli_run(infer.main, ["--model", str(tiny_checkpoints / "qwen2-audio"), "--model-type", "qwen2_audio",
                                    "--benchmark-file", str(bench), "--out", str(out), "--batch-size", str(size),
                                    "--max-new-tokens", "4"])
        err = capsys.readouterr().err
        assert code == 0, err
        assert f"warning: {bench}:2: {clips[1]}: 0.050 s, shorter than the 0.2 s the encoder needs to hear it " \
               "(--min-seconds) (written as an error row)" in err
        rows[size] = [{k: v for k, v in r.items() if k != "infer"} for r in read_jsonl(out)]
    assert rows[1] == rows[2]
    assert [r["output"] is None for r in rows[1]] == [False, True, False, True]
    assert rows[1][1]["error"].startswith(f"pre-flight: {clips[1]}: 0.050 s")
    assert rows[1][3]["error"].startswith(f"AudioLoadError: cannot load audio {clips[3]}: 0.050 s long, 1 audio token")
