"""The reward declaration (swift_plugins/registry.py) is the one home of each reward's facts: the plugin
registers from it, the recipes ask it which rows need the judge, and the reward tables (README, docs/rewards.md) are checked against it."""
from __future__ import annotations

import inspect
import os
import subprocess

import pytest

from swift_plugins import registry
from swift_plugins import rewards as plugin
from tests.helpers.paths import REPO


def test_every_declared_reward_is_registered_with_its_class():
    for reward in registry.REWARDS:
        assert plugin.orms[reward.name] is getattr(plugin, reward.cls), reward.name


def test_every_reward_class_of_the_plugin_is_declared():
    classes = {name for name, obj in vars(plugin).items()
               if inspect.isclass(obj) and issubclass(obj, (plugin.ORM, plugin.AsyncORM))
               and obj.__module__ == plugin.__name__ and not name.startswith("_")}
    assert classes == {reward.cls for reward in registry.REWARDS}


def test_judge_rewards_are_the_ones_that_read_judge_settings():
    for reward in registry.REWARDS:
        reads_settings = "settings_from_env()" in inspect.getsource(getattr(plugin, reward.cls))
        assert reads_settings == reward.needs_judge, reward.name


@pytest.mark.parametrize("page", ["README.md", "docs/rewards.md"])  # the front door and the manual's page
def test_reward_table_is_the_declaration(page):
    text = (REPO / page).read_text(encoding="utf-8")
    assert registry.readme_table() in text, f"{page}: the reward table differs from swift_plugins/registry.py:\n" \
        + registry.readme_table()


def recipe_dry_run(reward: str, tmp_path) -> str:
    """The dry run of a row added to a copy of the catalogue whose one reward is ``reward``."""
    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text((REPO / "recipes/catalogue.yaml").read_text(encoding="utf-8").replace(
        "\nrows:\n", f"\nrows:\n  probe: {{backbone: qwen2-audio, method: grpo, prompt: adaptive_think, "
                      f"rewards: {{{reward}: 1}}}}\n", 1), encoding="utf-8")
    env = {"PATH": os.environ["PATH"], "HOME": str(REPO), "DRY_RUN": "1", "AUDIO_THINKER_CATALOGUE": str(catalogue),
           "AUDIO_THINKER_JUDGE_URL": "http://judge-node:8000/v1"}  # judge rows refuse to start without one
    proc = subprocess.run(["bash", str(REPO / "recipes" / "row.sh"), "probe"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("reward", registry.REWARDS, ids=lambda r: r.name)
def test_recipes_start_the_judge_exactly_for_judge_rewards(reward, tmp_path):
    assert ("swift_plugins.judge.check" in recipe_dry_run(reward.name, tmp_path)) == reward.needs_judge


def test_registry_cli_answers_needs_judge():
    def ask(*names):
        return subprocess.run(["python", "-m", "swift_plugins.registry", "needs-judge", *names], cwd=REPO,
                              capture_output=True, text=True, timeout=60).stdout.strip()
    assert ask("atar", "adaptive_format") == "0"
    assert ask("atar", "think_quality") == "1"
    assert ask("format") == "0"  # ms-swift's own rewards never need our judge


def test_paper_weights_are_the_catalogue_rows():
    """The weights the option guard prints when --reward_weights is missing are each paper row's weights in
    recipes/catalogue.yaml, with the dashboard monitors (added to every GRPO row) at 0."""
    from recipes import catalogue

    rows = [row for row in catalogue.load().rows.values() if row.rewards]
    assert len(rows) >= 10
    for row in rows:
        names = [name for name, _ in row.rewards]
        names += [m for m in ("choice_accuracy", "think_rate") if m not in names]
        expected = [float(weight) for _, weight in row.rewards] + [0.0] * (len(names) - len(row.rewards))
        assert registry.paper_weights(names) == expected, row.name
    assert registry.paper_weights(["atar", "format"]) == [1.0, None]  # not ours: the user's choice
