"""The dependency direction of the packages (docs/layout.md), read from the import statements.

``audio_thinker`` is the shared vocabulary: standard library only. ``swift_plugins`` (what ms-swift loads)
and ``data_prep`` build on it alone; ``recipes`` (the catalogue and the launcher) may also use
``swift_plugins`` (the option guard, the reward registry); ``eval`` may also use both (the compat fix, the
reward prompts, the catalogue's rows); ``data_prep`` and ``eval`` never import each other, ``swift_plugins``
never imports ``recipes``; ``mini`` (the miniature) builds on all of them and nothing imports it; nothing
imports ``tests``, ``perf`` or ``scripts``.
"""
from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
from pathlib import Path

from tests.helpers.paths import REPO

OURS = ("audio_thinker", "swift_plugins", "recipes", "data_prep", "eval", "mini", "tests", "perf", "scripts")
# package -> the packages of ours it may import (besides itself)
ALLOWED = {
    "audio_thinker": set(),
    "swift_plugins": {"audio_thinker"},
    "data_prep": {"audio_thinker"},
    "recipes": {"audio_thinker", "swift_plugins"},
    "eval": {"audio_thinker", "swift_plugins", "recipes"},
    "mini": {"audio_thinker", "swift_plugins", "recipes", "data_prep", "eval"},
}
STDLIB_ONLY = {"audio_thinker"}


def imported_modules(path: Path, package: str) -> list[tuple[int, str]]:
    """(line, top-level module) of every import in ``path``, lazy ones included; a relative import is of
    the file's own ``package``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, package if node.level else (node.module or "").split(".")[0]))
    return found


def violations(root: Path) -> list[str]:
    """Every import in ``root``'s packages that breaks the rule, as ``file:line: package imports X``."""
    bad = []
    for package, allowed in ALLOWED.items():
        for path in sorted((root / package).rglob("*.py")):
            for line, module in imported_modules(path, package):
                if module in (package, "__future__"):
                    continue
                where = f"{path.relative_to(root)}:{line}"
                if module in OURS and module not in allowed:
                    bad.append(f"{where}: {package} imports {module}")
                elif package in STDLIB_ONLY and module not in OURS and module not in sys.stdlib_module_names:
                    bad.append(f"{where}: {package} imports {module} (standard library only)")
    return bad


def test_imports_follow_the_dependency_direction():
    assert violations(REPO) == []


def test_the_check_sees_a_broken_rule(tmp_path):
    """The rule check itself: a planted import of each forbidden kind is reported, lazy ones included."""
    for package in ALLOWED:
        (tmp_path / package).mkdir()
    (tmp_path / "audio_thinker" / "x.py").write_text("import torch\nfrom swift_plugins import rules\n")
    (tmp_path / "data_prep" / "y.py").write_text("def f():\n    from eval.grading import score\n")
    (tmp_path / "swift_plugins" / "z.py").write_text("from . import batch\nimport data_prep.text\n"
                                                      "from recipes import catalogue\n")
    (tmp_path / "recipes" / "v.py").write_text("from swift_plugins import rules\nimport eval.report\n")
    (tmp_path / "eval" / "w.py").write_text("from .io import read\nfrom swift_plugins import compat\n")
    assert violations(tmp_path) == [
        "audio_thinker/x.py:1: audio_thinker imports torch (standard library only)",
        "audio_thinker/x.py:2: audio_thinker imports swift_plugins",
        "swift_plugins/z.py:2: swift_plugins imports data_prep",
        "swift_plugins/z.py:3: swift_plugins imports recipes",
        "data_prep/y.py:2: data_prep imports eval",
        "recipes/v.py:2: recipes imports eval",
    ]


# A reader of a clone must be able to follow every pointer: the equations and decisions are in docs/.
OUTSIDE = re.compile(r"\.\./shared|shared/spec|\bspec\b|\bissue #?\d+|platform-notes|/work/|\bthe brief\b",
                     re.IGNORECASE)
SOURCES = ("audio_thinker", "swift_plugins", "data_prep", "eval", "mini", "tests", "perf", "scripts", "recipes",
           "docs", ".ci")
TEXT = (".md", ".sh", ".yaml", ".yml", ".toml", ".txt")


def comments_and_docstrings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every comment and docstring of a Python file."""
    source = path.read_text(encoding="utf-8")
    found = [(tok.start[0], tok.string) for tok in tokenize.generate_tokens(io.StringIO(source).readline)
             if tok.type == tokenize.COMMENT]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                found.append((first.lineno, first.value.value))
    return found


def outside_pointers(root: Path) -> list[str]:
    files = [p for p in (root / "README.md", root / "pyproject.toml") if p.exists()]
    for folder in SOURCES:
        files += [p for p in sorted((root / folder).rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
    bad = []
    for path in files:
        if path.suffix == ".py":
            texts = comments_and_docstrings(path)
        elif path.suffix in TEXT or path.parent.name == ".ci":
            texts = list(enumerate(path.read_text(encoding="utf-8").splitlines(), 1))
        else:
            continue
        bad += [f"{path.relative_to(root)}:{line}: {match.group(0)!r}" for line, text in texts
                for match in [OUTSIDE.search(text)] if match]
    return bad


def test_no_comment_or_doc_points_outside_the_repository():
    assert outside_pointers(REPO) == []


def test_the_pointer_check_sees_comments_and_docstrings(tmp_path):
    (tmp_path / "eval").mkdir()
    (tmp_path / "README.md").write_text("See docs/rewards.md.\n")
    (tmp_path / "eval" / "x.py").write_text('"""Scores (issue #5)."""\nx = "spec"  # from ../shared\n'
                                           'def f():\n    """R_t (spec §5)."""\n'
                                           'def g():\n    """Read once (the brief: "read once")."""\n')
    assert outside_pointers(tmp_path) == ["eval/x.py:2: '../shared'", "eval/x.py:1: 'issue #5'",
                                          "eval/x.py:4: 'spec'", "eval/x.py:6: 'the brief'"]


def helper_import_breaches(root: Path) -> list[str]:
    """Test modules that re-define what tests/helpers provides or reach helpers another way: a module-level
    ``REPO = ...``, a ``sys.path`` edit, or an import of a conftest."""
    bad = []
    for path in sorted((root / "tests").rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[:2] == ("tests", "helpers"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "REPO" for t in node.targets):
                bad.append(f"{rel}:{node.lineno}: REPO defined again (tests.helpers.paths has it)")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and ast.unparse(node.func.value) == "sys.path":
                bad.append(f"{rel}:{node.lineno}: sys.path edited (import from tests.helpers instead)")
            elif isinstance(node, ast.ImportFrom) and "conftest" in (node.module or ""):
                bad.append(f"{rel}:{node.lineno}: import from a conftest (helpers live in tests.helpers)")
    return bad


def test_test_helpers_are_imported_one_way():
    assert helper_import_breaches(REPO) == []


def test_the_shared_cache_link_is_not_tracked():
    """Each worktree links .cache to the main checkout's shared cache; a commit that tracks that link replaces
    the shared folder wherever it is checked out, and git deletes the built checkpoints it held."""
    import subprocess

    tracked = subprocess.run(["git", "ls-files", "--", ".cache"], cwd=REPO, capture_output=True, text=True).stdout
    assert tracked.strip() == "", "git rm --cached .cache: the link to the shared cache must not be committed"
