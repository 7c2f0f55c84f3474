"""The experiment catalogue (``recipes/catalogue.yaml``): every results row, read into checked, frozen
objects. The only reader of that file; docs/recipes.md explains its keys.

It lives with the row scripts because it defines the experiments: the launcher (``recipes.launch``) runs its
rows and ``eval`` reads them to name and order a report's rows. ms-swift never loads it, so ``swift_plugins``
does not import it (docs/layout.md). It imports neither ms-swift nor torch.

``AUDIO_THINKER_CATALOGUE=/path/to/copy.yaml`` reads another catalogue (a copy with rows of one's own; the
new-row test uses it to show that every consumer picks a row up).

    python -m recipes.catalogue rows [TABLE]     # row names, in the paper's order
    python -m recipes.catalogue shell ROW...     # each row's facts as shell assignments (the recipes)
    python -m recipes.catalogue tables             # table names
    python -m recipes.catalogue table TABLE      # a table's rows and benchmarks, as shell assignments
    python -m recipes.catalogue profile NAME     # a PROFILE's settings, one shell assignment a line
"""
from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

import swift_plugins
from swift_plugins import registry

PATH = Path(__file__).with_name("catalogue.yaml")
PROMPTS = Path(swift_plugins.__file__).with_name("prompts")  # the system prompts: the format rewards are tested against them
METHODS = ("base", "sft", "grpo")
# The vLLM rollout settings of a GRPO row: the catalogue's `defaults` give the 96 GB-card values, a backbone's
# `rollout` what differs for it, a PROFILE what differs per card. Each is an environment override of the same
# name (docs/recipes.md) that becomes one ms-swift option (recipes/launch/rollout.py); docs/at-scale.md,
# "Memory plans", gives the arithmetic behind every value.
ROLLOUT_SETTINGS = ("VLLM_LIMIT_MM_PER_PROMPT", "VLLM_MAX_MODEL_LEN", "VLLM_TENSOR_PARALLEL_SIZE",
                    "VLLM_GPU_MEMORY_UTILIZATION", "MOVE_MODEL_BATCHES", "OFFLOAD_MODEL", "OFFLOAD_OPTIMIZER")
# what only the backbone can say: which media its vLLM model takes, and how long its prompts get
BACKBONE_ROLLOUT = ("VLLM_LIMIT_MM_PER_PROMPT", "VLLM_MAX_MODEL_LEN")


_OPTION_NAME = re.compile(r"[a-z][a-z0-9_]*")
# Options the launcher itself writes from a row's facts and the settings (recipes/launch/command.py): a row's
# swift_args may not set them a second time (ms-swift would take the later one, silently).
LAUNCHER_OPTIONS = frozenset({
    "rlhf_type", "model", "model_type", "system", "output_dir", "add_version", "tuner_type", "torch_dtype",
    "per_device_train_batch_size", "gradient_accumulation_steps", "save_steps", "logging_steps", "seed",
    "dataloader_num_workers", "report_to", "check_model", "lora_rank", "lora_alpha", "target_modules", "use_cpu",
    "ddp_backend", "fp16", "deepspeed", "dataset", "external_plugins", "callbacks", "reward_funcs",
    "reward_weights", "max_steps", "learning_rate", "temperature", "num_generations", "beta",
    "max_completion_length", "log_completions", "generation_batch_size", "steps_per_generation", "use_vllm",
    "vllm_mode", "vllm_server_host", "vllm_server_port", "vllm_gpu_memory_utilization", "sleep_level",
    "num_train_epochs", "resume_from_checkpoint"})


class CatalogueError(ValueError):
    """The catalogue file is inconsistent (a test keeps the shipped one free of these)."""


@dataclass(frozen=True)
class Backbone:
    name: str
    model: str          # the hub model its rows train from (MODEL overrides)
    model_type: str     # ms-swift's --model_type
    env: Mapping[str, str] = field(default_factory=dict)
    rollout: Mapping[str, str] = field(default_factory=dict)  # ROLLOUT_SETTINGS -> value (96 GB cards)


@dataclass(frozen=True)
class Row:
    name: str                                  # also its output directory's name
    backbone: str
    method: str                                # base | sft | grpo
    summary: str = ""
    prompt: str | None = None                  # swift_plugins/prompts/<prompt>.txt
    rewards: tuple[tuple[str, str], ...] = ()  # (--reward_funcs name, --reward_weights weight), in order
    sft_data: str | None = None                # answers | cot
    parent: str | None = None                  # the row this one adds to (an ablation step)
    tables: tuple[str, ...] = ()
    paper: Mapping[str, str] = field(default_factory=dict)  # table -> row name in eval/paper_numbers.yaml
    aliases: tuple[str, ...] = ()
    # ms-swift options of the row's own, passed as ``--name value`` (e.g. a variant's --loss_type dapo)
    swift_args: tuple[tuple[str, str], ...] = ()
    # environment of the row's training processes, printed before its command (a plugin's switch, e.g. the
    # decision-token term's AUDIO_THINKER_DECISION_ALPHA)
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def trained(self) -> bool:
        return self.method != "base"

    @property
    def needs_judge(self) -> bool:
        """Whether training this row asks the LLM judge (the registry declares which rewards do)."""
        return registry.needs_judge(name for name, _ in self.rewards)

    def paper_name(self, table: str) -> str:
        return self.paper.get(table, self.name)

    def prompt_file(self) -> Path | None:
        return PROMPTS / f"{self.prompt}.txt" if self.prompt else None


@dataclass(frozen=True)
class Table:
    name: str
    benchmarks: tuple[str, ...]
    rows: tuple[str, ...]
    overrides: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Catalogue:
    backbones: Mapping[str, Backbone]
    defaults: Mapping[str, Mapping[str, str]]  # all | grpo | sft -> {ENV_NAME: value}
    sft_data: Mapping[str, str]
    monitors: tuple[str, ...]
    rows: Mapping[str, Row]                    # in the paper's order
    tables: Mapping[str, Table]
    profiles: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # PROFILE=name -> settings
    # PROFILE=name -> backbone -> settings that differ for that backbone on that kind of machine
    profile_backbones: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    path: Path = PATH

    def row(self, name: str) -> Row:
        try:
            return self.rows[name]
        except KeyError:
            raise KeyError(f"no row {name!r} in {self.path} (rows: {', '.join(self.rows)})") from None

    def table(self, name: str) -> Table:
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(f"no table {name!r} in {self.path} (tables: {', '.join(self.tables)})") from None

    def base_row(self, backbone: str) -> Row | None:
        """The row that evaluates a backbone as released (the start of its ablation block)."""
        return next((r for r in self.rows.values() if r.backbone == backbone and not r.trained), None)

    def by_name(self, name: str) -> Row | None:
        """A row by its name or one of its aliases."""
        return self.rows.get(name) or next((r for r in self.rows.values() if name in r.aliases), None)

    def profile(self, name: str, backbone: str) -> dict[str, str]:
        """The settings of ``PROFILE=name`` for a row of ``backbone`` (its per-backbone entries win)."""
        return {**self.profiles[name], **self.profile_backbones.get(name, {}).get(backbone, {})}

    def settings(self, row: Row) -> dict[str, str]:
        """The row's default settings by environment name (before the environment and table overrides)."""
        out = {**self.defaults.get("all", {}), **self.defaults.get(row.method, {})}
        if row.sft_data:
            out["DATA"] = self.sft_data[row.sft_data]
        return out

    def identify(self, args: Mapping[str, Any]) -> Row | None:
        """The row an ms-swift run was trained as, from its own ``args.json``: the backbone's model type,
        the method, the system prompt's text and the rewards with their weights (monitors at weight 0 aside).
        None when no row has exactly these settings (a run of one's own)."""
        rewards = tuple((str(n), _num(w)) for n, w in zip(args.get("reward_funcs") or [],
                                                         args.get("reward_weights") or [1] * 99)
                        if not (n in self.monitors and _num(w) == _num(0)))
        method = "grpo" if args.get("rlhf_type") == "grpo" or rewards else "sft"
        system = (args.get("system") or "").strip()
        matches = []
        for row in self.rows.values():
            if row.method != method or self.backbones[row.backbone].model_type != args.get("model_type"):
                continue
            prompt = row.prompt_file()
            if prompt is None or prompt.read_text(encoding="utf-8").strip() != system:
                continue
            if tuple((n, _num(w)) for n, w in row.rewards) != rewards:
                continue
            if all(_num(args.get(k)) == _num(v) for k, v in row.swift_args):
                matches.append(row)
        # A variant sets options its parent leaves at ms-swift's default: the row that explains the most of
        # the run's options is the run's row (model-a-tok's run also matches model-a's prompt and rewards).
        return max(matches, key=lambda r: len(r.swift_args), default=None)


def _num(value: Any) -> str:
    """A weight as one spelling (1, 1.0 and "1" are the same weight)."""
    try:
        return repr(float(value))
    except (TypeError, ValueError):
        return str(value)


def _scalar(value: Any) -> str:
    """A YAML value as ms-swift's command line spells it (true/false, not Python's True/False)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _strings(mapping: Mapping | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (mapping or {}).items()}


def parse(data: Mapping[str, Any], path: Path = PATH) -> Catalogue:
    """Build and check a catalogue from the YAML document; :class:`CatalogueError` names what is wrong."""
    def fail(what: str) -> None:
        raise CatalogueError(f"{path}: {what}")

    backbones = {name: Backbone(name, str(b["model"]), str(b["model_type"]), _strings(b.get("env")),
                                _strings(b.get("rollout")))
                 for name, b in (data.get("backbones") or {}).items()}
    for b in backbones.values():
        if set(b.rollout) - set(ROLLOUT_SETTINGS):
            fail(f"backbone {b.name}: rollout keys {sorted(set(b.rollout) - set(ROLLOUT_SETTINGS))} are not "
                 f"among {', '.join(ROLLOUT_SETTINGS)}")
        if set(BACKBONE_ROLLOUT) - set(b.rollout):
            fail(f"backbone {b.name}: rollout needs {', '.join(sorted(set(BACKBONE_ROLLOUT) - set(b.rollout)))} "
                 f"(the media its vLLM model takes, its longest prompt + completion; docs/at-scale.md)")
    profiles: dict[str, dict[str, str]] = {}
    profile_backbones: dict[str, dict[str, dict[str, str]]] = {}
    for name, entry in (data.get("profiles") or {}).items():
        flat = {k: v for k, v in (entry or {}).items() if not isinstance(v, Mapping)}
        nested = {k: v for k, v in (entry or {}).items() if isinstance(v, Mapping)}
        if set(nested) - set(backbones):
            fail(f"profile {name}: {sorted(set(nested) - set(backbones))} are not backbones (a profile's "
                 f"nested entries are per-backbone settings)")
        profiles[str(name)] = _strings(flat)
        profile_backbones[str(name)] = {str(k): _strings(v) for k, v in nested.items()}
    rows: dict[str, Row] = {}
    for name, entry in (data.get("rows") or {}).items():
        entry = dict(entry or {})
        unknown = set(entry) - {"summary", "backbone", "method", "prompt", "rewards", "sft_data", "parent",
                                "tables", "paper", "aliases", "swift_args", "env"}
        if unknown:
            fail(f"row {name}: unknown keys {sorted(unknown)}")
        row = Row(name=str(name), backbone=str(entry.get("backbone")), method=str(entry.get("method")),
                  summary=str(entry.get("summary", "")), prompt=entry.get("prompt"),
                  rewards=tuple((str(k), str(v)) for k, v in (entry.get("rewards") or {}).items()),
                  sft_data=entry.get("sft_data"), parent=entry.get("parent"),
                  tables=tuple(entry.get("tables") or ()), paper=_strings(entry.get("paper")),
                  aliases=tuple(entry.get("aliases") or ()),
                  swift_args=tuple((str(k), _scalar(v)) for k, v in (entry.get("swift_args") or {}).items()),
                  env=_strings(entry.get("env")))
        bad_args = [k for k, _ in row.swift_args if not _OPTION_NAME.fullmatch(k) or k in LAUNCHER_OPTIONS]
        if bad_args:
            fail(f"row {name}: swift_args {bad_args} are not options a row may set (a lower-case ms-swift option "
                 f"name without '--', not one the launcher sets from the row or the settings)")
        if (row.swift_args or row.env) and not row.trained:
            fail(f"row {name}: swift_args / env on a row that is not trained (method {row.method})")
        if [k for k in row.env if not re.fullmatch(r"AUDIO_THINKER_[A-Z0-9_]+", k)]:
            fail(f"row {name}: env {sorted(row.env)}: a row sets only the plugin's own switches (AUDIO_THINKER_*)")
        if row.backbone not in backbones:
            fail(f"row {name}: backbone {row.backbone!r} is not one of {sorted(backbones)}")
        if row.method not in METHODS:
            fail(f"row {name}: method {row.method!r} is not one of {METHODS}")
        if row.trained and not (row.prompt and row.prompt_file().is_file()):
            fail(f"row {name}: prompt {row.prompt!r} is not a file in {PROMPTS}")
        if row.method == "grpo" and not row.rewards:
            fail(f"row {name}: a grpo row needs rewards")
        unknown_rewards = [n for n, _ in row.rewards if n not in registry.BY_NAME]
        if unknown_rewards:
            fail(f"row {name}: rewards {unknown_rewards} are not declared in swift_plugins/registry.py")
        if row.method == "sft" and row.sft_data not in (data.get("sft_data") or {}):
            fail(f"row {name}: sft_data {row.sft_data!r} is not a key of sft_data")
        if row.parent is not None and row.parent not in rows:
            fail(f"row {name}: parent {row.parent!r} is not a row above it")
        rows[row.name] = row
    tables: dict[str, Table] = {}
    for name, entry in (data.get("tables") or {}).items():
        entry = dict(entry or {})
        if "rows" in entry:
            members = tuple(entry["rows"])
        else:
            member_of = entry.get("rows_of", name)
            members = tuple(r.name for r in rows.values() if member_of in r.tables)
        missing = [r for r in members if r not in rows]
        if missing:
            fail(f"table {name}: rows {missing} are not in rows")
        tables[name] = Table(str(name), tuple(entry.get("benchmarks") or ()), members,
                             _strings(entry.get("overrides")))
    for row in rows.values():
        if set(row.tables) - set(tables):
            fail(f"row {row.name}: tables {sorted(set(row.tables) - set(tables))} are not in tables")
    return Catalogue(backbones=backbones,
                     defaults={k: _strings(v) for k, v in (data.get("defaults") or {}).items()},
                     sft_data=_strings(data.get("sft_data")), monitors=tuple(data.get("monitors") or ()),
                     rows=rows, tables=tables,
                     profiles=profiles, profile_backbones=profile_backbones, path=path)


@lru_cache(maxsize=8)
def _load(path: Path) -> Catalogue:
    return parse(yaml.safe_load(path.read_text(encoding="utf-8")), path)


def load(path: str | Path | None = None) -> Catalogue:
    """The catalogue at ``path``, else ``$AUDIO_THINKER_CATALOGUE``, else the shipped one."""
    return _load(Path(path or os.environ.get("AUDIO_THINKER_CATALOGUE") or PATH).resolve())


def shell_facts(row: Row) -> dict[str, str]:
    """A row's facts under the names the shell recipes use."""
    return {"ROW": row.name, "BACKBONE": row.backbone, "METHOD": row.method, "PROMPT": row.prompt or "",
            "REWARDS": " ".join(n for n, _ in row.rewards), "WEIGHTS": " ".join(w for _, w in row.rewards),
            "SFT_TARGET": row.sft_data or "", "NEEDS_JUDGE": "1" if row.needs_judge else "0"}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    catalogue = load()
    try:
        if args[:1] == ["rows"] and len(args) <= 2:
            names: Iterable[str] = catalogue.table(args[1]).rows if len(args) == 2 else catalogue.rows
            print("\n".join(names))
            return 0
        if args[:1] == ["shell"] and len(args) >= 2:  # one line per row; several rows: "ROW<tab>facts"
            for name in args[1:]:
                facts = shell_facts(catalogue.row(name))
                line = " ".join(f"{k}={shlex.quote(v)}" for k, v in facts.items())
                print(f"{name}\t{line}" if len(args) > 2 else line)
            return 0
        if args[:1] == ["profile"] and len(args) == 2:  # one assignment a line (recipes/judge.sh reads JUDGE_*)
            if args[1] not in catalogue.profiles:
                raise KeyError(f"PROFILE={args[1]} is not one of {', '.join(catalogue.profiles)}")
            print("\n".join(f"{k}={shlex.quote(v)}" for k, v in catalogue.profiles[args[1]].items()))
            return 0
        if args == ["tables"]:
            print("\n".join(catalogue.tables))
            return 0
        if args[:1] == ["table"] and len(args) == 2:
            table = catalogue.table(args[1])
            facts = {"ROWS_OF_TABLE": " ".join(table.rows), "TABLE_BENCHMARKS": " ".join(table.benchmarks)}
            print(" ".join(f"{k}={shlex.quote(v)}" for k, v in facts.items()))
            return 0
    except KeyError as err:
        print(f"error: {err.args[0]}", file=sys.stderr)
        return 2
    print("usage: python -m recipes.catalogue rows [TABLE] | shell ROW... | tables | table TABLE | profile NAME",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
