"""Shared fixtures: the live local judge (a real `swift deploy` server on 127.0.0.1, started by recipes/judge.sh),
scripted OpenAI-compatible servers on loopback for fault tests, the tiny checkpoints, and the audio-QA data
the ms-swift jobs train on. The code behind them is in tests/helpers."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio_thinker.jsonl import write_jsonl
from tests.helpers import audio_guard
from tests.helpers.judge import judge_env
from tests.helpers.loopback_server import ScriptedServer, free_port
from tests.helpers.paths import CACHE, REPO
from tests.helpers.swift import audio_qa_row

# Tests never reach a model hub, and ms-swift caches go into the work tree.
os.environ.setdefault("MODELSCOPE_CACHE", str(CACHE / "modelscope"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Choices whose option letters the tiny random model tends to emit ("A", "D"), so that some answers are
# correct, ThinkConsistency really asks the judge, and the group rewards vary.
CHOICES = ["a steady tone", "white noise", "a click train", "a chirp"]


@dataclass(frozen=True)
class LocalJudge:
    base_url: str  # http://127.0.0.1:PORT/v1
    model: str

    def env(self) -> dict[str, str]:
        """The AUDIO_THINKER_JUDGE_* settings that point the rewards at this judge."""
        return judge_env(self.base_url, self.model, timeout=120, concurrency=8)


@pytest.fixture(scope="session")
def local_judge(tmp_path_factory) -> LocalJudge:
    """SmolLM2-135M-Instruct served on 127.0.0.1 by `recipes/judge.sh` (JUDGE_BACKEND=local), the same
    launcher and pre-flight check a GPU node uses for Qwen3-8B-Base."""
    port = free_port()
    log_dir = tmp_path_factory.mktemp("judge")
    env = {**os.environ, "JUDGE_BACKEND": "local", "JUDGE_PORT": str(port), "JUDGE_LOG_DIR": str(log_dir),
           "JUDGE_WAIT": "600"}  # up to 284 s seen on a loaded 2-core machine
    started = subprocess.run(["bash", str(REPO / "recipes" / "judge.sh")], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=700)  # beyond JUDGE_WAIT, so judge.sh reports first
    pid_file = log_dir / "judge.pid"
    try:
        assert started.returncode == 0, f"judge did not start:\n{started.stdout}\n{started.stderr}"
        yield LocalJudge(base_url=f"http://127.0.0.1:{port}/v1", model="judge")
    finally:
        if pid_file.exists():  # the server runs in its own process group (swift deploy forks a child)
            try:
                os.killpg(int(pid_file.read_text()), signal.SIGTERM)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="session")
def tiny_checkpoints() -> Path:
    """<repo>/.cache/tiny/{qwen2-audio,qwen2.5-omni,qwen3-omni}, built by scripts/build_tiny_checkpoints.py (a no-op
    when already built)."""
    subprocess.run([sys.executable, str(REPO / "scripts" / "build_tiny_checkpoints.py"), "--out", str(CACHE / "tiny")],
                   check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return CACHE / "tiny"


@pytest.fixture(scope="session", autouse=True)
def no_judge_slots_left():
    """Judge slot folders (swift_plugins/judge/node_slots.py) of loopback judges that no longer answer are
    removed after the session: tests start judges on new ports, each with its own folder in /dev/shm."""
    yield
    import shutil
    import socket
    from urllib.parse import urlparse

    from swift_plugins.judge.node_slots import folder_for

    for marker in folder_for("").parent.glob("audio-thinker-judge-*/judge"):
        url = urlparse(marker.read_text())
        if url.hostname != "127.0.0.1":
            continue
        try:
            socket.create_connection((url.hostname, url.port), timeout=1).close()
        except OSError:  # nobody listens: nobody can be using these slots
            shutil.rmtree(marker.parent, ignore_errors=True)


@pytest.fixture
def scripted_server():
    """Factory for scripted OpenAI-compatible servers on loopback; all stopped after the test."""
    servers: list[ScriptedServer] = []

    def start(**behaviour) -> ScriptedServer:
        server = ScriptedServer(**behaviour)
        server.start()
        servers.append(server)
        return server

    yield start
    from swift_plugins.judge.node_slots import forget

    for server in servers:
        server.stop()
        forget(server.base_url)  # its judge slots (docs/judge.md): a new port, a new folder each test


@pytest.fixture(scope="session")
def tiny_qwen2_audio(tiny_checkpoints) -> Path:
    return tiny_checkpoints / "qwen2-audio"


@pytest.fixture(scope="session")
def audio_qa(tmp_path_factory) -> Path:
    """Eight GRPO rows (real 16 kHz WAVs: tones of different pitch and noise, four lettered options) for
    the recipe and live-judge jobs."""
    root = tmp_path_factory.mktemp("audio_qa")
    rng = np.random.default_rng(0)
    options = " ".join(f"({chr(65 + k)}) {c}" for k, c in enumerate(CHOICES))
    rows = []
    for i in range(8):
        t = np.arange(int(1.5 * 16000)) / 16000
        wave = 0.3 * np.sin(2 * np.pi * (220 + 110 * i) * t) if i % 2 == 0 else 0.1 * rng.standard_normal(t.size)
        path = root / f"clip_{i}.wav"
        sf.write(path, wave.astype("float32"), 16000, subtype="PCM_16")
        gold = CHOICES[3] if i % 2 else CHOICES[0]  # options D and A
        rows.append(audio_qa_row(path, f"What do you hear? {options}", CHOICES, gold, id=f"clip_{i}"))
    write_jsonl(root / "train.jsonl", rows)
    return root / "train.jsonl"


@pytest.fixture(scope="session")
def wavs(tmp_path_factory) -> dict[str, str]:
    """A 440 Hz tone and white noise of equal length ({'tone': path, 'noise': path})."""
    return audio_guard.write_wavs(tmp_path_factory.mktemp("wav"))


@pytest.fixture(scope="session")
def tone_noise_qa(tmp_path_factory, wavs) -> Path:
    """Four tone-or-noise rows with the answer as assistant turn (so that sft, GRPO and infer all read
    them) for the backbone jobs."""
    prompt = "Is this a tone or noise? Options: (A) tone (B) noise. Output the final answer in <answer> </answer>."
    rows = [audio_qa_row(path, prompt, ["tone", "noise"], name, answer_turn=True)
            for name, path in sorted(wavs.items()) * 2]
    path = tmp_path_factory.mktemp("data") / "qa.jsonl"
    write_jsonl(path, rows)
    return path
