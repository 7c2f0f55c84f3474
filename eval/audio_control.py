"""Silent-audio control: how much of a score needs the audio.

``eval.infer --audio-control silence`` asks the same items with every clip
replaced by digital silence of the same length (same sample rate, same number
of frames, all samples zero), so the prompt, the audio placeholder tokens and
the clip's duration are unchanged and only the sound is gone. ``eval.score
--silent-input`` then puts the silent run beside the normal one
(:func:`audio_control_figures`). docs/evaluation.md, "Reading the silent-audio control".
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from audio_thinker.cli import UsageError

from .grading import figures_of_rows
from .stats import wilson_interval
from .tables import fmt_accuracy, text_table

SILENCE = "silence"
AUDIO_CONTROLS = (SILENCE,)


def silent_copy(path: str | Path, folder: Path) -> Path:
    """A WAV of zeros as long as ``path`` (same rate, channels and frame count), cached in ``folder``."""
    import numpy as np
    import soundfile as sf

    info = sf.info(str(path))  # raises on an unreadable clip: the caller records it for that row
    # Clips of the same length share one file (most benchmark clips have a handful of lengths), so the
    # folder stays small even for AIR-Bench's 21k clips.
    out = folder / f"silence-{info.frames}x{info.channels}@{info.samplerate}.wav"
    if not out.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".tmp-{os.getpid()}-{out.name}")
        sf.write(str(tmp), np.zeros((info.frames, info.channels), dtype="int16"), info.samplerate,
                 subtype="PCM_16", format="WAV")
        tmp.replace(out)  # a killed run never leaves a short "silent" clip behind
    return out


def with_silence(generate: Callable, folder: Path) -> Callable:
    """Wrap an ``eval.infer`` generate function: each row's clips are swapped for silent copies before
    the model sees them; a row whose clip cannot be read gets ``output: None`` and an ``error`` (scored as
    missing) and the others go on. Every result row records ``audio_control: silence``."""
    def generate_silent(rows: list[dict[str, Any]], system: str | None) -> list[dict[str, Any]]:
        results: list[dict[str, Any] | None] = [None] * len(rows)
        silent_rows, where = [], []
        for i, row in enumerate(rows):
            try:
                audios = [str(silent_copy(a, folder)) for a in row.get("audios") or []]
            except Exception as err:  # noqa: BLE001 - soundfile raises several types; recorded per row
                results[i] = {"output": None, "error": f"silence control: cannot read the clip's length: "
                                                       f"{type(err).__name__}: {err}"}
                continue
            silent_rows.append({**row, "audios": audios})
            where.append(i)
        if silent_rows:
            for i, result in zip(where, generate(silent_rows, system)):
                results[i] = result
        return [{**r, "audio_control": SILENCE} for r in results]

    return generate_silent


def control_of(rows: Sequence[dict[str, Any]]) -> str | None:
    """The audio control a file's replies were made under (``eval.infer`` writes it on every row it runs
    with ``--audio-control``; ``eval.convert`` carries it into the benchmark format), or None. A file that
    mixes rows with and without it is refused: its score would be neither run's."""
    controls = {row.get("audio_control") for row in rows}
    if len(controls) > 1:
        raise UsageError(f"rows of different audio controls in one file: {sorted(map(str, controls))}")
    return controls.pop() if controls else None


def audio_control_figures(items: Sequence[dict[str, Any]], silent_items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The silent run beside the normal one, on the items both have (``eval.score`` per-item rows).

    - ``without_audio``: the silent run's figures, i.e. the share of items answered correctly with the
      audio replaced by silence;
    - ``correct_also_without_audio``: of the items the normal run gets right, how many the silent run
      gets right too (the part of the score that needs no listening), with its Wilson interval;
    - ``needs_audio``: the normal run's figures on the items the silent run gets wrong: accuracy where
      guessing from the text alone fails."""
    silent = {str(it["id"]): it for it in silent_items}
    paired = [(it, silent[str(it["id"])]) for it in items if str(it["id"]) in silent]
    right = sum(1 for it, _ in paired if it["correct"])
    also = sum(1 for it, s in paired if it["correct"] and s["correct"])
    return {
        "control": SILENCE,
        "n_paired": len(paired),
        "without_audio": figures_of_rows([s for _, s in paired]),
        "correct_also_without_audio": {"of_correct": right, "count": also,
                                       "share": round(100.0 * also / right, 4) if right else None,
                                       "ci95": wilson_interval(also, right)},
        "needs_audio": figures_of_rows([it for it, s in paired if not s["correct"]]),
    }


HEADERS = ("accuracy %", "without audio %", "correct also without audio %", "needs audio: n",
           "needs audio: accuracy %")


def summary_cells(result: dict[str, Any]) -> list[str]:
    """The control's figures as table cells, each accuracy with its interval."""
    c = result["audio_control"]
    also = c["correct_also_without_audio"]
    return [fmt_accuracy(result["total"]), fmt_accuracy(c["without_audio"]),
            fmt_accuracy({"accuracy": also["share"], "ci95": also["ci95"]}) + f" ({also['count']}/{also['of_correct']})",
            str(c["needs_audio"]["n"]), fmt_accuracy(c["needs_audio"])]


def render(result: dict[str, Any]) -> str:
    """The terminal lines of ``eval.score``."""
    return "silent-audio control (same items, every clip replaced by silence)\n" + text_table(
        ("", *HEADERS), [["total", *summary_cells(result)]])
