"""mini/flawed.sh plans claim (d) on the flawed warm start (DRY_RUN=1; nothing is run by the suite): the
flawed build, model-a/b/c on both seeds from that checkpoint through mini/table.sh, the held-out traces of
every run and the curves."""
import os
import shlex
import subprocess

from tests.helpers.paths import REPO
from tests.mini.test_table_plan import option, trainings


def test_the_plan(tmp_path):
    root = tmp_path / "flawed"
    env = {**os.environ, "DRY_RUN": "1", "MINI_ROOT": str(root), "PYTHONPATH": str(REPO)}
    out = subprocess.run(["bash", str(REPO / "mini" / "flawed.sh")], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert not root.exists()  # a dry run writes nothing
    lines = out.stdout.splitlines()
    build = shlex.split(next(line for line in lines if " -m mini.build " in line)[2:])
    assert option(build, "--flaws") == "0.35" and build[build.index("--out") + 1].endswith(".cache/mini-flawed")
    runs = trainings(out.stdout)
    planned = {(os.path.basename(option(w, "--output_dir")), option(w, "--seed")) for w in runs}
    assert planned == {(row, seed) for row in ("model-a", "model-b", "model-c") for seed in ("1", "2")}
    models = {option(w, "--model") for w in runs}
    assert len(models) == 1 and models.pop().endswith(".cache/mini-flawed/qwen2-audio")  # (the cache may be a link)
    traces = [shlex.split(line[2:]) for line in lines if " -m mini.traces " in line]
    assert len(traces) == 7 and option(traces[0], "--model").endswith("mini-flawed/qwen2-audio")  # warm start + 6
    curves = shlex.split(next(line for line in lines if " -m mini.trace_curves " in line)[2:])
    assert option(curves, "--root") == str(root) and curves[curves.index("--rows") + 1:][:3] == \
        ["model-a", "model-b", "model-c"]
