"""Plain-text and markdown tables, the only two layouts evaluation prints."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)), line]
    for r in cells:
        out.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(out)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def fmt_interval(ci: Sequence[float] | None, digits: int = 1) -> str:
    """``[low, high]`` in percent as ``low–high`` (``-`` when there is none)."""
    if not ci:
        return "-"
    return f"{ci[0]:.{digits}f}–{ci[1]:.{digits}f}"


def fmt_accuracy(fig: dict[str, Any] | None) -> str:
    """An accuracy with its 95 % interval, e.g. ``65.20 (62.2–68.1)``."""
    if not fig or fig.get("accuracy") is None:
        return "-"
    ci = fig.get("ci95")
    return fmt(float(fig["accuracy"])) + (f" ({fmt_interval(ci)})" if ci else "")


FIGURE_HEADERS = ("accuracy %", "95 % CI", "correct", "n", "missing", "unparsable")


def figure_row(name: str, fig: dict[str, Any]) -> list[Any]:
    return [name, fig.get("accuracy"), fmt_interval(fig.get("ci95")), fig.get("correct"), fig.get("n"),
            fig.get("missing"), fig.get("unparsable")]
