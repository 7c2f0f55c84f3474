"""Every option of ms-swift's GRPO arguments is classified, and docs/options.md shows the guard's own table.

The option list comes from ms-swift itself: the dataclass fields of ``RLHFArguments``' classes in
``swift/arguments/rlhf_args.py`` and ``swift/rlhf_trainers/args_mixin.py`` (RLHF, GRPO, rollout, vLLM,
teacher, reward-model and PPO arguments). A new ms-swift option fails the first test until it has a rule
(``swift_plugins/options_guard/rules.py``) or a reason (``swift_plugins/options_guard/supported.py``)."""
import dataclasses

import pytest

from swift_plugins import options_guard
from tests.helpers.paths import REPO

GRPO_MODULES = ("swift.arguments.rlhf_args", "swift.rlhf_trainers.args_mixin")
START, END = "<!-- options-table:start -->", "<!-- options-table:end -->"


@pytest.fixture(scope="module")
def rlhf_arguments():
    from swift.arguments import RLHFArguments
    return RLHFArguments


def grpo_options(cls) -> set[str]:
    return {name for klass in cls.__mro__ if klass.__module__ in GRPO_MODULES
            for name in klass.__dict__.get("__annotations__", {})}


def test_every_grpo_option_of_ms_swift_is_classified(rlhf_arguments):
    options = grpo_options(rlhf_arguments)
    assert len(options) > 100  # the classes were found (ms-swift 4.6 defines 160)
    classified = {option for option, _, _ in options_guard.options_table()}
    assert sorted(options - classified) == [], "unclassified: add a rule (swift_plugins/options_guard/rules.py) or a reason (supported.py)"


def test_every_classified_option_exists_in_ms_swift(rlhf_arguments):
    """No stale rows: beyond the GRPO classes only the base training options the rules read."""
    fields = {f.name for f in dataclasses.fields(rlhf_arguments)}
    classified = {option for option, _, _ in options_guard.options_table()}
    assert sorted(classified - fields) == []
    assert sorted(classified - grpo_options(rlhf_arguments)) == sorted(options_guard.BASE_OPTIONS)


def test_every_rule_reads_fields_the_guard_knows(rlhf_arguments):
    """Each rule's options are fields of ms-swift's ``RLHFArguments`` (a renamed or misspelt field would be
    read as its default by the rule and never fire)."""
    fields = {f.name for f in dataclasses.fields(rlhf_arguments)}
    assert len(options_guard.RULES) > 10
    for r in options_guard.RULES:
        assert r.options and sorted(set(r.options) - fields) == [], r.options
        assert r.verdict in (options_guard.REFUSED, options_guard.WARNED)
        assert "\n" not in r.reason and r.when


def test_docs_table_is_the_guard_table():
    page = (REPO / "docs" / "options.md").read_text(encoding="utf-8")
    assert START in page and END in page
    shown = page.split(START, 1)[1].split(END, 1)[0].strip("\n") + "\n"
    assert shown == options_guard.options_markdown(), \
        "docs/options.md is stale: regenerate with python -m swift_plugins.options_guard"
