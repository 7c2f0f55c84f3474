"""The options table of docs/options.md: every classified option, its status and why, from the rules and
the classification data (``python -m swift_plugins.options_guard`` prints it)."""
from __future__ import annotations

from swift_plugins.options_guard.findings import SUPPORTED, Rule
from swift_plugins.options_guard.rules import RULES
from swift_plugins.options_guard.supported import SUPPORTED_REASONS


def options_table() -> list[tuple[str, str, str]]:
    """(option, status, why) for every classified option, sorted: what docs/options.md lists."""
    ruled: dict[str, list[Rule]] = {}
    for r in RULES:
        for option in r.options:
            ruled.setdefault(option, []).append(r)
    rows = []
    for option in sorted(set(ruled) | set(SUPPORTED_REASONS)):
        status = [f"{r.verdict} when {r.when}" + ("" if option == r.options[0] else f" (see --{r.options[0]})")
                  for r in ruled.get(option, [])]
        why = [r.reason for r in ruled.get(option, []) if option == r.options[0]]
        if option in SUPPORTED_REASONS:
            status.append(f"{SUPPORTED} otherwise" if status else SUPPORTED)
            why.append(SUPPORTED_REASONS[option])
        rows.append((option, "; ".join(status), "; ".join(why)))
    return rows


def options_markdown() -> str:
    lines = ["| option | status | why |", "|---|---|---|"]
    lines += [f"| `--{option}` | {status} | {why} |" for option, status, why in options_table()]
    return "\n".join(lines) + "\n"
