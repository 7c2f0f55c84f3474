"""mini/flawed.sh plans claim (d) on the flawed warm start (DRY_RUN=1; nothing is run by the suite): the
flawed build, model-a/b/c on both seeds from that checkpoint through mini/table.sh, the held-out traces of
every run and the curves."""
import os
import shlex

from tests.helpers.mini_plans import dry_run, option, trainings


def test_the_plan(tmp_path):
    root = tmp_path / "flawed"
    plan = dry_run("flawed.sh", root)
    lines = plan.splitlines()
    build = shlex.split(next(line for line in lines if " -m mini.build " in line)[2:])
    assert option(build, "--flaws") == "0.35" and build[build.index("--out") + 1].endswith(".cache/mini-flawed")
    runs = trainings(plan)
    planned = {(os.path.basename(option(w, "--output_dir")), option(w, "--seed")) for w in runs}
    assert planned == {(row, seed) for row in ("model-a", "model-b", "model-c") for seed in ("1", "2")}
    models = {option(w, "--model") for w in runs}
    assert len(models) == 1 and models.pop().endswith(".cache/mini-flawed/qwen2-audio")  # (the cache may be a link)
    traces = [shlex.split(line[2:]) for line in lines if " -m mini.traces " in line]
    assert len(traces) == 7 and option(traces[0], "--model").endswith("mini-flawed/qwen2-audio")  # warm start + 6
    curves = shlex.split(next(line for line in lines if " -m mini.trace_curves " in line)[2:])
    assert option(curves, "--root") == str(root) and curves[curves.index("--rows") + 1:][:3] == \
        ["model-a", "model-b", "model-c"]
