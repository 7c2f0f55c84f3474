"""Which of the vLLM names ms-swift uses exist in the installed vLLM, with the signature ms-swift uses.

    python scripts/vllm_names.py            # in an environment with the `gpu` extra (vllm) installed
    python scripts/vllm_names.py --all      # every import line, found ones too

It reads ms-swift's installed source (nothing is hard-coded about where ms-swift imports from vLLM) and
reports, for the pinned vLLM or any other (so that a version bump shows what breaks):

1. every ``import vllm...`` / ``from vllm... import`` in ms-swift: found or missing, and for a missing one
   why that does or does not matter: an alternative import beside it (``try``/``except ImportError`` or a
   vLLM version test) that resolves, a function only other paths call (LoRA, NPU, Megatron, Ray, web UI,
   embedding models), or **on the GRPO rollout path** (colocate or server mode, full fine-tuning);
2. the keywords ms-swift passes to ``EngineArgs`` (``VllmEngine._prepare_engine_kwargs``), to
   ``SamplingParams`` (``_prepare_generation_config``), to ``LoRARequest``, to ``StatelessProcessGroup.create``
   and ``PyNcclCommunicator``, and the engine methods the rollout calls (``wake_up(tags=...)``, ``sleep``,
   ``reset_*_cache``, ``collective_rpc``): accepted or not by the installed signatures. A keyword ms-swift only
   passes after checking the signature (``if key in parameters`` / ``hasattr``) is reported as optional: it
   is left out (EngineArgs: with a warning), which would matter for ``enable_sleep_mode`` and ``logprobs_mode`` (sleep mode and
   the rollout importance-sampling correction).

Exit status 1 when a name or keyword on the GRPO rollout path is missing, else 0. docs/backbones.md records
the report against the pinned vLLM.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import os
import sys
from dataclasses import dataclass
from pathlib import Path

# The modules a GRPO run with vLLM imports (colocate: the trainer builds a GRPOVllmEngine; server mode: the
# trainer's client and `swift rollout`), relative to the swift package.
ROLLOUT_FILES = ("rlhf_trainers/grpo_trainer.py", "rlhf_trainers/rollout_mixin.py", "rlhf_trainers/utils.py",
                 "rlhf_trainers/vllm_client.py", "infer_engine/vllm_engine.py", "infer_engine/grpo_vllm_engine.py",
                 "infer_engine/utils.py", "pipelines/infer/rollout.py")
# Functions of those modules that a GRPO run of our rows (full fine-tuning or LoRA without vLLM LoRA, the two
# backbones, CUDA) does not call, and why; every other function of those files counts as on the path.
OFF_PATH = {
    "patch_vllm_load_adapter": "vLLM LoRA only (--vllm_enable_lora with --tuner_type lora)",
    "patched_load_adapter": "vLLM LoRA only",
    "_add_adapter": "vLLM LoRA only",
    "vllm_lora_uses_raw_param_names": "vLLM LoRA only",
    "patch_vllm_abort_seq_group": "vllm 0.7.3 only (patch_vllm_memory_leak returns first on other versions)",
    "patch_vllm_engine": "vllm 0.7.3 only (patch_vllm_memory_leak returns first on other versions)",
    "register_uembed_model": "Qwen3.5 embedding models only",
    "_stateless_init_hccl": "Ascend NPU only",
}


@dataclass
class Imported:
    file: str
    line: int
    module: str
    name: str            # "" for `import module`
    function: str        # enclosing function ("" at module level)
    alternatives: list   # (module, name) imports that stand in for it (try/except or a version test)
    graceful: bool       # inside a try whose handler goes on without it (no re-raise, no other vLLM name)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" + (f" ({self.function})" if self.function else "")


def resolves(module: str, name: str) -> bool:
    try:
        mod = importlib.import_module(module)
    except Exception:  # noqa: BLE001 - any failure to import is "missing" for this report
        return False
    if not name or hasattr(mod, name):
        return True
    try:  # a submodule imported by name (`from vllm.v1.worker import gpu_worker`)
        importlib.import_module(f"{module}.{name}")
        return True
    except Exception:  # noqa: BLE001
        return False


def _vllm_imports(node: ast.AST, attributes: bool = False) -> list[tuple[str, str, int]]:
    """The vLLM names ``node`` imports; with ``attributes`` also those it reads as ``vllm.module.Name`` (a
    fallback that assigns one name to another)."""
    out = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.ImportFrom) and sub.module and sub.module.split(".")[0] == "vllm":
            out += [(sub.module, a.name, sub.lineno) for a in sub.names]
        elif isinstance(sub, ast.Import):
            out += [(a.name, "", sub.lineno) for a in sub.names if a.name.split(".")[0] == "vllm"]
        elif attributes and isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Load) \
                and ast.unparse(sub.value).startswith("vllm."):
            out.append((ast.unparse(sub.value), sub.attr, sub.lineno))
    return out


def scan(swift_dir: Path) -> list[Imported]:
    found = []
    for path in sorted(swift_dir.rglob("*.py")):
        rel = path.relative_to(swift_dir).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {c: n for n in ast.walk(tree) for c in ast.iter_child_nodes(n)}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for module, name, line in _vllm_imports(node):
                function, alternatives, graceful, child, parent = "", [], False, node, parents.get(node)
                while parent is not None:
                    if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)) and not function:
                        function = parent.name
                    if isinstance(parent, ast.Try) and child in parent.body:
                        stand_ins = [(m, n) for h in parent.handlers for m, n, _ in _vllm_imports(h, True)]
                        alternatives += stand_ins
                        reraise = any(isinstance(x, ast.Raise) for h in parent.handlers for x in ast.walk(h))
                        graceful = graceful or not (stand_ins or reraise)
                    if isinstance(parent, ast.Try) and child in parent.handlers:
                        alternatives += [(m, n) for s in parent.body for m, n, _ in _vllm_imports(s)]
                    if isinstance(parent, ast.If) and "version" in ast.unparse(parent.test):
                        other = parent.orelse if child in parent.body else parent.body
                        alternatives += [(m, n) for s in other for m, n, _ in _vllm_imports(s)]
                    child, parent = parent, parents.get(parent)
                found.append(Imported(rel, line, module, name, function, alternatives, graceful))
    return found


def verdict(item: Imported, ok: bool) -> tuple[str, bool]:
    """(what the report says, whether it breaks the GRPO rollout path)."""
    if ok:
        return "found", False
    stand_ins = [(m, n) for m, n in item.alternatives if (m, n) != (item.module, item.name)]
    if stand_ins and all(resolves(m, n) for m, n in stand_ins):
        return "missing; its alternative " + ", ".join(f"{m}.{n}" if n else m for m, n in stand_ins) + " is found", False
    if item.graceful:
        return "missing; ms-swift catches the ImportError and goes on without it" + \
            (f" ({item.function})" if item.function else ""), False
    off = next((why for fn, why in OFF_PATH.items() if fn == item.function), None)
    if item.file not in ROLLOUT_FILES:
        return "missing; not on the GRPO rollout path (" + item.file.split("/")[0] + ")", False
    if off:
        return f"missing; off our GRPO rollout path: {off}", False
    if any(k in item.module for k in ("ascend", "kunlun", "npu")):
        return "missing; NPU only", False
    return "MISSING ON THE GRPO ROLLOUT PATH", True


# ---- keywords ---------------------------------------------------------------------------------------------

def _function(tree: ast.AST, name: str) -> ast.FunctionDef:
    return next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name)


def _guarded(test: ast.AST) -> bool:
    text = ast.unparse(test)
    return "hasattr" in text or " in parameters" in text


def dict_keys(func: ast.FunctionDef, var: str, call_names: tuple[str, ...]) -> dict[str, bool]:
    """Keyword -> required (not behind a signature check) that ``func`` puts into ``var`` or passes to one of
    ``call_names`` directly."""
    keys: dict[str, bool] = {}
    parents = {c: n for n in ast.walk(func) for c in ast.iter_child_nodes(n)}

    def behind_check(node):
        while node in parents:
            node = parents[node]
            if isinstance(node, ast.If) and _guarded(node.test):
                return True
            if isinstance(node, ast.For) and any(isinstance(s, ast.If) and _guarded(s.test) for s in node.body):
                return True
        return False

    def loop_values(node):  # `for key in [...]: kwargs[key] = ...`
        while node in parents:
            node = parents[node]
            if isinstance(node, ast.For) and isinstance(node.iter, (ast.List, ast.Tuple)):
                return [e.value for e in node.iter.elts if isinstance(e, ast.Constant)]
        return []

    for node in ast.walk(func):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) and ast.unparse(node.value) == var:
            names = [node.slice.value] if isinstance(node.slice, ast.Constant) else loop_values(node)
            for k in names:
                keys[k] = keys.get(k, False) or not behind_check(node)
        elif isinstance(node, ast.Assign) and any(ast.unparse(t) == var for t in node.targets) \
                and isinstance(node.value, ast.Dict):
            for k in node.value.keys:
                if isinstance(k, ast.Constant):
                    keys[k.value] = True
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in call_names:
            for kw in node.keywords:
                if kw.arg:
                    keys[kw.arg] = True
    return keys


def call_keywords(tree: ast.AST, callee: str) -> set[str]:
    return {kw.arg for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) == callee
            for kw in n.keywords if kw.arg}


def accepted(target) -> tuple[set[str], bool]:
    """The parameter names of a callable (a class: its __init__ / dataclass fields) and whether it takes **kw."""
    sig = inspect.signature(target)
    names = {p.name for p in sig.parameters.values()}
    return names, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--all", action="store_true", help="list found imports too")
    args = ap.parse_args(argv)
    import swift
    try:
        import vllm
    except Exception as err:  # noqa: BLE001
        print(f"error: vllm does not import here ({type(err).__name__}: {err}); run this in the environment "
              "of the gpu extra (docs/install.md)", file=sys.stderr)
        return 2
    from importlib.metadata import version
    swift_dir = Path(swift.__file__).parent
    print(f"[vllm-names] vllm {vllm.__version__}, ms-swift {version('ms-swift')}, torch {version('torch')}, "
          f"transformers {version('transformers')}")
    broken = []

    items = scan(swift_dir)
    missing = 0
    print(f"[vllm-names] 1. imports: {len({(i.module, i.name) for i in items})} distinct names in "
          f"{len({i.file for i in items})} files of ms-swift")
    for item in items:
        ok = resolves(item.module, item.name)
        text, breaks = verdict(item, ok)
        missing += not ok
        if breaks:
            broken.append(f"{item.module}.{item.name} at {item.where}")
        if args.all or not ok:
            label = f"{item.module}" + (f".{item.name}" if item.name else "")
            print(f"  {'ok  ' if ok else 'MISS'} {label:70s} {item.where}: {text}")
    print(f"[vllm-names]    {missing} import(s) missing, {len(broken)} on the GRPO rollout path")

    print("[vllm-names] 2. keywords and methods ms-swift uses")
    engine_src = ast.parse((swift_dir / "infer_engine/vllm_engine.py").read_text(encoding="utf-8"))
    rollout_src = {f: ast.parse((swift_dir / f).read_text(encoding="utf-8")) for f in ROLLOUT_FILES}
    from vllm import EngineArgs, SamplingParams
    from vllm.lora.request import LoRARequest
    checks = [
        ("EngineArgs", EngineArgs,
         dict_keys(_function(engine_src, "_prepare_engine_kwargs"), "engine_kwargs", ("engine_cls",))),
        ("SamplingParams", SamplingParams,
         dict_keys(_function(engine_src, "_prepare_generation_config"), "kwargs", ("SamplingParams",))),
        ("LoRARequest", LoRARequest,
         {k: True for k in call_keywords(rollout_src["infer_engine/grpo_vllm_engine.py"], "LoRARequest")}),
    ]
    try:
        from vllm.distributed.device_communicators.pynccl import PyNcclCommunicator
        from vllm.distributed.utils import StatelessProcessGroup
        checks += [("StatelessProcessGroup.create", StatelessProcessGroup.create,
                    {k: True for k in call_keywords(rollout_src["pipelines/infer/rollout.py"],
                                                    "StatelessProcessGroup.create")}),
                   ("PyNcclCommunicator", PyNcclCommunicator,
                    {k: True for k in call_keywords(rollout_src["pipelines/infer/rollout.py"], "PyNcclCommunicator")})]
    except Exception as err:  # noqa: BLE001
        broken.append(f"server-mode weight sync classes: {err}")
    for label, target, keys in checks:
        names, var_kw = accepted(target)
        for key, required in sorted(keys.items()):
            ok = key in names or var_kw
            if not ok and required:
                broken.append(f"{label}({key}=...)")
            if args.all or not ok:
                state = "ok  " if ok else ("MISS" if required else "drop")
                why = "" if ok else (" (passed unconditionally: a TypeError)" if required else
                                     " (ms-swift checks the signature first and leaves it out)")
                print(f"  {state} {label}({key}=...){why}")
        print(f"  {label}: {sum(k in names or var_kw for k in keys)}/{len(keys)} keywords accepted")

    # engine methods: self.engine.engine.<m>(...) in the rollout files, and sleep() in rlhf_trainers/utils.py
    from vllm.v1.engine.llm_engine import LLMEngine
    calls = {}
    for tree in rollout_src.values():
        for n in ast.walk(tree):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and \
                    ast.unparse(n.func.value).endswith("engine.engine"):
                calls.setdefault(n.func.attr, set()).update(kw.arg for kw in n.keywords if kw.arg)
    calls.setdefault("sleep", set()).update(call_keywords(rollout_src["rlhf_trainers/utils.py"], "engine.sleep"))
    for method, kws in sorted(calls.items()):
        fn = getattr(LLMEngine, method, None)
        if fn is None:
            broken.append(f"LLMEngine.{method}")
            print(f"  MISS LLMEngine.{method}()")
            continue
        names, var_kw = accepted(fn)
        bad = sorted(k for k in kws if k not in names and not var_kw)
        optional = method == "sleep" and bad == ["mode"]   # vllm_sleep checks the signature first
        if bad and not optional:
            broken.append(f"LLMEngine.{method}({', '.join(bad)})")
        if args.all or bad:
            print(f"  {'ok  ' if not bad or optional else 'MISS'} LLMEngine.{method}({', '.join(sorted(kws))})"
                  + (f": {bad} not accepted" + (" (checked first by ms-swift)" if optional else "") if bad else ""))
    print(f"  LLMEngine: {len(calls)} methods the rollout calls: {', '.join(sorted(calls))}")
    print("[vllm-names] not checked here: attributes of live objects (the engine's model runner, which the weight "
          "sync loads into), which exist only on a GPU")
    if broken:
        print(f"[vllm-names] FAILED: {len(broken)} on the GRPO rollout path: " + "; ".join(broken))
        return 1
    print("[vllm-names] ok: every name and keyword on the GRPO rollout path exists in this vLLM")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
    sys.exit(main())
