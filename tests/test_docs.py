"""The manual (docs/, built by mkdocs from mkdocs.yml): it builds with ``--strict``, so no link or anchor is
broken; every page is in the navigation; and every command a tutorial page (docs/tutorials/) shows runs, in
order, on the tiny checkpoints, so the tutorials cannot drift from the code."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from audio_thinker.jsonl import read_jsonl
from tests.helpers.paths import REPO
from tests.helpers.swift import swift_env

DOCS = REPO / "docs"
TUTORIALS = sorted((DOCS / "tutorials").glob("*.md"))
RUN = "bash"                              # a tutorial block with this info string is run by the test
NOT_RUN = 'bash title="needs a GPU node"'  # the one marker that keeps a tutorial command block from running
NOT_COMMANDS = ("json", "text")           # file contents and printed output, not commands
# What each tutorial must have written when its last command returns (relative to where it ran).
EXPECTED = {
    "cpu-row.md": ["data/mine/train.jsonl", "output/model-a/logging.jsonl", "output/model-a/checkpoint-4",
                   "output/model-a/curves.png", "output/eval/model-a/sweep.csv",
                   "output/eval/model-a/checkpoint-4/mmau.json"],
}


def cpu_row_ran(root: Path) -> None:
    """What cpu-row.md promises beyond the files: the four GRPO steps of PROFILE=cpu, each logged
    (LOGGING_STEPS 1), and every item of the 4-item benchmark scored."""
    steps = [row["global_step/max_steps"] for row in read_jsonl(root / "output/model-a/logging.jsonl")
             if "reward" in row]  # the training rows (the last line is the run's summary)
    assert steps == ["1/4", "2/4", "3/4", "4/4"], steps
    items = json.loads((root / "data/demo/mmau-demo.json").read_text(encoding="utf-8"))
    scored = json.loads((root / "output/eval/model-a/checkpoint-4/mmau.json").read_text(encoding="utf-8"))
    assert scored["total"]["n"] == len(items) == 4, scored["total"]


# What each tutorial's outputs must hold when its last command returns.
RAN = {"cpu-row.md": cpu_row_ran}
# What the tutorial view of the checkout links to: the code and the tiny checkpoints, nothing it writes.
CHECKOUT = ("audio_thinker", "swift_plugins", "data_prep", "eval", "recipes", "scripts", ".cache", "pyproject.toml")


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(info string, body) of every fenced code block of a Markdown page, in order."""
    return [(m.group(1).strip(), m.group(2)) for m in re.finditer(r"^```([^\n]*)\n(.*?)^```\s*$", text, re.M | re.S)]


def tutorial_script(page: Path) -> tuple[str, list[str]]:
    """The page's command blocks joined into one bash script, and the blocks left out (with the marker)."""
    run, left_out = [], []
    for info, body in fenced_blocks(page.read_text(encoding="utf-8")):
        if info == RUN:
            run.append(body)
        elif info == NOT_RUN:
            left_out.append(body)
        elif info not in NOT_COMMANDS:
            raise AssertionError(f"{page.name}: a block marked {info!r} is neither run nor marked {NOT_RUN!r}")
    return "set -euo pipefail\n" + "\n".join(run), left_out


def commands(block: str) -> list[str]:
    """The commands of a shell block, one per logical line (continuations joined, comments dropped)."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [re.sub(r"\s+#.*$", "", line).strip() for line in joined.splitlines() if line.strip()]


def test_the_block_reader_sees_markers(tmp_path):
    page = tmp_path / "t.md"
    page.write_text('x\n```bash\necho a\n```\n```json\n{}\n```\n```bash title="needs a GPU node"\nnvidia-smi\n```\n')
    assert tutorial_script(page) == ("set -euo pipefail\necho a\n", ["nvidia-smi\n"])
    page.write_text("```sh\necho b\n```\n")  # an unmarked language: the test must not skip it silently
    with pytest.raises(AssertionError, match="neither run nor marked"):
        tutorial_script(page)


def test_manual_builds_strict(tmp_path):
    """mkdocs --strict turns every warning (a broken link or anchor, a missing page, a docstring that does
    not render) into a failure."""
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                           str(REPO / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
                          capture_output=True, text=True, cwd=REPO, env={**swift_env(), "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").is_file()


def nav_pages(nav) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [p for value in nav.values() for p in nav_pages(value)]
    return [p for item in nav for p in nav_pages(item)]


def test_every_page_is_in_the_navigation():
    config = yaml.load((REPO / "mkdocs.yml").read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(nav_pages(config["nav"])) == pages


def test_readme_first_screen_reaches_the_demo_and_the_manual():
    first_screen = "\n".join((REPO / "README.md").read_text(encoding="utf-8").splitlines()[:40])
    for needle in ("bash scripts/demo.sh", "bash scripts/test.sh", "(docs/index.md)"):
        assert needle in first_screen, needle


def test_readme_links_resolve():
    """The README is not part of the site, so mkdocs does not check its links: every relative link must name
    a file of the checkout, and every anchor a heading of that page."""
    bad = []
    for target in re.findall(r"\]\(([^)\s]+)\)", (REPO / "README.md").read_text(encoding="utf-8")):
        if "://" in target:
            continue
        path, _, anchor = target.partition("#")
        if not (REPO / path).is_file():
            bad.append(target)
        elif anchor and anchor not in {re.sub(r"[^\w\- ]", "", h.lower()).strip().replace(" ", "-")
                                       for h in re.findall(r"^#+ (.+)$", (REPO / path).read_text(encoding="utf-8"),
                                                           re.M)}:
            bad.append(target)
    assert bad == []


def test_readme_cpu_row_is_the_tutorials():
    """The README's "One row on CPU" block is run through the tutorial: each of its commands is one of the
    tutorial's."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## One row on CPU with your own data", 1)[1]
    (block,) = [body for info, body in fenced_blocks(section.split("\n## ", 1)[0]) if info == RUN]
    tutorial = commands(tutorial_script(DOCS / "tutorials" / "cpu-row.md")[0])
    assert [c for c in commands(block) if c not in tutorial] == []


@pytest.mark.slow
@pytest.mark.parametrize("page", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_commands_run(page, tmp_path):
    """Each tutorial, run as written from the root of a view of this checkout (links to the code and the
    tiny checkpoints), so that what it writes lands in tmp_path."""
    for name in CHECKOUT:
        (tmp_path / name).symlink_to(REPO / name)
    script, left_out = tutorial_script(page)
    assert left_out == [], f"{page.name}: blocks marked {NOT_RUN!r} are not run: {left_out}"
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=swift_env(), capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, f"{page.name}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert [f for f in EXPECTED[page.name] if not (tmp_path / f).exists()] == []
    RAN[page.name](tmp_path)
