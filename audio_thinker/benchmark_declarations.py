"""What each benchmark's files look like and how its official script groups results.

One frozen record per benchmark, the only place its facts are written: ``data_prep.benchmarks`` (metadata ->
evaluation rows) and everything in ``eval`` read fields only through it, so a renamed field is fixed in one
place, and adding a benchmark is one record here plus its tests (``docs/benchmarks.md``).

Facts from the official scripts (``docs/benchmarks.md`` has the rest):
- MMAU ``evaluation.py`` reads ``model_output`` and reports by task,
  difficulty and sub-category (we add ``category``, which the think analysis
  uses; it is a string or a one-item list in the metadata).
- MMAR ``evaluation.py`` reads ``answer_prediction`` and reports by modality,
  category and sub-category.
- AIR-Bench ``score_foundation.py`` reads ``response`` (the field its own
  ``Inference_Foundation.py`` writes) and reports per ``task_name +
  dataset_name`` subset.

Paper columns: Tables 1, 2 and 5 report MMAU by task and in total; Tables 1,
4 and 6 report MMAR by modality and in total; Table 3 reports five AIR
columns whose mapping to AIR task names is *inferred* from their names (the
paper does not give it): SoundAQA=Sound_AQA, MusicAQA=Music_AQA,
SER=Speaker_Emotion_Recontion (sic, AIR's spelling), VSC=vocal_sound_classification,
SNV=Speaker_Number_Verification. The AIR "Avg" is taken as the mean over the
task accuracies (AIR-Bench's own average is over tasks); also inferred.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TOTAL = "total"  # a paper column that is the overall accuracy
MACRO = "macro"  # a paper column that is the mean over the groups of one breakdown


@dataclass(frozen=True)
class Benchmark:
    name: str
    prediction_field: str  # where the model's reply lives in the official format
    id_field: str
    breakdowns: tuple[str, ...]  # grouping fields reported, official ones first
    # paper column -> (kind, breakdown, values): kind "group" sums the listed
    # groups of that breakdown, TOTAL is the overall figure, MACRO the mean of
    # the breakdown's group accuracies.
    paper_columns: dict[str, tuple[str, str | None, tuple[str, ...]]]
    audio_field: str  # the audio file's path in the metadata
    row_fields: tuple[str, ...]  # metadata fields an evaluation row keeps (the breakdowns read them)
    answer_field: str = "answer"  # the gold choice's text
    choice_fields: tuple[str, ...] = ()  # one field per option (AIR); empty: a ``choices`` list
    audio_in_subset: bool = False  # AIR: the audio lies under <root>/<task_name>_<dataset_name>/
    training_overlap: tuple[str, ...] = ()  # dataset_name values built from the training data (AVQA)
    letter_rule: bool = False  # AIR: the reply may be a bare option letter
    flags: dict[str, str] = field(default_factory=dict)  # subset -> warning

    def item_id(self, item: dict[str, Any]) -> str:
        return str(item.get(self.id_field))

    def choice_values(self, item: dict[str, Any]) -> list[Any]:
        """The options as the metadata holds them, in order (absent and empty AIR options left out)."""
        if self.choice_fields:
            return [item[k] for k in self.choice_fields if item.get(k) not in (None, "")]
        return list(item.get("choices") or [])

    def choices(self, item: dict[str, Any]) -> list[str]:
        return [str(c) for c in self.choice_values(item)]

    def gold(self, item: dict[str, Any]) -> str:
        return str(item.get(self.answer_field, ""))

    def audio_ref(self, item: dict[str, Any]) -> str:
        """The audio path relative to the benchmark's root folder (KeyError when the item lacks it)."""
        if self.audio_in_subset:
            return f"{item['task_name']}_{item['dataset_name']}/{item[self.audio_field]}"
        return item[self.audio_field]

    def group(self, item: dict[str, Any], breakdown: str) -> str:
        """The item's group in one breakdown; lists (MMAU ``category`` is
        sometimes ``["Reasoning"]``) are joined, absent values named."""
        if breakdown == "subset":  # AIR's unit of report: task_dataset
            return f"{item.get('task_name')}_{item.get('dataset_name')}"
        value = item.get(breakdown)
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        return "(none)" if value is None or value == "" else str(value)


MMAU = Benchmark(
    name="mmau",
    prediction_field="model_output",
    id_field="id",
    breakdowns=("task", "difficulty", "sub-category", "category"),
    audio_field="audio_id",  # ./test-mini-audios/<id>.wav
    row_fields=("dataset", "task", "split", "category", "sub-category", "difficulty"),
    paper_columns={
        "Sound": ("group", "task", ("sound",)),
        "Music": ("group", "task", ("music",)),
        "Speech": ("group", "task", ("speech",)),
        "Avg": (TOTAL, None, ()),
    },
)

MMAR = Benchmark(
    name="mmar",
    prediction_field="answer_prediction",
    id_field="id",
    breakdowns=("modality", "category", "sub-category"),
    audio_field="audio_path",  # ./audio/<id>.wav
    row_fields=("modality", "category", "sub-category", "language", "source", "url", "timestamp"),
    paper_columns={  # Tables 1 and 4 use the first three; Table 6 all seven
        "Sound": ("group", "modality", ("sound",)),
        "Music": ("group", "modality", ("music",)),
        "Speech": ("group", "modality", ("speech",)),
        "Sound-Music": ("group", "modality", ("mix-sound-music",)),
        "Sound-Speech": ("group", "modality", ("mix-sound-speech",)),
        "Music-Speech": ("group", "modality", ("mix-music-speech",)),
        "Sound-Music-Speech": ("group", "modality", ("mix-sound-music-speech",)),
        "Avg": (TOTAL, None, ()),
    },
)

AIR = Benchmark(
    name="air",
    prediction_field="response",
    id_field="uniq_id",
    breakdowns=("task_name", "subset"),
    audio_field="path",
    row_fields=("task_name", "dataset_name", "path"),
    answer_field="answer_gt",
    choice_fields=("choice_a", "choice_b", "choice_c", "choice_d"),
    audio_in_subset=True,
    training_overlap=("avqa",),
    paper_columns={  # Table 3; mapping inferred from the column names
        "SoundAQA": ("group", "task_name", ("Sound_AQA",)),
        "MusicAQA": ("group", "task_name", ("Music_AQA",)),
        "SER": ("group", "task_name", ("Speaker_Emotion_Recontion",)),
        "VSC": ("group", "task_name", ("vocal_sound_classification",)),
        "SNV": ("group", "task_name", ("Speaker_Number_Verification",)),
        "Avg": (MACRO, "task_name", ()),
    },
    letter_rule=True,
    flags={"Sound_AQA_avqa": "built from AVQA, the RL training set: possible train/test overlap "
                             "(its audio clips may have been seen in training)"},
)

BENCHMARKS = {b.name: b for b in (MMAU, MMAR, AIR)}


def get(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise ValueError(f"unknown benchmark {name!r}; choose from {sorted(BENCHMARKS)}") from None


def detect(items: list[dict[str, Any]]) -> Benchmark:
    """Guess the benchmark from an official-format file's fields."""
    keys = set().union(*(item.keys() for item in items[:50])) if items else set()
    if "answer_gt" in keys or "uniq_id" in keys:
        return AIR
    if "modality" in keys or "answer_prediction" in keys:
        return MMAR
    if "difficulty" in keys or "model_output" in keys:
        return MMAU
    raise ValueError("cannot tell the benchmark from the file's fields; name it explicitly")


# Fingerprints of the gold content (id, answer, choices) of the released
# metadata files (docs/benchmarks.md), so a result says which file it was scored against
# even when the user forgets --version. A subset or an edited file matches none.
KNOWN_VERSIONS = {
    "f36134e6e1e4cab3": ("mmau", "v0325"),  # mmau-test-mini-v0325.json: Tables 1-2
    "f786147ab0a2349f": ("mmau", "v05.15.25"),  # mmau-test-mini.json (2025-08-09 edit): Table 5
    "c7a632c40cdbb58d": ("mmar", "2025"),  # MMAR-meta.json
}


def fingerprint(bench: Benchmark, items: list[dict[str, Any]]) -> str:
    import hashlib
    import json

    key = sorted([bench.item_id(x), bench.gold(x), bench.choices(x)] for x in items)
    return hashlib.sha256(json.dumps(key, ensure_ascii=False).encode()).hexdigest()[:16]


def known_versions(bench: Benchmark) -> list[str]:
    """The released metadata versions of ``bench`` that ``detect_version`` recognises."""
    return sorted(version for name, version in KNOWN_VERSIONS.values() if name == bench.name)


def detect_version(bench: Benchmark, items: list[dict[str, Any]]) -> str | None:
    known = KNOWN_VERSIONS.get(fingerprint(bench, items))
    return known[1] if known and known[0] == bench.name else None
