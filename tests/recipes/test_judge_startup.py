"""Judge start-up you can see and trust: `python -m swift_plugins.judge.check` and `recipes/judge.sh` against
real servers on loopback (scripted OpenAI-compatible ones, and the local SmolLM2 judge's launcher)."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.helpers.judge import judge_env
from tests.helpers.loopback_server import ScriptedServer, free_port, obedient_judge
from tests.helpers.paths import REPO


def check(url: str | None, *args: str, model: str = "scripted", timeout: float = 120) -> tuple[int, str, str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIO_THINKER_JUDGE_")}
    env.update(judge_env(url or "", model, timeout=5), PYTHONPATH=str(REPO))
    if url is None:
        del env["AUDIO_THINKER_JUDGE_URL"]
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "swift_plugins.judge.check", *args], capture_output=True, text=True,
                         env=env, cwd=REPO, timeout=timeout)
    return out.returncode, out.stdout, out.stderr, time.monotonic() - start


def test_nothing_listening_fails_after_the_short_wait_and_says_so():
    """A refused connection for the whole wait is a wrong address (a setting: exit 2, as docs/bad-input.md
    promises), with what to do; it used to exit 1 like a server that is still loading."""
    url = f"http://127.0.0.1:{free_port()}/v1"
    code, _, err, _ = check(url, "--wait", "3")
    lines = err.strip().splitlines()
    assert code == 2
    assert lines[0] == (f"judge check: waiting up to 3 s for an OpenAI-compatible server at {url} "
                        "(model 'scripted'; --wait sets the limit)")
    assert lines[-1] == (f"error: AUDIO_THINKER_JUDGE_URL: nothing listens at {url} (connection refused for 3 s): "
                         "start the judge (bash recipes/judge.sh) and export the AUDIO_THINKER_JUDGE_URL it prints; "
                         "nothing was started, so the same command then resumes the run")


def test_the_default_wait_is_short_and_configurable(monkeypatch):
    code, out, _, _ = check(None, "--help")
    assert code == 0 and "(default: 30.0)" in " ".join(out.split())
    monkeypatch.setenv("JUDGE_CHECK_WAIT", "1")
    code, _, err, _ = check(f"http://127.0.0.1:{free_port()}/v1")
    assert code == 2 and "waiting up to 1 s" in err


# server behaviour, URL suffix, model asked for -> what the one line names
AT_ONCE = [
    (dict(root="/v1"), "", "scripted", ["GET http://127.0.0.1:{port}/models answered HTTP 404", "ends in /v1"]),
    (dict(root="/v1", status=401), "/v1", "scripted", ["HTTP 401", "AUDIO_THINKER_JUDGE_API_KEY"]),
    (dict(root="/v1", model="Qwen3-8B-Base"), "/v1", "judge",
     ["AUDIO_THINKER_JUDGE_MODEL", "serves ['Qwen3-8B-Base'], not 'judge'"]),
]


@pytest.mark.parametrize("behaviour, suffix, model, named", AT_ONCE, ids=["URL without /v1", "401", "wrong model"])
def test_a_wrong_path_key_or_model_is_final_at_once(scripted_server, behaviour, suffix, model, named):
    server = scripted_server(reply=obedient_judge(), **behaviour)
    code, out, err, elapsed = check(f"http://127.0.0.1:{server.port}{suffix}", "--wait", "60", model=model)
    (line,) = [x for x in err.strip().splitlines() if not x.startswith("judge check: waiting")]
    assert code == 2 and out == "" and line.startswith("error: ")
    for fragment in named:
        assert fragment.format(port=server.port) in line
    assert elapsed < 30  # not the 60 s wait
    assert server.requests == []  # no judgment was asked of the wrong server


def test_a_server_that_comes_up_late_is_waited_for():
    port = free_port()
    server = ScriptedServer(reply=obedient_judge("1", "0.8"), port=port, root="/v1")
    timer = threading.Timer(3.0, server.start)
    timer.start()
    try:
        code, out, err, _ = check(f"http://127.0.0.1:{port}/v1", "--wait", "60")
    finally:
        timer.join()
        server.stop()
    assert code == 0, err
    assert "waiting up to 60 s" in err
    assert out.strip() == f"judge check: scripted at http://127.0.0.1:{port}/v1 answers in format (consistency 1, quality 0.8)"


def test_missing_url_is_one_line():
    code, out, err, _ = check(None)
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith("error: ") and "AUDIO_THINKER_JUDGE_URL" in line


def test_waiting_stops_when_the_started_server_dies():
    server = subprocess.Popen(["sleep", "2"], start_new_session=True)
    code, _, err, elapsed = check(f"http://127.0.0.1:{free_port()}/v1", "--wait", "60", "--server-pid", str(server.pid))
    server.wait()
    assert code == 1 and f"the server process {server.pid} exited before answering" in err
    assert elapsed < 40


def test_an_answer_from_another_process_on_the_port_is_refused(scripted_server):
    """What answers is not the server judge.sh started (an older server on the port)."""
    other = scripted_server(reply=obedient_judge(), root="/v1")
    started = subprocess.Popen(["sleep", "120"], start_new_session=True)
    try:
        code, _, err, _ = check(other.base_url, "--wait", "30", "--server-pid", str(started.pid))
    finally:
        os.killpg(started.pid, signal.SIGTERM)
        started.wait()
    assert code == 2
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"error: JUDGE_PORT: port {other.port} answers, but from pid {os.getpid()} ")
    assert f"not from the server started (process group {started.pid})" in line
    assert other.requests == []


def test_an_answer_from_the_started_server_is_accepted(scripted_server):
    own = scripted_server(reply=obedient_judge("0", "0.3"), root="/v1")
    code, out, err, _ = check(own.base_url, "--wait", "30", "--server-pid", str(os.getpid()))
    assert code == 0, err
    assert "answers in format (consistency 0, quality 0.3)" in out


# ---- recipes/judge.sh --------------------------------------------------------------------------------------

def judge_sh(tmp_path, **env) -> tuple[subprocess.CompletedProcess, float]:
    full = {**os.environ, "PYTHONPATH": str(REPO), "JUDGE_BACKEND": "local", "JUDGE_LOG_DIR": str(tmp_path / "judge"),
            **env}
    start = time.monotonic()
    try:
        out = subprocess.run(["bash", str(REPO / "recipes" / "judge.sh")], capture_output=True, text=True, env=full,
                             cwd=REPO, timeout=300)
    finally:
        pid_file = tmp_path / "judge" / "judge.pid"
        if pid_file.exists():  # a server the script started and left (it should not, in these cases)
            try:
                os.killpg(int(pid_file.read_text()), signal.SIGTERM)
            except ProcessLookupError:
                pass
    return out, time.monotonic() - start


def test_judge_sh_refuses_a_port_already_in_use(scripted_server, tmp_path):
    older = scripted_server(reply=obedient_judge(), root="/v1")
    out, _ = judge_sh(tmp_path, JUDGE_PORT=str(older.port))
    assert out.returncode == 2
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith(f"error: JUDGE_PORT: 127.0.0.1:{older.port} is already in use by pid {os.getpid()} ")
    assert not (tmp_path / "judge" / "judge.pid").exists()  # nothing was started
    assert older.requests == []


@pytest.mark.slow  # starts `swift deploy` (imports ms-swift)
def test_judge_sh_stops_waiting_when_its_server_dies(tmp_path):
    broken = tmp_path / "not-a-model"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "llama"}))  # no weights, no tokenizer
    out, elapsed = judge_sh(tmp_path, JUDGE_PORT=str(free_port()), JUDGE_MODEL_PATH=str(broken), JUDGE_WAIT="600")
    assert out.returncode == 1
    assert "exited before answering" in out.stderr and "last log lines" in out.stderr
    assert elapsed < 300  # not the 600 s wait
